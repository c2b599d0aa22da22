/*
 * httpc: the agent's HTTP/1.1(S) client (see httpc.h). The first half is pure
 * parsing; the second half drives one fetch on the libuv loop (getaddrinfo ->
 * TCP connect -> optional TLS through tlspump -> GET -> read until judged).
 */
#include "proto/httpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/ascii.h"
#include "core/buf.h"
#include "core/strnum.h"
#include "core/xalloc.h"
#include "proto/tls.h"
#include "proto/tlspump.h"

/* ------------------------------------------------------------------ pure part */

static int host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

int httpc_url_parse(const char *url, struct httpc_url *out)
{
    const char *p;
    memset(out, 0, sizeof(*out));
    if (strlen(url) > HTTPC_MAX_URL)
        return -EINVAL;
    if (strncasecmp(url, "http://", 7) == 0) {
        out->tls = 0;
        out->port = 80;
        p = url + 7;
    } else if (strncasecmp(url, "https://", 8) == 0) {
        out->tls = 1;
        out->port = 443;
        p = url + 8;
    } else {
        return -EINVAL;
    }
    const char *hs, *he;
    if (*p == '[') {
        hs = p + 1;
        he = strchr(hs, ']');
        if (!he)
            return -EINVAL;
        for (const char *q = hs; q < he; q++)
            if (!(host_char(*q) || *q == ':'))
                return -EINVAL;
        p = he + 1;
        unsigned char tmp[16];
        char lit[INET6_ADDRSTRLEN];
        size_t n = (size_t)(he - hs);
        if (n == 0 || n >= sizeof(lit))
            return -EINVAL;
        memcpy(lit, hs, n);
        lit[n] = '\0';
        if (inet_pton(AF_INET6, lit, tmp) != 1)
            return -EINVAL;
    } else {
        hs = p;
        while (host_char(*p))
            p++;
        he = p;
    }
    size_t hlen = (size_t)(he - hs);
    if (hlen == 0 || hlen > HTTPC_MAX_HOST)
        return -EINVAL;
    memcpy(out->host, hs, hlen);
    out->host[hlen] = '\0';
    if (*p == ':') {
        const char *ps = ++p;
        while (*p >= '0' && *p <= '9')
            p++;
        uint64_t port;
        if (strnum_u64(ps, (size_t)(p - ps), &port) != 0 || port < 1 || port > 65535)
            return -EINVAL;
        out->port = (int)port;
    }
    if (*p != '\0' && *p != '/' && *p != '?')
        return -EINVAL;
    size_t plen = strlen(p);
    if (plen + 1 > HTTPC_MAX_PATH)
        return -EINVAL;
    for (const char *q = p; *q; q++)
        if ((unsigned char)*q <= 0x20 || *q == 0x7f || *q == '#')
            return -EINVAL;
    if (*p == '/')
        memcpy(out->path, p, plen + 1);
    else {
        out->path[0] = '/';
        memcpy(out->path + 1, p, plen + 1);
    }
    return 0;
}

int httpc_build_request(const struct httpc_url *u, char *out, size_t outlen)
{
    int v6lit = strchr(u->host, ':') != NULL;
    int defport = u->port == (u->tls ? 443 : 80);
    char hosthdr[HTTPC_MAX_HOST + 16];
    if (defport)
        snprintf(hosthdr, sizeof(hosthdr), v6lit ? "[%s]" : "%s", u->host);
    else
        snprintf(hosthdr, sizeof(hosthdr), v6lit ? "[%s]:%d" : "%s:%d", u->host, u->port);
    int n = snprintf(out, outlen,
                     "GET %s HTTP/1.1\r\nHost: %s\r\n"
                     "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like "
                     "Gecko) Chrome/120.0.0.0 Safari/537.36\r\n"
                     "Accept: */*\r\nConnection: close\r\n\r\n",
                     u->path, hosthdr);
    if (n < 0 || (size_t)n >= outlen)
        return -E2BIG;
    return n;
}

/* Case-insensitive search for token in a header value. */
static int value_has(const char *v, size_t vl, const char *tok)
{
    size_t tl = strlen(tok);
    for (size_t i = 0; i + tl <= vl; i++)
        if (strncasecmp(v + i, tok, tl) == 0)
            return 1;
    return 0;
}

