/*
 * Tests of src/dashboard/prom: the exposition of a hand-built registry (servers reported,
 * restored without a State, never reported, hidden; names with `"`, `\` and a newline; a
 * State with NaN and Inf; an agent's text that is not UTF-8) and one monitor, compared byte
 * for byte with tests/fixtures/prom/ (token.txt, public.txt); the public variant without the hidden
 * server; no `null`, `NaN` or `Inf` token anywhere; the walk's family order and label contract that
 * the remote-write writer relies on. The struct live and struct monitors are built by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "dashboard/live.h"
#include "dashboard/monitor.h"
#include "dashboard/prom.h"
#include "nezha_v0.pb-c.h"

#define NSRV   4
#define NOW_MS 1717000100000LL /* 100 s after server 1's boot_time + 0 */

struct fixture {
    struct live lv;
    struct live_server srv[NSRV];
    struct live_server *ptr[NSRV];
    Proto__Host host[NSRV];
    Proto__State state[NSRV];
    Proto__StateSensorTemperature temp[3];
    Proto__StateSensorTemperature *temps[3];
    struct monitors mon;
    struct monitor_entry ment;
    struct monitor_entry *mptr[1];
    struct prom_health health;
};

static struct fixture fx;

static void add(int i, uint64_t id, const char *name, const char *tag, int hide, Proto__Host *h,
                Proto__State *s, int64_t last_active_ms)
{
    struct live_server *sv = &fx.srv[i];
    memset(sv, 0, sizeof(*sv));
    sv->id = id;
    sv->name = (char *)name;
    sv->tag = (char *)tag;
    sv->hide_for_guest = hide;
    sv->host = h;
    sv->state = s;
    sv->last_active_ms = last_active_ms;
    sv->last_active = last_active_ms / 1000;
    fx.ptr[i] = sv;
}

static int setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof(fx));
    for (int i = 0; i < NSRV; i++) {
        Proto__Host h = PROTO__HOST__INIT;
        Proto__State s = PROTO__STATE__INIT;
        fx.host[i] = h;
        fx.state[i] = s;
    }
    /* 1: reporting, every field set, a name with all three escapes, a bad UTF-8 platform */
    Proto__Host *h = &fx.host[0];
    h->platform = (char *)"debian\xff";
    h->platform_version = (char *)"12.5";
    h->mem_total = 4102828032;
    h->disk_total = 42006183936;
    h->swap_total = 1073741824;
    h->arch = (char *)"x86_64";
    h->virtualization = (char *)"kvm";
    h->boot_time = 1717000000;
    h->country_code = (char *)"de";
    h->version = (char *)"0.20.5";
    Proto__State *s = &fx.state[0];
    s->cpu = 12.5;
    s->mem_used = 1048576000;
    s->swap_used = 0;
    s->disk_used = 8589934592;
    s->net_in_transfer = 123456789012;
    s->net_out_transfer = 98765432;
    s->net_in_speed = 2048;
    s->net_out_speed = 1024;
    s->uptime = 100;
    s->load1 = 0.25;
    s->load5 = 0.5;
    s->load15 = 1.75;
    s->tcp_conn_count = 42;
    s->udp_conn_count = 3;
    s->process_count = 150;
    s->gpu = 7;
    for (int i = 0; i < 3; i++) {
        Proto__StateSensorTemperature t = PROTO__STATE__SENSOR_TEMPERATURE__INIT;
        fx.temp[i] = t;
        fx.temps[i] = &fx.temp[i];
    }
    fx.temp[0].name = (char *)"cpu";
    fx.temp[0].temperature = 48.5;
    fx.temp[1].name = (char *)"nvme";
    fx.temp[1].temperature = NAN; /* left out of the maximum */
    fx.temp[2].name = (char *)"board";
    fx.temp[2].temperature = 51;
    s->temperatures = fx.temps;
    s->n_temperatures = 3;
    add(0, 1, "fra \"main\" \\ rack\n2", "eu", 0, h, s, NOW_MS - 2000);
    /* 2: never reported (no Host, no State, never seen) */
    add(1, 2, "new", "", 0, NULL, NULL, 0);
    /* 3: hidden, restored from the store (Host, LastActive, no State): offline */
    h = &fx.host[2];
    h->platform = (char *)"alpine";
    h->mem_total = 512;
    h->boot_time = 1716000000;
    add(2, 3, "secret-box", "ops", 1, h, NULL, NOW_MS - 3600000);
    /* 4: a State with NaN and Inf doubles, no Host */
    s = &fx.state[3];
    s->cpu = NAN;
    s->load1 = INFINITY;
    s->load5 = -INFINITY;
    s->gpu = -0.0;
    add(3, 4, "weird", "", 0, NULL, s, NOW_MS - 20000);
    fx.lv.servers = fx.ptr;
    fx.lv.n = NSRV;
    fx.lv.gen = 7;

    struct monitor_entry *e = &fx.ment;
    e->def.id = 5;
    e->def.name = (char *)"web \"front\"";
    e->def.type = MONITOR_TYPE_HTTP;
    for (int i = 0; i < 4; i++)
        e->st.used[i] = 1;
    e->st.ok[0] = e->st.ok[1] = e->st.ok[2] = 1; /* 3 of 4: 75 %, Down */
    e->st.delay[0] = 10;
    e->st.delay[1] = 20;
    e->st.delay[2] = 30;
    e->st.idx = 4;
    e->st.days[MONITOR_DAYS - 1].up = 96;
    e->st.days[MONITOR_DAYS - 1].down = 0;
    fx.mptr[0] = e;
    fx.mon.v = fx.mptr;
    fx.mon.n = 1;

    prom_health_init(&fx.health);
    fx.health.reports_total = 1234;
    fx.health.reports_per_second = 2.5;
    fx.health.reports_dropped = 3;
    fx.health.grpc_auth_failures = 2;
    fx.health.http_errors = 9;
    fx.health.store_queue = 4;
    fx.health.store_lag_seconds = 0.75;
    fx.health.rss_bytes = 8388608;
    fx.health.cpu_seconds = 1.5;
    fx.health.start_time_s = 1717000000;
    return 0;
}

