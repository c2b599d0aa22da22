/* Unit tests of the dashboard's in-memory auth state (tokens, sessions, login throttling). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "dashboard/auth.h"

static void test_auth__random_strings_are_alnum_and_distinct(void **state)
{
    (void)state;
    char a[AUTH_TOKEN_LEN + 1], b[AUTH_TOKEN_LEN + 1];
    auth_random_string(a, AUTH_TOKEN_LEN);
    auth_random_string(b, AUTH_TOKEN_LEN);
    assert_int_equal(strlen(a), AUTH_TOKEN_LEN);
    for (size_t i = 0; i < AUTH_TOKEN_LEN; i++)
        assert_true(isalnum((unsigned char)a[i]));
    assert_string_not_equal(a, b);
}

static void test_auth__tokens_match_by_digest_only(void **state)
{
    (void)state;
    struct auth a;
    auth_init(&a);
    const char *tok = "0123456789abcdefABCDEF0123456789";
    struct auth_token t = {.id = 7, .user_id = 1};
    auth_hash(tok, strlen(tok), t.hash);
    assert_int_equal(auth_token_put(&a, &t), 0);
    assert_non_null(auth_token_find(&a, tok, strlen(tok)));
    assert_int_equal(auth_token_find(&a, tok, strlen(tok))->id, 7);
    assert_null(auth_token_find(&a, "0123456789abcdefABCDEF012345678X", 32));
    assert_null(auth_token_find(&a, tok, 31)); /* a prefix is not the token */
    auth_token_remove(&a, 7);
    assert_null(auth_token_find(&a, tok, strlen(tok)));
    auth_release(&a);
}

static void test_auth__sessions_expire_and_are_removed(void **state)
{
    (void)state;
    struct auth a;
    auth_init(&a);
    const char *cookie = "SessSessSessSessSessSessSessSess";
    struct auth_session s = {.user_id = 3, .expires_ms = 1000};
    auth_hash(cookie, 32, s.hash);
    assert_int_equal(auth_session_put(&a, &s, 0), 0);
    assert_non_null(auth_session_find(&a, cookie, 32, 999));
    assert_null(auth_session_find(&a, cookie, 32, 1000));
    s.expires_ms = 5000;
    auth_session_put(&a, &s, 1500); /* drops the expired copy */
    assert_int_equal(a.n_sessions, 1);
    auth_session_remove_user(&a, 3, NULL);
    assert_null(auth_session_find(&a, cookie, 32, 2000));
    auth_release(&a);
}

/* d with byte pos XOR-ed by mask: for mask != 0, differs from d in that one byte only. */
static void near_miss(const uint8_t d[AUTH_HASH_LEN], size_t pos, uint8_t mask,
                      uint8_t out[AUTH_HASH_LEN])
{
    memcpy(out, d, AUTH_HASH_LEN);
    out[pos] ^= mask;
}

/*
 * Every one of the 32 digest bytes takes part in the token lookup: an entry
 * whose digest differs from the presented token's in any one byte, or in any
 * one bit, never matches (a lookup comparing a prefix, a subset of the bytes
 * or a masked value would return one of them).
 */
