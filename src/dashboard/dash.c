/*
 * dash: wires the dashboard together on one loop. Start-up: open the store
 * (migrations), load every server into the live registry, start the writer
 * thread, start listeners, then uv_run. The servers table is polled on the work
 * pool (store_servers_rev) so that `lotus-dashboard server add/del` run from a
 * shell take effect within a second; reconciling happens on the loop.
 */
#include "dash.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <uv.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "dashboard/api/api.h"
#include "dashboard/geoip.h"
#include "dashboard/config.h"
#include "dashboard/live.h"
#include "dashboard/monitor.h"
#include "dashboard/promrw.h"
#include "dashboard/store.h"
#include "dashboard/svc.h"

struct dash {
    uv_loop_t loop;
    const struct dash_opts *o;
    struct store *st;
    struct live lv;
    struct geoip *geo;
    struct svc *svc;
    struct monitors *mon;
    struct promrw *rw; /* NULL when prometheus.remotewrite.url is empty */
    struct api *api;
    uv_signal_t sigint;
    uv_signal_t sigterm;
    uv_timer_t sync_timer;
    uv_work_t sync_work;
    int sync_busy;
    int stopping;
    int64_t servers_rev;
    /* results of the sync work, handed from the pool thread to the loop */
    int sync_changed;
    int64_t sync_rev;
    struct store_server *sync_rows;
    size_t sync_n;
    int64_t tokens_rev;
    int64_t sync_tokens_rev;
    int sync_tokens_changed;
    struct store_token *sync_tokens;
    size_t sync_n_tokens;
    int64_t monitors_rev;
    int64_t sync_monitors_rev;
    int sync_monitors_changed;
    struct store_monitor *sync_monitors;
    size_t sync_n_monitors;
    /* sessions another process ended (CLI `user passwd`): see api_sync_sessions */
    int64_t auth_rev;
    int64_t sync_auth_rev;
    int sync_auth_changed;
    uint64_t sync_fence;
    struct store_session *sync_sessions;
    size_t sync_n_sessions;
};

static void reconcile(struct dash *d, struct store_server *rows, size_t n)
{
    for (size_t i = 0; i < d->lv.n; i++)
        d->lv.servers[i]->seen = 0;
    for (size_t i = 0; i < n; i++) {
        struct live_server *old = live_find_id(&d->lv, rows[i].id);
        if (old && old->secret && rows[i].secret && strcmp(old->secret, rows[i].secret) != 0)
            svc_drop_stream(d->svc, old); /* re-keyed: the agent must authenticate again */
        struct live_server *s = live_upsert(&d->lv, &rows[i]);
        s->seen = 1;
    }
    for (size_t i = 0; i < d->lv.n;) {
        struct live_server *s = d->lv.servers[i];
        if (s->seen) {
            i++;
            continue;
        }
        log_info("server %llu (%s) was deleted; refusing its agent from now on",
                 (unsigned long long)s->id, s->name);
        if (d->svc)
            svc_drop_stream(d->svc, s);
        live_remove(&d->lv, s->id);
    }
}

static void sync_work_cb(uv_work_t *w)
{
    struct dash *d = w->data;
    int64_t rev = 0;
    d->sync_changed = 0;
    d->sync_tokens_changed = 0;
    /* No outer lock: each store call takes the store's own. A change committed between the
     * revision read and the list only makes the next poll list again. */
    if (store_servers_rev(d->st, &rev) == 0 && rev != d->servers_rev &&
        store_server_list(d->st, &d->sync_rows, &d->sync_n) == 0) {
        d->sync_rev = rev;
        d->sync_changed = 1;
    }
    if (store_tokens_rev(d->st, &rev) == 0 && rev != d->tokens_rev &&
        store_token_list(d->st, 0, &d->sync_tokens, &d->sync_n_tokens) == 0) {
        d->sync_tokens_rev = rev;
        d->sync_tokens_changed = 1;
    }
    d->sync_monitors_changed = 0;
    if (store_monitors_rev(d->st, &rev) == 0 && rev != d->monitors_rev &&
        store_monitor_list(d->st, &d->sync_monitors, &d->sync_n_monitors) == 0) {
        d->sync_monitors_rev = rev;
        d->sync_monitors_changed = 1;
    }
    d->sync_auth_changed = 0;
    if (store_auth_rev(d->st, &rev) == 0 && rev != d->auth_rev &&
        store_session_list(d->st, clock_wall_ms(), &d->sync_sessions, &d->sync_n_sessions) == 0) {
        d->sync_auth_rev = rev;
        d->sync_auth_changed = 1;
    }
}

