/*
 * api_v1_http: the Nezha v0 `/api/v1` routes (server list, details,
 * register; docs/protocol.md §5.3) on top of the pure renderer api_v1.h: the token gate,
 * a small cache of rendered bodies shared by requests while the registry is
 * unchanged, and gzip on the work pool. Loop thread.
 */
#ifndef LOTUS_DASHBOARD_API_V1_HTTP_H
#define LOTUS_DASHBOARD_API_V1_HTTP_H

#include <stdint.h>

#include "core/buf.h"

struct api;

#define API_V1_CACHE_SLOTS      8
#define API_V1_CACHE_MAX_AGE_MS 100 /* a rendered body may be served this stale under load */
#define API_V1_CACHE_KEY_MAX    512

/* A rendered /api/v1 body, shared by requests while the registry is unchanged. */
struct api_v1_slot {
    char key[API_V1_CACHE_KEY_MAX]; /* "<details>|<tag>|<ids>" */
    uint64_t gen;                   /* live generation it was rendered at */
    uint64_t at_ms;                 /* uv_now of the render */
    uint64_t used;                  /* for replacement (least recently used goes) */
    uint64_t serial;                /* which render body holds (api_v1_cache.render_serial) */
    uint64_t gz_serial;             /* the render gz was compressed from; valid iff == serial */
    struct buf body;
    struct buf gz; /* body as one gzip member, made on the work pool for gzip clients */
};

/* The cache, embedded in struct api (api_v1_http_init/release). */
struct api_v1_cache {
    struct api_v1_slot slot[API_V1_CACHE_SLOTS];
    uint64_t tick;
    uint64_t render_serial;
};

void api_v1_http_init(struct api_v1_cache *c);
void api_v1_http_release(struct api_v1_cache *c);

/*
 * Registers GET /api/v1/server/list, GET /api/v1/server/details and
 * POST /api/v1/server/register.
 */
void api_v1_http_routes(struct api *a);

#endif
