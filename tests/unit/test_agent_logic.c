/*
 * Unit tests of the agent's pure logic: lifecycle state machine, backoff and
 * jitter, host-refresh collapsing, task dispatch, the ipdisc parsers, and the
 * service unit text (plus install/uninstall into a temporary directory).
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
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent_logic.h"
#include "proto/nezha.h"
#include "agent/flags.h"
#include "agent/ipdisc.h"
#include "agent/service.h"
#include "core/buf.h"

/* ---- lifecycle ---- */

static void test_agent_logic__sm_happy_path_and_retry(void **state)
{
    (void)state;
    enum agent_phase p = AGENT_PHASE_IDLE;
    assert_int_equal(agent_sm_step(&p, AGENT_EV_START), AGENT_ACT_CONNECT);
    assert_int_equal(p, AGENT_PHASE_CONNECTING);
    assert_int_equal(agent_sm_step(&p, AGENT_EV_CONNECTED), AGENT_ACT_REGISTER);
    assert_int_equal(p, AGENT_PHASE_REGISTERING);
    assert_int_equal(agent_sm_step(&p, AGENT_EV_REGISTER_OK),
                     AGENT_ACT_OPEN_TASKS | AGENT_ACT_START_REPORTS);
    assert_int_equal(p, AGENT_PHASE_RUNNING);
    /* stream end -> teardown + retry, then the timer reconnects */
    assert_int_equal(agent_sm_step(&p, AGENT_EV_STREAM_END),
                     AGENT_ACT_TEARDOWN | AGENT_ACT_SCHEDULE_RETRY);
    assert_int_equal(p, AGENT_PHASE_BACKOFF);
    /* late events from the dropped connection are ignored while backing off */
    assert_int_equal(agent_sm_step(&p, AGENT_EV_CONN_LOST), AGENT_ACT_NONE);
    assert_int_equal(agent_sm_step(&p, AGENT_EV_STREAM_END), AGENT_ACT_NONE);
    assert_int_equal(agent_sm_step(&p, AGENT_EV_REGISTER_FAIL), AGENT_ACT_NONE);
    assert_int_equal(agent_sm_step(&p, AGENT_EV_CONNECTED), AGENT_ACT_NONE);
    assert_int_equal(p, AGENT_PHASE_BACKOFF);
    assert_int_equal(agent_sm_step(&p, AGENT_EV_RETRY_TIMER), AGENT_ACT_CONNECT);
    assert_int_equal(p, AGENT_PHASE_CONNECTING);
}

static void test_agent_logic__sm_failures_everywhere(void **state)
{
    (void)state;
    const unsigned retry = AGENT_ACT_TEARDOWN | AGENT_ACT_SCHEDULE_RETRY;
    enum agent_phase p;
    /* connect failure */
    p = AGENT_PHASE_CONNECTING;
    assert_int_equal(agent_sm_step(&p, AGENT_EV_CONN_LOST), retry);
    /* register failure (incl. UNAUTHENTICATED) and loss while registering */
    p = AGENT_PHASE_REGISTERING;
    assert_int_equal(agent_sm_step(&p, AGENT_EV_REGISTER_FAIL), retry);
    p = AGENT_PHASE_REGISTERING;
    assert_int_equal(agent_sm_step(&p, AGENT_EV_CONN_LOST), retry);
    /* while running: loss, auth failure */
    p = AGENT_PHASE_RUNNING;
    assert_int_equal(agent_sm_step(&p, AGENT_EV_CONN_LOST), retry);
    p = AGENT_PHASE_RUNNING;
    assert_int_equal(agent_sm_step(&p, AGENT_EV_AUTH_FAIL), retry);
    /* out-of-phase events do nothing */
    p = AGENT_PHASE_RUNNING;
    assert_int_equal(agent_sm_step(&p, AGENT_EV_REGISTER_OK), AGENT_ACT_NONE);
    assert_int_equal(agent_sm_step(&p, AGENT_EV_START), AGENT_ACT_NONE);
    assert_int_equal(agent_sm_step(&p, AGENT_EV_RETRY_TIMER), AGENT_ACT_NONE);
    assert_int_equal(p, AGENT_PHASE_RUNNING);
    p = AGENT_PHASE_CONNECTING;
    assert_int_equal(agent_sm_step(&p, AGENT_EV_AUTH_FAIL), AGENT_ACT_NONE);
    /* stop from any phase, once */
    for (int ph = AGENT_PHASE_IDLE; ph <= AGENT_PHASE_BACKOFF; ph++) {
        p = (enum agent_phase)ph;
        assert_int_equal(agent_sm_step(&p, AGENT_EV_STOP), AGENT_ACT_TEARDOWN | AGENT_ACT_SHUTDOWN);
        assert_int_equal(p, AGENT_PHASE_STOPPED);
        for (int ev = AGENT_EV_START; ev <= AGENT_EV_STOP; ev++)
            assert_int_equal(agent_sm_step(&p, (enum agent_event)ev), AGENT_ACT_NONE);
    }
    assert_string_equal(agent_phase_name(AGENT_PHASE_BACKOFF), "backoff");
}

