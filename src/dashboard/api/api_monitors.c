/*
 * api_monitors: service-monitor routes. See api_monitors.h; the contract of
 * the Lotus routes is in docs/api-admin.md ("Service monitors").
 */
#include "dashboard/api/api_monitors.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/clock.h"
#include "core/dtoa.h"
#include "core/gotime.h"
#include "core/jw.h"
#include "core/log.h"
#include "core/strnum.h"
#include "core/xalloc.h"
#include "dashboard/api/api_guard.h"
#include "dashboard/api/api_int.h"
#include "dashboard/api/api_job.h"
#include "dashboard/api/api_reply.h"
#include "dashboard/config.h"
#include "dashboard/http.h"
#include "dashboard/live.h"
#include "dashboard/monitor.h"
#include "dashboard/store.h"

#define DAY_MS             (86400LL * 1000)
#define V1_WINDOW_MS       (24LL * 3600 * 1000) /* /api/v1/monitor/:id: the last 24 h (v0) */
#define MSG_ID_BAD         "id参数错误"
#define MSG_ID_UNKNOWN     "id不存在"
#define MSG_AUTH_NEEDED    "需要认证"
#define MSG_MONITOR_BAD_ID "错误的 Server ID" /* v0's text for every DELETE /api/:model/:id */

/* ---- GET /api/monitor ---- */

static void render_def(struct jw *jw, const struct monitor_entry *e)
{
    const struct store_monitor *d = &e->def;
    jw_key(jw, "ID");
    jw_u64(jw, d->id);
    jw_key(jw, "Name");
    jw_str(jw, d->name);
    jw_key(jw, "Type");
    jw_i64(jw, d->type);
    jw_key(jw, "Target");
    jw_str(jw, d->target);
    jw_key(jw, "Duration");
    jw_i64(jw, d->duration);
    jw_key(jw, "Cover");
    jw_i64(jw, d->cover);
    jw_key(jw, "SkipServersRaw");
    jw_str(jw, d->skip_servers_raw);
    jw_key(jw, "Notify");
    jw_bool(jw, d->notify);
    jw_key(jw, "NotificationTag");
    jw_str(jw, d->notification_tag);
    jw_key(jw, "MinLatency");
    jw_double(jw, d->min_latency);
    jw_key(jw, "MaxLatency");
    jw_double(jw, d->max_latency);
    jw_key(jw, "LatencyNotify");
    jw_bool(jw, d->latency_notify);
    jw_key(jw, "EnableShowInService");
    jw_bool(jw, d->enable_show_in_service);
    jw_key(jw, "EnableTriggerTask");
    jw_bool(jw, d->enable_trigger_task);
    jw_key(jw, "FailTriggerTasksRaw");
    jw_str(jw, d->fail_trigger_tasks_raw);
    jw_key(jw, "RecoverTriggerTasksRaw");
    jw_str(jw, d->recover_trigger_tasks_raw);
    jw_key(jw, "ExpectStatus");
    jw_str(jw, d->expect_status);
    jw_key(jw, "Keyword");
    jw_str(jw, d->keyword);
    jw_key(jw, "KeywordAbsent");
    jw_bool(jw, d->keyword_absent);
    jw_key(jw, "DNSRecordType");
    jw_str(jw, d->dns_rrtype);
    jw_key(jw, "DNSExpect");
    jw_str(jw, d->dns_expect);
    jw_key(jw, "CreatedAt");
    jw_i64(jw, d->created_at);
    jw_key(jw, "UpdatedAt");
    jw_i64(jw, d->updated_at);
}

static void render_status(struct jw *jw, const struct monitor_entry *e, int api_names)
{
    uint32_t up, down;
    double avg;
    monitor_ring_counts(&e->st, &up, &down, &avg);
    jw_key(jw, api_names ? "Status" : "status");
    jw_str(jw, monitor_status_name(monitor_status_of(up, down)));
    jw_key(jw, api_names ? "CurrentUp" : "current_up");
    jw_u64(jw, up);
    jw_key(jw, api_names ? "CurrentDown" : "current_down");
    jw_u64(jw, down);
    jw_key(jw, api_names ? "AvgDelay" : "avg_delay");
    jw_double(jw, avg);
    jw_key(jw, api_names ? "LastResultAt" : "last_result_at");
    jw_i64(jw, e->st.last_result_ms);
    if (api_names) { /* admins only: a probe's error may name internal addresses */
        jw_key(jw, "LastError");
        jw_str(jw, e->st.last_error);
    }
}

