/*
 * Unit tests of src/dashboard/ws: the v0 frame renderer (golden string), the
 * time format, the hub over real sockets (an http_server on 127.0.0.1:0 with
 * its upgrade hook wired to the hub, on a libuv loop in a background thread;
 * the tests are blocking raw-socket WebSocket clients that mask their frames
 * as RFC 6455 requires, with receive timeouts so every wait is bounded), and
 * the socket-less memory seam.
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
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "core/buf.h"
#include "dashboard/http.h"
#include "dashboard/live.h"
#include "dashboard/api/ws_frame.h"
#include "dashboard/ws_hub.h"
#include "nezha_v0.pb-c.h"

/* ================================================================ rendering */

#define NOW_MS 1717243201500LL /* 2024-06-01T12:00:01.5Z */

struct fixture {
    struct live lv;
    struct live_server srv[4];
    struct live_server *ptr[4];
    Proto__Host host;
    Proto__State state;
    char *cpu[1];
};

static void fixture_init(struct fixture *fx)
{
    memset(fx, 0, sizeof(*fx));
    Proto__Host h = PROTO__HOST__INIT;
    Proto__State st = PROTO__STATE__INIT;
    fx->host = h;
    fx->state = st;
    fx->host.platform = (char *)"debian";
    fx->host.platform_version = (char *)"12.5";
    fx->cpu[0] = (char *)"AMD EPYC 7B13 2 Virtual Core";
    fx->host.cpu = fx->cpu;
    fx->host.n_cpu = 1;
    fx->host.mem_total = 2078420992;
    fx->host.arch = (char *)"x86_64";
    fx->host.ip = (char *)"203.0.113.7/2001:db8::7";
    fx->host.country_code = (char *)"de";
    fx->host.version = (char *)"0.20.5";
    fx->state.cpu = 3.5;
    fx->state.mem_used = 1024;
    fx->state.load1 = 0.08;

    struct live_server *s = &fx->srv[0]; /* reported 1.5 s ago: online */
    s->id = 1;
    s->name = (char *)"fra";
    s->tag = (char *)"eu";
    s->secret = (char *)"SECRETSECRETSECRET";
    s->note = (char *)"admin only note";
    s->public_note = (char *)"<b>hi</b>";
    s->created_at = 1714557600123LL; /* 2024-05-01T10:00:00.123Z */
    s->updated_at = 1714557600000LL;
    s->host = &fx->host;
    s->state = &fx->state;
    s->last_active = 1717243200;
    s->last_active_ms = NOW_MS - 1500;

    s = &fx->srv[1]; /* hidden, never reported */
    s->id = 2;
    s->name = (char *)"hidden-box";
    s->tag = (char *)"";
    s->secret = (char *)"S2";
    s->note = (char *)"n2";
    s->public_note = (char *)"";
    s->display_index = 5;
    s->hide_for_guest = 1;
    s->created_at = 1714557600000LL;
    s->updated_at = 1714557600000LL;

    s = &fx->srv[2]; /* same display index as 2, reported 20 s ago: offline */
    s->id = 3;
    s->name = (char *)"old";
    s->tag = (char *)"asia";
    s->public_note = (char *)"";
    s->display_index = 5;
    s->created_at = 1714557600000LL;
    s->updated_at = 1714557600010LL;
    s->last_active = 1717243181;
    s->last_active_ms = NOW_MS - 20000;

    s = &fx->srv[3]; /* restored from the store: seconds only, 9 s ago: online */
    s->id = 4;
    s->name = (char *)"restored";
    s->tag = (char *)"eu";
    s->display_index = 0;
    s->created_at = 0;
    s->updated_at = 0;
    s->last_active = 1717243192;

    for (int i = 0; i < 4; i++)
        fx->ptr[i] = &fx->srv[i];
    fx->lv.servers = fx->ptr;
    fx->lv.n = 4;
    fx->lv.cap = 4;
}

#define EMPTY_HOST                                                                                 \
    "{\"Platform\":\"\",\"PlatformVersion\":\"\",\"CPU\":null,\"MemTotal\":0,\"DiskTotal\":0,"     \
    "\"SwapTotal\":0,\"Arch\":\"\",\"Virtualization\":\"\",\"BootTime\":0,\"CountryCode\":\"\","   \
    "\"Version\":\"\",\"GPU\":null}"
#define EMPTY_STATE                                                                                \
    "{\"CPU\":0,\"MemUsed\":0,\"SwapUsed\":0,\"DiskUsed\":0,\"NetInTransfer\":0,"                  \
    "\"NetOutTransfer\":0,\"NetInSpeed\":0,\"NetOutSpeed\":0,\"Uptime\":0,\"Load1\":0,"            \
    "\"Load5\":0,\"Load15\":0,\"TcpConnCount\":0,\"UdpConnCount\":0,\"ProcessCount\":0,"           \
    "\"Temperatures\":null,\"GPU\":0}"

