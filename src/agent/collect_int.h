/*
 * collect internals shared by collect.c and the collect_<source>.c files
 * (STYLE rule 2: module__name). Not part of the agent's public surface; the
 * unit tests and the fuzz driver use the pure parsers declared here.
 *
 * All parsers are pure functions of (buf, len): no NUL terminator needed, no
 * I/O, no allocation. They never index a field they have not counted.
 */
#ifndef LOTUS_AGENT_COLLECT_INT_H
#define LOTUS_AGENT_COLLECT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "agent/collect.h"
#include "agent/procfile.h"
#include "nezha_v0.pb-c.h"

/* The shared read buffer; of a larger file the complete lines that fit are parsed. */
#define COLLECT_SCRATCH_MAX    (128 * 1024)
#define COLLECT_FAIL_LIMIT     3           /* consecutive failures before a collector is disabled */
#define COLLECT_CPU_MODELS_MAX 8           /* distinct CPU model strings */
#define COLLECT_MODEL_MAX      160         /* one CPU model entry incl. " <N> Virtual Core" */
#define COLLECT_MOUNTS_MAX     64          /* selected partitions */
#define COLLECT_MOUNT_MAX      256         /* mount point / device string */
#define COLLECT_NICS_MAX       64          /* allow-list entries honoured */
#define COLLECT_TEMPS_MAX      32          /* temperature sensors */
#define COLLECT_SENSOR_MAX     64          /* sensor key */
#define COLLECT_GPUS_MAX       8           /* GPU model names */
#define COLLECT_GPU_NAME_MAX   128         /* one GPU model name */
#define COLLECT_SHORT_MAX      64          /* platform, version, arch, virtualization */
#define COLLECT_NL_BUF         (32 * 1024) /* netlink receive buffer */

/* ---- pure parsers ---- */

/* Aggregate CPU ticks: total excludes guest/guest_nice; busy = total - idle - iowait. */
struct collect__cpu_times {
    uint64_t total;
    uint64_t busy;
};
/*
 * /proc/stat: fills *cpu from the aggregate "cpu" line and *btime from "btime"
 * (0 if absent). Returns 0, or -EINVAL when the cpu line is missing or has
 * fewer than 4 numeric fields.
 */
int collect__parse_stat(const char *buf, size_t len, struct collect__cpu_times *cpu,
                        uint64_t *btime);
/* docs/protocol.md §2.2 row 1: 0 if Δbusy ≤ 0, 100 if Δtotal ≤ 0, else Δbusy/Δtotal×100 in
 * [0,100]. */
double collect__cpu_percent(const struct collect__cpu_times *prev,
                            const struct collect__cpu_times *cur);

struct collect__cpu_models {
    size_t n;                                             /* distinct models, first-seen order */
    char name[COLLECT_CPU_MODELS_MAX][COLLECT_MODEL_MAX]; /* model name (no suffix) */
    unsigned count[COLLECT_CPU_MODELS_MAX];               /* logical CPUs with that model */
    unsigned records;                                     /* logical CPU records seen */
};
/* /proc/cpuinfo: groups records by model name (rules in collect_cpu.c). Always 0. */
int collect__parse_cpuinfo(const char *buf, size_t len, struct collect__cpu_models *out);

struct collect__meminfo {
    uint64_t total, available, free, buffers, cached, swap_total, swap_free; /* bytes */
    int have_available;
};
/* /proc/meminfo (kB values → bytes). Returns 0, or -EINVAL when MemTotal is missing. */
int collect__parse_meminfo(const char *buf, size_t len, struct collect__meminfo *out);
/* MemTotal − MemAvailable (or − (MemFree+Buffers+Cached) on kernels without it), floored at 0. */
uint64_t collect__mem_used(const struct collect__meminfo *m);

struct collect__mounts {
    size_t n;
    char point[COLLECT_MOUNTS_MAX]
              [COLLECT_MOUNT_MAX];                   /* mount points as in the table (unprefixed) */
    char dev[COLLECT_MOUNTS_MAX][COLLECT_MOUNT_MAX]; /* source device ("" for allow-list entries) */
};
enum collect__mount_fmt { COLLECT_MOUNTINFO = 0, COLLECT_MOUNTS = 1 };
/*
 * Partition selection of docs/protocol.md §3.3 over a mountinfo or /proc/mounts text.
 * With a non-empty allow-list the result is the allow-list itself (deduped),
 * as in the reference; else fstype allow-list, no "/var/lib/kubelet", first
 * mount per device. Returns 0 (out->n may be 0).
 */
int collect__disk_select(const char *buf, size_t len, enum collect__mount_fmt fmt,
                         const char *const *allow, size_t n_allow, struct collect__mounts *out);