static void test_auth__token_lookup_compares_every_digest_byte(void **state)
{
    (void)state;
    struct auth a;
    auth_init(&a);
    const char *tok = "Tk7dQ2mZ9xLp4Rv8Wb3Nc6Yh1Jf5Gs0A";
    assert_int_equal(strlen(tok), AUTH_TOKEN_LEN);
    uint8_t d[AUTH_HASH_LEN];
    auth_hash(tok, AUTH_TOKEN_LEN, d);
    uint64_t id = 1000;
    for (size_t pos = 0; pos < AUTH_HASH_LEN; pos++) {
        struct auth_token t = {.id = id++, .user_id = 99};
        near_miss(d, pos, 0xff, t.hash);
        assert_int_equal(auth_token_put(&a, &t), 0);
    }
    struct auth_token last_bit = {.id = id++, .user_id = 99};
    near_miss(d, AUTH_HASH_LEN - 1, 0x01, last_bit.hash);
    assert_int_equal(auth_token_put(&a, &last_bit), 0);
    assert_int_equal(a.n_tokens, AUTH_HASH_LEN + 1);
    assert_null(auth_token_find(&a, tok, AUTH_TOKEN_LEN));

    /* Each single-bit flip, checked on its own so the failing position is named. */
    for (size_t pos = 0; pos < AUTH_HASH_LEN; pos++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            struct auth b;
            auth_init(&b);
            struct auth_token t = {.id = 1, .user_id = 99};
            near_miss(d, pos, (uint8_t)(1u << bit), t.hash);
            assert_int_equal(auth_token_put(&b, &t), 0);
            if (auth_token_find(&b, tok, AUTH_TOKEN_LEN))
                fail_msg("digest differing in byte %zu bit %u matched", pos, bit);
            auth_release(&b);
        }
    }

    /* The real digest, among near misses put before and after it. */
    struct auth_token real = {.id = 7, .user_id = 42};
    memcpy(real.hash, d, AUTH_HASH_LEN);
    assert_int_equal(auth_token_put(&a, &real), 0);
    for (size_t pos = 0; pos < AUTH_HASH_LEN; pos++) {
        struct auth_token t = {.id = id++, .user_id = 99};
        near_miss(d, pos, 0x80, t.hash);
        assert_int_equal(auth_token_put(&a, &t), 0);
    }
    struct auth_token *f = auth_token_find(&a, tok, AUTH_TOKEN_LEN);
    assert_non_null(f);
    assert_int_equal(f->id, 7);
    assert_int_equal(f->user_id, 42);
    assert_memory_equal(f->hash, d, AUTH_HASH_LEN);
    auth_release(&a);
}

/* With many tokens present, each token text finds its own entry; replace and remove keep that. */
static void test_auth__token_lookup_returns_the_matching_entry(void **state)
{
    (void)state;
    struct auth a;
    auth_init(&a);
    enum { N = 300 };
    char tok[N][AUTH_TOKEN_LEN + 1];
    for (int i = 0; i < N; i++) {
        snprintf(tok[i], sizeof(tok[i]), "tok%029d", i * 7919);
        struct auth_token t = {.id = (uint64_t)i + 1, .user_id = 5000 + (uint64_t)i};
        auth_hash(tok[i], AUTH_TOKEN_LEN, t.hash);
        assert_int_equal(auth_token_put(&a, &t), 0);
    }
    assert_int_equal(a.n_tokens, N);
    for (int i = 0; i < N; i++) {
        struct auth_token *f = auth_token_find(&a, tok[i], AUTH_TOKEN_LEN);
        assert_non_null(f);
        assert_int_equal(f->id, (uint64_t)i + 1);
        assert_int_equal(f->user_id, 5000 + (uint64_t)i);
    }
    /* Put with an existing id replaces that entry's digest: the old text stops working. */
    const char *fresh = "FreshFreshFreshFreshFreshFresh12";
    struct auth_token t = {.id = 11, .user_id = 5010};
    auth_hash(fresh, AUTH_TOKEN_LEN, t.hash);
    assert_int_equal(auth_token_put(&a, &t), 0);
    assert_int_equal(a.n_tokens, N);
    assert_null(auth_token_find(&a, tok[10], AUTH_TOKEN_LEN));
    assert_int_equal(auth_token_find(&a, fresh, AUTH_TOKEN_LEN)->id, 11);
    /* Removing one (the last entry moves into its slot) leaves every other token findable. */
    auth_token_remove(&a, 1);
    assert_int_equal(a.n_tokens, N - 1);
    assert_null(auth_token_find(&a, tok[0], AUTH_TOKEN_LEN));
    for (int i = 1; i < N; i++) {
        if (i == 10)
            continue;
        struct auth_token *f = auth_token_find(&a, tok[i], AUTH_TOKEN_LEN);
        assert_non_null(f);
        assert_int_equal(f->id, (uint64_t)i + 1);
    }
    auth_release(&a);
}

