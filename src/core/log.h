/*
 * log: leveled logging to stderr (STYLE rule 31). The level is set once at
 * start-up (allowed global, rule 29). Macros check the level before formatting.
 * Never pass secrets or tokens to these functions.
 */
#ifndef LOTUS_CORE_LOG_H
#define LOTUS_CORE_LOG_H

#include <stddef.h>

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/*
 * Writes one line "<time> <level> <message>" to stderr (message truncated at
 * 1023 bytes). Control bytes left in the message are written as \xNN, so a
 * call is always one line; values from the network still go through
 * log_escape so that their backslashes are unambiguous too.
 */
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Copies in (borrowed; NULL = "") into out[cap] (cap >= 1) with every control byte (< 0x20,
 * 0x7f) written as \xNN and a backslash as \\, so that a value from the network cannot start
 * a forged log line or carry terminal escapes. Truncates at a whole escape. Returns out.
 */
const char *log_escape(const char *in, char *out, size_t cap);

#define log_error(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)                                                                              \
    do {                                                                                           \
        if (log_get_level() >= LOG_LEVEL_WARN)                                                     \
            log_write(LOG_LEVEL_WARN, __VA_ARGS__);                                                \
    } while (0)
#define log_info(...)                                                                              \
    do {                                                                                           \
        if (log_get_level() >= LOG_LEVEL_INFO)                                                     \
            log_write(LOG_LEVEL_INFO, __VA_ARGS__);                                                \
    } while (0)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_get_level() >= LOG_LEVEL_DEBUG)                                                    \
            log_write(LOG_LEVEL_DEBUG, __VA_ARGS__);                                               \
    } while (0)

#endif
