/*
 * Unit tests of src/core/jw: Go encoding/json compatible output. Expected
 * float strings were produced from shortest round-trip digits (Python repr,
 * same digits as Go's strconv) laid out with Go's 'f'/'e' rules, and checked
 * against 900k random doubles during development.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/jw.h"

struct dcase {
    double v;
    const char *want;
};

static void test_jw__doubles_match_go(void **state)
{
    (void)state;
    static const struct dcase cases[] = {
        {0.0, "0"},
        {-0.0, "-0"},
        {12.5, "12.5"},
        {17.330210772540017, "17.330210772540017"},
        {5.23486328125, "5.23486328125"},
        {4.873046875, "4.873046875"},
        {3.99267578125, "3.99267578125"},
        {1e+21, "1e+21"},
        {1e-07, "1e-7"},
        {123456789.0, "123456789"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1e+20, "100000000000000000000"},
        {1e-06, "0.000001"},
        {9.99e-7, "9.99e-7"},
        {5e-324, "5e-324"},
        {1.7976931348623157e+308, "1.7976931348623157e+308"},
        {5.960464477539063e-08, "5.960464477539063e-8"}, /* 2^-24: asymmetric interval */
        {100.0, "100"},
        {-3.25, "-3.25"},
        {1.234e-06, "0.000001234"},
        {1.2345678901234568e+20, "123456789012345680000"},
        {-1e-10, "-1e-10"},
        {9007199254740992.0, "9007199254740992"},
        {45.8, "45.8"},
        {1.1805916207174113e+21, "1.1805916207174113e+21"},
        {1.0 / 3.0, "0.3333333333333333"},
        {66.66666666666666, "66.66666666666666"},
        {1e+23, "1e+23"},
        {18446744073709551615.0, "18446744073709552000"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[JW_DOUBLE_MAX];
        int n = jw_format_double(cases[i].v, out);
        assert_int_equal(n, (int)strlen(cases[i].want));
        assert_string_equal(out, cases[i].want);
        /* and it reads back as the same double */
        assert_true(strtod(out, NULL) == cases[i].v);
    }
    char out[JW_DOUBLE_MAX];
    assert_int_equal(jw_format_double(NAN, out), -EINVAL);
    assert_int_equal(jw_format_double(INFINITY, out), -EINVAL);
    assert_int_equal(jw_format_double(-INFINITY, out), -EINVAL);
}

static void test_jw__round_trip_sweep(void **state)
{
    (void)state;
    /* Deterministic pseudo-random bit patterns: output must read back exactly. */
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        memcpy(&v, &x, sizeof(v));
        char out[JW_DOUBLE_MAX];
        int n = jw_format_double(v, out);
        if (!isfinite(v)) {
            assert_int_equal(n, -EINVAL);
            continue;
        }
        assert_true(n > 0 && n < JW_DOUBLE_MAX);
        assert_true(strtod(out, NULL) == v);
    }
}

static const char *render_str(struct buf *b, const char *s, size_t n)
{
    buf_reset(b);
    assert_int_equal(jw_append_string(b, s, n), 0);
    return b->data;
}

static void test_jw__string_escaping(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 0);
    assert_string_equal(render_str(&b, "plain", 5), "\"plain\"");
    assert_string_equal(render_str(&b, "<a href=\"x\">&</a>", 17),
                        "\"\\u003ca href=\\\"x\\\"\\u003e\\u0026\\u003c/a\\u003e\"");
    assert_string_equal(render_str(&b, "a\\b", 3), "\"a\\\\b\"");
    assert_string_equal(render_str(&b, "\n\r\t\b\f", 5), "\"\\n\\r\\t\\b\\f\"");
    assert_string_equal(render_str(&b, "\x01\x1f\x7f", 3), "\"\\u0001\\u001f\x7f\"");
    assert_string_equal(render_str(&b, "a\0b", 3), "\"a\\u0000b\"");
    /* valid UTF-8 raw; U+2028/2029 escaped */
    assert_string_equal(render_str(&b, "香港 \xF0\x9F\x98\x80", 11), "\"香港 \xF0\x9F\x98\x80\"");
    assert_string_equal(render_str(&b, "x\xE2\x80\xA8y\xE2\x80\xA9", 8), "\"x\\u2028y\\u2029\"");
    /* invalid UTF-8: one \ufffd per bad byte, like Go */
    assert_string_equal(render_str(&b, "\xff", 1), "\"\\ufffd\"");
    assert_string_equal(render_str(&b, "a\xE2\x82", 3), "\"a\\ufffd\\ufffd\"");
    assert_string_equal(render_str(&b, "\xC0\xAF", 2), "\"\\ufffd\\ufffd\"");         /* overlong */
    assert_string_equal(render_str(&b, "\xED\xA0\x80", 3), "\"\\ufffd\\ufffd\\ufffd\""); /* surrogate */
    assert_string_equal(render_str(&b, "\xF4\x90\x80\x80", 4),
                        "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > U+10FFFF */
    assert_string_equal(render_str(&b, "\xC3\xA9", 2), "\"\xC3\xA9\"");
    buf_release(&b);
}

