/*
 * http: HTTP/1.1 server on libuv + http-parser (see http.h and
 * docs/internals/http.md).
 *
 * Object lifetimes:
 *  - struct http_conn is freed only when its handles (tcp, timer) are closed
 *    and no uv_write is outstanding (write callbacks point at it);
 *  - a request is owned by the connection while it is being parsed, by the
 *    handler from dispatch until respond(); if the connection dies first the
 *    request is orphaned (req->conn = NULL) and respond() just frees it;
 *  - nothing is freed inside its own callback: closing marks the connection
 *    and lets libuv's close callbacks do the freeing;
 *  - an upgraded connection's socket and TLS state move into a struct
 *    http_stream, freed by the close callback of its socket.
 *
 * TLS (when the server has a context): ciphertext read from the socket is fed
 * to the connection's tls_conn; after the handshake, plaintext is pulled into
 * `in` only while it has room (the rest waits inside OpenSSL, which is bounded
 * because reading stops like it does for plain input); sock_write() is the one
 * place bytes reach the socket, conn_write() encrypts before it.
 */
#include "http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <http_parser.h>
#include <uv.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "dashboard/http_gzip.h"
#include "dashboard/http_query.h"
#include "proto/tls.h"
#include "proto/tlspump.h"

#define READ_CHUNK           65536
#define MAX_UNPARSED         (2 * READ_CHUNK + 16384) /* bytes kept while parsing is paused */
#define MAX_ROUTES           256
#define MAX_SEGMENTS         32
#define MAX_PATH_BYTES       8192
#define MAX_TLS_BUFFERED     MAX_UNPARSED /* ciphertext fed to OpenSSL and not yet decrypted */
#define TLS_RECORD_HANDSHAKE 0x16         /* first byte of a TLS client hello */

enum timer_mode { TM_NONE, TM_HEADERS, TM_IDLE, TM_BODY, TM_LINGER };

struct route {
    char *method;
    char *pattern;
    char *segs[MAX_SEGMENTS]; /* owned; ":x" param, "*x" rest, else literal */
    size_t nsegs;
    http_handler_cb cb;
    void *ud;
};

struct http_server {
    uv_loop_t *loop;    /* borrowed; NULL for memory-only servers */
    uv_tcp_t *listener; /* owned; NULL when not listening */
    struct http_config cfg;
    struct route routes[MAX_ROUTES];
    size_t nroutes;
    http_upgrade_cb upgrade_cb;
    void *upgrade_ud;
    struct http_conn *conns; /* list of live connections */
    size_t nconns;           /* connections not yet freed */
    int closing;
    http_server_closed_cb closed_cb;
    void *closed_ud;
    struct tls_ctx *tls;      /* owned; NULL = plain HTTP */
    char readbuf[READ_CHUNK]; /* shared: read_cb consumes it immediately */
    time_t date_at;
    char date[40];
    uint64_t n_errors; /* answers with a status >= 400 (http_server_errors) */
};

struct http_request {
    struct http_conn *conn; /* NULL once orphaned */
    unsigned method;        /* enum http_method */
    int http_major, http_minor;
    int keep_alive;
    int upgrade;
    int head;
    int responded;
    int headers_done;
    int last_was_value;
    int tls; /* came over TLS */
    size_t head_bytes;
    struct buf url;  /* raw request target */
    struct buf hdrs; /* "name\0value\0" ... */
    size_t hname[HTTP_MAX_HEADERS];
    size_t hval[HTTP_MAX_HEADERS];
    size_t nhdrs;
    struct buf body;
    char *path; /* owned, decoded */
    struct http_query query;
    const char *param_name[HTTP_MAX_PARAMS]; /* borrowed from the route */
    char *param_val[HTTP_MAX_PARAMS];        /* owned */
    size_t nparams;
    struct buf resp_hdrs; /* "Name: value\r\n" lines */
    int no_compress;      /* http_request_set_compress(req, 0) */
    int has_encoding;     /* the handler set Content-Encoding */
    int vary_ae;          /* a Vary header naming Accept-Encoding is set */
    char peer[64];
    struct slice leftover;     /* upgrade only */
    struct http_stream *taken; /* upgrade only: stream handed to the callback */
};

struct http_conn {
    struct http_server *srv;
    struct http_conn *prev, *next;
    uv_tcp_t *tcp;                  /* owned until closed or taken; NULL for memory conns */
    struct tls_conn *tls;           /* owned until freed or taken; NULL = plain */
    int tls_ready;                  /* handshake complete */
    int tls_started;                /* first byte seen (a TLS record or not) */
    struct http_request *taken_req; /* set by http_request_take_stream (upgrade dispatch) */
    uv_timer_t timer;
    int timer_open;
    int handles_open; /* tcp + timer not yet through their close callbacks */
    size_t nwrites;   /* uv_write requests outstanding */
    size_t write_bytes;
    struct buf *mem_out; /* memory conns: response sink (borrowed) */
    http_parser parser;
    struct buf in;                /* unparsed input */
    struct http_request *req;     /* being parsed */
    struct http_request *pending; /* dispatched, not yet answered */
    int msg_complete;
    int err_status; /* set by parser callbacks: 413, 431 */
    int in_feed;
    int closing;           /* closed or closing: no more I/O */
    int close_after_write; /* answer sent with Connection: close */
    int eof;               /* peer half-closed */
    int reading;
    int lingering;
    int linked;
    enum timer_mode tmode; /* what the timer currently runs for */
    int rearm;             /* restart the timer even if the mode is unchanged */
    char peer[64];
};

struct wreq {
    uv_write_t w;
    struct http_conn *c;
    char *hdr;
    char *body;
    size_t len;
};

/* An upgraded connection (see http.h). */
struct http_stream {
    uv_tcp_t *tcp;        /* owned; tcp->data = the stream */
    struct tls_conn *tls; /* owned; NULL = plain */
    char *rbuf;           /* caller's read buffer (borrowed) */
    size_t rcap;
    http_stream_read_cb read_cb;
    void *read_ud;
    int closing;
    char peer[64];
};

/* A write or shutdown of a stream. */
struct swreq {
    union {
        uv_write_t w;
        uv_shutdown_t sd;
    } u;
    http_stream_done_cb cb;
    void *ud;
    char *owned; /* ciphertext copy (TLS) or NULL */
};

static const char security_headers[] = "X-Content-Type-Options: nosniff\r\n"
                                       "X-Frame-Options: DENY\r\n"
                                       "Content-Security-Policy: frame-ancestors 'none'\r\n"
                                       "Referrer-Policy: same-origin\r\n";

static void process(struct http_conn *c);
static void conn_close(struct http_conn *c);
static void conn_maybe_free(struct http_conn *c);
static void update_io(struct http_conn *c);

void http_config_defaults(struct http_config *cfg)
{
    cfg->max_header_bytes = 16384;
    cfg->max_headers = 100;
    cfg->max_body_bytes = 1048576;
    cfg->header_timeout_ms = 10000;
    cfg->idle_timeout_ms = 60000;
    cfg->linger_ms = 2000;
    cfg->max_connections = 1024;
    cfg->max_write_queue = 4u << 20;
}

/* ---------------------------------------------------------------- requests */

