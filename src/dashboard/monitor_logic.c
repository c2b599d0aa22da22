/*
 * monitor_logic: see monitor_logic.h. Pure: no allocation, no clock, no I/O.
 */
#include "dashboard/monitor_logic.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/gotime.h"
#include "core/hostport.h"
#include "core/strnum.h"

#define DAY_MS (86400LL * 1000)

const char *monitor_status_name(enum monitor_status s)
{
    switch (s) {
    case MONITOR_STATUS_GOOD:
        return "good";
    case MONITOR_STATUS_LOW:
        return "low";
    case MONITOR_STATUS_DOWN:
        return "down";
    case MONITOR_STATUS_INIT:
    case MONITOR_STATUS_NODATA:
        break;
    }
    return "nodata";
}

const char *monitor_status_text(enum monitor_status s)
{
    switch (s) {
    case MONITOR_STATUS_GOOD:
        return "Good";
    case MONITOR_STATUS_LOW:
        return "Low Availability";
    case MONITOR_STATUS_DOWN:
        return "Down";
    case MONITOR_STATUS_INIT:
    case MONITOR_STATUS_NODATA:
        break;
    }
    return "No Data";
}

enum monitor_status monitor_status_of(uint32_t up, uint32_t down)
{
    uint64_t total = (uint64_t)up + down;
    if (total == 0)
        return MONITOR_STATUS_NODATA;
    uint64_t pct = (uint64_t)up * 100 / total;
    if (pct > 95)
        return MONITOR_STATUS_GOOD;
    if (pct > 80)
        return MONITOR_STATUS_LOW;
    return MONITOR_STATUS_DOWN;
}

/* ---- definitions ---- */

int monitor_covers(const struct monitor_spec *m, uint64_t server_id)
{
    size_t lo = 0, hi = m->n_skip;
    int listed = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->skip[mid] == server_id) {
            listed = 1;
            break;
        }
        if (m->skip[mid] < server_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return m->cover == 1 ? listed : !listed;
}

static int has_http_checks(const struct monitor_spec *m)
{
    return m->type == MONITOR_TYPE_HTTP &&
           ((m->status_min || m->status_max) || (m->keyword && *m->keyword));
}

int monitor_lotus_only(const struct monitor_spec *m)
{
    return m->type == MONITOR_TYPE_DNS || has_http_checks(m);
}

/* Appends text to out[cap] at *len; -E2BIG when it does not fit. */
static int put(char *out, size_t cap, size_t *len, const char *text)
{
    size_t n = strlen(text);
    if (*len + n + 1 > cap)
        return -E2BIG;
    memcpy(out + *len, text, n + 1);
    *len += n;
    return 0;
}

int monitor_task(const struct monitor_spec *m, int lotus_agent, uint64_t *type, char *data,
                 size_t cap)
{
    if (monitor_lotus_only(m) && !lotus_agent)
        return -ENOTSUP;
    size_t len = 0;
    char line[48];
    if (cap)
        data[0] = '\0';
    if (m->type == MONITOR_TYPE_DNS) {
        *type = MONITOR_TYPE_DNS;
        int rc = put(data, cap, &len, m->target);
        if (!rc && (*m->dns_rrtype || *m->dns_expect))
            rc = put(data, cap, &len, " ") ||
                 put(data, cap, &len, *m->dns_rrtype ? m->dns_rrtype : "ANY");
        if (!rc && *m->dns_expect)
            rc = put(data, cap, &len, " ") || put(data, cap, &len, m->dns_expect);
        return rc ? -E2BIG : 0;
    }
    if (!has_http_checks(m)) {
        *type = (uint64_t)m->type;
        return put(data, cap, &len, m->target);
    }
    *type = MONITOR_TASK_HTTP_CHECK;
    int rc = put(data, cap, &len, m->target);
    if (!rc && (m->status_min || m->status_max)) {
        snprintf(line, sizeof(line), "\nstatus=%d-%d", m->status_min, m->status_max);
        rc = put(data, cap, &len, line);
    }
    if (!rc && m->keyword && *m->keyword) {
        rc = put(data, cap, &len, "\nkeyword=") || put(data, cap, &len, m->keyword);
        if (!rc && m->keyword_absent)
            rc = put(data, cap, &len, "\nkeyword_absent=1");
    }
    return rc ? -E2BIG : 0;
}

