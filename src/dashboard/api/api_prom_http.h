/*
 * api_prom_http: GET /metrics, the Prometheus text exposition (dashboard/prom.h) of the whole
 * fleet for one scrape. Loop thread.
 *
 * Auth: an API token (`Authorization: Bearer <token>` or the raw token, as /api/v1) sees every
 * server, hidden ones included; without one the answer is 401 with a JSON {"code":401,...} body,
 * unless config `metrics.public: true`, which serves the variant without hidden servers.
 *
 * Cost: each variant's body is rendered at most once per API_PROM_CACHE_MS and shared by the
 * scrapes of that window (10,000 servers cost one render per second at most however many
 * Prometheus servers scrape); it is not kept longer even when the registry's generation is
 * unchanged, because the online rule and the health figures move with the clock. gzip is
 * negotiated; a gzip body is compressed once per render on the work pool and shared like the
 * identity body.
 *
 * The health figures (prom_health) are collected here at render time: svc_get_stats,
 * http_server_errors, store_queue_stats, getrusage and /proc/self/statm.
 */
#ifndef LOTUS_DASHBOARD_API_PROM_HTTP_H
#define LOTUS_DASHBOARD_API_PROM_HTTP_H

#include <stdint.h>

#include "core/buf.h"

struct api;

#define API_PROM_CACHE_MS 1000

/* One variant's last render: 0 public (no hidden servers), 1 token (hidden included). */
struct api_prom_slot {
    uint64_t at_ms;     /* uv_now of the render; valid iff serial != 0 */
    uint64_t serial;    /* which render body holds (api_prom.serial) */
    uint64_t gz_serial; /* the render gz was compressed from; valid iff == serial */
    struct buf body;    /* the identity text; released once gz holds the same render */
    struct buf gz;
    int body_ok;     /* body holds render `serial` (0 after it was released) */
    size_t last_len; /* the identity size of the latest render (reserve hint) */
};

/* The /metrics state, embedded in struct api (api_prom_http_init/release). */
struct api_prom {
    struct api_prom_slot slot[2];
    uint64_t serial;
    int64_t start_s;       /* unix s the API started: process_start_time_seconds */
    uint64_t rate_at_ms;   /* uv_now of the last reports-per-second sample, 0 = none */
    uint64_t rate_reports; /* svc's State count then */
    double rate;           /* reports per second over the last interval, -1 = not yet */
};

/* Empty caches; start_s is the process's start (unix seconds). */
void api_prom_http_init(struct api_prom *p, int64_t start_s);
/* Frees the bodies (p may be initialised again). */
void api_prom_http_release(struct api_prom *p);

/* Registers GET /metrics. Loop thread, at start. */
void api_prom_http_routes(struct api *a);

#endif
