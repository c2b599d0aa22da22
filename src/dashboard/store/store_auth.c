/*
 * store_auth: the credential tables: users (argon2id password hashes),
 * login sessions and API tokens (only SHA-256 digests of the secrets are
 * stored). Public functions in store.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "dashboard/store/store_int.h"

enum {
    AU_USER_ADD,
    AU_USER_FIND,
    AU_USER_GET,
    AU_USER_FIRST,
    AU_USER_COUNT,
    AU_USER_SETPW,
    AU_TOKEN_ADD,
    AU_TOKEN_LIST_ALL,
    AU_TOKEN_LIST_USER,
    AU_TOKEN_DEL,
    AU_TOKEN_FIND,
    AU_TOKEN_TOUCH,
    AU_SESSION_ADD,
    AU_SESSION_FIND,
    AU_SESSION_DEL,
    AU_SESSION_PURGE,
    AU_SESSION_LIST,
    AU_SESSION_DEL_USER,
    AU_COUNT
};

#define USER_COLS    "id, login, name, avatar_url, password_hash, role, created_at, updated_at"
#define TOKEN_COLS   "id, user_id, token_hash, prefix, note, created_at, last_used_at"
#define SESSION_COLS "id, user_id, token_hash, created_at, expires_at, csrf_token"

static const char *const auth_sql[AU_COUNT] = {
    [AU_USER_ADD] = "INSERT INTO users (created_at, updated_at, login, password_hash, role) "
                    "VALUES (?1, ?1, ?2, ?3, ?4)",
    [AU_USER_FIND] = "SELECT " USER_COLS " FROM users WHERE login = ?1",
    [AU_USER_GET] = "SELECT " USER_COLS " FROM users WHERE id = ?1",
    [AU_USER_FIRST] = "SELECT " USER_COLS " FROM users ORDER BY id LIMIT 1",
    [AU_USER_COUNT] = "SELECT COUNT(*) FROM users",
    [AU_USER_SETPW] = "UPDATE users SET password_hash = ?1, updated_at = ?2 WHERE id = ?3",
    [AU_TOKEN_ADD] = "INSERT INTO api_tokens (user_id, token_hash, prefix, note, created_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?5)",
    [AU_TOKEN_LIST_ALL] = "SELECT " TOKEN_COLS " FROM api_tokens ORDER BY id",
    [AU_TOKEN_LIST_USER] = "SELECT " TOKEN_COLS " FROM api_tokens WHERE user_id = ?1 ORDER BY id",
    [AU_TOKEN_DEL] = "DELETE FROM api_tokens WHERE id = ?1 AND (?2 = 0 OR user_id = ?2)",
    [AU_TOKEN_FIND] = "SELECT " TOKEN_COLS " FROM api_tokens WHERE token_hash = ?1",
    [AU_TOKEN_TOUCH] = "UPDATE api_tokens SET last_used_at = ?1 WHERE id = ?2",
    [AU_SESSION_ADD] = "INSERT INTO sessions (user_id, token_hash, created_at, expires_at, "
                       "csrf_token) VALUES (?1, ?2, ?3, ?4, ?5)",
    [AU_SESSION_FIND] = "SELECT " SESSION_COLS " FROM sessions WHERE token_hash = ?1 "
                        "AND expires_at > ?2",
    [AU_SESSION_DEL] = "DELETE FROM sessions WHERE token_hash = ?1",
    [AU_SESSION_PURGE] = "DELETE FROM sessions WHERE expires_at <= ?1",
    [AU_SESSION_LIST] = "SELECT " SESSION_COLS " FROM sessions WHERE expires_at > ?1 ORDER BY id",
    [AU_SESSION_DEL_USER] = "DELETE FROM sessions WHERE user_id = ?1 AND (?2 IS NULL OR "
                            "token_hash <> ?2)",
};

static const struct db_stmts auth_stmts = {"auth", auth_sql, AU_COUNT};

/* The statement id of the main connection (caller holds the lock). */
static sqlite3_stmt *stmt(struct store *st, int id)
{
    return db_stmt(&st->main, &auth_stmts, id);
}

static int bind_hash(sqlite3_stmt *s, int idx, const uint8_t *h)
{
    return db_bind_blob(s, idx, h, STORE_TOKEN_HASH_LEN);
}

/* ---- users ---- */

void store_user_release(struct store_user *u)
{
    if (!u)
        return;
    free(u->login);
    free(u->name);
    free(u->avatar_url);
    free(u->password_hash);
    u->login = u->name = u->avatar_url = u->password_hash = NULL;
}

