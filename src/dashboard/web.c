/*
 * web: HTTP routes (see web.h and docs/api-admin.md). Every handler answers
 * exactly once. Database work is a `struct job` run on the work pool under the
 * store lock; its `done` callback runs on the loop, applies the result to the
 * in-memory state and answers the request.
 */
#include "web.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <uv.h>

#include "core/buf.h"
#include "core/jw.h"
#include "core/log.h"
#include "core/strnum.h"
#include "core/xalloc.h"
#include "dashboard/api_v1.h"
#include "dashboard/auth.h"
#include "dashboard/config.h"
#include "dashboard/http.h"
#include "dashboard/http_gzip.h"
#include "dashboard/http_query.h"
#include "dashboard/live.h"
#include "dashboard/store.h"
#include "dashboard/svc.h"
#include "dashboard/webassets.h"
#include "nezha_v0.pb-c.h"
#include "proto/tls.h"
#include "core/ascii.h"
#include "core/clock.h"

#define MSG_LOGIN_REQUIRED "访问此接口需要登录"
#define MSG_API_AUTH       "访问此接口需要认证"
#define MSG_VIEW_LIMITED   "访问受限"
#define MSG_BAD_LOGIN      "用户名或密码错误"
#define MAX_VERIFYING      2     /* concurrent argon2id checks (64 MiB each) */
#define TOUCH_EVERY_MS     60000 /* token last-used persistence period */
#define PASSWORD_MIN       8
#define PASSWORD_MAX       1024
#define BODY_MAX           (1u << 20)
#define CACHE_SLOTS        8
#define CACHE_MAX_AGE_MS   100 /* a rendered /api/v1 body may be served this stale under load */
#define CACHE_KEY_MAX      512

/* A rendered /api/v1 body, shared by requests while the registry is unchanged. */
struct api_cache {
    char key[CACHE_KEY_MAX];
    uint64_t gen;
    uint64_t at_ms; /* uv_now */
    uint64_t used;  /* for replacement */
    uint64_t serial;    /* which render body holds (web.render_serial) */
    uint64_t gz_serial; /* the render gz was compressed from; valid iff == serial */
    struct buf body;
    struct buf gz; /* body as one gzip member, made on the work pool for gzip clients */
};

struct web {
    uv_loop_t *loop;
    struct http_server *http;
    struct live *lv;
    struct store *st;
    uv_mutex_t *lock;
    struct svc *svc;
    struct auth auth;
    struct dash_config *cfg;
    const char *config_path;
    int grpc_port;
    int pending;
    int closing;
    int verifying;
    int settings_busy;
    uint8_t vp_key[32];
    char cookie_vp[160]; /* "<cookiename>-vp" */
    struct api_cache cache[CACHE_SLOTS];
    uint64_t cache_tick;
    uint64_t render_serial;
    char agent_path[64];   /* "/static/lotus-agent-linux-<arch>" */
    struct buf agent_bin;  /* the lotus-agent next to this binary, read at start (may be empty) */
    char agent_etag[40];
};

struct job;
typedef void (*job_fn)(struct job *j);

/* One database job. The fields are a union of what the handlers need. */
struct job {
    uv_work_t work;
    struct web *web;
    struct http_request *req; /* NULL for fire-and-forget jobs */
    job_fn run;               /* pool thread, store lock held */
    job_fn done;              /* loop thread */
    int no_db;                /* run without the store lock (CPU-only work) */
    int rc;
    uint64_t id;
    uint64_t user_id;
    int64_t when;
    char *a;
    char *b;
    char *c;
    int flag;
    char token[AUTH_TOKEN_LEN + 1];
    char csrf[AUTH_CSRF_LEN + 1];
    uint8_t hash[AUTH_HASH_LEN];
    struct store_server srv;
    struct store_user user;
    struct store_token *tokens;
    size_t n;
    uint64_t *ids;
    size_t n_ids;
    struct buf in, out; /* gzip jobs */
};

/* ---- replies ---- */

/* {"code":code,"message":message[,"result":result_raw]} with the given HTTP status. */
static void reply(struct http_request *req, int status, int code, const char *message,
                  const char *result_raw)
{
    struct buf b;
    struct jw w;
    buf_init(&b, 0);
    jw_init(&w, &b);
    jw_obj_begin(&w);
    jw_key(&w, "code");
    jw_i64(&w, code);
    jw_key(&w, "message");
    jw_str(&w, message);
    if (result_raw) {
        jw_key(&w, "result");
        jw_raw(&w, result_raw, strlen(result_raw));
    }
    jw_obj_end(&w);
    http_request_respond_json(req, status, &b);
    buf_release(&b);
}

static void reply_ok(struct http_request *req, const char *result_raw)
{
    reply(req, 200, 200, "success", result_raw);
}

static void reply_bad(struct http_request *req, const char *detail)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "请求错误：%s", detail);
    reply(req, 200, 400, msg, NULL);
}

/* Answers with an already rendered jw buffer as "result". */
static void reply_result(struct http_request *req, int code, struct buf *result)
{
    reply(req, 200, code, "success", result->data);
}

/* ---- jobs ---- */

static void job_work(uv_work_t *w)
{
    struct job *j = w->data;
    if (j->no_db) {
        j->run(j);
        return;
    }
    uv_mutex_lock(j->web->lock);
    j->run(j);
    uv_mutex_unlock(j->web->lock);
}

static void job_free(struct job *j)
{
    free(j->a);
    free(j->b);
    free(j->c);
    free(j->ids);
    store_server_release(&j->srv);
    store_user_release(&j->user);
    store_token_list_free(j->tokens, j->n);
    buf_release(&j->in);
    buf_release(&j->out);
    free(j);
}

static void job_after(uv_work_t *w, int status)
{
    struct job *j = w->data;
    struct web *web = j->web;
    web->pending--;
    if (status != 0)
        j->rc = -ECANCELED;
    if (j->done)
        j->done(j);
    job_free(j);
    if (web->closing && web->pending == 0) {
        auth_release(&web->auth);
        free(web);
    }
}

static struct job *job_new(struct web *web, struct http_request *req, job_fn run, job_fn done)
{
    struct job *j = xcalloc(1, sizeof(*j));
    j->web = web;
    j->req = req;
    j->run = run;
    j->done = done;
    j->work.data = j;
    buf_init(&j->in, 0);
    buf_init(&j->out, 0);
    return j;
}

static void job_start(struct job *j)
{
    j->web->pending++;
    if (uv_queue_work(j->web->loop, &j->work, job_work, job_after) != 0) {
        j->web->pending--;
        if (j->req)
            reply(j->req, 503, 503, "server busy", NULL);
        job_free(j);
    }
}

/* ---- request helpers ---- */

/* Parses the JSON body; on failure answers 400 and returns NULL. Owned result (json_decref). */
static json_t *body_json(struct http_request *req, int want_array)
{
    struct slice body;
    http_request_body(req, &body);
    json_error_t e;
    json_t *j = json_loadb(body.ptr ? body.ptr : "", body.len, JSON_REJECT_DUPLICATES, &e);
    if (!j || (want_array ? !json_is_array(j) : !json_is_object(j))) {
        json_decref(j);
        reply(req, 400, 400, want_array ? "请求错误：请求体必须是 JSON 数组"
                                        : "请求错误：请求体必须是 JSON 对象", NULL);
        return NULL;
    }
    return j;
}

/* Case-insensitive key lookup (Nezha matches JSON fields that way). Borrowed. */
static json_t *jget(json_t *obj, const char *key)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (strcasecmp(k, key) == 0)
            return v;
    }
    return NULL;
}