static struct http_request *req_new(struct http_conn *c)
{
    struct http_request *r = xcalloc(1, sizeof(*r));
    r->conn = c;
    buf_init(&r->url, 0);
    buf_init(&r->hdrs, 0);
    buf_init(&r->body, c->srv->cfg.max_body_bytes);
    buf_init(&r->resp_hdrs, HTTP_MAX_RESP_HEADERS);
    http_query_init(&r->query);
    memcpy(r->peer, c->peer, sizeof(r->peer));
    r->tls = c->tls != NULL;
    return r;
}

static void req_free(struct http_request *r)
{
    if (!r)
        return;
    buf_release(&r->url);
    buf_release(&r->hdrs);
    buf_release(&r->body);
    buf_release(&r->resp_hdrs);
    http_query_release(&r->query);
    free(r->path);
    for (size_t i = 0; i < r->nparams; i++)
        free(r->param_val[i]);
    free(r);
}

const char *http_request_method(const struct http_request *req)
{
    return http_method_str((enum http_method)req->method);
}

int http_request_is_head(const struct http_request *req)
{
    return req->head;
}

const char *http_request_path(const struct http_request *req)
{
    return req->path ? req->path : "/";
}

const char *http_request_query(const struct http_request *req, const char *name)
{
    return http_query_get(&req->query, name);
}

const struct http_query *http_request_query_all(const struct http_request *req)
{
    return &req->query;
}

const char *http_request_param(const struct http_request *req, const char *name)
{
    for (size_t i = 0; i < req->nparams; i++)
        if (strcmp(req->param_name[i], name) == 0)
            return req->param_val[i];
    return NULL;
}

const char *http_request_header(const struct http_request *req, const char *name)
{
    for (size_t i = 0; i < req->nhdrs; i++)
        if (strcasecmp(req->hdrs.data + req->hname[i], name) == 0)
            return req->hdrs.data + req->hval[i];
    return NULL;
}

int http_request_cookie(const struct http_request *req, const char *name, struct slice *out)
{
    for (size_t i = 0; i < req->nhdrs; i++) {
        if (strcasecmp(req->hdrs.data + req->hname[i], "Cookie") != 0)
            continue;
        if (http_query_cookie(req->hdrs.data + req->hval[i], name, out) == 0)
            return 0;
    }
    return -ENOENT;
}

void http_request_body(const struct http_request *req, struct slice *out)
{
    out->ptr = req->body.data;
    out->len = req->body.len;
}

const char *http_request_peer_ip(const struct http_request *req)
{
    return req->peer;
}

int http_request_alive(const struct http_request *req)
{
    return req->conn != NULL && !req->conn->closing;
}

int http_request_is_tls(const struct http_request *req)
{
    return req->tls;
}

int http_request_add_header(struct http_request *req, const char *name, const char *value)
{
    if (req->responded)
        return -EALREADY;
    if (!*name || strpbrk(name, "\r\n: \t") || strpbrk(value, "\r\n"))
        return -EINVAL;
    if (strcasecmp(name, "Content-Encoding") == 0)
        req->has_encoding = 1;
    else if (strcasecmp(name, "Vary") == 0 && strcasestr(value, "accept-encoding"))
        req->vary_ae = 1;
    buf_puts(&req->resp_hdrs, name);
    buf_append(&req->resp_hdrs, ": ", 2);
    buf_puts(&req->resp_hdrs, value);
    return buf_append(&req->resp_hdrs, "\r\n", 2);
}

int http_request_accepts_gzip(const struct http_request *req)
{
    struct http_gzip_accept a;
    http_gzip_accept_init(&a);
    for (size_t i = 0; i < req->nhdrs; i++) {
        if (strcasecmp(req->hdrs.data + req->hname[i], "Accept-Encoding") != 0)
            continue;
        const char *v = req->hdrs.data + req->hval[i];
        http_gzip_accept_feed(&a, v, strlen(v));
    }
    return http_gzip_accept_gzip(&a);
}

void http_request_set_compress(struct http_request *req, int allow)
{
    req->no_compress = !allow;
}

/* ---------------------------------------------------------------- output */

static const char *reason(int status)
{
    switch (status) {
    case 413:
        return "Request Entity Too Large";
    case 431:
        return "Request Header Fields Too Large";
    default: {
        const char *s = http_status_str((enum http_status)status);
        return s && strcmp(s, "<unknown>") != 0 ? s : "Unknown";
    }
    }
}

