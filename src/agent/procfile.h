/*
 * procfile: bounded reads of small kernel text files (/proc, /sys) and the
 * line/field helpers the collectors' pure parsers share (STYLE rule 34).
 *
 * A struct procfile keeps its file open between reads and rereads it from
 * offset 0 with pread(2), which seq_file-backed /proc files and regular files
 * (test fixtures) both allow. Reads retry EINTR, NUL-terminate, and report
 * truncation when the file does not fit the caller's buffer. Nothing here
 * allocates heap memory.
 *
 * Threading: a struct procfile belongs to one thread.
 */
#ifndef LOTUS_AGENT_PROCFILE_H
#define LOTUS_AGENT_PROCFILE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define PROCFILE_PATH_MAX  512 /* longest root + relative path */
#define PROCFILE_TRUNCATED 1   /* positive return: buffer full, more data was left */

struct procfile {
    int fd;                       /* -1 when closed */
    char path[PROCFILE_PATH_MAX]; /* absolute path, root-prefixed */
};

/* Initialises caller storage (closed, empty path). */
void procfile_init(struct procfile *pf);
/*
 * Sets the path to root + rel (root borrowed, e.g. "/" or a fixture dir; rel
 * starts with '/'), closing any open fd. Returns 0 or -ENAMETOOLONG.
 */
int procfile_set(struct procfile *pf, const char *root, const char *rel);
/*
 * Reads the whole file from offset 0 into buf (cap bytes incl. the NUL),
 * opening it first if needed. OUT: *len = bytes read (buf[*len] == '\0').
 * Returns 0, PROCFILE_TRUNCATED (buf holds the first cap-1 bytes), or a
 * negative errno (the fd is then closed so the next call reopens).
 */
int procfile_read(struct procfile *pf, char *buf, size_t cap, size_t *len);
/* Closes the fd if open; safe on a closed or initialised procfile. */
void procfile_close(struct procfile *pf);

/* Joins root and rel into out (cap bytes). Returns 0 or -ENAMETOOLONG. */
int procfile_path(char *out, size_t cap, const char *root, const char *rel);
/* One-shot open/read/close of root + rel; same contract as procfile_read. */
int procfile_slurp(const char *root, const char *rel, char *buf, size_t cap, size_t *len);
/* 1 if root + rel exists (and, with need_contents, is non-empty), else 0. */
int procfile_exists(const char *root, const char *rel, int need_contents);
/*
 * Counts '\n' in root + rel streaming through buf (cap bytes, any size);
 * for files too big for one buffer (e.g. /proc/net/tcp with 100k sockets).
 * Returns the count or a negative errno.
 */
int64_t procfile_count_lines(const char *root, const char *rel, char *buf, size_t cap);

/*
 * Text helpers over (ptr,len) input that need no NUL terminator.
 * procfile_line: on return 1, *line is the next line (without '\n') of
 * [*cur, end) and *cur moves past it; returns 0 when no input is left.
 */
int procfile_line(const char **cur, const char *end, struct slice *line);
/* Splits s on blanks (space, tab, CR, LF, NUL) into at most max fields; returns the count
 * stored. */
size_t procfile_fields(struct slice s, struct slice *out, size_t max);
/* Strips leading/trailing blanks (space, tab, CR, LF, NUL). */
struct slice procfile_trim(struct slice s);
/* Splits s at the first sep: key before (trimmed), value after (trimmed); 0 or -EINVAL. */
int procfile_kv(struct slice s, char sep, struct slice *key, struct slice *val);
/* 1 if s equals the NUL-terminated lit. */
int procfile_eq(struct slice s, const char *lit);
/* 1 if s contains the NUL-terminated needle (case-insensitive when nocase). */
int procfile_contains(struct slice s, const char *needle, int nocase);
/* Strict unsigned decimal; 0 or -EINVAL/-ERANGE. */
int procfile_u64(struct slice s, uint64_t *out);
/* Non-negative decimal "123" or "123.456" (≤ 15 significant digits); 0 or -EINVAL/-ERANGE. */
int procfile_decimal(struct slice s, double *out);
/* Copies s into out (cap bytes, NUL-terminated); returns 0 or -E2BIG when cut short. */
int procfile_copy(struct slice s, char *out, size_t cap);

#endif
