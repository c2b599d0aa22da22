/*
 * prom: the samples of a scrape and their text exposition (see prom.h).
 */
#include "dashboard/prom.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/dtoa.h"
#include "core/itoa.h"
#include "dashboard/live.h"
#include "dashboard/monitor.h"
#include "nezha_v0.pb-c.h"

const struct prom_family prom_families[PROM_F_COUNT] = {
    [PROM_F_SERVER_INFO] = {"lotus_server_info",
                            "Host facts of a server as labels (value 1); absent before its first "
                            "Host report.",
                            PROM_GAUGE},
    [PROM_F_SERVER_ONLINE] = {"lotus_server_online",
                              "1 when the server sent a State within the last 10 s, else 0.",
                              PROM_GAUGE},
    [PROM_F_SERVER_LAST_SEEN] = {"lotus_server_last_seen_timestamp_seconds",
                                 "Unix time of the server's last State report.", PROM_GAUGE},
    [PROM_F_SERVER_CPU] = {"lotus_server_cpu_usage_ratio",
                           "CPU usage of all cores, 0 to 1 (the API's CPU percent / 100).",
                           PROM_GAUGE},
    [PROM_F_SERVER_MEM_USED] = {"lotus_server_memory_used_bytes", "Memory in use.", PROM_GAUGE},
    [PROM_F_SERVER_MEM_TOTAL] = {"lotus_server_memory_total_bytes", "Memory installed.",
                                 PROM_GAUGE},
    [PROM_F_SERVER_SWAP_USED] = {"lotus_server_swap_used_bytes", "Swap in use.", PROM_GAUGE},
    [PROM_F_SERVER_SWAP_TOTAL] = {"lotus_server_swap_total_bytes", "Swap configured.", PROM_GAUGE},
    [PROM_F_SERVER_DISK_USED] = {"lotus_server_disk_used_bytes", "Disk space in use.", PROM_GAUGE},
    [PROM_F_SERVER_DISK_TOTAL] = {"lotus_server_disk_total_bytes", "Disk space in total.",
                                  PROM_GAUGE},
    [PROM_F_SERVER_NET_RX_SPEED] = {"lotus_server_network_receive_bytes_per_second",
                                    "Inbound network speed as the agent measured it.", PROM_GAUGE},
    [PROM_F_SERVER_NET_TX_SPEED] = {"lotus_server_network_transmit_bytes_per_second",
                                    "Outbound network speed as the agent measured it.", PROM_GAUGE},
    [PROM_F_SERVER_NET_RX_TOTAL] = {"lotus_server_network_receive_bytes_total",
                                    "Bytes received since the server booted.", PROM_COUNTER},
    [PROM_F_SERVER_NET_TX_TOTAL] = {"lotus_server_network_transmit_bytes_total",
                                    "Bytes sent since the server booted.", PROM_COUNTER},
    [PROM_F_SERVER_LOAD1] = {"lotus_server_load1", "1-minute load average.", PROM_GAUGE},
    [PROM_F_SERVER_LOAD5] = {"lotus_server_load5", "5-minute load average.", PROM_GAUGE},
    [PROM_F_SERVER_LOAD15] = {"lotus_server_load15", "15-minute load average.", PROM_GAUGE},
    [PROM_F_SERVER_TCP] = {"lotus_server_tcp_connections", "Open TCP connections.", PROM_GAUGE},
    [PROM_F_SERVER_UDP] = {"lotus_server_udp_connections", "Open UDP sockets.", PROM_GAUGE},
    [PROM_F_SERVER_PROCS] = {"lotus_server_processes", "Running processes.", PROM_GAUGE},
    [PROM_F_SERVER_TEMP_MAX] = {"lotus_server_temperature_max_celsius",
                                "Hottest temperature sensor; absent without sensors.", PROM_GAUGE},
    [PROM_F_SERVER_GPU] = {"lotus_server_gpu_usage_ratio", "GPU usage, 0 to 1.", PROM_GAUGE},
    [PROM_F_SERVER_UPTIME] = {"lotus_server_uptime_seconds", "Time since the server booted.",
                              PROM_GAUGE},
    [PROM_F_SERVER_BOOT_TIME] = {"lotus_server_boot_time_seconds", "Unix time the server booted.",
                                 PROM_GAUGE},
    [PROM_F_MONITOR_STATUS] = {"lotus_monitor_status",
                               "Service monitor status: 1 no data, 2 good, 3 low availability, "
                               "4 down (v0's codes, over the last 30 samples).",
                               PROM_GAUGE},
    [PROM_F_MONITOR_UP] = {"lotus_monitor_up",
                           "1 when the monitor is good or low, 0 when down; absent without data.",
                           PROM_GAUGE},
    [PROM_F_MONITOR_AVAIL] = {"lotus_monitor_availability_ratio",
                              "Share of successful probes among the last 30 samples.", PROM_GAUGE},
    [PROM_F_MONITOR_AVAIL_30D] = {"lotus_monitor_availability_30d_ratio",
                                  "Share of successful probes over 30 days.", PROM_GAUGE},
    [PROM_F_MONITOR_LATENCY] = {"lotus_monitor_latency_seconds",
                                "Mean latency of the successful probes among the last 30 samples.",
                                PROM_GAUGE},
    [PROM_F_MONITOR_REPORTER_UP] = {"lotus_monitor_reporter_up",
                                    "1 when this reporter's latest probe of the monitor succeeded.",
                                    PROM_GAUGE},
    [PROM_F_MONITOR_REPORTER_LATENCY] = {"lotus_monitor_reporter_latency_seconds",
                                         "Delay of this reporter's latest successful probe.",
                                         PROM_GAUGE},
    [PROM_F_SERVERS] = {"lotus_servers", "Servers in this scrape.", PROM_GAUGE},
    [PROM_F_SERVERS_ONLINE] = {"lotus_servers_online", "Servers of this scrape that are online.",
                               PROM_GAUGE},
    [PROM_F_AGENTS_CONNECTED] = {"lotus_agents_connected",
                                 "Servers of this scrape with an open task stream.", PROM_GAUGE},
    [PROM_F_REPORTS_TOTAL] = {"lotus_reports_total",
                              "State reports accepted since the dashboard started.", PROM_COUNTER},
    [PROM_F_REPORTS_RATE] = {"lotus_reports_per_second",
                             "State reports accepted per second, between the last two renders.",
                             PROM_GAUGE},
    [PROM_F_REPORTS_DROPPED] = {"lotus_reports_dropped_total",
                                "Agent reports refused (undecodable or unauthenticated).",
                                PROM_COUNTER},
    [PROM_F_GRPC_AUTH_FAIL] = {"lotus_grpc_auth_failures_total",
                               "gRPC calls refused for an unknown client secret.", PROM_COUNTER},
    [PROM_F_HTTP_ERRORS] = {"lotus_http_errors_total", "HTTP answers with a status of 400 or more.",
                            PROM_COUNTER},
    [PROM_F_STORE_QUEUE] = {"lotus_store_queue_length",
                            "Writes waiting for the store's writer thread.", PROM_GAUGE},
    [PROM_F_STORE_LAG] = {"lotus_store_queue_oldest_seconds",
                          "Age of the oldest write waiting for the store's writer thread.",
                          PROM_GAUGE},
    [PROM_F_PROCESS_RSS] = {"process_resident_memory_bytes",
                            "Resident memory of the dashboard process.", PROM_GAUGE},
    [PROM_F_PROCESS_CPU] = {"process_cpu_seconds_total",
                            "User and system CPU time of the dashboard process.", PROM_COUNTER},
    [PROM_F_PROCESS_START] = {"process_start_time_seconds",
                              "Unix time the dashboard process started.", PROM_GAUGE},
    [PROM_F_RW_UP] =
        {"lotus_remote_write_up",
         "1 while the remote-write receiver accepts batches, 0 after a failed attempt.",
         PROM_GAUGE},
    [PROM_F_RW_SENT] = {"lotus_remote_write_samples_sent_total",
                        "Samples the remote-write receiver accepted.", PROM_COUNTER},
    [PROM_F_RW_FAILED] = {"lotus_remote_write_failed_sends_total",
                          "Remote-write attempts that did not get a 2xx answer.", PROM_COUNTER},
    [PROM_F_RW_DROPPED] = {"lotus_remote_write_samples_dropped_total",
                           "Samples dropped: queue full, or a batch the receiver rejected.",
                           PROM_COUNTER},
    [PROM_F_RW_QUEUE] = {"lotus_remote_write_queue_samples",
                         "Samples waiting to be written to the receiver.", PROM_GAUGE},
    [PROM_F_RW_LAST_SUCCESS] = {"lotus_remote_write_last_success_timestamp_seconds",
                                "Unix time of the last batch the receiver accepted (0 = never).",
                                PROM_GAUGE},
};

