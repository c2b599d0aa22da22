/*
 * auth: tokens, sessions and login throttling in memory (see auth.h). The
 * collections are small arrays scanned linearly: a few hundred entries at
 * most in practice, bounded by AUTH_MAX_* in any case.
 */
#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/xalloc.h"

void auth_init(struct auth *a)
{
    memset(a, 0, sizeof(*a));
}

void auth_release(struct auth *a)
{
    free(a->tokens);
    free(a->sessions);
    free(a->throttle);
    auth_init(a);
}

void auth_random_string(char *out, size_t n)
{
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    if (sodium_init() < 0)
        abort();
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[randombytes_uniform(62)];
    out[n] = '\0';
}

void auth_hash(const char *s, size_t n, uint8_t out[AUTH_HASH_LEN])
{
    crypto_hash_sha256(out, (const unsigned char *)s, n);
}

void auth_token_mint(char token[AUTH_TOKEN_LEN + 1], uint8_t hash[AUTH_HASH_LEN], char *prefix,
                     size_t prefix_len)
{
    auth_random_string(token, AUTH_TOKEN_LEN);
    auth_hash(token, AUTH_TOKEN_LEN, hash);
    if (prefix) {
        memcpy(prefix, token, prefix_len);
        prefix[prefix_len] = '\0';
    }
}

_Static_assert(AUTH_PWHASH_LEN == crypto_pwhash_STRBYTES, "AUTH_PWHASH_LEN");

int auth_password_hash(const char *pw, char out[AUTH_PWHASH_LEN])
{
    const char *fast = getenv("LOTUS_TEST_FAST_HASH");
    int min = fast && strcmp(fast, "1") == 0;
    if (sodium_init() < 0)
        return -ENOMEM;
    int rc = crypto_pwhash_str_alg(
        out, pw, strlen(pw), min ? crypto_pwhash_OPSLIMIT_MIN : crypto_pwhash_OPSLIMIT_INTERACTIVE,
        min ? crypto_pwhash_MEMLIMIT_MIN : crypto_pwhash_MEMLIMIT_INTERACTIVE,
        crypto_pwhash_ALG_ARGON2ID13);
    return rc == 0 ? 0 : -ENOMEM;
}

int auth_password_verify(const char *hash, const char *pw)
{
    return crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
}

int auth_token_put(struct auth *a, const struct auth_token *t)
{
    for (size_t i = 0; i < a->n_tokens; i++) {
        if (a->tokens[i].id == t->id) {
            a->tokens[i] = *t;
            return 0;
        }
    }
    if (a->n_tokens >= AUTH_MAX_TOKENS)
        return -ENOBUFS;
    a->tokens = xrealloc(a->tokens, (a->n_tokens + 1) * sizeof(*a->tokens));
    a->tokens[a->n_tokens++] = *t;
    return 0;
}

void auth_token_remove(struct auth *a, uint64_t id)
{
    for (size_t i = 0; i < a->n_tokens; i++) {
        if (a->tokens[i].id == id) {
            a->tokens[i] = a->tokens[--a->n_tokens];
            return;
        }
    }
}

void auth_tokens_replace(struct auth *a, const struct auth_token *list, size_t n)
{
    struct auth_token *old = a->tokens;
    size_t n_old = a->n_tokens;
    a->tokens = NULL;
    a->n_tokens = 0;
    for (size_t i = 0; i < n; i++) {
        struct auth_token t = list[i];
        for (size_t k = 0; k < n_old; k++) {
            if (old[k].id == t.id && old[k].last_used_ms > t.last_used_ms) {
                t.last_used_ms = old[k].last_used_ms;
                t.persisted_used_ms = old[k].persisted_used_ms;
            }
        }
        auth_token_put(a, &t);
    }
    free(old);
}

int64_t auth_token_last_used(const struct auth *a, uint64_t id)
{
    for (size_t i = 0; i < a->n_tokens; i++)
        if (a->tokens[i].id == id)
            return a->tokens[i].last_used_ms;
    return 0;
}

struct auth_token *auth_token_find(struct auth *a, const char *token, size_t len)
{
    if (len != AUTH_TOKEN_LEN)
        return NULL;
    uint8_t h[AUTH_HASH_LEN];
    auth_hash(token, len, h);
    struct auth_token *found = NULL;
    for (size_t i = 0; i < a->n_tokens; i++) {
        if (sodium_memcmp(a->tokens[i].hash, h, AUTH_HASH_LEN) == 0)
            found = &a->tokens[i];
    }
    return found;
}

static void drop_expired(struct auth *a, int64_t now_ms)
{
    for (size_t i = 0; i < a->n_sessions;) {
        if (a->sessions[i].expires_ms <= now_ms)
            a->sessions[i] = a->sessions[--a->n_sessions];
        else
            i++;
    }
}

int auth_session_put(struct auth *a, const struct auth_session *s, int64_t now_ms)
{
    drop_expired(a, now_ms);
    if (a->n_sessions >= AUTH_MAX_SESSIONS)
        return -ENOBUFS;
    a->sessions = xrealloc(a->sessions, (a->n_sessions + 1) * sizeof(*a->sessions));
    a->sessions[a->n_sessions] = *s;
    a->sessions[a->n_sessions++].seq = ++a->session_seq;
    return 0;
}

static int hash_cmp(const void *x, const void *y)
{
    return memcmp(x, y, AUTH_HASH_LEN);
}

