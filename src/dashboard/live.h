/*
 * live: the dashboard's in-memory server registry and live state, owned by the
 * loop thread (no locks). Loaded from the store at start-up, kept in sync with
 * the servers table (CLI changes are picked up through store_data_version),
 * and updated by the gRPC service.
 *
 * Live Host/State are kept as protobuf-c unpacked messages (NULL = never
 * reported in any process lifetime; the API then renders the empty Host/State
 * of spec §4.3).
 */
#ifndef LOTUS_DASHBOARD_LIVE_H
#define LOTUS_DASHBOARD_LIVE_H

#include <stddef.h>
#include <stdint.h>

struct store_server;
struct grpc_call;
struct Proto__Host;
struct Proto__State;

struct live_server {
    uint64_t id;
    char *name;
    char *tag;
    char *secret;
    char *note;
    char *public_note;
    int64_t display_index;
    int hide_for_guest;
    int64_t created_at;          /* unix ms */
    int64_t updated_at;          /* unix ms */
    struct Proto__Host *host;   /* owned (protobuf_c_message_free_unpacked) or NULL */
    struct Proto__State *state; /* owned or NULL */
    int64_t last_active;         /* unix seconds, 0 = never (API renders -62135596800) */
    int64_t last_active_ms;      /* unix ms of the last State, 0 = never */
    int64_t transfer_in_base;    /* spec §8.7 baselines (may go negative after a reboot) */
    int64_t transfer_out_base;
    int64_t persisted_active;    /* last_active value last queued for the store */
    struct grpc_call *task_stream; /* borrowed; cleared when the stream closes */
    int seen;                      /* scratch for reconcile */
};

struct live {
    struct live_server **servers; /* owned array of owned servers, sorted by id ascending */
    size_t n;
    size_t cap;
    uint64_t gen; /* bumped on every change (reports, edits); renderers may cache by it */
    struct live_server **by_secret; /* the same servers sorted by secret (auth on every call) */
};

void live_init(struct live *lv);
/* Frees every server and its live state. */
void live_release(struct live *lv);
/* Lookups; borrowed results valid until the server is removed. */
struct live_server *live_find_id(const struct live *lv, uint64_t id);
struct live_server *live_find_secret(const struct live *lv, const char *secret);
/*
 * Adds or updates the metadata of a server from a store row (row borrowed;
 * strings copied). A row with host_pb restores the last Host and last_active.
 * Returns the live server.
 */
struct live_server *live_upsert(struct live *lv, const struct store_server *row);
/* Removes and frees a server (its task stream pointer is only forgotten, not finished). */
void live_remove(struct live *lv, uint64_t id);

/*
 * The online rule, the one definition every reader (/ws frames, the admin
 * list) uses: a State arrived within LIVE_ONLINE_WINDOW_MS of now_ms
 * (unix ms). A server restored from the store counts from its stored
 * LastActive. Pure.
 */
/*
 * A server counts as Online when its last State report is at most this old:
 * 3 report intervals of the slowest agent setting (--report-delay 1..4 s, so
 * 3 intervals = 3..12 s), capped at 10 s, which is also the browsers' v0 rule
 * (offline when now - LastActive > 10 s, spec fact 18).
 */
#define LIVE_ONLINE_WINDOW_MS 10000
int live_server_online(const struct live_server *s, int64_t now_ms);
/*
 * The display order: DisplayIndex descending, then id ascending (v0's order).
 * A qsort comparator over an array of struct live_server pointers. Pure.
 */
int live_cmp_display(const void *a, const void *b);

#endif