static void h_list(struct http_request *req, void *ud)
{
    struct api *a = ud;
    if (!api_guard_admin(a, req))
        return;
    struct api_body out;
    struct jw *jw = api_body_begin(&out);
    jw_arr_begin(jw);
    for (size_t i = 0; a->mon && i < a->mon->n; i++) {
        jw_obj_begin(jw);
        render_def(jw, a->mon->v[i]);
        render_status(jw, a->mon->v[i], 1);
        jw_obj_end(jw);
    }
    jw_arr_end(jw);
    api_reply_body(req, 0, &out);
}

/* ---- POST /api/monitor ---- */

/* A JSON array text of positive integers ("" = "[]"). Returns an owned normalised copy or NULL. */
static char *id_list(const char *raw)
{
    if (!raw || !*raw)
        return xstrdup("[]");
    json_t *j = json_loads(raw, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_array(j) || json_array_size(j) > 100000) {
        json_decref(j);
        return NULL;
    }
    size_t i;
    json_t *v;
    json_array_foreach(j, i, v)
    {
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            json_decref(j);
            return NULL;
        }
    }
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s ? s : xstrdup("[]");
}

static int ip_literal(const char *s)
{
    unsigned char b[16];
    return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* Trims ASCII spaces at both ends of s (owned, modified in place). */
static char *trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    size_t k = strspn(s, " \t\r\n");
    memmove(s, s + k, n - k + 1);
    return s;
}

/* Reads a string field into *out (owned; "" when absent). -1 with why on a wrong type/size. */
static int field_str(json_t *b, const char *key, size_t max, char **out, char *why, size_t wl)
{
    const char *v = NULL;
    if (api_jstr(b, key, &v) < 0 || (v && !api_str_fits(v, max))) {
        snprintf(why, wl, "%s 必须是不超过 %zu 字节的字符串", key, max);
        return -1;
    }
    *out = xstrdup(v ? v : "");
    return 0;
}

static int field_bool(json_t *b, const char *key, int *out, char *why, size_t wl)
{
    *out = 0;
    if (api_jbool(b, key, out) < 0) {
        snprintf(why, wl, "%s 必须是 \"on\"、\"\" 或布尔值", key);
        return -1;
    }
    return 0;
}

/*
 * Builds a monitor from the request body (v0's monitorForm fields plus Lotus's), validated.
 * 0, or -1 with a reason in why (the m fields filled so far are owned: release either way).
 */
