/*
 * ws_frame: the v0 JSON frame of the live-update WebSocket (`/ws`,
 * docs/protocol.md §6.1), rendered from the live registry. Pure (no clock, no sockets); the
 * loop thread calls it, as every reader of the registry.
 */
#ifndef LOTUS_DASHBOARD_API_WS_FRAME_H
#define LOTUS_DASHBOARD_API_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct live;

/*
 * Appends the v0 live frame for time now_ms (unix ms) to out (borrowed):
 * `{"now":<ms>,"servers":[...]}`, the servers key omitted when the selection
 * is empty (as v0). Servers are ordered by DisplayIndex desc, then ID asc;
 * include_hidden = 0 leaves out HideForGuest servers (guest view). Each server
 * is {"ID","CreatedAt","UpdatedAt","DeletedAt":null,"Name","Tag",
 * "DisplayIndex","HideForGuest","EnableDDNS":false,"Host","State",
 * "LastActive","PublicNote","Online"}; times are Go RFC3339Nano in UTC with
 * trailing zeros trimmed, LastActive of a never-reported server is
 * "0001-01-01T00:00:00Z". Secret, Note and the IP never appear.
 * lv borrowed. Returns 0, or -E2BIG when out's maximum is reached.
 */
int ws_render_frame(const struct live *lv, int include_hidden, int64_t now_ms, struct buf *out);

/*
 * Formats unix milliseconds ms like Go's time.Time RFC3339Nano in UTC
 * ("2024-06-01T12:00:01.5Z"; no fraction when it is zero). Years outside
 * 0001..9999 give Go's zero time "0001-01-01T00:00:00Z". out must hold
 * WS_TIME_MAX bytes; it is NUL-terminated. Returns the length.
 */
#define WS_TIME_MAX 32
size_t ws_format_time(int64_t ms, char out[WS_TIME_MAX]);

#endif
