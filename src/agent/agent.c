/*
 * agent: lifecycle glue between the state machine (agent_logic), the gRPC
 * client (grpc_client), the collectors (collect), public IP discovery
 * (ipdisc) and the service-monitor probes (probe). See agent.h.
 */
#include "agent/agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "agent/agent_logic.h"
#include "agent/collect.h"
#include "agent/flags.h"
#include "agent/ipdisc.h"
#include "agent/probe.h"
#include "core/log.h"
#include "core/version.h"
#include "core/xalloc.h"
#include "nezha_v0.pb-c.h"
#include "proto/grpc_client.h"
#include "proto/nezha.h"

#define AUTH_LINE "authentication failed: the dashboard rejected the secret (客户端认证失败)"
/* docs/protocol.md §3.2: an extra 10 s after a failed State report. */
#define STATE_FAIL_PAUSE_MS 10000u
#define GEO_MAX             256 /* bytes of a packed GeoIP */
#define TASK_RESULT_MAX     512 /* bytes of a packed TaskResult we send */

struct task_slot {
    struct agent *a;
    int busy;
    size_t len;
    uint8_t buf[TASK_RESULT_MAX];
};

struct agent {
    uv_loop_t *loop;
    const struct agent_flags *f;
    struct collector *col;
    struct grpc_client *gc;
    struct ipdisc *ipd; /* NULL with --ip */
    struct probes *probes;
    enum agent_phase phase;
    struct agent_hostrefresh hr;
    struct agent_task_policy pol;
    uint64_t logged_types;
    unsigned retry_base_ms;
    uint64_t rng;
    int timers_open;
    int need_disconnect;
    uint64_t state_resume_ms; /* no State report before this uv_now() */
    uv_timer_t retry_timer;
    uv_timer_t state_timer;
    uv_timer_t kick_timer; /* runs the deferred disconnect outside client callbacks */
    struct grpc_metadata md[1];
    struct grpc_ccall *reg_call, *task_call, *state_call, *host_call, *geo_call;
    char ip[IPDISC_RESULT_LEN]; /* Host.ip */
    char v4[IPDISC_IP_LEN], v6[IPDISC_IP_LEN];
    char country[16];
    size_t reg_len, host_len, state_len, geo_len;
    uint8_t reg_buf[AGENT_HOST_MAX];
    uint8_t host_buf[AGENT_HOST_MAX];
    uint8_t state_buf[AGENT_STATE_MAX];
    uint8_t geo_buf[GEO_MAX];
    struct task_slot slots[AGENT_TASK_SLOTS];
};

static void agent_event(struct agent *a, enum agent_event ev);

static uint32_t rnd32(struct agent *a)
{
    /* xorshift64*: jitter only, not security relevant */
    uint64_t x = a->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    a->rng = x;
    return (uint32_t)((x * UINT64_C(2685821657736338717)) >> 32);
}

static struct grpc_ccall *
call(struct agent *a, const char *path, unsigned timeout_ms, const uint8_t *msg, size_t len,
     void (*on_message)(struct grpc_ccall *, const uint8_t *, size_t, void *),
     void (*on_done)(struct grpc_ccall *, int, const char *, void *), void *ud)
{
    struct grpc_call_opts o;
    memset(&o, 0, sizeof(o));
    o.path = path;
    o.md = a->md;
    o.n_md = 1;
    o.timeout_ms = timeout_ms;
    o.on_message = on_message;
    o.on_done = on_done;
    o.ud = ud;
    return grpc_client_call(a->gc, &o, msg, len);
}

static void log_rpc_failure(const char *what, int status, const char *message)
{
    if (status == AGENT_GRPC_UNAUTHENTICATED)
        log_error(AUTH_LINE);
    else
        log_warn("%s failed: grpc status %d \"%s\"", what, status, message ? message : "");
}

/* Packs the current Host into out[AGENT_HOST_MAX]; returns the length or -E2BIG. */
static long pack_host(struct agent *a, uint8_t *out)
{
    const Proto__Host *h = collect_host(a->col, a->ip, LOTUS_VERSION);
    if (!h)
        return -EIO;
    size_t n = proto__host__get_packed_size(h);
    if (n > AGENT_HOST_MAX) {
        log_error("host message too large (%zu bytes, max %d); not sent", n, AGENT_HOST_MAX);
        return -E2BIG;
    }
    return (long)proto__host__pack(h, out);
}

/* ---- host refresh: ReportSystemInfo then LookupGeoIP ---- */

