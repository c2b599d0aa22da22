/*
 * live: the dashboard's in-memory server registry and live state, owned by the
 * loop thread (no locks). Loaded from the store at start-up, kept in sync with
 * the servers table (dash.c polls store_servers_rev so CLI changes are picked
 * up, and reconciles with live_upsert/live_remove), and updated by the gRPC
 * service through the live_report_* calls below: the domain rules of a report
 * (transfer baselines, LastActive persistence, country carry-over, the
 * generation counter) and the observers that learn "server X reported this
 * sample" live here, not in the wire handler.
 *
 * Live Host/State are kept as protobuf-c unpacked messages (NULL = never
 * reported in any process lifetime; the API then renders the empty Host/State
 * of docs/protocol.md §4.3).
 */
#ifndef LOTUS_DASHBOARD_LIVE_H
#define LOTUS_DASHBOARD_LIVE_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct store_server;
struct grpc_call;
struct nezha_sample;
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
    int64_t created_at;         /* unix ms */
    int64_t updated_at;         /* unix ms */
    struct Proto__Host *host;   /* owned (protobuf_c_message_free_unpacked) or NULL */
    struct Proto__State *state; /* owned or NULL */
    int64_t last_active;        /* unix seconds, 0 = never (API renders -62135596800) */
    int64_t last_active_ms;     /* unix ms of the last State, 0 = never */
    int64_t transfer_in_base; /* docs/protocol.md §8.7 baselines (may go negative after a reboot) */
    int64_t transfer_out_base;
    int64_t persisted_active;      /* last_active value last queued for the store */
    struct grpc_call *task_stream; /* borrowed; cleared when the stream closes */
    int task_lotus;                /* the task stream is a Lotus agent's (svc.c, user-agent) */
    int seen;                      /* scratch for reconcile */
};

/*
 * An observer of State reports: called on the loop thread once per accepted
 * State, after the registry is updated (srv->state is the new State), with
 * the server id, the decoded sample (borrowed for the call: its temperature
 * names point into srv->state) and the report's time (unix ms). It may read
 * the registry; it must not add, remove or report servers (no re-entry).
 */
typedef void (*live_observer_fn)(void *ud, uint64_t server_id, const struct nezha_sample *sample,
                                 int64_t now_ms);
/* Most observers one registry holds (history, alerts, /metrics, tests). */
#define LIVE_OBSERVERS_MAX 8
/*
 * LastActive reaches the store when it is at least this many seconds newer
 * than the value last queued, so at least every 10 s while a server reports
 * (issue #2), and at shutdown (live_persist_pending).
 */
#define LIVE_PERSIST_EVERY_S 9

struct live_observer {
    live_observer_fn fn;
    void *ud;
};

struct live {
    struct live_server **servers; /* owned array of owned servers, sorted by id ascending */
    size_t n;
    size_t cap;
    uint64_t gen; /* bumped on every change (reports, edits); renderers may cache by it */
    struct live_server **by_secret; /* the same servers sorted by secret (auth on every call) */
    struct store *st; /* borrowed (live_set_store); NULL = reports are not persisted */
    struct live_observer observers[LIVE_OBSERVERS_MAX]; /* registration order */
    size_t n_observers;
};

/* An empty registry: no servers, no store, no observers. */
void live_init(struct live *lv);
/* Frees every server and its live state; forgets the store and the observers (as live_init). */
void live_release(struct live *lv);
/*
 * The store that report persistence queues to (store_enqueue_live), borrowed
 * until live_release; NULL stops persistence. Loop thread.
 */
void live_set_store(struct live *lv, struct store *st);
/*
 * Registers fn(ud, ...) to be called on every State report (ud borrowed until
 * live_release). 0, or -ENOSPC when LIVE_OBSERVERS_MAX are registered
 * (nothing changes). Loop thread; not from inside an observer.
 */
int live_observe(struct live *lv, live_observer_fn fn, void *ud);

/*
 * A State report of srv (a server of lv) at now_ms (unix ms). st is consumed
 * (becomes srv->state; the previous State is freed). Sets LastActive, sets
 * both transfer baselines on the first report after start (either baseline
 * 0; docs/protocol.md §8.7), queues LastActive to the store when it is
 * LIVE_PERSIST_EVERY_S newer than the value last queued, bumps gen, then
 * calls every observer once with the decoded sample. Loop thread.
 */
void live_report_state(struct live *lv, struct live_server *srv, struct Proto__State *st,
                       int64_t now_ms);
/*
 * A Host report of srv. h is consumed (becomes srv->host; the previous Host
 * is freed). An empty h->ip is replaced by peer_ip (borrowed; the address the
 * agent connected from). A later boot_time than the previous Host's means the
 * agent's counters restarted: the transfer baselines subtract the last
 * State's counters (docs/protocol.md §8.7). The country code is never taken from the
 * agent: the previous Host's is kept ("" without one; only
 * live_report_country sets it, docs/protocol.md fact 5). Bumps gen and queues the Host
 * and LastActive to the store. Loop thread.
 */
void live_report_host(struct live *lv, struct live_server *srv, struct Proto__Host *h,
                      const char *peer_ip);
/*
 * Sets srv's country code to cc (borrowed, copied; "" = unknown), bumps gen
 * and queues the Host and LastActive to the store. 0, or -ENOENT when srv has
 * no Host yet (nothing changes). Loop thread.
 */
int live_report_country(struct live *lv, struct live_server *srv, const char *cc);
/*
 * Queues the LastActive of every server whose value is newer than the one
 * last queued (for shutdown: the store flushes the queue when it closes).
 * Loop thread, or the thread that owns lv after the loop ended.
 */
void live_persist_pending(struct live *lv);
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
 * (offline when now - LastActive > 10 s, docs/protocol.md fact 18).
 */
#define LIVE_ONLINE_WINDOW_MS 10000
int live_server_online(const struct live_server *s, int64_t now_ms);
/*
 * The display order: DisplayIndex descending, then id ascending (v0's order).
 * A qsort comparator over an array of struct live_server pointers. Pure.
 */
int live_cmp_display(const void *a, const void *b);

#endif
