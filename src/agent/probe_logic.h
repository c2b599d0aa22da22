/*
 * probe_logic: the pure decisions of the agent's service-monitor probes
 * (task types 1-3 of docs/protocol.md §3.5 and the Lotus types 101/102 of
 * issue #14), kept apart from the sockets in probe*.c so they are unit-tested
 * and fuzzed without a network: the v0 result texts, Go's time.String() of a
 * UTC instant, the HTTP status judgement, the parsers of the type 101/102
 * Task.data and of "host:port", ICMP echo packets (build, checksum, reply
 * parse), RTT averaging, the DNS answer list and a streaming keyword search.
 *
 * Ownership: every function borrows its inputs and writes only into the
 * caller's storage. No allocation, no clock, no globals; any thread.
 * Errors: parsers return 0 or -EINVAL with a one-line reason in err[errlen]
 * (the reason becomes TaskResult.data).
 */
#ifndef LOTUS_AGENT_PROBE_LOGIC_H
#define LOTUS_AGENT_PROBE_LOGIC_H

#include <stddef.h>
#include <stdint.h>

#include "proto/httpc.h"

/* v0's texts (docs/protocol.md §3.5; the spelling of "pockets" is v0's). */
#define PROBE_MSG_NO_CERT       "获取SSL证书失败"
#define PROBE_MSG_STATUS_PREFIX "\n应用错误："
#define PROBE_MSG_ICMP_NONE     "pockets recv 0"
#define PROBE_MSG_TOO_MANY      "too many probes in flight"

#define PROBE_DATA_MAX    256 /* bytes of TaskResult.data we send, with the NUL */
#define PROBE_KEYWORD_MAX 256 /* bytes of a type 101 keyword */
#define PROBE_HOST_MAX    253 /* bytes of a host name */
#define PROBE_DNS_ANSWERS 200 /* bytes of the joined DNS answers */

/* ---- texts ---- */

/*
 * Go's resp.Status from the head of a response (head[0..len), the status line
 * first): the text after "HTTP/1.x " up to the end of the line, leading spaces
 * dropped ("404 Not Found", or "404" when the server sent no reason). Writes
 * out[n], truncated; returns its length.
 */
size_t probe_status_text(const uint8_t *head, size_t len, char *out, size_t n);

/* The failure data of a status outside the range: "\n应用错误：" + status text, into out[n]. */
void probe_status_failure(const char *status_text, char *out, size_t n);

/*
 * Makes s valid UTF-8 in place (TaskResult.data is a proto3 string, which Go
 * dashboards reject otherwise): every byte that does not start a complete,
 * valid sequence (a server's reason phrase, a text cut at a size limit)
 * becomes '?'. Returns s.
 */
char *probe_utf8_fix(char *s);

/* 1 when lo <= code <= hi. */
int probe_status_ok(int code, int lo, int hi);

/* ---- type 1 / 101 data ---- */

struct probe_http_spec {
    char url[HTTPC_MAX_URL + 1];
    int lo, hi;                          /* success range; 200-399 by default */
    char keyword[PROBE_KEYWORD_MAX + 1]; /* "" = no keyword check */
    size_t kwlen;
    int keyword_absent; /* the body must NOT contain the keyword */
};

/*
 * Parses Task.data (data[0..len), borrowed) of type 1 (lotus = 0: the whole
 * text is the URL, surrounding white space dropped) or 101 (lotus = 1: line 1
 * = URL, then lines status=<min>-<max> (100..599, min <= max), keyword=<text
 * to the end of the line> (1..PROBE_KEYWORD_MAX bytes), keyword_absent=1;
 * unknown keys ignored; CRLF accepted). The URL must parse (httpc_url_parse).
 * 0 or -EINVAL with the reason in err.
 */
int probe_http_spec_parse(const char *data, size_t len, int lotus, struct probe_http_spec *out,
                          char *err, size_t errlen);

/* ---- type 102 data ---- */

