/*
 * api_servers: server list, create/edit, delete, batch regroup and the
 * install command (see api_servers.h).
 */
#include "dashboard/api/api_servers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/jw.h"
#include "core/log.h"
#include "core/strnum.h"
#include "core/xalloc.h"
#include "dashboard/api/api_guard.h"
#include "dashboard/api/api_int.h"
#include "dashboard/api/api_job.h"
#include "dashboard/api/api_reply.h"
#include "dashboard/config.h"
#include "dashboard/http.h"
#include "dashboard/live.h"
#include "dashboard/store.h"
#include "dashboard/svc.h"
#include "nezha_v0.pb-c.h"

/* ---- list ---- */

static void h_servers(struct http_request *req, void *ud)
{
    struct api *a = ud;
    if (!api_guard_admin(a, req))
        return;
    struct live_server **v = xmalloc((a->lv->n ? a->lv->n : 1) * sizeof(*v));
    if (a->lv->n) {
        memcpy(v, a->lv->servers, a->lv->n * sizeof(*v));
        qsort(v, a->lv->n, sizeof(*v), live_cmp_display);
    }
    int64_t now = clock_wall_ms();
    struct api_body out;
    struct jw *jw = api_body_begin(&out);
    jw_arr_begin(jw);
    for (size_t i = 0; i < a->lv->n; i++) {
        struct live_server *s = v[i];
        jw_obj_begin(jw);
        jw_key(jw, "id");
        jw_u64(jw, s->id);
        jw_key(jw, "name");
        jw_str(jw, s->name);
        jw_key(jw, "tag");
        jw_str(jw, s->tag);
        jw_key(jw, "display_index");
        jw_i64(jw, s->display_index);
        jw_key(jw, "note");
        jw_str(jw, s->note);
        jw_key(jw, "public_note");
        jw_str(jw, s->public_note);
        jw_key(jw, "hide_for_guest");
        jw_bool(jw, s->hide_for_guest);
        jw_key(jw, "secret");
        jw_str(jw, s->secret);
        jw_key(jw, "ip");
        jw_str(jw, s->host && s->host->ip ? s->host->ip : "");
        jw_key(jw, "version");
        jw_str(jw, s->host && s->host->version ? s->host->version : "");
        jw_key(jw, "last_active");
        jw_i64(jw, s->last_active);
        jw_key(jw, "online");
        jw_bool(jw, live_server_online(s, now));
        jw_obj_end(jw);
    }
    jw_arr_end(jw);
    free(v);
    api_reply_body(req, 0, &out);
}

/* ---- create / edit ---- */

int api_servers_add(struct store *st, struct store_server *srv)
{
    int rc = store_server_add(st, srv);
    if (rc == 0) {
        uint64_t id = srv->id;
        store_server_release(srv);
        rc = store_server_get(st, id, srv);
    }
    return rc;
}

struct save_ctx {
    struct store_server srv; /* in: the edited fields (id 0 = create); out: the stored row */
};

static void save_release(void *p)
{
    store_server_release(&((struct save_ctx *)p)->srv);
}

/* Inside store_batch: read the current row, keep its secret, write, read back. */
static int save_batch(struct store *st, void *arg)
{
    struct store_server *srv = arg;
    struct store_server cur;
    memset(&cur, 0, sizeof(cur));
    int rc = store_server_get(st, srv->id, &cur);
    if (rc != 0)
        return rc;
    /* The secret is kept (v0 QUIRK Q10 overwrote it with the form value). */
    free(srv->secret);
    srv->secret = xstrdup(cur.secret);
    store_server_release(&cur);
    rc = store_server_update(st, srv);
    if (rc == 0) {
        uint64_t id = srv->id;
        store_server_release(srv);
        rc = store_server_get(st, id, srv);
    }
    return rc;
}

static void save_run(struct api_job *j)
{
    struct save_ctx *c = api_job_ctx(j);
    if (c->srv.id == 0)
        j->rc = api_servers_add(j->api->st, &c->srv);
    else
        j->rc = store_batch(j->api->st, save_batch, &c->srv);
}

static void save_done(struct api_job *j)
{
    struct save_ctx *c = api_job_ctx(j);
    if (j->rc == -ENOENT) {
        api_reply_bad(j->req, "服务器不存在");
        return;
    }
    if (j->rc == -EINVAL) {
        api_reply_bad(j->req, "字段无效");
        return;
    }
    if (j->rc != 0) {
        api_reply_db_error(j->req);
        return;
    }
    live_upsert(j->api->lv, &c->srv);
    struct api_body out;
    struct jw *jw = api_body_begin(&out);
    jw_obj_begin(jw);
    jw_key(jw, "id");
    jw_u64(jw, c->srv.id);
    jw_key(jw, "secret");
    jw_str(jw, c->srv.secret);
    jw_obj_end(jw);
    api_reply_body(j->req, 200, &out);
}

