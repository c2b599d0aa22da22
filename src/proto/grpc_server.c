/*
 * grpc_server: gRPC over HTTP/2 (nghttp2, ssize_t API of 1.52) on libuv, h2c or
 * TLS through h2io/tls. Design notes: docs/internals/grpc.md.
 *
 * Re-entrancy rule: user callbacks (on_message, on_half_close) run inside
 * nghttp2_session_mem_recv, where flushing is deferred; on_close never runs
 * inside nghttp2 nor inside an API function called by the user. Closed calls
 * are queued on the connection's reap list and delivered when the outermost
 * entry (a uv callback, or a 0 ms reap timer after an API call) unwinds.
 */
#include "grpc_server.h"
#include "grpc_server_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>
#include <uv.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "proto/grpc_frame.h"
#include "proto/h2io.h"
#include "proto/reentry.h"
#include "proto/tls.h"

#define SRV_MAX_HEADER_BYTES  (16u * 1024u) /* request header list, name+value+32 each */
#define SRV_MAX_STREAMS       100u          /* SETTINGS_MAX_CONCURRENT_STREAMS */
#define SRV_WINDOW            (1 << 20)     /* stream and connection receive window */
#define SRV_MAX_CALL_QUEUE    (16u << 20)   /* queued response bytes per call */
#define SRV_MAX_CONN_RX       (32u << 20)   /* partial request messages per connection */
#define SRV_MAX_GRPC_MESSAGE  1024u         /* bytes of grpc-message before encoding */
#define SRV_PING_INTERVAL_MS  60000u
#define SRV_PING_TIMEOUT_MS   20000u
#define SRV_READ_BUF          (64u * 1024u)
#define SRV_DEFAULT_MAX_CONNS 65536u

struct sconn;

struct grpc_call {
    struct sconn *conn;
    struct grpc_call *prev, *next; /* in conn->calls or conn->reap */
    int32_t stream_id;
    const struct grpc_method *method; /* NULL until dispatched */
    char *path;                       /* owned */
    struct buf md;                    /* "key\0value\0" pairs, first value wins */
    size_t hdr_bytes;
    int is_post, ct_ok, too_many_headers;
    char *encoding; /* owned grpc-encoding or NULL */
    struct grpc_deframer deframer;
    size_t rx_counted; /* deframer bytes counted in conn->rx_buffered */
    struct buf outq;   /* framed response messages not yet given to nghttp2 */
    size_t out_off;
    int headers_sent;
    int finished; /* grpc_call_finish (or an internal error) done */
    int closed;   /* stream gone: API calls return -EPIPE */
    int deferred; /* data provider returned NGHTTP2_ERR_DEFERRED */
    int rejected; /* answered by the transport; no user callbacks */
    int half_closed;
    enum grpc_status status;
    char *message; /* owned percent-encoded grpc-message, or NULL */
    void *data;
};

struct sconn {
    struct h2io io; /* first: container_of from io */
    struct grpc_server *srv;
    struct sconn *prev, *next;
    uv_timer_t ping_timer;
    struct reentry_reap rr; /* enter/leave depth + 0 ms reap timer (data = c) */
    int handles_open;
    uint64_t id;
    char peer_ip[INET6_ADDRSTRLEN];
    struct grpc_call *calls;
    struct grpc_call *reap;
    struct grpc_call *reap_tail;
    size_t rx_buffered;
    int close_req;
    int torn_down;
    int ping_out;
    int got_settings; /* the client's preface + SETTINGS arrived (handshake deadline passed) */
    int read_paused;
};

struct grpc_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    int listener_open;
    int port;
    size_t max_message;
    size_t max_connections;
    const struct grpc_method *methods;
    size_t n_methods;
    void *user;
    struct tls_ctx *tls;
    nghttp2_session_callbacks *cbs;
    nghttp2_option *opt;
    struct sconn *conns;
    size_t n_conns; /* open (not torn down) */
    size_t n_alive; /* allocated (handles not yet closed) */
    uint64_t next_id;
    unsigned ping_interval_ms, ping_timeout_ms;
    int freeing;
    char rbuf[SRV_READ_BUF];
};

static void conn_settle(struct sconn *c);
static void conn_close(struct sconn *c);
static void conn_flush(struct sconn *c);
static void conn_backpressure(struct sconn *c);
static void srv_maybe_free(struct grpc_server *srv);
static void ping_arm(struct sconn *c, unsigned ms);

