/*
 * api_int: the state every handler of src/dashboard/api/ shares (struct api),
 * private to this folder. Nothing outside api/ includes it; dash.c sees only
 * api.h. Everything here belongs to the loop thread, except what a job's run
 * function reads on the work pool (st, cfg and config_path, which the loop does
 * not change while that job runs).
 */
#ifndef LOTUS_DASHBOARD_API_INT_H
#define LOTUS_DASHBOARD_API_INT_H

#include <stddef.h>
#include <stdint.h>

#include "dashboard/api/api_assets.h"
#include "dashboard/api/api_prom_http.h"
#include "dashboard/api/api_v1_http.h"
#include "dashboard/api/api_ws.h"
#include "dashboard/auth.h"

struct uv_loop_s;
struct http_server;
struct live;
struct store;
struct svc;
struct monitors;
struct promrw;
struct dash_config;
struct http_request;

struct api {
    struct uv_loop_s *loop;
    struct http_server *http;
    struct live *lv;         /* borrowed */
    struct store *st;        /* borrowed */
    struct svc *svc;         /* borrowed; may be NULL (tests) */
    struct monitors *mon;    /* borrowed; may be NULL (tests): no monitors */
    struct promrw *promrw;   /* borrowed; NULL = remote-write off (its /metrics series too) */
    struct auth auth;        /* sessions, tokens and login throttling: reached only from api/ */
    struct dash_config *cfg; /* borrowed; the settings handler edits it */
    const char *config_path;
    int grpc_port;
    int pending;                      /* jobs queued or running (api_job.c) */
    int closing;                      /* api_free called; freed when pending reaches 0 */
    int verifying;                    /* argon2id checks in flight (api_account.c) */
    int settings_busy;                /* a config.yaml write in flight (api_settings.c) */
    uint8_t vp_key[32];               /* view-password cookie MAC key, random per start */
    char dummy_hash[AUTH_PWHASH_LEN]; /* verified for unknown logins (equal timing) */
    char cookie_vp[160];              /* "<cookiename>-vp" */
    struct api_v1_cache v1;           /* rendered /api/v1 bodies (api_v1_http.c) */
    struct api_agent_bin agent;       /* the agent binary served for installs (api_assets.c) */
    struct api_ws ws;                 /* the /ws hub and its broadcast timer (api_ws.c) */
    struct api_prom prom;             /* /metrics render cache and rate sample (api_prom_http.c) */
};

/* One route of a resource's table (api_routes_add). */
struct api_route {
    const char *method;
    const char *path;
    void (*cb)(struct http_request *req, void *api);
};

/*
 * Registers a resource's routes on a's HTTP server, in table order (the
 * router tries routes in registration order). Loop thread, at start.
 */
void api_routes_add(struct api *a, const struct api_route *routes, size_t n);

/*
 * Frees a once it is closing and no job is pending; called by api_job.c after
 * each job and by api_free. Loop thread.
 */
void api_release_if_idle(struct api *a);

#endif