static void on_geo_message(struct grpc_ccall *c, const uint8_t *data, size_t len, void *ud)
{
    struct agent *a = ud;
    Proto__GeoIP *g = len <= GEO_MAX ? proto__geo_ip__unpack(NULL, len, data) : NULL;
    if (!g) {
        log_warn("LookupGeoIP: malformed answer (%zu bytes) dropped", len);
        return;
    }
    if (g->country_code && strlen(g->country_code) < sizeof(a->country)) {
        if (strcmp(a->country, g->country_code) != 0)
            log_info("GeoIP country code \"%s\"", g->country_code);
        memcpy(a->country, g->country_code, strlen(g->country_code) + 1);
    }
    proto__geo_ip__free_unpacked(g, NULL);
}

static void on_geo_done(struct grpc_ccall *c, int status, const char *message, void *ud)
{
    struct agent *a = ud;
    a->geo_call = NULL;
    if (status != 0 && a->phase == AGENT_PHASE_RUNNING)
        log_rpc_failure("LookupGeoIP", status, message);
    agent_hostrefresh_end(&a->hr, 1, uv_now(a->loop)); /* the Host report itself succeeded */
}

static void start_geo(struct agent *a)
{
    const char *q = ipdisc_geoip_query(a->v4, a->v6, a->f->use_ipv6_countrycode);
    if (!q) {
        agent_hostrefresh_end(&a->hr, 1, uv_now(a->loop));
        return;
    }
    Proto__GeoIP g = PROTO__GEO_IP__INIT;
    g.ip = (char *)q;
    size_t n = proto__geo_ip__get_packed_size(&g);
    if (n > GEO_MAX) {
        agent_hostrefresh_end(&a->hr, 1, uv_now(a->loop));
        return;
    }
    a->geo_len = proto__geo_ip__pack(&g, a->geo_buf);
    a->geo_call = call(a, NEZHA_METHOD_LOOKUP_GEOIP, AGENT_RPC_TIMEOUT_MS, a->geo_buf, a->geo_len,
                       on_geo_message, on_geo_done, a);
    if (!a->geo_call)
        agent_hostrefresh_end(&a->hr, 1, uv_now(a->loop));
}

static void on_host_done(struct grpc_ccall *c, int status, const char *message, void *ud)
{
    struct agent *a = ud;
    a->host_call = NULL;
    if (status != 0 || a->phase != AGENT_PHASE_RUNNING) {
        agent_hostrefresh_end(&a->hr, 0, uv_now(a->loop));
        if (a->phase == AGENT_PHASE_RUNNING) {
            log_rpc_failure("ReportSystemInfo", status, message);
            if (status == AGENT_GRPC_UNAUTHENTICATED)
                agent_event(a, AGENT_EV_AUTH_FAIL);
        }
        return;
    }
    log_debug("host info reported (ip \"%s\")", a->ip);
    start_geo(a);
}

/* Starts a refresh unless one is in flight (then the trigger is collapsed into it). */
static void host_refresh(struct agent *a, const char *reason)
{
    if (a->phase != AGENT_PHASE_RUNNING)
        return;
    if (!agent_hostrefresh_begin(&a->hr)) {
        log_debug("host refresh (%s) collapsed into the one in flight", reason);
        return;
    }
    long n = pack_host(a, a->host_buf);
    if (n >= 0) {
        a->host_len = (size_t)n;
        a->host_call = call(a, NEZHA_METHOD_REPORT_INFO, AGENT_RPC_TIMEOUT_MS, a->host_buf,
                            a->host_len, NULL, on_host_done, a);
    }
    if (n < 0 || !a->host_call)
        agent_hostrefresh_end(&a->hr, 0, uv_now(a->loop));
}

/* ---- State loop ---- */

static void on_state_done(struct grpc_ccall *c, int status, const char *message, void *ud)
{
    struct agent *a = ud;
    a->state_call = NULL;
    if (status == 0 || a->phase != AGENT_PHASE_RUNNING)
        return;
    log_rpc_failure("ReportSystemState", status, message);
    if (status == AGENT_GRPC_UNAUTHENTICATED) {
        agent_event(a, AGENT_EV_AUTH_FAIL);
        return;
    }
    a->state_resume_ms = uv_now(a->loop) + STATE_FAIL_PAUSE_MS;
}

