/*
 * store/store_int: what the store's own files share behind the public
 * store.h: the struct store, its lock, and the writer apply functions the
 * table files provide. Private to src/dashboard/store/ (it names SQLite types
 * through db.h).
 *
 * Locking: st->lock guards st->main (the main connection and its statement
 * cache). Every public store_* function that touches st->main takes it for
 * its own duration (store_lock/store_unlock); store_batch holds it across a
 * caller's sequence of calls, which is why it is recursive. The writer's
 * queue has its own mutex (writer.c); the two are never nested in the order
 * writer -> store, so they cannot deadlock.
 */
#ifndef LOTUS_DASHBOARD_STORE_STORE_INT_H
#define LOTUS_DASHBOARD_STORE_STORE_INT_H

#include <pthread.h>

#include "dashboard/store.h"
#include "dashboard/store/db.h"
#include "dashboard/store/writer.h"

struct store {
    char *path;            /* owned */
    pthread_mutex_t lock;  /* recursive; guards main */
    struct db_conn main;   /* the callers' connection */
    struct writer *writer; /* owned; its thread (if started) has its own connection */
};

/* Take and release st->lock (recursive: a thread already holding it may take it again). */
void store_lock(struct store *st);
void store_unlock(struct store *st);

/* Named limit shared by the table files: 1 when v is NULL or at most max bytes. */
int store_len_ok(const char *v, size_t max);
/* v, or "" for NULL (columns stored NOT NULL DEFAULT ''). */
const char *store_or_empty(const char *v);

/* store_servers.c: applies a WRITER_OP_LIVE op (UPDATE only; a deleted server stays deleted). */
int store_servers_apply_live(struct db_conn *c, const struct writer_op *op);
/* store_monitors.c: WRITER_OP_MONITOR_ROW (insert or replace), _PRUNE and _FORGET. */
int store_monitors_apply_row(struct db_conn *c, const struct writer_op *op);
int store_monitors_apply_prune(struct db_conn *c, const struct writer_op *op);
int store_monitors_apply_forget(struct db_conn *c, const struct writer_op *op);

#endif
