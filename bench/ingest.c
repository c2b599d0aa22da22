/*
 * ingest: a load generator for the dashboard's agent-facing gRPC service.
 * Simulates N agents, each on its own h2c connection (src/proto/grpc_client)
 * with its own server secret, doing what lotus-agent does: ReportSystemInfo
 * once, then a RequestTask stream held open, then ReportSystemState every
 * interval with changing values. Loopback only (the host must be a literal
 * 127.x address or "localhost").
 *
 *   ingest --port P --secrets FILE [--host 127.0.0.1] [--n N] [--offset K]
 *          [--interval-ms 1000] [--start-at UNIX_MS | --warmup S] [--duration S]
 *          [--linger S] [--hist FILE]
 *
 * FILE holds one secret per line; agents use lines offset+1 .. offset+N (so
 * several generator processes can split one file). Agents connect during the
 * warm-up (at most INGEST_MAX_CONNECTING handshakes at once) and report from
 * then on; the measurement window is [start, start + duration) in wall-clock
 * time, so several processes given the same --start-at measure the same
 * window. With --linger the agents go on reporting, uncounted, for S more
 * seconds (so that a script can sample the processes at the end of the window
 * and check freshness while they still run). At the end of the window the
 * generator prints one line
 *   INGEST agents=N registered=.. streams=.. reports=.. ok=.. rejected=..
 *          failed=.. bad_receipt=.. overrun=.. conn_fail=.. conn_lost=..
 *          stream_end=.. tasks=.. p50_us=.. p99_us=.. p999_us=.. max_us=.. cpu_s=..
 * (counters of the window, except registered/streams = state at its end and
 * conn_fail = connect failures since start) and, with --hist, writes the
 * latency histogram as "BUCKET_START_US COUNT" lines so that the histograms of
 * several processes can be merged. Latency = send of ReportSystemState to its
 * final status (the Receipt and the trailers), measured on this loop.
 * Exit status 0 once the window has been measured, 1 when stopped by a signal
 * before that, 2 on bad usage.
 *
 * Build: make bench (rule $(OUT)/bench/ingest in the Makefile).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>
#include "core/log.h"
#include "core/strnum.h"
#include "core/xalloc.h"
#include "nezha_v0.pb-c.h"
#include "proto/grpc_client.h"

#define INGEST_MAX_AGENTS     20000u  /* --n */
#define INGEST_SECRET_MAX     128     /* STORE_SECRET_MAX: longest secret line */
#define INGEST_MAX_CONNECTING 256u    /* handshakes in flight during the ramp */
#define INGEST_RPC_TIMEOUT_MS 5000u   /* as the agent's AGENT_RPC_TIMEOUT_MS */
#define INGEST_KEEPALIVE_MS   15000u  /* as the agent's AGENT_KEEPALIVE_MS */
#define INGEST_RECONNECT_MS   1000u   /* after a lost connection */
#define INGEST_MSG_MAX        1024u   /* packed Host / State buffer */
#define HIST_STEP_US          10u     /* histogram bucket width */
#define HIST_BUCKETS          200000u /* 10 us x 200000 = 2 s; slower lands in the last bucket */

#define PATH_STATE           "/proto.NezhaService/ReportSystemState"
#define PATH_INFO            "/proto.NezhaService/ReportSystemInfo"
#define PATH_REQ             "/proto.NezhaService/RequestTask"
#define GRPC_UNAUTHENTICATED 16

enum sim_phase { SIM_IDLE, SIM_CONNECTING, SIM_REGISTERING, SIM_RUNNING };

struct gen;

/* One simulated agent. */
struct sim {
    struct gen *g;
    unsigned idx;
    struct grpc_client *gc;     /* owned */
    struct grpc_metadata md[1]; /* value borrows secret */
    char *secret;               /* owned */
    uv_timer_t tick;            /* state reports; also the reconnect delay */
    enum sim_phase phase;
    int streaming;  /* RequestTask stream open */
    int in_flight;  /* a State report is waiting for its status */
    int receipt_ok; /* the in-flight report got Receipt{proced=true} */
    uint64_t sent_ns;
    uint64_t seq, net_in, net_out;
};

struct counters {
    uint64_t reports, ok, rejected, failed, bad_receipt, overrun, conn_lost, stream_end, tasks;
};

