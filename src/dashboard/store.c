/*
 * store: the dashboard's SQLite database. One connection per thread: the
 * caller's (struct conn main) and, once started, the writer thread's. Every
 * statement is prepared once per connection (cached in conn.stmt[]) and
 * finalized at close. Migrations are a table of versioned statement lists.
 * See docs/internals/store.md.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "core/clock.h"
#include "core/errbuf.h"
#include "dashboard/auth.h"

#define BUSY_TIMEOUT_MS 5000
#define WRITER_PERIOD_MS 1000

/* ---- statement table (one cache per connection) ---- */

enum stmt_id {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_LIVE_UPDATE,
    S_DATA_VERSION,
    S_SERVER_ADD,
    S_SERVER_UPDATE,
    S_SERVER_DEL,
    S_SERVER_LIST,
    S_SERVER_GET,
    S_SETTING_GET,
    S_SETTING_SET,
    S_USER_ADD,
    S_USER_FIND,
    S_USER_GET,
    S_USER_FIRST,
    S_USER_COUNT,
    S_USER_SETPW,
    S_TOKEN_ADD,
    S_TOKEN_LIST_ALL,
    S_TOKEN_LIST_USER,
    S_TOKEN_DEL,
    S_TOKEN_FIND,
    S_TOKEN_TOUCH,
    S_SESSION_ADD,
    S_SESSION_FIND,
    S_SESSION_DEL,
    S_SESSION_PURGE,
    S_SERVERS_REV,
    S_TOKENS_REV,
    S_SESSION_LIST,
    S_COUNT
};

#define SERVER_COLS                                                                                \
    "id, name, tag, secret, note, public_note, display_index, hide_for_guest, created_at, "       \
    "updated_at, host_pb, last_active"
#define USER_COLS "id, login, name, avatar_url, password_hash, super_admin, created_at, updated_at"
#define TOKEN_COLS "id, user_id, token_hash, prefix, note, created_at, last_used_at"
#define SESSION_COLS "id, user_id, token_hash, created_at, expires_at, csrf_token"

static const char *const stmt_sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_LIVE_UPDATE] = "UPDATE servers SET host_pb = COALESCE(?1, host_pb), last_active = ?2 "
                      "WHERE id = ?3",
    [S_DATA_VERSION] = "PRAGMA data_version",
    [S_SERVER_ADD] = "INSERT INTO servers (created_at, updated_at, name, tag, secret, note, "
                     "public_note, display_index, hide_for_guest) "
                     "VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [S_SERVER_UPDATE] = "UPDATE servers SET updated_at = ?1, name = ?2, tag = ?3, secret = ?4, "
                        "note = ?5, public_note = ?6, display_index = ?7, hide_for_guest = ?8 "
                        "WHERE id = ?9",
    [S_SERVER_DEL] = "DELETE FROM servers WHERE id = ?1",
    [S_SERVER_LIST] = "SELECT " SERVER_COLS " FROM servers ORDER BY id",
    [S_SERVER_GET] = "SELECT " SERVER_COLS " FROM servers WHERE id = ?1",
    [S_SETTING_GET] = "SELECT value FROM settings WHERE key = ?1",
    [S_SETTING_SET] = "INSERT INTO settings (key, value) VALUES (?1, ?2) "
                      "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [S_USER_ADD] = "INSERT INTO users (created_at, updated_at, login, password_hash, super_admin) "
                   "VALUES (?1, ?1, ?2, ?3, (SELECT COUNT(*) = 0 FROM users))",
    [S_USER_FIND] = "SELECT " USER_COLS " FROM users WHERE login = ?1",
    [S_USER_GET] = "SELECT " USER_COLS " FROM users WHERE id = ?1",
    [S_USER_FIRST] = "SELECT " USER_COLS " FROM users ORDER BY id LIMIT 1",
    [S_USER_COUNT] = "SELECT COUNT(*) FROM users",
    [S_USER_SETPW] = "UPDATE users SET password_hash = ?1, updated_at = ?2 WHERE id = ?3",
    [S_TOKEN_ADD] = "INSERT INTO api_tokens (user_id, token_hash, prefix, note, created_at) "
                    "VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_TOKEN_LIST_ALL] = "SELECT " TOKEN_COLS " FROM api_tokens ORDER BY id",
    [S_TOKEN_LIST_USER] = "SELECT " TOKEN_COLS " FROM api_tokens WHERE user_id = ?1 ORDER BY id",
    [S_TOKEN_DEL] = "DELETE FROM api_tokens WHERE id = ?1 AND (?2 = 0 OR user_id = ?2)",
    [S_TOKEN_FIND] = "SELECT " TOKEN_COLS " FROM api_tokens WHERE token_hash = ?1",
    [S_TOKEN_TOUCH] = "UPDATE api_tokens SET last_used_at = ?1 WHERE id = ?2",
    [S_SESSION_ADD] = "INSERT INTO sessions (user_id, token_hash, created_at, expires_at, "
                      "csrf_token) VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_SESSION_FIND] = "SELECT " SESSION_COLS " FROM sessions WHERE token_hash = ?1 "
                       "AND expires_at > ?2",
    [S_SESSION_DEL] = "DELETE FROM sessions WHERE token_hash = ?1",
    [S_SESSION_PURGE] = "DELETE FROM sessions WHERE expires_at <= ?1",
    [S_SERVERS_REV] = "SELECT value FROM meta WHERE key = 'servers_rev'",
    [S_TOKENS_REV] = "SELECT value FROM meta WHERE key = 'tokens_rev'",
    [S_SESSION_LIST] = "SELECT " SESSION_COLS " FROM sessions WHERE expires_at > ?1 ORDER BY id",
};

/* ---- migrations: append only; never edit a released entry ---- */

