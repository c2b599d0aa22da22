/*
 * api_account: login, logout, /api/me, password change; sessions and the
 * first admin at start (see api_account.h).
 */
#include "dashboard/api/api_account.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/jw.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "dashboard/api/api_audit.h"
#include "dashboard/api/api_guard.h"
#include "dashboard/api/api_int.h"
#include "dashboard/api/api_job.h"
#include "dashboard/api/api_reply.h"
#include "dashboard/auth.h"
#include "dashboard/http.h"
#include "dashboard/store.h"

#define MSG_BAD_LOGIN "用户名或密码错误"
#define PASSWORD_MIN  8
#define PASSWORD_MAX  1024

static void write_me(struct jw *jw, uint64_t id, const char *login, const char *csrf)
{
    jw_obj_begin(jw);
    jw_key(jw, "id");
    jw_u64(jw, id);
    jw_key(jw, "login");
    jw_str(jw, login);
    jw_key(jw, "csrf");
    jw_str(jw, csrf);
    jw_obj_end(jw);
}

/* ---- login ---- */

struct login_ctx {
    char *login;    /* as typed */
    char *password; /* as typed; wiped on release */
    struct store_user user;
    char token[AUTH_TOKEN_LEN + 1]; /* the new session's cookie value */
    uint8_t hash[AUTH_HASH_LEN];    /* its digest (what the store keeps) */
    char csrf[AUTH_CSRF_LEN + 1];
    int64_t expires_ms;
};

static void login_release(void *p)
{
    struct login_ctx *c = p;
    free(c->login);
    if (c->password)
        sodium_memzero(c->password, strlen(c->password));
    free(c->password);
    store_user_release(&c->user);
    sodium_memzero(c->token, sizeof(c->token));
}

static void login_run(struct api_job *j)
{
    struct login_ctx *c = api_job_ctx(j);
    struct store *st = j->api->st;
    int rc = store_user_find(st, c->login, &c->user);
    if (rc != 0 || !c->user.password_hash) {
        /* The same effort as for a known user: one verify, against a hash made once at start
         * (hashing here too made unknown logins twice as slow, which told them apart). */
        auth_password_verify(j->api->dummy_hash, c->password);
        j->rc = -EACCES;
        return;
    }
    if (!auth_password_verify(c->user.password_hash, c->password)) {
        j->rc = -EACCES;
        return;
    }
    auth_token_mint(c->token, c->hash, NULL, 0);
    auth_random_string(c->csrf, AUTH_CSRF_LEN);
    c->expires_ms = clock_wall_ms() + AUTH_SESSION_TTL_MS;
    j->rc = store_session_add(st, c->user.id, c->hash, c->expires_ms, c->csrf, NULL);
}

static void login_done(struct api_job *j)
{
    struct login_ctx *c = api_job_ctx(j);
    struct api *a = j->api;
    a->verifying--;
    const char *ip = http_request_peer_ip(j->req);
    if (j->rc == -EACCES) {
        auth_login_failed(&a->auth, ip, c->login, clock_wall_ms());
        /* The typed name comes from the network: api_audit logs it escaped. */
        api_audit(a, ip, c->user.id, c->login, "login.failed", NULL);
        api_reply(j->req, 200, 400, MSG_BAD_LOGIN, NULL);
        return;
    }
    if (j->rc != 0) {
        api_reply_db_error(j->req);
        return;
    }
    auth_login_succeeded(&a->auth, ip, c->login);
    struct auth_session s = {.user_id = c->user.id, .expires_ms = c->expires_ms};
    memcpy(s.hash, c->hash, AUTH_HASH_LEN);
    memcpy(s.csrf, c->csrf, sizeof(s.csrf));
    if (auth_session_put(&a->auth, &s, clock_wall_ms()) != 0) {
        api_reply(j->req, 503, 503, "too many sessions", NULL);
        return;
    }
    api_audit(a, ip, c->user.id, c->user.login, "login.ok", NULL);
    api_guard_set_cookie(j->req, api_guard_cookie_name(a), c->token, AUTH_SESSION_TTL_MS / 1000);
    struct api_body out;
    struct jw *jw = api_body_begin(&out);
    write_me(jw, c->user.id, c->user.login, c->csrf);
    api_reply_body(j->req, 200, &out);
}

