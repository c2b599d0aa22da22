/*
 * Loopback tests of src/proto/grpc_server + grpc_client: one libuv loop in
 * this process runs both ends; every wait is bounded by a uv timer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <uv.h>

#include "core/buf.h"
#include "core/xalloc.h"
#include "proto/grpc_client.h"
#include "proto/grpc_server.h"
#include "proto/grpc_server_int.h"

#define WAIT_MS 3000u

struct fx {
    uv_loop_t loop;
    uv_timer_t guard;
    int timed_out;
    struct grpc_server *srv;
    struct grpc_client *cl;
    int port;
    /* client side */
    int states; /* on_state calls */
    int ready;  /* on_state(0) calls */
    int lost;   /* on_state(<0) calls */
    int last_state;
    uint64_t lost_at;
    int done;
    int done_status;
    char done_msg[256];
    int msgs;
    struct buf last_msg;
    struct grpc_ccall *bidi;
    int bidi_sent;
    /* server side */
    int closes;
    char md_token[64];
    char md_ua[64];
    char md_te[32];
    char md_ct[64];
    char peer[64];
    struct grpc_call *held;
    struct grpc_call *streaming;
    uv_timer_t push_timer;
    int pushes;
    /* raw sockets */
    uv_tcp_t raw;
    int raw_open;
    int raw_eof;
    uv_tcp_t silent;
    int silent_open;
    uv_tcp_t *silent_peer;
    char tmpdir[64];
    size_t max_conns; /* server's max_connections (0 = its default) */
    /* bench */
    int bench_on;
    uint64_t bench_calls;
};

static struct fx *fx_of_call(struct grpc_call *call)
{
    return grpc_server_user(grpc_call_server(call));
}

/* ---- server methods ---- */

static void copy_md(struct grpc_call *call, const char *key, char *dst, size_t cap)
{
    const char *v = grpc_call_metadata(call, key);
    snprintf(dst, cap, "%s", v ? v : "");
}

static void echo_msg(struct grpc_call *call, const uint8_t *data, size_t len)
{
    struct fx *f = fx_of_call(call);
    copy_md(call, "x-token", f->md_token, sizeof(f->md_token));
    copy_md(call, "user-agent", f->md_ua, sizeof(f->md_ua));
    copy_md(call, "te", f->md_te, sizeof(f->md_te));
    copy_md(call, "content-type", f->md_ct, sizeof(f->md_ct));
    snprintf(f->peer, sizeof(f->peer), "%s", grpc_call_peer_ip(call));
    struct buf *b = grpc_call_get_data(call);
    if (!b) {
        b = xcalloc(1, sizeof(*b));
        buf_init(b, 0);
        grpc_call_set_data(call, b);
    }
    buf_append(b, data, len);
}

static void echo_half(struct grpc_call *call)
{
    struct buf *b = grpc_call_get_data(call);
    assert_int_equal(grpc_call_send(call, b ? (uint8_t *)b->data : NULL, b ? b->len : 0), 0);
    grpc_call_finish(call, GRPC_STATUS_OK, NULL);
}

static void any_close(struct grpc_call *call)
{
    struct fx *f = fx_of_call(call);
    f->closes++;
    if (f->held == call)
        f->held = NULL;
    if (f->streaming == call) {
        f->streaming = NULL;
        uv_timer_stop(&f->push_timer);
    }
    struct buf *b = grpc_call_get_data(call);
    if (b) {
        buf_release(b);
        free(b);
    }
    /* Closed calls refuse further sends. */
    assert_int_equal(grpc_call_send(call, (const uint8_t *)"x", 1), -EPIPE);
}

static void push_cb(uv_timer_t *t)
{
    struct fx *f = t->data;
    if (!f->streaming)
        return;
    char m[32];
    int n = snprintf(m, sizeof(m), "push %d", f->pushes);
    assert_int_equal(grpc_call_send(f->streaming, (uint8_t *)m, (size_t)n), 0);
    if (++f->pushes == 5) {
        uv_timer_stop(t);
        grpc_call_finish(f->streaming, GRPC_STATUS_OK, NULL);
    }
}

static void ignore_msg(struct grpc_call *call, const uint8_t *data, size_t len)
{
    (void)call;
    (void)data;
    (void)len;
}

