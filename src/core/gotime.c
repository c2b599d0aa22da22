/*
 * gotime: see gotime.h.
 */
#include "core/gotime.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int64_t gotime_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void gotime_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Splits unix seconds into whole days and the seconds of that day (floor division). */
static void split_day(int64_t t, int64_t *days, int64_t *secs)
{
    *days = t / 86400;
    *secs = t % 86400;
    if (*secs < 0) {
        *secs += 86400;
        (*days)--;
    }
}

int gotime_string_utc(int64_t unix_s, char *out, size_t n)
{
    int64_t days, secs, y;
    int m, d;
    split_day(unix_s, &days, &secs);
    gotime_civil_from_days(days, &y, &m, &d);
    int r = snprintf(out, n, "%s%04lld-%02d-%02d %02d:%02d:%02d +0000 UTC", y < 0 ? "-" : "",
                     (long long)(y < 0 ? -y : y), m, d, (int)(secs / 3600), (int)(secs / 60 % 60),
                     (int)(secs % 60));
    if (r < 0 || (size_t)r >= n)
        return -E2BIG;
    return r;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int gotime_parse_string(const char *s, int64_t *ms)
{
    int Y, M, D, h, mi, sec, oh, om;
    if (strlen(s) < 25 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
        digits(s + 8, 2, &D) || s[10] != ' ' || digits(s + 11, 2, &h) || s[13] != ':' ||
        digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
        return -EINVAL;
    const char *p = s + 19;
    int64_t frac_ms = 0;
    if (*p == '.') {
        int n = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, n++)
            if (n < 3)
                frac_ms = frac_ms * 10 + (*p - '0');
        if (n == 0)
            return -EINVAL;
        for (; n < 3; n++)
            frac_ms *= 10;
    }
    if (p[0] != ' ' || (p[1] != '+' && p[1] != '-') || digits(p + 2, 2, &oh) ||
        digits(p + 4, 2, &om) || (p[6] != ' ' && p[6] != '\0'))
        return -EINVAL;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || sec > 60 || om > 59)
        return -EINVAL;
    int64_t off = ((int64_t)oh * 3600 + om * 60) * (p[1] == '-' ? -1 : 1);
    int64_t t = gotime_days_from_civil(Y, M, D) * 86400 + (int64_t)h * 3600 + mi * 60 + sec - off;
    *ms = t * 1000 + frac_ms;
    return 0;
}

void gotime_datetime(int64_t ms, int tz_offset_s, char *out, size_t cap)
{
    int64_t t = ms / 1000 - (ms % 1000 < 0) + tz_offset_s;
    int64_t days, secs, y;
    int m, d;
    split_day(t, &days, &secs);
    gotime_civil_from_days(days, &y, &m, &d);
    snprintf(out, cap, "%04lld-%02d-%02d %02d:%02d:%02d", (long long)y, m, d, (int)(secs / 3600),
             (int)(secs / 60 % 60), (int)(secs % 60));
}
