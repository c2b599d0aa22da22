/*
 * probe: the asynchronous probes against loopback targets on the test's own
 * libuv loop (loopsrv.h): HTTP 200 / 404 / 301 / chunked / a 6 MB body with
 * the keyword at its end (present, absent, keyword_absent), HTTPS against
 * `openssl s_server` with a throw-away certificate (trusted through
 * SSL_CERT_FILE, then not), TCP to a listener and to a closed port, DNS of
 * "localhost", ICMP to 127.0.0.1 (skipped when no ICMP socket is permitted),
 * bad Task.data, the slot limit, and probes_stop with probes in flight (no
 * report, every handle closed: uv_loop_close succeeds).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "loopsrv.h"

#include "agent/probe.h"
#include "agent/probe_logic.h"
#include "core/gotime.h"
#include "core/log.h"
#include "proto/nezha.h"

struct rec {
    int n;
    struct {
        uint64_t id, type;
        int ok;
        double delay;
        char data[PROBE_DATA_MAX];
    } r[8];
};

static void on_report(const struct probe_result *r, void *ud)
{
    struct rec *rec = ud;
    assert_true(rec->n < 8);
    rec->r[rec->n].id = r->id;
    rec->r[rec->n].type = r->type;
    rec->r[rec->n].ok = r->ok;
    rec->r[rec->n].delay = r->delay_ms;
    snprintf(rec->r[rec->n].data, sizeof(rec->r[rec->n].data), "%s", r->data);
    rec->n++;
}

/* Runs the loop until rec has n results (fails after 25 s). */
static void wait_for(uv_loop_t *loop, struct rec *rec, int n)
{
    uint64_t t0 = uv_hrtime();
    while (rec->n < n) {
        uv_run(loop, UV_RUN_ONCE);
        if (uv_hrtime() - t0 > 25000000000ull)
            fail_msg("timeout waiting for %d results (have %d)", n, rec->n);
    }
}

