/*
 * Interop of src/proto/grpc_server and grpc_client with an independent gRPC
 * implementation: python3-grpcio (Debian, only under /usr/bin/python3), spawned
 * with uv_spawn from this test's loop.
 *  - python client -> our server: unary + metadata, server streaming, bidi,
 *    UTF-8 error status, unknown method, oversize message;
 *  - our client -> python server: unary + metadata, server streaming, error.
 * Skipped when /usr/bin/python3 cannot import grpc.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "core/buf.h"
#include "core/strnum.h"
#include "core/xalloc.h"
#include "proto/grpc_client.h"
#include "proto/grpc_server.h"

#define PY      "/usr/bin/python3"
#define WAIT_MS 8000u

struct fx {
    uv_loop_t loop;
    uv_timer_t guard;
    int timed_out;
    uv_process_t proc;
    uv_pipe_t out;
    int proc_open, out_open;
    int exited;
    int64_t exit_status;
    int term_signal;
    struct buf stdout_text;
    struct grpc_server *srv;
    struct grpc_client *cl;
    int ready, lost;
    int done, done_status;
    char done_msg[256];
    int msgs;
    struct buf got;
    struct grpc_call *streaming;
    uv_timer_t push_timer;
    int pushes;
    int closes;
};

static const char py_client[] =
    "import sys, grpc\n"
    "ch = grpc.insecure_channel('127.0.0.1:' + sys.argv[1])\n"
    "grpc.channel_ready_future(ch).result(timeout=5)\n"
    "def uu(m): return ch.unary_unary(m, request_serializer=None, response_deserializer=None)\n"
    "r, call = uu('/x.Y/Echo').with_call(b'hello', metadata=(('x-token', 'abc'),), timeout=5)\n"
    "assert r == b'hello|abc', r\n"
    "assert call.code() == grpc.StatusCode.OK\n"
    "st = ch.unary_stream('/x.Y/Stream', request_serializer=None, response_deserializer=None)\n"
    "got = list(st(b'go', timeout=5))\n"
    "assert got == [b'push 0', b'push 1', b'push 2'], got\n"
    "bi = ch.stream_stream('/x.Y/Bidi', request_serializer=None, response_deserializer=None)\n"
    "got = list(bi(iter([b'a', b'bb', b'']), timeout=5))\n"
    "assert got == [b'a', b'bb', b''], got\n"
    "def expect(m, req, code, text=None):\n"
    "    try:\n"
    "        uu(m)(req, timeout=5)\n"
    "    except grpc.RpcError as e:\n"
    "        assert e.code() == code, (m, e.code(), e.details())\n"
    "        assert text is None or text in e.details(), (m, e.details())\n"
    "        return\n"
    "    raise AssertionError('no error from ' + m)\n"
    "expect('/x.Y/Fail', b'', grpc.StatusCode.UNAUTHENTICATED, '客户端认证失败')\n"
    "expect('/x.Y/Nope', b'', grpc.StatusCode.UNIMPLEMENTED)\n"
    "expect('/x.Y/Echo', b'x' * (5 << 20), grpc.StatusCode.RESOURCE_EXHAUSTED,\n"
    "       'larger than max (5242880 vs. 4194304)')\n"
    "r = uu('/x.Y/Echo')(b'after', timeout=5)\n"
    "assert r == b'after|', r\n"
    "print('python client ok')\n";

static const char py_server[] = "import sys, grpc\n"
                                "from concurrent import futures\n"
                                "def echo(req, ctx):\n"
                                "    md = dict(ctx.invocation_metadata())\n"
                                "    return req + b'|' + md.get('x-token', '').encode() + b'|' + "
                                "md.get('user-agent', '').encode()\n"
                                "def stream(req, ctx):\n"
                                "    for i in range(3):\n"
                                "        yield b'm%d' % i\n"
                                "def fail(req, ctx):\n"
                                "    ctx.abort(grpc.StatusCode.UNAUTHENTICATED, '客户端认证失败')\n"
                                "h = grpc.method_handlers_generic_handler('x.Y', {\n"
                                "    'Echo': grpc.unary_unary_rpc_method_handler(echo),\n"
                                "    'Stream': grpc.unary_stream_rpc_method_handler(stream),\n"
                                "    'Fail': grpc.unary_unary_rpc_method_handler(fail)})\n"
                                "s = grpc.server(futures.ThreadPoolExecutor(2))\n"
                                "s.add_generic_rpc_handlers((h,))\n"
                                "port = s.add_insecure_port('127.0.0.1:0')\n"
                                "s.start()\n"
                                "print(port, flush=True)\n"
                                "s.wait_for_termination()\n";

/* ---- our server's methods ---- */

static struct fx *fx_of(struct grpc_call *call)
{
    return grpc_server_user(grpc_call_server(call));
}