/* Decodes a chunked body into out[HTTPC_MAX_RESPONSE]; -EAGAIN when incomplete. */
static int dechunk(const uint8_t *p, size_t len, char *out, size_t *outlen, const char **why)
{
    size_t i = 0, o = 0;
    for (;;) {
        const uint8_t *nl = memchr(p + i, '\n', len - i);
        if (!nl)
            return -EAGAIN;
        uint64_t sz = 0;
        size_t k = i, digits = 0;
        for (; p + k < nl; k++, digits++) {
            int v = ascii_hexval(p[k]);
            if (v < 0)
                break;
            if (sz > HTTPC_MAX_RESPONSE) {
                *why = "chunk too large";
                return -EPROTO;
            }
            sz = sz * 16 + (uint64_t)v;
        }
        if (digits == 0) {
            *why = "bad chunk size";
            return -EPROTO;
        }
        i = (size_t)(nl - p) + 1;
        if (sz == 0) {
            *outlen = o;
            return 0; /* trailers ignored */
        }
        if (sz > HTTPC_MAX_RESPONSE - o) {
            *why = "chunked body too large";
            return -EPROTO;
        }
        if (len - i < sz + 2)
            return -EAGAIN;
        memcpy(out + o, p + i, (size_t)sz);
        o += (size_t)sz;
        i += (size_t)sz;
        if (p[i] == '\r')
            i++;
        if (i >= len)
            return -EAGAIN;
        if (p[i] != '\n') {
            *why = "missing CRLF after chunk";
            return -EPROTO;
        }
        i++;
    }
}

int httpc_parse_head(const uint8_t *resp, size_t len, int eof, int *status, size_t *hend_out,
                     const char **why)
{
    if (len > HTTPC_MAX_RESPONSE) {
        *why = "response too large";
        return -EPROTO;
    }
    size_t hend = 0;
    for (size_t i = 0; i + 3 < len; i++)
        if (memcmp(resp + i, "\r\n\r\n", 4) == 0) {
            hend = i + 4;
            break;
        }
    if (len >= 5 && memcmp(resp, "HTTP/", 5) != 0) {
        *why = "not an HTTP response";
        return -EPROTO;
    }
    if (hend == 0) {
        if (eof || len >= HTTPC_MAX_RESPONSE) {
            *why = eof ? "truncated response header" : "response header too large";
            return -EPROTO;
        }
        return -EAGAIN;
    }
    /* status line: HTTP/1.x SP 3DIGIT */
    if (hend < 14 || memcmp(resp, "HTTP/1.", 7) != 0 || resp[8] != ' ' || resp[9] < '0' ||
        resp[9] > '9' || resp[10] < '0' || resp[10] > '9' || resp[11] < '0' || resp[11] > '9') {
        *why = "bad status line";
        return -EPROTO;
    }
    *status = (resp[9] - '0') * 100 + (resp[10] - '0') * 10 + (resp[11] - '0');
    *hend_out = hend;
    return 0;
}

/* Reads the framing headers of resp[0..hend). 0 or -EPROTO (bad Content-Length). */
static int head_framing(const uint8_t *resp, size_t hend, int *chunked_out, int *have_cl_out,
                        uint64_t *cl_out, const char **why)
{
    int chunked = 0, have_cl = 0;
    uint64_t cl = 0;
    const uint8_t *l = memchr(resp, '\n', hend);
    while (l && (size_t)(l + 1 - resp) < hend - 2) {
        const char *ls = (const char *)l + 1;
        const uint8_t *le = memchr(ls, '\n', hend - (size_t)((const uint8_t *)ls - resp));
        if (!le)
            break;
        size_t ll = (size_t)((const char *)le - ls);
        if (ll > 0 && ls[ll - 1] == '\r')
            ll--;
        const char *colon = memchr(ls, ':', ll);
        if (colon) {
            size_t nl = (size_t)(colon - ls);
            const char *v = colon + 1;
            size_t vl = ll - nl - 1;
            while (vl > 0 && (*v == ' ' || *v == '\t')) {
                v++;
                vl--;
            }
            while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                vl--;
            if (nl == 17 && strncasecmp(ls, "transfer-encoding", 17) == 0 &&
                value_has(v, vl, "chunked"))
                chunked = 1;
            else if (nl == 14 && strncasecmp(ls, "content-length", 14) == 0) {
                if (strnum_u64(v, vl, &cl) != 0) {
                    *why = "bad Content-Length";
                    return -EPROTO;
                }
                have_cl = 1;
            }
        }
        l = le;
    }
    *chunked_out = chunked;
    *have_cl_out = have_cl;
    *cl_out = cl;
    return 0;
}

