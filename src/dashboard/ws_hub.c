/*
 * ws_hub: the RFC 6455 live-update WebSocket hub (see ws_hub.h and
 * docs/internals/ws.md). Relies on libuv (sockets, timer), wslay (client
 * frame parsing, ping/pong/close replies), OpenSSL libcrypto (SHA-1 and
 * base64 of the handshake) and the HTTP server's stream hand-over
 * (struct http_stream: plain or TLS, the same calls for both).
 *
 * Output path: data frames never go through wslay. Server frames are not
 * masked, so one encoded frame (header + payload) is valid for every client:
 * it is built once per broadcast and audience, refcounted, and each plain
 * connection queues a write that points into it (a TLS stream necessarily
 * encrypts its own copy at once; the reference is still held until the write
 * completes, which keeps the queue accounting identical). wslay only emits control
 * frames (pong, ping, close); its send callback always accepts everything
 * into a small per-connection buffer that is written as one uv_write after
 * wslay_event_send() returns, so a wslay frame is never split around one of
 * our data frames.
 */
#include "dashboard/ws_hub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <uv.h>
#include <wslay/wslay.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "dashboard/http.h"
#include "proto/reentry.h"

#define READ_CHUNK 65536
#define CTL_MAX    (256 * 1024) /* wslay output gathered by one wslay_event_send() */
#define WS_GUID    "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* One encoded server text frame shared by every connection that sends it. */
struct ws_frame {
    size_t refs;
    size_t len; /* header + payload */
    char bytes[];
};

enum conn_state {
    CS_OPEN,    /* in hub->open[audience]; receives broadcasts */
    CS_CLOSING, /* close frame queued/sent; draining writes, then FIN and linger */
    CS_DEAD,    /* socket closed (or memory conn finished); freed when writes are back */
};

struct ws_conn {
    struct ws_hub *hub;
    struct ws_conn *prev, *next; /* hub->open[audience] while open, else hub->closing */
    int audience;
    enum conn_state state;
    struct http_stream *st;     /* owned; NULL for memory conns and once closed */
    struct buf *mem_out;        /* memory conns: output sink (borrowed) */
    wslay_event_context_ptr ws; /* owned */
    const uint8_t *rd;          /* input cursor for the wslay recv callback */
    size_t rdlen;
    struct buf ctl;         /* wslay output of the current wslay_event_send() */
    size_t nwrites;         /* uv_write / uv_shutdown requests outstanding */
    unsigned data_inflight; /* data frames among them */
    uint64_t frames_sent;
    int awaiting_pong;
    uint64_t ping_at;      /* loop ms of the oldest unanswered ping */
    uint64_t linger_until; /* loop ms: CLOSING connections are dropped after it */
    int shut;              /* uv_shutdown issued */
    struct reentry re;     /* inside one of our entry points: do not free (reaped after) */
    char peer[64];
};

/* An upgrade refused before the hand-over, answered from the next loop iteration. */
struct ws_reject {
    struct ws_reject *next;
    struct http_request *req; /* borrowed until answered */
    int status;
};

struct ws_hub {
    uv_loop_t *loop; /* borrowed; NULL for memory-only hubs */
    struct ws_config cfg;
    struct ws_conn *open[WS_AUDIENCES];
    size_t nopen[WS_AUDIENCES];
    struct ws_conn *closing;             /* closing or dead, not yet freed */
    size_t nconns;                       /* every connection not yet freed */
    struct ws_frame *last[WS_AUDIENCES]; /* last broadcast frame (a reference) or NULL */
    uv_timer_t timer;                    /* timeout sweep */
    uv_timer_t reject_timer;             /* answers queued rejects */
    struct ws_reject *rejects;           /* FIFO */
    struct ws_reject **rejects_tail;
    int handles_open; /* timers not yet through their close callback */
    int finishing;    /* timers closing; the last close callback frees the hub */
    int freeing;
    char readbuf[READ_CHUNK]; /* shared: on_read consumes it before returning */
};