static void echo_msg(struct grpc_call *call, const uint8_t *data, size_t len)
{
    struct buf b;
    buf_init(&b, 0);
    buf_append(&b, data, len);
    buf_putc(&b, '|');
    const char *tok = grpc_call_metadata(call, "x-token");
    buf_puts(&b, tok ? tok : "");
    grpc_call_send(call, (uint8_t *)b.data, b.len);
    grpc_call_finish(call, GRPC_STATUS_OK, NULL);
    buf_release(&b);
}

static void push_cb(uv_timer_t *t)
{
    struct fx *f = t->data;
    if (!f->streaming)
        return;
    char m[32];
    int n = snprintf(m, sizeof(m), "push %d", f->pushes);
    grpc_call_send(f->streaming, (uint8_t *)m, (size_t)n);
    if (++f->pushes == 3) {
        uv_timer_stop(t);
        grpc_call_finish(f->streaming, GRPC_STATUS_OK, NULL);
    }
}

static void stream_msg(struct grpc_call *call, const uint8_t *data, size_t len)
{
    (void)data;
    (void)len;
    struct fx *f = fx_of(call);
    f->streaming = call;
    f->pushes = 0;
    uv_timer_start(&f->push_timer, push_cb, 5, 5);
}

static void bidi_msg(struct grpc_call *call, const uint8_t *data, size_t len)
{
    grpc_call_send(call, data, len);
}

static void ok_half(struct grpc_call *call)
{
    grpc_call_finish(call, GRPC_STATUS_OK, NULL);
}

static void fail_half(struct grpc_call *call)
{
    grpc_call_finish(call, GRPC_STATUS_UNAUTHENTICATED, "客户端认证失败");
}

static void ignore_msg(struct grpc_call *call, const uint8_t *data, size_t len)
{
    (void)call;
    (void)data;
    (void)len;
}

static void any_close(struct grpc_call *call)
{
    struct fx *f = fx_of(call);
    f->closes++;
    if (f->streaming == call) {
        f->streaming = NULL;
        uv_timer_stop(&f->push_timer);
    }
}

static const struct grpc_method methods[] = {
    {"/x.Y/Echo", echo_msg, NULL, any_close},
    {"/x.Y/Stream", stream_msg, NULL, any_close},
    {"/x.Y/Bidi", bidi_msg, ok_half, any_close},
    {"/x.Y/Fail", ignore_msg, fail_half, any_close},
};

/* ---- process and loop helpers ---- */

static void guard_cb(uv_timer_t *t)
{
    struct fx *f = t->data;
    f->timed_out = 1;
    uv_stop(&f->loop);
}

static int wait_for(struct fx *f, const int *v, int target, unsigned ms)
{
    f->timed_out = 0;
    uv_timer_start(&f->guard, guard_cb, ms, 0);
    while (*v < target && !f->timed_out)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_timer_stop(&f->guard);
    return *v >= target;
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    struct fx *f = p->data;
    f->exited = 1;
    f->exit_status = status;
    f->term_signal = sig;
}

static void out_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    (void)h;
    (void)s;
    b->base = xmalloc(4096);
    b->len = 4096;
}

static void out_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct fx *f = s->data;
    if (n > 0)
        buf_append(&f->stdout_text, b->base, (size_t)n);
    free(b->base);
}

static void spawn_py(struct fx *f, const char *script, const char *arg)
{
    uv_pipe_init(&f->loop, &f->out, 0);
    f->out.data = f;
    f->out_open = 1;
    char *args[] = {(char *)PY, (char *)"-c", (char *)script, (char *)arg, NULL};
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&f->out},
        {.flags = UV_INHERIT_FD, .data.fd = 2},
    };
    uv_process_options_t o = {
        .file = PY,
        .args = args,
        .exit_cb = on_exit_cb,
        .stdio = stdio,
        .stdio_count = 3,
    };
    f->proc.data = f;
    assert_int_equal(uv_spawn(&f->loop, &f->proc, &o), 0);
    f->proc_open = 1;
    uv_read_start((uv_stream_t *)&f->out, out_alloc, out_read);
}

static int have_grpcio(void)
{
    if (access(PY, X_OK) != 0)
        return 0;
    return system(PY " -c 'import grpc' >/dev/null 2>&1") == 0;
}

static int setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof(*f));
    assert_int_equal(uv_loop_init(&f->loop), 0);
    uv_timer_init(&f->loop, &f->guard);
    uv_timer_init(&f->loop, &f->push_timer);
    f->guard.data = f;
    f->push_timer.data = f;
    buf_init(&f->stdout_text, 0);
    buf_init(&f->got, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->proc_open && !f->exited) {
        uv_process_kill(&f->proc, SIGKILL);
        wait_for(f, &f->exited, 1, WAIT_MS);
    }
    grpc_client_free(f->cl);
    grpc_server_free(f->srv);
    if (f->proc_open)
        uv_close((uv_handle_t *)&f->proc, NULL);
    if (f->out_open)
        uv_close((uv_handle_t *)&f->out, NULL);
    uv_close((uv_handle_t *)&f->push_timer, NULL);
    uv_close((uv_handle_t *)&f->guard, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    buf_release(&f->stdout_text);
    buf_release(&f->got);
    free(f);
    return 0;
}

