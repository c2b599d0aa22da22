/*
 * store: the dashboard's SQLite database (WAL, versioned migrations).
 *
 * Threads: a struct store holds one connection for the calling thread (used by
 * start-up, the CLI and the synchronous functions below) and, after
 * store_writer_start(), one dedicated writer thread with its own connection
 * that applies queued live-state writes in batched transactions about once a
 * second. The loop thread only enqueues (never blocks on disk).
 *
 * Schema (see docs/internals/store.md): servers (spec §4.2 columns plus
 * host_pb BLOB = last Host protobuf, last_active INTEGER unix seconds, 0 = never),
 * users, sessions, api_tokens, settings, schema_version.
 * Times are stored as INTEGER unix milliseconds unless named otherwise.
 */
#ifndef LOTUS_DASHBOARD_STORE_H
#define LOTUS_DASHBOARD_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;

/* One row of `servers`. All strings owned by the struct (free with store_server_release). */
struct store_server {
    uint64_t id;
    char *name;
    char *tag;
    char *secret;      /* 18 chars [0-9A-Za-z] */
    char *note;
    char *public_note;
    int64_t display_index;
    int hide_for_guest;
    int64_t created_at; /* unix ms */
    int64_t updated_at; /* unix ms */
    uint8_t *host_pb;   /* last Host protobuf or NULL */
    size_t host_len;
    int64_t last_active; /* unix seconds, 0 = never reported */
};

/* Frees the strings and blob inside s (not s itself); NULL fields allowed. */
void store_server_release(struct store_server *s);

/*
 * Opens (creating if needed) the database at path with mode 0600, enables WAL,
 * runs migrations. Returns 0 and an owned *out, or a negative code with a
 * one-line reason in err.
 */
int store_open(const char *path, struct store **out, char *err, size_t errlen);
/* Stops the writer thread (flushing what is queued) and closes. NULL is a no-op. */
void store_close(struct store *st);

/* Fills 18 chars of [0-9A-Za-z] from libsodium's CSPRNG plus a NUL (out >= 19 bytes). */
void store_random_secret(char *out, size_t n_chars);

/*
 * Inserts a server. s->name required; s->secret NULL -> generated (and set,
 * owned by s). On success s->id and s->created_at are set. Returns 0,
 * -EINVAL (bad fields), or -EIO.
 */
int store_server_add(struct store *st, struct store_server *s);
/* Updates name, tag, secret, note, public_note, display_index, hide_for_guest of row s->id. 0/-ENOENT/-EIO. */
int store_server_update(struct store *st, const struct store_server *s);
/* Deletes a server by id: 0, -ENOENT or -EIO. */
int store_server_del(struct store *st, uint64_t id);
/* All servers ordered by id. *out owned (free with store_server_list_free). */
int store_server_list(struct store *st, struct store_server **out, size_t *n);
void store_server_list_free(struct store_server *list, size_t n);

/* SQLite PRAGMA data_version of this connection: changes when another connection commits. */
int store_data_version(struct store *st, int64_t *out);

/* Settings key/value (text). store_setting_get: owned *value or NULL when absent. */
int store_setting_get(struct store *st, const char *key, char **value);
int store_setting_set(struct store *st, const char *key, const char *value);

/* Starts the writer thread. 0 or negative. */
int store_writer_start(struct store *st);
/*
 * Queues the latest Host blob (copied; may be NULL to keep the stored one) and
 * last_active of a server; coalesced per id; committed by the writer thread
 * within about 1 s. Thread: any (mutex protected). Never blocks on disk.
 */
void store_enqueue_live(struct store *st, uint64_t id, const uint8_t *host_pb, size_t host_len,
                        int64_t last_active);
/* Blocks until everything queued before the call is committed (for shutdown and tests). */
void store_flush(struct store *st);

#endif