static void stream_half(struct grpc_call *call)
{
    struct fx *f = fx_of_call(call);
    f->streaming = call;
    f->pushes = 0;
    uv_timer_start(&f->push_timer, push_cb, 10, 10);
}

static void bidi_msg(struct grpc_call *call, const uint8_t *data, size_t len)
{
    assert_int_equal(grpc_call_send(call, data, len), 0);
}

static void ok_half(struct grpc_call *call)
{
    grpc_call_finish(call, GRPC_STATUS_OK, NULL);
}

static void fail_half(struct grpc_call *call)
{
    grpc_call_finish(call, GRPC_STATUS_UNAUTHENTICATED, "客户端认证失败");
}

static void hold_msg(struct grpc_call *call, const uint8_t *data, size_t len)
{
    (void)data;
    (void)len;
    fx_of_call(call)->held = call;
}

static void later_cb(uv_timer_t *t)
{
    struct fx *f = t->data;
    if (f->held)
        grpc_call_finish(f->held, GRPC_STATUS_OK, NULL);
}

static void later_msg(struct grpc_call *call, const uint8_t *data, size_t len)
{
    struct fx *f = fx_of_call(call);
    f->held = call;
    assert_int_equal(grpc_call_send(call, data, len), 0);
    uv_timer_start(&f->push_timer, later_cb, 20, 0);
}

static const struct grpc_method methods[] = {
    {"/t.S/Echo", echo_msg, echo_half, any_close},
    {"/t.S/Stream", ignore_msg, stream_half, any_close},
    {"/t.S/Bidi", bidi_msg, ok_half, any_close},
    {"/t.S/Fail", ignore_msg, fail_half, any_close},
    {"/t.S/Hold", hold_msg, NULL, any_close},
    {"/t.S/Later", later_msg, NULL, any_close},
};

/* ---- client callbacks ---- */

static void on_state(struct grpc_client *c, int status)
{
    struct fx *f = grpc_client_user(c);
    f->states++;
    f->last_state = status;
    if (status == 0) {
        f->ready++;
    } else {
        f->lost++;
        f->lost_at = uv_now(&f->loop);
    }
}

static void on_cmsg(struct grpc_ccall *call, const uint8_t *data, size_t len, void *ud)
{
    struct fx *f = ud;
    f->msgs++;
    buf_reset(&f->last_msg);
    buf_append(&f->last_msg, data, len);
    if (call == f->bidi) {
        if (f->bidi_sent < 3) {
            char m[8];
            int n = snprintf(m, sizeof(m), "b%d", f->bidi_sent++);
            assert_int_equal(grpc_ccall_send(call, (uint8_t *)m, (size_t)n), 0);
        } else {
            grpc_ccall_close_send(call);
        }
    }
}

static void on_cdone(struct grpc_ccall *call, int status, const char *message, void *ud)
{
    struct fx *f = ud;
    (void)call;
    f->done++;
    f->done_status = status;
    snprintf(f->done_msg, sizeof(f->done_msg), "%s", message);
    if (call == f->bidi)
        f->bidi = NULL;
}

/* ---- loop helpers ---- */

static void guard_cb(uv_timer_t *t)
{
    struct fx *f = t->data;
    f->timed_out = 1;
    uv_stop(&f->loop);
}

/* Runs the loop until *v >= target or ms pass; returns 1 if reached. */
static int wait_for(struct fx *f, const int *v, int target, unsigned ms)
{
    f->timed_out = 0;
    uv_timer_start(&f->guard, guard_cb, ms, 0);
    while (*v < target && !f->timed_out)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_timer_stop(&f->guard);
    return *v >= target;
}

static void spin(struct fx *f, unsigned ms)
{
    int never = 0;
    wait_for(f, &never, 1, ms);
}

