/*
 * store: the top of the SQLite store. Opens the file (0600, parent directory
 * 0700), opens the main connection, runs the migrations, creates the writer,
 * and owns the lock that makes the public functions safe from any thread.
 * The table groups live in store_servers.c, store_auth.c, store_monitors.c and
 * store_settings.c; helpers below them in db.c, migrate.c and writer.c. See
 * docs/internals/store.md.
 */
#include "dashboard/store/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/errbuf.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "dashboard/store/migrate.h"

/* How each writer operation kind is applied; the SQL lives with its table. */
static const struct writer_apply store_writer_apply = {
    .name = {[WRITER_OP_LIVE] = "live-state",
             [WRITER_OP_MONITOR_ROW] = "monitor-history",
             [WRITER_OP_MONITOR_PRUNE] = "monitor-retention",
             [WRITER_OP_MONITOR_FORGET] = "monitor-forget"},
    .fn = {[WRITER_OP_LIVE] = store_servers_apply_live,
           [WRITER_OP_MONITOR_ROW] = store_monitors_apply_row,
           [WRITER_OP_MONITOR_PRUNE] = store_monitors_apply_prune,
           [WRITER_OP_MONITOR_FORGET] = store_monitors_apply_forget},
};

void store_lock(struct store *st)
{
    pthread_mutex_lock(&st->lock);
}

void store_unlock(struct store *st)
{
    pthread_mutex_unlock(&st->lock);
}

int store_len_ok(const char *v, size_t max)
{
    return !v || strlen(v) <= max;
}

const char *store_or_empty(const char *v)
{
    return v ? v : "";
}

/* Creates the parent directory of path (one level, 0700) when it does not exist. */
static int ensure_parent_dir(const char *path, char *err, size_t errlen)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    char *dir = xstrndup(path, (size_t)(slash - path));
    struct stat sb;
    int ret = 0;
    if (stat(dir, &sb) != 0) {
        if (errno != ENOENT || mkdir(dir, 0700) != 0) {
            ret = -errno;
            errbuf_set(err, errlen, "create directory '%s': %s", dir, strerror(errno));
        }
    } else if (!S_ISDIR(sb.st_mode)) {
        ret = -ENOTDIR;
        errbuf_set(err, errlen, "database directory '%s' is not a directory", dir);
    }
    free(dir);
    return ret;
}

/* Creates the file ourselves so it gets 0600 (SQLite gives -wal/-shm the same mode). */
static int create_file(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int ret = -errno;
        errbuf_set(err, errlen, "open database '%s': %s", path, strerror(errno));
        return ret;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        errbuf_set(err, errlen, "open database '%s': not a regular file", path);
        return -EINVAL;
    }
    close(fd);
    return 0;
}

int store_open(const char *path, struct store **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!path || !*path) {
        errbuf_set(err, errlen, "empty database path");
        return -EINVAL;
    }
    if (sodium_init() < 0) {
        errbuf_set(err, errlen, "libsodium initialisation failed");
        return -EIO;
    }
    int ret = ensure_parent_dir(path, err, errlen);
    if (ret)
        return ret;
    ret = create_file(path, err, errlen);
    if (ret)
        return ret;

    struct store *st = xcalloc(1, sizeof(*st));
    st->path = xstrdup(path);
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&st->lock, &ma);
    pthread_mutexattr_destroy(&ma);
    st->writer = writer_new(&store_writer_apply, STORE_LIVE_QUEUE_MAX);

    ret = db_open(&st->main, path, err, errlen);
    if (ret == 0)
        ret = migrate_run(&st->main, path, err, errlen);
    if (ret) {
        store_close(st);
        return ret;
    }
    *out = st;
    return 0;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    writer_stop(st->writer); /* the thread commits what is queued before it exits */
    store_lock(st);
    if (st->main.db)
        writer_apply_pending(st->writer, &st->main);
    db_close(&st->main);
    store_unlock(st);
    writer_free(st->writer);
    pthread_mutex_destroy(&st->lock);
    free(st->path);
    free(st);
}

int store_batch(struct store *st, int (*fn)(struct store *st, void *arg), void *arg)
{
    store_lock(st);
    int ret = fn(st, arg);
    store_unlock(st);
    return ret;
}

int store_writer_start(struct store *st)
{
    return writer_start(st->writer, st->path);
}

void store_queue_stats(struct store *st, struct store_queue_stats *out)
{
    struct writer_stats ws;
    writer_stats(st->writer, &ws);
    out->queued = ws.queued;
    out->oldest_age_ms = ws.oldest_age_ms;
    out->dropped = ws.dropped;
}

void store_flush(struct store *st)
{
    int nothing_queued = 0;
    if (writer_flush(st->writer, &nothing_queued) == 0 || nothing_queued)
        return;
    store_lock(st);
    writer_apply_pending(st->writer, &st->main);
    store_unlock(st);
}
