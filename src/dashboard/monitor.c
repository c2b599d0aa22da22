/*
 * monitor: run-time glue of the service monitors. See monitor.h; the
 * decisions are in monitor_logic.c.
 */
#include "dashboard/monitor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "dashboard/live.h"
#include "dashboard/svc.h"

#define PRUNE_EVERY_MS (3600LL * 1000)

int monitors_tz_offset(int64_t t_ms)
{
    time_t t = (time_t)(t_ms / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm))
        return 0;
    return (int)tm.tm_gmtoff;
}

/* ---- definitions ---- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The ids of a SkipServersRaw text (a JSON array of numbers; others are ignored), sorted. */
static uint64_t *parse_skip(const char *raw, size_t *n)
{
    *n = 0;
    json_t *j = raw ? json_loads(raw, 0, NULL) : NULL;
    if (!json_is_array(j)) {
        json_decref(j);
        return NULL;
    }
    size_t cnt = json_array_size(j);
    uint64_t *v = xmalloc((cnt ? cnt : 1) * sizeof(*v));
    for (size_t i = 0; i < cnt; i++) {
        json_t *e = json_array_get(j, i);
        if (json_is_integer(e) && json_integer_value(e) > 0)
            v[(*n)++] = (uint64_t)json_integer_value(e);
    }
    json_decref(j);
    qsort(v, *n, sizeof(*v), cmp_u64);
    return v;
}

static char *dup_or_empty(const char *s)
{
    return xstrdup(s ? s : "");
}

static void def_copy(struct store_monitor *to, const struct store_monitor *from)
{
    *to = *from;
    to->name = dup_or_empty(from->name);
    to->target = dup_or_empty(from->target);
    to->skip_servers_raw = dup_or_empty(from->skip_servers_raw);
    to->notification_tag = dup_or_empty(from->notification_tag);
    to->fail_trigger_tasks_raw = dup_or_empty(from->fail_trigger_tasks_raw);
    to->recover_trigger_tasks_raw = dup_or_empty(from->recover_trigger_tasks_raw);
    to->expect_status = dup_or_empty(from->expect_status);
    to->keyword = dup_or_empty(from->keyword);
    to->dns_rrtype = dup_or_empty(from->dns_rrtype);
    to->dns_expect = dup_or_empty(from->dns_expect);
}

/* Sets e->def from row (copied) and rebuilds the spec that points into it. */
static void entry_set_def(struct monitor_entry *e, const struct store_monitor *row)
{
    store_monitor_release(&e->def);
    free(e->skip);
    def_copy(&e->def, row);
    size_t n_skip = 0;
    e->skip = parse_skip(e->def.skip_servers_raw, &n_skip);
    struct monitor_spec *sp = &e->spec;
    memset(sp, 0, sizeof(*sp));
    sp->id = e->def.id;
    sp->name = e->def.name;
    sp->type = e->def.type;
    sp->target = e->def.target;
    sp->cover = e->def.cover;
    sp->skip = e->skip;
    sp->n_skip = n_skip;
    sp->duration_s = e->def.duration > 0 ? e->def.duration : MONITOR_DURATION_DEFAULT;
    sp->notify = e->def.notify;
    sp->latency_notify = e->def.latency_notify;
    sp->min_latency = e->def.min_latency;
    sp->max_latency = e->def.max_latency;
    sp->trigger_task = e->def.enable_trigger_task;
    if (monitor_parse_status_range(e->def.expect_status, &sp->status_min, &sp->status_max) != 0)
        sp->status_min = sp->status_max = 0; /* the API validates; a hand-edited row falls back */
    sp->keyword = e->def.keyword;
    sp->keyword_absent = e->def.keyword_absent;
    sp->dns_rrtype = e->def.dns_rrtype;
    sp->dns_expect = e->def.dns_expect;
}

static void entry_free(struct monitor_entry *e)
{
    store_monitor_release(&e->def);
    free(e->skip);
    free(e->rep);
    free(e);
}

