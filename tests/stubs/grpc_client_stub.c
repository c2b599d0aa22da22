/*
 * THROW-AWAY stand-in for src/proto/grpc_client.c (contract:
 * src/proto/grpc_client.h), used only by tests/stubs/smoke-agent.sh to drive
 * the agent's lifecycle without a network. Never compiled into the real
 * binary; delete at merge.
 *
 * Behaviour: connect succeeds on the next loop turn (STUB_CONNECT_FAIL=1: fails).
 * Unary calls answer OK (status 16 when STUB_AUTH_FAIL=1); LookupGeoIP answers
 * country "de". RequestTask delivers the tasks 7, 10, 1, 4 (id 9), 8, 99 and a
 * malformed message, then ends with UNAVAILABLE after 300 ms so the agent
 * reconnects. Every call is logged to stderr as "stub: <path> <len>".
 */
#include "proto/grpc_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "core/xalloc.h"
#include "nezha_v0.pb-c.h"

struct grpc_ccall {
    struct grpc_client *c;
    struct grpc_call_opts o;
    char path[128];
    int step;
    uint64_t end_at;
    struct grpc_ccall *next;
};

struct grpc_client {
    uv_loop_t *loop;
    struct grpc_client_config cfg;
    int connecting, ready;
    uv_timer_t pump;
    struct grpc_ccall *calls;
};

static void finish(struct grpc_client *c, struct grpc_ccall *k, int status, const char *msg)
{
    struct grpc_ccall **pp = &c->calls;
    while (*pp && *pp != k)
        pp = &(*pp)->next;
    if (*pp)
        *pp = k->next;
    k->o.on_done(k, status, msg, k->o.ud);
    free(k);
}

static void send_task(struct grpc_ccall *k, uint64_t id, uint64_t type)
{
    Proto__Task t = PROTO__TASK__INIT;
    uint8_t buf[64];
    t.id = id;
    t.type = type;
    size_t n = proto__task__pack(&t, buf);
    if (k->o.on_message)
        k->o.on_message(k, buf, n, k->o.ud);
}

static void pump(uv_timer_t *t)
{
    struct grpc_client *c = t->data;
    if (c->connecting) {
        c->connecting = 0;
        if (getenv("STUB_CONNECT_FAIL")) {
            c->cfg.on_state(c, -111);
            return;
        }
        c->ready = 1;
        c->cfg.on_state(c, 0);
        return;
    }
    struct grpc_ccall *k = c->calls, *next;
    for (; k; k = next) {
        next = k->next;
        if (strstr(k->path, "RequestTask")) {
            if (k->step == 0) {
                static const uint64_t types[] = {7, 10, 1, 4, 8, 99};
                for (size_t i = 0; i < 6; i++)
                    send_task(k, types[i] == 4 ? 9 : 0, types[i]);
                static const uint8_t junk[] = {0xff, 0xff, 0xff};
                if (k->o.on_message)
                    k->o.on_message(k, junk, sizeof(junk), k->o.ud);
                k->step = 1;
                k->end_at = uv_now(c->loop) + 300;
            } else if (uv_now(c->loop) >= k->end_at) {
                finish(c, k, 14, "stub stream end");
            }
            continue;
        }
        if (getenv("STUB_AUTH_FAIL")) {
            finish(c, k, 16, "客户端认证失败");
            continue;
        }
        if (strstr(k->path, "LookupGeoIP") && k->o.on_message) {
            Proto__GeoIP g = PROTO__GEO_IP__INIT;
            uint8_t buf[64];
            g.ip = (char *)"203.0.113.1";
            g.country_code = (char *)"de";
            size_t n = proto__geo_ip__pack(&g, buf);
            k->o.on_message(k, buf, n, k->o.ud);
        }
        if (k->o.on_message && !strstr(k->path, "LookupGeoIP")) {
            uint8_t receipt[2] = {0x08, 0x01};
            k->o.on_message(k, receipt, 2, k->o.ud);
        }
        finish(c, k, 0, "");
    }
}

struct grpc_client *grpc_client_new(struct uv_loop_s *loop, const struct grpc_client_config *cfg)
{
    struct grpc_client *c = xcalloc(1, sizeof(*c));
    c->loop = loop;
    c->cfg = *cfg;
    uv_timer_init(loop, &c->pump);
    c->pump.data = c;
    return c;
}

void *grpc_client_user(const struct grpc_client *c)
{
    return c->cfg.user;
}

int grpc_client_connect(struct grpc_client *c)
{
    if (c->connecting || c->ready)
        return -1;
    c->connecting = 1;
    fprintf(stderr, "stub: connect\n");
    uv_timer_start(&c->pump, pump, 1, 20);
    return 0;
}

void grpc_client_disconnect(struct grpc_client *c)
{
    c->ready = 0;
    c->connecting = 0;
    while (c->calls)
        finish(c, c->calls, 1, "cancelled");
    uv_timer_stop(&c->pump);
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

void grpc_client_free(struct grpc_client *c)
{
    if (!c)
        return;
    grpc_client_disconnect(c);
    uv_close((uv_handle_t *)&c->pump, on_closed);
}

int grpc_client_is_ready(const struct grpc_client *c)
{
    return c->ready;
}

struct grpc_ccall *grpc_client_call(struct grpc_client *c, const struct grpc_call_opts *opts,
                                    const uint8_t *msg, size_t len)
{
    if (!c->ready)
        return NULL;
    struct grpc_ccall *k = xcalloc(1, sizeof(*k));
    k->c = c;
    k->o = *opts;
    snprintf(k->path, sizeof(k->path), "%s", opts->path);
    int secret = opts->n_md == 1 && strcmp(opts->md[0].key, "client_secret") == 0;
    fprintf(stderr, "stub: %s %zu%s\n", opts->path, len, secret ? " secret" : " NO-SECRET");
    if (strstr(opts->path, "ReportTask")) {
        Proto__TaskResult *r = proto__task_result__unpack(NULL, len, msg);
        if (r) {
            fprintf(stderr, "stub: TaskResult id=%llu type=%llu successful=%d data=%s\n",
                    (unsigned long long)r->id, (unsigned long long)r->type, (int)r->successful,
                    r->data);
            proto__task_result__free_unpacked(r, NULL);
        }
    }
    k->next = c->calls;
    c->calls = k;
    return k;
}

int grpc_ccall_send(struct grpc_ccall *call, const uint8_t *msg, size_t len)
{
    return -1;
}

void grpc_ccall_close_send(struct grpc_ccall *call)
{
}

void grpc_ccall_cancel(struct grpc_ccall *call)
{
    finish(call->c, call, 1, "cancelled");
}
