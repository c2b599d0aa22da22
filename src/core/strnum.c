/* strnum: strict decimal integer parsing. */
#include "strnum.h"

#include <errno.h>
#include <string.h>

int strnum_u64(const char *s, size_t n, uint64_t *out)
{
    if (!s || n == 0 || n > 20)
        return n > 20 ? -ERANGE : -EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int strnum_i64(const char *s, size_t n, int64_t *out)
{
    if (!s || n == 0)
        return -EINVAL;
    int neg = s[0] == '-';
    uint64_t v;
    int rc = strnum_u64(s + neg, n - (size_t)neg, &v);
    if (rc)
        return rc;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return -ERANGE;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return -ERANGE;
        *out = (int64_t)v;
    }
    return 0;
}

int strnum_u64z(const char *s, uint64_t *out)
{
    return strnum_u64(s, s ? strlen(s) : 0, out);
}

int strnum_i64z(const char *s, int64_t *out)
{
    return strnum_i64(s, s ? strlen(s) : 0, out);
}
