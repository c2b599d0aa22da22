/*
 * svc: the dashboard's Nezha v0 gRPC service `proto.NezhaService` (docs/protocol.md §1.2):
 * the six methods, `client_secret` metadata auth (§1.3), reports decoded and
 * handed to live_report_state/host/country (dashboard/live.h),
 * task streams with periodic keepalive (type 7) and the type-10 host-info
 * request 15 s after start, GeoIP lookups, and the strict IOStream handshake.
 *
 * Threading: loop thread only. Owns the gRPC server and its timers; borrows the
 * live registry (which persists reports through its store, live_set_store).
 */
#ifndef LOTUS_DASHBOARD_SVC_H
#define LOTUS_DASHBOARD_SVC_H

#include <stddef.h>
#include <stdint.h>

struct uv_loop_s;
struct live;
struct live_server;
struct geoip;
struct svc;

struct svc_config {
    const char *host;     /* bind address; borrowed during start */
    int port;             /* 0 = ephemeral */
    const char *tls_cert; /* PEM paths or NULL */
    const char *tls_key;
    unsigned keepalive_ms; /* type-7 task period, 0 = 60000 */
    unsigned hostinfo_ms;  /* delay of the one-off type-10 task, 0 = 15000 */
};

/*
 * Starts the gRPC listener. lv and geo (may be NULL: no GeoIP database) are
 * borrowed for the service's life. 0 and an owned *out, or a negative code
 * and a reason in err.
 */
int svc_start(struct uv_loop_s *loop, const struct svc_config *cfg, struct live *lv,
              struct geoip *geo, struct svc **out, char *err, size_t errlen);
int svc_port(const struct svc *s);
/* Closes the listener, every connection and the timers; frees after the loop runs. NULL ok. */
void svc_free(struct svc *s);
/*
 * Sends a task to a server's task stream. 0, -ENOTCONN when it has none,
 * or a negative error from the transport.
 */
int svc_send_task(struct svc *s, struct live_server *srv, uint64_t id, uint64_t type,
                  const char *data);
/* A TaskResult as ReportTask delivered it (data borrowed for the call). */
struct svc_result {
    uint64_t id;
    uint64_t type;
    double delay; /* ms for probes, s for commands (docs/protocol.md §2.3) */
    int successful;
    const char *data;
};
typedef void (*svc_result_fn)(void *ud, struct live_server *srv, const struct svc_result *r);
/*
 * Routes every decoded TaskResult to fn(ud, ...) on the loop thread (after authentication;
 * before the Receipt is sent). One receiver (the last call wins; NULL: results are only
 * logged). ud borrowed until svc_free or the next call.
 */
void svc_on_task_result(struct svc *s, svc_result_fn fn, void *ud);
/*
 * The user-agent prefix by which a Lotus agent is known (src/proto/grpc_client.c sends
 * "lotus-agent/<version>"): its task stream may carry Lotus's own task types (101, 102).
 */
#define SVC_LOTUS_AGENT_UA "lotus-agent/"

/*
 * What the service counted since svc_start (for /metrics, dashboard/prom.h): State reports
 * handed to the registry, requests whose message did not decode (any method), and calls
 * refused for an unknown client_secret. Counts only grow. Loop thread.
 */
struct svc_stats {
    uint64_t states;
    uint64_t decode_errors;
    uint64_t auth_failures;
};
void svc_get_stats(const struct svc *s, struct svc_stats *out);

/* Ends a server's task stream (e.g. when the server is deleted). */
void svc_drop_stream(struct svc *s, struct live_server *srv);
/*
 * Registers an IOStream id (36-char UUID text, borrowed) that an agent may
 * attach to; unregistered ids are refused with UNKNOWN "stream not found".
 * Returns 0 or -EINVAL (not a UUID) / -EEXIST.
 */
int svc_iostream_expect(struct svc *s, const char *stream_id);

/*
 * Checks the IOStream handshake frame (docs/protocol.md §3.6): FF 05 FF 05 followed by
 * exactly a 36-char UUID (8-4-4-4-12 hex). On success copies the id (NUL
 * terminated) into id_out (>= 37 bytes) and returns 0; else -EINVAL.
 */
int svc_parse_iostream_handshake(const uint8_t *data, size_t len, char *id_out);

#endif
