/*
 * grpc_client: gRPC over HTTP/2 (nghttp2, ssize_t API of 1.52) on libuv, one
 * connection, h2c or TLS through h2io/tls. Design notes: docs/internals/grpc.md.
 *
 * Re-entrancy rule: on_message runs inside nghttp2_session_mem_recv (flushes and
 * connection teardown are deferred until it returns); on_done and on_state
 * never run inside nghttp2 nor inside an API function: finished calls and state
 * changes are queued and delivered when the outermost uv callback unwinds, or
 * from a 0 ms reap timer after an API call.
 */
#include "grpc_client.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>
#include <uv.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/strnum.h"
#include "core/xalloc.h"
#include "proto/grpc_frame.h"
#include "proto/grpc_server.h"
#include "proto/h2io.h"
#include "proto/reentry.h"
#include "proto/tls.h"

#ifndef LOTUS_VERSION
#define LOTUS_VERSION "lotus"
#endif

#define CL_MAX_HEADER_BYTES (16u * 1024u) /* response header list, name+value+32 each */
#define CL_MAX_MESSAGE_TEXT (4u * 1024u)  /* decoded grpc-message kept */
#define CL_WINDOW           (1 << 20)
#define CL_MAX_CALL_QUEUE   (16u << 20) /* queued request bytes per call */
#define CL_READ_BUF         (64u * 1024u)

enum cl_state { CL_IDLE, CL_RESOLVING, CL_CONNECTING, CL_HANDSHAKE, CL_READY };

struct cconn {
    struct h2io io; /* first: container_of from io */
    struct grpc_client *cl;
    uv_connect_t creq;
    int torn_down;
};

struct grpc_ccall {
    struct grpc_client *cl;
    struct grpc_ccall *prev, *next; /* in cl->calls or cl->done */
    int32_t stream_id;
    void (*on_message)(struct grpc_ccall *call, const uint8_t *data, size_t len, void *ud);
    void (*on_done)(struct grpc_ccall *call, int status, const char *message, void *ud);
    void *ud;
    struct grpc_deframer deframer;
    struct buf outq;
    size_t out_off;
    int close_send;
    int deferred;
    int done;
    int status;
    struct buf msg; /* grpc-message, decoded */
    int got_status;
    int http_status;
    size_t hdr_bytes;
    uv_timer_t timer;
    int timer_inited;
};

struct grpc_client {
    uv_loop_t *loop;
    struct grpc_client_config cfg;
    char *host;              /* owned copy of cfg.host */
    struct tls_ctx *tls_ctx; /* lazily made at first TLS connect */
    nghttp2_session_callbacks *cbs;
    nghttp2_option *opt;
    enum cl_state state;
    uv_getaddrinfo_t *gai; /* pending resolve, or NULL */
    struct addrinfo *ai;   /* owned result list */
    struct addrinfo *ai_next;
    struct cconn *conn;
    int drop_req; /* tear the connection down once outside nghttp2 */
    int drop_status;
    int drop_loss;
    uv_timer_t ka_timer;
    struct reentry_reap rr; /* enter/leave depth + 0 ms reap timer (data = cl) */
    int ping_out;
    int goaway;
    struct grpc_ccall *calls;
    struct grpc_ccall *done, *done_tail;
    int state_pending;
    int state_value;
    int freeing;
    size_t n_handles;
    char err[256];
    char rbuf[CL_READ_BUF];
};

static void cl_settle(struct grpc_client *cl);
static void cl_try_free(struct grpc_client *cl);
static void try_next_address(struct grpc_client *cl);

/* ---- calls ---- */

static void list_unlink(struct grpc_ccall **head, struct grpc_ccall *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        *head = k->next;
    if (k->next)
        k->next->prev = k->prev;
    k->prev = k->next = NULL;
}

static void call_timer_closed(uv_handle_t *h)
{
    struct grpc_ccall *call = h->data;
    struct grpc_client *cl = call->cl;
    free(call);
    cl->n_handles--;
    cl_try_free(cl);
}

