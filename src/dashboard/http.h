/*
 * http: the dashboard's HTTP/1.1 server on a libuv loop (http-parser 2.9).
 *
 * Everything here runs on the loop thread. Per connection: keep-alive,
 * pipelining (requests are answered strictly in order; parsing pauses while a
 * response is pending), bounded input (request line + headers, body, header
 * count, unparsed bytes), a header-read timeout and an idle keep-alive
 * timeout, write backpressure, and lingering close after an error response
 * so the client can read it. Every response carries the security headers,
 * Date and Content-Length. A small router maps (method, path pattern) to a
 * handler; `:name` matches one non-empty segment and a final `*name` the
 * rest of the path. See docs/internals/http.md.
 *
 * Handlers may answer later (async): every dispatched request must be
 * answered exactly once with http_request_respond*() (or taken with
 * http_request_take_stream() in an upgrade callback). If the client goes away
 * meanwhile the request is orphaned: it stays valid, respond() then just
 * frees it.
 *
 * Compression: respond() gzips a JSON/text body of at least
 * HTTP_GZIP_MIN_BYTES when the request's Accept-Encoding allows gzip
 * (http_gzip.h), labels it Content-Encoding: gzip, and sends "Vary:
 * Accept-Encoding" on every response where that choice was possible. A
 * handler may send a body it compressed itself with http_request_respond_gzip
 * or opt out with http_request_set_compress(req, 0).
 *
 * HTTPS: with a TLS context (http_server_set_tls) every accepted connection
 * is TLS (OpenSSL memory BIOs, proto/tls.h); the handshake runs under the
 * header timeout, and plain HTTP sent to the port gets a 400 and is closed.
 * An upgraded connection is handed over as a struct http_stream, which hides
 * whether bytes are encrypted.
 */
#ifndef LOTUS_DASHBOARD_HTTP_H
#define LOTUS_DASHBOARD_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct slice;
struct http_query;
struct uv_loop_s;
struct tls_ctx;

struct http_server;
struct http_request;
struct http_conn;
struct http_stream;

/* Hard upper bounds of the configurable limits. */
#define HTTP_MAX_HEADERS      128
#define HTTP_MAX_PARAMS       8
#define HTTP_MAX_RESP_HEADERS 8192 /* bytes of extra response headers per response */

struct http_config {
    size_t max_header_bytes;    /* request line + headers; over -> 431 (default 16 KiB) */
    size_t max_headers;         /* header count; over -> 431 (default 100, <= HTTP_MAX_HEADERS) */
    size_t max_body_bytes;      /* request body; over -> 413 (default 1 MiB) */
    unsigned header_timeout_ms; /* from accept / first byte of a request to end of headers (10 s) */
    unsigned idle_timeout_ms;   /* keep-alive wait for the next request, and body gaps (60 s) */
    unsigned linger_ms;         /* after an error response: discard input this long (2 s) */
    unsigned max_connections;   /* further connections are accepted and closed (1024) */
    size_t max_write_queue;     /* stop reading while more bytes wait to be sent (4 MiB) */
};

/* Fills the defaults above. */
void http_config_defaults(struct http_config *cfg);

/* A route handler; req is borrowed until it is answered; ud is the route's. */
typedef void (*http_handler_cb)(struct http_request *req, void *ud);
/*
 * Called for a request that asks for a protocol upgrade (Upgrade +
 * Connection: upgrade, as http-parser reports it). The callback either takes
 * the connection with http_request_take_stream() (and writes the 101 itself), or
 * answers with http_request_respond*() (e.g. 400/403/404); the connection is
 * then closed after that response. Without an upgrade callback the server
 * answers 404.
 */
typedef void (*http_upgrade_cb)(struct http_request *req, void *ud);
/* Called once the server and all its connections are closed and freed. */
typedef void (*http_server_closed_cb)(void *ud);

/*
 * Creates a server (not listening). loop borrowed; may be NULL for a server
 * only used with memory connections (tests, fuzzing). cfg copied (NULL =
 * defaults). Returns an owned server; free with http_server_close.
 */
struct http_server *http_server_new(struct uv_loop_s *loop, const struct http_config *cfg);
/*
 * Binds host:port (port 0 = ephemeral) and listens. host borrowed (IPv4 or
 * IPv6 literal). Returns 0 or a negative libuv/errno code.
 */
