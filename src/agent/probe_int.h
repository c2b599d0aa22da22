/*
 * probe_int: what the probe dispatcher (probe.c) shares with the probe
 * kinds (probe_http.c, probe_icmp.c, probe_tcp.c, probe_dns.c). Private to
 * these files.
 *
 * Protocol between them: probes_run allocates a struct probe, puts it in a
 * slot and calls the kind's start function, which owns p from then on. The
 * kind fills p->ok, p->delay_ms and p->data and, once every handle it opened
 * is closed and no request is outstanding, calls probe_done(p) (which
 * reports unless p->stopping, releases the slot and frees p). The start
 * function may call probe_done before it returns (bad Task.data, setup
 * failure). The stop function (probes_stop) sets nothing but makes the kind
 * end quickly: it closes its handles and still ends with probe_done.
 * Threading: the loop thread only.
 */
#ifndef LOTUS_AGENT_PROBE_INT_H
#define LOTUS_AGENT_PROBE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "agent/probe.h"
#include "agent/probe_logic.h"
#include "proto/httpc.h"

struct tls_ctx;

struct probe_http {
    struct httpc h;
    struct httpc_url url;
    struct probe_http_spec spec;
    struct probe_kw kw;
    struct httpc_body body;
    int have_head;
    int status;
    int closing;
    char status_text[64];
    char why[96]; /* a parse error of the response, for the result */
};

struct probe_icmp {
    char host[PROBE_HOST_MAX + 1];
    uv_getaddrinfo_t gai;
    uv_poll_t poll;
    uv_timer_t tick, deadline;
    int gai_busy, poll_open, timers_open;
    int fd;
    int v6, raw;
    uint16_t id;
    int sent, replies;
    int decided;
    struct sockaddr_storage dst;
    socklen_t dstlen;
    uint64_t sent_ns[PROBE_ICMP_COUNT];
    uint8_t got[PROBE_ICMP_COUNT];
    double rtt[PROBE_ICMP_COUNT];
};

struct probe_tcp {
    char host[PROBE_HOST_MAX + 1];
    char target[PROBE_HOST_MAX + 16]; /* host:port as given, for texts */
    int port;
    uv_getaddrinfo_t gai;
    uv_tcp_t tcp;
    uv_connect_t conn;
    uv_timer_t timer;
    int gai_busy, tcp_open, timer_open;
    int decided;
};

struct probe_dns {
    struct probe_dns_spec spec;
    uv_getaddrinfo_t gai;
    uv_timer_t timer;
    int gai_busy, timer_open;
    int decided;
};

struct probe {
    struct probes *ps;
    uv_loop_t *loop;
    int slot;
    uint64_t id, type;
    uint64_t t0_ns; /* uv_hrtime() at the start */
    int stopping;   /* probes_stop: end quickly, report nothing */
    int ok;
    double delay_ms;
    char data[PROBE_DATA_MAX];
    union {
        struct probe_http http;
        struct probe_icmp icmp;
        struct probe_tcp tcp;
        struct probe_dns dns;
    } u;
};

/* Ends p (see the protocol above). */
void probe_done(struct probe *p);
/* Milliseconds since p started (fractional). */
double probe_elapsed_ms(const struct probe *p);
/* Sets p->data from a printf format (truncated to PROBE_DATA_MAX). */
void probe_set_data(struct probe *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * The table's TLS client context (system store), created at the first call;
 * NULL with a reason in err when OpenSSL cannot make one. Borrowed.
 */
struct tls_ctx *probes_tls_ctx(struct probes *ps, char *err, size_t errlen);

/* Kinds: start (owns p from then on) and stop (probes_stop). */
void probe_http_start(struct probe *p, const char *data, size_t len, int lotus);
void probe_http_stop(struct probe *p);
void probe_icmp_start(struct probe *p, const char *data, size_t len);
void probe_icmp_stop(struct probe *p);
void probe_tcp_start(struct probe *p, const char *data, size_t len);
void probe_tcp_stop(struct probe *p);
void probe_dns_start(struct probe *p, const char *data, size_t len);
void probe_dns_stop(struct probe *p);

#endif