static void call_free(struct grpc_ccall *call)
{
    grpc_deframer_release(&call->deframer);
    buf_release(&call->outq);
    buf_release(&call->msg);
    if (call->timer_inited)
        uv_close((uv_handle_t *)&call->timer, call_timer_closed);
    else
        free(call);
}

/* Decides the final status; on_done is delivered later by cl_settle. */
static void call_complete(struct grpc_ccall *call, int status, const char *msg)
{
    struct grpc_client *cl = call->cl;
    if (call->done)
        return;
    call->done = 1;
    call->status = status;
    if (msg) {
        buf_reset(&call->msg);
        buf_puts(&call->msg, msg);
    }
    if (call->timer_inited)
        uv_timer_stop(&call->timer);
    if (cl->conn && cl->conn->io.ng && call->stream_id > 0)
        nghttp2_session_set_stream_user_data(cl->conn->io.ng, call->stream_id, NULL);
    list_unlink(&cl->calls, call);
    call->prev = cl->done_tail;
    if (cl->done_tail)
        cl->done_tail->next = call;
    else
        cl->done = call;
    cl->done_tail = call;
}

static void call_reset(struct grpc_ccall *call, int status, const char *msg)
{
    struct grpc_client *cl = call->cl;
    int32_t sid = call->stream_id;
    call_complete(call, status, msg);
    if (cl->conn && cl->conn->io.ng && sid > 0)
        nghttp2_submit_rst_stream(cl->conn->io.ng, NGHTTP2_FLAG_NONE, sid, NGHTTP2_CANCEL);
}

static ssize_t call_read(nghttp2_session *session, int32_t stream_id, uint8_t *out, size_t length,
                         uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
    (void)session;
    (void)stream_id;
    (void)user_data;
    struct grpc_ccall *call = source->ptr;
    size_t n = h2io_outq_take(&call->outq, &call->out_off, out, length);
    if (call->outq.len - call->out_off == 0) {
        if (call->close_send) {
            *data_flags |= NGHTTP2_DATA_FLAG_EOF;
            return (ssize_t)n;
        }
        if (n == 0) {
            call->deferred = 1;
            return NGHTTP2_ERR_DEFERRED;
        }
    }
    return (ssize_t)n;
}

/* ---- nghttp2 callbacks ---- */

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    (void)flags;
    (void)ud;
    if (frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    struct grpc_ccall *call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!call || call->done)
        return 0;
    call->hdr_bytes += namelen + valuelen + 32;
    if (call->hdr_bytes > CL_MAX_HEADER_BYTES)
        return 0;
    const char *n = (const char *)name;
    const char *v = (const char *)value;
    if (strcmp(n, ":status") == 0) {
        uint64_t st = 0;
        call->http_status = strnum_u64(v, valuelen, &st) == 0 && st < 1000 ? (int)st : 0;
    } else if (strcmp(n, "grpc-status") == 0) {
        uint64_t st = 0;
        call->got_status = 1;
        call->status =
            strnum_u64(v, valuelen, &st) == 0 && st <= 16 ? (int)st : GRPC_STATUS_UNKNOWN;
    } else if (strcmp(n, "grpc-message") == 0) {
        buf_reset(&call->msg);
        grpc_percent_decode(&call->msg, v,
                            valuelen < CL_MAX_MESSAGE_TEXT ? valuelen : CL_MAX_MESSAGE_TEXT);
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t len, void *ud)
{
    (void)flags;
    struct grpc_client *cl = ud;
    struct grpc_ccall *call = nghttp2_session_get_stream_user_data(session, stream_id);
    while (call && !call->done && len > 0 && !cl->drop_req && !cl->freeing) {
        struct grpc_frame_msg msg;
        ssize_t r = grpc_deframer_feed(&call->deframer, data, len, &msg);
        if (r == GRPC_FRAME_INCOMPLETE)
            break;
        if (r == GRPC_FRAME_ERROR) {
            char m[128];
            if (call->deframer.too_big) {
                snprintf(m, sizeof(m),
                         "grpc: received message larger than max (%" PRIu32 " vs. %zu)",
                         call->deframer.too_big, call->deframer.max);
                call_reset(call, GRPC_STATUS_RESOURCE_EXHAUSTED, m);
            } else {
                call_reset(call, GRPC_STATUS_INTERNAL, call->deframer.error);
            }
            break;
        }
        data += r;
        len -= (size_t)r;
        if (msg.compressed) {
            call_reset(call, GRPC_STATUS_INTERNAL,
                       "grpc: compressed flag set with identity or empty encoding");
            break;
        }
        if (call->on_message)
            call->on_message(call, msg.data, msg.len, call->ud);
    }
    return 0;
}

