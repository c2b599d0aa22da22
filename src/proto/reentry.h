/*
 * reentry: the enter/leave/reap idiom of an object whose callbacks may call
 * back into its own API (gRPC server connections, the gRPC client; the
 * dashboard's WebSocket hub follows the same rule). Every entry point -- a uv
 * callback or an API function -- brackets its work with reentry_enter /
 * reentry_leave; work that must not run inside a callback (delivering
 * on_close, freeing, tearing down, a flush refused inside nghttp2) is queued
 * by the owner and run when the outermost entry unwinds:
 *  - leaving a uv callback: reentry_leave returns 1 and the owner settles now;
 *  - leaving an API function: reentry_leave returns 1 and, if work is queued,
 *    the owner calls reentry_defer so a 0 ms timer settles it from the loop
 *    (an API call never calls back synchronously).
 * The owner's settle function brackets itself with enter/leave too, so what it
 * runs cannot settle recursively.
 *
 * Ownership: embedded in its owner; the timer is a uv handle the owner closes
 * (reentry_reap_close) with its other handles. timer.data is the owner (set by
 * reentry_reap_init). Threads: the owner's loop thread only.
 */
#ifndef LOTUS_PROTO_REENTRY_H
#define LOTUS_PROTO_REENTRY_H

#include <uv.h>

/* The depth counter: an object (or one connection of it) with entries in progress. */
struct reentry {
    int depth; /* entries in progress: > 0 means "inside; defer" */
};

static inline void reentry_enter(struct reentry *r)
{
    r->depth++;
}

/* Returns 1 when this was the outermost entry (nothing of the owner is on the stack any more). */
static inline int reentry_leave(struct reentry *r)
{
    return --r->depth == 0;
}

/* 1 while some entry is in progress: queue the work instead of doing it. */
static inline int reentry_inside(const struct reentry *r)
{
    return r->depth > 0;
}

/*
 * The counter plus the 0 ms timer that settles after an API call, for owners
 * whose API functions may leave work queued (gRPC connections, the gRPC
 * client). An owner that is only entered from uv callbacks and settles at
 * their end (a WebSocket connection) needs only struct reentry.
 */
struct reentry_reap {
    struct reentry re;
    uv_timer_t timer; /* timer.data = owner */
};

/* Initialises the counter and the timer on loop; owner is stored in timer.data. */
static inline void reentry_reap_init(struct reentry_reap *r, uv_loop_t *loop, void *owner)
{
    r->re.depth = 0;
    uv_timer_init(loop, &r->timer);
    r->timer.data = owner;
}

/* Settles from the loop: cb runs from a 0 ms timer (its handle's data is the owner). */
static inline void reentry_reap_defer(struct reentry_reap *r, uv_timer_cb cb)
{
    uv_timer_start(&r->timer, cb, 0, 0);
}

/* Closes the timer (with the owner's other handles); cb may be NULL. */
static inline void reentry_reap_close(struct reentry_reap *r, uv_close_cb cb)
{
    uv_close((uv_handle_t *)&r->timer, cb);
}

#endif
