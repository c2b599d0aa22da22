/*
 * api_v1_http: the /api/v1 routes, their cache and gzip (see api_v1_http.h).
 */
#include "dashboard/api/api_v1_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "core/buf.h"
#include "core/log.h"
#include "dashboard/api/api_guard.h"
#include "dashboard/api/api_int.h"
#include "dashboard/api/api_job.h"
#include "dashboard/api/api_servers.h"
#include "dashboard/api/api_v1.h"
#include "dashboard/http.h"
#include "dashboard/http_gzip.h"
#include "dashboard/live.h"
#include "dashboard/store.h"

void api_v1_http_init(struct api_v1_cache *c)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < API_V1_CACHE_SLOTS; i++) {
        buf_init(&c->slot[i].body, 0);
        buf_init(&c->slot[i].gz, 0);
    }
}

void api_v1_http_release(struct api_v1_cache *c)
{
    for (size_t i = 0; i < API_V1_CACHE_SLOTS; i++) {
        buf_release(&c->slot[i].body);
        buf_release(&c->slot[i].gz);
    }
}

struct gzip_ctx {
    size_t slot;    /* cache slot index, API_V1_CACHE_SLOTS = not cached */
    int64_t serial; /* the slot's render serial when queued, -1 = not cached */
    struct buf in;  /* identity body */
    struct buf out; /* its gzip form */
};

static void gzip_release(void *p)
{
    struct gzip_ctx *c = p;
    buf_release(&c->in);
    buf_release(&c->out);
}

/* Work pool: CPU only, no store. */
static void v1_gzip_run(struct api_job *j)
{
    struct gzip_ctx *c = api_job_ctx(j);
    j->rc = http_gzip_compress(c->in.data, c->in.len, HTTP_GZIP_LEVEL, &c->out);
}

/* Loop thread: keeps the gzip form in its cache slot if that slot still holds the same render. */
static void v1_gzip_done(struct api_job *j)
{
    struct gzip_ctx *c = api_job_ctx(j);
    struct api *a = j->api;
    if (j->rc != 0) { /* cancelled or zlib failed: the identity body is still a valid answer */
        http_request_set_compress(j->req, 0);
        http_request_respond_json(j->req, 200, &c->in);
        return;
    }
    if (!a->closing && c->slot < API_V1_CACHE_SLOTS &&
        (int64_t)a->v1.slot[c->slot].serial == c->serial) {
        struct api_v1_slot *slot = &a->v1.slot[c->slot];
        buf_reset(&slot->gz);
        buf_append(&slot->gz, c->out.data, c->out.len);
        slot->gz_serial = slot->serial;
    }
    http_request_respond_gzip(j->req, 200, "application/json; charset=utf-8", &c->out);
}

/*
 * Sends a rendered /api/v1 body (borrowed) from cache slot (NULL = not
 * cached). gzip clients get the slot's gzip form when it was made from this
 * render, else it is compressed on the work pool (a 1000-server details body
 * takes 3.5-6 ms at level 1, too long for the loop) and kept in the slot, so
 * a busy gzip client costs one compression per render, not one per request.
 */
static void v1_send(struct api *a, struct http_request *req, struct api_v1_slot *slot,
                    const struct buf *body)
{
    if (body->len < HTTP_GZIP_MIN_BYTES || !http_request_accepts_gzip(req)) {
        struct buf b;
        buf_init(&b, 0);
        buf_append(&b, body->data, body->len);
        http_request_respond_json(req, 200, &b);
        buf_release(&b);
        return;
    }
    if (slot && slot->gz_serial == slot->serial && slot->gz.len) {
        struct buf b;
        buf_init(&b, 0);
        buf_append(&b, slot->gz.data, slot->gz.len);
        http_request_respond_gzip(req, 200, "application/json; charset=utf-8", &b);
        buf_release(&b);
        return;
    }
    struct api_job *j =
        api_job_new(a, req, v1_gzip_run, v1_gzip_done, sizeof(struct gzip_ctx), gzip_release);
    struct gzip_ctx *c = api_job_ctx(j);
    buf_init(&c->in, 0);
    buf_init(&c->out, 0);
    c->slot = slot ? (size_t)(slot - a->v1.slot) : API_V1_CACHE_SLOTS;
    c->serial = slot ? (int64_t)slot->serial : -1;
    buf_append(&c->in, body->data, body->len);
    api_job_start(j);
}

/*
 * Answers a list/details request from the cache when the registry has not
 * changed since the body was rendered, or it was rendered under
 * API_V1_CACHE_MAX_AGE_MS ago (1000 agents change it a thousand times a second;
 * rendering 1000 servers' details costs ~1 ms, so busy API clients share it).
 */
