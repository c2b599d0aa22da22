/* log: leveled stderr logger; the level is the one global the logger owns. */
#include "log.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "core/clock.h"

static enum log_level g_level = LOG_LEVEL_INFO;

void log_set_level(enum log_level level)
{
    g_level = level;
}

enum log_level log_get_level(void)
{
    return g_level;
}

void log_write(enum log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    char line[1024];
    char ts[32];
    int64_t now_ms = clock_wall_ms();
    time_t secs = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* Last line of defence against forged lines: a control byte that reached the message
     * unescaped (a value from the network the caller did not pass through log_escape) is
     * written as \xNN, so one call is always exactly one line. */
    char safe[sizeof(line) * 4];
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)line; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            safe[o++] = '\\';
            safe[o++] = 'x';
            safe[o++] = hex[*p >> 4];
            safe[o++] = hex[*p & 15];
        } else {
            safe[o++] = (char)*p;
        }
    }
    safe[o] = '\0';
    fprintf(stderr, "%s.%03dZ %s %s\n", ts, (int)(now_ms % 1000),
            names[(unsigned)level < 4 ? (unsigned)level : 0], safe);
}

const char *log_escape(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)(in ? in : ""); *p; p++) {
        unsigned char c = *p;
        size_t need = c < 0x20 || c == 0x7f ? 4 : c == '\\' ? 2 : 1;
        if (o + need + 1 > cap)
            break;
        if (need == 4) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            if (need == 2)
                out[o++] = '\\';
            out[o++] = (char)c;
        }
    }
    if (cap)
        out[o] = '\0';
    return out;
}