/* ---- call helpers ---- */

static const char *md_get(const struct buf *md, const char *key)
{
    const char *p = md->data;
    const char *end = md->data + md->len;
    while (p < end) {
        const char *v = p + strlen(p) + 1;
        if (strcmp(p, key) == 0)
            return v;
        p = v + strlen(v) + 1;
    }
    return NULL;
}

static void call_unlink(struct grpc_call **head, struct grpc_call *call)
{
    if (call->prev)
        call->prev->next = call->next;
    else
        *head = call->next;
    if (call->next)
        call->next->prev = call->prev;
    call->prev = call->next = NULL;
}

static void call_rx_account(struct grpc_call *call)
{
    struct sconn *c = call->conn;
    size_t now = grpc_deframer_buffered(&call->deframer);
    c->rx_buffered = c->rx_buffered - call->rx_counted + now;
    call->rx_counted = now;
}

static void call_free(struct grpc_call *call)
{
    grpc_deframer_release(&call->deframer);
    call_rx_account(call);
    buf_release(&call->md);
    buf_release(&call->outq);
    free(call->path);
    free(call->encoding);
    free(call->message);
    free(call);
}

static char *encode_message(const char *msg)
{
    if (!msg || !msg[0])
        return NULL;
    struct buf b;
    buf_init(&b, 0);
    size_t n = strnlen(msg, SRV_MAX_GRPC_MESSAGE);
    char *tmp = xstrndup(msg, n);
    grpc_percent_encode(&b, tmp);
    free(tmp);
    return buf_detach(&b, NULL);
}

/* clang-format off */
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}
/* clang-format on */

/* Trailers-Only (or transport error) response: one HEADERS frame with END_STREAM. */
static int submit_trailers_only(struct grpc_call *call, const char *http_status)
{
    char st[16];
    snprintf(st, sizeof(st), "%d", (int)call->status);
    nghttp2_nv nva[4] = {NV(":status", http_status), NV("content-type", "application/grpc"),
                         NV("grpc-status", st), NV("grpc-message", "")};
    size_t n = 3;
    if (call->message) {
        nva[3].value = (uint8_t *)call->message;
        nva[3].valuelen = strlen(call->message);
        n = 4;
    }
    call->headers_sent = 1;
    return nghttp2_submit_response(call->conn->io.ng, call->stream_id, nva, n, NULL);
}

static int submit_trailers(struct grpc_call *call)
{
    char st[16];
    snprintf(st, sizeof(st), "%d", (int)call->status);
    nghttp2_nv nva[2] = {NV("grpc-status", st), NV("grpc-message", "")};
    size_t n = 1;
    if (call->message) {
        nva[1].value = (uint8_t *)call->message;
        nva[1].valuelen = strlen(call->message);
        n = 2;
    }
    return nghttp2_submit_trailer(call->conn->io.ng, call->stream_id, nva, n);
}

static ssize_t call_read(nghttp2_session *session, int32_t stream_id, uint8_t *out, size_t length,
                         uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
    (void)session;
    (void)stream_id;
    (void)user_data;
    struct grpc_call *call = source->ptr;
    size_t n = h2io_outq_take(&call->outq, &call->out_off, out, length);
    if (call->outq.len - call->out_off == 0) {
        if (call->finished) {
            /* Pitfall 1: trailers from inside the read callback, after the data. */
            *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
            if (submit_trailers(call) != 0)
                return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
            return (ssize_t)n;
        }
        if (n == 0) {
            call->deferred = 1;
            return NGHTTP2_ERR_DEFERRED;
        }
    }
    return (ssize_t)n;
}

/* Ends a call from inside the transport (bad request, oversize message). */
static void call_fail(struct grpc_call *call, enum grpc_status st, const char *msg,
                      const char *http_status)
{
    if (call->finished || call->closed)
        return;
    call->finished = 1;
    call->status = st;
    free(call->message);
    call->message = encode_message(msg);
    grpc_deframer_release(&call->deframer);
    call_rx_account(call);
    if (!call->headers_sent) {
        if (submit_trailers_only(call, http_status) != 0)
            nghttp2_submit_rst_stream(call->conn->io.ng, NGHTTP2_FLAG_NONE, call->stream_id,
                                      NGHTTP2_INTERNAL_ERROR);
    } else if (call->deferred) {
        call->deferred = 0;
        nghttp2_session_resume_data(call->conn->io.ng, call->stream_id);
    }
}