static const char guest_golden[] =
    "{\"now\":1717243201500,\"servers\":["
    "{\"ID\":3,\"CreatedAt\":\"2024-05-01T10:00:00Z\",\"UpdatedAt\":\"2024-05-01T10:00:00.01Z\","
    "\"DeletedAt\":null,\"Name\":\"old\",\"Tag\":\"asia\",\"DisplayIndex\":5,"
    "\"HideForGuest\":false,\"EnableDDNS\":false,\"Host\":" EMPTY_HOST ",\"State\":" EMPTY_STATE
    ",\"LastActive\":\"2024-06-01T11:59:41.5Z\",\"PublicNote\":\"\",\"Online\":false},"
    "{\"ID\":1,\"CreatedAt\":\"2024-05-01T10:00:00.123Z\",\"UpdatedAt\":\"2024-05-01T10:00:00Z\","
    "\"DeletedAt\":null,\"Name\":\"fra\",\"Tag\":\"eu\",\"DisplayIndex\":0,"
    "\"HideForGuest\":false,\"EnableDDNS\":false,"
    "\"Host\":{\"Platform\":\"debian\",\"PlatformVersion\":\"12.5\","
    "\"CPU\":[\"AMD EPYC 7B13 2 Virtual Core\"],\"MemTotal\":2078420992,\"DiskTotal\":0,"
    "\"SwapTotal\":0,\"Arch\":\"x86_64\",\"Virtualization\":\"\",\"BootTime\":0,"
    "\"CountryCode\":\"de\",\"Version\":\"0.20.5\",\"GPU\":null},"
    "\"State\":{\"CPU\":3.5,\"MemUsed\":1024,\"SwapUsed\":0,\"DiskUsed\":0,\"NetInTransfer\":0,"
    "\"NetOutTransfer\":0,\"NetInSpeed\":0,\"NetOutSpeed\":0,\"Uptime\":0,\"Load1\":0.08,"
    "\"Load5\":0,\"Load15\":0,\"TcpConnCount\":0,\"UdpConnCount\":0,\"ProcessCount\":0,"
    "\"Temperatures\":null,\"GPU\":0},"
    "\"LastActive\":\"2024-06-01T12:00:00Z\",\"PublicNote\":\"\\u003cb\\u003ehi\\u003c/b\\u003e\","
    "\"Online\":true},"
    "{\"ID\":4,\"CreatedAt\":\"1970-01-01T00:00:00Z\",\"UpdatedAt\":\"1970-01-01T00:00:00Z\","
    "\"DeletedAt\":null,\"Name\":\"restored\",\"Tag\":\"eu\",\"DisplayIndex\":0,"
    "\"HideForGuest\":false,\"EnableDDNS\":false,\"Host\":" EMPTY_HOST ",\"State\":" EMPTY_STATE
    ",\"LastActive\":\"2024-06-01T11:59:52Z\",\"PublicNote\":\"\",\"Online\":true}"
    "]}";

static void test_ws__render_guest_golden(void **state)
{
    (void)state;
    struct fixture fx;
    fixture_init(&fx);
    struct buf out;
    buf_init(&out, 0);
    assert_int_equal(ws_render_frame(&fx.lv, 0, NOW_MS, &out), 0);
    assert_string_equal(out.data, guest_golden);
    assert_null(strstr(out.data, "hidden-box"));
    assert_null(strstr(out.data, "SECRET"));
    assert_null(strstr(out.data, "admin only"));
    assert_null(strstr(out.data, "203.0.113.7"));
    buf_release(&out);
}

static void test_ws__render_admin_order_and_hidden(void **state)
{
    (void)state;
    struct fixture fx;
    fixture_init(&fx);
    struct buf out;
    buf_init(&out, 0);
    assert_int_equal(ws_render_frame(&fx.lv, 1, NOW_MS, &out), 0);
    /* DisplayIndex desc, then ID asc: 2, 3 (index 5), 1, 4 (index 0) */
    const char *p2 = strstr(out.data, "{\"ID\":2,");
    const char *p3 = strstr(out.data, "{\"ID\":3,");
    const char *p1 = strstr(out.data, "{\"ID\":1,");
    const char *p4 = strstr(out.data, "{\"ID\":4,");
    assert_non_null(p2);
    assert_true(p2 < p3 && p3 < p1 && p1 < p4);
    assert_non_null(strstr(out.data, "\"Name\":\"hidden-box\",\"Tag\":\"\",\"DisplayIndex\":5,"
                                     "\"HideForGuest\":true,"));
    assert_non_null(strstr(out.data, "\"LastActive\":\"0001-01-01T00:00:00Z\",\"PublicNote\":\"\","
                                     "\"Online\":false}"));
    assert_null(strstr(out.data, "SECRET"));
    assert_null(strstr(out.data, "\"S2\""));
    assert_null(strstr(out.data, "admin only"));
    assert_null(strstr(out.data, "\"n2\""));
    assert_null(strstr(out.data, "2001:db8"));
    /* the guest frame is the admin frame without server 2 */
    struct buf g;
    buf_init(&g, 0);
    ws_render_frame(&fx.lv, 0, NOW_MS, &g);
    assert_true(g.len < out.len);
    buf_release(&g);
    buf_release(&out);
}