struct wwrite {
    struct ws_conn *c;
    struct ws_frame *frame; /* a reference, or NULL */
    char *owned;            /* control bytes / handshake, or NULL */
};

void ws_config_defaults(struct ws_config *cfg)
{
    cfg->max_connections = 10000;
    cfg->max_queue_frames = 4;
    cfg->max_queue_bytes = 8u << 20;
    cfg->max_msg_bytes = 4096;
    cfg->ping_every = 4;
    cfg->pong_timeout_ms = 30000;
    cfg->linger_ms = 2000;
    cfg->sweep_ms = 1000;
}

static uint64_t hub_now(const struct ws_hub *hub)
{
    return hub->loop ? uv_now(hub->loop) : 0;
}

/* ---------------------------------------------------------------- frames */

static struct ws_frame *frame_new(const char *payload, size_t n)
{
    size_t hl = n < 126 ? 2 : n <= 0xffff ? 4 : 10;
    struct ws_frame *f = xmalloc(sizeof(*f) + hl + n);
    f->refs = 1;
    f->len = hl + n;
    unsigned char *h = (unsigned char *)f->bytes;
    h[0] = 0x81; /* FIN + text */
    if (n < 126) {
        h[1] = (unsigned char)n;
    } else if (n <= 0xffff) {
        h[1] = 126;
        h[2] = (unsigned char)(n >> 8);
        h[3] = (unsigned char)n;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    }
    if (n)
        memcpy(f->bytes + hl, payload, n);
    return f;
}

static void frame_unref(struct ws_frame *f)
{
    if (f && --f->refs == 0)
        free(f);
}

/* ---------------------------------------------------------------- lists */

static void list_add(struct ws_conn **head, struct ws_conn *c)
{
    c->prev = NULL;
    c->next = *head;
    if (*head)
        (*head)->prev = c;
    *head = c;
}

