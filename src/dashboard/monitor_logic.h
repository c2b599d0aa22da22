/*
 * monitor_logic: the decisions of service monitors (docs/protocol.md §8.3), as
 * pure functions over plain structs: which servers a monitor covers, the task
 * a server gets, the per-reporter ping averages, the 30-sample status ring and
 * its aggregate rows, the status thresholds, the events (status, latency,
 * SSL) with their repeat back-off and the 30 daily cells (the Go time texts
 * are core/gotime's). No allocation, no clock, no I/O: callers pass the
 * time in (monitor.c is the glue). Unit-tested in tests/unit/test_monitor_logic.c.
 *
 * Deliberate differences from v0 (docs/compatibility.md, "Service monitors"):
 * a ring of only failures is Down (v0: "No data", because it judges 0 % as no
 * data); failed probes are left out of the latency averages (v0 averages them
 * in as 0 ms) and counted in the rows' down column; the ring takes one sample
 * per min(30 s, duration) instead of per 30 s, so a 5 s monitor reacts in
 * seconds; a latency alert needs a non-zero bound.
 */
#ifndef LOTUS_DASHBOARD_MONITOR_LOGIC_H
#define LOTUS_DASHBOARD_MONITOR_LOGIC_H

#include <stddef.h>
#include <stdint.h>

#include "proto/nezha.h"

/* Monitor types (the task type sent for it; DNS is Lotus's own, run by Lotus agents only). */
#define MONITOR_TYPE_HTTP NEZHA_TASK_HTTP_GET
#define MONITOR_TYPE_ICMP NEZHA_TASK_ICMP_PING
#define MONITOR_TYPE_TCP  NEZHA_TASK_TCP_PING
#define MONITOR_TYPE_DNS  LOTUS_TASK_DNS
/* The task type of an HTTP monitor with Lotus checks (status range, keyword). */
#define MONITOR_TASK_HTTP_CHECK LOTUS_TASK_HTTP_CHECK

#define MONITOR_RING_SIZE        30    /* samples of the current status (v0 _CurrentStatusSize) */
#define MONITOR_RING_GATE_MS     30000 /* at most one sample per this (or per duration) */
#define MONITOR_DAYS             30    /* daily cells of /service; index 29 = today */
#define MONITOR_DURATION_DEFAULT 30    /* s, when 0 is given (v0) */
#define MONITOR_DURATION_MAX     86400
#define MONITOR_TASK_DATA_MAX    2304 /* bytes of a task's data we build */
#define MONITOR_EVENT_TEXT_MAX   768
#define MONITOR_KEYWORD_MAX      256
#define MONITOR_SSL_SOON_MS      (7LL * 86400 * 1000) /* "expires within seven days" */
#define MONITOR_BACKOFF_FIRST_MS (15LL * 60 * 1000)   /* v0 mute: 15 min, doubling ... */
#define MONITOR_BACKOFF_MAX_MS   (24LL * 3600 * 1000) /* ... up to 24 h */

/* v0's status codes (model.StatusNoData ...); 0 = the initial "nothing judged yet". */
enum monitor_status {
    MONITOR_STATUS_INIT = 0,
    MONITOR_STATUS_NODATA = 1,
    MONITOR_STATUS_GOOD = 2,
    MONITOR_STATUS_LOW = 3,
    MONITOR_STATUS_DOWN = 4,
};

/* "nodata", "good", "low", "down" (the API's names; INIT is "nodata"). Static. */
const char *monitor_status_name(enum monitor_status s);
/* v0's message words: "No Data", "Good", "Low Availability", "Down". Static. */
const char *monitor_status_text(enum monitor_status s);
/*
 * The status of a ring holding up successes and down failures: none -> NODATA; else the
 * integer percentage of successes > 95 GOOD, > 80 LOW, else DOWN (0 % is DOWN, not v0's NODATA).
 */
enum monitor_status monitor_status_of(uint32_t up, uint32_t down);

/* ---- definitions ---- */