struct gen {
    uv_loop_t *loop;
    struct sim *sims; /* owned, n entries */
    unsigned n;
    const char *host;
    int port;
    unsigned interval_ms;
    uint64_t start_ms, end_ms; /* window, wall clock */
    uint64_t linger_ms;        /* keep reporting (uncounted) this long after the window */
    int reported;
    const char *hist_path;
    uint32_t *hist; /* owned, HIST_BUCKETS */
    uint64_t max_us;
    struct counters c;
    uint64_t conn_fail;
    unsigned next_connect, connecting, registered;
    int window_open, stopping;
    uint64_t rng;
    uv_timer_t ramp, clock;
    uv_signal_t sigint, sigterm;
    uint8_t host_buf[INGEST_MSG_MAX];
    size_t host_len;
};

static uint64_t now_wall_ms(void)
{
    uv_timeval64_t tv;
    if (uv_gettimeofday(&tv) != 0)
        return 0;
    return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

static uint32_t rnd(struct gen *g)
{
    uint64_t x = g->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    g->rng = x;
    return (uint32_t)((x * UINT64_C(2685821657736338717)) >> 32);
}

static void sim_connect(struct sim *s);

static struct grpc_ccall *
sim_call(struct sim *s, const char *path, unsigned timeout_ms, const uint8_t *msg, size_t len,
         void (*on_message)(struct grpc_ccall *, const uint8_t *, size_t, void *),
         void (*on_done)(struct grpc_ccall *, int, const char *, void *))
{
    struct grpc_call_opts o;
    memset(&o, 0, sizeof(o));
    o.path = path;
    o.md = s->md;
    o.n_md = 1;
    o.timeout_ms = timeout_ms;
    o.on_message = on_message;
    o.on_done = on_done;
    o.ud = s;
    return grpc_client_call(s->gc, &o, msg, len);
}

static void record_latency(struct gen *g, uint64_t us)
{
    size_t b = us / HIST_STEP_US;
    if (b >= HIST_BUCKETS)
        b = HIST_BUCKETS - 1;
    g->hist[b]++;
    if (us > g->max_us)
        g->max_us = us;
}

/* ---- ReportSystemState ---- */

static void on_state_message(struct grpc_ccall *call, const uint8_t *data, size_t len, void *ud)
{
    struct sim *s = ud;
    Proto__Receipt *r = proto__receipt__unpack(NULL, len, data);
    s->receipt_ok = r && r->proced;
    proto__receipt__free_unpacked(r, NULL);
}

static void on_state_done(struct grpc_ccall *call, int status, const char *message, void *ud)
{
    struct sim *s = ud;
    struct gen *g = s->g;
    uint64_t us = (uv_hrtime() - s->sent_ns) / 1000u;
    s->in_flight = 0;
    if (!g->window_open)
        return;
    if (status == 0 && s->receipt_ok) {
        g->c.ok++;
        record_latency(g, us);
    } else if (status == 0) {
        g->c.bad_receipt++;
    } else if (status == GRPC_UNAUTHENTICATED) {
        g->c.rejected++;
    } else {
        g->c.failed++;
    }
}

static void send_state(struct sim *s)
{
    struct gen *g = s->g;
    if (s->in_flight) {
        if (g->window_open)
            g->c.overrun++;
        return;
    }
    s->seq++;
    s->net_in += 1000u + rnd(g) % 100000u;
    s->net_out += 1000u + rnd(g) % 50000u;
    Proto__State st = PROTO__STATE__INIT;
    st.cpu = (double)(rnd(g) % 10000u) / 100.0;
    st.mem_used = (UINT64_C(1) << 30) + (uint64_t)(rnd(g) % 65536u) * 4096u;
    st.swap_used = 0;
    st.disk_used = (UINT64_C(12) << 30) + s->seq * 4096u;
    st.net_in_transfer = s->net_in;
    st.net_out_transfer = s->net_out;
    st.net_in_speed = rnd(g) % 100000u;
    st.net_out_speed = rnd(g) % 50000u;
    st.uptime = 331080u + s->seq * g->interval_ms / 1000u;
    st.load1 = (double)(rnd(g) % 400u) / 100.0;
    st.load5 = (double)(rnd(g) % 400u) / 100.0;
    st.load15 = (double)(rnd(g) % 400u) / 100.0;
    st.tcp_conn_count = 100u + rnd(g) % 100u;
    st.udp_conn_count = 10u + rnd(g) % 60u;
    st.process_count = 300u + rnd(g) % 200u;
    uint8_t buf[INGEST_MSG_MAX];
    size_t len = proto__state__get_packed_size(&st);
    if (len > sizeof(buf))
        abort(); /* fixed-size fields only: cannot happen */
    proto__state__pack(&st, buf);
    s->receipt_ok = 0;
    s->sent_ns = uv_hrtime();
    if (!sim_call(s, PATH_STATE, INGEST_RPC_TIMEOUT_MS, buf, len, on_state_message,
                  on_state_done)) {
        if (g->window_open)
            g->c.failed++;
        return;
    }
    s->in_flight = 1;
    if (g->window_open)
        g->c.reports++;
}

static void on_tick(uv_timer_t *t)
{
    struct sim *s = t->data;
    if (s->g->stopping)
        return;
    if (s->phase == SIM_IDLE) { /* reconnect delay over */
        sim_connect(s);
        return;
    }
    if (s->phase == SIM_RUNNING)
        send_state(s);
}

/* ---- RequestTask ---- */

static void on_task_message(struct grpc_ccall *call, const uint8_t *data, size_t len, void *ud)
{
    struct sim *s = ud;
    if (s->g->window_open)
        s->g->c.tasks++;
}

static void on_task_done(struct grpc_ccall *call, int status, const char *message, void *ud)
{
    struct sim *s = ud;
    s->streaming = 0;
    if (s->g->window_open && !s->g->stopping)
        s->g->c.stream_end++;
}

/* ---- ReportSystemInfo (registration) ---- */

static void on_info_done(struct grpc_ccall *call, int status, const char *message, void *ud)
{
    struct sim *s = ud;
    struct gen *g = s->g;
    if (s->phase != SIM_REGISTERING)
        return;
    if (status != 0) {
        if (status == GRPC_UNAUTHENTICATED && g->window_open)
            g->c.rejected++;
        else if (g->window_open)
            g->c.failed++;
        log_warn("agent %u: ReportSystemInfo failed: grpc status %d \"%s\"", s->idx, status,
                 message);
        grpc_client_disconnect(s->gc);
        s->phase = SIM_IDLE;
        uv_timer_start(&s->tick, on_tick, INGEST_RECONNECT_MS, 0);
        return;
    }
    if (!sim_call(s, PATH_REQ, 0, g->host_buf, g->host_len, on_task_message, on_task_done)) {
        grpc_client_disconnect(s->gc);
        s->phase = SIM_IDLE;
        uv_timer_start(&s->tick, on_tick, INGEST_RECONNECT_MS, 0);
        return;
    }
    s->streaming = 1;
    s->phase = SIM_RUNNING;
    g->registered++;
    /* Spread the agents evenly over the interval, as independent hosts would be. */
    uv_timer_start(&s->tick, on_tick, rnd(g) % g->interval_ms, g->interval_ms);
}

static void on_client_state(struct grpc_client *c, int status)
{
    struct sim *s = grpc_client_user(c);
    struct gen *g = s->g;
    if (s->phase == SIM_CONNECTING)
        g->connecting--;
    if (status == 0 && s->phase == SIM_CONNECTING) {
        s->phase = SIM_REGISTERING;
        if (!sim_call(s, PATH_INFO, INGEST_RPC_TIMEOUT_MS, g->host_buf, g->host_len, NULL,
                      on_info_done)) {
            grpc_client_disconnect(s->gc);
            s->phase = SIM_IDLE;
            uv_timer_start(&s->tick, on_tick, INGEST_RECONNECT_MS, 0);
        }
        return;
    }
    if (status == 0)
        return;
    if (s->phase == SIM_CONNECTING) {
        g->conn_fail++;
        log_warn("agent %u: connect failed (%s)", s->idx, uv_strerror(status));
    } else {
        if (s->phase == SIM_RUNNING)
            g->registered--;
        if (g->window_open && !g->stopping)
            g->c.conn_lost++;
        log_warn("agent %u: connection lost (%s)", s->idx, uv_strerror(status));
    }
    s->phase = SIM_IDLE;
    s->streaming = 0;
    if (!g->stopping)
        uv_timer_start(&s->tick, on_tick, INGEST_RECONNECT_MS, 0);
}

static void sim_connect(struct sim *s)
{
    struct gen *g = s->g;
    s->phase = SIM_CONNECTING;
    g->connecting++;
    int rc = grpc_client_connect(s->gc);
    if (rc < 0) {
        g->connecting--;
        g->conn_fail++;
        s->phase = SIM_IDLE;
        log_warn("agent %u: cannot start connecting (%d)", s->idx, rc);
        uv_timer_start(&s->tick, on_tick, INGEST_RECONNECT_MS, 0);
    }
}

static void on_ramp(uv_timer_t *t)
{
    struct gen *g = t->data;
    while (g->next_connect < g->n && g->connecting < INGEST_MAX_CONNECTING)
        sim_connect(&g->sims[g->next_connect++]);
    if (g->next_connect == g->n)
        uv_timer_stop(t);
}

/* ---- window and shutdown ---- */

static uint64_t percentile_us(const struct gen *g, uint64_t total, double p)
{
    if (total == 0)
        return 0;
    uint64_t want = (uint64_t)((double)total * p);
    if (want >= total)
        want = total - 1;
    uint64_t seen = 0;
    for (size_t b = 0; b < HIST_BUCKETS; b++) {
        seen += g->hist[b];
        if (seen > want)
            return (uint64_t)b * HIST_STEP_US + HIST_STEP_US / 2;
    }
    return (uint64_t)HIST_BUCKETS * HIST_STEP_US;
}

static void on_sim_closed(uv_handle_t *h)
{
}

static void stop_all(struct gen *g)
{
    if (g->stopping)
        return;
    g->stopping = 1;
    uv_timer_stop(&g->ramp);
    uv_timer_stop(&g->clock);
    uv_close((uv_handle_t *)&g->ramp, NULL);
    uv_close((uv_handle_t *)&g->clock, NULL);
    uv_close((uv_handle_t *)&g->sigint, NULL);
    uv_close((uv_handle_t *)&g->sigterm, NULL);
    for (unsigned i = 0; i < g->n; i++) {
        uv_close((uv_handle_t *)&g->sims[i].tick, on_sim_closed);
        grpc_client_free(g->sims[i].gc);
        g->sims[i].gc = NULL;
    }
}

static void report(struct gen *g)
{
    unsigned streams = 0;
    for (unsigned i = 0; i < g->n; i++)
        streams += g->sims[i].streaming ? 1u : 0u;
    struct rusage ru;
    double cpu = 0;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
              (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    const struct counters *c = &g->c;
    printf("INGEST agents=%u registered=%u streams=%u reports=%llu ok=%llu rejected=%llu "
           "failed=%llu bad_receipt=%llu overrun=%llu conn_fail=%llu conn_lost=%llu "
           "stream_end=%llu tasks=%llu p50_us=%llu p99_us=%llu p999_us=%llu max_us=%llu "
           "cpu_s=%.2f\n",
           g->n, g->registered, streams, (unsigned long long)c->reports, (unsigned long long)c->ok,
           (unsigned long long)c->rejected, (unsigned long long)c->failed,
           (unsigned long long)c->bad_receipt, (unsigned long long)c->overrun,
           (unsigned long long)g->conn_fail, (unsigned long long)c->conn_lost,
           (unsigned long long)c->stream_end, (unsigned long long)c->tasks,
           (unsigned long long)percentile_us(g, c->ok, 0.50),
           (unsigned long long)percentile_us(g, c->ok, 0.99),
           (unsigned long long)percentile_us(g, c->ok, 0.999), (unsigned long long)g->max_us, cpu);
    fflush(stdout);
    if (!g->hist_path)
        return;
    FILE *f = fopen(g->hist_path, "w");
    if (!f) {
        log_error("cannot write '%s': %s", g->hist_path, strerror(errno));
        return;
    }
    for (size_t b = 0; b < HIST_BUCKETS; b++)
        if (g->hist[b])
            fprintf(f, "%zu %u\n", b * HIST_STEP_US, g->hist[b]);
    if (fclose(f) != 0)
        log_error("cannot write '%s': %s", g->hist_path, strerror(errno));
}

static void on_clock(uv_timer_t *t)
{
    struct gen *g = t->data;
    uint64_t now = now_wall_ms();
    if (!g->window_open && !g->reported && now >= g->start_ms) {
        if (g->registered < g->n)
            log_warn("window starts with %u of %u agents registered", g->registered, g->n);
        g->window_open = 1;
    }
    if (g->window_open && now >= g->end_ms) {
        report(g);
        g->reported = 1;
        g->window_open = 0;
    }
    if (g->reported && now >= g->end_ms + g->linger_ms)
        stop_all(g);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct gen *g = h->data;
    log_warn("signal %d: stopping before the end of the window", signum);
    g->window_open = 0;
    stop_all(g);
}

/* ---- set-up ---- */

static void usage(void)
{
    fprintf(stderr,
            "usage: ingest --port P --secrets FILE [--host 127.0.0.1] [--n N] [--offset K]\n"
            "              [--interval-ms MS] [--start-at UNIX_MS | --warmup S] [--duration S]\n"
            "              [--linger S] [--hist FILE]\n");
}

/* Reads lines offset+1 .. offset+n of path into secrets[n] (each owned by the caller).
 * Returns the number read, or -1 with a message. */
static long read_secrets(const char *path, unsigned long offset, unsigned n, char **secrets)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "ingest: cannot open '%s': %s\n", path, strerror(errno));
        return -1;
    }
    char line[INGEST_SECRET_MAX + 3];
    unsigned long lineno = 0;
    unsigned got = 0;
    while (got < n && fgets(line, sizeof(line), f)) {
        size_t len = strlen(line);
        if (len && line[len - 1] == '\n')
            line[--len] = '\0';
        else if (!feof(f)) {
            fprintf(stderr, "ingest: %s:%lu: line longer than %d characters\n", path, lineno + 1,
                    INGEST_SECRET_MAX);
            fclose(f);
            return -1;
        }
        if (++lineno <= offset)
            continue;
        if (len == 0 || len > INGEST_SECRET_MAX) {
            fprintf(stderr, "ingest: %s:%lu: bad secret\n", path, lineno);
            fclose(f);
            return -1;
        }
        secrets[got++] = xstrdup(line);
    }
    fclose(f);
    return got;
}

