/*
 * Differential tests of the fast paths of src/core/jw against its reference
 * paths: tier E of the double formatter (exact 128-bit integers) against
 * tiers A-C (the algorithm the Go goldens were checked with), the forward
 * integer writer against snprintf, and the word-at-a-time string escaper
 * against a byte-at-a-time reference. jw.c is included so that its static
 * functions can be reached (STYLE rule 42).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "core/jw.c"

/* Random doubles per class in test_jw_float__fast_equals_reference. */
#define PER_CLASS 200000

struct rng {
    uint64_t x;
};

static uint64_t next(struct rng *r)
{
    r->x ^= r->x << 13;
    r->x ^= r->x >> 7;
    r->x ^= r->x << 17;
    return r->x;
}

struct counts {
    long checked;
    long fast; /* how many of them tier E decided */
};

/* Formats v on both paths and fails with both strings if they differ. */
static void check(double v, struct counts *c)
{
    char fast[JW_DOUBLE_MAX];
    char ref[JW_DOUBLE_MAX];
    int nf = jw_format_double(v, fast);
    if (!isfinite(v)) {
        assert_int_equal(nf, -EINVAL);
        return;
    }
    char *e = format_double(ref, v, 0);
    *e = '\0';
    if (nf != (int)(e - ref) || strcmp(fast, ref) != 0) {
        uint64_t bits;
        memcpy(&bits, &v, sizeof(bits));
        fail_msg("%.17g (bits %016llx): fast \"%s\" != reference \"%s\"", v,
                 (unsigned long long)bits, fast, ref);
    }
    uint64_t n = 0;
    int k = 0;
    double a = fabs(v);
    c->fast += a > 0 && shortest_e(a, &n, &k);
    c->checked++;
}

static double from_bits(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof(v));
    return v;
}

static void check_neighbours(double v, struct counts *c)
{
    check(v, c);
    check(nextafter(v, 0.0), c);
    check(nextafter(v, INFINITY), c);
}

static void test_jw_float__edges(void **state)
{
    (void)state;
    struct counts c = {0, 0};
    static const double edges[] = {0.0,
                                   -0.0,
                                   1e21,
                                   1e-7,
                                   1e-6,
                                   5e-324,
                                   2.2250738585072014e-308,
                                   2.225073858507201e-308, /* largest subnormal */
                                   1.7976931348623157e308,
                                   9007199254740992.0, /* 2^53 */
                                   9007199254740991.0,
                                   4503599627370496.0, /* 2^52 */
                                   4503599627370497.5,
                                   12.5,
                                   99.99,
                                   0.1 + 0.2,
                                   1.0 / 3.0,
                                   66.66666666666666,
                                   17.330210772540017,
                                   5.23486328125,
                                   0x1p-13,
                                   0x1p-14,
                                   1.2e-4,
                                   1e23,
                                   100.0,
                                   1e15,
                                   123456789012345678.0};
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        check_neighbours(edges[i], &c);
        check_neighbours(-edges[i], &c);
    }
    /* every power of two and ten the doubles hold, with neighbours */
    for (int e = -1074; e <= 1023; e++)
        check_neighbours(ldexp(1.0, e), &c);
    for (int e = -323; e <= 308; e++)
        check_neighbours(pow(10.0, e), &c);
    /* NaN and infinities: an error from jw_format_double, nothing from jw_put_double */
    const double bad[] = {NAN, -NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < 4; i++) {
        char out[JW_DOUBLE_MAX] = "x";
        assert_int_equal(jw_format_double(bad[i], out), -EINVAL);
        assert_ptr_equal(jw_put_double(out, bad[i]), out);
        assert_int_equal(out[0], 'x');
    }
    assert_true(c.fast > 200);
}

static void test_jw_float__fast_equals_reference(void **state)
{
    (void)state;
    struct rng r = {0x243F6A8885A308D3ull};
    struct counts c = {0, 0};
    for (int i = 0; i < PER_CLASS; i++) {
        /* uniform bits with the exponent in and around tier E's range */
        uint64_t m = next(&r) & 0xFFFFFFFFFFFFFull;
        uint64_t e = 1075 - 16 + next(&r) % 72; /* 2^-16 .. 2^55 */
        check(from_bits(e << 52 | m), &c);
        /* short decimals: temperatures, percentages, load averages */
        uint64_t x = next(&r);
        check((double)(x % 1000000) / pow10_tab[x % 7], &c);
        /* metric-like: a ratio times 100, 1/2048 steps, byte counts */
        check((double)(x % 1000000007ull) / 1000000007.0 * 100.0, &c);
        check((double)(x % 8192) / 2048.0, &c);
        /* one ulp around a short decimal (the interval edges) */
        double d = (double)(x % 100000) / pow10_tab[(x >> 20) % 6];
        check(nextafter(d, (x >> 40) & 1 ? INFINITY : 0.0), &c);
        /* any bit pattern at all (mostly the slow reference path on both
         * sides, so fewer) */
        if (i % 16 == 0)
            check(from_bits(next(&r)), &c);
    }
    print_message("# %ld doubles compared, %ld through tier E\n", c.checked, c.fast);
    assert_true(c.checked >= 5 * PER_CLASS);
    assert_true(c.fast >= 4 * PER_CLASS);
}

static void test_jw_float__integers(void **state)
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
            v = pow10_u64[(i - 64 * 3) / 3] + (uint64_t)((i - 64 * 3) % 3) - 1;
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

static void test_jw_float__strings_word_at_a_time(void **state)
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

static void test_jw_float__reserve_near_max(void **state)
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
        cmocka_unit_test(test_jw_float__edges),
        cmocka_unit_test(test_jw_float__fast_equals_reference),
        cmocka_unit_test(test_jw_float__integers),
        cmocka_unit_test(test_jw_float__strings_word_at_a_time),
        cmocka_unit_test(test_jw_float__reserve_near_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
