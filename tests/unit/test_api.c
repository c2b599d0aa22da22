/*
 * Unit tests of the layers under the handlers of src/dashboard/api/: the body
 * readers (api_reply), the typed work-pool job (api_job) and the gates
 * (api_guard: session, CSRF, /api/v1 token, view password), the last ones on a
 * real api over the socket-less HTTP connection seam, with a store in a temp
 * directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <uv.h>

#include "core/buf.h"
#include "dashboard/api/api.h"
#include "dashboard/api/api_int.h"
#include "dashboard/api/api_job.h"
#include "dashboard/api/api_reply.h"
#include "dashboard/auth.h"
#include "dashboard/config.h"
#include "dashboard/http.h"
#include "dashboard/live.h"
#include "dashboard/store.h"

/* ---- api_reply: body readers ---- */

static void test_api__reply_readers(void **state)
{
    (void)state;
    json_t *o = json_loads("{\"Name\":\"a\",\"hideForGuest\":\"on\",\"T\":true,\"F\":\"off\","
                           "\"ID\":\"42\",\"Bad\":\"4x\",\"N\":7,\"Null\":null,\"Arr\":[]}",
                           0, NULL);
    assert_non_null(o);
    const char *s = NULL;
    int b = -7;
    int64_t i = -7;
    assert_int_equal(api_jstr(o, "name", &s), 1); /* Nezha matches keys case-insensitively */
    assert_string_equal(s, "a");
    assert_int_equal(api_jstr(o, "missing", &s), 0);
    assert_null(s);
    assert_int_equal(api_jstr(o, "null", &s), 0);
    assert_int_equal(api_jstr(o, "n", &s), -1);
    assert_int_equal(api_jbool(o, "HIDEFORGUEST", &b), 1);
    assert_int_equal(b, 1);
    assert_int_equal(api_jbool(o, "t", &b), 1);
    assert_int_equal(b, 1);
    assert_int_equal(api_jbool(o, "f", &b), 1);
    assert_int_equal(b, 0);
    b = -7;
    assert_int_equal(api_jbool(o, "missing", &b), 0);
    assert_int_equal(b, -7);
    assert_int_equal(api_jbool(o, "n", &b), -1);
    assert_int_equal(api_jint(o, "id", &i), 1);
    assert_int_equal(i, 42);
    assert_int_equal(api_jint(o, "n", &i), 1);
    assert_int_equal(i, 7);
    assert_int_equal(api_jint(o, "bad", &i), -1);
    assert_int_equal(api_jint(o, "arr", &i), -1);
    assert_int_equal(api_jint(o, "null", &i), 0);
    assert_non_null(api_jget(o, "ARR"));
    assert_null(api_jget(o, "ar"));
    json_decref(o);
    assert_true(api_str_fits("", 0));
    assert_true(api_str_fits("abc", 3));
    assert_false(api_str_fits("abcd", 3));
    assert_false(api_str_fits(NULL, 3));
}

/* ---- api_job: typed context, threads, release ---- */

struct count_ctx {
    int zeroed;        /* the context arrives zeroed */
    pthread_t run_on;  /* thread run executed on */
    char *owned;       /* freed by the release function */
    int *released;     /* counts releases (test storage) */
    int *done_on_loop; /* set by done on the loop thread */
};

static pthread_t loop_thread;

static void count_release(void *p)
{
    struct count_ctx *c = p;
    free(c->owned);
    (*c->released)++;
}

static void count_run(struct api_job *j)
{
    struct count_ctx *c = api_job_ctx(j);
    c->run_on = pthread_self();
    j->rc = 5;
}

static void count_done(struct api_job *j)
{
    struct count_ctx *c = api_job_ctx(j);
    assert_int_equal(j->rc, 5);
    assert_false(pthread_equal(c->run_on, loop_thread));
    *c->done_on_loop = pthread_equal(pthread_self(), loop_thread);
}

