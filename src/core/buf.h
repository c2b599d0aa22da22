/*
 * buf: an owning, growable, bounded byte buffer that is always NUL-terminated
 * (STYLE rule 20), and slice, a non-owning view.
 *
 * Every buf has a hard maximum (`max`, 0 = unbounded for trusted local data).
 * Appends past the maximum fail with -E2BIG and set a sticky error flag; later
 * appends are no-ops until buf_reset (rule 23), so builders check once at the end.
 */
#ifndef LOTUS_CORE_BUF_H
#define LOTUS_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
    char *data; /* never NULL after buf_init; data[len] == '\0' */
    size_t len;
    size_t cap;
    size_t max; /* 0 = no limit */
    int err;    /* sticky: 0 or -E2BIG */
};

struct slice {
    const char *ptr; /* borrowed */
    size_t len;
};

/* Initialise caller storage; max 0 means unbounded. Allocates nothing. */
void buf_init(struct buf *b, size_t max);
/* Frees the contents; b may be re-initialised afterwards. */
void buf_release(struct buf *b);
/* Empties the buffer and clears the sticky error, keeping capacity. */
void buf_reset(struct buf *b);
/*
 * Makes room for extra more bytes (and the NUL) without changing the content,
 * so that data[len .. len+extra] may be written directly; returns 0 or -E2BIG
 * (sticky) when len + extra would pass the maximum. data may move.
 */
int buf_reserve(struct buf *b, size_t extra);
/* Appends; returns 0 or -E2BIG (over max, or sticky error already set). */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Removes the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
/* Hands the data over: returns owned memory (free with free()); b is re-initialised empty. */
char *buf_detach(struct buf *b, size_t *len_out);

#endif