static const char *date_now(struct http_server *s)
{
    time_t now = time(NULL);
    if (now != s->date_at || !s->date[0]) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(s->date, sizeof(s->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        s->date_at = now;
    }
    return s->date;
}

static void on_write(uv_write_t *w, int status)
{
    struct wreq *wr = (struct wreq *)w;
    struct http_conn *c = wr->c;
    c->nwrites--;
    c->write_bytes -= wr->len;
    free(wr->hdr);
    free(wr->body);
    free(wr);
    if (status < 0 && !c->closing)
        conn_close(c);
    if (c->closing || !c->tcp) {
        conn_maybe_free(c);
        return;
    }
    update_io(c);
    /* Backpressure may have left input (or, under TLS, undecrypted records) waiting. */
    if (!c->in_feed && !c->pending && (c->in.len || c->tls) && !c->close_after_write)
        process(c);
}

/*
 * Writes hdr (owned, consumed) + body (owned, consumed, may be NULL) to the
 * socket as they are. The one place bytes reach the socket.
 */
static void sock_write(struct http_conn *c, char *hdr, size_t hlen, char *body, size_t blen)
{
    if (!c->tcp || c->closing) {
        free(hdr);
        free(body);
        return;
    }
    struct wreq *wr = xcalloc(1, sizeof(*wr));
    wr->c = c;
    wr->hdr = hdr;
    wr->body = body;
    wr->len = hlen + blen;
    uv_buf_t bufs[2] = {uv_buf_init(hdr, (unsigned)hlen), uv_buf_init(body, (unsigned)blen)};
    int rc = uv_write(&wr->w, (uv_stream_t *)c->tcp, bufs, blen ? 2 : 1, on_write);
    if (rc < 0) {
        free(hdr);
        free(body);
        free(wr);
        conn_close(c);
        return;
    }
    c->nwrites++;
    c->write_bytes += wr->len;
}

/* Sends the ciphertext OpenSSL made (handshake, records, alerts). Returns 0, or -1 once closed. */
static int tls_flush(struct http_conn *c)
{
    struct buf ct;
    buf_init(&ct, 0);
    if (tlspump_flush(c->tls, &ct) != 0) {
        buf_release(&ct);
        conn_close(c);
        return -1;
    }
    if (ct.len == 0) {
        buf_release(&ct);
        return 0;
    }
    size_t n;
    char *p = buf_detach(&ct, &n);
    sock_write(c, p, n, NULL, 0);
    return c->closing ? -1 : 0;
}

/* Sends hdr (owned, consumed) + body (owned, consumed, may be NULL): encrypted under TLS. */
static void conn_write(struct http_conn *c, char *hdr, size_t hlen, char *body, size_t blen)
{
    if (c->mem_out) {
        buf_append(c->mem_out, hdr, hlen);
        if (blen)
            buf_append(c->mem_out, body, blen);
        free(hdr);
        free(body);
        return;
    }
    if (c->tls) {
        int rc = c->tls_ready && !c->closing && c->tcp ? 0 : -EPIPE;
        if (rc == 0)
            rc = tls_conn_write(c->tls, (const uint8_t *)hdr, hlen);
        if (rc == 0 && blen)
            rc = tls_conn_write(c->tls, (const uint8_t *)body, blen);
        free(hdr);
        free(body);
        if (rc != 0)
            conn_close(c);
        else
            tls_flush(c);
        return;
    }
    sock_write(c, hdr, hlen, body, blen);
}

static int is_api_path(const char *url)
{
    return strncmp(url, "/api/", 5) == 0 || strcmp(url, "/api") == 0;
}

/* Builds the head and sends head + body. body_owned consumed. */
static void send_response(struct http_conn *c, int status, const char *ctype, const char *extra,
                          size_t extra_len, char *body, size_t blen, int head_only, int close,
                          int http10_keepalive)
{
    struct buf h;
    buf_init(&h, 0);
    buf_printf(&h, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, reason(status), date_now(c->srv));
    if (ctype)
        buf_printf(&h, "Content-Type: %s\r\n", ctype);
    if (status >= 200 && status != 204 && status != 304)
        buf_printf(&h, "Content-Length: %zu\r\n", blen);
    buf_append(&h, security_headers, sizeof(security_headers) - 1);
    if (extra_len)
        buf_append(&h, extra, extra_len);
    if (close)
        buf_puts(&h, "Connection: close\r\n");
    else if (http10_keepalive)
        buf_puts(&h, "Connection: keep-alive\r\n");
    buf_append(&h, "\r\n", 2);
    size_t hlen;
    char *hdr = buf_detach(&h, &hlen);
    if (head_only || status < 200 || status == 204 || status == 304) {
        free(body);
        body = NULL;
        blen = 0;
    }
    conn_write(c, hdr, hlen, body, blen);
}

/* Answers a request the server itself rejects, then closes the connection. */
static void send_error_close(struct http_conn *c, int status, const char *url)
{
    c->srv->n_errors++;
    const char *msg = reason(status);
    struct buf b;
    buf_init(&b, 0);
    const char *ctype;
    if (url && is_api_path(url)) {
        buf_printf(&b, "{\"code\":%d,\"message\":\"%s\"}", status, msg);
        ctype = "application/json; charset=utf-8";
    } else {
        buf_printf(&b, "<!DOCTYPE html><title>%d %s</title><h1>%d %s</h1>\n", status, msg, status,
                   msg);
        ctype = "text/html; charset=utf-8";
    }
    size_t blen;
    char *body = buf_detach(&b, &blen);
    send_response(c, status, ctype, NULL, 0, body, blen, 0, 1, 0);
    c->close_after_write = 1;
    if (c->mem_out || !c->nwrites)
        conn_close(c);
}

/*
 * On-the-fly gzip (docs/internals/http.md, "Compression"). Bodies up to
 * GZIP_SYNC_MAX are compressed on the loop thread (zlib level 1 runs at about
 * 250 MB/s here, so 64 KiB costs ~0.25 ms); larger ones on the libuv work pool
 * (the 1000-server details body, ~900 KB, costs 3.5-6 ms), so the loop stays
 * responsive. Memory connections (no loop) always compress inline.
 */
#define GZIP_SYNC_MAX (64u << 10)

enum gzip_plan { GZ_NONE, GZ_NOW, GZ_POOL };

/*
 * Decides how req's body (blen bytes; have_body 0 when there is none) goes
 * out. A body worth compressing (type, size, status, not already encoded, not
 * opted out) gets "Vary: Accept-Encoding" whatever the client sent, since the
 * choice depends on that header; it is compressed only when the client
 * accepts gzip. HEAD takes the same path, so its headers are those of the GET.
 */
static enum gzip_plan gzip_plan(struct http_request *req, int status, const char *ctype,
                                size_t blen, int have_body)
{
    if (req->no_compress || req->has_encoding || !have_body || status < 200 || status == 204 ||
        status == 304 || blen < HTTP_GZIP_MIN_BYTES || blen > HTTP_GZIP_MAX_BYTES ||
        !http_gzip_compressible(ctype))
        return GZ_NONE;
    if (!req->vary_ae) {
        if (buf_puts(&req->resp_hdrs, "Vary: Accept-Encoding\r\n") != 0)
            return GZ_NONE;
        req->vary_ae = 1;
    }
    if (!http_request_accepts_gzip(req))
        return GZ_NONE;
    struct http_conn *c = req->conn;
    return blen > GZIP_SYNC_MAX && c->srv->loop && !c->mem_out ? GZ_POOL : GZ_NOW;
}

/*
 * After a compression with result rc: when gz (borrowed, released here) is
 * the smaller form it replaces *body (owned: freed and replaced) and the
 * answer is labelled; otherwise the identity body goes out unchanged.
 */
static void use_gzip(struct http_request *req, struct buf *gz, int rc, char **body, size_t *blen)
{
    if (rc == 0 && gz->len < *blen &&
        buf_puts(&req->resp_hdrs, "Content-Encoding: gzip\r\n") == 0) {
        free(*body);
        *body = buf_detach(gz, blen);
    }
    buf_release(gz);
}

/* Sends req's answer (b owned, consumed; ctype borrowed) and frees req. */
static int finish_response(struct http_request *req, int status, const char *ctype, char *b,
                           size_t blen)
{
    struct http_conn *c = req->conn;
    if (!c || c->closing) {
        free(b);
        if (c && c->pending == req)
            c->pending = NULL;
        req_free(req);
        return -EPIPE;
    }
    int close = !req->keep_alive || c->srv->closing || c->eof || req->upgrade;
    int ka10 = !close && req->http_major == 1 && req->http_minor == 0;
    send_response(c, status, ctype, req->resp_hdrs.data, req->resp_hdrs.len, b, blen, req->head,
                  close, ka10);
    if (c->pending == req)
        c->pending = NULL;
    req_free(req);
    if (close) {
        c->close_after_write = 1;
        if (c->mem_out || !c->nwrites)
            conn_close(c);
        else
            update_io(c);
        return 0;
    }
    if (!c->in_feed)
        process(c);
    return 0;
}

/*
 * A body being compressed on the work pool. The request stays its
 * connection's pending one meanwhile, so nothing after it is parsed or
 * answered (order is kept); if the connection dies it is orphaned as usual
 * and finish_response just frees it.
 */
struct gzip_job {
    uv_work_t work;
    struct http_request *req; /* owned until finish_response */
    int status;
    char *ctype; /* owned copy; NULL = no Content-Type */
    char *body;  /* owned */
    size_t blen;
    struct buf gz; /* written by the pool thread only */
    int rc;
};

/* Pool thread: touches nothing but the job. */
static void gzip_job_run(uv_work_t *w)
{
    struct gzip_job *j = (struct gzip_job *)w;
    j->rc = http_gzip_compress(j->body, j->blen, HTTP_GZIP_LEVEL, &j->gz);
}

static void gzip_job_done(uv_work_t *w, int status)
{
    struct gzip_job *j = (struct gzip_job *)w;
    use_gzip(j->req, &j->gz, status < 0 ? status : j->rc, &j->body, &j->blen);
    finish_response(j->req, j->status, j->ctype, j->body, j->blen);
    free(j->ctype);
    free(j);
}

int http_request_respond(struct http_request *req, int status, const char *content_type,
                         struct buf *body)
{
    char *b = NULL;
    size_t blen = 0;
    if (body) {
        b = buf_detach(body, &blen);
    }
    if (req->responded) {
        free(b);
        return -EALREADY;
    }
    req->responded = 1;
    struct http_conn *c = req->conn;
    if (c && status >= 400)
        c->srv->n_errors++;
    if (!c || c->closing)
        return finish_response(req, status, content_type, b, blen);
    enum gzip_plan plan = gzip_plan(req, status, content_type, blen, b != NULL);
    if (plan == GZ_NOW) {
        struct buf gz;
        buf_init(&gz, 0);
        int rc = http_gzip_compress(b, blen, HTTP_GZIP_LEVEL, &gz);
        use_gzip(req, &gz, rc, &b, &blen);
    } else if (plan == GZ_POOL) {
        struct gzip_job *j = xcalloc(1, sizeof(*j));
        j->req = req;
        j->status = status;
        j->ctype = content_type ? xstrdup(content_type) : NULL;
        j->body = b;
        j->blen = blen;
        buf_init(&j->gz, 0);
        if (uv_queue_work(c->srv->loop, &j->work, gzip_job_run, gzip_job_done) == 0)
            return 0;
        free(j->ctype); /* could not queue: the identity body is a valid answer too */
        free(j);
    }
    return finish_response(req, status, content_type, b, blen);
}

int http_request_respond_json(struct http_request *req, int status, struct buf *body)
{
    return http_request_respond(req, status, "application/json; charset=utf-8", body);
}

int http_request_respond_gzip(struct http_request *req, int status, const char *content_type,
                              struct buf *gzbody)
{
    if (http_request_add_header(req, "Content-Encoding", "gzip") != 0 ||
        (!req->vary_ae && http_request_add_header(req, "Vary", "Accept-Encoding") != 0)) {
        /* Only when the handler filled HTTP_MAX_RESP_HEADERS: the body cannot go out unlabelled. */
        if (gzbody)
            buf_reset(gzbody);
        buf_reset(&req->resp_hdrs);
        req->has_encoding = 0;
        req->vary_ae = 0;
        return http_request_respond_text(req, 500, "text/plain; charset=utf-8",
                                         "response headers too large\n");
    }
    return http_request_respond(req, status, content_type, gzbody);
}

int http_request_respond_text(struct http_request *req, int status, const char *content_type,
                              const char *text)
{
    struct buf b;
    buf_init(&b, 0);
    buf_puts(&b, text);
    int rc = http_request_respond(req, status, content_type, &b);
    buf_release(&b);
    return rc;
}

/* ---------------------------------------------------------------- parser callbacks */

static int count_head(struct http_conn *c, size_t n)
{
    struct http_request *r = c->req;
    r->head_bytes += n;
    if (r->head_bytes > c->srv->cfg.max_header_bytes) {
        c->err_status = 431;
        return 1;
    }
    return 0;
}

static int on_message_begin(http_parser *p)
{
    struct http_conn *c = p->data;
    if (!c->req)
        c->req = req_new(c);
    c->req->head_bytes = 16; /* method, version, line ends */
    if (c->tmode != TM_HEADERS)
        c->rearm = 1; /* header timeout counts from the request's first byte */
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    if (count_head(c, n))
        return 1;
    buf_append(&c->req->url, at, n);
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    struct http_request *r = c->req;
    if (count_head(c, n))
        return 1;
    if (r->last_was_value || r->nhdrs == 0) {
        if (r->nhdrs)
            buf_putc(&r->hdrs, '\0'); /* ends the previous value */
        if (r->nhdrs >= c->srv->cfg.max_headers || r->nhdrs >= HTTP_MAX_HEADERS) {
            c->err_status = 431;
            return 1;
        }
        r->hname[r->nhdrs] = r->hdrs.len;
        r->hval[r->nhdrs] = SIZE_MAX;
        r->nhdrs++;
        r->head_bytes += 4;
        r->last_was_value = 0;
    }
    buf_append(&r->hdrs, at, n);
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    struct http_request *r = c->req;
    if (count_head(c, n))
        return 1;
    if (!r->last_was_value) {
        buf_putc(&r->hdrs, '\0'); /* ends the name */
        r->hval[r->nhdrs - 1] = r->hdrs.len;
        r->last_was_value = 1;
    }
    buf_append(&r->hdrs, at, n);
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct http_conn *c = p->data;
    struct http_request *r = c->req;
    if (r->nhdrs) {
        if (!r->last_was_value) { /* a field without value */
            buf_putc(&r->hdrs, '\0');
            r->hval[r->nhdrs - 1] = r->hdrs.len;
        }
        buf_putc(&r->hdrs, '\0');
    }
    r->headers_done = 1;
    r->method = p->method;
    r->http_major = p->http_major;
    r->http_minor = p->http_minor;
    r->head = p->method == HTTP_HEAD;
    if (p->content_length != ULLONG_MAX && p->content_length > c->srv->cfg.max_body_bytes) {
        c->err_status = 413;
        return -1;
    }
    if (!p->upgrade) {
        const char *expect = http_request_header(r, "Expect");
        if (expect && strcasecmp(expect, "100-continue") == 0 && r->http_minor >= 1) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            conn_write(c, xstrndup(cont, sizeof(cont) - 1), sizeof(cont) - 1, NULL, 0);
        }
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct http_conn *c = p->data;
    if (buf_append(&c->req->body, at, n)) {
        c->err_status = 413;
        return 1;
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct http_conn *c = p->data;
    c->req->keep_alive = http_should_keep_alive(p);
    c->req->upgrade = p->upgrade;
    c->msg_complete = 1;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---------------------------------------------------------------- routing */

static void free_route(struct route *rt)
{
    free(rt->method);
    free(rt->pattern);
    for (size_t i = 0; i < rt->nsegs; i++)
        free(rt->segs[i]);
}

int http_server_route(struct http_server *s, const char *method, const char *pattern,
                      http_handler_cb cb, void *ud)
{
    if (s->nroutes >= MAX_ROUTES)
        return -E2BIG;
    if (pattern[0] != '/' || !*method)
        return -EINVAL;
    struct route rt = {0};
    const char *p = pattern + 1;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (rt.nsegs >= MAX_SEGMENTS || ((p[0] == ':' || p[0] == '*') && n < 2) ||
            (p[0] == '*' && slash)) {
            free_route(&rt);
            return -EINVAL;
        }
        rt.segs[rt.nsegs++] = xstrndup(p, n);
        if (!slash)
            break;
        p = slash + 1;
    }
    rt.method = xstrdup(method);
    rt.pattern = xstrdup(pattern);
    rt.cb = cb;
    rt.ud = ud;
    s->routes[s->nroutes++] = rt;
    log_debug("http: route %s %s", method, pattern);
    return 0;
}

/* Matches path segments against a route; fills params into r when r != NULL. */
static int route_match(const struct route *rt, char **segs, size_t nsegs, const char *path,
                       size_t *seg_off, struct http_request *r)
{
    size_t i = 0;
    for (; i < rt->nsegs; i++) {
        const char *ps = rt->segs[i];
        if (ps[0] == '*') {
            if (r && r->nparams < HTTP_MAX_PARAMS) {
                r->param_name[r->nparams] = ps + 1;
                r->param_val[r->nparams++] = xstrdup(i < nsegs ? path + seg_off[i] : "");
            }
            return 1;
        }
        if (i >= nsegs)
            return 0;
        if (ps[0] == ':') {
            if (!segs[i][0])
                return 0;
            if (r && r->nparams < HTTP_MAX_PARAMS) {
                r->param_name[r->nparams] = ps + 1;
                r->param_val[r->nparams++] = xstrdup(segs[i]);
            }
        } else if (strcmp(ps, segs[i]) != 0) {
            return 0;
        }
    }
    return i == nsegs;
}

static void clear_params(struct http_request *r)
{
    for (size_t i = 0; i < r->nparams; i++)
        free(r->param_val[i]);
    r->nparams = 0;
}

/*
 * Splits the decoded path into segments (in place copy). Segment i starts at
 * path + seg_off[i] in the original path.
 */
static size_t split_path(const char *path, size_t plen, char *copy, char **segs, size_t *seg_off)
{
    size_t n = 0;
    memcpy(copy, path, plen + 1);
    char *p = copy + 1;
    for (;;) {
        if (n >= MAX_SEGMENTS)
            return SIZE_MAX;
        segs[n] = p;
        seg_off[n] = (size_t)(p - copy);
        n++;
        char *slash = strchr(p, '/');
        if (!slash)
            break;
        *slash = '\0';
        p = slash + 1;
    }
    return n;
}

/* Finds the route; returns it, or NULL with *method_mismatch set when only the method differs. */
static const struct route *find_route(struct http_server *s, struct http_request *r,
                                      const char *path, int *method_mismatch)
{
    size_t plen = strlen(path);
    char *copy = xmalloc(plen + 1);
    char *segs[MAX_SEGMENTS];
    size_t seg_off[MAX_SEGMENTS];
    const struct route *found = NULL;
    *method_mismatch = 0;
    size_t nsegs = split_path(path, plen, copy, segs, seg_off);
    if (nsegs == SIZE_MAX)
        goto out;
    const char *m = http_request_method(r);
    for (int pass = 0; pass < 2 && !found; pass++) {
        /* pass 1: a HEAD request may use a GET route */
        if (pass == 1 && !r->head)
            break;
        const char *want = pass == 0 ? m : "GET";
        for (size_t i = 0; i < s->nroutes; i++) {
            const struct route *rt = &s->routes[i];
            if (!route_match(rt, segs, nsegs, path, seg_off, NULL))
                continue;
            if (strcmp(rt->method, want) != 0) {
                *method_mismatch = 1;
                continue;
            }
            clear_params(r);
            route_match(rt, segs, nsegs, path, seg_off, r);
            found = rt;
            break;
        }
    }
out:
    free(copy);
    return found;
}

static void respond_not_found(struct http_request *r, int status, const char *allow)
{
    const char *path = http_request_path(r);
    if (allow)
        http_request_add_header(r, "Allow", allow);
    if (is_api_path(path)) {
        char body[96];
        snprintf(body, sizeof(body), "{\"code\":%d,\"message\":\"%s\"}", status,
                 status == 404 ? "not found" : "method not allowed");
        http_request_respond_text(r, status, "application/json; charset=utf-8", body);
    } else {
        http_request_respond_text(r, status, "text/html; charset=utf-8",
                                  status == 404 ? "<!DOCTYPE html><title>404 Not Found</title>"
                                                  "<h1>404 Not Found</h1>\n"
                                                : "<!DOCTYPE html><title>405 Method Not Allowed"
                                                  "</title><h1>405 Method Not Allowed</h1>\n");
    }
}

static void collect_allow(struct http_server *s, const char *path, struct buf *allow)
{
    size_t plen = strlen(path);
    char *copy = xmalloc(plen + 1);
    char *segs[MAX_SEGMENTS];
    size_t seg_off[MAX_SEGMENTS];
    size_t nsegs = split_path(path, plen, copy, segs, seg_off);
    for (size_t i = 0; nsegs != SIZE_MAX && i < s->nroutes; i++) {
        if (!route_match(&s->routes[i], segs, nsegs, path, seg_off, NULL))
            continue;
        if (allow->len)
            buf_append(allow, ", ", 2);
        buf_puts(allow, s->routes[i].method);
    }
    free(copy);
}

/* Parses the request target into path + query; returns 0 or -EINVAL. */
static int parse_target(struct http_request *r)
{
    const char *u = r->url.data;
    size_t n = r->url.len;
    if (n > 7 && (strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0)) {
        const char *host = strstr(u, "//") + 2;
        const char *slash = memchr(host, '/', n - (size_t)(host - u));
        if (!slash)
            return -EINVAL;
        n -= (size_t)(slash - u);
        u = slash;
    }
    if (n == 0 || u[0] != '/')
        return -EINVAL;
    const char *hash = memchr(u, '#', n);
    if (hash)
        n = (size_t)(hash - u);
    const char *q = memchr(u, '?', n);
    size_t plen = q ? (size_t)(q - u) : n;
    if (plen > MAX_PATH_BYTES)
        return -EINVAL;
    r->path = xmalloc(plen + 1);
    if (http_query_pct_decode(u, plen, 0, r->path) < 0)
        return -EINVAL;
    if (q && http_query_parse(&r->query, q + 1, n - plen - 1) < 0)
        return -EINVAL;
    return 0;
}

static void dispatch(struct http_conn *c, struct http_request *r)
{
    struct http_server *s = c->srv;
    c->pending = r;
    if (parse_target(r) < 0) {
        r->keep_alive = 0;
        const char *body =
            "<!DOCTYPE html><title>400 Bad Request</title><h1>400 Bad Request</h1>\n";
        http_request_respond_text(r, 400, "text/html; charset=utf-8", body);
        return;
    }
    if (r->upgrade) {
        if (s->upgrade_cb) {
            /* The callback either takes the socket or answers (which frees r):
             * only the connection may be looked at afterwards. */
            c->taken_req = NULL;
            s->upgrade_cb(r, s->upgrade_ud);
            if (c->taken_req == r) {
                c->taken_req = NULL;
                /* The callback owns the socket now; the request and this
                 * connection end here (freed once queued writes finish). */
                if (c->pending == r)
                    c->pending = NULL;
                req_free(r);
                conn_close(c);
            }
        } else {
            respond_not_found(r, 404, NULL);
        }
        return;
    }
    int mismatch = 0;
    const struct route *rt = find_route(s, r, r->path, &mismatch);
    if (rt) {
        rt->cb(r, rt->ud);
        return;
    }
    if (mismatch) {
        struct buf allow;
        buf_init(&allow, 1024);
        collect_allow(s, r->path, &allow);
        respond_not_found(r, 405, allow.data);
        buf_release(&allow);
        return;
    }
    /* gin-style trailing-slash redirect when the other form has a route */
    size_t plen = strlen(r->path);
    if (plen > 1 || r->path[0] != '/') {
        char *alt = xmalloc(plen + 2);
        if (r->path[plen - 1] == '/') {
            memcpy(alt, r->path, plen - 1);
            alt[plen - 1] = '\0';
        } else {
            memcpy(alt, r->path, plen);
            alt[plen] = '/';
            alt[plen + 1] = '\0';
        }
        int mm = 0;
        struct http_request probe = *r;
        probe.nparams = 0;
        const struct route *other = find_route(s, &probe, alt, &mm);
        clear_params(&probe);
        if (other || mm) {
            int code = r->method == HTTP_GET ? 301 : 307;
            http_request_add_header(r, "Location", alt);
            free(alt);
            http_request_respond_text(r, code, "text/html; charset=utf-8", "");
            return;
        }
        free(alt);
    }
    respond_not_found(r, 404, NULL);
}

/* ---------------------------------------------------------------- upgrade */

static void tls_flush_stream(struct http_stream *st);

struct http_stream *http_request_take_stream(struct http_request *req, struct slice *leftover)
{
    struct http_conn *c = req->conn;
    if (!c || c->closing || !c->tcp || req->responded)
        return NULL;
    struct http_stream *st = xcalloc(1, sizeof(*st));
    st->tcp = c->tcp;
    st->tls = c->tls;
    memcpy(st->peer, c->peer, sizeof(st->peer));
    uv_read_stop((uv_stream_t *)st->tcp);
    st->tcp->data = st;
    c->tcp = NULL;
    c->tls = NULL;
    c->reading = 0;
    c->handles_open--;
    req->taken = st;
    req->responded = 1;
    c->taken_req = req;
    *leftover = req->leftover;
    return st;
}

static void stream_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct http_stream *st = h->data;
    (void)suggested;
    b->base = st->rbuf;
    b->len = st->rcap;
}

/* tlspump sink: each decrypted chunk to the stream's reader, until it closes the stream. */
static size_t stream_sink(void *ud, const uint8_t *p, size_t n)
{
    struct http_stream *st = ud;
    st->read_cb(st, (long)n, (const char *)p, st->read_ud);
    return st->closing ? 0 : SIZE_MAX;
}

static void stream_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct http_stream *st = s->data;
    if (nread == 0 || st->closing)
        return;
    if (nread < 0 || !st->tls) {
        st->read_cb(st, (long)nread, nread < 0 ? NULL : b->base, st->read_ud);
        return;
    }
    /* Nothing stays undecrypted: every record is read out right away. */
    int ready = 1; /* the connection's handshake is long done */
    if (tlspump_feed(st->tls, &ready, (const uint8_t *)b->base, (size_t)nread, NULL, 0) != 0) {
        st->read_cb(st, UV_ENOMEM, NULL, st->read_ud);
        return;
    }
    int rc = st->closing ? 0 : tlspump_pull(st->tls, SIZE_MAX, stream_sink, st);
    if (rc != 0) {
        st->read_cb(st, rc == TLSPUMP_EOF ? UV_EOF : UV_EPROTO, NULL, st->read_ud);
        return;
    }
    if (!st->closing)
        tls_flush_stream(st); /* answers to post-handshake messages */
}