static void call_reject(struct grpc_call *call, enum grpc_status st, const char *msg,
                        const char *http_status)
{
    call->rejected = 1;
    call->method = NULL;
    call_fail(call, st, msg, http_status);
}

/* ---- nghttp2 callbacks ---- */

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *ud)
{
    struct sconn *c = ud;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct grpc_call *call = xcalloc(1, sizeof(*call));
    call->conn = c;
    call->stream_id = frame->hd.stream_id;
    buf_init(&call->md, SRV_MAX_HEADER_BYTES);
    buf_init(&call->outq, 0);
    grpc_deframer_init(&call->deframer, c->srv->max_message);
    call->next = c->calls;
    if (c->calls)
        c->calls->prev = call;
    c->calls = call;
    nghttp2_session_set_stream_user_data(session, call->stream_id, call);
    return 0;
}

static int content_type_ok(const uint8_t *v, size_t n)
{
    static const char ct[] = "application/grpc";
    size_t k = sizeof(ct) - 1;
    if (n < k || memcmp(v, ct, k) != 0)
        return 0;
    return n == k || v[k] == '+' || v[k] == ';';
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    (void)flags;
    (void)ud;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0; /* request trailers carry nothing we use */
    struct grpc_call *call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!call)
        return 0;
    call->hdr_bytes += namelen + valuelen + 32;
    if (call->hdr_bytes > SRV_MAX_HEADER_BYTES) {
        call->too_many_headers = 1;
        return 0;
    }
    /* Pitfall 12: names arrive lower-case, values NUL-terminated. */
    const char *n = (const char *)name;
    const char *v = (const char *)value;
    if (n[0] == ':') {
        if (strcmp(n, ":method") == 0)
            call->is_post = strcmp(v, "POST") == 0;
        else if (strcmp(n, ":path") == 0 && !call->path)
            call->path = xstrndup(v, valuelen);
        return 0;
    }
    if (strcmp(n, "content-type") == 0)
        call->ct_ok = content_type_ok(value, valuelen);
    else if (strcmp(n, "grpc-encoding") == 0 && !call->encoding)
        call->encoding = xstrndup(v, valuelen);
    if (!md_get(&call->md, n)) {
        buf_append(&call->md, n, namelen + 1);
        buf_append(&call->md, v, valuelen + 1);
    }
    return 0;
}

static void call_dispatch(struct grpc_call *call)
{
    struct grpc_server *srv = call->conn->srv;
    if (call->too_many_headers) {
        call_reject(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "request header list too large", "431");
        return;
    }
    if (!call->is_post) {
        call_reject(call, GRPC_STATUS_INTERNAL, "invalid gRPC request method", "405");
        return;
    }
    if (!call->ct_ok) {
        call_reject(call, GRPC_STATUS_INTERNAL, "invalid gRPC request content-type", "415");
        return;
    }
    if (call->encoding && strcmp(call->encoding, "identity") != 0) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "grpc: Decompressor is not installed for grpc-encoding \"%.64s\"", call->encoding);
        call_reject(call, GRPC_STATUS_UNIMPLEMENTED, msg, "200");
        return;
    }
    for (size_t i = 0; call->path && i < srv->n_methods; i++) {
        if (strcmp(srv->methods[i].path, call->path) == 0) {
            call->method = &srv->methods[i];
            return;
        }
    }
    char msg[200];
    snprintf(msg, sizeof(msg), "unknown method %.160s", call->path ? call->path : "(none)");
    call_reject(call, GRPC_STATUS_UNIMPLEMENTED, msg, "200");
}

