/*
 * collect_uptime: boot time (Host.boot_time, docs/protocol.md §2.1 row 9) and uptime
 * (State.uptime, §2.2 row 10). Boot time is /proc/stat btime, except inside
 * an LXC/Docker guest where it is now − /proc/uptime (the container's own
 * uptime when lxcfs virtualises it). Uptime = now − cached boot time.
 */
#include "collect_int.h"

#include <errno.h>
#include <string.h>
#include "core/clock.h"

int collect__parse_uptime(const char *buf, size_t len, uint64_t *secs)
{
    struct slice f[1];
    const char *cur = buf;
    struct slice line;
    double v;
    if (!procfile_line(&cur, buf + len, &line) || procfile_fields(line, f, 1) != 1)
        return -EINVAL;
    if (procfile_decimal(f[0], &v))
        return -EINVAL;
    *secs = (uint64_t)v;
    return 0;
}

int collect__uptime_boot(struct collector *c, uint64_t *boot_time)
{
    size_t len;
    int rc;
    int container = c->os.guest && (strcmp(c->os.virt_system, "lxc") == 0 ||
                                    strcmp(c->os.virt_system, "docker") == 0);
    if (container) {
        char buf[128];
        uint64_t up;
        rc = procfile_read(&c->uptime, buf, sizeof(buf), &len);
        if (rc < 0)
            return rc;
        rc = collect__parse_uptime(buf, len, &up);
        if (rc)
            return rc;
        uint64_t now = clock_wall_s();
        *boot_time = now > up ? now - up : 0;
        return 0;
    }
    rc = procfile_read(&c->cpu.stat, c->scratch, sizeof(c->scratch), &len);
    if (rc < 0)
        return rc;
    struct collect__cpu_times t;
    uint64_t btime = 0;
    collect__parse_stat(c->scratch, len, &t, &btime);
    if (btime == 0)
        return -EINVAL;
    *boot_time = btime;
    return 0;
}

int collect__uptime_state(struct collector *c, Proto__State *st, uint64_t now_mono_ms)
{
    if (c->boot_time == 0) {
        int rc = collect__uptime_boot(c, &c->boot_time);
        if (rc)
            return rc;
    }
    uint64_t now = clock_wall_s();
    st->uptime = now > c->boot_time ? now - c->boot_time : 0;
    return 0;
}