static void test_ws__render_empty_omits_servers(void **state)
{
    (void)state;
    struct live lv;
    live_init(&lv);
    struct buf out;
    buf_init(&out, 0);
    assert_int_equal(ws_render_frame(&lv, 1, 1717236002000LL, &out), 0);
    assert_string_equal(out.data, "{\"now\":1717236002000}");
    /* only hidden servers: the guest frame has no servers key either */
    struct fixture fx;
    fixture_init(&fx);
    fx.ptr[0] = &fx.srv[1];
    fx.lv.n = 1;
    buf_reset(&out);
    assert_int_equal(ws_render_frame(&fx.lv, 0, 5, &out), 0);
    assert_string_equal(out.data, "{\"now\":5}");
    /* a bounded buffer reports -E2BIG */
    struct buf small;
    buf_init(&small, 64);
    fixture_init(&fx);
    assert_int_equal(ws_render_frame(&fx.lv, 1, NOW_MS, &small), -E2BIG);
    buf_release(&small);
    buf_release(&out);
}

static void test_ws__format_time(void **state)
{
    (void)state;
    char t[WS_TIME_MAX];
    struct {
        int64_t ms;
        const char *want;
    } cases[] = {
        {0, "1970-01-01T00:00:00Z"},
        {NOW_MS, "2024-06-01T12:00:01.5Z"},
        {1717243201123LL, "2024-06-01T12:00:01.123Z"},
        {1717243201120LL, "2024-06-01T12:00:01.12Z"},
        {1717243201001LL, "2024-06-01T12:00:01.001Z"},
        {1709164800000LL, "2024-02-29T00:00:00Z"},
        {951782400000LL, "2000-02-29T00:00:00Z"},
        {-1, "1969-12-31T23:59:59.999Z"},
        {-62135596800000LL, "0001-01-01T00:00:00Z"},
        {-62135596800001LL, "0001-01-01T00:00:00Z"}, /* before year 1: zero time */
        {253402300799999LL, "9999-12-31T23:59:59.999Z"},
        {253402300800000LL, "0001-01-01T00:00:00Z"}, /* year 10000: zero time */
        {INT64_MIN, "0001-01-01T00:00:00Z"},
        {INT64_MAX, "0001-01-01T00:00:00Z"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = ws_format_time(cases[i].ms, t);
        assert_string_equal(t, cases[i].want);
        assert_int_equal(n, strlen(cases[i].want));
    }
}

/* ================================================================ server env */

struct env {
    uv_loop_t loop;
    uv_async_t call;
    uv_async_t stop;
    struct http_server *srv;
    struct ws_hub *hub;
    struct ws_config cfg;
    int port;
    uv_sem_t ready;
    uv_sem_t done;
    void (*fn)(struct env *, void *);
    void *arg;
    pthread_t th;
    int loop_close_rc;
    int upgrade_rc;
};

static void on_upgrade(struct http_request *req, void *ud)
{
    struct env *e = ud;
    if (strcmp(http_request_path(req), "/ws") != 0) {
        http_request_respond_text(req, 404, "text/plain", "no");
        return;
    }
    const char *admin = http_request_query(req, "admin");
    int aud = admin && strcmp(admin, "1") == 0 ? WS_AUDIENCE_ADMIN : WS_AUDIENCE_GUEST;
    e->upgrade_rc = ws_hub_upgrade(e->hub, req, aud);
}

static void on_call(uv_async_t *a)
{
    struct env *e = a->data;
    e->fn(e, e->arg);
    uv_sem_post(&e->done);
}

static void on_stop(uv_async_t *a)
{
    struct env *e = a->data;
    ws_hub_free(e->hub);
    e->hub = NULL;
    http_server_close(e->srv, NULL, NULL);
    uv_close((uv_handle_t *)&e->call, NULL);
    uv_close((uv_handle_t *)&e->stop, NULL);
}

static void *loop_thread(void *arg)
{
    struct env *e = arg;
    uv_loop_init(&e->loop);
    struct http_config hc;
    http_config_defaults(&hc);
    e->srv = http_server_new(&e->loop, &hc);
    e->hub = ws_hub_new(&e->loop, &e->cfg);
    http_server_set_upgrade(e->srv, on_upgrade, e);
    int rc = http_server_listen(e->srv, "127.0.0.1", 0);
    e->port = rc == 0 ? http_server_port(e->srv) : -1;
    uv_async_init(&e->loop, &e->call, on_call);
    e->call.data = e;
    uv_async_init(&e->loop, &e->stop, on_stop);
    e->stop.data = e;
    uv_sem_post(&e->ready);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    e->loop_close_rc = uv_loop_close(&e->loop);
    return NULL;
}

static struct env *env_start(const struct ws_config *cfg)
{
    struct env *e = calloc(1, sizeof(*e));
    ws_config_defaults(&e->cfg);
    e->cfg.sweep_ms = 50;
    e->cfg.linger_ms = 500;
    if (cfg)
        e->cfg = *cfg;
    uv_sem_init(&e->ready, 0);
    uv_sem_init(&e->done, 0);
    pthread_create(&e->th, NULL, loop_thread, e);
    uv_sem_wait(&e->ready);
    assert_true(e->port > 0);
    return e;
}

/* Runs fn(e, arg) on the loop thread and waits for it. */
static void on_loop(struct env *e, void (*fn)(struct env *, void *), void *arg)
{
    e->fn = fn;
    e->arg = arg;
    uv_async_send(&e->call);
    uv_sem_wait(&e->done);
}

static void env_stop_begin(struct env *e)
{
    uv_async_send(&e->stop);
}

static void env_stop_end(struct env *e)
{
    pthread_join(e->th, NULL);
    assert_int_equal(e->loop_close_rc, 0); /* every handle, the hub's timer too, was closed */
    uv_sem_destroy(&e->ready);
    uv_sem_destroy(&e->done);
    free(e);
}

static void env_stop(struct env *e)
{
    env_stop_begin(e);
    env_stop_end(e);
}

struct bcast {
    const char *guest; /* NULL = none */
    const char *admin;
    size_t guest_len, admin_len;
};

static void do_broadcast(struct env *e, void *arg)
{
    struct bcast *b = arg;
    struct buf g, a;
    buf_init(&g, 0);
    buf_init(&a, 0);
    if (b->guest)
        buf_append(&g, b->guest, b->guest_len ? b->guest_len : strlen(b->guest));
    if (b->admin)
        buf_append(&a, b->admin, b->admin_len ? b->admin_len : strlen(b->admin));
    ws_hub_broadcast(e->hub, b->guest ? &g : NULL, b->admin ? &a : NULL);
    buf_release(&g);
    buf_release(&a);
}

static void broadcast(struct env *e, const char *guest, const char *admin)
{
    struct bcast b = {guest, admin, 0, 0};
    on_loop(e, do_broadcast, &b);
}

struct count_arg {
    int audience;
    size_t n;
};

static void do_count(struct env *e, void *arg)
{
    struct count_arg *c = arg;
    c->n = ws_hub_count(e->hub, c->audience);
}

static size_t hub_count(struct env *e, int audience)
{
    struct count_arg c = {audience, 0};
    on_loop(e, do_count, &c);
    return c.n;
}

static void do_nothing(struct env *e, void *arg)
{
}

/* The result of the last ws_hub_upgrade (read after a loop round trip, so it is set). */
static int upgrade_rc(struct env *e)
{
    on_loop(e, do_nothing, NULL);
    return e->upgrade_rc;
}

/* Polls until the count reaches want (at most ~3 s). */
static int wait_count(struct env *e, int audience, size_t want)
{
    for (int i = 0; i < 300; i++) {
        if (hub_count(e, audience) == want)
            return 1;
        usleep(10000);
    }
    return 0;
}

/* ================================================================ raw WebSocket client */

struct wsc {
    int fd;
    unsigned char buf[1 << 16];
    size_t len;
};

static void wsc_open(struct wsc *c, int port, int rcvbuf)
{
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    if (rcvbuf)
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
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

static void wsc_close(struct wsc *c)
{
    close(c->fd);
}

static void wsc_send_raw(struct wsc *c, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Reads more input; returns bytes read, 0 on EOF, -1 on error or timeout. */
static ssize_t wsc_fill(struct wsc *c)
{
    if (c->len == sizeof(c->buf))
        return -1;
    ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (r > 0)
        c->len += (size_t)r;
    return r;
}

static void wsc_consume(struct wsc *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/*
 * Sends a handshake for path with extra header lines; reads the response head
 * into head (NUL-terminated). Returns the status code, or -1.
 */
static int wsc_handshake(struct wsc *c, const char *path, const char *extra, char *head,
                         size_t headsz)
{
    char req[2048];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", path, extra);
    wsc_send_raw(c, req, (size_t)n);
    for (;;) {
        unsigned char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (end) {
            size_t hl = (size_t)(end - c->buf) + 4;
            size_t cp = hl < headsz - 1 ? hl : headsz - 1;
            memcpy(head, c->buf, cp);
            head[cp] = '\0';
            wsc_consume(c, hl);
            int code = 0;
            if (strncmp(head, "HTTP/1.1 ", 9) != 0)
                return -1;
            for (int i = 9; i < 12; i++)
                code = code * 10 + (head[i] - '0');
            return code;
        }
        if (wsc_fill(c) <= 0)
            return -1;
    }
}

#define STD_HEADERS                                                                                \
    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"                   \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

/* Connects and completes a handshake; audience by path. */
static void wsc_connect(struct wsc *c, int port, const char *path)
{
    char head[2048];
    wsc_open(c, port, 0);
    assert_int_equal(wsc_handshake(c, path, STD_HEADERS, head, sizeof(head)), 101);
}

/* Sends one masked frame. */
static void wsc_send(struct wsc *c, int opcode, const void *p, size_t n)
{
    unsigned char *f = malloc(n + 14);
    size_t h = 0;
    f[h++] = (unsigned char)(0x80 | opcode);
    if (n < 126) {
        f[h++] = (unsigned char)(0x80 | n);
    } else if (n <= 0xffff) {
        f[h++] = 0x80 | 126;
        f[h++] = (unsigned char)(n >> 8);
        f[h++] = (unsigned char)n;
    } else {
        f[h++] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            f[h++] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    }
    const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    memcpy(f + h, mask, 4);
    h += 4;
    for (size_t i = 0; i < n; i++)
        f[h + i] = ((const unsigned char *)p)[i] ^ mask[i % 4];
    wsc_send_raw(c, f, h + n);
    free(f);
}

/*
 * Reads one server frame: *op the opcode, *payload an owned copy (free()) of
 * *len bytes, NUL-terminated. Returns 0, or -1 on EOF/timeout/masked frame.
 */
static int wsc_frame(struct wsc *c, int *op, unsigned char **payload, size_t *len)
{
    while (c->len < 2) {
        if (wsc_fill(c) <= 0)
            return -1;
    }
    if (c->buf[1] & 0x80)
        return -1; /* servers never mask */
    size_t hl = 2;
    uint64_t n = c->buf[1] & 0x7f;
    if (n == 126)
        hl = 4;
    else if (n == 127)
        hl = 10;
    while (c->len < hl) {
        if (wsc_fill(c) <= 0)
            return -1;
    }
    if (hl == 4) {
        n = ((uint64_t)c->buf[2] << 8) | c->buf[3];
    } else if (hl == 10) {
        n = 0;
        for (int i = 0; i < 8; i++)
            n = (n << 8) | c->buf[2 + i];
    }
    *op = c->buf[0] & 0x0f;
    wsc_consume(c, hl);
    unsigned char *p = malloc((size_t)n + 1);
    size_t got = 0;
    while (got < n) {
        if (c->len == 0 && wsc_fill(c) <= 0) {
            free(p);
            return -1;
        }
        size_t take = c->len < n - got ? c->len : (size_t)(n - got);
        memcpy(p + got, c->buf, take);
        got += take;
        wsc_consume(c, take);
    }
    p[n] = '\0';
    *payload = p;
    *len = (size_t)n;
    return 0;
}

/* Expects a text frame with exactly want. */
static void expect_text(struct wsc *c, const char *want)
{
    int op = -1;
    unsigned char *p = NULL;
    size_t n = 0;
    assert_int_equal(wsc_frame(c, &op, &p, &n), 0);
    assert_int_equal(op, 1);
    assert_string_equal((char *)p, want);
    free(p);
}

/* Expects a close frame with code want; returns after it. */
static void expect_close(struct wsc *c, int want)
{
    int op = -1;
    unsigned char *p = NULL;
    size_t n = 0;
    assert_int_equal(wsc_frame(c, &op, &p, &n), 0);
    assert_int_equal(op, 8);
    assert_true(n >= 2);
    assert_int_equal((p[0] << 8) | p[1], want);
    free(p);
}

/* True when the server closes the connection (EOF) within the receive timeout. */
static int wsc_eof(struct wsc *c)
{
    for (;;) {
        c->len = 0;
        ssize_t r = wsc_fill(c);
        if (r == 0)
            return 1;
        if (r < 0)
            return errno == ECONNRESET;
    }
}

/* ================================================================ handshake */

static void test_ws__handshake_accept_key(void **state)
{
    (void)state;
    struct env *e = env_start(NULL);
    struct wsc c;
    char head[2048];
    wsc_open(&c, e->port, 0);
    assert_int_equal(wsc_handshake(&c, "/ws", STD_HEADERS, head, sizeof(head)), 101);
    /* RFC 6455 §1.3 example */
    assert_non_null(strstr(head, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert_non_null(strstr(head, "\r\nUpgrade: websocket\r\n"));
    assert_non_null(strstr(head, "\r\nConnection: Upgrade\r\n"));
    assert_int_equal(upgrade_rc(e), 0);
    assert_int_equal(hub_count(e, WS_AUDIENCE_GUEST), 1);
    assert_int_equal(hub_count(e, WS_AUDIENCE_ADMIN), 0);
    wsc_close(&c);
    assert_true(wait_count(e, -1, 0));
    env_stop(e);
}

static int try_handshake(struct env *e, const char *extra, char *head, size_t headsz)
{
    struct wsc c;
    wsc_open(&c, e->port, 0);
    int code = wsc_handshake(&c, "/ws", extra, head, headsz);
    wsc_close(&c);
    return code;
}

static void test_ws__handshake_rejects(void **state)
{
    (void)state;
    struct env *e = env_start(NULL);
    char head[2048];
    /* wrong origin -> 403 */
    assert_int_equal(
        try_handshake(e, STD_HEADERS "Origin: http://evil.example\r\n", head, sizeof(head)), 403);
    assert_int_equal(upgrade_rc(e), -EPERM);
    assert_non_null(strstr(head, "Sec-WebSocket-Version: 13\r\n"));
    /* origin with another port -> 403; "null" origin -> 403 */
    assert_int_equal(
        try_handshake(e, STD_HEADERS "Origin: http://127.0.0.1:8080\r\n", head, sizeof(head)), 403);
    assert_int_equal(try_handshake(e, STD_HEADERS "Origin: null\r\n", head, sizeof(head)), 403);
    /* same origin (case-insensitive host) -> 101 */
    assert_int_equal(
        try_handshake(e, STD_HEADERS "Origin: HTTPS://127.0.0.1/page\r\n", head, sizeof(head)),
        101);
    /* missing key -> 400 */
    assert_int_equal(try_handshake(e,
                                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                   "Sec-WebSocket-Version: 13\r\n",
                                   head, sizeof(head)),
                     400);
    assert_int_equal(upgrade_rc(e), -EINVAL);
    /* key that is not 16 bytes of base64 -> 400 */
    assert_int_equal(try_handshake(e,
                                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                   "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: abc=\r\n",
                                   head, sizeof(head)),
                     400);
    assert_int_equal(try_handshake(e,
                                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                   "Sec-WebSocket-Version: 13\r\n"
                                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j!!==\r\n",
                                   head, sizeof(head)),
                     400);
    /* wrong version -> 400 */
    assert_int_equal(try_handshake(e,
                                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                   "Sec-WebSocket-Version: 8\r\n"
                                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
                                   head, sizeof(head)),
                     400);
    /* Upgrade to something else -> 400 */
    assert_int_equal(try_handshake(e,
                                   "Upgrade: h2c\r\nConnection: Upgrade\r\n"
                                   "Sec-WebSocket-Version: 13\r\n"
                                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
                                   head, sizeof(head)),
                     400);
    /* POST -> 405 */
    {
        struct wsc c;
        wsc_open(&c, e->port, 0);
        const char *req =
            "POST /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n" STD_HEADERS "Content-Length: 0\r\n\r\n";
        wsc_send_raw(&c, req, strlen(req));
        char buf[512] = {0};
        ssize_t r = recv(c.fd, buf, sizeof(buf) - 1, 0);
        assert_true(r > 12);
        assert_memory_equal(buf, "HTTP/1.1 405", 12);
        wsc_close(&c);
    }
    assert_true(wait_count(e, -1, 0)); /* only the same-origin one was ever counted */
    env_stop(e);
}

static void test_ws__connection_cap_503(void **state)
{
    (void)state;
    struct ws_config cfg;
    ws_config_defaults(&cfg);
    cfg.sweep_ms = 50;
    cfg.linger_ms = 500;
    cfg.max_connections = 1;
    struct env *e = env_start(&cfg);
    struct wsc a;
    wsc_connect(&a, e->port, "/ws");
    char head[2048];
    assert_int_equal(try_handshake(e, STD_HEADERS, head, sizeof(head)), 503);
    assert_int_equal(upgrade_rc(e), -EBUSY);
    wsc_close(&a);
    assert_true(wait_count(e, -1, 0));
    env_stop(e);
}

/* ================================================================ broadcast */

static void test_ws__broadcast_per_audience(void **state)
{
    (void)state;
    struct env *e = env_start(NULL);
    struct wsc g, a;
    wsc_connect(&g, e->port, "/ws");
    wsc_connect(&a, e->port, "/ws?admin=1");
    assert_int_equal(hub_count(e, WS_AUDIENCE_GUEST), 1);
    assert_int_equal(hub_count(e, WS_AUDIENCE_ADMIN), 1);

    /* real frames from the renderer: the hidden server only reaches the admin */
    struct fixture fx;
    fixture_init(&fx);
    struct buf gf, af;
    buf_init(&gf, 0);
    buf_init(&af, 0);
    ws_render_frame(&fx.lv, 0, NOW_MS, &gf);
    ws_render_frame(&fx.lv, 1, NOW_MS, &af);
    broadcast(e, gf.data, af.data);
    expect_text(&g, gf.data);
    expect_text(&a, af.data);
    /* 126-length and 64-bit-length headers */
    char *mid = malloc(300);
    memset(mid, 'm', 299);
    mid[299] = '\0';
    char *big = malloc(70001);
    memset(big, 'b', 70000);
    big[70000] = '\0';
    broadcast(e, mid, big);
    expect_text(&g, mid);
    expect_text(&a, big);
    /* identical payloads (one shared copy) reach both */
    broadcast(e, "same", "same");
    expect_text(&g, "same");
    expect_text(&a, "same");
    /* NULL audience: only admins get this one */
    broadcast(e, NULL, "admins only");
    broadcast(e, "g2", "a2");
    expect_text(&g, "g2");
    expect_text(&a, "admins only");
    /* a later viewer gets the audience's last frame at once */
    struct wsc g2;
    wsc_connect(&g2, e->port, "/ws");
    expect_text(&g2, "g2");
    free(mid);
    free(big);
    buf_release(&gf);
    buf_release(&af);
    wsc_close(&g);
    wsc_close(&a);
    wsc_close(&g2);
    assert_true(wait_count(e, -1, 0));
    env_stop(e);
}

static void test_ws__ping_after_every_4th_frame(void **state)
{
    (void)state;
    struct env *e = env_start(NULL);
    struct wsc c;
    wsc_connect(&c, e->port, "/ws");
    broadcast(e, "f1", NULL);
    broadcast(e, "f2", NULL);
    broadcast(e, "f3", NULL);
    broadcast(e, "f4", NULL);
    expect_text(&c, "f1");
    expect_text(&c, "f2");
    expect_text(&c, "f3");
    expect_text(&c, "f4");
    int op = -1;
    unsigned char *p = NULL;
    size_t n = 0;
    assert_int_equal(wsc_frame(&c, &op, &p, &n), 0);
    assert_int_equal(op, 9); /* ping, right after the 4th frame */
    assert_int_equal(n, 0);
    free(p);
    wsc_send(&c, 10, "", 0); /* pong */
    broadcast(e, "f5", NULL);
    expect_text(&c, "f5");
    wsc_close(&c);
    env_stop(e);
}

static void test_ws__missing_pong_closes(void **state)
{
    (void)state;
    struct ws_config cfg;
    ws_config_defaults(&cfg);
    cfg.sweep_ms = 20;
    cfg.linger_ms = 500;
    cfg.ping_every = 1;
    cfg.pong_timeout_ms = 150;
    struct env *e = env_start(&cfg);
    struct wsc c, ok;
    wsc_connect(&c, e->port, "/ws");
    wsc_connect(&ok, e->port, "/ws");
    broadcast(e, "x", NULL);
    expect_text(&c, "x");
    expect_text(&ok, "x");
    int op = -1;
    unsigned char *p = NULL;
    size_t n = 0;
    assert_int_equal(wsc_frame(&ok, &op, &p, &n), 0);
    assert_int_equal(op, 9);
    free(p);
    wsc_send(&ok, 10, "", 0);
    /* c never answers its ping: dropped after pong_timeout_ms */
    assert_true(wsc_eof(&c));
    assert_true(wait_count(e, WS_AUDIENCE_GUEST, 1));
    wsc_close(&c);
    wsc_close(&ok);
    env_stop(e);
}

struct reader {
    struct wsc *c;
    int frames;
    int saw_end;
};

static void *reader_thread(void *arg)
{
    struct reader *r = arg;
    for (;;) {
        int op = -1;
        unsigned char *p = NULL;
        size_t n = 0;
        if (wsc_frame(r->c, &op, &p, &n) != 0)
            break;
        if (op == 9)
            wsc_send(r->c, 10, p, n);
        if (op == 1) {
            if (strcmp((char *)p, "end") == 0) {
                r->saw_end = 1;
                free(p);
                break;
            }
            r->frames++;
        }
        free(p);
    }
    return NULL;
}

static void test_ws__slow_consumer_dropped(void **state)
{
    (void)state;
    struct env *e = env_start(NULL);
    struct wsc good, slow;
    wsc_connect(&good, e->port, "/ws");
    wsc_open(&slow, e->port, 4096); /* small receive window; never reads */
    char head[2048];
    assert_int_equal(wsc_handshake(&slow, "/ws", STD_HEADERS, head, sizeof(head)), 101);
    assert_int_equal(hub_count(e, WS_AUDIENCE_GUEST), 2);

    struct reader r = {&good, 0, 0};
    pthread_t th;
    pthread_create(&th, NULL, reader_thread, &r);
    size_t fl = 128 * 1024;
    char *frame = malloc(fl + 1);
    memset(frame, 'z', fl);
    frame[fl] = '\0';
    int sent = 0;
    int dropped = 0;
    for (int i = 0; i < 400 && !dropped; i++) {
        struct bcast b = {frame, NULL, fl, 0};
        on_loop(e, do_broadcast, &b);
        sent++;
        usleep(3000);
        dropped = hub_count(e, WS_AUDIENCE_GUEST) == 1;
    }
    assert_true(dropped);
    /* the good client is unaffected: it still gets everything */
    broadcast(e, "end", NULL);
    pthread_join(th, NULL);
    assert_true(r.saw_end);
    assert_int_equal(r.frames, sent);
    assert_int_equal(hub_count(e, WS_AUDIENCE_GUEST), 1);
    free(frame);
    wsc_close(&slow);
    wsc_close(&good);
    env_stop(e);
}

/* ================================================================ client input */

static void test_ws__client_close_answered(void **state)
{
    (void)state;
    struct env *e = env_start(NULL);
    struct wsc c;
    wsc_connect(&c, e->port, "/ws");
    /* client messages are read and ignored */
    wsc_send(&c, 1, "hello", 5);
    wsc_send(&c, 2, "\x01\x02", 2);
    broadcast(e, "after", NULL);
    expect_text(&c, "after");
    /* a ping is answered with its payload */
    wsc_send(&c, 9, "pp", 2);
    int op = -1;
    unsigned char *p = NULL;
    size_t n = 0;
    assert_int_equal(wsc_frame(&c, &op, &p, &n), 0);
    assert_int_equal(op, 10);
    assert_int_equal(n, 2);
    assert_memory_equal(p, "pp", 2);
    free(p);
    /* close 1000 -> echoed, then the server closes the TCP connection */
    wsc_send(&c, 8, "\x03\xe8", 2);
    expect_close(&c, 1000);
    assert_true(wsc_eof(&c));
    assert_true(wait_count(e, -1, 0));
    wsc_close(&c);
    env_stop(e);
}

static void test_ws__oversized_message_1009(void **state)
{
    (void)state;
    struct env *e = env_start(NULL);
    struct wsc c, other;
    wsc_connect(&c, e->port, "/ws");
    wsc_connect(&other, e->port, "/ws");
    char *big = malloc(5000);
    memset(big, 'q', 5000);
    wsc_send(&c, 1, big, 5000);
    free(big);
    expect_close(&c, 1009);
    assert_true(wsc_eof(&c));
    assert_true(wait_count(e, WS_AUDIENCE_GUEST, 1));
    broadcast(e, "still here", NULL);
    expect_text(&other, "still here");
    wsc_close(&c);
    wsc_close(&other);
    env_stop(e);
}

static void test_ws__free_with_live_clients(void **state)
{
    (void)state;
    struct env *e = env_start(NULL);
    struct wsc g, a, quiet;
    wsc_connect(&g, e->port, "/ws");
    wsc_connect(&a, e->port, "/ws?admin=1");
    wsc_connect(&quiet, e->port, "/ws");
    broadcast(e, "g", "a");
    expect_text(&g, "g");
    expect_text(&a, "a");
    env_stop_begin(e);
    expect_text(&quiet, "g");
    expect_close(&g, 1001);
    expect_close(&a, 1001);
    expect_close(&quiet, 1001);
    wsc_send(&g, 8, "\x03\xe9", 2); /* g answers the close; a and quiet just hang up */
    assert_true(wsc_eof(&g));
    wsc_close(&a);
    /* quiet neither answers nor hangs up: the server lingers, then closes */
    assert_true(wsc_eof(&quiet));
    env_stop_end(e); /* loop ended with every handle closed; LeakSanitizer checks the rest */
    wsc_close(&g);
    wsc_close(&quiet);
}

/* ================================================================ memory seam */

/* A masked client frame into out. */
static size_t client_frame(unsigned char *out, int opcode, const char *p, size_t n, int masked)
{
    size_t h = 0;
    out[h++] = (unsigned char)(0x80 | opcode);
    out[h++] = (unsigned char)((masked ? 0x80 : 0) | n);
    if (masked) {
        memcpy(out + h, "\x11\x22\x33\x44", 4);
        h += 4;
    }
    for (size_t i = 0; i < n; i++)
        out[h + i] = (unsigned char)(p[i] ^ (masked ? "\x11\x22\x33\x44"[i % 4] : 0));
    return h + n;
}

static void test_ws__memory_seam(void **state)
{
    (void)state;
    struct ws_hub *hub = ws_hub_new(NULL, NULL);
    struct buf og, oa;
    buf_init(&og, 0);
    buf_init(&oa, 0);
    struct ws_conn *g = ws_conn_new_memory(hub, WS_AUDIENCE_GUEST, &og);
    struct ws_conn *a = ws_conn_new_memory(hub, WS_AUDIENCE_ADMIN, &oa);
    assert_int_equal(ws_hub_count(hub, WS_AUDIENCE_GUEST), 1);
    assert_int_equal(ws_hub_count(hub, WS_AUDIENCE_ADMIN), 1);
    struct buf pg, pa;
    buf_init(&pg, 0);
    buf_init(&pa, 0);
    buf_puts(&pg, "G");
    buf_puts(&pa, "AA");
    assert_int_equal(ws_hub_broadcast(hub, &pg, &pa), 0);
    assert_int_equal(og.len, 3);
    assert_memory_equal(og.data, "\x81\x01G", 3);
    assert_memory_equal(oa.data,
                        "\x81\x02"
                        "AA",
                        4);
    /* text message split byte by byte: ignored, nothing sent */
    unsigned char f[64];
    size_t n = client_frame(f, 1, "hello", 5, 1);
    buf_reset(&og);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ws_conn_feed(g, f + i, 1), 0);
    assert_int_equal(og.len, 0);
    /* ping -> pong with the payload */
    n = client_frame(f, 9, "hi", 2, 1);
    assert_int_equal(ws_conn_feed(g, f, n), 0);
    assert_int_equal(og.len, 4);
    assert_memory_equal(og.data, "\x8a\x02hi", 4);
    /* an unmasked client frame is a protocol error: close 1002 */
    buf_reset(&og);
    n = client_frame(f, 1, "x", 1, 0);
    assert_int_equal(ws_conn_feed(g, f, n), -EPIPE);
    assert_true(ws_conn_is_closed(g));
    assert_int_equal(og.len, 4);
    assert_memory_equal(og.data, "\x88\x02\x03\xea", 4);
    assert_int_equal(ws_hub_count(hub, WS_AUDIENCE_GUEST), 0);
    /* closed connections get no more frames */
    buf_reset(&og);
    ws_hub_broadcast(hub, &pg, NULL);
    assert_int_equal(og.len, 0);
    assert_false(ws_conn_is_closed(a));
    ws_conn_free_memory(g);
    ws_conn_free_memory(a);
    ws_hub_free(hub);
    buf_release(&pg);
    buf_release(&pa);
    buf_release(&og);
    buf_release(&oa);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ws__render_guest_golden),
        cmocka_unit_test(test_ws__render_admin_order_and_hidden),
        cmocka_unit_test(test_ws__render_empty_omits_servers),
        cmocka_unit_test(test_ws__format_time),
        cmocka_unit_test(test_ws__handshake_accept_key),
        cmocka_unit_test(test_ws__handshake_rejects),
        cmocka_unit_test(test_ws__connection_cap_503),
        cmocka_unit_test(test_ws__broadcast_per_audience),
        cmocka_unit_test(test_ws__ping_after_every_4th_frame),
        cmocka_unit_test(test_ws__missing_pong_closes),
        cmocka_unit_test(test_ws__slow_consumer_dropped),
        cmocka_unit_test(test_ws__client_close_answered),
        cmocka_unit_test(test_ws__oversized_message_1009),
        cmocka_unit_test(test_ws__free_with_live_clients),
        cmocka_unit_test(test_ws__memory_seam),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
