/*
 * jw_bench: renders /api/v1/server/details for 1000 reported servers with
 * realistic values (CPU percentages with 16-17 significant digits, one
 * load average in 1/2048 steps as macOS reports it and two with two decimals
 * as Linux /proc/loadavg gives them, three temperatures with one decimal,
 * mixed display indexes so the sort runs) and prints ns per server and per
 * request (mean and best of 200 rounds). With a file name argument it also
 * writes the details body there (input for bench/gzip_bench.c).
 *
 * Build and run from the repository root after `make unit-tests`:
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Isrc -Ibuild/gen bench/jw_bench.c src/core/jw.c \
 *      src/core/dtoa.c src/core/buf.c src/core/xalloc.c src/core/log.c src/core/strnum.c \
 *      src/dashboard/api/api_v1.c build/gen/nezha_v0.pb-c.c build/libdash.a build/libproto.a \
 *      build/libcore.a $(pkg-config --libs libprotobuf-c jansson sqlite3 libsodium libuv) \
 *      -lm -o build/jw_bench && build/jw_bench
 * On a shared machine compare binaries in alternating runs, or count instructions, which do not
 * depend on the load: valgrind --tool=callgrind build/jw_bench (docs/benchmarks.md "JSON render").
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "dashboard/api/api_v1.h"
#include "dashboard/live.h"
#include "nezha_v0.pb-c.h"

#define N      1000
#define ROUNDS 200

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    static struct live_server srv[N];
    static struct live_server *ptr[N];
    static Proto__Host host[N];
    static Proto__State state[N];
    static Proto__StateSensorTemperature temp[N][3];
    static Proto__StateSensorTemperature *temps[N][3];
    static char names[N][32];
    static char ips[N][48];
    static char *cpu[1] = {(char *)"AMD EPYC 7B13 2 Virtual Core"};
    static const char *tnames[3] = {"acpitz", "coretemp_package_id_0", "nvme_composite"};
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < N; i++) {
        Proto__Host h = PROTO__HOST__INIT;
        Proto__State s = PROTO__STATE__INIT;
        host[i] = h;
        state[i] = s;
        snprintf(names[i], sizeof(names[i]), "server-%d", i);
        snprintf(ips[i], sizeof(ips[i]), "203.0.113.%d/2001:db8::%x", i % 256, i);
        host[i].platform = (char *)"debian";
        host[i].platform_version = (char *)"12.5";
        host[i].cpu = cpu;
        host[i].n_cpu = 1;
        host[i].mem_total = 4102828032ull;
        host[i].disk_total = 42006183936ull;
        host[i].arch = (char *)"x86_64";
        host[i].virtualization = (char *)"kvm";
        host[i].boot_time = 1717000000;
        host[i].ip = ips[i];
        host[i].country_code = (char *)"de";
        host[i].version = (char *)"0.20.5";
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state[i].cpu = (double)(x % 1000000007ull) / 1000000007.0 * 100.0;
        state[i].mem_used = x % 4102828032ull;
        state[i].disk_used = x % 42006183936ull;
        state[i].net_in_transfer = x >> 20;
        state[i].net_out_transfer = x >> 22;
        state[i].net_in_speed = x % 100000;
        state[i].net_out_speed = x % 50000;
        state[i].uptime = 236000 + (uint64_t)i;
        state[i].load1 = (double)(x % 8192) / 2048.0;
        /* Linux agents report /proc/loadavg values (two decimals) */
        state[i].load5 = (double)((x >> 13) % 800) / 100.0;
        state[i].load15 = (double)((x >> 26) % 800) / 100.0;
        state[i].tcp_conn_count = x % 500;
        state[i].udp_conn_count = x % 50;
        state[i].process_count = 100 + x % 300;
        for (int t = 0; t < 3; t++) {
            Proto__StateSensorTemperature st = PROTO__STATE__SENSOR_TEMPERATURE__INIT;
            temp[i][t] = st;
            temp[i][t].name = (char *)tnames[t];
            temp[i][t].temperature = 30.0 + (double)((x >> (t * 8)) % 400) / 10.0;
            temps[i][t] = &temp[i][t];
        }
        state[i].temperatures = temps[i];
        state[i].n_temperatures = 3;
        memset(&srv[i], 0, sizeof(srv[i]));
        srv[i].id = (uint64_t)i + 1;
        srv[i].name = names[i];
        srv[i].tag = (char *)(i % 2 ? "eu" : "asia");
        srv[i].display_index = i % 7;
        srv[i].last_active = 1717236000 + i;
        srv[i].host = &host[i];
        srv[i].state = &state[i];
        ptr[i] = &srv[i];
    }
    struct live lv = {ptr, N, N};
    struct buf b;
    buf_init(&b, 0);
    api_v1_render_details(&b, &lv, NULL, NULL); /* warm up, size the buffer */
    size_t bytes = b.len;
    if (argc > 1) {
        FILE *f = fopen(argv[1], "wb");
        if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f) != 0) {
            perror(argv[1]);
            return 1;
        }
    }
    /* Report the mean and the best round: this kind of VM is noisy. */
    double best = 1e18;
    double t0 = now_ns();
    for (int r = 0; r < ROUNDS; r++) {
        double t1 = now_ns();
        buf_reset(&b);
        if (api_v1_render_details(&b, &lv, NULL, NULL) != 0)
            return 1;
        double dt = now_ns() - t1;
        best = dt < best ? dt : best;
    }
    double per_req = (now_ns() - t0) / ROUNDS;
    printf("details servers=%d bytes=%zu mean_ns_per_request=%.0f mean_ns_per_server=%.1f "
           "best_ns_per_request=%.0f best_ns_per_server=%.1f\n",
           N, bytes, per_req, per_req / N, best, best / N);
    best = 1e18;
    t0 = now_ns();
    for (int r = 0; r < ROUNDS; r++) {
        double t1 = now_ns();
        buf_reset(&b);
        if (api_v1_render_list(&b, &lv, NULL) != 0)
            return 1;
        double dt = now_ns() - t1;
        best = dt < best ? dt : best;
    }
    per_req = (now_ns() - t0) / ROUNDS;
    printf("list servers=%d mean_ns_per_server=%.1f best_ns_per_server=%.1f\n", N, per_req / N,
           best / N);
    buf_release(&b);
    return 0;
}
