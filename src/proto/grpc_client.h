/*
 * grpc_client: a gRPC client (HTTP/2 via nghttp2) on a libuv loop over one
 * connection, h2c or TLS (OpenSSL, ALPN "h2", SNI + hostname verification
 * unless insecure). Knows nothing about Nezha.
 *
 * Threading: everything runs on the loop thread.
 *
 * Connection: grpc_client_connect() resolves (uv_getaddrinfo) and connects.
 * on_state(client, 0) reports "connected and ready"; on_state(client, <0) reports
 * a failure or the loss of the connection (every in-flight call then gets
 * on_done with UNAVAILABLE first). After a loss the client is idle; call
 * grpc_client_connect() again to reconnect (the caller owns backoff policy).
 * Keepalive: when keepalive_ms > 0, a PING is sent every keepalive_ms and the
 * connection is dropped (on_state < 0) if no ACK arrives within keepalive_ms.
 * A TLS handshake that has not finished after keepalive_ms counts as a
 * missing ACK. GOAWAY from the server: no new calls (grpc_client_call returns
 * NULL), running calls finish (streams the server did not take get
 * UNAVAILABLE), then the connection is reported lost (on_state < 0).
 *
 * Callback rules: on_message runs while the response is being parsed; on_done
 * and on_state never run inside a grpc_client_* / grpc_ccall_* function, they
 * are delivered from the loop (a 0 ms timer when an API call caused them). Any
 * API function, including grpc_client_disconnect and grpc_client_free, may be
 * called from inside any callback. No callback runs after grpc_client_free.
 * An explicit grpc_client_disconnect gives running calls on_done(CANCELLED)
 * and does not call on_state; a loss gives on_done(UNAVAILABLE) to each call,
 * then on_state(<0).
 *
 * Requests carry te: trailers, content-type application/grpc, user-agent
 * lotus-agent/<LOTUS_VERSION or "lotus">, grpc-timeout when set, and the
 * caller's metadata (keys must be lower-case [a-z0-9-_.]; others are dropped).
 */
#ifndef LOTUS_PROTO_GRPC_CLIENT_H
#define LOTUS_PROTO_GRPC_CLIENT_H

#include <stddef.h>
#include <stdint.h>

struct uv_loop_s;
struct grpc_client;
struct grpc_ccall;

struct grpc_metadata {
    const char *key; /* lower-case */
    const char *value;
};

struct grpc_client_config {
    const char *host; /* borrowed during connect; copied */
    int port;
    int tls;               /* 0 = h2c */
    int insecure;          /* with tls: skip certificate verification */
    const char *ca_file;   /* with tls: extra CA bundle (PEM) or NULL for system store;
                              read by grpc_client_new (a bad file makes connect fail
                              with -EINVAL) */
    unsigned keepalive_ms; /* 0 = none */
    size_t max_message;    /* 0 = 4 MiB */
    void (*on_state)(struct grpc_client *c, int status); /* 0 ready, <0 lost/failed */
    void *user;
};

/* Owned by caller; free with grpc_client_free. cfg is copied. Never NULL. */
struct grpc_client *grpc_client_new(struct uv_loop_s *loop, const struct grpc_client_config *cfg);
void *grpc_client_user(const struct grpc_client *c);
/* Starts connecting; 0 if started (on_state follows), -EALREADY if already
 * connecting/connected, -EINVAL if the TLS context could not be made or the
 * port is out of range (then no callback). Addresses are tried in order. */
int grpc_client_connect(struct grpc_client *c);
/* Drops the connection (in-flight calls get on_done CANCELLED/UNAVAILABLE). Idempotent. */
void grpc_client_disconnect(struct grpc_client *c);
/* Disconnects and frees once the loop has run the close callbacks. NULL is a no-op. */
void grpc_client_free(struct grpc_client *c);
int grpc_client_is_ready(const struct grpc_client *c);

struct grpc_call_opts {
    const char *path;               /* "/proto.NezhaService/ReportSystemState" */
    const struct grpc_metadata *md; /* extra request metadata, copied */
    size_t n_md;
    unsigned timeout_ms; /* 0 = none; otherwise grpc-timeout header + local timer */
    int keep_open;       /* 1: do not half-close after the first message (bidi) */
    /* each received message; data borrowed for the callback. May be NULL. */
    void (*on_message)(struct grpc_ccall *call, const uint8_t *data, size_t len, void *ud);
    /* exactly once: final status (grpc-status, or UNAVAILABLE/DEADLINE_EXCEEDED/
     * INTERNAL when the transport fails) and grpc-message (borrowed, may be ""). */
    void (*on_done)(struct grpc_ccall *call, int status, const char *message, void *ud);
    void *ud;
};

/*
 * Starts a call and sends `msg` (may be len 0) as its first message; unless
 * keep_open, the client half-closes right after. Returns the call (owned by the
 * client; invalid after on_done returns) or NULL if not connected (no callback).
 */
struct grpc_ccall *grpc_client_call(struct grpc_client *c, const struct grpc_call_opts *opts,
                                    const uint8_t *msg, size_t len);
/* For keep_open calls: send another message; 0 or negative errno. */
int grpc_ccall_send(struct grpc_ccall *call, const uint8_t *msg, size_t len);
/* For keep_open calls: half-close. */
void grpc_ccall_close_send(struct grpc_ccall *call);
/* Cancels (RST_STREAM CANCEL); on_done follows with CANCELLED. */
void grpc_ccall_cancel(struct grpc_ccall *call);

#endif
