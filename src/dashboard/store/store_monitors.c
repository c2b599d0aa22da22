/*
 * store_monitors: the monitors table (definitions edited by the admin) and
 * monitor_history (v0's monitor_histories rows, written through the writer
 * thread, pruned by retention). Public functions in store.h; schema in
 * migrate.c (migration 4).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "dashboard/store/store_int.h"

enum {
    MO_ADD,
    MO_UPDATE,
    MO_DEL,
    MO_LIST,
    MO_GET,
    MO_REV,
    MO_ROW_PUT,
    MO_PRUNE_SERVERS,
    MO_PRUNE_AGG,
    MO_HIST_DEL,
    MO_POINTS,
    MO_REPORTERS,
    MO_COUNT
};

#define MONITOR_COLS                                                                               \
    "id, name, type, target, skip_servers_raw, duration, notify, notification_tag, cover, "        \
    "enable_trigger_task, enable_show_in_service, fail_trigger_tasks_raw, "                        \
    "recover_trigger_tasks_raw, min_latency, max_latency, latency_notify, expect_status, "         \
    "keyword, keyword_absent, dns_rrtype, dns_expect, created_at, updated_at"

/* ?1..?20 are the editable fields in MONITOR_COLS order (name .. dns_expect). */
#define MONITOR_SET                                                                                \
    "name = ?1, type = ?2, target = ?3, skip_servers_raw = ?4, duration = ?5, notify = ?6, "       \
    "notification_tag = ?7, cover = ?8, enable_trigger_task = ?9, enable_show_in_service = ?10, "  \
    "fail_trigger_tasks_raw = ?11, recover_trigger_tasks_raw = ?12, min_latency = ?13, "           \
    "max_latency = ?14, latency_notify = ?15, expect_status = ?16, keyword = ?17, "                \
    "keyword_absent = ?18, dns_rrtype = ?19, dns_expect = ?20"

static const char *const monitors_sql[MO_COUNT] = {
    [MO_ADD] = "INSERT INTO monitors (name, type, target, skip_servers_raw, duration, notify, "
               "notification_tag, cover, enable_trigger_task, enable_show_in_service, "
               "fail_trigger_tasks_raw, recover_trigger_tasks_raw, min_latency, max_latency, "
               "latency_notify, expect_status, keyword, keyword_absent, dns_rrtype, dns_expect, "
               "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
               "?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?21)",
    [MO_UPDATE] = "UPDATE monitors SET " MONITOR_SET ", updated_at = ?21 WHERE id = ?22",
    [MO_DEL] = "DELETE FROM monitors WHERE id = ?1",
    [MO_LIST] = "SELECT " MONITOR_COLS " FROM monitors ORDER BY id",
    [MO_GET] = "SELECT " MONITOR_COLS " FROM monitors WHERE id = ?1",
    [MO_REV] = "SELECT value FROM meta WHERE key = 'monitors_rev'",
    [MO_ROW_PUT] = "INSERT OR REPLACE INTO monitor_history (server_id, monitor_id, created_at, "
                   "avg_delay, up, down, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [MO_PRUNE_SERVERS] = "DELETE FROM monitor_history WHERE server_id > 0 AND created_at < ?1",
    [MO_PRUNE_AGG] = "DELETE FROM monitor_history WHERE server_id = 0 AND created_at < ?1",
    [MO_HIST_DEL] = "DELETE FROM monitor_history WHERE server_id = ?1 AND monitor_id = ?2",
    [MO_POINTS] = "SELECT monitor_id, server_id, created_at, avg_delay, up, down "
                  "FROM monitor_history WHERE server_id = ?1 AND created_at >= ?2 "
                  "ORDER BY monitor_id, created_at",
    [MO_REPORTERS] = "SELECT server_id, MAX(created_at) FROM monitor_history WHERE server_id > 0 "
                     "GROUP BY server_id ORDER BY server_id",
};

static const struct db_stmts monitors_stmts = {"monitors", monitors_sql, MO_COUNT};

void store_monitor_release(struct store_monitor *m)
{
    if (!m)
        return;
    free(m->name);
    free(m->target);
    free(m->skip_servers_raw);
    free(m->notification_tag);
    free(m->fail_trigger_tasks_raw);
    free(m->recover_trigger_tasks_raw);
    free(m->expect_status);
    free(m->keyword);
    free(m->dns_rrtype);
    free(m->dns_expect);
    memset(m, 0, sizeof(*m));
}

static const char *or_default(const char *v, const char *def)
{
    return v && *v ? v : def;
}

