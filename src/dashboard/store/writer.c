/*
 * store/writer: typed write operations queued from any thread, committed in
 * batches by one thread on its own connection (see writer.h and
 * docs/internals/store.md "Threads").
 *
 * The queue keeps operations in arrival order (ops[]) plus an open-addressing
 * index of the LIVE ones by server id (slots[]) so that a server's rows
 * coalesce. Sequence numbers make store_flush exact: enq_seq counts accepted
 * puts, done_seq is the enq_seq covered by the last finished batch.
 */
#include "dashboard/store/writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"

#define WRITER_PERIOD_MS 1000

struct op_queue {
    struct writer_op *ops;
    size_t n;
    size_t cap;
    uint32_t *slots; /* LIVE index: 0 = empty, else index into ops + 1 */
    size_t nslots;   /* power of two, or 0 */
};

struct writer {
    const struct writer_apply *apply;
    size_t max_ops;

    pthread_mutex_t mu; /* guards everything below except conn */
    pthread_cond_t cv_work;
    pthread_cond_t cv_done;
    struct op_queue q;
    uint64_t enq_seq;
    uint64_t done_seq;
    uint64_t oldest_ms; /* clock_mono_ms of the first op put into the empty queue */
    uint64_t dropped;   /* puts refused with -ENOSPC (writer_stats) */
    int flush_req;
    int stop;
    int running;
    pthread_t thread;
    struct db_conn conn; /* the writer thread's connection (only that thread touches it) */
};

/* ---- operations ---- */

static void op_release(struct writer_op *op)
{
    switch (op->kind) {
    case WRITER_OP_LIVE:
        free(op->u.live.host_pb);
        op->u.live.host_pb = NULL;
        break;
    case WRITER_OP_MONITOR_ROW:
        free(op->u.mrow.data);
        op->u.mrow.data = NULL;
        break;
    case WRITER_OP_MONITOR_PRUNE:
    case WRITER_OP_MONITOR_FORGET:
    case WRITER_OP_KINDS:
        break;
    }
}

static void ops_free(struct writer_op *ops, size_t n)
{
    for (size_t i = 0; i < n; i++)
        op_release(&ops[i]);
    free(ops);
}

/* Merges a newer LIVE op of the same id into a queued one (from consumed). */
static void live_merge(struct writer_live *into, struct writer_live *from)
{
    if (from->host_pb) {
        free(into->host_pb);
        into->host_pb = from->host_pb;
        into->host_len = from->host_len;
        from->host_pb = NULL;
    }
    into->last_active = from->last_active;
}

/* ---- the queue ---- */

static size_t slot_of(uint64_t id, size_t nslots)
{
    uint64_t h = id * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (nslots - 1);
}

static void queue_rehash(struct op_queue *q, size_t nslots)
{
    free(q->slots);
    q->slots = xcalloc(nslots, sizeof(*q->slots));
    q->nslots = nslots;
    for (size_t i = 0; i < q->n; i++) {
        if (q->ops[i].kind != WRITER_OP_LIVE)
            continue;
        size_t k = slot_of(q->ops[i].u.live.id, nslots);
        while (q->slots[k])
            k = (k + 1) & (nslots - 1);
        q->slots[k] = (uint32_t)(i + 1);
    }
}

/* The queued LIVE op of id, or NULL with *slot_out = the free slot where it would go. */
static struct writer_op *queue_find_live(struct op_queue *q, uint64_t id, size_t *slot_out)
{
    if (q->nslots == 0) {
        *slot_out = 0;
        return NULL;
    }
    size_t k = slot_of(id, q->nslots);
    while (q->slots[k]) {
        struct writer_op *r = &q->ops[q->slots[k] - 1];
        if (r->u.live.id == id)
            return r;
        k = (k + 1) & (q->nslots - 1);
    }
    *slot_out = k;
    return NULL;
}

/* Caller holds w->mu. op consumed. 0 or -ENOSPC. */
static int queue_put(struct op_queue *q, size_t max_ops, struct writer_op *op)
{
    size_t slot = 0;
    int live = op->kind == WRITER_OP_LIVE;
    if (live) {
        struct writer_op *r = queue_find_live(q, op->u.live.id, &slot);
        if (r) {
            live_merge(&r->u.live, &op->u.live);
            return 0;
        }
    }
    if (q->n >= max_ops) {
        op_release(op);
        return -ENOSPC;
    }
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 64;
        q->ops = xrealloc(q->ops, q->cap * sizeof(*q->ops));
    }
    if (live && (q->n + 1) * 2 > q->nslots) {
        /* Keep the load factor under 1/2; rebuild the index from ops[] and look the slot up again.
         */
        queue_rehash(q, q->nslots ? q->nslots * 2 : 128);
        queue_find_live(q, op->u.live.id, &slot);
    }
    q->ops[q->n] = *op;
    q->n++;
    if (live)
        q->slots[slot] = (uint32_t)q->n;
    return 0;
}

/* Caller holds w->mu: moves the pending ops out (caller frees them with ops_free). */
static struct writer_op *queue_take(struct op_queue *q, size_t *n)
{
    struct writer_op *ops = q->ops;
    *n = q->n;
    q->ops = NULL;
    q->n = 0;
    q->cap = 0;
    if (q->slots)
        memset(q->slots, 0, q->nslots * sizeof(*q->slots));
    return ops;
}

static void queue_release(struct op_queue *q)
{
    ops_free(q->ops, q->n);
    free(q->slots);
    memset(q, 0, sizeof(*q));
}

/* ---- applying a batch ---- */

static void log_dropped(const struct writer_apply *a, const struct writer_op *ops, size_t n)
{
    size_t count[WRITER_OP_KINDS] = {0};
    for (size_t i = 0; i < n; i++)
        count[ops[i].kind]++;
    for (int k = 0; k < WRITER_OP_KINDS; k++) {
        if (count[k])
            log_error("store: dropped a batch of %zu %s rows", count[k], a->name[k]);
    }
}

