/*
 * probe_tcp: task type 3 (TCP ping, docs/protocol.md §3.5): resolve
 * "host:port", connect to the first address with a 10 s deadline over both,
 * close. delay = ms from the start to the connect (resolving included, as
 * v0's net.DialTimeout). Texts follow Go's dial errors.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "agent/probe_int.h"

static void maybe_done(struct probe *p)
{
    struct probe_tcp *t = &p->u.tcp;
    if (t->gai_busy || t->tcp_open || t->timer_open)
        return;
    probe_done(p);
}

static void on_tcp_closed(uv_handle_t *h)
{
    struct probe *p = h->data;
    p->u.tcp.tcp_open = 0;
    maybe_done(p);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct probe *p = h->data;
    p->u.tcp.timer_open = 0;
    maybe_done(p);
}

/* Decides (once) and closes everything; probe_done follows from the close callbacks. */
static void finish(struct probe *p)
{
    struct probe_tcp *t = &p->u.tcp;
    if (t->decided)
        return;
    t->decided = 1;
    if (t->gai_busy)
        uv_cancel((uv_req_t *)&t->gai); /* its callback still runs */
    if (t->tcp_open && !uv_is_closing((uv_handle_t *)&t->tcp))
        uv_close((uv_handle_t *)&t->tcp, on_tcp_closed);
    if (t->timer_open && !uv_is_closing((uv_handle_t *)&t->timer))
        uv_close((uv_handle_t *)&t->timer, on_timer_closed);
    maybe_done(p);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct probe *p = req->data;
    struct probe_tcp *t = &p->u.tcp;
    if (t->decided)
        return;
    if (status == 0) {
        p->delay_ms = probe_elapsed_ms(p);
        p->ok = 1;
    } else {
        probe_set_data(p, "dial tcp %s: connect: %s", t->target, uv_strerror(status));
    }
    finish(p);
}

static void on_gai(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct probe *p = req->data;
    struct probe_tcp *t = &p->u.tcp;
    t->gai_busy = 0;
    if (t->decided || status < 0 || !res) {
        uv_freeaddrinfo(res);
        if (t->decided) {
            maybe_done(p); /* finish ran before: this was the last thing outstanding */
            return;
        }
        probe_set_data(p, "dial tcp: lookup %s: %s", t->host,
                       uv_strerror(status < 0 ? status : UV_EAI_NODATA));
        finish(p);
        return;
    }
    int rc = uv_tcp_init(p->loop, &t->tcp);
    if (rc == 0) {
        t->tcp_open = 1;
        t->tcp.data = p;
        t->conn.data = p;
        rc = uv_tcp_connect(&t->conn, &t->tcp, res->ai_addr, on_connect);
    }
    uv_freeaddrinfo(res);
    if (rc < 0) {
        probe_set_data(p, "dial tcp %s: %s", t->target, uv_strerror(rc));
        finish(p);
    }
}

static void on_timeout(uv_timer_t *tm)
{
    struct probe *p = tm->data;
    probe_set_data(p, "dial tcp %s: i/o timeout", p->u.tcp.target);
    finish(p);
}

void probe_tcp_start(struct probe *p, const char *data, size_t len)
{
    struct probe_tcp *t = &p->u.tcp;
    char err[96];
    uv_timer_init(p->loop, &t->timer);
    t->timer.data = p;
    t->timer_open = 1;
    if (probe_hostport_parse(data, len, t->host, sizeof(t->host), &t->port, err, sizeof(err)) !=
        0) {
        probe_set_data(p, "%s", err);
        finish(p);
        return;
    }
    snprintf(t->target, sizeof(t->target), strchr(t->host, ':') ? "[%s]:%d" : "%s:%d", t->host,
             t->port);
    char port[8];
    snprintf(port, sizeof(port), "%d", t->port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    t->gai.data = p;
    int rc = uv_getaddrinfo(p->loop, &t->gai, on_gai, t->host, port, &hints);
    if (rc < 0) {
        probe_set_data(p, "dial tcp: lookup %s: %s", t->host, uv_strerror(rc));
        finish(p);
        return;
    }
    t->gai_busy = 1;
    uv_timer_start(&t->timer, on_timeout, PROBE_TCP_TIMEOUT_MS, 0);
}

void probe_tcp_stop(struct probe *p)
{
    finish(p);
}
