/* Unit tests of the service-monitor decisions (src/dashboard/monitor_logic.c): no sockets, no
 * clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/gotime.h"
#include "dashboard/monitor_logic.h"

#define T0 1717236000000LL /* 2024-06-01 10:00:00 UTC */

static struct monitor_spec spec(int type)
{
    struct monitor_spec m = {.id = 7,
                             .name = "web",
                             .type = type,
                             .target = "http://example.com/",
                             .duration_s = 30,
                             .keyword = "",
                             .dns_rrtype = "",
                             .dns_expect = ""};
    return m;
}

static struct monitor_effects feed(struct monitor_state *s, const struct monitor_spec *m, int ok,
                                   double delay, const char *data, int64_t now)
{
    struct monitor_input in = {.reporter = 3,
                               .reporter_name = "fra",
                               .ok = ok,
                               .delay = delay,
                               .data = data,
                               .now_ms = now};
    struct monitor_effects fx;
    monitor_on_result(s, m, &in, &fx);
    return fx;
}

static void test_monitor_logic__status_thresholds(void **state)
{
    (void)state;
    assert_int_equal(monitor_status_of(0, 0), MONITOR_STATUS_NODATA);
    assert_int_equal(monitor_status_of(29, 1), MONITOR_STATUS_GOOD); /* 96 % */
    assert_int_equal(monitor_status_of(19, 1), MONITOR_STATUS_LOW);  /* 95 % is not > 95 */
    assert_int_equal(monitor_status_of(81, 19), MONITOR_STATUS_LOW);
    assert_int_equal(monitor_status_of(80, 20), MONITOR_STATUS_DOWN); /* 80 % is not > 80 */
    /* v0 judges 0 % as "no data"; a ring of failures is Down here */
    assert_int_equal(monitor_status_of(0, 5), MONITOR_STATUS_DOWN);
    assert_string_equal(monitor_status_text(MONITOR_STATUS_LOW), "Low Availability");
    assert_string_equal(monitor_status_name(MONITOR_STATUS_INIT), "nodata");
}

static void test_monitor_logic__cover_and_lotus_only_tasks(void **state)
{
    (void)state;
    uint64_t skip[] = {2, 5, 9};
    struct monitor_spec m = spec(MONITOR_TYPE_TCP);
    m.target = "db:5432";
    m.skip = skip;
    m.n_skip = 3;
    assert_false(monitor_covers(&m, 5));
    assert_true(monitor_covers(&m, 4));
    m.cover = 1;
    assert_true(monitor_covers(&m, 9));
    assert_false(monitor_covers(&m, 1));

    char data[MONITOR_TASK_DATA_MAX];
    uint64_t type = 0;
    assert_int_equal(monitor_task(&m, 0, &type, data, sizeof(data)), 0);
    assert_int_equal(type, 3);
    assert_string_equal(data, "db:5432");

    struct monitor_spec h = spec(MONITOR_TYPE_HTTP);
    assert_int_equal(monitor_task(&h, 0, &type, data, sizeof(data)), 0);
    assert_int_equal(type, 1);
    assert_string_equal(data, "http://example.com/");
    h.status_min = 200;
    h.status_max = 204;
    h.keyword = "ok";
    h.keyword_absent = 1;
    assert_true(monitor_lotus_only(&h));
    assert_int_equal(monitor_task(&h, 0, &type, data, sizeof(data)), -ENOTSUP);
    assert_int_equal(monitor_task(&h, 1, &type, data, sizeof(data)), 0);
    assert_int_equal(type, MONITOR_TASK_HTTP_CHECK);
    assert_string_equal(data, "http://example.com/\nstatus=200-204\nkeyword=ok\nkeyword_absent=1");

    struct monitor_spec d = spec(MONITOR_TYPE_DNS);
    d.target = "example.com";
    assert_int_equal(monitor_task(&d, 0, &type, data, sizeof(data)), -ENOTSUP);
    assert_int_equal(monitor_task(&d, 1, &type, data, sizeof(data)), 0);
    assert_string_equal(data, "example.com");
    d.dns_expect = "192.0.2.1";
    assert_int_equal(monitor_task(&d, 1, &type, data, sizeof(data)), 0);
    assert_int_equal(type, MONITOR_TYPE_DNS);
    assert_string_equal(data, "example.com ANY 192.0.2.1");
    assert_int_equal(monitor_task(&d, 1, &type, data, 8), -E2BIG);
}