/* String field: 1 found (string), 0 absent/null, -1 wrong type. */
static int jstr(json_t *obj, const char *key, const char **out)
{
    json_t *v = jget(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return -1;
    *out = json_string_value(v);
    return 1;
}

/* Checkbox-like booleans: JSON true/false or "on"/"". */
static int jbool(json_t *obj, const char *key, int *out)
{
    json_t *v = jget(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 1;
    }
    if (json_is_string(v)) {
        *out = strcmp(json_string_value(v), "on") == 0 || strcmp(json_string_value(v), "true") == 0;
        return 1;
    }
    return -1;
}

static int jint(json_t *obj, const char *key, int64_t *out)
{
    json_t *v = jget(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 1;
    }
    if (json_is_string(v) && strnum_i64z(json_string_value(v), out) == 0)
        return 1;
    return -1;
}

static int valid_utf8_len(const char *s, size_t max)
{
    return s && strlen(s) <= max;
}

static const char *cookie_name(struct web *w)
{
    return w->cfg->site_cookiename && w->cfg->site_cookiename[0] ? w->cfg->site_cookiename
                                                                   : "nezha-dashboard";
}

static struct auth_session *session_of(struct web *w, struct http_request *req)
{
    struct slice v;
    if (http_request_cookie(req, cookie_name(w), &v) != 0)
        return NULL;
    return auth_session_find(&w->auth, v.ptr, v.len, clock_wall_ms());
}

/* Host part of an Origin URL equals the Host header? */
static int same_origin(struct http_request *req)
{
    const char *origin = http_request_header(req, "origin");
    const char *host = http_request_header(req, "host");
    if (!origin || !host)
        return 0;
    const char *p = strstr(origin, "://");
    if (!p)
        return 0;
    p += 3;
    size_t n = strcspn(p, "/");
    return strlen(host) == n && strncasecmp(p, host, n) == 0;
}

static int is_mutation(struct http_request *req)
{
    const char *m = http_request_method(req);
    return strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0;
}

static int csrf_ok(struct http_request *req, const struct auth_session *s)
{
    const char *h = http_request_header(req, "x-csrf-token");
    if (h && strlen(h) == AUTH_CSRF_LEN && sodium_memcmp(h, s->csrf, AUTH_CSRF_LEN) == 0)
        return 1;
    return same_origin(req);
}

/* Admin routes: a session (and CSRF proof for mutations), else answers and returns NULL. */
static struct auth_session *admin(struct web *w, struct http_request *req)
{
    struct auth_session *s = session_of(w, req);
    if (!s) {
        reply(req, 200, 403, MSG_LOGIN_REQUIRED, NULL);
        return NULL;
    }
    if (is_mutation(req) && !csrf_ok(req, s)) {
        reply(req, 403, 403, "CSRF check failed", NULL);
        return NULL;
    }
    return s;
}

/*
 * For handlers of logged-in admin requests: answers the request and returns
 * NULL when there is no valid session (see admin()); otherwise a new job for
 * it with user_id set, and *out the session (borrowed from the auth table).
 */
static struct job *admin_job(struct web *w, struct http_request *req, job_fn run, job_fn done,
                             struct auth_session **out)
{
    struct auth_session *s = admin(w, req);
    if (!s)
        return NULL;
    struct job *j = job_new(w, req, run, done);
    j->user_id = s->user_id;
    *out = s;
    return j;
}

static void touch_run(struct job *j)
{
    store_token_touch(j->web->st, j->id, j->when);
}

/*
 * /api/v1 auth: `Authorization: <token>` (or `Bearer <token>`), else the
 * session cookie (with CSRF proof for mutations). Returns the user id or 0
 * after answering the v0 unauthorised reply.
 */
static uint64_t api_user(struct web *w, struct http_request *req)
{
    const char *h = http_request_header(req, "authorization");
    if (h) {
        if (strncasecmp(h, "Bearer ", 7) == 0)
            h += 7;
        while (*h == ' ')
            h++;
        size_t n = strlen(h);
        while (n && h[n - 1] == ' ')
            n--;
        struct auth_token *t = auth_token_find(&w->auth, h, n);
        if (t) {
            int64_t now = clock_wall_ms();
            t->last_used_ms = now;
            if (now - t->persisted_used_ms >= TOUCH_EVERY_MS) {
                t->persisted_used_ms = now;
                struct job *j = job_new(w, NULL, touch_run, NULL);
                j->id = t->id;
                j->when = now;
                job_start(j);
            }
            return t->user_id;
        }
        /* v0: an unknown token is ignored and the cookie decides. */
    }
    struct auth_session *s = session_of(w, req);
    if (s && (!is_mutation(req) || csrf_ok(req, s)))
        return s->user_id;
    struct buf b;
    buf_init(&b, 0);
    api_v1_render_unauthorized(&b);
    http_request_respond_json(req, 200, &b);
    buf_release(&b);
    return 0;
}

static void vp_cookie_value(struct web *w, char out[65])
{
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    const char *pw = w->cfg->site_viewpassword ? w->cfg->site_viewpassword : "";
    crypto_auth_hmacsha256(mac, (const unsigned char *)pw, strlen(pw), w->vp_key);
    sodium_bin2hex(out, 65, mac, sizeof(mac));
}

int web_request_may_view(struct web *w, const void *r)
{
    struct http_request *req = (struct http_request *)r;
    if (!w->cfg->site_viewpassword || !w->cfg->site_viewpassword[0])
        return 1;
    if (session_of(w, req))
        return 1;
    struct slice v;
    char want[65];
    if (http_request_cookie(req, w->cookie_vp, &v) != 0 || v.len != 64)
        return 0;
    vp_cookie_value(w, want);
    return sodium_memcmp(v.ptr, want, 64) == 0;
}

int web_request_is_admin(struct web *w, const void *r)
{
    return session_of(w, (struct http_request *)r) != NULL;
}

/* Cookies set over HTTPS carry Secure, so the browser never sends them over plain HTTP. */
static void set_cookie(struct http_request *req, const char *name, const char *value,
                       long max_age)
{
    char c[512];
    snprintf(c, sizeof(c), "%s=%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Lax%s", name, value,
             max_age, http_request_is_tls(req) ? "; Secure" : "");
    http_request_add_header(req, "Set-Cookie", c);
}

/* ---- login, logout, me, password ---- */

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

static void login_run(struct job *j)
{
    struct store *st = j->web->st;
    int rc = store_user_find(st, j->a, &j->user);
    if (rc != 0 || !j->user.password_hash) {
        /* Spend the same effort on unknown users (no login enumeration by timing). */
        char dummy[AUTH_PWHASH_LEN];
        if (auth_password_hash("lotus-timing-equaliser", dummy) == 0)
            auth_password_verify(dummy, j->b);
        j->rc = -EACCES;
        return;
    }
    if (!auth_password_verify(j->user.password_hash, j->b)) {
        j->rc = -EACCES;
        return;
    }
    auth_token_mint(j->token, j->hash, NULL, 0);
    auth_random_string(j->csrf, AUTH_CSRF_LEN);
    j->when = clock_wall_ms() + AUTH_SESSION_TTL_MS;
    j->rc = store_session_add(st, j->user.id, j->hash, j->when, j->csrf, NULL);
}

static void login_done(struct job *j)
{
    struct web *w = j->web;
    w->verifying--;
    const char *ip = http_request_peer_ip(j->req);
    if (j->rc == -EACCES) {
        auth_login_failed(&w->auth, ip, j->a, clock_wall_ms());
        log_info("login: failed for '%s' from %s", j->a, ip);
        reply(j->req, 200, 400, MSG_BAD_LOGIN, NULL);
        return;
    }
    if (j->rc != 0) {
        reply(j->req, 500, 500, "database error", NULL);
        return;
    }
    auth_login_succeeded(&w->auth, ip, j->a);
    struct auth_session s = {.user_id = j->user.id, .expires_ms = j->when};
    memcpy(s.hash, j->hash, AUTH_HASH_LEN);
    memcpy(s.csrf, j->csrf, sizeof(s.csrf));
    if (auth_session_put(&w->auth, &s, clock_wall_ms()) != 0) {
        reply(j->req, 503, 503, "too many sessions", NULL);
        return;
    }
    log_info("login: '%s' logged in from %s", j->user.login, ip);
    set_cookie(j->req, cookie_name(w), j->token, AUTH_SESSION_TTL_MS / 1000);
    struct buf b;
    struct jw jw;
    buf_init(&b, 0);
    jw_init(&jw, &b);
    write_me(&jw, j->user.id, j->user.login, j->csrf);
    reply_result(j->req, 200, &b);
    buf_release(&b);
}

static void h_login(struct http_request *req, void *ud)
{
    struct web *w = ud;
    if (http_request_header(req, "origin") && !same_origin(req)) {
        reply(req, 403, 403, "CSRF check failed", NULL);
        return;
    }
    json_t *body = body_json(req, 0);
    if (!body)
        return;
    const char *user, *pw;
    if (jstr(body, "username", &user) != 1 || jstr(body, "password", &pw) != 1 || !user[0] ||
        strlen(user) > 64 || strlen(pw) > PASSWORD_MAX) {
        json_decref(body);
        reply_bad(req, "需要 username 和 password");
        return;
    }
    int64_t wait = auth_login_allowed(&w->auth, http_request_peer_ip(req), user, clock_wall_ms());
    if (wait > 0) {
        char ra[32], msg[96];
        snprintf(ra, sizeof(ra), "%lld", (long long)((wait + 999) / 1000));
        snprintf(msg, sizeof(msg), "too many failed logins, retry in %s s", ra);
        http_request_add_header(req, "Retry-After", ra);
        reply(req, 429, 429, msg, NULL);
        json_decref(body);
        return;
    }
    if (w->verifying >= MAX_VERIFYING) {
        http_request_add_header(req, "Retry-After", "1");
        reply(req, 503, 503, "busy, retry", NULL);
        json_decref(body);
        return;
    }
    struct job *j = job_new(w, req, login_run, login_done);
    j->a = xstrdup(user);
    j->b = xstrdup(pw);
    json_decref(body);
    w->verifying++;
    job_start(j);
}

static void logout_run(struct job *j)
{
    j->rc = store_session_del(j->web->st, j->hash);
}

static void logout_done(struct job *j)
{
    auth_session_remove_hash(&j->web->auth, j->hash);
    set_cookie(j->req, cookie_name(j->web), "", 0);
    reply_ok(j->req, "null");
}

static void h_logout(struct http_request *req, void *ud)
{
    struct web *w = ud;
    struct auth_session *s;
    struct job *j = admin_job(w, req, logout_run, logout_done, &s);
    if (!j)
        return;
    memcpy(j->hash, s->hash, AUTH_HASH_LEN);
    job_start(j);
}

static void me_run(struct job *j)
{
    j->rc = store_user_get(j->web->st, j->user_id, &j->user);
}

static void me_done(struct job *j)
{
    if (j->rc != 0) {
        reply(j->req, 200, 403, MSG_LOGIN_REQUIRED, NULL);
        return;
    }
    struct buf b;
    struct jw jw;
    buf_init(&b, 0);
    jw_init(&jw, &b);
    write_me(&jw, j->user.id, j->user.login, j->csrf);
    reply(j->req, 200, 0, "success", b.data);
    buf_release(&b);
}

static void h_me(struct http_request *req, void *ud)
{
    struct web *w = ud;
    struct auth_session *s;
    struct job *j = admin_job(w, req, me_run, me_done, &s);
    if (!j)
        return;
    memcpy(j->csrf, s->csrf, sizeof(j->csrf));
    job_start(j);
}

static void passwd_run(struct job *j)
{
    struct store *st = j->web->st;
    if (store_user_get(st, j->user_id, &j->user) != 0 || !j->user.password_hash ||
        !auth_password_verify(j->user.password_hash, j->a)) {
        j->rc = -EACCES;
        return;
    }
    char h[AUTH_PWHASH_LEN];
    if (auth_password_hash(j->b, h) != 0) {
        j->rc = -ENOMEM;
        return;
    }
    j->rc = store_user_set_password(st, j->user_id, h);
}

static void passwd_done(struct job *j)
{
    j->web->verifying--;
    if (j->rc == -EACCES) {
        reply_bad(j->req, "旧密码错误");
        return;
    }
    if (j->rc != 0) {
        reply(j->req, 500, 500, "database error", NULL);
        return;
    }
    /* Other sessions of this user end (in memory; the stored ones expire). */
    auth_session_remove_user(&j->web->auth, j->user_id, j->hash);
    reply_ok(j->req, "null");
}

static void h_password(struct http_request *req, void *ud)
{
    struct web *w = ud;
    struct auth_session *s = admin(w, req);
    if (!s)
        return;
    json_t *body = body_json(req, 0);
    if (!body)
        return;
    const char *old, *nw;
    if (jstr(body, "old", &old) != 1 || jstr(body, "new", &nw) != 1) {
        json_decref(body);
        reply_bad(req, "需要 old 和 new");
        return;
    }
    if (strlen(nw) < PASSWORD_MIN || strlen(nw) > PASSWORD_MAX) {
        json_decref(body);
        reply_bad(req, "新密码至少 8 个字符");
        return;
    }
    if (w->verifying >= MAX_VERIFYING) {
        json_decref(body);
        reply(req, 503, 503, "busy, retry", NULL);
        return;
    }
    struct job *j = job_new(w, req, passwd_run, passwd_done);
    j->user_id = s->user_id;
    memcpy(j->hash, s->hash, AUTH_HASH_LEN);
    j->a = xstrdup(old);
    j->b = xstrdup(nw);
    json_decref(body);
    w->verifying++;
    job_start(j);
}

/* ---- API tokens ---- */

static void tokens_run(struct job *j)
{
    j->rc = store_token_list(j->web->st, j->user_id, &j->tokens, &j->n);
}

static void tokens_done(struct job *j)
{
    if (j->rc != 0) {
        reply(j->req, 500, 500, "database error", NULL);
        return;
    }
    struct buf b;
    struct jw jw;
    buf_init(&b, 0);
    jw_init(&jw, &b);
    jw_arr_begin(&jw);
    for (size_t i = 0; i < j->n; i++) {
        struct store_token *t = &j->tokens[i];
        /* The in-memory last-used time is fresher than the stored one. */
        int64_t used = t->last_used_at;
        for (size_t k = 0; k < j->web->auth.n_tokens; k++)
            if (j->web->auth.tokens[k].id == t->id && j->web->auth.tokens[k].last_used_ms > used)
                used = j->web->auth.tokens[k].last_used_ms;
        jw_obj_begin(&jw);
        jw_key(&jw, "id");
        jw_u64(&jw, t->id);
        jw_key(&jw, "token");
        jw_str(&jw, t->prefix);
        jw_key(&jw, "note");
        jw_str(&jw, t->note ? t->note : "");
        jw_key(&jw, "created_at");
        jw_i64(&jw, t->created_at);
        jw_key(&jw, "last_used_at");
        jw_i64(&jw, used);
        jw_obj_end(&jw);
    }
    jw_arr_end(&jw);
    reply(j->req, 200, 0, "success", b.data);
    buf_release(&b);
}

static void h_tokens(struct http_request *req, void *ud)
{
    struct web *w = ud;
    struct auth_session *s;
    struct job *j = admin_job(w, req, tokens_run, tokens_done, &s);
    if (!j)
        return;
    job_start(j);
}

static void token_add_run(struct job *j)
{
    char prefix[STORE_TOKEN_PREFIX_LEN + 1];
    auth_token_mint(j->token, j->hash, prefix, STORE_TOKEN_PREFIX_LEN);
    j->rc = store_token_add(j->web->st, j->user_id, j->hash, prefix, j->a, &j->id);
}

static void token_add_done(struct job *j)
{
    if (j->rc != 0) {
        reply(j->req, 500, 500, "database error", NULL);
        return;
    }
    struct auth_token t = {.id = j->id, .user_id = j->user_id};
    memcpy(t.hash, j->hash, AUTH_HASH_LEN);
    auth_token_put(&j->web->auth, &t);
    log_info("token %llu created for user %llu", (unsigned long long)j->id,
             (unsigned long long)j->user_id);
    struct buf b;
    struct jw jw;
    buf_init(&b, 0);
    jw_init(&jw, &b);
    jw_obj_begin(&jw);
    jw_key(&jw, "id");
    jw_u64(&jw, j->id);
    jw_key(&jw, "note");
    jw_str(&jw, j->a);
    jw_key(&jw, "token");
    jw_str(&jw, j->token);
    jw_obj_end(&jw);
    reply_result(j->req, 200, &b);
    buf_release(&b);
    sodium_memzero(j->token, sizeof(j->token));
}

static void h_token_add(struct http_request *req, void *ud)
{
    struct web *w = ud;
    struct auth_session *s = admin(w, req);
    if (!s)
        return;
    json_t *body = body_json(req, 0);
    if (!body)
        return;
    const char *note = "";
    if (jstr(body, "note", &note) < 0 || !valid_utf8_len(note ? note : "", 255)) {
        json_decref(body);
        reply_bad(req, "Note 必须是不超过 255 字节的字符串");
        return;
    }
    struct job *j = job_new(w, req, token_add_run, token_add_done);
    j->user_id = s->user_id;
    j->a = xstrdup(note ? note : "");
    json_decref(body);
    job_start(j);
}

static void token_del_run(struct job *j)
{
    j->rc = store_token_del(j->web->st, j->id, j->user_id);
}

static void token_del_done(struct job *j)
{
    if (j->rc == -ENOENT) {
        reply(j->req, 200, 400, "token 不存在", NULL);
        return;
    }
    if (j->rc != 0) {
        reply(j->req, 500, 500, "database error", NULL);
        return;
    }
    auth_token_remove(&j->web->auth, j->id);
    log_info("token %llu deleted", (unsigned long long)j->id);
    reply_ok(j->req, NULL);
}

static void h_token_del(struct http_request *req, void *ud)
{
    struct web *w = ud;
    struct auth_session *s = admin(w, req);
    if (!s)
        return;
    uint64_t id;
    if (strnum_u64z(http_request_param(req, "id"), &id) != 0 || id == 0) {
        reply(req, 200, 400, "token 不存在", NULL);
        return;
    }
    struct job *j = job_new(w, req, token_del_run, token_del_done);
    j->id = id;
    j->user_id = s->user_id;
    job_start(j);
}

/* ---- /api/v1 ---- */

static void v1_gzip_run(struct job *j)
{
    j->rc = http_gzip_compress(j->in.data, j->in.len, HTTP_GZIP_LEVEL, &j->out);
}

/* Loop thread: keeps the gzip form in its cache slot if that slot still holds the same render. */
static void v1_gzip_done(struct job *j)
{
    struct web *w = j->web;
    if (j->rc != 0) { /* cancelled or zlib failed: the identity body is still a valid answer */
        http_request_set_compress(j->req, 0);
        http_request_respond_json(j->req, 200, &j->in);
        return;
    }
    if (!w->closing && j->id < CACHE_SLOTS && (int64_t)w->cache[j->id].serial == j->when) {
        struct api_cache *slot = &w->cache[j->id];
        buf_reset(&slot->gz);
        buf_append(&slot->gz, j->out.data, j->out.len);
        slot->gz_serial = slot->serial;
    }
    http_request_respond_gzip(j->req, 200, "application/json; charset=utf-8", &j->out);
}

/*
 * Sends a rendered /api/v1 body (borrowed) from cache slot (NULL = not
 * cached). gzip clients get the slot's gzip form when it was made from this
 * render, else it is compressed on the work pool (a 1000-server details body
 * takes 3.5-6 ms at level 1, too long for the loop) and kept in the slot, so
 * a busy gzip client costs one compression per render, not one per request.
 */
static void v1_send(struct web *w, struct http_request *req, struct api_cache *slot,
                    const struct buf *body)
{
    if (body->len < HTTP_GZIP_MIN_BYTES || !http_request_accepts_gzip(req)) {
        struct buf b;
        buf_init(&b, 0);
        buf_append(&b, body->data, body->len);
        http_request_respond_json(req, 200, &b);
        buf_release(&b);
        return;
    }
    if (slot && slot->gz_serial == slot->serial && slot->gz.len) {
        struct buf b;
        buf_init(&b, 0);
        buf_append(&b, slot->gz.data, slot->gz.len);
        http_request_respond_gzip(req, 200, "application/json; charset=utf-8", &b);
        buf_release(&b);
        return;
    }
    struct job *j = job_new(w, req, v1_gzip_run, v1_gzip_done);
    j->no_db = 1;
    j->id = slot ? (uint64_t)(slot - w->cache) : CACHE_SLOTS;
    j->when = slot ? (int64_t)slot->serial : -1;
    buf_append(&j->in, body->data, body->len);
    job_start(j);
}

/*
 * Answers a list/details request from the cache when the registry has not
 * changed since the body was rendered, or it was rendered under
 * CACHE_MAX_AGE_MS ago (1000 agents change it a thousand times a second;
 * rendering 1000 servers' details costs ~1 ms, so busy API clients share it).
 */
static void v1_render_cached(struct web *w, struct http_request *req, int details)
{
    const char *tag = http_request_query(req, "tag");
    const char *ids = details ? http_request_query(req, "id") : NULL;
    char key[CACHE_KEY_MAX];
    int klen = snprintf(key, sizeof(key), "%d|%s|%s", details, tag ? tag : "", ids ? ids : "");
    uint64_t now = uv_now(w->loop);
    struct api_cache *slot = NULL;
    if (klen > 0 && (size_t)klen < sizeof(key)) {
        struct api_cache *victim = &w->cache[0];
        for (size_t i = 0; i < CACHE_SLOTS; i++) {
            struct api_cache *c = &w->cache[i];
            if (c->body.cap && strcmp(c->key, key) == 0) {
                slot = c;
                break;
            }
            if (c->used < victim->used)
                victim = c;
        }
        if (slot && (slot->gen == w->lv->gen || now - slot->at_ms < CACHE_MAX_AGE_MS)) {
            slot->used = ++w->cache_tick;
            v1_send(w, req, slot, &slot->body);
            return;
        }
        if (!slot) {
            slot = victim;
            snprintf(slot->key, sizeof(slot->key), "%s", key);
        }
    }
    struct buf b;
    buf_init(&b, 0);
    if (slot && slot->body.len) /* the last render's size (+1/8): one allocation, no doubling */
        buf_reserve(&b, slot->body.len + slot->body.len / 8);
    if (details)
        api_v1_render_details(&b, w->lv, tag, ids);
    else
        api_v1_render_list(&b, w->lv, tag);
    if (slot) {
        buf_reset(&slot->body);
        buf_append(&slot->body, b.data, b.len);
        slot->gen = w->lv->gen;
        slot->at_ms = now;
        slot->used = ++w->cache_tick;
        slot->serial = ++w->render_serial;
    }
    v1_send(w, req, slot, &b);
    buf_release(&b);
}

static void h_v1_list(struct http_request *req, void *ud)
{
    struct web *w = ud;
    if (!api_user(w, req))
        return;
    v1_render_cached(w, req, 0);
}

static void h_v1_details(struct http_request *req, void *ud)
{
    struct web *w = ud;
    if (!api_user(w, req))
        return;
    v1_render_cached(w, req, 1);
}

static void server_add_run(struct job *j)
{
    j->rc = store_server_add(j->web->st, &j->srv);
    if (j->rc == 0) {
        uint64_t id = j->srv.id;
        store_server_release(&j->srv);
        j->rc = store_server_get(j->web->st, id, &j->srv);
    }
}

static void register_done(struct job *j)
{
    struct buf b;
    buf_init(&b, 0);
    if (j->rc != 0) {
        char msg[128];
        snprintf(msg, sizeof(msg), "Database error: %s", strerror(-j->rc));
        api_v1_render_register_reply(&b, 500, msg, "");
        http_request_respond_json(j->req, 500, &b);
        buf_release(&b);
        return;
    }
    live_upsert(j->web->lv, &j->srv);
    log_info("server %llu (%s) registered through the API", (unsigned long long)j->srv.id,
             j->srv.name);
    if (j->flag)
        api_v1_render_register_simple(&b, j->srv.secret);
    else
        api_v1_render_register_reply(&b, 200, "Server created successfully", j->srv.secret);
    http_request_respond_json(j->req, 200, &b);
    buf_release(&b);
}

static void h_v1_register(struct http_request *req, void *ud)
{
    struct web *w = ud;
    if (!api_user(w, req))
        return;
    char ipbuf[64];
    const char *ip = api_v1_client_ip(http_request_header(req, "x-forwarded-for"),
                                      http_request_header(req, "x-real-ip"),
                                      http_request_peer_ip(req), ipbuf, sizeof(ipbuf));
    struct slice body;
    http_request_body(req, &body);
    struct api_v1_register r;
    if (api_v1_register_parse(body.ptr ? body.ptr : "", body.len, ip, &r) != 0) {
        struct buf b;
        buf_init(&b, 0);
        api_v1_render_register_reply(&b, 400, "Parse JSON failed", "");
        http_request_respond_json(req, 400, &b);
        buf_release(&b);
        return;
    }
    struct job *j = job_new(w, req, server_add_run, register_done);
    j->srv.name = r.name;
    j->srv.tag = r.tag;
    j->srv.note = r.note;
    j->srv.hide_for_guest = r.hide_for_guest;
    r.name = r.tag = r.note = NULL;
    api_v1_register_release(&r);
    j->flag = api_v1_register_simple_requested(http_request_query(req, "simple"));
    job_start(j);
}

/* ---- admin: servers ---- */

static void h_servers(struct http_request *req, void *ud)
{
    struct web *w = ud;
    if (!admin(w, req))
        return;
    struct live_server **v = xmalloc((w->lv->n ? w->lv->n : 1) * sizeof(*v));
    if (w->lv->n) {
        memcpy(v, w->lv->servers, w->lv->n * sizeof(*v));
        qsort(v, w->lv->n, sizeof(*v), live_cmp_display);
    }
    int64_t now = clock_wall_ms();
    struct buf b;
    struct jw jw;
    buf_init(&b, 0);
    jw_init(&jw, &b);
    jw_arr_begin(&jw);
    for (size_t i = 0; i < w->lv->n; i++) {
        struct live_server *s = v[i];
        jw_obj_begin(&jw);
        jw_key(&jw, "id");
        jw_u64(&jw, s->id);
        jw_key(&jw, "name");
        jw_str(&jw, s->name);
        jw_key(&jw, "tag");
        jw_str(&jw, s->tag);
        jw_key(&jw, "display_index");
        jw_i64(&jw, s->display_index);
        jw_key(&jw, "note");
        jw_str(&jw, s->note);
        jw_key(&jw, "public_note");
        jw_str(&jw, s->public_note);
        jw_key(&jw, "hide_for_guest");
        jw_bool(&jw, s->hide_for_guest);
        jw_key(&jw, "secret");
        jw_str(&jw, s->secret);
        jw_key(&jw, "ip");
        jw_str(&jw, s->host && s->host->ip ? s->host->ip : "");
        jw_key(&jw, "version");
        jw_str(&jw, s->host && s->host->version ? s->host->version : "");
        jw_key(&jw, "last_active");
        jw_i64(&jw, s->last_active);
        jw_key(&jw, "online");
        jw_bool(&jw, live_server_online(s, now));
        jw_obj_end(&jw);
    }
    jw_arr_end(&jw);
    free(v);
    reply(req, 200, 0, "success", b.data);
    buf_release(&b);
}

static void server_save_run(struct job *j)
{
    struct store *st = j->web->st;
    if (j->srv.id == 0) {
        server_add_run(j);
        return;
    }
    struct store_server cur;
    memset(&cur, 0, sizeof(cur));
    j->rc = store_server_get(st, j->srv.id, &cur);
    if (j->rc != 0)
        return;
    /* The secret is kept (v0 QUIRK Q10 overwrote it with the form value). */
    free(j->srv.secret);
    j->srv.secret = xstrdup(cur.secret);
    store_server_release(&cur);
    j->rc = store_server_update(st, &j->srv);
    if (j->rc == 0) {
        uint64_t id = j->srv.id;
        store_server_release(&j->srv);
        j->rc = store_server_get(st, id, &j->srv);
    }
}

static void server_save_done(struct job *j)
{
    if (j->rc == -ENOENT) {
        reply_bad(j->req, "服务器不存在");
        return;
    }
    if (j->rc == -EINVAL) {
        reply_bad(j->req, "字段无效");
        return;
    }
    if (j->rc != 0) {
        reply(j->req, 500, 500, "database error", NULL);
        return;
    }
    live_upsert(j->web->lv, &j->srv);
    struct buf b;
    struct jw jw;
    buf_init(&b, 0);
    jw_init(&jw, &b);
    jw_obj_begin(&jw);
    jw_key(&jw, "id");
    jw_u64(&jw, j->srv.id);
    jw_key(&jw, "secret");
    jw_str(&jw, j->srv.secret);
    jw_obj_end(&jw);
    reply_result(j->req, 200, &b);
    buf_release(&b);
}

static void h_server_save(struct http_request *req, void *ud)
{
    struct web *w = ud;
    if (!admin(w, req))
        return;
    json_t *body = body_json(req, 0);
    if (!body)
        return;
    const char *name = NULL, *tag = "", *note = "", *pnote = "";
    int64_t id = 0, di = 0;
    int hide = 0;
    int bad = jstr(body, "name", &name) != 1 || !name[0] || jint(body, "id", &id) < 0 ||
              id < 0 || jint(body, "displayindex", &di) < 0 || jstr(body, "tag", &tag) < 0 ||
              jstr(body, "note", &note) < 0 || jstr(body, "publicnote", &pnote) < 0 ||
              jbool(body, "hideforguest", &hide) < 0;
    if (bad) {
        json_decref(body);
        reply_bad(req, "需要 Name；ID、DisplayIndex 为整数，其余为字符串");
        return;
    }
    struct job *j = job_new(w, req, server_save_run, server_save_done);
    j->srv.id = (uint64_t)id;
    j->srv.name = xstrdup(name);
    j->srv.tag = xstrdup(tag ? tag : "");
    j->srv.note = xstrdup(note ? note : "");
    j->srv.public_note = xstrdup(pnote ? pnote : "");
    j->srv.display_index = di;
    j->srv.hide_for_guest = hide;
    json_decref(body);
    job_start(j);
}

static void servers_del_run(struct job *j)
{
    j->rc = 0;
    for (size_t i = 0; i < j->n_ids; i++) {
        int rc = store_server_del(j->web->st, j->ids[i]);
        if (rc != 0 && rc != -ENOENT)
            j->rc = rc;
        if (rc == -ENOENT && j->n_ids == 1)
            j->rc = rc;
    }
}

static void servers_del_done(struct job *j)
{
    struct web *w = j->web;
    for (size_t i = 0; i < j->n_ids; i++) {
        struct live_server *s = live_find_id(w->lv, j->ids[i]);
        if (!s)
            continue;
        log_info("server %llu (%s) deleted", (unsigned long long)s->id, s->name);
        if (w->svc)
            svc_drop_stream(w->svc, s);
        live_remove(w->lv, j->ids[i]);
    }
    if (j->rc == -ENOENT) {
        reply(j->req, 200, 400, "错误的 Server ID", NULL);
        return;
    }
    if (j->rc != 0) {
        reply(j->req, 500, 500, "database error", NULL);
        return;
    }
    reply_ok(j->req, NULL);
}

static void h_server_del(struct http_request *req, void *ud)
{
    struct web *w = ud;
    if (!admin(w, req))
        return;
    uint64_t id;
    if (strnum_u64z(http_request_param(req, "id"), &id) != 0 || id < 1) {
        reply(req, 200, 400, "错误的 Server ID", NULL);
        return;
    }
    struct job *j = job_new(w, req, servers_del_run, servers_del_done);
    j->ids = xmalloc(sizeof(uint64_t));
    j->ids[0] = id;
    j->n_ids = 1;
    job_start(j);
}

/* Reads a JSON array of positive ids into an owned array; answers and returns -1 on error. */
static int read_ids(struct http_request *req, json_t *arr, uint64_t **out, size_t *n)
{
    size_t cnt = json_array_size(arr);
    if (cnt > 100000) {
        reply_bad(req, "too many ids");
        return -1;
    }
    uint64_t *ids = xmalloc((cnt ? cnt : 1) * sizeof(*ids));
    for (size_t i = 0; i < cnt; i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_integer(v) || json_integer_value(v) < 1) {
            free(ids);
            reply_bad(req, "id 必须是正整数");
            return -1;
        }
        ids[i] = (uint64_t)json_integer_value(v);
    }
    *out = ids;
    *n = cnt;
    return 0;
}

