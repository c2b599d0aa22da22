/*
 * web: the dashboard's HTTP routes — login sessions, API tokens, the Nezha v0
 * `/api/v1` API, the admin JSON API of docs/api-admin.md, settings and the
 * view password — on top of http.h, auth.h, api_v1.h, live.h and the store.
 *
 * Threading: handlers run on the loop thread and never touch the disk there;
 * database work runs on the libuv work pool under `db_lock` (the store's main
 * connection is shared with the servers-table watcher) and is applied to the
 * in-memory state (live, auth) when it comes back to the loop.
 */
#ifndef LOTUS_DASHBOARD_WEB_H
#define LOTUS_DASHBOARD_WEB_H

#include <stddef.h>

#include <uv.h> /* uv_mutex_t is a typedef that cannot be forward-declared */

struct uv_loop_s;
struct http_server;
struct live;
struct store;
struct svc;
struct dash_config;
struct web;

struct web_opts {
    const char *host;              /* bind address, borrowed during start */
    int port;                      /* 0 = ephemeral */
    struct dash_config *cfg;       /* borrowed for the web's life; settings edits change it */
    const char *config_path;       /* where settings are saved (0600); borrowed for life */
    int grpc_port;                 /* the port agents dial when the config names none */
    const char *tls_cert;          /* PEM paths, borrowed during start; NULL = plain HTTP, */
    const char *tls_key;           /* else HTTPS (both set) */
};

/*
 * Starts the HTTP listener and loads tokens and sessions from the store
 * (on the calling thread, before the loop runs). lv, st, db_lock and svc are
 * borrowed for the web's life. If the store has no user, creates `admin` with
 * a random password and prints it once to stdout ("initial admin password:").
 * With tls_cert/tls_key the listener serves HTTPS; a certificate or key that
 * does not load fails start-up. 0 and an owned *out, or a negative code and a
 * reason in err.
 */
int web_start(struct uv_loop_s *loop, const struct web_opts *o, struct live *lv,
              struct store *st, uv_mutex_t *db_lock, struct svc *svc, struct web **out,
              char *err, size_t errlen);
int web_port(const struct web *w);
/* The HTTP server, e.g. to add routes or the WebSocket upgrade hook. */
struct http_server *web_http(struct web *w);
/* 1 if the request carries a valid admin session cookie (for /ws audience). */
int web_request_is_admin(struct web *w, const void *http_request);
/* 1 if the request may see public data (no view password set, admin, or a valid -vp cookie). */
int web_request_may_view(struct web *w, const void *http_request);
/*
 * Replaces the in-memory API tokens with list (borrowed; e.g. after the CLI
 * changed the api_tokens table). Loop thread.
 */
struct store_token;
void web_set_tokens(struct web *w, const struct store_token *list, size_t n);
/* Stops listening and frees once pending database jobs are done. NULL ok. */
void web_free(struct web *w);

#endif