static void test_monitor_logic__targets_and_ranges(void **state)
{
    (void)state;
    const char *why;
    assert_int_equal(monitor_check_target(1, "https://a.example/x?y=1", &why), 0);
    assert_int_equal(monitor_check_target(1, "https://", &why), -EINVAL);
    assert_int_equal(monitor_check_target(1, "http://a b/", &why), -EINVAL);
    assert_int_equal(monitor_check_target(2, "2001:db8::1", &why), 0);
    assert_int_equal(monitor_check_target(2, "a;rm -rf", &why), -EINVAL);
    assert_int_equal(monitor_check_target(3, "[2001:db8::1]:443", &why), 0);
    assert_int_equal(monitor_check_target(3, "host:0", &why), -EINVAL);
    assert_int_equal(monitor_check_target(3, "host", &why), -EINVAL);
    assert_int_equal(monitor_check_target(102, "example.com", &why), 0);
    assert_int_equal(monitor_check_target(4, "x", &why), -EINVAL);
    int lo, hi;
    assert_int_equal(monitor_parse_status_range("", &lo, &hi), 0);
    assert_int_equal(lo + hi, 0);
    assert_int_equal(monitor_parse_status_range("200-299", &lo, &hi), 0);
    assert_int_equal(lo, 200);
    assert_int_equal(hi, 299);
    assert_int_equal(monitor_parse_status_range("299-200", &lo, &hi), -EINVAL);
    assert_int_equal(monitor_parse_status_range("99-200", &lo, &hi), -EINVAL);
    assert_int_equal(monitor_parse_status_range("200-", &lo, &hi), -EINVAL);
    assert_int_equal(monitor_parse_status_range("200-600", &lo, &hi), -EINVAL);
}

static void test_monitor_logic__ping_rows_average_successes_only(void **state)
{
    (void)state;
    struct monitor_ping p = {0};
    struct monitor_row r;
    assert_int_equal(monitor_ping_add(&p, 1, 10, 2, 1000, &r), 0);
    assert_int_equal(monitor_ping_add(&p, 0, 0, 2, 1000, &r), 1);
    assert_true(r.avg_delay == 10); /* v0 would write 5: the failure averaged in as 0 ms */
    assert_int_equal(r.up, 1);
    assert_int_equal(r.down, 1);
    assert_int_equal(monitor_ping_add(&p, 0, 0, 2, 1000, &r), 0);
    assert_int_equal(monitor_ping_add(&p, 0, 0, 2, 1000, &r), 1);
    assert_true(r.avg_delay == 0);
    assert_int_equal(r.down, 2);
    /* capped at maxtcppingvalue */
    assert_int_equal(monitor_ping_add(&p, 1, 5000, 1, 1000, &r), 1);
    assert_true(r.avg_delay == 1000);
}

