/*
 * dtoa: Go-compatible shortest round-trip formatting of doubles (see dtoa.h).
 *
 * The shortest digits are found by the first of four paths that decides,
 * fastest first (each function below says when it applies and why its
 * answer is right):
 *  1. shortest_exact_u128: exact 128-bit integer interval arithmetic for
 *     normal 2^-13 <= v < 2^53 (nearly every metric);
 *  2. shortest_readback_f64: for the others in [1e-7, 2^53), the nearest
 *     n*10^-k in exact double arithmetic (fma residual), checked by reading
 *     it back;
 *  3. shortest_guarded_ld: x87 long double interval test with a guard band
 *     for the 16/17-digit cases 2 cannot reach (declines when too close);
 *  4. shortest_printf_strtod: snprintf("%.*e") + strtod at precision 1..17.
 * Paths 2-4 are also the reference that the unit tests compare path 1 with.
 */
#include "dtoa.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itoa.h"

#define TWO53 9007199254740992.0

static const double pow10_tab[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/*
 * Significant digits of n*10^-k into d (no trailing zeros); *dp is the
 * decimal point position (value = 0.d1d2... * 10^dp). Returns the digit count.
 */
static int digits_from_u64(uint64_t n, int k, char *d, int *dp)
{
    int len = (int)(itoa_put_u64(d, n) - d);
    *dp = len - k;
    while (len > 1 && d[len - 1] == '0')
        len--;
    return len;
}

/* True when v (finite, > 0, normal) has an all-zero mantissa. */
static int is_pow2(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    return (bits & 0xFFFFFFFFFFFFFull) == 0 && (bits >> 52) != 0;
}

/*
 * The read-back test at one k: the digit count if the integer n nearest to
 * v*10^k, taken as n*10^-k, reads back as v (else 0). Correct because n and
 * 10^k (k <= 22) are exact doubles while n < 2^53, so the division n / 10^k
 * is the correctly rounded value of the decimal n*10^-k, which is exactly
 * what a parser (strtod, Go's ParseFloat) returns for it. fma gives the
 * exact residual of v*10^k - n, so n is the true nearest integer.
 */
static int readback_f64_at(double v, int k, char *d, int *dp)
{
    double p = pow10_tab[k];
    double t = v * p;                      /* 0 < t < 2^53 */
    double n = (double)(int64_t)(t + 0.5); /* inline rounding; fma below fixes off-by-one */
    double r = fma(v, p, -n);
    if (r > 0.5)
        n += 1.0;
    else if (r < -0.5)
        n -= 1.0;
    if (n > 0 && n / p == v)
        return digits_from_u64((uint64_t)n, k, d, dp);
    /* Below a power of two the interval is narrower, so the candidate on the
     * other side may read back even when the nearest does not. */
    if (is_pow2(v)) {
        double other = n < t ? n + 1.0 : n - 1.0;
        if (other > 0 && other < TWO53 && other / p == v)
            return digits_from_u64((uint64_t)other, k, d, dp);
    }
    return 0;
}

/*
 * Read-back in double arithmetic, the reference for values the exact
 * integer path does not cover (v in [1e-7, 2^53)): for k = 0, 1, ... the
 * first k whose nearest candidate reads back as v gives the fewest
 * significant digits, and the nearest candidate is the closest to v among
 * those, which is Go's choice among equals. Returns the digit count or 0
 * if not decided (then *k_end is the
 * first k whose scaled value no longer fits in 53 bits). Success is monotone
 * in k (a (k+1)-digit nearest candidate is never farther than a k-digit one,
 * and the interval is symmetric), so the smallest k is found by bisection;
 * powers of two have an asymmetric interval and are scanned linearly.
 */
static int shortest_readback_f64(double v, char *d, int *dp, int *k_end)
{
    int kmax = -1;
    while (kmax < 22 && v * pow10_tab[kmax + 1] < TWO53)
        kmax++;
    *k_end = kmax + 1;
    if (kmax < 0)
        return 0;
    if (is_pow2(v)) {
        for (int k = 0; k <= kmax; k++) {
            int nd = readback_f64_at(v, k, d, dp);
            if (nd)
                return nd;
        }
        return 0;
    }
    /* Few decimals are common (temperatures, percentages): try those first. */
    for (int k = 0; k <= kmax && k < 3; k++) {
        int nd = readback_f64_at(v, k, d, dp);
        if (nd)
            return nd;
    }
    if (kmax < 3)
        return 0;
    char tmp[24];
    int tdp = 0;
    if (!readback_f64_at(v, kmax, tmp, &tdp))
        return 0;
    int lo = 3;
    int hi = kmax; /* invariant: hi succeeds */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (readback_f64_at(v, mid, tmp, &tdp))
            hi = mid;
        else
            lo = mid + 1;
    }
    return readback_f64_at(v, hi, d, dp);
}

