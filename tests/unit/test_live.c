/* Unit tests of the dashboard's live registry, its report rules and observers, and the IOStream
 * handshake check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard/live.h"
#include "dashboard/store.h"
#include "dashboard/svc.h"
#include "nezha_v0.pb-c.h"
#include "proto/nezha_metrics.h"

static struct store_server row(uint64_t id, const char *name, const char *secret)
{
    struct store_server r;
    memset(&r, 0, sizeof(r));
    r.id = id;
    r.name = (char *)name;
    r.tag = (char *)"t";
    r.secret = (char *)secret;
    return r;
}

static void test_live__upsert_find_remove_keeps_id_order(void **state)
{
    (void)state;
    struct live lv;
    live_init(&lv);
    uint64_t ids[] = {5, 1, 9, 3};
    char secret[4][8] = {"s5", "s1", "s9", "s3"};
    for (int i = 0; i < 4; i++) {
        struct store_server r = row(ids[i], "n", secret[i]);
        live_upsert(&lv, &r);
    }
    assert_int_equal(lv.n, 4);
    static const uint64_t sorted[] = {1, 3, 5, 9};
    for (size_t i = 0; i < lv.n; i++)
        assert_int_equal(lv.servers[i]->id, sorted[i]);
    for (size_t i = 0; i < lv.n; i++)
        assert_ptr_equal(live_find_id(&lv, sorted[i]), lv.servers[i]);
    assert_null(live_find_id(&lv, 2));
    assert_int_equal(live_find_secret(&lv, "s3")->id, 3);
    assert_null(live_find_secret(&lv, "nope"));
    /* An empty secret never matches, even a server whose secret is empty (docs/protocol.md §1.3
     * quirk). */
    struct store_server e = row(11, "empty", "");
    live_upsert(&lv, &e);
    assert_null(live_find_secret(&lv, ""));
    assert_null(live_find_secret(&lv, NULL));
    /* Update renames in place and keeps live state. */
    struct live_server *s = live_find_id(&lv, 5);
    s->last_active = 42;
    struct store_server r2 = row(5, "renamed", "s5b");
    assert_ptr_equal(live_upsert(&lv, &r2), s);
    assert_string_equal(s->name, "renamed");
    assert_int_equal(s->last_active, 42);
    assert_null(live_find_secret(&lv, "s5"));
    assert_ptr_equal(live_find_secret(&lv, "s5b"), s);
    live_remove(&lv, 1);
    live_remove(&lv, 1000);
    assert_int_equal(lv.n, 4);
    assert_null(live_find_id(&lv, 1));
    assert_null(live_find_secret(&lv, "s1"));
    static const uint64_t left[] = {3, 5, 9, 11};
    for (size_t i = 0; i < lv.n; i++)
        assert_int_equal(lv.servers[i]->id, left[i]);
    live_release(&lv);
    assert_int_equal(lv.n, 0);
}

static void test_live__secret_index_stays_consistent(void **state)
{
    (void)state;
    struct live lv;
    live_init(&lv);
    char secrets[300][20];
    for (int i = 0; i < 300; i++) {
        /* ids and secrets in unrelated orders */
        snprintf(secrets[i], sizeof(secrets[i]), "k%08x", (unsigned)(i * 2654435761u));
        struct store_server r = row((uint64_t)((i * 7) % 300 + 1), "n", secrets[i]);
        live_upsert(&lv, &r);
    }
    assert_int_equal(lv.n, 300);
    for (int i = 0; i < 300; i++) {
        struct live_server *s = live_find_secret(&lv, secrets[i]);
        assert_non_null(s);
        assert_int_equal(s->id, (uint64_t)((i * 7) % 300 + 1));
    }
    /* re-key half, remove a third */
    for (int i = 0; i < 300; i += 2) {
        char nk[24];
        snprintf(nk, sizeof(nk), "z%d", i);
        struct store_server r = row((uint64_t)((i * 7) % 300 + 1), "n", nk);
        live_upsert(&lv, &r);
        assert_null(live_find_secret(&lv, secrets[i]));
        assert_int_equal(live_find_secret(&lv, nk)->id, (uint64_t)((i * 7) % 300 + 1));
    }
    for (int i = 1; i < 300; i += 3)
        live_remove(&lv, (uint64_t)((i * 7) % 300 + 1));
    assert_int_equal(lv.n, 200);
    for (int i = 1; i < 300; i++) {
        char nk[24];
        snprintf(nk, sizeof(nk), "z%d", i);
        struct live_server *s = live_find_secret(&lv, i % 2 ? secrets[i] : nk);
        uint64_t id = (uint64_t)((i * 7) % 300 + 1);
        if (i % 3 == 1) {
            assert_null(s);
            assert_null(live_find_id(&lv, id));
        } else {
            assert_non_null(s);
            assert_int_equal(s->id, id);
            assert_ptr_equal(live_find_id(&lv, id), s);
        }
    }
    /* Every server left, re-keyed or not, is found by its current secret, and only by it. */
    assert_int_equal(lv.n, 200);
    for (size_t k = 0; k < lv.n; k++)
        assert_ptr_equal(live_find_secret(&lv, lv.servers[k]->secret), lv.servers[k]);
    for (int i = 1; i < 300; i += 3) {
        char nk[24];
        snprintf(nk, sizeof(nk), "z%d", i);
        assert_null(live_find_secret(&lv, i % 2 ? secrets[i] : nk));
    }
    live_release(&lv);
}