void prom_health_init(struct prom_health *h)
{
    memset(h, 0, sizeof(*h));
    h->reports_per_second = -1;
    h->store_queue = -1;
    h->store_lag_seconds = -1;
    h->cpu_seconds = -1;
}

/* NaN and infinities read as 0 (docs/compatibility.md); -0 as 0. */
static double finite0(double v)
{
    return isfinite(v) && v != 0 ? v : 0;
}

static const char *str0(const char *s)
{
    return s ? s : "";
}

struct walk {
    const struct live *lv;
    int include_hidden;
    int64_t now_ms;
    prom_sample_fn fn;
    void *ud;
};

static void emit(const struct walk *w, enum prom_family_id f, const struct prom_label *l, size_t n,
                 double v)
{
    w->fn(w->ud, &prom_families[f], l, n, finite0(v));
}

/* The largest finite temperature of st; 0 and *have 0 without one. */
static double temp_max(const Proto__State *st, int *have)
{
    double m = 0;
    *have = 0;
    for (size_t i = 0; i < st->n_temperatures; i++) {
        const Proto__StateSensorTemperature *t = st->temperatures[i];
        if (!t || !isfinite(t->temperature))
            continue;
        if (!*have || t->temperature > m)
            m = t->temperature;
        *have = 1;
    }
    return m;
}

