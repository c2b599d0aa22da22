/*
 * api_ws: the /ws upgrade gate and the frame broadcast timer (see api_ws.h).
 */
#include "dashboard/api/api_ws.h"

#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "dashboard/api/api_guard.h"
#include "dashboard/api/api_int.h"
#include "dashboard/api/api_reply.h"
#include "dashboard/api/ws_frame.h"
#include "dashboard/http.h"
#include "dashboard/live.h"
#include "dashboard/ws_hub.h"

static void on_timer(uv_timer_t *t)
{
    struct api *a = t->data;
    struct api_ws *ws = &a->ws;
    size_t guests = ws_hub_count(ws->hub, WS_AUDIENCE_GUEST);
    size_t admins = ws_hub_count(ws->hub, WS_AUDIENCE_ADMIN);
    uint64_t now = uv_now(a->loop);
    if (guests + admins == 0) {
        ws->viewers = 0;
        return;
    }
    if (ws->gen == a->lv->gen && guests + admins <= ws->viewers &&
        now - ws->sent_ms < API_WS_IDLE_MS)
        return;
    int64_t wall = clock_wall_ms();
    struct buf g, ad;
    buf_init(&g, 0);
    buf_init(&ad, 0);
    if (guests)
        ws_render_frame(a->lv, 0, wall, &g);
    if (admins)
        ws_render_frame(a->lv, 1, wall, &ad);
    ws_hub_broadcast(ws->hub, guests ? &g : NULL, admins ? &ad : NULL);
    buf_release(&g);
    buf_release(&ad);
    ws->gen = a->lv->gen;
    ws->sent_ms = now;
    ws->viewers = guests + admins;
}

static void on_upgrade(struct http_request *req, void *ud)
{
    struct api *a = ud;
    if (strcmp(http_request_path(req), "/ws") != 0) {
        http_request_respond_text(req, 404, "text/plain; charset=utf-8", "404 page not found\n");
        return;
    }
    if (!api_guard_may_view(a, req)) {
        api_reply(req, 403, 403, API_MSG_VIEW_LIMITED, NULL);
        return;
    }
    int audience = api_guard_session(a, req) ? WS_AUDIENCE_ADMIN : WS_AUDIENCE_GUEST;
    ws_hub_upgrade(a->ws.hub, req, audience);
}

static void h_ws_plain(struct http_request *req, void *ud)
{
    (void)ud;
    http_request_respond_text(req, 400, "text/plain; charset=utf-8",
                              "400 Bad Request: /ws needs a WebSocket upgrade\n");
}

static void on_timer_closed(uv_handle_t *h)
{
    struct api *a = h->data;
    a->pending--;
    api_release_if_idle(a);
}

void api_ws_start(struct api *a)
{
    struct ws_config wc;
    ws_config_defaults(&wc);
    a->ws.hub = ws_hub_new(a->loop, &wc);
    http_server_set_upgrade(a->http, on_upgrade, a);
    http_server_route(a->http, "GET", "/ws", h_ws_plain, a);
    uv_timer_init(a->loop, &a->ws.timer);
    a->ws.timer.data = a;
    uv_timer_start(&a->ws.timer, on_timer, API_WS_TICK_MS, API_WS_TICK_MS);
}

void api_ws_stop(struct api *a)
{
    if (!a->ws.hub)
        return;
    ws_hub_free(a->ws.hub);
    a->ws.hub = NULL;
    a->pending++;
    uv_close((uv_handle_t *)&a->ws.timer, on_timer_closed);
}