/* Only the whole secret authenticates: no prefix, extension or one-character difference. */
static void test_live__secret_must_match_exactly(void **state)
{
    (void)state;
    struct live lv;
    live_init(&lv);
    static const char *const secrets[] = {"Abc123xyz789QRSTuv", "Abc123xyz789QRSTuw", "Abc1",
                                          "Zq9"};
    for (size_t i = 0; i < 4; i++) {
        struct store_server r = row(i + 1, "n", secrets[i]);
        live_upsert(&lv, &r);
    }
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(live_find_secret(&lv, secrets[i])->id, i + 1);
    const char *real = secrets[0];
    size_t n = strlen(real);
    char probe[64];
    for (size_t len = 1; len < n; len++) { /* every proper prefix but the one that is a secret */
        snprintf(probe, sizeof(probe), "%.*s", (int)len, real);
        if (len != 4)
            assert_null(live_find_secret(&lv, probe));
    }
    snprintf(probe, sizeof(probe), "%sA", real);
    assert_null(live_find_secret(&lv, probe));
    for (size_t pos = 0; pos < n; pos++) {
        snprintf(probe, sizeof(probe), "%s", real);
        probe[pos] = probe[pos] == 'x' ? 'y' : 'x';
        struct live_server *s = live_find_secret(&lv, probe);
        assert_true(s == NULL || strcmp(s->secret, probe) == 0);
        assert_null(s); /* none of the other secrets is one character away from real */
    }
    live_release(&lv);
}

static void test_live__restores_persisted_host(void **state)
{
    (void)state;
    struct live lv;
    live_init(&lv);
    Proto__Host h = PROTO__HOST__INIT;
    h.platform = (char *)"debian";
    h.boot_time = 1716000000;
    uint8_t pb[64];
    size_t n = proto__host__pack(&h, pb);
    struct store_server r = row(2, "x", "sec");
    r.host_pb = pb;
    r.host_len = n;
    r.last_active = 1717236000;
    struct live_server *s = live_upsert(&lv, &r);
    assert_non_null(s->host);
    assert_string_equal(s->host->platform, "debian");
    assert_int_equal(s->host->boot_time, 1716000000);
    assert_int_equal(s->last_active, 1717236000);
    assert_null(s->state);
    live_release(&lv);
}

