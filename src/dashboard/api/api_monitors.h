/*
 * api_monitors: the service-monitor routes (docs/protocol.md §5.3, §5.4, §8.3).
 *   admin (session, CSRF for mutations):
 *     GET /api/monitor            the definitions with their current status (Lotus)
 *     POST /api/monitor           create (ID 0) or edit, v0's fields plus Lotus's checks
 *     DELETE /api/monitor/:id     delete (its history goes with it)
 *   public (the view password applies):
 *     GET /api/service            the /service page's data (Lotus)
 *     GET /api/network            the servers that have latency rows (Lotus)
 *     GET /api/v1/monitor/:id     v0's 24 h latency rows of a server (:id is a server id)
 * The rendering functions are pure over struct monitors and struct live and unit-tested.
 * Loop thread.
 */
#ifndef LOTUS_DASHBOARD_API_MONITORS_H
#define LOTUS_DASHBOARD_API_MONITORS_H

#include <stddef.h>
#include <stdint.h>

struct api;
struct jw;
struct live;
struct monitors;
struct store_monitor_point;

void api_monitors_routes(struct api *a);

/*
 * v0's MonitorInfo list of server srv_id from pts[0..n) (ordered by monitor then time, as
 * store_monitor_points answers): `[{"monitor_id","server_id","monitor_name","server_name",
 * "created_at":[ms truncated to the minute…],"avg_delay":[float32 texts…]}…]`, or `null`
 * when n is 0 (v0; nezha-dash reads null as "no data"). Monitor names from mon (NULL or an
 * unknown monitor: ""), the server name from lv.
 */
void api_monitors_render_v1(struct jw *jw, const struct monitors *mon, const struct live *lv,
                            uint64_t srv_id, const struct store_monitor_point *pts, size_t n);
/* The /api/service result: every monitor shown in service (see the contract in docs/api-admin.md).
 */
void api_monitors_render_service(struct jw *jw, const struct monitors *mon, int64_t now_ms);

#endif