static const char *const migration_1[] = {
    "CREATE TABLE servers ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " created_at INTEGER NOT NULL DEFAULT 0,"
    " updated_at INTEGER NOT NULL DEFAULT 0,"
    " deleted_at INTEGER,"
    " name TEXT NOT NULL DEFAULT '',"
    " tag TEXT NOT NULL DEFAULT '',"
    " secret TEXT UNIQUE NOT NULL,"
    " note TEXT NOT NULL DEFAULT '',"
    " public_note TEXT NOT NULL DEFAULT '',"
    " display_index INTEGER NOT NULL DEFAULT 0,"
    " hide_for_guest INTEGER NOT NULL DEFAULT 0,"
    " enable_d_dns INTEGER NOT NULL DEFAULT 0,"
    " ddns_profiles_raw TEXT NOT NULL DEFAULT '[]',"
    " host_pb BLOB,"
    " last_active INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX idx_servers_created_at ON servers (created_at)",
    "CREATE INDEX idx_servers_deleted_at ON servers (deleted_at)",
    "CREATE TABLE users ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " created_at INTEGER NOT NULL DEFAULT 0,"
    " updated_at INTEGER NOT NULL DEFAULT 0,"
    " login TEXT UNIQUE NOT NULL,"
    " name TEXT NOT NULL DEFAULT '',"
    " avatar_url TEXT NOT NULL DEFAULT '',"
    " password_hash TEXT,"
    " super_admin INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE sessions ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    " token_hash BLOB UNIQUE NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " csrf_token TEXT NOT NULL)",
    "CREATE INDEX idx_sessions_expires_at ON sessions (expires_at)",
    "CREATE INDEX idx_sessions_user_id ON sessions (user_id)",
    "CREATE TABLE api_tokens ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    " token_hash BLOB UNIQUE NOT NULL,"
    " prefix TEXT NOT NULL,"
    " note TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL,"
    " last_used_at INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX idx_api_tokens_user_id ON api_tokens (user_id)",
    "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    NULL,
};

/*
 * Migration 2: a revision counter of the servers' metadata, bumped by triggers
 * on insert, delete and updates of the admin-edited columns (not of host_pb /
 * last_active, which the writer thread updates every second). The running
 * dashboard polls it to pick up changes made by other processes (the CLI).
 */
#define BUMP_SERVERS_REV " BEGIN UPDATE meta SET value = value + 1 WHERE key = 'servers_rev'; END"
static const char *const migration_2[] = {
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "INSERT INTO meta (key, value) VALUES ('servers_rev', 1)",
    "CREATE TRIGGER servers_rev_insert AFTER INSERT ON servers" BUMP_SERVERS_REV,
    "CREATE TRIGGER servers_rev_delete AFTER DELETE ON servers" BUMP_SERVERS_REV,
    "CREATE TRIGGER servers_rev_update AFTER UPDATE OF name, tag, secret, note, public_note,"
    " display_index, hide_for_guest, enable_d_dns, ddns_profiles_raw ON servers" BUMP_SERVERS_REV,
    NULL,
};

/* Migration 3: the same for API tokens, so a token added or deleted with the CLI
 * is accepted or refused by a running dashboard at once. */
#define BUMP_TOKENS_REV " BEGIN UPDATE meta SET value = value + 1 WHERE key = 'tokens_rev'; END"
static const char *const migration_3[] = {
    "INSERT INTO meta (key, value) VALUES ('tokens_rev', 1)",
    "CREATE TRIGGER tokens_rev_insert AFTER INSERT ON api_tokens" BUMP_TOKENS_REV,
    "CREATE TRIGGER tokens_rev_delete AFTER DELETE ON api_tokens" BUMP_TOKENS_REV,
    NULL,
};

struct migration {
    int version;
    const char *const *stmts; /* NULL-terminated; run in order inside one transaction */
};

static const struct migration migrations[] = {
    {1, migration_1},
    {2, migration_2},
    {3, migration_3},
};
#define N_MIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

/* ---- types ---- */

struct conn {
    sqlite3 *db;
    sqlite3_stmt *stmt[S_COUNT]; /* prepared lazily, finalized in conn_close */
};

struct live_row {
    uint64_t id;
    uint8_t *host_pb; /* owned or NULL (keep the stored blob) */
    size_t host_len;
    int64_t last_active;
};

/* Pending live rows coalesced per id: rows[] in arrival order, slots[] an open-addressing index. */
struct live_queue {
    struct live_row *rows;
    size_t n;
    size_t cap;
    uint32_t *slots; /* 0 = empty, else index into rows + 1 */
    size_t nslots;   /* power of two, or 0 */
};

struct store {
    char *path;
    struct conn main;

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv_work;
    pthread_cond_t cv_done;
    struct live_queue q;
    uint64_t enq_seq;  /* bumped on every accepted enqueue */
    uint64_t done_seq; /* enq_seq value covered by the last finished batch */
    int flush_req;
    int stop;
    int writer_running;
    pthread_t writer;
    struct conn wconn; /* the writer thread's connection (only that thread touches it) */
};

/* ---- helpers ---- */

static void db_log(sqlite3 *db, const char *what)
{
    log_error("store: %s failed: %s (%d)", what, sqlite3_errmsg(db), sqlite3_extended_errcode(db));
}

/* Maps an SQLite result code to our negative errno codes. */
static int db_code(int rc)
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

static sqlite3_stmt *stmt_get(struct conn *c, enum stmt_id id)
{
    if (!c->stmt[id]) {
        int rc = sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &c->stmt[id], NULL);
        if (rc != SQLITE_OK) {
            log_error("store: preparing \"%s\" failed: %s", stmt_sql[id], sqlite3_errmsg(c->db));
            c->stmt[id] = NULL;
            return NULL;
        }
    }
    return c->stmt[id];
}

/* Resets a cached statement for its next use (bindings cleared too). */
static void stmt_done(sqlite3_stmt *s)
{
    if (s) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
}

static int bind_text(sqlite3_stmt *s, int idx, const char *v)
{
    if (!v)
        return sqlite3_bind_null(s, idx);
    return sqlite3_bind_text(s, idx, v, -1, SQLITE_TRANSIENT);
}

static int bind_u64(sqlite3_stmt *s, int idx, uint64_t v)
{
    return sqlite3_bind_int64(s, idx, (sqlite3_int64)v);
}