static char *slurp(const char *name, size_t *n)
{
    char path[256];
    snprintf(path, sizeof(path), "tests/fixtures/prom/%s", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *d = malloc(1 << 20);
    *n = fread(d, 1, (1 << 20) - 1, f);
    d[*n] = '\0';
    fclose(f);
    return d;
}

/* Compares b with the fixture; LOTUS_UPDATE_GOLDEN=1 rewrites it instead (then review the diff). */
static void check_golden(const struct buf *b, const char *fixture)
{
    if (getenv("LOTUS_UPDATE_GOLDEN")) {
        char path[256];
        snprintf(path, sizeof(path), "tests/fixtures/prom/%s", fixture);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fwrite(b->data, 1, b->len, f);
        fclose(f);
    }
    size_t n = 0;
    char *want = slurp(fixture, &n);
    if (!want)
        fail_msg("cannot open fixture %s (run from the repository root)", fixture);
    if (n != b->len || memcmp(want, b->data, n) != 0)
        fail_msg("%s differs:\n got:\n%s\nwant:\n%s", fixture, b->data, want);
    free(want);
}

static void no_bad_tokens(const struct buf *b)
{
    const char *bad[] = {"null", "NaN", "nan", "Inf", "inf\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (strstr(b->data, bad[i]))
            fail_msg("token %s in:\n%s", bad[i], b->data);
}

static void test_prom__token_variant_golden(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(prom_render(&b, &fx.lv, &fx.mon, &fx.health, 1, NOW_MS), 0);
    check_golden(&b, "token.txt");
    no_bad_tokens(&b);
    buf_release(&b);
}

static void test_prom__public_variant_leaves_hidden_out(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(prom_render(&b, &fx.lv, &fx.mon, &fx.health, 0, NOW_MS), 0);
    check_golden(&b, "public.txt");
    no_bad_tokens(&b);
    assert_null(strstr(b.data, "secret-box"));
    assert_null(strstr(b.data, "id=\"3\""));
    assert_non_null(strstr(b.data, "lotus_servers 3\n"));
    buf_release(&b);
}

static void test_prom__never_reported_only_online_zero(void **state)
{
    (void)state;
    struct live lv = fx.lv;
    lv.servers = &fx.ptr[1];
    lv.n = 1;
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(prom_render(&b, &lv, NULL, NULL, 1, NOW_MS), 0);
    assert_string_equal(b.data,
                        "# HELP lotus_server_online 1 when the server sent a State within the "
                        "last 10 s, else 0.\n"
                        "# TYPE lotus_server_online gauge\n"
                        "lotus_server_online{id=\"2\",name=\"new\",tag=\"\"} 0\n"
                        "# HELP lotus_servers Servers in this scrape.\n"
                        "# TYPE lotus_servers gauge\n"
                        "lotus_servers 1\n"
                        "# HELP lotus_servers_online Servers of this scrape that are online.\n"
                        "# TYPE lotus_servers_online gauge\n"
                        "lotus_servers_online 0\n"
                        "# HELP lotus_agents_connected Servers of this scrape with an open task "
                        "stream.\n"
                        "# TYPE lotus_agents_connected gauge\n"
                        "lotus_agents_connected 0\n");
    buf_release(&b);
}

static void test_prom__label_value_escaping(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 0);
    prom_put_label_value(&b, "a\"b\\c\nd");
    assert_string_equal(b.data, "a\\\"b\\\\c\\nd");
    buf_reset(&b);
    /* valid 2-, 3- and 4-byte sequences pass; a lone continuation, an overlong form, a
     * surrogate and a truncated sequence each become U+FFFD */
    prom_put_label_value(
        &b, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\x80|\xc0\xaf|\xed\xa0\x80|\xe2\x82");
    assert_string_equal(b.data, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\xef\xbf\xbd|\xef\xbf\xbd"
                                "\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd"
                                "\xef\xbf\xbd");
    buf_release(&b);
}

struct seen {
    int last_family; /* index into prom_families, -1 before the first */
    int families_done[PROM_F_COUNT];
    size_t n;
    int bad;
};

static void on_sample(void *ud, const struct prom_family *f, const struct prom_label *l, size_t n,
                      double v)
{
    struct seen *s = ud;
    int id = (int)(f - prom_families);
    if (id < 0 || id >= PROM_F_COUNT || !isfinite(v) || n > PROM_LABELS_MAX)
        s->bad++;
    if (id != s->last_family) { /* a family's samples are consecutive, in table order */
        if (id < s->last_family || s->families_done[id])
            s->bad++;
        if (s->last_family >= 0)
            s->families_done[s->last_family] = 1;
        s->last_family = id;
    }
    for (size_t i = 0; i < n; i++)
        if (!l[i].name || !l[i].value)
            s->bad++;
    if (id <= PROM_F_SERVER_BOOT_TIME &&
        (n < 3 || strcmp(l[0].name, "id") != 0 || strcmp(l[1].name, "name") != 0 ||
         strcmp(l[2].name, "tag") != 0))
        s->bad++;
    s->n++;
}

static void test_prom__walk_contract(void **state)
{
    (void)state;
    struct seen s = {.last_family = -1};
    prom_walk(&fx.lv, &fx.mon, &fx.health, 1, NOW_MS, on_sample, &s);
    assert_int_equal(s.bad, 0);
    struct buf b;
    buf_init(&b, 0);
    prom_render(&b, &fx.lv, &fx.mon, &fx.health, 1, NOW_MS);
    size_t lines = 0, meta = 0;
    for (const char *p = b.data; *p; p++)
        if (*p == '\n')
            lines++;
    for (const char *p = b.data; (p = strstr(p, "# TYPE ")) != NULL; p++)
        meta++;
    assert_int_equal(lines - 2 * meta, s.n); /* one line per sample, HELP+TYPE per family */
    buf_release(&b);
    /* every family name follows the rules: lotus_/process_ prefix, _total only on counters */
    for (int i = 0; i < PROM_F_COUNT; i++) {
        const struct prom_family *f = &prom_families[i];
        assert_non_null(f->name);
        assert_true(strncmp(f->name, "lotus_", 6) == 0 || strncmp(f->name, "process_", 8) == 0);
        size_t n = strlen(f->name);
        int total = n > 6 && strcmp(f->name + n - 6, "_total") == 0;
        assert_int_equal(total, f->type == PROM_COUNTER);
        assert_null(strpbrk(f->help, "\\\n"));
    }
}

/* Counts samples per family (the remote-write snapshot is taken in pieces). */
static void count_sample(void *ud, const struct prom_family *f, const struct prom_label *l,
                         size_t n, double v)
{
    (void)l;
    (void)n;
    (void)v;
    size_t *per = ud;
    per[f - prom_families]++;
}

static void test_prom__walk_in_pieces_is_the_whole_walk(void **state)
{
    (void)state;
    size_t whole[PROM_F_COUNT] = {0}, pieces[PROM_F_COUNT] = {0};
    prom_walk(&fx.lv, &fx.mon, &fx.health, 1, NOW_MS, count_sample, whole);
    /* as promrw takes it: the others first, then the servers one at a time (past the end too) */
    prom_walk_range(&fx.lv, &fx.mon, &fx.health, 1, NOW_MS, 0, 0, 1, count_sample, pieces);
    for (size_t i = 0; i <= fx.lv.n; i++)
        prom_walk_range(&fx.lv, &fx.mon, &fx.health, 1, NOW_MS, i, i + 1, 0, count_sample, pieces);
    for (int f = 0; f < PROM_F_COUNT; f++)
        assert_int_equal(pieces[f], whole[f]);
    assert_true(whole[PROM_F_SERVER_ONLINE] >= 2);
}

/* Per-reporter series: each covered server's latest result; hidden reporters only for tokens. */
static void test_prom__monitor_reporters(void **state)
{
    (void)state;
    struct monitor_reporter rep[2] = {
        {.server_id = 1, .last_ms = NOW_MS - 1000, .last_ok = 1, .last_delay = 12.5},
        {.server_id = 3, .last_ms = NOW_MS - 1000, .last_ok = 0}};
    fx.ment.rep = rep;
    fx.ment.n_rep = 2;
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(prom_render(&b, &fx.lv, &fx.mon, &fx.health, 1, NOW_MS), 0);
    /* server 1's name is 'fra "main" \ rack<newline>2': escaped per the format */
    assert_non_null(strstr(b.data, "lotus_monitor_reporter_up{id=\"5\",name=\"web \\\"front\\\"\","
                                   "type=\"http\",reporter_id=\"1\",reporter=\"fra \\\"main\\\" "
                                   "\\\\ rack\\n2\"} 1\n"));
    assert_non_null(strstr(b.data, "reporter_id=\"3\",reporter=\"secret-box\"} 0\n"));
    assert_non_null(strstr(b.data, "lotus_monitor_reporter_latency_seconds{id=\"5\""));
    assert_non_null(strstr(b.data, "reporter_id=\"1\""));
    assert_non_null(strstr(b.data, "} 0.0125\n"));
    /* a failed latest result has no latency sample */
    const char *lat = strstr(b.data, "# TYPE lotus_monitor_reporter_latency_seconds");
    assert_non_null(lat);
    assert_null(strstr(lat, "reporter_id=\"3\""));
    buf_reset(&b);
    assert_int_equal(prom_render(&b, &fx.lv, &fx.mon, &fx.health, 0, NOW_MS), 0);
    assert_null(strstr(b.data, "secret-box"));
    assert_non_null(strstr(b.data, "lotus_monitor_reporter_up{"));
    buf_release(&b);
    fx.ment.rep = NULL;
    fx.ment.n_rep = 0;
}

static void test_prom__buffer_limit_is_the_error(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 256);
    assert_int_not_equal(prom_render(&b, &fx.lv, &fx.mon, &fx.health, 1, NOW_MS), 0);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prom__token_variant_golden),
        cmocka_unit_test(test_prom__public_variant_leaves_hidden_out),
        cmocka_unit_test(test_prom__never_reported_only_online_zero),
        cmocka_unit_test(test_prom__label_value_escaping),
        cmocka_unit_test(test_prom__walk_contract),
        cmocka_unit_test(test_prom__walk_in_pieces_is_the_whole_walk),
        cmocka_unit_test(test_prom__monitor_reporters),
        cmocka_unit_test(test_prom__buffer_limit_is_the_error),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