static int monitor_fields_ok(const struct store_monitor *m)
{
    return m->name && store_len_ok(m->name, STORE_NAME_MAX) &&
           store_len_ok(m->notification_tag, STORE_NAME_MAX) &&
           store_len_ok(m->target, STORE_MONITOR_TEXT_MAX) &&
           store_len_ok(m->skip_servers_raw, STORE_MONITOR_TEXT_MAX) &&
           store_len_ok(m->fail_trigger_tasks_raw, STORE_MONITOR_TEXT_MAX) &&
           store_len_ok(m->recover_trigger_tasks_raw, STORE_MONITOR_TEXT_MAX) &&
           store_len_ok(m->expect_status, STORE_NAME_MAX) &&
           store_len_ok(m->keyword, STORE_MONITOR_TEXT_MAX) &&
           store_len_ok(m->dns_rrtype, STORE_NAME_MAX) &&
           store_len_ok(m->dns_expect, STORE_MONITOR_TEXT_MAX);
}

/* Binds ?1..?20 (the editable fields) and ?21 (the time). */
static int bind_fields(sqlite3_stmt *q, const struct store_monitor *m, int64_t now)
{
    return db_bind_text(q, 1, m->name) | db_bind_int(q, 2, m->type) |
           db_bind_text(q, 3, store_or_empty(m->target)) |
           db_bind_text(q, 4, or_default(m->skip_servers_raw, "[]")) |
           db_bind_i64(q, 5, m->duration) | db_bind_int(q, 6, m->notify != 0) |
           db_bind_text(q, 7, or_default(m->notification_tag, "default")) |
           db_bind_int(q, 8, m->cover) | db_bind_int(q, 9, m->enable_trigger_task != 0) |
           db_bind_int(q, 10, m->enable_show_in_service != 0) |
           db_bind_text(q, 11, or_default(m->fail_trigger_tasks_raw, "[]")) |
           db_bind_text(q, 12, or_default(m->recover_trigger_tasks_raw, "[]")) |
           sqlite3_bind_double(q, 13, m->min_latency) | sqlite3_bind_double(q, 14, m->max_latency) |
           db_bind_int(q, 15, m->latency_notify != 0) |
           db_bind_text(q, 16, store_or_empty(m->expect_status)) |
           db_bind_text(q, 17, store_or_empty(m->keyword)) |
           db_bind_int(q, 18, m->keyword_absent != 0) |
           db_bind_text(q, 19, store_or_empty(m->dns_rrtype)) |
           db_bind_text(q, 20, store_or_empty(m->dns_expect)) | db_bind_i64(q, 21, now);
}

static int monitor_add(struct db_conn *c, struct store_monitor *m)
{
    sqlite3_stmt *q = db_stmt(c, &monitors_stmts, MO_ADD);
    if (!q)
        return -EIO;
    int64_t now = clock_wall_ms();
    int ret = db_bound(c, q, bind_fields(q, m, now), "binding a monitor");
    if (!ret)
        ret = db_run(c, q, "adding a monitor");
    if (!ret) {
        m->id = db_last_id(c);
        m->created_at = m->updated_at = now;
    }
    return ret;
}

int store_monitor_add(struct store *st, struct store_monitor *m)
{
    if (!monitor_fields_ok(m))
        return -EINVAL;
    store_lock(st);
    int ret = monitor_add(&st->main, m);
    store_unlock(st);
    return ret;
}

static int monitor_update(struct db_conn *c, const struct store_monitor *m)
{
    sqlite3_stmt *q = db_stmt(c, &monitors_stmts, MO_UPDATE);
    if (!q)
        return -EIO;
    int ret = db_bound(c, q, bind_fields(q, m, clock_wall_ms()) | db_bind_u64(q, 22, m->id),
                       "binding a monitor");
    return ret ? ret : db_run_changed(c, q, "updating a monitor");
}

int store_monitor_update(struct store *st, const struct store_monitor *m)
{
    if (!monitor_fields_ok(m))
        return -EINVAL;
    store_lock(st);
    int ret = monitor_update(&st->main, m);
    store_unlock(st);
    return ret;
}

int store_monitor_del(struct store *st, uint64_t id)
{
    store_lock(st);
    sqlite3_stmt *q = db_stmt(&st->main, &monitors_stmts, MO_DEL);
    int ret = q ? db_bound(&st->main, q, db_bind_u64(q, 1, id), NULL) : -EIO;
    if (!ret)
        ret = db_run_changed(&st->main, q, "deleting a monitor");
    store_unlock(st);
    return ret;
}