static int parse_monitor(json_t *b, struct store_monitor *m, char *why, size_t wl)
{
    int64_t id = 0, type = 0, dur = 0, cover = 0;
    char *skip = NULL, *fail = NULL, *rec = NULL;
    memset(m, 0, sizeof(*m));
    if (api_jint(b, "ID", &id) < 0 || id < 0 || api_jint(b, "Type", &type) < 0 ||
        api_jint(b, "Duration", &dur) < 0 || api_jint(b, "Cover", &cover) < 0) {
        snprintf(why, wl, "ID、Type、Duration、Cover 必须是整数");
        return -1;
    }
    m->id = (uint64_t)id;
    m->type = (int)type;
    m->cover = (int)cover;
    m->duration = dur == 0 ? MONITOR_DURATION_DEFAULT : dur;
    if (field_str(b, "Name", STORE_NAME_MAX, &m->name, why, wl) ||
        field_str(b, "Target", STORE_MONITOR_TEXT_MAX, &m->target, why, wl) ||
        field_str(b, "NotificationTag", STORE_NAME_MAX, &m->notification_tag, why, wl) ||
        field_str(b, "SkipServersRaw", STORE_MONITOR_TEXT_MAX, &skip, why, wl) ||
        field_str(b, "FailTriggerTasksRaw", STORE_MONITOR_TEXT_MAX, &fail, why, wl) ||
        field_str(b, "RecoverTriggerTasksRaw", STORE_MONITOR_TEXT_MAX, &rec, why, wl) ||
        field_str(b, "ExpectStatus", STORE_NAME_MAX, &m->expect_status, why, wl) ||
        field_str(b, "Keyword", MONITOR_KEYWORD_MAX, &m->keyword, why, wl) ||
        field_str(b, "DNSRecordType", STORE_NAME_MAX, &m->dns_rrtype, why, wl) ||
        field_str(b, "DNSExpect", STORE_NAME_MAX, &m->dns_expect, why, wl) ||
        field_bool(b, "Notify", &m->notify, why, wl) ||
        field_bool(b, "LatencyNotify", &m->latency_notify, why, wl) ||
        field_bool(b, "EnableShowInService", &m->enable_show_in_service, why, wl) ||
        field_bool(b, "EnableTriggerTask", &m->enable_trigger_task, why, wl) ||
        field_bool(b, "KeywordAbsent", &m->keyword_absent, why, wl))
        goto bad;
    if (api_jnum(b, "MinLatency", &m->min_latency) < 0 ||
        api_jnum(b, "MaxLatency", &m->max_latency) < 0 || m->min_latency < 0 ||
        m->max_latency < 0) {
        snprintf(why, wl, "MinLatency、MaxLatency 必须是非负数");
        goto bad;
    }
    trim(m->name);
    trim(m->target);
    if (!*m->name) {
        snprintf(why, wl, "需要 Name");
        goto bad;
    }
    const char *tw;
    if (m->type != MONITOR_TYPE_HTTP && m->type != MONITOR_TYPE_ICMP &&
        m->type != MONITOR_TYPE_TCP && m->type != MONITOR_TYPE_DNS) {
        snprintf(why, wl, "Type 必须是 1 (HTTP GET)、2 (ICMP)、3 (TCP) 或 102 (DNS)");
        goto bad;
    }
    if (monitor_check_target(m->type, m->target, &tw) != 0) {
        snprintf(why, wl, "Target 无效：%s", tw);
        goto bad;
    }
    if (m->duration < 1 || m->duration > MONITOR_DURATION_MAX) {
        snprintf(why, wl, "Duration 必须在 1 到 %d 秒之间", MONITOR_DURATION_MAX);
        goto bad;
    }
    if (m->cover != 0 && m->cover != 1) {
        snprintf(why, wl, "Cover 必须是 0 或 1");
        goto bad;
    }
    if (!(m->skip_servers_raw = id_list(skip)) || !(m->fail_trigger_tasks_raw = id_list(fail)) ||
        !(m->recover_trigger_tasks_raw = id_list(rec))) {
        snprintf(why, wl,
                 "SkipServersRaw、FailTriggerTasksRaw、RecoverTriggerTasksRaw 必须是整数的 "
                 "JSON 数组");
        goto bad;
    }
    if (!*m->notification_tag) {
        free(m->notification_tag);
        m->notification_tag = xstrdup("default");
    }
    int lo, hi;
    if (m->type != MONITOR_TYPE_HTTP) {
        m->expect_status[0] = m->keyword[0] = '\0';
        m->keyword_absent = 0;
    } else if (monitor_parse_status_range(m->expect_status, &lo, &hi) != 0) {
        snprintf(why, wl, "ExpectStatus 必须为空或形如 200-299（100 到 599）");
        goto bad;
    } else if (strpbrk(m->keyword, "\r\n")) {
        snprintf(why, wl, "Keyword 不能包含换行");
        goto bad;
    }
    if (!*m->keyword)
        m->keyword_absent = 0;
    if (m->type != MONITOR_TYPE_DNS) {
        m->dns_rrtype[0] = m->dns_expect[0] = '\0';
    } else {
        for (char *p = m->dns_rrtype; *p; p++)
            *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        trim(m->dns_expect);
        if (*m->dns_rrtype && strcmp(m->dns_rrtype, "A") != 0 &&
            strcmp(m->dns_rrtype, "AAAA") != 0 && strcmp(m->dns_rrtype, "ANY") != 0) {
            snprintf(why, wl, "DNSRecordType 必须是 A、AAAA、ANY 或空");
            goto bad;
        }
        if (*m->dns_expect && !ip_literal(m->dns_expect)) {
            snprintf(why, wl, "DNSExpect 必须为空或是一个 IP 地址");
            goto bad;
        }
    }
    free(skip);
    free(fail);
    free(rec);
    return 0;
bad:
    free(skip);
    free(fail);
    free(rec);
    return -1;
}

/* The table after a change, read in the job for monitors_set_defs in done. */
struct relist {
    struct store_monitor *rows;
    size_t n;
    int ok; /* the list was read (rows is NULL for an empty table) */
};

static void relist_run(struct api_job *j, struct relist *l)
{
    if (j->rc == 0)
        l->ok = store_monitor_list(j->api->st, &l->rows, &l->n) == 0;
}

