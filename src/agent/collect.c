/*
 * collect: the collector table and the Host/State assembly (docs/protocol.md §2.1, §2.2).
 * Everything the collectors keep (open fds, baselines, strings, repeated
 * fields) lives inside the one struct collector allocated by collect_new(),
 * so collect_state() allocates nothing.
 */
#include "collect.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collect_int.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "core/clock.h"

static const struct {
    const char *name;
    collect__state_cb fn;
} state_table[COLLECT_N_STATE] = {
    {"cpu", collect__cpu_state},          {"mem", collect__mem_state},
    {"disk", collect__disk_state},        {"net", collect__net_state},
    {"load", collect__load_state},        {"uptime", collect__uptime_state},
    {"conn", collect__conn_state},        {"proc", collect__proc_state},
    {"temperature", collect__temp_state}, {"gpu", collect__gpu_state},
};

struct collector *collect_new(const struct collect_opts *opts)
{
    struct collector *c = xcalloc(1, sizeof(*c));
    c->opts = *opts;
    if (!c->opts.root || !c->opts.root[0])
        c->opts.root = "/";
    c->root_is_slash = strcmp(c->opts.root, "/") == 0;
    for (size_t i = 0; i < opts->n_nic_allow && c->n_nic_allow < COLLECT_NICS_MAX; i++) {
        if (opts->nic_allow[i] && opts->nic_allow[i][0])
            c->nic_allow[c->n_nic_allow++] = opts->nic_allow[i];
    }
    if (opts->n_nic_allow > COLLECT_NICS_MAX)
        log_warn("interface allow-list has %zu entries, only the first %d are used",
                 opts->n_nic_allow, COLLECT_NICS_MAX);
    c->opts.nic_allow = c->nic_allow;
    c->opts.n_nic_allow = c->n_nic_allow;
    if (!opts->disk_allow)
        c->opts.n_disk_allow = 0;

    Proto__Host h = PROTO__HOST__INIT;
    Proto__State s = PROTO__STATE__INIT;
    c->host = h;
    c->state = s;
    c->conn.nl = -1;
    c->proc_dir = -1;
    procfile_init(&c->cpu.stat);
    procfile_init(&c->meminfo);
    procfile_init(&c->loadavg);
    procfile_init(&c->uptime);
    procfile_init(&c->disk.table);
    procfile_init(&c->net.dev);
    procfile_init(&c->gpu.busy);
    procfile_init(&c->conn.sockstat);
    procfile_init(&c->conn.sockstat6);
    const char *root = c->opts.root;
    if (procfile_set(&c->cpu.stat, root, "/proc/stat") ||
        procfile_set(&c->meminfo, root, "/proc/meminfo") ||
        procfile_set(&c->loadavg, root, "/proc/loadavg") ||
        procfile_set(&c->uptime, root, "/proc/uptime") ||
        procfile_set(&c->disk.table, root, "/proc/self/mountinfo") ||
        procfile_set(&c->net.dev, root, "/proc/net/dev") ||
        procfile_set(&c->conn.sockstat, root, "/proc/net/sockstat") ||
        procfile_set(&c->conn.sockstat6, root, "/proc/net/sockstat6"))
        log_error("collector root \"%s\" is too long; collectors will fail", root);
    c->disk.fmt = COLLECT_MOUNTINFO;

    /* Virtualization decides boot time and CPU kinds; prime the delta-based collectors. */
    collect__os_detect(c);
    if (collect__uptime_boot(c, &c->boot_time))
        c->boot_time = 0;
    uint64_t now = clock_mono_ms();
    collect__cpu_prime(c, now);
    collect__net_prime(c, now);
    return c;
}

void collect_free(struct collector *c)
{
    if (!c)
        return;
    procfile_close(&c->cpu.stat);
    procfile_close(&c->meminfo);
    procfile_close(&c->loadavg);
    procfile_close(&c->uptime);
    procfile_close(&c->disk.table);
    procfile_close(&c->net.dev);
    collect__conn_close(c);
    collect__temp_close(c);
    collect__gpu_close(c);
    if (c->proc_dir >= 0)
        close(c->proc_dir);
    free(c);
}

const struct Proto__Host *collect_host(struct collector *c, const char *ip, const char *version)
{
    Proto__Host *h = &c->host;
    Proto__Host init = PROTO__HOST__INIT;
    *h = init;
    collect__os_detect(c);
    h->platform = c->os.platform;
    h->platform_version = c->os.version;
    h->arch = c->os.arch;
    h->virtualization = c->os.guest ? c->os.virt_system : (char *)"";
    int rc;
    if ((rc = collect__cpu_host(c, h)) < 0)
        log_debug("host collector \"cpu\" failed: %s", strerror(-rc));
    if ((rc = collect__mem_host(c, h)) < 0)
        log_debug("host collector \"mem\" failed: %s", strerror(-rc));
    if ((rc = collect__disk_host(c, h)) < 0)
        log_debug("host collector \"disk\" failed: %s", strerror(-rc));
    uint64_t boot;
    if (collect__uptime_boot(c, &boot) == 0)
        c->boot_time = boot;
    h->boot_time = c->boot_time;
    collect__gpu_host(c, h);
    h->ip = (char *)(ip ? ip : "");
    h->version = (char *)(version ? version : "");
    if (h->n_cpu == 0)
        h->cpu = NULL;
    return h;
}

const struct Proto__State *collect_state(struct collector *c, uint64_t now_mono_ms)
{
    Proto__State *s = &c->state;
    Proto__State init = PROTO__STATE__INIT;
    *s = init;
    for (size_t i = 0; i < COLLECT_N_STATE; i++) {
        struct collect__status *st = &c->status[i];
        if (st->disabled)
            continue;
        int rc = state_table[i].fn(c, s, now_mono_ms);
        if (rc == 0) {
            st->fails = 0;
            continue;
        }
        if (++st->fails >= COLLECT_FAIL_LIMIT) {
            st->disabled = 1;
            log_warn("collector \"%s\" failed %d times in a row (%s), disabled",
                     state_table[i].name, COLLECT_FAIL_LIMIT, strerror(-rc));
        }
    }
    return s;
}