int http_stream_read_start(struct http_stream *st, char *buf, size_t cap, http_stream_read_cb cb,
                           void *ud)
{
    if (st->closing)
        return UV_EINVAL;
    st->rbuf = buf;
    st->rcap = cap;
    st->read_cb = cb;
    st->read_ud = ud;
    return uv_read_start((uv_stream_t *)st->tcp, stream_alloc, stream_on_read);
}

static void stream_write_done(uv_write_t *w, int status)
{
    struct swreq *r = (struct swreq *)w;
    free(r->owned);
    if (r->cb)
        r->cb(r->ud, status);
    free(r);
}

/* Queues len bytes at data; owned (consumed, may be NULL) is freed after the write. */
static int stream_raw_write(struct http_stream *st, const char *data, size_t len, char *owned,
                            http_stream_done_cb cb, void *ud)
{
    if (len > UINT32_MAX) {
        free(owned);
        return -E2BIG;
    }
    struct swreq *r = xcalloc(1, sizeof(*r));
    r->cb = cb;
    r->ud = ud;
    r->owned = owned;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int rc = uv_write(&r->u.w, (uv_stream_t *)st->tcp, &b, 1, stream_write_done);
    if (rc < 0) {
        free(owned);
        free(r);
    }
    return rc;
}

/* Sends pending ciphertext with no completion callback (errors show up on the next write). */
static void tls_flush_stream(struct http_stream *st)
{
    struct buf ct;
    buf_init(&ct, 0);
    if (tlspump_flush(st->tls, &ct) != 0 || ct.len == 0) {
        buf_release(&ct);
        return;
    }
    size_t n;
    char *p = buf_detach(&ct, &n);
    (void)stream_raw_write(st, p, n, p, NULL, NULL);
}

