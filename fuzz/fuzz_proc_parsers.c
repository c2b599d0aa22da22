/*
 * libFuzzer driver for the agent's /proc and /sys text parsers
 * (src/agent/collect_int.h). Every parser is a pure function of (buf, len),
 * so each input is fed to all of them; the driver checks the invariants the
 * collectors rely on (NUL-terminated strings inside their arrays, counts
 * within their maxima, CPU % in [0,100]).
 *
 * Build (clang): clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE \
 *   -Isrc -Ibuild/gen fuzz/fuzz_proc_parsers.c src/agent/procfile.c src/agent/collect_*.c \
 *   src/agent/collect.c src/core/[a-z]*.c build/gen/nezha_v0.pb-c.c -lprotobuf-c
 * Seeds: fuzz/corpus/proc_parsers/ (copies of fixture files).
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/collect_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_str(const char *s, size_t cap)
{
    assert(memchr(s, '\0', cap) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct collect__cpu_times t = {0}, prev = {0};
    uint64_t u64 = 0, rx, tx;
    unsigned n;
    double d[3];
    char out[COLLECT_SHORT_MAX];

    if (collect__parse_stat(buf, size, &t, &u64) == 0) {
        assert(t.busy <= t.total);
        double p = collect__cpu_percent(&prev, &t);
        assert(p >= 0 && p <= 100);
    }

    static struct collect__cpu_models m;
    collect__parse_cpuinfo(buf, size, &m);
    assert(m.n <= COLLECT_CPU_MODELS_MAX);
    for (size_t i = 0; i < m.n; i++)
        check_str(m.name[i], sizeof(m.name[i]));

    struct collect__meminfo mi;
    if (collect__parse_meminfo(buf, size, &mi) == 0)
        assert(collect__mem_used(&mi) <= mi.total);

    static struct collect__mounts mt;
    collect__disk_select(buf, size, COLLECT_MOUNTINFO, NULL, 0, &mt);
    assert(mt.n <= COLLECT_MOUNTS_MAX);
    for (size_t i = 0; i < mt.n; i++)
        check_str(mt.point[i], sizeof(mt.point[i]));
    collect__disk_select(buf, size, COLLECT_MOUNTS, NULL, 0, &mt);
    assert(mt.n <= COLLECT_MOUNTS_MAX);

    collect__parse_netdev(buf, size, NULL, 0, &rx, &tx, &n);
    uint64_t st = 0, su = 0;
    collect__parse_sockstat(buf, size, &st, &su);
    collect__parse_loadavg(buf, size, d);
    collect__parse_uptime(buf, size, &u64);

    collect__kv_value(buf, size, "ID", out, sizeof(out));
    check_str(out, sizeof(out));
    collect__redhat_version(buf, size, out, sizeof(out));
    check_str(out, sizeof(out));
    collect__redhat_platform(buf, size, out, sizeof(out));
    check_str(out, sizeof(out));

    char key[COLLECT_SENSOR_MAX];
    size_t half = size / 2;
    collect__sensor_key((struct slice){buf, half}, (struct slice){buf + half, size - half}, key,
                        sizeof(key));
    check_str(key, sizeof(key));

    struct collect__pciids p = {.vendor = 0x10de, .device = 0x1eb8};
    const char *cur = buf;
    struct slice line;
    while (procfile_line(&cur, buf + size, &line))
        collect__pciids_line(&p, line.ptr, line.len);
    check_str(p.name, sizeof(p.name));
    return 0;
}