/* ---- backoff ---- */

static void test_agent_logic__backoff_bounds(void **state)
{
    (void)state;
    assert_int_equal(agent_backoff_ms(10000, 0), 10000);
    assert_int_equal(agent_backoff_ms(10000, 3000), 13000);
    assert_int_equal(agent_backoff_ms(10000, 3001), 10000);
    assert_int_equal(agent_backoff_ms(0, 12345), 0);
    assert_int_equal(agent_backoff_ms(200, 60), 260); /* jitter scales: 30 % of small bases */
    assert_int_equal(agent_backoff_ms(200, 61), 200);
    assert_int_equal(agent_backoff_ms(600000, 3000), 603000); /* capped at 3 s */
    uint32_t x = 12345;
    unsigned lo = UINT32_MAX, hi = 0;
    for (int i = 0; i < 100000; i++) {
        x = x * 1103515245u + 12345u;
        unsigned d = agent_backoff_ms(10000, x);
        assert_true(d >= 10000 && d <= 13000);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    assert_true(lo < 10100 && hi > 12900); /* the range is actually used */
}

static void test_agent_logic__retry_env(void **state)
{
    (void)state;
    unsigned v;
    assert_int_equal(agent_retry_base_ms(NULL, &v), 0);
    assert_int_equal(v, 10000);
    assert_int_equal(agent_retry_base_ms("250", &v), 0);
    assert_int_equal(v, 250);
    assert_int_equal(agent_retry_base_ms("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(agent_retry_base_ms("abc", &v), -EINVAL);
    assert_int_equal(v, 10000);
    assert_int_equal(agent_retry_base_ms("600001", &v), -EINVAL);
    assert_int_equal(agent_retry_base_ms("-1", &v), -EINVAL);
    assert_int_equal(agent_retry_base_ms("", &v), -EINVAL);
}

/* ---- host refresh ---- */

static void test_agent_logic__host_refresh_collapsing(void **state)
{
    (void)state;
    struct agent_hostrefresh h;
    memset(&h, 0, sizeof(h));
    assert_true(agent_hostrefresh_due(&h, 5)); /* never reported: due at the first tick */
    assert_int_equal(agent_hostrefresh_begin(&h), 1);
    /* a type-10 task and the IP change while in flight collapse into it */
    assert_int_equal(agent_hostrefresh_begin(&h), 0);
    assert_int_equal(agent_hostrefresh_begin(&h), 0);
    assert_int_equal(h.collapsed, 2);
    agent_hostrefresh_end(&h, 1, 1000);
    assert_false(agent_hostrefresh_due(&h, 1000));
    assert_false(agent_hostrefresh_due(&h, 1000 + AGENT_HOST_REFRESH_MS - 1));
    assert_true(agent_hostrefresh_due(&h, 1000 + AGENT_HOST_REFRESH_MS));
    /* a failed refresh does not move the timestamp */
    assert_int_equal(agent_hostrefresh_begin(&h), 1);
    agent_hostrefresh_end(&h, 0, 5000);
    assert_int_equal(h.last_ok_ms, 1000);
    assert_int_equal(agent_hostrefresh_begin(&h), 1);
}

/* ---- tasks ---- */

static void test_agent_logic__task_dispatch(void **state)
{
    (void)state;
    struct agent_task_policy pol = {0, 0, 0};
    struct agent_task_decision d;
    /* probes run by default (v0 too): 1-3 and the Lotus types 101, 102 */
    static const uint64_t probes[] = {NEZHA_TASK_HTTP_GET, NEZHA_TASK_ICMP_PING,
                                      NEZHA_TASK_TCP_PING, LOTUS_TASK_HTTP_CHECK, LOTUS_TASK_DNS};
    for (size_t i = 0; i < 5; i++) {
        agent_task_decide(&pol, probes[i], &d);
        assert_int_equal(d.action, AGENT_TASK_PROBE);
        assert_string_equal(d.data, "");
    }
    agent_task_decide(&pol, 100, &d);
    assert_int_equal(d.action, AGENT_TASK_UNKNOWN);
    agent_task_decide(&pol, 103, &d);
    assert_int_equal(d.action, AGENT_TASK_UNKNOWN);
    agent_task_decide(&pol, 4, &d);
    assert_int_equal(d.action, AGENT_TASK_REPORT_FAIL);
    assert_string_equal(d.data, "lotus-agent: task type 4 is not supported yet");
    agent_task_decide(&pol, 7, &d);
    assert_int_equal(d.action, AGENT_TASK_IGNORE);
    agent_task_decide(&pol, 6, &d);
    assert_int_equal(d.action, AGENT_TASK_IGNORE);
    agent_task_decide(&pol, 5, &d);
    assert_int_equal(d.action, AGENT_TASK_IGNORE);
    agent_task_decide(&pol, 10, &d);
    assert_int_equal(d.action, AGENT_TASK_HOST_REFRESH);
    for (uint64_t t = 8; t <= 11; t++) {
        if (t == 10)
            continue;
        agent_task_decide(&pol, t, &d);
        assert_int_equal(d.action, AGENT_TASK_REFUSE);
        assert_string_equal(d.data, "");
    }
    agent_task_decide(&pol, 0, &d);
    assert_int_equal(d.action, AGENT_TASK_UNKNOWN);
    agent_task_decide(&pol, 12, &d);
    assert_int_equal(d.action, AGENT_TASK_UNKNOWN);
    agent_task_decide(&pol, UINT64_MAX, &d);
    assert_int_equal(d.action, AGENT_TASK_UNKNOWN);

    struct agent_task_policy off = {1, 1, 1};
    for (size_t i = 0; i < 5; i++) {
        agent_task_decide(&off, probes[i], &d);
        assert_int_equal(d.action, AGENT_TASK_REPORT_FAIL);
        assert_string_equal(d.data, "此 Agent 已禁止发送请求");
    }
    agent_task_decide(&off, 4, &d);
    assert_int_equal(d.action, AGENT_TASK_REPORT_FAIL);
    assert_string_equal(d.data, "此 Agent 已禁止命令执行");
    agent_task_decide(&off, 9, &d);
    assert_int_equal(d.action, AGENT_TASK_REFUSE);
    assert_non_null(strstr(d.why, "--disable-nat"));
    agent_task_decide(&off, 8, &d);
    assert_non_null(strstr(d.why, "--disable-command-execute"));
}

static void test_agent_logic__log_once(void **state)
{
    (void)state;
    uint64_t m = 0;
    assert_int_equal(agent_logonce(&m, 4), 1);
    assert_int_equal(agent_logonce(&m, 4), 0);
    assert_int_equal(agent_logonce(&m, 8), 1);
    assert_int_equal(agent_logonce(&m, 63), 1);
    assert_int_equal(agent_logonce(&m, 1000), 0); /* shares the overflow bit */
    assert_int_equal(agent_logonce(&m, 0), 1);
}

/* ---- ipdisc ---- */

static const char trace_v4[] = "fl=29f1\nh=blog.cloudflare.com\nip=203.0.113.9\nts=1700000000.1\n"
                               "visit_scheme=https\nuag=Mozilla\ncolo=FRA\n";

static void test_agent_logic__ipdisc_trace_parser(void **state)
{
    (void)state;
    char out[IPDISC_IP_LEN];
    assert_int_equal(ipdisc_parse_trace(trace_v4, strlen(trace_v4), 4, out, sizeof(out)), 0);
    assert_string_equal(out, "203.0.113.9");
    assert_int_equal(ipdisc_parse_trace(trace_v4, strlen(trace_v4), 6, out, sizeof(out)), -ENOENT);
    static const char v6[] = "h=x\r\nip=2001:DB8:0:0::1\r\nloc=DE\r\n";
    assert_int_equal(ipdisc_parse_trace(v6, strlen(v6), 6, out, sizeof(out)), 0);
    assert_string_equal(out, "2001:db8::1"); /* canonical form */
    assert_int_equal(ipdisc_parse_trace(v6, strlen(v6), 4, out, sizeof(out)), -ENOENT);
    /* last line without newline; the body is not NUL-terminated */
    static const char tail[] = "ip=198.51.100.2XXXX";
    assert_int_equal(ipdisc_parse_trace(tail, 15, 4, out, sizeof(out)), 0);
    assert_string_equal(out, "198.51.100.2");
    /* junk, prefixes that only look alike, and over-long values are skipped */
    static const char junk[] =
        "xip=1.2.3.4\nip =1.2.3.4\nip=999.1.1.1\nip=1.2.3.4.5\nip=\n"
        "ip=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n";
    assert_int_equal(ipdisc_parse_trace(junk, strlen(junk), 4, out, sizeof(out)), -ENOENT);
    assert_int_equal(ipdisc_parse_trace("", 0, 4, out, sizeof(out)), -ENOENT);
    /* a NUL inside the line makes it invalid, not truncated */
    static const char nul[] = "ip=1.2.3.4\0junk\n";
    assert_int_equal(ipdisc_parse_trace(nul, sizeof(nul) - 1, 4, out, sizeof(out)), -ENOENT);
    /* first matching line wins; wrong family lines are passed over */
    static const char two[] = "ip=2001:db8::5\nip=192.0.2.5\nip=192.0.2.6\n";
    assert_int_equal(ipdisc_parse_trace(two, strlen(two), 4, out, sizeof(out)), 0);
    assert_string_equal(out, "192.0.2.5");
}

static void test_agent_logic__ipdisc_response_parser(void **state)
{
    (void)state;
    char out[IPDISC_IP_LEN];
    const char *why;
    char resp[2048];
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s",
                     strlen(trace_v4), trace_v4);
    const uint8_t *r = (const uint8_t *)resp;
    assert_int_equal(ipdisc_parse_response(r, (size_t)n, 0, 4, out, sizeof(out), &why), 0);
    assert_string_equal(out, "203.0.113.9");
    /* incomplete: more bytes needed, then a clean error at EOF */
    assert_int_equal(ipdisc_parse_response(r, (size_t)n - 5, 0, 4, out, sizeof(out), &why),
                     -EAGAIN);
    assert_int_equal(ipdisc_parse_response(r, (size_t)n - 5, 1, 4, out, sizeof(out), &why),
                     -EPROTO);
    assert_int_equal(ipdisc_parse_response(r, 20, 0, 4, out, sizeof(out), &why), -EAGAIN);
    assert_int_equal(ipdisc_parse_response(r, 20, 1, 4, out, sizeof(out), &why), -EPROTO);
    assert_int_equal(ipdisc_parse_response(r, (size_t)n, 0, 6, out, sizeof(out), &why), -ENOENT);

    /* chunked, split inside the ip line */
    static const char ch[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "8\r\nh=x\nip=1\r\n"
                             "c;ext=1\r\n92.0.2.77\nz=\r\n"
                             "0\r\n\r\n";
    assert_int_equal(
        ipdisc_parse_response((const uint8_t *)ch, strlen(ch), 0, 4, out, sizeof(out), &why), 0);
    assert_string_equal(out, "192.0.2.77");
    assert_int_equal(
        ipdisc_parse_response((const uint8_t *)ch, strlen(ch) - 7, 0, 4, out, sizeof(out), &why),
        -EAGAIN);
    static const char badch[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    assert_int_equal(
        ipdisc_parse_response((const uint8_t *)badch, strlen(badch), 0, 4, out, sizeof(out), &why),
        -EPROTO);
    static const char hugech[] =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n";
    assert_int_equal(ipdisc_parse_response((const uint8_t *)hugech, strlen(hugech), 0, 4, out,
                                           sizeof(out), &why),
                     -EPROTO);

    /* no length: body ends at EOF */
    static const char eof[] = "HTTP/1.0 200 OK\r\n\r\nip=192.0.2.1\n";
    assert_int_equal(
        ipdisc_parse_response((const uint8_t *)eof, strlen(eof), 0, 4, out, sizeof(out), &why),
        -EAGAIN);
    assert_int_equal(
        ipdisc_parse_response((const uint8_t *)eof, strlen(eof), 1, 4, out, sizeof(out), &why), 0);
    /* non-2xx and garbage */
    static const char e404[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 13\r\n\r\nip=192.0.2.1\n";
    assert_int_equal(
        ipdisc_parse_response((const uint8_t *)e404, strlen(e404), 1, 4, out, sizeof(out), &why),
        -EPROTO);
    assert_string_equal(why, "HTTP status is not 2xx");
    static const char junk[] = "SSH-2.0-OpenSSH\r\n\r\n";
    assert_int_equal(
        ipdisc_parse_response((const uint8_t *)junk, strlen(junk), 1, 4, out, sizeof(out), &why),
        -EPROTO);
    static const char badcl[] = "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\nip=192.0.2.1\n";
    assert_int_equal(
        ipdisc_parse_response((const uint8_t *)badcl, strlen(badcl), 1, 4, out, sizeof(out), &why),
        -EPROTO);
}

static void test_agent_logic__ipdisc_format_and_geoip(void **state)
{
    (void)state;
    char out[IPDISC_RESULT_LEN];
    ipdisc_format("1.2.3.4", "2001:db8::1", out, sizeof(out));
    assert_string_equal(out, "1.2.3.4/2001:db8::1");
    ipdisc_format("1.2.3.4", "", out, sizeof(out));
    assert_string_equal(out, "1.2.3.4");
    ipdisc_format(NULL, "2001:db8::1", out, sizeof(out));
    assert_string_equal(out, "2001:db8::1");
    ipdisc_format("", NULL, out, sizeof(out));
    assert_string_equal(out, "");
    assert_string_equal(ipdisc_geoip_query("1.2.3.4", "::2", 0), "1.2.3.4");
    assert_string_equal(ipdisc_geoip_query("1.2.3.4", "::2", 1), "::2");
    assert_string_equal(ipdisc_geoip_query("", "::2", 0), "::2");
    assert_string_equal(ipdisc_geoip_query("1.2.3.4", "", 1), "1.2.3.4");
    assert_null(ipdisc_geoip_query("", "", 1));
    assert_int_equal(ipdisc_next_delay_s(1800, 1), 1800);
    assert_int_equal(ipdisc_next_delay_s(1800, 0), 60);
    assert_int_equal(ipdisc_next_delay_s(30, 0), 30);
}

/* ---- service ---- */

static void test_agent_logic__service_unit_text(void **state)
{
    (void)state;
    struct agent_flags f;
    char err[256];
    agent_flags_init(&f);
    char *argv[] = {(char *)"x",           (char *)"service",        (char *)"install",
                    (char *)"-s",          (char *)"d.example:5555", (char *)"-p",
                    (char *)"a\"b%c$d\\e", (char *)"--tls",          (char *)"--report-delay",
                    (char *)"3",           (char *)"--gpu=false",    NULL};
    assert_int_equal(agent_flags_parse(&f, 11, argv, err, sizeof(err)), 0);
    struct buf b;
    buf_init(&b, SERVICE_MAX_UNIT);
    assert_int_equal(service_unit_text(&b, "/usr/local/bin/lotus agent", &f), 0);
    assert_non_null(strstr(b.data,
                           "\nExecStart=\"/usr/local/bin/lotus agent\" --server=\"d.example:5555\""
                           " --password=\"a\\\"b%%c$$d\\\\e\" --tls --report-delay=\"3\"\n"));
    assert_null(strstr(b.data, "--gpu"));
    assert_non_null(strstr(b.data, "NoNewPrivileges=yes\n"));
    assert_non_null(strstr(b.data, "ProtectSystem=strict\n"));
    assert_non_null(strstr(b.data, "Restart=always\n"));
    assert_non_null(strstr(b.data, "WantedBy=multi-user.target\n"));

    /* install/uninstall into a test directory: no systemctl is run */
    char dir[] = "/tmp/lotus-systemd-XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(service_install(&f, "/usr/bin/lotus-agent", dir, err, sizeof(err)), 0);
    char path[512];
    snprintf(path, sizeof(path), "%s/lotus-agent.service", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600); /* the unit carries the secret */
    FILE *fp = fopen(path, "r");
    char text[SERVICE_MAX_UNIT];
    size_t n = fread(text, 1, sizeof(text) - 1, fp);
    fclose(fp);
    text[n] = '\0';
    assert_non_null(strstr(text, "ExecStart=\"/usr/bin/lotus-agent\" --server="));
    assert_int_equal(service_uninstall(dir, err, sizeof(err)), 0);
    assert_int_not_equal(stat(path, &st), 0);
    assert_int_equal(service_uninstall(dir, err, sizeof(err)), 0); /* idempotent */
    assert_int_not_equal(service_install(&f, "/x", "/nonexistent/dir", err, sizeof(err)), 0);
    assert_non_null(strstr(err, "cannot write"));
    rmdir(dir);
    buf_release(&b);
    agent_flags_release(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_logic__sm_happy_path_and_retry),
        cmocka_unit_test(test_agent_logic__sm_failures_everywhere),
        cmocka_unit_test(test_agent_logic__backoff_bounds),
        cmocka_unit_test(test_agent_logic__retry_env),
        cmocka_unit_test(test_agent_logic__host_refresh_collapsing),
        cmocka_unit_test(test_agent_logic__task_dispatch),
        cmocka_unit_test(test_agent_logic__log_once),
        cmocka_unit_test(test_agent_logic__ipdisc_trace_parser),
        cmocka_unit_test(test_agent_logic__ipdisc_response_parser),
        cmocka_unit_test(test_agent_logic__ipdisc_format_and_geoip),
        cmocka_unit_test(test_agent_logic__service_unit_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
