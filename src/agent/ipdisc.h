/*
 * ipdisc: public IP discovery (docs/protocol.md §3.4). Fetches Cloudflare-style trace
 * pages ("key=value" lines, one of them "ip=<addr>") over a forced-IPv4 and a
 * forced-IPv6 connection, trying the URLs in order until a line of the right
 * family appears. Runs asynchronously on the agent's libuv loop through the
 * agent's HTTP/1.1(S) client (proto/httpc.h: one struct httpc per family),
 * so it never blocks reporting. Each fetch has a 20 s timeout. A
 * round that finds an address repeats after `period_s`; a round that finds
 * nothing retries after min(period_s, 60 s).
 *
 * The pure parts (trace and response parsing on top of httpc's framing,
 * result formatting, GeoIP address choice, retry delay) take no sockets and
 * are unit-tested and fuzzed (fuzz/fuzz_ipdisc.c); URLs are httpc URLs.
 *
 * Threading: loop thread only.
 */
#ifndef LOTUS_AGENT_IPDISC_H
#define LOTUS_AGENT_IPDISC_H

#include <stddef.h>
#include <stdint.h>

#include "proto/httpc.h"

#define IPDISC_MAX_URL         HTTPC_MAX_URL       /* bytes of a discovery URL */
#define IPDISC_MAX_HOST        HTTPC_MAX_HOST      /* bytes of a URL host */
#define IPDISC_IP_LEN          46                  /* INET6_ADDRSTRLEN: one address plus NUL */
#define IPDISC_RESULT_LEN      (2 * IPDISC_IP_LEN) /* "v4/v6" plus NUL */
#define IPDISC_TIMEOUT_MS      20000u
#define IPDISC_OFFLINE_RETRY_S 60u

/* The three default trace URLs of docs/protocol.md §3.4, in order; NULL-terminated, static. */
extern const char *const ipdisc_default_urls[];

/*
 * Scans a trace body (borrowed, not NUL-terminated) for a line "ip=<addr>"
 * whose address is of `family` (4 or 6) and writes the canonical text form to
 * out[outlen] (>= IPDISC_IP_LEN). Returns 0, or -ENOENT when no such line.
 */
int ipdisc_parse_trace(const char *body, size_t len, int family, char *out, size_t outlen);

/*
 * Parses a complete HTTP/1.x response (borrowed) with httpc_parse_head /
 * httpc_parse_body: status must be 2xx (checked before the body); body
 * framed by Content-Length, chunked encoding or connection close. Then
 * ipdisc_parse_trace on the body. Returns 0, -ENOENT (no address of that
 * family), -EPROTO (malformed or non-2xx; *why says why, static string) or
 * -EAGAIN (incomplete: more bytes are needed).
 */
int ipdisc_parse_response(const uint8_t *resp, size_t len, int eof, int family, char *out,
                          size_t outlen, const char **why);

/* Formats the Host.ip value: "v4/v6", "v4", "v6" or "" (inputs borrowed, may be ""/NULL). */
void ipdisc_format(const char *v4, const char *v6, char *out, size_t outlen);

/* The address to send to LookupGeoIP: v6 if prefer_v6 or no v4, else v4; NULL if none. */
const char *ipdisc_geoip_query(const char *v4, const char *v6, int prefer_v6);

/* Seconds until the next discovery round. */
uint32_t ipdisc_next_delay_s(uint32_t period_s, int found);

struct uv_loop_s;
struct ipdisc;

struct ipdisc_config {
    const char *const *urls; /* borrowed for the life of the ipdisc; NULL = defaults */
    size_t n_urls;
    uint32_t period_s;   /* re-discovery period (--ip-report-period) */
    unsigned timeout_ms; /* per fetch; 0 = IPDISC_TIMEOUT_MS */
    const char *ca_file; /* extra trusted CA (PEM) for https, NULL = system store only; borrowed */
    /* After every round: result "v4/v6"/"v4"/"v6"/"" (borrowed for the call). */
    void (*on_result)(struct ipdisc *d, const char *ip, void *ud);
    void *ud;
};

/* Owned by the caller; release with ipdisc_free. cfg copied. Never NULL. */
struct ipdisc *ipdisc_new(struct uv_loop_s *loop, const struct ipdisc_config *cfg);
/* Starts the first round now. 0 or negative errno. */
int ipdisc_start(struct ipdisc *d);
/* Last results (borrowed; "" when not found). */
const char *ipdisc_v4(const struct ipdisc *d);
const char *ipdisc_v6(const struct ipdisc *d);
/*
 * Stops everything; the memory is released once the loop has run the close
 * and cancelled-request callbacks (keep running the loop). NULL is a no-op.
 * No on_result is called afterwards.
 */
void ipdisc_free(struct ipdisc *d);

#endif