int http_stream_write(struct http_stream *st, const char *data, size_t len, http_stream_done_cb cb,
                      void *ud)
{
    if (st->closing)
        return UV_EPIPE;
    if (!st->tls)
        return stream_raw_write(st, data, len, NULL, cb, ud);
    struct buf ct;
    buf_init(&ct, 0);
    if (tlspump_send(st->tls, data, len, &ct) != 0) {
        buf_release(&ct);
        return -EPROTO;
    }
    size_t n;
    char *p = buf_detach(&ct, &n);
    return stream_raw_write(st, p, n, p, cb, ud);
}

size_t http_stream_write_queue_size(const struct http_stream *st)
{
    return uv_stream_get_write_queue_size((const uv_stream_t *)st->tcp);
}

static void stream_shutdown_done(uv_shutdown_t *sd, int status)
{
    struct swreq *r = (struct swreq *)sd;
    r->cb(r->ud, status);
    free(r);
}

int http_stream_shutdown(struct http_stream *st, http_stream_done_cb cb, void *ud)
{
    if (st->closing)
        return UV_EPIPE;
    if (st->tls) {
        tls_conn_close_notify(st->tls);
        tls_flush_stream(st);
    }
    struct swreq *r = xcalloc(1, sizeof(*r));
    r->cb = cb;
    r->ud = ud;
    int rc = uv_shutdown(&r->u.sd, (uv_stream_t *)st->tcp, stream_shutdown_done);
    if (rc < 0)
        free(r);
    return rc;
}

