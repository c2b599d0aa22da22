/*
 * ws_hub: the transport of the dashboard's live-update WebSocket (`GET /ws`,
 * docs/protocol.md §6.1, the "Live data" contract of docs/api-admin.md), on the HTTP
 * server's libuv loop. It knows nothing of servers or frames' content: the
 * v0 frame is rendered by api/ws_frame.h and the route (audience, view
 * password) is api/api_ws.c.
 *
 * The hub validates and answers the upgrade (RFC 6455 handshake, gorilla's
 * same-origin rule), then owns the connection (an http_stream: ws:// or
 * wss://) and runs a server-side wslay context on it for the receive side
 * (client frames, ping/pong, close). ws_hub_broadcast() serialises each
 * audience's frame ONCE into a refcounted WebSocket frame that every
 * connection of that audience writes from (no per-client copy); server frames
 * are unmasked, so the same bytes are valid for every client. Slow consumers
 * are dropped, never buffered without bound. See docs/internals/ws.md.
 *
 * Everything runs on the loop thread; nothing here is thread-safe.
 * The audience (guest or admin = hidden servers visible) is fixed per
 * connection at upgrade time; the caller decides it from the session / view
 * password (docs/protocol.md §6.2).
 */
#ifndef LOTUS_DASHBOARD_WS_HUB_H
#define LOTUS_DASHBOARD_WS_HUB_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct http_request;
struct uv_loop_s;

enum ws_audience {
    WS_AUDIENCE_GUEST = 0, /* hidden servers filtered out */
    WS_AUDIENCE_ADMIN = 1, /* everything the admin may see */
};
#define WS_AUDIENCES 2

struct ws_config {
    unsigned max_connections;  /* further upgrades get HTTP 503 (10000) */
    unsigned max_queue_frames; /* data frames not yet written; over -> dropped (4) */
    size_t max_queue_bytes; /* bytes waiting in the socket's write queue; over -> dropped (8 MiB) */
    size_t max_msg_bytes;   /* largest client message; over -> close 1009 (4 KiB) */
    unsigned ping_every;    /* a ping after every Nth data frame, 0 = never (4, as v0) */
    unsigned pong_timeout_ms; /* no pong this long after a ping -> closed (30 s) */
    unsigned linger_ms;       /* after our close frame: wait this long for the peer's FIN (2 s) */
    unsigned sweep_ms;        /* period of the timeout sweep timer (1 s) */
};

/* Fills the defaults above. */
void ws_config_defaults(struct ws_config *cfg);

struct ws_hub;
struct ws_conn;

/*
 * Creates a hub. loop borrowed (NULL = a hub only used with memory
 * connections: tests, fuzzing; no timers then). cfg copied (NULL = defaults).
 * Returns an owned hub; free with ws_hub_free.
 */
struct ws_hub *ws_hub_new(struct uv_loop_s *loop, const struct ws_config *cfg);

/*
 * Handles a WebSocket upgrade request; call it from the http_server's upgrade
 * callback (http_server_set_upgrade) after routing (`/ws`) and auth. req is
 * borrowed and always answered (see below): on success the 101 is written,
 * the connection is taken (http_request_take_stream; plain or TLS) and
 * joins `audience` (enum ws_audience; any value but WS_AUDIENCE_ADMIN counts as
 * guest, the safe side); the audience's last broadcast frame, if any,
 * is sent at once. Checks, in gorilla's order: method GET (else 405),
 * `Connection` has the token "upgrade" and `Upgrade` the token "websocket"
 * (400), `Sec-WebSocket-Version: 13` (400), Origin (absent = allowed;
 * present: its host[:port] must equal the Host header, case-insensitive, else
 * 403), `Sec-WebSocket-Key` base64 of 16 bytes (400), connection cap (503).
 * Error answers carry `Sec-WebSocket-Version: 13` and a text body; they
 * are sent from the next loop iteration (http.c reads the request after the
 * upgrade callback returns), so req must not be used after this call.
 * Returns 0, -EINVAL (bad request, answered), -EPERM (origin, answered),
 * -EBUSY (cap, answered), -ESHUTDOWN (hub being freed or without a loop,
 * 503 answered), -EIO (hashing failed, 503 answered) or
 * -EPIPE (the client was already gone).
 */
int ws_hub_upgrade(struct ws_hub *hub, struct http_request *req, int audience);

/*
 * Sends one text frame to every open connection: guest_frame's payload to
 * guests, admin_frame's to admins (both borrowed; NULL = nothing for that
 * audience). Each payload is copied once into a refcounted frame shared by
 * all connections of its audience (one copy for both when the payloads are
 * equal) and remembered as the audience's "last frame" for new connections.
 * A connection with max_queue_frames frames still unwritten, or whose write
 * queue would pass max_queue_bytes, is dropped (slow consumer). After every
 * ping_every-th frame of a connection a ping is sent. Returns 0, or
 * -ESHUTDOWN while the hub is being freed.
 */
int ws_hub_broadcast(struct ws_hub *hub, const struct buf *guest_frame,
                     const struct buf *admin_frame);

/* Open (not closing) connections of that audience; -1 audience = all. */
size_t ws_hub_count(const struct ws_hub *hub, int audience);

/*
 * Sends a close frame (1001 going away) to every connection, closes them once
 * written (or after linger_ms), then frees the hub from the loop; run the
 * loop until it has no more handles. hub consumed (NULL is a no-op). Memory
 * connections must be freed before.
 */
void ws_hub_free(struct ws_hub *hub);

/* ---- socket-less seam (tests, fuzzing) ---- */

/*
 * A connection without a socket, already past the handshake, in `audience`.
 * Every byte the server sends is appended to out (borrowed; must outlive the
 * connection). Free with ws_conn_free_memory before ws_hub_free.
 */
struct ws_conn *ws_conn_new_memory(struct ws_hub *hub, int audience, struct buf *out);
/* Feeds client bytes (borrowed) to wslay. Returns 0, or -EPIPE once closed. */
int ws_conn_feed(struct ws_conn *c, const void *data, size_t len);
/* Nonzero once the connection is closing or closed. */
int ws_conn_is_closed(const struct ws_conn *c);
/* Frees a memory connection (c consumed; NULL is a no-op). */
void ws_conn_free_memory(struct ws_conn *c);

#endif