static void test_api__job_typed_context(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    loop_thread = pthread_self();
    struct api a;
    memset(&a, 0, sizeof(a));
    a.loop = &loop;
    int released = 0, done_on_loop = 0;
    for (int k = 0; k < 3; k++) {
        struct api_job *j =
            api_job_new(&a, NULL, count_run, count_done, sizeof(struct count_ctx), count_release);
        struct count_ctx *c = api_job_ctx(j);
        assert_int_equal(c->zeroed, 0);
        assert_null(c->owned);
        c->owned = strdup("x");
        c->released = &released;
        c->done_on_loop = &done_on_loop;
        api_job_start(j);
    }
    assert_int_equal(a.pending, 3);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(a.pending, 0);
    assert_int_equal(released, 3);
    assert_int_equal(done_on_loop, 1);
    /* A job never started is released once, without run or done. */
    struct api_job *j =
        api_job_new(&a, NULL, count_run, count_done, sizeof(struct count_ctx), count_release);
    struct count_ctx *c = api_job_ctx(j);
    c->released = &released;
    api_job_discard(j);
    assert_int_equal(released, 4);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- api_guard on a real api ---- */

static struct {
    uv_loop_t loop;
    struct live lv;
    struct store *st;
    struct dash_config cfg;
    struct api *api;
    char dir[64];
    char cfg_path[96];
    char cookie[AUTH_TOKEN_LEN + 1];
    char csrf[AUTH_CSRF_LEN + 1];
} g;

static int api_setup(void **state)
{
    (void)state;
    char err[256];
    setenv("LOTUS_TEST_FAST_HASH", "1", 1);
    if (sodium_init() < 0)
        return -1;
    snprintf(g.dir, sizeof(g.dir), "/tmp/lotus-test-api-XXXXXX");
    if (!mkdtemp(g.dir))
        return -1;
    char db[96];
    snprintf(db, sizeof(db), "%s/sqlite.db", g.dir);
    snprintf(g.cfg_path, sizeof(g.cfg_path), "%s/config.yaml", g.dir);
    if (store_open(db, &g.st, err, sizeof(err)) != 0)
        return -1;
    char hash[AUTH_PWHASH_LEN];
    uint64_t uid = 0;
    if (auth_password_hash("unit-password", hash) != 0 ||
        store_user_add(g.st, "admin", hash, STORE_ROLE_ADMIN, &uid) != 0)
        return -1;
    auth_random_string(g.cookie, AUTH_TOKEN_LEN);
    auth_random_string(g.csrf, AUTH_CSRF_LEN);
    uint8_t h[AUTH_HASH_LEN];
    auth_hash(g.cookie, AUTH_TOKEN_LEN, h);
    if (store_session_add(g.st, uid, h, INT64_MAX / 2, g.csrf, NULL) != 0)
        return -1;
    uv_loop_init(&g.loop);
    live_init(&g.lv);
    config_defaults(&g.cfg);
    struct api_opts o = {.host = "127.0.0.1",
                         .port = 0,
                         .cfg = &g.cfg,
                         .config_path = g.cfg_path,
                         .grpc_port = 5555};
    if (api_start(&g.loop, &o, &g.lv, g.st, NULL, &g.api, err, sizeof(err)) != 0)
        return -1;
    return 0;
}

static int api_teardown(void **state)
{
    (void)state;
    api_free(g.api);
    uv_run(&g.loop, UV_RUN_DEFAULT);
    uv_loop_close(&g.loop);
    store_close(g.st);
    live_release(&g.lv);
    config_release(&g.cfg);
    char p[128];
    static const char *const names[] = {"sqlite.db", "sqlite.db-wal", "sqlite.db-shm",
                                        "config.yaml"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", g.dir, names[i]);
        unlink(p);
    }
    rmdir(g.dir);
    return 0;
}

/*
 * Sends one request (head lines without the request line's CRLF handling:
 * extra headers each end in \r\n) and returns the whole response in out.
 */
static void request(const char *method, const char *path, const char *headers, const char *body,
                    struct buf *out)
{
    struct buf req;
    buf_init(&req, 0);
    buf_printf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Length: %zu\r\n\r\n%s", method,
               path, headers ? headers : "", body ? strlen(body) : 0, body ? body : "");
    buf_init(out, 0);
    struct http_conn *c = http_conn_new_memory(api_http(g.api), out, "192.0.2.1");
    http_conn_feed(c, req.data, req.len);
    /* Store work answers from the work pool: run the loop until the answer is out. */
    for (int i = 0; i < 100000 && out->len == 0; i++)
        uv_run(&g.loop, UV_RUN_ONCE);
    http_conn_free_memory(c);
    buf_release(&req);
    assert_true(out->len > 0);
}