static void monitor_from_row(sqlite3_stmt *q, void *out)
{
    struct store_monitor *m = out;
    memset(m, 0, sizeof(*m));
    m->id = (uint64_t)db_col_i64(q, 0);
    m->name = db_col_text(q, 1);
    m->type = db_col_int(q, 2);
    m->target = db_col_text(q, 3);
    m->skip_servers_raw = db_col_text(q, 4);
    m->duration = db_col_i64(q, 5);
    m->notify = db_col_int(q, 6) != 0;
    m->notification_tag = db_col_text(q, 7);
    m->cover = db_col_int(q, 8);
    m->enable_trigger_task = db_col_int(q, 9) != 0;
    m->enable_show_in_service = db_col_int(q, 10) != 0;
    m->fail_trigger_tasks_raw = db_col_text(q, 11);
    m->recover_trigger_tasks_raw = db_col_text(q, 12);
    m->min_latency = sqlite3_column_double(q, 13);
    m->max_latency = sqlite3_column_double(q, 14);
    m->latency_notify = db_col_int(q, 15) != 0;
    m->expect_status = db_col_text(q, 16);
    m->keyword = db_col_text(q, 17);
    m->keyword_absent = db_col_int(q, 18) != 0;
    m->dns_rrtype = db_col_text(q, 19);
    m->dns_expect = db_col_text(q, 20);
    m->created_at = db_col_i64(q, 21);
    m->updated_at = db_col_i64(q, 22);
}

static void monitor_release_cb(void *e)
{
    store_monitor_release(e);
}

int store_monitor_get(struct store *st, uint64_t id, struct store_monitor *out)
{
    memset(out, 0, sizeof(*out));
    store_lock(st);
    sqlite3_stmt *q = db_stmt(&st->main, &monitors_stmts, MO_GET);
    int ret = q ? db_bound(&st->main, q, db_bind_u64(q, 1, id), NULL) : -EIO;
    if (!ret)
        ret = db_row(&st->main, q, monitor_from_row, out, "reading a monitor");
    store_unlock(st);
    return ret;
}

int store_monitor_list(struct store *st, struct store_monitor **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    store_lock(st);
    sqlite3_stmt *q = db_stmt(&st->main, &monitors_stmts, MO_LIST);
    void *list = NULL;
    int ret = q ? db_rows(&st->main, q, sizeof(**out), monitor_from_row, monitor_release_cb,
                          "listing monitors", &list, n)
                : -EIO;
    *out = list;
    store_unlock(st);
    return ret;
}

void store_monitor_list_free(struct store_monitor *list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        store_monitor_release(&list[i]);
    free(list);
}

int store_monitors_rev(struct store *st, int64_t *out)
{
    store_lock(st);
    sqlite3_stmt *q = db_stmt(&st->main, &monitors_stmts, MO_REV);
    int ret = q ? db_scalar_i64(&st->main, q, out, "reading a revision counter") : -EIO;
    store_unlock(st);
    return ret;
}

/* ---- history ---- */

void store_enqueue_monitor_row(struct store *st, const struct store_monitor_row *r)
{
    const char *d = store_or_empty(r->data);
    size_t dl = strlen(d);
    if (dl > STORE_MONITOR_DATA_MAX) {
        dl = STORE_MONITOR_DATA_MAX;
        while (dl > 0 && ((unsigned char)d[dl] & 0xC0) == 0x80)
            dl--; /* do not cut a UTF-8 sequence */
    }
    struct writer_op op = {.kind = WRITER_OP_MONITOR_ROW,
                           .u.mrow = {.monitor_id = r->monitor_id,
                                      .server_id = r->server_id,
                                      .created_at = r->created_at,
                                      .avg_delay = r->avg_delay,
                                      .up = r->up,
                                      .down = r->down,
                                      .data = xstrndup(d, dl)}};
    if (writer_put(st->writer, &op) != 0)
        log_warn("store: dropped a history row of monitor %llu: queue full",
                 (unsigned long long)r->monitor_id);
}

void store_enqueue_monitor_prune(struct store *st, int64_t server_before_ms, int64_t agg_before_ms)
{
    struct writer_op op = {
        .kind = WRITER_OP_MONITOR_PRUNE,
        .u.mprune = {.server_before = server_before_ms, .agg_before = agg_before_ms}};
    if (writer_put(st->writer, &op) != 0)
        log_warn("store: monitor history retention skipped: queue full");
}