int httpc_parse_body(const uint8_t *resp, size_t len, size_t hend, int eof, char *dec,
                     const uint8_t **body_out, size_t *blen_out, const char **why)
{
    int chunked, have_cl;
    uint64_t cl;
    if (head_framing(resp, hend, &chunked, &have_cl, &cl, why) != 0)
        return -EPROTO;
    const uint8_t *body = resp + hend;
    size_t blen = len - hend;
    if (chunked) {
        size_t dlen = 0;
        int rc = dechunk(body, blen, dec, &dlen, why);
        if (rc == -EAGAIN && eof) {
            *why = "truncated chunked body";
            return -EPROTO;
        }
        if (rc != 0)
            return rc;
        *body_out = (const uint8_t *)dec;
        *blen_out = dlen;
        return 0;
    }
    if (have_cl) {
        if (cl > HTTPC_MAX_RESPONSE) {
            *why = "body too large";
            return -EPROTO;
        }
        if (blen < cl) {
            if (eof) {
                *why = "truncated body";
                return -EPROTO;
            }
            return -EAGAIN;
        }
        blen = (size_t)cl;
    } else if (!eof) {
        return -EAGAIN;
    }
    *body_out = body;
    *blen_out = blen;
    return 0;
}

int httpc_body_begin(struct httpc_body *b, const uint8_t *resp, size_t hend, int status,
                     const char **why)
{
    int chunked, have_cl;
    uint64_t cl;
    memset(b, 0, sizeof(*b));
    if (head_framing(resp, hend, &chunked, &have_cl, &cl, why) != 0)
        return -EPROTO;
    if ((status >= 100 && status < 200) || status == 204 || status == 304)
        b->mode = HTTPC_BODY_NONE;
    else if (chunked)
        b->mode = HTTPC_BODY_CHUNKED;
    else if (have_cl) {
        b->mode = HTTPC_BODY_LENGTH;
        b->left = cl;
    } else
        b->mode = HTTPC_BODY_CLOSE;
    return 0;
}

/* Chunked decoder states. */
enum { CK_SIZE = 0, CK_EXT, CK_DATA, CK_DATA_CR, CK_DATA_LF, CK_TRAILER, CK_TRAILER_LINE, CK_DONE };

static int chunked_feed(struct httpc_body *b, const uint8_t *in, size_t len, httpc_body_sink sink,
                        void *ud, const char **why)
{
    size_t i = 0;
    while (i < len && b->st != CK_DONE) {
        uint8_t c = in[i];
        switch (b->st) {
        case CK_SIZE: {
            int v = ascii_hexval(c);
            if (v >= 0) {
                if (b->digits >= 15) {
                    *why = "chunk too large";
                    return -EPROTO;
                }
                b->left = b->left * 16 + (uint64_t)v;
                b->digits++;
                i++;
                break;
            }
            if (b->digits == 0) {
                *why = "bad chunk size";
                return -EPROTO;
            }
            b->st = CK_EXT;
            break;
        }
        case CK_EXT: /* chunk extensions and the CR, up to the LF */
            i++;
            if (c == '\n')
                b->st = b->left ? CK_DATA : CK_TRAILER;
            break;
        case CK_DATA: {
            size_t n = len - i;
            if (n > b->left)
                n = (size_t)b->left;
            if (sink && n)
                sink(ud, in + i, n);
            b->total += n;
            b->left -= n;
            i += n;
            if (b->left == 0)
                b->st = CK_DATA_CR;
            break;
        }
        case CK_DATA_CR:
            if (c == '\r') {
                i++;
                b->st = CK_DATA_LF;
                break;
            }
            /* a bare LF */
            /* fall through */
        case CK_DATA_LF:
            if (c != '\n') {
                *why = "missing CRLF after chunk";
                return -EPROTO;
            }
            i++;
            b->st = CK_SIZE;
            b->digits = 0;
            b->left = 0;
            break;
        case CK_TRAILER: /* start of a trailer line: an empty one ends the message */
            i++;
            if (c == '\n')
                b->st = CK_DONE;
            else if (c != '\r')
                b->st = CK_TRAILER_LINE;
            break;
        case CK_TRAILER_LINE:
            i++;
            if (c == '\n')
                b->st = CK_TRAILER;
            break;
        }
    }
    return b->st == CK_DONE;
}