int monitor_task_type_is_probe(uint64_t t)
{
    return t == MONITOR_TYPE_HTTP || t == MONITOR_TYPE_ICMP || t == MONITOR_TYPE_TCP ||
           t == MONITOR_TASK_HTTP_CHECK || t == MONITOR_TYPE_DNS;
}

int64_t monitor_answer_ms(int type)
{
    /* docs/protocol.md §3.5: HTTP 30 s, ICMP 20 s, TCP 10 s; Lotus DNS: the resolver's 10 s. */
    int64_t probe = type == MONITOR_TYPE_HTTP || type == MONITOR_TASK_HTTP_CHECK ? 30000
                    : type == MONITOR_TYPE_ICMP                                  ? 20000
                                                                                 : 10000;
    return probe + 5000;
}

int64_t monitor_gate_ms(int64_t duration_s)
{
    int64_t d = duration_s > 0 ? duration_s * 1000 : MONITOR_RING_GATE_MS;
    return d < MONITOR_RING_GATE_MS ? d : MONITOR_RING_GATE_MS;
}

int monitor_parse_status_range(const char *s, int *min, int *max)
{
    *min = *max = 0;
    if (!s || !*s)
        return 0;
    const char *dash = strchr(s, '-');
    uint64_t a, b;
    if (!dash || strnum_u64(s, (size_t)(dash - s), &a) != 0 || strnum_u64z(dash + 1, &b) != 0)
        return -EINVAL;
    if (a < 100 || b > 599 || a > b)
        return -EINVAL;
    *min = (int)a;
    *max = (int)b;
    return 0;
}

static int host_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_' || c == ':' || c >= 0x80;
}

static int host_ok(const char *h)
{
    if (!*h || strlen(h) > 253)
        return 0;
    for (const unsigned char *p = (const unsigned char *)h; *p; p++)
        if (!host_char(*p))
            return 0;
    return 1;
}

int monitor_check_target(int type, const char *target, const char **why)
{
    *why = "";
    if (!target || !*target) {
        *why = "the target is empty";
        return -EINVAL;
    }
    for (const unsigned char *p = (const unsigned char *)target; *p; p++)
        if (*p <= ' ' || *p == 0x7f) {
            *why = "the target contains a space or a control character";
            return -EINVAL;
        }
    char host[256];
    int port = 0;
    switch (type) {
    case MONITOR_TYPE_HTTP:
        if (strncmp(target, "http://", 7) != 0 && strncmp(target, "https://", 8) != 0) {
            *why = "an HTTP target is a URL starting with http:// or https://";
            return -EINVAL;
        }
        if (!target[target[4] == 's' ? 8 : 7] || target[target[4] == 's' ? 8 : 7] == '/') {
            *why = "the URL has no host";
            return -EINVAL;
        }
        return 0;
    case MONITOR_TYPE_ICMP:
    case MONITOR_TYPE_DNS:
        if (!host_ok(target)) {
            *why = type == MONITOR_TYPE_ICMP ? "an ICMP target is a host name or an IP address"
                                             : "a DNS target is a host name";
            return -EINVAL;
        }
        return 0;
    case MONITOR_TYPE_TCP:
        if (hostport_parse(target, 0, host, sizeof(host), &port) != 0 || port <= 0 ||
            !host_ok(host) || !strchr(target, ':')) {
            *why = "a TCP target is host:port (an IPv6 address in brackets: [2001:db8::1]:443)";
            return -EINVAL;
        }
        return 0;
    default:
        *why = "unknown monitor type (1 HTTP GET, 2 ICMP, 3 TCP, 102 DNS)";
        return -EINVAL;
    }
}

/* ---- per-reporter averages ---- */