static void v1_render_cached(struct api *a, struct http_request *req, int details)
{
    const char *tag = http_request_query(req, "tag");
    const char *ids = details ? http_request_query(req, "id") : NULL;
    char key[API_V1_CACHE_KEY_MAX];
    int klen = snprintf(key, sizeof(key), "%d|%s|%s", details, tag ? tag : "", ids ? ids : "");
    uint64_t now = uv_now(a->loop);
    struct api_v1_slot *slot = NULL;
    if (klen > 0 && (size_t)klen < sizeof(key)) {
        struct api_v1_slot *victim = &a->v1.slot[0];
        for (size_t i = 0; i < API_V1_CACHE_SLOTS; i++) {
            struct api_v1_slot *c = &a->v1.slot[i];
            if (c->body.cap && strcmp(c->key, key) == 0) {
                slot = c;
                break;
            }
            if (c->used < victim->used)
                victim = c;
        }
        if (slot && (slot->gen == a->lv->gen || now - slot->at_ms < API_V1_CACHE_MAX_AGE_MS)) {
            slot->used = ++a->v1.tick;
            v1_send(a, req, slot, &slot->body);
            return;
        }
        if (!slot) {
            slot = victim;
            snprintf(slot->key, sizeof(slot->key), "%s", key);
        }
    }
    struct buf b;
    buf_init(&b, 0);
    if (slot && slot->body.len) /* the last render's size (+1/8): one allocation, no doubling */
        buf_reserve(&b, slot->body.len + slot->body.len / 8);
    if (details)
        api_v1_render_details(&b, a->lv, tag, ids);
    else
        api_v1_render_list(&b, a->lv, tag);
    if (slot) {
        buf_reset(&slot->body);
        buf_append(&slot->body, b.data, b.len);
        slot->gen = a->lv->gen;
        slot->at_ms = now;
        slot->used = ++a->v1.tick;
        slot->serial = ++a->v1.render_serial;
    }
    v1_send(a, req, slot, &b);
    buf_release(&b);
}

static void h_v1_list(struct http_request *req, void *ud)
{
    struct api *a = ud;
    if (!api_guard_v1_user(a, req))
        return;
    v1_render_cached(a, req, 0);
}

static void h_v1_details(struct http_request *req, void *ud)
{
    struct api *a = ud;
    if (!api_guard_v1_user(a, req))
        return;
    v1_render_cached(a, req, 1);
}

struct register_ctx {
    struct store_server srv; /* in: name, tag, note, hide; out: the stored row */
    int simple;              /* ?simple=1: answer with the bare secret */
};

static void register_release(void *p)
{
    store_server_release(&((struct register_ctx *)p)->srv);
}

static void register_run(struct api_job *j)
{
    struct register_ctx *c = api_job_ctx(j);
    j->rc = api_servers_add(j->api->st, &c->srv);
}

static void register_done(struct api_job *j)
{
    struct register_ctx *c = api_job_ctx(j);
    struct buf b;
    buf_init(&b, 0);
    if (j->rc != 0) {
        char msg[128];
        snprintf(msg, sizeof(msg), "Database error: %s", strerror(-j->rc));
        api_v1_render_register_reply(&b, 500, msg, "");
        http_request_respond_json(j->req, 500, &b);
        buf_release(&b);
        return;
    }
    live_upsert(j->api->lv, &c->srv);
    log_info("server %llu (%s) registered through the API", (unsigned long long)c->srv.id,
             c->srv.name);
    if (c->simple)
        api_v1_render_register_simple(&b, c->srv.secret);
    else
        api_v1_render_register_reply(&b, 200, "Server created successfully", c->srv.secret);
    http_request_respond_json(j->req, 200, &b);
    buf_release(&b);
}

static void h_v1_register(struct http_request *req, void *ud)
{
    struct api *a = ud;
    if (!api_guard_v1_user(a, req))
        return;
    char ipbuf[64];
    const char *ip = api_v1_client_ip(http_request_header(req, "x-forwarded-for"),
                                      http_request_header(req, "x-real-ip"),
                                      http_request_peer_ip(req), ipbuf, sizeof(ipbuf));
    struct slice body;
    http_request_body(req, &body);
    struct api_v1_register r;
    if (api_v1_register_parse(body.ptr ? body.ptr : "", body.len, ip, &r) != 0) {
        struct buf b;
        buf_init(&b, 0);
        api_v1_render_register_reply(&b, 400, "Parse JSON failed", "");
        http_request_respond_json(req, 400, &b);
        buf_release(&b);
        return;
    }
    struct api_job *j = api_job_new(a, req, register_run, register_done,
                                    sizeof(struct register_ctx), register_release);
    struct register_ctx *c = api_job_ctx(j);
    c->srv.name = r.name;
    c->srv.tag = r.tag;
    c->srv.note = r.note;
    c->srv.hide_for_guest = r.hide_for_guest;
    r.name = r.tag = r.note = NULL;
    api_v1_register_release(&r);
    c->simple = api_v1_register_simple_requested(http_request_query(req, "simple"));
    api_job_start(j);
}

static const struct api_route routes[] = {
    {"GET", "/api/v1/server/list", h_v1_list},
    {"GET", "/api/v1/server/details", h_v1_details},
    {"POST", "/api/v1/server/register", h_v1_register},
};

void api_v1_http_routes(struct api *a)
{
    api_routes_add(a, routes, sizeof(routes) / sizeof(routes[0]));
}
