/*
 * collect_gpu: GPU model names (Host.gpu) and utilisation (State.gpu),
 * docs/protocol.md §2.1 row 13 and §2.2 row 18, only with --gpu.
 *
 * Names: PCI devices under root/sys/bus/pci/devices whose class is 0x03xxxx
 * (display controllers), in PCI address order, named by the product line of
 * root/usr/share/misc/pci.ids (or /usr/share/hwdata/pci.ids) and otherwise
 * "vvvv:dddd" in hex. Utilisation: the agent never spawns processes in its
 * report loop, so instead of nvidia-smi/rocm-smi it reads the first
 * root/sys/class/drm/card*\/device/gpu_busy_percent (amdgpu; also i915/xe
 * where exposed), else reports 0 (docs/compatibility.md).
 */
#include "collect_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/ascii.h"

/* Four hex digits at p (len ≥ 4) → value, or -1. */
static int hex4(const char *p, size_t len)
{
    if (len < 4)
        return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int d = ascii_hexval(p[i]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

void collect__pciids_line(struct collect__pciids *st, const char *line, size_t len)
{
    if (st->found || len == 0 || line[0] == '#')
        return;
    if (line[0] != '\t') {
        /* Vendor line "vvvv  Name", or a class section "C 03  ..." (never matches). */
        st->in_vendor = hex4(line, len) == (int)st->vendor && len > 4 && line[4] == ' ';
        return;
    }
    if (!st->in_vendor || len < 2 || line[1] == '\t')
        return; /* other vendor, or a subsystem line */
    if (hex4(line + 1, len - 1) != (int)st->device || len < 6 || line[5] != ' ')
        return;
    struct slice name = procfile_trim((struct slice){line + 5, len - 5});
    procfile_copy(name, st->name, sizeof(st->name));
    st->found = 1;
}

/* Streams one pci.ids file through c->scratch; returns 1 if the device was named. */
static int pciids_lookup(struct collector *c, const char *rel, struct collect__pciids *st)
{
    char path[PROCFILE_PATH_MAX];
    if (procfile_path(path, sizeof(path), c->opts.root, rel))
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t have = 0;
    for (;;) {
        ssize_t r = read(fd, c->scratch + have, sizeof(c->scratch) - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        have += (size_t)r;
        const char *cur = c->scratch;
        const char *end = c->scratch + have;
        const char *nl;
        while (!st->found && (nl = memchr(cur, '\n', (size_t)(end - cur))) != NULL) {
            collect__pciids_line(st, cur, (size_t)(nl - cur));
            cur = nl + 1;
        }
        if (st->found)
            break;
        have = (size_t)(end - cur);
        if (have == sizeof(c->scratch))
            have = 0; /* an absurdly long line: dropped */
        memmove(c->scratch, cur, have);
    }
    if (!st->found && have > 0)
        collect__pciids_line(st, c->scratch, have);
    close(fd);
    return st->found;
}

static int read_hex_id(struct collector *c, const char *dev, const char *file, unsigned *out)
{
    char rel[PROCFILE_PATH_MAX], buf[32];
    size_t len;
    if ((size_t)snprintf(rel, sizeof(rel), "/sys/bus/pci/devices/%s/%s", dev, file) >= sizeof(rel))
        return -ENAMETOOLONG;
    if (procfile_slurp(c->opts.root, rel, buf, sizeof(buf), &len) < 0)
        return -ENOENT;
    struct slice s = procfile_trim((struct slice){buf, len});
    if (s.len < 3 || s.ptr[0] != '0' || (s.ptr[1] != 'x' && s.ptr[1] != 'X') || s.len > 10)
        return -EINVAL;
    unsigned v = 0;
    for (size_t i = 2; i < s.len; i++) {
        int d = ascii_hexval(s.ptr[i]);
        if (d < 0)
            return -EINVAL;
        v = v * 16 + (unsigned)d;
    }
    *out = v;
    return 0;
}

#define GPU_SCAN_MAX 256 /* PCI devices examined */

static int cmp_names(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static void discover_names(struct collector *c)
{
    struct collect__gpu *g = &c->gpu;
    char path[PROCFILE_PATH_MAX];
    char devs[COLLECT_GPUS_MAX][64];
    size_t nd = 0, seen = 0;
    g->n = 0;
    if (procfile_path(path, sizeof(path), c->opts.root, "/sys/bus/pci/devices"))
        return;
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && seen++ < GPU_SCAN_MAX) {
        unsigned cls;
        if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof(devs[0]))
            continue;
        if (read_hex_id(c, e->d_name, "class", &cls) || (cls >> 16) != 0x03)
            continue;
        if (nd < COLLECT_GPUS_MAX)
            memcpy(devs[nd++], e->d_name, strlen(e->d_name) + 1); /* length checked above */
    }
    closedir(d);
    qsort(devs, nd, sizeof(devs[0]), cmp_names);
    for (size_t i = 0; i < nd; i++) {
        unsigned vendor = 0, device = 0;
        if (read_hex_id(c, devs[i], "vendor", &vendor) ||
            read_hex_id(c, devs[i], "device", &device))
            continue;
        struct collect__pciids st = {.vendor = vendor & 0xffff, .device = device & 0xffff};
        if (pciids_lookup(c, "/usr/share/misc/pci.ids", &st) ||
            pciids_lookup(c, "/usr/share/hwdata/pci.ids", &st))
            snprintf(g->name[g->n], sizeof(g->name[0]), "%s", st.name);
        else
            snprintf(g->name[g->n], sizeof(g->name[0]), "%04x:%04x", st.vendor, st.device);
        g->ptr[g->n] = g->name[g->n];
        g->n++;
    }
}

int collect__gpu_host(struct collector *c, Proto__Host *h)
{
    h->n_gpu = 0;
    h->gpu = NULL;
    if (!c->opts.gpu)
        return 0;
    discover_names(c);
    h->n_gpu = c->gpu.n;
    h->gpu = c->gpu.n ? c->gpu.ptr : NULL;
    return 0;
}

static void discover_busy(struct collector *c)
{
    char path[PROCFILE_PATH_MAX], rel[PROCFILE_PATH_MAX], best[64] = "";
    c->gpu.discovered = 1;
    if (procfile_path(path, sizeof(path), c->opts.root, "/sys/class/drm"))
        return;
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        /* cardN only (not cardN-HDMI-A-1 connectors); the lowest N wins. */
        if (strncmp(e->d_name, "card", 4) != 0 || strchr(e->d_name, '-') ||
            strlen(e->d_name) >= sizeof(best))
            continue;
        snprintf(rel, sizeof(rel), "/sys/class/drm/%s/device/gpu_busy_percent", e->d_name);
        if (!procfile_exists(c->opts.root, rel, 0))
            continue;
        if (best[0] == '\0' || strlen(e->d_name) < strlen(best) ||
            (strlen(e->d_name) == strlen(best) && strcmp(e->d_name, best) < 0))
            memcpy(best, e->d_name, strlen(e->d_name) + 1); /* length checked above */
    }
    closedir(d);
    if (best[0]) {
        snprintf(rel, sizeof(rel), "/sys/class/drm/%s/device/gpu_busy_percent", best);
        procfile_set(&c->gpu.busy, c->opts.root, rel);
    }
}

int collect__gpu_state(struct collector *c, Proto__State *st, uint64_t now_mono_ms)
{
    if (!c->opts.gpu)
        return 0;
    if (!c->gpu.discovered)
        discover_busy(c);
    if (c->gpu.busy.path[0] == '\0')
        return 0; /* no readable utilisation: 0, like the reference without a tool */
    char buf[32];
    size_t len;
    uint64_t v;
    int rc = procfile_read(&c->gpu.busy, buf, sizeof(buf), &len);
    if (rc < 0)
        return rc;
    if (procfile_u64(procfile_trim((struct slice){buf, len}), &v))
        return -EINVAL;
    st->gpu = v > 100 ? 100 : (double)v;
    return 0;
}

void collect__gpu_close(struct collector *c)
{
    procfile_close(&c->gpu.busy);
}