struct probe_dns_spec {
    char name[PROBE_HOST_MAX + 1];
    int family;        /* AF_UNSPEC (none or ANY), AF_INET (A), AF_INET6 (AAAA) */
    int expect_family; /* 0 = no expected address, else AF_INET / AF_INET6 */
    uint8_t expect[16];
    char expect_text[46]; /* the expected address as given */
};

/*
 * Parses "<name>", "<name> <A|AAAA|ANY>" or "<name> <A|AAAA|ANY> <address>"
 * (data[0..len) borrowed; separated by spaces or tabs; the record type is
 * case-insensitive; the address is an IPv4 or IPv6 literal). 0 or -EINVAL.
 */
int probe_dns_spec_parse(const char *data, size_t len, struct probe_dns_spec *out, char *err,
                         size_t errlen);

struct addrinfo;
/*
 * Joins the distinct addresses of the answer list ai (borrowed) with ','
 * into out[n] (at most PROBE_DNS_ANSWERS bytes; an address that does not fit
 * whole is left out). Returns the number of distinct addresses, and in *found
 * (may be NULL) whether the spec's expected address is among them.
 */
int probe_dns_answers(const struct addrinfo *ai, const struct probe_dns_spec *spec, char *out,
                      size_t n, int *found);

/* ---- type 2 / 3 targets ---- */

/*
 * "host:port" or "[v6]:port" (data[0..len) borrowed; port 1..65535) into
 * host[hostlen] (brackets dropped) and *port. 0 or -EINVAL.
 */
int probe_hostport_parse(const char *data, size_t len, char *host, size_t hostlen, int *port,
                         char *err, size_t errlen);

/* A type 2 target: a host name or an IP literal, "[v6]" accepted. 0 or -EINVAL. */
int probe_host_parse(const char *data, size_t len, char *host, size_t hostlen, char *err,
                     size_t errlen);

/* ---- ICMP ---- */

#define PROBE_ICMP_PAYLOAD 56 /* bytes after the 8-byte ICMP header, as ping */
#define PROBE_ICMP_PKT     (8 + PROBE_ICMP_PAYLOAD)

/* The Internet checksum (RFC 1071) of p[0..n). */
uint16_t probe_inet_cksum(const uint8_t *p, size_t n);

/*
 * Writes an echo request (ICMP type 8, or ICMPv6 type 128 when v6) with id
 * and seq into out[PROBE_ICMP_PKT]; the IPv4 checksum is filled in (ICMPv6's
 * is computed by the kernel over the pseudo header). Returns PROBE_ICMP_PKT.
 */
size_t probe_icmp_build(uint8_t *out, int v6, uint16_t id, uint16_t seq);

/*
 * Parses a received packet p[0..n) (borrowed): with_ip = an IPv4 header comes
 * first (raw IPv4 sockets). Returns 0 for an echo reply (type 0 / 129) whose
 * payload is ours, with its sequence number in *seq, and, when check_id, its
 * id equal to id (datagram sockets: the kernel rewrites and filters the id);
 * -EAGAIN for another ICMP message (not ours, or not a reply); -EPROTO when
 * malformed (too short, bad IPv4 header length, bad IPv4 checksum).
 */
int probe_icmp_parse(const uint8_t *p, size_t n, int v6, int with_ip, int check_id, uint16_t id,
                     uint16_t *seq);

/* The mean of rtt_ms[0..n) (0 when n is 0). */
double probe_rtt_avg(const double *rtt_ms, size_t n);

/* ---- keyword search over a streamed body ---- */

struct probe_kw {
    const char *kw; /* borrowed */
    size_t len;     /* 1..PROBE_KEYWORD_MAX */
    size_t matched; /* bytes of kw matched at the end of the input so far */
    int found;
    uint16_t fail[PROBE_KEYWORD_MAX]; /* KMP failure function */
};

/* Prepares a search for kw[0..len) (borrowed until the search ends; 1 <= len <= PROBE_KEYWORD_MAX).
 */
void probe_kw_init(struct probe_kw *k, const char *kw, size_t len);
/* Feeds the next piece p[0..n) of the body; returns k->found (1 once kw was seen, across pieces).
 */
int probe_kw_feed(struct probe_kw *k, const uint8_t *p, size_t n);

#endif
