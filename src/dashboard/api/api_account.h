/*
 * api_account: login, logout, the current user (/api/me) and the password
 * change of docs/api-admin.md, plus the sessions and the first admin at
 * start. Loop thread; argon2id and the store run on the work pool (at most
 * API_ACCOUNT_MAX_VERIFYING password checks at once: 64 MiB each).
 */
#ifndef LOTUS_DASHBOARD_API_ACCOUNT_H
#define LOTUS_DASHBOARD_API_ACCOUNT_H

#include <stddef.h>
#include <stdint.h>

struct api;
struct store_session;

#define API_ACCOUNT_MAX_VERIFYING 2

/* Registers POST /api/login, POST /api/logout, GET /api/me, POST /api/user/password. */
void api_account_routes(struct api *a);

/*
 * Start-up, on the calling thread before the loop runs: loads the unexpired
 * sessions into a's table (logins survive a restart) and purges the expired
 * ones from the store. 0, or -EIO with a reason in err.
 */
int api_account_load_sessions(struct api *a, char *err, size_t errlen);

/*
 * Start-up, before the routes serve: hashes a random password once, the hash
 * that unknown logins are verified against (one argon2id run for known and
 * unknown names alike). 0, or -ENOMEM with a reason in err.
 */
int api_account_init_dummy_hash(struct api *a, char *err, size_t errlen);

/*
 * Loop thread, after the store's auth_rev moved: list (borrowed, n rows) is
 * the store's unexpired sessions read on the work pool; fence is
 * api_session_fence() read on the loop before that read was queued. Sessions
 * another process deleted (`lotus-dashboard user passwd`) leave the table.
 */
void api_account_sync_sessions(struct api *a, const struct store_session *list, size_t n,
                               uint64_t fence);

/*
 * Start-up: if the store has no user, creates `admin` with a random password
 * and prints it once to stdout ("initial admin password: ..."), never to the
 * log. 0, or -EIO with a reason in err.
 */
int api_account_ensure_admin(struct api *a, char *err, size_t errlen);

#endif
