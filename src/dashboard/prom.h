/*
 * prom: the dashboard's Prometheus data model, in two layers, pure (no I/O, no clock: the time
 * is passed in; no allocation in the walk; loop thread, because it reads the live registry and
 * the monitors, which belong to the loop):
 *
 *   1. prom_walk: the samples of one scrape (metric family, labels, value), one callback per
 *      sample, every family's samples together and the families in prom_families[] order. The
 *      text exposition below and the remote-write writer (issue #18) both consume it, so the
 *      two outputs can never disagree on a name, a label or a value.
 *   2. prom_render: the Prometheus text exposition format 0.0.4 of that walk (HELP and TYPE
 *      once per family, label values escaped, never a `null`, `NaN` or `Inf` token).
 *
 * The metric names (prom_families[]) are a stable contract, listed in the README ("Prometheus"):
 * `lotus_` prefix, base units (`_bytes`, `_seconds`, `_ratio`, `_celsius`), `_total` on
 * counters and only there, `_info` for the info metric (value 1); the process metrics take the
 * standard `process_` names every Prometheus client library uses. Rules of the values:
 *   - A State double that is NaN or ±Inf is 0 (as the v0 API renders it, docs/compatibility.md).
 *   - A server without a State has no State series (only `lotus_server_online` 0 and what its
 *     Host gives); without a Host no Host series and no info; a server never seen has no
 *     `lotus_server_last_seen_timestamp_seconds`. Nothing is rendered as a placeholder.
 *   - Label values are the registry's strings; bytes that are not valid UTF-8 (an agent's
 *     platform text comes from the network) become U+FFFD, so one agent cannot break the scrape.
 *   - Hidden servers (hide_for_guest) only with include_hidden; every dashboard-wide figure
 *     (server counts, health) is the same either way.
 */
#ifndef LOTUS_DASHBOARD_PROM_H
#define LOTUS_DASHBOARD_PROM_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct live;
struct monitors;

enum prom_type {
    PROM_GAUGE = 0,
    PROM_COUNTER = 1,
};

/* One metric family: its name, HELP text (no backslash, no newline) and type. Static. */
struct prom_family {
    const char *name;
    const char *help;
    enum prom_type type;
};

/* The families, in walk order; PROM_F_COUNT entries of prom_families[]. */
enum prom_family_id {
    /* per server (labels id, name, tag) */
    PROM_F_SERVER_INFO, /* + platform, platform_version, version, arch, virtualization, country */
    PROM_F_SERVER_ONLINE,
    PROM_F_SERVER_LAST_SEEN,
    PROM_F_SERVER_CPU,
    PROM_F_SERVER_MEM_USED,
    PROM_F_SERVER_MEM_TOTAL,
    PROM_F_SERVER_SWAP_USED,
    PROM_F_SERVER_SWAP_TOTAL,
    PROM_F_SERVER_DISK_USED,
    PROM_F_SERVER_DISK_TOTAL,
    PROM_F_SERVER_NET_RX_SPEED,
    PROM_F_SERVER_NET_TX_SPEED,
    PROM_F_SERVER_NET_RX_TOTAL,
    PROM_F_SERVER_NET_TX_TOTAL,
    PROM_F_SERVER_LOAD1,
    PROM_F_SERVER_LOAD5,
    PROM_F_SERVER_LOAD15,
    PROM_F_SERVER_TCP,
    PROM_F_SERVER_UDP,
    PROM_F_SERVER_PROCS,
    PROM_F_SERVER_TEMP_MAX,
    PROM_F_SERVER_GPU,
    PROM_F_SERVER_UPTIME,
    PROM_F_SERVER_BOOT_TIME,
    /* per service monitor (labels id, name, type) */
    PROM_F_MONITOR_STATUS,
    PROM_F_MONITOR_UP,
    PROM_F_MONITOR_AVAIL,
    PROM_F_MONITOR_AVAIL_30D,
    PROM_F_MONITOR_LATENCY,
    PROM_F_MONITOR_REPORTER_UP,
    PROM_F_MONITOR_REPORTER_LATENCY,
    /* the dashboard itself (no labels) */
    PROM_F_SERVERS,
    PROM_F_SERVERS_ONLINE,
    PROM_F_AGENTS_CONNECTED,
    PROM_F_REPORTS_TOTAL,
    PROM_F_REPORTS_RATE,
    PROM_F_REPORTS_DROPPED,
    PROM_F_GRPC_AUTH_FAIL,
    PROM_F_HTTP_ERRORS,
    PROM_F_STORE_QUEUE,
    PROM_F_STORE_LAG,
    PROM_F_PROCESS_RSS,
    PROM_F_PROCESS_CPU,
    PROM_F_PROCESS_START,
    PROM_F_RW_UP,
    PROM_F_RW_SENT,
    PROM_F_RW_FAILED,
    PROM_F_RW_DROPPED,
    PROM_F_RW_QUEUE,
    PROM_F_RW_LAST_SUCCESS,
    PROM_F_COUNT
};