static void h_batch_delete(struct http_request *req, void *ud)
{
    struct web *w = ud;
    if (!admin(w, req))
        return;
    json_t *body = body_json(req, 1);
    if (!body)
        return;
    struct job *j = job_new(w, req, servers_del_run, servers_del_done);
    if (read_ids(req, body, &j->ids, &j->n_ids) != 0) {
        json_decref(body);
        job_free(j);
        return;
    }
    json_decref(body);
    if (j->n_ids == 1) {
        /* A batch never reports a missing id as an error. */
        j->ids = xrealloc(j->ids, 2 * sizeof(uint64_t));
        j->ids[1] = j->ids[0];
        j->n_ids = 2;
    }
    job_start(j);
}

static void regroup_run(struct job *j)
{
    struct store *st = j->web->st;
    for (size_t i = 0; i < j->n_ids && j->rc == 0; i++) {
        struct store_server s;
        memset(&s, 0, sizeof(s));
        int rc = store_server_get(st, j->ids[i], &s);
        if (rc == 0) {
            free(s.tag);
            s.tag = xstrdup(j->a);
            rc = store_server_update(st, &s);
        }
        store_server_release(&s);
        if (rc != 0 && rc != -ENOENT)
            j->rc = rc;
    }
}

static void regroup_done(struct job *j)
{
    if (j->rc != 0) {
        reply(j->req, 500, 500, "database error", NULL);
        return;
    }
    for (size_t i = 0; i < j->n_ids; i++) {
        struct live_server *s = live_find_id(j->web->lv, j->ids[i]);
        if (s) {
            free(s->tag);
            s->tag = xstrdup(j->a);
        }
    }
    reply_ok(j->req, NULL);
}

