/*
 * probe: the agent's service-monitor probes (docs/protocol.md §3.5 types 1-3,
 * the Lotus types 101 and 102 of issue #14) on the agent's libuv loop.
 *
 * A fixed table of AGENT_PROBES_MAX slots: each task runs in one slot, on
 * its own asynchronous handles (httpc, uv_poll on an ICMP socket, uv_tcp,
 * uv_getaddrinfo), so a slow target never delays anything else on the loop
 * (State reports in particular). A task that finds every slot taken is
 * answered at once with the failure "too many probes in flight".
 *
 * Every probes_run produces exactly one report (from inside the call for a
 * refusal or a bad Task.data, later from the loop otherwise), unless
 * probes_stop came first.
 *
 * Memory: a running probe owns one heap block (its handles and, for HTTP,
 * the httpc buffers), freed when it ends; an idle table holds no probe
 * memory. The TLS client context (system store, OpenSSL default paths: the
 * SSL_CERT_FILE / SSL_CERT_DIR environment variables apply) is created at
 * the first https probe and kept until probes_free.
 *
 * Threading: the loop thread only.
 */
#ifndef LOTUS_AGENT_PROBE_H
#define LOTUS_AGENT_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define AGENT_PROBES_MAX       4     /* probes in flight at once */
#define PROBE_HTTP_TIMEOUT_MS  30000 /* whole GET, body included */
#define PROBE_TCP_TIMEOUT_MS   10000 /* resolve + connect */
#define PROBE_DNS_TIMEOUT_MS   10000 /* resolve */
#define PROBE_ICMP_TIMEOUT_MS  20000 /* all echoes */
#define PROBE_ICMP_COUNT       5
#define PROBE_ICMP_INTERVAL_MS 1000

/* One TaskResult, borrowed for the report call. */
struct probe_result {
    uint64_t id, type; /* copied from the Task */
    int ok;
    double delay_ms;
    const char *data; /* NUL-terminated, < PROBE_DATA_MAX bytes */
};

typedef void (*probes_report_fn)(const struct probe_result *r, void *ud);

struct probes;

/* A table on loop; report (required) receives every result with ud. Never NULL. */
struct probes *probes_new(uv_loop_t *loop, probes_report_fn report, void *ud);

/*
 * Runs task (id, type) with Task.data data[0..len) (borrowed for the call).
 * type is one of NEZHA_TASK_HTTP_GET, NEZHA_TASK_ICMP_PING,
 * NEZHA_TASK_TCP_PING, LOTUS_TASK_HTTP_CHECK, LOTUS_TASK_DNS; any other is
 * reported as a failure "unsupported probe type N". After probes_stop every
 * task is dropped without a report.
 */
void probes_run(struct probes *ps, uint64_t id, uint64_t type, const char *data, size_t len);

/* Probes in flight. */
size_t probes_in_flight(const struct probes *ps);

/*
 * Cancels every probe in flight (no reports follow) and refuses new ones; the
 * handles close from the loop. Idempotent.
 */
void probes_stop(struct probes *ps);

/*
 * Frees the table: at once when nothing runs, else when the last probe's
 * handles have closed (call probes_stop first and keep running the loop).
 * NULL is a no-op.
 */
void probes_free(struct probes *ps);

#endif