/* Sessions have their own lookup (and removal by digest): the same near-miss check. */
static void test_auth__session_lookup_compares_every_digest_byte(void **state)
{
    (void)state;
    struct auth a;
    auth_init(&a);
    const char *cookie = "c00kieC00kieC00kieC00kieC00kie99";
    assert_int_equal(strlen(cookie), AUTH_TOKEN_LEN);
    uint8_t d[AUTH_HASH_LEN];
    auth_hash(cookie, AUTH_TOKEN_LEN, d);
    for (size_t pos = 0; pos < AUTH_HASH_LEN; pos++) {
        struct auth_session s = {.user_id = 99, .expires_ms = 10000};
        near_miss(d, pos, 0xff, s.hash);
        assert_int_equal(auth_session_put(&a, &s, 0), 0);
    }
    struct auth_session last_bit = {.user_id = 99, .expires_ms = 10000};
    near_miss(d, AUTH_HASH_LEN - 1, 0x01, last_bit.hash);
    assert_int_equal(auth_session_put(&a, &last_bit, 0), 0);
    assert_null(auth_session_find(&a, cookie, AUTH_TOKEN_LEN, 100));

    for (size_t pos = 0; pos < AUTH_HASH_LEN; pos++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            struct auth b;
            auth_init(&b);
            struct auth_session s = {.user_id = 99, .expires_ms = 10000};
            near_miss(d, pos, (uint8_t)(1u << bit), s.hash);
            assert_int_equal(auth_session_put(&b, &s, 0), 0);
            if (auth_session_find(&b, cookie, AUTH_TOKEN_LEN, 100))
                fail_msg("session digest differing in byte %zu bit %u matched", pos, bit);
            auth_release(&b);
        }
    }

    struct auth_session real = {.user_id = 42, .expires_ms = 10000, .csrf = "csrf-of-the-real-one"};
    memcpy(real.hash, d, AUTH_HASH_LEN);
    assert_int_equal(auth_session_put(&a, &real, 0), 0);
    for (size_t pos = 0; pos < AUTH_HASH_LEN; pos++) {
        struct auth_session s = {.user_id = 99, .expires_ms = 10000};
        near_miss(d, pos, 0x80, s.hash);
        assert_int_equal(auth_session_put(&a, &s, 0), 0);
    }
    size_t n = a.n_sessions;
    struct auth_session *f = auth_session_find(&a, cookie, AUTH_TOKEN_LEN, 100);
    assert_non_null(f);
    assert_int_equal(f->user_id, 42);
    assert_string_equal(f->csrf, "csrf-of-the-real-one");
    /* Valid until one ms before expires_ms. */
    assert_non_null(auth_session_find(&a, cookie, AUTH_TOKEN_LEN, 9999));
    assert_null(auth_session_find(&a, cookie, AUTH_TOKEN_LEN, 10000));

    /* Removing a near miss by digest leaves the real session alone, and vice versa. */
    uint8_t miss[AUTH_HASH_LEN];
    near_miss(d, AUTH_HASH_LEN - 1, 0x01, miss);
    auth_session_remove_hash(&a, miss);
    assert_int_equal(a.n_sessions, n - 1);
    assert_non_null(auth_session_find(&a, cookie, AUTH_TOKEN_LEN, 100));
    auth_session_remove_hash(&a, d);
    assert_int_equal(a.n_sessions, n - 2);
    assert_null(auth_session_find(&a, cookie, AUTH_TOKEN_LEN, 100));
    auth_release(&a);
}

