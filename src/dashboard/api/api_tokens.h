/*
 * api_tokens: the API tokens of /api/v1 (GET/POST /api/token,
 * DELETE /api/token/:id; docs/api-admin.md). A token is shown once, at
 * creation; the store and the in-memory table keep only its SHA-256 digest.
 * Loop thread; the store runs on the work pool.
 */
#ifndef LOTUS_DASHBOARD_API_TOKENS_H
#define LOTUS_DASHBOARD_API_TOKENS_H

#include <stddef.h>

struct api;
struct store_token;

/* Registers GET /api/token, POST /api/token, DELETE /api/token/:id. */
void api_tokens_routes(struct api *a);

/*
 * Replaces a's in-memory tokens with list (borrowed; e.g. after the CLI
 * changed the api_tokens table), keeping the fresher in-memory last-used
 * time of tokens that stay. Loop thread (or start-up).
 */
void api_tokens_set(struct api *a, const struct store_token *list, size_t n);

/* Start-up: loads every token from the store. 0, or -EIO with a reason in err. */
int api_tokens_load(struct api *a, char *err, size_t errlen);

#endif
