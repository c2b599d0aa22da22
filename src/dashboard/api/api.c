/*
 * api: start-up, route registration and shutdown of the HTTP application
 * (see api.h). The resources register their own routes, in the order the
 * router tries them.
 */
#include "dashboard/api/api.h"

#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>
#include <uv.h>

#include "core/clock.h"
#include "core/xalloc.h"
#include "dashboard/api/api_account.h"
#include "dashboard/api/api_guard.h"
#include "dashboard/api/api_int.h"
#include "dashboard/api/api_monitors.h"
#include "dashboard/api/api_prom_http.h"
#include "dashboard/api/api_servers.h"
#include "dashboard/api/api_settings.h"
#include "dashboard/api/api_tokens.h"
#include "dashboard/http.h"
#include "proto/tls.h"

void api_routes_add(struct api *a, const struct api_route *routes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        http_server_route(a->http, routes[i].method, routes[i].path, routes[i].cb, a);
}

static void api_destroy(struct api *a)
{
    api_v1_http_release(&a->v1);
    api_prom_http_release(&a->prom);
    api_assets_release(&a->agent);
    auth_release(&a->auth);
    free(a);
}

void api_release_if_idle(struct api *a)
{
    if (a->closing && a->pending == 0)
        api_destroy(a);
}

int api_start(struct uv_loop_s *loop, const struct api_opts *o, struct live *lv, struct store *st,
              struct svc *svc, struct api **out, char *err, size_t errlen)
{
    struct tls_ctx *tls = NULL;
    if (o->tls_cert) {
        /* First, so a bad certificate stops start-up before anything is created. */
        int trc = tls_ctx_new_server_http(o->tls_cert, o->tls_key, &tls, err, errlen);
        if (trc != 0)
            return trc;
    }
    struct api *a = xcalloc(1, sizeof(*a));
    a->loop = loop;
    a->lv = lv;
    a->st = st;
    a->svc = svc;
    a->mon = o->monitors;
    a->promrw = o->promrw;
    a->cfg = o->cfg;
    a->config_path = o->config_path;
    a->grpc_port = o->grpc_port;
    auth_init(&a->auth);
    api_v1_http_init(&a->v1);
    api_prom_http_init(&a->prom, (int64_t)clock_wall_s());
    api_assets_load_agent(&a->agent);
    randombytes_buf(a->vp_key, sizeof(a->vp_key));
    api_guard_update_vp_name(a);
    int rc = api_tokens_load(a, err, errlen);
    if (rc == 0)
        rc = api_account_init_dummy_hash(a, err, errlen);
    if (rc == 0)
        rc = api_account_load_sessions(a, err, errlen);
    if (rc == 0)
        rc = api_account_ensure_admin(a, err, errlen);
    if (rc != 0) {
        tls_ctx_free(tls);
        api_destroy(a);
        return rc;
    }
    struct http_config hc;
    http_config_defaults(&hc);
    /* Idle or slow clients are closed by the header timeout; keep room for many of them
     * without refusing real users (the gRPC side has its own cap). */
    hc.max_connections = 16384;
    a->http = http_server_new(loop, &hc);
    http_server_set_tls(a->http, tls); /* consumed; NULL = plain HTTP */
    api_account_routes(a);
    api_tokens_routes(a);
    api_v1_http_routes(a);
    api_prom_http_routes(a);
    api_servers_routes(a);
    api_monitors_routes(a);
    api_settings_routes(a);
    api_assets_routes(a);
    rc = http_server_listen(a->http, o->host, o->port);
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", o->host, o->port, uv_strerror(rc));
        http_server_close(a->http, NULL, NULL);
        api_destroy(a);
        return rc;
    }
    api_ws_start(a);
    *out = a;
    return 0;
}

int api_port(const struct api *a)
{
    return http_server_port(a->http);
}

struct http_server *api_http(struct api *a)
{
    return a->http;
}

void api_set_tokens(struct api *a, const struct store_token *list, size_t n)
{
    api_tokens_set(a, list, n);
}

uint64_t api_session_fence(const struct api *a)
{
    return a->auth.session_seq;
}

void api_sync_sessions(struct api *a, const struct store_session *list, size_t n, uint64_t fence)
{
    api_account_sync_sessions(a, list, n, fence);
}

void api_free(struct api *a)
{
    if (!a)
        return;
    api_ws_stop(a);
    http_server_close(a->http, NULL, NULL);
    a->http = NULL;
    a->closing = 1;
    api_v1_http_release(&a->v1);
    api_prom_http_release(&a->prom);
    api_assets_release(&a->agent);
    api_release_if_idle(a);
}