static void call_half_close(struct grpc_call *call)
{
    if (call->half_closed)
        return;
    call->half_closed = 1;
    if (!call->method || call->rejected || call->finished)
        return;
    if (!grpc_deframer_idle(&call->deframer)) {
        call_fail(call, GRPC_STATUS_INTERNAL, "grpc: request ended inside a message", "200");
        return;
    }
    if (call->method->on_half_close)
        call->method->on_half_close(call);
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *ud)
{
    struct sconn *c = ud;
    struct grpc_call *call = NULL;
    if (!c->got_settings && frame->hd.type == NGHTTP2_SETTINGS) {
        /* Handshake done: from now on the timer is the keepalive PING. */
        c->got_settings = 1;
        ping_arm(c, c->srv->ping_interval_ms);
    }
    switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
        call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
        if (!call)
            break;
        if (frame->headers.cat == NGHTTP2_HCAT_REQUEST)
            call_dispatch(call);
        if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
            call_half_close(call);
        break;
    case NGHTTP2_DATA:
        call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
        if (call && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
            call_half_close(call);
        break;
    case NGHTTP2_PING:
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) && c->ping_out) {
            c->ping_out = 0;
            ping_arm(c, c->srv->ping_interval_ms);
        }
        break;
    default:
        break;
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t len, void *ud)
{
    (void)flags;
    struct sconn *c = ud;
    struct grpc_call *call = nghttp2_session_get_stream_user_data(session, stream_id);
    if (!call || !call->method || call->finished || call->closed)
        return 0;
    while (len > 0 && !call->finished && !c->close_req) {
        struct grpc_frame_msg msg;
        ssize_t r = grpc_deframer_feed(&call->deframer, data, len, &msg);
        if (r == GRPC_FRAME_INCOMPLETE)
            break;
        if (r == GRPC_FRAME_ERROR) {
            char m[128];
            if (call->deframer.too_big) {
                /* Same text as grpc-go, so peers and operators recognise it. */
                snprintf(m, sizeof(m),
                         "grpc: received message larger than max (%" PRIu32 " vs. %zu)",
                         call->deframer.too_big, c->srv->max_message);
                call_fail(call, GRPC_STATUS_RESOURCE_EXHAUSTED, m, "200");
            } else {
                call_fail(call, GRPC_STATUS_INTERNAL, call->deframer.error, "200");
            }
            return 0;
        }
        data += r;
        len -= (size_t)r;
        if (msg.compressed) {
            call_fail(call, GRPC_STATUS_INTERNAL,
                      "grpc: compressed flag set with identity or empty encoding", "200");
            return 0;
        }
        call_rx_account(call);
        call->method->on_message(call, msg.data, msg.len);
    }
    if (call->finished)
        return 0;
    call_rx_account(call);
    if (c->rx_buffered > SRV_MAX_CONN_RX)
        call_fail(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "connection receive buffer limit reached",
                  "200");
    return 0;
}

static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *ud)
{
    (void)ud;
    if (frame->hd.type != NGHTTP2_HEADERS || !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    /* The response is complete while the client still sends: tell it to stop
     * (RST_STREAM NO_ERROR, RFC 9113 §8.1), as grpc-go does. */
    if (nghttp2_session_get_stream_remote_close(session, frame->hd.stream_id) == 0)
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                  NGHTTP2_NO_ERROR);
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *ud)
{
    (void)error_code;
    struct sconn *c = ud;
    struct grpc_call *call = nghttp2_session_get_stream_user_data(session, stream_id);
    if (!call)
        return 0;
    nghttp2_session_set_stream_user_data(session, stream_id, NULL);
    call->closed = 1;
    call_unlink(&c->calls, call);
    /* on_close is delivered later, outside nghttp2 (conn_settle). */
    if (c->reap_tail)
        c->reap_tail->next = call;
    else
        c->reap = call;
    call->prev = c->reap_tail;
    c->reap_tail = call;
    return 0;
}

/* ---- connection ---- */

static void reap_pop(struct sconn *c, struct grpc_call *call)
{
    if (c->reap_tail == call)
        c->reap_tail = call->prev;
    call_unlink(&c->reap, call);
}

static void deliver_close(struct grpc_call *call)
{
    if (call->method && !call->rejected && call->method->on_close)
        call->method->on_close(call);
    call_free(call);
}

static void handle_closed(uv_handle_t *h)
{
    struct sconn *c = h->data;
    if (--c->handles_open > 0)
        return;
    struct grpc_server *srv = c->srv;
    free(c);
    srv->n_alive--;
    srv_maybe_free(srv);
}

static void conn_teardown(struct sconn *c)
{
    struct grpc_server *srv = c->srv;
    c->torn_down = 1;
    reentry_enter(&c->rr.re); /* never left: nothing settles a torn-down connection */
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->n_conns--;
    /* Pitfall 7: nghttp2_session_del does not report stream closes. */
    for (struct grpc_call *k = c->calls; k; k = k->next)
        k->closed = 1;
    while (c->reap) {
        struct grpc_call *call = c->reap;
        reap_pop(c, call);
        deliver_close(call);
    }
    while (c->calls) {
        struct grpc_call *call = c->calls;
        call_unlink(&c->calls, call);
        deliver_close(call);
    }
    h2io_release(&c->io);
    if (c->io.fake)
        return; /* grpc_server__feed frees it */
    c->handles_open = 3;
    uv_close((uv_handle_t *)&c->io.tcp, handle_closed);
    uv_close((uv_handle_t *)&c->ping_timer, handle_closed);
    reentry_reap_close(&c->rr, handle_closed);
}

