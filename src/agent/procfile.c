/*
 * procfile: kept-open pread(2) reads of kernel text files into caller
 * buffers, plus the (ptr,len) text helpers the collectors' parsers use.
 */
#include "procfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/strnum.h"

void procfile_init(struct procfile *pf)
{
    pf->fd = -1;
    pf->path[0] = '\0';
}

int procfile_path(char *out, size_t cap, const char *root, const char *rel)
{
    size_t rn = strlen(root);
    while (rn > 0 && root[rn - 1] == '/')
        rn--;
    while (*rel == '/')
        rel++;
    size_t ln = strlen(rel);
    if (cap == 0 || rn + 1 + ln + 1 > cap)
        return -ENAMETOOLONG;
    memcpy(out, root, rn);
    out[rn] = '/';
    memcpy(out + rn + 1, rel, ln);
    out[rn + 1 + ln] = '\0';
    return 0;
}

int procfile_set(struct procfile *pf, const char *root, const char *rel)
{
    procfile_close(pf);
    return procfile_path(pf->path, sizeof(pf->path), root, rel);
}

void procfile_close(struct procfile *pf)
{
    if (pf->fd >= 0)
        close(pf->fd);
    pf->fd = -1;
}

static int read_fd(int fd, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    *len = 0;
    if (cap == 0)
        return -EINVAL;
    while (n < cap - 1) {
        ssize_t r = pread(fd, buf + n, cap - 1 - n, (off_t)n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            buf[n] = '\0';
            return e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *len = n;
    if (n == cap - 1) {
        char extra;
        ssize_t r;
        do {
            r = pread(fd, &extra, 1, (off_t)n);
        } while (r < 0 && errno == EINTR);
        if (r > 0)
            return PROCFILE_TRUNCATED;
    }
    return 0;
}

int procfile_read(struct procfile *pf, char *buf, size_t cap, size_t *len)
{
    *len = 0;
    if (cap > 0)
        buf[0] = '\0';
    if (pf->path[0] == '\0')
        return -ENOENT;
    if (pf->fd < 0) {
        pf->fd = open(pf->path, O_RDONLY | O_CLOEXEC);
        if (pf->fd < 0)
            return -errno;
    }
    int rc = read_fd(pf->fd, buf, cap, len);
    if (rc < 0)
        procfile_close(pf);
    return rc;
}

int procfile_slurp(const char *root, const char *rel, char *buf, size_t cap, size_t *len)
{
    char path[PROCFILE_PATH_MAX];
    *len = 0;
    if (cap > 0)
        buf[0] = '\0';
    int rc = procfile_path(path, sizeof(path), root, rel);
    if (rc)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    rc = read_fd(fd, buf, cap, len);
    close(fd);
    return rc;
}

int procfile_exists(const char *root, const char *rel, int need_contents)
{
    char path[PROCFILE_PATH_MAX];
    struct stat st;
    if (procfile_path(path, sizeof(path), root, rel))
        return 0;
    if (stat(path, &st) != 0)
        return 0;
    return need_contents ? st.st_size > 0 : 1;
}

int64_t procfile_count_lines(const char *root, const char *rel, char *buf, size_t cap)
{
    char path[PROCFILE_PATH_MAX];
    int rc = procfile_path(path, sizeof(path), root, rel);
    if (rc)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int64_t lines = 0;
    for (;;) {
        ssize_t r = read(fd, buf, cap);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            lines = -errno;
            break;
        }
        if (r == 0)
            break;
        const char *p = buf;
        const char *end = buf + r;
        while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
            lines++;
            p++;
        }
    }
    close(fd);
    return lines;
}

int procfile_line(const char **cur, const char *end, struct slice *line)
{
    const char *p = *cur;
    if (p >= end)
        return 0;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *stop = nl ? nl : end;
    line->ptr = p;
    line->len = (size_t)(stop - p);
    *cur = nl ? nl + 1 : end;
    return 1;
}

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\0';
}

size_t procfile_fields(struct slice s, struct slice *out, size_t max)
{
    size_t n = 0;
    size_t i = 0;
    while (i < s.len && n < max) {
        while (i < s.len && is_blank(s.ptr[i]))
            i++;
        if (i >= s.len)
            break;
        size_t start = i;
        while (i < s.len && !is_blank(s.ptr[i]))
            i++;
        out[n].ptr = s.ptr + start;
        out[n].len = i - start;
        n++;
    }
    return n;
}

struct slice procfile_trim(struct slice s)
{
    while (s.len > 0 && is_blank(s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len > 0 && is_blank(s.ptr[s.len - 1]))
        s.len--;
    return s;
}

int procfile_kv(struct slice s, char sep, struct slice *key, struct slice *val)
{
    const char *p = s.len ? memchr(s.ptr, sep, s.len) : NULL;
    if (!p)
        return -EINVAL;
    struct slice k = {s.ptr, (size_t)(p - s.ptr)};
    struct slice v = {p + 1, s.len - k.len - 1};
    *key = procfile_trim(k);
    *val = procfile_trim(v);
    return 0;
}

int procfile_eq(struct slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

static char lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

int procfile_contains(struct slice s, const char *needle, int nocase)
{
    size_t n = strlen(needle);
    if (n == 0)
        return 1;
    for (size_t i = 0; i + n <= s.len; i++) {
        size_t j = 0;
        while (j < n &&
               (nocase ? lower(s.ptr[i + j]) == lower(needle[j]) : s.ptr[i + j] == needle[j]))
            j++;
        if (j == n)
            return 1;
    }
    return 0;
}

int procfile_u64(struct slice s, uint64_t *out)
{
    return strnum_u64(s.ptr, s.len, out);
}

int procfile_decimal(struct slice s, double *out)
{
    const char *dot = s.len ? memchr(s.ptr, '.', s.len) : NULL;
    size_t ilen = dot ? (size_t)(dot - s.ptr) : s.len;
    size_t flen = dot ? s.len - ilen - 1 : 0;
    if (ilen == 0 || (dot && flen == 0))
        return -EINVAL;
    if (ilen + flen > 15)
        return -ERANGE;
    uint64_t ip, fp = 0;
    int rc = strnum_u64(s.ptr, ilen, &ip);
    if (rc)
        return rc;
    if (flen) {
        rc = strnum_u64(dot + 1, flen, &fp);
        if (rc)
            return rc;
    }
    uint64_t scale = 1;
    for (size_t i = 0; i < flen; i++)
        scale *= 10;
    /* Both operands are exact (< 2^53), so the division is correctly rounded. */
    *out = (double)(ip * scale + fp) / (double)scale;
    return 0;
}

int procfile_copy(struct slice s, char *out, size_t cap)
{
    if (cap == 0)
        return -E2BIG;
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    if (n)
        memcpy(out, s.ptr, n);
    out[n] = '\0';
    return n == s.len ? 0 : -E2BIG;
}