/* remove_user drops exactly that user's sessions, except the one whose digest is kept. */
static void test_auth__session_remove_user_keeps_current(void **state)
{
    (void)state;
    struct auth a;
    auth_init(&a);
    char cookie[6][AUTH_TOKEN_LEN + 1];
    uint64_t user[6] = {1, 2, 1, 1, 3, 1};
    for (int i = 0; i < 6; i++) {
        snprintf(cookie[i], sizeof(cookie[i]), "session%025d", i);
        struct auth_session s = {.user_id = user[i], .expires_ms = 5000};
        auth_hash(cookie[i], AUTH_TOKEN_LEN, s.hash);
        assert_int_equal(auth_session_put(&a, &s, 0), 0);
    }
    uint8_t keep[AUTH_HASH_LEN];
    auth_hash(cookie[3], AUTH_TOKEN_LEN, keep);
    /* Sessions of the same user whose digest is one byte off the kept one are not kept. */
    for (size_t pos = 0; pos < AUTH_HASH_LEN; pos++) {
        struct auth_session s = {.user_id = 1, .expires_ms = 5000};
        near_miss(keep, pos, 0x01, s.hash);
        assert_int_equal(auth_session_put(&a, &s, 0), 0);
    }
    assert_int_equal(a.n_sessions, 6 + AUTH_HASH_LEN);
    auth_session_remove_user(&a, 1, keep);
    assert_int_equal(a.n_sessions, 3);
    for (int i = 0; i < 6; i++) {
        struct auth_session *f = auth_session_find(&a, cookie[i], AUTH_TOKEN_LEN, 100);
        if (user[i] == 1 && i != 3) {
            assert_null(f);
        } else {
            assert_non_null(f);
            assert_int_equal(f->user_id, user[i]);
        }
    }
    auth_release(&a);
}

static void test_auth__login_lockout_doubles_and_resets(void **state)
{
    (void)state;
    struct auth a;
    auth_init(&a);
    int64_t now = 1000000;
    for (int i = 0; i < AUTH_FREE_FAILURES - 1; i++) {
        auth_login_failed(&a, "10.0.0.1", "admin", now);
        assert_int_equal(auth_login_allowed(&a, "10.0.0.1", "admin", now), 0);
    }
    auth_login_failed(&a, "10.0.0.1", "admin", now);
    assert_int_equal(auth_login_allowed(&a, "10.0.0.1", "admin", now), AUTH_LOCK_BASE_MS);
    /* Another IP trying the same login is locked too (per-user), a third login from a fresh IP is not. */
    assert_true(auth_login_allowed(&a, "10.0.0.2", "admin", now) > 0);
    assert_int_equal(auth_login_allowed(&a, "10.0.0.2", "bob", now), 0);
    auth_login_failed(&a, "10.0.0.1", "admin", now + AUTH_LOCK_BASE_MS);
    assert_int_equal(auth_login_allowed(&a, "10.0.0.1", "admin", now + AUTH_LOCK_BASE_MS),
                     2 * AUTH_LOCK_BASE_MS);
    for (int i = 0; i < 40; i++)
        auth_login_failed(&a, "10.0.0.1", "admin", now);
    assert_true(auth_login_allowed(&a, "10.0.0.1", "admin", now) <= AUTH_LOCK_MAX_MS);
    auth_login_succeeded(&a, "10.0.0.1", "admin");
    assert_int_equal(auth_login_allowed(&a, "10.0.0.1", "admin", now), 0);
    auth_release(&a);
}

static void test_auth__throttle_table_is_bounded(void **state)
{
    (void)state;
    struct auth a;
    auth_init(&a);
    char ip[32];
    for (int i = 0; i < AUTH_MAX_TRACKED + 100; i++) {
        snprintf(ip, sizeof(ip), "10.1.%d.%d", i / 256, i % 256);
        auth_login_failed(&a, ip, "x", i);
    }
    assert_true(a.n_throttle <= AUTH_MAX_TRACKED);
    auth_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth__random_strings_are_alnum_and_distinct),
        cmocka_unit_test(test_auth__tokens_match_by_digest_only),
        cmocka_unit_test(test_auth__sessions_expire_and_are_removed),
        cmocka_unit_test(test_auth__token_lookup_compares_every_digest_byte),
        cmocka_unit_test(test_auth__token_lookup_returns_the_matching_entry),
        cmocka_unit_test(test_auth__session_lookup_compares_every_digest_byte),
        cmocka_unit_test(test_auth__session_remove_user_keeps_current),
        cmocka_unit_test(test_auth__login_lockout_doubles_and_resets),
        cmocka_unit_test(test_auth__throttle_table_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
