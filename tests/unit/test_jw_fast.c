/*
 * Differential tests of the fast paths of src/core/jw against reference
 * implementations: the forward integer writer (core/itoa.h) against
 * snprintf, and the word-at-a-time string escaper against a byte-at-a-time
 * reference (the double formatter's are in test_dtoa.c). jw.c is included
 * so that its static functions can be reached (STYLE rule 42).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "core/jw.c"
#include "testrng.h"

static void test_jw_fast__integers(void **state)
{
    (void)state;
    char want[32];
    char got[JW_INT_BOUND + 1];
    struct rng r = {0x13198A2E03707344ull};
    for (int i = 0; i < 200000; i++) {
        uint64_t v;
        if (i < 64 * 3) /* around every power of two */
            v = (1ull << (i / 3)) + (uint64_t)(i % 3) - 1;
        else if (i < 64 * 3 + 20 * 3) /* around every power of ten */
            v = itoa_pow10[(i - 64 * 3) / 3] + (uint64_t)((i - 64 * 3) % 3) - 1;
        else
            v = next(&r) >> (next(&r) % 64);
        char *e = jw_put_u64(got, v);
        *e = '\0';
        snprintf(want, sizeof(want), "%llu", (unsigned long long)v);
        assert_string_equal(got, want);
        e = jw_put_i64(got, (int64_t)v);
        *e = '\0';
        snprintf(want, sizeof(want), "%lld", (long long)(int64_t)v);
        assert_string_equal(got, want);
    }
    char *e = jw_put_u64(got, UINT64_MAX);
    assert_int_equal(e - got, 20);
    e = jw_put_i64(got, INT64_MIN);
    assert_int_equal(e - got, 20);
}

/* Byte-at-a-time reference escaper (Go encoding/json rules, see jw.h). */
static void ref_string(struct buf *b, const unsigned char *s, size_t n)
{
    buf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        unsigned cp = 0;
        size_t l = c >= 0x80 ? utf8_seq(s + i, n - i, &cp) : 0;
        if (c >= 0x80 && !l) {
            buf_puts(b, "\\ufffd");
            i++;
        } else if (l && (cp == 0x2028 || cp == 0x2029)) {
            buf_printf(b, "\\u%04x", cp);
            i += l;
        } else if (l) {
            buf_append(b, s + i, l);
            i += l;
        } else if (c == '"' || c == '\\') {
            buf_putc(b, '\\');
            buf_putc(b, (char)c);
            i++;
        } else if (c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f') {
            buf_putc(b, '\\');
            buf_putc(b, "nrtbf"[strchr("\n\r\t\b\f", (int)c) - "\n\r\t\b\f"]);
            i++;
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            buf_printf(b, "\\u%04x", c);
            i++;
        } else {
            buf_putc(b, (char)c);
            i++;
        }
    }
    buf_putc(b, '"');
}

static void check_string(const unsigned char *s, size_t n)
{
    struct buf want;
    struct buf got;
    buf_init(&want, 0);
    buf_init(&got, 0);
    ref_string(&want, s, n);
    assert_int_equal(jw_append_string(&got, (const char *)s, n), 0);
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, want.len);
    assert_true(got.len <= JW_STR_BOUND(n));
    buf_release(&want);
    buf_release(&got);
}

static void test_jw_fast__strings_word_at_a_time(void **state)
{
    (void)state;
    unsigned char s[40];
    /* every byte value at every position of clean text, across word edges */
    for (unsigned c = 0; c < 256; c++) {
        for (size_t pos = 0; pos < 24; pos++) {
            memset(s, 'a', sizeof(s));
            s[pos] = (unsigned char)c;
            check_string(s, 24);
            check_string(s, pos + 1);
        }
    }
    /* random mixes of ASCII, specials, UTF-8 (valid, U+2028/9, broken) */
    static const char *pieces[] = {"abcdefgh",
                                   "<",
                                   ">",
                                   "&",
                                   "\"",
                                   "\\",
                                   "\n",
                                   "\x01",
                                   "\x7f",
                                   "香港",
                                   "\xE2\x80\xA8",
                                   "\xE2\x80\xA9",
                                   "\xF0\x9F\x98\x80",
                                   "\xff",
                                   "\xC0\xAF",
                                   "\xED\xA0\x80",
                                   "\xE2\x82",
                                   " ",
                                   "é"};
    struct rng r = {0xA4093822299F31D0ull};
    for (int i = 0; i < 20000; i++) {
        struct buf in;
        buf_init(&in, 0);
        int parts = (int)(next(&r) % 12);
        for (int p = 0; p < parts; p++)
            buf_puts(&in, pieces[next(&r) % (sizeof(pieces) / sizeof(pieces[0]))]);
        check_string((const unsigned char *)in.data, in.len);
        buf_release(&in);
    }
    /* the worst case fills the bound exactly */
    memset(s, 1, sizeof(s));
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(jw_append_string(&b, (const char *)s, sizeof(s)), 0);
    assert_int_equal(b.len, JW_STR_BOUND(sizeof(s)));
    buf_release(&b);
}

static void test_jw_fast__reserve_near_max(void **state)
{
    (void)state;
    /* the worst case (6 * 10 + 2) does not fit under max 20, the real 12 bytes do */
    struct buf b;
    buf_init(&b, 20);
    assert_int_equal(jw_append_string(&b, "0123456789", 10), 0);
    assert_string_equal(b.data, "\"0123456789\"");
    assert_null(jw_reserve(&b, 9));
    assert_int_equal(b.err, 0);
    assert_int_equal(jw_append_string(&b, "0123456789", 10), -E2BIG);
    assert_string_equal(b.data, "\"0123456789\"");
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jw_fast__integers),
        cmocka_unit_test(test_jw_fast__strings_word_at_a_time),
        cmocka_unit_test(test_jw_fast__reserve_near_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