#if LDBL_MANT_DIG >= 64
/*
 * Interval test in x87 long double (64-bit mantissa), for the 16/17-digit
 * cases the double read-back cannot reach (v*10^k past 2^53), tried from k0
 * = where it stopped. The rounding interval (midpoints to the neighbouring
 * doubles) is exact in 64 bits; n*10^-k is accepted only when it is inside
 * by more than a guard band of 2^-60 relative, and t = v*10^k only when it
 * is not within its own rounding error of a tie, so every accepted answer
 * is right; anything too close to call returns 0 (the printf/strtod search
 * decides). Returns the digit count, 0 if not decided.
 */
static int shortest_guarded_ld(double v, int k0, char *d, int *dp)
{
    long double lv = v;
    long double lo = (lv + (long double)nextafter(v, 0.0)) / 2;
    long double hi = (lv + (long double)nextafter(v, INFINITY)) / 2;
    long double guard = lv * 0x1p-60L;
    if (is_pow2(v))
        return 0;
    long double p = 1;
    for (int i = 0; i < k0; i++)
        p *= 10;
    for (int k = k0; k <= k0 + 2 && k <= 27; k++, p *= 10) {
        long double t = lv * p;
        if (t >= 0x1p63L)
            return 0;
        long double n = nearbyintl(t);
        /* t carries at most half an ulp (t * 2^-64) of error: too close
         * to a tie to tell which integer is nearest -> the printf/strtod search. */
        long double frac = t - floorl(t);
        if (fabsl(frac - 0.5L) <= t * 0x1p-62L)
            return 0;
        long double dv = n / p;
        if (fabsl(dv - lo) < guard || fabsl(dv - hi) < guard)
            return 0;
        if (dv > lo && dv < hi)
            return digits_from_u64((uint64_t)n, k, d, dp);
    }
    return 0;
}
#endif

__extension__ typedef unsigned __int128 dtoa_u128;

/* floor(x * log10(2)) for |x| <= 1650 (78913 / 2^18 approximates log10(2)). */
static int floor_log10_pow2(int x)
{
    if (x >= 0)
        return (int)(((unsigned)x * 78913u) >> 18);
    /* x*log10(2) is never an integer for x != 0 */
    return -(int)((((unsigned)-x * 78913u) >> 18) + 1);
}

/* The exact path's digit-dropping state: the scaled value, interval ends and what was dropped. */
struct drop {
    uint64_t vr, vp, vm;
    unsigned last; /* the most significant dropped digit */
    int removed;   /* digits dropped */
    int vr_tz;     /* everything below vr's last digit is zero */
    int vm_tz;     /* ... and below vm's, with the lower end allowed */
};

/*
 * Drops `step` digits (dv = 10^step, top = 10^(step-1)) if the interval still
 * holds a decimal that much shorter; returns 1 if it did. Always inlined and
 * called with literals, so the divisions become multiplications.
 */
static inline __attribute__((always_inline)) int drop_digits(struct drop *st, uint64_t dv,
                                                             uint64_t top, int step)
{
    if (st->vp / dv <= st->vm / dv)
        return 0;
    uint64_t r = st->vr % dv;
    st->vm_tz = st->vm_tz && st->vm % dv == 0;
    st->vr_tz = st->vr_tz && st->last == 0 && r % top == 0;
    st->last = (unsigned)(r / top);
    st->vr /= dv;
    st->vp /= dv;
    st->vm /= dv;
    st->removed += step;
    return 1;
}

/*
 * Exact interval arithmetic in 128-bit integers, the fast path for normal
 * 2^-13 <= v < 2^53 (nearly every metric). v = m*2^-q, so the rounding
 * interval scaled by 10^K (K chosen so the interval is wider than 10) has
 * endpoints that are integers over 2^(q+2), with every product below
 * 2^128: no rounding happens anywhere. Digits are dropped while the
 * interval still holds a shorter decimal, tracking whether the dropped
 * digits were all zero; the kept digits are then rounded to the nearest
 * (ties to even, which cannot decide a result here). That is the shortest
 * decimal in the interval, closest to v: the same answer as the reference
 * paths (tests/unit/test_dtoa.c compares the two on millions of values).
 * On success returns 1 with the shortest digits as *n * 10^-*k (n may end
 * in zeros); returns 0 when v (finite, > 0) is outside the range.
 */