static int bind_hash(sqlite3_stmt *s, int idx, const uint8_t *h)
{
    return sqlite3_bind_blob(s, idx, h, STORE_TOKEN_HASH_LEN, SQLITE_TRANSIENT);
}

/* Runs a cached statement that returns no rows. Returns 0 or a negative code (logged). */
static int run_cached(struct conn *c, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    int ret = 0;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        ret = db_code(sqlite3_extended_errcode(c->db));
        if (ret != -EEXIST && ret != -ENOENT)
            db_log(c->db, what);
    }
    stmt_done(s);
    return ret;
}

/* Runs one un-cached statement (DDL, pragmas at open). Returns the SQLite rc. */
static int exec_once(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return rc;
    do {
        rc = sqlite3_step(s);
    } while (rc == SQLITE_ROW);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static char *col_text(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return xstrdup(t ? (const char *)t : "");
}

static char *col_text_or_null(sqlite3_stmt *s, int i)
{
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        return NULL;
    return col_text(s, i);
}

static void col_hash(sqlite3_stmt *s, int i, uint8_t *out)
{
    const void *b = sqlite3_column_blob(s, i);
    int n = sqlite3_column_bytes(s, i);
    memset(out, 0, STORE_TOKEN_HASH_LEN);
    if (b && n == STORE_TOKEN_HASH_LEN)
        memcpy(out, b, STORE_TOKEN_HASH_LEN);
}

static int txn(struct conn *c, enum stmt_id id)
{
    sqlite3_stmt *s = stmt_get(c, id);
    if (!s)
        return -EIO;
    return run_cached(c, s, stmt_sql[id]);
}

static void conn_close(struct conn *c)
{
    for (int i = 0; i < S_COUNT; i++) {
        sqlite3_finalize(c->stmt[i]);
        c->stmt[i] = NULL;
    }
    if (c->db) {
        int rc = sqlite3_close(c->db);
        if (rc != SQLITE_OK)
            log_error("store: closing the database failed: %s", sqlite3_errstr(rc));
    }
    c->db = NULL;
}

/* Opens a connection with the per-connection settings. Returns 0 or -EIO with err set. */
static int conn_open(struct conn *c, const char *path, char *err, size_t errlen)
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
    rc = exec_once(c->db, "PRAGMA synchronous = NORMAL");
    if (rc != SQLITE_OK)
        goto sqlfail;
    rc = exec_once(c->db, "PRAGMA foreign_keys = ON");
    if (rc != SQLITE_OK)
        goto sqlfail;
    return 0;

sqlfail:
    errbuf_set(err, errlen, "open database '%s': %s", path, sqlite3_errmsg(c->db));
fail:
    conn_close(c);
    return -EIO;
}

/* ---- migrations ---- */

static int schema_version(sqlite3 *db, int *out)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", -1, &s,
                                NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int(s, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(s);
    return rc;
}

static int migrate(struct conn *c, const char *path, char *err, size_t errlen)
{
    int latest = migrations[N_MIGRATIONS - 1].version;
    int rc = exec_once(c->db, "CREATE TABLE IF NOT EXISTS schema_version ("
                              " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    if (rc != SQLITE_OK) {
        errbuf_set(err, errlen, "open database '%s': %s", path, sqlite3_errmsg(c->db));
        return -EIO;
    }
    for (size_t i = 0; i < N_MIGRATIONS; i++) {
        const struct migration *m = &migrations[i];
        int cur = 0;
        if (txn(c, S_BEGIN) != 0) {
            errbuf_set(err, errlen, "migrate database '%s': %s", path, sqlite3_errmsg(c->db));
            return -EIO;
        }
        /* Read inside the write transaction: another process may have migrated meanwhile. */
        rc = schema_version(c->db, &cur);
        if (rc != SQLITE_OK)
            goto sqlfail;
        if (cur > latest) {
            txn(c, S_ROLLBACK);
            errbuf_set(err, errlen,
                    "database '%s' has schema version %d but this lotus-dashboard knows only up "
                    "to %d; use a newer lotus-dashboard",
                    path, cur, latest);
            return -ENOTSUP;
        }
        if (cur >= m->version) {
            if (txn(c, S_COMMIT) != 0)
                goto sqlfail;
            continue;
        }
        for (const char *const *sql = m->stmts; *sql; sql++) {
            rc = exec_once(c->db, *sql);
            if (rc != SQLITE_OK)
                goto sqlfail;
        }
        sqlite3_stmt *s = NULL;
        rc = sqlite3_prepare_v2(c->db, "INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)",
                                -1, &s, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(s, 1, m->version) | sqlite3_bind_int64(s, 2, clock_wall_ms());
        if (rc == SQLITE_OK)
            rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(c->db);
        sqlite3_finalize(s);
        if (rc != SQLITE_OK)
            goto sqlfail;
        if (txn(c, S_COMMIT) != 0)
            goto sqlfail;
        log_info("store: database '%s' migrated to schema version %d", path, m->version);
    }
    return 0;

sqlfail:
    errbuf_set(err, errlen, "migrate database '%s': %s", path, sqlite3_errmsg(c->db));
    if (!sqlite3_get_autocommit(c->db))
        txn(c, S_ROLLBACK);
    return -EIO;
}

/* ---- open / close ---- */

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
    /* Create the file ourselves so it gets 0600 (SQLite gives -wal/-shm the same mode). */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        ret = -errno;
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

    struct store *st = xcalloc(1, sizeof(*st));
    st->path = xstrdup(path);
    pthread_mutex_init(&st->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->cv_work, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&st->cv_done, NULL);

    ret = conn_open(&st->main, path, err, errlen);
    if (ret == 0)
        ret = migrate(&st->main, path, err, errlen);
    if (ret) {
        store_close(st);
        return ret;
    }
    *out = st;
    return 0;
}

static void queue_release(struct live_queue *q)
{
    for (size_t i = 0; i < q->n; i++)
        free(q->rows[i].host_pb);
    free(q->rows);
    free(q->slots);
    memset(q, 0, sizeof(*q));
}

static void apply_pending_locally(struct store *st);

