/*
 * store/migrate: the migration table and its runner. Append only: never edit
 * a released entry, fix its mistakes in a new one (docs/internals/store.md).
 */
#include "dashboard/store/migrate.h"

#include <errno.h>

#include "core/clock.h"
#include "core/errbuf.h"
#include "core/log.h"

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

/*
 * Migration 4: service monitors (docs/protocol.md §4.2 `monitors` plus Lotus's optional
 * checks) and their history. monitor_history keeps v0's monitor_histories rows (server_id 0 =
 * the per-monitor aggregate row, else a reporter's ping/TCP average) in a WITHOUT ROWID table
 * whose key is the order every reader wants (a server's rows by monitor then time), so no
 * second index is needed. Deleting a server or a monitor deletes its rows (triggers, so the
 * CLI's deletes do too); monitors_rev lets a running dashboard notice any change.
 */
#define BUMP_MONITORS_REV " BEGIN UPDATE meta SET value = value + 1 WHERE key = 'monitors_rev'; END"
static const char *const migration_4[] = {
    "CREATE TABLE monitors ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " created_at INTEGER NOT NULL DEFAULT 0,"
    " updated_at INTEGER NOT NULL DEFAULT 0,"
    " name TEXT NOT NULL DEFAULT '',"
    " type INTEGER NOT NULL,"
    " target TEXT NOT NULL DEFAULT '',"
    " skip_servers_raw TEXT NOT NULL DEFAULT '[]',"
    " duration INTEGER NOT NULL DEFAULT 30,"
    " notify INTEGER NOT NULL DEFAULT 0,"
    " notification_tag TEXT NOT NULL DEFAULT 'default',"
    " cover INTEGER NOT NULL DEFAULT 0,"
    " enable_trigger_task INTEGER NOT NULL DEFAULT 0,"
    " enable_show_in_service INTEGER NOT NULL DEFAULT 0,"
    " fail_trigger_tasks_raw TEXT NOT NULL DEFAULT '[]',"
    " recover_trigger_tasks_raw TEXT NOT NULL DEFAULT '[]',"
    " min_latency REAL NOT NULL DEFAULT 0,"
    " max_latency REAL NOT NULL DEFAULT 0,"
    " latency_notify INTEGER NOT NULL DEFAULT 0,"
    " expect_status TEXT NOT NULL DEFAULT '',"
    " keyword TEXT NOT NULL DEFAULT '',"
    " keyword_absent INTEGER NOT NULL DEFAULT 0,"
    " dns_rrtype TEXT NOT NULL DEFAULT '',"
    " dns_expect TEXT NOT NULL DEFAULT '')",
    "CREATE TABLE monitor_history ("
    " server_id INTEGER NOT NULL,"
    " monitor_id INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " avg_delay REAL NOT NULL DEFAULT 0,"
    " up INTEGER NOT NULL DEFAULT 0,"
    " down INTEGER NOT NULL DEFAULT 0,"
    " data TEXT NOT NULL DEFAULT '',"
    " PRIMARY KEY (server_id, monitor_id, created_at)) WITHOUT ROWID",
    "INSERT INTO meta (key, value) VALUES ('monitors_rev', 1)",
    "CREATE TRIGGER monitors_rev_insert AFTER INSERT ON monitors" BUMP_MONITORS_REV,
    "CREATE TRIGGER monitors_rev_update AFTER UPDATE ON monitors" BUMP_MONITORS_REV,
    "CREATE TRIGGER monitors_rev_delete AFTER DELETE ON monitors BEGIN"
    " UPDATE meta SET value = value + 1 WHERE key = 'monitors_rev';"
    /* By key prefix: one range per server (and the aggregate's 0), not a scan of the table. */
    " DELETE FROM monitor_history WHERE server_id IN (SELECT 0 UNION ALL SELECT id FROM servers)"
    " AND monitor_id = old.id; END",
    "CREATE TRIGGER monitor_history_server_delete AFTER DELETE ON servers BEGIN"
    " DELETE FROM monitor_history WHERE server_id = old.id; END",
    NULL,
};

/*
 * Migration 5: accounts and access (issue #13). Users get a role ('admin' does everything,
 * 'viewer' reads the admin pages without secrets; the unenforced super_admin flag goes away)
 * and TOTP state; sessions remember where they came from; recovery codes and a bounded audit
 * log get tables. auth_rev is bumped by every change that must end or re-check sessions in a
 * running dashboard (a deleted session, a user's password, role or TOTP secret changed, a user
 * deleted), so a CLI reset takes effect at once (dash.c polls it as it polls tokens_rev).
 */
