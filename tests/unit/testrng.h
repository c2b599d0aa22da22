/*
 * testrng: the deterministic pseudo-random sequence of the randomised unit
 * tests (xorshift64, Marsaglia 2003): the same seed gives the same inputs on
 * every run, so a failure reproduces. Test code only.
 */
#ifndef LOTUS_TESTS_TESTRNG_H
#define LOTUS_TESTS_TESTRNG_H

#include <stdint.h>

struct rng {
    uint64_t x; /* the state; any nonzero seed */
};

static inline uint64_t next(struct rng *r)
{
    r->x ^= r->x << 13;
    r->x ^= r->x >> 7;
    r->x ^= r->x << 17;
    return r->x;
}

#endif