static void sync_after_cb(uv_work_t *w, int status)
{
    struct dash *d = w->data;
    d->sync_busy = 0;
    if (status == 0 && d->sync_changed) {
        if (!d->stopping)
            reconcile(d, d->sync_rows, d->sync_n);
        d->servers_rev = d->sync_rev;
        store_server_list_free(d->sync_rows, d->sync_n);
        d->sync_rows = NULL;
        d->sync_n = 0;
    }
    if (status == 0 && d->sync_tokens_changed) {
        if (!d->stopping && d->api)
            api_set_tokens(d->api, d->sync_tokens, d->sync_n_tokens);
        d->tokens_rev = d->sync_tokens_rev;
        store_token_list_free(d->sync_tokens, d->sync_n_tokens);
        d->sync_tokens = NULL;
        d->sync_n_tokens = 0;
    }
    if (status == 0 && d->sync_monitors_changed) {
        if (!d->stopping && d->mon)
            monitors_set_defs(d->mon, d->sync_monitors, d->sync_n_monitors);
        d->monitors_rev = d->sync_monitors_rev;
        store_monitor_list_free(d->sync_monitors, d->sync_n_monitors);
        d->sync_monitors = NULL;
        d->sync_n_monitors = 0;
    }
    if (status == 0 && d->sync_auth_changed) {
        if (!d->stopping && d->api)
            api_sync_sessions(d->api, d->sync_sessions, d->sync_n_sessions, d->sync_fence);
        d->auth_rev = d->sync_auth_rev;
        store_session_list_free(d->sync_sessions, d->sync_n_sessions);
        d->sync_sessions = NULL;
        d->sync_n_sessions = 0;
    }
}

static void on_sync_timer(uv_timer_t *t)
{
    struct dash *d = t->data;
    if (d->sync_busy || d->stopping)
        return;
    d->sync_busy = 1;
    /* Read before the pool lists the sessions: any session put after this is kept. */
    d->sync_fence = d->api ? api_session_fence(d->api) : 0;
    d->sync_work.data = d;
    if (uv_queue_work(&d->loop, &d->sync_work, sync_work_cb, sync_after_cb) != 0)
        d->sync_busy = 0;
}

