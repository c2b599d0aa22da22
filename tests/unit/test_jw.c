/*
 * Unit tests of src/core/jw: Go encoding/json compatible output (the double
 * formatter's own tests are in test_dtoa.c).
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
    assert_string_equal(render_str(&b, "\xC0\xAF", 2), "\"\\ufffd\\ufffd\""); /* overlong */
    assert_string_equal(render_str(&b, "\xED\xA0\x80", 3),
                        "\"\\ufffd\\ufffd\\ufffd\""); /* surrogate */
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
        cmocka_unit_test(test_jw__string_escaping),
        cmocka_unit_test(test_jw__structure_and_numbers),
        cmocka_unit_test(test_jw__sticky_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
