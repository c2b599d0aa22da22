/*
 * agent_logic: the agent's decisions as pure functions, kept apart from the
 * socket glue in agent.c so they are unit-tested without a network:
 * the connection lifecycle state machine (docs/protocol.md §3.2), reconnect backoff with
 * jitter, the host-refresh timer with collapsing of concurrent refreshes, the
 * task dispatch policy (docs/protocol.md §3.5, and the Lotus probe types 101/102) and log-once
 * bookkeeping.
 * No allocation, no clock, no globals: callers pass time and randomness in.
 */
#ifndef LOTUS_AGENT_AGENT_LOGIC_H
#define LOTUS_AGENT_AGENT_LOGIC_H

#include <stddef.h>
#include <stdint.h>

#define AGENT_RETRY_DEFAULT_MS 10000u  /* docs/protocol.md §3.2 delayWhenError */
#define AGENT_RETRY_MAX_MS     600000u /* upper bound for LOTUS_AGENT_RETRY_MS */
#define AGENT_JITTER_MAX_MS    3000u
#define AGENT_HOST_REFRESH_MS  600000u /* 10 min */
/* Deadline of ReportSystemInfo, ReportSystemState, LookupGeoIP and ReportTask. */
#define AGENT_RPC_TIMEOUT_MS 5000u
/* An HTTP/2 PING every 15 s, dead after 15 s more: a dead link is detected within 30 s. */
#define AGENT_KEEPALIVE_MS         15000u
#define AGENT_GRPC_UNAUTHENTICATED 16

/* ---- lifecycle ---- */

enum agent_phase {
    AGENT_PHASE_IDLE = 0,
    AGENT_PHASE_CONNECTING,  /* grpc_client_connect started */
    AGENT_PHASE_REGISTERING, /* ReportSystemInfo in flight */
    AGENT_PHASE_RUNNING,     /* RequestTask open, State loop running */
    AGENT_PHASE_BACKOFF,     /* waiting for the retry timer */
    AGENT_PHASE_STOPPED,
};

enum agent_event {
    AGENT_EV_START = 0,
    AGENT_EV_CONNECTED,
    AGENT_EV_CONN_LOST, /* connect failed or connection lost */
    AGENT_EV_REGISTER_OK,
    AGENT_EV_REGISTER_FAIL,
    AGENT_EV_STREAM_END, /* RequestTask ended (any status) */
    AGENT_EV_AUTH_FAIL,  /* any RPC answered UNAUTHENTICATED while running */
    AGENT_EV_RETRY_TIMER,
    AGENT_EV_STOP,
};

enum agent_action {
    AGENT_ACT_NONE = 0,
    AGENT_ACT_CONNECT = 1 << 0,        /* grpc_client_connect */
    AGENT_ACT_REGISTER = 1 << 1,       /* ReportSystemInfo, 5 s deadline */
    AGENT_ACT_OPEN_TASKS = 1 << 2,     /* RequestTask, no deadline */
    AGENT_ACT_START_REPORTS = 1 << 3,  /* start the State timer */
    AGENT_ACT_TEARDOWN = 1 << 4,       /* stop the State timer, drop the connection */
    AGENT_ACT_SCHEDULE_RETRY = 1 << 5, /* start the retry timer (agent_backoff_ms) */
    AGENT_ACT_SHUTDOWN = 1 << 6,       /* stop all timers; no more reconnects */
};

/* Applies ev to *phase; returns the enum agent_action bits to perform, in bit order. */
unsigned agent_sm_step(enum agent_phase *phase, enum agent_event ev);
/* Static name of a phase for logs. */
const char *agent_phase_name(enum agent_phase phase);

/* ---- backoff ---- */

/*
 * Parses LOTUS_AGENT_RETRY_MS (env borrowed, may be NULL): 0..AGENT_RETRY_MAX_MS.
 * Sets *out (the default when env is NULL or invalid); returns 0 or -EINVAL.
 */
int agent_retry_base_ms(const char *env, unsigned *out);
/* base + jitter, jitter = rnd % (J + 1) with J = min(3000, base * 3 / 10). */
unsigned agent_backoff_ms(unsigned base_ms, uint32_t rnd);

/* ---- host refresh (ReportSystemInfo + LookupGeoIP) ---- */

struct agent_hostrefresh {
    int in_flight;
    int ever_ok;
    uint64_t last_ok_ms;
    unsigned collapsed; /* statistics: triggers dropped while in flight */
};

/* Due when no refresh has ever succeeded or the last success is >= 10 min old. */
int agent_hostrefresh_due(const struct agent_hostrefresh *h, uint64_t now_ms);
/* Returns 1 when the caller should start a refresh now, 0 when one is already in flight. */
int agent_hostrefresh_begin(struct agent_hostrefresh *h);
/* Ends the in-flight refresh; ok marks the Host report as successful at now_ms. */
void agent_hostrefresh_end(struct agent_hostrefresh *h, int ok, uint64_t now_ms);

/* ---- tasks ---- */

enum agent_task_action {
    AGENT_TASK_IGNORE = 0,   /* keepalive (7), upgrade (6), legacy terminal (5): drop silently */
    AGENT_TASK_HOST_REFRESH, /* 10 */
    AGENT_TASK_REPORT_FAIL,  /* send TaskResult{id,type,successful=false,data} */
    AGENT_TASK_PROBE,        /* 1-3, 101, 102: run it (probe.h), one TaskResult follows */
    AGENT_TASK_REFUSE,       /* log (once per type), send nothing */
    AGENT_TASK_UNKNOWN,      /* log (once per type), drop */
};

struct agent_task_policy {
    int disable_send_query; /* --disable-send-query or --disable-probes: refuse 1-3, 101, 102 */
    int disable_command_execute;
    int disable_nat;
};

#define AGENT_TASK_DATA_MAX           96
#define AGENT_MSG_SEND_QUERY_DISABLED "此 Agent 已禁止发送请求"
#define AGENT_MSG_COMMAND_DISABLED    "此 Agent 已禁止命令执行"

struct agent_task_decision {
    enum agent_task_action action;
    char data[AGENT_TASK_DATA_MAX]; /* TaskResult.data for AGENT_TASK_REPORT_FAIL */
    const char *why;                /* static text for the log line */
};

void agent_task_decide(const struct agent_task_policy *pol, uint64_t type,
                       struct agent_task_decision *out);

/* Returns 1 the first time `type` is seen in *mask (types >= 63 share one bit), else 0. */
int agent_logonce(uint64_t *mask, uint64_t type);

#endif