static void user_from_row(sqlite3_stmt *q, void *out)
{
    struct store_user *u = out;
    u->id = (uint64_t)db_col_i64(q, 0);
    u->login = db_col_text(q, 1);
    u->name = db_col_text(q, 2);
    u->avatar_url = db_col_text(q, 3);
    u->password_hash = db_col_text_or_null(q, 4);
    char *role = db_col_text(q, 5);
    u->role = store_role_parse(role);
    free(role);
    u->created_at = db_col_i64(q, 6);
    u->updated_at = db_col_i64(q, 7);
}

/* Runs single-row user query id with bind result bind_rc (caller holds the lock). */
static int user_query(struct store *st, sqlite3_stmt *q, int bind_rc, struct store_user *out)
{
    if (!q)
        return -EIO;
    int ret = db_bound(&st->main, q, bind_rc, NULL);
    if (ret)
        return ret;
    return db_row(&st->main, q, user_from_row, out, "reading a user");
}

const char *store_role_name(int role)
{
    return role == STORE_ROLE_VIEWER ? "viewer" : "admin";
}

int store_role_parse(const char *name)
{
    if (name && strcmp(name, "admin") == 0)
        return STORE_ROLE_ADMIN;
    if (name && strcmp(name, "viewer") == 0)
        return STORE_ROLE_VIEWER;
    return 0;
}

int store_user_add(struct store *st, const char *login, const char *password_hash, int role,
                   uint64_t *id_out)
{
    if (!login || !*login || strlen(login) > STORE_NAME_MAX ||
        (role != STORE_ROLE_ADMIN && role != STORE_ROLE_VIEWER))
        return -EINVAL;
    store_lock(st);
    sqlite3_stmt *q = stmt(st, AU_USER_ADD);
    int ret = -EIO;
    if (q)
        ret = db_bound(&st->main, q,
                       db_bind_i64(q, 1, clock_wall_ms()) | db_bind_text(q, 2, login) |
                           db_bind_text(q, 3, password_hash) |
                           db_bind_text(q, 4, store_role_name(role)),
                       NULL);
    if (q && ret == 0)
        ret = db_run(&st->main, q, "inserting a user");
    if (ret == 0 && id_out)
        *id_out = db_last_id(&st->main);
    store_unlock(st);
    return ret;
}

int store_user_find(struct store *st, const char *login, struct store_user *out)
{
    memset(out, 0, sizeof(*out));
    if (!login)
        return -EINVAL;
    store_lock(st);
    sqlite3_stmt *q = stmt(st, AU_USER_FIND);
    int ret = user_query(st, q, q ? db_bind_text(q, 1, login) : 0, out);
    store_unlock(st);
    return ret;
}

int store_user_get(struct store *st, uint64_t id, struct store_user *out)
{
    memset(out, 0, sizeof(*out));
    store_lock(st);
    sqlite3_stmt *q = stmt(st, AU_USER_GET);
    int ret = user_query(st, q, q ? db_bind_u64(q, 1, id) : 0, out);
    store_unlock(st);
    return ret;
}

int store_user_first(struct store *st, struct store_user *out)
{
    memset(out, 0, sizeof(*out));
    store_lock(st);
    int ret = user_query(st, stmt(st, AU_USER_FIRST), 0, out);
    store_unlock(st);
    return ret;
}

int store_user_count(struct store *st, uint64_t *n)
{
    store_lock(st);
    sqlite3_stmt *q = stmt(st, AU_USER_COUNT);
    int64_t v = 0;
    int ret = q ? db_scalar_i64(&st->main, q, &v, "counting users") : -EIO;
    if (ret == 0)
        *n = (uint64_t)v;
    store_unlock(st);
    return ret;
}

int store_user_set_password(struct store *st, uint64_t id, const char *password_hash)
{
    if (!password_hash || !*password_hash)
        return -EINVAL;
    store_lock(st);
    sqlite3_stmt *q = stmt(st, AU_USER_SETPW);
    int ret = -EIO;
    if (q)
        ret = db_bound(&st->main, q,
                       db_bind_text(q, 1, password_hash) | db_bind_i64(q, 2, clock_wall_ms()) |
                           db_bind_u64(q, 3, id),
                       NULL);
    if (q && ret == 0)
        ret = db_run_changed(&st->main, q, "updating a password");
    store_unlock(st);
    return ret;
}

/* ---- API tokens ---- */

void store_token_release(struct store_token *t)
{
    if (!t)
        return;
    free(t->note);
    t->note = NULL;
}

