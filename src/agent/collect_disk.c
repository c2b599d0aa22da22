/*
 * collect_disk: partition selection (docs/protocol.md §3.3) over /proc/self/mountinfo
 * (or /proc/mounts when mountinfo is missing) and statvfs(3) sums for
 * Host.disk_total and State.disk_used. statvfs paths are root-prefixed so the
 * tests point fixture mounts at real directories.
 *
 * The live mount table is re-parsed only when poll(2) reports a change
 * (POLLPRI on mountinfo), on every host collection, and always for a test root.
 */
#include "collect_int.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/statvfs.h>

static const char *const fs_allow[] = {
    "apfs",    "ext4", "ext3",  "ext2", "f2fs",  "reiserfs", "jfs", "btrfs",
    "fuseblk", "zfs",  "simfs", "ntfs", "fat32", "exfat",    "xfs", "fuse.rclone"};

/* Decodes the kernel's octal escapes (\040 space, \011 tab, \012 newline, \134 backslash). */
static int unescape(struct slice s, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < s.len; i++) {
        char ch = s.ptr[i];
        if (ch == '\\' && s.len - i >= 4 && s.ptr[i + 1] >= '0' && s.ptr[i + 1] <= '3' &&
            s.ptr[i + 2] >= '0' && s.ptr[i + 2] <= '7' && s.ptr[i + 3] >= '0' &&
            s.ptr[i + 3] <= '7') {
            ch =
                (char)((s.ptr[i + 1] - '0') * 64 + (s.ptr[i + 2] - '0') * 8 + (s.ptr[i + 3] - '0'));
            i += 3;
        }
        if (o + 1 >= cap)
            return -E2BIG;
        out[o++] = ch;
    }
    if (cap == 0)
        return -E2BIG;
    out[o] = '\0';
    return 0;
}

static int fstype_allowed(struct slice fstype)
{
    for (size_t i = 0; i < sizeof(fs_allow) / sizeof(fs_allow[0]); i++) {
        if (procfile_contains(fstype, fs_allow[i], 1))
            return 1;
    }
    return 0;
}

static int seen_point(const struct collect__mounts *m, const char *point)
{
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->point[i], point) == 0)
            return 1;
    }
    return 0;
}

static void consider(struct collect__mounts *out, struct slice dev, struct slice point,
                     struct slice fstype)
{
    char d[COLLECT_MOUNT_MAX], p[COLLECT_MOUNT_MAX];
    if (out->n == COLLECT_MOUNTS_MAX)
        return;
    if (unescape(dev, d, sizeof(d)) || unescape(point, p, sizeof(p)))
        return; /* longer than we can statvfs: skipped */
    if (strcmp(d, "none") == 0 || !fstype_allowed(fstype) || strstr(p, "/var/lib/kubelet"))
        return;
    for (size_t i = 0; i < out->n; i++) {
        if (strcmp(out->dev[i], d) == 0)
            return; /* first mount per device only */
    }
    memcpy(out->dev[out->n], d, sizeof(d));
    memcpy(out->point[out->n], p, sizeof(p));
    out->n++;
}

int collect__disk_select(const char *buf, size_t len, enum collect__mount_fmt fmt,
                         const char *const *allow, size_t n_allow, struct collect__mounts *out)
{
    out->n = 0;
    if (n_allow > 0) {
        for (size_t i = 0; i < n_allow && out->n < COLLECT_MOUNTS_MAX; i++) {
            size_t l = strlen(allow[i]);
            if (l == 0 || l >= COLLECT_MOUNT_MAX || seen_point(out, allow[i]))
                continue;
            memcpy(out->point[out->n], allow[i], l + 1);
            out->dev[out->n][0] = '\0';
            out->n++;
        }
        return 0;
    }
    const char *cur = buf;
    const char *end = buf + len;
    struct slice line;
    while (procfile_line(&cur, end, &line)) {
        struct slice f[32];
        size_t n = procfile_fields(line, f, 32);
        if (fmt == COLLECT_MOUNTS) {
            /* source mountpoint fstype options dump pass */
            if (n >= 3)
                consider(out, f[0], f[1], f[2]);
            continue;
        }
        /* id parent maj:min root mountpoint options [optional...] - fstype source superopts */
        size_t sep = 0;
        for (size_t i = 6; i < n; i++) {
            if (procfile_eq(f[i], "-")) {
                sep = i;
                break;
            }
        }
        if (sep == 0 || sep + 2 >= n)
            continue;
        consider(out, f[sep + 2], f[4], f[sep + 1]);
    }
    return 0;
}

