/*
 * ipdisc: public IP discovery (see ipdisc.h). The first half is pure parsing
 * and formatting; the second half drives one fetch per address family on the
 * libuv loop (getaddrinfo -> TCP connect -> optional TLS via OpenSSL memory
 * BIOs -> GET -> read until the response is complete or the peer closes).
 */
#include "agent/ipdisc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <uv.h>

#include "core/log.h"
#include "core/strnum.h"
#include "core/xalloc.h"

const char *const ipdisc_default_urls[] = {
    "https://blog.cloudflare.com/cdn-cgi/trace",
    "https://dash.cloudflare.com/cdn-cgi/trace",
    "https://developers.cloudflare.com/cdn-cgi/trace",
    NULL,
};

/* ------------------------------------------------------------------ pure part */

static int host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

int ipdisc_url_parse(const char *url, struct ipdisc_url *out)
{
    const char *p;
    memset(out, 0, sizeof(*out));
    if (strlen(url) > IPDISC_MAX_URL)
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
        char lit[IPDISC_IP_LEN];
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
    if (hlen == 0 || hlen > IPDISC_MAX_HOST)
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
    if (plen + 1 > IPDISC_MAX_PATH)
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

int ipdisc_build_request(const struct ipdisc_url *u, char *out, size_t outlen)
{
    int v6lit = strchr(u->host, ':') != NULL;
    int defport = u->port == (u->tls ? 443 : 80);
    char hosthdr[IPDISC_MAX_HOST + 16];
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

int ipdisc_parse_trace(const char *body, size_t len, int family, char *out, size_t outlen)
{
    size_t i = 0;
    while (i < len) {
        const char *line = body + i;
        const char *nl = memchr(line, '\n', len - i);
        size_t ll = nl ? (size_t)(nl - line) : len - i;
        i += ll + (nl ? 1 : 0);
        while (ll > 0 && (line[ll - 1] == '\r' || line[ll - 1] == ' ' || line[ll - 1] == '\t'))
            ll--;
        if (ll < 3 || memcmp(line, "ip=", 3) != 0)
            continue;
        const char *a = line + 3;
        size_t al = ll - 3;
        while (al > 0 && (*a == ' ' || *a == '\t')) {
            a++;
            al--;
        }
        char tmp[IPDISC_IP_LEN];
        unsigned char bin[16];
        if (al == 0 || al >= sizeof(tmp) || memchr(a, '\0', al))
            continue;
        memcpy(tmp, a, al);
        tmp[al] = '\0';
        int af = family == 6 ? AF_INET6 : AF_INET;
        if (inet_pton(af, tmp, bin) != 1)
            continue;
        if (outlen < IPDISC_IP_LEN || !inet_ntop(af, bin, out, (socklen_t)outlen))
            return -ENOSPC;
        return 0;
    }
    return -ENOENT;
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

/* Decodes a chunked body into out[IPDISC_MAX_RESPONSE]; -EAGAIN when incomplete. */
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
            uint8_t c = p[k];
            int v;
            if (c >= '0' && c <= '9')
                v = c - '0';
            else if (c >= 'a' && c <= 'f')
                v = c - 'a' + 10;
            else if (c >= 'A' && c <= 'F')
                v = c - 'A' + 10;
            else
                break;
            if (sz > IPDISC_MAX_RESPONSE) {
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
        if (sz > IPDISC_MAX_RESPONSE - o) {
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

int ipdisc_parse_response(const uint8_t *resp, size_t len, int eof, int family, char *out,
                          size_t outlen, const char **why)
{
    static const char *const dummy = "";
    const char *w_unused = dummy;
    if (!why)
        why = &w_unused;
    *why = "";
    if (len > IPDISC_MAX_RESPONSE) {
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
        if (eof || len >= IPDISC_MAX_RESPONSE) {
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
    if (resp[9] != '2') {
        *why = "HTTP status is not 2xx";
        return -EPROTO;
    }
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
            if (nl == 17 && strncasecmp(ls, "transfer-encoding", 17) == 0 && value_has(v, vl, "chunked"))
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
    const uint8_t *body = resp + hend;
    size_t blen = len - hend;
    if (chunked) {
        char dec[IPDISC_MAX_RESPONSE];
        size_t dlen = 0;
        int rc = dechunk(body, blen, dec, &dlen, why);
        if (rc == -EAGAIN && eof) {
            *why = "truncated chunked body";
            return -EPROTO;
        }
        if (rc != 0)
            return rc;
        return ipdisc_parse_trace(dec, dlen, family, out, outlen);
    }
    if (have_cl) {
        if (cl > IPDISC_MAX_RESPONSE) {
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
    return ipdisc_parse_trace((const char *)body, blen, family, out, outlen);
}

void ipdisc_format(const char *v4, const char *v6, char *out, size_t outlen)
{
    int h4 = v4 && *v4, h6 = v6 && *v6;
    if (h4 && h6)
        snprintf(out, outlen, "%s/%s", v4, v6);
    else
        snprintf(out, outlen, "%s", h4 ? v4 : h6 ? v6 : "");
}

const char *ipdisc_geoip_query(const char *v4, const char *v6, int prefer_v6)
{
    int h4 = v4 && *v4, h6 = v6 && *v6;
    if (h6 && (prefer_v6 || !h4))
        return v6;
    return h4 ? v4 : NULL;
}

uint32_t ipdisc_next_delay_s(uint32_t period_s, int found)
{
    if (period_s == 0)
        period_s = 1;
    if (found)
        return period_s;
    return period_s < IPDISC_OFFLINE_RETRY_S ? period_s : IPDISC_OFFLINE_RETRY_S;
}

/* ------------------------------------------------------------------ async part */

struct probe {
    struct ipdisc *d;
    int family;                   /* 4 or 6 */
    size_t url_idx;
    int running;                  /* a round is in progress for this family */
    int attempt_over;             /* current URL finished; waiting for teardown */
    int attempt_found;
    int gai_busy;                 /* getaddrinfo request outstanding */
    int tcp_busy;                 /* tcp handle initialised and not yet closed */
    int eof;
    uv_getaddrinfo_t gai;
    uv_tcp_t tcp;
    uv_connect_t conn;
    uv_timer_t timer;
    SSL *ssl;                     /* owns its memory BIOs */
    char ip[IPDISC_IP_LEN];       /* found this round, or "" */
    size_t resp_len;
    uint8_t resp[IPDISC_MAX_RESPONSE];
    char readbuf[4096];
};

struct ipdisc {
    uv_loop_t *loop;
    struct ipdisc_config cfg;
    struct ipdisc_url *urls;      /* owned; n_urls entries that parsed */
    size_t n_urls;
    SSL_CTX *ssl_ctx;             /* owned; created at first https fetch */
    uv_timer_t round_timer;
    int handles_open;             /* timers not yet closed */
    int closing;
    struct probe probes[2];
    char v4[IPDISC_IP_LEN];
    char v6[IPDISC_IP_LEN];
};

struct wreq {
    uv_write_t req;
    size_t len;
    char data[];
};

static void start_attempt(struct probe *p);
static void finish_attempt(struct probe *p, int found);

static void maybe_free(struct ipdisc *d)
{
    if (!d->closing || d->handles_open > 0)
        return;
    for (int i = 0; i < 2; i++)
        if (d->probes[i].gai_busy || d->probes[i].tcp_busy)
            return;
    SSL_CTX_free(d->ssl_ctx);
    free(d->urls);
    free(d);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct ipdisc *d = h->data;
    d->handles_open--;
    maybe_free(d);
}

static void round_done(struct ipdisc *d)
{
    char res[IPDISC_RESULT_LEN];
    memcpy(d->v4, d->probes[0].ip, sizeof(d->v4));
    memcpy(d->v6, d->probes[1].ip, sizeof(d->v6));
    int found = d->v4[0] || d->v6[0];
    ipdisc_format(d->v4, d->v6, res, sizeof(res));
    uint32_t delay = ipdisc_next_delay_s(d->cfg.period_s, found);
    if (found)
        log_info("public IP discovered: \"%s\"; next check in %u s", res, delay);
    else
        log_warn("public IP discovery found no address; retrying in %u s", delay);
    uv_timer_start(&d->round_timer, NULL, (uint64_t)delay * 1000u, 0);
    if (d->cfg.on_result)
        d->cfg.on_result(d, res, d->cfg.ud);
}

static void probe_advance(struct probe *p)
{
    struct ipdisc *d = p->d;
    if (p->gai_busy || p->tcp_busy)
        return;
    if (d->closing) {
        maybe_free(d);
        return;
    }
    if (!p->running)
        return;
    if (!p->attempt_found && ++p->url_idx < d->n_urls) {
        start_attempt(p);
        return;
    }
    p->running = 0;
    if (!d->probes[0].running && !d->probes[1].running)
        round_done(d);
}

static void on_tcp_closed(uv_handle_t *h)
{
    struct probe *p = h->data;
    p->tcp_busy = 0;
    probe_advance(p);
}

static void finish_attempt(struct probe *p, int found)
{
    if (p->attempt_over)
        return;
    p->attempt_over = 1;
    p->attempt_found = found;
    uv_timer_stop(&p->timer);
    if (p->ssl) {
        SSL_free(p->ssl);
        p->ssl = NULL;
    }
    if (p->gai_busy)
        uv_cancel((uv_req_t *)&p->gai); /* the callback still runs (maybe with ECANCELED) */
    if (p->tcp_busy && !uv_is_closing((uv_handle_t *)&p->tcp))
        uv_close((uv_handle_t *)&p->tcp, on_tcp_closed);
    probe_advance(p);
}

static void on_write(uv_write_t *req, int status)
{
    free(req->data);
}

static int send_bytes(struct probe *p, const void *data, size_t len)
{
    struct wreq *w = xmalloc(sizeof(*w) + len);
    memcpy(w->data, data, len);
    w->len = len;
    w->req.data = w;
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    int rc = uv_write(&w->req, (uv_stream_t *)&p->tcp, &b, 1, on_write);
    if (rc < 0)
        free(w);
    return rc;
}

/* Sends whatever TLS produced into the write BIO. */
static int tls_flush(struct probe *p)
{
    char tmp[4096];
    BIO *wb = SSL_get_wbio(p->ssl);
    int n;
    while ((n = BIO_read(wb, tmp, sizeof(tmp))) > 0)
        if (send_bytes(p, tmp, (size_t)n) < 0)
            return -EIO;
    return 0;
}

static const char *url_str(const struct probe *p)
{
    return p->d->urls[p->url_idx].host;
}

/* Evaluates the bytes so far; finishes the attempt when decided. */
static void check_response(struct probe *p)
{
    const char *why = "";
    int rc = ipdisc_parse_response(p->resp, p->resp_len, p->eof, p->family, p->ip, sizeof(p->ip),
                                   &why);
    if (rc == -EAGAIN && p->resp_len >= sizeof(p->resp)) {
        rc = -EPROTO;
        why = "response too large";
    }
    if (rc == -EAGAIN && !p->eof)
        return;
    if (rc == 0) {
        finish_attempt(p, 1);
        return;
    }
    p->ip[0] = '\0';
    log_debug("ip discovery over IPv%d from \"%s\": %s", p->family, url_str(p),
              rc == -ENOENT ? "no ip= line of this family" : why[0] ? why : "incomplete response");
    finish_attempt(p, 0);
}

static void send_request(struct probe *p)
{
    char req[IPDISC_MAX_REQUEST];
    int n = ipdisc_build_request(&p->d->urls[p->url_idx], req, sizeof(req));
    int rc;
    if (n < 0) {
        finish_attempt(p, 0);
        return;
    }
    if (p->ssl) {
        if (SSL_write(p->ssl, req, n) != n) {
            finish_attempt(p, 0);
            return;
        }
        rc = tls_flush(p);
    } else {
        rc = send_bytes(p, req, (size_t)n);
    }
    if (rc < 0)
        finish_attempt(p, 0);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct probe *p = h->data;
    *buf = uv_buf_init(p->readbuf, sizeof(p->readbuf));
}

static void append_plain(struct probe *p, const char *data, size_t n)
{
    size_t room = sizeof(p->resp) - p->resp_len;
    if (n > room)
        n = room;
    memcpy(p->resp + p->resp_len, data, n);
    p->resp_len += n;
}

static void tls_feed(struct probe *p, const char *data, size_t n)
{
    if (BIO_write(SSL_get_rbio(p->ssl), data, (int)n) != (int)n) {
        finish_attempt(p, 0);
        return;
    }
    if (!SSL_is_init_finished(p->ssl)) {
        int r = SSL_do_handshake(p->ssl);
        if (tls_flush(p) < 0) {
            finish_attempt(p, 0);
            return;
        }
        if (r != 1) {
            int e = SSL_get_error(p->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return;
            unsigned long ec = ERR_get_error();
            char eb[160];
            ERR_error_string_n(ec, eb, sizeof(eb));
            log_debug("ip discovery: TLS handshake with \"%s\" failed: %s", url_str(p), eb);
            ERR_clear_error();
            finish_attempt(p, 0);
            return;
        }
        send_request(p);
        if (p->attempt_over)
            return;
    }
    for (;;) {
        size_t room = sizeof(p->resp) - p->resp_len;
        if (room == 0)
            break;
        int r = SSL_read(p->ssl, p->resp + p->resp_len, (int)(room > INT32_MAX ? INT32_MAX : room));
        if (r > 0) {
            p->resp_len += (size_t)r;
            continue;
        }
        int e = SSL_get_error(p->ssl, r);
        if (e == SSL_ERROR_ZERO_RETURN)
            p->eof = 1;
        else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            ERR_clear_error();
            finish_attempt(p, 0);
            return;
        }
        break;
    }
    if (tls_flush(p) < 0)
        finish_attempt(p, 0);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct probe *p = s->data;
    if (p->attempt_over)
        return;
    if (nread < 0) {
        p->eof = 1;
        check_response(p);
        return;
    }
    if (nread == 0)
        return;
    if (p->ssl)
        tls_feed(p, buf->base, (size_t)nread);
    else
        append_plain(p, buf->base, (size_t)nread);
    if (!p->attempt_over)
        check_response(p);
}

static int tls_begin(struct probe *p)
{
    struct ipdisc *d = p->d;
    const struct ipdisc_url *u = &d->urls[p->url_idx];
    if (!d->ssl_ctx) {
        d->ssl_ctx = SSL_CTX_new(TLS_client_method());
        if (!d->ssl_ctx)
            return -ENOMEM;
        SSL_CTX_set_min_proto_version(d->ssl_ctx, TLS1_2_VERSION);
        SSL_CTX_set_default_verify_paths(d->ssl_ctx);
        if (d->cfg.ca_file && SSL_CTX_load_verify_locations(d->ssl_ctx, d->cfg.ca_file, NULL) != 1)
            log_warn("ip discovery: cannot load CA file \"%s\"", d->cfg.ca_file);
        SSL_CTX_set_verify(d->ssl_ctx, SSL_VERIFY_PEER, NULL);
    }
    p->ssl = SSL_new(d->ssl_ctx);
    if (!p->ssl)
        return -ENOMEM;
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    if (!rb || !wb) {
        BIO_free(rb);
        BIO_free(wb);
        return -ENOMEM;
    }
    SSL_set_bio(p->ssl, rb, wb);
    unsigned char tmp[16];
    int literal = inet_pton(AF_INET, u->host, tmp) == 1 || inet_pton(AF_INET6, u->host, tmp) == 1;
    if (!literal)
        SSL_set_tlsext_host_name(p->ssl, u->host);
    if (literal) {
        X509_VERIFY_PARAM *vp = SSL_get0_param(p->ssl);
        X509_VERIFY_PARAM_set1_ip_asc(vp, u->host);
    } else {
        SSL_set1_host(p->ssl, u->host);
    }
    SSL_set_connect_state(p->ssl);
    int r = SSL_do_handshake(p->ssl);
    if (r != 1) {
        int e = SSL_get_error(p->ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
            return -EPROTO;
    }
    return tls_flush(p);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct probe *p = req->data;
    if (p->attempt_over)
        return;
    if (status < 0) {
        log_debug("ip discovery over IPv%d: connect to \"%s\" failed: %s", p->family, url_str(p),
                  uv_strerror(status));
        finish_attempt(p, 0);
        return;
    }
    int rc = uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read);
    if (rc == 0)
        rc = p->d->urls[p->url_idx].tls ? tls_begin(p) : 0;
    if (rc < 0) {
        finish_attempt(p, 0);
        return;
    }
    if (!p->d->urls[p->url_idx].tls)
        send_request(p);
}

static void on_gai(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct probe *p = req->data;
    p->gai_busy = 0;
    if (p->attempt_over || status < 0 || !res) {
        if (!p->attempt_over)
            log_debug("ip discovery over IPv%d: cannot resolve \"%s\": %s", p->family, url_str(p),
                      uv_strerror(status));
        uv_freeaddrinfo(res);
        if (p->attempt_over)
            probe_advance(p);
        else
            finish_attempt(p, 0);
        return;
    }
    int rc = uv_tcp_init(p->d->loop, &p->tcp);
    if (rc == 0) {
        p->tcp_busy = 1;
        p->tcp.data = p;
        p->conn.data = p;
        rc = uv_tcp_connect(&p->conn, &p->tcp, res->ai_addr, on_connect);
    }
    uv_freeaddrinfo(res);
    if (rc < 0)
        finish_attempt(p, 0);
}

static void on_probe_timeout(uv_timer_t *t)
{
    struct probe *p = t->data;
    log_debug("ip discovery over IPv%d from \"%s\" timed out", p->family, url_str(p));
    finish_attempt(p, 0);
}

static void start_attempt(struct probe *p)
{
    struct ipdisc *d = p->d;
    const struct ipdisc_url *u = &d->urls[p->url_idx];
    char port[8];
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = p->family == 6 ? AF_INET6 : AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%d", u->port);
    p->attempt_over = 0;
    p->attempt_found = 0;
    p->eof = 0;
    p->resp_len = 0;
    p->ip[0] = '\0';
    uv_timer_start(&p->timer, on_probe_timeout,
                   d->cfg.timeout_ms ? d->cfg.timeout_ms : IPDISC_TIMEOUT_MS, 0);
    p->gai.data = p;
    int rc = uv_getaddrinfo(d->loop, &p->gai, on_gai, u->host, port, &hints);
    if (rc == 0) {
        p->gai_busy = 1;
        return;
    }
    finish_attempt(p, 0);
}

static void start_round(uv_timer_t *t)
{
    struct ipdisc *d = t->data;
    if (d->closing || d->probes[0].running || d->probes[1].running)
        return;
    for (int i = 0; i < 2; i++) {
        struct probe *p = &d->probes[i];
        p->url_idx = 0;
        p->ip[0] = '\0';
        p->running = 1;
        p->attempt_found = 0;
    }
    if (d->n_urls == 0) {
        d->probes[0].running = d->probes[1].running = 0;
        round_done(d);
        return;
    }
    start_attempt(&d->probes[0]);
    if (!d->closing)
        start_attempt(&d->probes[1]);
}

struct ipdisc *ipdisc_new(uv_loop_t *loop, const struct ipdisc_config *cfg)
{
    struct ipdisc *d = xcalloc(1, sizeof(*d));
    d->loop = loop;
    d->cfg = *cfg;
    const char *const *urls = cfg->urls ? cfg->urls : ipdisc_default_urls;
    size_t n = cfg->urls ? cfg->n_urls : 3;
    d->urls = xcalloc(n ? n : 1, sizeof(*d->urls));
    for (size_t i = 0; i < n; i++) {
        if (ipdisc_url_parse(urls[i], &d->urls[d->n_urls]) == 0)
            d->n_urls++;
        else
            log_warn("ip discovery: ignoring invalid URL \"%s\"", urls[i]);
    }
    uv_timer_init(loop, &d->round_timer);
    d->round_timer.data = d;
    d->handles_open = 1;
    for (int i = 0; i < 2; i++) {
        struct probe *p = &d->probes[i];
        p->d = d;
        p->family = i == 0 ? 4 : 6;
        uv_timer_init(loop, &p->timer);
        p->timer.data = p;
        d->handles_open++;
    }
    return d;
}

int ipdisc_start(struct ipdisc *d)
{
    /* A zero-delay timer keeps on_result out of the caller's stack. */
    return uv_timer_start(&d->round_timer, start_round, 0, 0);
}

const char *ipdisc_v4(const struct ipdisc *d)
{
    return d->v4;
}

const char *ipdisc_v6(const struct ipdisc *d)
{
    return d->v6;
}

void ipdisc_free(struct ipdisc *d)
{
    if (!d || d->closing)
        return;
    d->closing = 1;
    /* From here on the round timer's callback is start_round, which returns at once. */
    uv_close((uv_handle_t *)&d->round_timer, on_timer_closed);
    for (int i = 0; i < 2; i++) {
        struct probe *p = &d->probes[i];
        /* probe timers carry p as data; the close callback needs d */
        p->timer.data = d;
        uv_close((uv_handle_t *)&p->timer, on_timer_closed);
        if (p->running && !p->attempt_over) {
            p->attempt_over = 1;
            if (p->ssl) {
                SSL_free(p->ssl);
                p->ssl = NULL;
            }
            if (p->gai_busy)
                uv_cancel((uv_req_t *)&p->gai);
            if (p->tcp_busy && !uv_is_closing((uv_handle_t *)&p->tcp))
                uv_close((uv_handle_t *)&p->tcp, on_tcp_closed);
        }
        p->running = 0;
    }
}