/* done of a change: answers a failed one and returns 0; else applies the new table, returns 1. */
static int relist_done(struct api_job *j, const struct relist *l)
{
    if (j->rc == -ENOENT) {
        api_reply_bad(j->req, "监控不存在");
        return 0;
    }
    if (j->rc != 0) {
        api_reply_db_error(j->req);
        return 0;
    }
    if (j->api->mon && l->ok) /* else the table poll of dash.c brings it within a second */
        monitors_set_defs(j->api->mon, l->rows, l->n);
    return 1;
}

struct save_ctx {
    struct store_monitor m;
    struct relist l;
};

static void save_release(void *p)
{
    struct save_ctx *c = p;
    store_monitor_release(&c->m);
    store_monitor_list_free(c->l.rows, c->l.n);
}

static void save_run(struct api_job *j)
{
    struct save_ctx *c = api_job_ctx(j);
    struct store *st = j->api->st;
    j->rc = c->m.id ? store_monitor_update(st, &c->m) : store_monitor_add(st, &c->m);
    relist_run(j, &c->l);
}

static void save_done(struct api_job *j)
{
    struct save_ctx *c = api_job_ctx(j);
    if (!relist_done(j, &c->l))
        return;
    /* v0 deletes the rows of servers the monitor no longer covers. Queued after every row
     * queued so far, and no later result of theirs is taken (monitors_on_result checks cover). */
    const struct monitor_entry *e = j->api->mon ? monitors_find(j->api->mon, c->m.id) : NULL;
    for (size_t i = 0; e && i < j->api->lv->n; i++) {
        uint64_t sid = j->api->lv->servers[i]->id;
        if (!monitor_covers(&e->spec, sid))
            store_enqueue_monitor_forget(j->api->st, c->m.id, sid);
    }
    struct api_body out;
    struct jw *jw = api_body_begin(&out);
    jw_obj_begin(jw);
    jw_key(jw, "ID");
    jw_u64(jw, c->m.id);
    jw_obj_end(jw);
    api_reply_body(j->req, 200, &out);
}

static void h_save(struct http_request *req, void *ud)
{
    struct api *a = ud;
    if (!api_guard_admin(a, req))
        return;
    json_t *body = api_body_json(req, 0);
    if (!body)
        return;
    struct api_job *j =
        api_job_new(a, req, save_run, save_done, sizeof(struct save_ctx), save_release);
    struct save_ctx *c = api_job_ctx(j);
    char why[256];
    int rc = parse_monitor(body, &c->m, why, sizeof(why));
    json_decref(body);
    if (rc != 0) {
        api_job_discard(j);
        api_reply_bad(req, why);
        return;
    }
    api_job_start(j);
}

/* ---- DELETE /api/monitor/:id ---- */

struct del_ctx {
    uint64_t id;
    struct relist l;
};

static void del_release(void *p)
{
    struct del_ctx *c = p;
    store_monitor_list_free(c->l.rows, c->l.n);
}

static void del_run(struct api_job *j)
{
    struct del_ctx *c = api_job_ctx(j);
    j->rc = store_monitor_del(j->api->st, c->id);
    relist_run(j, &c->l);
}

static void del_done(struct api_job *j)
{
    struct del_ctx *c = api_job_ctx(j);
    if (!relist_done(j, &c->l))
        return;
    log_info("monitor %llu deleted", (unsigned long long)c->id);
    api_reply_ok(j->req, NULL);
}

static void h_del(struct http_request *req, void *ud)
{
    struct api *a = ud;
    if (!api_guard_admin(a, req))
        return;
    uint64_t id;
    if (strnum_u64z(http_request_param(req, "id"), &id) != 0 || id < 1) {
        api_reply(req, 200, 400, MSG_MONITOR_BAD_ID, NULL);
        return;
    }
    struct api_job *j = api_job_new(a, req, del_run, del_done, sizeof(struct del_ctx), del_release);
    ((struct del_ctx *)api_job_ctx(j))->id = id;
    api_job_start(j);
}

/* ---- GET /api/service ---- */