static int http_to_grpc(int http)
{
    switch (http) {
    case 400:
        return GRPC_STATUS_INTERNAL;
    case 401:
        return GRPC_STATUS_UNAUTHENTICATED;
    case 403:
        return 7; /* PERMISSION_DENIED */
    case 404:
        return GRPC_STATUS_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
        return GRPC_STATUS_UNAVAILABLE;
    default:
        return GRPC_STATUS_UNKNOWN;
    }
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *ud)
{
    (void)ud;
    struct grpc_ccall *call = nghttp2_session_get_stream_user_data(session, stream_id);
    if (!call || call->done)
        return 0;
    char m[96];
    if (call->got_status) {
        call_complete(call, call->status, NULL);
    } else if (error_code == NGHTTP2_REFUSED_STREAM) {
        call_complete(call, GRPC_STATUS_UNAVAILABLE, "stream refused by the server");
    } else if (error_code == NGHTTP2_CANCEL) {
        call_complete(call, GRPC_STATUS_CANCELLED, "stream cancelled by the server");
    } else if (error_code != NGHTTP2_NO_ERROR) {
        snprintf(m, sizeof(m), "stream terminated by RST_STREAM with error code: %" PRIu32,
                 error_code);
        call_complete(call, GRPC_STATUS_INTERNAL, m);
    } else if (call->http_status != 200) {
        snprintf(m, sizeof(m), "unexpected HTTP status code %d", call->http_status);
        call_complete(call, http_to_grpc(call->http_status), m);
    } else {
        call_complete(call, GRPC_STATUS_INTERNAL,
                      "server closed the stream without sending trailers");
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *ud)
{
    (void)session;
    struct grpc_client *cl = ud;
    if (frame->hd.type == NGHTTP2_PING && (frame->hd.flags & NGHTTP2_FLAG_ACK))
        cl->ping_out = 0;
    else if (frame->hd.type == NGHTTP2_GOAWAY)
        cl->goaway = 1; /* no new calls; dropped once the running ones end */
    return 0;
}

/* ---- connection ---- */

static void conn_closed(uv_handle_t *h)
{
    struct cconn *c = h->data;
    struct grpc_client *cl = c->cl;
    free(c);
    cl->n_handles--;
    cl_try_free(cl);
}

/*
 * Tears the current connection down (never inside nghttp2). Running calls get
 * UNAVAILABLE (loss) or CANCELLED (asked for); a loss also queues on_state.
 */
static void cl_drop(struct grpc_client *cl, int status, int loss, const char *why)
{
    struct cconn *c = cl->conn;
    cl->drop_req = 0;
    /* A pending resolve keeps its n_handles count until its callback runs. */
    cl->gai = NULL;
    if (cl->ai) {
        uv_freeaddrinfo(cl->ai);
        cl->ai = cl->ai_next = NULL;
    }
    int was_active = cl->state != CL_IDLE;
    cl->state = CL_IDLE;
    cl->conn = NULL;
    cl->goaway = 0;
    cl->ping_out = 0;
    uv_timer_stop(&cl->ka_timer);
    while (cl->calls)
        call_complete(cl->calls, loss ? GRPC_STATUS_UNAVAILABLE : GRPC_STATUS_CANCELLED,
                      loss ? why : "client disconnected");
    if (c) {
        c->torn_down = 1;
        h2io_release(&c->io);
        uv_close((uv_handle_t *)&c->io.tcp, conn_closed);
    }
    if (loss && was_active) {
        cl->state_pending = 1;
        cl->state_value = status < 0 ? status : -ECONNRESET;
    } else if (!loss) {
        cl->state_pending = 0; /* asked for: no on_state, not even a stale "ready" */
    }
}

static void cl_request_drop(struct grpc_client *cl, int status, int loss, const char *why)
{
    if (cl->conn && cl->conn->io.in_ng) {
        if (!cl->drop_req) {
            cl->drop_req = 1;
            cl->drop_status = status;
            cl->drop_loss = loss;
            snprintf(cl->err, sizeof(cl->err), "%s", why);
        }
        return;
    }
    cl_drop(cl, status, loss, why);
}

static void cl_flush(struct grpc_client *cl)
{
    if (!cl->conn || cl->drop_req)
        return;
    if (h2io_flush(&cl->conn->io) < 0)
        cl_request_drop(cl, -EPIPE, 1, "connection lost: write failed");
}

static void cl_enter(struct grpc_client *cl)
{
    reentry_enter(&cl->rr.re);
}

static void cl_leave_cb(struct grpc_client *cl)
{
    if (reentry_leave(&cl->rr.re))
        cl_settle(cl);
}

static void reap_cb(uv_timer_t *t)
{
    struct grpc_client *cl = t->data;
    cl_enter(cl);
    cl_leave_cb(cl);
}

static void cl_leave_api(struct grpc_client *cl)
{
    if (!reentry_leave(&cl->rr.re))
        return;
    if (cl->freeing) {
        cl_try_free(cl);
        return;
    }
    if (cl->done || cl->state_pending || cl->drop_req || (cl->conn && cl->conn->io.want_flush))
        reentry_reap_defer(&cl->rr, reap_cb);
}

static void cl_settle(struct grpc_client *cl)
{
    reentry_enter(&cl->rr.re);
    int flushed = 0;
    while (!cl->freeing) {
        if (cl->drop_req) {
            cl_drop(cl, cl->drop_status, cl->drop_loss, cl->err);
            continue;
        }
        if (!flushed && cl->conn && cl->conn->io.want_flush) {
            flushed = 1; /* once per round: at high water want_flush stays set */
            cl_flush(cl);
            continue;
        }
        if (cl->conn && cl->state == CL_READY &&
            ((cl->goaway && !cl->calls) || h2io_finished(&cl->conn->io))) {
            cl_drop(cl, -ECONNRESET, 1, "connection closed by the server (GOAWAY)");
            continue;
        }
        if (cl->done) {
            struct grpc_ccall *call = cl->done;
            if (cl->done_tail == call)
                cl->done_tail = NULL;
            list_unlink(&cl->done, call);
            if (call->on_done)
                call->on_done(call, call->status, call->msg.data, call->ud);
            call_free(call);
            flushed = 0;
            continue;
        }
        if (cl->state_pending) {
            cl->state_pending = 0;
            if (cl->cfg.on_state)
                cl->cfg.on_state(cl, cl->state_value);
            flushed = 0;
            continue;
        }
        break;
    }
    (void)reentry_leave(&cl->rr.re); /* settling: the caller is the outermost entry */
    if (cl->freeing)
        cl_try_free(cl);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    struct cconn *c = h->data;
    *b = uv_buf_init(c->cl->rbuf, sizeof(c->cl->rbuf));
}

static void became_ready(struct grpc_client *cl)
{
    cl->state = CL_READY;
    cl->ping_out = 0;
    cl->state_pending = 1;
    cl->state_value = 0;
    cl->conn->io.want_flush = 1;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct cconn *c = s->data;
    struct grpc_client *cl = c->cl;
    if (c->torn_down)
        return;
    cl_enter(cl);
    if (nread < 0) {
        cl_drop(cl, nread == UV_EOF ? -ECONNRESET : (int)nread, 1,
                nread == UV_EOF ? "connection closed by the server" : "connection lost");
    } else if (nread > 0) {
        int hs = 0;
        char err[256] = "";
        int rc = h2io_recv(&c->io, (const uint8_t *)b->base, (size_t)nread, &hs, err, sizeof(err));
        if (rc < 0) {
            char why[300];
            snprintf(why, sizeof(why), "connection lost: %s", err);
            log_debug("grpc client \"%s\": %s", cl->host, why);
            cl_drop(cl, rc, 1, why);
        } else {
            if (hs)
                became_ready(cl);
            c->io.want_flush = 1;
        }
    }
    cl_leave_cb(cl);
}

static void on_written(struct h2io *io, int status)
{
    struct cconn *c = (struct cconn *)io;
    struct grpc_client *cl = c->cl;
    if (c->torn_down)
        return;
    cl_enter(cl);
    if (status < 0)
        cl_drop(cl, status, 1, "connection lost: write failed");
    cl_leave_cb(cl);
}

static void ka_cb(uv_timer_t *t)
{
    struct grpc_client *cl = t->data;
    if (!cl->conn)
        return;
    cl_enter(cl);
    if (cl->ping_out) {
        log_info("grpc client \"%s\": no PING ACK within %u ms, dropping the connection", cl->host,
                 cl->cfg.keepalive_ms);
        cl_drop(cl, -ETIMEDOUT, 1, "connection lost: keepalive timeout");
    } else {
        cl->ping_out = 1; /* also counts an unfinished TLS handshake */
        if (cl->state == CL_READY) {
            nghttp2_submit_ping(cl->conn->io.ng, NGHTTP2_FLAG_NONE, NULL);
            cl_flush(cl);
        }
    }
    cl_leave_cb(cl);
}

static void start_session(struct grpc_client *cl, struct cconn *c)
{
    if (nghttp2_session_client_new2(&c->io.ng, cl->cbs, cl, cl->opt) != 0) {
        fprintf(stderr, "fatal: nghttp2_session_client_new2 failed\n");
        abort();
    }
    /* Pitfall 5: the client still submits SETTINGS before its first mem_send. */
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, CL_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, CL_MAX_HEADER_BYTES},
    };
    nghttp2_submit_settings(c->io.ng, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0]));
    nghttp2_session_set_local_window_size(c->io.ng, NGHTTP2_FLAG_NONE, 0, CL_WINDOW);
}

