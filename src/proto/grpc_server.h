/*
 * grpc_server: a gRPC server (HTTP/2 via nghttp2) on a libuv loop, h2c or TLS
 * (OpenSSL memory BIOs, ALPN "h2"). Knows nothing about Nezha: methods are
 * registered by path, messages are opaque bytes (already de-framed).
 *
 * Threading: everything runs on the loop thread that owns the server.
 *
 * Call lifecycle:
 *  - When a request's HEADERS arrive for a registered path, a struct grpc_call is
 *    created. Unregistered path -> UNIMPLEMENTED (Trailers-Only) by the server itself.
 *  - on_message is called once per complete received message (5-byte framing
 *    handled here; compressed flag -> INTERNAL/UNIMPLEMENTED error; a message over
 *    the limit -> RESOURCE_EXHAUSTED, and the handler never sees it).
 *  - on_half_close is called when the client ends its side (END_STREAM).
 *    A unary handler typically replies in on_half_close (or in on_message).
 *  - The handler replies with grpc_call_send() (zero or more messages) and then
 *    grpc_call_finish(). grpc_call_finish() with no message sent produces a
 *    Trailers-Only response.
 *  - on_close is called exactly once when the stream is gone for any reason
 *    (finished and flushed, reset by the peer, connection lost, server freed).
 *    After on_close returns the call pointer is invalid. Handlers that keep
 *    a call (e.g. a task stream) must drop their reference in on_close.
 *    on_close never runs inside grpc_call_send/grpc_call_finish: it is delivered
 *    from the loop afterwards (a 0 ms timer), so a caller may keep using its
 *    pointer until the function returns. grpc_server_free is the exception: it
 *    runs on_close for every live call before it returns.
 *
 * Re-entrancy: from inside any callback a handler may call grpc_call_send /
 * grpc_call_finish on any call, and grpc_server_free.
 *
 * Transport limits (see docs/internals/grpc.md): 100 concurrent streams and a
 * 1 MiB receive window per stream and per connection; request header list
 * 16 KiB; 32 MiB of partial request messages per connection; 16 MiB of queued
 * response bytes per call (grpc_call_send -> -ENOBUFS). Connections get a PING
 * every 60 s and are dropped when no ACK comes within 20 s (idle connections
 * that answer PINGs stay); TCP keepalive is on. HTTP/1.1 or any bad preface
 * closes the connection. A request with the compressed flag -> INTERNAL; a
 * grpc-encoding other than identity -> UNIMPLEMENTED; non-POST -> HTTP 405,
 * wrong content-type -> HTTP 415 (both with grpc-status INTERNAL).
 */
#ifndef LOTUS_PROTO_GRPC_SERVER_H
#define LOTUS_PROTO_GRPC_SERVER_H

#include <stddef.h>
#include <stdint.h>

struct uv_loop_s;
struct grpc_server;
struct grpc_call;

/* gRPC status codes used by Lotus. */
enum grpc_status {
    GRPC_STATUS_OK = 0,
    GRPC_STATUS_CANCELLED = 1,
    GRPC_STATUS_UNKNOWN = 2,
    GRPC_STATUS_INVALID_ARGUMENT = 3,
    GRPC_STATUS_DEADLINE_EXCEEDED = 4,
    GRPC_STATUS_NOT_FOUND = 5,
    GRPC_STATUS_RESOURCE_EXHAUSTED = 8,
    GRPC_STATUS_UNIMPLEMENTED = 12,
    GRPC_STATUS_INTERNAL = 13,
    GRPC_STATUS_UNAVAILABLE = 14,
    GRPC_STATUS_UNAUTHENTICATED = 16,
};

/* Default maximum size of one received message (as grpc-go): 4 MiB. */
#define GRPC_DEFAULT_MAX_MESSAGE (4u * 1024u * 1024u)

struct grpc_method {
    const char *path; /* e.g. "/proto.NezhaService/ReportSystemState"; borrowed for server life */
    /* data borrowed for the duration of the callback. */
    void (*on_message)(struct grpc_call *call, const uint8_t *data, size_t len);
    void (*on_half_close)(struct grpc_call *call); /* may be NULL */
    void (*on_close)(struct grpc_call *call);      /* may be NULL */
};

struct grpc_server_config {
    const char *host;       /* bind address, e.g. "0.0.0.0" or "::1"; borrowed during start */
    int port;               /* 0 = pick a free port (see grpc_server_port) */
    const char *tls_cert;   /* PEM path or NULL for h2c */
    const char *tls_key;    /* PEM path or NULL */
    size_t max_message;     /* 0 = GRPC_DEFAULT_MAX_MESSAGE */
    size_t max_connections; /* 0 = 65536; over it new connections are closed at once */
    const struct grpc_method *methods; /* array borrowed for server life */
    size_t n_methods;
    void *user; /* handed back by grpc_server_user() */
};

/*
 * Creates and starts listening. On success *out is owned by the caller (free
 * with grpc_server_free) and 0 is returned; on failure a negative errno-style
 * code and a message in err (errlen bytes) are returned, nothing allocated.
 */
int grpc_server_start(struct uv_loop_s *loop, const struct grpc_server_config *cfg,
                      struct grpc_server **out, char *err, size_t errlen);
/* Port actually bound. */
int grpc_server_port(const struct grpc_server *srv);
void *grpc_server_user(const struct grpc_server *srv);
/*
 * Stops listening, closes every connection (on_close for each live call), and
 * frees the server once the loop has run the close callbacks. NULL is a no-op.
 */
void grpc_server_free(struct grpc_server *srv);
/* Number of open connections (for tests and metrics). Connections refused
 * over max_connections are never counted. */
size_t grpc_server_connection_count(const struct grpc_server *srv);

/* Returns the server of the call. */
struct grpc_server *grpc_call_server(const struct grpc_call *call);
/* First value of request metadata `key` (lower-case), or NULL. Borrowed until on_close. */
const char *grpc_call_metadata(const struct grpc_call *call, const char *key);
/* Request path; borrowed until on_close. */
const char *grpc_call_path(const struct grpc_call *call);
/* Peer IP address as text ("127.0.0.1", "::1"), never NULL; borrowed until on_close. */
const char *grpc_call_peer_ip(const struct grpc_call *call);
/* A small id unique per connection, for logs and to tell connections apart. */
uint64_t grpc_call_connection_id(const struct grpc_call *call);
void grpc_call_set_data(struct grpc_call *call, void *data);
void *grpc_call_get_data(const struct grpc_call *call);
/*
 * Queues one message (copied; the 5-byte prefix is added here) and flushes.
 * Sends response HEADERS first if not yet sent. Returns 0, or -EPIPE if the call
 * is already finished/closed, or -ENOBUFS if more than max queued bytes wait.
 */
int grpc_call_send(struct grpc_call *call, const uint8_t *data, size_t len);
/*
 * Ends the call with status and message (message may be NULL; UTF-8 is
 * percent-encoded as gRPC requires). Trailers go after all queued messages.
 * A second finish is ignored. on_close follows later.
 */
void grpc_call_finish(struct grpc_call *call, enum grpc_status status, const char *message);

#endif
