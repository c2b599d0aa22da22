/*
 * jw: streaming JSON writer with Go encoding/json output (see jw.h).
 *
 * Doubles: shortest round-trip digits are found in tiers, fastest first:
 *  E. exact 128-bit integer arithmetic for normal 2^-13 <= v < 2^53 (nearly
 *     every metric): v = m*2^-q, so the rounding interval scaled by 10^K
 *     (K chosen so the interval is wider than 10) has endpoints that are
 *     integers over 2^(q+2), with every product below 2^128. Digits are
 *     dropped while the interval still holds a shorter decimal, tracking
 *     whether the dropped digits were all zero; the kept digits are then
 *     rounded to the nearest (ties to even, which cannot decide a result
 *     here). That is the shortest decimal in the interval, closest to v: the
 *     same answer as tiers A-C, which remain the reference for the other
 *     values (tests/unit/test_jw_float.c compares the two on millions).
 *  A. exact double arithmetic: for k = 0, 1, ... take n = the integer nearest
 *     to v*10^k (fma gives the exact residual) while n < 2^53; n and 10^k are
 *     then exact doubles, so n / 10^k is the correctly rounded value of the
 *     decimal n*10^-k, i.e. exactly what a parser would read back. The first k
 *     that reads back as v gives the fewest significant digits, and the nearest
 *     n is the closest candidate, which is Go's choice among equals.
 *  B. x87 long double (64-bit mantissa) for the 16/17-digit cases A cannot
 *     reach: n and the rounding interval (midpoints to the neighbouring
 *     doubles, exact in 64 bits) are compared with a guard band; anything too
 *     close to call falls through to C.
 *  C. snprintf("%.*e") + strtod for precision 1..17 (slow, always right).
 */
#include "jw.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ascii.h"

#define TWO53 9007199254740992.0

/*
 * Inline fast paths for appending to a struct buf: when the bytes fit in the
 * current capacity and under the maximum, copy directly (keeping the NUL);
 * otherwise defer to buf_append, which grows or records the sticky error.
 */
static inline int put(struct buf *b, const void *p, size_t n)
{
    if (!b->err && b->len + n < b->cap && (!b->max || b->len + n <= b->max)) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
    }
    return buf_append(b, p, n);
}

static inline int putch(struct buf *b, char c)
{
    if (!b->err && b->len + 1 < b->cap && (!b->max || b->len + 1 <= b->max)) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return 0;
    }
    return buf_append(b, &c, 1);
}

