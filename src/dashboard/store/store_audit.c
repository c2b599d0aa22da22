/*
 * store_audit: the audit log of security events (migration 5's audit_log; a
 * trigger keeps the newest 10,000 rows). Public functions in store.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard/store/store_int.h"

enum { AD_ADD, AD_LIST, AD_COUNT };

static const char *const audit_sql[AD_COUNT] = {
    [AD_ADD] = "INSERT INTO audit_log (created_at, user_id, login, ip, event, detail) "
               "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [AD_LIST] = "SELECT id, created_at, user_id, login, ip, event, detail FROM audit_log "
                "WHERE ?1 = 0 OR id < ?1 ORDER BY id DESC LIMIT ?2",
};

static const struct db_stmts audit_stmts = {"audit", audit_sql, AD_COUNT};

void store_audit_release(struct store_audit *e)
{
    if (!e)
        return;
    free(e->login);
    free(e->ip);
    free(e->event);
    free(e->detail);
    e->login = e->ip = e->event = e->detail = NULL;
}

static void audit_from_row(sqlite3_stmt *q, void *out)
{
    struct store_audit *e = out;
    e->id = (uint64_t)db_col_i64(q, 0);
    e->created_at = db_col_i64(q, 1);
    e->user_id = (uint64_t)db_col_i64(q, 2);
    e->login = db_col_text(q, 3);
    e->ip = db_col_text(q, 4);
    e->event = db_col_text(q, 5);
    e->detail = db_col_text(q, 6);
}

static void audit_release_cb(void *e)
{
    store_audit_release(e);
}

int store_audit_add(struct store *st, const struct store_audit *e)
{
    if (!e || !e->event || !*e->event || strlen(e->event) > STORE_NAME_MAX ||
        !store_len_ok(e->login, STORE_NAME_MAX) || !store_len_ok(e->ip, STORE_NAME_MAX) ||
        !store_len_ok(e->detail, STORE_AUDIT_DETAIL_MAX))
        return -EINVAL;
    store_lock(st);
    sqlite3_stmt *q = db_stmt(&st->main, &audit_stmts, AD_ADD);
    int ret = -EIO;
    if (q)
        ret =
            db_bound(&st->main, q,
                     db_bind_i64(q, 1, e->created_at) | db_bind_u64(q, 2, e->user_id) |
                         db_bind_text(q, 3, store_or_empty(e->login)) |
                         db_bind_text(q, 4, store_or_empty(e->ip)) | db_bind_text(q, 5, e->event) |
                         db_bind_text(q, 6, store_or_empty(e->detail)),
                     NULL);
    if (q && ret == 0)
        ret = db_run(&st->main, q, "recording an audit event");
    store_unlock(st);
    return ret;
}

int store_audit_list(struct store *st, uint64_t before_id, size_t limit, struct store_audit **out,
                     size_t *n)
{
    *out = NULL;
    *n = 0;
    if (limit == 0 || limit > STORE_AUDIT_LIST_MAX)
        return -EINVAL;
    store_lock(st);
    sqlite3_stmt *q = db_stmt(&st->main, &audit_stmts, AD_LIST);
    int ret = -EIO;
    if (q)
        ret = db_bound(&st->main, q,
                       db_bind_u64(q, 1, before_id) | db_bind_i64(q, 2, (int64_t)limit), NULL);
    if (q && ret == 0) {
        void *list;
        ret = db_rows(&st->main, q, sizeof(**out), audit_from_row, audit_release_cb,
                      "listing the audit log", &list, n);
        *out = list;
    }
    store_unlock(st);
    return ret;
}

void store_audit_list_free(struct store_audit *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_audit_release(&list[i]);
    free(list);
}
