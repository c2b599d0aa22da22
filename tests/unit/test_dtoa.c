/*
 * Unit tests of src/core/dtoa: Go encoding/json compatible doubles. Expected
 * float strings were produced from shortest round-trip digits (Python repr,
 * same digits as Go's strconv) laid out with Go's 'f'/'e' rules, and checked
 * against 900k random doubles during development. The differential tests
 * compare the fast path (exact 128-bit integers) with the reference paths
 * (read-back in double, guarded long double, printf/strtod: the algorithm
 * the Go goldens were checked with); dtoa.c is included so that its static
 * functions can be reached (STYLE rule 42).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "core/dtoa.c"
#include "core/jw.h"
#include "testrng.h"

struct dcase {
    double v;
    const char *want;
};

static void test_dtoa__doubles_match_go(void **state)
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
        char out[DTOA_GO_MAX];
        int n = dtoa_format_go(cases[i].v, out);
        assert_int_equal(n, (int)strlen(cases[i].want));
        assert_string_equal(out, cases[i].want);
        /* and it reads back as the same double */
        assert_true(strtod(out, NULL) == cases[i].v);
    }
    char out[DTOA_GO_MAX];
    assert_int_equal(dtoa_format_go(NAN, out), -EINVAL);
    assert_int_equal(dtoa_format_go(INFINITY, out), -EINVAL);
    assert_int_equal(dtoa_format_go(-INFINITY, out), -EINVAL);
}

static void test_dtoa__round_trip_sweep(void **state)
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
        char out[DTOA_GO_MAX];
        int n = dtoa_format_go(v, out);
        if (!isfinite(v)) {
            assert_int_equal(n, -EINVAL);
            continue;
        }
        assert_true(n > 0 && n < DTOA_GO_MAX);
        assert_true(strtod(out, NULL) == v);
    }
}

/* Random doubles per class in test_dtoa__fast_equals_reference. */
#define PER_CLASS 200000

struct counts {
    long checked;
    long fast; /* how many of them the exact 128-bit path decided */
};

/* Formats v on both paths and fails with both strings if they differ. */
static void check(double v, struct counts *c)
{
    char fast[DTOA_GO_MAX];
    char ref[DTOA_GO_MAX];
    int nf = dtoa_format_go(v, fast);
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
    c->fast += a > 0 && shortest_exact_u128(a, &n, &k);
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

static void test_dtoa__edges(void **state)
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
    /* NaN and infinities: an error from dtoa_format_go, nothing from jw_put_double */
    const double bad[] = {NAN, -NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < 4; i++) {
        char out[DTOA_GO_MAX] = "x";
        assert_int_equal(dtoa_format_go(bad[i], out), -EINVAL);
        assert_ptr_equal(jw_put_double(out, bad[i]), out);
        assert_int_equal(out[0], 'x');
    }
    assert_true(c.fast > 200);
}

static void test_dtoa__fast_equals_reference(void **state)
{
    (void)state;
    struct rng r = {0x243F6A8885A308D3ull};
    struct counts c = {0, 0};
    for (int i = 0; i < PER_CLASS; i++) {
        /* uniform bits with the exponent in and around the exact path's range */
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
    print_message("# %ld doubles compared, %ld through the exact 128-bit path\n", c.checked,
                  c.fast);
    assert_true(c.checked >= 5 * PER_CLASS);
    assert_true(c.fast >= 4 * PER_CLASS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtoa__doubles_match_go),
        cmocka_unit_test(test_dtoa__round_trip_sweep),
        cmocka_unit_test(test_dtoa__edges),
        cmocka_unit_test(test_dtoa__fast_equals_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