/* 1 if interface name[0..len) counts (allow-list, else the prefix rules of collect_net.c). */
int collect__nic_counted(const char *name, size_t len, const char *const *allow, size_t n_allow);
/*
 * /proc/net/dev: sums rx/tx bytes over counted interfaces. OUT: *rx, *tx,
 * *n_ifaces (counted). Returns 0, or -EINVAL when no interface line parses.
 */
int collect__parse_netdev(const char *buf, size_t len, const char *const *allow, size_t n_allow,
                          uint64_t *rx, uint64_t *tx, unsigned *n_ifaces);

/*
 * /proc/net/sockstat or sockstat6 text: adds "TCP:"/"TCP6:" inuse plus "tw"
 * to *tcp and "UDP:"/"UDP6:" inuse to *udp. Returns 0, or -EINVAL when no
 * TCP or UDP line parses.
 */
int collect__parse_sockstat(const char *buf, size_t len, uint64_t *tcp, uint64_t *udp);

/* /proc/loadavg: out[0..2] = load1/5/15. Returns 0 or -EINVAL. */
int collect__parse_loadavg(const char *buf, size_t len, double out[3]);
/* /proc/uptime: whole seconds of the first field. Returns 0 or -EINVAL. */
int collect__parse_uptime(const char *buf, size_t len, uint64_t *secs);

/*
 * KEY=value files (os-release, lsb-release): copies the value of key, quotes
 * stripped, into out (cap; "" when absent). Returns 0, -ENOENT if absent, -E2BIG if cut short.
 */
int collect__kv_value(const char *buf, size_t len, const char *key, char *out, size_t cap);
/* RHEL-like release line: version after "release " (or "rawhide"); 0 or -ENOENT. */
int collect__redhat_version(const char *buf, size_t len, char *out, size_t cap);
/* RHEL-like release line: "redhat" if it mentions Red Hat, else its first word, lower-cased. */
int collect__redhat_platform(const char *buf, size_t len, char *out, size_t cap);

/*
 * Sensor key of docs/protocol.md §2.2 row 17: name, plus "_" + label lower-cased with
 * spaces → '_' when label is non-empty. Returns 0 or -E2BIG.
 */
int collect__sensor_key(struct slice name, struct slice label, char *out, size_t cap);
/* 1 if the sensor key is dropped by name ("PMU tcal", "noname"; case-insensitive substring). */
int collect__sensor_ignored(const char *key);

/*
 * pci.ids lookup, fed one line at a time (the file is over 1 MB). Once a line
 * names the device, *found is set and name holds "<product>".
 */
struct collect__pciids {
    unsigned vendor, device; /* wanted ids */
    int in_vendor;           /* inside the wanted vendor's block */
    int found;
    char name[COLLECT_GPU_NAME_MAX];
};
void collect__pciids_line(struct collect__pciids *st, const char *line, size_t len);

/* ---- collector state (all fixed storage; one allocation in collect_new) ---- */

struct collect__cpu {
    struct procfile stat;
    struct collect__cpu_times prev;
    int primed;
};

struct collect__disk {
    struct procfile table; /* mountinfo, or /proc/mounts when mountinfo is missing */
    enum collect__mount_fmt fmt;
    int have_table; /* a table has been parsed at least once */
    struct collect__mounts sel;
    uint64_t total, used; /* last sums (bytes) */
};

struct collect__net {
    struct procfile dev;
    uint64_t prev_rx, prev_tx; /* baseline of the speed */
    uint64_t prev_ms;          /* monotonic time of the baseline */
    uint64_t in_speed, out_speed;
    int primed;
};

struct collect__conn {
    struct procfile sockstat;  /* root/proc/net/sockstat */
    struct procfile sockstat6; /* root/proc/net/sockstat6 (absent without IPv6) */
    int sockstat_failed;       /* sockstat unusable: use netlink */
    int nl;                    /* NETLINK_SOCK_DIAG socket, -1 if closed/unavailable */
    int nl_failed;             /* netlink gave up: use /proc/net files */
    unsigned char buf[COLLECT_NL_BUF];
};

struct collect__sensor {
    struct procfile input; /* temp*_input or a thermal zone temp file (millidegrees) */
    char key[COLLECT_SENSOR_MAX];
};

struct collect__temp {
    int discovered;
    size_t n;
    struct collect__sensor s[COLLECT_TEMPS_MAX]; /* sorted by key */
    Proto__StateSensorTemperature msg[COLLECT_TEMPS_MAX];
    Proto__StateSensorTemperature *ptr[COLLECT_TEMPS_MAX];
};

