/*
 * store/db: one SQLite connection, its per-module statement caches and the
 * bind/step/column helpers (see db.h). Holds no lock and no global state.
 */
#include "dashboard/store/db.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/errbuf.h"
#include "core/log.h"
#include "core/xalloc.h"

#define BUSY_TIMEOUT_MS 5000

enum { DB_BEGIN, DB_COMMIT, DB_ROLLBACK, DB_COUNT };

static const char *const db_sql[DB_COUNT] = {
    [DB_BEGIN] = "BEGIN IMMEDIATE",
    [DB_COMMIT] = "COMMIT",
    [DB_ROLLBACK] = "ROLLBACK",
};

static const struct db_stmts db_txn_stmts = {"transactions", db_sql, DB_COUNT};

void db_log(struct db_conn *c, const char *what)
{
    log_error("store: %s failed: %s (%d)", what, sqlite3_errmsg(c->db),
              sqlite3_extended_errcode(c->db));
}

int db_code(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
            return -ENOENT;
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            return -EEXIST;
        return -EINVAL;
    case SQLITE_NOMEM:
        return -ENOMEM;
    default:
        return -EIO;
    }
}

/* The cache slot of tab on c, taking a free one on first use; NULL when all are taken. */
static struct db_cache *cache_of(struct db_conn *c, const struct db_stmts *tab)
{
    for (size_t i = 0; i < DB_MODULES_MAX; i++) {
        struct db_cache *k = &c->cache[i];
        if (k->tab == tab)
            return k;
        if (!k->tab) {
            k->tab = tab;
            k->stmt = xcalloc(tab->n, sizeof(*k->stmt));
            return k;
        }
    }
    log_error("store: more than %d statement tables on one connection (\"%s\")", DB_MODULES_MAX,
              tab->module);
    return NULL;
}

sqlite3_stmt *db_stmt(struct db_conn *c, const struct db_stmts *tab, int id)
{
    struct db_cache *k = cache_of(c, tab);
    if (!k)
        return NULL;
    if (!k->stmt[id]) {
        int rc = sqlite3_prepare_v3(c->db, tab->sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &k->stmt[id], NULL);
        if (rc != SQLITE_OK) {
            log_error("store: preparing \"%s\" failed: %s", tab->sql[id], sqlite3_errmsg(c->db));
            k->stmt[id] = NULL;
            return NULL;
        }
    }
    return k->stmt[id];
}

void db_done(sqlite3_stmt *s)
{
    if (s) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
}

int db_bound(struct db_conn *c, sqlite3_stmt *s, int bind_rc, const char *what)
{
    if (bind_rc == SQLITE_OK)
        return 0;
    if (what)
        db_log(c, what);
    db_done(s);
    return -EIO;
}

int db_bind_text(sqlite3_stmt *s, int idx, const char *v)
{
    if (!v)
        return sqlite3_bind_null(s, idx);
    return sqlite3_bind_text(s, idx, v, -1, SQLITE_TRANSIENT);
}

int db_bind_u64(sqlite3_stmt *s, int idx, uint64_t v)
{
    return sqlite3_bind_int64(s, idx, (sqlite3_int64)v);
}

int db_bind_i64(sqlite3_stmt *s, int idx, int64_t v)
{
    return sqlite3_bind_int64(s, idx, (sqlite3_int64)v);
}

int db_bind_int(sqlite3_stmt *s, int idx, int v)
{
    return sqlite3_bind_int(s, idx, v);
}

int db_bind_blob(sqlite3_stmt *s, int idx, const void *p, size_t n)
{
    return sqlite3_bind_blob(s, idx, p, (int)n, SQLITE_TRANSIENT);
}

int db_bind_blob_static(sqlite3_stmt *s, int idx, const void *p, size_t n)
{
    return sqlite3_bind_blob(s, idx, p, (int)n, SQLITE_STATIC);
}

int db_run(struct db_conn *c, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    int ret = 0;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        ret = db_code(sqlite3_extended_errcode(c->db));
        if (ret != -EEXIST && ret != -ENOENT)
            db_log(c, what);
    }
    db_done(s);
    return ret;
}

int db_run_changed(struct db_conn *c, sqlite3_stmt *s, const char *what)
{
    int ret = db_run(c, s, what);
    if (ret)
        return ret;
    return sqlite3_changes(c->db) > 0 ? 0 : -ENOENT;
}

int db_row(struct db_conn *c, sqlite3_stmt *s, void (*from_row)(sqlite3_stmt *s, void *out),
           void *out, const char *what)
{
    int rc = sqlite3_step(s);
    int ret = 0;
    if (rc == SQLITE_ROW) {
        if (from_row)
            from_row(s, out);
    } else if (rc == SQLITE_DONE) {
        ret = -ENOENT;
    } else {
        db_log(c, what);
        ret = -EIO;
    }
    db_done(s);
    return ret;
}

int db_scalar_i64(struct db_conn *c, sqlite3_stmt *s, int64_t *out, const char *what)
{
    int ret = 0;
    if (sqlite3_step(s) == SQLITE_ROW) {
        *out = sqlite3_column_int64(s, 0);
    } else {
        db_log(c, what);
        ret = -EIO;
    }
    db_done(s);
    return ret;
}