static void h_login(struct http_request *req, void *ud)
{
    struct api *a = ud;
    if (http_request_header(req, "origin") && !api_guard_same_origin(req)) {
        api_reply(req, 403, 403, "CSRF check failed", NULL);
        return;
    }
    json_t *body = api_body_json(req, 0);
    if (!body)
        return;
    const char *user, *pw;
    if (api_jstr(body, "username", &user) != 1 || api_jstr(body, "password", &pw) != 1 ||
        !user[0] || strlen(user) > 64 || strlen(pw) > PASSWORD_MAX) {
        json_decref(body);
        api_reply_bad(req, "需要 username 和 password");
        return;
    }
    int64_t wait = auth_login_allowed(&a->auth, http_request_peer_ip(req), user, clock_wall_ms());
    if (wait > 0) {
        char ra[32], msg[96];
        snprintf(ra, sizeof(ra), "%lld", (long long)((wait + 999) / 1000));
        snprintf(msg, sizeof(msg), "too many failed logins, retry in %s s", ra);
        http_request_add_header(req, "Retry-After", ra);
        api_reply(req, 429, 429, msg, NULL);
        json_decref(body);
        return;
    }
    if (a->verifying >= API_ACCOUNT_MAX_VERIFYING) {
        http_request_add_header(req, "Retry-After", "1");
        api_reply(req, 503, 503, "busy, retry", NULL);
        json_decref(body);
        return;
    }
    struct api_job *j =
        api_job_new(a, req, login_run, login_done, sizeof(struct login_ctx), login_release);
    struct login_ctx *c = api_job_ctx(j);
    c->login = xstrdup(user);
    c->password = xstrdup(pw);
    json_decref(body);
    a->verifying++;
    api_job_start(j);
}

/* ---- logout ---- */

struct logout_ctx {
    uint8_t hash[AUTH_HASH_LEN]; /* the session being ended */
};

static void logout_run(struct api_job *j)
{
    struct logout_ctx *c = api_job_ctx(j);
    j->rc = store_session_del(j->api->st, c->hash);
}

static void logout_done(struct api_job *j)
{
    struct logout_ctx *c = api_job_ctx(j);
    auth_session_remove_hash(&j->api->auth, c->hash);
    api_guard_set_cookie(j->req, api_guard_cookie_name(j->api), "", 0);
    api_reply_ok(j->req, "null");
}

static void h_logout(struct http_request *req, void *ud)
{
    struct api *a = ud;
    struct auth_session *s;
    struct api_job *j =
        api_guard_admin_job(a, req, logout_run, logout_done, sizeof(struct logout_ctx), NULL, &s);
    if (!j)
        return;
    struct logout_ctx *c = api_job_ctx(j);
    memcpy(c->hash, s->hash, AUTH_HASH_LEN);
    api_job_start(j);
}

/* ---- me ---- */

struct me_ctx {
    uint64_t user_id;
    char csrf[AUTH_CSRF_LEN + 1]; /* the session's, echoed for the UI */
    struct store_user user;
};

static void me_release(void *p)
{
    store_user_release(&((struct me_ctx *)p)->user);
}

static void me_run(struct api_job *j)
{
    struct me_ctx *c = api_job_ctx(j);
    j->rc = store_user_get(j->api->st, c->user_id, &c->user);
}

static void me_done(struct api_job *j)
{
    struct me_ctx *c = api_job_ctx(j);
    if (j->rc != 0) {
        api_reply(j->req, 200, 403, API_MSG_LOGIN_REQUIRED, NULL);
        return;
    }
    struct api_body out;
    struct jw *jw = api_body_begin(&out);
    write_me(jw, c->user.id, c->user.login, c->csrf);
    api_reply_body(j->req, 0, &out);
}