/* Runs when the outermost entry on this connection unwinds (reentry depth 0). */
static void conn_settle(struct sconn *c)
{
    if (c->torn_down)
        return;
    reentry_enter(&c->rr.re);
    int flushed = 0;
    while (!c->close_req) {
        if (c->reap) {
            struct grpc_call *call = c->reap;
            reap_pop(c, call);
            deliver_close(call); /* may queue output or close more streams */
            flushed = 0;
            continue;
        }
        if (!flushed && c->io.want_flush) {
            flushed = 1; /* once per round: at high water want_flush stays set */
            conn_flush(c);
            continue;
        }
        break;
    }
    conn_backpressure(c);
    if (!c->close_req && h2io_finished(&c->io))
        c->close_req = 1;
    (void)reentry_leave(&c->rr.re); /* settling: the caller is the outermost entry */
    if (c->close_req)
        conn_teardown(c);
}

static void conn_enter(struct sconn *c)
{
    reentry_enter(&c->rr.re);
}

/* Leaving a uv callback: settle now. */
static void conn_leave_cb(struct sconn *c)
{
    if (reentry_leave(&c->rr.re))
        conn_settle(c);
}

static void reap_cb(uv_timer_t *t)
{
    struct sconn *c = t->data;
    conn_enter(c);
    conn_leave_cb(c);
}

/* Leaving an API function called by the user: never call back synchronously. */
static void conn_leave_api(struct sconn *c)
{
    if (!reentry_leave(&c->rr.re) || c->torn_down)
        return;
    if (c->reap || c->close_req || c->io.want_flush) {
        if (c->io.fake)
            conn_settle(c);
        else
            reentry_reap_defer(&c->rr, reap_cb);
    }
}

static void conn_close(struct sconn *c)
{
    if (c->close_req || c->torn_down)
        return;
    c->close_req = 1;
    if (!reentry_inside(&c->rr.re))
        conn_teardown(c);
}

static void conn_flush(struct sconn *c)
{
    if (c->close_req || c->torn_down)
        return;
    if (h2io_flush(&c->io) < 0)
        conn_close(c);
}

static void ping_cb(uv_timer_t *t);

/* A connection that has not completed the HTTP/2 (and TLS) handshake by then is dropped. */
#define GRPC_HANDSHAKE_MS 10000u

static void ping_arm(struct sconn *c, unsigned ms)
{
    if (!c->io.fake && !c->torn_down)
        uv_timer_start(&c->ping_timer, ping_cb, ms, 0);
}

static void ping_cb(uv_timer_t *t)
{
    struct sconn *c = t->data;
    struct grpc_server *srv = c->srv;
    conn_enter(c);
    if (c->ping_out || !c->io.tls_ready || !c->got_settings) {
        log_info("grpc connection %" PRIu64 " from \"%s\" dropped: %s", c->id, c->peer_ip,
                 c->ping_out        ? "no PING ACK"
                 : !c->io.tls_ready ? "TLS handshake timeout"
                                    : "no HTTP/2 preface and SETTINGS within the handshake time");
        conn_close(c);
    } else if (nghttp2_submit_ping(c->io.ng, NGHTTP2_FLAG_NONE, NULL) == 0) {
        c->ping_out = 1;
        conn_flush(c);
        ping_arm(c, srv->ping_timeout_ms);
    }
    conn_leave_cb(c);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    struct sconn *c = h->data;
    /* One read buffer per server: each read is consumed before the next alloc. */
    *b = uv_buf_init(c->srv->rbuf, sizeof(c->srv->rbuf));
}

static void conn_backpressure(struct sconn *c)
{
    if (c->io.fake || c->torn_down || c->close_req)
        return;
    if (!c->read_paused && c->io.queued > H2IO_HIGH_WATER) {
        uv_read_stop((uv_stream_t *)&c->io.tcp);
        c->read_paused = 1;
    }
}

