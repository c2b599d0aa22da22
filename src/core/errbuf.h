/*
 * errbuf: the "char *err, size_t errlen" convention, written once.
 *
 * Functions that can fail for a reason a person must read take a caller-owned
 * buffer err[errlen] and fill it with one line (no trailing newline, no
 * secrets). err may be NULL or errlen 0: then nothing is written. The text is
 * truncated to fit and always NUL-terminated. Thread-safe; allocates nothing.
 */
#ifndef LOTUS_CORE_ERRBUF_H
#define LOTUS_CORE_ERRBUF_H

#include <stdarg.h>
#include <stddef.h>

void errbuf_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void errbuf_vset(char *err, size_t errlen, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#endif
