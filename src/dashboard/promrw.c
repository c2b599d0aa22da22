/*
 * promrw: the remote-write timer (loop) and sender thread (see promrw.h). The only state the
 * two threads share is under p->mu: the queue, the counters and the stop flag; the loop holds
 * the mutex only to push a finished batch pointer (the walk and the copies happen before).
 */
#include "promrw.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/errbuf.h"
#include "core/log.h"
#include "core/version.h"
#include "core/xalloc.h"
#include "dashboard/live.h"
#include "dashboard/prom.h"
#include "dashboard/promrw_logic.h"

struct promrw_client {
    CURL *h;
    struct curl_slist *headers;
    char *url;
    const _Atomic int *abort;
    char errbuf[CURL_ERROR_SIZE];
};

/* Servers copied per loop turn while a snapshot is taken (about 15 ms at 1000 servers). */
#define SNAPSHOT_CHUNK 1000

struct promrw {
    uv_timer_t timer;
    uv_timer_t chunk;              /* 0 ms: the next piece of the snapshot being taken */
    struct promrw_batch *building; /* owned; the snapshot being taken, NULL = none */
    size_t next_server;            /* index into lv->servers of the next piece */
    int closing_handles;
    const struct live *lv;
    const struct monitors *mon;
    char *url_log; /* the URL without credentials */
    struct promrw_label *extra;
    size_t n_extra;
    struct promrw_client *cl;
    pthread_t thread;
    _Atomic int abort; /* set by promrw_stop: the transfer in progress ends */

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cond;
    int stop;
    struct promrw_queue q;
    size_t inflight_samples; /* the batch the sender holds, 0 when none */
    struct promrw_stats st;
};

/* ---- the client ---- */

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    const struct promrw_client *cl = ud;
    return cl->abort && *cl->abort ? 1 : 0;
}

static size_t discard_body(char *p, size_t size, size_t n, void *ud)
{
    return size * n;
}