static int setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof(*f));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    uv_timer_init(&f->loop, &f->guard);
    uv_timer_init(&f->loop, &f->push_timer);
    f->guard.data = f;
    f->push_timer.data = f;
    buf_init(&f->last_msg, 0);
    *state = f;
    return 0;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    grpc_client_free(f->cl);
    grpc_server_free(f->srv);
    if (f->raw_open)
        uv_close((uv_handle_t *)&f->raw, NULL);
    if (f->silent_open)
        uv_close((uv_handle_t *)&f->silent, NULL);
    uv_close((uv_handle_t *)&f->push_timer, NULL);
    f->timed_out = 0; /* a test may end with spin(), which always times out */
    uv_timer_start(&f->guard, guard_cb, 2000, 0);
    uv_unref((uv_handle_t *)&f->guard);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_false(f->timed_out);
    uv_close((uv_handle_t *)&f->guard, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&f->loop) != 0) {
        uv_walk(&f->loop, close_walk, NULL);
        uv_run(&f->loop, UV_RUN_DEFAULT);
        fail_msg("handles left open on the loop");
    }
    free(f->silent_peer);
    buf_release(&f->last_msg);
    if (f->tmpdir[0]) {
        char p[128];
        snprintf(p, sizeof(p), "%s/cert.pem", f->tmpdir);
        unlink(p);
        snprintf(p, sizeof(p), "%s/key.pem", f->tmpdir);
        unlink(p);
        rmdir(f->tmpdir);
    }
    free(f);
    return 0;
}

static void start_server(struct fx *f, const char *cert, const char *key)
{
    struct grpc_server_config cfg = {
        .host = "127.0.0.1",
        .port = 0,
        .tls_cert = cert,
        .tls_key = key,
        .methods = methods,
        .n_methods = sizeof(methods) / sizeof(methods[0]),
        .max_connections = f->max_conns,
        .user = f,
    };
    char err[256] = "";
    int rc = grpc_server_start(&f->loop, &cfg, &f->srv, err, sizeof(err));
    if (rc)
        fail_msg("server start: %s", err);
    f->port = grpc_server_port(f->srv);
    assert_true(f->port > 0);
}

static struct grpc_client *new_client(struct fx *f, const char *host, int port, int tls,
                                      int insecure, const char *ca, unsigned keepalive_ms)
{
    struct grpc_client_config cfg = {
        .host = host,
        .port = port,
        .tls = tls,
        .insecure = insecure,
        .ca_file = ca,
        .keepalive_ms = keepalive_ms,
        .on_state = on_state,
        .user = f,
    };
    return grpc_client_new(&f->loop, &cfg);
}

static void connect_client(struct fx *f)
{
    f->cl = new_client(f, "127.0.0.1", f->port, 0, 0, NULL, 0);
    assert_int_equal(grpc_client_connect(f->cl), 0);
    assert_int_equal(grpc_client_connect(f->cl), -EALREADY);
    assert_true(wait_for(f, &f->ready, 1, WAIT_MS));
    assert_true(grpc_client_is_ready(f->cl));
}

static struct grpc_ccall *call(struct fx *f, const char *path, const char *msg, int keep_open,
                               unsigned timeout_ms)
{
    static const struct grpc_metadata md[] = {{"x-token", "tok-123"}, {"Bad Key", "dropped"}};
    struct grpc_call_opts o = {
        .path = path,
        .md = md,
        .n_md = 2,
        .timeout_ms = timeout_ms,
        .keep_open = keep_open,
        .on_message = on_cmsg,
        .on_done = on_cdone,
        .ud = f,
    };
    struct grpc_ccall *c = grpc_client_call(f->cl, &o, (const uint8_t *)msg, strlen(msg));
    assert_non_null(c);
    return c;
}

static void unary_ok(struct fx *f, const char *msg)
{
    int want = f->done + 1;
    call(f, "/t.S/Echo", msg, 0, 2000);
    assert_true(wait_for(f, &f->done, want, WAIT_MS));
    assert_int_equal(f->done_status, GRPC_STATUS_OK);
    assert_string_equal(f->last_msg.data, msg);
}

/* ---- tests ---- */

static void test_grpc_loop__unary_round_trip_with_metadata(void **state)
{
    struct fx *f = *state;
    start_server(f, NULL, NULL);
    connect_client(f);
    unary_ok(f, "hello");
    assert_int_equal(f->msgs, 1);
    assert_string_equal(f->md_token, "tok-123");
    assert_string_equal(f->md_te, "trailers");
    assert_string_equal(f->md_ct, "application/grpc");
    assert_true(strncmp(f->md_ua, "lotus-agent/", 12) == 0);
    assert_string_equal(f->peer, "127.0.0.1");
    /* An empty message round-trips too; the server saw both calls end. */
    unary_ok(f, "");
    assert_true(wait_for(f, &f->closes, 2, WAIT_MS));
    assert_int_equal(grpc_server_connection_count(f->srv), 1);
}