static void list_del(struct ws_conn **head, struct ws_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

/* Leaves the open list (broadcasts stop) for the closing list. */
static void leave_open(struct ws_conn *c)
{
    if (c->state != CS_OPEN)
        return;
    struct ws_hub *hub = c->hub;
    list_del(&hub->open[c->audience], c);
    hub->nopen[c->audience]--;
    list_add(&hub->closing, c);
}

/* ---------------------------------------------------------------- connection teardown */

static void hub_maybe_finish(struct ws_hub *hub);
static void flush_rejects(struct ws_hub *hub);

/* Closes the socket now (errors, slow consumers, timeouts). */
static void conn_drop(struct ws_conn *c, const char *why)
{
    if (c->state == CS_DEAD)
        return;
    if (why)
        log_debug("ws: closing connection from %s: %s", c->peer, why);
    leave_open(c);
    c->state = CS_DEAD;
    if (c->st) {
        http_stream_close(c->st);
        c->st = NULL;
    }
}

static void conn_free(struct ws_conn *c)
{
    struct ws_hub *hub = c->hub;
    if (c->state == CS_OPEN) {
        list_del(&hub->open[c->audience], c);
        hub->nopen[c->audience]--;
    } else {
        list_del(&hub->closing, c);
    }
    wslay_event_context_free(c->ws);
    buf_release(&c->ctl);
    free(c);
    hub->nconns--;
}

/* Frees a finished socket connection once nothing refers to it any more. */
static void conn_release_if_done(struct ws_conn *c)
{
    if (c->state != CS_DEAD || c->nwrites || reentry_inside(&c->re) || c->mem_out)
        return;
    struct ws_hub *hub = c->hub;
    conn_free(c);
    hub_maybe_finish(hub);
}

static void hub_reap(struct ws_hub *hub)
{
    struct ws_conn *next;
    for (struct ws_conn *c = hub->closing; c; c = next) {
        next = c->next;
        conn_release_if_done(c);
    }
}

/* ---------------------------------------------------------------- output */

static void conn_progress(struct ws_conn *c);

static void on_write(void *ud, int status)
{
    struct wwrite *w = ud;
    struct ws_conn *c = w->c;
    c->nwrites--;
    if (w->frame) {
        c->data_inflight--;
        frame_unref(w->frame);
    }
    free(w->owned);
    free(w);
    if (status < 0)
        conn_drop(c, "write failed");
    else
        conn_progress(c);
    conn_release_if_done(c);
}

/* Queues bytes: a frame reference (f) or owned bytes (p, consumed). */
static void conn_write(struct ws_conn *c, struct ws_frame *f, char *p, size_t n)
{
    if (c->state == CS_DEAD) {
        free(p);
        return;
    }
    if (c->mem_out) {
        buf_append(c->mem_out, f ? f->bytes : p, f ? f->len : n);
        free(p);
        return;
    }
    const char *bytes = f ? f->bytes : p;
    size_t len = f ? f->len : n;
    struct wwrite *w = xcalloc(1, sizeof(*w));
    w->c = c;
    w->owned = p;
    if (f) {
        f->refs++;
        w->frame = f;
        c->data_inflight++;
    }
    c->nwrites++;
    int rc = http_stream_write(c->st, bytes, len, on_write, w);
    if (rc < 0) {
        c->nwrites--;
        if (f) {
            c->data_inflight--;
            frame_unref(f);
        }
        free(p);
        free(w);
        conn_drop(c, "write failed");
    }
}

/* Runs wslay's send side and writes what it produced as one piece. */
static void conn_send(struct ws_conn *c)
{
    if (c->state == CS_DEAD)
        return;
    int rc = wslay_event_send(c->ws);
    if (rc < 0 || c->ctl.err) {
        buf_reset(&c->ctl);
        conn_drop(c, "control output failed");
        return;
    }
    if (c->ctl.len) {
        size_t n;
        char *p = buf_detach(&c->ctl, &n);
        buf_init(&c->ctl, CTL_MAX);
        conn_write(c, NULL, p, n);
    }
    if (c->st && http_stream_write_queue_size(c->st) > c->hub->cfg.max_queue_bytes)
        conn_drop(c, "write queue over its limit");
}

static void on_shutdown(void *ud, int status)
{
    struct ws_conn *c = ud;
    c->nwrites--;
    if (status < 0)
        conn_drop(c, NULL);
    conn_release_if_done(c);
}

static void enter_closing(struct ws_conn *c)
{
    if (c->state != CS_OPEN)
        return;
    leave_open(c);
    c->state = CS_CLOSING;
    c->linger_until = hub_now(c->hub) + c->hub->cfg.linger_ms;
}

/*
 * Moves the state machine on after input or output: a close frame queued or
 * received ends the open phase; once everything is written, a socket gets
 * FIN and lingers (reading) until the peer's EOF or linger_until, so the
 * close frame is not destroyed by an RST.
 */
static void conn_progress(struct ws_conn *c)
{
    if (c->state == CS_DEAD)
        return;
    if (c->state == CS_OPEN &&
        (!wslay_event_get_read_enabled(c->ws) || wslay_event_get_close_sent(c->ws) ||
         wslay_event_get_close_received(c->ws) || !wslay_event_get_write_enabled(c->ws)))
        enter_closing(c);
    if (c->state != CS_CLOSING || c->nwrites || wslay_event_want_write(c->ws))
        return;
    if (c->mem_out) {
        c->state = CS_DEAD;
        return;
    }
    if (c->shut)
        return;
    if (http_stream_shutdown(c->st, on_shutdown, c) < 0) {
        conn_drop(c, NULL);
        return;
    }
    c->shut = 1;
    c->nwrites++;
}

/* Queues a close frame with code (0 = none) and sends it. */
static void conn_close_ws(struct ws_conn *c, uint16_t code)
{
    if (c->state != CS_OPEN)
        return;
    wslay_event_queue_close(c->ws, code, NULL, 0); /* fails only when one is already queued */
    conn_send(c);
    enter_closing(c);
    conn_progress(c);
}

/* ---------------------------------------------------------------- wslay callbacks */

static ssize_t cb_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
    struct ws_conn *c = ud;
    if (c->rdlen == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < c->rdlen ? len : c->rdlen;
    memcpy(buf, c->rd, n);
    c->rd += n;
    c->rdlen -= n;
    return (ssize_t)n;
}

static ssize_t cb_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *ud)
{
    struct ws_conn *c = ud;
    if (buf_append(&c->ctl, data, len) < 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static void cb_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *ud)
{
    struct ws_conn *c = ud;
    /* Text and binary messages are read (bounded by max_msg_bytes) and ignored, as v0. */
    if (arg->opcode == WSLAY_PONG)
        c->awaiting_pong = 0;
}

static const struct wslay_event_callbacks wslay_cbs = {
    .recv_callback = cb_recv,
    .send_callback = cb_send,
    .on_msg_recv_callback = cb_msg,
};

/* ---------------------------------------------------------------- input */

/* Feeds client bytes (borrowed) to wslay and sends whatever it answers. */
static void conn_input(struct ws_conn *c, const void *data, size_t len)
{
    reentry_enter(&c->re);
    if (c->state != CS_DEAD && wslay_event_get_read_enabled(c->ws)) {
        c->rd = data;
        c->rdlen = len;
        int rc = wslay_event_recv(c->ws);
        c->rd = NULL;
        c->rdlen = 0; /* anything after a close or an error is discarded */
        if (rc < 0)
            conn_drop(c, "receive failed");
        else
            conn_send(c);
    }
    conn_progress(c);
    reentry_leave(&c->re);
}

static void on_read(struct http_stream *st, long nread, const char *data, void *ud)
{
    struct ws_conn *c = ud;
    (void)st;
    if (nread < 0) {
        conn_drop(c, nread == UV_EOF ? NULL : uv_strerror((int)nread));
    } else {
        conn_input(c, data, (size_t)nread);
    }
    conn_release_if_done(c);
}

/* ---------------------------------------------------------------- connections */

static struct ws_conn *conn_new(struct ws_hub *hub, int audience)
{
    struct ws_conn *c = xcalloc(1, sizeof(*c));
    if (wslay_event_context_server_init(&c->ws, &wslay_cbs, c) != 0) {
        free(c);
        return NULL;
    }
    wslay_event_config_set_max_recv_msg_length(c->ws, hub->cfg.max_msg_bytes);
    c->hub = hub;
    c->audience = audience == WS_AUDIENCE_ADMIN ? WS_AUDIENCE_ADMIN : WS_AUDIENCE_GUEST;
    c->state = CS_OPEN;
    buf_init(&c->ctl, CTL_MAX);
    list_add(&hub->open[c->audience], c);
    hub->nopen[c->audience]++;
    hub->nconns++;
    return c;
}

/* Sends one shared data frame, enforcing the queue limits and the ping cadence. */
static void conn_push(struct ws_conn *c, struct ws_frame *f)
{
    const struct ws_config *cfg = &c->hub->cfg;
    if (c->data_inflight >= cfg->max_queue_frames ||
        (c->st && http_stream_write_queue_size(c->st) > cfg->max_queue_bytes)) {
        log_info("ws: dropping slow consumer %s (%u frames queued)", c->peer, c->data_inflight);
        conn_drop(c, NULL);
        return;
    }
    conn_write(c, f, NULL, 0);
    if (c->state != CS_OPEN)
        return;
    c->frames_sent++;
    if (cfg->ping_every && c->frames_sent % cfg->ping_every == 0) {
        struct wslay_event_msg m = {WSLAY_PING, NULL, 0};
        if (wslay_event_queue_msg(c->ws, &m) == 0) {
            conn_send(c);
            if (!c->awaiting_pong) {
                c->awaiting_pong = 1;
                c->ping_at = hub_now(c->hub);
            }
        }
    }
}

/* ---------------------------------------------------------------- timer */

static void on_timer_closed(uv_handle_t *h)
{
    struct ws_hub *hub = h->data;
    if (--hub->handles_open == 0)
        free(hub);
}

static void hub_maybe_finish(struct ws_hub *hub)
{
    if (!hub->freeing || hub->nconns || hub->finishing || !hub->loop)
        return;
    flush_rejects(hub);
    hub->finishing = 1;
    uv_close((uv_handle_t *)&hub->timer, on_timer_closed);
    uv_close((uv_handle_t *)&hub->reject_timer, on_timer_closed);
}

static void on_sweep(uv_timer_t *t)
{
    struct ws_hub *hub = t->data;
    uint64_t now = uv_now(hub->loop);
    struct ws_conn *next;
    for (int a = 0; a < WS_AUDIENCES; a++) {
        for (struct ws_conn *c = hub->open[a]; c; c = next) {
            next = c->next;
            if (c->awaiting_pong && now - c->ping_at >= hub->cfg.pong_timeout_ms)
                conn_drop(c, "no pong");
        }
    }
    for (struct ws_conn *c = hub->closing; c; c = c->next) {
        if (c->state == CS_CLOSING && now >= c->linger_until)
            conn_drop(c, NULL);
    }
    hub_reap(hub); /* may close the timer (and free the hub later) */
}

/* ---------------------------------------------------------------- public */

struct ws_hub *ws_hub_new(struct uv_loop_s *loop, const struct ws_config *cfg)
{
    struct ws_hub *hub = xcalloc(1, sizeof(*hub));
    hub->loop = loop;
    if (cfg)
        hub->cfg = *cfg;
    else
        ws_config_defaults(&hub->cfg);
    if (hub->cfg.sweep_ms == 0)
        hub->cfg.sweep_ms = 1000;
    hub->rejects_tail = &hub->rejects;
    if (loop) {
        uv_timer_init(loop, &hub->timer);
        hub->timer.data = hub;
        uv_timer_start(&hub->timer, on_sweep, hub->cfg.sweep_ms, hub->cfg.sweep_ms);
        uv_unref((uv_handle_t *)&hub->timer);
        uv_timer_init(loop, &hub->reject_timer);
        hub->reject_timer.data = hub;
        uv_unref((uv_handle_t *)&hub->reject_timer);
        hub->handles_open = 2;
    }
    return hub;
}

size_t ws_hub_count(const struct ws_hub *hub, int audience)
{
    if (audience == WS_AUDIENCE_GUEST || audience == WS_AUDIENCE_ADMIN)
        return hub->nopen[audience];
    return hub->nopen[0] + hub->nopen[1];
}

int ws_hub_broadcast(struct ws_hub *hub, const struct buf *guest_frame,
                     const struct buf *admin_frame)
{
    if (hub->freeing)
        return -ESHUTDOWN;
    struct ws_frame *f[WS_AUDIENCES] = {NULL, NULL};
    if (guest_frame)
        f[WS_AUDIENCE_GUEST] = frame_new(guest_frame->data, guest_frame->len);
    if (admin_frame) {
        if (guest_frame && guest_frame->len == admin_frame->len &&
            memcmp(guest_frame->data, admin_frame->data, admin_frame->len) == 0) {
            f[WS_AUDIENCE_ADMIN] = f[WS_AUDIENCE_GUEST];
            f[WS_AUDIENCE_ADMIN]->refs++;
        } else {
            f[WS_AUDIENCE_ADMIN] = frame_new(admin_frame->data, admin_frame->len);
        }
    }
    for (int a = 0; a < WS_AUDIENCES; a++) {
        if (!f[a])
            continue;
        frame_unref(hub->last[a]);
        hub->last[a] = f[a]; /* takes the creation reference */
        struct ws_conn *next;
        for (struct ws_conn *c = hub->open[a]; c; c = next) {
            next = c->next;
            conn_push(c, f[a]);
        }
    }
    hub_reap(hub);
    return 0;
}

static const char *status_text(int status)
{
    switch (status) {
    case 400:
        return "Bad Request\n";
    case 403:
        return "Forbidden\n";
    case 405:
        return "Method Not Allowed\n";
    default:
        return "Service Unavailable\n";
    }
}

static int answer(struct http_request *req, int status)
{
    return http_request_respond_text(req, status, "text/plain; charset=utf-8", status_text(status));
}

static void flush_rejects(struct ws_hub *hub)
{
    struct ws_reject *r;
    while ((r = hub->rejects) != NULL) {
        hub->rejects = r->next;
        answer(r->req, r->status);
        free(r);
    }
    hub->rejects_tail = &hub->rejects;
}

static void on_reject_timer(uv_timer_t *t)
{
    flush_rejects(t->data);
}

/*
 * Refuses an upgrade with an HTTP error. On a loop the answer is deferred to
 * the next loop iteration: http.c's dispatch() reads the request after the
 * upgrade callback returns, so answering (which frees it) from inside the
 * callback would be a use-after-free there.
 */
static int reject(struct ws_hub *hub, struct http_request *req, int status, int err)
{
    http_request_add_header(req, "Sec-WebSocket-Version", "13");
    if (!hub->loop || hub->finishing)
        return answer(req, status) == -EPIPE ? -EPIPE : err;
    struct ws_reject *r = xcalloc(1, sizeof(*r));
    r->req = req;
    r->status = status;
    *hub->rejects_tail = r;
    hub->rejects_tail = &r->next;
    uv_timer_start(&hub->reject_timer, on_reject_timer, 0, 0);
    return err;
}

/* True when the comma-separated list v (NULL = absent) has token tok (case-insensitive). */
static int has_token(const char *v, const char *tok)
{
    if (!v)
        return 0;
    size_t tl = strlen(tok);
    while (*v) {
        while (*v == ' ' || *v == '\t' || *v == ',')
            v++;
        const char *s = v;
        while (*v && *v != ',')
            v++;
        const char *e = v;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == tl && strncasecmp(s, tok, tl) == 0)
            return 1;
    }
    return 0;
}