static void test_live__iostream_handshake_is_strict(void **state)
{
    (void)state;
    char id[37];
    const char *uuid = "123e4567-e89b-12d3-a456-426614174000";
    uint8_t frame[64];
    memcpy(frame, "\xff\x05\xff\x05", 4);
    memcpy(frame + 4, uuid, 36);
    assert_int_equal(svc_parse_iostream_handshake(frame, 40, id), 0);
    assert_string_equal(id, uuid);
    assert_int_equal(svc_parse_iostream_handshake(frame, 39, id), -EINVAL);
    assert_int_equal(svc_parse_iostream_handshake(frame, 41, id), -EINVAL);
    assert_int_equal(svc_parse_iostream_handshake(frame, 4, id), -EINVAL);
    /* Upper-case hex is hex too. */
    const char *upper = "123E4567-E89B-12D3-A456-426614174ABC";
    memcpy(frame + 4, upper, 36);
    assert_int_equal(svc_parse_iostream_handshake(frame, 40, id), 0);
    assert_string_equal(id, upper);
    /* Every position is checked: a dash where a digit belongs and a digit where a dash belongs. */
    for (size_t i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        static const char wrong_hex[] = {'-', 'g', 'G', ' ', '\0'};
        for (size_t k = 0; k < (dash ? 1u : sizeof(wrong_hex)); k++) {
            memcpy(frame + 4, uuid, 36);
            frame[4 + i] = (uint8_t)(dash ? '0' : wrong_hex[k]);
            if (svc_parse_iostream_handshake(frame, 40, id) != -EINVAL)
                fail_msg("uuid position %zu accepted 0x%02x", i, frame[4 + i]);
        }
    }
    memcpy(frame + 4, uuid, 36);
    for (size_t i = 0; i < 4; i++) {
        frame[i] ^= 0x01; /* wrong magic, each byte */
        assert_int_equal(svc_parse_iostream_handshake(frame, 40, id), -EINVAL);
        frame[i] ^= 0x01;
    }
    assert_int_equal(svc_parse_iostream_handshake(frame, 40, id), 0);
}

static void test_live__online_window_is_inclusive_and_counts_restored_rows(void **state)
{
    (void)state;
    struct live_server s = {0};
    int64_t now = 1700000000000;
    assert_false(live_server_online(&s, now)); /* never reported */
    s.last_active_ms = now - LIVE_ONLINE_WINDOW_MS;
    assert_true(live_server_online(&s, now));
    s.last_active_ms = now - LIVE_ONLINE_WINDOW_MS - 1;
    assert_false(live_server_online(&s, now));
    s.last_active_ms = 0;
    s.last_active = (now - 5000) / 1000; /* restored from the store, seconds only */
    assert_true(live_server_online(&s, now));
    s.last_active = (now - 20000) / 1000;
    assert_false(live_server_online(&s, now));
}

static void test_live__display_order_is_index_desc_then_id_asc(void **state)
{
    (void)state;
    struct live_server a = {.id = 1, .display_index = 0}, b = {.id = 2, .display_index = 5},
                       c = {.id = 3, .display_index = 5}, d = {.id = 4, .display_index = -1};
    struct live_server *v[] = {&d, &a, &c, &b};
    qsort(v, 4, sizeof(v[0]), live_cmp_display);
    assert_int_equal(v[0]->id, 2);
    assert_int_equal(v[1]->id, 3);
    assert_int_equal(v[2]->id, 1);
    assert_int_equal(v[3]->id, 4);
}

/* ---- reports: baselines, persistence, country, gen, observers ---- */

/* A State owned the way live_report_state consumes it (a decoded message). */
static Proto__State *state_msg(uint64_t in, uint64_t out)
{
    Proto__State st = PROTO__STATE__INIT;
    st.net_in_transfer = in;
    st.net_out_transfer = out;
    st.cpu = 12.5;
    uint8_t pb[256];
    size_t n = proto__state__pack(&st, pb);
    Proto__State *m = proto__state__unpack(NULL, n, pb);
    assert_non_null(m);
    return m;
}

static Proto__Host *host_msg(uint64_t boot_time, const char *ip, const char *cc)
{
    Proto__Host h = PROTO__HOST__INIT;
    h.platform = (char *)"debian";
    h.boot_time = boot_time;
    h.ip = (char *)ip;
    h.country_code = (char *)cc;
    uint8_t pb[256];
    size_t n = proto__host__pack(&h, pb);
    Proto__Host *m = proto__host__unpack(NULL, n, pb);
    assert_non_null(m);
    return m;
}

static const int64_t T0 = 1700000000000; /* unix ms */