static void token_from_row(sqlite3_stmt *q, void *out)
{
    struct store_token *t = out;
    memset(t, 0, sizeof(*t));
    t->id = (uint64_t)db_col_i64(q, 0);
    t->user_id = (uint64_t)db_col_i64(q, 1);
    db_col_fixed_blob(q, 2, t->token_hash, STORE_TOKEN_HASH_LEN);
    const unsigned char *p = sqlite3_column_text(q, 3);
    snprintf(t->prefix, sizeof(t->prefix), "%s", p ? (const char *)p : "");
    t->note = db_col_text(q, 4);
    t->created_at = db_col_i64(q, 5);
    t->last_used_at = db_col_i64(q, 6);
}

static void token_release_cb(void *e)
{
    store_token_release(e);
}

int store_token_add(struct store *st, uint64_t user_id, const uint8_t *token_hash,
                    const char *prefix, const char *note, uint64_t *id_out)
{
    if (!token_hash || !prefix || strlen(prefix) != STORE_TOKEN_PREFIX_LEN ||
        !store_len_ok(note, STORE_NOTE_MAX))
        return -EINVAL;
    store_lock(st);
    sqlite3_stmt *q = stmt(st, AU_TOKEN_ADD);
    int ret = -EIO;
    if (q)
        ret = db_bound(&st->main, q,
                       db_bind_u64(q, 1, user_id) | bind_hash(q, 2, token_hash) |
                           db_bind_text(q, 3, prefix) | db_bind_text(q, 4, store_or_empty(note)) |
                           db_bind_i64(q, 5, clock_wall_ms()),
                       NULL);
    if (q && ret == 0)
        ret = db_run(&st->main, q, "inserting an API token");
    if (ret == 0 && id_out)
        *id_out = db_last_id(&st->main);
    store_unlock(st);
    return ret;
}

int store_token_list(struct store *st, uint64_t user_id, struct store_token **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    store_lock(st);
    sqlite3_stmt *q = stmt(st, user_id ? AU_TOKEN_LIST_USER : AU_TOKEN_LIST_ALL);
    int ret = q ? 0 : -EIO;
    if (q && user_id)
        ret = db_bound(&st->main, q, db_bind_u64(q, 1, user_id), NULL);
    if (q && ret == 0) {
        void *list;
        ret = db_rows(&st->main, q, sizeof(**out), token_from_row, token_release_cb,
                      "listing API tokens", &list, n);
        *out = list;
    }
    store_unlock(st);
    return ret;
}

void store_token_list_free(struct store_token *list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        store_token_release(&list[i]);
    free(list);
}

int store_token_del(struct store *st, uint64_t id, uint64_t user_id)
{
    store_lock(st);
    sqlite3_stmt *q = stmt(st, AU_TOKEN_DEL);
    int ret = -EIO;
    if (q)
        ret = db_bound(&st->main, q, db_bind_u64(q, 1, id) | db_bind_u64(q, 2, user_id), NULL);
    if (q && ret == 0)
        ret = db_run_changed(&st->main, q, "deleting an API token");
    store_unlock(st);
    return ret;
}

int store_token_find(struct store *st, const uint8_t *token_hash, struct store_token *out)
{
    memset(out, 0, sizeof(*out));
    if (!token_hash)
        return -EINVAL;
    store_lock(st);
    sqlite3_stmt *q = stmt(st, AU_TOKEN_FIND);
    int ret = -EIO;
    if (q)
        ret = db_bound(&st->main, q, bind_hash(q, 1, token_hash), NULL);
    if (q && ret == 0)
        ret = db_row(&st->main, q, token_from_row, out, "reading an API token");
    store_unlock(st);
    return ret;
}

int store_token_touch(struct store *st, uint64_t id, int64_t when_ms)
{
    store_lock(st);
    sqlite3_stmt *q = stmt(st, AU_TOKEN_TOUCH);
    int ret = -EIO;
    if (q)
        ret = db_bound(&st->main, q, db_bind_i64(q, 1, when_ms) | db_bind_u64(q, 2, id), NULL);
    if (q && ret == 0)
        ret = db_run_changed(&st->main, q, "touching an API token");
    store_unlock(st);
    return ret;
}

/* ---- sessions ---- */

void store_session_release(struct store_session *s)
{
    if (!s)
        return;
    free(s->csrf_token);
    s->csrf_token = NULL;
}

