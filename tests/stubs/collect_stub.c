/*
 * THROW-AWAY stand-in for src/agent/collect*.c (contract: src/agent/collect.h)
 * so the agent links before the real collectors land. Returns fixed Host and
 * State messages. Never compiled into the real binary; delete at merge.
 */
#include "agent/collect.h"

#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "nezha_v0.pb-c.h"

struct collector {
    Proto__Host host;
    Proto__State state;
    char *cpu[1];
};

struct collector *collect_new(const struct collect_opts *opts)
{
    struct collector *c = xcalloc(1, sizeof(*c));
    proto__host__init(&c->host);
    proto__state__init(&c->state);
    c->cpu[0] = (char *)"Stub CPU 2 Virtual Core";
    c->host.platform = (char *)"debian";
    c->host.platform_version = (char *)"12";
    c->host.cpu = c->cpu;
    c->host.n_cpu = 1;
    c->host.mem_total = 1024u * 1024u * 1024u;
    c->host.arch = (char *)"x86_64";
    c->host.boot_time = 1700000000u;
    (void)opts;
    return c;
}

void collect_free(struct collector *c)
{
    free(c);
}

const struct Proto__Host *collect_host(struct collector *c, const char *ip, const char *version)
{
    c->host.ip = (char *)(ip ? ip : "");
    c->host.version = (char *)version;
    return &c->host;
}

const struct Proto__State *collect_state(struct collector *c, uint64_t now_mono_ms)
{
    c->state.cpu = 12.5;
    c->state.mem_used = 1024;
    c->state.uptime = now_mono_ms / 1000u;
    return &c->state;
}