/* The value of family f for s; 0 when s lacks it (then nothing is emitted). */
static int server_value(const struct walk *w, const struct live_server *s, enum prom_family_id f,
                        double *v)
{
    const Proto__State *st = s->state;
    const Proto__Host *h = s->host;
    switch (f) {
    case PROM_F_SERVER_ONLINE:
        *v = live_server_online(s, w->now_ms);
        return 1;
    case PROM_F_SERVER_LAST_SEEN:
        *v = (double)s->last_active;
        return s->last_active > 0;
    case PROM_F_SERVER_MEM_TOTAL:
        *v = h ? (double)h->mem_total : 0;
        return h != NULL;
    case PROM_F_SERVER_SWAP_TOTAL:
        *v = h ? (double)h->swap_total : 0;
        return h != NULL;
    case PROM_F_SERVER_DISK_TOTAL:
        *v = h ? (double)h->disk_total : 0;
        return h != NULL;
    case PROM_F_SERVER_BOOT_TIME:
        *v = h ? (double)h->boot_time : 0;
        return h != NULL;
    default:
        break;
    }
    if (!st)
        return 0;
    int have = 1;
    switch (f) {
    case PROM_F_SERVER_CPU:
        *v = finite0(st->cpu) / 100;
        break;
    case PROM_F_SERVER_MEM_USED:
        *v = (double)st->mem_used;
        break;
    case PROM_F_SERVER_SWAP_USED:
        *v = (double)st->swap_used;
        break;
    case PROM_F_SERVER_DISK_USED:
        *v = (double)st->disk_used;
        break;
    case PROM_F_SERVER_NET_RX_SPEED:
        *v = (double)st->net_in_speed;
        break;
    case PROM_F_SERVER_NET_TX_SPEED:
        *v = (double)st->net_out_speed;
        break;
    case PROM_F_SERVER_NET_RX_TOTAL:
        *v = (double)st->net_in_transfer;
        break;
    case PROM_F_SERVER_NET_TX_TOTAL:
        *v = (double)st->net_out_transfer;
        break;
    case PROM_F_SERVER_LOAD1:
        *v = st->load1;
        break;
    case PROM_F_SERVER_LOAD5:
        *v = st->load5;
        break;
    case PROM_F_SERVER_LOAD15:
        *v = st->load15;
        break;
    case PROM_F_SERVER_TCP:
        *v = (double)st->tcp_conn_count;
        break;
    case PROM_F_SERVER_UDP:
        *v = (double)st->udp_conn_count;
        break;
    case PROM_F_SERVER_PROCS:
        *v = (double)st->process_count;
        break;
    case PROM_F_SERVER_TEMP_MAX:
        *v = temp_max(st, &have);
        break;
    case PROM_F_SERVER_GPU:
        *v = finite0(st->gpu) / 100;
        break;
    case PROM_F_SERVER_UPTIME:
        *v = (double)st->uptime;
        break;
    default:
        have = 0;
        break;
    }
    return have;
}