void store_close(struct store *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&st->mu);
    int running = st->writer_running;
    st->stop = 1;
    pthread_cond_signal(&st->cv_work);
    pthread_mutex_unlock(&st->mu);
    if (running)
        pthread_join(st->writer, NULL);
    if (st->main.db)
        apply_pending_locally(st);
    conn_close(&st->main);
    queue_release(&st->q);
    pthread_cond_destroy(&st->cv_work);
    pthread_cond_destroy(&st->cv_done);
    pthread_mutex_destroy(&st->mu);
    free(st->path);
    free(st);
}

/* ---- servers ---- */

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

static int len_ok(const char *v, size_t max)
{
    return !v || strlen(v) <= max;
}

static int server_fields_ok(const struct store_server *s)
{
    return s->name && len_ok(s->name, STORE_NAME_MAX) && len_ok(s->tag, STORE_NAME_MAX) &&
           (!s->secret || (*s->secret && strlen(s->secret) <= STORE_SECRET_MAX)) &&
           len_ok(s->note, STORE_NOTE_MAX) && len_ok(s->public_note, STORE_NOTE_MAX);
}

static const char *or_empty(const char *v)
{
    return v ? v : "";
}

int store_server_add(struct store *st, struct store_server *s)
{
    if (!server_fields_ok(s))
        return -EINVAL;
    if (!s->secret) {
        s->secret = xmalloc(STORE_SECRET_LEN + 1);
        auth_random_string(s->secret, STORE_SECRET_LEN);
    }
    sqlite3_stmt *q = stmt_get(&st->main, S_SERVER_ADD);
    if (!q)
        return -EIO;
    int64_t now = clock_wall_ms();
    int rc = sqlite3_bind_int64(q, 1, now) | bind_text(q, 2, s->name) |
             bind_text(q, 3, or_empty(s->tag)) | bind_text(q, 4, s->secret) |
             bind_text(q, 5, or_empty(s->note)) | bind_text(q, 6, or_empty(s->public_note)) |
             sqlite3_bind_int64(q, 7, s->display_index) |
             sqlite3_bind_int(q, 8, s->hide_for_guest ? 1 : 0);
    if (rc != SQLITE_OK) {
        db_log(st->main.db, "binding a server insert");
        stmt_done(q);
        return -EIO;
    }
    int ret = run_cached(&st->main, q, "inserting a server");
    if (ret)
        return ret;
    s->id = (uint64_t)sqlite3_last_insert_rowid(st->main.db);
    s->created_at = now;
    s->updated_at = now;
    return 0;
}

int store_server_update(struct store *st, const struct store_server *s)
{
    if (!server_fields_ok(s) || !s->secret)
        return -EINVAL;
    sqlite3_stmt *q = stmt_get(&st->main, S_SERVER_UPDATE);
    if (!q)
        return -EIO;
    int rc = sqlite3_bind_int64(q, 1, clock_wall_ms()) | bind_text(q, 2, s->name) |
             bind_text(q, 3, or_empty(s->tag)) | bind_text(q, 4, s->secret) |
             bind_text(q, 5, or_empty(s->note)) | bind_text(q, 6, or_empty(s->public_note)) |
             sqlite3_bind_int64(q, 7, s->display_index) |
             sqlite3_bind_int(q, 8, s->hide_for_guest ? 1 : 0) | bind_u64(q, 9, s->id);
    if (rc != SQLITE_OK) {
        db_log(st->main.db, "binding a server update");
        stmt_done(q);
        return -EIO;
    }
    int ret = run_cached(&st->main, q, "updating a server");
    if (ret)
        return ret;
    return sqlite3_changes(st->main.db) > 0 ? 0 : -ENOENT;
}

int store_server_del(struct store *st, uint64_t id)
{
    sqlite3_stmt *q = stmt_get(&st->main, S_SERVER_DEL);
    if (!q)
        return -EIO;
    if (bind_u64(q, 1, id) != SQLITE_OK) {
        stmt_done(q);
        return -EIO;
    }
    int ret = run_cached(&st->main, q, "deleting a server");
    if (ret)
        return ret;
    return sqlite3_changes(st->main.db) > 0 ? 0 : -ENOENT;
}

/*
 * Steps q to the end, growing an owned array of `size`-byte elements filled
 * by from_row (each element starts zeroed). On a step error releases what was
 * read with release, logs `what` and returns -EIO; else hands the array over.
 * q is done (reset) either way.
 */
static int collect_rows(struct store *st, sqlite3_stmt *q, size_t size,
                        void (*from_row)(sqlite3_stmt *q, void *elem),
                        void (*release)(void *elem), const char *what, void **out, size_t *n)
{
    char *list = NULL;
    size_t cnt = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            list = xrealloc(list, cap * size);
        }
        memset(list + cnt * size, 0, size);
        from_row(q, list + cnt * size);
        cnt++;
    }
    stmt_done(q);
    if (rc != SQLITE_DONE) {
        db_log(st->main.db, what);
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

static void server_from_row(sqlite3_stmt *q, struct store_server *s)
{
    memset(s, 0, sizeof(*s));
    s->id = (uint64_t)sqlite3_column_int64(q, 0);
    s->name = col_text(q, 1);
    s->tag = col_text(q, 2);
    s->secret = col_text(q, 3);
    s->note = col_text(q, 4);
    s->public_note = col_text(q, 5);
    s->display_index = sqlite3_column_int64(q, 6);
    s->hide_for_guest = sqlite3_column_int(q, 7) != 0;
    s->created_at = sqlite3_column_int64(q, 8);
    s->updated_at = sqlite3_column_int64(q, 9);
    const void *blob = sqlite3_column_blob(q, 10);
    int n = sqlite3_column_bytes(q, 10);
    if (blob && n > 0) {
        s->host_pb = xmalloc((size_t)n);
        memcpy(s->host_pb, blob, (size_t)n);
        s->host_len = (size_t)n;
    }
    s->last_active = sqlite3_column_int64(q, 11);
}

int store_server_get(struct store *st, uint64_t id, struct store_server *out)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *q = stmt_get(&st->main, S_SERVER_GET);
    if (!q)
        return -EIO;
    if (bind_u64(q, 1, id) != SQLITE_OK) {
        stmt_done(q);
        return -EIO;
    }
    int rc = sqlite3_step(q);
    int ret = 0;
    if (rc == SQLITE_ROW) {
        server_from_row(q, out);
    } else if (rc == SQLITE_DONE) {
        ret = -ENOENT;
    } else {
        db_log(st->main.db, "reading a server");
        ret = -EIO;
    }
    stmt_done(q);
    return ret;
}

