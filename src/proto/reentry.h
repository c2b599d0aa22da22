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
 * (reentry_close) with its other handles. timer.data is the owner (set by
 * reentry_init). Threads: the owner's loop thread only.
 */
#ifndef LOTUS_PROTO_REENTRY_H
#define LOTUS_PROTO_REENTRY_H

#include <uv.h>

struct reentry {
    int depth;        /* entries in progress: > 0 means "inside; defer" */
    uv_timer_t timer; /* the 0 ms reap timer; timer.data = owner */
};

/* Initialises the counter and the timer on loop; owner is stored in timer.data. */
static inline void reentry_init(struct reentry *r, uv_loop_t *loop, void *owner)
{
    r->depth = 0;
    uv_timer_init(loop, &r->timer);
    r->timer.data = owner;
}

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

/* Settles from the loop: cb runs from a 0 ms timer (its handle's data is the owner). */
static inline void reentry_defer(struct reentry *r, uv_timer_cb cb)
{
    uv_timer_start(&r->timer, cb, 0, 0);
}

/* Closes the timer (with the owner's other handles); cb may be NULL. */
static inline void reentry_close(struct reentry *r, uv_close_cb cb)
{
    uv_close((uv_handle_t *)&r->timer, cb);
}

#endif