/* What the logic needs of a monitor definition (strings borrowed). */
struct monitor_spec {
    uint64_t id;
    const char *name;
    int type;
    const char *target;
    int cover;            /* 0 all but skip[], 1 only skip[] */
    const uint64_t *skip; /* sorted ascending */
    size_t n_skip;
    int64_t duration_s; /* >= 1 */
    int notify;
    int latency_notify;
    double min_latency, max_latency; /* ms, 0 = no bound */
    int trigger_task;
    int status_min, status_max; /* HTTP success range; 0/0 = v0's 200-399 */
    const char *keyword;        /* "" = none */
    int keyword_absent;
    const char *dns_rrtype; /* "", "A", "AAAA", "ANY" */
    const char *dns_expect; /* "" = none */
};

/* 1 when spec covers server_id (cover 0: not in skip; cover 1: in skip). */
int monitor_covers(const struct monitor_spec *m, uint64_t server_id);
/* 1 when only Lotus agents can run the monitor (DNS, or HTTP with a status range or keyword). */
int monitor_lotus_only(const struct monitor_spec *m);
/*
 * The task for one round: *type and data[cap] (NUL-terminated). 0, -ENOTSUP when the agent
 * cannot run it (a Lotus-only monitor and lotus_agent 0), -E2BIG when data does not fit.
 */
int monitor_task(const struct monitor_spec *m, int lotus_agent, uint64_t *type, char *data,
                 size_t cap);
/* 1 when task type t carries results of a monitor (1, 2, 3, 101, 102). */
int monitor_task_type_is_probe(uint64_t t);
/* How long an agent may take to answer a round (probe timeout + 5 s of transport), ms. */
int64_t monitor_answer_ms(int type);
/* The ring's gate: min(MONITOR_RING_GATE_MS, duration), ms. */
int64_t monitor_gate_ms(int64_t duration_s);

/*
 * Validation of the Lotus fields (texts from the admin): "" or "min-max" with
 * 100 <= min <= max <= 599 -> 0 with the bounds in *min and *max (0 and 0 for ""); else -EINVAL.
 */
int monitor_parse_status_range(const char *s, int *min, int *max);
/*
 * Checks a target for a type: HTTP an http(s):// URL without spaces or control bytes; ICMP a
 * host name or IP literal; TCP host:port (port 1-65535, IPv6 in brackets); DNS a host name.
 * 0, or -EINVAL with *why (static English text).
 */
int monitor_check_target(int type, const char *target, const char **why);

/* ---- per-reporter averages (ICMP and TCP: one row per avgpingcount results) ---- */

struct monitor_ping {
    uint32_t n, up;
    double ok_sum; /* ms of the successes */
};
/* A row for the store, filled when one is due. */
struct monitor_row {
    double avg_delay;
    uint32_t up, down;
};
/*
 * Adds one result. When avg_count (>= 1) results have been added, fills *row (the mean delay
 * of the successes, 0 when none succeeded, capped at max_ping ms when max_ping > 0; up/down
 * counts), resets p and returns 1; else 0.
 */
int monitor_ping_add(struct monitor_ping *p, int ok, double delay, unsigned avg_count,
                     double max_ping, struct monitor_row *row);

/* ---- the status ring, the events and the days ---- */

struct monitor_backoff {
    int64_t next_ms; /* no repeat before this; 0 = the next one goes at once */
    int64_t step_ms;
};
/*
 * 1 when an event may be sent now (then the next repeat waits 15 min, doubling up to 24 h),
 * 0 while muted. monitor_backoff_reset makes the next one immediate (v0's UnMute).
 */
int monitor_backoff_allow(struct monitor_backoff *b, int64_t now_ms);
void monitor_backoff_reset(struct monitor_backoff *b);

struct monitor_day {
    uint32_t up, down;
    double delay_sum; /* Σ avg_delay × up of the rows, ms */
};

struct monitor_state {
    uint8_t ok[MONITOR_RING_SIZE];
    float delay[MONITOR_RING_SIZE];
    uint8_t used[MONITOR_RING_SIZE];
    unsigned idx;             /* next slot to write */
    int64_t next_accept_ms;   /* the gate */
    enum monitor_status last; /* the status last judged (INIT before the first) */
    int64_t last_result_ms;
    char last_error[192]; /* the data of the latest failed result, "" after a success */
    struct monitor_backoff b_down, b_lat_max, b_lat_min, b_ssl_soon, b_ssl_fail;
    char cert[192]; /* the last certificate seen: "issuer|expiry text", "" = none */
    char issuer[128];
    int64_t cert_expiry_ms; /* 0 = none */
    struct monitor_day days[MONITOR_DAYS];
    int64_t day_no; /* the day days[29] is (local day number), 0 = not set */
};

