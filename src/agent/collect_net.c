/*
 * collect_net: transfer counters and speeds from /proc/net/dev (docs/protocol.md §2.2
 * rows 6-9, §3.3). Interfaces count unless their name STARTS WITH one of the
 * excluded prefixes (the reference tests "contains", which also drops e.g.
 * wlo1; docs/compatibility.md), or exactly those of a non-empty allow-list.
 *
 * Speed = Δbytes / whole seconds since the baseline, integer division. With
 * less than a second elapsed the speeds stay unchanged and the baseline is
 * kept, so no bytes are lost from the next interval; a counter that went
 * backwards (interface gone, counter reset) gives speed 0.
 */
#include "collect_int.h"

#include <errno.h>
#include <string.h>

static const char *const nic_excluded[] = {"lo",  "tun",  "docker", "veth",
                                           "br-", "vmbr", "vnet",   "kube"};

int collect__nic_counted(const char *name, size_t len, const char *const *allow, size_t n_allow)
{
    if (n_allow > 0) {
        for (size_t i = 0; i < n_allow; i++) {
            if (strlen(allow[i]) == len && memcmp(allow[i], name, len) == 0)
                return 1;
        }
        return 0;
    }
    for (size_t i = 0; i < sizeof(nic_excluded) / sizeof(nic_excluded[0]); i++) {
        size_t pl = strlen(nic_excluded[i]);
        if (len >= pl && memcmp(name, nic_excluded[i], pl) == 0)
            return 0;
    }
    return len > 0;
}

int collect__parse_netdev(const char *buf, size_t len, const char *const *allow, size_t n_allow,
                          uint64_t *rx, uint64_t *tx, unsigned *n_ifaces)
{
    const char *cur = buf;
    const char *end = buf + len;
    struct slice line, name, rest;
    int parsed = 0;
    *rx = 0;
    *tx = 0;
    *n_ifaces = 0;
    while (procfile_line(&cur, end, &line)) {
        if (procfile_kv(line, ':', &name, &rest))
            continue; /* the two header lines have no ':' */
        struct slice f[16];
        size_t n = procfile_fields(rest, f, 16);
        uint64_t r, t;
        if (n < 9 || procfile_u64(f[0], &r) || procfile_u64(f[8], &t))
            continue;
        parsed = 1;
        if (!collect__nic_counted(name.ptr, name.len, allow, n_allow))
            continue;
        *rx += r;
        *tx += t;
        (*n_ifaces)++;
    }
    return parsed ? 0 : -EINVAL;
}

static int read_counters(struct collector *c, uint64_t *rx, uint64_t *tx)
{
    size_t len;
    unsigned n;
    int rc = procfile_read(&c->net.dev, c->scratch, sizeof(c->scratch), &len);
    if (rc < 0)
        return rc;
    return collect__parse_netdev(c->scratch, len, c->nic_allow, c->n_nic_allow, rx, tx, &n);
}

int collect__net_prime(struct collector *c, uint64_t now_mono_ms)
{
    int rc = read_counters(c, &c->net.prev_rx, &c->net.prev_tx);
    c->net.prev_ms = now_mono_ms;
    c->net.primed = rc == 0;
    return rc;
}

int collect__net_state(struct collector *c, Proto__State *st, uint64_t now_mono_ms)
{
    struct collect__net *n = &c->net;
    uint64_t rx, tx;
    int rc = read_counters(c, &rx, &tx);
    if (rc)
        return rc;
    st->net_in_transfer = rx;
    st->net_out_transfer = tx;
    if (!n->primed) {
        n->prev_rx = rx;
        n->prev_tx = tx;
        n->prev_ms = now_mono_ms;
        n->primed = 1;
    } else {
        uint64_t secs = now_mono_ms > n->prev_ms ? (now_mono_ms - n->prev_ms) / 1000 : 0;
        if (secs > 0) {
            n->in_speed = rx >= n->prev_rx ? (rx - n->prev_rx) / secs : 0;
            n->out_speed = tx >= n->prev_tx ? (tx - n->prev_tx) / secs : 0;
            n->prev_rx = rx;
            n->prev_tx = tx;
            n->prev_ms = now_mono_ms;
        }
    }
    st->net_in_speed = n->in_speed;
    st->net_out_speed = n->out_speed;
    return 0;
}
