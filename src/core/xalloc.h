/*
 * xalloc: allocation helpers that abort on out-of-memory (STYLE rule 11).
 * Safe only because every input-driven growth is bounded elsewhere (rule 12).
 */
#ifndef LOTUS_CORE_XALLOC_H
#define LOTUS_CORE_XALLOC_H

#include <stddef.h>

/* Returns owned memory (free with free()); never NULL. */
void *xmalloc(size_t n);
/* Zeroed; returns owned memory; never NULL. n*size overflow aborts. */
void *xcalloc(size_t n, size_t size);
/* p is consumed; returns owned memory; never NULL. */
void *xrealloc(void *p, size_t n);
/* s borrowed; returns an owned copy. */
char *xstrdup(const char *s);
/* Copies at most n bytes of s and NUL-terminates; returns an owned copy. */
char *xstrndup(const char *s, size_t n);

#endif