static void
test_live__first_state_sets_baselines_and_a_reboot_subtracts_the_last_counters(void **state)
{
    (void)state;
    struct live lv;
    live_init(&lv);
    struct store_server r = row(1, "n", "s1");
    struct live_server *s = live_upsert(&lv, &r);
    live_report_state(&lv, s, state_msg(1000, 2000), T0);
    assert_int_equal(s->transfer_in_base, 1000);
    assert_int_equal(s->transfer_out_base, 2000);
    live_report_state(&lv, s, state_msg(1500, 2500), T0 + 1000);
    assert_int_equal(s->transfer_in_base, 1000); /* later reports keep the baselines */
    assert_int_equal(s->transfer_out_base, 2000);
    assert_int_equal(s->state->net_in_transfer, 1500);
    /* The first Host has nothing to compare with: no change. */
    live_report_host(&lv, s, host_msg(100, "1.2.3.4", ""), "9.9.9.9");
    assert_int_equal(s->transfer_in_base, 1000);
    /* The same or an earlier boot time is no reboot. */
    live_report_host(&lv, s, host_msg(100, "1.2.3.4", ""), "9.9.9.9");
    live_report_host(&lv, s, host_msg(50, "1.2.3.4", ""), "9.9.9.9");
    assert_int_equal(s->transfer_in_base, 1000);
    assert_int_equal(s->transfer_out_base, 2000);
    /* A later boot time: the counters restarted, the baselines subtract the last ones. */
    live_report_host(&lv, s, host_msg(200, "1.2.3.4", ""), "9.9.9.9");
    assert_int_equal(s->transfer_in_base, 1000 - 1500);
    assert_int_equal(s->transfer_out_base, 2000 - 2500);
    /* The next State (counters from 0 again) does not reset the (non-zero) baselines. */
    live_report_state(&lv, s, state_msg(10, 20), T0 + 2000);
    assert_int_equal(s->transfer_in_base, -500);
    assert_int_equal(s->transfer_out_base, -500);
    live_release(&lv);
}

static void test_live__a_zero_baseline_is_set_again_by_the_next_state(void **state)
{
    (void)state;
    struct live lv;
    live_init(&lv);
    struct store_server r = row(1, "n", "s1");
    struct live_server *s = live_upsert(&lv, &r);
    live_report_state(&lv, s, state_msg(0, 5), T0); /* either baseline 0 = not set yet */
    live_report_state(&lv, s, state_msg(7, 9), T0 + 1000);
    assert_int_equal(s->transfer_in_base, 7);
    assert_int_equal(s->transfer_out_base, 9);
    live_release(&lv);
}

struct store_fixture {
    char dir[64];
    char path[128];
    struct store *st;
    uint64_t id;
};

static void store_fixture_open(struct store_fixture *f)
{
    snprintf(f->dir, sizeof(f->dir), "/tmp/lotus-live-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/sqlite.db", f->dir);
    char err[256] = "";
    f->st = NULL;
    if (store_open(f->path, &f->st, err, sizeof(err)) != 0)
        fail_msg("store_open: %s", err);
    struct store_server r = row(0, "n", NULL);
    assert_int_equal(store_server_add(f->st, &r), 0);
    f->id = r.id;
    free(r.secret);
}

static void store_fixture_close(struct store_fixture *f)
{
    store_close(f->st);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
}

/* The stored last_active of the fixture's server after everything queued is committed. */
static int64_t stored_active(struct store_fixture *f)
{
    store_flush(f->st);
    struct store_server out;
    assert_int_equal(store_server_get(f->st, f->id, &out), 0);
    int64_t v = out.last_active;
    store_server_release(&out);
    return v;
}

