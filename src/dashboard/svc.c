/*
 * svc: proto.NezhaService on top of grpc_server. Every call authenticates with
 * the `client_secret` metadata against the live registry; requests are decoded
 * with protobuf-c (a decode failure answers INTERNAL, as grpc-go does for an
 * unmarshalling error) and handed to the registry's live_report_* calls, which
 * own what a report means (baselines, persistence, observers).
 */
#include "svc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "dashboard/geoip.h"
#include "dashboard/live.h"
#include "nezha_v0.pb-c.h"
#include "proto/grpc_server.h"
#include "core/ascii.h"
#include "core/clock.h"
#include "proto/nezha.h"

#define AUTH_FAILED     "客户端认证失败"
#define MAX_IOSTREAMS   1024
#define IOSTREAM_ID_LEN 36

struct svc {
    uv_loop_t *loop;
    struct live *lv;
    struct geoip *geo;
    struct grpc_server *grpc;
    uv_timer_t keepalive;
    uv_timer_t hostinfo;
    unsigned keepalive_ms;
    int closing;
    int pending_closes;
    char (*iostreams)[IOSTREAM_ID_LEN + 1]; /* expected IOStream ids */
    size_t n_iostreams;
    svc_result_fn on_result; /* task results (svc_on_task_result) */
    void *result_ud;
    struct svc_stats stats; /* svc_get_stats */
};

/* Marker stored as call data on unary calls once they have been answered. */
static int answered_marker;

static struct svc *svc_of(struct grpc_call *call)
{
    return grpc_server_user(grpc_call_server(call));
}

/* Authenticates the call; on failure answers UNAUTHENTICATED and returns NULL. */
static struct live_server *auth(struct svc *s, struct grpc_call *call)
{
    const char *secret = grpc_call_metadata(call, NEZHA_MD_CLIENT_SECRET);
    struct live_server *srv = live_find_secret(s->lv, secret);
    if (!srv) {
        s->stats.auth_failures++;
        log_debug("grpc: authentication failed for %s from %s", grpc_call_path(call),
                  grpc_call_peer_ip(call));
        grpc_call_finish(call, GRPC_STATUS_UNAUTHENTICATED, AUTH_FAILED);
    }
    return srv;
}

static void reply_receipt(struct grpc_call *call)
{
    Proto__Receipt r = PROTO__RECEIPT__INIT;
    r.proced = 1;
    uint8_t out[8];
    size_t n = proto__receipt__pack(&r, out);
    grpc_call_send(call, out, n);
    grpc_call_finish(call, GRPC_STATUS_OK, NULL);
}

/* Unary calls answer on their first message; later messages are ignored. */
static int begin_unary(struct grpc_call *call)
{
    if (grpc_call_get_data(call) == &answered_marker)
        return 0;
    grpc_call_set_data(call, &answered_marker);
    return 1;
}

/*
 * The common start of a unary handler: the first message only, authenticated.
 * Returns the server (and *out the service), or NULL when the call is already
 * answered (a later message, or UNAUTHENTICATED).
 */
static struct live_server *unary_start(struct grpc_call *call, struct svc **out)
{
    if (!begin_unary(call))
        return NULL;
    *out = svc_of(call);
    return auth(*out, call);
}

static void unary_half_close(struct grpc_call *call)
{
    if (grpc_call_get_data(call) != &answered_marker) {
        grpc_call_set_data(call, &answered_marker);
        grpc_call_finish(call, GRPC_STATUS_INTERNAL,
                         "grpc: error while receiving the request: no message");
    }
}

static void decode_failed(struct grpc_call *call, const char *what)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "grpc: error unmarshalling request: invalid %s message", what);
    log_debug("grpc: %s from %s", msg, grpc_call_peer_ip(call));
    svc_of(call)->stats.decode_errors++;
    grpc_call_finish(call, GRPC_STATUS_INTERNAL, msg);
}

static void on_report_state(struct grpc_call *call, const uint8_t *data, size_t len)
{
    struct svc *s;
    struct live_server *srv = unary_start(call, &s);
    if (!srv)
        return;
    Proto__State *st = proto__state__unpack(NULL, len, data);
    if (!st) {
        decode_failed(call, "State");
        return;
    }
    s->stats.states++;
    live_report_state(s->lv, srv, st, clock_wall_ms());
    reply_receipt(call);
}