static void server_row_cb(sqlite3_stmt *q, void *e)
{
    server_from_row(q, e);
}

static void server_release_cb(void *e)
{
    store_server_release(e);
}

int store_server_list(struct store *st, struct store_server **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *q = stmt_get(&st->main, S_SERVER_LIST);
    if (!q)
        return -EIO;
    void *list;
    int rc = collect_rows(st, q, sizeof(**out), server_row_cb, server_release_cb,
                          "listing servers", &list, n);
    *out = list;
    return rc;
}

void store_server_list_free(struct store_server *list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        store_server_release(&list[i]);
    free(list);
}

int store_data_version(struct store *st, int64_t *out)
{
    sqlite3_stmt *q = stmt_get(&st->main, S_DATA_VERSION);
    if (!q)
        return -EIO;
    int rc = sqlite3_step(q);
    int ret = 0;
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(q, 0);
    } else {
        db_log(st->main.db, "reading data_version");
        ret = -EIO;
    }
    stmt_done(q);
    return ret;
}

static int read_rev(struct store *st, enum stmt_id id, int64_t *out)
{
    sqlite3_stmt *q = stmt_get(&st->main, id);
    if (!q)
        return -EIO;
    int rc = sqlite3_step(q);
    int ret = 0;
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(q, 0);
    } else {
        db_log(st->main.db, "reading a revision counter");
        ret = -EIO;
    }
    stmt_done(q);
    return ret;
}

int store_servers_rev(struct store *st, int64_t *out)
{
    return read_rev(st, S_SERVERS_REV, out);
}

int store_tokens_rev(struct store *st, int64_t *out)
{
    return read_rev(st, S_TOKENS_REV, out);
}

/* ---- settings ---- */

int store_setting_get(struct store *st, const char *key, char **value)
{
    *value = NULL;
    if (!key)
        return -EINVAL;
    sqlite3_stmt *q = stmt_get(&st->main, S_SETTING_GET);
    if (!q)
        return -EIO;
    if (bind_text(q, 1, key) != SQLITE_OK) {
        stmt_done(q);
        return -EIO;
    }
    int rc = sqlite3_step(q);
    int ret = 0;
    if (rc == SQLITE_ROW)
        *value = col_text(q, 0);
    else if (rc != SQLITE_DONE) {
        db_log(st->main.db, "reading a setting");
        ret = -EIO;
    }
    stmt_done(q);
    return ret;
}

int store_setting_set(struct store *st, const char *key, const char *value)
{
    if (!key || !value)
        return -EINVAL;
    sqlite3_stmt *q = stmt_get(&st->main, S_SETTING_SET);
    if (!q)
        return -EIO;
    if ((bind_text(q, 1, key) | bind_text(q, 2, value)) != SQLITE_OK) {
        stmt_done(q);
        return -EIO;
    }
    return run_cached(&st->main, q, "writing a setting");
}

/* ---- live-state queue and writer thread ---- */

static size_t slot_of(uint64_t id, size_t nslots)
{
    uint64_t h = id * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (nslots - 1);
}

static void queue_rehash(struct live_queue *q, size_t nslots)
{
    free(q->slots);
    q->slots = xcalloc(nslots, sizeof(*q->slots));
    q->nslots = nslots;
    for (size_t i = 0; i < q->n; i++) {
        size_t k = slot_of(q->rows[i].id, nslots);
        while (q->slots[k])
            k = (k + 1) & (nslots - 1);
        q->slots[k] = (uint32_t)(i + 1);
    }
}

/* Finds the row of id, or NULL. */
static struct live_row *queue_find(struct live_queue *q, uint64_t id, size_t *slot_out)
{
    if (q->nslots == 0) {
        *slot_out = 0;
        return NULL;
    }
    size_t k = slot_of(id, q->nslots);
    while (q->slots[k]) {
        struct live_row *r = &q->rows[q->slots[k] - 1];
        if (r->id == id)
            return r;
        k = (k + 1) & (q->nslots - 1);
    }
    *slot_out = k;
    return NULL;
}

/* Caller holds st->mu. host_pb consumed. Returns 0 or -ENOSPC. */
static int queue_put(struct live_queue *q, uint64_t id, uint8_t *host_pb, size_t host_len,
                     int64_t last_active)
{
    size_t slot = 0;
    struct live_row *r = queue_find(q, id, &slot);
    if (r) {
        if (host_pb) {
            free(r->host_pb);
            r->host_pb = host_pb;
            r->host_len = host_len;
        }
        r->last_active = last_active;
        return 0;
    }
    if (q->n >= STORE_LIVE_QUEUE_MAX) {
        free(host_pb);
        return -ENOSPC;
    }
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 64;
        q->rows = xrealloc(q->rows, q->cap * sizeof(*q->rows));
    }
    if ((q->n + 1) * 2 > q->nslots) {
        /* Keep the load factor under 1/2; rebuild the index from rows[] and look the slot up again. */
        queue_rehash(q, q->nslots ? q->nslots * 2 : 128);
        queue_find(q, id, &slot);
    }
    q->rows[q->n] = (struct live_row){id, host_pb, host_len, last_active};
    q->n++;
    q->slots[slot] = (uint32_t)q->n;
    return 0;
}

/* Caller holds st->mu: moves the pending rows out (caller frees them with free_rows). */
static struct live_row *queue_take(struct live_queue *q, size_t *n)
{
    struct live_row *rows = q->rows;
    *n = q->n;
    q->rows = NULL;
    q->n = 0;
    q->cap = 0;
    if (q->slots)
        memset(q->slots, 0, q->nslots * sizeof(*q->slots));
    return rows;
}