static void h_batch_group(struct http_request *req, void *ud)
{
    struct web *w = ud;
    if (!admin(w, req))
        return;
    json_t *body = body_json(req, 0);
    if (!body)
        return;
    json_t *servers = jget(body, "servers");
    const char *group;
    if (!json_is_array(servers) || jstr(body, "group", &group) < 0) {
        json_decref(body);
        reply_bad(req, "需要 Servers 数组和 Group");
        return;
    }
    struct job *j = job_new(w, req, regroup_run, regroup_done);
    if (read_ids(req, servers, &j->ids, &j->n_ids) != 0) {
        json_decref(body);
        job_free(j);
        return;
    }
    j->a = xstrdup(group ? group : "");
    json_decref(body);
    job_start(j);
}

/* The host part of the request's Host header (without port; brackets kept for IPv6). */
static void request_hostname(struct http_request *req, char *out, size_t outlen)
{
    const char *h = http_request_header(req, "host");
    if (!h || !*h)
        h = "127.0.0.1";
    size_t n = strlen(h);
    if (h[0] == '[') {
        const char *e = strchr(h, ']');
        n = e ? (size_t)(e - h + 1) : n;
    } else {
        const char *c = strchr(h, ':');
        if (c)
            n = (size_t)(c - h);
    }
    snprintf(out, outlen, "%.*s", (int)n, h);
}

