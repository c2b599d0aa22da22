/*
 * store/writer: the queue of typed write operations and the thread that
 * commits them in batches, one transaction about once a second, on its own
 * connection. Private to src/dashboard/store/; the public face is
 * store_enqueue_live / store_writer_start / store_flush in store.h.
 *
 * An operation is a kind plus the payload of that kind (struct writer_op).
 * The writer knows how each kind is queued (LIVE rows coalesce per server id;
 * a future kind such as a history batch is appended in arrival order) but not
 * its SQL: the table files give one apply function per kind (struct
 * writer_apply), so the SQL stays with its table and this file stays below
 * them. A batch applies its operations in arrival order inside one transaction.
 *
 * Threads: writer_put, writer_flush and writer_stop may be called from any
 * thread (the queue has its own mutex, never held during disk I/O and never
 * held while the caller's other locks are taken). Only the writer thread
 * touches the writer's connection.
 */
#ifndef LOTUS_DASHBOARD_STORE_WRITER_H
#define LOTUS_DASHBOARD_STORE_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "dashboard/store/db.h"

enum writer_op_kind {
    WRITER_OP_LIVE,           /* a server's latest Host blob and last_active; coalesced per id */
    WRITER_OP_MONITOR_ROW,    /* one monitor_history row; appended */
    WRITER_OP_MONITOR_PRUNE,  /* the monitor history retention; appended */
    WRITER_OP_MONITOR_FORGET, /* the rows of one (monitor, server); appended */
    WRITER_OP_KINDS
};

/* WRITER_OP_LIVE: host_pb owned by the op (NULL = keep the stored blob). */
struct writer_live {
    uint64_t id;
    uint8_t *host_pb;
    size_t host_len;
    int64_t last_active; /* unix seconds */
};

/* WRITER_OP_MONITOR_ROW: data owned by the op. */
struct writer_monitor_row {
    uint64_t monitor_id, server_id;
    int64_t created_at;
    double avg_delay;
    uint32_t up, down;
    char *data;
};

/* WRITER_OP_MONITOR_PRUNE: rows older than these (unix ms) go. */
struct writer_monitor_prune {
    int64_t server_before, agg_before;
};

/* WRITER_OP_MONITOR_FORGET. */
struct writer_monitor_forget {
    uint64_t monitor_id, server_id;
};

struct writer_op {
    enum writer_op_kind kind;
    union {
        struct writer_live live;
        struct writer_monitor_row mrow;
        struct writer_monitor_prune mprune;
        struct writer_monitor_forget mforget;
    } u;
};

/*
 * Applies one operation on c, inside the batch's transaction (the caller
 * began it). 0, or a negative code: the whole batch is rolled back, logged
 * and dropped. op borrowed.
 */
typedef int (*writer_apply_fn)(struct db_conn *c, const struct writer_op *op);

struct writer_apply {
    const char *name[WRITER_OP_KINDS]; /* for log lines, e.g. "live-state" */
    writer_apply_fn fn[WRITER_OP_KINDS];
};

struct writer;

/*
 * A stopped writer with an empty queue of at most max_ops operations. apply
 * borrowed (must outlive the writer; make it static const). Never fails
 * (allocation failure aborts, as everywhere in the dashboard).
 */
struct writer *writer_new(const struct writer_apply *apply, size_t max_ops);
/*
 * Stops the thread if running (it commits what is queued first), then frees
 * the writer and whatever is still queued. NULL is a no-op. Call
 * writer_apply_pending first to keep what a thread-less writer holds.
 */
void writer_free(struct writer *w);

/*
 * Opens the writer's own connection to path (borrowed) and starts the
 * thread. 0, -EALREADY if running, -EIO (connection, logged) or -errno
 * (thread creation, logged).
 */
int writer_start(struct writer *w, const char *path);
/* Stops and joins the thread after it has committed the whole queue. No-op when not running. */
void writer_stop(struct writer *w);

/*
 * Queues op (its payload is consumed, even on error). LIVE: coalesced with a
 * queued op of the same id: last_active of the latest wins, the host_pb of
 * the latest op that has one wins. 0, or -ENOSPC when max_ops distinct ops
 * are queued (op freed).
 */
int writer_put(struct writer *w, struct writer_op *op);

/*
 * The queue now (for /metrics): ops waiting (a batch being committed is no longer counted),
 * the age of the oldest of them (ms, 0 when none; a LIVE op coalesced into a queued one keeps
 * the queued one's age) and the puts refused since writer_new. Any thread (takes the mutex).
 */
struct writer_stats {
    size_t queued;
    int64_t oldest_age_ms;
    uint64_t dropped;
};
void writer_stats(struct writer *w, struct writer_stats *out);

/*
 * With a running thread: wakes it and blocks until everything queued before
 * the call is committed (or dropped after a failed transaction) and returns
 * 0. Without one: returns -ENOTCONN at once (the caller applies the queue on
 * its own connection with writer_apply_pending). nothing_queued (may be
 * NULL) is set to 1 when nothing was ever queued.
 */
int writer_flush(struct writer *w, int *nothing_queued);
/*
 * Takes the whole queue and applies it on c in one transaction, on the
 * calling thread (the caller serialises use of c). A failed batch is logged
 * and dropped. Wakes writer_flush waiters.
 */
void writer_apply_pending(struct writer *w, struct db_conn *c);

#endif