static void connect_cb(uv_connect_t *req, int status)
{
    struct cconn *c = req->data;
    struct grpc_client *cl = c->cl;
    if (c->torn_down)
        return;
    cl_enter(cl);
    if (status < 0) {
        c->torn_down = 1;
        h2io_release(&c->io);
        uv_close((uv_handle_t *)&c->io.tcp, conn_closed);
        cl->conn = NULL;
        snprintf(cl->err, sizeof(cl->err), "connect: %s", uv_strerror(status));
        cl->state_value = status;
        try_next_address(cl);
        cl_leave_cb(cl);
        return;
    }
    if (cl->ai) {
        uv_freeaddrinfo(cl->ai);
        cl->ai = cl->ai_next = NULL;
    }
    uv_tcp_nodelay(&c->io.tcp, 1);
    uv_tcp_keepalive(&c->io.tcp, 1, 60);
    start_session(cl, c);
    int rc = uv_read_start((uv_stream_t *)&c->io.tcp, alloc_cb, read_cb);
    if (rc == 0 && cl->cfg.tls) {
        cl->state = CL_HANDSHAKE;
        c->io.tls = tls_conn_new(cl->tls_ctx, 0, cl->host);
        c->io.tls_ready = 0;
        /* Pitfall 10: only the handshake flows until it is finished. */
        char err[256] = "";
        rc = tls_conn_handshake(c->io.tls, err, sizeof(err));
        if (rc == 1)
            became_ready(cl);
        rc = rc < 0 ? rc : 0;
        c->io.want_flush = 1;
    } else if (rc == 0) {
        became_ready(cl);
    }
    if (rc < 0)
        cl_drop(cl, rc, 1, "connection setup failed");
    else if (cl->cfg.keepalive_ms)
        uv_timer_start(&cl->ka_timer, ka_cb, cl->cfg.keepalive_ms, cl->cfg.keepalive_ms);
    cl_leave_cb(cl);
}

