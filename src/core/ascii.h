/*
 * ascii: locale-free character helpers for wire formats (hex digits in
 * percent-encoding, JSON \u escapes, PCI ids, UUIDs). Header-only, pure.
 */
#ifndef LOTUS_CORE_ASCII_H
#define LOTUS_CORE_ASCII_H

#include <stddef.h>

/* Digits for encoding a nibble: ascii_hex_lower[v & 15]. */
static const char ascii_hex_lower[] = "0123456789abcdef";
static const char ascii_hex_upper[] = "0123456789ABCDEF";

/* Value 0..15 of a hex digit (either case), or -1 for anything else. */
static inline int ascii_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static inline int ascii_is_hex(int c)
{
    return ascii_hexval(c) >= 0;
}

/* The slice s[0..*n) without spaces and tabs at either end: returns its start, sets *n. */
static inline const char *ascii_trim_blanks(const char *s, size_t *n)
{
    while (*n && (*s == ' ' || *s == '\t')) {
        s++;
        (*n)--;
    }
    while (*n && (s[*n - 1] == ' ' || s[*n - 1] == '\t'))
        (*n)--;
    return s;
}

#endif