static void free_rows(struct live_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(rows[i].host_pb);
    free(rows);
}

/* Applies rows in one transaction on connection c. Rows for deleted servers change nothing. */
static int apply_rows(struct conn *c, const struct live_row *rows, size_t n)
{
    if (n == 0)
        return 0;
    if (txn(c, S_BEGIN) != 0)
        return -EIO;
    sqlite3_stmt *q = stmt_get(c, S_LIVE_UPDATE);
    if (!q)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        const struct live_row *r = &rows[i];
        int rc = (r->host_pb ? sqlite3_bind_blob(q, 1, r->host_pb, (int)r->host_len,
                                                 SQLITE_STATIC)
                             : sqlite3_bind_null(q, 1)) |
                 sqlite3_bind_int64(q, 2, r->last_active) | bind_u64(q, 3, r->id);
        if (rc != SQLITE_OK) {
            db_log(c->db, "binding a live-state update");
            stmt_done(q);
            goto fail;
        }
        if (run_cached(c, q, "writing live state") != 0)
            goto fail;
    }
    if (txn(c, S_COMMIT) != 0)
        goto fail;
    return 0;
fail:
    if (!sqlite3_get_autocommit(c->db))
        txn(c, S_ROLLBACK);
    log_error("store: dropped a batch of %zu live-state rows", n);
    return -EIO;
}

/* No writer thread: apply the queue on the caller's connection. */
static void apply_pending_locally(struct store *st)
{
    pthread_mutex_lock(&st->mu);
    size_t n;
    struct live_row *rows = queue_take(&st->q, &n);
    uint64_t seq = st->enq_seq;
    pthread_mutex_unlock(&st->mu);
    apply_rows(&st->main, rows, n);
    free_rows(rows, n);
    pthread_mutex_lock(&st->mu);
    if (seq > st->done_seq)
        st->done_seq = seq;
    pthread_cond_broadcast(&st->cv_done);
    pthread_mutex_unlock(&st->mu);
}

static void deadline_after(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *writer_main(void *arg)
{
    struct store *st = arg;
    struct timespec deadline;
    deadline_after(&deadline, WRITER_PERIOD_MS);
    pthread_mutex_lock(&st->mu);
    for (;;) {
        while (!st->stop && !st->flush_req) {
            if (pthread_cond_timedwait(&st->cv_work, &st->mu, &deadline) == ETIMEDOUT)
                break;
        }
        size_t n;
        struct live_row *rows = queue_take(&st->q, &n);
        uint64_t seq = st->enq_seq;
        int stopping = st->stop;
        st->flush_req = 0;
        pthread_mutex_unlock(&st->mu);

        apply_rows(&st->wconn, rows, n);
        free_rows(rows, n);

        pthread_mutex_lock(&st->mu);
        st->done_seq = seq;
        pthread_cond_broadcast(&st->cv_done);
        if (stopping && st->q.n == 0)
            break;
        deadline_after(&deadline, WRITER_PERIOD_MS);
    }
    st->writer_running = 0;
    pthread_mutex_unlock(&st->mu);
    conn_close(&st->wconn);
    return NULL;
}

int store_writer_start(struct store *st)
{
    pthread_mutex_lock(&st->mu);
    int running = st->writer_running;
    pthread_mutex_unlock(&st->mu);
    if (running)
        return -EALREADY;
    char err[256];
    int ret = conn_open(&st->wconn, st->path, err, sizeof(err));
    if (ret) {
        log_error("store: writer connection failed: %s", err);
        return ret;
    }
    pthread_mutex_lock(&st->mu);
    st->stop = 0;
    st->writer_running = 1;
    int rc = pthread_create(&st->writer, NULL, writer_main, st);
    if (rc != 0) {
        st->writer_running = 0;
        pthread_mutex_unlock(&st->mu);
        conn_close(&st->wconn);
        log_error("store: starting the writer thread failed: %s", strerror(rc));
        return -rc;
    }
    pthread_mutex_unlock(&st->mu);
    return 0;
}

void store_enqueue_live(struct store *st, uint64_t id, const uint8_t *host_pb, size_t host_len,
                        int64_t last_active)
{
    if (host_pb && host_len > STORE_HOST_PB_MAX) {
        log_warn("store: dropped a live-state row of server %llu: Host of %zu bytes is over %u",
                 (unsigned long long)id, host_len, STORE_HOST_PB_MAX);
        return;
    }
    uint8_t *copy = NULL;
    if (host_pb) {
        copy = xmalloc(host_len ? host_len : 1);
        memcpy(copy, host_pb, host_len);
    }
    pthread_mutex_lock(&st->mu);
    int rc = queue_put(&st->q, id, copy, host_len, last_active);
    if (rc == 0)
        st->enq_seq++;
    pthread_mutex_unlock(&st->mu);
    if (rc)
        log_warn("store: dropped a live-state row of server %llu: queue full",
                 (unsigned long long)id);
}

void store_flush(struct store *st)
{
    pthread_mutex_lock(&st->mu);
    uint64_t target = st->enq_seq;
    if (!st->writer_running) {
        pthread_mutex_unlock(&st->mu);
        if (target != 0)
            apply_pending_locally(st);
        return;
    }
    st->flush_req = 1;
    pthread_cond_signal(&st->cv_work);
    while (st->done_seq < target && st->writer_running)
        pthread_cond_wait(&st->cv_done, &st->mu);
    pthread_mutex_unlock(&st->mu);
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

static void user_from_row(sqlite3_stmt *q, struct store_user *u)
{
    u->id = (uint64_t)sqlite3_column_int64(q, 0);
    u->login = col_text(q, 1);
    u->name = col_text(q, 2);
    u->avatar_url = col_text(q, 3);
    u->password_hash = col_text_or_null(q, 4);
    u->super_admin = sqlite3_column_int(q, 5) != 0;
    u->created_at = sqlite3_column_int64(q, 6);
    u->updated_at = sqlite3_column_int64(q, 7);
}

/* Runs a prepared+bound single-row user query. */
static int user_query(struct store *st, sqlite3_stmt *q, struct store_user *out)
{
    int rc = sqlite3_step(q);
    int ret = 0;
    if (rc == SQLITE_ROW)
        user_from_row(q, out);
    else if (rc == SQLITE_DONE)
        ret = -ENOENT;
    else {
        db_log(st->main.db, "reading a user");
        ret = -EIO;
    }
    stmt_done(q);
    return ret;
}

int store_user_add(struct store *st, const char *login, const char *password_hash,
                   uint64_t *id_out)
{
    if (!login || !*login || strlen(login) > STORE_NAME_MAX)
        return -EINVAL;
    sqlite3_stmt *q = stmt_get(&st->main, S_USER_ADD);
    if (!q)
        return -EIO;
    if ((sqlite3_bind_int64(q, 1, clock_wall_ms()) | bind_text(q, 2, login) |
         bind_text(q, 3, password_hash)) != SQLITE_OK) {
        stmt_done(q);
        return -EIO;
    }
    int ret = run_cached(&st->main, q, "inserting a user");
    if (ret == 0 && id_out)
        *id_out = (uint64_t)sqlite3_last_insert_rowid(st->main.db);
    return ret;
}

int store_user_find(struct store *st, const char *login, struct store_user *out)
{
    memset(out, 0, sizeof(*out));
    if (!login)
        return -EINVAL;
    sqlite3_stmt *q = stmt_get(&st->main, S_USER_FIND);
    if (!q)
        return -EIO;
    if (bind_text(q, 1, login) != SQLITE_OK) {
        stmt_done(q);
        return -EIO;
    }
    return user_query(st, q, out);
}

int store_user_get(struct store *st, uint64_t id, struct store_user *out)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *q = stmt_get(&st->main, S_USER_GET);
    if (!q)
        return -EIO;
    if (bind_u64(q, 1, id) != SQLITE_OK) {
        stmt_done(q);
        return -EIO;
    }
    return user_query(st, q, out);
}

int store_user_first(struct store *st, struct store_user *out)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *q = stmt_get(&st->main, S_USER_FIRST);
    if (!q)
        return -EIO;
    return user_query(st, q, out);
}