int db_rows(struct db_conn *c, sqlite3_stmt *s, size_t size,
            void (*from_row)(sqlite3_stmt *s, void *elem), void (*release)(void *elem),
            const char *what, void **out, size_t *n)
{
    char *list = NULL;
    size_t cnt = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            list = xrealloc(list, cap * size);
        }
        memset(list + cnt * size, 0, size);
        from_row(s, list + cnt * size);
        cnt++;
    }
    db_done(s);
    if (rc != SQLITE_DONE) {
        db_log(c, what);
        for (size_t i = 0; i < cnt; i++)
            release(list + i * size);
        free(list);
        *out = NULL;
        *n = 0;
        return -EIO;
    }
    *out = list;
    *n = cnt;
    return 0;
}

uint64_t db_last_id(struct db_conn *c)
{
    return (uint64_t)sqlite3_last_insert_rowid(c->db);
}

int64_t db_changes(struct db_conn *c)
{
    return sqlite3_changes(c->db);
}

char *db_col_text(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return xstrdup(t ? (const char *)t : "");
}

char *db_col_text_or_null(sqlite3_stmt *s, int i)
{
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        return NULL;
    return db_col_text(s, i);
}

int64_t db_col_i64(sqlite3_stmt *s, int i)
{
    return sqlite3_column_int64(s, i);
}

int db_col_int(sqlite3_stmt *s, int i)
{
    return sqlite3_column_int(s, i);
}

void db_col_fixed_blob(sqlite3_stmt *s, int i, uint8_t *out, size_t n)
{
    const void *b = sqlite3_column_blob(s, i);
    int len = sqlite3_column_bytes(s, i);
    memset(out, 0, n);
    if (b && len >= 0 && (size_t)len == n)
        memcpy(out, b, n);
}

void db_col_blob_dup(sqlite3_stmt *s, int i, uint8_t **out, size_t *n)
{
    const void *b = sqlite3_column_blob(s, i);
    int len = sqlite3_column_bytes(s, i);
    *out = NULL;
    *n = 0;
    if (b && len > 0) {
        *out = xmalloc((size_t)len);
        memcpy(*out, b, (size_t)len);
        *n = (size_t)len;
    }
}

static int txn(struct db_conn *c, int id)
{
    sqlite3_stmt *s = db_stmt(c, &db_txn_stmts, id);
    if (!s)
        return -EIO;
    return db_run(c, s, db_sql[id]);
}

int db_begin(struct db_conn *c)
{
    return txn(c, DB_BEGIN);
}

int db_commit(struct db_conn *c)
{
    return txn(c, DB_COMMIT);
}

int db_rollback(struct db_conn *c)
{
    return txn(c, DB_ROLLBACK);
}

int db_in_txn(struct db_conn *c)
{
    return !sqlite3_get_autocommit(c->db);
}

int db_exec_once(struct db_conn *c, const char *sql)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(c->db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return rc;
    do {
        rc = sqlite3_step(s);
    } while (rc == SQLITE_ROW);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

const char *db_errmsg(struct db_conn *c)
{
    return sqlite3_errmsg(c->db);
}

void db_close(struct db_conn *c)
{
    for (size_t i = 0; i < DB_MODULES_MAX; i++) {
        struct db_cache *k = &c->cache[i];
        if (!k->tab)
            continue;
        for (size_t j = 0; j < k->tab->n; j++)
            sqlite3_finalize(k->stmt[j]);
        free(k->stmt);
        k->stmt = NULL;
        k->tab = NULL;
    }
    if (c->db) {
        int rc = sqlite3_close(c->db);
        if (rc != SQLITE_OK)
            log_error("store: closing the database failed: %s", sqlite3_errstr(rc));
    }
    c->db = NULL;
}

int db_open(struct db_conn *c, const char *path, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    int rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
    if (rc != SQLITE_OK) {
        errbuf_set(err, errlen, "open database '%s': %s", path,
                   c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(c->db, 1);
    rc = sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    if (rc != SQLITE_OK)
        goto sqlfail;

    /* journal_mode returns the resulting mode as a row: check that WAL took effect. */
    sqlite3_stmt *s = NULL;
    rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
    if (rc != SQLITE_OK)
        goto sqlfail;
    rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(s);
        goto sqlfail;
    }
    const unsigned char *mode = sqlite3_column_text(s, 0);
    int is_wal = mode && strcmp((const char *)mode, "wal") == 0;
    sqlite3_finalize(s);
    if (!is_wal) {
        errbuf_set(err, errlen, "open database '%s': cannot enable WAL journal mode", path);
        goto fail;
    }
    rc = db_exec_once(c, "PRAGMA synchronous = NORMAL");
    if (rc != SQLITE_OK)
        goto sqlfail;
    rc = db_exec_once(c, "PRAGMA foreign_keys = ON");
    if (rc != SQLITE_OK)
        goto sqlfail;
    return 0;

sqlfail:
    errbuf_set(err, errlen, "open database '%s': %s", path, sqlite3_errmsg(c->db));
fail:
    db_close(c);
    return -EIO;
}
