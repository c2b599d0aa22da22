/*
 * api_tokens: list, create and delete API tokens (see api_tokens.h).
 */
#include "dashboard/api/api_tokens.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/buf.h"
#include "core/jw.h"
#include "core/log.h"
#include "core/strnum.h"
#include "core/xalloc.h"
#include "dashboard/api/api_guard.h"
#include "dashboard/api/api_int.h"
#include "dashboard/api/api_job.h"
#include "dashboard/api/api_reply.h"
#include "dashboard/auth.h"
#include "dashboard/http.h"
#include "dashboard/store.h"

#define NOTE_MAX 255

/* ---- list ---- */

struct list_ctx {
    uint64_t user_id;
    struct store_token *tokens;
    size_t n;
};

static void list_release(void *p)
{
    struct list_ctx *c = p;
    store_token_list_free(c->tokens, c->n);
}

static void list_run(struct api_job *j)
{
    struct list_ctx *c = api_job_ctx(j);
    j->rc = store_token_list(j->api->st, c->user_id, &c->tokens, &c->n);
}

static void list_done(struct api_job *j)
{
    struct list_ctx *c = api_job_ctx(j);
    if (j->rc != 0) {
        api_reply_db_error(j->req);
        return;
    }
    struct api_body out;
    struct jw *jw = api_body_begin(&out);
    jw_arr_begin(jw);
    for (size_t i = 0; i < c->n; i++) {
        struct store_token *t = &c->tokens[i];
        /* The in-memory last-used time is fresher than the stored one. */
        int64_t used = t->last_used_at;
        int64_t mem = auth_token_last_used(&j->api->auth, t->id);
        if (mem > used)
            used = mem;
        jw_obj_begin(jw);
        jw_key(jw, "id");
        jw_u64(jw, t->id);
        jw_key(jw, "token");
        jw_str(jw, t->prefix);
        jw_key(jw, "note");
        jw_str(jw, t->note ? t->note : "");
        jw_key(jw, "created_at");
        jw_i64(jw, t->created_at);
        jw_key(jw, "last_used_at");
        jw_i64(jw, used);
        jw_obj_end(jw);
    }
    jw_arr_end(jw);
    api_reply_body(j->req, 0, &out);
}

static void h_tokens(struct http_request *req, void *ud)
{
    struct api *a = ud;
    struct auth_session *s;
    struct api_job *j =
        api_guard_admin_job(a, req, list_run, list_done, sizeof(struct list_ctx), list_release, &s);
    if (!j)
        return;
    ((struct list_ctx *)api_job_ctx(j))->user_id = s->user_id;
    api_job_start(j);
}

/* ---- create ---- */

struct add_ctx {
    uint64_t user_id;
    char *note;
    uint64_t id;                    /* the new token's id */
    char token[AUTH_TOKEN_LEN + 1]; /* shown once in the reply, then wiped */
    uint8_t hash[AUTH_HASH_LEN];
};

static void add_release(void *p)
{
    struct add_ctx *c = p;
    free(c->note);
    sodium_memzero(c->token, sizeof(c->token));
}

static void add_run(struct api_job *j)
{
    struct add_ctx *c = api_job_ctx(j);
    char prefix[STORE_TOKEN_PREFIX_LEN + 1];
    auth_token_mint(c->token, c->hash, prefix, STORE_TOKEN_PREFIX_LEN);
    j->rc = store_token_add(j->api->st, c->user_id, c->hash, prefix, c->note, &c->id);
}

static void add_done(struct api_job *j)
{
    struct add_ctx *c = api_job_ctx(j);
    if (j->rc != 0) {
        api_reply_db_error(j->req);
        return;
    }
    struct auth_token t = {.id = c->id, .user_id = c->user_id};
    memcpy(t.hash, c->hash, AUTH_HASH_LEN);
    auth_token_put(&j->api->auth, &t);
    log_info("token %llu created for user %llu", (unsigned long long)c->id,
             (unsigned long long)c->user_id);
    struct api_body out;
    struct jw *jw = api_body_begin(&out);
    jw_obj_begin(jw);
    jw_key(jw, "id");
    jw_u64(jw, c->id);
    jw_key(jw, "note");
    jw_str(jw, c->note);
    jw_key(jw, "token");
    jw_str(jw, c->token);
    jw_obj_end(jw);
    api_reply_body(j->req, 200, &out);
}

