/*
 * clock: the two clocks every module reads, in one place.
 *
 * clock_wall_ms  milliseconds since the Unix epoch (CLOCK_REALTIME). Use it for
 *                what is stored or shown: LastActive, session expiry, report times.
 *                It can jump when the administrator or NTP sets the time.
 * clock_mono_ms  milliseconds on CLOCK_MONOTONIC (from an unspecified start). Use
 *                it for intervals: rates, deadlines, timeouts.
 *
 * Both are thread-safe, allocate nothing and never fail on Linux. Decisions
 * (agent_logic, auth lockouts, alert evaluation) take "now" as a parameter
 * instead of calling these, so tests can drive them without a clock.
 */
#ifndef LOTUS_CORE_CLOCK_H
#define LOTUS_CORE_CLOCK_H

#include <stdint.h>

int64_t clock_wall_ms(void);
/* Whole seconds since the epoch; 0 if the clock reads before 1970. */
uint64_t clock_wall_s(void);
uint64_t clock_mono_ms(void);

#endif
