/*
 * ipdisc: public IP discovery (see ipdisc.h). The first half is pure parsing
 * and formatting; the second half runs one httpc fetch per address family on
 * the libuv loop, walking the URL list until an address of that family turns up.
 */
#include "agent/ipdisc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uv.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "proto/httpc.h"
#include "proto/tls.h"

const char *const ipdisc_default_urls[] = {
    "https://blog.cloudflare.com/cdn-cgi/trace",
    "https://dash.cloudflare.com/cdn-cgi/trace",
    "https://developers.cloudflare.com/cdn-cgi/trace",
    NULL,
};

/* ------------------------------------------------------------------ pure part */

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

int ipdisc_parse_response(const uint8_t *resp, size_t len, int eof, int family, char *out,
                          size_t outlen, const char **why)
{
    static const char *const dummy = "";
    const char *w_unused = dummy;
    if (!why)
        why = &w_unused;
    *why = "";
    int status = 0;
    size_t hend = 0;
    int rc = httpc_parse_head(resp, len, eof, &status, &hend, why);
    if (rc != 0)
        return rc;
    if (status / 100 != 2) {
        *why = "HTTP status is not 2xx";
        return -EPROTO;
    }
    char dec[HTTPC_MAX_RESPONSE];
    const uint8_t *body = NULL;
    size_t blen = 0;
    rc = httpc_parse_body(resp, len, hend, eof, dec, &body, &blen, why);
    if (rc != 0)
        return rc;
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
    int family; /* 4 or 6 */
    size_t url_idx;
    int running;            /* a round is in progress for this family */
    int open;               /* the httpc is not closed yet */
    struct httpc http;      /* one fetch at a time; its response buffer is the probe's */
    char ip[IPDISC_IP_LEN]; /* found this round, or "" */
};

struct ipdisc {
    uv_loop_t *loop;
    struct ipdisc_config cfg;
    struct httpc_url *urls; /* owned; n_urls entries that parsed */
    size_t n_urls;
    struct tls_ctx *tls_ctx; /* owned; created at first https fetch */
    int tls_tried;           /* tls_ctx creation was attempted with the CA file */
    uv_timer_t round_timer;
    int handles_open; /* round timer and probes not yet closed */
    int closing;
    struct probe probes[2];
    char v4[IPDISC_IP_LEN];
    char v6[IPDISC_IP_LEN];
};

static void start_attempt(struct probe *p);

static void maybe_free(struct ipdisc *d)
{
    if (!d->closing || d->handles_open > 0)
        return;
    tls_ctx_free(d->tls_ctx);
    free(d->urls);
    free(d);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct ipdisc *d = h->data;
    d->handles_open--;
    maybe_free(d);
}

static void on_http_closed(struct httpc *h, void *ud)
{
    (void)h;
    struct probe *p = ud;
    struct ipdisc *d = p->d;
    p->open = 0;
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

/* The attempt at the current URL is over (found or not): next URL, or the round ends. */
static void probe_advance(struct probe *p, int found)
{
    struct ipdisc *d = p->d;
    if (d->closing || !p->running)
        return;
    if (!found && ++p->url_idx < d->n_urls) {
        start_attempt(p);
        return;
    }
    p->running = 0;
    if (!d->probes[0].running && !d->probes[1].running)
        round_done(d);
}

static const char *url_str(const struct probe *p)
{
    return p->d->urls[p->url_idx].host;
}

/* httpc judge: evaluates the bytes so far. 0 found, -1 not (logged), -EAGAIN read on. */
static int judge_response(struct httpc *h, const uint8_t *resp, size_t len, int eof, void *ud)
{
    (void)h;
    struct probe *p = ud;
    const char *why = "";
    int rc = ipdisc_parse_response(resp, len, eof, p->family, p->ip, sizeof(p->ip), &why);
    if (rc == -EAGAIN && len >= HTTPC_MAX_RESPONSE) {
        rc = -EPROTO;
        why = "response too large";
    }
    if (rc == -EAGAIN && !eof)
        return -EAGAIN;
    if (rc == 0)
        return 0;
    p->ip[0] = '\0';
    log_debug("ip discovery over IPv%d from \"%s\": %s", p->family, url_str(p),
              rc == -ENOENT ? "no ip= line of this family"
              : why[0]      ? why
                            : "incomplete response");
    return -1;
}

static void on_fetch_done(struct httpc *h, const struct httpc_result *r, void *ud)
{
    (void)h;
    struct probe *p = ud;
    switch (r->stage) {
    case HTTPC_REPLY:
        break; /* judge_response logged the failure */
    case HTTPC_RESOLVE:
        log_debug("ip discovery over IPv%d: cannot resolve \"%s\": %s", p->family, url_str(p),
                  r->detail);
        break;
    case HTTPC_CONNECT:
        log_debug("ip discovery over IPv%d: connect to \"%s\" failed: %s", p->family, url_str(p),
                  r->detail);
        break;
    case HTTPC_TLS:
        log_debug("ip discovery: TLS handshake with \"%s\" failed: %s", url_str(p), r->detail);
        break;
    case HTTPC_TIMEOUT:
        log_debug("ip discovery over IPv%d from \"%s\" timed out", p->family, url_str(p));
        break;
    case HTTPC_TOO_BIG:
    case HTTPC_IO:
        break;
    }
    int found = r->stage == HTTPC_REPLY && r->rc == 0;
    if (!found)
        p->ip[0] = '\0';
    probe_advance(p, found);
}

/* The client context for https:// URLs (ALPN none), made once; NULL if OpenSSL failed. */
static struct tls_ctx *tls_ctx_get(struct ipdisc *d)
{
    if (d->tls_ctx)
        return d->tls_ctx;
    char err[256];
    if (!d->tls_tried) {
        d->tls_tried = 1;
        if (tls_ctx_new_client(NULL, 0, d->cfg.ca_file, &d->tls_ctx, err, sizeof(err)) == 0)
            return d->tls_ctx;
        if (d->cfg.ca_file)
            log_warn("ip discovery: cannot load CA file \"%s\"", d->cfg.ca_file);
    }
    if (tls_ctx_new_client(NULL, 0, NULL, &d->tls_ctx, err, sizeof(err)) != 0)
        d->tls_ctx = NULL;
    return d->tls_ctx;
}

static void start_attempt(struct probe *p)
{
    struct ipdisc *d = p->d;
    const struct httpc_url *u = &d->urls[p->url_idx];
    p->ip[0] = '\0';
    struct tls_ctx *ctx = u->tls ? tls_ctx_get(d) : NULL;
    if (httpc_fetch(&p->http, u, p->family, ctx,
                    d->cfg.timeout_ms ? d->cfg.timeout_ms : IPDISC_TIMEOUT_MS) < 0)
        probe_advance(p, 0);
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
        if (httpc_url_parse(urls[i], &d->urls[d->n_urls]) == 0)
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
        httpc_init(&p->http, loop, judge_response, on_fetch_done, p);
        p->open = 1;
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
        p->running = 0;
        httpc_close(&p->http, on_http_closed); /* no on_done afterwards */
    }
}