static const double pow10_tab[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static const char digit_pairs[201] = "00010203040506070809"
                                     "10111213141516171819"
                                     "20212223242526272829"
                                     "30313233343536373839"
                                     "40414243444546474849"
                                     "50515253545556575859"
                                     "60616263646566676869"
                                     "70717273747576777879"
                                     "80818283848586878889"
                                     "90919293949596979899";

static const uint64_t pow10_u64[20] = {1ull,
                                       10ull,
                                       100ull,
                                       1000ull,
                                       10000ull,
                                       100000ull,
                                       1000000ull,
                                       10000000ull,
                                       100000000ull,
                                       1000000000ull,
                                       10000000000ull,
                                       100000000000ull,
                                       1000000000000ull,
                                       10000000000000ull,
                                       100000000000000ull,
                                       1000000000000000ull,
                                       10000000000000000ull,
                                       100000000000000000ull,
                                       1000000000000000000ull,
                                       10000000000000000000ull};

/* Number of decimal digits of v (1 for 0). */
static inline int u64_digits(uint64_t v)
{
    /* bits * 1233 / 4096 is floor(log10(2^bits)), at most one too small. */
    int t = ((64 - __builtin_clzll(v | 1)) * 1233) >> 12;
    /* v | 1 makes 0 count one digit and changes nothing else (10^t is even for t > 0). */
    return t + ((v | 1) >= pow10_u64[t]);
}

/*
 * Writes v in decimal at o (at most 20 bytes, no NUL) and returns the end:
 * the digit count is known first, so the digits go straight to their place.
 */
static inline char *u64_fwd(char *o, uint64_t v)
{
    char *end = o + u64_digits(v);
    char *p = end;
    if (v >= 100000000) {
        /* Eight low digits with 32-bit arithmetic, the rest below. */
        uint32_t lo = (uint32_t)(v % 100000000);
        v /= 100000000;
        for (int i = 0; i < 4; i++) {
            p -= 2;
            memcpy(p, digit_pairs + 2 * (lo % 100), 2);
            lo /= 100;
        }
        if (v >= 100000000) {
            lo = (uint32_t)(v % 100000000);
            v /= 100000000;
            for (int i = 0; i < 4; i++) {
                p -= 2;
                memcpy(p, digit_pairs + 2 * (lo % 100), 2);
                lo /= 100;
            }
        }
    }
    uint32_t w = (uint32_t)v;
    while (w >= 100) {
        p -= 2;
        memcpy(p, digit_pairs + 2 * (w % 100), 2);
        w /= 100;
    }
    if (w >= 10) {
        p -= 2;
        memcpy(p, digit_pairs + 2 * w, 2);
    } else {
        *--p = (char)('0' + w);
    }
    return end;
}

/*
 * Significant digits of n*10^-k into d (no trailing zeros); *dp is the
 * decimal point position (value = 0.d1d2... * 10^dp). Returns the digit count.
 */
static int digits_from_u64(uint64_t n, int k, char *d, int *dp)
{
    int len = (int)(u64_fwd(d, n) - d);
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

/* Tier A at one k: the digit count if the nearest n*10^-k reads back as v, else 0. */
static int try_a(double v, int k, char *d, int *dp)
{
    double p = pow10_tab[k];
    double t = v * p; /* 0 < t < 2^53 */
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
 * Tier A; returns the digit count or 0 if not decided (then *k_end is the
 * first k whose scaled value no longer fits in 53 bits). Success is monotone
 * in k (a (k+1)-digit nearest candidate is never farther than a k-digit one,
 * and the interval is symmetric), so the smallest k is found by bisection;
 * powers of two have an asymmetric interval and are scanned linearly.
 */
static int shortest_a(double v, char *d, int *dp, int *k_end)
{
    int kmax = -1;
    while (kmax < 22 && v * pow10_tab[kmax + 1] < TWO53)
        kmax++;
    *k_end = kmax + 1;
    if (kmax < 0)
        return 0;
    if (is_pow2(v)) {
        for (int k = 0; k <= kmax; k++) {
            int nd = try_a(v, k, d, dp);
            if (nd)
                return nd;
        }
        return 0;
    }
    /* Few decimals are common (temperatures, percentages): try those first. */
    for (int k = 0; k <= kmax && k < 3; k++) {
        int nd = try_a(v, k, d, dp);
        if (nd)
            return nd;
    }
    if (kmax < 3)
        return 0;
    char tmp[24];
    int tdp = 0;
    if (!try_a(v, kmax, tmp, &tdp))
        return 0;
    int lo = 3;
    int hi = kmax; /* invariant: hi succeeds */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (try_a(v, mid, tmp, &tdp))
            hi = mid;
        else
            lo = mid + 1;
    }
    return try_a(v, hi, d, dp);
}

#if LDBL_MANT_DIG >= 64
/* Tier B; returns the digit count, 0 if not decided. */
static int shortest_b(double v, int k0, char *d, int *dp)
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
         * to a tie to tell which integer is nearest -> tier C. */
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

__extension__ typedef unsigned __int128 jw_u128;

/* floor(x * log10(2)) for |x| <= 1650 (78913 / 2^18 approximates log10(2)). */
static int floor_log10_pow2(int x)
{
    if (x >= 0)
        return (int)(((unsigned)x * 78913u) >> 18);
    /* x*log10(2) is never an integer for x != 0 */
    return -(int)((((unsigned)-x * 78913u) >> 18) + 1);
}

/* Tier E's digit-dropping state: the scaled value, interval ends and what was dropped. */
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
 * Tier E (see the top of the file). On success returns 1 with the shortest
 * digits as *n * 10^-*k (n may end in zeros); returns 0 when v (finite,
 * > 0) is outside the tier's range.
 */
static int shortest_e(double v, uint64_t *n, int *k)
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
    jw_u128 p = kk <= 19 ? (jw_u128)pow10_u64[kk] : (jw_u128)pow10_u64[19] * pow10_u64[kk - 19];
    /* Interval (scaled by 2^(q+2)): [4m - 2, 4m + 2], or [4m - 1, 4m + 2]
     * just above a power of two, where the lower neighbour is closer. */
    uint64_t lower = 4 * m - ((frac == 0 && bexp > 1) ? 1 : 2);
    int shift = q + 2;
    jw_u128 mask = ((jw_u128)1 << shift) - 1;
    jw_u128 c = (jw_u128)(4 * m) * p;
    jw_u128 u = (jw_u128)(4 * m + 2) * p;
    jw_u128 l = (jw_u128)lower * p;
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

/* Tier C: always decides. */
static int shortest_c(double v, char *d, int *dp)
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
 * fast = 0 skips tier E (the reference path of the unit tests).
 */
static int shortest_digits(double v, int fast, char *d, int *dp)
{
    uint64_t n = 0;
    int k = 0;
    if (fast && shortest_e(v, &n, &k))
        return digits_from_u64(n, k, d, dp);
    int nd = 0;
    int k_end = 0;
    if (v >= 1e-7 && v < TWO53)
        nd = shortest_a(v, d, dp, &k_end);
#if LDBL_MANT_DIG >= 64
    if (!nd && v >= 1e-6 && v < TWO53)
        nd = shortest_b(v, k_end, d, dp);
#endif
    if (!nd)
        nd = shortest_c(v, d, dp);
    return nd;
}

/*
 * Writes v (finite) in Go's layout at o (room for JW_DOUBLE_MAX - 1 bytes,
 * no NUL) and returns the end.
 */
static char *format_double(char *o, double v, int fast)
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
    int nd = shortest_digits(v, fast, d, &dp);
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
    return u64_fwd(o, ax);
}

int jw_format_double(double v, char out[JW_DOUBLE_MAX])
{
    if (!isfinite(v))
        return -EINVAL;
    char *o = format_double(out, v, 1);
    *o = '\0';
    return (int)(o - out);
}

/* ---- strings ---- */

/* 0: copy as is; 1: needs escaping or UTF-8 checking. */
static const unsigned char needs_care[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/*
 * Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid, with the
 * same acceptance as Go's utf8.DecodeRune (no overlongs, no surrogates, max
 * U+10FFFF). *cp receives the code point.
 */
static size_t utf8_seq(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0];
    if (c < 0xC2 || c > 0xF4)
        return 0;
    if (c < 0xE0) {
        if (n < 2 || (s[1] & 0xC0) != 0x80)
            return 0;
        *cp = ((c & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    unsigned lo = 0x80;
    unsigned hi = 0xBF;
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (n < 2 || s[1] < lo || s[1] > hi)
        return 0;
    if (c < 0xF0) {
        if (n < 3 || (s[2] & 0xC0) != 0x80)
            return 0;
        *cp = ((c & 0x0F) << 12) | ((unsigned)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        return 3;
    }
    if (n < 4 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
        return 0;
    *cp = ((c & 0x07) << 18) | ((unsigned)(s[1] & 0x3F) << 12) | ((unsigned)(s[2] & 0x3F) << 6) |
          (s[3] & 0x3F);
    return 4;
}

/*
 * True when one of the 8 bytes in x needs care (see needs_care). Each test
 * is exact about whether some byte matches (false alarms only cost a byte
 * loop): bytes < 0x20, bytes >= 0x80, and bytes equal to 0x22/0x26 (`"` `&`,
 * folded by setting bit 2), 0x3C/0x3E (`<` `>`, bit 1) or 0x5C (`\`).
 */
static inline int word_needs_care(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull;
    const uint64_t high = 0x8080808080808080ull;
    uint64_t q = (x | ones * 0x04) ^ (ones * 0x26);
    uint64_t a = (x | ones * 0x02) ^ (ones * 0x3E);
    uint64_t bs = x ^ (ones * 0x5C);
    uint64_t hit = ((x - ones * 0x20) & ~x) | x;
    hit |= (q - ones) & ~q;
    hit |= (a - ones) & ~a;
    hit |= (bs - ones) & ~bs;
    return (hit & high) != 0;
}

/* Handles the byte at s[*i] that needs care: writes it (escaped or, for
 * valid UTF-8, as is) at d, advances *i, returns the new end. */
static char *escape_one(char *d, const unsigned char *s, size_t n, size_t *i)
{
    unsigned c = s[*i];
    if (c >= 0x80) {
        unsigned cp = 0;
        size_t l = utf8_seq(s + *i, n - *i, &cp);
        if (l && cp != 0x2028 && cp != 0x2029) {
            memcpy(d, s + *i, l);
            *i += l;
            return d + l;
        }
        if (l)
            memcpy(d, cp == 0x2028 ? "\\u2028" : "\\u2029", 6);
        else
            memcpy(d, "\\ufffd", 6);
        *i += l ? l : 1;
        return d + 6;
    }
    *i += 1;
    d[0] = '\\';
    if (c == '"' || c == '\\') {
        d[1] = (char)c;
        return d + 2;
    }
    if (c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f') {
        d[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : c == '\b' ? 'b' : 'f';
        return d + 2;
    }
    memcpy(d + 1, "u00", 3);
    d[4] = ascii_hex_lower[c >> 4];
    d[5] = ascii_hex_lower[c & 15];
    return d + 6;
}

char *jw_put_str(char *d, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    size_t run = 0; /* s[run..i) was copied as is, ending at d */
    *d++ = '"';
    for (;;) {
        /* Eight clean bytes at a time; the output never runs ahead of the
         * bound since every input byte produces at least one. */
        while (n - i >= 8) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            if (word_needs_care(x))
                break;
            memcpy(d, &x, 8);
            d += 8;
            i += 8;
        }
        /* A short clean rest: one word ending at n (overlapping bytes before
         * i of the current verbatim run, rewritten with the same values), or
         * two overlapping 4-byte halves. */
        if (n - i < 8 && i < n && n - run >= 8) {
            uint64_t x;
            memcpy(&x, s + n - 8, 8);
            if (!word_needs_care(x)) {
                memcpy(d - (i - (n - 8)), &x, 8);
                d += n - i;
                break;
            }
        } else if (n - i < 8 && n - i >= 4) {
            uint32_t a;
            uint32_t b;
            memcpy(&a, s + i, 4);
            memcpy(&b, s + n - 4, 4);
            if (!word_needs_care((uint64_t)a | (uint64_t)b << 32)) {
                memcpy(d + (n - 4 - i), &b, 4);
                memcpy(d, &a, 4);
                d += n - i;
                break;
            }
        }
        while (i < n && !needs_care[s[i]])
            *d++ = (char)s[i++];
        if (i == n)
            break;
        d = escape_one(d, s, n, &i);
        run = i;
    }
    *d++ = '"';
    return d;
}

char *jw_put_u64(char *d, uint64_t v)
{
    return u64_fwd(d, v);
}

char *jw_put_i64(char *d, int64_t v)
{
    if (v < 0) {
        *d++ = '-';
        return u64_fwd(d, (uint64_t)0 - (uint64_t)v);
    }
    return u64_fwd(d, (uint64_t)v);
}

char *jw_put_double(char *d, double v)
{
    if (!isfinite(v))
        return d;
    return format_double(d, v, 1);
}

char *jw_reserve(struct buf *out, size_t n)
{
    if (out->err || (out->max && (out->len > out->max || n > out->max - out->len)))
        return NULL;
    if (out->len + n >= out->cap && buf_reserve(out, n) != 0)
        return NULL;
    return out->data + out->len;
}

void jw_commit(struct buf *out, char *end)
{
    out->len = (size_t)(end - out->data);
    out->data[out->len] = '\0';
}

/*
 * Writes len bytes produced by a cursor writer through the reservation, or
 * (near the buffer's maximum, where the worst case may not fit though the
 * real output does) through a scratch buffer and buf_append.
 */
#define VIA_CURSOR(out, bound, call)                                                               \
    do {                                                                                           \
        char *d_ = jw_reserve((out), (bound));                                                     \
        if (d_) {                                                                                  \
            char *d = d_;                                                                          \
            jw_commit((out), (call));                                                              \
        } else if (!(out)->err) {                                                                  \
            struct buf t_;                                                                         \
            buf_init(&t_, 0);                                                                      \
            char *d = jw_reserve(&t_, (bound));                                                    \
            if (d) {                                                                               \
                jw_commit(&t_, (call));                                                            \
                buf_append((out), t_.data, t_.len);                                                \
            }                                                                                      \
            buf_release(&t_);                                                                      \
        }                                                                                          \
    } while (0)

int jw_append_string(struct buf *out, const char *s, size_t n)
{
    if (n > (SIZE_MAX - 2) / 6)
        return buf_reserve(out, SIZE_MAX); /* cannot fit: sets the buffer's error */
    VIA_CURSOR(out, JW_STR_BOUND(n), jw_put_str(d, s, n));
    return out->err;
}

static int before_value(struct jw *w);

int jw_append_u64(struct buf *out, uint64_t v)
{
    char tmp[JW_INT_BOUND];
    return put(out, tmp, (size_t)(u64_fwd(tmp, v) - tmp));
}

int jw_append_i64(struct buf *out, int64_t v)
{
    char tmp[JW_INT_BOUND];
    return put(out, tmp, (size_t)(jw_put_i64(tmp, v) - tmp));
}

int jw_append_double(struct buf *out, double v)
{
    if (!isfinite(v))
        return -EINVAL;
    char tmp[JW_DOUBLE_MAX];
    return put(out, tmp, (size_t)(format_double(tmp, v, 1) - tmp));
}

int jw_append_lit(struct buf *out, const char *s, size_t n)
{
    return put(out, s, n);
}

struct buf *jw_raw_value(struct jw *w)
{
    if (before_value(w))
        return NULL;
    return w->out;
}

/* ---- structure ---- */

void jw_init(struct jw *w, struct buf *out)
{
    w->out = out;
    w->err = out->err;
    w->depth = 0;
    w->nonempty = 0;
    w->is_obj = 0;
    w->after_key = 0;
}

int jw_finish(const struct jw *w)
{
    if (w->err)
        return w->err;
    if (w->out->err)
        return w->out->err;
    if (w->depth != 0 || w->after_key)
        return -EINVAL;
    return 0;
}

static void set_err(struct jw *w, int e)
{
    if (!w->err)
        w->err = e;
}

/* Emits the separator before a value; returns nonzero if the writer is in error. */
static int before_value(struct jw *w)
{
    if (w->err)
        return 1;
    if (w->after_key) {
        w->after_key = 0;
        return 0;
    }
    if (w->depth > 0) {
        uint64_t bit = 1ull << (w->depth - 1);
        if (w->is_obj & bit) { /* a value in an object needs a key first */
            set_err(w, -EINVAL);
            return 1;
        }
        if (w->nonempty & bit)
            putch(w->out, ',');
        w->nonempty |= bit;
    }
    return 0;
}

static void after_write(struct jw *w)
{
    if (w->out->err)
        set_err(w, w->out->err);
}

static void begin(struct jw *w, char c, int obj)
{
    if (before_value(w))
        return;
    if (w->depth >= JW_MAX_DEPTH) {
        set_err(w, -ERANGE);
        return;
    }
    putch(w->out, c);
    uint64_t bit = 1ull << w->depth;
    w->nonempty &= ~bit;
    if (obj)
        w->is_obj |= bit;
    else
        w->is_obj &= ~bit;
    w->depth++;
    after_write(w);
}

static void end(struct jw *w, char c, int obj)
{
    if (w->err)
        return;
    if (w->depth == 0 || w->after_key || (((w->is_obj >> (w->depth - 1)) & 1) != (uint64_t)obj)) {
        set_err(w, -EINVAL);
        return;
    }
    w->depth--;
    putch(w->out, c);
    after_write(w);
}

void jw_obj_begin(struct jw *w)
{
    begin(w, '{', 1);
}

void jw_obj_end(struct jw *w)
{
    end(w, '}', 1);
}

void jw_arr_begin(struct jw *w)
{
    begin(w, '[', 0);
}

void jw_arr_end(struct jw *w)
{
    end(w, ']', 0);
}

/* Emits the separator before a key; returns nonzero if the writer is in error. */
static int before_key(struct jw *w)
{
    if (w->err)
        return 1;
    uint64_t bit = w->depth ? 1ull << (w->depth - 1) : 0;
    if (!bit || !(w->is_obj & bit) || w->after_key) {
        set_err(w, -EINVAL);
        return 1;
    }
    if (w->nonempty & bit)
        putch(w->out, ',');
    w->nonempty |= bit;
    return 0;
}

void jw_key_ascii(struct jw *w, const char *s, size_t n)
{
    if (before_key(w))
        return;
    struct buf *b = w->out;
    if (putch(b, '"') == 0 && put(b, s, n) == 0)
        put(b, "\":", 2);
    w->after_key = 1;
    after_write(w);
}

void jw_key_n(struct jw *w, const char *s, size_t n)
{
    if (before_key(w))
        return;
    jw_append_string(w->out, s, n);
    putch(w->out, ':');
    w->after_key = 1;
    after_write(w);
}

void jw_key(struct jw *w, const char *s)
{
    jw_key_n(w, s, strlen(s));
}

void jw_str_n(struct jw *w, const char *s, size_t n)
{
    if (before_value(w))
        return;
    jw_append_string(w->out, s ? s : "", s ? n : 0);
    after_write(w);
}

void jw_str(struct jw *w, const char *s)
{
    jw_str_n(w, s, s ? strlen(s) : 0);
}

void jw_u64(struct jw *w, uint64_t v)
{
    if (before_value(w))
        return;
    char tmp[JW_INT_BOUND];
    put(w->out, tmp, (size_t)(u64_fwd(tmp, v) - tmp));
    after_write(w);
}

void jw_i64(struct jw *w, int64_t v)
{
    if (before_value(w))
        return;
    char tmp[JW_INT_BOUND];
    put(w->out, tmp, (size_t)(jw_put_i64(tmp, v) - tmp));
    after_write(w);
}

void jw_bool(struct jw *w, int v)
{
    if (before_value(w))
        return;
    if (v)
        put(w->out, "true", 4);
    else
        put(w->out, "false", 5);
    after_write(w);
}

void jw_null(struct jw *w)
{
    if (before_value(w))
        return;
    put(w->out, "null", 4);
    after_write(w);
}

void jw_double(struct jw *w, double v)
{
    if (w->err)
        return;
    char tmp[JW_DOUBLE_MAX];
    int n = jw_format_double(v, tmp);
    if (n < 0) {
        set_err(w, n);
        return;
    }
    if (before_value(w))
        return;
    put(w->out, tmp, (size_t)n);
    after_write(w);
}

void jw_raw(struct jw *w, const char *s, size_t n)
{
    if (before_value(w))
        return;
    put(w->out, s, n);
    after_write(w);
}