static void h_me(struct http_request *req, void *ud)
{
    struct api *a = ud;
    struct auth_session *s;
    struct api_job *j =
        api_guard_admin_job(a, req, me_run, me_done, sizeof(struct me_ctx), me_release, &s);
    if (!j)
        return;
    struct me_ctx *c = api_job_ctx(j);
    c->user_id = s->user_id;
    memcpy(c->csrf, s->csrf, sizeof(c->csrf));
    api_job_start(j);
}

/* ---- password ---- */

struct passwd_ctx {
    uint64_t user_id;
    uint8_t session_hash[AUTH_HASH_LEN]; /* the caller's session, which stays */
    char *old_pw;
    char *new_pw;
};

static void passwd_release(void *p)
{
    struct passwd_ctx *c = p;
    if (c->old_pw)
        sodium_memzero(c->old_pw, strlen(c->old_pw));
    if (c->new_pw)
        sodium_memzero(c->new_pw, strlen(c->new_pw));
    free(c->old_pw);
    free(c->new_pw);
}

struct passwd_set {
    const struct passwd_ctx *c;
    const char *verified; /* the stored hash the old password was checked against */
    const char *new_hash;
};

/*
 * Inside store_batch: stores the new hash only if the stored one is still the
 * hash the old password matched (no argon2id run while the store is locked).
 */
static int passwd_set_batch(struct store *st, void *arg)
{
    struct passwd_set *p = arg;
    struct store_user now;
    memset(&now, 0, sizeof(now));
    int same = store_user_get(st, p->c->user_id, &now) == 0 && now.password_hash &&
               strcmp(now.password_hash, p->verified) == 0;
    store_user_release(&now);
    if (!same)
        return -EACCES;
    int rc = store_user_set_password(st, p->c->user_id, p->new_hash);
    /* The other sessions end for good, in the same transaction (they used to come back from
     * the database at the next start). */
    return rc ? rc : store_session_del_user(st, p->c->user_id, p->c->session_hash, NULL);
}

static void passwd_run(struct api_job *j)
{
    struct passwd_ctx *c = api_job_ctx(j);
    struct store *st = j->api->st;
    struct store_user user;
    memset(&user, 0, sizeof(user));
    if (store_user_get(st, c->user_id, &user) != 0 || !user.password_hash ||
        !auth_password_verify(user.password_hash, c->old_pw)) {
        store_user_release(&user);
        j->rc = -EACCES;
        return;
    }
    char h[AUTH_PWHASH_LEN];
    if (auth_password_hash(c->new_pw, h) != 0) {
        store_user_release(&user);
        j->rc = -ENOMEM;
        return;
    }
    struct passwd_set p = {.c = c, .verified = user.password_hash, .new_hash = h};
    j->rc = store_batch(st, passwd_set_batch, &p);
    store_user_release(&user);
}

static void passwd_done(struct api_job *j)
{
    struct passwd_ctx *c = api_job_ctx(j);
    j->api->verifying--;
    if (j->rc == -EACCES) {
        api_reply_bad(j->req, "旧密码错误");
        return;
    }
    if (j->rc != 0) {
        api_reply_db_error(j->req);
        return;
    }
    /* Other sessions of this user end, in memory too (the store's rows are gone). */
    auth_session_remove_user(&j->api->auth, c->user_id, c->session_hash);
    api_audit(j->api, http_request_peer_ip(j->req), c->user_id, NULL, "password.changed",
              "other sessions ended");
    api_reply_ok(j->req, "null");
}

