/*
 * store_servers: the servers table (metadata edited by the admin and the CLI)
 * and the live-state writes queued for the writer thread (Host blob and
 * last_active, coalesced per server). Public functions in store.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "dashboard/auth.h"
#include "dashboard/store/store_int.h"

enum { SV_ADD, SV_UPDATE, SV_DEL, SV_LIST, SV_GET, SV_LIVE_UPDATE, SV_COUNT };

#define SERVER_COLS                                                                                \
    "id, name, tag, secret, note, public_note, display_index, hide_for_guest, created_at, "        \
    "updated_at, host_pb, last_active"

static const char *const servers_sql[SV_COUNT] = {
    [SV_ADD] = "INSERT INTO servers (created_at, updated_at, name, tag, secret, note, "
               "public_note, display_index, hide_for_guest) "
               "VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [SV_UPDATE] = "UPDATE servers SET updated_at = ?1, name = ?2, tag = ?3, secret = ?4, "
                  "note = ?5, public_note = ?6, display_index = ?7, hide_for_guest = ?8 "
                  "WHERE id = ?9",
    [SV_DEL] = "DELETE FROM servers WHERE id = ?1",
    [SV_LIST] = "SELECT " SERVER_COLS " FROM servers ORDER BY id",
    [SV_GET] = "SELECT " SERVER_COLS " FROM servers WHERE id = ?1",
    [SV_LIVE_UPDATE] = "UPDATE servers SET host_pb = COALESCE(?1, host_pb), last_active = ?2 "
                       "WHERE id = ?3",
};

static const struct db_stmts servers_stmts = {"servers", servers_sql, SV_COUNT};

void store_server_release(struct store_server *s)
{
    if (!s)
        return;
    free(s->name);
    free(s->tag);
    free(s->secret);
    free(s->note);
    free(s->public_note);
    free(s->host_pb);
    s->name = s->tag = s->secret = s->note = s->public_note = NULL;
    s->host_pb = NULL;
    s->host_len = 0;
}

static int server_fields_ok(const struct store_server *s)
{
    return s->name && store_len_ok(s->name, STORE_NAME_MAX) &&
           store_len_ok(s->tag, STORE_NAME_MAX) &&
           (!s->secret || (*s->secret && strlen(s->secret) <= STORE_SECRET_MAX)) &&
           store_len_ok(s->note, STORE_NOTE_MAX) && store_len_ok(s->public_note, STORE_NOTE_MAX);
}

/* Binds the admin-edited columns ?2..?8 shared by SV_ADD and SV_UPDATE. */
static int bind_fields(sqlite3_stmt *q, const struct store_server *s)
{
    return db_bind_text(q, 2, s->name) | db_bind_text(q, 3, store_or_empty(s->tag)) |
           db_bind_text(q, 4, s->secret) | db_bind_text(q, 5, store_or_empty(s->note)) |
           db_bind_text(q, 6, store_or_empty(s->public_note)) |
           db_bind_i64(q, 7, s->display_index) | db_bind_int(q, 8, s->hide_for_guest ? 1 : 0);
}

static int server_add(struct db_conn *c, struct store_server *s)
{
    sqlite3_stmt *q = db_stmt(c, &servers_stmts, SV_ADD);
    if (!q)
        return -EIO;
    int64_t now = clock_wall_ms();
    int ret = db_bound(c, q, db_bind_i64(q, 1, now) | bind_fields(q, s), "binding a server insert");
    if (ret == 0)
        ret = db_run(c, q, "inserting a server");
    if (ret)
        return ret;
    s->id = db_last_id(c);
    s->created_at = now;
    s->updated_at = now;
    return 0;
}

int store_server_add(struct store *st, struct store_server *s)
{
    if (!server_fields_ok(s))
        return -EINVAL;
    if (!s->secret) {
        s->secret = xmalloc(STORE_SECRET_LEN + 1);
        auth_random_string(s->secret, STORE_SECRET_LEN);
    }
    store_lock(st);
    int ret = server_add(&st->main, s);
    store_unlock(st);
    return ret;
}

static int server_update(struct db_conn *c, const struct store_server *s)
{
    sqlite3_stmt *q = db_stmt(c, &servers_stmts, SV_UPDATE);
    if (!q)
        return -EIO;
    int ret = db_bound(
        c, q, db_bind_i64(q, 1, clock_wall_ms()) | bind_fields(q, s) | db_bind_u64(q, 9, s->id),
        "binding a server update");
    if (ret)
        return ret;
    return db_run_changed(c, q, "updating a server");
}