static void test_live__last_active_reaches_the_store_every_9_s_and_at_shutdown(void **state)
{
    (void)state;
    struct store_fixture f;
    store_fixture_open(&f);
    struct live lv;
    live_init(&lv);
    live_set_store(&lv, f.st);
    struct store_server got;
    assert_int_equal(store_server_get(f.st, f.id, &got), 0);
    struct live_server *s = live_upsert(&lv, &got);
    store_server_release(&got);
    live_report_state(&lv, s, state_msg(1, 1), T0); /* never persisted before: at once */
    assert_int_equal(stored_active(&f), T0 / 1000);
    live_report_state(&lv, s, state_msg(1, 1), T0 + 8999);
    assert_int_equal(s->last_active, T0 / 1000 + 8);
    assert_int_equal(stored_active(&f), T0 / 1000); /* 8 s newer: not yet */
    live_report_state(&lv, s, state_msg(1, 1), T0 + 9000);
    assert_int_equal(stored_active(&f), T0 / 1000 + 9);
    live_report_state(&lv, s, state_msg(1, 1), T0 + 12000);
    assert_int_equal(stored_active(&f), T0 / 1000 + 9);
    /* Shutdown writes what is newer than the last queued value. */
    live_persist_pending(&lv);
    assert_int_equal(stored_active(&f), T0 / 1000 + 12);
    /* A Host report queues the Host and LastActive at once. */
    live_report_state(&lv, s, state_msg(1, 1), T0 + 13000);
    live_report_host(&lv, s, host_msg(100, "1.2.3.4", ""), "9.9.9.9");
    store_flush(f.st);
    assert_int_equal(store_server_get(f.st, f.id, &got), 0);
    assert_int_equal(got.last_active, T0 / 1000 + 13);
    assert_non_null(got.host_pb);
    Proto__Host *h = proto__host__unpack(NULL, got.host_len, got.host_pb);
    assert_non_null(h);
    assert_string_equal(h->platform, "debian");
    assert_int_equal(h->boot_time, 100);
    protobuf_c_message_free_unpacked(&h->base, NULL);
    store_server_release(&got);
    live_release(&lv);
    store_fixture_close(&f);
}

static void test_live__country_code_comes_only_from_lookups_and_is_carried_over(void **state)
{
    (void)state;
    struct store_fixture f;
    store_fixture_open(&f);
    struct live lv;
    live_init(&lv);
    live_set_store(&lv, f.st);
    struct store_server got;
    assert_int_equal(store_server_get(f.st, f.id, &got), 0);
    struct live_server *s = live_upsert(&lv, &got);
    store_server_release(&got);
    /* No Host yet: nothing to set. */
    uint64_t gen = lv.gen;
    assert_int_equal(live_report_country(&lv, s, "de"), -ENOENT);
    assert_int_equal(lv.gen, gen);
    assert_null(s->host);
    /* The agent's own country code is ignored; an empty IP becomes the peer's address. */
    live_report_host(&lv, s, host_msg(100, "", "xx"), "9.9.9.9");
    assert_string_equal(s->host->country_code, "");
    assert_string_equal(s->host->ip, "9.9.9.9");
    assert_int_equal(live_report_country(&lv, s, "de"), 0);
    assert_string_equal(s->host->country_code, "de");
    /* The lookup's code is persisted with the Host. */
    store_flush(f.st);
    assert_int_equal(store_server_get(f.st, f.id, &got), 0);
    Proto__Host *h = proto__host__unpack(NULL, got.host_len, got.host_pb);
    assert_non_null(h);
    assert_string_equal(h->country_code, "de");
    protobuf_c_message_free_unpacked(&h->base, NULL);
    store_server_release(&got);
    /* A later Host keeps it (and its own IP). */
    live_report_host(&lv, s, host_msg(100, "1.2.3.4", "fr"), "9.9.9.9");
    assert_string_equal(s->host->country_code, "de");
    assert_string_equal(s->host->ip, "1.2.3.4");
    live_release(&lv);
    store_fixture_close(&f);
}

static void test_live__every_report_bumps_gen(void **state)
{
    (void)state;
    struct live lv;
    live_init(&lv);
    struct store_server r = row(1, "n", "s1");
    struct live_server *s = live_upsert(&lv, &r);
    uint64_t gen = lv.gen;
    live_report_state(&lv, s, state_msg(1, 1), T0);
    assert_int_equal(lv.gen, gen + 1);
    live_report_host(&lv, s, host_msg(100, "1.2.3.4", ""), "9.9.9.9");
    assert_int_equal(lv.gen, gen + 2);
    assert_int_equal(live_report_country(&lv, s, "de"), 0);
    assert_int_equal(lv.gen, gen + 3);
    live_release(&lv);
}

struct seen {
    int calls;
    uint64_t id;
    int64_t now_ms;
    struct nezha_sample sample;
    const struct live *lv;
    int state_was_new; /* srv->state already held the reported State */
};

static void observe(void *ud, uint64_t id, const struct nezha_sample *sample, int64_t now_ms)
{
    struct seen *w = ud;
    w->calls++;
    w->id = id;
    w->now_ms = now_ms;
    w->sample = *sample;
    const struct live_server *s = live_find_id(w->lv, id);
    w->state_was_new = s && s->state && s->state->net_in_transfer == sample->net_in_transfer &&
                       s->last_active_ms == now_ms;
}