static void on_state_tick(uv_timer_t *t)
{
    struct agent *a = t->data;
    uint64_t now = uv_now(a->loop);
    if (a->phase != AGENT_PHASE_RUNNING)
        return;
    if (agent_hostrefresh_due(&a->hr, now))
        host_refresh(a, "periodic");
    if (a->phase != AGENT_PHASE_RUNNING || a->state_call || now < a->state_resume_ms)
        return;
    const Proto__State *s = collect_state(a->col, now);
    if (!s)
        return;
    size_t n = proto__state__get_packed_size(s);
    if (n > AGENT_STATE_MAX) {
        log_error("state message too large (%zu bytes, max %d); not sent", n, AGENT_STATE_MAX);
        return;
    }
    a->state_len = proto__state__pack(s, a->state_buf);
    a->state_call = call(a, NEZHA_METHOD_REPORT_STATE, AGENT_RPC_TIMEOUT_MS, a->state_buf,
                         a->state_len, NULL, on_state_done, a);
}

/* ---- tasks ---- */

static void on_result_done(struct grpc_ccall *c, int status, const char *message, void *ud)
{
    struct task_slot *s = ud;
    s->busy = 0;
    if (status != 0 && s->a->phase == AGENT_PHASE_RUNNING)
        log_rpc_failure("ReportTask", status, message);
}

/* Sends one TaskResult from a free result slot (data borrowed for the call). */
static void report_task(struct agent *a, uint64_t id, uint64_t type, int ok, double delay_ms,
                        const char *data)
{
    struct task_slot *s = NULL;
    if (a->phase != AGENT_PHASE_RUNNING) {
        log_warn("not connected; result of task %llu (type %llu) dropped", (unsigned long long)id,
                 (unsigned long long)type);
        return;
    }
    for (size_t i = 0; i < AGENT_TASK_SLOTS && !s; i++)
        if (!a->slots[i].busy)
            s = &a->slots[i];
    if (!s) {
        log_warn("too many task results in flight; result of task %llu (type %llu) dropped",
                 (unsigned long long)id, (unsigned long long)type);
        return;
    }
    Proto__TaskResult r = PROTO__TASK_RESULT__INIT;
    r.id = id;
    r.type = type;
    r.data = (char *)data;
    r.successful = ok != 0;
    r.delay = (float)delay_ms;
    if (proto__task_result__get_packed_size(&r) > TASK_RESULT_MAX)
        return;
    s->len = proto__task_result__pack(&r, s->buf);
    s->a = a;
    s->busy = 1;
    if (!call(a, NEZHA_METHOD_REPORT_TASK, AGENT_RPC_TIMEOUT_MS, s->buf, s->len, NULL,
              on_result_done, s))
        s->busy = 0;
}

static void on_probe_result(const struct probe_result *r, void *ud)
{
    struct agent *a = ud;
    log_debug("probe %llu (type %llu): %s %.3f ms \"%s\"", (unsigned long long)r->id,
              (unsigned long long)r->type, r->ok ? "ok" : "failed", r->delay_ms, r->data);
    report_task(a, r->id, r->type, r->ok, r->delay_ms, r->data);
}

static void on_task_message(struct grpc_ccall *c, const uint8_t *data, size_t len, void *ud)
{
    struct agent *a = ud;
    if (a->phase != AGENT_PHASE_RUNNING)
        return;
    if (len > AGENT_TASK_MAX) {
        log_warn("task message too large (%zu bytes, max %d); dropped", len, AGENT_TASK_MAX);
        return;
    }
    Proto__Task *t = proto__task__unpack(NULL, len, data);
    if (!t) {
        log_warn("malformed task message (%zu bytes); dropped", len);
        return;
    }
    struct agent_task_decision d;
    agent_task_decide(&a->pol, t->type, &d);
    switch (d.action) {
    case AGENT_TASK_IGNORE:
        log_debug("task type %llu: %s", (unsigned long long)t->type, d.why);
        break;
    case AGENT_TASK_HOST_REFRESH:
        host_refresh(a, "task");
        break;
    case AGENT_TASK_PROBE:
        probes_run(a->probes, t->id, t->type, t->data ? t->data : "",
                   t->data ? strlen(t->data) : 0);
        break;
    case AGENT_TASK_REPORT_FAIL:
    case AGENT_TASK_REFUSE:
    case AGENT_TASK_UNKNOWN:
        if (agent_logonce(&a->logged_types, t->type))
            log_warn("task type %llu: %s", (unsigned long long)t->type, d.why);
        if (d.action == AGENT_TASK_REPORT_FAIL)
            report_task(a, t->id, t->type, 0, 0, d.data);
        break;
    }
    proto__task__free_unpacked(t, NULL);
}

