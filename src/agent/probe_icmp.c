/*
 * probe_icmp: task type 2 (ICMP ping, docs/protocol.md §3.5): resolve the
 * target (first address, IPv4 or IPv6), send PROBE_ICMP_COUNT echo requests
 * PROBE_ICMP_INTERVAL_MS apart (the first at once) and wait for the replies,
 * PROBE_ICMP_TIMEOUT_MS overall. delay = the mean RTT of the replies; none =
 * failure "pockets recv 0" (v0's text).
 *
 * Socket: an unprivileged ICMP datagram socket (SOCK_DGRAM + IPPROTO_ICMP /
 * IPPROTO_ICMPV6; allowed when the group is in net.ipv4.ping_group_range; the
 * kernel owns the echo id then and delivers only our replies), else a raw
 * socket (root or CAP_NET_RAW; our id is checked and the IPv4 header
 * skipped). Non-blocking, watched with uv_poll; closed after the poll handle.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/probe_int.h"

static void maybe_done(struct probe *p)
{
    struct probe_icmp *c = &p->u.icmp;
    if (c->gai_busy || c->poll_open || c->timers_open)
        return;
    probe_done(p);
}

static void on_poll_closed(uv_handle_t *h)
{
    struct probe *p = h->data;
    close(p->u.icmp.fd);
    p->u.icmp.fd = -1;
    p->u.icmp.poll_open = 0;
    maybe_done(p);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct probe *p = h->data;
    p->u.icmp.timers_open--;
    maybe_done(p);
}

/* Decides (once): replies -> success with the mean RTT, else p->data (an error) or v0's text. */
static void finish(struct probe *p)
{
    struct probe_icmp *c = &p->u.icmp;
    if (c->decided)
        return;
    c->decided = 1;
    if (c->replies > 0) {
        double rtt[PROBE_ICMP_COUNT];
        size_t n = 0;
        for (int i = 0; i < PROBE_ICMP_COUNT; i++)
            if (c->got[i])
                rtt[n++] = c->rtt[i];
        p->ok = 1;
        p->data[0] = '\0';
        p->delay_ms = probe_rtt_avg(rtt, n);
    } else if (!p->data[0]) {
        probe_set_data(p, "%s", PROBE_MSG_ICMP_NONE);
    }
    if (c->gai_busy)
        uv_cancel((uv_req_t *)&c->gai);
    if (c->poll_open && !uv_is_closing((uv_handle_t *)&c->poll))
        uv_close((uv_handle_t *)&c->poll, on_poll_closed);
    if (!uv_is_closing((uv_handle_t *)&c->tick))
        uv_close((uv_handle_t *)&c->tick, on_timer_closed);
    if (!uv_is_closing((uv_handle_t *)&c->deadline))
        uv_close((uv_handle_t *)&c->deadline, on_timer_closed);
    maybe_done(p);
}

static void send_echo(struct probe *p)
{
    struct probe_icmp *c = &p->u.icmp;
    uint8_t pkt[PROBE_ICMP_PKT];
    int seq = c->sent++;
    size_t n = probe_icmp_build(pkt, c->v6, c->id, (uint16_t)seq);
    c->sent_ns[seq] = uv_hrtime();
    ssize_t w = sendto(c->fd, pkt, n, 0, (const struct sockaddr *)&c->dst, c->dstlen);
    if (w < 0 && seq == 0)
        probe_set_data(p, "sendto %s: %s", c->host, uv_strerror(-errno));
    if (c->sent >= PROBE_ICMP_COUNT)
        uv_timer_stop(&c->tick);
}