int store_user_count(struct store *st, uint64_t *n)
{
    sqlite3_stmt *q = stmt_get(&st->main, S_USER_COUNT);
    if (!q)
        return -EIO;
    int ret = 0;
    if (sqlite3_step(q) == SQLITE_ROW) {
        *n = (uint64_t)sqlite3_column_int64(q, 0);
    } else {
        db_log(st->main.db, "counting users");
        ret = -EIO;
    }
    stmt_done(q);
    return ret;
}

int store_user_set_password(struct store *st, uint64_t id, const char *password_hash)
{
    if (!password_hash || !*password_hash)
        return -EINVAL;
    sqlite3_stmt *q = stmt_get(&st->main, S_USER_SETPW);
    if (!q)
        return -EIO;
    if ((bind_text(q, 1, password_hash) | sqlite3_bind_int64(q, 2, clock_wall_ms()) |
         bind_u64(q, 3, id)) != SQLITE_OK) {
        stmt_done(q);
        return -EIO;
    }
    int ret = run_cached(&st->main, q, "updating a password");
    if (ret)
        return ret;
    return sqlite3_changes(st->main.db) > 0 ? 0 : -ENOENT;
}

/* ---- API tokens ---- */

void store_token_release(struct store_token *t)
{
    if (!t)
        return;
    free(t->note);
    t->note = NULL;
}

static void token_from_row(sqlite3_stmt *q, struct store_token *t)
{
    memset(t, 0, sizeof(*t));
    t->id = (uint64_t)sqlite3_column_int64(q, 0);
    t->user_id = (uint64_t)sqlite3_column_int64(q, 1);
    col_hash(q, 2, t->token_hash);
    const unsigned char *p = sqlite3_column_text(q, 3);
    snprintf(t->prefix, sizeof(t->prefix), "%s", p ? (const char *)p : "");
    t->note = col_text(q, 4);
    t->created_at = sqlite3_column_int64(q, 5);
    t->last_used_at = sqlite3_column_int64(q, 6);
}

int store_token_add(struct store *st, uint64_t user_id, const uint8_t *token_hash,
                    const char *prefix, const char *note, uint64_t *id_out)
{
    if (!token_hash || !prefix || strlen(prefix) != STORE_TOKEN_PREFIX_LEN ||
        !len_ok(note, STORE_NOTE_MAX))
        return -EINVAL;
    sqlite3_stmt *q = stmt_get(&st->main, S_TOKEN_ADD);
    if (!q)
        return -EIO;
    if ((bind_u64(q, 1, user_id) | bind_hash(q, 2, token_hash) | bind_text(q, 3, prefix) |
         bind_text(q, 4, or_empty(note)) | sqlite3_bind_int64(q, 5, clock_wall_ms())) !=
        SQLITE_OK) {
        stmt_done(q);
        return -EIO;
    }
    int ret = run_cached(&st->main, q, "inserting an API token");
    if (ret == 0 && id_out)
        *id_out = (uint64_t)sqlite3_last_insert_rowid(st->main.db);
    return ret;
}

static void token_row_cb(sqlite3_stmt *q, void *e)
{
    token_from_row(q, e);
}

static void token_release_cb(void *e)
{
    store_token_release(e);
}

int store_token_list(struct store *st, uint64_t user_id, struct store_token **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *q = stmt_get(&st->main, user_id ? S_TOKEN_LIST_USER : S_TOKEN_LIST_ALL);
    if (!q)
        return -EIO;
    if (user_id && bind_u64(q, 1, user_id) != SQLITE_OK) {
        stmt_done(q);
        return -EIO;
    }
    void *list;
    int rc = collect_rows(st, q, sizeof(**out), token_row_cb, token_release_cb,
                          "listing API tokens", &list, n);
    *out = list;
    return rc;
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
    sqlite3_stmt *q = stmt_get(&st->main, S_TOKEN_DEL);
    if (!q)
        return -EIO;
    if ((bind_u64(q, 1, id) | bind_u64(q, 2, user_id)) != SQLITE_OK) {
        stmt_done(q);
        return -EIO;
    }
    int ret = run_cached(&st->main, q, "deleting an API token");
    if (ret)
        return ret;
    return sqlite3_changes(st->main.db) > 0 ? 0 : -ENOENT;
}