static int conn_input(struct sconn *c, const uint8_t *p, size_t n)
{
    char err[256] = "";
    int rc = h2io_recv(&c->io, p, n, NULL, err, sizeof(err));
    if (rc < 0) {
        log_debug("grpc connection %" PRIu64 " from \"%s\" closed: %s", c->id, c->peer_ip, err);
        conn_close(c);
        return rc;
    }
    c->io.want_flush = 1;
    return 0;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct sconn *c = s->data;
    conn_enter(c);
    if (nread < 0) {
        conn_close(c);
    } else if (nread > 0 && !c->close_req) {
        conn_input(c, (const uint8_t *)b->base, (size_t)nread);
    }
    conn_leave_cb(c);
}

static void on_written(struct h2io *io, int status)
{
    struct sconn *c = (struct sconn *)io;
    if (c->torn_down)
        return;
    conn_enter(c);
    if (status < 0) {
        conn_close(c);
    } else {
        if (c->read_paused && io->queued < H2IO_LOW_WATER && !c->close_req) {
            c->read_paused = 0;
            uv_read_start((uv_stream_t *)&io->tcp, alloc_cb, read_cb);
        }
    }
    conn_leave_cb(c);
}

static struct sconn *conn_new(struct grpc_server *srv, int fake)
{
    struct sconn *c = xcalloc(1, sizeof(*c));
    h2io_init(&c->io, on_written);
    c->io.fake = fake;
    c->io.tls_ready = 1;
    c->srv = srv;
    c->id = ++srv->next_id;
    snprintf(c->peer_ip, sizeof(c->peer_ip), "%s", fake ? "fuzz" : "?");
    if (nghttp2_session_server_new2(&c->io.ng, srv->cbs, c, srv->opt) != 0) {
        fprintf(stderr, "fatal: nghttp2_session_server_new2 failed\n");
        abort();
    }
    /* Pitfall 5: SETTINGS right after accept; pitfall 4: large windows. */
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, SRV_MAX_STREAMS},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, SRV_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, SRV_MAX_HEADER_BYTES},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };
    nghttp2_submit_settings(c->io.ng, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0]));
    nghttp2_session_set_local_window_size(c->io.ng, NGHTTP2_FLAG_NONE, 0, SRV_WINDOW);
    if (srv->tls && !fake) {
        c->io.tls = tls_conn_new(srv->tls, 1, NULL);
        c->io.tls_ready = 0;
    }
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->n_conns++;
    srv->n_alive++;
    return c;
}

static void reject_closed(uv_handle_t *h)
{
    free(h);
}

static void on_connection(uv_stream_t *ls, int status)
{
    struct grpc_server *srv = ls->data;
    if (status < 0) {
        log_warn("grpc accept failed: %s", uv_strerror(status));
        return;
    }
    if (srv->n_conns >= srv->max_connections) {
        uv_tcp_t *t = xmalloc(sizeof(*t));
        uv_tcp_init(srv->loop, t);
        if (uv_accept(ls, (uv_stream_t *)t) == 0)
            log_warn("grpc connection refused: limit of %zu connections reached",
                     srv->max_connections);
        uv_close((uv_handle_t *)t, reject_closed);
        return;
    }
    struct sconn *c = conn_new(srv, 0);
    uv_tcp_init(srv->loop, &c->io.tcp);
    uv_timer_init(srv->loop, &c->ping_timer);
    reentry_reap_init(&c->rr, srv->loop, c);
    c->io.tcp.data = c;
    c->ping_timer.data = c;
    if (uv_accept(ls, (uv_stream_t *)&c->io.tcp) != 0) {
        conn_close(c);
        return;
    }
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getpeername(&c->io.tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)&ss, c->peer_ip, sizeof(c->peer_ip));
        else
            uv_ip4_name((struct sockaddr_in *)&ss, c->peer_ip, sizeof(c->peer_ip));
    }
    uv_tcp_nodelay(&c->io.tcp, 1);
    uv_tcp_keepalive(&c->io.tcp, 1, 60);
    if (uv_read_start((uv_stream_t *)&c->io.tcp, alloc_cb, read_cb) != 0) {
        conn_close(c);
        return;
    }
    /* Until the client's preface + SETTINGS arrive, the timer is the handshake deadline. */
    ping_arm(c,
             GRPC_HANDSHAKE_MS < srv->ping_interval_ms ? GRPC_HANDSHAKE_MS : srv->ping_interval_ms);
    conn_enter(c);
    conn_flush(c);
    conn_leave_cb(c);
}

/* ---- server ---- */