static void stop(struct dash *d)
{
    if (d->stopping)
        return;
    d->stopping = 1;
    log_info("shutting down");
    api_free(d->api);
    d->api = NULL;
    promrw_stop(d->rw);
    d->rw = NULL;
    monitors_free(d->mon);
    d->mon = NULL;
    svc_free(d->svc);
    d->svc = NULL;
    uv_close((uv_handle_t *)&d->sync_timer, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    stop(h->data);
}

static int load_servers(struct dash *d)
{
    struct store_server *rows = NULL;
    size_t n = 0;
    if (store_servers_rev(d->st, &d->servers_rev) != 0 ||
        store_tokens_rev(d->st, &d->tokens_rev) != 0 || store_auth_rev(d->st, &d->auth_rev) != 0)
        return -EIO;
    int rc = store_server_list(d->st, &rows, &n);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        live_upsert(&d->lv, &rows[i]);
    store_server_list_free(rows, n);
    return 0;
}

/* Prometheus remote-write, when config.yaml names a receiver (after the store, stopped before). */
static int start_promrw(struct dash *d)
{
    const struct dash_config *c = d->o->cfg;
    if (!c || !c->promrw_url || !c->promrw_url[0])
        return 0;
    struct promrw_config rc = {
        .url = c->promrw_url,
        .interval_s = (unsigned)c->promrw_interval,
        .timeout_s = (unsigned)c->promrw_timeout,
        .username = c->promrw_username,
        .password = c->promrw_password,
        .bearer_token = c->promrw_bearertoken,
        .labels = c->promrw_labels,
        .queue_samples = (size_t)c->promrw_queuesamples,
    };
    char err[512];
    if (promrw_start(&d->loop, &rc, &d->lv, d->mon, &d->rw, err, sizeof(err)) != 0) {
        fprintf(stderr, "lotus-dashboard: %s\n", err);
        return -1;
    }
    return 0;
}

int dash_run(const struct dash_opts *o)
{
    struct dash *d = xcalloc(1, sizeof(*d));
    char err[512];
    int code = 1;
    d->o = o;
    live_init(&d->lv);
    /* A peer that resets its connection while a reply is being written must cost that
     * connection (EPIPE from the write), never the process: libuv leaves SIGPIPE to us. */
    signal(SIGPIPE, SIG_IGN);
    /* One descriptor per agent and per browser: use the whole hard limit. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            log_warn("cannot raise the open-files limit to %llu", (unsigned long long)rl.rlim_max);
    }
    /* The days of /service and the dates in monitor messages are in `location` (v0), unless
     * the environment names a time zone itself. Set once, before any other thread exists. */
    if (!getenv("TZ") && o->cfg && o->cfg->location && o->cfg->location[0])
        setenv("TZ", o->cfg->location, 1);
    tzset();
    uv_loop_init(&d->loop);

    if (store_open(o->db_path, &d->st, err, sizeof(err)) != 0) {
        fprintf(stderr, "lotus-dashboard: %s\n", err);
        goto out;
    }
    live_set_store(&d->lv, d->st);
    if (load_servers(d) != 0) {
        fprintf(stderr, "lotus-dashboard: cannot load servers from '%s'\n", o->db_path);
        goto out;
    }
    if (o->geoip_db && o->geoip_db[0]) {
        if (geoip_open(o->geoip_db, &d->geo, err, sizeof(err)) != 0) {
            fprintf(stderr, "lotus-dashboard: %s\n", err);
            goto out;
        }
    }
    if (store_writer_start(d->st) != 0) {
        fprintf(stderr, "lotus-dashboard: cannot start the database writer\n");
        goto out;
    }
    struct svc_config sc = {
        .host = o->grpc_host,
        .port = o->grpc_port,
        .tls_cert = o->grpc_tls_cert,
        .tls_key = o->grpc_tls_key,
        .keepalive_ms = o->task_keepalive_ms,
        .hostinfo_ms = o->task_hostinfo_ms,
    };
    if (svc_start(&d->loop, &sc, &d->lv, d->geo, &d->svc, err, sizeof(err)) != 0) {
        fprintf(stderr, "lotus-dashboard: gRPC listener %s:%d: %s\n", o->grpc_host, o->grpc_port,
                err);
        goto out;
    }
    log_info("gRPC listening on %s:%d%s (%zu servers)", o->grpc_host, svc_port(d->svc),
             o->grpc_tls_cert ? " with TLS" : "", d->lv.n);
    struct monitor_config mc = {
        .avg_ping_count = o->cfg && o->cfg->avgpingcount > 0 ? (unsigned)o->cfg->avgpingcount : 2,
        .max_tcp_ping = o->cfg && o->cfg->maxtcppingvalue > 0 ? (double)o->cfg->maxtcppingvalue : 0,
    };
    if (store_monitors_rev(d->st, &d->monitors_rev) != 0 ||
        monitors_start(&d->loop, &mc, d->st, &d->lv, d->svc, &d->mon) != 0) {
        fprintf(stderr, "lotus-dashboard: cannot load service monitors from '%s'\n", o->db_path);
        goto out;
    }
    if (start_promrw(d) != 0)
        goto out;
    struct api_opts ao = {
        .host = o->http_host,
        .port = o->http_port,
        .cfg = o->cfg,
        .config_path = o->config_path,
        .grpc_port = svc_port(d->svc),
        .monitors = d->mon,
        .promrw = d->rw,
        .tls_cert = o->http_tls_cert,
        .tls_key = o->http_tls_key,
    };
    if (api_start(&d->loop, &ao, &d->lv, d->st, d->svc, &d->api, err, sizeof(err)) != 0) {
        fprintf(stderr, "lotus-dashboard: HTTP: %s\n", err);
        goto out;
    }
    log_info("HTTP listening on %s://%s:%d/", o->http_tls_cert ? "https" : "http", o->http_host,
             api_port(d->api));

    uv_signal_init(&d->loop, &d->sigint);
    uv_signal_init(&d->loop, &d->sigterm);
    d->sigint.data = d;
    d->sigterm.data = d;
    uv_signal_start(&d->sigint, on_signal, SIGINT);
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    uv_timer_init(&d->loop, &d->sync_timer);
    d->sync_timer.data = d;
    unsigned sync_ms = o->sync_ms ? o->sync_ms : 250;
    uv_timer_start(&d->sync_timer, on_sync_timer, sync_ms, sync_ms);

    uv_run(&d->loop, UV_RUN_DEFAULT);
    code = 0;
out:
    api_free(d->api);
    d->api = NULL;
    promrw_stop(d->rw);
    d->rw = NULL;
    monitors_free(d->mon);
    d->mon = NULL;
    if (d->svc) {
        svc_free(d->svc);
        d->svc = NULL;
    }
    /* Let close callbacks run, then make sure nothing is left. */
    uv_run(&d->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&d->loop) != 0)
        log_warn("loop closed with handles still open");
    /* LastActive is persisted at most every few seconds while running; write the latest now. */
    live_persist_pending(&d->lv);
    store_close(d->st); /* flushes queued live state */
    geoip_close(d->geo);
    live_release(&d->lv);
    free(d);
    return code;
}
