/*
 * itoa: the decimal writer for unsigned 64-bit integers that the JSON writer
 * (jw) and the double formatter (dtoa) share: digit count first, then the
 * digits straight into place, two at a time. Header-only so that both hot
 * paths keep it inline. Pure, no NUL written, any thread.
 */
#ifndef LOTUS_CORE_ITOA_H
#define LOTUS_CORE_ITOA_H

#include <stdint.h>
#include <string.h>

/* Most bytes itoa_put_u64 writes (18446744073709551615). */
#define ITOA_U64_MAX 20

/* 10^i for i = 0..19 (every power of ten a uint64_t holds). */
static const uint64_t itoa_pow10[20] = {1ull,
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

/* "00" "01" ... "99": the two digits of n at itoa_digit_pairs + 2 * n. */
static const char itoa_digit_pairs[201] = "00010203040506070809"
                                          "10111213141516171819"
                                          "20212223242526272829"
                                          "30313233343536373839"
                                          "40414243444546474849"
                                          "50515253545556575859"
                                          "60616263646566676869"
                                          "70717273747576777879"
                                          "80818283848586878889"
                                          "90919293949596979899";

/* Number of decimal digits of v (1 for 0). */
static inline int itoa_u64_digits(uint64_t v)
{
    /* bits * 1233 / 4096 is floor(log10(2^bits)), at most one too small. */
    int t = ((64 - __builtin_clzll(v | 1)) * 1233) >> 12;
    /* v | 1 makes 0 count one digit and changes nothing else (10^t is even for t > 0). */
    return t + ((v | 1) >= itoa_pow10[t]);
}

/*
 * Writes v in decimal at o (at most ITOA_U64_MAX bytes, no NUL) and returns
 * the end: the digit count is known first, so the digits go straight to
 * their place.
 */
static inline char *itoa_put_u64(char *o, uint64_t v)
{
    char *end = o + itoa_u64_digits(v);
    char *p = end;
    if (v >= 100000000) {
        /* Eight low digits with 32-bit arithmetic, the rest below. */
        uint32_t lo = (uint32_t)(v % 100000000);
        v /= 100000000;
        for (int i = 0; i < 4; i++) {
            p -= 2;
            memcpy(p, itoa_digit_pairs + 2 * (lo % 100), 2);
            lo /= 100;
        }
        if (v >= 100000000) {
            lo = (uint32_t)(v % 100000000);
            v /= 100000000;
            for (int i = 0; i < 4; i++) {
                p -= 2;
                memcpy(p, itoa_digit_pairs + 2 * (lo % 100), 2);
                lo /= 100;
            }
        }
    }
    uint32_t w = (uint32_t)v;
    while (w >= 100) {
        p -= 2;
        memcpy(p, itoa_digit_pairs + 2 * (w % 100), 2);
        w /= 100;
    }
    if (w >= 10) {
        p -= 2;
        memcpy(p, itoa_digit_pairs + 2 * w, 2);
    } else {
        *--p = (char)('0' + w);
    }
    return end;
}

#endif
