/* Unit tests of the dashboard's in-memory auth state (tokens, sessions, login throttling). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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

/* docs/protocol.md fact 17: the alphabet is all of [0-9A-Za-z]; 12400 draws miss a symbol with p <
 * 1e-80. */
static void test_auth__random_strings_use_all_62_symbols(void **state)
{
    (void)state;
    static char s[62 * 200 + 1];
    auth_random_string(s, sizeof(s) - 1);
    assert_int_equal(strlen(s), sizeof(s) - 1);
    unsigned seen[256] = {0};
    for (size_t i = 0; i < sizeof(s) - 1; i++)
        seen[(unsigned char)s[i]]++;
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    size_t total = 0;
    for (size_t i = 0; i < 62; i++) {
        if (seen[(unsigned char)alphabet[i]] == 0)
            fail_msg("symbol '%c' never drawn", alphabet[i]);
        total += seen[(unsigned char)alphabet[i]];
    }
    assert_int_equal(total, sizeof(s) - 1); /* nothing outside the alphabet */
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
    assert_int_equal(auth_session_put(&a, &s, 1500), 0); /* drops the expired copy */
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

/* retain drops the sessions missing from the store's list, but only those put before the
 * fence (a session put while the list was being read is not in it and must stay). */
static void test_auth__sessions_retain_respects_the_fence(void **state)
{
    (void)state;
    struct auth a;
    auth_init(&a);
    char cookie[6][AUTH_TOKEN_LEN + 1];
    uint8_t h[6][AUTH_HASH_LEN];
    for (int i = 0; i < 6; i++) {
        snprintf(cookie[i], sizeof(cookie[i]), "retain%026d", i);
        struct auth_session s = {.user_id = 1, .expires_ms = 5000};
        auth_hash(cookie[i], AUTH_TOKEN_LEN, s.hash);
        memcpy(h[i], s.hash, AUTH_HASH_LEN);
        if (i == 4) /* the fence: 0..3 were put before the store was read */
            assert_int_equal(a.session_seq, 4);
        assert_int_equal(auth_session_put(&a, &s, 0), 0);
    }
    /* The store still has 2 and 0 (in that order) and, of the later ones, neither. */
    uint8_t list[2][AUTH_HASH_LEN];
    memcpy(list[0], h[2], AUTH_HASH_LEN);
    memcpy(list[1], h[0], AUTH_HASH_LEN);
    assert_int_equal(auth_sessions_retain(&a, (const uint8_t(*)[AUTH_HASH_LEN])list, 2, 4), 2);
    int want[6] = {1, 0, 1, 0, 1, 1};
    for (int i = 0; i < 6; i++) {
        struct auth_session *f = auth_session_find(&a, cookie[i], AUTH_TOKEN_LEN, 100);
        if (want[i])
            assert_non_null(f);
        else
            assert_null(f);
    }
    /* An empty store list ends every session up to the fence; a digest one bit off is no match. */
    uint8_t off[1][AUTH_HASH_LEN];
    memcpy(off[0], h[5], AUTH_HASH_LEN);
    off[0][AUTH_HASH_LEN - 1] ^= 1;
    assert_int_equal(
        auth_sessions_retain(&a, (const uint8_t(*)[AUTH_HASH_LEN])off, 1, a.session_seq), 4);
    assert_int_equal(a.n_sessions, 0);
    assert_int_equal(auth_sessions_retain(&a, NULL, 0, a.session_seq), 0);
    auth_release(&a);
}

/* AUTH_MAX_TOKENS / AUTH_MAX_SESSIONS entries fit, one more is refused; expiry makes room. */
static void test_auth__token_and_session_tables_are_capped(void **state)
{
    (void)state;
    struct auth a;
    auth_init(&a);
    struct auth_token t = {.user_id = 1};
    for (uint64_t i = 1; i <= AUTH_MAX_TOKENS; i++) {
        t.id = i;
        assert_int_equal(auth_token_put(&a, &t), 0);
    }
    t.id = AUTH_MAX_TOKENS + 1;
    assert_int_equal(auth_token_put(&a, &t), -ENOBUFS);
    t.id = 5; /* replacing an existing id still works when full */
    assert_int_equal(auth_token_put(&a, &t), 0);
    assert_int_equal(a.n_tokens, AUTH_MAX_TOKENS);

    struct auth_session s = {.user_id = 1};
    for (int i = 0; i < AUTH_MAX_SESSIONS; i++) {
        s.expires_ms = i == 77 ? 2000 : 100000;
        assert_int_equal(auth_session_put(&a, &s, 1000), 0);
    }
    s.expires_ms = 100000;
    assert_int_equal(auth_session_put(&a, &s, 1999), -ENOBUFS);
    assert_int_equal(a.n_sessions, AUTH_MAX_SESSIONS);
    assert_int_equal(auth_session_put(&a, &s, 2000), 0); /* the one expiring at 2000 is dropped */
    assert_int_equal(a.n_sessions, AUTH_MAX_SESSIONS);
    auth_release(&a);
}

/* The lock after the k-th consecutive failure (k from 1): auth.h's rule, written out. */
static int64_t lock_after(unsigned k)
{
    static const int64_t table[] = {0, 0, 0, 0, 30000, 60000, 120000, 240000, 480000, 900000};
    return k <= 10 ? table[k - 1] : AUTH_LOCK_MAX_MS;
}

static void test_auth__lock_table_matches_constants(void **state)
{
    (void)state;
    assert_int_equal(AUTH_FREE_FAILURES, 5);
    assert_int_equal(AUTH_LOCK_BASE_MS, 30000);
    assert_int_equal(AUTH_LOCK_MAX_MS, 900000);
    for (unsigned k = 1; k < AUTH_FREE_FAILURES; k++)
        assert_int_equal(lock_after(k), 0);
    assert_int_equal(lock_after(AUTH_FREE_FAILURES), AUTH_LOCK_BASE_MS);
}

/*
 * A client that waits out every lock and fails again: the first
 * AUTH_FREE_FAILURES attempts need no wait (the last of them sets the first
 * lock), then the lock doubles from 30 s, reaches exactly 15 min and stays
 * there (no shift overflow, no drop to 0) for 150 failures. Both the ip and
 * the login key carry the same lock; the wait is exact to the ms.
 */
static void test_auth__lockout_exact_doubling_to_cap(void **state)
{
    (void)state;
    struct auth a;
    auth_init(&a);
    int64_t now = 1000000;
    int64_t prev = 0;
    for (unsigned k = 1; k <= 150; k++) {
        assert_int_equal(auth_login_allowed(&a, "10.0.0.1", "admin", now), 0);
        auth_login_failed(&a, "10.0.0.1", "admin", now);
        int64_t want = lock_after(k);
        int64_t w = auth_login_allowed(&a, "10.0.0.1", "admin", now);
        if (w != want)
            fail_msg("failure %u: wait %lld, want %lld", k, (long long)w, (long long)want);
        assert_int_equal(auth_login_allowed(&a, "10.0.0.1", "someone-else", now), want);
        assert_int_equal(auth_login_allowed(&a, "10.9.9.9", "admin", now), want);
        assert_int_equal(auth_login_allowed(&a, "10.9.9.9", "someone-else", now), 0);
        assert_true(w >= prev);
        prev = w;
        if (k < AUTH_FREE_FAILURES) {
            now += 1000;
            continue;
        }
        assert_true(w > 0);
        /* One ms before the unlock time: 1 ms to wait; at it: free to try. */
        assert_int_equal(auth_login_allowed(&a, "10.0.0.1", "admin", now + w - 1), 1);
        assert_int_equal(auth_login_allowed(&a, "10.0.0.1", "admin", now + w), 0);
        now += w;
    }
    assert_int_equal(prev, AUTH_LOCK_MAX_MS);
    auth_release(&a);
}

/* Failures arriving while already locked (e.g. attempts checked before the lock landed). */
static void test_auth__lockout_failures_while_locked_still_count(void **state)
{
    (void)state;
    struct auth a;
    auth_init(&a);
    int64_t now = 5000;
    for (unsigned k = 1; k <= 40; k++) {
        auth_login_failed(&a, "10.0.0.1", "admin", now);
        assert_int_equal(auth_login_allowed(&a, "10.0.0.1", "admin", now), lock_after(k));
    }
    /* 40 failures at the same instant: still exactly the cap, from this instant. */
    assert_int_equal(auth_login_allowed(&a, "10.0.0.1", "admin", now + 1), AUTH_LOCK_MAX_MS - 1);
    auth_release(&a);
}

/* Success clears both keys completely: the next failures are free again. */
static void test_auth__lockout_success_resets_both_keys(void **state)
{
    (void)state;
    struct auth a;
    auth_init(&a);
    int64_t now = 1000;
    for (unsigned k = 1; k <= 7; k++)
        auth_login_failed(&a, "10.0.0.1", "admin", now);
    assert_int_equal(auth_login_allowed(&a, "10.0.0.1", "admin", now), 120000);
    auth_login_succeeded(&a, "10.0.0.1", "admin");
    assert_int_equal(auth_login_allowed(&a, "10.0.0.1", "admin", now), 0);
    assert_int_equal(auth_login_allowed(&a, "10.0.0.1", "x", now), 0);
    assert_int_equal(auth_login_allowed(&a, "10.9.9.9", "admin", now), 0);
    for (unsigned k = 1; k < AUTH_FREE_FAILURES; k++) {
        auth_login_failed(&a, "10.0.0.1", "admin", now + k);
        assert_int_equal(auth_login_allowed(&a, "10.0.0.1", "admin", now + k), 0);
    }
    auth_login_failed(&a, "10.0.0.1", "admin", now + 10);
    assert_int_equal(auth_login_allowed(&a, "10.0.0.1", "admin", now + 10), AUTH_LOCK_BASE_MS);
    /* Success for another login from the same ip clears the ip key, not the admin key. */
    auth_login_succeeded(&a, "10.0.0.1", "bob");
    assert_int_equal(auth_login_allowed(&a, "10.0.0.1", "x", now + 10), 0);
    assert_int_equal(auth_login_allowed(&a, "10.9.9.9", "admin", now + 10), AUTH_LOCK_BASE_MS);
    /* Success for an unknown pair creates nothing. */
    size_t n = a.n_throttle;
    auth_login_succeeded(&a, "10.7.7.7", "nobody");
    assert_int_equal(a.n_throttle, n);
    auth_release(&a);
}

/*
 * A quiet period of more than 2 * AUTH_LOCK_MAX_MS since the last failure
 * forgives the earlier ones; exactly 2 * AUTH_LOCK_MAX_MS does not.
 */
static void test_auth__lockout_long_quiet_period_forgives(void **state)
{
    (void)state;
    const int64_t quiet = 2 * (int64_t)AUTH_LOCK_MAX_MS;
    struct auth a;
    auth_init(&a);
    int64_t t0 = 50000;
    for (unsigned k = 1; k <= AUTH_FREE_FAILURES; k++)
        auth_login_failed(&a, "10.0.0.1", "admin", t0);
    assert_int_equal(auth_login_allowed(&a, "10.0.0.1", "admin", t0), AUTH_LOCK_BASE_MS);
    /* At exactly the threshold: remembered, the 6th failure doubles. */
    auth_login_failed(&a, "10.0.0.1", "admin", t0 + quiet);
    assert_int_equal(auth_login_allowed(&a, "10.0.0.1", "admin", t0 + quiet),
                     2 * AUTH_LOCK_BASE_MS);
    /* One ms past the threshold (counted from that last failure): forgiven, free again. */
    int64_t t1 = t0 + quiet + quiet + 1;
    auth_login_failed(&a, "10.0.0.1", "admin", t1);
    assert_int_equal(auth_login_allowed(&a, "10.0.0.1", "admin", t1), 0);
    for (unsigned k = 2; k < AUTH_FREE_FAILURES; k++) {
        auth_login_failed(&a, "10.0.0.1", "admin", t1 + k);
        assert_int_equal(auth_login_allowed(&a, "10.0.0.1", "admin", t1 + k), 0);
    }
    auth_login_failed(&a, "10.0.0.1", "admin", t1 + 100);
    assert_int_equal(auth_login_allowed(&a, "10.0.0.1", "admin", t1 + 100), AUTH_LOCK_BASE_MS);
    auth_release(&a);
}

/* The ip key and the login key lock independently; the answer is the longer wait. */
static void test_auth__lockout_per_ip_and_per_login(void **state)
{
    (void)state;
    struct auth a;
    auth_init(&a);
    int64_t now = 7000;
    char name[32];
    /* One ip guessing five different logins: the ip is locked for every login. */
    for (int i = 0; i < AUTH_FREE_FAILURES; i++) {
        snprintf(name, sizeof(name), "user%d", i);
        auth_login_failed(&a, "192.0.2.1", name, now);
    }
    assert_int_equal(auth_login_allowed(&a, "192.0.2.1", "anyone", now), AUTH_LOCK_BASE_MS);
    assert_int_equal(auth_login_allowed(&a, "192.0.2.2", "user0", now), 0);
    /* Five ips guessing one login: the login is locked from every ip. */
    for (int i = 0; i < AUTH_FREE_FAILURES + 1; i++) {
        snprintf(name, sizeof(name), "198.51.100.%d", i);
        auth_login_failed(&a, name, "root", now);
    }
    assert_int_equal(auth_login_allowed(&a, "203.0.113.1", "root", now), 2 * AUTH_LOCK_BASE_MS);
    assert_int_equal(auth_login_allowed(&a, "198.51.100.0", "other", now), 0);
    /* Both locked: the longer wait wins, whichever key holds it. */
    assert_int_equal(auth_login_allowed(&a, "192.0.2.1", "root", now), 2 * AUTH_LOCK_BASE_MS);
    assert_int_equal(auth_login_allowed(&a, "192.0.2.1", "root", now + 2 * AUTH_LOCK_BASE_MS - 1),
                     1);
    assert_int_equal(auth_login_allowed(&a, "192.0.2.1", "root", now + AUTH_LOCK_BASE_MS),
                     AUTH_LOCK_BASE_MS);
    assert_int_equal(auth_login_allowed(&a, "192.0.2.1", "anyone", now + AUTH_LOCK_BASE_MS), 0);
    /* Empty ip and login are keys like any other. */
    for (int i = 0; i < AUTH_FREE_FAILURES; i++)
        auth_login_failed(&a, "", "", now);
    assert_int_equal(auth_login_allowed(&a, "", "x", now), AUTH_LOCK_BASE_MS);
    assert_int_equal(auth_login_allowed(&a, "x", "", now), AUTH_LOCK_BASE_MS);
    assert_int_equal(auth_login_allowed(&a, "x", "y", now), 0);
    auth_release(&a);
}

/*
 * At AUTH_MAX_TRACKED entries a new key replaces the one idle for longest
 * (smallest last failure time), not the first inserted; the table never grows.
 */
static void test_auth__throttle_table_forgets_longest_idle(void **state)
{
    (void)state;
    struct auth a;
    auth_init(&a);
    /* A: ip:a + user:a, locked, then touched again at t=20 (lock 60 s from there). */
    for (int64_t t = 0; t < AUTH_FREE_FAILURES; t++)
        auth_login_failed(&a, "ip-a", "a", t);
    /* B: ip:b + user:b, last failure at t=14, locked until 30014. */
    for (int64_t t = 10; t < 10 + AUTH_FREE_FAILURES; t++)
        auth_login_failed(&a, "ip-b", "b", t);
    auth_login_failed(&a, "ip-a", "a", 20);
    assert_int_equal(a.n_throttle, 4);
    /* Fill up: one user:filler entry plus distinct ips, all newer than A and B. */
    char ip[32];
    int64_t t = 100;
    for (int i = 0; a.n_throttle < AUTH_MAX_TRACKED; i++) {
        snprintf(ip, sizeof(ip), "10.1.%d.%d", i / 256, i % 256);
        auth_login_failed(&a, ip, "filler", t++);
    }
    assert_int_equal(a.n_throttle, AUTH_MAX_TRACKED);
    int64_t now = t;
    assert_int_equal(auth_login_allowed(&a, "ip-a", "z", now), 60020 - now);
    assert_int_equal(auth_login_allowed(&a, "ip-b", "z", now), 30014 - now);
    assert_int_equal(auth_login_allowed(&a, "z", "b", now), 30014 - now);

    /* A new ip: ip:b (idle longest, first of the two t=14 entries) is forgotten. */
    auth_login_failed(&a, "new-1", "filler", now);
    assert_int_equal(a.n_throttle, AUTH_MAX_TRACKED);
    assert_int_equal(auth_login_allowed(&a, "ip-b", "z", now), 0);
    assert_int_equal(auth_login_allowed(&a, "z", "b", now), 30014 - now);
    assert_int_equal(auth_login_allowed(&a, "ip-a", "z", now), 60020 - now);
    /* The next new key forgets user:b; A (older by insertion, newer by use) stays. */
    auth_login_failed(&a, "new-2", "filler", now);
    assert_int_equal(a.n_throttle, AUTH_MAX_TRACKED);
    assert_int_equal(auth_login_allowed(&a, "z", "b", now), 0);
    assert_int_equal(auth_login_allowed(&a, "ip-a", "a", now), 60020 - now);
    /* A forgotten key starts from zero failures. */
    auth_login_failed(&a, "ip-b", "fresh", now);
    assert_int_equal(auth_login_allowed(&a, "ip-b", "z", now), 0);
    auth_release(&a);
}

static void test_auth__minted_token_digest_and_prefix_match(void **state)
{
    (void)state;
    char tok[AUTH_TOKEN_LEN + 1], tok2[AUTH_TOKEN_LEN + 1], prefix[5];
    uint8_t h[AUTH_HASH_LEN], want[AUTH_HASH_LEN], h2[AUTH_HASH_LEN];
    auth_token_mint(tok, h, prefix, 4);
    assert_int_equal(strlen(tok), AUTH_TOKEN_LEN);
    auth_hash(tok, AUTH_TOKEN_LEN, want);
    assert_memory_equal(h, want, AUTH_HASH_LEN);
    assert_int_equal(strlen(prefix), 4);
    assert_memory_equal(prefix, tok, 4);
    auth_token_mint(tok2, h2, NULL, 0);
    assert_string_not_equal(tok, tok2);
    assert_memory_not_equal(h, h2, AUTH_HASH_LEN);
}

static void test_auth__password_hash_verifies_only_its_password(void **state)
{
    (void)state;
    setenv("LOTUS_TEST_FAST_HASH", "1", 1);
    char h1[AUTH_PWHASH_LEN], h2[AUTH_PWHASH_LEN];
    assert_int_equal(auth_password_hash("correct horse", h1), 0);
    assert_int_equal(auth_password_hash("correct horse", h2), 0);
    assert_string_not_equal(h1, h2); /* salted */
    assert_true(strncmp(h1, "$argon2id$", 10) == 0);
    assert_int_equal(auth_password_verify(h1, "correct horse"), 1);
    assert_int_equal(auth_password_verify(h2, "correct horse"), 1);
    assert_int_equal(auth_password_verify(h1, "correct hors"), 0);
    assert_int_equal(auth_password_verify(h1, "correct horsf"), 0);
    assert_int_equal(auth_password_verify(h1, ""), 0);
    assert_int_equal(auth_password_verify("not a hash", "correct horse"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth__random_strings_are_alnum_and_distinct),
        cmocka_unit_test(test_auth__random_strings_use_all_62_symbols),
        cmocka_unit_test(test_auth__tokens_match_by_digest_only),
        cmocka_unit_test(test_auth__sessions_expire_and_are_removed),
        cmocka_unit_test(test_auth__token_lookup_compares_every_digest_byte),
        cmocka_unit_test(test_auth__token_lookup_returns_the_matching_entry),
        cmocka_unit_test(test_auth__session_lookup_compares_every_digest_byte),
        cmocka_unit_test(test_auth__session_remove_user_keeps_current),
        cmocka_unit_test(test_auth__sessions_retain_respects_the_fence),
        cmocka_unit_test(test_auth__token_and_session_tables_are_capped),
        cmocka_unit_test(test_auth__lock_table_matches_constants),
        cmocka_unit_test(test_auth__lockout_exact_doubling_to_cap),
        cmocka_unit_test(test_auth__lockout_failures_while_locked_still_count),
        cmocka_unit_test(test_auth__lockout_success_resets_both_keys),
        cmocka_unit_test(test_auth__lockout_long_quiet_period_forgives),
        cmocka_unit_test(test_auth__lockout_per_ip_and_per_login),
        cmocka_unit_test(test_auth__throttle_table_forgets_longest_idle),
        cmocka_unit_test(test_auth__minted_token_digest_and_prefix_match),
        cmocka_unit_test(test_auth__password_hash_verifies_only_its_password),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