static void walk_servers(const struct walk *w, size_t from, size_t to)
{
    const struct live *lv = w->lv;
    if (to > lv->n)
        to = lv->n;
    for (int f = PROM_F_SERVER_INFO; f <= PROM_F_SERVER_BOOT_TIME; f++) {
        for (size_t i = from; i < to; i++) {
            const struct live_server *s = lv->servers[i];
            if (s->hide_for_guest && !w->include_hidden)
                continue;
            char id[ITOA_U64_MAX + 1];
            *itoa_put_u64(id, s->id) = '\0';
            struct prom_label l[PROM_LABELS_MAX] = {
                {"id", id}, {"name", str0(s->name)}, {"tag", str0(s->tag)}};
            if (f == PROM_F_SERVER_INFO) {
                const Proto__Host *h = s->host;
                if (!h)
                    continue;
                l[3] = (struct prom_label){"platform", str0(h->platform)};
                l[4] = (struct prom_label){"platform_version", str0(h->platform_version)};
                l[5] = (struct prom_label){"version", str0(h->version)};
                l[6] = (struct prom_label){"arch", str0(h->arch)};
                l[7] = (struct prom_label){"virtualization", str0(h->virtualization)};
                l[8] = (struct prom_label){"country", str0(h->country_code)};
                emit(w, PROM_F_SERVER_INFO, l, 9, 1);
                continue;
            }
            double v = 0;
            if (server_value(w, s, (enum prom_family_id)f, &v))
                emit(w, (enum prom_family_id)f, l, 3, v);
        }
    }
}

static const char *monitor_type_name(int type)
{
    switch (type) {
    case MONITOR_TYPE_HTTP:
        return "http";
    case MONITOR_TYPE_ICMP:
        return "icmp";
    case MONITOR_TYPE_TCP:
        return "tcp";
    case MONITOR_TYPE_DNS:
        return "dns";
    default:
        return "other";
    }
}

static void walk_monitors(const struct walk *w, const struct monitors *mon)
{
    for (int f = PROM_F_MONITOR_STATUS; f <= PROM_F_MONITOR_LATENCY; f++) {
        for (size_t i = 0; i < mon->n; i++) {
            const struct monitor_entry *e = mon->v[i];
            char id[ITOA_U64_MAX + 1];
            *itoa_put_u64(id, e->def.id) = '\0';
            struct prom_label l[3] = {
                {"id", id}, {"name", str0(e->def.name)}, {"type", monitor_type_name(e->def.type)}};
            uint32_t up, down;
            double avg;
            monitor_ring_counts(&e->st, &up, &down, &avg);
            enum monitor_status s = monitor_status_of(up, down);
            if (f == PROM_F_MONITOR_STATUS) {
                emit(w, PROM_F_MONITOR_STATUS, l, 3, s == MONITOR_STATUS_INIT ? 1 : s);
            } else if (f == PROM_F_MONITOR_UP) {
                if (up + down)
                    emit(w, PROM_F_MONITOR_UP, l, 3, s != MONITOR_STATUS_DOWN);
            } else if (f == PROM_F_MONITOR_AVAIL) {
                if (up + down)
                    emit(w, PROM_F_MONITOR_AVAIL, l, 3, (double)up / (up + down));
            } else if (f == PROM_F_MONITOR_AVAIL_30D) {
                double u = monitor_uptime_30d(&e->st);
                if (u >= 0)
                    emit(w, PROM_F_MONITOR_AVAIL_30D, l, 3, u / 100);
            } else if (up) {
                emit(w, PROM_F_MONITOR_LATENCY, l, 3, avg / 1000);
            }
        }
    }
    /* per reporter: the latest result of every covered server that answered */
    for (int f = PROM_F_MONITOR_REPORTER_UP; f <= PROM_F_MONITOR_REPORTER_LATENCY; f++) {
        for (size_t i = 0; i < mon->n; i++) {
            const struct monitor_entry *e = mon->v[i];
            char id[ITOA_U64_MAX + 1], rid[ITOA_U64_MAX + 1];
            *itoa_put_u64(id, e->def.id) = '\0';
            for (size_t k = 0; k < e->n_rep; k++) {
                const struct monitor_reporter *r = &e->rep[k];
                const struct live_server *s = live_find_id(w->lv, r->server_id);
                if (!r->last_ms || !s || (s->hide_for_guest && !w->include_hidden))
                    continue;
                if (f == PROM_F_MONITOR_REPORTER_LATENCY && !r->last_ok)
                    continue;
                *itoa_put_u64(rid, r->server_id) = '\0';
                struct prom_label l[5] = {{"id", id},
                                          {"name", str0(e->def.name)},
                                          {"type", monitor_type_name(e->def.type)},
                                          {"reporter_id", rid},
                                          {"reporter", str0(s->name)}};
                emit(w, (enum prom_family_id)f, l, 5,
                     f == PROM_F_MONITOR_REPORTER_UP ? (r->last_ok ? 1 : 0)
                                                     : finite0(r->last_delay) / 1000);
            }
        }
    }
}

