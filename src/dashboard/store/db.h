/*
 * store/db: the bottom of the SQLite store. One struct db_conn is one SQLite
 * connection with the per-connection settings, a statement cache per module,
 * and the prepare/bind/step/column helpers every table file uses instead of
 * repeating them. Private to src/dashboard/store/ (the public store.h names no
 * SQLite type, so another backend stays possible).
 *
 * Threads: a db_conn is used by one thread at a time; the caller serialises
 * (store.c holds its lock around the main connection, the writer thread owns
 * its own connection). Nothing here takes a lock.
 *
 * Errors: helpers return 0 or a negative errno code mapped from SQLite's
 * extended code by db_code(): UNIQUE/PRIMARY KEY -> -EEXIST, FOREIGN KEY ->
 * -ENOENT, other constraints -> -EINVAL, NOMEM -> -ENOMEM, anything else -EIO.
 * Every failure other than -EEXIST/-ENOENT is logged with sqlite3_errmsg.
 */
#ifndef LOTUS_DASHBOARD_STORE_DB_H
#define LOTUS_DASHBOARD_STORE_DB_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A module's statements: a static table of SQL texts indexed by the module's
 * own enum. Each connection prepares a statement on first use (once, with
 * SQLITE_PREPARE_PERSISTENT) and finalizes it in db_close. The table must
 * outlive every connection that used it (make it static const).
 */
struct db_stmts {
    const char *module;     /* for log lines, e.g. "servers" */
    const char *const *sql; /* sql[0..n-1], none NULL */
    size_t n;
};

/* Most statement tables one connection caches; a further table is a logged -EIO (raise it). */
#define DB_MODULES_MAX 8

struct db_cache {
    const struct db_stmts *tab; /* NULL = free slot */
    sqlite3_stmt **stmt;        /* tab->n entries, owned, prepared lazily */
};

struct db_conn {
    sqlite3 *db; /* owned; NULL when closed */
    struct db_cache cache[DB_MODULES_MAX];
};

/*
 * Opens path (must exist: store_open creates the file) read-write, without
 * following a symlink, with extended result codes, busy_timeout 5 s,
 * journal_mode=WAL (checked: the pragma must answer "wal"), synchronous=NORMAL
 * and foreign_keys=ON. c is overwritten. 0, or -EIO with a one-line reason in
 * err ("open database 'PATH': ...") and c closed.
 */
int db_open(struct db_conn *c, const char *path, char *err, size_t errlen);
/* Finalizes every cached statement and closes the connection. Idempotent; a zeroed c is fine. */
void db_close(struct db_conn *c);

/* Logs "store: WHAT failed: errmsg (extended code)" for the connection's last error. */
void db_log(struct db_conn *c, const char *what);
/* Maps an SQLite (extended) result code to a negative errno code (see the top). */
int db_code(int rc);

/*
 * The cached statement id of table tab on c, prepared on first use; NULL
 * (logged) when preparing fails. Borrowed: c owns it. Reset and clear it with
 * db_done after use (db_run, db_row and db_rows do that themselves).
 */
sqlite3_stmt *db_stmt(struct db_conn *c, const struct db_stmts *tab, int id);
/* Resets s for its next use and clears its bindings. NULL is a no-op. */
void db_done(sqlite3_stmt *s);

/*
 * Checks the OR of bind results: 0 when all were SQLITE_OK; else resets s,
 * logs WHAT when non-NULL, and returns -EIO.
 */
int db_bound(struct db_conn *c, sqlite3_stmt *s, int bind_rc, const char *what);

/* Bind helpers (SQLite result codes, to be OR-ed into db_bound). Values are copied. */
int db_bind_text(sqlite3_stmt *s, int idx, const char *v); /* NULL binds SQL NULL */
int db_bind_u64(sqlite3_stmt *s, int idx, uint64_t v);
int db_bind_i64(sqlite3_stmt *s, int idx, int64_t v);
int db_bind_int(sqlite3_stmt *s, int idx, int v);
int db_bind_blob(sqlite3_stmt *s, int idx, const void *p, size_t n);
/* Binds p without copying: p must stay valid and unchanged until s is reset (db_done). */
int db_bind_blob_static(sqlite3_stmt *s, int idx, const void *p, size_t n);

/*
 * Steps a statement that returns no rows (a row is ignored) and resets it.
 * 0 or a negative code (logged as WHAT unless -EEXIST/-ENOENT).
 */
int db_run(struct db_conn *c, sqlite3_stmt *s, const char *what);
/* db_run, then -ENOENT when the statement changed no row. */
int db_run_changed(struct db_conn *c, sqlite3_stmt *s, const char *what);
/*
 * Steps s once: on a row calls from_row(s, out) (may be NULL) and returns 0;
 * no row -> -ENOENT; a step error -> -EIO (logged as WHAT). s reset either way.
 */
int db_row(struct db_conn *c, sqlite3_stmt *s, void (*from_row)(sqlite3_stmt *s, void *out),
           void *out, const char *what);
/* Reads column 0 of the first row of s as an integer into *out: 0, or -EIO (logged; no row too). */
int db_scalar_i64(struct db_conn *c, sqlite3_stmt *s, int64_t *out, const char *what);
/*
 * Steps s to the end, growing an owned array of `size`-byte elements, each
 * zeroed then filled by from_row. On a step error releases what was read with
 * release, logs WHAT, sets *out NULL, *n 0 and returns -EIO; else hands the
 * array over (*out is NULL when *n is 0). s reset either way.
 */
int db_rows(struct db_conn *c, sqlite3_stmt *s, size_t size,
            void (*from_row)(sqlite3_stmt *s, void *elem), void (*release)(void *elem),
            const char *what, void **out, size_t *n);

/* Rowid of the last successful INSERT on c, and rows changed by the last statement. */
uint64_t db_last_id(struct db_conn *c);
int64_t db_changes(struct db_conn *c);

/* Column helpers. Strings are owned copies (xstrdup; "" for SQL NULL unless _or_null). */
char *db_col_text(sqlite3_stmt *s, int i);
char *db_col_text_or_null(sqlite3_stmt *s, int i);
int64_t db_col_i64(sqlite3_stmt *s, int i);
int db_col_int(sqlite3_stmt *s, int i);
/* Copies a blob of exactly n bytes into out (zeroed when the column has another size). */
void db_col_fixed_blob(sqlite3_stmt *s, int i, uint8_t *out, size_t n);
/* An owned copy of a non-empty blob (*out NULL, *n 0 for NULL or empty). */
void db_col_blob_dup(sqlite3_stmt *s, int i, uint8_t **out, size_t *n);

/*
 * Transactions on c: BEGIN IMMEDIATE (takes the write lock at once), COMMIT,
 * ROLLBACK. 0 or a negative code (logged). db_in_txn: 1 inside a transaction.
 */
int db_begin(struct db_conn *c);
int db_commit(struct db_conn *c);
int db_rollback(struct db_conn *c);
int db_in_txn(struct db_conn *c);

/* Runs one un-cached statement to the end (DDL, pragmas, migrations). Returns the SQLite rc. */
int db_exec_once(struct db_conn *c, const char *sql);
/* The connection's last error message (for err buffers). Borrowed, valid until the next call on c.
 */
const char *db_errmsg(struct db_conn *c);

#endif
