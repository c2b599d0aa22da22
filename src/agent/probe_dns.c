/*
 * probe_dns: task type 102 (Lotus DNS check, issue #14): uv_getaddrinfo of
 * the name (A = AF_INET, AAAA = AF_INET6, ANY or none = AF_UNSPEC) with a
 * 10 s deadline. delay = resolve ms; success iff at least one answer (and the
 * expected address among them); data = the answers joined by ','.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "agent/probe_int.h"

static void maybe_done(struct probe *p)
{
    struct probe_dns *d = &p->u.dns;
    if (d->gai_busy || d->timer_open)
        return;
    probe_done(p);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct probe *p = h->data;
    p->u.dns.timer_open = 0;
    maybe_done(p);
}

static void finish(struct probe *p)
{
    struct probe_dns *d = &p->u.dns;
    if (d->decided)
        return;
    d->decided = 1;
    if (d->gai_busy)
        uv_cancel((uv_req_t *)&d->gai); /* its callback still runs */
    if (d->timer_open && !uv_is_closing((uv_handle_t *)&d->timer))
        uv_close((uv_handle_t *)&d->timer, on_timer_closed);
    maybe_done(p);
}

static void on_gai(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct probe *p = req->data;
    struct probe_dns *d = &p->u.dns;
    d->gai_busy = 0;
    if (d->decided) {
        uv_freeaddrinfo(res);
        maybe_done(p); /* finish ran before: this was the last thing outstanding */
        return;
    }
    {
        p->delay_ms = probe_elapsed_ms(p);
        char answers[PROBE_DNS_ANSWERS + 1];
        int found = 0;
        int n =
            status == 0 ? probe_dns_answers(res, &d->spec, answers, sizeof(answers), &found) : 0;
        if (status < 0)
            probe_set_data(p, "lookup %s: %s", d->spec.name, uv_strerror(status));
        else if (n == 0)
            probe_set_data(p, "lookup %s: no answers", d->spec.name);
        else if (d->spec.expect_family && !found)
            probe_set_data(p, "expected %s, got %s", d->spec.expect_text, answers);
        else {
            probe_set_data(p, "%s", answers);
            p->ok = 1;
        }
    }
    uv_freeaddrinfo(res);
    finish(p);
}

static void on_timeout(uv_timer_t *t)
{
    struct probe *p = t->data;
    probe_set_data(p, "lookup %s: timeout after %d s", p->u.dns.spec.name,
                   PROBE_DNS_TIMEOUT_MS / 1000);
    finish(p);
}

void probe_dns_start(struct probe *p, const char *data, size_t len)
{
    struct probe_dns *d = &p->u.dns;
    char err[96];
    uv_timer_init(p->loop, &d->timer);
    d->timer.data = p;
    d->timer_open = 1;
    if (probe_dns_spec_parse(data, len, &d->spec, err, sizeof(err)) != 0) {
        probe_set_data(p, "%s", err);
        finish(p);
        return;
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = d->spec.family;
    hints.ai_socktype = SOCK_STREAM; /* one entry per address */
    d->gai.data = p;
    int rc = uv_getaddrinfo(p->loop, &d->gai, on_gai, d->spec.name, NULL, &hints);
    if (rc < 0) {
        probe_set_data(p, "lookup %s: %s", d->spec.name, uv_strerror(rc));
        finish(p);
        return;
    }
    d->gai_busy = 1;
    uv_timer_start(&d->timer, on_timeout, PROBE_DNS_TIMEOUT_MS, 0);
}

void probe_dns_stop(struct probe *p)
{
    finish(p);
}
