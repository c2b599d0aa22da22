/*
 * api_prom_http: GET /metrics with its render cache, gzip and health figures (see
 * api_prom_http.h).
 */
#include "dashboard/api/api_prom_http.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <uv.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/strnum.h"
#include "dashboard/api/api_guard.h"
#include "dashboard/api/api_int.h"
#include "dashboard/api/api_job.h"
#include "dashboard/config.h"
#include "dashboard/http.h"
#include "dashboard/http_gzip.h"
#include "dashboard/live.h"
#include "dashboard/prom.h"
#include "dashboard/promrw.h"
#include "dashboard/store.h"
#include "dashboard/svc.h"

void api_prom_http_init(struct api_prom *p, int64_t start_s)
{
    memset(p, 0, sizeof(*p));
    for (size_t i = 0; i < 2; i++) {
        buf_init(&p->slot[i].body, 0);
        buf_init(&p->slot[i].gz, 0);
    }
    p->start_s = start_s;
    p->rate = -1;
}

void api_prom_http_release(struct api_prom *p)
{
    for (size_t i = 0; i < 2; i++) {
        buf_release(&p->slot[i].body);
        buf_release(&p->slot[i].gz);
    }
}

/* Resident set size of this process from /proc/self/statm (bytes), 0 when unreadable. */
static uint64_t self_rss_bytes(void)
{
    char b[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n;
    do
        n = read(fd, b, sizeof(b) - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0)
        return 0;
    b[n] = '\0';
    const char *p = strchr(b, ' '); /* "size resident shared ..." in pages */
    if (!p)
        return 0;
    p++;
    size_t len = strcspn(p, " \n");
    uint64_t pages;
    long pg = sysconf(_SC_PAGESIZE);
    if (strnum_u64(p, len, &pages) != 0 || pg <= 0)
        return 0;
    return pages * (uint64_t)pg;
}

static double self_cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

/* The health figures now; updates the reports-per-second sample once a second at most. */
static void collect_health(struct api *a, uint64_t now, struct prom_health *h)
{
    struct api_prom *p = &a->prom;
    prom_health_init(h);
    if (a->svc) {
        struct svc_stats ss;
        svc_get_stats(a->svc, &ss);
        h->reports_total = ss.states;
        h->reports_dropped = ss.decode_errors + ss.auth_failures;
        h->grpc_auth_failures = ss.auth_failures;
        if (p->rate_at_ms && now - p->rate_at_ms >= 1000)
            p->rate =
                (double)(ss.states - p->rate_reports) * 1000.0 / (double)(now - p->rate_at_ms);
        if (!p->rate_at_ms || now - p->rate_at_ms >= 1000) {
            p->rate_at_ms = now;
            p->rate_reports = ss.states;
        }
        h->reports_per_second = p->rate;
    }
    if (a->http)
        h->http_errors = http_server_errors(a->http);
    if (a->st) {
        struct store_queue_stats qs;
        store_queue_stats(a->st, &qs);
        h->store_queue = (int64_t)qs.queued;
        h->store_lag_seconds = (double)qs.oldest_age_ms / 1000.0;
    }
    h->rss_bytes = self_rss_bytes();
    h->cpu_seconds = self_cpu_seconds();
    h->start_time_s = p->start_s;
    if (a->promrw) {
        struct promrw_stats rs;
        promrw_stats(a->promrw, &rs);
        h->rw_enabled = 1;
        h->rw_up = rs.up;
        h->rw_samples_sent = rs.samples_sent;
        h->rw_failed_sends = rs.failed_sends;
        h->rw_samples_dropped = rs.samples_dropped;
        h->rw_queue_samples = rs.queue_samples;
        h->rw_last_success_ms = rs.last_success_ms;
    }
}

struct gzip_ctx {
    size_t slot;     /* 0 or 1 */
    uint64_t serial; /* the slot's render serial when queued */
    struct buf in;
    struct buf out;
};

static void gzip_release(void *v)
{
    struct gzip_ctx *c = v;
    buf_release(&c->in);
    buf_release(&c->out);
}

/* Work pool: CPU only. */
static void prom_gzip_run(struct api_job *j)
{
    struct gzip_ctx *c = api_job_ctx(j);
    j->rc = http_gzip_compress(c->in.data, c->in.len, HTTP_GZIP_LEVEL, &c->out);
}

/* Loop thread: keeps the gzip form when its slot still holds the same render. */
static void prom_gzip_done(struct api_job *j)
{
    struct gzip_ctx *c = api_job_ctx(j);
    struct api *a = j->api;
    if (j->rc != 0) { /* cancelled or zlib failed: the identity body is still a valid answer */
        http_request_set_compress(j->req, 0);
        http_request_respond(j->req, 200, PROM_CONTENT_TYPE, &c->in);
        return;
    }
    if (!a->closing && a->prom.slot[c->slot].serial == c->serial) {
        struct api_prom_slot *s = &a->prom.slot[c->slot];
        buf_reset(&s->gz);
        buf_append(&s->gz, c->out.data, c->out.len);
        s->gz_serial = s->serial;
        /* Scrapers ask for gzip: keep only the compressed form (2 MB instead of 23 MB at
         * 10,000 servers); a client without gzip gets a fresh render. */
        buf_release(&s->body);
        buf_init(&s->body, 0);
        s->body_ok = 0;
    }
    http_request_respond_gzip(j->req, 200, PROM_CONTENT_TYPE, &c->out);
}

static void send_copy(struct http_request *req, const struct buf *src, int gz)
{
    struct buf b;
    buf_init(&b, 0);
    buf_append(&b, src->data, src->len);
    if (gz) {
        http_request_respond_gzip(req, 200, PROM_CONTENT_TYPE, &b);
    } else {
        http_request_set_compress(req, 0);
        http_request_respond(req, 200, PROM_CONTENT_TYPE, &b);
    }
    buf_release(&b);
}

/* 1 when the slot's gzip form is of its current render. */
static int gz_ok(const struct api_prom_slot *s)
{
    return s->serial && s->gz_serial == s->serial && s->gz.len;
}

static void send_slot(struct api *a, struct http_request *req, size_t i)
{
    struct api_prom_slot *s = &a->prom.slot[i];
    int gzip = http_request_accepts_gzip(req);
    if (gzip && gz_ok(s)) {
        send_copy(req, &s->gz, 1);
        return;
    }
    if (s->body.len < HTTP_GZIP_MIN_BYTES || !gzip) {
        send_copy(req, &s->body, 0);
        return;
    }
    struct api_job *j =
        api_job_new(a, req, prom_gzip_run, prom_gzip_done, sizeof(struct gzip_ctx), gzip_release);
    struct gzip_ctx *c = api_job_ctx(j);
    buf_init(&c->in, 0);
    buf_init(&c->out, 0);
    c->slot = i;
    c->serial = s->serial;
    buf_append(&c->in, s->body.data, s->body.len);
    api_job_start(j);
}

static void h_metrics(struct http_request *req, void *ud)
{
    struct api *a = ud;
    int token = api_guard_token_user(a, req) != 0;
    if (!token && !(a->cfg && a->cfg->metrics_public)) {
        struct buf b;
        buf_init(&b, 0);
        buf_puts(&b, "{\"code\":401,\"message\":\"an API token is required "
                     "(Authorization: Bearer <token>)\"}");
        http_request_add_header(req, "WWW-Authenticate", "Bearer realm=\"lotus\"");
        http_request_respond_json(req, 401, &b);
        buf_release(&b);
        return;
    }
    size_t i = token ? 1 : 0;
    struct api_prom_slot *s = &a->prom.slot[i];
    uint64_t now = uv_now(a->loop);
    int fresh = s->serial && now - s->at_ms < API_PROM_CACHE_MS;
    if (!fresh || (!s->body_ok && !(http_request_accepts_gzip(req) && gz_ok(s)))) {
        struct prom_health h;
        collect_health(a, now, &h);
        size_t hint = s->last_len + s->last_len / 8;
        buf_reset(&s->body);
        if (hint)
            buf_reserve(&s->body, hint);
        int rc = prom_render(&s->body, a->lv, a->mon, &h, token, clock_wall_ms());
        if (rc != 0) {
            log_warn("metrics: render failed: %s", strerror(-rc));
            s->serial = 0;
            buf_reset(&s->body);
            http_request_respond_text(req, 500, "text/plain; charset=utf-8",
                                      "metrics render failed\n");
            return;
        }
        s->at_ms = now;
        s->serial = ++a->prom.serial;
        s->body_ok = 1;
        s->last_len = s->body.len;
    }
    send_slot(a, req, i);
}

static const struct api_route routes[] = {
    {"GET", "/metrics", h_metrics},
};

void api_prom_http_routes(struct api *a)
{
    api_routes_add(a, routes, sizeof(routes) / sizeof(routes[0]));
}