static void on_task_done(struct grpc_ccall *c, int status, const char *message, void *ud)
{
    struct agent *a = ud;
    a->task_call = NULL;
    if (a->phase != AGENT_PHASE_RUNNING)
        return;
    if (status == 0)
        log_warn("task stream ended by the dashboard; reconnecting");
    else
        log_rpc_failure("RequestTask", status, message);
    agent_event(a, AGENT_EV_STREAM_END);
}

/* ---- connection ---- */

static void on_reg_done(struct grpc_ccall *c, int status, const char *message, void *ud)
{
    struct agent *a = ud;
    a->reg_call = NULL;
    if (a->phase != AGENT_PHASE_REGISTERING)
        return;
    if (status != 0) {
        log_rpc_failure("ReportSystemInfo", status, message);
        agent_event(a, AGENT_EV_REGISTER_FAIL);
        return;
    }
    log_info("registered with the dashboard at \"%s\"", a->f->server);
    agent_event(a, AGENT_EV_REGISTER_OK);
}

static void on_client_state(struct grpc_client *c, int status)
{
    struct agent *a = grpc_client_user(c);
    if (status == 0) {
        agent_event(a, AGENT_EV_CONNECTED);
        return;
    }
    if (a->phase == AGENT_PHASE_CONNECTING || a->phase == AGENT_PHASE_REGISTERING ||
        a->phase == AGENT_PHASE_RUNNING)
        log_warn("connection to \"%s\" %s (%d)", a->f->server,
                 a->phase == AGENT_PHASE_CONNECTING ? "failed" : "lost", status);
    agent_event(a, AGENT_EV_CONN_LOST);
}

static void on_retry(uv_timer_t *t)
{
    agent_event(t->data, AGENT_EV_RETRY_TIMER);
}

static void on_kick(uv_timer_t *t)
{
    struct agent *a = t->data;
    if (a->need_disconnect && a->gc) {
        a->need_disconnect = 0;
        grpc_client_disconnect(a->gc);
    }
}

static void do_register(struct agent *a)
{
    long n = pack_host(a, a->reg_buf);
    if (n >= 0) {
        a->reg_len = (size_t)n;
        a->reg_call = call(a, NEZHA_METHOD_REPORT_INFO, AGENT_RPC_TIMEOUT_MS, a->reg_buf,
                           a->reg_len, NULL, on_reg_done, a);
    }
    if (n < 0 || !a->reg_call)
        agent_event(a, AGENT_EV_REGISTER_FAIL);
}

static void agent_event(struct agent *a, enum agent_event ev)
{
    enum agent_phase before = a->phase;
    unsigned act = agent_sm_step(&a->phase, ev);
    if (act != AGENT_ACT_NONE)
        log_debug("agent %s -> %s", agent_phase_name(before), agent_phase_name(a->phase));
    if (act & AGENT_ACT_CONNECT) {
        log_info("connecting to \"%s\"%s", a->f->server, a->f->tls ? " (TLS)" : "");
        int rc = grpc_client_connect(a->gc);
        if (rc < 0) {
            log_warn("cannot start connecting to \"%s\" (%d)", a->f->server, rc);
            agent_event(a, AGENT_EV_CONN_LOST);
            return;
        }
    }
    if (act & AGENT_ACT_REGISTER)
        do_register(a);
    if (act & AGENT_ACT_OPEN_TASKS) {
        /* RequestTask's argument is the Host (ignored by the dashboard); the register call is
         * done. */
        a->task_call = call(a, NEZHA_METHOD_REQUEST_TASK, 0, a->reg_buf, a->reg_len,
                            on_task_message, on_task_done, a);
        if (!a->task_call) {
            agent_event(a, AGENT_EV_CONN_LOST);
            return;
        }
    }
    if (act & AGENT_ACT_START_REPORTS) {
        a->state_resume_ms = 0;
        uv_timer_start(&a->state_timer, on_state_tick, 0, (uint64_t)a->f->report_delay * 1000u);
    }
    if (act & AGENT_ACT_TEARDOWN) {
        uv_timer_stop(&a->state_timer);
        a->need_disconnect = 1;
        if (act & AGENT_ACT_SHUTDOWN)
            on_kick(&a->kick_timer);
        else
            uv_timer_start(&a->kick_timer, on_kick, 0, 0);
    }
    if (act & AGENT_ACT_SCHEDULE_RETRY) {
        unsigned ms = agent_backoff_ms(a->retry_base_ms, rnd32(a));
        log_info("reconnecting in %u ms", ms);
        uv_timer_start(&a->retry_timer, on_retry, ms, 0);
    }
}