int http_server_listen(struct http_server *s, const char *host, int port);
/* The bound port, or -1 when not listening. */
int http_server_port(const struct http_server *s);
/*
 * Adds a route. method ("GET", "POST", ...) and pattern (e.g. "/api/token/:id";
 * a last segment "*name" takes the rest of the path) are copied. Routes are
 * tried in registration order; a GET route also answers HEAD. Returns 0, -EINVAL (bad pattern), or
 * -E2BIG.
 */
int http_server_route(struct http_server *s, const char *method, const char *pattern,
                      http_handler_cb cb, void *ud);
/* Sets the upgrade hook (ud borrowed). */
void http_server_set_upgrade(struct http_server *s, http_upgrade_cb cb, void *ud);
/*
 * Serves HTTPS: connections accepted from now on speak TLS with ctx
 * (consumed: freed with the server; build it with tls_ctx_new_server_http).
 * Call before http_server_listen. NULL is a no-op.
 */
void http_server_set_tls(struct http_server *s, struct tls_ctx *ctx);
/*
 * Answers with a status >= 400 since http_server_new: the handlers' (counted when they
 * respond) and the server's own (bad request, 413, 431, 404...). For /metrics. Loop thread.
 */
uint64_t http_server_errors(const struct http_server *s);
/* 1 when the server has a TLS context (https), else 0. */
int http_server_is_tls(const struct http_server *s);
/*
 * Stops listening and closes every connection (pending requests become
 * orphans), then frees the server and calls cb(ud) (cb may be NULL). With no
 * open handles this happens before http_server_close returns. Memory
 * connections must be freed before.
 */
void http_server_close(struct http_server *s, http_server_closed_cb cb, void *ud);

/* ---- requests (all results borrowed from req, valid until it is answered) ---- */

/* Method name as sent ("GET", "HEAD", ...). */
const char *http_request_method(const struct http_request *req);
int http_request_is_head(const struct http_request *req);
/* Percent-decoded path without the query ('+' kept). */
const char *http_request_path(const struct http_request *req);
/* First value of a decoded query parameter, or NULL. */
const char *http_request_query(const struct http_request *req, const char *name);
const struct http_query *http_request_query_all(const struct http_request *req);
/* Value of a route parameter (":id" -> "id"), percent-decoded, or NULL. */
const char *http_request_param(const struct http_request *req, const char *name);
/* First header with that name (case-insensitive), or NULL. */
const char *http_request_header(const struct http_request *req, const char *name);
/* Cookie value from the Cookie header (Go rules); 0 and *out borrowed, or -ENOENT. */
int http_request_cookie(const struct http_request *req, const char *name, struct slice *out);
/* The request body (empty slice when none). */
void http_request_body(const struct http_request *req, struct slice *out);
/* Peer address as text ("127.0.0.1", "::1"; v4-mapped IPv6 shown as IPv4). */
const char *http_request_peer_ip(const struct http_request *req);
/* 0 once the client connection is gone (the answer will be dropped). */
int http_request_alive(const struct http_request *req);
/*
 * 1 when the answer may be gzip-encoded: the Accept-Encoding header(s)
 * accept gzip (http_gzip_accept_gzip: "gzip;q=0" refuses, "*" counts, an
 * absent header means identity).
 */
int http_request_accepts_gzip(const struct http_request *req);
/* 1 when the request came over TLS (https), else 0. */
int http_request_is_tls(const struct http_request *req);

/* ---- responses ---- */

/*
 * Adds a response header for the coming respond() call. name/value borrowed
 * (copied). Returns 0, -EINVAL (CR, LF or NUL inside, empty name), -E2BIG
 * (over HTTP_MAX_RESP_HEADERS), or -EALREADY after the answer.
 */
int http_request_add_header(struct http_request *req, const char *name, const char *value);
/*
 * Answers the request and frees it (req is invalid afterwards, whatever the
 * result). content_type borrowed (NULL = none); body consumed: its bytes are
 * taken and *body is left empty (NULL = no body). HEAD answers keep the
 * Content-Length but send no body. Returns 0, or -EPIPE when the client was
 * gone (nothing sent).
 */
int http_request_respond(struct http_request *req, int status, const char *content_type,
                         struct buf *body);
/*
 * allow 0: respond() sends the body as given even when the client accepts
 * gzip (for bodies with their own negotiation, like the precompressed assets;
 * no Vary is added then either). allow 1 is the default.
 */