static void try_next_address(struct grpc_client *cl)
{
    while (cl->ai_next) {
        struct addrinfo *a = cl->ai_next;
        cl->ai_next = a->ai_next;
        struct cconn *c = xcalloc(1, sizeof(*c));
        c->cl = cl;
        h2io_init(&c->io, on_written);
        c->io.tls_ready = 1;
        uv_tcp_init(cl->loop, &c->io.tcp);
        c->io.tcp.data = c;
        c->creq.data = c;
        cl->n_handles++;
        int rc = uv_tcp_connect(&c->creq, &c->io.tcp, a->ai_addr, connect_cb);
        if (rc == 0) {
            cl->conn = c;
            cl->state = CL_CONNECTING;
            return;
        }
        c->torn_down = 1;
        uv_close((uv_handle_t *)&c->io.tcp, conn_closed);
        snprintf(cl->err, sizeof(cl->err), "connect: %s", uv_strerror(rc));
        cl->state_value = rc;
    }
    /* Every address failed. */
    if (cl->ai) {
        uv_freeaddrinfo(cl->ai);
        cl->ai = cl->ai_next = NULL;
    }
    log_debug("grpc client \"%s\" port %d: %s", cl->host, cl->cfg.port, cl->err);
    cl->state = CL_IDLE;
    cl->state_pending = 1;
    if (cl->state_value >= 0)
        cl->state_value = -ECONNREFUSED;
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct grpc_client *cl = req->data;
    int stale = cl->gai != req;
    free(req);
    cl->n_handles--;
    if (stale) {
        if (res)
            uv_freeaddrinfo(res);
        cl_try_free(cl);
        return;
    }
    cl->gai = NULL;
    cl_enter(cl);
    if (status < 0) {
        snprintf(cl->err, sizeof(cl->err), "resolve: %s", uv_strerror(status));
        log_debug("grpc client \"%s\": %s", cl->host, cl->err);
        cl->state = CL_IDLE;
        cl->state_pending = 1;
        cl->state_value = status;
    } else {
        cl->ai = res;
        cl->ai_next = res;
        cl->state_value = -ECONNREFUSED;
        try_next_address(cl);
    }
    cl_leave_cb(cl);
}