static int parse_u64(const char *flag, const char *v, uint64_t max, uint64_t *out)
{
    if (!v || strnum_u64z(v, out) != 0 || *out > max) {
        fprintf(stderr, "ingest: %s needs a number 0..%llu\n", flag, (unsigned long long)max);
        return -1;
    }
    return 0;
}

static void pack_host(struct gen *g)
{
    static char *cpus[] = {(char *)"Bench Virtual CPU 2 Virtual Core"};
    Proto__Host h = PROTO__HOST__INIT;
    h.platform = (char *)"debian";
    h.platform_version = (char *)"12";
    h.n_cpu = 1;
    h.cpu = cpus;
    h.mem_total = UINT64_C(2) << 30;
    h.disk_total = UINT64_C(40) << 30;
    h.swap_total = 0;
    h.arch = (char *)"x86_64";
    h.virtualization = (char *)"kvm";
    h.boot_time = 1700000000u;
    h.ip = (char *)"192.0.2.1";
    h.version = (char *)"ingest-bench";
    g->host_len = proto__host__get_packed_size(&h);
    if (g->host_len > sizeof(g->host_buf))
        abort(); /* constant message */
    proto__host__pack(&h, g->host_buf);
}

int main(int argc, char **argv)
{
    const char *secrets_path = NULL;
    uint64_t n = 100, offset = 0, interval = 1000, start_at = 0, warmup = 5, duration = 30,
             port = 0;
    uint64_t linger = 0;
    struct gen g;
    memset(&g, 0, sizeof(g));
    g.host = "127.0.0.1";
    log_set_level(LOG_LEVEL_ERROR);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (!strcmp(a, "--port"))
            rc = parse_u64(a, v, 65535, &port);
        else if (!strcmp(a, "--secrets"))
            secrets_path = v;
        else if (!strcmp(a, "--host"))
            g.host = v;
        else if (!strcmp(a, "--n"))
            rc = parse_u64(a, v, INGEST_MAX_AGENTS, &n);
        else if (!strcmp(a, "--offset"))
            rc = parse_u64(a, v, 1000000, &offset);
        else if (!strcmp(a, "--interval-ms"))
            rc = parse_u64(a, v, 60000, &interval);
        else if (!strcmp(a, "--start-at"))
            rc = parse_u64(a, v, UINT64_MAX, &start_at);
        else if (!strcmp(a, "--warmup"))
            rc = parse_u64(a, v, 3600, &warmup);
        else if (!strcmp(a, "--duration"))
            rc = parse_u64(a, v, 86400, &duration);
        else if (!strcmp(a, "--linger"))
            rc = parse_u64(a, v, 3600, &linger);
        else if (!strcmp(a, "--hist"))
            g.hist_path = v;
        else if (!strcmp(a, "--debug")) {
            log_set_level(LOG_LEVEL_DEBUG);
            continue;
        } else {
            usage();
            return 2;
        }
        if (rc != 0 || !v) {
            if (!v)
                usage();
            return 2;
        }
        i++;
    }
    if (!secrets_path || port == 0 || n == 0 || interval == 0 || duration == 0 || !g.host) {
        usage();
        return 2;
    }
    if (strncmp(g.host, "127.", 4) != 0 && strcmp(g.host, "localhost") != 0) {
        fprintf(stderr, "ingest: loopback only (--host 127.x.y.z or localhost)\n");
        return 2;
    }

    g.n = (unsigned)n;
    g.port = (int)port;
    g.interval_ms = (unsigned)interval;
    g.start_ms = start_at ? start_at : now_wall_ms() + warmup * 1000u;
    g.end_ms = g.start_ms + duration * 1000u;
    g.linger_ms = linger * 1000u;
    g.rng = UINT64_C(0x9E3779B97F4A7C15) ^ (uv_hrtime() * 2654435761u) ^ offset;
    g.hist = xcalloc(HIST_BUCKETS, sizeof(*g.hist));
    g.sims = xcalloc(g.n, sizeof(*g.sims));
    char **secrets = xcalloc(g.n, sizeof(*secrets));
    long got = read_secrets(secrets_path, (unsigned long)offset, g.n, secrets);
    if (got < (long)g.n) {
        if (got >= 0)
            fprintf(stderr, "ingest: '%s' has %ld secrets after line %llu, %u wanted\n",
                    secrets_path, got, (unsigned long long)offset, g.n);
        for (long i = 0; i < got; i++)
            free(secrets[i]);
        free(secrets);
        free(g.sims);
        free(g.hist);
        return 2;
    }
    pack_host(&g);

    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) {
        fprintf(stderr, "ingest: uv_loop_init failed\n");
        return 1;
    }
    g.loop = &loop;
    for (unsigned i = 0; i < g.n; i++) {
        struct sim *s = &g.sims[i];
        s->g = &g;
        s->idx = (unsigned)offset + i;
        s->secret = secrets[i];
        s->md[0].key = "client_secret";
        s->md[0].value = s->secret;
        uv_timer_init(&loop, &s->tick);
        s->tick.data = s;
        struct grpc_client_config cc;
        memset(&cc, 0, sizeof(cc));
        cc.host = g.host;
        cc.port = g.port;
        cc.keepalive_ms = INGEST_KEEPALIVE_MS;
        cc.on_state = on_client_state;
        cc.user = s;
        s->gc = grpc_client_new(&loop, &cc);
    }
    free(secrets); /* the strings now belong to the sims */

    uv_timer_init(&loop, &g.ramp);
    uv_timer_init(&loop, &g.clock);
    g.ramp.data = g.clock.data = &g;
    uv_timer_start(&g.ramp, on_ramp, 0, 5);
    uv_timer_start(&g.clock, on_clock, 10, 10);
    uv_signal_init(&loop, &g.sigint);
    uv_signal_init(&loop, &g.sigterm);
    g.sigint.data = g.sigterm.data = &g;
    uv_signal_start(&g.sigint, on_signal, SIGINT);
    uv_signal_start(&g.sigterm, on_signal, SIGTERM);

    uv_run(&loop, UV_RUN_DEFAULT);
    int measured = g.reported;
    for (unsigned i = 0; i < g.n; i++)
        free(g.sims[i].secret);
    free(g.sims);
    free(g.hist);
    if (uv_loop_close(&loop) != 0)
        log_error("loop still has handles at exit");
    return measured ? 0 : 1;
}