int http_stream_is_tls(const struct http_stream *st)
{
    return st->tls != NULL;
}

static void stream_on_close(uv_handle_t *h)
{
    struct http_stream *st = h->data;
    tls_conn_free(st->tls);
    free(st->tcp);
    free(st);
}

void http_stream_close(struct http_stream *st)
{
    if (!st || st->closing)
        return;
    st->closing = 1;
    uv_close((uv_handle_t *)st->tcp, stream_on_close);
}

/* ---------------------------------------------------------------- input processing */

/*
 * Moves decrypted bytes into c->in while it has room. A close_notify from the
 * peer counts as EOF. Returns 0, or -1 when the connection was closed (bad
 * record).
 */
static size_t in_room(const struct http_conn *c)
{
    return c->in.len < MAX_UNPARSED ? MAX_UNPARSED - c->in.len : 0;
}

/* tlspump sink: decrypted bytes into c->in (never more than its room). */
static size_t in_sink(void *ud, const uint8_t *p, size_t n)
{
    struct http_conn *c = ud;
    buf_append(&c->in, p, n);
    if (c->tmode == TM_BODY)
        c->rearm = 1; /* restart the body gap timer */
    return in_room(c);
}

static int tls_pull(struct http_conn *c)
{
    if (!c->tls_ready)
        return 0;
    int rc = tlspump_pull(c->tls, in_room(c), in_sink, c);
    if (rc == TLSPUMP_EOF) {
        c->eof = 1; /* answer what was sent, then close (update_io stops reading) */
        rc = 0;
    } else if (rc < 0) {
        log_debug("http: bad TLS record from %s", c->peer);
        conn_close(c);
        return -1;
    }
    /* Reading may answer post-handshake messages (key update). */
    return tls_flush(c);
}