static void h_install(struct http_request *req, void *ud)
{
    struct web *w = ud;
    if (!admin(w, req))
        return;
    uint64_t id;
    struct live_server *s = NULL;
    if (strnum_u64z(http_request_param(req, "id"), &id) == 0)
        s = live_find_id(w->lv, id);
    if (!s) {
        reply(req, 200, 400, "错误的 Server ID", NULL);
        return;
    }
    char host[256];
    request_hostname(req, host, sizeof(host));
    const char *grpc_host = w->cfg->grpchost && w->cfg->grpchost[0] ? w->cfg->grpchost : host;
    int port = w->cfg->proxygrpcport > 0 ? (int)w->cfg->proxygrpcport : w->grpc_port;
    const char *http_host = http_request_header(req, "host");
    char cmd[1024];
    const char *dash = http_host ? http_host : host;
    const char *scheme = http_request_is_tls(req) ? "https" : "http";
    snprintf(cmd, sizeof(cmd),
             "curl -fsSL %s://%s/static/install-agent.sh | sudo LOTUS_DASHBOARD_URL=%s://%s "
             "sh -s -- -s %s:%d -p %s%s",
             scheme, dash, scheme, dash, grpc_host, port, s->secret, w->cfg->tls ? " --tls" : "");
    struct buf b;
    struct jw jw;
    buf_init(&b, 0);
    jw_init(&jw, &b);
    jw_obj_begin(&jw);
    jw_key(&jw, "linux");
    jw_str(&jw, cmd);
    jw_obj_end(&jw);
    reply(req, 200, 0, "success", b.data);
    buf_release(&b);
}