static void test_grpc_loop__server_streaming(void **state)
{
    struct fx *f = *state;
    start_server(f, NULL, NULL);
    connect_client(f);
    call(f, "/t.S/Stream", "go", 0, 0);
    assert_true(wait_for(f, &f->done, 1, WAIT_MS));
    assert_int_equal(f->done_status, GRPC_STATUS_OK);
    assert_int_equal(f->msgs, 5);
    assert_string_equal(f->last_msg.data, "push 4");
    assert_true(wait_for(f, &f->closes, 1, WAIT_MS));
}

static void test_grpc_loop__bidi_echo(void **state)
{
    struct fx *f = *state;
    start_server(f, NULL, NULL);
    connect_client(f);
    f->bidi = call(f, "/t.S/Bidi", "first", 1, 0);
    assert_true(wait_for(f, &f->done, 1, WAIT_MS));
    assert_int_equal(f->done_status, GRPC_STATUS_OK);
    assert_int_equal(f->msgs, 4); /* "first", b0, b1, b2 echoed */
    assert_string_equal(f->last_msg.data, "b2");
}

static void test_grpc_loop__unknown_method(void **state)
{
    struct fx *f = *state;
    start_server(f, NULL, NULL);
    connect_client(f);
    call(f, "/t.S/Nope", "x", 0, 0);
    assert_true(wait_for(f, &f->done, 1, WAIT_MS));
    assert_int_equal(f->done_status, GRPC_STATUS_UNIMPLEMENTED);
    assert_non_null(strstr(f->done_msg, "/t.S/Nope"));
    assert_int_equal(f->closes, 0); /* never reached a handler */
    unary_ok(f, "still fine");
}

static void test_grpc_loop__oversize_message(void **state)
{
    struct fx *f = *state;
    start_server(f, NULL, NULL);
    connect_client(f);
    size_t n = 5u << 20;
    char *big = xmalloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    call(f, "/t.S/Echo", big, 0, 0);
    free(big);
    assert_true(wait_for(f, &f->done, 1, WAIT_MS));
    assert_int_equal(f->done_status, GRPC_STATUS_RESOURCE_EXHAUSTED);
    assert_string_equal(f->done_msg,
                        "grpc: received message larger than max (5242880 vs. 4194304)");
    assert_int_equal(f->msgs, 0);
    /* Same connection, next call works. */
    unary_ok(f, "after");
    assert_int_equal(f->ready, 1);
    assert_int_equal(f->lost, 0);
    assert_int_equal(grpc_server_connection_count(f->srv), 1);
}

static void test_grpc_loop__utf8_error_message(void **state)
{
    struct fx *f = *state;
    start_server(f, NULL, NULL);
    connect_client(f);
    call(f, "/t.S/Fail", "", 0, 0);
    assert_true(wait_for(f, &f->done, 1, WAIT_MS));
    assert_int_equal(f->done_status, GRPC_STATUS_UNAUTHENTICATED);
    assert_string_equal(f->done_msg, "客户端认证失败");
    assert_true(wait_for(f, &f->closes, 1, WAIT_MS));
}

static void test_grpc_loop__client_cancel_closes_once(void **state)
{
    struct fx *f = *state;
    start_server(f, NULL, NULL);
    connect_client(f);
    struct grpc_ccall *c = call(f, "/t.S/Hold", "h", 1, 0);
    for (int i = 0; i < 100 && !f->held; i++)
        spin(f, 10);
    assert_non_null(f->held);
    grpc_ccall_cancel(c);
    assert_int_equal(f->done, 0); /* on_done follows, not inside cancel */
    assert_true(wait_for(f, &f->done, 1, WAIT_MS));
    assert_int_equal(f->done_status, GRPC_STATUS_CANCELLED);
    assert_true(wait_for(f, &f->closes, 1, WAIT_MS));
    spin(f, 50);
    assert_int_equal(f->closes, 1);
    assert_null(f->held);
    unary_ok(f, "after cancel");
}

