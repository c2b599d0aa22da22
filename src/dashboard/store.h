/*
 * store: the dashboard's database (today SQLite in WAL mode, versioned
 * migrations; the implementation is in src/dashboard/store/, and nothing in
 * this header names an SQLite type, so another backend can sit behind it).
 *
 * Threads: a struct store holds one main connection, guarded by a lock the
 * store owns: every function below may be called from any thread (the loop,
 * work-pool threads, start-up, the CLI) and takes that lock for its own
 * duration. A caller that needs several calls to see no other thread's calls
 * in between (read-modify-write) runs them inside store_batch. After
 * store_writer_start(), a dedicated writer thread with its own connection
 * applies queued live-state writes in batched transactions about once a
 * second; store_enqueue_live only queues (never blocks on disk).
 * Lock order: a caller may hold a lock of its own around store calls (the
 * store's lock is always taken second and never held while calling out,
 * except around store_batch's fn); it must not take, inside store_batch's fn,
 * a lock that another thread holds while calling the store.
 *
 * Schema (see docs/internals/store.md): servers (docs/protocol.md §4.2 columns plus
 * host_pb BLOB = last Host protobuf, last_active INTEGER unix seconds, 0 = never),
 * users, sessions, api_tokens, settings, meta, monitors, monitor_history, schema_version.
 * Times are stored as INTEGER unix milliseconds unless named otherwise.
 */
#ifndef LOTUS_DASHBOARD_STORE_H
#define LOTUS_DASHBOARD_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;

/* Length of a generated server secret (docs/protocol.md §4.4). */
#define STORE_SECRET_LEN 18
/* Named input limits (bytes, excluding the NUL) checked by the writers below: -EINVAL past them. */
#define STORE_NAME_MAX    256        /* server name, tag, user login/name */
#define STORE_SECRET_MAX  128        /* server secret given by the caller */
#define STORE_NOTE_MAX    65536      /* note, public_note, token note */
#define STORE_HOST_PB_MAX (1u << 20) /* a Host protobuf queued by store_enqueue_live */
/* Most rows the live-write queue holds (distinct server ids); more are dropped with a warning. */
#define STORE_LIVE_QUEUE_MAX 1000000