/* ---- settings, public info, view password ---- */

static void h_setting_get(struct http_request *req, void *ud)
{
    struct web *w = ud;
    if (!admin(w, req))
        return;
    struct dash_config *c = w->cfg;
    struct buf b;
    struct jw jw;
    buf_init(&b, 0);
    jw_init(&jw, &b);
    jw_obj_begin(&jw);
    jw_key(&jw, "site_brand");
    jw_str(&jw, c->site_brand);
    jw_key(&jw, "language");
    jw_str(&jw, c->language);
    jw_key(&jw, "view_password_set");
    jw_bool(&jw, c->site_viewpassword && c->site_viewpassword[0]);
    jw_key(&jw, "grpc_host");
    jw_str(&jw, c->grpchost ? c->grpchost : "");
    jw_key(&jw, "grpc_port");
    jw_i64(&jw, c->proxygrpcport > 0 ? c->proxygrpcport : w->grpc_port);
    jw_key(&jw, "tls");
    jw_bool(&jw, c->tls);
    jw_key(&jw, "cookie_name");
    jw_str(&jw, cookie_name(w));
    jw_obj_end(&jw);
    reply(req, 200, 0, "success", b.data);
    buf_release(&b);
}

static void setting_run(struct job *j)
{
    char err[256];
    j->rc = config_write(j->web->cfg, j->web->config_path, err, sizeof(err));
    if (j->rc != 0)
        j->a = xstrdup(err);
}

static void setting_done(struct job *j)
{
    j->web->settings_busy = 0;
    if (j->rc != 0) {
        log_error("settings: %s", j->a ? j->a : "write failed");
        reply(j->req, 500, 500, "cannot save config.yaml", NULL);
        return;
    }
    reply_ok(j->req, NULL);
}

static void set_cfg_str(char **dst, const char *v)
{
    free(*dst);
    *dst = xstrdup(v);
}

static void update_vp_name(struct web *w)
{
    snprintf(w->cookie_vp, sizeof(w->cookie_vp), "%s-vp", cookie_name(w));
}

