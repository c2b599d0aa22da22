/*
 * api: the dashboard's HTTP application: login sessions, API tokens, the
 * Nezha v0 `/api/v1` API, the admin JSON API of docs/api-admin.md, settings,
 * the view password, the embedded UI and the `/ws` live feed, on top of
 * http.h. Each resource is a file of its own in src/dashboard/api/ that
 * registers its routes (api_account, api_tokens, api_v1_http, api_servers,
 * api_settings, api_assets, api_ws); the gates (api_guard), answers
 * (api_reply) and work-pool jobs (api_job) sit below them. This header is
 * everything dash.c sees.
 *
 * Threading: handlers run on the loop thread and never touch the disk there;
 * store work runs on the libuv work pool (the store is thread-safe; a handler
 * whose calls must not interleave with others' uses store_batch) and is
 * applied to the in-memory state (live, auth) back on the loop.
 */
#ifndef LOTUS_DASHBOARD_API_H
#define LOTUS_DASHBOARD_API_H

#include <stddef.h>
#include <stdint.h>

struct uv_loop_s;
struct http_server;
struct live;
struct store;
struct store_token;
struct store_session;
struct svc;
struct dash_config;
struct api;

struct api_opts {
    const char *host;          /* bind address, borrowed during start */
    int port;                  /* 0 = ephemeral */
    struct dash_config *cfg;   /* borrowed for the api's life; settings edits change it */
    const char *config_path;   /* where settings are saved (0600); borrowed for life */
    int grpc_port;             /* the port agents dial when the config names none */
    const char *tls_cert;      /* PEM paths, borrowed during start; NULL = plain HTTP, */
    const char *tls_key;       /* else HTTPS (both set) */
    struct monitors *monitors; /* borrowed for the api's life; NULL = none */
    struct promrw *promrw;     /* borrowed for the api's life; NULL = remote-write off */
};

/*
 * Starts the HTTP listener with every route and the /ws feed, and loads
 * tokens and sessions from the store (on the calling thread, before the loop
 * runs). lv, st and svc (may be NULL) are borrowed for the api's life. If
 * the store has no user, creates `admin` with a random password and prints it
 * once to stdout ("initial admin password:"). With tls_cert/tls_key the
 * listener serves HTTPS; a certificate or key that does not load fails
 * start-up. 0 and an owned *out, or a negative code and a reason in err.
 */
int api_start(struct uv_loop_s *loop, const struct api_opts *o, struct live *lv, struct store *st,
              struct svc *svc, struct api **out, char *err, size_t errlen);
int api_port(const struct api *a);
/* The HTTP server (borrowed), e.g. for memory connections in tests and fuzzing. */
struct http_server *api_http(struct api *a);
/*
 * Replaces the in-memory API tokens with list (borrowed; e.g. after the CLI
 * changed the api_tokens table). Loop thread.
 */
void api_set_tokens(struct api *a, const struct store_token *list, size_t n);
/*
 * Session revocation by another process (the CLI's `user passwd` deletes
 * rows and bumps the store's auth_rev): read api_session_fence on the loop,
 * then list the store's sessions on the pool, then hand the list (borrowed)
 * and the fence to api_sync_sessions on the loop. Sessions created after the
 * fence are kept. Loop thread.
 */
uint64_t api_session_fence(const struct api *a);
void api_sync_sessions(struct api *a, const struct store_session *list, size_t n, uint64_t fence);
/*
 * Closes the WebSockets and the listener; the api is freed from the loop once
 * pending jobs and handles are done (run the loop). NULL ok.
 */
void api_free(struct api *a);

#endif
