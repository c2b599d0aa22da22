/*
 * probe_http: task types 1 (HTTP GET, v0) and 101 (HTTP GET with a status
 * range and a keyword, Lotus) over httpc (see probe_int.h). The body is
 * streamed through httpc's buffer: framed with httpc_body_*, scanned for the
 * keyword and dropped, so its size does not matter; the delay runs until it
 * is fully read (docs/protocol.md §3.5). Redirects are not followed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/gotime.h"
#include "agent/probe_int.h"
#include "proto/tls.h"

static void on_closed(struct httpc *h, void *ud)
{
    (void)h;
    probe_done(ud);
}

static void body_sink(void *ud, const uint8_t *b, size_t n)
{
    struct probe_http *ph = ud;
    if (ph->spec.kwlen)
        (void)probe_kw_feed(&ph->kw, b, n);
}

static int fail_proto(struct probe_http *ph, const char *why)
{
    snprintf(ph->why, sizeof(ph->why), "%s", why ? why : "bad response");
    return -EPROTO;
}

/* Reads the head once, then streams the body; 0 when the body is complete. */
static int judge(struct httpc *h, const uint8_t *resp, size_t len, int eof, void *ud)
{
    struct probe_http *ph = ud;
    const char *why = NULL;
    while (!ph->have_head) {
        size_t hend = 0;
        int rc = httpc_parse_head(resp, len, eof, &ph->status, &hend, &why);
        if (rc == -EAGAIN)
            return -EAGAIN;
        if (rc < 0)
            return fail_proto(ph, why);
        if (ph->status >= 100 && ph->status < 200 && ph->status != 101) {
            httpc_consume(h, hend); /* an interim response (103 Early Hints...): skip it */
            len -= hend;
            continue;
        }
        probe_status_text(resp, hend, ph->status_text, sizeof(ph->status_text));
        if (httpc_body_begin(&ph->body, resp, hend, ph->status, &why) != 0)
            return fail_proto(ph, why);
        httpc_consume(h, hend);
        len -= hend;
        ph->have_head = 1;
    }
    int rc = httpc_body_feed(&ph->body, resp, len, eof, body_sink, ph, &why);
    httpc_consume(h, len);
    if (rc < 0)
        return fail_proto(ph, why);
    return rc == 1 ? 0 : -EAGAIN;
}

static void verdict(struct probe *p, const struct httpc_result *r)
{
    struct probe_http *ph = &p->u.http;
    switch (r->stage) {
    case HTTPC_REPLY:
        if (r->rc != 0) {
            probe_set_data(p, "bad response: %s", ph->why[0] ? ph->why : r->detail);
            return;
        }
        break;
    case HTTPC_RESOLVE:
        probe_set_data(p, "lookup %s: %s", ph->url.host, r->detail);
        return;
    case HTTPC_CONNECT:
        probe_set_data(p, "connect to %s port %d: %s", ph->url.host, ph->url.port, r->detail);
        return;
    case HTTPC_TLS:
        probe_set_data(p, "TLS handshake with %s failed: %s", ph->url.host, r->detail);
        return;
    case HTTPC_TIMEOUT:
        probe_set_data(p, "timeout: no complete response within %d s",
                       PROBE_HTTP_TIMEOUT_MS / 1000);
        return;
    default:
        probe_set_data(p, "HTTP request failed: %s", r->detail[0] ? r->detail : "I/O error");
        return;
    }
    /* the body was read: v0 takes the delay here, whatever the status */
    p->delay_ms = probe_elapsed_ms(p);
    if (!probe_status_ok(ph->status, ph->spec.lo, ph->spec.hi)) {
        probe_status_failure(ph->status_text, p->data, sizeof(p->data));
        return;
    }
    if (ph->spec.kwlen && ph->kw.found == ph->spec.keyword_absent) {
        probe_set_data(p, "keyword \"%.200s\" %s", ph->spec.keyword,
                       ph->spec.keyword_absent ? "found" : "not found");
        return;
    }
    if (ph->url.tls) {
        char when[GOTIME_STRING_MAX];
        if (r->cert_not_after == 0 ||
            gotime_string_utc(r->cert_not_after, when, sizeof(when)) < 0) {
            probe_set_data(p, "%s", PROBE_MSG_NO_CERT);
            return;
        }
        probe_set_data(p, "%s|%s", r->cert_issuer, when);
    }
    p->ok = 1;
}

static void on_done(struct httpc *h, const struct httpc_result *r, void *ud)
{
    struct probe *p = ud;
    verdict(p, r);
    p->u.http.closing = 1;
    httpc_close(h, on_closed);
}

/* httpc's callbacks get the probe; the judge gets the HTTP part. */
static int judge_p(struct httpc *h, const uint8_t *resp, size_t len, int eof, void *ud)
{
    struct probe *p = ud;
    return judge(h, resp, len, eof, &p->u.http);
}

void probe_http_start(struct probe *p, const char *data, size_t len, int lotus)
{
    struct probe_http *ph = &p->u.http;
    char err[128];
    httpc_init(&ph->h, p->loop, judge_p, on_done, p);
    ph->closing = 1; /* until the fetch runs: a failure below closes at once */
    if (probe_http_spec_parse(data, len, lotus, &ph->spec, err, sizeof(err)) != 0 ||
        httpc_url_parse(ph->spec.url, &ph->url) != 0) {
        probe_set_data(p, "%s", err);
        httpc_close(&ph->h, on_closed);
        return;
    }
    if (ph->spec.kwlen)
        probe_kw_init(&ph->kw, ph->spec.keyword, ph->spec.kwlen);
    struct tls_ctx *ctx = NULL;
    if (ph->url.tls && !(ctx = probes_tls_ctx(p->ps, err, sizeof(err)))) {
        probe_set_data(p, "TLS setup failed: %s", err);
        httpc_close(&ph->h, on_closed);
        return;
    }
    int rc = httpc_fetch(&ph->h, &ph->url, 0, ctx, PROBE_HTTP_TIMEOUT_MS);
    if (rc < 0) {
        probe_set_data(p, "HTTP request failed: %s", uv_strerror(rc));
        httpc_close(&ph->h, on_closed);
        return;
    }
    ph->closing = 0;
}

void probe_http_stop(struct probe *p)
{
    struct probe_http *ph = &p->u.http;
    if (ph->closing)
        return;
    ph->closing = 1;
    httpc_close(&ph->h, on_closed); /* no on_done afterwards */
}