static void test_grpc_loop__client_disconnect_closes_once(void **state)
{
    struct fx *f = *state;
    start_server(f, NULL, NULL);
    connect_client(f);
    call(f, "/t.S/Hold", "h", 1, 0);
    for (int i = 0; i < 100 && !f->held; i++)
        spin(f, 10);
    assert_non_null(f->held);
    grpc_client_disconnect(f->cl);
    grpc_client_disconnect(f->cl); /* idempotent */
    assert_false(grpc_client_is_ready(f->cl));
    assert_true(wait_for(f, &f->done, 1, WAIT_MS));
    assert_int_equal(f->done_status, GRPC_STATUS_CANCELLED);
    assert_true(wait_for(f, &f->closes, 1, WAIT_MS));
    spin(f, 50);
    assert_int_equal(f->closes, 1);
    assert_int_equal(f->lost, 0); /* asked for, not a loss */
    assert_int_equal(grpc_server_connection_count(f->srv), 0);
    /* Reconnect and call again. */
    assert_int_equal(grpc_client_connect(f->cl), 0);
    assert_true(wait_for(f, &f->ready, 2, WAIT_MS));
    unary_ok(f, "again");
}

static void test_grpc_loop__server_free_with_live_calls(void **state)
{
    struct fx *f = *state;
    start_server(f, NULL, NULL);
    connect_client(f);
    call(f, "/t.S/Hold", "h", 1, 0);
    call(f, "/t.S/Hold", "h", 1, 0);
    for (int i = 0; i < 100 && f->closes == 0 && !f->held; i++)
        spin(f, 10);
    spin(f, 20);
    grpc_server_free(f->srv);
    f->srv = NULL;
    assert_int_equal(f->closes, 2);
    assert_true(wait_for(f, &f->done, 2, WAIT_MS));
    assert_int_equal(f->done_status, GRPC_STATUS_UNAVAILABLE);
    assert_true(wait_for(f, &f->lost, 1, WAIT_MS));
    assert_true(f->last_state < 0);
}

static void test_grpc_loop__server_finishes_while_client_listens(void **state)
{
    struct fx *f = *state;
    start_server(f, NULL, NULL);
    connect_client(f);
    call(f, "/t.S/Later", "ping", 1, 0); /* never half-closed by the client */
    assert_true(wait_for(f, &f->done, 1, WAIT_MS));
    assert_int_equal(f->done_status, GRPC_STATUS_OK);
    assert_int_equal(f->msgs, 1);
    assert_string_equal(f->last_msg.data, "ping");
    assert_true(wait_for(f, &f->closes, 1, WAIT_MS));
    unary_ok(f, "next");
}

static void test_grpc_loop__deadline(void **state)
{
    struct fx *f = *state;
    start_server(f, NULL, NULL);
    connect_client(f);
    call(f, "/t.S/Hold", "h", 1, 50);
    assert_true(wait_for(f, &f->done, 1, WAIT_MS));
    assert_int_equal(f->done_status, GRPC_STATUS_DEADLINE_EXCEEDED);
    assert_true(wait_for(f, &f->closes, 1, WAIT_MS)); /* RST_STREAM CANCEL reached the server */
}

/* Raw TCP peer for the HTTP/1.1 test. */
static void raw_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    (void)h;
    static char mem[4096];
    (void)s;
    *b = uv_buf_init(mem, sizeof(mem));
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    struct fx *f = s->data;
    if (n < 0)
        f->raw_eof = 1;
}