int monitor_ping_add(struct monitor_ping *p, int ok, double delay, unsigned avg_count,
                     double max_ping, struct monitor_row *row)
{
    p->n++;
    if (ok) {
        p->up++;
        p->ok_sum += delay;
    }
    if (p->n < (avg_count ? avg_count : 1))
        return 0;
    double avg = p->up ? p->ok_sum / p->up : 0;
    if (max_ping > 0 && avg > max_ping)
        avg = max_ping;
    row->avg_delay = avg;
    row->up = p->up;
    row->down = p->n - p->up;
    memset(p, 0, sizeof(*p));
    return 1;
}

/* ---- back-off ---- */

int monitor_backoff_allow(struct monitor_backoff *b, int64_t now_ms)
{
    if (b->next_ms && now_ms < b->next_ms)
        return 0;
    b->step_ms = b->step_ms ? b->step_ms * 2 : MONITOR_BACKOFF_FIRST_MS;
    if (b->step_ms > MONITOR_BACKOFF_MAX_MS)
        b->step_ms = MONITOR_BACKOFF_MAX_MS;
    b->next_ms = now_ms + b->step_ms;
    return 1;
}

void monitor_backoff_reset(struct monitor_backoff *b)
{
    b->next_ms = 0;
    b->step_ms = 0;
}

/* ---- ring, days, events ---- */

void monitor_ring_counts(const struct monitor_state *s, uint32_t *up, uint32_t *down,
                         double *avg_delay)
{
    uint32_t u = 0, d = 0;
    double sum = 0;
    for (size_t i = 0; i < MONITOR_RING_SIZE; i++) {
        if (!s->used[i])
            continue;
        if (s->ok[i]) {
            u++;
            sum += s->delay[i];
        } else {
            d++;
        }
    }
    *up = u;
    *down = d;
    *avg_delay = u ? sum / u : 0;
}

void monitor_ring_partial(const struct monitor_state *s, uint32_t *up, uint32_t *down,
                          double *delay_sum)
{
    uint32_t u = 0, d = 0;
    double sum = 0;
    for (size_t i = 0; i < s->idx; i++) {
        if (s->ok[i]) {
            u++;
            sum += s->delay[i];
        } else {
            d++;
        }
    }
    *up = u;
    *down = d;
    *delay_sum = sum;
}

int64_t monitor_day_of(int64_t t_ms, int tz_offset_s)
{
    int64_t t = t_ms + (int64_t)tz_offset_s * 1000;
    return t >= 0 ? t / DAY_MS : -((-t + DAY_MS - 1) / DAY_MS);
}

void monitor_days_roll(struct monitor_state *s, int64_t day_no)
{
    if (s->day_no == 0 || day_no - s->day_no >= MONITOR_DAYS) {
        memset(s->days, 0, sizeof(s->days));
    } else if (day_no > s->day_no) {
        size_t k = (size_t)(day_no - s->day_no);
        memmove(s->days, s->days + k, (MONITOR_DAYS - k) * sizeof(s->days[0]));
        memset(s->days + (MONITOR_DAYS - k), 0, k * sizeof(s->days[0]));
    } else {
        return; /* the same day, or a clock that went back: keep the cells */
    }
    s->day_no = day_no;
}

void monitor_days_add(struct monitor_state *s, int64_t day_no, const struct monitor_row *r)
{
    int64_t back = s->day_no - day_no;
    if (s->day_no == 0 || back < 0 || back >= MONITOR_DAYS)
        return;
    struct monitor_day *d = &s->days[MONITOR_DAYS - 1 - back];
    d->up += r->up;
    d->down += r->down;
    d->delay_sum += r->avg_delay * r->up;
}

double monitor_uptime_30d(const struct monitor_state *s)
{
    uint64_t up = 0, total = 0;
    for (size_t i = 0; i < MONITOR_DAYS; i++) {
        up += s->days[i].up;
        total += (uint64_t)s->days[i].up + s->days[i].down;
    }
    uint32_t ru, rd;
    double sum;
    monitor_ring_partial(s, &ru, &rd, &sum);
    up += ru;
    total += (uint64_t)ru + rd;
    return total ? (double)up * 100.0 / (double)total : -1;
}