static int status_of(const struct buf *r)
{
    return r->len > 12 ? atoi(r->data + 9) : 0;
}

static const char *body_of(const struct buf *r)
{
    const char *p = strstr(r->data, "\r\n\r\n");
    return p ? p + 4 : "";
}

static void test_api__admin_gate_and_csrf(void **state)
{
    (void)state;
    char hdr[512];
    struct buf r;
    request("GET", "/api/me", NULL, NULL, &r);
    assert_int_equal(status_of(&r), 200);
    assert_string_equal(body_of(&r), "{\"code\":403,\"message\":\"访问此接口需要登录\"}");
    buf_release(&r);

    snprintf(hdr, sizeof(hdr), "Cookie: nezha-dashboard=%s\r\n", g.cookie);
    request("GET", "/api/me", hdr, NULL, &r);
    assert_non_null(strstr(body_of(&r), "\"code\":0"));
    assert_non_null(strstr(body_of(&r), g.csrf));
    buf_release(&r);

    /* A mutation with the cookie only, a wrong token, or a foreign/prefix Origin: refused. */
    const char *bad[] = {
        "",
        "X-CSRF-Token: 00000000000000000000000000000000\r\n",
        "Origin: http://evil.example\r\n",
        "Origin: http://127.0.0.1.evil.example\r\n",
        "Origin: null\r\n",
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        snprintf(hdr, sizeof(hdr), "Cookie: nezha-dashboard=%s\r\n%s", g.cookie, bad[k]);
        request("POST", "/api/token", hdr, "{\"note\":\"x\"}", &r);
        assert_int_equal(status_of(&r), 403);
        assert_string_equal(body_of(&r), "{\"code\":403,\"message\":\"CSRF check failed\"}");
        buf_release(&r);
    }
    /* The session's token, or a same-origin Origin, is proof enough. */
    const char *good[2];
    char tok[64];
    snprintf(tok, sizeof(tok), "X-CSRF-Token: %s\r\n", g.csrf);
    good[0] = tok;
    good[1] = "Origin: http://127.0.0.1\r\n";
    for (size_t k = 0; k < 2; k++) {
        snprintf(hdr, sizeof(hdr), "Cookie: nezha-dashboard=%s\r\n%s", g.cookie, good[k]);
        request("POST", "/api/token", hdr, "{\"note\":\"x\"}", &r);
        assert_int_equal(status_of(&r), 200);
        assert_non_null(strstr(body_of(&r), "\"code\":200"));
        buf_release(&r);
    }
}

/* Creates an API token through the API; tok receives it. */
static void make_token(char tok[AUTH_TOKEN_LEN + 1])
{
    char hdr[256];
    struct buf r;
    snprintf(hdr, sizeof(hdr), "Cookie: nezha-dashboard=%s\r\nX-CSRF-Token: %s\r\n", g.cookie,
             g.csrf);
    request("POST", "/api/token", hdr, "{\"note\":\"unit\"}", &r);
    json_t *j = json_loads(body_of(&r), 0, NULL);
    assert_non_null(j);
    const char *t = json_string_value(json_object_get(json_object_get(j, "result"), "token"));
    assert_non_null(t);
    assert_int_equal(strlen(t), AUTH_TOKEN_LEN);
    memcpy(tok, t, AUTH_TOKEN_LEN + 1);
    json_decref(j);
    buf_release(&r);
}

