/*
 * gzip_bench: what on-the-fly gzip (src/dashboard/http_gzip.c) costs on the
 * loop thread. Reads a response body from a file (e.g. the 1000-server
 * details body that bench/jw_bench.c writes) and compresses it with
 * http_gzip_compress at levels 1..9, printing bytes, ratio and the mean and
 * best time of ROUNDS rounds per level.
 *
 * Build and run from the repository root after `make`:
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Isrc -Ibuild/gen bench/jw_bench.c src/core/jw.c \
 *      src/core/dtoa.c src/core/buf.c src/core/xalloc.c src/core/log.c src/core/strnum.c \
 *      src/dashboard/api/api_v1.c build/gen/nezha_v0.pb-c.c build/libdash.a build/libproto.a \
 *      build/libcore.a $(pkg-config --libs libprotobuf-c jansson sqlite3 libsodium libuv) \
 *      -lm -o build/jw_bench
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Isrc bench/gzip_bench.c src/dashboard/http_gzip.c \
 *      src/core/buf.c src/core/xalloc.c src/core/log.c -o build/gzip_bench -lz
 *   build/jw_bench build/details.json && build/gzip_bench build/details.json
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/buf.h"
#include "dashboard/http_gzip.h"

#define ROUNDS    50
#define MAX_INPUT (64u << 20)

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gzip_bench FILE\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    struct buf in;
    buf_init(&in, MAX_INPUT);
    char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (buf_append(&in, chunk, k) != 0)
            break;
    fclose(f);
    if (in.err) {
        fprintf(stderr, "%s: larger than %u bytes\n", argv[1], MAX_INPUT);
        return 1;
    }
    struct buf out;
    buf_init(&out, 0);
    for (int level = 1; level <= 9; level++) {
        double best = 1e18, total = 0;
        for (int r = 0; r < ROUNDS; r++) {
            buf_reset(&out);
            double t = now_us();
            if (http_gzip_compress(in.data, in.len, level, &out) != 0) {
                fprintf(stderr, "level %d: compression failed\n", level);
                return 1;
            }
            double dt = now_us() - t;
            total += dt;
            best = dt < best ? dt : best;
        }
        printf("level=%d in=%zu out=%zu ratio=%.3f mean_us=%.0f best_us=%.0f MB_per_s=%.0f\n",
               level, in.len, out.len, (double)out.len / (double)in.len, total / ROUNDS, best,
               (double)in.len / best);
    }
    buf_release(&out);
    buf_release(&in);
    return 0;
}