static int shortest_exact_u128(double v, uint64_t *n, int *k)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    unsigned bexp = (unsigned)(bits >> 52) & 0x7FF;
    uint64_t frac = bits & 0xFFFFFFFFFFFFFull;
    if (bexp == 0 || bexp > 1075) /* subnormal, or v >= 2^53 */
        return 0;
    int q = 1075 - (int)bexp; /* v = m * 2^-q, 0 <= q */
    /* v >= 10^f with f = floor((52 - q) * log10(2)), so at scale 10^K with
     * K = 17 - f the interval (one ulp = 2^-q, 3/4 ulp above a power of two)
     * is at least 16 wide: at least one digit is always dropped, and the
     * dropped digits decide the rounding. */
    int kk = 17 - floor_log10_pow2(52 - q);
    if (kk > 21) /* (4m+2) * 10^K must stay below 2^128: 10^21 < 2^70 */
        return 0;
    uint64_t m = frac | (1ull << 52);
    dtoa_u128 p =
        kk <= 19 ? (dtoa_u128)itoa_pow10[kk] : (dtoa_u128)itoa_pow10[19] * itoa_pow10[kk - 19];
    /* Interval (scaled by 2^(q+2)): [4m - 2, 4m + 2], or [4m - 1, 4m + 2]
     * just above a power of two, where the lower neighbour is closer. */
    uint64_t lower = 4 * m - ((frac == 0 && bexp > 1) ? 1 : 2);
    int shift = q + 2;
    dtoa_u128 mask = ((dtoa_u128)1 << shift) - 1;
    dtoa_u128 c = (dtoa_u128)(4 * m) * p;
    dtoa_u128 u = (dtoa_u128)(4 * m + 2) * p;
    dtoa_u128 l = (dtoa_u128)lower * p;
    uint64_t vr = (uint64_t)(c >> shift);
    uint64_t vp = (uint64_t)(u >> shift);
    uint64_t vm = (uint64_t)(l >> shift);
    /* A decimal exactly on an interval end reads back as v only when m is
     * even (strtod rounds ties to even). */
    int accept = (m & 1) == 0;
    int vr_tz = (c & mask) == 0; /* everything below vr's last digit is zero */
    int vm_tz = accept && (l & mask) == 0;
    if (!accept && (u & mask) == 0)
        vp--;
    struct drop st = {vr, vp, vm, 0, 0, vr_tz, vm_tz};
    /*
     * Drop digits while the interval still holds a shorter decimal: eight at
     * a time, then at most four, two and one (had two chunks of a size fit,
     * the next larger chunk would have). Literal divisors let the compiler
     * turn every division into a multiplication.
     */
    while (drop_digits(&st, 100000000u, 10000000u, 8))
        ;
    drop_digits(&st, 10000u, 1000u, 4);
    drop_digits(&st, 100u, 10u, 2);
    drop_digits(&st, 10u, 1u, 1);
    if (st.vm_tz) {
        /* The lower end itself is allowed: its zeros can go too. */
        while (st.vm % 10 == 0) {
            st.vr_tz = st.vr_tz && st.last == 0;
            st.last = (unsigned)(st.vr % 10);
            st.vr /= 10;
            st.vp /= 10;
            st.vm /= 10;
            st.removed++;
        }
    }
    if (st.vr_tz && st.last == 5 && st.vr % 2 == 0)
        st.last = 4;
    *n = st.vr + ((st.vr == st.vm && (!accept || !st.vm_tz)) || st.last >= 5);
    *k = kk - st.removed;
    return 1;
}

/*
 * The last resort, slow and always right: print v with snprintf("%.*e") at
 * precision 1, 2, ... 17 and take the first that strtod reads back as v
 * (glibc prints the correctly rounded decimal, and 17 significant digits
 * always read back). Just above a power of two the interval is wider on
 * one side, so the next decimal up is tried too. Always decides.
 */