static void on_report_info(struct grpc_call *call, const uint8_t *data, size_t len)
{
    struct svc *s;
    struct live_server *srv = unary_start(call, &s);
    if (!srv)
        return;
    Proto__Host *h = proto__host__unpack(NULL, len, data);
    if (!h) {
        decode_failed(call, "Host");
        return;
    }
    live_report_host(s->lv, srv, h, grpc_call_peer_ip(call));
    reply_receipt(call);
}

static void on_report_task(struct grpc_call *call, const uint8_t *data, size_t len)
{
    struct svc *s;
    struct live_server *srv = unary_start(call, &s);
    if (!srv)
        return;
    Proto__TaskResult *r = proto__task_result__unpack(NULL, len, data);
    if (!r) {
        decode_failed(call, "TaskResult");
        return;
    }
    log_debug("task result from server %llu: id=%llu type=%llu successful=%d delay=%g",
              (unsigned long long)srv->id, (unsigned long long)r->id, (unsigned long long)r->type,
              r->successful ? 1 : 0, (double)r->delay);
    struct svc_result res = {.id = r->id,
                             .type = r->type,
                             .delay = (double)r->delay,
                             .successful = r->successful != 0,
                             .data = r->data ? r->data : ""};
    if (s->on_result)
        s->on_result(s->result_ud, srv, &res);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    reply_receipt(call);
}

int svc_send_task(struct svc *s, struct live_server *srv, uint64_t id, uint64_t type,
                  const char *data)
{
    (void)s;
    if (!srv->task_stream)
        return -ENOTCONN;
    Proto__Task t = PROTO__TASK__INIT;
    t.id = id;
    t.type = type;
    t.data = (char *)(data ? data : "");
    size_t n = proto__task__get_packed_size(&t);
    uint8_t small[256];
    uint8_t *out = n <= sizeof(small) ? small : xmalloc(n);
    proto__task__pack(&t, out);
    int rc = grpc_call_send(srv->task_stream, out, n);
    if (out != small)
        free(out);
    return rc;
}

void svc_get_stats(const struct svc *s, struct svc_stats *out)
{
    *out = s->stats;
}

void svc_drop_stream(struct svc *s, struct live_server *srv)
{
    (void)s;
    if (srv->task_stream) {
        struct grpc_call *call = srv->task_stream;
        srv->task_stream = NULL;
        grpc_call_finish(call, GRPC_STATUS_UNAUTHENTICATED, AUTH_FAILED);
    }
}

static void on_request_task(struct grpc_call *call, const uint8_t *data, size_t len)
{
    (void)data;
    (void)len;
    if (grpc_call_get_data(call))
        return; /* a second request message on a server stream is ignored */
    struct svc *s = svc_of(call);
    struct live_server *srv = auth(s, call);
    if (!srv)
        return;
    /* The Host argument is ignored (docs/protocol.md §1.2). A previous stream is ended OK. */
    if (srv->task_stream && srv->task_stream != call) {
        struct grpc_call *old = srv->task_stream;
        srv->task_stream = NULL;
        grpc_call_set_data(old, NULL);
        grpc_call_finish(old, GRPC_STATUS_OK, NULL);
    }
    srv->task_stream = call;
    const char *ua = grpc_call_metadata(call, "user-agent");
    srv->task_lotus = ua && strncmp(ua, SVC_LOTUS_AGENT_UA, strlen(SVC_LOTUS_AGENT_UA)) == 0;
    grpc_call_set_data(call, (void *)(uintptr_t)srv->id);
    log_info("server %llu (%s) opened its task stream from %s%s", (unsigned long long)srv->id,
             srv->name, grpc_call_peer_ip(call), srv->task_lotus ? " (a Lotus agent)" : "");
}

static void on_request_task_close(struct grpc_call *call)
{
    struct svc *s = svc_of(call);
    uint64_t id = (uint64_t)(uintptr_t)grpc_call_get_data(call);
    if (!id || !s)
        return;
    struct live_server *srv = live_find_id(s->lv, id);
    /* Unlike v0 (QUIRK Q5) a closed stream is dropped at once. */
    if (srv && srv->task_stream == call) {
        srv->task_stream = NULL;
        log_info("server %llu (%s) task stream closed", (unsigned long long)srv->id, srv->name);
    }
}