/* gorilla's checkSameOrigin: no Origin, or Origin's host[:port] equal to Host (ASCII fold). */
static int origin_ok(const char *origin, const char *host)
{
    if (!origin)
        return 1;
    if (!host)
        host = "";
    const char *a = strstr(origin, "://");
    const char *auth = "";
    size_t alen = 0;
    if (a) {
        auth = a + 3;
        alen = strcspn(auth, "/?#");
        const char *at = memrchr(auth, '@', alen);
        if (at) {
            alen -= (size_t)(at + 1 - auth);
            auth = at + 1;
        }
    }
    return strlen(host) == alen && strncasecmp(auth, host, alen) == 0;
}

static int b64_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '+' || ch == '/';
}

/* Sec-WebSocket-Key must be the base64 of 16 bytes: 22 symbols and "==". */
static int key_ok(const char *k)
{
    if (!k || strlen(k) != 24 || k[22] != '=' || k[23] != '=')
        return 0;
    for (int i = 0; i < 22; i++) {
        if (!b64_char(k[i]))
            return 0;
    }
    return 1;
}

/* Sec-WebSocket-Accept of key (RFC 6455 §4.2.2): base64(SHA-1(key + GUID)), 28 chars + NUL. */
static int accept_key(const char *key, char out[29])
{
    char in[24 + sizeof(WS_GUID)];
    size_t kl = strlen(key);
    memcpy(in, key, kl);
    memcpy(in + kl, WS_GUID, sizeof(WS_GUID) - 1);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(in, kl + sizeof(WS_GUID) - 1, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
        return -EIO;
    if (EVP_EncodeBlock((unsigned char *)out, md, 20) != 28)
        return -EIO;
    return 0;
}

int ws_hub_upgrade(struct ws_hub *hub, struct http_request *req, int audience)
{
    if (hub->freeing)
        return reject(hub, req, 503, -ESHUTDOWN);
    if (strcmp(http_request_method(req), "GET") != 0)
        return reject(hub, req, 405, -EINVAL);
    if (!has_token(http_request_header(req, "Connection"), "upgrade") ||
        !has_token(http_request_header(req, "Upgrade"), "websocket") ||
        !has_token(http_request_header(req, "Sec-WebSocket-Version"), "13"))
        return reject(hub, req, 400, -EINVAL);
    if (!origin_ok(http_request_header(req, "Origin"), http_request_header(req, "Host")))
        return reject(hub, req, 403, -EPERM);
    const char *key = http_request_header(req, "Sec-WebSocket-Key");
    if (!key_ok(key))
        return reject(hub, req, 400, -EINVAL);
    if (hub->nconns >= hub->cfg.max_connections) {
        log_warn("ws: refusing \"%s\": %u connections open", http_request_peer_ip(req),
                 hub->cfg.max_connections);
        return reject(hub, req, 503, -EBUSY);
    }
    char acc[29];
    if (accept_key(key, acc) < 0)
        return reject(hub, req, 503, -EIO);
    if (!hub->loop)
        return reject(hub, req, 503, -ESHUTDOWN); /* a memory-only hub has no sockets */
    char peer[64];
    snprintf(peer, sizeof(peer), "%s", http_request_peer_ip(req));
    struct slice left;
    struct http_stream *st = http_request_take_stream(req, &left);
    if (!st) /* closing, or a socket-less http_conn: still answer (frees an orphan) */
        return reject(hub, req, 503, -EPIPE);
    struct ws_conn *c = conn_new(hub, audience);
    if (!c) {
        http_stream_close(st);
        return -ENOMEM;
    }
    memcpy(c->peer, peer, sizeof(peer));
    c->st = st;
    reentry_enter(&c->re);
    struct buf head;
    buf_init(&head, 0);
    buf_printf(&head,
               "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
               acc);
    size_t hn;
    char *hp = buf_detach(&head, &hn);
    conn_write(c, NULL, hp, hn);
    if (c->state != CS_DEAD &&
        http_stream_read_start(st, c->hub->readbuf, sizeof(c->hub->readbuf), on_read, c) < 0)
        conn_drop(c, "read start failed");
    if (left.len)
        conn_input(c, left.ptr, left.len);
    if (c->state == CS_OPEN && hub->last[c->audience])
        conn_push(c, hub->last[c->audience]);
    reentry_leave(&c->re);
    conn_release_if_done(c);
    return 0;
}

void ws_hub_free(struct ws_hub *hub)
{
    if (!hub)
        return;
    hub->freeing = 1;
    flush_rejects(hub);
    for (int a = 0; a < WS_AUDIENCES; a++) {
        frame_unref(hub->last[a]);
        hub->last[a] = NULL;
    }
    struct ws_conn *next;
    for (int a = 0; a < WS_AUDIENCES; a++) {
        for (struct ws_conn *c = hub->open[a]; c; c = next) {
            next = c->next;
            reentry_enter(&c->re);
            conn_close_ws(c, WSLAY_CODE_GOING_AWAY);
            reentry_leave(&c->re);
        }
    }
    if (!hub->loop) {
        /* Memory-only hub: its connections were freed by the caller. */
        free(hub);
        return;
    }
    hub_reap(hub);
    hub_maybe_finish(hub);
}

/* ---------------------------------------------------------------- memory seam */

struct ws_conn *ws_conn_new_memory(struct ws_hub *hub, int audience, struct buf *out)
{
    struct ws_conn *c = conn_new(hub, audience);
    if (!c)
        return NULL;
    c->mem_out = out;
    snprintf(c->peer, sizeof(c->peer), "memory");
    return c;
}

int ws_conn_feed(struct ws_conn *c, const void *data, size_t len)
{
    if (c->state == CS_DEAD)
        return -EPIPE;
    conn_input(c, data, len);
    return c->state == CS_DEAD ? -EPIPE : 0;
}

int ws_conn_is_closed(const struct ws_conn *c)
{
    return c->state != CS_OPEN;
}

void ws_conn_free_memory(struct ws_conn *c)
{
    if (!c)
        return;
    struct ws_hub *hub = c->hub;
    conn_free(c);
    if (hub->loop)
        hub_maybe_finish(hub);
}