size_t auth_sessions_retain(struct auth *a, const uint8_t (*hashes)[AUTH_HASH_LEN], size_t n,
                            uint64_t fence)
{
    uint8_t(*sorted)[AUTH_HASH_LEN] = n ? xmalloc(n * sizeof(*sorted)) : NULL;
    if (n) {
        memcpy(sorted, hashes, n * sizeof(*sorted));
        qsort(sorted, n, sizeof(*sorted), hash_cmp);
    }
    size_t removed = 0;
    for (size_t i = 0; i < a->n_sessions;) {
        struct auth_session *s = &a->sessions[i];
        if (s->seq <= fence && !(n && bsearch(s->hash, sorted, n, sizeof(*sorted), hash_cmp))) {
            *s = a->sessions[--a->n_sessions];
            removed++;
        } else {
            i++;
        }
    }
    free(sorted);
    return removed;
}

struct auth_session *auth_session_find(struct auth *a, const char *cookie, size_t len,
                                       int64_t now_ms)
{
    if (len != AUTH_TOKEN_LEN)
        return NULL;
    uint8_t h[AUTH_HASH_LEN];
    auth_hash(cookie, len, h);
    struct auth_session *found = NULL;
    for (size_t i = 0; i < a->n_sessions; i++) {
        if (sodium_memcmp(a->sessions[i].hash, h, AUTH_HASH_LEN) == 0 &&
            a->sessions[i].expires_ms > now_ms)
            found = &a->sessions[i];
    }
    return found;
}

void auth_session_remove_hash(struct auth *a, const uint8_t hash[AUTH_HASH_LEN])
{
    for (size_t i = 0; i < a->n_sessions;) {
        if (memcmp(a->sessions[i].hash, hash, AUTH_HASH_LEN) == 0)
            a->sessions[i] = a->sessions[--a->n_sessions];
        else
            i++;
    }
}

void auth_session_remove_user(struct auth *a, uint64_t user_id, const uint8_t *keep_hash)
{
    for (size_t i = 0; i < a->n_sessions;) {
        struct auth_session *s = &a->sessions[i];
        if (s->user_id == user_id && !(keep_hash && memcmp(s->hash, keep_hash, AUTH_HASH_LEN) == 0))
            *s = a->sessions[--a->n_sessions];
        else
            i++;
    }
}

static struct auth_throttle *throttle_get(struct auth *a, const char *kind, const char *v,
                                          int create, int64_t now_ms)
{
    char key[sizeof(a->throttle[0].key)];
    snprintf(key, sizeof(key), "%s:%s", kind, v ? v : "");
    for (size_t i = 0; i < a->n_throttle; i++)
        if (strcmp(a->throttle[i].key, key) == 0)
            return &a->throttle[i];
    if (!create)
        return NULL;
    struct auth_throttle *t;
    if (a->n_throttle >= AUTH_MAX_TRACKED) {
        /* Forget the entry idle for longest. */
        size_t oldest = 0;
        for (size_t i = 1; i < a->n_throttle; i++)
            if (a->throttle[i].last_ms < a->throttle[oldest].last_ms)
                oldest = i;
        t = &a->throttle[oldest];
    } else {
        a->throttle = xrealloc(a->throttle, (a->n_throttle + 1) * sizeof(*a->throttle));
        t = &a->throttle[a->n_throttle++];
    }
    memset(t, 0, sizeof(*t));
    snprintf(t->key, sizeof(t->key), "%s", key);
    t->last_ms = now_ms;
    return t;
}

static int64_t wait_ms(struct auth_throttle *t, int64_t now_ms)
{
    if (!t || t->locked_until_ms <= now_ms)
        return 0;
    return t->locked_until_ms - now_ms;
}

int64_t auth_login_allowed(struct auth *a, const char *ip, const char *login, int64_t now_ms)
{
    int64_t w1 = wait_ms(throttle_get(a, "ip", ip, 0, now_ms), now_ms);
    int64_t w2 = wait_ms(throttle_get(a, "user", login, 0, now_ms), now_ms);
    return w1 > w2 ? w1 : w2;
}

static void fail_one(struct auth_throttle *t, int64_t now_ms)
{
    /* A long quiet period forgives earlier failures. */
    if (now_ms - t->last_ms > AUTH_LOCK_MAX_MS * 2)
        t->failures = 0;
    t->failures++;
    t->last_ms = now_ms;
    if (t->failures >= AUTH_FREE_FAILURES) {
        unsigned shift = t->failures - AUTH_FREE_FAILURES;
        int64_t lock = shift >= 16 ? AUTH_LOCK_MAX_MS : (int64_t)AUTH_LOCK_BASE_MS << shift;
        if (lock > AUTH_LOCK_MAX_MS)
            lock = AUTH_LOCK_MAX_MS;
        t->locked_until_ms = now_ms + lock;
    }
}

void auth_login_failed(struct auth *a, const char *ip, const char *login, int64_t now_ms)
{
    fail_one(throttle_get(a, "ip", ip, 1, now_ms), now_ms);
    fail_one(throttle_get(a, "user", login, 1, now_ms), now_ms);
}

void auth_login_succeeded(struct auth *a, const char *ip, const char *login)
{
    struct auth_throttle *t = throttle_get(a, "ip", ip, 0, 0);
    if (t) {
        t->failures = 0;
        t->locked_until_ms = 0;
    }
    t = throttle_get(a, "user", login, 0, 0);
    if (t) {
        t->failures = 0;
        t->locked_until_ms = 0;
    }
}