/* ---- tests ---- */

static void test_grpc_interop__python_client_to_our_server(void **state)
{
    struct fx *f = *state;
    if (!have_grpcio())
        skip();
    struct grpc_server_config cfg = {
        .host = "127.0.0.1",
        .methods = methods,
        .n_methods = sizeof(methods) / sizeof(methods[0]),
        .user = f,
    };
    char err[256] = "";
    assert_int_equal(grpc_server_start(&f->loop, &cfg, &f->srv, err, sizeof(err)), 0);
    char port[16];
    snprintf(port, sizeof(port), "%d", grpc_server_port(f->srv));
    spawn_py(f, py_client, port);
    assert_true(wait_for(f, &f->exited, 1, WAIT_MS));
    assert_int_equal(f->term_signal, 0);
    assert_int_equal(f->exit_status, 0);
    assert_non_null(strstr(f->stdout_text.data, "python client ok"));
    assert_true(f->closes >= 5);
}

static void on_state(struct grpc_client *c, int status)
{
    struct fx *f = grpc_client_user(c);
    if (status == 0)
        f->ready++;
    else
        f->lost++;
}

static void on_cmsg(struct grpc_ccall *call, const uint8_t *data, size_t len, void *ud)
{
    (void)call;
    struct fx *f = ud;
    f->msgs++;
    buf_append(&f->got, data, len);
    buf_putc(&f->got, ';');
}

static void on_cdone(struct grpc_ccall *call, int status, const char *message, void *ud)
{
    (void)call;
    struct fx *f = ud;
    f->done++;
    f->done_status = status;
    snprintf(f->done_msg, sizeof(f->done_msg), "%s", message);
}

static void ccall(struct fx *f, const char *path, const char *msg)
{
    static const struct grpc_metadata md[] = {{"x-token", "tok"}};
    struct grpc_call_opts o = {
        .path = path,
        .md = md,
        .n_md = 1,
        .timeout_ms = 5000,
        .on_message = on_cmsg,
        .on_done = on_cdone,
        .ud = f,
    };
    buf_reset(&f->got);
    int want = f->done + 1;
    assert_non_null(grpc_client_call(f->cl, &o, (const uint8_t *)msg, strlen(msg)));
    assert_true(wait_for(f, &f->done, want, WAIT_MS));
}

static void test_grpc_interop__our_client_to_python_server(void **state)
{
    struct fx *f = *state;
    if (!have_grpcio())
        skip();
    spawn_py(f, py_server, "");
    /* Wait for the port line. */
    f->timed_out = 0;
    uv_timer_start(&f->guard, guard_cb, WAIT_MS, 0);
    while (!strchr(f->stdout_text.data, '\n') && !f->timed_out && !f->exited)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_timer_stop(&f->guard);
    char *nl = strchr(f->stdout_text.data, '\n');
    assert_non_null(nl);
    uint64_t port = 0;
    assert_int_equal(strnum_u64(f->stdout_text.data, (size_t)(nl - f->stdout_text.data), &port), 0);

    struct grpc_client_config cfg = {
        .host = "127.0.0.1", .port = (int)port, .on_state = on_state, .user = f};
    f->cl = grpc_client_new(&f->loop, &cfg);
    assert_int_equal(grpc_client_connect(f->cl), 0);
    assert_true(wait_for(f, &f->ready, 1, WAIT_MS));

    ccall(f, "/x.Y/Echo", "hi");
    assert_int_equal(f->done_status, GRPC_STATUS_OK);
    assert_true(strncmp(f->got.data, "hi|tok|lotus-agent/", 19) == 0);

    ccall(f, "/x.Y/Stream", "");
    assert_int_equal(f->done_status, GRPC_STATUS_OK);
    assert_string_equal(f->got.data, "m0;m1;m2;");

    ccall(f, "/x.Y/Fail", "");
    assert_int_equal(f->done_status, GRPC_STATUS_UNAUTHENTICATED);
    assert_string_equal(f->done_msg, "客户端认证失败");

    ccall(f, "/x.Y/Missing", "");
    assert_int_equal(f->done_status, GRPC_STATUS_UNIMPLEMENTED);

    /* The python server dies: the client reports the loss. */
    uv_process_kill(&f->proc, SIGKILL);
    assert_true(wait_for(f, &f->lost, 1, WAIT_MS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_grpc_interop__python_client_to_our_server, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_grpc_interop__our_client_to_python_server, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
