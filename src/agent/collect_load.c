/* collect_load: load averages from /proc/loadavg (docs/protocol.md §2.2 rows 11-13). */
#include "collect_int.h"

#include <errno.h>

int collect__parse_loadavg(const char *buf, size_t len, double out[3])
{
    struct slice f[3];
    const char *cur = buf;
    struct slice line;
    if (!procfile_line(&cur, buf + len, &line) || procfile_fields(line, f, 3) != 3)
        return -EINVAL;
    double v[3];
    for (int i = 0; i < 3; i++) {
        if (procfile_decimal(f[i], &v[i]))
            return -EINVAL;
    }
    out[0] = v[0];
    out[1] = v[1];
    out[2] = v[2];
    return 0;
}

int collect__load_state(struct collector *c, Proto__State *st, uint64_t now_mono_ms)
{
    char buf[128]; /* "1.00 0.50 0.25 1/123 4567\n" */
    size_t len;
    double v[3];
    int rc = procfile_read(&c->loadavg, buf, sizeof(buf), &len);
    if (rc < 0)
        return rc;
    rc = collect__parse_loadavg(buf, len, v);
    if (rc)
        return rc;
    st->load1 = v[0];
    st->load5 = v[1];
    st->load15 = v[2];
    return 0;
}
