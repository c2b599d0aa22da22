/*
 * api_guard: who may call a route, written once below the handlers: the
 * session cookie, the CSRF proof of mutations, /api/v1's token, and the view
 * password of the public pages and /ws. Loop thread (they read the auth
 * tables of struct api and may answer the request).
 *
 * The gates that answer (api_guard_admin, api_guard_v1_user) answer the
 * request themselves when they refuse; the caller then returns at once.
 */
#ifndef LOTUS_DASHBOARD_API_GUARD_H
#define LOTUS_DASHBOARD_API_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "dashboard/api/api_job.h"

struct api;
struct auth_session;
struct http_request;

/* The session cookie's name: the configured Site.CookieName, else "nezha-dashboard". Borrowed. */
const char *api_guard_cookie_name(const struct api *a);
/* Recomputes "<cookiename>-vp" after the cookie name changed (also at start). */
void api_guard_update_vp_name(struct api *a);

/* The unexpired session of req's cookie, or NULL. Borrowed from a's table. */
struct auth_session *api_guard_session(struct api *a, struct http_request *req);
/* 1 if req's Origin header names the Host header's host[:port] (case-insensitive). */
int api_guard_same_origin(struct http_request *req);

/*
 * Admin routes: returns req's session when there is one and, for a mutation
 * (any method but GET/HEAD), a CSRF proof (X-CSRF-Token equal to the
 * session's, or a same-origin Origin). Else answers (200 code 403
 * "访问此接口需要登录", or 403 "CSRF check failed") and returns NULL.
 */
struct auth_session *api_guard_admin(struct api *a, struct http_request *req);

/*
 * api_guard_admin, then a new job for req (api_job_new's arguments) when it
 * passes: returns the job (owned until started) and *session (borrowed from
 * a's table), or NULL after the refusal was answered.
 */
struct api_job *api_guard_admin_job(struct api *a, struct http_request *req, api_job_fn run,
                                    api_job_fn done, size_t ctx_size, api_job_release_fn release,
                                    struct auth_session **session);

/*
 * /api/v1: `Authorization: <token>` (or `Bearer <token>`) of a known API
 * token, else a session cookie (with CSRF proof for mutations). Returns the
 * user id, or 0 after answering v0's unauthorised reply. A used token's
 * last-used time is kept in memory and written to the store at most once a
 * minute (a fire-and-forget job).
 */
uint64_t api_guard_v1_user(struct api *a, struct http_request *req);

/*
 * The user id of req's `Authorization: <token>` (or `Bearer <token>`) when it names a known
 * API token (its last-used time kept as api_guard_v1_user does), else 0. Never answers.
 */
uint64_t api_guard_token_user(struct api *a, struct http_request *req);
/*
 * 1 if req may see hidden servers in the monitor routes (docs/protocol.md §6.2): an API
 * token, an admin session, or a valid view-password cookie when a view password is set.
 */
int api_guard_privileged(struct api *a, struct http_request *req);

/* 1 if req may see public data: no view password set, an admin session, or a valid -vp cookie. */
int api_guard_may_view(struct api *a, struct http_request *req);
/* The value of a valid view-password cookie (hex HMAC of the password), NUL-terminated. */
void api_guard_vp_cookie_value(const struct api *a, char out[65]);

/*
 * Adds Set-Cookie name=value (Path=/, Max-Age, HttpOnly, SameSite=Lax, and
 * Secure over HTTPS so the browser never sends it over plain HTTP).
 */
void api_guard_set_cookie(struct http_request *req, const char *name, const char *value,
                          long max_age);

#endif