static void test_live__observers_get_each_state_once_with_its_sample(void **state)
{
    (void)state;
    struct live lv;
    live_init(&lv);
    struct seen a = {.lv = &lv}, b = {.lv = &lv};
    assert_int_equal(live_observe(&lv, observe, &a), 0);
    assert_int_equal(live_observe(&lv, observe, &b), 0);
    struct store_server r1 = row(3, "n", "s3"), r2 = row(8, "m", "s8");
    live_upsert(&lv, &r1);
    struct live_server *s = live_upsert(&lv, &r2);
    Proto__State st = PROTO__STATE__INIT;
    st.cpu = 42.5;
    st.mem_used = 1024;
    st.swap_used = 2048;
    st.disk_used = 4096;
    st.net_in_transfer = 111;
    st.net_out_transfer = 222;
    st.net_in_speed = 33;
    st.net_out_speed = 44;
    st.uptime = 3600;
    st.load1 = 0.5;
    st.load5 = 0.25;
    st.load15 = 0.125;
    st.tcp_conn_count = 7;
    st.udp_conn_count = 8;
    st.process_count = 99;
    st.gpu = 3.5;
    uint8_t pb[256];
    size_t n = proto__state__pack(&st, pb);
    live_report_state(&lv, s, proto__state__unpack(NULL, n, pb), T0 + 5);
    for (int k = 0; k < 2; k++) {
        struct seen *w = k ? &b : &a;
        assert_int_equal(w->calls, 1);
        assert_int_equal(w->id, 8);
        assert_int_equal(w->now_ms, T0 + 5);
        assert_true(w->state_was_new);
        assert_true(w->sample.cpu == 42.5);
        assert_int_equal(w->sample.mem_used, 1024);
        assert_int_equal(w->sample.net_in_transfer, 111);
        assert_int_equal(w->sample.net_out_speed, 44);
        assert_true(w->sample.load5 == 0.25);
        assert_int_equal(w->sample.process_count, 99);
        assert_true(w->sample.gpu == 3.5);
    }
    /* Host and country reports are not samples. */
    live_report_host(&lv, s, host_msg(100, "1.2.3.4", ""), "9.9.9.9");
    assert_int_equal(live_report_country(&lv, s, "de"), 0);
    assert_int_equal(a.calls, 1);
    live_report_state(&lv, s, state_msg(5, 6), T0 + 1000);
    assert_int_equal(a.calls, 2);
    assert_int_equal(b.calls, 2);
    assert_int_equal(b.sample.net_out_transfer, 6);
    /* The table is bounded. */
    struct seen more[LIVE_OBSERVERS_MAX];
    for (int i = 2; i < LIVE_OBSERVERS_MAX; i++)
        assert_int_equal(live_observe(&lv, observe, &more[i]), 0);
    assert_int_equal(live_observe(&lv, observe, &a), -ENOSPC);
    assert_int_equal(lv.n_observers, LIVE_OBSERVERS_MAX);
    live_release(&lv);
    assert_int_equal(lv.n_observers, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live__upsert_find_remove_keeps_id_order),
        cmocka_unit_test(test_live__secret_index_stays_consistent),
        cmocka_unit_test(test_live__secret_must_match_exactly),
        cmocka_unit_test(test_live__restores_persisted_host),
        cmocka_unit_test(test_live__iostream_handshake_is_strict),
        cmocka_unit_test(test_live__online_window_is_inclusive_and_counts_restored_rows),
        cmocka_unit_test(test_live__display_order_is_index_desc_then_id_asc),
        cmocka_unit_test(
            test_live__first_state_sets_baselines_and_a_reboot_subtracts_the_last_counters),
        cmocka_unit_test(test_live__a_zero_baseline_is_set_again_by_the_next_state),
        cmocka_unit_test(test_live__last_active_reaches_the_store_every_9_s_and_at_shutdown),
        cmocka_unit_test(test_live__country_code_comes_only_from_lookups_and_is_carried_over),
        cmocka_unit_test(test_live__every_report_bumps_gen),
        cmocka_unit_test(test_live__observers_get_each_state_once_with_its_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
