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

/* A port nobody listens on (bound, then closed). */
static int dead_port(void)
{
    uv_loop_t loop;
    uv_tcp_t t;
    struct sockaddr_in a;
    uv_loop_init(&loop);
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_init(&loop, &t);
    uv_tcp_bind(&t, (const struct sockaddr *)&a, 0);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    uv_tcp_getsockname(&t, (struct sockaddr *)&ss, &len);
    int port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return port;
}

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
    int dead = dead_port();
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
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "cd %s && mkdir -p cdn-cgi && printf 'HTTP/1.0 200 OK\\r\\nContent-Type: "
             "text/plain\\r\\n\\r\\nh=x\\nip=192.0.2.44\\n' > cdn-cgi/trace && "
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 1 "
             "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
             dir);
    assert_int_equal(system(cmd), 0);
    int port = dead_port();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char p[16];
        snprintf(p, sizeof(p), "%d", port);
        if (chdir(dir) != 0)
            _exit(127);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execl("/usr/bin/openssl", "openssl", "s_server", "-HTTP", "-accept", p, "-cert", "cert.pem",
              "-key", "key.pem", (char *)NULL);
        _exit(127);
    }
    /* wait until it listens */
    int up = 0;
    for (int i = 0; i < 100 && !up; i++) {
        char probe[128];
        snprintf(probe, sizeof(probe), "exec 3<>/dev/tcp/127.0.0.1/%d 2>/dev/null", port);
        char sh[256];
        snprintf(sh, sizeof(sh), "bash -c '%s' 2>/dev/null", probe);
        up = system(sh) == 0;
        if (!up)
            usleep(50000);
    }
    assert_true(up);
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
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
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