static void test_monitor_logic__ring_gate_rows_and_status_events(void **state)
{
    (void)state;
    struct monitor_state s;
    memset(&s, 0, sizeof(s));
    struct monitor_spec m = spec(MONITOR_TYPE_TCP);
    m.notify = 1;
    m.duration_s = 10; /* gate: one sample per 10 s */
    int64_t t = T0;
    struct monitor_effects fx = feed(&s, &m, 1, 20, "", t);
    assert_int_equal(fx.status, MONITOR_STATUS_GOOD);
    assert_int_equal(fx.n_events, 0); /* leaving the initial state for Good: no message (v0) */
    /* a second result inside the gate is not taken into the ring */
    feed(&s, &m, 0, 0, "refused", t + 1000);
    uint32_t up, down;
    double avg;
    monitor_ring_counts(&s, &up, &down, &avg);
    assert_int_equal(up, 1);
    assert_int_equal(down, 0);
    /* 28 more successes, then a failure: the 30th sample closes an aggregate row */
    for (int i = 1; i <= 28; i++)
        feed(&s, &m, 1, 20, "", t + i * 10000);
    fx = feed(&s, &m, 0, 0, "refused", t + 29 * 10000);
    assert_true(fx.agg_row);
    assert_int_equal(fx.agg.up, 29);
    assert_int_equal(fx.agg.down, 1);
    assert_true(fx.agg.avg_delay == 20);
    assert_int_equal(fx.status, MONITOR_STATUS_GOOD); /* 96 % */
    assert_int_equal(s.days[MONITOR_DAYS - 1].up, 29);
    /* failures rewrite the ring's slots one by one: Low, then Down with a message */
    int i = 30;
    while (fx.status == MONITOR_STATUS_GOOD)
        fx = feed(&s, &m, 0, 0, "refused", t + (i++) * 10000);
    assert_int_equal(fx.status, MONITOR_STATUS_LOW);
    assert_int_equal(fx.n_events, 1);
    assert_string_equal(fx.ev[0].text, "[Low Availability] web Reporter: fra, Error: refused");
    while (fx.status != MONITOR_STATUS_DOWN)
        fx = feed(&s, &m, 0, 0, "refused", t + (i++) * 10000);
    assert_int_equal(fx.n_events, 1);
    assert_int_equal(fx.ev[0].prev, MONITOR_STATUS_LOW);
    assert_string_equal(fx.ev[0].text, "[Down] web Reporter: fra, Error: refused");
    /* Down repeats are muted by the back-off: none within 15 min, one after */
    fx = feed(&s, &m, 0, 0, "refused", t + (i++) * 10000);
    assert_int_equal(fx.n_events, 0);
    fx = feed(&s, &m, 0, 0, "refused", t + i * 10000 + MONITOR_BACKOFF_FIRST_MS);
    assert_int_equal(fx.n_events, 1);
}

static void test_monitor_logic__first_result_down_is_reported_and_triggers(void **state)
{
    (void)state;
    struct monitor_state s;
    memset(&s, 0, sizeof(s));
    struct monitor_spec m = spec(MONITOR_TYPE_TCP);
    m.notify = 1;
    m.trigger_task = 1;
    struct monitor_effects fx = feed(&s, &m, 0, 0, "timeout", T0);
    assert_int_equal(fx.status, MONITOR_STATUS_DOWN);
    assert_int_equal(fx.n_events, 1); /* out of the initial state straight to Down: reported */
    assert_int_equal(fx.trigger, MONITOR_TRIGGER_NONE); /* never from the initial state */
    /* recover: Good after the failure is rewritten (ring of 1 failure + successes) */
    int i = 1;
    do
        fx = feed(&s, &m, 1, 5, "", T0 + (i++) * 30000);
    while (fx.status != MONITOR_STATUS_GOOD);
    assert_int_equal(fx.trigger, MONITOR_TRIGGER_RECOVER);
    fx = feed(&s, &m, 0, 0, "x", T0 + (i++) * 30000);
    while (fx.status == MONITOR_STATUS_GOOD)
        fx = feed(&s, &m, 0, 0, "x", T0 + (i++) * 30000);
    assert_int_equal(fx.trigger, MONITOR_TRIGGER_FAIL);
    /* without notify: no event texts at all */
    memset(&s, 0, sizeof(s));
    m.notify = 0;
    fx = feed(&s, &m, 0, 0, "timeout", T0);
    assert_int_equal(fx.n_events, 0);
}