/*
 * A new entry. One created at run time (the admin just saved it) has its first round at the
 * next tick; the ones loaded at start-up are spread over their duration, so that a restart
 * does not send every monitor to every agent in the same second.
 */
static struct monitor_entry *entry_new(const struct store_monitor *row, int64_t now, int spread)
{
    struct monitor_entry *e = xcalloc(1, sizeof(*e));
    entry_set_def(e, row);
    monitor_days_roll(&e->st, monitor_day_of(now, monitors_tz_offset(now)));
    int64_t span = e->spec.duration_s * 1000;
    e->next_round_ms = spread ? now + (int64_t)((e->def.id * 2654435761u) % (uint64_t)span) : 0;
    return e;
}

static struct monitor_entry *find(const struct monitors *m, uint64_t id)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->v[mid]->def.id == id)
            return m->v[mid];
        if (m->v[mid]->def.id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const struct monitor_entry *monitors_find(const struct monitors *m, uint64_t id)
{
    return find(m, id);
}

/* The reporter entry of server_id (created when create). */
static struct monitor_reporter *reporter(struct monitor_entry *e, uint64_t server_id, int create)
{
    size_t lo = 0, hi = e->n_rep;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (e->rep[mid].server_id == server_id)
            return &e->rep[mid];
        if (e->rep[mid].server_id < server_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!create)
        return NULL;
    if (e->n_rep == e->cap_rep) {
        e->cap_rep = e->cap_rep ? e->cap_rep * 2 : 8;
        e->rep = xrealloc(e->rep, e->cap_rep * sizeof(*e->rep));
    }
    memmove(e->rep + lo + 1, e->rep + lo, (e->n_rep - lo) * sizeof(*e->rep));
    memset(&e->rep[lo], 0, sizeof(e->rep[lo]));
    e->rep[lo].server_id = server_id;
    e->n_rep++;
    return &e->rep[lo];
}

/* Drops the reporter entries of servers the monitor no longer covers. */
static void prune_reporters(struct monitor_entry *e)
{
    size_t k = 0;
    for (size_t i = 0; i < e->n_rep; i++)
        if (monitor_covers(&e->spec, e->rep[i].server_id))
            e->rep[k++] = e->rep[i];
    e->n_rep = k;
}

void monitors_set_defs(struct monitors *m, const struct store_monitor *rows, size_t n)
{
    int64_t now = clock_wall_ms();
    struct monitor_entry **v = xmalloc((n ? n : 1) * sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        struct monitor_entry *e = find(m, rows[i].id);
        if (!e) {
            v[i] = entry_new(&rows[i], now, !m->loaded);
            log_info("monitor %llu (%s) added", (unsigned long long)rows[i].id, rows[i].name);
            continue;
        }
        int reset = e->def.type != rows[i].type ||
                    strcmp(e->def.target, rows[i].target ? rows[i].target : "") != 0;
        int64_t old_duration = e->spec.duration_s;
        entry_set_def(e, &rows[i]);
        if (reset) {
            int64_t day = e->st.day_no;
            memset(&e->st, 0, sizeof(e->st));
            e->st.day_no = day;
            e->n_rep = 0;
            e->next_round_ms = 0;
        } else if (old_duration != e->spec.duration_s) {
            e->next_round_ms = 0;
        }
        prune_reporters(e);
        v[i] = e;
    }
    /* Entries not in rows were deleted. Both lists are sorted by id (store_monitor_list): one
     * merge pass finds them. */
    size_t j = 0;
    for (size_t i = 0; i < m->n; i++) {
        struct monitor_entry *e = m->v[i];
        while (j < n && v[j]->def.id < e->def.id)
            j++;
        if (j == n || v[j] != e) {
            log_info("monitor %llu (%s) removed", (unsigned long long)e->def.id, e->def.name);
            entry_free(e);
        }
    }
    free(m->v);
    m->v = v;
    m->n = n;
}

/* ---- events ---- */

int monitors_observe(struct monitors *m, monitor_event_fn fn, void *ud)
{
    if (m->n_obs >= MONITOR_OBSERVERS_MAX)
        return -ENOSPC;
    m->obs[m->n_obs].fn = fn;
    m->obs[m->n_obs].ud = ud;
    m->n_obs++;
    return 0;
}

static void emit(struct monitors *m, const struct monitor_entry *e, uint64_t reporter,
                 const struct monitor_effects *fx)
{
    for (size_t i = 0; i < fx->n_events; i++) {
        const struct monitor_event *ev = &fx->ev[i];
        /* Until notifications exist the log is the channel; the texts carry agent data. */
        char safe[MONITOR_EVENT_TEXT_MAX * 2];
        log_escape(ev->text, safe, sizeof(safe));
        if (ev->kind == MONITOR_EV_STATUS && ev->status == MONITOR_STATUS_DOWN)
            log_warn("monitor %llu: %s", (unsigned long long)e->def.id, safe);
        else
            log_info("monitor %llu: %s", (unsigned long long)e->def.id, safe);
        for (size_t k = 0; k < m->n_obs; k++)
            m->obs[k].fn(m->obs[k].ud, e, reporter, ev);
    }
    if (fx->trigger != MONITOR_TRIGGER_NONE && e->def.enable_trigger_task)
        log_info("monitor %llu: %s trigger tasks %s (run once cron tasks exist)",
                 (unsigned long long)e->def.id,
                 fx->trigger == MONITOR_TRIGGER_FAIL ? "fail" : "recover",
                 fx->trigger == MONITOR_TRIGGER_FAIL ? e->def.fail_trigger_tasks_raw
                                                     : e->def.recover_trigger_tasks_raw);
}

/* ---- results ---- */

/* The index of server_id in m->seen, or where it would go (*found 0). */
static size_t seen_find(const struct monitors *m, uint64_t server_id, int *found)
{
    size_t lo = 0, hi = m->n_seen;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->seen[mid].server_id == server_id) {
            *found = 1;
            return mid;
        }
        if (m->seen[mid].server_id < server_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

static void mark_seen(struct monitors *m, uint64_t server_id, int64_t t)
{
    int found;
    size_t i = seen_find(m, server_id, &found);
    if (found) {
        if (t > m->seen[i].last_ms)
            m->seen[i].last_ms = t;
        return;
    }
    if (m->n_seen == m->cap_seen) {
        m->cap_seen = m->cap_seen ? m->cap_seen * 2 : 16;
        m->seen = xrealloc(m->seen, m->cap_seen * sizeof(*m->seen));
    }
    memmove(m->seen + i + 1, m->seen + i, (m->n_seen - i) * sizeof(*m->seen));
    m->seen[i].server_id = server_id;
    m->seen[i].last_ms = t;
    m->n_seen++;
}

int monitors_server_seen(const struct monitors *m, uint64_t server_id, int64_t since_ms)
{
    int found;
    size_t i = seen_find(m, server_id, &found);
    return found && m->seen[i].last_ms >= since_ms;
}

/* Applies one result (a real one, or a round nobody answered) of server srv_id to e. */
static void apply(struct monitors *m, struct monitor_entry *e, uint64_t srv_id,
                  const char *srv_name, int ok, double delay, const char *data, int64_t now)
{
    struct monitor_reporter *r = reporter(e, srv_id, 1);
    r->sent_ms = 0;
    r->last_ms = now;
    r->last_ok = ok;
    r->last_delay = delay;
    if (e->def.type == MONITOR_TYPE_ICMP || e->def.type == MONITOR_TYPE_TCP) {
        struct monitor_row row;
        unsigned avg = m->cfg.avg_ping_count ? m->cfg.avg_ping_count : 2;
        if (monitor_ping_add(&r->ping, ok, delay, avg, m->cfg.max_tcp_ping, &row)) {
            struct store_monitor_row sr = {.monitor_id = e->def.id,
                                           .server_id = srv_id,
                                           .created_at = now,
                                           .avg_delay = row.avg_delay,
                                           .up = row.up,
                                           .down = row.down,
                                           .data = ok ? "" : data};
            store_enqueue_monitor_row(m->st, &sr);
            mark_seen(m, srv_id, now);
        }
    }
    struct monitor_input in = {.reporter = srv_id,
                               .reporter_name = srv_name,
                               .ok = ok,
                               .delay = delay,
                               .data = data,
                               .now_ms = now,
                               .tz_offset_s = monitors_tz_offset(now)};
    struct monitor_effects fx;
    monitor_on_result(&e->st, &e->spec, &in, &fx);
    if (fx.agg_row) {
        struct store_monitor_row sr = {.monitor_id = e->def.id,
                                       .server_id = 0,
                                       .created_at = now,
                                       .avg_delay = fx.agg.avg_delay,
                                       .up = fx.agg.up,
                                       .down = fx.agg.down,
                                       .data = data};
        store_enqueue_monitor_row(m->st, &sr);
    }
    emit(m, e, srv_id, &fx);
}

/* The task type a result of e must carry (HTTP monitors: 1, or 101 from Lotus agents). */
static int type_matches(const struct monitor_entry *e, uint64_t type)
{
    if (e->def.type == MONITOR_TYPE_HTTP)
        return type == MONITOR_TYPE_HTTP || type == MONITOR_TASK_HTTP_CHECK;
    return type == (uint64_t)e->def.type;
}

void monitors_on_result(void *ud, struct live_server *srv, const struct svc_result *r)
{
    struct monitors *m = ud;
    if (!monitor_task_type_is_probe(r->type))
        return; /* commands (cron) and others are not ours */
    struct monitor_entry *e = find(m, r->id);
    if (!e || !type_matches(e, r->type)) {
        log_debug("server %llu: a result for monitor %llu (type %llu) that does not exist",
                  (unsigned long long)srv->id, (unsigned long long)r->id,
                  (unsigned long long)r->type);
        return;
    }
    if (!monitor_covers(&e->spec, srv->id))
        return; /* an answer to a round sent before the monitor's cover changed */
    double delay = r->delay >= 0 && r->delay < 1e9 ? r->delay : 0;
    apply(m, e, srv->id, srv->name, r->successful, delay, r->data, clock_wall_ms());
}

/* ---- rounds ---- */

static void round_send(struct monitors *m, struct monitor_entry *e, int64_t now)
{
    char data[MONITOR_TASK_DATA_MAX];
    for (size_t i = 0; i < m->lv->n; i++) {
        struct live_server *srv = m->lv->servers[i];
        if (!srv->task_stream || !monitor_covers(&e->spec, srv->id))
            continue;
        uint64_t type;
        int rc = monitor_task(&e->spec, srv->task_lotus, &type, data, sizeof(data));
        if (rc != 0)
            continue; /* a Lotus-only monitor and a v0 agent: not this server's job */
        struct monitor_reporter *r = reporter(e, srv->id, 1);
        if (!r->sent_ms)
            r->sent_ms = now;
        if (m->svc && svc_send_task(m->svc, srv, e->def.id, type, data) != 0)
            log_debug("monitor %llu: sending to server %llu failed", (unsigned long long)e->def.id,
                      (unsigned long long)srv->id);
    }
}

/* Rounds that nobody answered in time count as failures of their reporter. */
static void sweep(struct monitors *m, struct monitor_entry *e, int64_t now)
{
    int64_t limit = monitor_answer_ms(e->def.type);
    char text[64];
    for (size_t i = 0; i < e->n_rep; i++) {
        struct monitor_reporter *r = &e->rep[i];
        if (!r->sent_ms || now - r->sent_ms <= limit)
            continue;
        uint64_t id = r->server_id;
        struct live_server *srv = live_find_id(m->lv, id);
        if (!srv) {
            r->sent_ms = 0;
            continue;
        }
        snprintf(text, sizeof(text), "no result within %lld s", (long long)(limit / 1000));
        apply(m, e, id, srv->name, 0, 0, text, now); /* may move e->rep: re-read by index */
    }
}

static void on_tick(uv_timer_t *t)
{
    struct monitors *m = t->data;
    int64_t now = clock_wall_ms();
    int64_t day = monitor_day_of(now, monitors_tz_offset(now));
    for (size_t i = 0; i < m->n; i++) {
        struct monitor_entry *e = m->v[i];
        monitor_days_roll(&e->st, day);
        if (now >= e->next_round_ms) {
            int64_t step = e->spec.duration_s * 1000;
            /* Keep the cadence; after a stall start again from now. */
            e->next_round_ms = e->next_round_ms && now - e->next_round_ms < step
                                   ? e->next_round_ms + step
                                   : now + step;
            round_send(m, e, now);
        }
        sweep(m, e, now);
    }
    if (now >= m->next_prune_ms) {
        m->next_prune_ms = now + PRUNE_EVERY_MS;
        store_enqueue_monitor_prune(m->st, now - MONITOR_SERVER_KEEP_MS, now - MONITOR_AGG_KEEP_MS);
        size_t k = 0;
        for (size_t i = 0; i < m->n_seen; i++)
            if (m->seen[i].last_ms >= now - MONITOR_SERVER_KEEP_MS)
                m->seen[k++] = m->seen[i];
        m->n_seen = k;
    }
}

/* ---- start / stop ---- */

static int load(struct monitors *m)
{
    struct store_monitor *rows = NULL;
    size_t n = 0;
    if (store_monitor_list(m->st, &rows, &n) != 0)
        return -EIO;
    monitors_set_defs(m, rows, n);
    store_monitor_list_free(rows, n);
    m->loaded = 1;
    int64_t now = clock_wall_ms();
    struct store_monitor_point *p = NULL;
    if (store_monitor_points(m->st, 0, now - MONITOR_AGG_KEEP_MS, &p, &n) != 0)
        return -EIO;
    for (size_t i = 0; i < n; i++) {
        struct monitor_entry *e = find(m, p[i].monitor_id);
        struct monitor_row row = {.avg_delay = p[i].avg_delay, .up = p[i].up, .down = p[i].down};
        if (e)
            monitor_days_add(
                &e->st, monitor_day_of(p[i].created_at, monitors_tz_offset(p[i].created_at)), &row);
    }
    free(p);
    if (store_monitor_reporters(m->st, &p, &n) != 0)
        return -EIO;
    for (size_t i = 0; i < n; i++)
        mark_seen(m, p[i].server_id, p[i].created_at);
    free(p);
    return 0;
}

int monitors_start(uv_loop_t *loop, const struct monitor_config *cfg, struct store *st,
                   struct live *lv, struct svc *svc, struct monitors **out)
{
    struct monitors *m = xcalloc(1, sizeof(*m));
    m->loop = loop;
    m->cfg = *cfg;
    m->st = st;
    m->lv = lv;
    m->svc = svc;
    if (load(m) != 0) {
        for (size_t i = 0; i < m->n; i++)
            entry_free(m->v[i]);
        free(m->v);
        free(m->seen);
        free(m);
        return -EIO;
    }
    m->next_prune_ms = clock_wall_ms() + 60000; /* the first retention a minute after start */
    uv_timer_init(loop, &m->tick);
    m->tick.data = m;
    unsigned tick = cfg->tick_ms ? cfg->tick_ms : 1000;
    uv_timer_start(&m->tick, on_tick, tick, tick);
    if (svc)
        svc_on_task_result(svc, monitors_on_result, m);
    *out = m;
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    struct monitors *m = h->data;
    for (size_t i = 0; i < m->n; i++)
        entry_free(m->v[i]);
    free(m->v);
    free(m->seen);
    free(m);
}

void monitors_free(struct monitors *m)
{
    if (!m || m->closing)
        return;
    m->closing = 1;
    if (m->svc)
        svc_on_task_result(m->svc, NULL, NULL);
    uv_timer_stop(&m->tick);
    uv_close((uv_handle_t *)&m->tick, on_closed);
}