/* One row of `servers`. All strings owned by the struct (free with store_server_release). */
struct store_server {
    uint64_t id;
    char *name;
    char *tag;
    char *secret; /* 18 chars [0-9A-Za-z] */
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
 *
 * path borrowed. If the parent directory does not exist it is created (one
 * level) with mode 0700. Settings per connection: journal_mode=WAL,
 * synchronous=NORMAL, busy_timeout 5 s, foreign_keys=ON.
 * Errors: -errno for file-system failures (e.g. -EACCES for a read-only
 * directory), -EIO for SQLite failures including "file is not a database",
 * -ENOTSUP when the database has a schema version newer than this binary knows.
 * The returned store may be shared between threads (see the top).
 */
int store_open(const char *path, struct store **out, char *err, size_t errlen);
/*
 * Stops the writer thread (flushing what is queued) and closes. NULL is a
 * no-op. No other thread may use st during or after the call.
 */
void store_close(struct store *st);

/*
 * Runs fn(st, arg) on the calling thread holding the store's lock, so the
 * store calls fn makes are not interleaved with other threads' store calls
 * (e.g. "read a server, keep its secret, update it"). Store functions may be
 * called inside fn (the lock is re-entrant); store_close may not. Not a transaction: each call
 * inside commits on its own, and a failing call undoes nothing before it. Returns fn's result. fn
 * and arg borrowed.
 */
int store_batch(struct store *st, int (*fn)(struct store *st, void *arg), void *arg);

/*
 * Inserts a server. s->name required; s->secret NULL -> generated (and set,
 * owned by s). On success s->id and s->created_at are set. Returns 0,
 * -EINVAL (bad fields), -EEXIST (the given secret is already used), or -EIO.
 * s borrowed (only s->secret may be replaced, s->id/created_at/updated_at set).
 * NULL tag/note/public_note are stored as "".
 */
int store_server_add(struct store *st, struct store_server *s);
/*
 * Updates name, tag, secret, note, public_note, display_index, hide_for_guest
 * (and updated_at) of row s->id. s borrowed; name and secret must be non-NULL.
 * 0/-ENOENT/-EINVAL/-EEXIST (secret taken by another row)/-EIO.
 */
int store_server_update(struct store *st, const struct store_server *s);
/* Reads one server by id into *out (owned by the caller: store_server_release). 0/-ENOENT/-EIO. */
int store_server_get(struct store *st, uint64_t id, struct store_server *out);
/* Deletes a server by id: 0, -ENOENT or -EIO. */
int store_server_del(struct store *st, uint64_t id);
/*
 * All servers ordered by id. *out owned (free with store_server_list_free);
 * *out is NULL when *n is 0. 0 or -EIO (then *out NULL, *n 0).
 */
int store_server_list(struct store *st, struct store_server **out, size_t *n);
/* Frees a list from store_server_list (list consumed; NULL allowed). */
void store_server_list_free(struct store_server *list, size_t n);

/*
 * SQLite PRAGMA data_version of this connection: changes when another
 * connection (another process such as the CLI, or this store's own writer
 * thread) commits. 0 or -EIO.
 */
int store_data_version(struct store *st, int64_t *out);

/*
 * Revision of the servers' metadata (name, tag, secret, notes, order, visibility,
 * membership): changes whenever any process commits such a change; live-state
 * writes do not change it. Cheap enough to poll every few hundred ms.
 */
int store_servers_rev(struct store *st, int64_t *out);
/* Revision of the api_tokens table (insert/delete), for the same purpose. */
int store_tokens_rev(struct store *st, int64_t *out);
/* Revision of the access state (migration 5): bumped when a session is deleted and when a
 * user's password, role or TOTP secret changes or a user is deleted, so a running dashboard
 * re-reads its sessions and their users' roles at once (a CLI password reset ends sessions). */
int store_auth_rev(struct store *st, int64_t *out);

/*
 * Settings key/value (text). key/value borrowed. store_setting_get: 0 with an
 * owned *value (free()) or *value NULL when absent; -EIO. store_setting_set
 * inserts or replaces: 0/-EINVAL (NULL)/-EIO.
 */
int store_setting_get(struct store *st, const char *key, char **value);
int store_setting_set(struct store *st, const char *key, const char *value);

/*
 * Starts the writer thread (own connection to the same file). 0, -EALREADY
 * if already running, -EIO (connection) or -errno (thread creation).
 */
int store_writer_start(struct store *st);
/*
 * Queues the latest Host blob (copied; may be NULL to keep the stored one) and
 * last_active of a server; coalesced per id; committed by the writer thread
 * within about 1 s. Thread: any (mutex protected). Never blocks on disk.
 * Coalescing: last_active of the latest call wins; the Host blob of the latest
 * call that passed one wins. A row for a server deleted meanwhile is a no-op
 * (UPDATE only; never re-creates the row). host_len > STORE_HOST_PB_MAX or a
 * full queue: the row is dropped with a warning. Without a writer thread the
 * queue is applied by store_flush or store_close on the caller's connection.
 */
void store_enqueue_live(struct store *st, uint64_t id, const uint8_t *host_pb, size_t host_len,
                        int64_t last_active);
/*
 * The writer's queue now (for /metrics): operations waiting for the writer thread, the age
 * of the oldest of them in ms (0 when none waits: the history write lag) and the operations
 * dropped because the queue was full, since store_open. Any thread (the queue's own mutex).
 */
struct store_queue_stats {
    size_t queued;
    int64_t oldest_age_ms;
    uint64_t dropped;
};
void store_queue_stats(struct store *st, struct store_queue_stats *out);
/*
 * Blocks until everything queued before the call is committed (for shutdown and tests).
 * A batch whose transaction fails is logged and dropped (live state is
 * refreshed by the next report), so store_flush always returns.
 */
void store_flush(struct store *st);

/* ---- users (local accounts; password_hash is an argon2id string from crypto_pwhash_str) ---- */

/* One row of `users`. Strings owned by the struct (store_user_release). */
struct store_user {
    uint64_t id;
    char *login;
    char *name;
    char *avatar_url;
    char *password_hash; /* NULL when no local password (e.g. an OAuth user) */
    int role;            /* STORE_ROLE_ADMIN or STORE_ROLE_VIEWER */
    int64_t created_at;  /* unix ms */
    int64_t updated_at;  /* unix ms */
};
/* Frees the strings inside u (not u itself); NULL fields allowed. */
void store_user_release(struct store_user *u);
/* Roles (docs/security: admin does everything; viewer reads the admin pages, never secrets). */
#define STORE_ROLE_ADMIN  1
#define STORE_ROLE_VIEWER 2
/* "admin" or "viewer" (static); anything else is named "admin" only for STORE_ROLE_ADMIN. */
const char *store_role_name(int role);
/* STORE_ROLE_* of "admin"/"viewer" (borrowed, may be NULL), 0 for anything else. */
int store_role_parse(const char *name);
/*
 * Adds a user with role (STORE_ROLE_*). login (1..STORE_NAME_MAX bytes) and
 * password_hash (may be NULL) borrowed. *id_out (may be NULL) receives the id.
 * 0/-EINVAL (bad login or role)/-EEXIST (login taken)/-EIO.
 */
int store_user_add(struct store *st, const char *login, const char *password_hash, int role,
                   uint64_t *id_out);
/* Finds a user by login (borrowed). *out owned by the caller (store_user_release).
 * 0/-ENOENT/-EIO. */
int store_user_find(struct store *st, const char *login, struct store_user *out);
/* Finds a user by id. *out owned by the caller. 0/-ENOENT/-EIO. */
int store_user_get(struct store *st, uint64_t id, struct store_user *out);
/* The user with the lowest id (v0's "first row of users"). *out owned. 0/-ENOENT/-EIO. */
int store_user_first(struct store *st, struct store_user *out);
/* Number of users. 0/-EIO. */
int store_user_count(struct store *st, uint64_t *n);
/* Replaces the password hash (borrowed, non-NULL) of user id. 0/-ENOENT/-EINVAL/-EIO. */
int store_user_set_password(struct store *st, uint64_t id, const char *password_hash);

/* ---- API tokens (only the SHA-256 of a token is stored) ---- */

#define STORE_TOKEN_HASH_LEN   32 /* crypto_hash_sha256_BYTES */
#define STORE_TOKEN_PREFIX_LEN 4

/* One row of `api_tokens`. note owned by the struct (store_token_release). */
struct store_token {
    uint64_t id;
    uint64_t user_id;
    uint8_t token_hash[STORE_TOKEN_HASH_LEN];
    char prefix[STORE_TOKEN_PREFIX_LEN + 1]; /* first 4 chars of the token, for display */
    char *note;
    int64_t created_at;   /* unix ms */
    int64_t last_used_at; /* unix ms, 0 = never */
};
void store_token_release(struct store_token *t);
/*
 * Adds a token of user_id. token_hash (32 bytes), prefix (exactly 4 chars) and
 * note (may be NULL = "") borrowed. *id_out may be NULL.
 * 0/-EINVAL/-ENOENT (no such user)/-EEXIST (hash already stored)/-EIO.
 */
int store_token_add(struct store *st, uint64_t user_id, const uint8_t *token_hash,
                    const char *prefix, const char *note, uint64_t *id_out);
/*
 * Tokens of user_id (0 = all users) ordered by id. *out owned (free with
 * store_token_list_free), NULL when *n is 0. 0/-EIO.
 */
int store_token_list(struct store *st, uint64_t user_id, struct store_token **out, size_t *n);
void store_token_list_free(struct store_token *list, size_t n);
/* Deletes token id; user_id 0 = any owner, else only if owned by user_id. 0/-ENOENT/-EIO. */
int store_token_del(struct store *st, uint64_t id, uint64_t user_id);
/* Finds a token by its SHA-256 (32 bytes, borrowed). *out owned (store_token_release).
 * 0/-ENOENT/-EIO. */
int store_token_find(struct store *st, const uint8_t *token_hash, struct store_token *out);
/* Sets last_used_at (unix ms) of token id. 0/-ENOENT/-EIO. */
int store_token_touch(struct store *st, uint64_t id, int64_t when_ms);

/* ---- login sessions (only the SHA-256 of the cookie value is stored) ---- */

/* One row of `sessions`. csrf_token owned by the struct (store_session_release). */
struct store_session {
    uint64_t id;
    uint64_t user_id;
    uint8_t token_hash[STORE_TOKEN_HASH_LEN];
    int64_t created_at; /* unix ms */
    int64_t expires_at; /* unix ms */
    char *csrf_token;
};
void store_session_release(struct store_session *s);
/*
 * Adds a session. token_hash (32 bytes) and csrf_token (non-NULL) borrowed.
 * *id_out may be NULL. 0/-EINVAL/-ENOENT (no such user)/-EEXIST/-EIO.
 */
int store_session_add(struct store *st, uint64_t user_id, const uint8_t *token_hash,
                      int64_t expires_at_ms, const char *csrf_token, uint64_t *id_out);
/*
 * Finds an unexpired session (expires_at > now_ms) by hash (borrowed).
 * *out owned (store_session_release). 0/-ENOENT/-EIO.
 */
int store_session_find(struct store *st, const uint8_t *token_hash, int64_t now_ms,
                       struct store_session *out);
/* Unexpired sessions (expires_at > now_ms) ordered by id. *out owned (store_session_list_free).
 * 0/-EIO. */
int store_session_list(struct store *st, int64_t now_ms, struct store_session **out, size_t *n);
void store_session_list_free(struct store_session *list, size_t n);
/* Deletes the session with this hash (logout). 0/-ENOENT/-EIO. */
int store_session_del(struct store *st, const uint8_t *token_hash);
/*
 * Deletes every session of user_id except the one whose digest is keep_hash
 * (32 bytes, borrowed; NULL = all of them): a password change ends the
 * user's other sessions for good, and the deletes bump auth_rev so a
 * running dashboard drops them too. *n_deleted may be NULL. 0/-EIO.
 */
int store_session_del_user(struct store *st, uint64_t user_id, const uint8_t *keep_hash,
                           uint64_t *n_deleted);
/* Deletes sessions with expires_at <= now_ms; *n_deleted (may be NULL) gets the count. 0/-EIO. */
int store_session_purge_expired(struct store *st, int64_t now_ms, uint64_t *n_deleted);

/* ---- audit log of security events (migration 5; the newest 10,000 rows are kept) ---- */

#define STORE_AUDIT_DETAIL_MAX 1024
#define STORE_AUDIT_LIST_MAX   1000

/* One row of `audit_log`. Strings owned by the struct (store_audit_release). */
struct store_audit {
    uint64_t id;
    int64_t created_at; /* unix ms */
    uint64_t user_id;   /* 0 = no known user (e.g. a failed login for an unknown name) */
    char *login;        /* the account's login, or the name typed at a failed login */
    char *ip;           /* the client's address ("" for the CLI) */
    char *event;        /* e.g. "login.failed", "password.changed" (docs/security.md) */
    char *detail;       /* free text, at most STORE_AUDIT_DETAIL_MAX bytes */
};
void store_audit_release(struct store_audit *e);
/* Appends e (borrowed; e->id ignored; event 1..STORE_NAME_MAX bytes, login/ip/detail may be
 * NULL = ""). 0/-EINVAL/-EIO. */
int store_audit_add(struct store *st, const struct store_audit *e);
/* At most limit (1..STORE_AUDIT_LIST_MAX) rows, newest first, with id < before_id (0 = from
 * the newest). *out owned (store_audit_list_free), NULL when *n is 0. 0/-EINVAL/-EIO. */
int store_audit_list(struct store *st, uint64_t before_id, size_t limit, struct store_audit **out,
                     size_t *n);
void store_audit_list_free(struct store_audit *list, size_t n);

/* ---- service monitors (docs/protocol.md §4.2 `monitors`, `monitor_histories`) ---- */

#define STORE_MONITOR_TEXT_MAX 2048 /* target, raw JSON lists, expected answer */
#define STORE_MONITOR_DATA_MAX 1024 /* monitor_history.data (the last result's text), truncated */

/* One row of `monitors`. Strings owned by the struct (store_monitor_release). */
struct store_monitor {
    uint64_t id;
    char *name;
    int type; /* task type: 1 HTTP GET, 2 ICMP, 3 TCP, 102 DNS (Lotus) */
    char *target;
    char *skip_servers_raw; /* JSON array text of server ids */
    int64_t duration;       /* seconds between rounds */
    int notify;
    char *notification_tag;
    int cover; /* 0 all servers but the listed ones, 1 only the listed ones */
    int enable_trigger_task;
    int enable_show_in_service;
    char *fail_trigger_tasks_raw; /* JSON array text */
    char *recover_trigger_tasks_raw;
    double min_latency, max_latency; /* ms, 0 = none */
    int latency_notify;
    char *expect_status; /* Lotus: "" or "min-max" */
    char *keyword;       /* Lotus: "" or a text the body must (not) contain */
    int keyword_absent;
    char *dns_rrtype;   /* Lotus: "", "A", "AAAA", "ANY" */
    char *dns_expect;   /* Lotus: "" or an address */
    int64_t created_at; /* unix ms */
    int64_t updated_at;
};
void store_monitor_release(struct store_monitor *m);
/*
 * Inserts a monitor (m borrowed; NULL strings are stored as "", or "[]" / "default" where
 * those are the column defaults). Sets m->id, m->created_at and m->updated_at.
 * 0/-EINVAL (name over STORE_NAME_MAX or a text over STORE_MONITOR_TEXT_MAX)/-EIO.
 */
int store_monitor_add(struct store *st, struct store_monitor *m);
/* Rewrites every field of row m->id (and updated_at). 0/-ENOENT/-EINVAL/-EIO. */
int store_monitor_update(struct store *st, const struct store_monitor *m);
/* One monitor by id into *out (owned: store_monitor_release). 0/-ENOENT/-EIO. */
int store_monitor_get(struct store *st, uint64_t id, struct store_monitor *out);
/* Deletes a monitor and its history rows. 0/-ENOENT/-EIO. */
int store_monitor_del(struct store *st, uint64_t id);
/* All monitors by id. *out owned (store_monitor_list_free), NULL when *n is 0. 0/-EIO. */
int store_monitor_list(struct store *st, struct store_monitor **out, size_t *n);
void store_monitor_list_free(struct store_monitor *list, size_t n);
/* Revision of the monitors table (any insert, update or delete by any process). */
int store_monitors_rev(struct store *st, int64_t *out);

/* One `monitor_history` row: server_id 0 = a monitor's aggregate row, else a reporter's. */
struct store_monitor_row {
    uint64_t monitor_id;
    uint64_t server_id;
    int64_t created_at; /* unix ms */
    double avg_delay;   /* ms */
    uint32_t up, down;
    const char
        *data; /* borrowed by the enqueue call (copied, truncated to STORE_MONITOR_DATA_MAX) */
};
/*
 * Queues a history row for the writer thread (appended, committed in its next batch; a row
 * whose key exists replaces it). Thread: any; never blocks on disk. A full queue drops the
 * row with a warning.
 */
void store_enqueue_monitor_row(struct store *st, const struct store_monitor_row *r);
/*
 * Queues the retention: deletes reporter rows older than server_before_ms and aggregate rows
 * older than agg_before_ms (unix ms), in the writer's next batch. Thread: any.
 */
void store_enqueue_monitor_prune(struct store *st, int64_t server_before_ms, int64_t agg_before_ms);
/*
 * Queues the deletion of the rows monitor_id has from server_id (a server the monitor no
 * longer covers), after the rows queued before it. Thread: any.
 */
void store_enqueue_monitor_forget(struct store *st, uint64_t monitor_id, uint64_t server_id);

/* A history point as the readers want it (data not included). */
struct store_monitor_point {
    uint64_t monitor_id;
    uint64_t server_id;
    int64_t created_at;
    double avg_delay;
    uint32_t up, down;
};
/*
 * The rows of server_id (0 = the aggregate rows) with created_at >= since_ms, ordered by
 * monitor id then time. *out owned (free()), NULL when *n is 0. 0/-EIO.
 */
int store_monitor_points(struct store *st, uint64_t server_id, int64_t since_ms,
                         struct store_monitor_point **out, size_t *n);
/*
 * For every reporter (server_id > 0) with rows: its newest row's time, as points with
 * monitor_id 0 (created_at = the newest time). *out owned (free()). 0/-EIO.
 */
int store_monitor_reporters(struct store *st, struct store_monitor_point **out, size_t *n);

#endif
