/*
 * monitor: the dashboard's service monitors at run time (docs/protocol.md §8.3): the
 * definitions (kept in sync with the monitors table by dash.c, monitors_set_defs), a round
 * of tasks every `Duration` seconds to every covered server with a task stream, the results
 * routed from svc.c (monitors_on_result), a round that a server does not answer within its
 * probe's timeout counted as a failure, history rows queued to the store's writer thread,
 * the retention, and the events of status changes handed to observers (logged by default;
 * the alerts issue's notifier subscribes). The decisions are monitor_logic's; this file is
 * the glue (clock, timers, store, registry).
 *
 * Threads: loop thread only (the struct is read by the API handlers on the loop thread).
 */
#ifndef LOTUS_DASHBOARD_MONITOR_H
#define LOTUS_DASHBOARD_MONITOR_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "dashboard/monitor_logic.h"
#include "dashboard/store.h"

struct live;
struct live_server;
struct svc;
struct svc_result;

#define MONITOR_SERVER_KEEP_MS (86400LL * 1000)      /* reporter rows: 1 day (v0) */
#define MONITOR_AGG_KEEP_MS    (30LL * 86400 * 1000) /* aggregate rows: 30 days (v0) */
#define MONITOR_OBSERVERS_MAX  4

/* What one covered server is to a monitor: its pending round and its ping average. */
struct monitor_reporter {
    uint64_t server_id;
    int64_t sent_ms; /* oldest unanswered round (unix ms), 0 = none */
    struct monitor_ping ping;
    int64_t last_ms;   /* its latest result (unix ms), 0 = none yet */
    int last_ok;       /* that result succeeded */
    double last_delay; /* its delay, ms */
};

struct monitor_entry {
    struct store_monitor def; /* owned copy of the row */
    struct monitor_spec spec; /* points into def and skip */
    uint64_t *skip;           /* owned, sorted */
    struct monitor_state st;
    int64_t next_round_ms;
    struct monitor_reporter *rep; /* owned, sorted by server id */
    size_t n_rep, cap_rep;
};

/* A server that has reporter rows, and the time of its newest (for /network). */
struct monitor_seen {
    uint64_t server_id;
    int64_t last_ms;
};

typedef void (*monitor_event_fn)(void *ud, const struct monitor_entry *e, uint64_t reporter,
                                 const struct monitor_event *ev);

struct monitor_config {
    unsigned avg_ping_count; /* results per reporter row, 0 = 2 (avgpingcount) */
    double max_tcp_ping;     /* ms cap of reporter rows, 0 = none (maxtcppingvalue) */
    unsigned tick_ms;        /* round/timeout check period, 0 = 1000 */
};

struct monitors {
    uv_loop_t *loop;
    struct monitor_config cfg;
    struct store *st;         /* borrowed */
    struct live *lv;          /* borrowed */
    struct svc *svc;          /* borrowed; may be NULL (tests): no tasks are sent */
    struct monitor_entry **v; /* owned, sorted by id */
    size_t n;
    struct monitor_seen *seen; /* owned, sorted by server id */
    size_t n_seen, cap_seen;
    struct {
        monitor_event_fn fn;
        void *ud;
    } obs[MONITOR_OBSERVERS_MAX];
    size_t n_obs;
    int64_t next_prune_ms;
    int loaded; /* the start-up load is done (later monitors start at once) */
    uv_timer_t tick;
    int closing;
};

/*
 * Starts the monitors on loop: loads the definitions, the 30 days of aggregate rows and the
 * reporters' newest rows from st (borrowed, like lv and svc), and starts the tick timer. Events
 * are logged until observers are added. 0 and an owned *out, or -EIO (the store failed).
 */
int monitors_start(uv_loop_t *loop, const struct monitor_config *cfg, struct store *st,
                   struct live *lv, struct svc *svc, struct monitors **out);
/* Stops the timer and frees everything once the loop has run its close callback. NULL ok. */
void monitors_free(struct monitors *m);

/*
 * Replaces the definitions with rows[0..n) (borrowed; copied): new ones start a round at the
 * next tick, removed ones are forgotten, changed ones keep their state unless their type or
 * target changed. Servers no longer covered lose their reporter entry.
 */
void monitors_set_defs(struct monitors *m, const struct store_monitor *rows, size_t n);

/* A TaskResult of srv (an svc_result_fn: ud is the struct monitors). Non-probe types are ignored.
 */
void monitors_on_result(void *m, struct live_server *srv, const struct svc_result *r);

/* Adds an event observer (ud borrowed). 0 or -ENOSPC. */
int monitors_observe(struct monitors *m, monitor_event_fn fn, void *ud);

/* The entry of monitor id, or NULL. Borrowed until the next monitors_set_defs. */
const struct monitor_entry *monitors_find(const struct monitors *m, uint64_t id);
/* 1 when server_id has reporter rows newer than since_ms. */
int monitors_server_seen(const struct monitors *m, uint64_t server_id, int64_t since_ms);

/* The dashboard's time-zone offset at t_ms (seconds east of UTC; TZ / `location`). */
int monitors_tz_offset(int64_t t_ms);

#endif