static int make_callbacks(struct grpc_server *srv)
{
    if (nghttp2_session_callbacks_new(&srv->cbs) != 0 || nghttp2_option_new(&srv->opt) != 0)
        return -ENOMEM;
    nghttp2_session_callbacks_set_on_begin_headers_callback(srv->cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(srv->cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(srv->cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(srv->cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_send_callback(srv->cbs, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(srv->cbs, on_stream_close);
    /* Rapid-reset and CONTINUATION-flood limits (backported to 1.52). */
    nghttp2_option_set_stream_reset_rate_limit(srv->opt, 200, 50);
    nghttp2_option_set_max_continuations(srv->opt, 16);
    nghttp2_option_set_max_outbound_ack(srv->opt, 1000);
    nghttp2_option_set_max_settings(srv->opt, 32);
    return 0;
}

static void srv_release(struct grpc_server *srv)
{
    nghttp2_session_callbacks_del(srv->cbs);
    nghttp2_option_del(srv->opt);
    tls_ctx_free(srv->tls);
    free(srv);
}

static void srv_maybe_free(struct grpc_server *srv)
{
    if (srv->freeing && !srv->listener_open && srv->n_alive == 0)
        srv_release(srv);
}

static void listener_closed(uv_handle_t *h)
{
    struct grpc_server *srv = h->data;
    srv->listener_open = 0;
    srv_maybe_free(srv);
}

static void listener_closed_start_failed(uv_handle_t *h)
{
    srv_release(h->data);
}

int grpc_server_start(struct uv_loop_s *loop, const struct grpc_server_config *cfg,
                      struct grpc_server **out, char *err, size_t errlen)
{
    struct grpc_server *srv = xcalloc(1, sizeof(*srv));
    srv->loop = loop;
    srv->max_message = cfg->max_message ? cfg->max_message : GRPC_DEFAULT_MAX_MESSAGE;
    srv->max_connections = cfg->max_connections ? cfg->max_connections : SRV_DEFAULT_MAX_CONNS;
    srv->methods = cfg->methods;
    srv->n_methods = cfg->n_methods;
    srv->user = cfg->user;
    srv->ping_interval_ms = SRV_PING_INTERVAL_MS;
    srv->ping_timeout_ms = SRV_PING_TIMEOUT_MS;
    if (make_callbacks(srv) != 0) {
        snprintf(err, errlen, "out of memory");
        srv_release(srv);
        return -ENOMEM;
    }
    if (cfg->tls_cert || cfg->tls_key) {
        if (!cfg->tls_cert || !cfg->tls_key) {
            snprintf(err, errlen, "TLS needs both a certificate and a key");
            srv_release(srv);
            return -EINVAL;
        }
        int rc = tls_ctx_new_server(cfg->tls_cert, cfg->tls_key, &srv->tls, err, errlen);
        if (rc) {
            srv_release(srv);
            return rc;
        }
    }
    struct sockaddr_storage ss;
    const char *host = cfg->host ? cfg->host : "0.0.0.0";
    if (cfg->port < 0 || cfg->port > 65535) {
        snprintf(err, errlen, "bad port %d", cfg->port);
        srv_release(srv);
        return -EINVAL;
    }
    if (uv_ip4_addr(host, cfg->port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, cfg->port, (struct sockaddr_in6 *)&ss) != 0) {
        snprintf(err, errlen, "bad listen address \"%s\" (an IPv4 or IPv6 literal)", host);
        srv_release(srv);
        return -EINVAL;
    }
    uv_tcp_init(loop, &srv->listener);
    srv->listener.data = srv;
    srv->listener_open = 1;
    int rc = uv_tcp_bind(&srv->listener, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->listener, SOMAXCONN, on_connection);
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on \"%s\" port %d: %s", host, cfg->port,
                 uv_strerror(rc));
        uv_close((uv_handle_t *)&srv->listener, listener_closed_start_failed);
        return rc;
    }
    struct sockaddr_storage bound;
    int blen = sizeof(bound);
    uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &blen);
    srv->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                  : ((struct sockaddr_in *)&bound)->sin_port);
    *out = srv;
    return 0;
}

int grpc_server_port(const struct grpc_server *srv)
{
    return srv->port;
}

void *grpc_server_user(const struct grpc_server *srv)
{
    return srv->user;
}

size_t grpc_server_connection_count(const struct grpc_server *srv)
{
    return srv->n_conns;
}

void grpc_server_free(struct grpc_server *srv)
{
    if (!srv || srv->freeing)
        return;
    srv->freeing = 1;
    uv_close((uv_handle_t *)&srv->listener, listener_closed);
    struct sconn *c = srv->conns;
    while (c) {
        struct sconn *next = c->next;
        conn_close(c);
        c = next;
    }
}

void grpc_server__set_keepalive(struct grpc_server *srv, unsigned interval_ms, unsigned timeout_ms)
{
    srv->ping_interval_ms = interval_ms;
    srv->ping_timeout_ms = timeout_ms;
}

int grpc_server__feed(struct grpc_server *srv, const uint8_t *p, size_t n)
{
    struct sconn *c = conn_new(srv, 1);
    int rc = 0;
    conn_enter(c);
    conn_flush(c);
    conn_leave_cb(c);
    /* Feed in uneven chunks so frame and message boundaries move around. */
    size_t off = 0, step = 1;
    while (off < n && !c->close_req && !c->torn_down) {
        size_t k = n - off < step ? n - off : step;
        conn_enter(c);
        rc = conn_input(c, p + off, k);
        conn_leave_cb(c);
        off += k;
        step = step * 3 + 1;
    }
    if (!c->torn_down)
        conn_close(c);
    free(c);
    srv->n_alive--;
    return rc;
}

/* ---- call API ---- */

struct grpc_server *grpc_call_server(const struct grpc_call *call)
{
    return call->conn->srv;
}

const char *grpc_call_metadata(const struct grpc_call *call, const char *key)
{
    return md_get(&call->md, key);
}

const char *grpc_call_path(const struct grpc_call *call)
{
    return call->path ? call->path : "";
}

const char *grpc_call_peer_ip(const struct grpc_call *call)
{
    return call->conn->peer_ip;
}

uint64_t grpc_call_connection_id(const struct grpc_call *call)
{
    return call->conn->id;
}

void grpc_call_set_data(struct grpc_call *call, void *data)
{
    call->data = data;
}

void *grpc_call_get_data(const struct grpc_call *call)
{
    return call->data;
}

static void call_kick(struct grpc_call *call, nghttp2_data_provider *prd)
{
    struct sconn *c = call->conn;
    if (!call->headers_sent) {
        nghttp2_nv nva[2] = {NV(":status", "200"), NV("content-type", "application/grpc")};
        call->headers_sent = 1;
        if (nghttp2_submit_response(c->io.ng, call->stream_id, nva, 2, prd) != 0)
            nghttp2_submit_rst_stream(c->io.ng, NGHTTP2_FLAG_NONE, call->stream_id,
                                      NGHTTP2_INTERNAL_ERROR);
    } else if (call->deferred) {
        /* Pitfall 3: resume, then flush at once. */
        call->deferred = 0;
        nghttp2_session_resume_data(c->io.ng, call->stream_id);
    }
}

int grpc_call_send(struct grpc_call *call, const uint8_t *data, size_t len)
{
    if (!call || call->closed || call->finished || call->conn->close_req)
        return -EPIPE;
    if (len > UINT32_MAX)
        return -EMSGSIZE;
    if (call->outq.len - call->out_off + len + GRPC_FRAME_PREFIX > SRV_MAX_CALL_QUEUE)
        return -ENOBUFS;
    struct sconn *c = call->conn;
    conn_enter(c);
    uint8_t pre[GRPC_FRAME_PREFIX];
    grpc_frame_prefix(pre, (uint32_t)len);
    buf_append(&call->outq, pre, sizeof(pre));
    if (len)
        buf_append(&call->outq, data, len);
    nghttp2_data_provider prd = {.source.ptr = call, .read_callback = call_read};
    call_kick(call, &prd);
    conn_flush(c);
    conn_leave_api(c);
    return 0;
}

void grpc_call_finish(struct grpc_call *call, enum grpc_status status, const char *message)
{
    if (!call || call->closed || call->finished || call->conn->close_req)
        return;
    struct sconn *c = call->conn;
    conn_enter(c);
    call->finished = 1;
    call->status = status;
    call->message = encode_message(message);
    if (!call->headers_sent) {
        /* Pitfall 2: nothing sent yet -> Trailers-Only. */
        if (submit_trailers_only(call, "200") != 0)
            nghttp2_submit_rst_stream(c->io.ng, NGHTTP2_FLAG_NONE, call->stream_id,
                                      NGHTTP2_INTERNAL_ERROR);
    } else {
        call_kick(call, NULL);
    }
    conn_flush(c);
    conn_leave_api(c);
}
