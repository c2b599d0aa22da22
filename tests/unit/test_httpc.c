/*
 * httpc: the pure parsers (URL, request, status line, Content-Length and
 * chunked framing, limits) and fetches against in-process loopback servers on
 * the same libuv loop (length, chunked, over-limit, deadline, bad status
 * line), plus HTTPS against `openssl s_server` (SNI + verification, the peer
 * certificate's notAfter) when openssl exists.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "loopsrv.h"

#include "core/log.h"
#include "proto/httpc.h"
#include "proto/tls.h"

static void test_httpc__url_and_request(void **state)
{
    (void)state;
    struct httpc_url u;
    assert_int_equal(httpc_url_parse("https://blog.cloudflare.com/cdn-cgi/trace", &u), 0);
    assert_int_equal(u.tls, 1);
    assert_int_equal(u.port, 443);
    assert_string_equal(u.host, "blog.cloudflare.com");
    assert_string_equal(u.path, "/cdn-cgi/trace");
    assert_int_equal(httpc_url_parse("http://127.0.0.1:8080", &u), 0);
    assert_int_equal(u.tls, 0);
    assert_int_equal(u.port, 8080);
    assert_string_equal(u.path, "/");
    assert_int_equal(httpc_url_parse("HTTP://[::1]:81/t?x=1", &u), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 81);
    assert_string_equal(u.path, "/t?x=1");
    assert_int_equal(httpc_url_parse("http://h?q", &u), 0);
    assert_string_equal(u.path, "/?q");
    assert_int_equal(httpc_url_parse("ftp://h/", &u), -EINVAL);
    assert_int_equal(httpc_url_parse("http://", &u), -EINVAL);
    assert_int_equal(httpc_url_parse("http://u@h/", &u), -EINVAL);
    assert_int_equal(httpc_url_parse("http://h:0/", &u), -EINVAL);
    assert_int_equal(httpc_url_parse("http://h:99999/", &u), -EINVAL);
    assert_int_equal(httpc_url_parse("http://[zz]/", &u), -EINVAL);
    assert_int_equal(httpc_url_parse("http://h/a b", &u), -EINVAL);

    char req[HTTPC_MAX_REQUEST];
    assert_int_equal(httpc_url_parse("http://[::1]:81/t", &u), 0);
    int n = httpc_build_request(&u, req, sizeof(req));
    assert_true(n > 0);
    assert_memory_equal(req, "GET /t HTTP/1.1\r\nHost: [::1]:81\r\n", 33);
    assert_non_null(strstr(req, "Connection: close\r\n\r\n"));
    assert_non_null(strstr(req, "Chrome/"));
    assert_int_equal(httpc_build_request(&u, req, 20), -E2BIG);
    assert_int_equal(httpc_url_parse("https://x.example/cdn-cgi/trace", &u), 0);
    httpc_build_request(&u, req, sizeof(req));
    assert_non_null(strstr(req, "\r\nHost: x.example\r\n"));
}

static int head(const char *r, int eof, int *status, size_t *hend, const char **why)
{
    return httpc_parse_head((const uint8_t *)r, strlen(r), eof, status, hend, why);
}

static void test_httpc__parse_head_and_body(void **state)
{
    (void)state;
    int st = 0;
    size_t hend = 0;
    const char *why = "";
    char dec[HTTPC_MAX_RESPONSE];
    const uint8_t *body;
    size_t blen;
    static const char len[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nhello+extra";
    assert_int_equal(head(len, 0, &st, &hend, &why), 0);
    assert_int_equal(st, 404);
    assert_int_equal(
        httpc_parse_body((const uint8_t *)len, strlen(len), hend, 0, dec, &body, &blen, &why), 0);
    assert_int_equal(blen, 5);
    assert_memory_equal(body, "hello", 5);
    /* incomplete Content-Length body: more bytes, or truncated at eof */
    assert_int_equal(
        httpc_parse_body((const uint8_t *)len, hend + 2, hend, 0, dec, &body, &blen, &why),
        -EAGAIN);
    assert_int_equal(
        httpc_parse_body((const uint8_t *)len, hend + 2, hend, 1, dec, &body, &blen, &why),
        -EPROTO);
    assert_string_equal(why, "truncated body");
    static const char ch[] =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    assert_int_equal(head(ch, 0, &st, &hend, &why), 0);
    assert_int_equal(
        httpc_parse_body((const uint8_t *)ch, strlen(ch), hend, 0, dec, &body, &blen, &why), 0);
    assert_int_equal(blen, 5);
    assert_memory_equal(body, "abcde", 5);
    assert_int_equal(
        httpc_parse_body((const uint8_t *)ch, strlen(ch) - 8, hend, 0, dec, &body, &blen, &why),
        -EAGAIN);
    assert_int_equal(
        httpc_parse_body((const uint8_t *)ch, strlen(ch) - 8, hend, 1, dec, &body, &blen, &why),
        -EPROTO);
    assert_string_equal(why, "truncated chunked body");
    static const char bigch[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4001\r\n";
    assert_int_equal(head(bigch, 0, &st, &hend, &why), 0);
    assert_int_equal(
        httpc_parse_body((const uint8_t *)bigch, strlen(bigch), hend, 0, dec, &body, &blen, &why),
        -EPROTO);
    assert_string_equal(why, "chunked body too large");
    static const char bigcl[] = "HTTP/1.1 200 OK\r\nContent-Length: 16385\r\n\r\n";
    assert_int_equal(head(bigcl, 0, &st, &hend, &why), 0);
    assert_int_equal(
        httpc_parse_body((const uint8_t *)bigcl, strlen(bigcl), hend, 0, dec, &body, &blen, &why),
        -EPROTO);
    assert_string_equal(why, "body too large");
    static const char close_framed[] = "HTTP/1.0 200 OK\r\n\r\nuntil close";
    assert_int_equal(head(close_framed, 0, &st, &hend, &why), 0);
    assert_int_equal(httpc_parse_body((const uint8_t *)close_framed, strlen(close_framed), hend, 0,
                                      dec, &body, &blen, &why),
                     -EAGAIN);
    assert_int_equal(httpc_parse_body((const uint8_t *)close_framed, strlen(close_framed), hend, 1,
                                      dec, &body, &blen, &why),
                     0);
    assert_int_equal(blen, 11);
    /* head errors */
    assert_int_equal(head("HTTP/1.1 200 OK\r\n", 0, &st, &hend, &why), -EAGAIN);
    assert_int_equal(head("HTTP/1.1 200 OK\r\n", 1, &st, &hend, &why), -EPROTO);
    assert_string_equal(why, "truncated response header");
    assert_int_equal(head("HTTP/1.1 2x0 OK\r\n\r\n", 0, &st, &hend, &why), -EPROTO);
    assert_string_equal(why, "bad status line");
    assert_int_equal(head("SSH-2.0-x\r\n\r\n", 0, &st, &hend, &why), -EPROTO);
    assert_string_equal(why, "not an HTTP response");
    static char huge[HTTPC_MAX_RESPONSE + 2];
    memset(huge, 'a', sizeof(huge) - 1);
    memcpy(huge, "HTTP/1.1 200 OK\r\nX: ", 20);
    assert_int_equal(head(huge, 0, &st, &hend, &why), -EPROTO);
    assert_string_equal(why, "response too large");
    assert_int_equal(
        httpc_parse_head((const uint8_t *)huge, HTTPC_MAX_RESPONSE, 0, &st, &hend, &why), -EPROTO);
    assert_string_equal(why, "response header too large");
}