static void on_tick(uv_timer_t *t)
{
    struct probe *p = t->data;
    if (!p->u.icmp.decided && p->u.icmp.sent < PROBE_ICMP_COUNT)
        send_echo(p);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    struct probe *p = h->data;
    struct probe_icmp *c = &p->u.icmp;
    (void)events;
    if (c->decided)
        return;
    if (status < 0) {
        probe_set_data(p, "ICMP socket: %s", uv_strerror(status));
        finish(p);
        return;
    }
    for (int i = 0; i < 64; i++) {
        uint8_t buf[1500];
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
        if (n < 0)
            break; /* EAGAIN, or an ICMP error queued for the socket: the deadline handles it */
        uint16_t seq;
        int with_ip = c->raw && !c->v6;
        if (probe_icmp_parse(buf, (size_t)n, c->v6, with_ip, c->raw, c->id, &seq) != 0)
            continue;
        if (seq >= (uint16_t)c->sent || c->got[seq])
            continue;
        c->got[seq] = 1;
        c->rtt[seq] = (double)(uv_hrtime() - c->sent_ns[seq]) / 1e6;
        if (++c->replies >= PROBE_ICMP_COUNT) {
            finish(p);
            return;
        }
    }
}

static void on_deadline(uv_timer_t *t)
{
    finish(t->data);
}

/* Opens the ICMP socket for family: datagram first, raw second. The fd, or -errno. */
static int open_socket(int family, int *raw)
{
    int proto = family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    *raw = 0;
    if (fd >= 0)
        return fd;
    int e = errno;
    fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    if (fd >= 0) {
        *raw = 1;
        return fd;
    }
    return -(e == EACCES || e == EPERM ? e : errno);
}

static void on_gai(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct probe *p = req->data;
    struct probe_icmp *c = &p->u.icmp;
    c->gai_busy = 0;
    if (c->decided) {
        uv_freeaddrinfo(res);
        maybe_done(p);
        return;
    }
    if (status < 0 || !res) {
        uv_freeaddrinfo(res);
        probe_set_data(p, "lookup %s: %s", c->host,
                       uv_strerror(status < 0 ? status : UV_EAI_NODATA));
        finish(p);
        return;
    }
    c->v6 = res->ai_family == AF_INET6;
    c->dstlen = (socklen_t)res->ai_addrlen;
    memcpy(&c->dst, res->ai_addr, res->ai_addrlen);
    uv_freeaddrinfo(res);
    int fd = open_socket(c->v6 ? AF_INET6 : AF_INET, &c->raw);
    if (fd < 0) {
        probe_set_data(p,
                       "ICMP socket: %s (allow unprivileged ping with sysctl "
                       "net.ipv4.ping_group_range, or run as root)",
                       uv_strerror(fd));
        finish(p);
        return;
    }
    c->fd = fd;
    c->id = (uint16_t)(uv_hrtime() ^ (uint64_t)(uintptr_t)p);
    int rc = uv_poll_init_socket(p->loop, &c->poll, fd);
    if (rc < 0) {
        close(fd);
        c->fd = -1;
        probe_set_data(p, "ICMP socket: %s", uv_strerror(rc));
        finish(p);
        return;
    }
    c->poll.data = p;
    c->poll_open = 1;
    uv_poll_start(&c->poll, UV_READABLE, on_readable);
    send_echo(p);
    if (p->data[0]) { /* the first send failed: the route is unusable */
        finish(p);
        return;
    }
    uv_timer_start(&c->tick, on_tick, PROBE_ICMP_INTERVAL_MS, PROBE_ICMP_INTERVAL_MS);
}

void probe_icmp_start(struct probe *p, const char *data, size_t len)
{
    struct probe_icmp *c = &p->u.icmp;
    char err[96];
    c->fd = -1;
    uv_timer_init(p->loop, &c->tick);
    uv_timer_init(p->loop, &c->deadline);
    c->tick.data = c->deadline.data = p;
    c->timers_open = 2;
    if (probe_host_parse(data, len, c->host, sizeof(c->host), err, sizeof(err)) != 0) {
        probe_set_data(p, "%s", err);
        finish(p);
        return;
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    c->gai.data = p;
    int rc = uv_getaddrinfo(p->loop, &c->gai, on_gai, c->host, NULL, &hints);
    if (rc < 0) {
        probe_set_data(p, "lookup %s: %s", c->host, uv_strerror(rc));
        finish(p);
        return;
    }
    c->gai_busy = 1;
    uv_timer_start(&c->deadline, on_deadline, PROBE_ICMP_TIMEOUT_MS, 0);
}

void probe_icmp_stop(struct probe *p)
{
    finish(p);
}