#define BUMP_AUTH_REV  " BEGIN UPDATE meta SET value = value + 1 WHERE key = 'auth_rev'; END"
#define AUDIT_LOG_KEEP "10000"
static const char *const migration_5[] = {
    "ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'admin'"
    " CHECK (role IN ('admin', 'viewer'))",
    "ALTER TABLE users DROP COLUMN super_admin",
    /* totp_secret: base32 of the confirmed secret, NULL = TOTP off; totp_pending: an
     * enrolment not confirmed yet; totp_last_step: the last accepted time step (each code
     * is usable once). */
    "ALTER TABLE users ADD COLUMN totp_secret TEXT",
    "ALTER TABLE users ADD COLUMN totp_pending TEXT",
    "ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT ''",
    "CREATE TABLE totp_recovery ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    " code_hash BLOB NOT NULL,"
    " used_at INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX idx_totp_recovery_user_id ON totp_recovery (user_id)",
    "CREATE TABLE audit_log ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " created_at INTEGER NOT NULL,"
    " user_id INTEGER NOT NULL DEFAULT 0,"
    " login TEXT NOT NULL DEFAULT '',"
    " ip TEXT NOT NULL DEFAULT '',"
    " event TEXT NOT NULL,"
    " detail TEXT NOT NULL DEFAULT '')",
    "CREATE TRIGGER audit_log_bound AFTER INSERT ON audit_log BEGIN"
    " DELETE FROM audit_log WHERE id <= new.id - " AUDIT_LOG_KEEP "; END",
    "INSERT INTO meta (key, value) VALUES ('auth_rev', 1)",
    "CREATE TRIGGER auth_rev_session_delete AFTER DELETE ON sessions" BUMP_AUTH_REV,
    "CREATE TRIGGER auth_rev_user_update AFTER UPDATE OF password_hash, role, totp_secret"
    " ON users" BUMP_AUTH_REV,
    "CREATE TRIGGER auth_rev_user_delete AFTER DELETE ON users" BUMP_AUTH_REV,
    NULL,
};

struct migration {
    int version;
    const char *const *stmts; /* NULL-terminated; run in order inside one transaction */
};

/* Append only; versions increase by one. */
static const struct migration migrations[] = {
    {1, migration_1}, {2, migration_2}, {3, migration_3}, {4, migration_4}, {5, migration_5},
};
#define N_MIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

int migrate_latest(void)
{
    return migrations[N_MIGRATIONS - 1].version;
}

static int schema_version(struct db_conn *c, int *out)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(c->db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", -1,
                                &s, NULL);
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

static int record_version(struct db_conn *c, int version)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(
        c->db, "INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)", -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s, 1, version) | sqlite3_bind_int64(s, 2, clock_wall_ms());
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(c->db);
    sqlite3_finalize(s);
    return rc;
}

int migrate_run(struct db_conn *c, const char *path, char *err, size_t errlen)
{
    int latest = migrate_latest();
    int rc = db_exec_once(c, "CREATE TABLE IF NOT EXISTS schema_version ("
                             " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    if (rc != SQLITE_OK) {
        errbuf_set(err, errlen, "open database '%s': %s", path, db_errmsg(c));
        return -EIO;
    }
    for (size_t i = 0; i < N_MIGRATIONS; i++) {
        const struct migration *m = &migrations[i];
        int cur = 0;
        if (db_begin(c) != 0) {
            errbuf_set(err, errlen, "migrate database '%s': %s", path, db_errmsg(c));
            return -EIO;
        }
        /* Read inside the write transaction: another process may have migrated meanwhile. */
        rc = schema_version(c, &cur);
        if (rc != SQLITE_OK)
            goto sqlfail;
        if (cur > latest) {
            db_rollback(c);
            errbuf_set(err, errlen,
                       "database '%s' has schema version %d but this lotus-dashboard knows only up "
                       "to %d; use a newer lotus-dashboard",
                       path, cur, latest);
            return -ENOTSUP;
        }
        if (cur >= m->version) {
            if (db_commit(c) != 0)
                goto sqlfail;
            continue;
        }
        for (const char *const *sql = m->stmts; *sql; sql++) {
            rc = db_exec_once(c, *sql);
            if (rc != SQLITE_OK)
                goto sqlfail;
        }
        rc = record_version(c, m->version);
        if (rc != SQLITE_OK)
            goto sqlfail;
        if (db_commit(c) != 0)
            goto sqlfail;
        log_info("store: database '%s' migrated to schema version %d", path, m->version);
    }
    return 0;

sqlfail:
    errbuf_set(err, errlen, "migrate database '%s': %s", path, db_errmsg(c));
    if (db_in_txn(c))
        db_rollback(c);
    return -EIO;
}