static void test_monitor_logic__latency_events(void **state)
{
    (void)state;
    struct monitor_state s;
    memset(&s, 0, sizeof(s));
    struct monitor_spec m = spec(MONITOR_TYPE_ICMP);
    m.latency_notify = 1;
    m.max_latency = 10;
    m.min_latency = 1;
    struct monitor_effects fx = feed(&s, &m, 1, 12.5, "", T0);
    assert_int_equal(fx.n_events, 1);
    assert_string_equal(fx.ev[0].text, "[Latency] web 12.500000 > 10.000000, Reporter: fra");
    fx = feed(&s, &m, 1, 13, "", T0 + 1000);
    assert_int_equal(fx.n_events, 0); /* muted */
    fx = feed(&s, &m, 1, 5, "", T0 + 2000);
    assert_int_equal(fx.n_events, 0); /* back in range: unmuted */
    fx = feed(&s, &m, 1, 12, "", T0 + 3000);
    assert_int_equal(fx.n_events, 1);
    fx = feed(&s, &m, 1, 0.5, "", T0 + 4000);
    assert_string_equal(fx.ev[0].text, "[Latency] web 0.500000 < 1.000000, Reporter: fra");
    /* no bound set: nothing (v0 fires on every result when max is 0) */
    m.max_latency = m.min_latency = 0;
    memset(&s, 0, sizeof(s));
    fx = feed(&s, &m, 1, 99, "", T0);
    assert_int_equal(fx.n_events, 0);
}

static void test_monitor_logic__ssl_expiry_and_change(void **state)
{
    (void)state;
    struct monitor_state s;
    memset(&s, 0, sizeof(s));
    struct monitor_spec m = spec(MONITOR_TYPE_HTTP);
    m.notify = 1;
    /* expires 2024-06-05 12:00:00 UTC: within 7 days of T0 */
    struct monitor_effects fx = feed(&s, &m, 1, 30, "R3|2024-06-05 12:00:00 +0000 UTC", T0);
    assert_int_equal(fx.n_events, 1);
    assert_string_equal(fx.ev[0].text, "[SSL] web The SSL certificate will expire within seven "
                                       "days. Expiration time: 2024-06-05 12:00:00");
    assert_string_equal(s.issuer, "R3");
    assert_true(s.cert_expiry_ms == 1717588800000LL);
    fx = feed(&s, &m, 1, 30, "R3|2024-06-05 12:00:00 +0000 UTC", T0 + 60000);
    assert_int_equal(fx.n_events, 0); /* muted */
    /* a new certificate: issuer and expiry both differ */
    fx = feed(&s, &m, 1, 30, "E5|2024-09-01 00:00:00 +0000 UTC", T0 + 120000);
    assert_int_equal(fx.n_events, 1);
    assert_int_equal(fx.ev[0].kind, MONITOR_EV_SSL_CHANGED);
    assert_string_equal(fx.ev[0].text, "[SSL] web SSL certificate changed, old: R3, 2024-06-05 "
                                       "12:00:00 expired; new: E5, 2024-09-01 00:00:00 expired.");
    /* older agents' error text */
    fx = feed(&s, &m, 0, 0, "SSL证书错误：x509: certificate has expired", T0 + 180000);
    int found = 0;
    for (size_t i = 0; i < fx.n_events; i++)
        found |= fx.ev[i].kind == MONITOR_EV_SSL_FAILED;
    assert_true(found);
    fx = feed(&s, &m, 0, 0, "SSL证书错误：read: i/o timeout", T0 + 190000);
    for (size_t i = 0; i < fx.n_events; i++)
        assert_int_not_equal(fx.ev[i].kind, MONITOR_EV_SSL_FAILED);
}