/* Parses buffered input and dispatches complete requests, in order. */
static void process(struct http_conn *c)
{
    if (c->in_feed)
        return;
    c->in_feed = 1;
    while (!c->closing && !c->pending && !c->close_after_write &&
           c->write_bytes <= c->srv->cfg.max_write_queue) {
        if (c->tls && tls_pull(c) != 0)
            break;
        if (c->in.len == 0)
            break;
        if (!c->req)
            c->req = req_new(c);
        size_t n = http_parser_execute(&c->parser, &parser_settings, c->in.data, c->in.len);
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (e == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
        } else if (e != HPE_OK) {
            int status = c->err_status ? c->err_status : e == HPE_HEADER_OVERFLOW ? 431 : 400;
            log_debug("http: rejecting request from %s with %d (%s)", c->peer, status,
                      http_errno_name(e));
            struct http_request *r = c->req;
            c->req = NULL;
            send_error_close(c, status, r ? r->url.data : NULL);
            req_free(r);
            buf_reset(&c->in);
            break;
        }
        if (!c->msg_complete) {
            buf_consume(&c->in, n);
            if (n == 0)
                break;
            continue;
        }
        c->msg_complete = 0;
        struct http_request *r = c->req;
        c->req = NULL;
        if (r->upgrade) {
            /* Everything after the head belongs to the new protocol. */
            r->leftover.ptr = c->in.data + n;
            r->leftover.len = c->in.len - n;
            dispatch(c, r);
            buf_reset(&c->in);
            break;
        }
        buf_consume(&c->in, n);
        dispatch(c, r);
    }
    c->in_feed = 0;
    if (!c->closing && c->eof && !c->pending && !c->close_after_write) {
        /* Peer half-closed and everything it sent is answered. */
        if (c->nwrites == 0 || c->mem_out)
            conn_close(c);
        else
            c->close_after_write = 1;
    }
    update_io(c);
}

/* ---------------------------------------------------------------- connection I/O */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct http_conn *c = h->data;
    b->base = c->srv->readbuf;
    b->len = sizeof(c->srv->readbuf);
}

/* Plain HTTP on the HTTPS port: a short 400 in clear text, then close (as Go and nginx do). */
static void reject_plain_http(struct http_conn *c)
{
    static const char msg[] = "Client sent an HTTP request to an HTTPS server.\n";
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b,
               "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
               "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
               sizeof(msg) - 1, msg);
    size_t n;
    char *p = buf_detach(&b, &n);
    log_debug("http: plain HTTP from %s on the HTTPS port", c->peer);
    sock_write(c, p, n, NULL, 0);
    c->close_after_write = 1;
    update_io(c); /* FIN once written, then linger: the client reads the 400 */
}

/* Ciphertext from the socket: handshake, then decrypted requests. */
static void tls_input(struct http_conn *c, const char *p, size_t n)
{
    if (!c->tls_started) {
        c->tls_started = 1;
        if ((unsigned char)p[0] != TLS_RECORD_HANDSHAKE) {
            if (p[0] >= 'A' && p[0] <= 'Z')
                reject_plain_http(c);
            else
                conn_close(c);
            return;
        }
    }
    if (tls_conn_buffered(c->tls) + n > MAX_TLS_BUFFERED) {
        conn_close(c);
        return;
    }
    int was_ready = c->tls_ready;
    char err[256];
    int rc = tlspump_feed(c->tls, &c->tls_ready, (const uint8_t *)p, n, err, sizeof(err));
    if (rc == -ENOMEM) {
        conn_close(c);
        return;
    }
    if (!was_ready) {
        if (tls_flush(c) != 0)
            return;
        if (rc < 0) {
            log_debug("http: TLS handshake with %s failed: %s", c->peer, err);
            conn_close(c);
            return;
        }
        if (!c->tls_ready)
            return; /* more handshake input needed; the header timer runs */
    }
    process(c);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    struct http_conn *c = st->data;
    if (nread == 0 || !c)
        return;
    if (nread < 0) {
        if (nread == UV_EOF && !c->lingering &&
            (c->pending || c->in.len || c->nwrites || (c->tls && tls_conn_buffered(c->tls)))) {
            c->eof = 1;
            uv_read_stop(st);
            c->reading = 0;
            if (!c->pending)
                process(c);
            return;
        }
        conn_close(c);
        return;
    }
    if (c->lingering)
        return; /* discarding until EOF or the linger timer */
    if (c->tls) {
        tls_input(c, b->base, (size_t)nread);
        return;
    }
    if (c->in.len + (size_t)nread > MAX_UNPARSED) {
        conn_close(c);
        return;
    }
    buf_append(&c->in, b->base, (size_t)nread);
    if (c->tmode == TM_BODY)
        c->rearm = 1; /* restart the body gap timer */
    process(c);
}

static void on_timer(uv_timer_t *t)
{
    struct http_conn *c = t->data;
    if (c->tmode == TM_HEADERS)
        log_debug("http: header timeout from %s", c->peer);
    conn_close(c);
}

static void on_shutdown(uv_shutdown_t *sr, int status)
{
    struct http_conn *c = sr->data;
    free(sr);
    if (c->closing || !c->tcp)
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    c->lingering = 1;
    update_io(c);
}

/* Sets reading and the timer from the connection state. */
static void update_io(struct http_conn *c)
{
    if (c->closing || !c->tcp)
        return;
    if (c->close_after_write) {
        if (c->nwrites == 0 && !c->lingering && !c->eof) {
            if (c->tls && c->tls_ready) {
                tls_conn_close_notify(c->tls);
                if (tls_flush(c) != 0)
                    return;
            }
            uv_shutdown_t *sr = xcalloc(1, sizeof(*sr));
            sr->data = c;
            if (uv_shutdown(sr, (uv_stream_t *)c->tcp, on_shutdown) < 0) {
                free(sr);
                conn_close(c);
                return;
            }
            c->lingering = -1; /* shutdown in flight */
        } else if (c->nwrites == 0 && c->eof) {
            conn_close(c);
            return;
        }
    }
    int want_read =
        !c->eof && (c->lingering > 0 || (!c->pending && !c->close_after_write &&
                                         c->write_bytes <= c->srv->cfg.max_write_queue));
    if (want_read && !c->reading) {
        if (uv_read_start((uv_stream_t *)c->tcp, alloc_cb, on_read) == 0)
            c->reading = 1;
    } else if (!want_read && c->reading) {
        uv_read_stop((uv_stream_t *)c->tcp);
        c->reading = 0;
    }
    enum timer_mode want = TM_NONE;
    unsigned ms = 0;
    if (c->lingering > 0) {
        want = TM_LINGER;
        ms = c->srv->cfg.linger_ms;
    } else if (c->pending || c->close_after_write || c->write_bytes > c->srv->cfg.max_write_queue) {
        want = TM_NONE;
    } else if (c->req && c->req->headers_done) {
        want = TM_BODY;
        ms = c->srv->cfg.idle_timeout_ms;
    } else if (c->req || c->tmode == TM_HEADERS) {
        want = TM_HEADERS;
        ms = c->srv->cfg.header_timeout_ms;
    } else {
        want = TM_IDLE;
        ms = c->srv->cfg.idle_timeout_ms;
    }
    if (want == c->tmode && !c->rearm)
        return;
    c->tmode = want;
    c->rearm = 0;
    if (want == TM_NONE)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timer, ms, 0);
}

