/*
 * webassets: binary search over the generated, path-sorted asset table
 * (webassets_int.h). See webassets.h for the contract.
 */
#include "dashboard/webassets.h"

#include <string.h>

#include "dashboard/webassets_int.h"

/* Orders path[0..len) against a NUL-terminated table path like memcmp over the
 * common prefix, then by length. */
static int cmp_path(const char *path, size_t len, const char *entry)
{
    size_t elen = strlen(entry);
    size_t n = len < elen ? len : elen;
    int c = n ? memcmp(path, entry, n) : 0;
    if (c != 0)
        return c;
    return len < elen ? -1 : len > elen ? 1 : 0;
}

const struct webasset *webasset_find(const char *path, size_t len)
{
    if (!path || len == 0 || len > WEBASSET_PATH_MAX || path[0] != '/')
        return NULL;
    size_t lo = 0, hi = webassets__count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_path(path, len, webassets__table[mid].path);
        if (c == 0)
            return &webassets__table[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

size_t webasset_count(void)
{
    return webassets__count;
}

const struct webasset *webasset_at(size_t i)
{
    return i < webassets__count ? &webassets__table[i] : NULL;
}