static void h_server_save(struct http_request *req, void *ud)
{
    struct api *a = ud;
    if (!api_guard_admin(a, req))
        return;
    json_t *body = api_body_json(req, 0);
    if (!body)
        return;
    const char *name = NULL, *tag = "", *note = "", *pnote = "";
    int64_t id = 0, di = 0;
    int hide = 0;
    int bad = api_jstr(body, "name", &name) != 1 || !name[0] || api_jint(body, "id", &id) < 0 ||
              id < 0 || api_jint(body, "displayindex", &di) < 0 ||
              api_jstr(body, "tag", &tag) < 0 || api_jstr(body, "note", &note) < 0 ||
              api_jstr(body, "publicnote", &pnote) < 0 ||
              api_jbool(body, "hideforguest", &hide) < 0;
    if (bad) {
        json_decref(body);
        api_reply_bad(req, "需要 Name；ID、DisplayIndex 为整数，其余为字符串");
        return;
    }
    struct api_job *j =
        api_job_new(a, req, save_run, save_done, sizeof(struct save_ctx), save_release);
    struct save_ctx *c = api_job_ctx(j);
    c->srv.id = (uint64_t)id;
    c->srv.name = xstrdup(name);
    c->srv.tag = xstrdup(tag ? tag : "");
    c->srv.note = xstrdup(note ? note : "");
    c->srv.public_note = xstrdup(pnote ? pnote : "");
    c->srv.display_index = di;
    c->srv.hide_for_guest = hide;
    json_decref(body);
    api_job_start(j);
}

/* ---- delete ---- */

struct del_ctx {
    uint64_t *ids; /* owned */
    size_t n_ids;
    int missing_is_error; /* DELETE /api/server/:id reports an unknown id; a batch never does */
};

static void del_release(void *p)
{
    free(((struct del_ctx *)p)->ids);
}

static int del_batch(struct store *st, void *arg)
{
    struct del_ctx *c = arg;
    int res = 0;
    for (size_t i = 0; i < c->n_ids; i++) {
        int rc = store_server_del(st, c->ids[i]);
        if (rc != 0 && rc != -ENOENT)
            res = rc;
        if (rc == -ENOENT && c->missing_is_error)
            res = rc;
    }
    return res;
}

static void del_run(struct api_job *j)
{
    j->rc = store_batch(j->api->st, del_batch, api_job_ctx(j));
}

static void del_done(struct api_job *j)
{
    struct del_ctx *c = api_job_ctx(j);
    struct api *a = j->api;
    for (size_t i = 0; i < c->n_ids; i++) {
        struct live_server *s = live_find_id(a->lv, c->ids[i]);
        if (!s)
            continue;
        log_info("server %llu (%s) deleted", (unsigned long long)s->id, s->name);
        if (a->svc)
            svc_drop_stream(a->svc, s);
        live_remove(a->lv, c->ids[i]);
    }
    if (j->rc == -ENOENT) {
        api_reply(j->req, 200, 400, "错误的 Server ID", NULL);
        return;
    }
    if (j->rc != 0) {
        api_reply_db_error(j->req);
        return;
    }
    api_reply_ok(j->req, NULL);
}

static void h_server_del(struct http_request *req, void *ud)
{
    struct api *a = ud;
    if (!api_guard_admin(a, req))
        return;
    uint64_t id;
    if (strnum_u64z(http_request_param(req, "id"), &id) != 0 || id < 1) {
        api_reply(req, 200, 400, "错误的 Server ID", NULL);
        return;
    }
    struct api_job *j = api_job_new(a, req, del_run, del_done, sizeof(struct del_ctx), del_release);
    struct del_ctx *c = api_job_ctx(j);
    c->ids = xmalloc(sizeof(uint64_t));
    c->ids[0] = id;
    c->n_ids = 1;
    c->missing_is_error = 1;
    api_job_start(j);
}

/* Reads a JSON array of positive ids into an owned array; answers and returns -1 on error. */
static int read_ids(struct http_request *req, json_t *arr, uint64_t **out, size_t *n)
{
    size_t cnt = json_array_size(arr);
    if (cnt > 100000) {
        api_reply_bad(req, "too many ids");
        return -1;
    }
    uint64_t *ids = xmalloc((cnt ? cnt : 1) * sizeof(*ids));
    for (size_t i = 0; i < cnt; i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_integer(v) || json_integer_value(v) < 1) {
            free(ids);
            api_reply_bad(req, "id 必须是正整数");
            return -1;
        }
        ids[i] = (uint64_t)json_integer_value(v);
    }
    *out = ids;
    *n = cnt;
    return 0;
}

static void h_batch_delete(struct http_request *req, void *ud)
{
    struct api *a = ud;
    if (!api_guard_admin(a, req))
        return;
    json_t *body = api_body_json(req, 1);
    if (!body)
        return;
    uint64_t *ids;
    size_t n;
    if (read_ids(req, body, &ids, &n) != 0) {
        json_decref(body);
        return;
    }
    json_decref(body);
    struct api_job *j = api_job_new(a, req, del_run, del_done, sizeof(struct del_ctx), del_release);
    struct del_ctx *c = api_job_ctx(j);
    c->ids = ids;
    c->n_ids = n;
    api_job_start(j);
}

/* ---- batch regroup ---- */

