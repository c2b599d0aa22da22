/*
 * fuzz_admin_json: arbitrary JSON bodies into every state-changing admin and
 * /api/v1 route of the real api handlers (src/dashboard/api/: auth, sessions, CSRF, the
 * typed JSON accessors, the store behind them), through the socket-less HTTP
 * connection seam, as a logged-in admin with a valid CSRF token.
 *
 * Input: byte 0 picks the route, the rest is the request body. Invariants: no
 * crash, no leak, exactly one HTTP/1.1 response, and a JSON body for every
 * JSON route.
 *
 * Build: `make fuzz` (clang) or the replayer that `make unit-tests` builds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include "core/buf.h"
#include "dashboard/auth.h"
#include "dashboard/config.h"
#include "dashboard/http.h"
#include "dashboard/live.h"
#include "dashboard/store.h"
#include "dashboard/api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The harness's one-time state (a fuzz driver, not product code). */
static struct {
    int ready;
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

static const struct {
    const char *method;
    const char *path;
} routes[] = {
    {"POST", "/api/server"},
    {"POST", "/api/token"},
    {"POST", "/api/batch-delete-server"},
    {"POST", "/api/batch-update-server-group"},
    {"POST", "/api/setting"},
    {"POST", "/api/user/password"},
    {"POST", "/api/v1/server/register"},
    {"POST", "/api/v1/server/register?simple=1"},
    {"POST", "/api/login"},
    {"POST", "/view-password"},
    {"DELETE", "/api/token/1"},
    {"DELETE", "/api/server/1"},
};

/* Removes the temporary data directory at exit (the state itself stays reachable). */
static void remove_dir(void)
{
    static const char *const names[] = {"sqlite.db", "sqlite.db-wal", "sqlite.db-shm",
                                        "config.yaml"};
    char p[128];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", g.dir, names[i]);
        unlink(p);
    }
    rmdir(g.dir);
}

static void setup(void)
{
    char err[256];
    setenv("LOTUS_TEST_FAST_HASH", "1", 1);
    if (sodium_init() < 0)
        abort();
    snprintf(g.dir, sizeof(g.dir), "/tmp/lotus-fuzz-XXXXXX");
    if (!mkdtemp(g.dir))
        abort();
    atexit(remove_dir);
    char db[96];
    snprintf(db, sizeof(db), "%s/sqlite.db", g.dir);
    snprintf(g.cfg_path, sizeof(g.cfg_path), "%s/config.yaml", g.dir);
    if (store_open(db, &g.st, err, sizeof(err)) != 0)
        abort();
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, "fuzz-password", 13, crypto_pwhash_OPSLIMIT_MIN,
                          crypto_pwhash_MEMLIMIT_MIN) != 0)
        abort();
    uint64_t uid = 0;
    if (store_user_add(g.st, "admin", hash, STORE_ROLE_ADMIN, &uid) != 0)
        abort();
    auth_random_string(g.cookie, AUTH_TOKEN_LEN);
    auth_random_string(g.csrf, AUTH_CSRF_LEN);
    uint8_t h[AUTH_HASH_LEN];
    auth_hash(g.cookie, AUTH_TOKEN_LEN, h);
    if (store_session_add(g.st, uid, h, INT64_MAX / 2, g.csrf, NULL) != 0)
        abort();
    uv_loop_init(&g.loop);
    live_init(&g.lv);
    config_defaults(&g.cfg);
    struct api_opts o = {.host = "127.0.0.1",
                         .port = 0,
                         .cfg = &g.cfg,
                         .config_path = g.cfg_path,
                         .grpc_port = 5555};
    if (api_start(&g.loop, &o, &g.lv, g.st, NULL, &g.api, err, sizeof(err)) != 0)
        abort();
    g.ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g.ready)
        setup();
    if (size == 0)
        return 0;
    size_t r = data[0] % (sizeof(routes) / sizeof(routes[0]));
    const char *body = (const char *)data + 1;
    size_t blen = size - 1;
    if (blen > 65536)
        return 0;
    struct buf req;
    buf_init(&req, 0);
    buf_printf(&req,
               "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: nezha-dashboard=%s\r\n"
               "X-CSRF-Token: %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
               routes[r].method, routes[r].path, g.cookie, g.csrf, blen);
    buf_append(&req, body, blen);
    struct buf out;
    buf_init(&out, 0);
    struct http_conn *c = http_conn_new_memory(api_http(g.api), &out, "192.0.2.7");
    http_conn_feed(c, req.data, req.len);
    /* Database work answers from the work pool: run the loop until the answer is out. */
    for (int i = 0; i < 10000 && out.len == 0; i++)
        uv_run(&g.loop, UV_RUN_ONCE);
    if (out.len < 9 || memcmp(out.data, "HTTP/1.1 ", 9) != 0)
        abort();
    http_conn_free_memory(c);
    buf_release(&out);
    buf_release(&req);
    return 0;
}
