/*
 * Unit tests of the service-monitor renderers (src/dashboard/api/api_monitors.c): the v0
 * `/api/v1/monitor/:id` body byte for byte (docs/protocol.md §5.3 MonitorInfo, Go's float32
 * text of avg_delay, times truncated to the minute) and the /api/service days; plus the
 * float32 formatter they use (core/dtoa).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/dtoa.h"
#include "core/gotime.h"
#include "core/jw.h"
#include "dashboard/api/api_monitors.h"
#include "dashboard/live.h"
#include "dashboard/monitor.h"
#include "dashboard/store.h"

static void f32_text(float f, char *out)
{
    dtoa_format_go(dtoa_f32_value(f), out);
}

static void test_api_monitors__float32_like_go(void **state)
{
    (void)state;
    char s[DTOA_GO_MAX];
    f32_text(1.0f / 3.0f, s);
    assert_string_equal(s, "0.33333334");
    f32_text(12.3456789f, s);
    assert_string_equal(s, "12.345679");
    f32_text(0.1f, s);
    assert_string_equal(s, "0.1");
    f32_text(1e-7f, s);
    assert_string_equal(s, "1e-7");
    f32_text(123456789.0f, s);
    assert_string_equal(s, "123456790");
    f32_text(1000.0f, s);
    assert_string_equal(s, "1000");
    f32_text(0.0f, s);
    assert_string_equal(s, "0");
}

struct fixture {
    struct live lv;
    struct monitors mon;
    struct monitor_entry e1, e2;
    struct monitor_entry *v[2];
};

static void setup_fixture(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    live_init(&f->lv);
    struct store_server row = {.id = 3,
                               .name = (char *)"fra",
                               .tag = (char *)"eu",
                               .secret = (char *)"AbCdEfGhIjKlMnOpQr"};
    live_upsert(&f->lv, &row);
    f->e1.def.id = 1;
    f->e1.def.name = (char *)"ping \"v6\"";
    f->e2.def.id = 2;
    f->e2.def.name = (char *)"tcp";
    f->v[0] = &f->e1;
    f->v[1] = &f->e2;
    f->mon.v = f->v;
    f->mon.n = 2;
}

static char *render_v1(struct fixture *f, const struct store_monitor_point *p, size_t n)
{
    struct buf b;
    buf_init(&b, 0);
    struct jw jw;
    jw_init(&jw, &b);
    api_monitors_render_v1(&jw, &f->mon, &f->lv, 3, p, n);
    assert_int_equal(jw_finish(&jw), 0);
    char *s = strdup(b.data);
    buf_release(&b);
    return s;
}

static void test_api_monitors__v1_body_is_v0s(void **state)
{
    (void)state;
    struct fixture f;
    setup_fixture(&f);
    struct store_monitor_point p[] = {
        {.monitor_id = 1, .server_id = 3, .created_at = 1717236059999, .avg_delay = 1.0 / 3},
        {.monitor_id = 1, .server_id = 3, .created_at = 1717236060000, .avg_delay = 12.5},
        {.monitor_id = 2, .server_id = 3, .created_at = 1717236123456, .avg_delay = 0},
        {.monitor_id = 9, .server_id = 3, .created_at = 1717236180000, .avg_delay = 1000},
    };
    char *s = render_v1(&f, p, 4);
    assert_string_equal(
        s,
        "[{\"monitor_id\":1,\"server_id\":3,\"monitor_name\":\"ping \\\"v6\\\"\",\"server_name\":"
        "\"fra\",\"created_at\":[1717236000000,1717236060000],\"avg_delay\":[0.33333334,12.5]},"
        "{\"monitor_id\":2,\"server_id\":3,\"monitor_name\":\"tcp\",\"server_name\":\"fra\","
        "\"created_at\":[1717236120000],\"avg_delay\":[0]},"
        "{\"monitor_id\":9,\"server_id\":3,\"monitor_name\":\"\",\"server_name\":\"fra\","
        "\"created_at\":[1717236180000],\"avg_delay\":[1000]}]");
    free(s);
    s = render_v1(&f, NULL, 0);
    assert_string_equal(s, "null");
    free(s);
    live_release(&f.lv);
}

static void test_api_monitors__service_days_include_the_open_ring(void **state)
{
    (void)state;
    struct fixture f;
    setup_fixture(&f);
    int64_t now = 1717236000000LL;
    int off = monitors_tz_offset(now);
    f.e1.def.enable_show_in_service = 1;
    f.e1.def.type = 3;
    monitor_days_roll(&f.e1.st, monitor_day_of(now, off));
    struct monitor_row r = {.avg_delay = 10, .up = 29, .down = 1};
    monitor_days_add(&f.e1.st, monitor_day_of(now, off) - 2, &r);
    /* two samples in the open ring: one success of 20 ms, one failure */
    f.e1.st.ok[0] = 1;
    f.e1.st.delay[0] = 20;
    f.e1.st.used[0] = 1;
    f.e1.st.used[1] = 1;
    f.e1.st.idx = 2;
    struct buf b;
    buf_init(&b, 0);
    struct jw jw;
    jw_init(&jw, &b);
    api_monitors_render_service(&jw, &f.mon, now);
    assert_int_equal(jw_finish(&jw), 0);
    json_error_t e;
    json_t *j = json_loads(b.data, 0, &e);
    assert_non_null(j);
    assert_int_equal(json_array_size(j), 1); /* monitor 2 is not shown in service */
    json_t *m = json_array_get(j, 0);
    assert_string_equal(json_string_value(json_object_get(m, "status")), "down"); /* 1 of 2 */
    json_t *days = json_object_get(m, "days");
    assert_int_equal(json_array_size(days), 30);
    json_t *today = json_array_get(days, 29), *two_ago = json_array_get(days, 27);
    assert_int_equal(json_integer_value(json_object_get(today, "up")), 1);
    assert_int_equal(json_integer_value(json_object_get(today, "down")), 1);
    assert_true(json_number_value(json_object_get(today, "avg_delay")) == 20);
    assert_int_equal(json_integer_value(json_object_get(two_ago, "up")), 29);
    assert_true(json_number_value(json_object_get(two_ago, "avg_delay")) == 10);
    int64_t d29 = json_integer_value(json_object_get(today, "day"));
    int64_t d28 = json_integer_value(json_object_get(json_array_get(days, 28), "day"));
    assert_true(d29 - d28 == 86400000LL && d29 <= now && now - d29 < 86400000LL);
    char want[32];
    gotime_datetime(now, off, want, sizeof(want));
    want[10] = '\0';
    assert_string_equal(json_string_value(json_object_get(today, "date")), want);
    /* 30 of 32 samples up */
    assert_true(json_number_value(json_object_get(m, "uptime_30d")) == 30.0 * 100 / 32);
    assert_true(json_is_null(json_object_get(m, "ssl")));
    json_decref(j);
    buf_release(&b);
    live_release(&f.lv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_monitors__float32_like_go),
        cmocka_unit_test(test_api_monitors__v1_body_is_v0s),
        cmocka_unit_test(test_api_monitors__service_days_include_the_open_ring),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
