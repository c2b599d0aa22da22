/*
 * Unit tests of src/dashboard/http and http_query. The server runs on its own
 * libuv loop in a background thread on 127.0.0.1:0; the tests are blocking
 * TCP clients with receive timeouts, so every wait is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>
#include <zlib.h>

#include "core/buf.h"
#include "dashboard/http.h"
#include "dashboard/http_gzip.h"
#include "dashboard/http_query.h"

struct env {
    uv_loop_t loop;
    uv_async_t stop;
    struct http_server *srv;
    int port;
    uv_sem_t ready;
    pthread_t th;
};

/* ---- handlers (run on the loop thread) ---- */

static void h_hello(struct http_request *req, void *ud)
{
    http_request_respond_text(req, 200, "text/plain", "hello");
}

static void h_token(struct http_request *req, void *ud)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"id\":\"%s\"}", http_request_param(req, "id"));
    struct buf b;
    buf_init(&b, 0);
    buf_puts(&b, body);
    http_request_respond_json(req, 200, &b);
    buf_release(&b);
}

static void h_query(struct http_request *req, void *ud)
{
    char body[256];
    const char *a = http_request_query(req, "a");
    const char *b = http_request_query(req, "b");
    snprintf(body, sizeof(body), "a=%s|b=%s", a ? a : "(null)", b ? b : "(null)");
    http_request_respond_text(req, 200, "text/plain", body);
}

static void h_cookie(struct http_request *req, void *ud)
{
    struct slice v;
    char body[128];
    if (http_request_cookie(req, "sid", &v) == 0)
        snprintf(body, sizeof(body), "sid=%.*s", (int)v.len, v.ptr);
    else
        snprintf(body, sizeof(body), "no sid");
    http_request_respond_text(req, 200, "text/plain", body);
}

static void h_echo(struct http_request *req, void *ud)
{
    struct slice b;
    http_request_body(req, &b);
    struct buf out;
    buf_init(&out, 0);
    buf_append(&out, b.ptr, b.len);
    const char *x = http_request_header(req, "x-test");
    if (x)
        http_request_add_header(req, "X-Echo", x);
    http_request_respond(req, 200, "application/octet-stream", &out);
    buf_release(&out);
}

static void h_rest(struct http_request *req, void *ud)
{
    http_request_respond_text(req, 200, "text/plain", http_request_param(req, "path"));
}

struct late {
    uv_timer_t t;
    struct http_request *req;
};

static void late_closed(uv_handle_t *h)
{
    free(h);
}

static void late_fire(uv_timer_t *t)
{
    struct late *l = (struct late *)t;
    http_request_respond_text(l->req, 200, "text/plain", "late");
    uv_close((uv_handle_t *)t, late_closed);
}

static void h_async(struct http_request *req, void *ud)
{
    uv_loop_t *loop = ud;
    struct late *l = calloc(1, sizeof(*l));
    l->req = req;
    uv_timer_init(loop, &l->t);
    uv_timer_start(&l->t, late_fire, 50, 0);
}

/* JSON-like text of n bytes or a little more (compresses to ~1/5, not to nothing). */
static void fill_json(struct buf *b, size_t n)
{
    for (int i = 0; b->len < n; i++)
        buf_printf(b, "{\"id\":%d,\"name\":\"server-%d\",\"cpu\":%d.%02d},", i, i * 7919 % 1000,
                   i % 100, i * 31 % 100);
}

/* /gz/<kind>: bodies for the compression tests. */
static void h_gz(struct http_request *req, void *ud)
{
    const char *kind = http_request_param(req, "kind");
    struct buf b;
    buf_init(&b, 0);
    if (strcmp(kind, "small") == 0) {
        fill_json(&b, HTTP_GZIP_MIN_BYTES - 100);
        http_request_respond_json(req, 200, &b);
    } else if (strcmp(kind, "big") == 0) {
        fill_json(&b, 4000); /* compressed on the loop thread */
        http_request_respond_json(req, 200, &b);
    } else if (strcmp(kind, "huge") == 0) {
        fill_json(&b, 200000); /* compressed on the work pool */
        http_request_respond_json(req, 200, &b);
    } else if (strcmp(kind, "bin") == 0) {
        fill_json(&b, 4000);
        http_request_respond(req, 200, "application/octet-stream", &b);
    } else if (strcmp(kind, "off") == 0) {
        fill_json(&b, 4000);
        http_request_set_compress(req, 0);
        http_request_respond_json(req, 200, &b);
    } else if (strcmp(kind, "pre") == 0) {
        struct buf plain;
        buf_init(&plain, 0);
        fill_json(&plain, 4000);
        http_gzip_compress(plain.data, plain.len, 9, &b);
        buf_release(&plain);
        http_request_respond_gzip(req, 200, "application/json", &b);
    } else if (strcmp(kind, "304") == 0) {
        fill_json(&b, 4000);
        http_request_respond(req, 304, NULL, &b);
    } else {
        http_request_respond_text(req, 404, "text/plain", "no");
    }
    buf_release(&b);
}