/* ---- public API ---- */

struct grpc_client *grpc_client_new(struct uv_loop_s *loop, const struct grpc_client_config *cfg)
{
    struct grpc_client *cl = xcalloc(1, sizeof(*cl));
    cl->loop = loop;
    cl->cfg = *cfg;
    cl->host = xstrdup(cfg->host ? cfg->host : "localhost");
    cl->cfg.host = cl->host;
    cl->cfg.ca_file = NULL; /* borrowed only at first connect; see tls_ctx */
    if (cfg->tls) {
        char err[256] = "";
        if (tls_ctx_new_client(TLS_ALPN_H2, cfg->insecure, cfg->ca_file, &cl->tls_ctx, err,
                               sizeof(err)) != 0)
            log_error("grpc client \"%s\": %s", cl->host, err);
    }
    if (nghttp2_session_callbacks_new(&cl->cbs) != 0 || nghttp2_option_new(&cl->opt) != 0) {
        fprintf(stderr, "fatal: out of memory in nghttp2\n");
        abort();
    }
    nghttp2_session_callbacks_set_on_header_callback(cl->cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cl->cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cl->cbs, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cl->cbs, on_frame_recv);
    nghttp2_option_set_max_continuations(cl->opt, 16);
    nghttp2_option_set_max_settings(cl->opt, 32);
    uv_timer_init(loop, &cl->ka_timer);
    reentry_reap_init(&cl->rr, loop, cl);
    cl->ka_timer.data = cl;
    cl->n_handles = 2;
    return cl;
}

void *grpc_client_user(const struct grpc_client *c)
{
    return c->cfg.user;
}

int grpc_client_is_ready(const struct grpc_client *c)
{
    return c->state == CL_READY && c->conn && !c->goaway && !c->drop_req;
}