static void session_from_row(sqlite3_stmt *q, void *out)
{
    struct store_session *x = out;
    x->id = (uint64_t)db_col_i64(q, 0);
    x->user_id = (uint64_t)db_col_i64(q, 1);
    db_col_fixed_blob(q, 2, x->token_hash, STORE_TOKEN_HASH_LEN);
    x->created_at = db_col_i64(q, 3);
    x->expires_at = db_col_i64(q, 4);
    x->csrf_token = db_col_text(q, 5);
}

static void session_release_cb(void *e)
{
    store_session_release(e);
}

int store_session_add(struct store *st, uint64_t user_id, const uint8_t *token_hash,
                      int64_t expires_at_ms, const char *csrf_token, uint64_t *id_out)
{
    if (!token_hash || !csrf_token || strlen(csrf_token) > STORE_NAME_MAX)
        return -EINVAL;
    store_lock(st);
    sqlite3_stmt *q = stmt(st, AU_SESSION_ADD);
    int ret = -EIO;
    if (q)
        ret = db_bound(&st->main, q,
                       db_bind_u64(q, 1, user_id) | bind_hash(q, 2, token_hash) |
                           db_bind_i64(q, 3, clock_wall_ms()) | db_bind_i64(q, 4, expires_at_ms) |
                           db_bind_text(q, 5, csrf_token),
                       NULL);
    if (q && ret == 0)
        ret = db_run(&st->main, q, "inserting a session");
    if (ret == 0 && id_out)
        *id_out = db_last_id(&st->main);
    store_unlock(st);
    return ret;
}

int store_session_find(struct store *st, const uint8_t *token_hash, int64_t now_ms,
                       struct store_session *out)
{
    memset(out, 0, sizeof(*out));
    if (!token_hash)
        return -EINVAL;
    store_lock(st);
    sqlite3_stmt *q = stmt(st, AU_SESSION_FIND);
    int ret = -EIO;
    if (q)
        ret = db_bound(&st->main, q, bind_hash(q, 1, token_hash) | db_bind_i64(q, 2, now_ms), NULL);
    if (q && ret == 0)
        ret = db_row(&st->main, q, session_from_row, out, "reading a session");
    store_unlock(st);
    return ret;
}

int store_session_list(struct store *st, int64_t now_ms, struct store_session **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    store_lock(st);
    sqlite3_stmt *q = stmt(st, AU_SESSION_LIST);
    int ret = -EIO;
    if (q)
        ret = db_bound(&st->main, q, db_bind_i64(q, 1, now_ms), NULL);
    if (q && ret == 0) {
        void *list;
        ret = db_rows(&st->main, q, sizeof(**out), session_from_row, session_release_cb,
                      "listing sessions", &list, n);
        *out = list;
    }
    store_unlock(st);
    return ret;
}

void store_session_list_free(struct store_session *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_session_release(&list[i]);
    free(list);
}

int store_session_del(struct store *st, const uint8_t *token_hash)
{
    if (!token_hash)
        return -EINVAL;
    store_lock(st);
    sqlite3_stmt *q = stmt(st, AU_SESSION_DEL);
    int ret = -EIO;
    if (q)
        ret = db_bound(&st->main, q, bind_hash(q, 1, token_hash), NULL);
    if (q && ret == 0)
        ret = db_run_changed(&st->main, q, "deleting a session");
    store_unlock(st);
    return ret;
}

int store_session_purge_expired(struct store *st, int64_t now_ms, uint64_t *n_deleted)
{
    store_lock(st);
    sqlite3_stmt *q = stmt(st, AU_SESSION_PURGE);
    int ret = -EIO;
    if (q)
        ret = db_bound(&st->main, q, db_bind_i64(q, 1, now_ms), NULL);
    if (q && ret == 0)
        ret = db_run(&st->main, q, "purging sessions");
    if (ret == 0 && n_deleted)
        *n_deleted = (uint64_t)db_changes(&st->main);
    store_unlock(st);
    return ret;
}

int store_session_del_user(struct store *st, uint64_t user_id, const uint8_t *keep_hash,
                           uint64_t *n_deleted)
{
    store_lock(st);
    sqlite3_stmt *q = stmt(st, AU_SESSION_DEL_USER);
    int ret = -EIO;
    if (q)
        ret = db_bound(&st->main, q,
                       db_bind_u64(q, 1, user_id) |
                           (keep_hash ? bind_hash(q, 2, keep_hash) : db_bind_text(q, 2, NULL)),
                       NULL);
    if (q && ret == 0)
        ret = db_run(&st->main, q, "deleting a user's sessions");
    if (ret == 0 && n_deleted)
        *n_deleted = (uint64_t)db_changes(&st->main);
    store_unlock(st);
    return ret;
}