struct upw {
    struct http_stream *st;
    char *data;
};

static void up_written(void *ud, int status)
{
    struct upw *u = ud;
    (void)status;
    http_stream_close(u->st);
    free(u->data);
    free(u);
}

static void on_upgrade(struct http_request *req, void *ud)
{
    if (strcmp(http_request_path(req), "/ws") != 0) {
        http_request_respond_text(req, 404, "text/plain", "no");
        return;
    }
    struct slice left;
    struct http_stream *st = http_request_take_stream(req, &left);
    if (!st)
        return;
    static const char head[] = "HTTP/1.1 101 Switching Protocols\r\n\r\n";
    struct upw *u = calloc(1, sizeof(*u));
    u->st = st;
    u->data = malloc(sizeof(head) + left.len);
    memcpy(u->data, head, sizeof(head) - 1);
    memcpy(u->data + sizeof(head) - 1, left.ptr, left.len);
    if (http_stream_write(st, u->data, sizeof(head) - 1 + left.len, up_written, u) != 0)
        up_written(u, -1);
}

static void on_stop(uv_async_t *a)
{
    struct env *e = a->data;
    http_server_close(e->srv, NULL, NULL);
    uv_close((uv_handle_t *)a, NULL);
}

static void *loop_thread(void *arg)
{
    struct env *e = arg;
    uv_loop_init(&e->loop);
    struct http_config cfg;
    http_config_defaults(&cfg);
    cfg.header_timeout_ms = 200;
    cfg.idle_timeout_ms = 2000;
    cfg.linger_ms = 500;
    e->srv = http_server_new(&e->loop, &cfg);
    http_server_route(e->srv, "GET", "/hello", h_hello, NULL);
    http_server_route(e->srv, "GET", "/api/token/:id", h_token, NULL);
    http_server_route(e->srv, "GET", "/q", h_query, NULL);
    http_server_route(e->srv, "GET", "/cookie", h_cookie, NULL);
    http_server_route(e->srv, "POST", "/echo", h_echo, NULL);
    http_server_route(e->srv, "GET", "/async", h_async, &e->loop);
    http_server_route(e->srv, "GET", "/static/*path", h_rest, NULL);
    http_server_route(e->srv, "GET", "/dir/", h_hello, NULL);
    http_server_route(e->srv, "GET", "/gz/:kind", h_gz, NULL);
    http_server_set_upgrade(e->srv, on_upgrade, NULL);
    int rc = http_server_listen(e->srv, "127.0.0.1", 0);
    e->port = rc == 0 ? http_server_port(e->srv) : -1;
    uv_async_init(&e->loop, &e->stop, on_stop);
    e->stop.data = e;
    uv_sem_post(&e->ready);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    uv_loop_close(&e->loop);
    return NULL;
}

static int group_setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    uv_sem_init(&e->ready, 0);
    pthread_create(&e->th, NULL, loop_thread, e);
    uv_sem_wait(&e->ready);
    *state = e;
    return e->port > 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    struct env *e = *state;
    uv_async_send(&e->stop);
    pthread_join(e->th, NULL);
    uv_sem_destroy(&e->ready);
    free(e);
    return 0;
}

/* ---- blocking client ---- */

struct client {
    int fd;
    char buf[1 << 16];
    size_t len;
};

struct resp {
    int status;
    char head[8192];
    char body[1 << 16];
    size_t body_len;
};

static void client_open(struct client *c, int port)
{
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct timeval tv = {3, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    c->len = 0;
}

static void client_close(struct client *c)
{
    close(c->fd);
}

static void client_send(struct client *c, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return; /* the server may have closed; the response tells */
        s += w;
        n -= (size_t)w;
    }
}