static struct monitor_event *event_add(struct monitor_effects *out, enum monitor_event_kind k)
{
    if (out->n_events >= MONITOR_EVENTS_MAX)
        return NULL;
    struct monitor_event *e = &out->ev[out->n_events++];
    memset(e, 0, sizeof(*e));
    e->kind = k;
    return e;
}

static const char *nz(const char *s)
{
    return s ? s : "";
}

/* Status change events and trigger tasks (docs/protocol.md §8.3 "Status"). */
static void judge_status(struct monitor_state *s, const struct monitor_spec *m,
                         const struct monitor_input *in, enum monitor_status st,
                         struct monitor_effects *out)
{
    if (st != MONITOR_STATUS_DOWN && st == s->last)
        return;
    enum monitor_status prev = s->last;
    s->last = st;
    if (st != prev)
        monitor_backoff_reset(&s->b_down);
    if (m->notify && (prev != MONITOR_STATUS_INIT || st == MONITOR_STATUS_DOWN) &&
        (st != MONITOR_STATUS_DOWN || monitor_backoff_allow(&s->b_down, in->now_ms))) {
        struct monitor_event *e = event_add(out, MONITOR_EV_STATUS);
        if (e) {
            e->status = st;
            e->prev = prev;
            snprintf(e->text, sizeof(e->text), "[%s] %s Reporter: %s, Error: %s",
                     monitor_status_text(st), nz(m->name), nz(in->reporter_name), nz(in->data));
        }
    }
    if (m->trigger_task && prev != MONITOR_STATUS_INIT) {
        if (st == MONITOR_STATUS_GOOD && prev != st)
            out->trigger = MONITOR_TRIGGER_RECOVER;
        else if (prev == MONITOR_STATUS_GOOD && prev != st)
            out->trigger = MONITOR_TRIGGER_FAIL;
    }
}