static void walk_health(const struct walk *w, const struct prom_health *h)
{
    const struct live *lv = w->lv;
    size_t n = 0, online = 0, connected = 0;
    for (size_t i = 0; i < lv->n; i++) {
        const struct live_server *s = lv->servers[i];
        if (s->hide_for_guest && !w->include_hidden)
            continue;
        n++;
        online += live_server_online(s, w->now_ms) != 0;
        connected += s->task_stream != NULL;
    }
    emit(w, PROM_F_SERVERS, NULL, 0, (double)n);
    emit(w, PROM_F_SERVERS_ONLINE, NULL, 0, (double)online);
    emit(w, PROM_F_AGENTS_CONNECTED, NULL, 0, (double)connected);
    if (!h)
        return;
    emit(w, PROM_F_REPORTS_TOTAL, NULL, 0, (double)h->reports_total);
    if (h->reports_per_second >= 0)
        emit(w, PROM_F_REPORTS_RATE, NULL, 0, h->reports_per_second);
    emit(w, PROM_F_REPORTS_DROPPED, NULL, 0, (double)h->reports_dropped);
    emit(w, PROM_F_GRPC_AUTH_FAIL, NULL, 0, (double)h->grpc_auth_failures);
    emit(w, PROM_F_HTTP_ERRORS, NULL, 0, (double)h->http_errors);
    if (h->store_queue >= 0)
        emit(w, PROM_F_STORE_QUEUE, NULL, 0, (double)h->store_queue);
    if (h->store_lag_seconds >= 0)
        emit(w, PROM_F_STORE_LAG, NULL, 0, h->store_lag_seconds);
    if (h->rss_bytes)
        emit(w, PROM_F_PROCESS_RSS, NULL, 0, (double)h->rss_bytes);
    if (h->cpu_seconds >= 0)
        emit(w, PROM_F_PROCESS_CPU, NULL, 0, h->cpu_seconds);
    if (h->start_time_s > 0)
        emit(w, PROM_F_PROCESS_START, NULL, 0, (double)h->start_time_s);
    if (!h->rw_enabled)
        return;
    emit(w, PROM_F_RW_UP, NULL, 0, h->rw_up ? 1 : 0);
    emit(w, PROM_F_RW_SENT, NULL, 0, (double)h->rw_samples_sent);
    emit(w, PROM_F_RW_FAILED, NULL, 0, (double)h->rw_failed_sends);
    emit(w, PROM_F_RW_DROPPED, NULL, 0, (double)h->rw_samples_dropped);
    emit(w, PROM_F_RW_QUEUE, NULL, 0, (double)h->rw_queue_samples);
    emit(w, PROM_F_RW_LAST_SUCCESS, NULL, 0, (double)h->rw_last_success_ms / 1000.0);
}

