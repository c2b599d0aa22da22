/*
 * monitor_storage: bytes on disk of service-monitor history, per monitor and day, through the
 * dashboard's own store code (store_enqueue_monitor_row / store_enqueue_monitor_prune on the
 * writer thread, the same calls monitor.c makes), with simulated time: M ICMP/TCP monitors
 * probed by A agents every D seconds write what the dashboard would write in a day (a
 * per-agent row every `avgpingcount` results, an aggregate row per 30 ring samples) and the
 * hourly retention runs (reporter rows 1 day, aggregate rows 30 days). After every simulated
 * day the WAL is checkpointed and sqlite.db is measured: the first day gives the bytes per
 * monitor-day, the later days show that the file stops growing once the retention applies
 * (freed pages are reused; no VACUUM).
 *
 * Usage: monitor_storage [--monitors M] [--agents A] [--duration S] [--avg N] [--days D] DIR
 * Prints one line per day and a final machine-readable line:
 *   BENCH monitor_storage monitors=M agents=A duration=S avg=N days=D rows_per_day=..
 *     bytes_day1=.. per_monitor_day=.. bytes_end=.. growth_after_day1=.. seconds=..
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "core/clock.h"
#include "core/log.h"
#include "dashboard/store.h"

#define DAY_MS  (86400LL * 1000)
#define HOUR_MS (3600LL * 1000)
#define T0      1717200000000LL /* 2024-06-01 00:00 UTC */

static long long file_size(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 ? (long long)sb.st_size : 0;
}

static void checkpoint(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) == SQLITE_OK)
        sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    sqlite3_close(db);
}

static int num(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 1 || v > 100000)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    long monitors = 100, agents = 50, duration = 30, avg = 2, days = 3;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        long *dst = !strcmp(argv[i], "--monitors")   ? &monitors
                    : !strcmp(argv[i], "--agents")   ? &agents
                    : !strcmp(argv[i], "--duration") ? &duration
                    : !strcmp(argv[i], "--avg")      ? &avg
                    : !strcmp(argv[i], "--days")     ? &days
                                                     : NULL;
        if (dst) {
            if (i + 1 >= argc || num(argv[++i], dst) != 0) {
                fprintf(stderr, "monitor_storage: %s needs a number 1..100000\n", argv[i - 1]);
                return 2;
            }
        } else if (argv[i][0] == '-' || dir) {
            fprintf(stderr, "usage: monitor_storage [--monitors M] [--agents A] [--duration S] "
                            "[--avg N] [--days D] DIR\n");
            return 2;
        } else {
            dir = argv[i];
        }
    }
    if (!dir) {
        fprintf(stderr, "monitor_storage: a data directory is required\n");
        return 2;
    }
    log_set_level(LOG_LEVEL_WARN);
    char path[512], err[256];
    snprintf(path, sizeof(path), "%s/sqlite.db", dir);
    struct store *st = NULL;
    if (store_open(path, &st, err, sizeof(err)) != 0) {
        fprintf(stderr, "monitor_storage: %s\n", err);
        return 1;
    }
    uint64_t *sid = calloc((size_t)agents, sizeof(*sid));
    uint64_t *mid = calloc((size_t)monitors, sizeof(*mid));
    for (long i = 0; i < agents; i++) {
        char name[32];
        snprintf(name, sizeof(name), "agent-%ld", i);
        struct store_server s = {.name = name};
        if (store_server_add(st, &s) != 0)
            return 1;
        sid[i] = s.id;
        s.name = NULL;
        store_server_release(&s);
    }
    for (long i = 0; i < monitors; i++) {
        char name[32], target[64];
        snprintf(name, sizeof(name), "monitor-%ld", i);
        snprintf(target, sizeof(target), "10.0.%ld.%ld:443", i / 250, i % 250 + 1);
        struct store_monitor m = {.name = name, .type = 3, .target = target, .duration = duration};
        if (store_monitor_add(st, &m) != 0)
            return 1;
        mid[i] = m.id;
    }
    if (store_writer_start(st) != 0)
        return 1;
    int64_t t0 = clock_mono_ms();
    int64_t row_every = duration * avg * 1000; /* a reporter row per (monitor, agent) */
    int64_t gate = duration < 30 ? duration * 1000 : 30000; /* the ring's gate */
    int64_t agg_every = gate * 30;                          /* an aggregate row per full ring */
    long long rows_day = 0, day1 = 0;
    int64_t next_prune = T0 + HOUR_MS;
    uint64_t seq = 1;
    long long queued = 0;
    printf("%-4s %14s %14s %12s\n", "day", "rows written", "sqlite.db", "elapsed s");
    for (long d = 0; d < days; d++) {
        long long rows = 0;
        for (int64_t t = T0 + d * DAY_MS; t < T0 + (d + 1) * DAY_MS; t += row_every) {
            for (long m = 0; m < monitors; m++) {
                for (long a = 0; a < agents; a++) {
                    seq = seq * 6364136223846793005ULL + 1442695040888963407ULL;
                    struct store_monitor_row r = {.monitor_id = mid[m],
                                                  .server_id = sid[a],
                                                  .created_at = t + (int64_t)(a % 1000),
                                                  .avg_delay = (double)(seq >> 40) / 65536.0,
                                                  .up = (uint32_t)avg,
                                                  .down = 0,
                                                  .data = ""};
                    store_enqueue_monitor_row(st, &r);
                    rows++;
                }
                if ((t - T0) % agg_every < row_every) {
                    struct store_monitor_row r = {.monitor_id = mid[m],
                                                  .server_id = 0,
                                                  .created_at = t,
                                                  .avg_delay = 12.5,
                                                  .up = 30,
                                                  .data = "R3|2025-03-01 12:00:00 +0000 UTC"};
                    store_enqueue_monitor_row(st, &r);
                    rows++;
                }
            }
            queued += monitors * agents;
            if (t >= next_prune) {
                store_enqueue_monitor_prune(st, t - DAY_MS, t - 30 * DAY_MS);
                next_prune += HOUR_MS;
            }
            if (queued >= 200000) { /* keep the writer's queue far below its cap */
                store_flush(st);
                queued = 0;
            }
        }
        store_flush(st);
        checkpoint(path);
        long long sz = file_size(path);
        if (d == 0) {
            day1 = sz;
            rows_day = rows;
        }
        printf("%-4ld %14lld %14lld %12.1f\n", d + 1, rows, sz, (clock_mono_ms() - t0) / 1000.0);
        fflush(stdout);
    }
    store_close(st);
    checkpoint(path);
    long long end = file_size(path);
    printf("BENCH monitor_storage monitors=%ld agents=%ld duration=%ld avg=%ld days=%ld "
           "rows_per_day=%lld bytes_day1=%lld per_monitor_day=%lld bytes_end=%lld "
           "growth_after_day1=%lld seconds=%.1f\n",
           monitors, agents, duration, avg, days, rows_day, day1, day1 / monitors, end, end - day1,
           (clock_mono_ms() - t0) / 1000.0);
    free(sid);
    free(mid);
    return 0;
}