int grpc_client_connect(struct grpc_client *cl)
{
    if (cl->freeing)
        return -EINVAL;
    if (cl->state != CL_IDLE)
        return -EALREADY;
    if (cl->cfg.tls && !cl->tls_ctx)
        return -EINVAL;
    if (cl->cfg.port <= 0 || cl->cfg.port > 65535)
        return -EINVAL;
    char port[8];
    snprintf(port, sizeof(port), "%d", cl->cfg.port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    uv_getaddrinfo_t *req = xcalloc(1, sizeof(*req));
    req->data = cl;
    int rc = uv_getaddrinfo(cl->loop, req, gai_cb, cl->host, port, &hints);
    if (rc < 0) {
        free(req);
        return rc;
    }
    cl->gai = req;
    cl->n_handles++;
    cl->state = CL_RESOLVING;
    cl->state_pending = 0;
    return 0;
}

void grpc_client_disconnect(struct grpc_client *cl)
{
    if (!cl || cl->state == CL_IDLE)
        return;
    cl_enter(cl);
    cl_request_drop(cl, -ECANCELED, 0, "client disconnected");
    cl_leave_api(cl);
}

static void timer_closed(uv_handle_t *h)
{
    struct grpc_client *cl = h->data;
    cl->n_handles--;
    cl_try_free(cl);
}

void grpc_client_free(struct grpc_client *cl)
{
    if (!cl || cl->freeing)
        return;
    cl_enter(cl);
    cl->freeing = 1;
    cl_request_drop(cl, -ECANCELED, 0, "client freed");
    uv_close((uv_handle_t *)&cl->ka_timer, timer_closed);
    reentry_reap_close(&cl->rr, timer_closed);
    cl_leave_api(cl);
}

static void cl_try_free(struct grpc_client *cl)
{
    if (!cl->freeing || reentry_inside(&cl->rr.re))
        return;
    if (cl->drop_req || cl->conn)
        cl_drop(cl, -ECANCELED, 0, "client freed");
    /* No callbacks after grpc_client_free: finished calls are dropped silently. */
    while (cl->done) {
        struct grpc_ccall *call = cl->done;
        if (cl->done_tail == call)
            cl->done_tail = NULL;
        list_unlink(&cl->done, call);
        call_free(call);
    }
    if (cl->n_handles > 0)
        return;
    cl->freeing = 2;
    nghttp2_session_callbacks_del(cl->cbs);
    nghttp2_option_del(cl->opt);
    tls_ctx_free(cl->tls_ctx);
    free(cl->host);
    free(cl);
}

static int md_key_ok(const char *k)
{
    if (!k || !k[0] || k[0] == ':')
        return 0;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
              *p == '.'))
            return 0;
    return 1;
}

/* clang-format off */
#define NVS(n, v, vl) \
    (nghttp2_nv){(uint8_t *)(n), (uint8_t *)(v), strlen(n), (vl), NGHTTP2_NV_FLAG_NONE}
/* clang-format on */

static void deadline_cb(uv_timer_t *t)
{
    struct grpc_ccall *call = t->data;
    struct grpc_client *cl = call->cl;
    if (call->done)
        return;
    cl_enter(cl);
    call_reset(call, GRPC_STATUS_DEADLINE_EXCEEDED, "Deadline Exceeded");
    cl_flush(cl);
    cl_leave_cb(cl);
}

