/*
 * httpc: the agent's small HTTP/1.1(S) client, shared by IP discovery
 * (agent/ipdisc.c) and the agent's probes. One GET per fetch over a
 * connection of a forced or any family: uv_getaddrinfo -> uv_tcp connect -> optional TLS
 * (tls.c client context chosen by the caller: SNI + certificate and host/IP
 * verification, driven by tlspump) -> request -> read until the caller's judge
 * decides, the peer closes, the buffer is full or the deadline passes. A judge
 * that drops what it has seen (httpc_consume) streams bodies of any size
 * through the buffer (httpc_body_* frames them piece by piece). No redirect is
 * ever followed.
 *
 * Footprint (the agent targets < 1 MiB RSS): a struct httpc is embedded by
 * its owner and holds the whole response (HTTPC_MAX_RESPONSE) and the read
 * buffer; the only allocations per fetch are libuv's write requests, the TLS
 * connection and a ciphertext staging buffer, all released when it ends.
 * (The dashboard's outbound HTTP will use libcurl, not this.)
 *
 * The pure parts (URL, request, status line + headers, Content-Length /
 * chunked body) take no sockets and are unit-tested and fuzzed.
 *
 * Threading: the async part runs on the owner's libuv loop thread only.
 */
#ifndef LOTUS_PROTO_HTTPC_H
#define LOTUS_PROTO_HTTPC_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "core/buf.h"

#define HTTPC_MAX_URL      512   /* bytes of a URL */
#define HTTPC_MAX_HOST     253   /* bytes of a URL host */
#define HTTPC_MAX_PATH     400   /* bytes of a URL path (with query) */
#define HTTPC_MAX_RESPONSE 16384 /* bytes of a whole HTTP response; more is an error */
#define HTTPC_MAX_REQUEST  1024  /* bytes of the GET request */

struct tls_ctx;
struct tls_conn;

/* ------------------------------------------------------------------ pure part */

struct httpc_url {
    int tls;                       /* https */
    int port;                      /* 80/443 unless given */
    char host[HTTPC_MAX_HOST + 1]; /* IPv6 literal without brackets */
    char path[HTTPC_MAX_PATH + 1]; /* begins with '/' */
};

/* Parses "http[s]://host[:port][/path]" (url borrowed). 0 or -EINVAL. */
int httpc_url_parse(const char *url, struct httpc_url *out);

/* Writes the GET request for u into out[outlen]; returns its length or -E2BIG. */
int httpc_build_request(const struct httpc_url *u, char *out, size_t outlen);

/*
 * Parses the head of an HTTP/1.x response resp[0..len) (borrowed; eof: the
 * peer closed). Returns 0 with the status code in *status and the offset of
 * the body in *hend; -EAGAIN (the header is incomplete: more bytes are
 * needed); or -EPROTO with *why (static string): over HTTPC_MAX_RESPONSE,
 * not an HTTP response, truncated or too large header, bad status line.
 */
int httpc_parse_head(const uint8_t *resp, size_t len, int eof, int *status, size_t *hend,
                     const char **why);

/*
 * Frames the body of a response whose head httpc_parse_head accepted (hend):
 * chunked (decoded into dec, HTTPC_MAX_RESPONSE bytes, caller's), else
 * Content-Length, else up to the connection close. Returns 0 with *body and
 * *blen (pointing into resp or dec), -EAGAIN (incomplete and !eof), or
 * -EPROTO with *why (bad Content-Length, chunk errors, truncated or too large
 * body).
 */
int httpc_parse_body(const uint8_t *resp, size_t len, size_t hend, int eof, char *dec,
                     const uint8_t **body, size_t *blen, const char **why);

/*
 * Streaming body framing, for bodies of any size that are scanned and dropped
 * (the agent's HTTP probes): the state of one response body.
 */
enum httpc_body_mode {
    HTTPC_BODY_NONE = 0, /* no body (1xx, 204, 304) */
    HTTPC_BODY_LENGTH,   /* Content-Length */
    HTTPC_BODY_CHUNKED,  /* Transfer-Encoding: chunked */
    HTTPC_BODY_CLOSE,    /* up to the connection close */
};

struct httpc_body {
    enum httpc_body_mode mode;
    uint64_t left;  /* LENGTH: bytes to come; CHUNKED: bytes left in the chunk */
    int st;         /* CHUNKED: decoder state */
    int digits;     /* CHUNKED: hex digits of the size line so far */
    uint64_t total; /* decoded body bytes so far */
};

/*
 * Sets up *b from the head resp[0..hend) that httpc_parse_head accepted with
 * status. Returns 0, or -EPROTO with *why (bad Content-Length).
 */
int httpc_body_begin(struct httpc_body *b, const uint8_t *resp, size_t hend, int status,
                     const char **why);

/* Receives decoded body bytes p[0..n) (borrowed for the call). */
typedef void (*httpc_body_sink)(void *ud, const uint8_t *p, size_t n);