/* ---- one fetch: the judge is the generic "complete response" rule ---- */

struct fetch {
    struct httpc h;
    struct httpc_url u;
    struct httpc_result r;
    char detail[192];
    int done;
    int status;
    char body[64];
    size_t blen;
    struct loopsrv *s;
};

static int judge_complete(struct httpc *h, const uint8_t *resp, size_t len, int eof, void *ud)
{
    (void)h;
    struct fetch *f = ud;
    size_t hend = 0;
    const char *why = "";
    int rc = httpc_parse_head(resp, len, eof, &f->status, &hend, &why);
    if (rc != 0)
        return rc;
    static char dec[HTTPC_MAX_RESPONSE];
    const uint8_t *body;
    size_t blen;
    rc = httpc_parse_body(resp, len, hend, eof, dec, &body, &blen, &why);
    if (rc == 0) {
        f->blen = blen < sizeof(f->body) ? blen : sizeof(f->body);
        memcpy(f->body, body, f->blen);
    }
    return rc;
}

static void closed_cb(struct httpc *h, void *ud)
{
    (void)h;
    (void)ud;
}

static void done_cb(struct httpc *h, const struct httpc_result *r, void *ud)
{
    struct fetch *f = ud;
    f->done++;
    f->r = *r;
    snprintf(f->detail, sizeof(f->detail), "%s", r->detail);
    httpc_close(h, closed_cb); /* allowed from on_done */
    if (f->s)
        uv_close((uv_handle_t *)&f->s->listener, NULL);
}