struct collect__gpu {
    int discovered;
    struct procfile busy; /* first drm card's device/gpu_busy_percent, if any */
    size_t n;
    char name[COLLECT_GPUS_MAX][COLLECT_GPU_NAME_MAX];
    char *ptr[COLLECT_GPUS_MAX];
};

struct collect__os {
    char platform[COLLECT_SHORT_MAX];
    char version[COLLECT_SHORT_MAX];
    char arch[COLLECT_SHORT_MAX];
    char virt_system[COLLECT_SHORT_MAX]; /* detected system, may be set for a host role */
    int guest;                           /* virtualization role is "guest" */
};

typedef int (*collect__state_cb)(struct collector *c, Proto__State *st, uint64_t now_mono_ms);

struct collect__status {
    unsigned fails; /* consecutive failures */
    int disabled;   /* set after COLLECT_FAIL_LIMIT; logged once */
};

#define COLLECT_N_STATE 10

struct collector {
    struct collect_opts opts; /* copy; strings borrowed */
    int root_is_slash;        /* opts.root is "/" (live system: netlink, uname) */
    int cg_mem_missing;       /* no cgroup v2 memory.max: not retried until the next Host */
    const char *nic_allow[COLLECT_NICS_MAX];
    size_t n_nic_allow;

    Proto__Host host;
    Proto__State state;
    char *cpu_ptr[COLLECT_CPU_MODELS_MAX];
    char cpu_str[COLLECT_CPU_MODELS_MAX][COLLECT_MODEL_MAX];

    uint64_t boot_time; /* Unix seconds, from the last host collection */
    struct collect__os os;
    struct collect__cpu cpu;
    struct procfile meminfo;
    struct procfile loadavg;
    struct procfile uptime;
    struct collect__disk disk;
    struct collect__net net;
    struct collect__conn conn;
    int proc_dir; /* open fd of root/proc, -1 if closed */
    struct collect__temp temp;
    struct collect__gpu gpu;
    struct collect__status status[COLLECT_N_STATE];

    char scratch[COLLECT_SCRATCH_MAX];
};

/* ---- per-source entry points (collect_<source>.c) ---- */

/* State collectors: return 0 or a negative errno; fill only their own fields. */
int collect__cpu_state(struct collector *c, Proto__State *st, uint64_t now_mono_ms);
int collect__mem_state(struct collector *c, Proto__State *st, uint64_t now_mono_ms);
int collect__disk_state(struct collector *c, Proto__State *st, uint64_t now_mono_ms);
int collect__net_state(struct collector *c, Proto__State *st, uint64_t now_mono_ms);
int collect__load_state(struct collector *c, Proto__State *st, uint64_t now_mono_ms);
int collect__uptime_state(struct collector *c, Proto__State *st, uint64_t now_mono_ms);
int collect__conn_state(struct collector *c, Proto__State *st, uint64_t now_mono_ms);
int collect__proc_state(struct collector *c, Proto__State *st, uint64_t now_mono_ms);
int collect__temp_state(struct collector *c, Proto__State *st, uint64_t now_mono_ms);
int collect__gpu_state(struct collector *c, Proto__State *st, uint64_t now_mono_ms);

/* Host collectors: fill their Host fields (left empty/0 on failure). */
int collect__cpu_prime(struct collector *c, uint64_t now_mono_ms);
int collect__cpu_host(struct collector *c, Proto__Host *h);
int collect__mem_host(struct collector *c, Proto__Host *h);
int collect__disk_host(struct collector *c, Proto__Host *h);
int collect__os_detect(
    struct collector *c); /* platform, version, arch, virtualization into c->os */
int collect__uptime_boot(struct collector *c, uint64_t *boot_time);
int collect__gpu_host(struct collector *c, Proto__Host *h);
int collect__net_prime(struct collector *c, uint64_t now_mono_ms);
/*
 * TCP/UDP counts: on the live root /proc/net/sockstat{,6}, else netlink
 * sock_diag, else the /proc/net tables; under a test root the tables.
 * Returns 0 or a negative errno.
 */
int collect__conn_count(struct collector *c, uint64_t *tcp, uint64_t *udp);
/* Same counts from one netlink sock_diag dump per (family, protocol). */
int collect__conn_count_netlink(struct collector *c, uint64_t *tcp, uint64_t *udp);
/* Same counts from the root's /proc/net/{tcp,tcp6,udp,udp6} only. */
int collect__conn_count_files(struct collector *c, uint64_t *tcp, uint64_t *udp);
void collect__conn_close(struct collector *c);
void collect__temp_close(struct collector *c);
void collect__gpu_close(struct collector *c);

#endif