static int cookie_name_ok(const char *s)
{
    if (!s[0] || strlen(s) > 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return 0;
    return 1;
}

static void h_setting_post(struct http_request *req, void *ud)
{
    struct web *w = ud;
    if (!admin(w, req))
        return;
    if (w->settings_busy) {
        reply(req, 200, 409, "settings are being saved, retry", NULL);
        return;
    }
    json_t *body = body_json(req, 0);
    if (!body)
        return;
    const char *brand = NULL, *lang = NULL, *vp = NULL, *gh = NULL, *cn = NULL;
    int64_t gp = -1;
    int tls = -1, tls_set;
    int bad = jstr(body, "sitebrand", &brand) < 0 || jstr(body, "language", &lang) < 0 ||
              jstr(body, "viewpassword", &vp) < 0 || jstr(body, "grpchost", &gh) < 0 ||
              jstr(body, "cookiename", &cn) < 0 || jint(body, "grpcport", &gp) < 0 ||
              (tls_set = jbool(body, "tls", &tls)) < 0;
    if (!bad && lang && strcmp(lang, "zh-CN") != 0 && strcmp(lang, "en-US") != 0 &&
        strcmp(lang, "zh-TW") != 0 && strcmp(lang, "es-ES") != 0)
        bad = 1;
    if (!bad && gp != -1 && (gp < 0 || gp > 65535))
        bad = 1;
    if (!bad && cn && !cookie_name_ok(cn))
        bad = 1;
    if (!bad && ((brand && strlen(brand) > 255) || (gh && strlen(gh) > 255) ||
                 (vp && strlen(vp) > PASSWORD_MAX)))
        bad = 1;
    if (bad) {
        json_decref(body);
        reply_bad(req, "设置无效");
        return;
    }
    struct dash_config *c = w->cfg;
    if (brand)
        set_cfg_str(&c->site_brand, brand);
    if (lang)
        set_cfg_str(&c->language, lang);
    if (vp && vp[0])
        set_cfg_str(&c->site_viewpassword, strcmp(vp, "-") == 0 ? "" : vp);
    if (gh)
        set_cfg_str(&c->grpchost, gh);
    if (cn) {
        set_cfg_str(&c->site_cookiename, cn);
        update_vp_name(w);
    }
    if (gp >= 0)
        c->proxygrpcport = gp;
    if (tls_set > 0)
        c->tls = tls;
    json_decref(body);
    w->settings_busy = 1;
    job_start(job_new(w, req, setting_run, setting_done));
}

static void h_public(struct http_request *req, void *ud)
{
    struct web *w = ud;
    int logged_in = session_of(w, req) != NULL;
    int vp_required = w->cfg->site_viewpassword && w->cfg->site_viewpassword[0];
    int may_view = web_request_may_view(w, req);
    if (vp_required && !may_view) {
        reply(req, 200, 403, MSG_VIEW_LIMITED, NULL);
        return;
    }
    struct buf b;
    struct jw jw;
    buf_init(&b, 0);
    jw_init(&jw, &b);
    jw_obj_begin(&jw);
    jw_key(&jw, "site_brand");
    jw_str(&jw, w->cfg->site_brand);
    jw_key(&jw, "language");
    jw_str(&jw, w->cfg->language);
    jw_key(&jw, "logged_in");
    jw_bool(&jw, logged_in);
    jw_key(&jw, "view_password_required");
    jw_bool(&jw, vp_required && !may_view);
    jw_obj_end(&jw);
    reply(req, 200, 0, "success", b.data);
    buf_release(&b);
}

static void h_view_password(struct http_request *req, void *ud)
{
    struct web *w = ud;
    struct slice body;
    http_request_body(req, &body);
    const char *pw = NULL;
    char *form_pw = NULL;
    json_t *j = NULL;
    const char *ct = http_request_header(req, "content-type");
    if (ct && strncasecmp(ct, "application/json", 16) == 0) {
        j = json_loadb(body.ptr ? body.ptr : "", body.len, 0, NULL);
        if (j && json_is_object(j))
            jstr(j, "password", &pw);
    } else {
        /* form: Password=<urlencoded> (v0's field name) */
        const char *p = body.ptr;
        size_t n = body.len;
        if (p && n > 9 && strncmp(p, "Password=", 9) == 0) {
            form_pw = xmalloc(n);
            size_t k = 0;
            for (size_t i = 9; i < n && p[i] != '&'; i++) {
                if (p[i] == '+') {
                    form_pw[k++] = ' ';
                } else if (p[i] == '%' && i + 2 < n) {
                    int hi = ascii_hexval(p[i + 1]), lo = ascii_hexval(p[i + 2]);
                    if (hi < 0 || lo < 0)
                        break;
                    form_pw[k++] = (char)(hi << 4 | lo);
                    i += 2;
                } else {
                    form_pw[k++] = p[i];
                }
            }
            form_pw[k] = '\0';
            pw = form_pw;
        }
    }
    const char *want = w->cfg->site_viewpassword ? w->cfg->site_viewpassword : "";
    int ok = want[0] && pw && strlen(pw) == strlen(want) && sodium_memcmp(pw, want, strlen(want)) == 0;
    if (!ok) {
        reply(req, 200, 403, "密码错误", NULL);
    } else {
        char v[65];
        vp_cookie_value(w, v);
        set_cookie(req, w->cookie_vp, v, 86400);
        reply_ok(req, NULL);
    }
    free(form_pw);
    json_decref(j);
}

/* ---- embedded UI ---- */

/*
 * An embedded asset. When it has a build-time gzip form, the representation
 * follows Accept-Encoding: each form has its own strong ETag (so a cached
 * identity copy never validates the gzip one), and every answer, 304s
 * included, says "Vary: Accept-Encoding". No on-the-fly compression here.
 */
static void send_asset(struct http_request *req, const struct webasset *a)
{
    int gz = a->gz && http_request_accepts_gzip(req);
    const char *etag = gz ? a->gz_etag : a->etag;
    http_request_set_compress(req, 0);
    if (a->gz)
        http_request_add_header(req, "Vary", "Accept-Encoding");
    http_request_add_header(req, "ETag", etag);
    http_request_add_header(req, "Cache-Control",
                            a->immutable ? "public, max-age=31536000, immutable" : "no-cache");
    const char *inm = http_request_header(req, "if-none-match");
    if (inm && http_query_etag_match(inm, etag)) {
        http_request_respond(req, 304, NULL, NULL);
        return;
    }
    struct buf b;
    buf_init(&b, 0);
    if (gz) {
        buf_append(&b, a->gz, a->gz_len);
        http_request_respond_gzip(req, 200, a->content_type, &b);
    } else {
        buf_append(&b, a->data, a->len);
        http_request_respond(req, 200, a->content_type, &b);
    }
    buf_release(&b);
}

/* The agent binary for the one-line install (read once at start, see load_agent_binary). */
static void send_agent(struct web *w, struct http_request *req)
{
    http_request_add_header(req, "ETag", w->agent_etag);
    http_request_add_header(req, "Cache-Control", "no-cache");
    const char *inm = http_request_header(req, "if-none-match");
    if (inm && http_query_etag_match(inm, w->agent_etag)) {
        http_request_respond(req, 304, NULL, NULL);
        return;
    }
    struct buf b;
    buf_init(&b, 0);
    buf_append(&b, w->agent_bin.data, w->agent_bin.len);
    http_request_respond(req, 200, "application/octet-stream", &b);
    buf_release(&b);
}

static void h_asset(struct http_request *req, void *ud)
{
    struct web *w = ud;
    const char *path = http_request_path(req);
    if (w->agent_bin.len && strcmp(path, w->agent_path) == 0) {
        send_agent(w, req);
        return;
    }
    const struct webasset *a = webasset_find(path, strlen(path));
    if (!a) {
        http_request_respond_text(req, 404, "text/plain; charset=utf-8", "404 page not found\n");
        return;
    }
    send_asset(req, a);
}

/* The single-page UI: every page path answers index.html (the UI routes itself). */
static void h_page(struct http_request *req, void *ud)
{
    (void)ud;
    const struct webasset *a = webasset_find("/index.html", 11);
    if (!a) {
        http_request_respond_text(req, 500, "text/plain; charset=utf-8", "UI not built\n");
        return;
    }
    http_request_add_header(req, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; style-src 'self' "
                            "'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'");
    send_asset(req, a);
}

/* ---- start / stop ---- */

void web_set_tokens(struct web *w, const struct store_token *list, size_t n)
{
    struct auth_token *old = w->auth.tokens;
    size_t n_old = w->auth.n_tokens;
    w->auth.tokens = NULL;
    w->auth.n_tokens = 0;
    for (size_t i = 0; i < n; i++) {
        struct auth_token t = {.id = list[i].id,
                               .user_id = list[i].user_id,
                               .last_used_ms = list[i].last_used_at,
                               .persisted_used_ms = list[i].last_used_at};
        memcpy(t.hash, list[i].token_hash, AUTH_HASH_LEN);
        /* Keep the fresher in-memory last-used time of tokens that stay. */
        for (size_t k = 0; k < n_old; k++) {
            if (old[k].id == t.id && old[k].last_used_ms > t.last_used_ms) {
                t.last_used_ms = old[k].last_used_ms;
                t.persisted_used_ms = old[k].persisted_used_ms;
            }
        }
        auth_token_put(&w->auth, &t);
    }
    free(old);
}

static int load_auth(struct web *w, char *err, size_t errlen)
{
    struct store_token *toks = NULL;
    size_t n = 0;
    if (store_token_list(w->st, 0, &toks, &n) != 0) {
        snprintf(err, errlen, "cannot load API tokens");
        return -EIO;
    }
    web_set_tokens(w, toks, n);
    store_token_list_free(toks, n);
    /* Logins survive a restart: unexpired sessions come back into memory. */
    struct store_session *sess = NULL;
    int64_t now = clock_wall_ms();
    if (store_session_list(w->st, now, &sess, &n) != 0) {
        snprintf(err, errlen, "cannot load sessions");
        return -EIO;
    }
    for (size_t i = 0; i < n; i++) {
        struct auth_session a = {.user_id = sess[i].user_id, .expires_ms = sess[i].expires_at};
        memcpy(a.hash, sess[i].token_hash, AUTH_HASH_LEN);
        snprintf(a.csrf, sizeof(a.csrf), "%s", sess[i].csrf_token ? sess[i].csrf_token : "");
        auth_session_put(&w->auth, &a, now);
    }
    store_session_list_free(sess, n);
    uint64_t purged = 0;
    store_session_purge_expired(w->st, now, &purged);
    return 0;
}

static int ensure_admin(struct web *w, char *err, size_t errlen)
{
    uint64_t users = 0;
    if (store_user_count(w->st, &users) != 0) {
        snprintf(err, errlen, "cannot read users");
        return -EIO;
    }
    if (users > 0)
        return 0;
    char pw[17];
    char h[AUTH_PWHASH_LEN];
    auth_random_string(pw, 16);
    if (auth_password_hash(pw, h) != 0 || store_user_add(w->st, "admin", h, NULL) != 0) {
        snprintf(err, errlen, "cannot create the first admin user");
        return -EIO;
    }
    /* Printed once, on stdout only (never to the log); `user passwd admin` resets it. */
    printf("initial admin password: %s  (user: admin; change it under Account)\n", pw);
    fflush(stdout);
    sodium_memzero(pw, sizeof(pw));
    return 0;
}

/*
 * Reads the lotus-agent binary installed next to this lotus-dashboard (one
 * fixed path, resolved once at start) so the install command can download it
 * from /static/lotus-agent-linux-<arch>. Missing: the route answers 404.
 */
static void load_agent_binary(struct web *w)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 32);
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    snprintf(slash + 1, sizeof(exe) - (size_t)(slash + 1 - exe), "lotus-agent");
    FILE *f = fopen(exe, "rb");
    if (!f)
        return;
    char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (buf_append(&w->agent_bin, chunk, k) != 0)
            break;
    fclose(f);
    if (w->agent_bin.err) {
        buf_release(&w->agent_bin);
        return;
    }
    struct utsname u;
    const char *arch = "amd64";
    if (uname(&u) == 0 && strcmp(u.machine, "aarch64") == 0)
        arch = "arm64";
    else if (uname(&u) == 0 && strncmp(u.machine, "armv7", 5) == 0)
        arch = "arm";
    snprintf(w->agent_path, sizeof(w->agent_path), "/static/lotus-agent-linux-%s", arch);
    uint8_t h[AUTH_HASH_LEN];
    auth_hash(w->agent_bin.data, w->agent_bin.len, h);
    char hex[17];
    sodium_bin2hex(hex, sizeof(hex), h, 8);
    snprintf(w->agent_etag, sizeof(w->agent_etag), "\"%s\"", hex);
    log_info("serving %s (%zu bytes) for agent installs", w->agent_path, w->agent_bin.len);
}