/* ---- IP discovery ---- */

/* Copies src into dst[n], truncating (inputs are validated addresses that fit). */
static void cpy(char *dst, size_t n, const char *src)
{
    size_t l = strlen(src);
    if (l >= n)
        l = n - 1;
    memcpy(dst, src, l);
    dst[l] = '\0';
}

static void set_ip(struct agent *a, const char *ip)
{
    char part[IPDISC_RESULT_LEN];
    cpy(a->ip, sizeof(a->ip), ip);
    cpy(part, sizeof(part), ip);
    a->v4[0] = a->v6[0] = '\0';
    char *slash = strchr(part, '/');
    if (slash) {
        *slash = '\0';
        cpy(a->v4, sizeof(a->v4), part);
        cpy(a->v6, sizeof(a->v6), slash + 1);
    } else if (strchr(part, ':')) {
        cpy(a->v6, sizeof(a->v6), part);
    } else {
        cpy(a->v4, sizeof(a->v4), part);
    }
}

static void on_ip(struct ipdisc *d, const char *ip, void *ud)
{
    struct agent *a = ud;
    if (strcmp(ip, a->ip) == 0)
        return;
    set_ip(a, ip);
    /* v0 waits for the next 10-min refresh; reporting the change at once is kinder to the panel. */
    host_refresh(a, "public IP changed");
}

/* ---- public API ---- */

struct agent *agent_new(uv_loop_t *loop, const struct agent_config *cfg)
{
    struct agent *a = xcalloc(1, sizeof(*a));
    const struct agent_flags *f = cfg->flags;
    a->loop = loop;
    a->f = f;
    a->col = cfg->collector;
    a->retry_base_ms = cfg->retry_base_ms;
    a->rng = cfg->seed ? cfg->seed : UINT64_C(0x9E3779B97F4A7C15);
    a->pol.disable_send_query = f->disable_send_query || f->disable_probes;
    a->pol.disable_command_execute = f->disable_command_execute;
    a->pol.disable_nat = f->disable_nat;
    a->md[0].key = NEZHA_MD_CLIENT_SECRET;
    a->md[0].value = f->password;
    a->probes = probes_new(loop, on_probe_result, a);
    uv_timer_init(loop, &a->retry_timer);
    uv_timer_init(loop, &a->state_timer);
    uv_timer_init(loop, &a->kick_timer);
    a->retry_timer.data = a->state_timer.data = a->kick_timer.data = a;
    a->timers_open = 3;

    struct grpc_client_config gc;
    memset(&gc, 0, sizeof(gc));
    gc.host = f->server_host;
    gc.port = f->server_port;
    gc.tls = f->tls;
    gc.insecure = f->insecure;
    gc.keepalive_ms = AGENT_KEEPALIVE_MS;
    gc.on_state = on_client_state;
    gc.user = a;
    a->gc = grpc_client_new(loop, &gc);

    if (f->ip) {
        set_ip(a, f->ip);
    } else {
        struct ipdisc_config ic;
        memset(&ic, 0, sizeof(ic));
        ic.urls = (const char *const *)f->ip_urls;
        ic.n_urls = f->n_ip_urls;
        ic.period_s = f->ip_report_period;
        ic.on_result = on_ip;
        ic.ud = a;
        a->ipd = ipdisc_new(loop, &ic);
    }
    return a;
}

int agent_start(struct agent *a)
{
    if (a->ipd) {
        int rc = ipdisc_start(a->ipd);
        if (rc < 0)
            return rc;
    }
    agent_event(a, AGENT_EV_START);
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct agent *a = h->data;
    a->timers_open--;
}

void agent_stop(struct agent *a)
{
    if (a->phase == AGENT_PHASE_STOPPED)
        return;
    log_info("shutting down");
    agent_event(a, AGENT_EV_STOP);
    ipdisc_free(a->ipd);
    a->ipd = NULL;
    probes_stop(a->probes);
    grpc_client_free(a->gc);
    a->gc = NULL;
    uv_close((uv_handle_t *)&a->retry_timer, on_timer_closed);
    uv_close((uv_handle_t *)&a->state_timer, on_timer_closed);
    uv_close((uv_handle_t *)&a->kick_timer, on_timer_closed);
}

void agent_free(struct agent *a)
{
    if (!a)
        return;
    if (a->timers_open > 0)
        log_error("agent_free called before its timers were closed");
    probes_free(a->probes);
    free(a);
}