static void render_days(struct jw *jw, const struct monitor_entry *e, int64_t now_ms)
{
    int off = monitors_tz_offset(now_ms);
    int64_t today = monitor_day_of(now_ms, off);
    /* The state's cells may be a day behind until the next tick rolls them. */
    int64_t lag = e->st.day_no ? today - e->st.day_no : 0;
    uint32_t pu, pd;
    double psum;
    monitor_ring_partial(&e->st, &pu, &pd, &psum);
    jw_key(jw, "days");
    jw_arr_begin(jw);
    for (int i = 0; i < MONITOR_DAYS; i++) {
        int src = i + (int)lag;
        struct monitor_day d = {0};
        if (lag >= 0 && src < MONITOR_DAYS)
            d = e->st.days[src];
        if (i == MONITOR_DAYS - 1 && lag == 0) {
            d.up += pu;
            d.down += pd;
            d.delay_sum += psum;
        }
        int64_t day_no = today - (MONITOR_DAYS - 1 - i);
        int64_t start = day_no * DAY_MS - (int64_t)off * 1000;
        char date[32];
        gotime_datetime(start, off, date, sizeof(date));
        date[10] = '\0'; /* "YYYY-MM-DD" of the dashboard's time zone */
        jw_obj_begin(jw);
        jw_key(jw, "day");
        jw_i64(jw, start);
        jw_key(jw, "date");
        jw_str(jw, date);
        jw_key(jw, "up");
        jw_u64(jw, d.up);
        jw_key(jw, "down");
        jw_u64(jw, d.down);
        jw_key(jw, "avg_delay");
        jw_double(jw, d.up ? d.delay_sum / d.up : 0);
        jw_obj_end(jw);
    }
    jw_arr_end(jw);
}

void api_monitors_render_service(struct jw *jw, const struct monitors *mon, int64_t now_ms)
{
    jw_arr_begin(jw);
    for (size_t i = 0; mon && i < mon->n; i++) {
        const struct monitor_entry *e = mon->v[i];
        if (!e->def.enable_show_in_service)
            continue;
        jw_obj_begin(jw);
        jw_key(jw, "id");
        jw_u64(jw, e->def.id);
        jw_key(jw, "name");
        jw_str(jw, e->def.name);
        jw_key(jw, "type");
        jw_i64(jw, e->def.type);
        render_status(jw, e, 0);
        double up = monitor_uptime_30d(&e->st);
        jw_key(jw, "uptime_30d");
        if (up < 0)
            jw_null(jw);
        else
            jw_double(jw, up);
        render_days(jw, e, now_ms);
        jw_key(jw, "ssl");
        if (e->st.cert_expiry_ms) {
            jw_obj_begin(jw);
            jw_key(jw, "issuer");
            jw_str(jw, e->st.issuer);
            jw_key(jw, "expires_at");
            jw_i64(jw, e->st.cert_expiry_ms);
            jw_obj_end(jw);
        } else {
            jw_null(jw);
        }
        jw_obj_end(jw);
    }
    jw_arr_end(jw);
}

/* The view password of public JSON routes: 1 when req may go on, else answered. */
static int view_gate(struct api *a, struct http_request *req)
{
    if (api_guard_may_view(a, req))
        return 1;
    api_reply(req, 200, 403, API_MSG_VIEW_LIMITED, NULL);
    return 0;
}

static void h_service(struct http_request *req, void *ud)
{
    struct api *a = ud;
    if (!view_gate(a, req))
        return;
    struct api_body out;
    api_monitors_render_service(api_body_begin(&out), a->mon, clock_wall_ms());
    api_reply_body(req, 0, &out);
}

/* ---- GET /api/network ---- */

static void h_network(struct http_request *req, void *ud)
{
    struct api *a = ud;
    if (!view_gate(a, req))
        return;
    int priv = api_guard_privileged(a, req);
    int64_t since = clock_wall_ms() - MONITOR_SERVER_KEEP_MS;
    struct live_server **v = xmalloc((a->lv->n ? a->lv->n : 1) * sizeof(*v));
    size_t n = 0;
    for (size_t i = 0; i < a->lv->n; i++) {
        struct live_server *s = a->lv->servers[i];
        if ((priv || !s->hide_for_guest) && a->mon && monitors_server_seen(a->mon, s->id, since))
            v[n++] = s;
    }
    qsort(v, n, sizeof(*v), live_cmp_display);
    struct api_body out;
    struct jw *jw = api_body_begin(&out);
    jw_obj_begin(jw);
    jw_key(jw, "servers");
    jw_arr_begin(jw);
    for (size_t i = 0; i < n; i++) {
        jw_obj_begin(jw);
        jw_key(jw, "id");
        jw_u64(jw, v[i]->id);
        jw_key(jw, "name");
        jw_str(jw, v[i]->name);
        jw_key(jw, "tag");
        jw_str(jw, v[i]->tag);
        jw_obj_end(jw);
    }
    jw_arr_end(jw);
    jw_key(jw, "max_tcp_ping");
    jw_i64(jw, a->cfg->maxtcppingvalue);
    jw_obj_end(jw);
    free(v);
    api_reply_body(req, 0, &out);
}