static void run_fetch(struct fetch *f, const char *url, struct loopsrv *s, struct tls_ctx *ctx,
                      unsigned timeout_ms)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    memset(f, 0, sizeof(*f));
    f->s = s;
    char u[128];
    if (s) {
        assert_int_equal(loopsrv_start(s, &loop), 0);
        snprintf(u, sizeof(u), "%s127.0.0.1:%d/x", url, s->port); /* url: the scheme */
        url = u;
    }
    assert_int_equal(httpc_url_parse(url, &f->u), 0);
    httpc_init(&f->h, &loop, judge_complete, done_cb, f);
    assert_int_equal(httpc_fetch(&f->h, &f->u, 4, ctx, timeout_ms), 0);
    assert_int_equal(httpc_fetch(&f->h, &f->u, 4, ctx, timeout_ms), -EBUSY);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(f->done, 1);
}

static void serve(struct loopsrv *s, const char *reply)
{
    memset(s, 0, sizeof(*s));
    s->reply = reply;
    s->reply_len = strlen(reply);
}

static void test_httpc__fetch_length_and_chunked(void **state)
{
    (void)state;
    struct loopsrv s;
    struct fetch f;
    serve(&s, "HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy");
    run_fetch(&f, "http://", &s, NULL, 5000);
    assert_int_equal(f.r.stage, HTTPC_REPLY);
    assert_int_equal(f.r.rc, 0);
    assert_int_equal(f.status, 503);
    assert_int_equal(f.blen, 4);
    assert_memory_equal(f.body, "busy", 4);
    assert_int_equal(f.r.cert_not_after, 0);
    serve(&s,
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n1\r\n!\r\n0\r\n\r\n");
    run_fetch(&f, "http://", &s, NULL, 5000);
    assert_int_equal(f.r.rc, 0);
    assert_int_equal(f.status, 200);
    assert_int_equal(f.blen, 3);
    assert_memory_equal(f.body, "ok!", 3);
}

static void test_httpc__fetch_errors(void **state)
{
    (void)state;
    struct loopsrv s;
    struct fetch f;
    serve(&s, "HTTP/1.1 20 OK\r\n\r\n");
    run_fetch(&f, "http://", &s, NULL, 5000);
    assert_int_equal(f.r.stage, HTTPC_REPLY);
    assert_int_equal(f.r.rc, -EPROTO);
    /* a body that stops short: the peer's close makes it incomplete */
    serve(&s, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    run_fetch(&f, "http://", &s, NULL, 5000);
    assert_int_equal(f.r.rc, -EPROTO);
    /* over the limit: the buffer fills before the (close-framed) body ends */
    static char big[HTTPC_MAX_RESPONSE + 4096];
    memset(big, 'x', sizeof(big) - 1);
    memcpy(big, "HTTP/1.1 200 OK\r\n\r\n", 19);
    serve(&s, big);
    run_fetch(&f, "http://", &s, NULL, 5000);
    assert_int_equal(f.r.stage, HTTPC_TOO_BIG);
    assert_int_equal(f.r.rc, -E2BIG);
    /* deadline */
    serve(&s, "");
    s.silent = 1;
    uint64_t t0 = uv_hrtime();
    run_fetch(&f, "http://", &s, NULL, 200);
    uint64_t ms = (uv_hrtime() - t0) / 1000000u;
    assert_int_equal(f.r.stage, HTTPC_TIMEOUT);
    assert_int_equal(f.r.rc, -ETIMEDOUT);
    assert_true(ms >= 150 && ms < 5000);
    /* nobody listens */
    run_fetch(&f, "http://127.0.0.1:1/", NULL, NULL, 5000);
    assert_int_equal(f.r.stage, HTTPC_CONNECT);
    assert_true(f.detail[0] != '\0');
    /* https without a context */
    serve(&s, "HTTP/1.1 200 OK\r\n\r\n");
    run_fetch(&f, "https://", &s, NULL, 5000);
    assert_int_equal(f.r.stage, HTTPC_IO);
}

static void test_httpc__close_mid_flight(void **state)
{
    (void)state;
    struct loopsrv s;
    serve(&s, "");
    s.silent = 1;
    uv_loop_t loop;
    uv_loop_init(&loop);
    assert_int_equal(loopsrv_start(&s, &loop), 0);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
    struct fetch f;
    memset(&f, 0, sizeof(f));
    assert_int_equal(httpc_url_parse(url, &f.u), 0);
    httpc_init(&f.h, &loop, judge_complete, done_cb, &f);
    assert_int_equal(httpc_fetch(&f.h, &f.u, 4, NULL, 5000), 0);
    for (int i = 0; i < 50 && s.conns == 0; i++)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(s.conns, 1);
    httpc_close(&f.h, closed_cb);
    uv_close((uv_handle_t *)&s.listener, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(f.done, 0); /* no on_done after close */
}

/* HTTPS against `openssl s_server -HTTP` (skipped without openssl): verified with the CA, rejected
 * without. */
static void test_httpc__https_with_s_server(void **state)
{
    (void)state;
    if (access("/usr/bin/openssl", X_OK) != 0)
        skip();
    char dir[] = "/tmp/lotus-httpc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[512];
    snprintf(
        cmd, sizeof(cmd),
        "cd %s && printf 'HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\nhi\\n' > page",
        dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(loopsrv_make_cert(dir, 2), 0);
    int port = loopsrv_free_port();
    pid_t pid = loopsrv_s_server(dir, port);
    assert_true(pid > 0);
    char url[96], ca[128], err[256];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/page", port);
    snprintf(ca, sizeof(ca), "%s/cert.pem", dir);
    struct tls_ctx *ctx = NULL;
    assert_int_equal(tls_ctx_new_client(NULL, 0, ca, &ctx, err, sizeof(err)), 0);
    struct fetch f;
    run_fetch(&f, url, NULL, ctx, 5000);
    assert_int_equal(f.r.stage, HTTPC_REPLY);
    assert_int_equal(f.r.rc, 0);
    assert_int_equal(f.status, 200);
    assert_int_equal(f.blen, 3);
    assert_memory_equal(f.body, "hi\n", 3);
    int64_t now = (int64_t)time(NULL);
    assert_true(f.r.cert_not_after > now + 86400 && f.r.cert_not_after < now + 3 * 86400);
    tls_ctx_free(ctx);
    /* without the CA the certificate is rejected in the handshake */
    assert_int_equal(tls_ctx_new_client(NULL, 0, NULL, &ctx, err, sizeof(err)), 0);
    run_fetch(&f, url, NULL, ctx, 5000);
    assert_int_equal(f.r.stage, HTTPC_TLS);
    assert_non_null(strstr(f.detail, "certificate verification failed"));
    tls_ctx_free(ctx);
    loopsrv_s_server_stop(pid);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (getenv("LOTUS_TEST_DEBUG"))
        log_set_level(LOG_LEVEL_DEBUG);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_httpc__url_and_request),
        cmocka_unit_test(test_httpc__parse_head_and_body),
        cmocka_unit_test(test_httpc__fetch_length_and_chunked),
        cmocka_unit_test(test_httpc__fetch_errors),
        cmocka_unit_test(test_httpc__close_mid_flight),
        cmocka_unit_test(test_httpc__https_with_s_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
