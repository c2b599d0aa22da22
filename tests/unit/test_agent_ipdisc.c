/*
 * Loopback tests of ipdisc's asynchronous fetcher: a tiny HTTP server on the
 * same libuv loop (port 0), URL fallback, timeout, shutdown mid-flight, and
 * HTTPS against `openssl s_server` with a throw-away CA when openssl exists.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "loopsrv.h"

#include "agent/ipdisc.h"
#include "core/log.h"

struct result {
    int calls;
    char ip[IPDISC_RESULT_LEN];
    struct ipdisc *d;
    struct loopsrv *s;
};

static void on_result(struct ipdisc *d, const char *ip, void *ud)
{
    struct result *r = ud;
    r->calls++;
    snprintf(r->ip, sizeof(r->ip), "%s", ip);
    ipdisc_free(d); /* stop after the first round; freeing from the callback is allowed */
    if (r->s)
        uv_close((uv_handle_t *)&r->s->listener, NULL);
}

static void guard_fire(uv_timer_t *t)
{
    fail_msg("ipdisc test did not finish in time");
}

/* Runs one discovery round over urls; returns with r filled. */
static void run_round(const char *const *urls, size_t n, unsigned timeout_ms, struct loopsrv *s,
                      const char *ca_file, struct result *r)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    memset(r, 0, sizeof(*r));
    r->s = s;
    if (s)
        assert_int_equal(loopsrv_start(s, &loop), 0);
    struct ipdisc_config cfg = {0};
    cfg.urls = urls;
    cfg.n_urls = n;
    cfg.period_s = 1800;
    cfg.timeout_ms = timeout_ms;
    cfg.ca_file = ca_file;
    cfg.on_result = on_result;
    cfg.ud = r;
    r->d = ipdisc_new(&loop, &cfg);
    assert_int_equal(ipdisc_start(r->d), 0);
    uv_timer_t guard;
    uv_timer_init(&loop, &guard);
    uv_timer_start(&guard, guard_fire, 10000, 0);
    uv_unref((uv_handle_t *)&guard);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_agent_ipdisc__http_fallback_and_result(void **state)
{
    (void)state;
    struct loopsrv s = {0};
    loopsrv_reply_body(&s, "fl=1\nip=198.51.100.7\nts=1\n");
    char u1[64], u2[64];
    int dead = loopsrv_free_port();
    snprintf(u1, sizeof(u1), "http://127.0.0.1:%d/cdn-cgi/trace", dead);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct result r;
    memset(&r, 0, sizeof(r));
    r.s = &s;
    assert_int_equal(loopsrv_start(&s, &loop), 0);
    snprintf(u2, sizeof(u2), "http://127.0.0.1:%d/cdn-cgi/trace", s.port);
    const char *urls[] = {u1, u2};
    struct ipdisc_config cfg = {0};
    cfg.urls = urls;
    cfg.n_urls = 2;
    cfg.period_s = 1800;
    cfg.on_result = on_result;
    cfg.ud = &r;
    r.d = ipdisc_new(&loop, &cfg);
    assert_int_equal(ipdisc_start(r.d), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(r.calls, 1);
    /* IPv4 found through the second URL; IPv6 cannot resolve 127.0.0.1 -> "v4" only */
    assert_string_equal(r.ip, "198.51.100.7");
    assert_int_equal(s.conns, 1);
}

static void test_agent_ipdisc__timeout_gives_empty(void **state)
{
    (void)state;
    struct loopsrv s = {0};
    s.silent = 1;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct result r;
    memset(&r, 0, sizeof(r));
    r.s = &s;
    assert_int_equal(loopsrv_start(&s, &loop), 0);
    char u[64];
    snprintf(u, sizeof(u), "http://127.0.0.1:%d/", s.port);
    const char *urls[] = {u};
    struct ipdisc_config cfg = {0};
    cfg.urls = urls;
    cfg.n_urls = 1;
    cfg.period_s = 1800;
    cfg.timeout_ms = 200;
    cfg.on_result = on_result;
    cfg.ud = &r;
    r.d = ipdisc_new(&loop, &cfg);
    uint64_t t0 = uv_hrtime();
    assert_int_equal(ipdisc_start(r.d), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    uint64_t ms = (uv_hrtime() - t0) / 1000000u;
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(r.calls, 1);
    assert_string_equal(r.ip, "");
    assert_true(ms >= 150 && ms < 5000);
}

static void test_agent_ipdisc__free_mid_flight(void **state)
{
    (void)state;
    struct loopsrv s = {0};
    s.silent = 1;
    uv_loop_t loop;
    uv_loop_init(&loop);
    assert_int_equal(loopsrv_start(&s, &loop), 0);
    char u[64];
    snprintf(u, sizeof(u), "http://127.0.0.1:%d/", s.port);
    const char *urls[] = {u};
    struct result r;
    memset(&r, 0, sizeof(r));
    struct ipdisc_config cfg = {0};
    cfg.urls = urls;
    cfg.n_urls = 1;
    cfg.period_s = 1800;
    cfg.on_result = on_result;
    cfg.ud = &r;
    struct ipdisc *d = ipdisc_new(&loop, &cfg);
    assert_int_equal(ipdisc_start(d), 0);
    /* let it resolve and connect, then stop it while the request is pending */
    for (int i = 0; i < 50 && s.conns == 0; i++)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(s.conns, 1);
    ipdisc_free(d);
    uv_close((uv_handle_t *)&s.listener, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(r.calls, 0); /* no callback after free; LeakSanitizer checks the memory */
}

/* HTTPS through OpenSSL memory BIOs against `openssl s_server -HTTP` (skipped without openssl).
 * With -HTTP the served file must hold the whole HTTP response. */
static void test_agent_ipdisc__https_with_s_server(void **state)
{
    (void)state;
    if (access("/usr/bin/openssl", X_OK) != 0)
        skip();
    char dir[] = "/tmp/lotus-ipdisc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "cd %s && mkdir -p cdn-cgi && printf 'HTTP/1.0 200 OK\\r\\nContent-Type: "
             "text/plain\\r\\n\\r\\nh=x\\nip=192.0.2.44\\n' > cdn-cgi/trace",
             dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(loopsrv_make_cert(dir, 1), 0);
    int port = loopsrv_free_port();
    pid_t pid = loopsrv_s_server(dir, port);
    assert_true(pid > 0);
    char url[96], ca[128];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/cdn-cgi/trace", port);
    snprintf(ca, sizeof(ca), "%s/cert.pem", dir);
    const char *urls[] = {url};
    struct result r;
    run_round(urls, 1, 5000, NULL, ca, &r);
    assert_int_equal(r.calls, 1);
    assert_string_equal(r.ip, "192.0.2.44");
    /* without the CA the certificate is rejected: nothing found */
    run_round(urls, 1, 5000, NULL, NULL, &r);
    assert_string_equal(r.ip, "");
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
        cmocka_unit_test(test_agent_ipdisc__http_fallback_and_result),
        cmocka_unit_test(test_agent_ipdisc__timeout_gives_empty),
        cmocka_unit_test(test_agent_ipdisc__free_mid_flight),
        cmocka_unit_test(test_agent_ipdisc__https_with_s_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