void http_request_set_compress(struct http_request *req, int allow);
/*
 * respond() for a body that already is one gzip member (gzbody consumed like
 * respond()'s body): adds Content-Encoding: gzip and Vary: Accept-Encoding
 * (unless a Vary naming it was added). Only call it when
 * http_request_accepts_gzip(req). HEAD answers keep its Content-Length. If
 * the headers do not fit HTTP_MAX_RESP_HEADERS it answers 500 instead.
 */
int http_request_respond_gzip(struct http_request *req, int status, const char *content_type,
                              struct buf *gzbody);
/* respond() with Content-Type: application/json; charset=utf-8. */
int http_request_respond_json(struct http_request *req, int status, struct buf *body);
/* respond() with a copy of a NUL-terminated text (borrowed). */
int http_request_respond_text(struct http_request *req, int status, const char *content_type,
                              const char *text);

/* ---- upgraded streams ---- */

/*
 * Read callback of a stream: n > 0 bytes at data (borrowed for the call;
 * plaintext also under TLS), or n < 0 with UV_EOF (also a TLS close_notify),
 * UV_EPROTO (bad TLS record) or another libuv error; data is then NULL.
 * The stream stays valid until http_stream_close, which the callback may call.
 */
typedef void (*http_stream_read_cb)(struct http_stream *st, long n, const char *data, void *ud);
/* Completion of a write or shutdown: status 0 or a negative libuv code (UV_ECANCELED on close). */
typedef void (*http_stream_done_cb)(void *ud, int status);

/*
 * Upgrade callbacks only: takes the client connection as a stream (owned by
 * the caller; close it with http_stream_close), reading stopped, and points
 * *leftover at bytes already received after the request head (plaintext;
 * borrowed: valid only until the upgrade callback returns). req is freed
 * when the callback returns. Returns NULL if the connection is already gone
 * (or is a socket-less memory connection).
 */
struct http_stream *http_request_take_stream(struct http_request *req, struct slice *leftover);
/*
 * Starts reading into buf[0..cap) (borrowed until the stream is closed; it
 * is only used during a callback, so several streams may share one). cb is
 * called for every piece; ud borrowed. Returns 0 or a negative libuv code.
 */
int http_stream_read_start(struct http_stream *st, char *buf, size_t cap, http_stream_read_cb cb,
                           void *ud);
/*
 * Writes data[0..len). Plain: zero-copy, data is borrowed until cb runs, so
 * one buffer may be written to many streams. TLS: encrypted into the
 * stream's own copy at once, data borrowed for the call only. cb(ud, status)
 * runs once the bytes are handed to the kernel (or fail, or the stream is
 * closed). Returns 0, or a negative code (-E2BIG over 4 GiB, -EPROTO, a libuv
 * error) and cb is never called.
 */
int http_stream_write(struct http_stream *st, const char *data, size_t len, http_stream_done_cb cb,
                      void *ud);
/* Bytes queued for the socket and not yet written (ciphertext under TLS). */
size_t http_stream_write_queue_size(const struct http_stream *st);
/*
 * Ends our direction after the queued writes: TLS close_notify, then FIN.
 * cb as for writes. Returns 0 or a negative libuv code (cb never called).
 */
int http_stream_shutdown(struct http_stream *st, http_stream_done_cb cb, void *ud);
/* 1 for a TLS stream. */
int http_stream_is_tls(const struct http_stream *st);
/*
 * Closes and frees the stream (consumed; NULL is a no-op). Pending write and
 * shutdown callbacks still run, with UV_ECANCELED; no read callback follows.
 */
void http_stream_close(struct http_stream *st);

/* ---- socket-less seam (tests, fuzzing) ---- */

/*
 * A connection without a socket on server s (borrowed): bytes given to
 * http_conn_feed are parsed and routed exactly like socket input, and every
 * response byte is appended to out (borrowed; must outlive the connection).
 * peer_ip borrowed (copied). Timers do not run. Free with
 * http_conn_free_memory (pending requests become orphans).
 */
struct http_conn *http_conn_new_memory(struct http_server *s, struct buf *out, const char *peer_ip);
/* Feeds bytes (borrowed). Returns 0, or -EPIPE once the connection is closed. */
int http_conn_feed(struct http_conn *c, const char *data, size_t len);
/* Nonzero once the connection has been closed (error, Connection: close). */
int http_conn_is_closed(const struct http_conn *c);
void http_conn_free_memory(struct http_conn *c);

#endif
