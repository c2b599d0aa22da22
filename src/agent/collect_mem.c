/*
 * collect_mem: memory and swap from /proc/meminfo (docs/protocol.md §2.1 rows 4, 6 and
 * §2.2 rows 3, 4). Inside an LXC/Docker container with a cgroup v2 memory
 * limit below MemTotal, the limit is the total and the cgroup's usage (minus
 * its inactive page cache) is the used memory (docs/compatibility.md).
 */
#include "collect_int.h"

#include <errno.h>
#include <string.h>

int collect__parse_meminfo(const char *buf, size_t len, struct collect__meminfo *out)
{
    static const struct {
        const char *key;
        size_t off;
    } keys[] = {
        {"MemTotal", offsetof(struct collect__meminfo, total)},
        {"MemAvailable", offsetof(struct collect__meminfo, available)},
        {"MemFree", offsetof(struct collect__meminfo, free)},
        {"Buffers", offsetof(struct collect__meminfo, buffers)},
        {"Cached", offsetof(struct collect__meminfo, cached)},
        {"SwapTotal", offsetof(struct collect__meminfo, swap_total)},
        {"SwapFree", offsetof(struct collect__meminfo, swap_free)},
    };
    const char *cur = buf;
    const char *end = buf + len;
    struct slice line, key, val;
    int have_total = 0;
    memset(out, 0, sizeof(*out));
    while (procfile_line(&cur, end, &line)) {
        if (procfile_kv(line, ':', &key, &val))
            continue;
        struct slice f[2];
        size_t n = procfile_fields(val, f, 2);
        uint64_t v;
        if (n == 0 || procfile_u64(f[0], &v))
            continue;
        uint64_t mul = (n == 2 && procfile_eq(f[1], "kB")) ? 1024 : 1;
        if (v > UINT64_MAX / mul)
            continue;
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            if (!procfile_eq(key, keys[i].key))
                continue;
            memcpy((char *)out + keys[i].off, &(uint64_t){v * mul}, sizeof(uint64_t));
            if (i == 0)
                have_total = 1;
            if (i == 1)
                out->have_available = 1;
        }
    }
    return have_total ? 0 : -EINVAL;
}

uint64_t collect__mem_used(const struct collect__meminfo *m)
{
    uint64_t avail = m->available;
    if (!m->have_available)
        avail = m->free + m->buffers + m->cached;
    return m->total > avail ? m->total - avail : 0;
}

/* One-number cgroup file (memory.max / memory.current); -EINVAL for "max". */
static int cg_number(struct collector *c, const char *rel, uint64_t *out)
{
    char buf[64];
    size_t len;
    int rc = procfile_slurp(c->opts.root, rel, buf, sizeof(buf), &len);
    if (rc < 0)
        return rc;
    return procfile_u64(procfile_trim((struct slice){buf, len}), out);
}

static int cg_inactive_file(struct collector *c, uint64_t *out)
{
    size_t len;
    int rc = procfile_slurp(c->opts.root, "/sys/fs/cgroup/memory.stat", c->scratch,
                            sizeof(c->scratch), &len);
    if (rc < 0)
        return rc;
    const char *cur = c->scratch;
    struct slice line;
    while (procfile_line(&cur, c->scratch + len, &line)) {
        struct slice f[2];
        if (procfile_fields(line, f, 2) == 2 && procfile_eq(f[0], "inactive_file"))
            return procfile_u64(f[1], out);
    }
    return -ENOENT;
}

struct mem_sample {
    uint64_t total, used, swap_total, swap_used;
};

static int mem_sample(struct collector *c, struct mem_sample *s)
{
    struct collect__meminfo m;
    size_t len;
    int rc = procfile_read(&c->meminfo, c->scratch, sizeof(c->scratch), &len);
    if (rc < 0)
        return rc;
    rc = collect__parse_meminfo(c->scratch, len, &m);
    if (rc)
        return rc;
    s->total = m.total;
    s->used = collect__mem_used(&m);
    s->swap_total = m.swap_total;
    s->swap_used = m.swap_total > m.swap_free ? m.swap_total - m.swap_free : 0;

    int container = c->os.guest && (strcmp(c->os.virt_system, "lxc") == 0 ||
                                    strcmp(c->os.virt_system, "docker") == 0);
    uint64_t limit, current, inactive = 0;
    int cg = container && !c->cg_mem_missing ? cg_number(c, "/sys/fs/cgroup/memory.max", &limit)
                                             : -ENOENT;
    if (container && cg == -ENOENT)
        c->cg_mem_missing = 1; /* a failed open per report costs more than the whole file read */
    if (cg == 0 && limit > 0 && limit < s->total &&
        cg_number(c, "/sys/fs/cgroup/memory.current", &current) == 0) {
        cg_inactive_file(c, &inactive);
        s->total = limit;
        s->used = current > inactive ? current - inactive : 0;
        if (s->used > limit)
            s->used = limit;
    }
    return 0;
}

int collect__mem_state(struct collector *c, Proto__State *st, uint64_t now_mono_ms)
{
    struct mem_sample s;
    int rc = mem_sample(c, &s);
    if (rc)
        return rc;
    st->mem_used = s.used;
    st->swap_used = s.swap_used;
    return 0;
}

int collect__mem_host(struct collector *c, Proto__Host *h)
{
    c->cg_mem_missing = 0; /* look for a cgroup limit again (every Host report, 10 min) */
    struct mem_sample s;
    int rc = mem_sample(c, &s);
    if (rc)
        return rc;
    h->mem_total = s.total;
    h->swap_total = s.swap_total;
    return 0;
}