/*
 * Decodes in[0..len) (borrowed; all of it is consumed, bytes after the end of
 * the body are ignored), passing body bytes to sink. eof: the peer closed
 * after these bytes. Returns 1 when the body is complete, 0 when more is
 * needed, or -EPROTO with *why (bad chunk size line, missing CRLF, truncated
 * body at eof).
 */
int httpc_body_feed(struct httpc_body *b, const uint8_t *in, size_t len, int eof,
                    httpc_body_sink sink, void *ud, const char **why);

/* ------------------------------------------------------------------ async part */

/* Where a fetch ended (struct httpc_result.stage). */
enum httpc_stage {
    HTTPC_REPLY,   /* the judge returned rc (its own verdict on the response) */
    HTTPC_RESOLVE, /* uv_getaddrinfo failed; detail = uv_strerror */
    HTTPC_CONNECT, /* the TCP connect failed; detail = uv_strerror */
    HTTPC_TLS,     /* the TLS handshake failed; detail = the reason (tls_conn_handshake) */
    HTTPC_TIMEOUT, /* the deadline passed */
    HTTPC_TOO_BIG, /* the response filled HTTPC_MAX_RESPONSE and the judge wanted more */
    HTTPC_IO,      /* anything else (socket start, write, TLS record, out of memory) */
};

struct httpc_result {
    int rc; /* HTTPC_REPLY: the judge's code; else a negative errno */
    enum httpc_stage stage;
    const char *detail;     /* "" or a reason; borrowed for the on_done call */
    int64_t cert_not_after; /* https: the verified peer certificate's notAfter (Unix s), else 0 */
    char cert_issuer[64];   /* https: its issuer's CN (truncated), else "" */
};

struct httpc;

/*
 * Called after every read with the whole response so far (borrowed;
 * eof: the peer closed), less what the judge dropped with httpc_consume.
 * Returns -EAGAIN to keep reading (at eof the fetch then ends with
 * HTTPC_REPLY -EPROTO "incomplete response"); any other value ends the fetch
 * with stage HTTPC_REPLY and that rc.
 */
typedef int (*httpc_judge_fn)(struct httpc *h, const uint8_t *resp, size_t len, int eof, void *ud);
/*
 * Called once per fetch, after the socket is closed and the resolver request
 * is back, so the owner may start the next fetch or httpc_close from it.
 */
typedef void (*httpc_done_fn)(struct httpc *h, const struct httpc_result *r, void *ud);

/* Embedded by its owner; all fields private. */
struct httpc {
    uv_loop_t *loop;
    httpc_judge_fn judge;
    httpc_done_fn on_done;
    void (*on_closed)(struct httpc *h, void *ud);
    void *ud;
    const struct httpc_url *url; /* borrowed for the fetch */
    struct tls_ctx *tls_ctx;     /* borrowed for the fetch */
    struct tls_conn *tls;        /* owned during an https fetch */
    struct buf ct;               /* owned: ciphertext staging, released when a fetch ends */
    int tls_ready;
    int running; /* a fetch started and on_done not yet called */
    int over;    /* the current fetch is decided; waiting for teardown */
    int closing; /* httpc_close called */
    int gai_busy, tcp_busy, timer_open;
    int eof;
    struct httpc_result res;
    char detail[192];
    uv_getaddrinfo_t gai;
    uv_tcp_t tcp;
    uv_connect_t conn;
    uv_timer_t timer;
    size_t resp_len;
    uint8_t resp[HTTPC_MAX_RESPONSE];
    char readbuf[4096];
};

/* Initialises h (its timer handle on loop). judge and on_done required; ud is passed to both. */
void httpc_init(struct httpc *h, uv_loop_t *loop, httpc_judge_fn judge, httpc_done_fn on_done,
                void *ud);

/*
 * From the judge only: drops the first n bytes (n <= len) of the response it
 * was shown, so a response of any size streams through the fixed buffer (the
 * judge keeps what it needs, e.g. the status, and scans the body as it
 * comes). The next judge call sees only the bytes after them.
 */
void httpc_consume(struct httpc *h, size_t n);

/*
 * Starts one GET of u (borrowed until on_done) over IPv4 (family 4), IPv6
 * (6) or the first address the resolver gives (0) with a deadline of timeout_ms. tls_ctx (borrowed
 * until on_done) is the client context for https:// (ALPN none); NULL makes an https fetch fail
 * with HTTPC_IO -ENOMEM. Returns 0 (on_done follows, never from inside this
 * call... except that it may follow from the loop at once), or -EBUSY while a
 * fetch runs / after httpc_close.
 */
int httpc_fetch(struct httpc *h, const struct httpc_url *u, int family, struct tls_ctx *tls_ctx,
                unsigned timeout_ms);

/*
 * Stops the fetch in flight (no on_done) and closes the handles; on_closed
 * (may be NULL) runs from the loop once h may be freed. Keep running the loop.
 */
void httpc_close(struct httpc *h, void (*on_closed)(struct httpc *h, void *ud));

#endif
