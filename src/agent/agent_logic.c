/* agent_logic: pure decision functions of the agent (see agent_logic.h). */
#include "agent/agent_logic.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/strnum.h"
#include "proto/nezha.h"

unsigned agent_sm_step(enum agent_phase *phase, enum agent_event ev)
{
    enum agent_phase p = *phase;
    if (p == AGENT_PHASE_STOPPED)
        return AGENT_ACT_NONE;
    if (ev == AGENT_EV_STOP) {
        *phase = AGENT_PHASE_STOPPED;
        return AGENT_ACT_TEARDOWN | AGENT_ACT_SHUTDOWN;
    }
    switch (ev) {
    case AGENT_EV_START:
        if (p != AGENT_PHASE_IDLE)
            return AGENT_ACT_NONE;
        *phase = AGENT_PHASE_CONNECTING;
        return AGENT_ACT_CONNECT;
    case AGENT_EV_CONNECTED:
        if (p != AGENT_PHASE_CONNECTING)
            return AGENT_ACT_NONE;
        *phase = AGENT_PHASE_REGISTERING;
        return AGENT_ACT_REGISTER;
    case AGENT_EV_REGISTER_OK:
        if (p != AGENT_PHASE_REGISTERING)
            return AGENT_ACT_NONE;
        *phase = AGENT_PHASE_RUNNING;
        return AGENT_ACT_OPEN_TASKS | AGENT_ACT_START_REPORTS;
    case AGENT_EV_REGISTER_FAIL:
        if (p != AGENT_PHASE_REGISTERING)
            return AGENT_ACT_NONE;
        break;
    case AGENT_EV_STREAM_END:
    case AGENT_EV_AUTH_FAIL:
        if (p != AGENT_PHASE_RUNNING)
            return AGENT_ACT_NONE;
        break;
    case AGENT_EV_CONN_LOST:
        if (p != AGENT_PHASE_CONNECTING && p != AGENT_PHASE_REGISTERING && p != AGENT_PHASE_RUNNING)
            return AGENT_ACT_NONE;
        break;
    case AGENT_EV_RETRY_TIMER:
        if (p != AGENT_PHASE_BACKOFF)
            return AGENT_ACT_NONE;
        *phase = AGENT_PHASE_CONNECTING;
        return AGENT_ACT_CONNECT;
    case AGENT_EV_STOP:
        return AGENT_ACT_NONE; /* handled above */
    }
    *phase = AGENT_PHASE_BACKOFF;
    return AGENT_ACT_TEARDOWN | AGENT_ACT_SCHEDULE_RETRY;
}

const char *agent_phase_name(enum agent_phase phase)
{
    switch (phase) {
    case AGENT_PHASE_IDLE:
        return "idle";
    case AGENT_PHASE_CONNECTING:
        return "connecting";
    case AGENT_PHASE_REGISTERING:
        return "registering";
    case AGENT_PHASE_RUNNING:
        return "running";
    case AGENT_PHASE_BACKOFF:
        return "backoff";
    case AGENT_PHASE_STOPPED:
        return "stopped";
    }
    return "?";
}

int agent_retry_base_ms(const char *env, unsigned *out)
{
    uint64_t v;
    *out = AGENT_RETRY_DEFAULT_MS;
    if (!env)
        return 0;
    if (strnum_u64z(env, &v) != 0 || v > AGENT_RETRY_MAX_MS)
        return -EINVAL;
    *out = (unsigned)v;
    return 0;
}

unsigned agent_backoff_ms(unsigned base_ms, uint32_t rnd)
{
    unsigned j = base_ms / 10u * 3u + (base_ms % 10u) * 3u / 10u;
    if (j > AGENT_JITTER_MAX_MS)
        j = AGENT_JITTER_MAX_MS;
    return base_ms + (unsigned)(rnd % (j + 1u));
}

int agent_hostrefresh_due(const struct agent_hostrefresh *h, uint64_t now_ms)
{
    if (!h->ever_ok)
        return 1;
    return now_ms < h->last_ok_ms || now_ms - h->last_ok_ms >= AGENT_HOST_REFRESH_MS;
}

int agent_hostrefresh_begin(struct agent_hostrefresh *h)
{
    if (h->in_flight) {
        h->collapsed++;
        return 0;
    }
    h->in_flight = 1;
    return 1;
}

void agent_hostrefresh_end(struct agent_hostrefresh *h, int ok, uint64_t now_ms)
{
    h->in_flight = 0;
    if (ok) {
        h->ever_ok = 1;
        h->last_ok_ms = now_ms;
    }
}

void agent_task_decide(const struct agent_task_policy *pol, uint64_t type,
                       struct agent_task_decision *out)
{
    memset(out, 0, sizeof(*out));
    switch (type) {
    case NEZHA_TASK_HTTP_GET:
    case NEZHA_TASK_ICMP_PING:
    case NEZHA_TASK_TCP_PING:
    case LOTUS_TASK_HTTP_CHECK:
    case LOTUS_TASK_DNS:
        if (pol->disable_send_query) {
            out->action = AGENT_TASK_REPORT_FAIL;
            snprintf(out->data, sizeof(out->data), "%s", AGENT_MSG_SEND_QUERY_DISABLED);
            out->why =
                "refused: probe tasks are disabled by --disable-send-query / --disable-probes";
        } else {
            out->action = AGENT_TASK_PROBE;
            out->why = "probe";
        }
        return;
    case NEZHA_TASK_COMMAND:
        out->action = AGENT_TASK_REPORT_FAIL;
        if (pol->disable_command_execute) {
            snprintf(out->data, sizeof(out->data), "%s", AGENT_MSG_COMMAND_DISABLED);
            out->why = "refused: command execution is disabled by --disable-command-execute";
        } else {
            snprintf(out->data, sizeof(out->data), "lotus-agent: task type 4 is not supported yet");
            out->why = "refused: command execution is not enabled in this version";
        }
        return;
    case NEZHA_TASK_TERMINAL_LEGACY:
    case NEZHA_TASK_UPGRADE:
    case NEZHA_TASK_KEEPALIVE:
        out->action = AGENT_TASK_IGNORE;
        out->why = type == NEZHA_TASK_KEEPALIVE ? "keepalive"
                   : type == NEZHA_TASK_UPGRADE ? "self-update is not built in"
                                                : "legacy terminal is not supported";
        return;
    case NEZHA_TASK_TERMINAL:
    case NEZHA_TASK_FILE_MANAGER:
        out->action = AGENT_TASK_REFUSE;
        out->why = pol->disable_command_execute
                       ? "refused: terminal/file tasks are disabled by --disable-command-execute"
                       : "refused: terminal/file tasks are not enabled in this version";
        return;
    case NEZHA_TASK_NAT:
        out->action = AGENT_TASK_REFUSE;
        out->why = pol->disable_nat ? "refused: NAT tasks are disabled by --disable-nat"
                                    : "refused: NAT tasks are not enabled in this version";
        return;
    case NEZHA_TASK_REPORT_HOST_INFO:
        out->action = AGENT_TASK_HOST_REFRESH;
        out->why = "report host info";
        return;
    default:
        out->action = AGENT_TASK_UNKNOWN;
        out->why = "unknown task type, dropped";
        return;
    }
}

int agent_logonce(uint64_t *mask, uint64_t type)
{
    uint64_t bit = UINT64_C(1) << (type < 63 ? type : 63);
    if (*mask & bit)
        return 0;
    *mask |= bit;
    return 1;
}