static void on_handle_close(uv_handle_t *h)
{
    struct http_conn *c = h->data;
    if ((uv_handle_t *)&c->timer != h)
        free(h);
    c->handles_open--;
    conn_maybe_free(c);
}

static void server_maybe_finish(struct http_server *s);

static void conn_unlink(struct http_conn *c)
{
    if (!c->linked)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        c->srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->linked = 0;
}

static void conn_maybe_free(struct http_conn *c)
{
    if (!c->closing || c->handles_open > 0 || c->nwrites > 0 || c->mem_out)
        return;
    struct http_server *s = c->srv;
    buf_release(&c->in);
    tls_conn_free(c->tls);
    free(c);
    s->nconns--;
    server_maybe_finish(s);
}

static void conn_close(struct http_conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    conn_unlink(c);
    if (c->pending) {
        c->pending->conn = NULL; /* orphan: the handler still answers (and frees) it */
        c->pending = NULL;
    }
    req_free(c->req);
    c->req = NULL;
    if (c->tcp) {
        uv_close((uv_handle_t *)c->tcp, on_handle_close);
        c->tcp = NULL;
    }
    if (c->timer_open) {
        uv_close((uv_handle_t *)&c->timer, on_handle_close);
        c->timer_open = 0;
    }
    conn_maybe_free(c);
}

static struct http_conn *conn_new(struct http_server *s)
{
    struct http_conn *c = xcalloc(1, sizeof(*c));
    c->srv = s;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    buf_init(&c->in, MAX_UNPARSED);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    c->linked = 1;
    s->nconns++;
    return c;
}

static void peer_name(uv_tcp_t *tcp, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    out[0] = '\0';
    if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        uv_ip4_name((struct sockaddr_in *)&ss, out, outlen);
    } else if (ss.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&ss, out, outlen);
        if (strncmp(out, "::ffff:", 7) == 0 && strchr(out + 7, '.'))
            memmove(out, out + 7, strlen(out + 7) + 1);
    }
}

static void on_reject_close(uv_handle_t *h)
{
    free(h);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct http_server *s = server->data;
    if (status < 0 || s->closing)
        return;
    uv_tcp_t *tcp = xcalloc(1, sizeof(*tcp));
    uv_tcp_init(s->loop, tcp);
    if (uv_accept(server, (uv_stream_t *)tcp) != 0 || s->nconns >= s->cfg.max_connections) {
        if (s->nconns >= s->cfg.max_connections)
            log_warn("http: connection limit %u reached, closing new connection",
                     s->cfg.max_connections);
        uv_close((uv_handle_t *)tcp, on_reject_close);
        return;
    }
    uv_tcp_nodelay(tcp, 1);
    struct http_conn *c = conn_new(s);
    c->tcp = tcp;
    tcp->data = c;
    uv_timer_init(s->loop, &c->timer);
    c->timer.data = c;
    c->timer_open = 1;
    c->handles_open = 2;
    if (s->tls)
        c->tls = tls_conn_new(s->tls, 1, NULL);
    peer_name(tcp, c->peer, sizeof(c->peer));
    c->tmode = TM_NONE;
    /* A new connection gets the header timeout right away (Go's ReadHeaderTimeout). */
    uv_timer_start(&c->timer, on_timer, s->cfg.header_timeout_ms, 0);
    c->tmode = TM_HEADERS;
    update_io(c);
}

/* ---------------------------------------------------------------- server */

struct http_server *http_server_new(struct uv_loop_s *loop, const struct http_config *cfg)
{
    struct http_server *s = xcalloc(1, sizeof(*s));
    s->loop = loop;
    if (cfg)
        s->cfg = *cfg;
    else
        http_config_defaults(&s->cfg);
    if (s->cfg.max_headers > HTTP_MAX_HEADERS)
        s->cfg.max_headers = HTTP_MAX_HEADERS;
    return s;
}

int http_server_listen(struct http_server *s, const char *host, int port)
{
    if (!s->loop || s->listener)
        return -EINVAL;
    struct sockaddr_storage ss;
    int rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    if (rc != 0)
        rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
    if (rc != 0)
        return rc;
    uv_tcp_t *l = xcalloc(1, sizeof(*l));
    uv_tcp_init(s->loop, l);
    l->data = s;
    rc = uv_tcp_bind(l, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)l, SOMAXCONN, on_connection);
    if (rc != 0) {
        uv_close((uv_handle_t *)l, on_reject_close);
        return rc;
    }
    s->listener = l;
    return 0;
}

int http_server_port(const struct http_server *s)
{
    if (!s->listener)
        return -1;
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getsockname(s->listener, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

void http_server_set_upgrade(struct http_server *s, http_upgrade_cb cb, void *ud)
{
    s->upgrade_cb = cb;
    s->upgrade_ud = ud;
}

void http_server_set_tls(struct http_server *s, struct tls_ctx *ctx)
{
    if (!ctx)
        return;
    tls_ctx_free(s->tls);
    s->tls = ctx;
}

uint64_t http_server_errors(const struct http_server *s)
{
    return s->n_errors;
}

int http_server_is_tls(const struct http_server *s)
{
    return s->tls != NULL;
}

static void server_free(struct http_server *s)
{
    for (size_t i = 0; i < s->nroutes; i++)
        free_route(&s->routes[i]);
    tls_ctx_free(s->tls); /* live TLS streams keep OpenSSL's context referenced */
    http_server_closed_cb cb = s->closed_cb;
    void *ud = s->closed_ud;
    free(s);
    if (cb)
        cb(ud);
}

static void server_maybe_finish(struct http_server *s)
{
    if (s->closing == 1 && s->nconns == 0 && !s->listener) {
        s->closing = 2;
        server_free(s);
    }
}

static void on_listener_close(uv_handle_t *h)
{
    struct http_server *s = h->data;
    free(h);
    s->listener = NULL;
    server_maybe_finish(s);
}

void http_server_close(struct http_server *s, http_server_closed_cb cb, void *ud)
{
    if (s->closing)
        return;
    s->closing = 1;
    s->closed_cb = cb;
    s->closed_ud = ud;
    while (s->conns)
        conn_close(s->conns); /* unlinks itself */
    if (s->listener) {
        uv_close((uv_handle_t *)s->listener, on_listener_close);
        return;
    }
    server_maybe_finish(s);
}

/* ---------------------------------------------------------------- memory seam */

struct http_conn *http_conn_new_memory(struct http_server *s, struct buf *out, const char *peer_ip)
{
    struct http_conn *c = conn_new(s);
    c->mem_out = out;
    snprintf(c->peer, sizeof(c->peer), "%s", peer_ip ? peer_ip : "");
    return c;
}

int http_conn_feed(struct http_conn *c, const char *data, size_t len)
{
    if (c->closing || c->close_after_write)
        return -EPIPE;
    if (c->in.len + len > MAX_UNPARSED) {
        conn_close(c);
        return -EPIPE;
    }
    buf_append(&c->in, data, len);
    process(c);
    return c->closing ? -EPIPE : 0;
}

int http_conn_is_closed(const struct http_conn *c)
{
    return c->closing || c->close_after_write;
}

void http_conn_free_memory(struct http_conn *c)
{
    if (!c)
        return;
    conn_close(c);
    struct http_server *s = c->srv;
    buf_release(&c->in);
    tls_conn_free(c->tls);
    free(c);
    s->nconns--;
    server_maybe_finish(s);
}
