/* Unit tests of the dashboard's live registry and the IOStream handshake check. */
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
    /* An empty secret never matches, even a server whose secret is empty (spec §1.3 quirk). */
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