int store_server_update(struct store *st, const struct store_server *s)
{
    if (!server_fields_ok(s) || !s->secret)
        return -EINVAL;
    store_lock(st);
    int ret = server_update(&st->main, s);
    store_unlock(st);
    return ret;
}

static int server_del(struct db_conn *c, uint64_t id)
{
    sqlite3_stmt *q = db_stmt(c, &servers_stmts, SV_DEL);
    if (!q)
        return -EIO;
    int ret = db_bound(c, q, db_bind_u64(q, 1, id), NULL);
    if (ret)
        return ret;
    return db_run_changed(c, q, "deleting a server");
}

int store_server_del(struct store *st, uint64_t id)
{
    store_lock(st);
    int ret = server_del(&st->main, id);
    store_unlock(st);
    return ret;
}

static void server_from_row(sqlite3_stmt *q, void *out)
{
    struct store_server *s = out;
    memset(s, 0, sizeof(*s));
    s->id = (uint64_t)db_col_i64(q, 0);
    s->name = db_col_text(q, 1);
    s->tag = db_col_text(q, 2);
    s->secret = db_col_text(q, 3);
    s->note = db_col_text(q, 4);
    s->public_note = db_col_text(q, 5);
    s->display_index = db_col_i64(q, 6);
    s->hide_for_guest = db_col_int(q, 7) != 0;
    s->created_at = db_col_i64(q, 8);
    s->updated_at = db_col_i64(q, 9);
    db_col_blob_dup(q, 10, &s->host_pb, &s->host_len);
    s->last_active = db_col_i64(q, 11);
}

static void server_release_cb(void *e)
{
    store_server_release(e);
}

static int server_get(struct db_conn *c, uint64_t id, struct store_server *out)
{
    sqlite3_stmt *q = db_stmt(c, &servers_stmts, SV_GET);
    if (!q)
        return -EIO;
    int ret = db_bound(c, q, db_bind_u64(q, 1, id), NULL);
    if (ret)
        return ret;
    return db_row(c, q, server_from_row, out, "reading a server");
}

int store_server_get(struct store *st, uint64_t id, struct store_server *out)
{
    memset(out, 0, sizeof(*out));
    store_lock(st);
    int ret = server_get(&st->main, id, out);
    store_unlock(st);
    return ret;
}

static int server_list(struct db_conn *c, struct store_server **out, size_t *n)
{
    sqlite3_stmt *q = db_stmt(c, &servers_stmts, SV_LIST);
    if (!q)
        return -EIO;
    void *list;
    int rc = db_rows(c, q, sizeof(**out), server_from_row, server_release_cb, "listing servers",
                     &list, n);
    *out = list;
    return rc;
}

int store_server_list(struct store *st, struct store_server **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    store_lock(st);
    int ret = server_list(&st->main, out, n);
    store_unlock(st);
    return ret;
}

void store_server_list_free(struct store_server *list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        store_server_release(&list[i]);
    free(list);
}

/* ---- live state (through the writer) ---- */

int store_servers_apply_live(struct db_conn *c, const struct writer_op *op)
{
    const struct writer_live *r = &op->u.live;
    sqlite3_stmt *q = db_stmt(c, &servers_stmts, SV_LIVE_UPDATE);
    if (!q)
        return -EIO;
    /* Bound without a copy: the op outlives the step (blobs go up to STORE_HOST_PB_MAX). */
    int rc = (r->host_pb ? db_bind_blob_static(q, 1, r->host_pb, r->host_len)
                         : db_bind_text(q, 1, NULL)) |
             db_bind_i64(q, 2, r->last_active) | db_bind_u64(q, 3, r->id);
    int ret = db_bound(c, q, rc, "binding a live-state update");
    if (ret)
        return ret;
    return db_run(c, q, "writing live state");
}

void store_enqueue_live(struct store *st, uint64_t id, const uint8_t *host_pb, size_t host_len,
                        int64_t last_active)
{
    if (host_pb && host_len > STORE_HOST_PB_MAX) {
        log_warn("store: dropped a live-state row of server %llu: Host of %zu bytes is over %u",
                 (unsigned long long)id, host_len, STORE_HOST_PB_MAX);
        return;
    }
    struct writer_op op = {.kind = WRITER_OP_LIVE,
                           .u.live = {.id = id, .host_len = host_len, .last_active = last_active}};
    if (host_pb) {
        op.u.live.host_pb = xmalloc(host_len ? host_len : 1);
        memcpy(op.u.live.host_pb, host_pb, host_len);
    }
    if (writer_put(st->writer, &op) != 0)
        log_warn("store: dropped a live-state row of server %llu: queue full",
                 (unsigned long long)id);
}
