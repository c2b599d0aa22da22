/*
 * probe: the dispatcher of the agent's probes (see probe.h): slots, the
 * report, the shared TLS context; the kinds are in probe_http.c,
 * probe_icmp.c, probe_tcp.c and probe_dns.c (probe_int.h).
 */
#include "agent/probe.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/probe_int.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "proto/nezha.h"
#include "proto/tls.h"

struct probes {
    uv_loop_t *loop;
    probes_report_fn report;
    void *ud;
    struct probe *slot[AGENT_PROBES_MAX];
    size_t n;
    int stopped;
    int freed; /* probes_free called while probes were still closing */
    struct tls_ctx *tls;
};

struct probes *probes_new(uv_loop_t *loop, probes_report_fn report, void *ud)
{
    struct probes *ps = xcalloc(1, sizeof(*ps));
    ps->loop = loop;
    ps->report = report;
    ps->ud = ud;
    return ps;
}

static void report_now(struct probes *ps, uint64_t id, uint64_t type, const char *data)
{
    struct probe_result r = {.id = id, .type = type, .ok = 0, .delay_ms = 0, .data = data};
    ps->report(&r, ps->ud);
}

static void table_free(struct probes *ps)
{
    tls_ctx_free(ps->tls);
    free(ps);
}

void probe_done(struct probe *p)
{
    struct probes *ps = p->ps;
    ps->slot[p->slot] = NULL;
    ps->n--;
    if (!p->stopping) {
        probe_utf8_fix(p->data);
        struct probe_result r = {
            .id = p->id, .type = p->type, .ok = p->ok, .delay_ms = p->delay_ms, .data = p->data};
        ps->report(&r, ps->ud);
    }
    free(p);
    if (ps->freed && ps->n == 0)
        table_free(ps);
}

double probe_elapsed_ms(const struct probe *p)
{
    return (double)(uv_hrtime() - p->t0_ns) / 1e6;
}

void probe_set_data(struct probe *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->data, sizeof(p->data), fmt, ap);
    va_end(ap);
}

struct tls_ctx *probes_tls_ctx(struct probes *ps, char *err, size_t errlen)
{
    if (!ps->tls && tls_ctx_new_client(NULL, 0, NULL, &ps->tls, err, errlen) != 0)
        ps->tls = NULL;
    return ps->tls;
}

void probes_run(struct probes *ps, uint64_t id, uint64_t type, const char *data, size_t len)
{
    if (ps->stopped)
        return;
    if (type != NEZHA_TASK_HTTP_GET && type != NEZHA_TASK_ICMP_PING &&
        type != NEZHA_TASK_TCP_PING && type != LOTUS_TASK_HTTP_CHECK && type != LOTUS_TASK_DNS) {
        char msg[64];
        snprintf(msg, sizeof(msg), "unsupported probe type %llu", (unsigned long long)type);
        report_now(ps, id, type, msg);
        return;
    }
    int slot = -1;
    for (int i = 0; i < AGENT_PROBES_MAX && slot < 0; i++)
        if (!ps->slot[i])
            slot = i;
    if (slot < 0) {
        log_warn("task %llu (type %llu): %s", (unsigned long long)id, (unsigned long long)type,
                 PROBE_MSG_TOO_MANY);
        report_now(ps, id, type, PROBE_MSG_TOO_MANY);
        return;
    }
    struct probe *p = xcalloc(1, sizeof(*p));
    p->ps = ps;
    p->loop = ps->loop;
    p->slot = slot;
    p->id = id;
    p->type = type;
    p->t0_ns = uv_hrtime();
    ps->slot[slot] = p;
    ps->n++;
    log_debug("probe %llu (type %llu) started in slot %d", (unsigned long long)id,
              (unsigned long long)type, slot);
    switch (type) {
    case NEZHA_TASK_HTTP_GET:
    case LOTUS_TASK_HTTP_CHECK:
        probe_http_start(p, data, len, type == LOTUS_TASK_HTTP_CHECK);
        break;
    case NEZHA_TASK_ICMP_PING:
        probe_icmp_start(p, data, len);
        break;
    case NEZHA_TASK_TCP_PING:
        probe_tcp_start(p, data, len);
        break;
    default: /* LOTUS_TASK_DNS */
        probe_dns_start(p, data, len);
        break;
    }
}

size_t probes_in_flight(const struct probes *ps)
{
    return ps->n;
}

void probes_stop(struct probes *ps)
{
    if (ps->stopped)
        return;
    ps->stopped = 1;
    for (int i = 0; i < AGENT_PROBES_MAX; i++) {
        struct probe *p = ps->slot[i];
        if (!p || p->stopping)
            continue;
        p->stopping = 1;
        switch (p->type) {
        case NEZHA_TASK_HTTP_GET:
        case LOTUS_TASK_HTTP_CHECK:
            probe_http_stop(p);
            break;
        case NEZHA_TASK_ICMP_PING:
            probe_icmp_stop(p);
            break;
        case NEZHA_TASK_TCP_PING:
            probe_tcp_stop(p);
            break;
        default:
            probe_dns_stop(p);
            break;
        }
    }
}

void probes_free(struct probes *ps)
{
    if (!ps)
        return;
    if (ps->n == 0) {
        table_free(ps);
        return;
    }
    probes_stop(ps);
    ps->freed = 1; /* the last probe_done frees it */
}
