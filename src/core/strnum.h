/*
 * strnum: strict number parsing (STYLE rule 21). Rejects empty input, signs
 * where not allowed, leading/trailing junk and overflow.
 */
#ifndef LOTUS_CORE_STRNUM_H
#define LOTUS_CORE_STRNUM_H

#include <stddef.h>
#include <stdint.h>

/* Parses s[0..n) as a decimal unsigned integer; returns 0 or -EINVAL/-ERANGE. */
int strnum_u64(const char *s, size_t n, uint64_t *out);
/* Parses an optionally '-'-signed decimal integer; returns 0 or -EINVAL/-ERANGE. */
int strnum_i64(const char *s, size_t n, int64_t *out);
/* NUL-terminated convenience forms. */
int strnum_u64z(const char *s, uint64_t *out);
int strnum_i64z(const char *s, int64_t *out);

#endif