static void test_monitor_logic__go_time_texts(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(gotime_parse_string("2025-03-01 12:00:00 +0000 UTC", &ms), 0);
    assert_true(ms == 1740830400000LL);
    assert_int_equal(gotime_parse_string("2024-02-29 23:59:59.5 +0800 CST", &ms), 0);
    assert_true(ms == 1709222399500LL); /* 15:59:59.5 UTC */
    assert_int_equal(gotime_parse_string("1969-12-31 23:59:59 -0100 X m=+0.01", &ms), 0);
    assert_true(ms == 3599000LL);
    assert_int_equal(gotime_parse_string("2025-13-01 12:00:00 +0000 UTC", &ms), -EINVAL);
    assert_int_equal(gotime_parse_string("2025-03-01T12:00:00Z", &ms), -EINVAL);
    assert_int_equal(gotime_parse_string("", &ms), -EINVAL);
    char issuer[8];
    assert_int_equal(monitor_parse_cert("Let's Encrypt|2025-03-01 12:00:00 +0000 UTC", issuer,
                                        sizeof(issuer), &ms),
                     0);
    assert_string_equal(issuer, "Let's E"); /* truncated to the buffer */
    assert_int_equal(monitor_parse_cert("no bar here", issuer, sizeof(issuer), &ms), -EINVAL);
    char out[32];
    gotime_datetime(1709222399500LL, 8 * 3600, out, sizeof(out));
    assert_string_equal(out, "2024-02-29 23:59:59");
    gotime_datetime(-1000, 0, out, sizeof(out));
    assert_string_equal(out, "1969-12-31 23:59:59");
}

static void test_monitor_logic__days_roll_and_uptime(void **state)
{
    (void)state;
    struct monitor_state s;
    memset(&s, 0, sizeof(s));
    assert_true(monitor_uptime_30d(&s) < 0);
    int64_t today = monitor_day_of(T0, 0);
    assert_true(monitor_day_of(-1, 0) == -1);
    assert_true(monitor_day_of(T0, 16 * 3600) == today + 1); /* 02:00 the next day at +16 h */
    monitor_days_roll(&s, today);
    struct monitor_row r = {.avg_delay = 10, .up = 9, .down = 1};
    monitor_days_add(&s, today - 1, &r);
    monitor_days_add(&s, today - 30, &r); /* outside the 30 days: ignored */
    assert_int_equal(s.days[MONITOR_DAYS - 2].up, 9);
    assert_true(monitor_uptime_30d(&s) == 90);
    monitor_days_roll(&s, today + 1);
    assert_int_equal(s.days[MONITOR_DAYS - 3].up, 9);
    assert_int_equal(s.days[MONITOR_DAYS - 1].up, 0);
    monitor_days_roll(&s, today); /* a clock that went back changes nothing */
    assert_int_equal(s.days[MONITOR_DAYS - 3].up, 9);
    monitor_days_roll(&s, today + 40);
    assert_true(monitor_uptime_30d(&s) < 0);
}

static void test_monitor_logic__backoff_doubles_to_a_day(void **state)
{
    (void)state;
    struct monitor_backoff b = {0};
    int64_t t = 0;
    assert_true(monitor_backoff_allow(&b, t));
    assert_false(monitor_backoff_allow(&b, t + MONITOR_BACKOFF_FIRST_MS - 1));
    assert_true(monitor_backoff_allow(&b, t += MONITOR_BACKOFF_FIRST_MS));
    assert_false(monitor_backoff_allow(&b, t + 2 * MONITOR_BACKOFF_FIRST_MS - 1));
    for (int i = 0; i < 20; i++)
        assert_true(monitor_backoff_allow(&b, t += MONITOR_BACKOFF_MAX_MS));
    assert_true(b.step_ms == MONITOR_BACKOFF_MAX_MS);
    monitor_backoff_reset(&b);
    assert_true(monitor_backoff_allow(&b, t + 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_monitor_logic__status_thresholds),
        cmocka_unit_test(test_monitor_logic__cover_and_lotus_only_tasks),
        cmocka_unit_test(test_monitor_logic__targets_and_ranges),
        cmocka_unit_test(test_monitor_logic__ping_rows_average_successes_only),
        cmocka_unit_test(test_monitor_logic__ring_gate_rows_and_status_events),
        cmocka_unit_test(test_monitor_logic__first_result_down_is_reported_and_triggers),
        cmocka_unit_test(test_monitor_logic__latency_events),
        cmocka_unit_test(test_monitor_logic__ssl_expiry_and_change),
        cmocka_unit_test(test_monitor_logic__go_time_texts),
        cmocka_unit_test(test_monitor_logic__days_roll_and_uptime),
        cmocka_unit_test(test_monitor_logic__backoff_doubles_to_a_day),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