static int shortest_printf_strtod(double v, char *d, int *dp)
{
    char s[40];
    for (int prec = 1; prec <= 17; prec++) {
        int len = snprintf(s, sizeof(s), "%.*e", prec - 1, v);
        if (len <= 0 || (size_t)len >= sizeof(s))
            break;
        int ok = strtod(s, NULL) == v;
        int nd = 0;
        uint64_t n = 0;
        const char *p = s;
        for (; *p && *p != 'e'; p++)
            if (*p >= '0' && *p <= '9') {
                d[nd++] = *p;
                n = n * 10 + (uint64_t)(*p - '0');
            }
        long e = 0;
        int neg = 0;
        if (*p == 'e')
            p++;
        if (*p == '-' || *p == '+')
            neg = *p++ == '-';
        for (; *p >= '0' && *p <= '9'; p++)
            e = e * 10 + (*p - '0');
        int x = (int)(neg ? -e : e); /* v ~ d1.d2... * 10^x */
        if (!ok && prec < 17 && is_pow2(v)) {
            /* Above a power of two the interval is wider: try one up. */
            char t[48];
            snprintf(t, sizeof(t), "%llue%d", (unsigned long long)(n + 1), x - (prec - 1));
            if (strtod(t, NULL) == v) {
                int ndp = 0;
                nd = digits_from_u64(n + 1, 0, d, &ndp);
                *dp = ndp + x - (prec - 1);
                return nd;
            }
        }
        if (!ok && prec < 17)
            continue;
        while (nd > 1 && d[nd - 1] == '0')
            nd--;
        *dp = x + 1;
        return nd;
    }
    d[0] = '0';
    *dp = 1;
    return 1;
}

/*
 * Shortest digits of v (finite, > 0) into d (no trailing zeros) with the
 * decimal point position *dp (value = 0.d1d2... * 10^dp); returns the count.
 * The paths are tried fastest first; each either decides correctly or
 * declines. with_u128 = 0 skips the exact integer path (the reference path
 * of the unit tests).
 */
static int shortest_digits(double v, int with_u128, char *d, int *dp)
{
    uint64_t n = 0;
    int k = 0;
    if (with_u128 && shortest_exact_u128(v, &n, &k))
        return digits_from_u64(n, k, d, dp);
    int nd = 0;
    int k_end = 0;
    if (v >= 1e-7 && v < TWO53)
        nd = shortest_readback_f64(v, d, dp, &k_end);
#if LDBL_MANT_DIG >= 64
    if (!nd && v >= 1e-6 && v < TWO53)
        nd = shortest_guarded_ld(v, k_end, d, dp);
#endif
    if (!nd)
        nd = shortest_printf_strtod(v, d, dp);
    return nd;
}

/*
 * Writes v (finite) in Go's layout at o (room for DTOA_GO_MAX - 1 bytes,
 * no NUL) and returns the end.
 */
static char *format_double(char *o, double v, int with_u128)
{
    if (signbit(v)) {
        *o++ = '-';
        v = -v;
    }
    if (v == 0) {
        *o++ = '0';
        return o;
    }
    char d[24];
    int dp = 0;
    int nd = shortest_digits(v, with_u128, d, &dp);
    if (v >= 1e-6 && v < 1e21) {
        if (dp <= 0) {
            *o++ = '0';
            *o++ = '.';
            for (int i = 0; i < -dp; i++)
                *o++ = '0';
            memcpy(o, d, (size_t)nd);
            o += nd;
        } else if (dp >= nd) {
            memcpy(o, d, (size_t)nd);
            o += nd;
            for (int i = nd; i < dp; i++)
                *o++ = '0';
        } else {
            memcpy(o, d, (size_t)dp);
            o += dp;
            *o++ = '.';
            memcpy(o, d + dp, (size_t)(nd - dp));
            o += nd - dp;
        }
        return o;
    }
    *o++ = d[0];
    if (nd > 1) {
        *o++ = '.';
        memcpy(o, d + 1, (size_t)(nd - 1));
        o += nd - 1;
    }
    int x = dp - 1;
    *o++ = 'e';
    *o++ = x < 0 ? '-' : '+';
    /* Go prints at least two exponent digits, and encoding/json then
     * drops the leading zero of a negative one: e-07 -> e-7. */
    unsigned ax = (unsigned)(x < 0 ? -x : x);
    if (x >= 0 && ax < 10)
        *o++ = '0';
    return itoa_put_u64(o, ax);
}

char *dtoa_put_go(char *o, double v)
{
    return format_double(o, v, 1);
}

int dtoa_format_go(double v, char out[DTOA_GO_MAX])
{
    if (!isfinite(v))
        return -EINVAL;
    char *o = dtoa_put_go(out, v);
    *o = '\0';
    return (int)(o - out);
}

double dtoa_f32_value(float f)
{
    if (!isfinite(f) || f == 0)
        return (double)f;
    char buf[48];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof(buf), "%.*e", prec - 1, (double)f);
        if (strtof(buf, NULL) == f)
            return strtod(buf, NULL);
    }
    return (double)f;
}
