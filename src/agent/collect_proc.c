/*
 * collect_proc: process count = numeric directories in root/proc (docs/protocol.md §2.2
 * row 16; threads are not listed there). The directory stays open and is
 * rewound and read with getdents64(2) into a stack buffer, so no DIR (heap)
 * is allocated per report.
 */
#include "collect_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROC_DENTS_BUF 8192

struct dent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return 0;
    }
    return 1;
}

int collect__proc_state(struct collector *c, Proto__State *st, uint64_t now_mono_ms)
{
    if (c->opts.skip_procs)
        return 0;
    if (c->proc_dir < 0) {
        char path[PROCFILE_PATH_MAX];
        if (procfile_path(path, sizeof(path), c->opts.root, "/proc"))
            return -ENAMETOOLONG;
        c->proc_dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (c->proc_dir < 0)
            return -errno;
    } else if (lseek(c->proc_dir, 0, SEEK_SET) < 0) {
        int e = -errno;
        close(c->proc_dir);
        c->proc_dir = -1;
        return e;
    }
    _Alignas(8) char buf[PROC_DENTS_BUF];
    uint64_t count = 0;
    for (;;) {
        ssize_t n = getdents64(c->proc_dir, buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            close(c->proc_dir);
            c->proc_dir = -1;
            return e;
        }
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            struct dent64 *d = (struct dent64 *)(buf + off);
            if (d->d_reclen == 0 || off + d->d_reclen > n)
                break;
            off += d->d_reclen;
            if (!all_digits(d->d_name))
                continue;
            int is_dir = d->d_type == DT_DIR;
            if (d->d_type == DT_UNKNOWN) {
                struct stat sb;
                is_dir = fstatat(c->proc_dir, d->d_name, &sb, 0) == 0 && S_ISDIR(sb.st_mode);
            }
            count += is_dir;
        }
    }
    st->process_count = count;
    return 0;
}