static void h_token_add(struct http_request *req, void *ud)
{
    struct api *a = ud;
    struct auth_session *s = api_guard_admin(a, req);
    if (!s)
        return;
    json_t *body = api_body_json(req, 0);
    if (!body)
        return;
    const char *note = "";
    if (api_jstr(body, "note", &note) < 0 || !api_str_fits(note ? note : "", NOTE_MAX)) {
        json_decref(body);
        api_reply_bad(req, "Note 必须是不超过 255 字节的字符串");
        return;
    }
    struct api_job *j = api_job_new(a, req, add_run, add_done, sizeof(struct add_ctx), add_release);
    struct add_ctx *c = api_job_ctx(j);
    c->user_id = s->user_id;
    c->note = xstrdup(note ? note : "");
    json_decref(body);
    api_job_start(j);
}

/* ---- delete ---- */

struct del_ctx {
    uint64_t id;
    uint64_t user_id; /* only the owner's token is deleted */
};

static void del_run(struct api_job *j)
{
    struct del_ctx *c = api_job_ctx(j);
    j->rc = store_token_del(j->api->st, c->id, c->user_id);
}

static void del_done(struct api_job *j)
{
    struct del_ctx *c = api_job_ctx(j);
    if (j->rc == -ENOENT) {
        api_reply(j->req, 200, 400, "token 不存在", NULL);
        return;
    }
    if (j->rc != 0) {
        api_reply_db_error(j->req);
        return;
    }
    auth_token_remove(&j->api->auth, c->id);
    log_info("token %llu deleted", (unsigned long long)c->id);
    api_reply_ok(j->req, NULL);
}

static void h_token_del(struct http_request *req, void *ud)
{
    struct api *a = ud;
    struct auth_session *s = api_guard_admin(a, req);
    if (!s)
        return;
    uint64_t id;
    if (strnum_u64z(http_request_param(req, "id"), &id) != 0 || id == 0) {
        api_reply(req, 200, 400, "token 不存在", NULL);
        return;
    }
    struct api_job *j = api_job_new(a, req, del_run, del_done, sizeof(struct del_ctx), NULL);
    struct del_ctx *c = api_job_ctx(j);
    c->id = id;
    c->user_id = s->user_id;
    api_job_start(j);
}

/* ---- in-memory table ---- */

void api_tokens_set(struct api *a, const struct store_token *list, size_t n)
{
    struct auth_token *v = xmalloc((n ? n : 1) * sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        v[i] = (struct auth_token){.id = list[i].id,
                                   .user_id = list[i].user_id,
                                   .last_used_ms = list[i].last_used_at,
                                   .persisted_used_ms = list[i].last_used_at};
        memcpy(v[i].hash, list[i].token_hash, AUTH_HASH_LEN);
    }
    auth_tokens_replace(&a->auth, v, n);
    free(v);
}

int api_tokens_load(struct api *a, char *err, size_t errlen)
{
    struct store_token *toks = NULL;
    size_t n = 0;
    if (store_token_list(a->st, 0, &toks, &n) != 0) {
        snprintf(err, errlen, "cannot load API tokens");
        return -EIO;
    }
    api_tokens_set(a, toks, n);
    store_token_list_free(toks, n);
    return 0;
}

static const struct api_route routes[] = {
    {"GET", "/api/token", h_tokens},
    {"POST", "/api/token", h_token_add},
    {"DELETE", "/api/token/:id", h_token_del},
};

void api_tokens_routes(struct api *a)
{
    api_routes_add(a, routes, sizeof(routes) / sizeof(routes[0]));
}
