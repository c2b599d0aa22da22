/*
 * promrw_bench: Prometheus remote-write throughput (issue #18) through the dashboard's own code
 * (promrw_logic and promrw's libcurl client): B batches, each one snapshot of S servers with
 * the 24 per-server families of prom_walk (labels id, name, tag), 15 s apart in time, built,
 * encoded (protobuf-c), compressed (snappy) and POSTed one after the other to URL, a real
 * receiver (bench/remote-write.sh starts Debian's prometheus). Prints the time of each stage
 * and the end-to-end rate:
 *   BENCH promrw servers=S batches=B samples=N build_ms=.. encode_ms=.. snappy_ms=.. post_ms=..
 *         raw_bytes=.. body_bytes=.. samples_per_s=.. (encode+compress+POST)
 * Usage: promrw_bench URL [--servers S] [--batches B]
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/strnum.h"
#include "dashboard/promrw.h"
#include "dashboard/promrw_logic.h"

static const char *const families[] = {
    "lotus_server_online",
    "lotus_server_last_seen_timestamp_seconds",
    "lotus_server_cpu_usage_ratio",
    "lotus_server_memory_used_bytes",
    "lotus_server_memory_total_bytes",
    "lotus_server_swap_used_bytes",
    "lotus_server_swap_total_bytes",
    "lotus_server_disk_used_bytes",
    "lotus_server_disk_total_bytes",
    "lotus_server_network_receive_bytes_per_second",
    "lotus_server_network_transmit_bytes_per_second",
    "lotus_server_network_receive_bytes_total",
    "lotus_server_network_transmit_bytes_total",
    "lotus_server_load1",
    "lotus_server_load5",
    "lotus_server_load15",
    "lotus_server_tcp_connections",
    "lotus_server_udp_connections",
    "lotus_server_processes",
    "lotus_server_temperature_max_celsius",
    "lotus_server_gpu_usage_ratio",
    "lotus_server_uptime_seconds",
    "lotus_server_boot_time_seconds",
    "lotus_server_info",
};
#define N_FAMILIES (sizeof(families) / sizeof(families[0]))

static void build(struct promrw_batch *b, unsigned servers, int64_t ts, unsigned round)
{
    promrw_batch_init(b, ts);
    for (size_t f = 0; f < N_FAMILIES; f++) {
        for (unsigned s = 0; s < servers; s++) {
            char id[16], name[32];
            snprintf(id, sizeof(id), "%u", s + 1);
            snprintf(name, sizeof(name), "server-%05u", s + 1);
            promrw_batch_begin(b, families[f]);
            promrw_batch_label(b, "id", id);
            promrw_batch_label(b, "name", name);
            promrw_batch_label(b, "tag", s % 3 ? "eu" : "us");
            promrw_batch_end(b, (double)((s * 7919u + f * 104729u + round * 31u) % 1000003u));
        }
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: promrw_bench URL [--servers S] [--batches B]\n");
        return 2;
    }
    uint64_t servers = 10000, batches = 10;
    for (int i = 2; i + 1 < argc; i += 2) {
        uint64_t *dst = strcmp(argv[i], "--servers") == 0   ? &servers
                        : strcmp(argv[i], "--batches") == 0 ? &batches
                                                            : NULL;
        if (!dst || strnum_u64(argv[i + 1], strlen(argv[i + 1]), dst) != 0 || *dst == 0) {
            fprintf(stderr, "promrw_bench: bad argument '%s'\n", argv[i]);
            return 2;
        }
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct promrw_config c = {.url = argv[1], .interval_s = 1, .timeout_s = 120};
    struct promrw_client *cl = promrw_client_new(&c, NULL);
    int64_t t_build = 0, t_enc = 0, t_z = 0, t_post = 0;
    uint64_t raw_bytes = 0, body_bytes = 0, samples = 0;
    int64_t ts0 = clock_wall_ms() - (int64_t)batches * 15000;
    struct buf raw, body;
    buf_init(&raw, 0);
    buf_init(&body, 0);
    int rc = 0;
    for (uint64_t i = 0; i < batches && rc == 0; i++) {
        struct promrw_batch b;
        int64_t t0 = clock_mono_ms();
        build(&b, (unsigned)servers, ts0 + (int64_t)i * 15000, (unsigned)i);
        int64_t t1 = clock_mono_ms();
        buf_reset(&raw);
        buf_reset(&body);
        if (promrw_encode(&b, NULL, 0, &raw) != 0 || promrw_snappy(raw.data, raw.len, &body) != 0) {
            fprintf(stderr, "promrw_bench: encode failed\n");
            rc = 1;
        }
        int64_t t2 = clock_mono_ms();
        long status = 0;
        char err[256];
        int64_t t3 = clock_mono_ms();
        if (rc == 0 && (!promrw_client_post(cl, body.data, body.len, &status, err, sizeof(err)) ||
                        status / 100 != 2)) {
            fprintf(stderr, "promrw_bench: POST failed: HTTP %ld %s\n", status, err);
            rc = 1;
        }
        int64_t t4 = clock_mono_ms();
        /* encode and snappy are timed together above; split them with a second snappy pass. */
        struct buf z2;
        buf_init(&z2, 0);
        int64_t t5 = clock_mono_ms();
        promrw_snappy(raw.data, raw.len, &z2);
        int64_t tz = clock_mono_ms() - t5;
        buf_release(&z2);
        t_build += t1 - t0;
        t_z += tz;
        t_enc += (t2 - t1) - tz;
        t_post += t4 - t3;
        raw_bytes += raw.len;
        body_bytes += body.len;
        samples += b.n_samples;
        promrw_batch_release(&b);
    }
    int64_t pipe_ms = t_enc + t_z + t_post;
    printf("BENCH promrw servers=%llu batches=%llu samples=%llu build_ms=%lld encode_ms=%lld "
           "snappy_ms=%lld post_ms=%lld raw_bytes=%llu body_bytes=%llu samples_per_s=%.0f\n",
           (unsigned long long)servers, (unsigned long long)batches, (unsigned long long)samples,
           (long long)t_build, (long long)t_enc, (long long)t_z, (long long)t_post,
           (unsigned long long)raw_bytes, (unsigned long long)body_bytes,
           pipe_ms > 0 ? (double)samples * 1000.0 / (double)pipe_ms : 0.0);
    buf_release(&raw);
    buf_release(&body);
    promrw_client_free(cl);
    curl_global_cleanup();
    return rc;
}