int store_token_find(struct store *st, const uint8_t *token_hash, struct store_token *out)
{
    memset(out, 0, sizeof(*out));
    if (!token_hash)
        return -EINVAL;
    sqlite3_stmt *q = stmt_get(&st->main, S_TOKEN_FIND);
    if (!q)
        return -EIO;
    if (bind_hash(q, 1, token_hash) != SQLITE_OK) {
        stmt_done(q);
        return -EIO;
    }
    int rc = sqlite3_step(q);
    int ret = 0;
    if (rc == SQLITE_ROW)
        token_from_row(q, out);
    else if (rc == SQLITE_DONE)
        ret = -ENOENT;
    else {
        db_log(st->main.db, "reading an API token");
        ret = -EIO;
    }
    stmt_done(q);
    return ret;
}

int store_token_touch(struct store *st, uint64_t id, int64_t when_ms)
{
    sqlite3_stmt *q = stmt_get(&st->main, S_TOKEN_TOUCH);
    if (!q)
        return -EIO;
    if ((sqlite3_bind_int64(q, 1, when_ms) | bind_u64(q, 2, id)) != SQLITE_OK) {
        stmt_done(q);
        return -EIO;
    }
    int ret = run_cached(&st->main, q, "touching an API token");
    if (ret)
        return ret;
    return sqlite3_changes(st->main.db) > 0 ? 0 : -ENOENT;
}

/* ---- sessions ---- */

void store_session_release(struct store_session *s)
{
    if (!s)
        return;
    free(s->csrf_token);
    s->csrf_token = NULL;
}

int store_session_add(struct store *st, uint64_t user_id, const uint8_t *token_hash,
                      int64_t expires_at_ms, const char *csrf_token, uint64_t *id_out)
{
    if (!token_hash || !csrf_token || strlen(csrf_token) > STORE_NAME_MAX)
        return -EINVAL;
    sqlite3_stmt *q = stmt_get(&st->main, S_SESSION_ADD);
    if (!q)
        return -EIO;
    if ((bind_u64(q, 1, user_id) | bind_hash(q, 2, token_hash) |
         sqlite3_bind_int64(q, 3, clock_wall_ms()) | sqlite3_bind_int64(q, 4, expires_at_ms) |
         bind_text(q, 5, csrf_token)) != SQLITE_OK) {
        stmt_done(q);
        return -EIO;
    }
    int ret = run_cached(&st->main, q, "inserting a session");
    if (ret == 0 && id_out)
        *id_out = (uint64_t)sqlite3_last_insert_rowid(st->main.db);
    return ret;
}

static void session_from_row(sqlite3_stmt *q, struct store_session *x);

int store_session_find(struct store *st, const uint8_t *token_hash, int64_t now_ms,
                       struct store_session *out)
{
    memset(out, 0, sizeof(*out));
    if (!token_hash)
        return -EINVAL;
    sqlite3_stmt *q = stmt_get(&st->main, S_SESSION_FIND);
    if (!q)
        return -EIO;
    if ((bind_hash(q, 1, token_hash) | sqlite3_bind_int64(q, 2, now_ms)) != SQLITE_OK) {
        stmt_done(q);
        return -EIO;
    }
    int rc = sqlite3_step(q);
    int ret = 0;
    if (rc == SQLITE_ROW) {
        session_from_row(q, out);
    } else if (rc == SQLITE_DONE) {
        ret = -ENOENT;
    } else {
        db_log(st->main.db, "reading a session");
        ret = -EIO;
    }
    stmt_done(q);
    return ret;
}

static void session_from_row(sqlite3_stmt *q, struct store_session *x)
{
    x->id = (uint64_t)sqlite3_column_int64(q, 0);
    x->user_id = (uint64_t)sqlite3_column_int64(q, 1);
    col_hash(q, 2, x->token_hash);
    x->created_at = sqlite3_column_int64(q, 3);
    x->expires_at = sqlite3_column_int64(q, 4);
    x->csrf_token = col_text(q, 5);
}

static void session_row_cb(sqlite3_stmt *q, void *e)
{
    session_from_row(q, e);
}

static void session_release_cb(void *e)
{
    store_session_release(e);
}

int store_session_list(struct store *st, int64_t now_ms, struct store_session **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *q = stmt_get(&st->main, S_SESSION_LIST);
    if (!q)
        return -EIO;
    if (sqlite3_bind_int64(q, 1, now_ms) != SQLITE_OK) {
        stmt_done(q);
        return -EIO;
    }
    void *list;
    int rc = collect_rows(st, q, sizeof(**out), session_row_cb, session_release_cb,
                          "listing sessions", &list, n);
    *out = list;
    return rc;
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
    sqlite3_stmt *q = stmt_get(&st->main, S_SESSION_DEL);
    if (!q)
        return -EIO;
    if (bind_hash(q, 1, token_hash) != SQLITE_OK) {
        stmt_done(q);
        return -EIO;
    }
    int ret = run_cached(&st->main, q, "deleting a session");
    if (ret)
        return ret;
    return sqlite3_changes(st->main.db) > 0 ? 0 : -ENOENT;
}

int store_session_purge_expired(struct store *st, int64_t now_ms, uint64_t *n_deleted)
{
    sqlite3_stmt *q = stmt_get(&st->main, S_SESSION_PURGE);
    if (!q)
        return -EIO;
    if (sqlite3_bind_int64(q, 1, now_ms) != SQLITE_OK) {
        stmt_done(q);
        return -EIO;
    }
    int ret = run_cached(&st->main, q, "purging sessions");
    if (ret == 0 && n_deleted)
        *n_deleted = (uint64_t)sqlite3_changes(st->main.db);
    return ret;
}