static void raw_written(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void raw_connected(uv_connect_t *req, int status)
{
    struct fx *f = req->data;
    free(req);
    if (status < 0) {
        f->raw_eof = -1;
        return;
    }
    static const char http1[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    if (f->raw_open == 2) {
        uv_write_t *w = xmalloc(sizeof(*w));
        uv_buf_t b = uv_buf_init((char *)http1, sizeof(http1) - 1);
        uv_write(w, (uv_stream_t *)&f->raw, &b, 1, raw_written);
    }
    uv_read_start((uv_stream_t *)&f->raw, raw_alloc, raw_read);
}

static void raw_connect(struct fx *f, int port, int send_http1)
{
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", port, &a);
    uv_tcp_init(&f->loop, &f->raw);
    f->raw.data = f;
    f->raw_open = send_http1 ? 2 : 1;
    uv_connect_t *req = xmalloc(sizeof(*req));
    req->data = f;
    assert_int_equal(uv_tcp_connect(req, &f->raw, (struct sockaddr *)&a, raw_connected), 0);
}

static void test_grpc_loop__http1_bytes_closed(void **state)
{
    struct fx *f = *state;
    start_server(f, NULL, NULL);
    raw_connect(f, f->port, 1);
    assert_true(wait_for(f, &f->raw_eof, 1, WAIT_MS));
    spin(f, 10);
    assert_int_equal(grpc_server_connection_count(f->srv), 0);
    connect_client(f);
    unary_ok(f, "served");
}

/*
 * At max_connections, a new connection is closed at once and never counted,
 * while the connections already open keep working.
 */
static void test_grpc_loop__connection_limit(void **state)
{
    struct fx *f = *state;
    f->max_conns = 1;
    start_server(f, NULL, NULL);
    connect_client(f);
    assert_int_equal(grpc_server_connection_count(f->srv), 1);
    raw_connect(f, f->port, 0); /* connects and never speaks: only the cap closes it soon */
    size_t most = 0;
    f->timed_out = 0;
    uv_timer_start(&f->guard, guard_cb, WAIT_MS, 0);
    while (!f->raw_eof && !f->timed_out) {
        uv_run(&f->loop, UV_RUN_ONCE);
        size_t n = grpc_server_connection_count(f->srv);
        most = n > most ? n : most;
    }
    uv_timer_stop(&f->guard);
    assert_int_equal(f->raw_eof, 1);
    assert_int_equal(most, 1);
    assert_int_equal(grpc_server_connection_count(f->srv), 1);
    unary_ok(f, "still served");
}

static void test_grpc_loop__server_keepalive_drops_silent_peer(void **state)
{
    struct fx *f = *state;
    start_server(f, NULL, NULL);
    grpc_server__set_keepalive(f->srv, 100, 100);
    connect_client(f);          /* a real client ACKs PINGs and must stay */
    raw_connect(f, f->port, 0); /* connects, never speaks */
    uint64_t t0 = uv_now(&f->loop);
    assert_true(wait_for(f, &f->raw_eof, 1, WAIT_MS));
    assert_true(uv_now(&f->loop) - t0 < 1000);
    spin(f, 300);
    assert_int_equal(f->lost, 0);
    assert_int_equal(grpc_server_connection_count(f->srv), 1);
    unary_ok(f, "alive");
}

static void silent_accept(uv_stream_t *s, int status)
{
    struct fx *f = s->data;
    assert_int_equal(status, 0);
    if (f->silent_peer)
        return;
    f->silent_peer = xmalloc(sizeof(*f->silent_peer));
    uv_tcp_init(&f->loop, f->silent_peer);
    assert_int_equal(uv_accept(s, (uv_stream_t *)f->silent_peer), 0);
}

static void silent_peer_closed(uv_handle_t *h)
{
    (void)h;
}

static void test_grpc_loop__client_keepalive_detects_dead_peer(void **state)
{
    struct fx *f = *state;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_init(&f->loop, &f->silent);
    f->silent.data = f;
    f->silent_open = 1;
    assert_int_equal(uv_tcp_bind(&f->silent, (struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&f->silent, 8, silent_accept), 0);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    uv_tcp_getsockname(&f->silent, (struct sockaddr *)&ss, &len);
    int port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    f->cl = new_client(f, "127.0.0.1", port, 0, 0, NULL, 200);
    assert_int_equal(grpc_client_connect(f->cl), 0);
    assert_true(wait_for(f, &f->ready, 1, WAIT_MS));
    uint64_t t0 = uv_now(&f->loop);
    call(f, "/t.S/Hold", "h", 1, 0);
    assert_true(wait_for(f, &f->lost, 1, WAIT_MS));
    assert_true(f->last_state < 0);
    assert_true(f->lost_at - t0 < 1000);
    assert_int_equal(f->done, 1);
    assert_int_equal(f->done_status, GRPC_STATUS_UNAVAILABLE);
    assert_false(grpc_client_is_ready(f->cl));
    uv_close((uv_handle_t *)f->silent_peer, silent_peer_closed);
}

static void test_grpc_loop__connect_refused(void **state)
{
    struct fx *f = *state;
    start_server(f, NULL, NULL);
    int port = f->port;
    grpc_server_free(f->srv);
    f->srv = NULL;
    spin(f, 10);
    f->cl = new_client(f, "127.0.0.1", port, 0, 0, NULL, 0);
    assert_int_equal(grpc_client_connect(f->cl), 0);
    assert_true(wait_for(f, &f->lost, 1, WAIT_MS));
    assert_int_equal(f->ready, 0);
    struct grpc_call_opts o = {.path = "/t.S/Echo", .on_done = on_cdone, .ud = f};
    assert_null(grpc_client_call(f->cl, &o, NULL, 0));
}

/* Self-signed EC certificate for "localhost", usable as its own CA. */
static void make_cert(struct fx *f, char *cert, char *key, size_t cap)
{
    snprintf(f->tmpdir, sizeof(f->tmpdir), "/tmp/lotus-grpc-XXXXXX");
    assert_non_null(mkdtemp(f->tmpdir));
    snprintf(cert, cap, "%s/cert.pem", f->tmpdir);
    snprintf(key, cap, "%s/key.pem", f->tmpdir);
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    assert_non_null(pk);
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pk);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, "DNS:localhost");
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    e = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
    FILE *fp = fopen(cert, "w");
    assert_non_null(fp);
    PEM_write_X509(fp, x);
    fclose(fp);
    fp = fopen(key, "w");
    assert_non_null(fp);
    PEM_write_PrivateKey(fp, pk, NULL, NULL, 0, NULL, NULL);
    fclose(fp);
    X509_free(x);
    EVP_PKEY_free(pk);
}

static void test_grpc_loop__tls_unary_and_verification(void **state)
{
    struct fx *f = *state;
    char cert[128], key[128];
    make_cert(f, cert, key, sizeof(cert));
    start_server(f, cert, key);

    /* insecure=1: no verification, still TLS + ALPN h2. */
    f->cl = new_client(f, "127.0.0.1", f->port, 1, 1, NULL, 0);
    assert_int_equal(grpc_client_connect(f->cl), 0);
    assert_true(wait_for(f, &f->ready, 1, WAIT_MS));
    unary_ok(f, "over tls");
    call(f, "/t.S/Stream", "go", 0, 0);
    assert_true(wait_for(f, &f->done, 2, WAIT_MS));
    assert_int_equal(f->msgs, 6);
    grpc_client_free(f->cl);

    /* Verified against the CA file with the right name ("localhost"). */
    f->cl = new_client(f, "localhost", f->port, 1, 0, cert, 0);
    assert_int_equal(grpc_client_connect(f->cl), 0);
    assert_true(wait_for(f, &f->ready, 2, WAIT_MS));
    unary_ok(f, "verified");
    grpc_client_free(f->cl);

    /* Hostname mismatch: the certificate is not for 127.0.0.1. */
    f->cl = new_client(f, "127.0.0.1", f->port, 1, 0, cert, 0);
    assert_int_equal(grpc_client_connect(f->cl), 0);
    assert_true(wait_for(f, &f->lost, 1, WAIT_MS));
    assert_int_equal(f->ready, 2);
    assert_true(f->last_state < 0);
    assert_false(grpc_client_is_ready(f->cl));

    /* An h2c client on the TLS port gets nowhere either, and nothing crashes. */
    grpc_client_free(f->cl);
    f->cl = new_client(f, "127.0.0.1", f->port, 0, 0, NULL, 0);
    assert_int_equal(grpc_client_connect(f->cl), 0);
    assert_true(wait_for(f, &f->ready, 3, WAIT_MS));
    int want = f->done + 1;
    call(f, "/t.S/Echo", "plain", 0, 500);
    assert_true(wait_for(f, &f->done, want, WAIT_MS));
    assert_int_not_equal(f->done_status, GRPC_STATUS_OK);
}

static void bench_done(struct grpc_ccall *c, int status, const char *m, void *ud);

static void bench_issue(struct fx *f)
{
    struct grpc_call_opts o = {.path = "/t.S/Echo", .on_done = bench_done, .ud = f};
    static const uint8_t payload[] = "0123456789abcdef0123456789abcdef";
    assert_non_null(grpc_client_call(f->cl, &o, payload, sizeof(payload) - 1));
}

static void bench_done(struct grpc_ccall *c, int status, const char *m, void *ud)
{
    (void)c;
    (void)m;
    struct fx *f = ud;
    assert_int_equal(status, GRPC_STATUS_OK);
    f->bench_calls++;
    f->done++;
    if (f->bench_on)
        bench_issue(f);
}

static void test_grpc_loop__throughput(void **state)
{
    struct fx *f = *state;
    start_server(f, NULL, NULL);
    connect_client(f);
    int depths[] = {1, 16};
    for (size_t d = 0; d < 2; d++) {
        f->bench_calls = 0;
        f->done = 0;
        f->bench_on = 1;
        uint64_t t0 = uv_hrtime();
        for (int i = 0; i < depths[d]; i++)
            bench_issue(f);
        spin(f, 300);
        f->bench_on = 0;
        uint64_t calls = f->bench_calls;
        double secs = (double)(uv_hrtime() - t0) / 1e9;
        /*
         * Every completion reissued one call, so exactly depths[d] are in
         * flight now; switched off, each of them completes once (OK, checked
         * in bench_done) and none is reissued: the connection drains to idle.
         */
        int before = f->done;
        assert_true(wait_for(f, &f->done, before + depths[d], WAIT_MS));
        spin(f, 50);
        assert_int_equal(f->done, before + depths[d]);
        print_message("# unary calls/s, one connection, %d in flight: %.0f\n", depths[d],
                      (double)calls / secs);
        assert_true(calls > 100);
    }
}

static void put_frame(struct buf *b, uint8_t type, uint8_t flags, uint32_t sid, const void *p,
                      size_t n)
{
    uint8_t h[9] = {
        (uint8_t)(n >> 16),   (uint8_t)(n >> 8),    (uint8_t)n,          type,        flags,
        (uint8_t)(sid >> 24), (uint8_t)(sid >> 16), (uint8_t)(sid >> 8), (uint8_t)sid};
    buf_append(b, h, sizeof(h));
    buf_append(b, p, n);
}

static void put_literal(struct buf *b, const char *name, const char *value)
{
    buf_putc(b, 0); /* literal header field without indexing, new name, no Huffman */
    buf_putc(b, (char)strlen(name));
    buf_puts(b, name);
    buf_putc(b, (char)strlen(value));
    buf_puts(b, value);
}

/* The socket-less entry used by the fuzzer runs a hand-built request to a handler. */
static void test_grpc_loop__feed_raw_bytes(void **state)
{
    struct fx *f = *state;
    start_server(f, NULL, NULL);
    struct buf wire, hdr;
    buf_init(&wire, 0);
    buf_init(&hdr, 0);
    buf_puts(&wire, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    put_frame(&wire, 4, 0, 0, NULL, 0);
    put_literal(&hdr, ":method", "POST");
    put_literal(&hdr, ":scheme", "http");
    put_literal(&hdr, ":path", "/t.S/Echo");
    put_literal(&hdr, ":authority", "x");
    put_literal(&hdr, "content-type", "application/grpc");
    put_literal(&hdr, "x-token", "raw");
    put_frame(&wire, 1, 4, 1, hdr.data, hdr.len);
    static const uint8_t msg[] = {0, 0, 0, 0, 2, 'h', 'i'};
    put_frame(&wire, 0, 1, 1, msg, sizeof(msg));
    assert_int_equal(grpc_server__feed(f->srv, (uint8_t *)wire.data, wire.len), 0);
    assert_int_equal(f->closes, 1);
    assert_string_equal(f->md_token, "raw");
    assert_string_equal(f->peer, "fuzz");
    assert_int_equal(grpc_server_connection_count(f->srv), 0);
    /* HTTP/1.1 bytes: refused with an error, nothing delivered. */
    static const char http1[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_true(grpc_server__feed(f->srv, (const uint8_t *)http1, sizeof(http1) - 1) < 0);
    assert_int_equal(f->closes, 1);
    buf_release(&wire);
    buf_release(&hdr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_grpc_loop__unary_round_trip_with_metadata, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_grpc_loop__server_streaming, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_loop__bidi_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_loop__unknown_method, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_loop__oversize_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_loop__utf8_error_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_loop__client_cancel_closes_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_loop__client_disconnect_closes_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_grpc_loop__server_free_with_live_calls, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_grpc_loop__server_finishes_while_client_listens, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_grpc_loop__deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_loop__http1_bytes_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_loop__connection_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_loop__server_keepalive_drops_silent_peer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_grpc_loop__client_keepalive_detects_dead_peer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_grpc_loop__connect_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_loop__tls_unary_and_verification, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_grpc_loop__feed_raw_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_loop__throughput, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
