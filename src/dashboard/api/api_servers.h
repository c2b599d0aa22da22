/*
 * api_servers: the admin's server management of docs/api-admin.md: the list
 * with secrets and online flags, create/edit, delete (one or a batch), batch
 * regrouping and the one-line agent install command. Loop thread; the store
 * runs on the work pool and the result is applied to the live registry (and
 * the deleted servers' agent streams dropped) back on the loop.
 */
#ifndef LOTUS_DASHBOARD_API_SERVERS_H
#define LOTUS_DASHBOARD_API_SERVERS_H

struct api;
struct store;
struct store_server;

/*
 * Registers GET/POST /api/server, DELETE /api/server/:id,
 * GET /api/server/:id/install, POST /api/batch-delete-server and
 * POST /api/batch-update-server-group.
 */
void api_servers_routes(struct api *a);

/*
 * Work-pool helper shared with /api/v1/server/register: inserts srv (name
 * required; secret generated) and reloads it from the store, so srv then
 * holds the stored row (id, secret, times). 0 or a negative errno
 * (store_server_add's). srv is owned by the caller either way.
 */
int api_servers_add(struct store *st, struct store_server *srv);

#endif