/* Re-reads the mount table into c->disk.sel when it may have changed. */
static int refresh_table(struct collector *c, int force)
{
    struct collect__disk *d = &c->disk;
    if (d->have_table && !force && c->root_is_slash && d->table.fd >= 0) {
        struct pollfd p = {.fd = d->table.fd, .events = POLLPRI};
        if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLPRI | POLLERR)))
            return 0;
    }
    if (c->opts.n_disk_allow > 0) {
        collect__disk_select(NULL, 0, d->fmt, c->opts.disk_allow, c->opts.n_disk_allow, &d->sel);
        d->have_table = 1;
        return 0;
    }
    size_t len;
    int rc = procfile_read(&d->table, c->scratch, sizeof(c->scratch), &len);
    if (rc == -ENOENT && d->fmt == COLLECT_MOUNTINFO) {
        d->fmt = COLLECT_MOUNTS;
        procfile_set(&d->table, c->opts.root, "/proc/mounts");
        rc = procfile_read(&d->table, c->scratch, sizeof(c->scratch), &len);
    }
    if (rc < 0)
        return rc;
    /* Truncated: the last, partial line is dropped by parsing complete lines only. */
    if (rc == PROCFILE_TRUNCATED) {
        const char *nl = memrchr(c->scratch, '\n', len);
        len = nl ? (size_t)(nl - c->scratch) : 0;
    }
    collect__disk_select(c->scratch, len, d->fmt, NULL, 0, &d->sel);
    d->have_table = 1;
    return 0;
}

static int statvfs_rel(struct collector *c, const char *point, uint64_t *total, uint64_t *used)
{
    char path[PROCFILE_PATH_MAX];
    struct statvfs sv;
    if (procfile_path(path, sizeof(path), c->opts.root, point))
        return -ENAMETOOLONG;
    if (statvfs(path, &sv) != 0)
        return -errno;
    uint64_t bs = sv.f_frsize ? sv.f_frsize : sv.f_bsize;
    *total = (uint64_t)sv.f_blocks * bs;
    *used = (uint64_t)(sv.f_blocks - (sv.f_bfree < sv.f_blocks ? sv.f_bfree : sv.f_blocks)) * bs;
    return 0;
}

static int disk_sum(struct collector *c, int force)
{
    struct collect__disk *d = &c->disk;
    int rc = refresh_table(c, force);
    if (rc)
        return rc;
    uint64_t total = 0, used = 0;
    for (size_t i = 0; i < d->sel.n; i++) {
        uint64_t t, u;
        if (statvfs_rel(c, d->sel.point[i], &t, &u) == 0) {
            total += t;
            used += u;
        }
    }
    /* The reference then runs df and takes the "/" row; statvfs("/") is that row. */
    if (total == 0 && used == 0)
        statvfs_rel(c, "/", &total, &used);
    d->total = total;
    d->used = used;
    return 0;
}

int collect__disk_state(struct collector *c, Proto__State *st, uint64_t now_mono_ms)
{
    int rc = disk_sum(c, 0);
    if (rc)
        return rc;
    st->disk_used = c->disk.used;
    return 0;
}

int collect__disk_host(struct collector *c, Proto__Host *h)
{
    int rc = disk_sum(c, 1);
    if (rc)
        return rc;
    h->disk_total = c->disk.total;
    return 0;
}