int httpc_body_feed(struct httpc_body *b, const uint8_t *in, size_t len, int eof,
                    httpc_body_sink sink, void *ud, const char **why)
{
    int rc;
    switch (b->mode) {
    case HTTPC_BODY_NONE:
        return 1;
    case HTTPC_BODY_LENGTH: {
        size_t n = len < b->left ? len : (size_t)b->left;
        if (sink && n)
            sink(ud, in, n);
        b->left -= n;
        b->total += n;
        rc = b->left == 0;
        break;
    }
    case HTTPC_BODY_CHUNKED:
        rc = chunked_feed(b, in, len, sink, ud, why);
        if (rc < 0)
            return rc;
        break;
    default: /* HTTPC_BODY_CLOSE */
        if (sink && len)
            sink(ud, in, len);
        b->total += len;
        return eof;
    }
    if (rc == 0 && eof) {
        *why = b->mode == HTTPC_BODY_CHUNKED ? "truncated chunked body" : "truncated body";
        return -EPROTO;
    }
    return rc;
}

/* ------------------------------------------------------------------ async part */

struct wreq {
    uv_write_t req;
    size_t len;
    char data[];
};

static void maybe_done(struct httpc *h);

static void on_timer_closed(uv_handle_t *t)
{
    struct httpc *h = t->data;
    h->timer_open = 0;
    maybe_done(h);
}

/* Runs on_done (or on_closed) once nothing of the fetch is outstanding. */
static void maybe_done(struct httpc *h)
{
    if (h->gai_busy || h->tcp_busy)
        return;
    if (h->closing) {
        if (h->timer_open) {
            if (!uv_is_closing((uv_handle_t *)&h->timer))
                uv_close((uv_handle_t *)&h->timer, on_timer_closed);
            return;
        }
        h->running = 0;
        if (h->on_closed) {
            void (*cb)(struct httpc *, void *) = h->on_closed;
            h->on_closed = NULL;
            cb(h, h->ud);
        }
        return;
    }
    if (!h->running || !h->over)
        return;
    h->running = 0;
    h->on_done(h, &h->res, h->ud);
}

static void on_tcp_closed(uv_handle_t *t)
{
    struct httpc *h = t->data;
    h->tcp_busy = 0;
    maybe_done(h);
}

/* Decides the fetch: releases TLS, cancels the resolver, closes the socket. */
static void finish(struct httpc *h, enum httpc_stage stage, int rc, const char *detail)
{
    if (h->over)
        return;
    h->over = 1;
    h->res.stage = stage;
    h->res.rc = rc;
    snprintf(h->detail, sizeof(h->detail), "%s", detail ? detail : "");
    h->res.detail = h->detail;
    h->res.cert_not_after = 0;
    h->res.cert_issuer[0] = '\0';
    if (h->tls && h->tls_ready) {
        (void)tls_conn_peer_not_after(h->tls, &h->res.cert_not_after);
        (void)tls_conn_peer_issuer_cn(h->tls, h->res.cert_issuer, sizeof(h->res.cert_issuer));
    }
    uv_timer_stop(&h->timer);
    tls_conn_free(h->tls);
    h->tls = NULL;
    buf_release(&h->ct);
    if (h->gai_busy)
        uv_cancel((uv_req_t *)&h->gai); /* the callback still runs (maybe with ECANCELED) */
    if (h->tcp_busy && !uv_is_closing((uv_handle_t *)&h->tcp))
        uv_close((uv_handle_t *)&h->tcp, on_tcp_closed);
    maybe_done(h);
}

static void fail_io(struct httpc *h, int rc)
{
    finish(h, HTTPC_IO, rc, "");
}

static void on_write(uv_write_t *req, int status)
{
    (void)status;
    free(req->data);
}

static int send_bytes(struct httpc *h, const void *data, size_t len)
{
    struct wreq *w = xmalloc(sizeof(*w) + len);
    memcpy(w->data, data, len);
    w->len = len;
    w->req.data = w;
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&h->tcp, &b, 1, on_write);
    if (rc < 0)
        free(w);
    return rc;
}