void prom_walk_range(const struct live *lv, const struct monitors *mon, const struct prom_health *h,
                     int include_hidden, int64_t now_ms, size_t from, size_t to, int others,
                     prom_sample_fn fn, void *ud)
{
    struct walk w = {lv, include_hidden, now_ms, fn, ud};
    walk_servers(&w, from, to);
    if (!others)
        return;
    if (mon)
        walk_monitors(&w, mon);
    walk_health(&w, h);
}

void prom_walk(const struct live *lv, const struct monitors *mon, const struct prom_health *h,
               int include_hidden, int64_t now_ms, prom_sample_fn fn, void *ud)
{
    prom_walk_range(lv, mon, h, include_hidden, now_ms, 0, lv->n, 1, fn, ud);
}

/* ---- the text exposition ---- */

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when the bytes there are not one. */
static size_t utf8_seq(const unsigned char *p)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        if (p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80)
            return 0;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        if (p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

/*
 * Writes v escaped at o and returns the end; o must have room for 3 * strlen(v) bytes (the
 * worst case: every byte a U+FFFD).
 */
static char *put_escaped(char *o, const char *v)
{
    const unsigned char *p = (const unsigned char *)v;
    while (*p) {
        unsigned c = *p;
        if (c >= 0x20 && c < 0x80 && c != '\\' && c != '"') {
            *o++ = (char)c;
            p++;
        } else if (c == '\\' || c == '"') {
            *o++ = '\\';
            *o++ = (char)c;
            p++;
        } else if (c == '\n') {
            *o++ = '\\';
            *o++ = 'n';
            p++;
        } else if (c < 0x80) { /* other control bytes pass as they are (valid UTF-8) */
            *o++ = (char)c;
            p++;
        } else {
            size_t n = utf8_seq(p);
            if (n == 0) {
                memcpy(o, "\xef\xbf\xbd", 3); /* U+FFFD */
                o += 3;
                p++;
            } else {
                memcpy(o, p, n);
                o += n;
                p += n;
            }
        }
    }
    return o;
}

int prom_put_label_value(struct buf *out, const char *v)
{
    size_t n = strlen(v);
    if (buf_reserve(out, 3 * n) != 0)
        return out->err;
    char *end = put_escaped(out->data + out->len, v);
    out->len = (size_t)(end - out->data);
    out->data[out->len] = '\0';
    return out->err;
}

struct render {
    struct buf *out;
    const struct prom_family *last;
};

static void render_sample(void *ud, const struct prom_family *f, const struct prom_label *l,
                          size_t n, double v)
{
    struct render *r = ud;
    struct buf *o = r->out;
    if (f != r->last) {
        r->last = f;
        buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
                   f->type == PROM_COUNTER ? "counter" : "gauge");
    }
    /* The worst case first, then one cursor pass (no per-piece bounds checks). */
    size_t name_len = strlen(f->name);
    size_t bound = name_len + 2 + DTOA_GO_MAX + 2;
    for (size_t i = 0; i < n; i++)
        bound += strlen(l[i].name) + 4 + 3 * strlen(l[i].value);
    if (buf_reserve(o, bound) != 0)
        return;
    char *p = o->data + o->len;
    memcpy(p, f->name, name_len);
    p += name_len;
    for (size_t i = 0; i < n; i++) {
        *p++ = i ? ',' : '{';
        size_t ln = strlen(l[i].name);
        memcpy(p, l[i].name, ln);
        p += ln;
        *p++ = '=';
        *p++ = '"';
        p = put_escaped(p, l[i].value);
        *p++ = '"';
    }
    if (n)
        *p++ = '}';
    *p++ = ' ';
    p = dtoa_put_go(p, v);
    *p++ = '\n';
    o->len = (size_t)(p - o->data);
    o->data[o->len] = '\0';
}

int prom_render(struct buf *out, const struct live *lv, const struct monitors *mon,
                const struct prom_health *h, int include_hidden, int64_t now_ms)
{
    struct render r = {out, NULL};
    prom_walk(lv, mon, h, include_hidden, now_ms, render_sample, &r);
    return out->err;
}