struct promrw_client *promrw_client_new(const struct promrw_config *c, const _Atomic int *abort)
{
    struct promrw_client *cl = xcalloc(1, sizeof(*cl));
    cl->h = curl_easy_init();
    if (!cl->h) {
        free(cl);
        return NULL;
    }
    cl->url = xstrdup(c->url);
    cl->abort = abort;
    cl->headers = curl_slist_append(cl->headers, "Content-Encoding: snappy");
    cl->headers = curl_slist_append(cl->headers, "Content-Type: application/x-protobuf");
    cl->headers = curl_slist_append(cl->headers, "X-Prometheus-Remote-Write-Version: 0.1.0");
    cl->headers = curl_slist_append(cl->headers, "Expect:"); /* no 100-continue round trip */
    if (c->bearer_token && c->bearer_token[0]) {
        struct buf hdr;
        buf_init(&hdr, 0);
        buf_printf(&hdr, "Authorization: Bearer %s", c->bearer_token);
        cl->headers = curl_slist_append(cl->headers, hdr.data);
        buf_release(&hdr);
    } else if (c->username && c->username[0]) {
        curl_easy_setopt(cl->h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(cl->h, CURLOPT_USERNAME, c->username);
        curl_easy_setopt(cl->h, CURLOPT_PASSWORD, c->password ? c->password : "");
    }
    long timeout_ms = 1000L * (long)(c->timeout_s ? c->timeout_s : 30);
    curl_easy_setopt(cl->h, CURLOPT_URL, cl->url);
    curl_easy_setopt(cl->h, CURLOPT_HTTPHEADER, cl->headers);
    curl_easy_setopt(cl->h, CURLOPT_USERAGENT, "lotus-dashboard/" LOTUS_VERSION);
    curl_easy_setopt(cl->h, CURLOPT_POST, 1L);
    curl_easy_setopt(cl->h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(cl->h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(cl->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(cl->h, CURLOPT_ERRORBUFFER, cl->errbuf);
    curl_easy_setopt(cl->h, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(cl->h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(cl->h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(cl->h, CURLOPT_XFERINFODATA, cl);
    curl_easy_setopt(cl->h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(cl->h, CURLOPT_FOLLOWLOCATION, 0L);
    return cl;
}

void promrw_client_free(struct promrw_client *cl)
{
    if (!cl)
        return;
    curl_easy_cleanup(cl->h);
    curl_slist_free_all(cl->headers);
    free(cl->url);
    free(cl);
}

int promrw_client_post(struct promrw_client *cl, const void *body, size_t len, long *status,
                       char *err, size_t errlen)
{
    cl->errbuf[0] = '\0';
    curl_easy_setopt(cl->h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(cl->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    CURLcode rc = curl_easy_perform(cl->h);
    *status = 0;
    if (rc != CURLE_OK) {
        errbuf_set(err, errlen, "%s", cl->errbuf[0] ? cl->errbuf : curl_easy_strerror(rc));
        return 0;
    }
    curl_easy_getinfo(cl->h, CURLINFO_RESPONSE_CODE, status);
    return 1;
}

/* ---- the sender thread ---- */

/* Waits up to ms on the condition (or until stop); returns p->stop. Called with p->mu held. */
static int wait_locked(struct promrw *p, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (!p->stop) {
        if (pthread_cond_timedwait(&p->cond, &p->mu, &ts) == ETIMEDOUT)
            break;
    }
    return p->stop;
}

static void log_transition(struct promrw *p, enum promrw_transition t, enum promrw_verdict v,
                           long status, const char *why, uint64_t failures)
{
    if (t == PROMRW_WENT_DOWN && v == PROMRW_REJECTED)
        log_warn("remote write to '%s' rejected: HTTP %ld; such batches are dropped "
                 "(logged once until one is accepted)",
                 p->url_log, status);
    else if (t == PROMRW_WENT_DOWN && status)
        log_warn("remote write to '%s' failed: HTTP %ld; retrying with back-off up to %d s "
                 "(logged once until it recovers)",
                 p->url_log, status, PROMRW_BACKOFF_MAX_MS / 1000);
    else if (t == PROMRW_WENT_DOWN)
        log_warn("remote write to '%s' failed: %s; retrying with back-off up to %d s "
                 "(logged once until it recovers)",
                 p->url_log, why, PROMRW_BACKOFF_MAX_MS / 1000);
    else if (t == PROMRW_CAME_BACK)
        log_info("remote write to '%s' recovered after %llu failed attempts", p->url_log,
                 (unsigned long long)failures);
}

/* Sends one encoded batch until it is sent, rejected or the module stops. */
static void send_batch(struct promrw *p, struct promrw_health *health, const struct buf *body,
                       size_t n_samples)
{
    int64_t backoff = 0;
    for (;;) {
        long status = 0;
        char why[CURL_ERROR_SIZE + 64] = "";
        int answered = promrw_client_post(p->cl, body->data, body->len, &status, why, sizeof(why));
        enum promrw_verdict v = promrw_verdict_of(answered, status);
        uint64_t failures = health->failures;
        enum promrw_transition t = promrw_health_note(health, v == PROMRW_SENT);
        log_transition(p, t, v, answered ? status : 0, why, failures);
        if (v != PROMRW_SENT && answered)
            log_debug("remote write: attempt failed: HTTP %ld (%zu samples)", status, n_samples);
        else if (v != PROMRW_SENT)
            log_debug("remote write: attempt failed: %s (%zu samples)", why, n_samples);
        pthread_mutex_lock(&p->mu);
        p->st.up = v == PROMRW_SENT;
        if (v == PROMRW_SENT) {
            p->st.samples_sent += n_samples;
            p->st.last_success_ms = clock_wall_ms();
        } else {
            p->st.failed_sends++;
        }
        if (v == PROMRW_REJECTED)
            p->st.samples_dropped += n_samples;
        if (v != PROMRW_RETRY) {
            pthread_mutex_unlock(&p->mu);
            return;
        }
        backoff = promrw_backoff_next(backoff);
        int stop = wait_locked(p, backoff);
        pthread_mutex_unlock(&p->mu);
        if (stop)
            return;
    }
}

static void *sender_main(void *arg)
{
    struct promrw *p = arg;
    struct promrw_health health = {0};
    struct buf raw, body;
    buf_init(&raw, 0);
    buf_init(&body, 0);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->q.n == 0)
            pthread_cond_wait(&p->cond, &p->mu);
        if (p->stop)
            break;
        struct promrw_batch *b = promrw_queue_pop(&p->q);
        size_t n = b->n_samples;
        p->inflight_samples = n;
        pthread_mutex_unlock(&p->mu);

        buf_reset(&raw);
        buf_reset(&body);
        int rc = promrw_encode(b, p->extra, p->n_extra, &raw);
        promrw_batch_release(b);
        free(b);
        if (rc == 0)
            rc = promrw_snappy(raw.data, raw.len, &body);
        if (rc == 0) {
            send_batch(p, &health, &body, n);
        } else {
            log_error("remote write: cannot encode a batch of %zu samples: %s", n, strerror(-rc));
            pthread_mutex_lock(&p->mu);
            p->st.samples_dropped += n;
            pthread_mutex_unlock(&p->mu);
        }
        pthread_mutex_lock(&p->mu);
        p->inflight_samples = 0;
    }
    pthread_mutex_unlock(&p->mu);
    buf_release(&raw);
    buf_release(&body);
    return NULL;
}

/* ---- the loop side ---- */

static void on_sample(void *ud, const struct prom_family *f, const struct prom_label *labels,
                      size_t n, double value)
{
    struct promrw_batch *b = ud;
    promrw_batch_begin(b, f->name);
    for (size_t i = 0; i < n; i++)
        promrw_batch_label(b, labels[i].name, labels[i].value);
    promrw_batch_end(b, value);
}

static void push_batch(struct promrw *p, struct promrw_batch *b)
{
    pthread_mutex_lock(&p->mu);
    size_t dropped = promrw_queue_push(&p->q, b);
    p->st.samples_dropped += dropped;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->mu);
}

void promrw_snapshot(struct promrw *p, int64_t now_ms)
{
    struct promrw_batch *b = xmalloc(sizeof(*b));
    promrw_batch_init(b, now_ms);
    prom_walk(p->lv, p->mon, NULL, 1, now_ms, on_sample, b);
    push_batch(p, b);
}

/*
 * One piece of the timer's snapshot: SNAPSHOT_CHUNK servers, then back to the loop (a 0 ms
 * timer) so that agent reports are served between pieces; a 10,000-server fleet is taken in
 * ten pieces instead of one pause of the loop. The batch is queued after the last piece.
 */
static void on_chunk(uv_timer_t *t)
{
    struct promrw *p = t->data;
    struct promrw_batch *b = p->building;
    if (!b)
        return;
    size_t from = p->next_server;
    size_t to = from + SNAPSHOT_CHUNK;
    prom_walk_range(p->lv, p->mon, NULL, 1, b->ts_ms, from, to, 0, on_sample, b);
    p->next_server = to;
    if (to < p->lv->n) {
        uv_timer_start(&p->chunk, on_chunk, 0, 0);
        return;
    }
    p->building = NULL;
    push_batch(p, b);
}

static void on_timer(uv_timer_t *t)
{
    struct promrw *p = t->data;
    if (p->building)
        return; /* the previous snapshot is still being taken (a very short interval) */
    struct promrw_batch *b = xmalloc(sizeof(*b));
    promrw_batch_init(b, clock_wall_ms());
    /* monitors and the fleet's counts first, in the first turn, then the servers piece by piece */
    prom_walk_range(p->lv, p->mon, NULL, 1, b->ts_ms, 0, 0, 1, on_sample, b);
    p->building = b;
    p->next_server = 0;
    on_chunk(&p->chunk);
}

void promrw_stats(struct promrw *p, struct promrw_stats *out)
{
    pthread_mutex_lock(&p->mu);
    *out = p->st;
    out->queue_batches = p->q.n + (p->inflight_samples ? 1 : 0);
    out->queue_samples = p->q.samples + p->inflight_samples;
    pthread_mutex_unlock(&p->mu);
}

static void free_promrw(struct promrw *p)
{
    promrw_client_free(p->cl);
    promrw_queue_release(&p->q);
    promrw_labels_free(p->extra, p->n_extra);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->mu);
    free(p->url_log);
    free(p);
    curl_global_cleanup();
}

int promrw_start(uv_loop_t *loop, const struct promrw_config *c, const struct live *lv,
                 const struct monitors *mon, struct promrw **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!c->url || !c->url[0] || c->interval_s < 1) {
        errbuf_set(err, errlen, "remote write needs a URL and an interval of at least 1 s");
        return -EINVAL;
    }
    struct promrw_label *extra = NULL;
    size_t n_extra = 0;
    char why[256];
    if (promrw_labels_parse(c->labels ? c->labels : "", &extra, &n_extra, why, sizeof(why))) {
        errbuf_set(err, errlen, "prometheus.remotewrite.labels: %s", why);
        return -EINVAL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        promrw_labels_free(extra, n_extra);
        errbuf_set(err, errlen, "cannot initialise libcurl");
        return -ENOMEM;
    }
    struct promrw *p = xcalloc(1, sizeof(*p));
    p->lv = lv;
    p->mon = mon;
    p->extra = extra;
    p->n_extra = n_extra;
    p->st.up = 1;
    struct buf u;
    buf_init(&u, 0);
    promrw_url_for_log(c->url, &u);
    p->url_log = buf_detach(&u, NULL);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cond, NULL);
    promrw_queue_init(&p->q, c->queue_batches ? c->queue_batches : PROMRW_QUEUE_BATCHES,
                      c->queue_samples ? c->queue_samples : PROMRW_QUEUE_SAMPLES);
    p->cl = promrw_client_new(c, &p->abort);
    int rc = p->cl ? pthread_create(&p->thread, NULL, sender_main, p) : ENOMEM;
    if (rc != 0) {
        errbuf_set(err, errlen, "cannot start the remote-write thread: %s", strerror(rc));
        free_promrw(p);
        return -rc;
    }
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    uv_timer_init(loop, &p->chunk);
    p->chunk.data = p;
    uint64_t ms = 1000u * (uint64_t)c->interval_s;
    uv_timer_start(&p->timer, on_timer, ms, ms);
    log_info("remote write to '%s' every %u s", p->url_log, c->interval_s);
    *out = p;
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    struct promrw *p = h->data;
    if (--p->closing_handles == 0)
        free_promrw(p);
}

void promrw_stop(struct promrw *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    p->abort = 1;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    if (p->q.samples)
        log_info("remote write: %zu queued samples not sent at shutdown", p->q.samples);
    if (p->building) {
        promrw_batch_release(p->building);
        free(p->building);
        p->building = NULL;
    }
    p->closing_handles = 2;
    uv_close((uv_handle_t *)&p->timer, on_closed);
    uv_close((uv_handle_t *)&p->chunk, on_closed);
}