/* ---- GET /api/v1/monitor/:id ---- */

void api_monitors_render_v1(struct jw *jw, const struct monitors *mon, const struct live *lv,
                            uint64_t srv_id, const struct store_monitor_point *pts, size_t n)
{
    if (n == 0) {
        jw_null(jw);
        return;
    }
    const struct live_server *srv = live_find_id(lv, srv_id);
    jw_arr_begin(jw);
    for (size_t i = 0; i < n;) {
        uint64_t mid = pts[i].monitor_id;
        const struct monitor_entry *e = mon ? monitors_find(mon, mid) : NULL;
        size_t end = i;
        while (end < n && pts[end].monitor_id == mid)
            end++;
        jw_obj_begin(jw);
        jw_key(jw, "monitor_id");
        jw_u64(jw, mid);
        jw_key(jw, "server_id");
        jw_u64(jw, srv_id);
        jw_key(jw, "monitor_name");
        jw_str(jw, e ? e->def.name : "");
        jw_key(jw, "server_name");
        jw_str(jw, srv ? srv->name : "");
        jw_key(jw, "created_at");
        jw_arr_begin(jw);
        for (size_t k = i; k < end; k++) {
            int64_t t = pts[k].created_at;
            jw_i64(jw, t - ((t % 60000) + 60000) % 60000);
        }
        jw_arr_end(jw);
        jw_key(jw, "avg_delay");
        jw_arr_begin(jw);
        for (size_t k = i; k < end; k++)
            jw_double(jw, dtoa_f32_value((float)pts[k].avg_delay));
        jw_arr_end(jw);
        jw_obj_end(jw);
        i = end;
    }
    jw_arr_end(jw);
}

struct v1_ctx {
    uint64_t srv_id;
    int64_t since;
    struct store_monitor_point *pts;
    size_t n;
};

static void v1_release(void *p)
{
    free(((struct v1_ctx *)p)->pts);
}

static void v1_run(struct api_job *j)
{
    struct v1_ctx *c = api_job_ctx(j);
    j->rc = store_monitor_points(j->api->st, c->srv_id, c->since, &c->pts, &c->n);
}

static void v1_done(struct api_job *j)
{
    struct v1_ctx *c = api_job_ctx(j);
    if (j->rc != 0) {
        api_reply_db_error(j->req);
        return;
    }
    struct api_body out;
    api_monitors_render_v1(api_body_begin(&out), j->api->mon, j->api->lv, c->srv_id, c->pts, c->n);
    api_reply_body(j->req, 0, &out);
}

static void h_v1_monitor(struct http_request *req, void *ud)
{
    struct api *a = ud;
    if (!view_gate(a, req))
        return;
    uint64_t id;
    if (strnum_u64z(http_request_param(req, "id"), &id) != 0) {
        api_reply(req, 400, 400, MSG_ID_BAD, NULL);
        return;
    }
    struct live_server *srv = live_find_id(a->lv, id);
    if (!srv) {
        api_reply(req, 404, 404, MSG_ID_UNKNOWN, NULL);
        return;
    }
    if (srv->hide_for_guest && !api_guard_privileged(a, req)) {
        api_reply(req, 403, 403, MSG_AUTH_NEEDED, NULL);
        return;
    }
    struct api_job *j = api_job_new(a, req, v1_run, v1_done, sizeof(struct v1_ctx), v1_release);
    struct v1_ctx *c = api_job_ctx(j);
    c->srv_id = id;
    c->since = clock_wall_ms() - V1_WINDOW_MS;
    api_job_start(j);
}

static const struct api_route routes[] = {
    {"GET", "/api/monitor", h_list},       {"POST", "/api/monitor", h_save},
    {"DELETE", "/api/monitor/:id", h_del}, {"GET", "/api/service", h_service},
    {"GET", "/api/network", h_network},    {"GET", "/api/v1/monitor/:id", h_v1_monitor},
};

void api_monitors_routes(struct api *a)
{
    api_routes_add(a, routes, sizeof(routes) / sizeof(routes[0]));
}