void store_enqueue_monitor_forget(struct store *st, uint64_t monitor_id, uint64_t server_id)
{
    struct writer_op op = {.kind = WRITER_OP_MONITOR_FORGET,
                           .u.mforget = {.monitor_id = monitor_id, .server_id = server_id}};
    if (writer_put(st->writer, &op) != 0)
        log_warn("store: the rows of monitor %llu from server %llu stay: queue full",
                 (unsigned long long)monitor_id, (unsigned long long)server_id);
}

int store_monitors_apply_forget(struct db_conn *c, const struct writer_op *op)
{
    sqlite3_stmt *q = db_stmt(c, &monitors_stmts, MO_HIST_DEL);
    if (!q)
        return -EIO;
    int ret = db_bound(c, q,
                       db_bind_u64(q, 1, op->u.mforget.server_id) |
                           db_bind_u64(q, 2, op->u.mforget.monitor_id),
                       "binding a history deletion");
    return ret ? ret : db_run(c, q, "deleting monitor history");
}

int store_monitors_apply_row(struct db_conn *c, const struct writer_op *op)
{
    const struct writer_monitor_row *r = &op->u.mrow;
    sqlite3_stmt *q = db_stmt(c, &monitors_stmts, MO_ROW_PUT);
    if (!q)
        return -EIO;
    int rc = db_bind_u64(q, 1, r->server_id) | db_bind_u64(q, 2, r->monitor_id) |
             db_bind_i64(q, 3, r->created_at) | sqlite3_bind_double(q, 4, r->avg_delay) |
             db_bind_i64(q, 5, r->up) | db_bind_i64(q, 6, r->down) |
             db_bind_text(q, 7, store_or_empty(r->data));
    int ret = db_bound(c, q, rc, "binding a monitor history row");
    return ret ? ret : db_run(c, q, "writing a monitor history row");
}

int store_monitors_apply_prune(struct db_conn *c, const struct writer_op *op)
{
    const struct writer_monitor_prune *p = &op->u.mprune;
    int ids[2] = {MO_PRUNE_SERVERS, MO_PRUNE_AGG};
    int64_t before[2] = {p->server_before, p->agg_before};
    for (int i = 0; i < 2; i++) {
        sqlite3_stmt *q = db_stmt(c, &monitors_stmts, ids[i]);
        if (!q)
            return -EIO;
        int ret = db_bound(c, q, db_bind_i64(q, 1, before[i]), "binding the retention");
        if (!ret)
            ret = db_run(c, q, "pruning monitor history");
        if (ret)
            return ret;
    }
    return 0;
}

static void point_from_row(sqlite3_stmt *q, void *out)
{
    struct store_monitor_point *p = out;
    p->monitor_id = (uint64_t)db_col_i64(q, 0);
    p->server_id = (uint64_t)db_col_i64(q, 1);
    p->created_at = db_col_i64(q, 2);
    p->avg_delay = sqlite3_column_double(q, 3);
    p->up = (uint32_t)db_col_i64(q, 4);
    p->down = (uint32_t)db_col_i64(q, 5);
}

/* Points own nothing. */
static void point_release(void *e)
{
    (void)e;
}

static void reporter_from_row(sqlite3_stmt *q, void *out)
{
    struct store_monitor_point *p = out;
    p->server_id = (uint64_t)db_col_i64(q, 0);
    p->created_at = db_col_i64(q, 1);
}

int store_monitor_points(struct store *st, uint64_t server_id, int64_t since_ms,
                         struct store_monitor_point **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    store_lock(st);
    sqlite3_stmt *q = db_stmt(&st->main, &monitors_stmts, MO_POINTS);
    int ret =
        q ? db_bound(&st->main, q, db_bind_u64(q, 1, server_id) | db_bind_i64(q, 2, since_ms), NULL)
          : -EIO;
    void *list = NULL;
    if (!ret)
        ret = db_rows(&st->main, q, sizeof(**out), point_from_row, point_release,
                      "reading monitor history", &list, n);
    *out = list;
    store_unlock(st);
    return ret;
}

int store_monitor_reporters(struct store *st, struct store_monitor_point **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    store_lock(st);
    sqlite3_stmt *q = db_stmt(&st->main, &monitors_stmts, MO_REPORTERS);
    void *list = NULL;
    int ret = q ? db_rows(&st->main, q, sizeof(**out), reporter_from_row, point_release,
                          "reading monitor reporters", &list, n)
                : -EIO;
    *out = list;
    store_unlock(st);
    return ret;
}