static void h_password(struct http_request *req, void *ud)
{
    struct api *a = ud;
    struct auth_session *s = api_guard_admin(a, req);
    if (!s)
        return;
    json_t *body = api_body_json(req, 0);
    if (!body)
        return;
    const char *old, *nw;
    if (api_jstr(body, "old", &old) != 1 || api_jstr(body, "new", &nw) != 1) {
        json_decref(body);
        api_reply_bad(req, "需要 old 和 new");
        return;
    }
    if (strlen(nw) < PASSWORD_MIN || strlen(nw) > PASSWORD_MAX) {
        json_decref(body);
        api_reply_bad(req, "新密码至少 8 个字符");
        return;
    }
    if (a->verifying >= API_ACCOUNT_MAX_VERIFYING) {
        json_decref(body);
        api_reply(req, 503, 503, "busy, retry", NULL);
        return;
    }
    struct api_job *j =
        api_job_new(a, req, passwd_run, passwd_done, sizeof(struct passwd_ctx), passwd_release);
    struct passwd_ctx *c = api_job_ctx(j);
    c->user_id = s->user_id;
    memcpy(c->session_hash, s->hash, AUTH_HASH_LEN);
    c->old_pw = xstrdup(old);
    c->new_pw = xstrdup(nw);
    json_decref(body);
    a->verifying++;
    api_job_start(j);
}

/* ---- start-up ---- */

int api_account_load_sessions(struct api *a, char *err, size_t errlen)
{
    struct store_session *sess = NULL;
    size_t n = 0;
    int64_t now = clock_wall_ms();
    if (store_session_list(a->st, now, &sess, &n) != 0) {
        snprintf(err, errlen, "cannot load sessions");
        return -EIO;
    }
    for (size_t i = 0; i < n; i++) {
        struct auth_session s = {.user_id = sess[i].user_id, .expires_ms = sess[i].expires_at};
        memcpy(s.hash, sess[i].token_hash, AUTH_HASH_LEN);
        snprintf(s.csrf, sizeof(s.csrf), "%s", sess[i].csrf_token ? sess[i].csrf_token : "");
        auth_session_put(&a->auth, &s, now);
    }
    store_session_list_free(sess, n);
    uint64_t purged = 0;
    store_session_purge_expired(a->st, now, &purged);
    return 0;
}

int api_account_init_dummy_hash(struct api *a, char *err, size_t errlen)
{
    char pw[AUTH_TOKEN_LEN + 1];
    auth_random_string(pw, AUTH_TOKEN_LEN);
    int rc = auth_password_hash(pw, a->dummy_hash);
    sodium_memzero(pw, sizeof(pw));
    if (rc != 0)
        snprintf(err, errlen, "cannot hash a password (out of memory)");
    return rc;
}

void api_account_sync_sessions(struct api *a, const struct store_session *list, size_t n,
                               uint64_t fence)
{
    uint8_t(*hashes)[AUTH_HASH_LEN] = n ? xmalloc(n * sizeof(*hashes)) : NULL;
    for (size_t i = 0; i < n; i++)
        memcpy(hashes[i], list[i].token_hash, AUTH_HASH_LEN);
    size_t gone = auth_sessions_retain(&a->auth, (const uint8_t(*)[AUTH_HASH_LEN])hashes, n, fence);
    free(hashes);
    if (gone)
        log_info("auth: %zu session(s) ended by another process (e.g. user passwd)", gone);
}

int api_account_ensure_admin(struct api *a, char *err, size_t errlen)
{
    uint64_t users = 0;
    if (store_user_count(a->st, &users) != 0) {
        snprintf(err, errlen, "cannot read users");
        return -EIO;
    }
    if (users > 0)
        return 0;
    char pw[17];
    char h[AUTH_PWHASH_LEN];
    auth_random_string(pw, 16);
    if (auth_password_hash(pw, h) != 0 ||
        store_user_add(a->st, "admin", h, STORE_ROLE_ADMIN, NULL) != 0) {
        snprintf(err, errlen, "cannot create the first admin user");
        return -EIO;
    }
    /* Printed once, on stdout only (never to the log); `user passwd admin` resets it. */
    printf("initial admin password: %s  (user: admin; change it under Account)\n", pw);
    fflush(stdout);
    sodium_memzero(pw, sizeof(pw));
    return 0;
}

static const struct api_route routes[] = {
    {"POST", "/api/login", h_login},
    {"POST", "/api/logout", h_logout},
    {"GET", "/api/me", h_me},
    {"POST", "/api/user/password", h_password},
};

void api_account_routes(struct api *a)
{
    api_routes_add(a, routes, sizeof(routes) / sizeof(routes[0]));
}