static void test_api__v1_token_gate(void **state)
{
    (void)state;
    char tok[AUTH_TOKEN_LEN + 1], hdr[256];
    make_token(tok);
    struct buf r;
    request("GET", "/api/v1/server/list", NULL, NULL, &r);
    assert_int_equal(status_of(&r), 200);
    assert_string_equal(body_of(&r), "{\"code\":403,\"message\":\"访问此接口需要认证\"}");
    buf_release(&r);
    const char *forms[][2] = {{"", ""}, {"Bearer ", ""}, {"  ", "  "}};
    for (size_t k = 0; k < 3; k++) {
        snprintf(hdr, sizeof(hdr), "Authorization: %s%s%s\r\n", forms[k][0], tok, forms[k][1]);
        request("GET", "/api/v1/server/list", hdr, NULL, &r);
        assert_string_equal(body_of(&r), "{\"code\":0,\"message\":\"success\",\"result\":[]}");
        buf_release(&r);
    }
    /* One character off, anywhere: the cookie decides, and there is none. */
    for (size_t pos = 0; pos < AUTH_TOKEN_LEN; pos += 7) {
        char near[AUTH_TOKEN_LEN + 1];
        memcpy(near, tok, sizeof(near));
        near[pos] = near[pos] == 'a' ? 'b' : 'a';
        snprintf(hdr, sizeof(hdr), "Authorization: %s\r\n", near);
        request("GET", "/api/v1/server/list", hdr, NULL, &r);
        assert_string_equal(body_of(&r), "{\"code\":403,\"message\":\"访问此接口需要认证\"}");
        buf_release(&r);
    }
}

static void test_api__view_password(void **state)
{
    (void)state;
    free(g.cfg.site_viewpassword);
    g.cfg.site_viewpassword = strdup("guest pw");
    struct buf r;
    request("GET", "/api/public", NULL, NULL, &r);
    assert_string_equal(body_of(&r), "{\"code\":403,\"message\":\"访问受限\"}");
    buf_release(&r);
    request("POST", "/view-password", "Content-Type: application/x-www-form-urlencoded\r\n",
            "Password=guest+px", &r);
    assert_string_equal(body_of(&r), "{\"code\":403,\"message\":\"密码错误\"}");
    assert_null(strstr(r.data, "Set-Cookie"));
    buf_release(&r);
    request("POST", "/view-password", "Content-Type: application/x-www-form-urlencoded\r\n",
            "Password=guest+pw", &r);
    const char *sc = strstr(r.data, "Set-Cookie: nezha-dashboard-vp=");
    assert_non_null(sc);
    char value[65];
    memcpy(value, sc + strlen("Set-Cookie: nezha-dashboard-vp="), 64);
    value[64] = '\0';
    buf_release(&r);
    char hdr[256];
    snprintf(hdr, sizeof(hdr), "Cookie: nezha-dashboard-vp=%s\r\n", value);
    request("GET", "/api/public", hdr, NULL, &r);
    assert_non_null(strstr(body_of(&r), "\"code\":0"));
    buf_release(&r);
    /* The cookie is a MAC of the password: changing the password ends it. */
    free(g.cfg.site_viewpassword);
    g.cfg.site_viewpassword = strdup("another");
    request("GET", "/api/public", hdr, NULL, &r);
    assert_string_equal(body_of(&r), "{\"code\":403,\"message\":\"访问受限\"}");
    buf_release(&r);
    free(g.cfg.site_viewpassword);
    g.cfg.site_viewpassword = strdup("");
}

int main(void)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_api__reply_readers),
        cmocka_unit_test(test_api__job_typed_context),
    };
    const struct CMUnitTest guarded[] = {
        cmocka_unit_test(test_api__admin_gate_and_csrf),
        cmocka_unit_test(test_api__v1_token_gate),
        cmocka_unit_test(test_api__view_password),
    };
    int rc = cmocka_run_group_tests(pure, NULL, NULL);
    return rc | cmocka_run_group_tests(guarded, api_setup, api_teardown);
}