extern const struct prom_family prom_families[PROM_F_COUNT];

/* Most labels one sample carries (the info metric's 9). */
#define PROM_LABELS_MAX 9

struct prom_label {
    const char *name;  /* static, a valid label name */
    const char *value; /* borrowed for the callback; never NULL; raw (not escaped, maybe not
                          UTF-8: prom_render repairs it, a remote-write writer must too) */
};

/*
 * The dashboard's own figures that are not in the registry, collected by the caller
 * (api_prom_http.c reads them from svc, http and the store). A figure that the caller
 * cannot tell is left at its "unknown" value and its series is omitted.
 */
struct prom_health {
    uint64_t reports_total;      /* State reports accepted (svc) */
    double reports_per_second;   /* over the caller's last interval; < 0 = unknown */
    uint64_t reports_dropped;    /* reports refused: undecodable or unauthenticated (svc) */
    uint64_t grpc_auth_failures; /* calls refused for a wrong client_secret (svc) */
    uint64_t http_errors;        /* HTTP answers with a status >= 400 (http) */
    int64_t store_queue;         /* operations waiting for the store writer; < 0 = unknown */
    double store_lag_seconds;    /* age of the oldest of them (0 = none waiting); < 0 = unknown */
    uint64_t rss_bytes;          /* 0 = unknown */
    double cpu_seconds;          /* user + system; < 0 = unknown */
    int64_t start_time_s;        /* unix seconds; 0 = unknown */
    /* Prometheus remote-write (promrw_stats); none of its series when rw_enabled is 0 */
    int rw_enabled;
    int rw_up;                   /* 1 unless the last attempt failed */
    uint64_t rw_samples_sent;    /* accepted by the receiver */
    uint64_t rw_failed_sends;    /* attempts without a 2xx */
    uint64_t rw_samples_dropped; /* queue overflow, rejected batches */
    uint64_t rw_queue_samples;   /* waiting */
    int64_t rw_last_success_ms;  /* 0 = never */
};

/* Every figure "unknown" (counters 0). */
void prom_health_init(struct prom_health *h);

/*
 * One sample: family f (one of prom_families[]), labels[0..n) (borrowed for the call), value
 * (finite: never NaN or Inf). Counters are cumulative since the source's start.
 */
typedef void (*prom_sample_fn)(void *ud, const struct prom_family *f,
                               const struct prom_label *labels, size_t n, double value);

/*
 * Calls fn(ud, ...) once per sample of a scrape at now_ms (unix ms; the online rule's time):
 * the servers of lv (borrowed; by id ascending; hidden ones only when include_hidden), the
 * monitors of mon (borrowed; may be NULL: no monitor series), and h (borrowed; may be NULL: no
 * health series but the registry's counts). All samples of one family are consecutive, the
 * families in prom_families[] order; a family without samples is skipped. fn must not change
 * lv or mon. Pure, no allocation; the thread that owns lv and mon (the loop).
 */
void prom_walk(const struct live *lv, const struct monitors *mon, const struct prom_health *h,
               int include_hidden, int64_t now_ms, prom_sample_fn fn, void *ud);

/*
 * prom_walk in pieces, for a caller that must not hold the loop for a whole large fleet: the
 * server families of lv->servers[from, to) only (to is clamped to lv->n), and, when others is
 * non-zero, the monitor and health families too. prom_walk is prom_walk_range(0, all, 1).
 * Within one call the samples of a family are consecutive; across calls they are not.
 */
void prom_walk_range(const struct live *lv, const struct monitors *mon, const struct prom_health *h,
                     int include_hidden, int64_t now_ms, size_t from, size_t to, int others,
                     prom_sample_fn fn, void *ud);

/* The Content-Type of prom_render's output. */
#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * Appends the text exposition (format 0.0.4) of prom_walk(lv, mon, h, include_hidden,
 * now_ms) to out (caller's buf): "# HELP" and "# TYPE" before each family's first sample,
 * one line per sample, no timestamps. Returns 0, or out's sticky error (-ENOMEM / -E2BIG past
 * its maximum; out then holds a truncated text the caller must not send).
 */
int prom_render(struct buf *out, const struct live *lv, const struct monitors *mon,
                const struct prom_health *h, int include_hidden, int64_t now_ms);

/*
 * Appends v to out as the exposition writes a label value: `\` -> `\\`, `"` -> `\"`, newline
 * -> `\n`, invalid UTF-8 -> U+FFFD (v borrowed, NUL-terminated). For the tests and any other
 * writer of the format. Returns out's sticky error, 0 when none.
 */
int prom_put_label_value(struct buf *out, const char *v);

#endif