/* Frees ps, closes the listener (may be NULL) and checks that every handle is gone. */
static void teardown(uv_loop_t *loop, struct probes *ps, struct loopsrv *s)
{
    probes_free(ps);
    if (s)
        uv_close((uv_handle_t *)&s->listener, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

/* One probe of type with data; the target server s (may be NULL) answers reply. */
static void probe_one(struct rec *rec, uint64_t type, const char *data, struct loopsrv *s,
                      const char *reply, size_t reply_len)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    memset(rec, 0, sizeof(*rec));
    char buf[1024];
    if (s) {
        memset(s, 0, sizeof(*s));
        s->reply = reply;
        s->reply_len = reply_len;
        assert_int_equal(loopsrv_start(s, &loop), 0);
        const char *at = strstr(data, "%d"); /* data: "%d" stands for the port */
        assert_non_null(at);
        snprintf(buf, sizeof(buf), "%.*s%d%s", (int)(at - data), data, s->port, at + 2);
        data = buf;
    }
    struct probes *ps = probes_new(&loop, on_report, rec);
    probes_run(ps, 42, type, data, strlen(data));
    wait_for(&loop, rec, 1);
    assert_int_equal(rec->r[0].id, 42);
    assert_int_equal(rec->r[0].type, type);
    assert_int_equal(probes_in_flight(ps), 0);
    teardown(&loop, ps, s);
}

static void http(struct rec *rec, uint64_t type, const char *data, const char *reply)
{
    static struct loopsrv s;
    probe_one(rec, type, data, &s, reply, strlen(reply));
}

static void test_probe__http_status(void **state)
{
    (void)state;
    struct rec r;
    http(&r, NEZHA_TASK_HTTP_GET, "http://127.0.0.1:%d/",
         "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    assert_int_equal(r.r[0].ok, 1);
    assert_string_equal(r.r[0].data, "");
    assert_true(r.r[0].delay > 0 && r.r[0].delay < 5000);
    http(&r, NEZHA_TASK_HTTP_GET, "http://127.0.0.1:%d/missing",
         "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno!");
    assert_int_equal(r.r[0].ok, 0);
    assert_string_equal(r.r[0].data, "\n应用错误：404 Not Found");
    assert_true(r.r[0].delay > 0); /* v0 measures the delay whatever the status */
    /* redirects are not followed: 3xx is a success */
    http(&r, NEZHA_TASK_HTTP_GET, "http://127.0.0.1:%d/old",
         "HTTP/1.1 301 Moved Permanently\r\nLocation: http://127.0.0.1:1/\r\n"
         "Content-Length: 0\r\n\r\n");
    assert_int_equal(r.r[0].ok, 1);
    /* type 101: its own status range, and a chunked body */
    http(&r, LOTUS_TASK_HTTP_CHECK, "http://127.0.0.1:%d/\nstatus=200-200",
         "HTTP/1.1 301 Moved Permanently\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(r.r[0].ok, 0);
    assert_string_equal(r.r[0].data, "\n应用错误：301 Moved Permanently");
    http(&r, LOTUS_TASK_HTTP_CHECK, "http://127.0.0.1:%d/\nstatus=500-503\nkeyword=down",
         "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n"
         "2\r\ndo\r\n2\r\nwn\r\n0\r\n\r\n");
    assert_int_equal(r.r[0].ok, 1);
    /* a broken response */
    http(&r, NEZHA_TASK_HTTP_GET, "http://127.0.0.1:%d/", "SSH-2.0-OpenSSH\r\n\r\n");
    assert_int_equal(r.r[0].ok, 0);
    assert_non_null(strstr(r.r[0].data, "not an HTTP response"));
    http(&r, NEZHA_TASK_HTTP_GET, "http://127.0.0.1:%d/",
         "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
    assert_int_equal(r.r[0].ok, 0);
    assert_non_null(strstr(r.r[0].data, "truncated body"));
}

static void test_probe__http_errors(void **state)
{
    (void)state;
    struct rec r;
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", loopsrv_free_port());
    probe_one(&r, NEZHA_TASK_HTTP_GET, url, NULL, NULL, 0);
    assert_int_equal(r.r[0].ok, 0);
    assert_non_null(strstr(r.r[0].data, "connection refused"));
    probe_one(&r, NEZHA_TASK_HTTP_GET, "gopher://x/", NULL, NULL, 0);
    assert_int_equal(r.r[0].ok, 0);
    assert_non_null(strstr(r.r[0].data, "invalid URL"));
    probe_one(&r, LOTUS_TASK_HTTP_CHECK, "http://x/\nstatus=1-2", NULL, NULL, 0);
    assert_non_null(strstr(r.r[0].data, "invalid status range"));
}

/* A 6 MB body (bigger than anything httpc buffers) whose keyword straddles the end of a 4 KiB
 * read. */
static void test_probe__http_large_body_keyword(void **state)
{
    (void)state;
    size_t body = 6u << 20, head;
    char *reply = malloc(body + 128);
    assert_non_null(reply);
    head = (size_t)snprintf(reply, 128, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", body);
    memset(reply + head, 'x', body);
    memcpy(reply + head + body - 4096 - 3, "NEEDLE", 6);
    size_t len = head + body;
    static struct loopsrv s;
    struct rec r;
    probe_one(&r, LOTUS_TASK_HTTP_CHECK, "http://127.0.0.1:%d/\nkeyword=NEEDLE", &s, reply, len);
    assert_int_equal(r.r[0].ok, 1);
    probe_one(&r, LOTUS_TASK_HTTP_CHECK, "http://127.0.0.1:%d/\nkeyword=NEEDLE\nkeyword_absent=1",
              &s, reply, len);
    assert_int_equal(r.r[0].ok, 0);
    assert_string_equal(r.r[0].data, "keyword \"NEEDLE\" found");
    probe_one(&r, LOTUS_TASK_HTTP_CHECK, "http://127.0.0.1:%d/\nkeyword=NEEDLES", &s, reply, len);
    assert_int_equal(r.r[0].ok, 0);
    assert_string_equal(r.r[0].data, "keyword \"NEEDLES\" not found");
    probe_one(&r, NEZHA_TASK_HTTP_GET, "http://127.0.0.1:%d/", &s, reply, len);
    assert_int_equal(r.r[0].ok, 1);
    free(reply);
}

static void test_probe__https(void **state)
{
    (void)state;
    if (access("/usr/bin/openssl", X_OK) != 0)
        skip();
    char dir[] = "/tmp/lotus-probe-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "cd %s && printf 'HTTP/1.0 200 OK\\r\\n\\r\\nhello\\n' > page && "
             "printf 'HTTP/1.0 404 Not Found\\r\\n\\r\\n' > gone",
             dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(loopsrv_make_cert(dir, 2), 0);
    int port = loopsrv_free_port();
    pid_t pid = loopsrv_s_server(dir, port);
    assert_true(pid > 0);
    char url[96], ca[128];
    snprintf(ca, sizeof(ca), "%s/cert.pem", dir);
    setenv("SSL_CERT_FILE", ca, 1);
    struct rec r;
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/page", port);
    probe_one(&r, NEZHA_TASK_HTTP_GET, url, NULL, NULL, 0);
    assert_int_equal(r.r[0].ok, 1);
    /* "<issuer CN>|<NotAfter as Go prints it>": the certificate is valid for 2 days */
    char want[96], when[GOTIME_STRING_MAX];
    const char *bar = strchr(r.r[0].data, '|');
    assert_non_null(bar);
    assert_memory_equal(r.r[0].data, "127.0.0.1|", 10);
    int64_t now = (int64_t)time(NULL);
    int hit = 0;
    for (int64_t t = now + 2 * 86400 - 600; t <= now + 2 * 86400 + 5 && !hit; t++) {
        gotime_string_utc(t, when, sizeof(when));
        snprintf(want, sizeof(want), "127.0.0.1|%s", when);
        hit = strcmp(want, r.r[0].data) == 0;
    }
    if (!hit)
        fail_msg("unexpected certificate data \"%s\"", r.r[0].data);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/gone", port);
    probe_one(&r, NEZHA_TASK_HTTP_GET, url, NULL, NULL, 0);
    assert_int_equal(r.r[0].ok, 0);
    assert_string_equal(r.r[0].data, "\n应用错误：404 Not Found");
    /* the certificate is not trusted without the CA: a failed probe that says why */
    setenv("SSL_CERT_FILE", "/nonexistent/ca.pem", 1);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/page", port);
    probe_one(&r, NEZHA_TASK_HTTP_GET, url, NULL, NULL, 0);
    assert_int_equal(r.r[0].ok, 0);
    assert_non_null(strstr(r.r[0].data, "certificate verification failed"));
    unsetenv("SSL_CERT_FILE");
    loopsrv_s_server_stop(pid);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_probe__tcp(void **state)
{
    (void)state;
    static struct loopsrv s;
    struct rec r;
    probe_one(&r, NEZHA_TASK_TCP_PING, "127.0.0.1:%d", &s, "", 0);
    assert_int_equal(r.r[0].ok, 1);
    assert_true(r.r[0].delay > 0 && r.r[0].delay < 5000);
    char t[64];
    int port = loopsrv_free_port();
    snprintf(t, sizeof(t), "127.0.0.1:%d", port);
    probe_one(&r, NEZHA_TASK_TCP_PING, t, NULL, NULL, 0);
    assert_int_equal(r.r[0].ok, 0);
    char want[96];
    snprintf(want, sizeof(want), "dial tcp 127.0.0.1:%d: connect: connection refused", port);
    assert_string_equal(r.r[0].data, want);
    probe_one(&r, NEZHA_TASK_TCP_PING, "localhost", NULL, NULL, 0);
    assert_int_equal(r.r[0].ok, 0);
    assert_non_null(strstr(r.r[0].data, "host:port"));
}

static void test_probe__dns(void **state)
{
    (void)state;
    struct rec r;
    probe_one(&r, LOTUS_TASK_DNS, "localhost A", NULL, NULL, 0);
    assert_int_equal(r.r[0].ok, 1);
    assert_non_null(strstr(r.r[0].data, "127.0.0.1"));
    assert_true(r.r[0].delay >= 0);
    probe_one(&r, LOTUS_TASK_DNS, "localhost A 127.0.0.1", NULL, NULL, 0);
    assert_int_equal(r.r[0].ok, 1);
    probe_one(&r, LOTUS_TASK_DNS, "localhost A 192.0.2.7", NULL, NULL, 0);
    assert_int_equal(r.r[0].ok, 0);
    assert_non_null(strstr(r.r[0].data, "expected 192.0.2.7, got 127.0.0.1"));
    probe_one(&r, LOTUS_TASK_DNS, "localhost MX", NULL, NULL, 0);
    assert_int_equal(r.r[0].ok, 0);
    assert_non_null(strstr(r.r[0].data, "record type"));
}

static int ipv6_loopback(void)
{
    int fd = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof(a));
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static int icmp_permitted(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
    if (fd < 0)
        fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

static void test_probe__icmp(void **state)
{
    (void)state;
    if (!icmp_permitted()) {
        print_message("# SKIP ICMP: neither an ICMP datagram socket (net.ipv4.ping_group_range) "
                      "nor a raw socket (root) is permitted here\n");
        skip();
    }
    struct rec r;
    uint64_t t0 = uv_hrtime();
    probe_one(&r, NEZHA_TASK_ICMP_PING, "127.0.0.1", NULL, NULL, 0);
    double ms = (double)(uv_hrtime() - t0) / 1e6;
    assert_int_equal(r.r[0].ok, 1);
    assert_string_equal(r.r[0].data, "");
    assert_true(r.r[0].delay > 0 && r.r[0].delay < 1000);
    assert_true(ms > 3500 && ms < 10000); /* 5 echoes 1 s apart, the first at once */
    if (ipv6_loopback()) {
        probe_one(&r, NEZHA_TASK_ICMP_PING, "[::1]", NULL, NULL, 0);
        assert_int_equal(r.r[0].ok, 1);
        assert_true(r.r[0].delay > 0 && r.r[0].delay < 1000);
    }
    probe_one(&r, NEZHA_TASK_ICMP_PING, "not a host", NULL, NULL, 0);
    assert_int_equal(r.r[0].ok, 0);
    assert_non_null(strstr(r.r[0].data, "invalid target"));
}

/* AGENT_PROBES_MAX silent targets fill the slots; further tasks wait in the queue (no answer yet)
 * until it is full, then the next is answered at once; a fast TCP probe is not held up by the
 * silent ones and its slot goes to the first queued task; probes_stop ends everything without a
 * report. */
static void test_probe__slots_queue_and_stop(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    static struct loopsrv s;
    memset(&s, 0, sizeof(s));
    s.silent = 1;
    assert_int_equal(loopsrv_start(&s, &loop), 0);
    struct rec r;
    memset(&r, 0, sizeof(r));
    struct probes *ps = probes_new(&loop, on_report, &r);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/slow", s.port);
    for (int i = 0; i < AGENT_PROBES_MAX - 1; i++)
        probes_run(ps, (uint64_t)i + 1, NEZHA_TASK_HTTP_GET, url, strlen(url));
    char tcp[64];
    snprintf(tcp, sizeof(tcp), "127.0.0.1:%d", s.port);
    probes_run(ps, 90, NEZHA_TASK_TCP_PING, tcp, strlen(tcp));
    assert_int_equal(probes_in_flight(ps), AGENT_PROBES_MAX);
    for (int i = 0; i < AGENT_PROBES_QUEUE; i++)
        probes_run(ps, 100 + (uint64_t)i, NEZHA_TASK_HTTP_GET, url, strlen(url));
    assert_int_equal(probes_queued(ps), AGENT_PROBES_QUEUE);
    assert_int_equal(r.n, 0); /* queued, not refused */
    probes_run(ps, 999, NEZHA_TASK_HTTP_GET, url, strlen(url));
    assert_int_equal(r.n, 1); /* the queue is full: answered at once */
    assert_int_equal(r.r[0].id, 999);
    assert_int_equal(r.r[0].ok, 0);
    assert_string_equal(r.r[0].data, "too many probes in flight");
    wait_for(&loop, &r, 2); /* the TCP probe finishes while the HTTP ones hang */
    assert_int_equal(r.r[1].id, 90);
    assert_int_equal(r.r[1].ok, 1);
    /* its slot went to the first queued task */
    assert_int_equal(probes_in_flight(ps), AGENT_PROBES_MAX);
    assert_int_equal(probes_queued(ps), AGENT_PROBES_QUEUE - 1);
    for (int i = 0; i < 20 && s.conns < AGENT_PROBES_MAX; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    probes_stop(ps);
    assert_int_equal(probes_queued(ps), 0);
    probes_run(ps, 11, NEZHA_TASK_TCP_PING, tcp, strlen(tcp)); /* dropped after stop */
    teardown(&loop, ps, &s);
    assert_int_equal(r.n, 2);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (getenv("LOTUS_TEST_DEBUG"))
        log_set_level(LOG_LEVEL_DEBUG);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe__http_status),
        cmocka_unit_test(test_probe__http_errors),
        cmocka_unit_test(test_probe__http_large_body_keyword),
        cmocka_unit_test(test_probe__https),
        cmocka_unit_test(test_probe__tcp),
        cmocka_unit_test(test_probe__dns),
        cmocka_unit_test(test_probe__icmp),
        cmocka_unit_test(test_probe__slots_queue_and_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