/* The counts of the current ring and the mean delay of its successes. */
void monitor_ring_counts(const struct monitor_state *s, uint32_t *up, uint32_t *down,
                         double *avg_delay);

/*
 * The samples taken since the ring last closed into an aggregate row (slots [0, idx)): what
 * today's cell does not hold yet. delay_sum = Σ delay of the successes.
 */
void monitor_ring_partial(const struct monitor_state *s, uint32_t *up, uint32_t *down,
                          double *delay_sum);

/* One TaskResult as the logic sees it (strings borrowed). */
struct monitor_input {
    uint64_t reporter;
    const char *reporter_name;
    int ok;
    double delay; /* ms */
    const char *data;
    int64_t now_ms;
    int tz_offset_s; /* of the dashboard's time zone now (for the texts of dates) */
};

enum monitor_event_kind {
    MONITOR_EV_STATUS,      /* "[Down] name Reporter: x, Error: data" and friends */
    MONITOR_EV_LATENCY,     /* "[Latency] name 12.500000 > 10.000000, Reporter: x" */
    MONITOR_EV_SSL_SOON,    /* "[SSL] name The SSL certificate will expire within seven days..." */
    MONITOR_EV_SSL_CHANGED, /* "[SSL] name SSL certificate changed, old: ..." */
    MONITOR_EV_SSL_FAILED,  /* "[SSL] Fetch cert info failed, ..." (older agents' text) */
};

struct monitor_event {
    enum monitor_event_kind kind;
    enum monitor_status status; /* MONITOR_EV_STATUS: the new status */
    enum monitor_status prev;   /* MONITOR_EV_STATUS: the status before */
    char text[MONITOR_EVENT_TEXT_MAX];
};

#define MONITOR_EVENTS_MAX 4
enum monitor_trigger { MONITOR_TRIGGER_NONE, MONITOR_TRIGGER_FAIL, MONITOR_TRIGGER_RECOVER };

struct monitor_effects {
    int agg_row; /* 1: write an aggregate row (server_id 0) with agg and the result's data */
    struct monitor_row agg;
    size_t n_events;
    struct monitor_event ev[MONITOR_EVENTS_MAX];
    enum monitor_trigger trigger; /* trigger tasks to run (kept for cron) */
    enum monitor_status status;   /* the status after this result */
};

/*
 * One result of monitor m: takes it into the ring when the gate allows (then the gate moves
 * on by monitor_gate_ms), judges the status from the ring, closes the ring into an aggregate
 * row when it is full (and adds the row to today's cell), and decides the events and trigger
 * tasks as v0 does (a status event whenever the status is Down or changed, except leaving the
 * initial state for anything but Down; repeats of Down, latency and SSL events are muted by
 * their back-off; a change of status unmutes). Events only when m->notify (latency: when
 * m->latency_notify). Rolls the days first when in->now_ms is on a later day.
 */
void monitor_on_result(struct monitor_state *s, const struct monitor_spec *m,
                       const struct monitor_input *in, struct monitor_effects *out);

/* The local day number of unix ms t at a time-zone offset (floor((t + off) / 1 day)). */
int64_t monitor_day_of(int64_t t_ms, int tz_offset_s);
/* Moves the days so that days[29] is day_no (older cells shift left, new ones are empty). */
void monitor_days_roll(struct monitor_state *s, int64_t day_no);
/*
 * Adds an aggregate row of day day_no (from the store at start-up) to its cell when it is
 * one of the 30 days ending at s->day_no; else ignores it.
 */
void monitor_days_add(struct monitor_state *s, int64_t day_no, const struct monitor_row *r);
/*
 * The uptime of the 30 days plus the ring's samples since its last row, as a percentage; -1 when
 * there is no sample at all.
 */
double monitor_uptime_30d(const struct monitor_state *s);

/* ---- certificate texts (docs/protocol.md §3.5: "issuer|2025-03-01 12:00:00 +0000 UTC") ---- */

/*
 * Splits a result's data "issuer|expiry" into issuer (copied, cap bytes) and the expiry (unix
 * ms). 0, or -EINVAL when data is not of that form or the time does not parse.
 */
int monitor_parse_cert(const char *data, char *issuer, size_t cap, int64_t *expiry_ms);

#endif
