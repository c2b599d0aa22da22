/*
 * api_ws: the `/ws` route (docs/protocol.md §6.1, §6.2): the upgrade gate (view password
 * -> 403 JSON; the admin session decides the audience), a plain GET answered
 * 400, and the broadcast timer that renders each audience's v0 frame
 * (ws_frame.h) once when the registry changed, a viewer joined, or
 * API_WS_IDLE_MS passed, and hands it to the hub (ws_hub.h). Loop thread.
 */
#ifndef LOTUS_DASHBOARD_API_WS_H
#define LOTUS_DASHBOARD_API_WS_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h> /* uv_timer_t is embedded */

struct api;
struct ws_hub;

#define API_WS_TICK_MS 250  /* a report reaches browsers within this (+ render time) */
#define API_WS_IDLE_MS 2000 /* frames go out at least this often (v0's period) */

/* Embedded in struct api. */
struct api_ws {
    struct ws_hub *hub; /* owned; NULL before api_ws_start and after api_ws_stop */
    uv_timer_t timer;
    uint64_t gen;     /* registry generation of the last broadcast */
    uint64_t sent_ms; /* uv_now of the last broadcast */
    size_t viewers;   /* viewer count at the last broadcast */
};

/*
 * Creates the hub (default ws_config), sets a's HTTP upgrade hook, registers
 * GET /ws and starts the broadcast timer. Call after every other route, on a
 * running-to-be loop.
 */
void api_ws_start(struct api *a);
/*
 * Closes every WebSocket (1001) and frees the hub from the loop, and closes
 * the timer; a->pending counts the timer until its close callback ran, so
 * struct api outlives it. No-op if not started or already stopped.
 */
void api_ws_stop(struct api *a);

#endif