/* Applies ops in one transaction on c. 0, or -EIO (rolled back, logged, dropped). */
static int apply_ops(const struct writer_apply *a, struct db_conn *c, const struct writer_op *ops,
                     size_t n)
{
    if (n == 0)
        return 0;
    if (db_begin(c) != 0)
        return -EIO;
    for (size_t i = 0; i < n; i++) {
        if (a->fn[ops[i].kind](c, &ops[i]) != 0)
            goto fail;
    }
    if (db_commit(c) != 0)
        goto fail;
    return 0;
fail:
    if (db_in_txn(c))
        db_rollback(c);
    log_dropped(a, ops, n);
    return -EIO;
}

void writer_apply_pending(struct writer *w, struct db_conn *c)
{
    pthread_mutex_lock(&w->mu);
    size_t n;
    struct writer_op *ops = queue_take(&w->q, &n);
    uint64_t seq = w->enq_seq;
    pthread_mutex_unlock(&w->mu);
    apply_ops(w->apply, c, ops, n);
    ops_free(ops, n);
    pthread_mutex_lock(&w->mu);
    if (seq > w->done_seq)
        w->done_seq = seq;
    pthread_cond_broadcast(&w->cv_done);
    pthread_mutex_unlock(&w->mu);
}

/* ---- the thread ---- */

/* ms from now on CLOCK_MONOTONIC, the clock the condition variables wait on. */
static void deadline_after(struct timespec *ts, long ms)
{
    uint64_t at = clock_mono_ms() + (uint64_t)ms;
    ts->tv_sec = (time_t)(at / 1000);
    ts->tv_nsec = (long)(at % 1000) * 1000000L;
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    struct timespec deadline;
    deadline_after(&deadline, WRITER_PERIOD_MS);
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && !w->flush_req) {
            if (pthread_cond_timedwait(&w->cv_work, &w->mu, &deadline) == ETIMEDOUT)
                break;
        }
        size_t n;
        struct writer_op *ops = queue_take(&w->q, &n);
        uint64_t seq = w->enq_seq;
        int stopping = w->stop;
        w->flush_req = 0;
        pthread_mutex_unlock(&w->mu);

        apply_ops(w->apply, &w->conn, ops, n);
        ops_free(ops, n);

        pthread_mutex_lock(&w->mu);
        w->done_seq = seq;
        pthread_cond_broadcast(&w->cv_done);
        if (stopping && w->q.n == 0)
            break;
        deadline_after(&deadline, WRITER_PERIOD_MS);
    }
    w->running = 0;
    pthread_mutex_unlock(&w->mu);
    db_close(&w->conn);
    return NULL;
}

struct writer *writer_new(const struct writer_apply *apply, size_t max_ops)
{
    struct writer *w = xcalloc(1, sizeof(*w));
    w->apply = apply;
    w->max_ops = max_ops;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv_work, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&w->cv_done, NULL);
    return w;
}

int writer_start(struct writer *w, const char *path)
{
    pthread_mutex_lock(&w->mu);
    int running = w->running;
    pthread_mutex_unlock(&w->mu);
    if (running)
        return -EALREADY;
    char err[256];
    int ret = db_open(&w->conn, path, err, sizeof(err));
    if (ret) {
        log_error("store: writer connection failed: %s", err);
        return ret;
    }
    pthread_mutex_lock(&w->mu);
    w->stop = 0;
    w->running = 1;
    int rc = pthread_create(&w->thread, NULL, writer_main, w);
    if (rc != 0) {
        w->running = 0;
        pthread_mutex_unlock(&w->mu);
        db_close(&w->conn);
        log_error("store: starting the writer thread failed: %s", strerror(rc));
        return -rc;
    }
    pthread_mutex_unlock(&w->mu);
    return 0;
}

void writer_stop(struct writer *w)
{
    pthread_mutex_lock(&w->mu);
    int running = w->running;
    w->stop = 1;
    pthread_cond_signal(&w->cv_work);
    pthread_mutex_unlock(&w->mu);
    if (running)
        pthread_join(w->thread, NULL);
}

void writer_free(struct writer *w)
{
    if (!w)
        return;
    writer_stop(w);
    queue_release(&w->q);
    pthread_cond_destroy(&w->cv_work);
    pthread_cond_destroy(&w->cv_done);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

int writer_put(struct writer *w, struct writer_op *op)
{
    pthread_mutex_lock(&w->mu);
    if (w->q.n == 0)
        w->oldest_ms = clock_mono_ms();
    int rc = queue_put(&w->q, w->max_ops, op);
    if (rc == 0)
        w->enq_seq++;
    else
        w->dropped++;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

void writer_stats(struct writer *w, struct writer_stats *out)
{
    pthread_mutex_lock(&w->mu);
    out->queued = w->q.n;
    out->oldest_age_ms = w->q.n ? (int64_t)(clock_mono_ms() - w->oldest_ms) : 0;
    out->dropped = w->dropped;
    pthread_mutex_unlock(&w->mu);
}

int writer_flush(struct writer *w, int *nothing_queued)
{
    pthread_mutex_lock(&w->mu);
    uint64_t target = w->enq_seq;
    if (nothing_queued)
        *nothing_queued = target == 0;
    if (!w->running) {
        pthread_mutex_unlock(&w->mu);
        return -ENOTCONN;
    }
    w->flush_req = 1;
    pthread_cond_signal(&w->cv_work);
    while (w->done_seq < target && w->running)
        pthread_cond_wait(&w->cv_done, &w->mu);
    pthread_mutex_unlock(&w->mu);
    return 0;
}