struct grpc_ccall *grpc_client_call(struct grpc_client *cl, const struct grpc_call_opts *opts,
                                    const uint8_t *msg, size_t len)
{
    if (!grpc_client_is_ready(cl) || cl->freeing || !opts || !opts->path || len > UINT32_MAX ||
        len > CL_MAX_CALL_QUEUE)
        return NULL;
    struct cconn *c = cl->conn;
    char authority[300];
    int v6 = strchr(cl->host, ':') != NULL;
    snprintf(authority, sizeof(authority), "%s%s%s:%d", v6 ? "[" : "", cl->host, v6 ? "]" : "",
             cl->cfg.port);
    char timeout[24];
    if (opts->timeout_ms <= 99999999u)
        snprintf(timeout, sizeof(timeout), "%um", opts->timeout_ms);
    else
        snprintf(timeout, sizeof(timeout), "%uS", opts->timeout_ms / 1000u);
    size_t cap = 8 + opts->n_md;
    nghttp2_nv *nva = xcalloc(cap, sizeof(*nva));
    size_t n = 0;
    nva[n++] = NVS(":method", "POST", 4);
    nva[n++] = NVS(":scheme", cl->cfg.tls ? "https" : "http", cl->cfg.tls ? 5 : 4);
    nva[n++] = NVS(":path", opts->path, strlen(opts->path));
    nva[n++] = NVS(":authority", authority, strlen(authority));
    nva[n++] = NVS("te", "trailers", 8);
    nva[n++] = NVS("content-type", "application/grpc", 16);
    nva[n++] =
        NVS("user-agent", "lotus-agent/" LOTUS_VERSION, strlen("lotus-agent/" LOTUS_VERSION));
    if (opts->timeout_ms)
        nva[n++] = NVS("grpc-timeout", timeout, strlen(timeout));
    for (size_t i = 0; i < opts->n_md; i++) {
        if (!md_key_ok(opts->md[i].key) || !opts->md[i].value)
            continue;
        nva[n++] = NVS(opts->md[i].key, opts->md[i].value, strlen(opts->md[i].value));
    }
    struct grpc_ccall *call = xcalloc(1, sizeof(*call));
    call->cl = cl;
    call->on_message = opts->on_message;
    call->on_done = opts->on_done;
    call->ud = opts->ud;
    grpc_deframer_init(&call->deframer,
                       cl->cfg.max_message ? cl->cfg.max_message : GRPC_DEFAULT_MAX_MESSAGE);
    buf_init(&call->outq, 0);
    buf_init(&call->msg, 0);
    uint8_t pre[GRPC_FRAME_PREFIX];
    grpc_frame_prefix(pre, (uint32_t)len);
    buf_append(&call->outq, pre, sizeof(pre));
    if (len)
        buf_append(&call->outq, msg, len);
    call->close_send = !opts->keep_open;
    nghttp2_data_provider prd = {.source.ptr = call, .read_callback = call_read};
    cl_enter(cl);
    int32_t sid = nghttp2_submit_request(c->io.ng, NULL, nva, n, &prd, call);
    free(nva);
    if (sid < 0) {
        grpc_deframer_release(&call->deframer);
        buf_release(&call->outq);
        buf_release(&call->msg);
        free(call);
        cl_leave_api(cl);
        return NULL;
    }
    call->stream_id = sid;
    call->next = cl->calls;
    if (cl->calls)
        cl->calls->prev = call;
    cl->calls = call;
    if (opts->timeout_ms) {
        uv_timer_init(cl->loop, &call->timer);
        call->timer.data = call;
        call->timer_inited = 1;
        cl->n_handles++;
        uv_timer_start(&call->timer, deadline_cb, opts->timeout_ms, 0);
    }
    cl_flush(cl);
    cl_leave_api(cl);
    return call;
}

int grpc_ccall_send(struct grpc_ccall *call, const uint8_t *msg, size_t len)
{
    if (!call || call->done || call->close_send || !call->cl->conn)
        return -EPIPE;
    if (len > UINT32_MAX)
        return -EMSGSIZE;
    if (call->outq.len - call->out_off + len + GRPC_FRAME_PREFIX > CL_MAX_CALL_QUEUE)
        return -ENOBUFS;
    struct grpc_client *cl = call->cl;
    cl_enter(cl);
    uint8_t pre[GRPC_FRAME_PREFIX];
    grpc_frame_prefix(pre, (uint32_t)len);
    buf_append(&call->outq, pre, sizeof(pre));
    if (len)
        buf_append(&call->outq, msg, len);
    if (call->deferred) {
        call->deferred = 0;
        nghttp2_session_resume_data(cl->conn->io.ng, call->stream_id);
    }
    cl_flush(cl);
    cl_leave_api(cl);
    return 0;
}

void grpc_ccall_close_send(struct grpc_ccall *call)
{
    if (!call || call->done || call->close_send || !call->cl->conn)
        return;
    struct grpc_client *cl = call->cl;
    cl_enter(cl);
    call->close_send = 1;
    if (call->deferred) {
        call->deferred = 0;
        nghttp2_session_resume_data(cl->conn->io.ng, call->stream_id);
    }
    cl_flush(cl);
    cl_leave_api(cl);
}

void grpc_ccall_cancel(struct grpc_ccall *call)
{
    if (!call || call->done)
        return;
    struct grpc_client *cl = call->cl;
    cl_enter(cl);
    call_reset(call, GRPC_STATUS_CANCELLED, "Cancelled");
    cl_flush(cl);
    cl_leave_api(cl);
}