void svc_on_task_result(struct svc *s, svc_result_fn fn, void *ud)
{
    s->on_result = fn;
    s->result_ud = ud;
}

int svc_parse_iostream_handshake(const uint8_t *data, size_t len, char *id_out)
{
    static const uint8_t magic[4] = {0xff, 0x05, 0xff, 0x05};
    if (len != 4 + IOSTREAM_ID_LEN || memcmp(data, magic, 4) != 0)
        return -EINVAL;
    const uint8_t *id = data + 4;
    for (size_t i = 0; i < IOSTREAM_ID_LEN; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? id[i] != '-' : !ascii_is_hex(id[i]))
            return -EINVAL;
    }
    memcpy(id_out, id, IOSTREAM_ID_LEN);
    id_out[IOSTREAM_ID_LEN] = '\0';
    return 0;
}

int svc_iostream_expect(struct svc *s, const char *stream_id)
{
    uint8_t frame[4 + IOSTREAM_ID_LEN];
    char id[IOSTREAM_ID_LEN + 1];
    if (strlen(stream_id) != IOSTREAM_ID_LEN)
        return -EINVAL;
    memcpy(frame, "\xff\x05\xff\x05", 4);
    memcpy(frame + 4, stream_id, IOSTREAM_ID_LEN);
    if (svc_parse_iostream_handshake(frame, sizeof(frame), id) != 0)
        return -EINVAL;
    for (size_t i = 0; i < s->n_iostreams; i++)
        if (strcmp(s->iostreams[i], id) == 0)
            return -EEXIST;
    if (s->n_iostreams >= MAX_IOSTREAMS)
        return -ENOBUFS;
    s->iostreams = xrealloc(s->iostreams, (s->n_iostreams + 1) * sizeof(*s->iostreams));
    memcpy(s->iostreams[s->n_iostreams++], id, IOSTREAM_ID_LEN + 1);
    return 0;
}

static void on_iostream(struct grpc_call *call, const uint8_t *data, size_t len)
{
    if (grpc_call_get_data(call))
        return;
    struct svc *s = svc_of(call);
    grpc_call_set_data(call, &answered_marker);
    if (!auth(s, call))
        return;
    Proto__IOStreamData *m = proto__iostream_data__unpack(NULL, len, data);
    if (!m) {
        decode_failed(call, "IOStreamData");
        return;
    }
    char id[IOSTREAM_ID_LEN + 1];
    int rc = svc_parse_iostream_handshake(m->data.data, m->data.len, id);
    protobuf_c_message_free_unpacked(&m->base, NULL);
    if (rc != 0) {
        grpc_call_finish(call, GRPC_STATUS_UNKNOWN, "invalid stream id");
        return;
    }
    for (size_t i = 0; i < s->n_iostreams; i++) {
        if (strcmp(s->iostreams[i], id) == 0) {
            /* NEEDSWORK(#5): bridge to the browser side (terminal, file manager, NAT). */
            grpc_call_finish(call, GRPC_STATUS_UNAVAILABLE, "stream has no peer");
            return;
        }
    }
    grpc_call_finish(call, GRPC_STATUS_UNKNOWN, "stream not found");
}

static void on_iostream_half_close(struct grpc_call *call)
{
    if (!grpc_call_get_data(call)) {
        grpc_call_set_data(call, &answered_marker);
        grpc_call_finish(call, GRPC_STATUS_UNKNOWN, "invalid stream id");
    }
}