struct regroup_ctx {
    uint64_t *ids; /* owned */
    size_t n_ids;
    char *group;
};

static void regroup_release(void *p)
{
    struct regroup_ctx *c = p;
    free(c->ids);
    free(c->group);
}

static int regroup_batch(struct store *st, void *arg)
{
    struct regroup_ctx *c = arg;
    int res = 0;
    for (size_t i = 0; i < c->n_ids && res == 0; i++) {
        struct store_server s;
        memset(&s, 0, sizeof(s));
        int rc = store_server_get(st, c->ids[i], &s);
        if (rc == 0) {
            free(s.tag);
            s.tag = xstrdup(c->group);
            rc = store_server_update(st, &s);
        }
        store_server_release(&s);
        if (rc != 0 && rc != -ENOENT)
            res = rc;
    }
    return res;
}

static void regroup_run(struct api_job *j)
{
    j->rc = store_batch(j->api->st, regroup_batch, api_job_ctx(j));
}

static void regroup_done(struct api_job *j)
{
    struct regroup_ctx *c = api_job_ctx(j);
    if (j->rc != 0) {
        api_reply_db_error(j->req);
        return;
    }
    for (size_t i = 0; i < c->n_ids; i++) {
        struct live_server *s = live_find_id(j->api->lv, c->ids[i]);
        if (s) {
            free(s->tag);
            s->tag = xstrdup(c->group);
        }
    }
    api_reply_ok(j->req, NULL);
}

static void h_batch_group(struct http_request *req, void *ud)
{
    struct api *a = ud;
    if (!api_guard_admin(a, req))
        return;
    json_t *body = api_body_json(req, 0);
    if (!body)
        return;
    json_t *servers = api_jget(body, "servers");
    const char *group;
    if (!json_is_array(servers) || api_jstr(body, "group", &group) < 0) {
        json_decref(body);
        api_reply_bad(req, "需要 Servers 数组和 Group");
        return;
    }
    uint64_t *ids;
    size_t n;
    if (read_ids(req, servers, &ids, &n) != 0) {
        json_decref(body);
        return;
    }
    struct api_job *j =
        api_job_new(a, req, regroup_run, regroup_done, sizeof(struct regroup_ctx), regroup_release);
    struct regroup_ctx *c = api_job_ctx(j);
    c->ids = ids;
    c->n_ids = n;
    c->group = xstrdup(group ? group : "");
    json_decref(body);
    api_job_start(j);
}

/* ---- install command ---- */

/* The host part of the request's Host header (without port; brackets kept for IPv6). */
static void request_hostname(struct http_request *req, char *out, size_t outlen)
{
    const char *h = http_request_header(req, "host");
    if (!h || !*h)
        h = "127.0.0.1";
    size_t n = strlen(h);
    if (h[0] == '[') {
        const char *e = strchr(h, ']');
        n = e ? (size_t)(e - h + 1) : n;
    } else {
        const char *c = strchr(h, ':');
        if (c)
            n = (size_t)(c - h);
    }
    snprintf(out, outlen, "%.*s", (int)n, h);
}

static void h_install(struct http_request *req, void *ud)
{
    struct api *a = ud;
    if (!api_guard_admin(a, req))
        return;
    uint64_t id;
    struct live_server *s = NULL;
    if (strnum_u64z(http_request_param(req, "id"), &id) == 0)
        s = live_find_id(a->lv, id);
    if (!s) {
        api_reply(req, 200, 400, "错误的 Server ID", NULL);
        return;
    }
    char host[256];
    request_hostname(req, host, sizeof(host));
    const char *grpc_host = a->cfg->grpchost && a->cfg->grpchost[0] ? a->cfg->grpchost : host;
    int port = a->cfg->proxygrpcport > 0 ? (int)a->cfg->proxygrpcport : a->grpc_port;
    const char *http_host = http_request_header(req, "host");
    char cmd[1024];
    const char *dash = http_host ? http_host : host;
    const char *scheme = http_request_is_tls(req) ? "https" : "http";
    snprintf(cmd, sizeof(cmd),
             "curl -fsSL %s://%s/static/install-agent.sh | sudo LOTUS_DASHBOARD_URL=%s://%s "
             "sh -s -- -s %s:%d -p %s%s",
             scheme, dash, scheme, dash, grpc_host, port, s->secret, a->cfg->tls ? " --tls" : "");
    struct api_body out;
    struct jw *jw = api_body_begin(&out);
    jw_obj_begin(jw);
    jw_key(jw, "linux");
    jw_str(jw, cmd);
    jw_obj_end(jw);
    api_reply_body(req, 0, &out);
}

static const struct api_route routes[] = {
    {"GET", "/api/server", h_servers},
    {"POST", "/api/server", h_server_save},
    {"DELETE", "/api/server/:id", h_server_del},
    {"GET", "/api/server/:id/install", h_install},
    {"POST", "/api/batch-delete-server", h_batch_delete},
    {"POST", "/api/batch-update-server-group", h_batch_group},
};

void api_servers_routes(struct api *a)
{
    api_routes_add(a, routes, sizeof(routes) / sizeof(routes[0]));
}