static void client_sends(struct client *c, const char *s)
{
    client_send(c, s, strlen(s));
}

static int fill(struct client *c)
{
    if (c->len >= sizeof(c->buf))
        return -1;
    ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (r <= 0)
        return -1;
    c->len += (size_t)r;
    return 0;
}

/* Reads one response; returns 0, or -1 on EOF/timeout before a full response. */
static int read_resp(struct client *c, struct resp *r, int head_request)
{
    char *end;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
        if (fill(c))
            return -1;
    size_t hlen = (size_t)(end - c->buf) + 4;
    assert_true(hlen < sizeof(r->head));
    memcpy(r->head, c->buf, hlen);
    r->head[hlen] = '\0';
    r->status = (r->head[9] - '0') * 100 + (r->head[10] - '0') * 10 + (r->head[11] - '0');
    size_t cl = 0;
    char *p = strcasestr(r->head, "\r\nContent-Length: ");
    if (p && !head_request)
        cl = (size_t)strtoul(p + 18, NULL, 10);
    while (c->len < hlen + cl)
        if (fill(c))
            return -1;
    assert_true(cl < sizeof(r->body));
    memcpy(r->body, c->buf + hlen, cl);
    r->body[cl] = '\0';
    r->body_len = cl;
    memmove(c->buf, c->buf + hlen + cl, c->len - hlen - cl);
    c->len -= hlen + cl;
    return 0;
}

static int is_eof(struct client *c)
{
    char x;
    return recv(c->fd, &x, 1, 0) == 0;
}

static int has_header(const struct resp *r, const char *line)
{
    return strcasestr(r->head, line) != NULL;
}

static void check_security_headers(const struct resp *r)
{
    assert_true(has_header(r, "\r\nX-Content-Type-Options: nosniff\r\n"));
    assert_true(has_header(r, "\r\nX-Frame-Options: DENY\r\n"));
    assert_true(has_header(r, "\r\nContent-Security-Policy: frame-ancestors 'none'\r\n"));
    assert_true(has_header(r, "\r\nReferrer-Policy: same-origin\r\n"));
    assert_true(has_header(r, "\r\nDate: "));
    assert_true(has_header(r, "\r\nContent-Length: "));
}

static struct resp *one(struct env *e, const char *request, int head)
{
    static struct resp r; /* test thread only */
    struct client c;
    client_open(&c, e->port);
    client_sends(&c, request);
    assert_int_equal(read_resp(&c, &r, head), 0);
    client_close(&c);
    return &r;
}

/* ---- tests ---- */

static void test_http__keep_alive_two_requests(void **state)
{
    struct env *e = *state;
    struct client c;
    struct resp r;
    client_open(&c, e->port);
    for (int i = 0; i < 2; i++) {
        client_sends(&c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_int_equal(read_resp(&c, &r, 0), 0);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "hello");
        assert_false(has_header(&r, "Connection: close"));
        check_security_headers(&r);
    }
    client_close(&c);
}