static void test_jw__structure_and_numbers(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 0);
    struct jw w;
    jw_init(&w, &b);
    jw_obj_begin(&w);
    jw_key(&w, "a");
    jw_u64(&w, 18446744073709551615ull);
    jw_key(&w, "b");
    jw_i64(&w, INT64_MIN);
    jw_key(&w, "c");
    jw_arr_begin(&w);
    jw_i64(&w, -1);
    jw_bool(&w, 1);
    jw_bool(&w, 0);
    jw_null(&w);
    jw_double(&w, 0.5);
    jw_str(&w, NULL);
    jw_obj_begin(&w);
    jw_obj_end(&w);
    jw_arr_begin(&w);
    jw_arr_end(&w);
    jw_raw(&w, "{\"x\":1}", 7);
    jw_arr_end(&w);
    jw_key(&w, "<k>");
    jw_i64(&w, 0);
    jw_obj_end(&w);
    assert_int_equal(jw_finish(&w), 0);
    assert_string_equal(b.data, "{\"a\":18446744073709551615,\"b\":-9223372036854775808,"
                                "\"c\":[-1,true,false,null,0.5,\"\",{},[],{\"x\":1}],"
                                "\"\\u003ck\\u003e\":0}");
    buf_release(&b);
}

static void test_jw__sticky_errors(void **state)
{
    (void)state;
    struct buf b;
    /* buffer limit */
    buf_init(&b, 8);
    struct jw w;
    jw_init(&w, &b);
    jw_arr_begin(&w);
    jw_str(&w, "0123456789");
    jw_u64(&w, 1);
    jw_arr_end(&w);
    assert_int_equal(jw_finish(&w), -E2BIG);
    buf_release(&b);

    /* NaN is an error and later writes are no-ops */
    buf_init(&b, 0);
    jw_init(&w, &b);
    jw_arr_begin(&w);
    jw_double(&w, NAN);
    size_t len = b.len;
    jw_u64(&w, 1);
    jw_arr_end(&w);
    assert_int_equal(jw_finish(&w), -EINVAL);
    assert_int_equal(b.len, len);

    /* misuse: value without key in an object, unbalanced end, unclosed */
    buf_reset(&b);
    jw_init(&w, &b);
    jw_obj_begin(&w);
    jw_u64(&w, 1);
    assert_int_equal(jw_finish(&w), -EINVAL);
    buf_reset(&b);
    jw_init(&w, &b);
    jw_arr_end(&w);
    assert_int_equal(jw_finish(&w), -EINVAL);
    buf_reset(&b);
    jw_init(&w, &b);
    jw_arr_begin(&w);
    assert_int_equal(jw_finish(&w), -EINVAL);

    /* depth limit */
    buf_reset(&b);
    jw_init(&w, &b);
    for (int i = 0; i < JW_MAX_DEPTH + 1; i++)
        jw_arr_begin(&w);
    assert_int_equal(jw_finish(&w), -ERANGE);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jw__doubles_match_go),
        cmocka_unit_test(test_jw__round_trip_sweep),
        cmocka_unit_test(test_jw__string_escaping),
        cmocka_unit_test(test_jw__structure_and_numbers),
        cmocka_unit_test(test_jw__sticky_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
