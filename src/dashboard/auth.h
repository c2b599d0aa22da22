/*
 * auth: the dashboard's in-memory authentication state, owned by the loop
 * thread: API tokens and login sessions (only SHA-256 digests of the secrets
 * are kept, here and in the store), login throttling per client IP and per
 * login name, and the random-string and hashing helpers.
 *
 * Loaded from the store at start-up; every mutation is written to the store
 * first (by the caller, on the work pool) and then applied here, so a check
 * never touches the disk.
 */
#ifndef LOTUS_DASHBOARD_AUTH_H
#define LOTUS_DASHBOARD_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define AUTH_HASH_LEN       32 /* SHA-256 */
#define AUTH_TOKEN_LEN      32 /* API token, session token: [0-9A-Za-z] */
#define AUTH_CSRF_LEN       32
#define AUTH_SESSION_TTL_MS (30LL * 24 * 3600 * 1000)
/* Throttling: this many consecutive failures are free, then a lock doubling from 30 s up to 15
 * min. */
#define AUTH_FREE_FAILURES 5
#define AUTH_LOCK_BASE_MS  30000
#define AUTH_LOCK_MAX_MS   (15 * 60 * 1000)
#define AUTH_MAX_TRACKED   4096 /* throttle entries kept; the oldest are forgotten */
#define AUTH_MAX_SESSIONS  10000
#define AUTH_MAX_TOKENS    10000

struct auth_token {
    uint64_t id;
    uint64_t user_id;
    uint8_t hash[AUTH_HASH_LEN];
    int64_t last_used_ms;      /* 0 = never */
    int64_t persisted_used_ms; /* last_used_ms value last written to the store */
};

struct auth_session {
    uint64_t user_id;
    uint8_t hash[AUTH_HASH_LEN];
    int64_t expires_ms;
    char csrf[AUTH_CSRF_LEN + 1];
    uint64_t seq; /* set by auth_session_put: the table's put counter at insertion */
};

struct auth_throttle {
    char key[80]; /* "ip:<addr>" or "user:<login>" */
    unsigned failures;
    int64_t locked_until_ms;
    int64_t last_ms;
};

struct auth {
    struct auth_token *tokens;
    size_t n_tokens;
    struct auth_session *sessions;
    size_t n_sessions;
    uint64_t session_seq; /* sessions put so far (auth_sessions_retain's fence) */
    struct auth_throttle *throttle;
    size_t n_throttle;
};

void auth_init(struct auth *a);
void auth_release(struct auth *a);

/* Fills out[0..n) with uniform random [0-9A-Za-z] (libsodium CSPRNG, no modulo bias) and
 * NUL-terminates out[n]: tokens, CSRF tokens and agent secrets (STORE_SECRET_LEN).
 * Aborts if libsodium cannot initialise. Thread: any. */
void auth_random_string(char *out, size_t n);
/* SHA-256 of s[0..n). */
void auth_hash(const char *s, size_t n, uint8_t out[AUTH_HASH_LEN]);

/*
 * Mints a new secret token (API tokens and session cookies): AUTH_TOKEN_LEN
 * random [0-9A-Za-z] chars into token[] (NUL-terminated), its SHA-256 into
 * hash, and, when prefix is not NULL, its first prefix_len chars (NUL-
 * terminated; prefix holds prefix_len + 1 bytes, prefix_len <= AUTH_TOKEN_LEN)
 * for display. Only the digest and the prefix may be stored. Thread: any.
 */
void auth_token_mint(char token[AUTH_TOKEN_LEN + 1], uint8_t hash[AUTH_HASH_LEN], char *prefix,
                     size_t prefix_len);

/* Size of an encoded password hash (argon2id string, libsodium crypto_pwhash_STRBYTES). */
#define AUTH_PWHASH_LEN 128
/*
 * Hashes a password for storage: argon2id at libsodium's interactive limits
 * (its minimum limits when LOTUS_TEST_FAST_HASH=1, for tests only). pw is
 * NUL-terminated and borrowed. Returns 0, or -ENOMEM when libsodium cannot
 * initialise or allocate. Thread: any; takes about 0.1 s and 64 MiB, so
 * never call it on the loop thread.
 */
int auth_password_hash(const char *pw, char out[AUTH_PWHASH_LEN]);
/* 1 when pw matches the stored hash, 0 otherwise (also for a malformed hash). Thread: any
 * (slow). */
int auth_password_verify(const char *hash, const char *pw);

/* Adds (or replaces by id) a token entry; the struct is copied. -ENOBUFS over AUTH_MAX_TOKENS. */
int auth_token_put(struct auth *a, const struct auth_token *t);
void auth_token_remove(struct auth *a, uint64_t id);
/*
 * Replaces every token entry with list (n entries, copied; e.g. after the CLI
 * changed the api_tokens table). A token that stays keeps its in-memory
 * last-used time when that is fresher than the listed one.
 */
void auth_tokens_replace(struct auth *a, const struct auth_token *list, size_t n);
/* The in-memory last-used time (unix ms) of token id; 0 if unknown or never used. */
int64_t auth_token_last_used(const struct auth *a, uint64_t id);
/*
 * Finds the token whose digest matches the presented token text (borrowed,
 * len bytes; digests compared in constant time). Returns a borrowed entry
 * (valid until the next mutation) or NULL.
 */
struct auth_token *auth_token_find(struct auth *a, const char *token, size_t len);

/* Adds a session (copied). Expired ones are dropped first; -ENOBUFS when full. */
int auth_session_put(struct auth *a, const struct auth_session *s, int64_t now_ms);
/* The unexpired session for a cookie value (borrowed), or NULL. */
struct auth_session *auth_session_find(struct auth *a, const char *cookie, size_t len,
                                       int64_t now_ms);
void auth_session_remove_hash(struct auth *a, const uint8_t hash[AUTH_HASH_LEN]);
/* Removes every session of a user (password change), except keep_hash when non-NULL. */
void auth_session_remove_user(struct auth *a, uint64_t user_id, const uint8_t *keep_hash);
/*
 * After the store's sessions were listed (another process may have deleted
 * some, e.g. `user passwd`): removes every session put at or before put
 * counter fence (a->session_seq read on this thread before the list was
 * read) whose digest is not among hashes[0..n) (borrowed, any order).
 * Sessions put later are kept: the list may predate them. Returns how many
 * were removed. Allocates a sorted copy of the digests (aborts on OOM).
 */
size_t auth_sessions_retain(struct auth *a, const uint8_t (*hashes)[AUTH_HASH_LEN], size_t n,
                            uint64_t fence);

/*
 * Login throttling. auth_login_allowed returns 0 when ip and login (both
 * borrowed, may be "") may try now, else the number of milliseconds to wait.
 */
int64_t auth_login_allowed(struct auth *a, const char *ip, const char *login, int64_t now_ms);
void auth_login_failed(struct auth *a, const char *ip, const char *login, int64_t now_ms);
void auth_login_succeeded(struct auth *a, const char *ip, const char *login);

#endif