static const struct {
    const char *method;
    const char *path;
    http_handler_cb cb;
} routes[] = {
    {"POST", "/api/login", h_login},
    {"POST", "/api/logout", h_logout},
    {"GET", "/api/me", h_me},
    {"POST", "/api/user/password", h_password},
    {"GET", "/api/token", h_tokens},
    {"POST", "/api/token", h_token_add},
    {"DELETE", "/api/token/:id", h_token_del},
    {"GET", "/api/v1/server/list", h_v1_list},
    {"GET", "/api/v1/server/details", h_v1_details},
    {"POST", "/api/v1/server/register", h_v1_register},
    {"GET", "/api/server", h_servers},
    {"POST", "/api/server", h_server_save},
    {"DELETE", "/api/server/:id", h_server_del},
    {"GET", "/api/server/:id/install", h_install},
    {"POST", "/api/batch-delete-server", h_batch_delete},
    {"POST", "/api/batch-update-server-group", h_batch_group},
    {"GET", "/api/setting", h_setting_get},
    {"POST", "/api/setting", h_setting_post},
    {"GET", "/api/public", h_public},
    {"POST", "/view-password", h_view_password},
    {"GET", "/static/*path", h_asset},
    {"GET", "/favicon.ico", h_asset},
    {"GET", "/", h_page},
    {"GET", "/login", h_page},
    {"GET", "/admin", h_page},
    {"GET", "/admin/*rest", h_page},
};

int web_start(struct uv_loop_s *loop, const struct web_opts *o, struct live *lv,
              struct store *st, uv_mutex_t *db_lock, struct svc *svc, struct web **out,
              char *err, size_t errlen)
{
    struct tls_ctx *tls = NULL;
    if (o->tls_cert) {
        /* First, so a bad certificate stops start-up before anything is created. */
        int trc = tls_ctx_new_server_http(o->tls_cert, o->tls_key, &tls, err, errlen);
        if (trc != 0)
            return trc;
    }
    struct web *w = xcalloc(1, sizeof(*w));
    w->loop = loop;
    w->lv = lv;
    w->st = st;
    w->lock = db_lock;
    w->svc = svc;
    w->cfg = o->cfg;
    w->config_path = o->config_path;
    w->grpc_port = o->grpc_port;
    auth_init(&w->auth);
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        buf_init(&w->cache[i].body, 0);
        buf_init(&w->cache[i].gz, 0);
    }
    buf_init(&w->agent_bin, 64u << 20);
    load_agent_binary(w);
    randombytes_buf(w->vp_key, sizeof(w->vp_key));
    update_vp_name(w);
    int rc = load_auth(w, err, errlen);
    if (rc == 0)
        rc = ensure_admin(w, err, errlen);
    if (rc != 0) {
        tls_ctx_free(tls);
        auth_release(&w->auth);
        free(w);
        return rc;
    }
    struct http_config hc;
    http_config_defaults(&hc);
    /* Idle or slow clients are closed by the header timeout; keep room for many of them
     * without refusing real users (the gRPC side has its own cap). */
    hc.max_connections = 16384;
    w->http = http_server_new(loop, &hc);
    http_server_set_tls(w->http, tls); /* consumed; NULL = plain HTTP */
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        http_server_route(w->http, routes[i].method, routes[i].path, routes[i].cb, w);
    rc = http_server_listen(w->http, o->host, o->port);
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", o->host, o->port, uv_strerror(rc));
        http_server_close(w->http, NULL, NULL);
        buf_release(&w->agent_bin);
        auth_release(&w->auth);
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int web_port(const struct web *w)
{
    return http_server_port(w->http);
}

struct http_server *web_http(struct web *w)
{
    return w->http;
}

void web_free(struct web *w)
{
    if (!w)
        return;
    http_server_close(w->http, NULL, NULL);
    w->http = NULL;
    w->closing = 1;
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        buf_release(&w->cache[i].body);
        buf_release(&w->cache[i].gz);
    }
    buf_release(&w->agent_bin);
    if (w->pending == 0) {
        auth_release(&w->auth);
        free(w);
    }
}