/* Sends the ciphertext staged in h->ct (one write). */
static int send_staged(struct httpc *h)
{
    int rc = 0;
    if (h->ct.len)
        rc = send_bytes(h, h->ct.data, h->ct.len) < 0 ? -EIO : 0;
    buf_reset(&h->ct);
    return rc;
}

static int tls_flush(struct httpc *h)
{
    if (tlspump_flush(h->tls, &h->ct) != 0)
        return -EIO;
    return send_staged(h);
}

void httpc_consume(struct httpc *h, size_t n)
{
    if (n > h->resp_len)
        n = h->resp_len;
    memmove(h->resp, h->resp + n, h->resp_len - n);
    h->resp_len -= n;
}

/* Asks the judge about the bytes so far; finishes the fetch when decided. */
static void judge(struct httpc *h)
{
    int rc = h->judge(h, h->resp, h->resp_len, h->eof, h->ud);
    if (rc != -EAGAIN) {
        finish(h, HTTPC_REPLY, rc, "");
        return;
    }
    if (h->eof)
        finish(h, HTTPC_REPLY, -EPROTO, "incomplete response");
    else if (h->resp_len >= sizeof(h->resp))
        finish(h, HTTPC_TOO_BIG, -E2BIG, "response too large");
}

static void send_request(struct httpc *h)
{
    char req[HTTPC_MAX_REQUEST];
    int n = httpc_build_request(h->url, req, sizeof(req));
    if (n < 0) {
        fail_io(h, n);
        return;
    }
    int rc;
    if (h->tls)
        rc = tlspump_send(h->tls, req, (size_t)n, &h->ct) != 0 ? -EIO : send_staged(h);
    else
        rc = send_bytes(h, req, (size_t)n);
    if (rc < 0)
        fail_io(h, -EIO);
}

static void on_alloc(uv_handle_t *t, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct httpc *h = t->data;
    *buf = uv_buf_init(h->readbuf, sizeof(h->readbuf));
}

static void append_plain(struct httpc *h, const void *data, size_t n)
{
    size_t room = sizeof(h->resp) - h->resp_len;
    if (n > room)
        n = room;
    memcpy(h->resp + h->resp_len, data, n);
    h->resp_len += n;
}

static size_t tls_sink(void *ud, const uint8_t *p, size_t n)
{
    struct httpc *h = ud;
    append_plain(h, p, n);
    return sizeof(h->resp) - h->resp_len;
}

/* Decrypts buffered records into the response buffer. 0, or -1 when the fetch failed. */
static int tls_pull(struct httpc *h)
{
    int rc = tlspump_pull(h->tls, sizeof(h->resp) - h->resp_len, tls_sink, h);
    if (rc == TLSPUMP_EOF)
        h->eof = 1;
    else if (rc < 0) {
        fail_io(h, rc);
        return -1;
    }
    if (tls_flush(h) < 0) {
        fail_io(h, -EIO);
        return -1;
    }
    return 0;
}

static void tls_input(struct httpc *h, const char *data, size_t n)
{
    char err[160] = "";
    int rc = tlspump_feed(h->tls, &h->tls_ready, (const uint8_t *)data, n, err, sizeof(err));
    if (rc == -ENOMEM) {
        fail_io(h, rc);
        return;
    }
    if (tls_flush(h) < 0) {
        fail_io(h, -EIO);
        return;
    }
    if (rc < 0) {
        finish(h, HTTPC_TLS, rc, err);
        return;
    }
    if (!h->tls_ready)
        return;
    if (rc == 1) {
        send_request(h);
        if (h->over)
            return;
    }
    (void)tls_pull(h);
}

/*
 * After the judge dropped bytes: decrypts what OpenSSL still holds into the
 * room made, judging each time, until nothing more comes out.
 */