static void test_http__pipelined_in_order(void **state)
{
    struct env *e = *state;
    struct client c;
    struct resp r;
    client_open(&c, e->port);
    /* the first answer is async (50 ms later); the second must still come after it */
    client_sends(&c, "GET /async HTTP/1.1\r\nHost: x\r\n\r\n"
                     "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                     "GET /api/token/7 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_int_equal(read_resp(&c, &r, 0), 0);
    assert_string_equal(r.body, "late");
    assert_int_equal(read_resp(&c, &r, 0), 0);
    assert_string_equal(r.body, "hello");
    assert_int_equal(read_resp(&c, &r, 0), 0);
    assert_string_equal(r.body, "{\"id\":\"7\"}");
    assert_true(has_header(&r, "\r\nConnection: close\r\n"));
    assert_true(is_eof(&c));
    client_close(&c);
}

static void test_http__header_too_large_431(void **state)
{
    struct env *e = *state;
    struct client c;
    struct resp r;
    client_open(&c, e->port);
    char *big = malloc(17 * 1024 + 64);
    int n = snprintf(big, 64, "GET /hello HTTP/1.1\r\nX-Big: ");
    memset(big + n, 'a', 17 * 1024);
    memcpy(big + n + 17 * 1024, "\r\n\r\n", 5);
    client_sends(&c, big);
    free(big);
    assert_int_equal(read_resp(&c, &r, 0), 0);
    assert_int_equal(r.status, 431);
    assert_true(has_header(&r, "\r\nConnection: close\r\n"));
    check_security_headers(&r);
    client_close(&c);
}

static void test_http__body_too_large_413(void **state)
{
    struct env *e = *state;
    struct client c;
    struct resp r;
    size_t big = 2u << 20;
    char *body = malloc(big);
    memset(body, 'b', big);

    /* Content-Length announces 2 MiB: refused after the head, body discarded */
    client_open(&c, e->port);
    client_sends(&c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n");
    client_send(&c, body, big);
    assert_int_equal(read_resp(&c, &r, 0), 0);
    assert_int_equal(r.status, 413);
    assert_true(has_header(&r, "\r\nConnection: close\r\n"));
    client_close(&c);

    /* chunked: refused once the accumulated body passes 1 MiB */
    client_open(&c, e->port);
    client_sends(&c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 24; i++) {
        client_sends(&c, "10000\r\n");
        client_send(&c, body, 0x10000);
        client_sends(&c, "\r\n");
    }
    client_sends(&c, "0\r\n\r\n");
    assert_int_equal(read_resp(&c, &r, 0), 0);
    assert_int_equal(r.status, 413);
    client_close(&c);
    free(body);

    /* a body within the limit is echoed, with a request header round trip */
    client_open(&c, e->port);
    client_sends(&c,
                 "POST /echo HTTP/1.1\r\nHost: x\r\nX-Test: 42\r\nContent-Length: 5\r\n\r\nabcde");
    assert_int_equal(read_resp(&c, &r, 0), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "abcde");
    assert_true(has_header(&r, "\r\nX-Echo: 42\r\n"));
    client_close(&c);
}

static void test_http__malformed_400_and_close(void **state)
{
    struct env *e = *state;
    struct client c;
    struct resp r;
    client_open(&c, e->port);
    client_sends(&c, "GARBAGE\r\n\r\n");
    assert_int_equal(read_resp(&c, &r, 0), 0);
    assert_int_equal(r.status, 400);
    check_security_headers(&r);
    assert_true(is_eof(&c));
    client_close(&c);

    /* a request target that is not a path */
    struct resp *p = one(e, "GET nopath HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    assert_int_equal(p->status, 400);
    p = one(e, "GET /q%zz HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    assert_int_equal(p->status, 400);
}

static void test_http__header_timeout_closes(void **state)
{
    struct env *e = *state;
    struct client c;
    client_open(&c, e->port);
    client_sends(&c, "GET /hello HTTP/1.1\r\nHost: x\r\n"); /* never finished */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_true(is_eof(&c));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    assert_true(ms >= 100 && ms < 2000);
    client_close(&c);

    /* an idle new connection gets the same header timeout */
    client_open(&c, e->port);
    assert_true(is_eof(&c));
    client_close(&c);
}

static void test_http__router(void **state)
{
    struct env *e = *state;
    struct resp *r = one(e, "GET /api/token/abc%20d HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "{\"id\":\"abc d\"}");
    assert_true(has_header(r, "\r\nContent-Type: application/json; charset=utf-8\r\n"));

    r = one(e, "GET /api/token/ HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    assert_int_equal(r->status, 404);
    assert_string_equal(r->body, "{\"code\":404,\"message\":\"not found\"}");
    check_security_headers(r);

    r = one(e, "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    assert_int_equal(r->status, 404);
    assert_true(has_header(r, "text/html"));

    r = one(e, "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 0);
    assert_int_equal(r->status, 405);
    assert_true(has_header(r, "\r\nAllow: GET\r\n"));

    r = one(e, "GET /static/css/a.css HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    assert_string_equal(r->body, "css/a.css");

    r = one(e, "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n", 1);
    assert_int_equal(r->status, 200);
    assert_true(has_header(r, "\r\nContent-Length: 5\r\n"));
    assert_int_equal(r->body_len, 0);

    r = one(e, "GET /hello/ HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    assert_int_equal(r->status, 301);
    assert_true(has_header(r, "\r\nLocation: /hello\r\n"));
    r = one(e, "GET /dir HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    assert_int_equal(r->status, 301);
    assert_true(has_header(r, "\r\nLocation: /dir/\r\n"));

    /* absolute-form target */
    r = one(e, "GET http://example.com/hello HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    assert_string_equal(r->body, "hello");
}

static void test_http__query_decoding(void **state)
{
    struct env *e = *state;
    struct resp *r = one(e, "GET /q?a=1+2%21&b=%zz&b=x&a=dup HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    assert_string_equal(r->body, "a=1 2!|b=x");

    struct http_query q;
    http_query_init(&q);
    const char *s = "k=v;x&&=empty&noval&%41%42=%e4%b8%ad&n=%00&t=a%2Bb";
    assert_int_equal(http_query_parse(&q, s, strlen(s)), 0);
    assert_null(http_query_get(&q, "k")); /* ';' drops the pair, as Go */
    assert_string_equal(http_query_get(&q, ""), "empty");
    assert_string_equal(http_query_get(&q, "noval"), "");
    assert_string_equal(http_query_get(&q, "AB"), "中");
    assert_null(http_query_get(&q, "n")); /* decoded NUL refused */
    assert_string_equal(http_query_get(&q, "t"), "a+b");
    http_query_release(&q);

    char out[16];
    assert_int_equal(http_query_pct_decode("a+b%2", 5, 0, out), -EINVAL);
    assert_int_equal(http_query_pct_decode("a+b", 3, 0, out), 3);
    assert_string_equal(out, "a+b");
}

static void test_http__etag_match(void **state)
{
    (void)state;
    const char *tag = "\"a1\"";
    assert_int_equal(http_query_etag_match("\"a1\"", tag), 1);
    assert_int_equal(http_query_etag_match(" W/\"a1\" ", tag), 1); /* weak comparison */
    assert_int_equal(http_query_etag_match("\"a1\"", "W/\"a1\""), 1);
    assert_int_equal(http_query_etag_match("\"x\", \"a1\"", tag), 1); /* a list */
    assert_int_equal(http_query_etag_match("\"x\",W/\"a1\",\"y\"", tag), 1);
    assert_int_equal(http_query_etag_match("*", tag), 1);
    assert_int_equal(http_query_etag_match(" * ", tag), 1);
    assert_int_equal(http_query_etag_match("\"a1x\"", tag), 0);
    assert_int_equal(http_query_etag_match("a1", tag), 0);                 /* unquoted */
    assert_int_equal(http_query_etag_match("\"a1", tag), 0);               /* unterminated */
    assert_int_equal(http_query_etag_match("\"x\" junk, \"a1\"", tag), 0); /* stops at junk */
    assert_int_equal(http_query_etag_match("*, \"x\"", tag), 0);           /* "*" only alone */
    assert_int_equal(http_query_etag_match("", tag), 0);
    assert_int_equal(http_query_etag_match("\"a1\"", "bad"), 0);
}

static void test_http__cookies(void **state)
{
    struct env *e = *state;
    struct resp *r = one(
        e, "GET /cookie HTTP/1.1\r\nHost: x\r\nCookie: a=1; bad name=2; sid=\"abc\"\r\n\r\n", 0);
    assert_string_equal(r->body, "sid=abc");
    r = one(e, "GET /cookie HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    assert_string_equal(r->body, "no sid");

    struct slice v;
    assert_int_equal(http_query_cookie("x=1;  nezha-dashboard=tok ; y", "nezha-dashboard", &v), 0);
    assert_int_equal(v.len, 3);
    assert_memory_equal(v.ptr, "tok", 3);
    assert_int_equal(http_query_cookie("sid=a\\b; sid=ok", "sid", &v),
                     0); /* invalid first skipped */
    assert_memory_equal(v.ptr, "ok", 2);
    assert_int_equal(http_query_cookie("sidx=1", "sid", &v), -ENOENT);
}

static void test_http__survives_client_disconnects(void **state)
{
    struct env *e = *state;
    struct client c;
    /* half a request, then gone */
    client_open(&c, e->port);
    client_sends(&c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc");
    client_close(&c);
    /* an async request whose client leaves before the answer (orphaned request) */
    client_open(&c, e->port);
    client_sends(&c, "GET /async HTTP/1.1\r\nHost: x\r\n\r\n");
    client_close(&c);
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    struct resp *r = one(e, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "hello");
}

static void test_http__upgrade_hook_gets_socket_and_leftover(void **state)
{
    struct env *e = *state;
    struct client c;
    struct resp r;
    client_open(&c, e->port);
    client_sends(&c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\n\r\nEXTRA");
    assert_int_equal(read_resp(&c, &r, 1), 0);
    assert_int_equal(r.status, 101);
    while (c.len < 5)
        assert_int_equal(fill(&c), 0);
    assert_memory_equal(c.buf, "EXTRA", 5);
    client_close(&c);
}

/* Inflates a gzip body (RFC 1952) into out (cap bytes); returns the length or -1. */
static long gunzip(const char *in, size_t len, char *out, size_t cap)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 15 + 16) != Z_OK)
        return -1;
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    int rc = inflate(&zs, Z_FINISH);
    long n = (long)zs.total_out;
    inflateEnd(&zs);
    return rc == Z_STREAM_END && zs.avail_in == 0 ? n : -1;
}

static size_t count_str(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strcasestr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* The "Content-Length" value of a response head. */
static size_t content_length(const struct resp *r)
{
    const char *p = strcasestr(r->head, "\r\nContent-Length: ");
    return p ? (size_t)strtoul(p + 18, NULL, 10) : (size_t)-1;
}

static void test_http__gzip_negotiated(void **state)
{
    struct env *e = *state;
    struct buf want;
    buf_init(&want, 0);
    fill_json(&want, 4000);
    static char plain[1 << 18];

    /* Accepted: gzip body that inflates to the identity bytes, Vary once. */
    struct resp *r =
        one(e, "GET /gz/big HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip, deflate\r\n\r\n", 0);
    assert_int_equal(r->status, 200);
    assert_true(has_header(r, "\r\nContent-Encoding: gzip\r\n"));
    assert_int_equal(count_str(r->head, "\r\nVary: Accept-Encoding\r\n"), 1);
    assert_true(has_header(r, "\r\nContent-Type: application/json; charset=utf-8\r\n"));
    check_security_headers(r);
    assert_true(r->body_len < want.len / 2);
    long n = gunzip(r->body, r->body_len, plain, sizeof(plain));
    assert_int_equal(n, (long)want.len);
    assert_memory_equal(plain, want.data, want.len);
    size_t gz_len = r->body_len;
    char get_head[8192];
    snprintf(get_head, sizeof(get_head), "%s", r->head);

    /* HEAD: the same headers (length of the gzip form), no body. */
    struct client c;
    client_open(&c, e->port);
    client_sends(&c, "HEAD /gz/big HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n"
                     "Connection: close\r\n\r\n");
    static struct resp h;
    assert_int_equal(read_resp(&c, &h, 1), 0);
    assert_true(is_eof(&c)); /* nothing after the head */
    client_close(&c);
    assert_true(has_header(&h, "\r\nContent-Encoding: gzip\r\n"));
    assert_true(has_header(&h, "\r\nVary: Accept-Encoding\r\n"));
    assert_int_equal(content_length(&h), gz_len);

    /* Refused or not asked for: identity, still with Vary. */
    static const char *const refuse[] = {
        "GET /gz/big HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /gz/big HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip;q=0\r\n\r\n",
        "GET /gz/big HTTP/1.1\r\nHost: x\r\nAccept-Encoding: br\r\n\r\n",
        "GET /gz/big HTTP/1.1\r\nHost: x\r\nAccept-Encoding: *\r\n"
        "Accept-Encoding: gzip;q=0\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(refuse) / sizeof(refuse[0]); i++) {
        r = one(e, refuse[i], 0);
        assert_int_equal(r->status, 200);
        assert_false(has_header(r, "Content-Encoding"));
        assert_true(has_header(r, "\r\nVary: Accept-Encoding\r\n"));
        assert_int_equal(r->body_len, want.len);
        assert_memory_equal(r->body, want.data, want.len);
    }
    /* A second Accept-Encoding line counts too. */
    r = one(e,
            "GET /gz/big HTTP/1.1\r\nHost: x\r\nAccept-Encoding: br\r\n"
            "accept-encoding: GZIP\r\n\r\n",
            0);
    assert_true(has_header(r, "\r\nContent-Encoding: gzip\r\n"));
    buf_release(&want);
}

static void test_http__gzip_skipped(void **state)
{
    struct env *e = *state;
    static const char *const kinds[] = {"small", "bin", "off", "304"};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        char req[256];
        snprintf(req, sizeof(req),
                 "GET /gz/%s HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n", kinds[i]);
        struct resp *r = one(e, req, 0);
        assert_false(has_header(r, "Content-Encoding"));
        /* No choice was made, so no Vary either. */
        assert_false(has_header(r, "\r\nVary:"));
        if (strcmp(kinds[i], "304") == 0) {
            assert_int_equal(r->status, 304);
            assert_int_equal(r->body_len, 0);
        } else {
            assert_int_equal(r->status, 200);
            assert_true(r->body_len > 0 && r->body[0] == '{');
        }
    }
    /* A body the handler compressed itself is labelled once, not compressed again. */
    struct resp *r = one(e, "GET /gz/pre HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n", 0);
    assert_int_equal(count_str(r->head, "Content-Encoding: gzip"), 1);
    assert_int_equal(count_str(r->head, "\r\nVary: Accept-Encoding\r\n"), 1);
    static char plain[1 << 16];
    long n = gunzip(r->body, r->body_len, plain, sizeof(plain));
    assert_true(n >= 4000 && plain[0] == '{');
}

/* Bodies over 64 KiB are compressed on the work pool; pipelined answers keep their order. */
static void test_http__gzip_pool_keeps_order(void **state)
{
    struct env *e = *state;
    struct buf want;
    buf_init(&want, 0);
    fill_json(&want, 200000);
    static char plain[1 << 18];
    struct client c;
    client_open(&c, e->port);
    client_sends(&c, "GET /gz/huge HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"
                     "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                     "GET /gz/huge HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n");
    static struct resp r;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(read_resp(&c, &r, 0), 0);
        assert_int_equal(r.status, 200);
        if (i == 1) {
            assert_string_equal(r.body, "hello");
            continue;
        }
        assert_true(has_header(&r, "\r\nContent-Encoding: gzip\r\n"));
        long n = gunzip(r.body, r.body_len, plain, sizeof(plain));
        assert_int_equal(n, (long)want.len);
        assert_memory_equal(plain, want.data, want.len);
    }
    client_close(&c);
    /* The client leaves while its body is being compressed: the server carries on. */
    for (int i = 0; i < 5; i++) {
        client_open(&c, e->port);
        client_sends(&c, "GET /gz/huge HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n");
        client_close(&c);
    }
    struct resp *h = one(e, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    assert_int_equal(h->status, 200);
    buf_release(&want);
}

static void test_http__memory_conn_byte_by_byte(void **state)
{
    (void)state;
    struct http_server *s = http_server_new(NULL, NULL);
    http_server_route(s, "GET", "/hello", h_hello, NULL);
    struct buf out;
    buf_init(&out, 0);
    struct http_conn *c = http_conn_new_memory(s, &out, "192.0.2.1");
    const char *req = "GET /hello?x=1 HTTP/1.1\r\nHost: a\r\nX-Long-Header-Name: value\r\n\r\n";
    for (size_t i = 0; req[i]; i++)
        assert_int_equal(http_conn_feed(c, req + i, 1), 0);
    assert_non_null(strstr(out.data, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(out.data, "\r\n\r\nhello"));
    assert_int_equal(http_conn_feed(c, "BAD\r\n\r\n", 8), -EPIPE);
    assert_non_null(strstr(out.data, "HTTP/1.1 400 Bad Request\r\n"));
    assert_true(http_conn_is_closed(c));
    http_conn_free_memory(c);
    buf_release(&out);
    http_server_close(s, NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http__keep_alive_two_requests),
        cmocka_unit_test(test_http__pipelined_in_order),
        cmocka_unit_test(test_http__header_too_large_431),
        cmocka_unit_test(test_http__body_too_large_413),
        cmocka_unit_test(test_http__malformed_400_and_close),
        cmocka_unit_test(test_http__header_timeout_closes),
        cmocka_unit_test(test_http__router),
        cmocka_unit_test(test_http__query_decoding),
        cmocka_unit_test(test_http__cookies),
        cmocka_unit_test(test_http__etag_match),
        cmocka_unit_test(test_http__survives_client_disconnects),
        cmocka_unit_test(test_http__upgrade_hook_gets_socket_and_leftover),
        cmocka_unit_test(test_http__memory_conn_byte_by_byte),
        cmocka_unit_test(test_http__gzip_negotiated),
        cmocka_unit_test(test_http__gzip_skipped),
        cmocka_unit_test(test_http__gzip_pool_keeps_order),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