static void on_lookup_geoip(struct grpc_call *call, const uint8_t *data, size_t len)
{
    struct svc *s;
    struct live_server *srv = unary_start(call, &s);
    if (!srv)
        return;
    Proto__GeoIP *q = proto__geo_ip__unpack(NULL, len, data);
    if (!q) {
        decode_failed(call, "GeoIP");
        return;
    }
    if (!srv->host) {
        protobuf_c_message_free_unpacked(&q->base, NULL);
        grpc_call_finish(call, GRPC_STATUS_UNKNOWN, "host not found");
        return;
    }
    char cc[16] = "";
    if (s->geo) {
        int rc = geoip_lookup(s->geo, q->ip ? q->ip : "", cc, sizeof(cc));
        if (rc != 0) {
            protobuf_c_message_free_unpacked(&q->base, NULL);
            grpc_call_finish(call, GRPC_STATUS_UNKNOWN, "IP not found");
            return;
        }
    }
    /* Without a database the answer is an empty code, not an error (Lotus). */
    live_report_country(s->lv, srv, cc);
    Proto__GeoIP a = PROTO__GEO_IP__INIT;
    a.ip = q->ip;
    a.country_code = cc;
    size_t n = proto__geo_ip__get_packed_size(&a);
    uint8_t *out = xmalloc(n ? n : 1);
    proto__geo_ip__pack(&a, out);
    grpc_call_send(call, out, n);
    grpc_call_finish(call, GRPC_STATUS_OK, NULL);
    free(out);
    protobuf_c_message_free_unpacked(&q->base, NULL);
}

static const struct grpc_method methods[] = {
    {NEZHA_METHOD_REPORT_STATE, on_report_state, unary_half_close, NULL},
    {NEZHA_METHOD_REPORT_INFO, on_report_info, unary_half_close, NULL},
    {NEZHA_METHOD_REPORT_TASK, on_report_task, unary_half_close, NULL},
    {NEZHA_METHOD_REQUEST_TASK, on_request_task, NULL, on_request_task_close},
    {NEZHA_METHOD_IOSTREAM, on_iostream, on_iostream_half_close, NULL},
    {NEZHA_METHOD_LOOKUP_GEOIP, on_lookup_geoip, unary_half_close, NULL},
};

static void broadcast(struct svc *s, uint64_t type)
{
    for (size_t i = 0; i < s->lv->n; i++) {
        struct live_server *srv = s->lv->servers[i];
        if (srv->task_stream)
            svc_send_task(s, srv, 0, type, "");
    }
}

static void on_keepalive(uv_timer_t *t)
{
    broadcast(t->data, NEZHA_TASK_KEEPALIVE);
}

static void on_hostinfo(uv_timer_t *t)
{
    broadcast(t->data, NEZHA_TASK_REPORT_HOST_INFO);
}

int svc_start(struct uv_loop_s *loop, const struct svc_config *cfg, struct live *lv,
              struct geoip *geo, struct svc **out, char *err, size_t errlen)
{
    struct svc *s = xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->lv = lv;
    s->geo = geo;
    s->keepalive_ms = cfg->keepalive_ms ? cfg->keepalive_ms : 60000;
    struct grpc_server_config gc = {
        .host = cfg->host,
        .port = cfg->port,
        .tls_cert = cfg->tls_cert,
        .tls_key = cfg->tls_key,
        .methods = methods,
        .n_methods = sizeof(methods) / sizeof(methods[0]),
        .user = s,
    };
    int rc = grpc_server_start(loop, &gc, &s->grpc, err, errlen);
    if (rc != 0) {
        free(s);
        return rc;
    }
    uv_timer_init(loop, &s->keepalive);
    uv_timer_init(loop, &s->hostinfo);
    s->keepalive.data = s;
    s->hostinfo.data = s;
    uv_timer_start(&s->keepalive, on_keepalive, s->keepalive_ms, s->keepalive_ms);
    uv_timer_start(&s->hostinfo, on_hostinfo, cfg->hostinfo_ms ? cfg->hostinfo_ms : 15000, 0);
    *out = s;
    return 0;
}

int svc_port(const struct svc *s)
{
    return grpc_server_port(s->grpc);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct svc *s = h->data;
    if (--s->pending_closes == 0) {
        free(s->iostreams);
        free(s);
    }
}

void svc_free(struct svc *s)
{
    if (!s)
        return;
    /* Streams end with the server; forget them so nothing dangles. */
    for (size_t i = 0; i < s->lv->n; i++)
        s->lv->servers[i]->task_stream = NULL;
    grpc_server_free(s->grpc);
    s->grpc = NULL;
    s->pending_closes = 2;
    uv_close((uv_handle_t *)&s->keepalive, on_timer_closed);
    uv_close((uv_handle_t *)&s->hostinfo, on_timer_closed);
}