static void judge_latency(struct monitor_state *s, const struct monitor_spec *m,
                          const struct monitor_input *in, struct monitor_effects *out)
{
    if (!m->latency_notify || in->delay <= 0)
        return;
    int over = m->max_latency > 0 && in->delay > m->max_latency;
    int under = !over && m->min_latency > 0 && in->delay < m->min_latency;
    if (!over && !under) {
        monitor_backoff_reset(&s->b_lat_max);
        monitor_backoff_reset(&s->b_lat_min);
        return;
    }
    if (!monitor_backoff_allow(over ? &s->b_lat_max : &s->b_lat_min, in->now_ms))
        return;
    struct monitor_event *e = event_add(out, MONITOR_EV_LATENCY);
    if (e)
        snprintf(e->text, sizeof(e->text), "[Latency] %s %2f %s %2f, Reporter: %s", nz(m->name),
                 in->delay, over ? ">" : "<", over ? m->max_latency : m->min_latency,
                 nz(in->reporter_name));
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

#define OLD_AGENT_SSL_ERROR "SSL证书错误："

/* Certificate expiry and change (docs/protocol.md §8.3 "SSL"), HTTP monitors only. */
static void judge_ssl(struct monitor_state *s, const struct monitor_spec *m,
                      const struct monitor_input *in, struct monitor_effects *out)
{
    const char *data = nz(in->data);
    if (strncmp(data, OLD_AGENT_SSL_ERROR, strlen(OLD_AGENT_SSL_ERROR)) == 0) {
        if (ends_with(data, "timeout") || ends_with(data, "EOF") || ends_with(data, "timed out"))
            return;
        if (m->notify && monitor_backoff_allow(&s->b_ssl_fail, in->now_ms)) {
            struct monitor_event *e = event_add(out, MONITOR_EV_SSL_FAILED);
            if (e)
                snprintf(e->text, sizeof(e->text), "[SSL] Fetch cert info failed, %s", data);
        }
        return;
    }
    monitor_backoff_reset(&s->b_ssl_fail);
    char issuer[sizeof(s->issuer)];
    int64_t expiry;
    if (!in->ok || monitor_parse_cert(data, issuer, sizeof(issuer), &expiry) != 0)
        return;
    char when[32], old_when[32];
    gotime_datetime(expiry, in->tz_offset_s, when, sizeof(when));
    if (m->notify && expiry < in->now_ms + MONITOR_SSL_SOON_MS &&
        monitor_backoff_allow(&s->b_ssl_soon, in->now_ms)) {
        struct monitor_event *e = event_add(out, MONITOR_EV_SSL_SOON);
        if (e)
            snprintf(e->text, sizeof(e->text),
                     "[SSL] %s The SSL certificate will expire within seven days. Expiration "
                     "time: %s",
                     nz(m->name), when);
    }
    if (s->cert[0] && strcmp(s->issuer, issuer) != 0 && s->cert_expiry_ms != expiry) {
        gotime_datetime(s->cert_expiry_ms, in->tz_offset_s, old_when, sizeof(old_when));
        monitor_backoff_reset(&s->b_ssl_soon); /* a new certificate: a new expiry to warn of */
        struct monitor_event *e = m->notify ? event_add(out, MONITOR_EV_SSL_CHANGED) : NULL;
        if (e)
            snprintf(e->text, sizeof(e->text),
                     "[SSL] %s SSL certificate changed, old: %s, %s expired; new: %s, %s "
                     "expired.",
                     nz(m->name), s->issuer, old_when, issuer, when);
    }
    snprintf(s->cert, sizeof(s->cert), "%s", data);
    snprintf(s->issuer, sizeof(s->issuer), "%s", issuer);
    s->cert_expiry_ms = expiry;
}

void monitor_on_result(struct monitor_state *s, const struct monitor_spec *m,
                       const struct monitor_input *in, struct monitor_effects *out)
{
    memset(out, 0, sizeof(*out));
    monitor_days_roll(s, monitor_day_of(in->now_ms, in->tz_offset_s));
    s->last_result_ms = in->now_ms;
    if (in->ok)
        s->last_error[0] = '\0';
    else
        snprintf(s->last_error, sizeof(s->last_error), "%s", nz(in->data));
    if (in->now_ms >= s->next_accept_ms) {
        s->next_accept_ms = in->now_ms + monitor_gate_ms(m->duration_s);
        s->ok[s->idx] = in->ok != 0;
        s->delay[s->idx] = in->ok ? (float)in->delay : 0;
        s->used[s->idx] = 1;
        s->idx++;
    }
    uint32_t up, down;
    double avg;
    monitor_ring_counts(s, &up, &down, &avg);
    enum monitor_status st = monitor_status_of(up, down);
    out->status = st;
    if (s->idx == MONITOR_RING_SIZE) {
        /* v0: a full ring becomes an aggregate row and the index starts over; the status stays
         * that of the latest 30 samples as the slots are rewritten one by one. */
        s->idx = 0;
        out->agg_row = 1;
        out->agg.avg_delay = avg;
        out->agg.up = up;
        out->agg.down = down;
        struct monitor_day *today = &s->days[MONITOR_DAYS - 1];
        today->up += up;
        today->down += down;
        today->delay_sum += avg * up;
    }
    judge_latency(s, m, in, out);
    judge_status(s, m, in, st, out);
    if (m->type == MONITOR_TYPE_HTTP)
        judge_ssl(s, m, in, out);
}

/* ---- certificate texts ---- */

int monitor_parse_cert(const char *data, char *issuer, size_t cap, int64_t *expiry_ms)
{
    const char *bar = strchr(data, '|');
    if (!bar || cap == 0)
        return -EINVAL;
    if (gotime_parse_string(bar + 1, expiry_ms) != 0)
        return -EINVAL;
    size_t n = (size_t)(bar - data);
    if (n >= cap)
        n = cap - 1;
    memcpy(issuer, data, n);
    issuer[n] = '\0';
    return 0;
}
