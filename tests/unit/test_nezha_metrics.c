/* Unit tests of the State -> metric sample reader (src/proto/nezha_metrics.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "nezha_v0.pb-c.h"
#include "proto/nezha_metrics.h"

static void test_nezha_metrics__every_field_lands_in_its_own_slot(void **state)
{
    (void)state;
    Proto__State st = PROTO__STATE__INIT;
    /* Distinct values, so a field read into the wrong slot shows. */
    st.cpu = 1.5;
    st.mem_used = 2;
    st.swap_used = 3;
    st.disk_used = 4;
    st.net_in_transfer = 5;
    st.net_out_transfer = 6;
    st.net_in_speed = 7;
    st.net_out_speed = 8;
    st.uptime = 9;
    st.load1 = 10.5;
    st.load5 = 11.5;
    st.load15 = 12.5;
    st.tcp_conn_count = 13;
    st.udp_conn_count = 14;
    st.process_count = 15;
    st.gpu = 16.5;
    Proto__StateSensorTemperature t1 = PROTO__STATE__SENSOR_TEMPERATURE__INIT;
    Proto__StateSensorTemperature t2 = PROTO__STATE__SENSOR_TEMPERATURE__INIT;
    t1.name = (char *)"coretemp_package_id_0";
    t1.temperature = 45.5;
    t2.name = NULL;
    t2.temperature = -3;
    Proto__StateSensorTemperature *temps[] = {&t1, &t2};
    st.temperatures = temps;
    st.n_temperatures = 2;
    struct nezha_sample s;
    memset(&s, 0xa5, sizeof(s));
    nezha_metrics_from_state(&st, &s);
    assert_true(s.cpu == 1.5);
    assert_int_equal(s.mem_used, 2);
    assert_int_equal(s.swap_used, 3);
    assert_int_equal(s.disk_used, 4);
    assert_int_equal(s.net_in_transfer, 5);
    assert_int_equal(s.net_out_transfer, 6);
    assert_int_equal(s.net_in_speed, 7);
    assert_int_equal(s.net_out_speed, 8);
    assert_int_equal(s.uptime, 9);
    assert_true(s.load1 == 10.5);
    assert_true(s.load5 == 11.5);
    assert_true(s.load15 == 12.5);
    assert_int_equal(s.tcp_conn_count, 13);
    assert_int_equal(s.udp_conn_count, 14);
    assert_int_equal(s.process_count, 15);
    assert_true(s.gpu == 16.5);
    assert_int_equal(s.n_temps, 2);
    assert_ptr_equal(s.temps[0].name, t1.name); /* borrowed from the State */
    assert_true(s.temps[0].celsius == 45.5);
    assert_string_equal(s.temps[1].name, "");
    assert_true(s.temps[1].celsius == -3);
}

static void test_nezha_metrics__an_empty_state_is_all_zero(void **state)
{
    (void)state;
    Proto__State st = PROTO__STATE__INIT;
    struct nezha_sample s, zero;
    memset(&s, 0xa5, sizeof(s));
    memset(&zero, 0, sizeof(zero));
    nezha_metrics_from_state(&st, &s);
    assert_memory_equal(&s, &zero, sizeof(s));
}

static void test_nezha_metrics__temperatures_past_the_cap_are_dropped(void **state)
{
    (void)state;
    enum { N = NEZHA_SAMPLE_TEMPS_MAX + 3 };
    Proto__StateSensorTemperature t[N];
    Proto__StateSensorTemperature *p[N];
    char names[N][16];
    for (int i = 0; i < N; i++) {
        Proto__StateSensorTemperature init = PROTO__STATE__SENSOR_TEMPERATURE__INIT;
        t[i] = init;
        snprintf(names[i], sizeof(names[i]), "s%d", i);
        t[i].name = names[i];
        t[i].temperature = i;
        p[i] = &t[i];
    }
    Proto__State st = PROTO__STATE__INIT;
    st.temperatures = p;
    st.n_temperatures = N;
    struct nezha_sample s;
    nezha_metrics_from_state(&st, &s);
    assert_int_equal(s.n_temps, NEZHA_SAMPLE_TEMPS_MAX);
    for (int i = 0; i < NEZHA_SAMPLE_TEMPS_MAX; i++) {
        assert_string_equal(s.temps[i].name, names[i]);
        assert_true(s.temps[i].celsius == i);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nezha_metrics__every_field_lands_in_its_own_slot),
        cmocka_unit_test(test_nezha_metrics__an_empty_state_is_all_zero),
        cmocka_unit_test(test_nezha_metrics__temperatures_past_the_cap_are_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
