/*
 * api_guard: session, CSRF, API-token and view-password gates (see
 * api_guard.h).
 */
#include "dashboard/api/api_guard.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "core/buf.h"
#include "core/clock.h"
#include "dashboard/api/api_int.h"
#include "dashboard/api/api_job.h"
#include "dashboard/api/api_reply.h"
#include "dashboard/api/api_v1.h"
#include "dashboard/auth.h"
#include "dashboard/config.h"
#include "dashboard/http.h"
#include "dashboard/store.h"

#define TOUCH_EVERY_MS 60000 /* token last-used persistence period */

const char *api_guard_cookie_name(const struct api *a)
{
    return a->cfg->site_cookiename && a->cfg->site_cookiename[0] ? a->cfg->site_cookiename
                                                                 : "nezha-dashboard";
}

struct auth_session *api_guard_session(struct api *a, struct http_request *req)
{
    struct slice v;
    if (http_request_cookie(req, api_guard_cookie_name(a), &v) != 0)
        return NULL;
    return auth_session_find(&a->auth, v.ptr, v.len, clock_wall_ms());
}

/* Host part of an Origin URL equals the Host header? */
int api_guard_same_origin(struct http_request *req)
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
    return api_guard_same_origin(req);
}

/* Admin routes: a session (and CSRF proof for mutations), else answers and returns NULL. */
struct auth_session *api_guard_admin(struct api *a, struct http_request *req)
{
    struct auth_session *s = api_guard_session(a, req);
    if (!s) {
        api_reply(req, 200, 403, API_MSG_LOGIN_REQUIRED, NULL);
        return NULL;
    }
    if (is_mutation(req) && !csrf_ok(req, s)) {
        api_reply(req, 403, 403, "CSRF check failed", NULL);
        return NULL;
    }
    return s;
}

struct api_job *api_guard_admin_job(struct api *a, struct http_request *req, api_job_fn run,
                                    api_job_fn done, size_t ctx_size, api_job_release_fn release,
                                    struct auth_session **session)
{
    struct auth_session *s = api_guard_admin(a, req);
    if (!s)
        return NULL;
    *session = s;
    return api_job_new(a, req, run, done, ctx_size, release);
}

struct touch_ctx {
    uint64_t token_id;
    int64_t when;
};

static void touch_run(struct api_job *j)
{
    struct touch_ctx *c = api_job_ctx(j);
    store_token_touch(j->api->st, c->token_id, c->when);
}

/*
 * /api/v1 auth: `Authorization: <token>` (or `Bearer <token>`), else the
 * session cookie (with CSRF proof for mutations). Returns the user id or 0
 * after answering the v0 unauthorised reply.
 */
uint64_t api_guard_token_user(struct api *a, struct http_request *req)
{
    const char *h = http_request_header(req, "authorization");
    if (!h)
        return 0;
    if (strncasecmp(h, "Bearer ", 7) == 0)
        h += 7;
    while (*h == ' ')
        h++;
    size_t n = strlen(h);
    while (n && h[n - 1] == ' ')
        n--;
    struct auth_token *t = auth_token_find(&a->auth, h, n);
    if (!t)
        return 0; /* v0: an unknown token is ignored and the cookie decides */
    int64_t now = clock_wall_ms();
    t->last_used_ms = now;
    if (now - t->persisted_used_ms >= TOUCH_EVERY_MS) {
        t->persisted_used_ms = now;
        struct api_job *j = api_job_new(a, NULL, touch_run, NULL, sizeof(struct touch_ctx), NULL);
        struct touch_ctx *c = api_job_ctx(j);
        c->token_id = t->id;
        c->when = now;
        api_job_start(j);
    }
    return t->user_id;
}

uint64_t api_guard_v1_user(struct api *a, struct http_request *req)
{
    uint64_t uid = api_guard_token_user(a, req);
    if (uid)
        return uid;
    struct auth_session *s = api_guard_session(a, req);
    if (s && (!is_mutation(req) || csrf_ok(req, s)))
        return s->user_id;
    struct buf b;
    buf_init(&b, 0);
    api_v1_render_unauthorized(&b);
    http_request_respond_json(req, 200, &b);
    buf_release(&b);
    return 0;
}

void api_guard_vp_cookie_value(const struct api *a, char out[65])
{
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    const char *pw = a->cfg->site_viewpassword ? a->cfg->site_viewpassword : "";
    crypto_auth_hmacsha256(mac, (const unsigned char *)pw, strlen(pw), a->vp_key);
    sodium_bin2hex(out, 65, mac, sizeof(mac));
}

int api_guard_may_view(struct api *a, struct http_request *req)
{
    if (!a->cfg->site_viewpassword || !a->cfg->site_viewpassword[0])
        return 1;
    if (api_guard_session(a, req))
        return 1;
    struct slice v;
    char want[65];
    if (http_request_cookie(req, a->cookie_vp, &v) != 0 || v.len != 64)
        return 0;
    api_guard_vp_cookie_value(a, want);
    return sodium_memcmp(v.ptr, want, 64) == 0;
}

int api_guard_privileged(struct api *a, struct http_request *req)
{
    if (api_guard_token_user(a, req) || api_guard_session(a, req))
        return 1;
    if (!a->cfg->site_viewpassword || !a->cfg->site_viewpassword[0])
        return 0;
    return api_guard_may_view(a, req);
}

/* Cookies set over HTTPS carry Secure, so the browser never sends them over plain HTTP. */
void api_guard_set_cookie(struct http_request *req, const char *name, const char *value,
                          long max_age)
{
    char c[512];
    snprintf(c, sizeof(c), "%s=%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Lax%s", name, value,
             max_age, http_request_is_tls(req) ? "; Secure" : "");
    http_request_add_header(req, "Set-Cookie", c);
}

void api_guard_update_vp_name(struct api *a)
{
    snprintf(a->cookie_vp, sizeof(a->cookie_vp), "%s-vp", api_guard_cookie_name(a));
}
