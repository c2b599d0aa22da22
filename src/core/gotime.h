/*
 * gotime: the text of Go's time.Time that Nezha v0 puts on the wire and in messages
 * (docs/protocol.md §3.5: a certificate's NotAfter as time.String(), "2025-03-01 12:00:00 +0000
 * UTC"; §8.3: "2006-01-02 15:04:05" in messages), with the proleptic Gregorian calendar
 * conversions under them. Pure: no clock, no time zone database, no allocation; callers pass
 * the offset. The agent formats (its probes), the dashboard parses and formats (monitors).
 */
#ifndef LOTUS_CORE_GOTIME_H
#define LOTUS_CORE_GOTIME_H

#include <stddef.h>
#include <stdint.h>

#define GOTIME_STRING_MAX 48 /* bytes of gotime_string_utc's text, with the NUL */

/* Days since 1970-01-01 of a proleptic Gregorian date, and back (Howard Hinnant's algorithms). */
int64_t gotime_days_from_civil(int64_t y, int m, int d);
void gotime_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

/*
 * Go's time.Time.String() of the UTC instant unix_s, e.g. "2025-03-01 12:00:00 +0000 UTC"
 * (years below 1000 zero-padded to 4 digits, negative years with a '-', as Go). Writes out[n]
 * (n >= GOTIME_STRING_MAX); returns the length or -E2BIG.
 */
int gotime_string_utc(int64_t unix_s, char *out, size_t n);
/*
 * Parses Go's time.String() text "2006-01-02 15:04:05[.frac] -0700 MST" (the zone name and a
 * trailing " m=+…" are ignored; the numeric offset decides) into unix ms. 0 or -EINVAL.
 */
int gotime_parse_string(const char *s, int64_t *ms);
/* unix ms as "2006-01-02 15:04:05" at a time-zone offset (seconds east) into out[cap] (>= 20). */
void gotime_datetime(int64_t ms, int tz_offset_s, char *out, size_t cap);

#endif