static void judge_tls_rest(struct httpc *h)
{
    while (!h->over && h->tls && h->tls_ready && !h->eof && h->resp_len < sizeof(h->resp) &&
           tls_conn_buffered(h->tls) > 0) {
        size_t before = h->resp_len;
        if (tls_pull(h) < 0 || (h->resp_len == before && !h->eof))
            return;
        judge(h);
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct httpc *h = s->data;
    if (h->over)
        return;
    if (nread < 0) {
        judge_tls_rest(h); /* what OpenSSL still holds comes before the end */
        if (h->over)
            return;
        h->eof = 1;
        judge(h);
        return;
    }
    if (nread == 0)
        return;
    if (h->tls)
        tls_input(h, buf->base, (size_t)nread);
    else
        append_plain(h, buf->base, (size_t)nread);
    if (!h->over)
        judge(h);
    judge_tls_rest(h);
}

/* Starts the TLS handshake: the ClientHello goes out now. */
static int tls_begin(struct httpc *h)
{
    if (!h->tls_ctx)
        return -ENOMEM;
    h->tls = tls_conn_new(h->tls_ctx, 0, h->url->host);
    h->tls_ready = 0;
    char err[160];
    if (tls_conn_handshake(h->tls, err, sizeof(err)) < 0)
        return -EPROTO;
    return tls_flush(h);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct httpc *h = req->data;
    if (h->over)
        return;
    if (status < 0) {
        finish(h, HTTPC_CONNECT, status, uv_strerror(status));
        return;
    }
    int rc = uv_read_start((uv_stream_t *)&h->tcp, on_alloc, on_read);
    if (rc == 0)
        rc = h->url->tls ? tls_begin(h) : 0;
    if (rc < 0) {
        fail_io(h, rc);
        return;
    }
    if (!h->url->tls)
        send_request(h);
}

static void on_gai(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct httpc *h = req->data;
    h->gai_busy = 0;
    if (h->over || status < 0 || !res) {
        uv_freeaddrinfo(res);
        if (h->over)
            maybe_done(h);
        else
            finish(h, HTTPC_RESOLVE, status < 0 ? status : -ENOENT, uv_strerror(status));
        return;
    }
    int rc = uv_tcp_init(h->loop, &h->tcp);
    if (rc == 0) {
        h->tcp_busy = 1;
        h->tcp.data = h;
        h->conn.data = h;
        rc = uv_tcp_connect(&h->conn, &h->tcp, res->ai_addr, on_connect);
    }
    uv_freeaddrinfo(res);
    if (rc < 0)
        fail_io(h, rc);
}

static void on_timeout(uv_timer_t *t)
{
    struct httpc *h = t->data;
    finish(h, HTTPC_TIMEOUT, -ETIMEDOUT, "");
}

void httpc_init(struct httpc *h, uv_loop_t *loop, httpc_judge_fn judge_fn, httpc_done_fn on_done,
                void *ud)
{
    memset(h, 0, sizeof(*h));
    h->loop = loop;
    h->judge = judge_fn;
    h->on_done = on_done;
    h->ud = ud;
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    h->timer_open = 1;
    buf_init(&h->ct, 0);
}

int httpc_fetch(struct httpc *h, const struct httpc_url *u, int family, struct tls_ctx *tls_ctx,
                unsigned timeout_ms)
{
    if (h->running || h->closing || h->gai_busy || h->tcp_busy)
        return -EBUSY;
    char port[8];
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = family == 6 ? AF_INET6 : family == 4 ? AF_INET : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%d", u->port);
    h->url = u;
    h->tls_ctx = tls_ctx;
    h->over = 0;
    h->eof = 0;
    h->resp_len = 0;
    h->tls_ready = 0;
    memset(&h->res, 0, sizeof(h->res));
    h->res.detail = "";
    uv_timer_start(&h->timer, on_timeout, timeout_ms, 0);
    h->gai.data = h;
    int rc = uv_getaddrinfo(h->loop, &h->gai, on_gai, u->host, port, &hints);
    if (rc < 0) {
        uv_timer_stop(&h->timer);
        return rc;
    }
    h->gai_busy = 1;
    h->running = 1;
    return 0;
}

void httpc_close(struct httpc *h, void (*on_closed)(struct httpc *h, void *ud))
{
    if (h->closing)
        return;
    h->closing = 1;
    h->on_closed = on_closed;
    if (h->running && !h->over) {
        h->over = 1;
        uv_timer_stop(&h->timer);
        tls_conn_free(h->tls);
        h->tls = NULL;
        buf_release(&h->ct);
        if (h->gai_busy)
            uv_cancel((uv_req_t *)&h->gai);
        if (h->tcp_busy && !uv_is_closing((uv_handle_t *)&h->tcp))
            uv_close((uv_handle_t *)&h->tcp, on_tcp_closed);
    }
    maybe_done(h);
}
