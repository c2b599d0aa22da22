/*
 * store_settings: the settings key/value table and the meta counters that
 * let a running dashboard notice other processes' commits (data_version, the
 * servers, tokens and auth revisions kept by triggers of migrations 2, 3 and 5).
 * Public functions in store.h.
 */
#include <errno.h>

#include "dashboard/store/store_int.h"

enum { SE_GET, SE_SET, SE_DATA_VERSION, SE_SERVERS_REV, SE_TOKENS_REV, SE_AUTH_REV, SE_COUNT };

static const char *const settings_sql[SE_COUNT] = {
    [SE_GET] = "SELECT value FROM settings WHERE key = ?1",
    [SE_SET] = "INSERT INTO settings (key, value) VALUES (?1, ?2) "
               "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [SE_DATA_VERSION] = "PRAGMA data_version",
    [SE_SERVERS_REV] = "SELECT value FROM meta WHERE key = 'servers_rev'",
    [SE_TOKENS_REV] = "SELECT value FROM meta WHERE key = 'tokens_rev'",
    [SE_AUTH_REV] = "SELECT value FROM meta WHERE key = 'auth_rev'",
};

static const struct db_stmts settings_stmts = {"settings", settings_sql, SE_COUNT};

/* Reads the single integer answered by statement id. */
static int read_i64(struct store *st, int id, int64_t *out, const char *what)
{
    store_lock(st);
    sqlite3_stmt *q = db_stmt(&st->main, &settings_stmts, id);
    int ret = q ? db_scalar_i64(&st->main, q, out, what) : -EIO;
    store_unlock(st);
    return ret;
}

int store_data_version(struct store *st, int64_t *out)
{
    return read_i64(st, SE_DATA_VERSION, out, "reading data_version");
}

int store_servers_rev(struct store *st, int64_t *out)
{
    return read_i64(st, SE_SERVERS_REV, out, "reading a revision counter");
}

int store_tokens_rev(struct store *st, int64_t *out)
{
    return read_i64(st, SE_TOKENS_REV, out, "reading a revision counter");
}

int store_auth_rev(struct store *st, int64_t *out)
{
    return read_i64(st, SE_AUTH_REV, out, "reading a revision counter");
}

static void value_from_row(sqlite3_stmt *q, void *out)
{
    *(char **)out = db_col_text(q, 0);
}

static int setting_get(struct db_conn *c, const char *key, char **value)
{
    sqlite3_stmt *q = db_stmt(c, &settings_stmts, SE_GET);
    if (!q)
        return -EIO;
    int ret = db_bound(c, q, db_bind_text(q, 1, key), NULL);
    if (ret)
        return ret;
    ret = db_row(c, q, value_from_row, value, "reading a setting");
    return ret == -ENOENT ? 0 : ret;
}

int store_setting_get(struct store *st, const char *key, char **value)
{
    *value = NULL;
    if (!key)
        return -EINVAL;
    store_lock(st);
    int ret = setting_get(&st->main, key, value);
    store_unlock(st);
    return ret;
}

static int setting_set(struct db_conn *c, const char *key, const char *value)
{
    sqlite3_stmt *q = db_stmt(c, &settings_stmts, SE_SET);
    if (!q)
        return -EIO;
    int ret = db_bound(c, q, db_bind_text(q, 1, key) | db_bind_text(q, 2, value), NULL);
    if (ret)
        return ret;
    return db_run(c, q, "writing a setting");
}

int store_setting_set(struct store *st, const char *key, const char *value)
{
    if (!key || !value)
        return -EINVAL;
    store_lock(st);
    int ret = setting_set(&st->main, key, value);
    store_unlock(st);
    return ret;
}
