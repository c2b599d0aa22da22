/*
 * prom_bench: the cost of one GET /metrics render (dashboard/prom.h) for a fleet of N servers
 * (default 10,000) with a full Host and State each (3 temperature sensors), plus 50 service
 * monitors: render time (median and max of R renders), body size, and the gzip size and time
 * at the level the HTTP server uses (the work pool compresses it once per render).
 *
 *   build/bench/prom_bench [servers] [renders]
 *
 * Prints one line of key=value figures (docs/benchmarks.md, "/metrics").
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/strnum.h"
#include "core/xalloc.h"
#include "dashboard/http_gzip.h"
#include "dashboard/live.h"
#include "dashboard/monitor.h"
#include "dashboard/prom.h"
#include "nezha_v0.pb-c.h"

#define NMON 50

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int main(int argc, char **argv)
{
    uint64_t n = 10000, renders = 20;
    if ((argc > 1 && strnum_u64z(argv[1], &n) != 0) ||
        (argc > 2 && strnum_u64z(argv[2], &renders) != 0) || n == 0 || renders == 0) {
        fprintf(stderr, "usage: prom_bench [servers] [renders]\n");
        return 2;
    }
    int64_t now_ms = clock_wall_ms();
    struct live lv;
    memset(&lv, 0, sizeof(lv));
    lv.servers = xcalloc(n, sizeof(*lv.servers));
    lv.n = n;
    Proto__StateSensorTemperature temps[3];
    Proto__StateSensorTemperature *tp[3];
    const char *tnames[3] = {"coretemp_package_id_0", "nvme_composite", "acpitz"};
    for (int i = 0; i < 3; i++) {
        Proto__StateSensorTemperature t = PROTO__STATE__SENSOR_TEMPERATURE__INIT;
        temps[i] = t;
        temps[i].name = (char *)tnames[i];
        temps[i].temperature = 40 + i * 3.5;
        tp[i] = &temps[i];
    }
    for (uint64_t i = 0; i < n; i++) {
        struct live_server *s = xcalloc(1, sizeof(*s));
        char name[64];
        snprintf(name, sizeof(name), "node-%05llu.example.net", (unsigned long long)i);
        s->id = i + 1;
        s->name = xstrdup(name);
        s->tag = xstrdup(i % 3 ? "prod" : "edge");
        s->hide_for_guest = i % 10 == 0;
        Proto__Host *h = xcalloc(1, sizeof(*h));
        Proto__Host hi = PROTO__HOST__INIT;
        *h = hi;
        h->platform = (char *)"debian";
        h->platform_version = (char *)"12.5";
        h->arch = (char *)"x86_64";
        h->virtualization = (char *)"kvm";
        h->version = (char *)"0.20.5";
        h->country_code = (char *)"de";
        h->mem_total = 8ull << 30;
        h->disk_total = 160ull << 30;
        h->swap_total = 2ull << 30;
        h->boot_time = 1717000000 + i;
        Proto__State *st = xcalloc(1, sizeof(*st));
        Proto__State si = PROTO__STATE__INIT;
        *st = si;
        st->cpu = (double)(i % 1000) / 10.0 + 0.123;
        st->mem_used = (3ull << 30) + i * 4096;
        st->swap_used = i * 512;
        st->disk_used = (40ull << 30) + i * 65536;
        st->net_in_transfer = 123456789012ull + i * 1000;
        st->net_out_transfer = 98765432101ull + i * 999;
        st->net_in_speed = 125000 + i;
        st->net_out_speed = 64000 + i;
        st->uptime = 864000 + i;
        st->load1 = 0.42 + (double)(i % 7) / 10;
        st->load5 = 0.37;
        st->load15 = 0.31;
        st->tcp_conn_count = 120 + i % 50;
        st->udp_conn_count = 12;
        st->process_count = 230 + i % 20;
        st->gpu = 0;
        st->temperatures = tp;
        st->n_temperatures = 3;
        s->host = h;
        s->state = st;
        s->last_active_ms = now_ms - 1000;
        s->last_active = s->last_active_ms / 1000;
        lv.servers[i] = s;
    }
    struct monitors mon;
    memset(&mon, 0, sizeof(mon));
    mon.v = xcalloc(NMON, sizeof(*mon.v));
    mon.n = NMON;
    for (int i = 0; i < NMON; i++) {
        struct monitor_entry *e = xcalloc(1, sizeof(*e));
        char name[32];
        snprintf(name, sizeof(name), "site-%02d", i);
        e->def.id = (uint64_t)i + 1;
        e->def.name = xstrdup(name);
        e->def.type = MONITOR_TYPE_HTTP;
        for (int k = 0; k < MONITOR_RING_SIZE; k++) {
            e->st.used[k] = 1;
            e->st.ok[k] = k != 3;
            e->st.delay[k] = 20 + k;
        }
        mon.v[i] = e;
    }
    struct prom_health h;
    prom_health_init(&h);
    h.reports_total = 123456789;
    h.reports_per_second = 10000;
    uint64_t *us = xcalloc(renders, sizeof(*us));
    struct buf b;
    buf_init(&b, 0);
    size_t hint = 0;
    for (uint64_t r = 0; r < renders; r++) {
        buf_reset(&b);
        uint64_t t0 = now_us();
        if (hint)
            buf_reserve(&b, hint + hint / 8); /* what api_prom_http does */
        if (prom_render(&b, &lv, &mon, &h, 1, now_ms) != 0) {
            fprintf(stderr, "render failed\n");
            return 1;
        }
        us[r] = now_us() - t0;
        hint = b.len;
    }
    qsort(us, renders, sizeof(*us), cmp_u64);
    size_t lines = 0;
    for (size_t i = 0; i < b.len; i++)
        lines += b.data[i] == '\n';
    struct buf pub;
    buf_init(&pub, 0);
    prom_render(&pub, &lv, &mon, &h, 0, now_ms);
    struct buf gz;
    buf_init(&gz, 0);
    uint64_t g0 = now_us();
    if (http_gzip_compress(b.data, b.len, HTTP_GZIP_LEVEL, &gz) != 0) {
        fprintf(stderr, "gzip failed\n");
        return 1;
    }
    uint64_t gus = now_us() - g0;
    printf("servers=%llu monitors=%d renders=%llu render_ms_median=%.2f render_ms_max=%.2f "
           "body_bytes=%zu lines=%zu public_body_bytes=%zu gzip_level=%d gzip_bytes=%zu "
           "gzip_ms=%.2f\n",
           (unsigned long long)n, NMON, (unsigned long long)renders, us[renders / 2] / 1000.0,
           us[renders - 1] / 1000.0, b.len, lines, pub.len, HTTP_GZIP_LEVEL, gz.len, gus / 1000.0);
    buf_release(&b);
    buf_release(&pub);
    buf_release(&gz);
    free(us);
    return 0;
}
