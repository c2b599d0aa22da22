/*
 * agent: the Lotus agent's connection lifecycle on one libuv loop (docs/protocol.md §3.2,
 * §2.5): connect -> ReportSystemInfo (5 s deadline) -> RequestTask stream (no
 * deadline) -> ReportSystemState every --report-delay s (5 s deadline each)
 * -> ReportSystemInfo + LookupGeoIP every 10 min, on task type 10 and when
 * the public IP changes (concurrent refreshes collapse into one). Every RPC
 * carries metadata client_secret. After any failure the connection is dropped
 * and redialled after base + jitter (base 10 s, env LOTUS_AGENT_RETRY_MS).
 * The decisions live in agent_logic.h; this file is the glue to grpc_client,
 * collect and ipdisc.
 *
 * Memory: the steady-state State loop packs into a fixed buffer inside the
 * agent and allocates nothing itself.
 * Threading: loop thread only.
 */
#ifndef LOTUS_AGENT_AGENT_H
#define LOTUS_AGENT_AGENT_H

#include <stddef.h>
#include <stdint.h>

struct uv_loop_s;
struct agent;
struct agent_flags;
struct collector;

#define AGENT_HOST_MAX   16384 /* bytes of a packed Host */
#define AGENT_STATE_MAX  16384 /* bytes of a packed State */
#define AGENT_TASK_MAX   65536 /* bytes of a received Task; larger ones are dropped */
#define AGENT_TASK_SLOTS 8     /* ReportTask calls in flight at once */

struct agent_config {
    const struct agent_flags *flags; /* borrowed for the agent's life */
    struct collector *collector;     /* borrowed for the agent's life */
    unsigned retry_base_ms;          /* see agent_retry_base_ms() */
    uint64_t seed;                   /* jitter randomness seed */
};

/* Owned by the caller; free with agent_free after the loop has ended. Never NULL. */
struct agent *agent_new(struct uv_loop_s *loop, const struct agent_config *cfg);
/* Starts IP discovery and the first connection. 0 or negative errno. */
int agent_start(struct agent *a);
/*
 * Begins a clean shutdown: cancels calls, drops the connection and closes all
 * handles; uv_run returns once they are closed. Idempotent.
 */
void agent_stop(struct agent *a);
/* Frees the agent (call after agent_stop and after uv_run has returned). NULL is a no-op. */
void agent_free(struct agent *a);

#endif
