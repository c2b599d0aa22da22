/*
 * collect: the agent's collectors of Host and State (docs/protocol.md §2.1, §2.2, §3.3),
 * reading the kernel's own files under a configurable root (default "/").
 * One collector per source file (collect_<source>.c) listed in a table; a
 * collector that fails logs once and backs off, it never takes the agent down.
 *
 * Memory: the collector owns fixed storage for the last Host and State; no
 * heap allocation happens in collect_state() after the first call
 * (steady-state report loop, issue 3 item 5).
 *
 * Threading: single thread (the agent loop).
 */
#ifndef LOTUS_AGENT_COLLECT_H
#define LOTUS_AGENT_COLLECT_H

#include <stddef.h>
#include <stdint.h>

struct Proto__Host;
struct Proto__State;
struct collector;

struct collect_opts {
    const char *root;             /* filesystem root, "/" by default; borrowed for collector life */
    int skip_conn;                /* report 0 TCP/UDP connections */
    int skip_procs;               /* report 0 processes */
    int temperature;              /* collect temperatures */
    int gpu;                      /* collect GPU model names / utilisation */
    const char *const *nic_allow; /* interface allow-list (NULL/0 = default rules); borrowed */
    size_t n_nic_allow;
    const char *const *disk_allow; /* mount-point allow-list (NULL/0 = default rules); borrowed */
    size_t n_disk_allow;
};

/*
 * Owned by the caller (free with collect_free). opts copied (pointed-to
 * strings borrowed). Never NULL (aborts on OOM). Detects virtualization and
 * boot time, and takes the first /proc/stat and /proc/net/dev readings so the
 * first collect_state() reports CPU % over the time since collect_new().
 * A missing root is not an error here: the collectors then fail and disable
 * themselves.
 */
struct collector *collect_new(const struct collect_opts *opts);
/* Closes every kept-open file; c may be NULL. */
void collect_free(struct collector *c);

/*
 * Collects the Host message. ip (public "v4/v6" string, may be "" or NULL) and
 * version (agent version) are borrowed and referenced by the result.
 * The result is owned by the collector and valid until the next collect_host().
 */
const struct Proto__Host *collect_host(struct collector *c, const char *ip, const char *version);

/*
 * Collects the State message (CPU % and speeds as deltas since the previous
 * call; now_mono_ms is a monotonic clock in ms used for the speed divisor:
 * whole seconds since the speed baseline; under 1 s the speeds are repeated).
 * Uptime uses the boot time of the last collect_host() (or collect_new()).
 * A collector failing 3 times in a row is disabled (logged once); its fields
 * stay 0. The result is owned by the collector and valid until the next
 * collect_state().
 */
const struct Proto__State *collect_state(struct collector *c, uint64_t now_mono_ms);

#endif
