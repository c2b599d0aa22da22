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
        cmocka_unit_test(test_auth__login_lockout_doubles_and_resets),
        cmocka_unit_test(test_auth__throttle_table_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
