/*
 * store/migrate: the schema, as an append-only table of versioned migrations
 * (see docs/internals/store.md "Migrations"). Private to src/dashboard/store/.
 *
 * Threads: runs on the caller's connection (store_open, before the store is
 * shared); takes no lock of its own. Several processes may migrate the same
 * file at once: each migration runs inside BEGIN IMMEDIATE and rereads the
 * version there.
 */
#ifndef LOTUS_DASHBOARD_STORE_MIGRATE_H
#define LOTUS_DASHBOARD_STORE_MIGRATE_H

#include <stddef.h>

#include "dashboard/store/db.h"

/*
 * Brings the database on c up to migrate_latest(): creates schema_version if
 * missing, then applies every migration newer than the stored version, each in
 * its own transaction (its statements plus its schema_version row; any failure
 * rolls that migration back). path borrowed, only for messages and the log.
 * 0; -ENOTSUP when the database is newer than this binary; -EIO on SQLite
 * failures. On error err gets one line.
 */
int migrate_run(struct db_conn *c, const char *path, char *err, size_t errlen);
/* The newest schema version this binary knows. */
int migrate_latest(void);

#endif
