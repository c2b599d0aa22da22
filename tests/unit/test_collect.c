/*
 * Unit tests of src/agent/collect*: the real collectors run against the
 * fixture trees in tests/fixtures/ (copied to a temp dir so files can be
 * rewritten between samples), the pure parsers get edge cases, and one test
 * checks the live machine's "/".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "agent/collect.h"
#include "agent/collect_int.h"
#include "nezha_v0.pb-c.h"

#define FIXTURES "tests/fixtures"
#define KIB      1024ULL

struct fix {
    char dir[64];
};

static void fix_open(struct fix *f, const char *name)
{
    char cmd[512];
    snprintf(f->dir, sizeof(f->dir), "/tmp/lotus-collect-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(cmd, sizeof(cmd), "cp -a '%s/%s/.' '%s/'", FIXTURES, name, f->dir);
    assert_int_equal(system(cmd), 0);
}

static void fix_close(struct fix *f)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
}

/* Rewrites root/rel in place (same inode, so kept-open fds see the new bytes). */
static void fix_write(struct fix *f, const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t now_unix(void)
{
    return (uint64_t)time(NULL);
}

/* statvfs of the fixture dir: every fixture mount point lives on that filesystem. */
static void fs_size(const char *dir, uint64_t *total, uint64_t *used)
{
    struct statvfs sv;
    assert_int_equal(statvfs(dir, &sv), 0);
    *total = (uint64_t)sv.f_blocks * sv.f_frsize;
    *used = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
}

static void assert_disk(const char *dir, uint64_t got_total, uint64_t got_used, unsigned n)
{
    uint64_t t, u;
    fs_size(dir, &t, &u);
    assert_int_equal(got_total, t * n);
    /* used may move a little while the test runs */
    uint64_t slack = t / 100 * n;
    assert_true(got_used + slack >= u * n && got_used <= u * n + slack);
}

static void assert_mounts(const struct fix *f, const char *rel, enum collect__mount_fmt fmt,
                          const char *const *want, size_t n)
{
    static char buf[65536];
    size_t len;
    struct collect__mounts m;
    assert_true(procfile_slurp(f->dir, rel, buf, sizeof(buf), &len) >= 0);
    assert_int_equal(collect__disk_select(buf, len, fmt, NULL, 0, &m), 0);
    assert_int_equal(m.n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(m.point[i], want[i]);
}

static struct collector *open_collector(struct fix *f, int temp, int gpu)
{
    struct collect_opts o = {.root = f->dir, .temperature = temp, .gpu = gpu};
    struct collector *c = collect_new(&o);
    assert_non_null(c);
    return c;
}

static void test_collect__kvm_debian(void **state)
{
    (void)state;
    struct fix f;
    fix_open(&f, "kvm-debian");
    struct collector *c = open_collector(&f, 1, 1);

    const Proto__Host *h = collect_host(c, "203.0.113.7/2001:db8::7", "0.1.0");
    assert_string_equal(h->platform, "debian");
    assert_string_equal(h->platform_version, "12.5");
    assert_int_equal(h->n_cpu, 1);
    assert_string_equal(h->cpu[0], "AMD EPYC 7B13 2 Virtual Core");
    assert_int_equal(h->mem_total, 4028844 * KIB);
    assert_int_equal(h->swap_total, 1048572 * KIB);
    assert_string_equal(h->arch, "x86_64");
    assert_string_equal(h->virtualization, "kvm");
    assert_int_equal(h->boot_time, 1700000000);
    assert_string_equal(h->ip, "203.0.113.7/2001:db8::7");
    assert_string_equal(h->country_code, "");
    assert_string_equal(h->version, "0.1.0");
    assert_int_equal(h->n_gpu, 2);
    assert_string_equal(h->gpu[0], "Virtio 1.0 GPU");
    assert_string_equal(h->gpu[1], "10de:1eb8");
    static const char *const mounts[] = {"/", "/data", "/mnt/my disk"};
    assert_mounts(&f, "proc/self/mountinfo", COLLECT_MOUNTINFO, mounts, 3);
    uint64_t disk_total = h->disk_total;

    uint64_t t0 = mono_ms();
    const Proto__State *s = collect_state(c, t0);
    assert_true(s->cpu == 0); /* no ticks since the priming read */
    assert_int_equal(s->mem_used, (4028844 - 3000000) * KIB);
    assert_int_equal(s->swap_used, (1048572 - 1000000) * KIB);
    assert_disk(f.dir, disk_total, s->disk_used, 3);
    assert_int_equal(s->net_in_transfer, 1000000);
    assert_int_equal(s->net_out_transfer, 500000);
    assert_int_equal(s->net_in_speed, 0);
    assert_int_equal(s->net_out_speed, 0);
    uint64_t now = now_unix();
    assert_true(s->uptime + 2 >= now - 1700000000 && s->uptime <= now - 1700000000 + 2);
    assert_true(s->load1 == 0.52);
    assert_true(s->load5 == 0.58);
    assert_true(s->load15 == 0.59);
    assert_int_equal(s->tcp_conn_count, 5);
    assert_int_equal(s->udp_conn_count, 2);
    assert_int_equal(s->process_count, 4);
    assert_int_equal(s->n_temperatures, 3);
    assert_string_equal(s->temperatures[0]->name, "k10temp_tctl");
    assert_true(s->temperatures[0]->temperature == 45.0);
    assert_string_equal(s->temperatures[1]->name, "nvme_composite");
    assert_true(s->temperatures[1]->temperature == 37.85);
    assert_string_equal(s->temperatures[2]->name, "nvme_sensor_1");
    assert_true(s->temperatures[2]->temperature == 41.0);
    assert_true(s->gpu == 17.0);

    /* Second sample 2.5 s later: 300 ticks of which 90 busy; 2 whole seconds. */
    fix_write(&f, "proc/stat", "cpu  1060 20 330 8200 110 10 20 0 50 0\nbtime 1700000000\n");
    fix_write(&f, "proc/net/dev",
              "Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n"
              "    lo: 5999999 1 0 0 0 0 0 0 5999999 1 0 0 0 0 0 0\n"
              "  ens4: 1024690 1 0 0 0 0 0 0 502001 1 0 0 0 0 0 0\n");
    fix_write(&f, "sys/class/hwmon/hwmon0/temp1_input", "-5000\n");
    fix_write(&f, "sys/class/drm/card0/device/gpu_busy_percent", "99\n");
    s = collect_state(c, t0 + 2500);
    assert_float_equal(s->cpu, 30.0, 1e-9);
    assert_int_equal(s->net_in_transfer, 1024690);
    assert_int_equal(s->net_out_transfer, 502001);
    assert_int_equal(s->net_in_speed, 12345);
    assert_int_equal(s->net_out_speed, 1000); /* 2001 / 2, integer division */
    assert_int_equal(s->n_temperatures, 2);   /* ≤ 0 °C left out */
    assert_string_equal(s->temperatures[0]->name, "nvme_composite");
    assert_true(s->gpu == 99.0);

    /* Less than a second later: speeds unchanged, baseline kept. */
    fix_write(&f, "proc/net/dev", "  ens4: 1030690 1 0 0 0 0 0 0 502001 1 0 0 0 0 0 0\n");
    s = collect_state(c, t0 + 3000);
    assert_int_equal(s->net_in_speed, 12345);
    assert_int_equal(s->net_in_transfer, 1030690);
    s = collect_state(c, t0 + 4500);
    assert_int_equal(s->net_in_speed, 3000); /* 6000 bytes over 2 s since the 2.5 s sample */
    assert_int_equal(s->net_out_speed, 0);

    collect_free(c);
    fix_close(&f);
}

static void test_collect__lxc_ubuntu(void **state)
{
    (void)state;
    struct fix f;
    fix_open(&f, "lxc-ubuntu");
    struct collector *c = open_collector(&f, 1, 1);
    const Proto__Host *h = collect_host(c, NULL, NULL);
    assert_string_equal(h->platform, "ubuntu");
    assert_string_equal(h->platform_version, "22.04");
    assert_int_equal(h->n_cpu, 1);
    assert_string_equal(h->cpu[0], "Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz 4 Virtual Core");
    assert_int_equal(h->mem_total, 1073741824); /* cgroup memory.max < MemTotal */
    assert_int_equal(h->swap_total, 2097148 * KIB);
    assert_string_equal(h->arch, "x86_64");
    assert_string_equal(h->virtualization, "lxc");
    uint64_t now = now_unix();
    assert_true(h->boot_time + 3600 + 2 >= now && h->boot_time + 3600 <= now + 2);
    assert_string_equal(h->ip, "");
    assert_string_equal(h->version, "");
    assert_int_equal(h->n_gpu, 0);
    static const char *const mounts[] = {"/"};
    assert_mounts(&f, "proc/self/mountinfo", COLLECT_MOUNTINFO, mounts, 1);

    const Proto__State *s = collect_state(c, mono_ms());
    assert_true(s->cpu == 0);
    assert_int_equal(s->mem_used, 300000000 - 50000000); /* memory.current − inactive_file */
    assert_disk(f.dir, h->disk_total, s->disk_used, 1);
    assert_int_equal(s->swap_used, 0);
    assert_int_equal(s->net_in_transfer, 12345678901ULL);
    assert_int_equal(s->net_out_transfer, 98765432);
    assert_true(s->uptime + 2 >= 3600 && s->uptime <= 3600 + 2);
    assert_true(s->load1 == 1.05);
    assert_true(s->load5 == 0.80);
    assert_true(s->load15 == 0.40);
    assert_int_equal(s->tcp_conn_count, 1);
    assert_int_equal(s->udp_conn_count, 0);
    assert_int_equal(s->process_count, 2);
    assert_int_equal(s->n_temperatures, 0);
    assert_true(s->gpu == 0);
    collect_free(c);
    fix_close(&f);
}

static void test_collect__arm_board(void **state)
{
    (void)state;
    struct fix f;
    fix_open(&f, "arm-board");
    struct collector *c = open_collector(&f, 1, 0);
    const Proto__Host *h = collect_host(c, "198.51.100.1", "0.1.0");
    assert_string_equal(h->platform, "raspbian");
    assert_string_equal(h->platform_version, "11.7");
    assert_int_equal(h->n_cpu, 1);
    assert_string_equal(h->cpu[0], "ARMv7 Processor rev 5 (v7l) 4 Physical Core");
    assert_int_equal(h->mem_total, 948304 * KIB);
    assert_int_equal(h->swap_total, 102396 * KIB);
    assert_string_equal(h->arch, "armv7l");
    assert_string_equal(h->virtualization, "");
    assert_int_equal(h->boot_time, 1600000000);
    assert_int_equal(h->n_gpu, 0);
    assert_null(h->gpu);
    static const char *const mounts[] = {"/"};
    assert_mounts(&f, "proc/self/mountinfo", COLLECT_MOUNTINFO, mounts, 1);

    const Proto__State *s = collect_state(c, mono_ms());
    assert_int_equal(s->mem_used, (948304 - 600000) * KIB);
    assert_int_equal(s->swap_used, (102396 - 51198) * KIB);
    assert_disk(f.dir, h->disk_total, s->disk_used, 1);
    assert_int_equal(s->net_in_transfer, 10000); /* eth0 + wlan0 */
    assert_int_equal(s->net_out_transfer, 5000);
    assert_true(s->load1 == 0.0);
    assert_true(s->load5 == 0.01);
    assert_true(s->load15 == 0.05);
    assert_int_equal(s->tcp_conn_count, 2);
    assert_int_equal(s->udp_conn_count, 3);
    assert_int_equal(s->process_count, 2);
    assert_int_equal(s->n_temperatures, 1);
    assert_string_equal(s->temperatures[0]->name, "cpu-thermal");
    assert_true(s->temperatures[0]->temperature == 48.312);
    assert_true(s->gpu == 0);
    collect_free(c);
    fix_close(&f);
}

static void test_collect__docker_host(void **state)
{
    (void)state;
    struct fix f;
    fix_open(&f, "docker-host");
    struct collector *c = open_collector(&f, 0, 0);
    const Proto__Host *h = collect_host(c, "", "0.1.0");
    assert_string_equal(h->platform, "centos");
    assert_string_equal(h->platform_version, "7.9.2009");
    assert_int_equal(h->n_cpu, 1);
    assert_string_equal(h->cpu[0], "Intel(R) Core(TM) i7-8550U CPU @ 1.80GHz 1 Physical Core");
    assert_string_equal(h->virtualization, ""); /* KVM host role */
    assert_int_equal(h->boot_time, 1710000000);
    assert_int_equal(h->mem_total, 8000000 * KIB);
    assert_int_equal(h->swap_total, 4000000 * KIB);
    static const char *const mounts[] = {"/", "/srv"};
    assert_mounts(&f, "proc/self/mountinfo", COLLECT_MOUNTINFO, mounts, 2);

    const Proto__State *s = collect_state(c, mono_ms());
    assert_int_equal(s->mem_used, 3000000 * KIB);
    assert_int_equal(s->swap_used, 0);
    assert_disk(f.dir, h->disk_total, s->disk_used, 2);
    /* eth0 + wlo1: docker0, veth*, br-*, vmbr*, tun*, kube*, vnet*, lo excluded */
    assert_int_equal(s->net_in_transfer, 21000);
    assert_int_equal(s->net_out_transfer, 2100);
    assert_true(s->load1 == 2.5);
    assert_true(s->load5 == 1.75);
    assert_true(s->load15 == 1.0);
    assert_int_equal(s->tcp_conn_count, 0);
    assert_int_equal(s->udp_conn_count, 0);
    assert_int_equal(s->process_count, 1);
    assert_int_equal(s->n_temperatures, 0);
    assert_null(s->temperatures);
    collect_free(c);

    /* Allow-lists: exactly those interfaces and mount points. */
    static const char *const nics[] = {"docker0", "eth0"};
    static const char *const disks[] = {"/srv", "/", "/srv"};
    struct collect_opts o = {
        .root = f.dir, .nic_allow = nics, .n_nic_allow = 2, .disk_allow = disks, .n_disk_allow = 3};
    c = collect_new(&o);
    h = collect_host(c, NULL, NULL);
    s = collect_state(c, mono_ms());
    assert_int_equal(s->net_in_transfer, 1300);
    assert_int_equal(s->net_out_transfer, 130);
    assert_disk(f.dir, h->disk_total, s->disk_used, 2);
    collect_free(c);

    /* --skip-conn / --skip-procs report 0. */
    struct collect_opts o2 = {.root = f.dir, .skip_conn = 1, .skip_procs = 1};
    fix_write(&f, "proc/net/tcp", "header\nrow\n");
    c = collect_new(&o2);
    s = collect_state(c, mono_ms());
    assert_int_equal(s->tcp_conn_count, 0);
    assert_int_equal(s->process_count, 0);
    collect_free(c);
    fix_close(&f);
}

static void test_collect__noswap(void **state)
{
    (void)state;
    struct fix f;
    fix_open(&f, "noswap");
    struct collector *c = open_collector(&f, 1, 1);
    const Proto__Host *h = collect_host(c, NULL, "x");
    assert_string_equal(h->platform, "alpine");
    assert_string_equal(h->platform_version, "3.19.1");
    assert_int_equal(h->n_cpu, 1);
    assert_string_equal(h->cpu[0], "Intel(R) Atom(TM) CPU C3558 @ 2.20GHz 2 Virtual Core");
    assert_string_equal(h->virtualization, "docker"); /* /.dockerenv */
    assert_int_equal(h->mem_total, 2000000 * KIB);
    assert_int_equal(h->swap_total, 0);
    uint64_t now = now_unix();
    assert_true(h->boot_time + 7200 + 2 >= now && h->boot_time + 7200 <= now + 2);
    static const char *const mounts[] = {"/", "/backup"};
    assert_mounts(&f, "proc/mounts", COLLECT_MOUNTS, mounts, 2);

    const Proto__State *s = collect_state(c, mono_ms());
    /* no MemAvailable: MemTotal − (MemFree + Buffers + Cached) */
    assert_int_equal(s->mem_used, (2000000 - 1000000) * KIB);
    assert_int_equal(s->swap_used, 0);
    assert_disk(f.dir, h->disk_total, s->disk_used, 2);
    assert_int_equal(s->net_in_transfer, 1234);
    assert_int_equal(s->net_out_transfer, 4321);
    assert_true(s->uptime + 2 >= 7200 && s->uptime <= 7200 + 2);
    assert_int_equal(s->tcp_conn_count, 1);
    assert_int_equal(s->udp_conn_count, 0);
    assert_int_equal(s->process_count, 2);
    assert_true(s->load1 == 0.1);
    assert_true(s->load5 == 0.2);
    assert_true(s->load15 == 0.3);
    collect_free(c);
    fix_close(&f);
}

/* A collector failing COLLECT_FAIL_LIMIT times in a row stays off; fewer failures recover. */
static void test_collect__failing_collector_disabled(void **state)
{
    (void)state;
    struct fix f;
    fix_open(&f, "docker-host");
    struct collector *c = open_collector(&f, 0, 0);
    const Proto__State *s;
    fix_write(&f, "proc/loadavg", "garbage\n");
    collect_state(c, mono_ms());
    collect_state(c, mono_ms());
    fix_write(&f, "proc/loadavg", "3.00 2.00 1.00 1/1 1\n");
    s = collect_state(c, mono_ms());
    assert_true(s->load1 == 3.0);
    fix_write(&f, "proc/loadavg", "x y z\n");
    for (int i = 0; i < COLLECT_FAIL_LIMIT; i++) {
        s = collect_state(c, mono_ms());
        assert_true(s->load1 == 0);
        assert_int_equal(s->mem_used, 3000000 * KIB); /* others unaffected */
    }
    fix_write(&f, "proc/loadavg", "3.00 2.00 1.00 1/1 1\n");
    s = collect_state(c, mono_ms());
    assert_true(s->load1 == 0);
    collect_free(c);
    fix_close(&f);
}

/* Steady state: collect_state allocates nothing after the first call. */
static void test_collect__no_heap_in_steady_state(void **state)
{
    (void)state;
    struct fix f;
    fix_open(&f, "kvm-debian");
    struct collector *c = open_collector(&f, 1, 1);
    collect_host(c, NULL, NULL);
    uint64_t t = mono_ms();
    collect_state(c, t);
    struct mallinfo2 before = mallinfo2();
    for (int i = 1; i <= 20; i++)
        collect_state(c, t + (uint64_t)i * 1000);
    struct mallinfo2 after = mallinfo2();
    assert_int_equal(after.uordblks, before.uordblks);
    assert_int_equal(after.hblkhd, before.hblkhd);
    collect_free(c);

    struct collect_opts o = {.root = "/"};
    c = collect_new(&o);
    collect_host(c, NULL, NULL);
    collect_state(c, t);
    before = mallinfo2();
    for (int i = 1; i <= 5; i++)
        collect_state(c, t + (uint64_t)i * 1000);
    after = mallinfo2();
    assert_int_equal(after.uordblks, before.uordblks);
    collect_free(c);
    fix_close(&f);
}

/* The live machine: sanity against the kernel's own numbers. */
static void test_collect__live_root(void **state)
{
    (void)state;
    static char buf[COLLECT_SCRATCH_MAX];
    size_t len;
    struct collect_opts o = {.root = "/"};
    struct collector *c = collect_new(&o);
    const Proto__Host *h = collect_host(c, NULL, NULL);

    struct collect__meminfo m;
    assert_true(procfile_slurp("/", "/proc/meminfo", buf, sizeof(buf), &len) >= 0);
    assert_int_equal(collect__parse_meminfo(buf, len, &m), 0);
    uint64_t limit = 0;
    char lb[64];
    size_t ll;
    int limited =
        (strcmp(h->virtualization, "lxc") == 0 || strcmp(h->virtualization, "docker") == 0) &&
        procfile_slurp("/", "/sys/fs/cgroup/memory.max", lb, sizeof(lb), &ll) >= 0 &&
        procfile_u64(procfile_trim((struct slice){lb, ll}), &limit) == 0 && limit < m.total;
    assert_int_equal(h->mem_total, limited ? limit : m.total);

    unsigned cpus = 0;
    for (size_t i = 0; i < h->n_cpu; i++) {
        const char *p = strrchr(h->cpu[i], ' '); /* "... <N> <Kind> Core" */
        assert_non_null(p);
        const char *q = h->cpu[i] + (p - h->cpu[i]);
        while (q > h->cpu[i] && q[-1] != ' ')
            q--; /* kind */
        const char *r = q - 1;
        while (r > h->cpu[i] && r[-1] != ' ')
            r--; /* N */
        cpus += (unsigned)strtoul(r, NULL, 10);
    }
    assert_int_equal(cpus, sysconf(_SC_NPROCESSORS_ONLN));

    struct collect__cpu_times t;
    uint64_t btime;
    assert_true(procfile_slurp("/", "/proc/stat", buf, sizeof(buf), &len) >= 0);
    assert_int_equal(collect__parse_stat(buf, len, &t, &btime), 0);
    assert_true(h->boot_time + 2 >= btime && h->boot_time <= btime + 2);
    assert_true(h->arch[0] != '\0');
    assert_true(h->disk_total > 0);

    /* netlink counts see our sockets and agree with the /proc/net tables. */
    int fds[3];
    for (int i = 0; i < 3; i++) {
        fds[i] = socket(AF_INET, i == 2 ? SOCK_DGRAM : SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        assert_int_equal(bind(fds[i], (struct sockaddr *)&a, sizeof(a)), 0);
        if (i < 2)
            assert_int_equal(listen(fds[i], 1), 0);
    }
    /* sockstat counters, netlink dump and tables agree within 10. The three are read one
     * after the other while other processes open and close sockets, so a busy machine may
     * need a few tries; a collector that miscounts never agrees. */
    const Proto__State *s = NULL;
    uint64_t ft, fu, nt, nu;
    int agree = 0;
    for (int attempt = 0; attempt < 50 && !agree; attempt++) {
        s = collect_state(c, mono_ms());
        assert_int_equal(collect__conn_count_files(c, &ft, &fu), 0);
        assert_int_equal(collect__conn_count_netlink(c, &nt, &nu), 0);
        assert_true(s->tcp_conn_count >= 2 && s->udp_conn_count >= 1);
        assert_true(nt >= 2 && nu >= 1);
        agree = s->tcp_conn_count + 10 >= ft && s->tcp_conn_count <= ft + 10 &&
                s->udp_conn_count + 10 >= fu && s->udp_conn_count <= fu + 10 &&
                s->tcp_conn_count + 10 >= nt && s->tcp_conn_count <= nt + 10 &&
                s->udp_conn_count + 10 >= nu && s->udp_conn_count <= nu + 10;
        if (!agree)
            usleep(20000); /* between tries only: the loop ends on agreement */
    }
    if (!agree)
        fail_msg("socket counts disagree: sockstat tcp %llu udp %llu, tables %llu/%llu, "
                 "netlink %llu/%llu",
                 (unsigned long long)s->tcp_conn_count, (unsigned long long)s->udp_conn_count,
                 (unsigned long long)ft, (unsigned long long)fu, (unsigned long long)nt,
                 (unsigned long long)nu);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    assert_true(s->process_count >= 1);
    assert_true(s->mem_used > 0 && s->mem_used <= h->mem_total);
    assert_true(s->cpu >= 0 && s->cpu <= 100);
    assert_true(s->uptime > 0);
    collect_free(c);
}

/* ---- pure parsers ---- */

static void test_collect__parse_stat(void **state)
{
    (void)state;
    struct collect__cpu_times a, b;
    uint64_t bt;
    const char *s1 = "cpu  10 0 10 80 0 0 0 0\nbtime 5\n";
    assert_int_equal(collect__parse_stat(s1, strlen(s1), &a, &bt), 0);
    assert_int_equal(a.total, 100);
    assert_int_equal(a.busy, 20);
    assert_int_equal(bt, 5);
    const char *bad[] = {"", "cpu 1 2 3\n", "cpu a b c d\n", "cpu0 1 2 3 4\n",
                         "cpu 1 2 3 99999999999999999999999\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(collect__parse_stat(bad[i], strlen(bad[i]), &b, &bt), -EINVAL);
    /* Δbusy ≤ 0 → 0; Δtotal ≤ 0 with Δbusy > 0 → 100 */
    struct collect__cpu_times p = {100, 50}, q = {100, 50}, r = {90, 60}, u = {200, 100};
    assert_true(collect__cpu_percent(&p, &q) == 0);
    assert_true(collect__cpu_percent(&p, &r) == 100);
    assert_true(collect__cpu_percent(&p, &u) == 50);
    struct collect__cpu_times v = {500, 125};
    assert_float_equal(collect__cpu_percent(&p, &v), 18.75, 1e-12); /* 75 of 400 */
}

/*
 * The counting rule of docs/protocol.md §2.1 row 1: total = user+nice+system+idle+iowait
 * +irq+softirq+steal (guest and guest_nice are already inside user and nice),
 * busy = total - idle - iowait. Each field is a distinct power of two, so the
 * sums show exactly which fields were counted.
 */
static void test_collect__parse_stat_counts_each_field_once(void **state)
{
    (void)state;
    struct collect__cpu_times t;
    uint64_t bt;
    /*                 user nice system idle iowait irq softirq steal guest guest_nice */
    const char *all = "cpu  1 2 4 8 16 32 64 128 256 512\n";
    assert_int_equal(collect__parse_stat(all, strlen(all), &t, &bt), 0);
    assert_int_equal(t.total, 255);         /* the first eight; not guest (256), guest_nice (512) */
    assert_int_equal(t.busy, 255 - 8 - 16); /* idle and iowait are not busy */
    /* Older kernels print fewer columns: 7 (no steal), 8 (no guest), 9 (no guest_nice). */
    const char *k7 = "cpu 1 2 4 8 16 32 64\n";
    assert_int_equal(collect__parse_stat(k7, strlen(k7), &t, &bt), 0);
    assert_int_equal(t.total, 127);
    assert_int_equal(t.busy, 127 - 8 - 16);
    const char *k9 = "cpu 1 2 4 8 16 32 64 128 256\n";
    assert_int_equal(collect__parse_stat(k9, strlen(k9), &t, &bt), 0);
    assert_int_equal(t.total, 255);
    assert_int_equal(t.busy, 231);
    /* Only the aggregate line counts, whichever per-cpu lines follow or precede it. */
    const char *pc = "cpu0 1000 0 0 0\ncpu  1 2 4 8 16 32 64 128 256 512\ncpu1 1000 0 0 0\n";
    assert_int_equal(collect__parse_stat(pc, strlen(pc), &t, &bt), 0);
    assert_int_equal(t.total, 255);
    assert_int_equal(t.busy, 231);
}

/*
 * The collector's CPU % from two /proc/stat samples where every column moves,
 * steal and guest included (a busy VM). Δ: user 500, nice 40, system 200,
 * idle 800, iowait 100, irq 20, softirq 40, steal 300, guest 160, guest_nice
 * 20: Δtotal = 2000, Δbusy = 1100, so 55 %. Dropping steal from the total
 * gives 47.06, counting guest again 58.72, counting iowait as busy 60.
 */
static void test_collect__cpu_percent_with_steal_iowait_irq_and_guest(void **state)
{
    (void)state;
    struct fix f;
    fix_open(&f, "kvm-debian");
    fix_write(&f, "proc/stat",
              "cpu  10000 400 3000 80000 1000 100 200 700 2000 100\n"
              "cpu0 5000 200 1500 40000 500 50 100 350 1000 50\n"
              "btime 1700000000\n");
    struct collector *c = open_collector(&f, 0, 0);
    uint64_t t0 = mono_ms();
    fix_write(&f, "proc/stat",
              "cpu  10500 440 3200 80800 1100 120 240 1000 2160 120\n"
              "cpu0 5250 220 1600 40400 550 60 120 500 1080 60\n"
              "btime 1700000000\n");
    const Proto__State *s = collect_state(c, t0 + 3000);
    assert_float_equal(s->cpu, 55.0, 1e-9);
    /* Steal alone (the hypervisor took the CPU): busy from the guest's point of view. */
    fix_write(&f, "proc/stat", "cpu  10500 440 3200 80900 1100 120 240 1300 2160 120\n");
    s = collect_state(c, t0 + 6000);
    assert_float_equal(s->cpu, 75.0, 1e-9); /* 300 of 400 */
    /* iowait alone: not busy. */
    fix_write(&f, "proc/stat", "cpu  10500 440 3200 80900 1500 120 240 1300 2160 120\n");
    s = collect_state(c, t0 + 9000);
    assert_true(s->cpu == 0);
    /* guest and guest_nice ticks move user and nice with them: counted once. */
    fix_write(&f, "proc/stat", "cpu  10700 490 3200 81050 1500 120 240 1300 2360 170\n");
    s = collect_state(c, t0 + 12000);
    assert_float_equal(s->cpu, 62.5, 1e-9); /* 250 of 400 */
    /* irq and softirq alone: busy. */
    fix_write(&f, "proc/stat", "cpu  10700 490 3200 81150 1500 170 290 1300 2360 170\n");
    s = collect_state(c, t0 + 15000);
    assert_float_equal(s->cpu, 50.0, 1e-9); /* 100 of 200 */
    collect_free(c);
    fix_close(&f);
}

static void test_collect__parse_cpuinfo(void **state)
{
    (void)state;
    struct collect__cpu_models m;
    /* arm64: no model name, part numbers; big.LITTLE gives two entries */
    const char *a64 = "processor\t: 0\nCPU implementer\t: 0x41\nCPU part\t: 0xd03\n\n"
                      "processor\t: 1\nCPU implementer\t: 0x41\nCPU part\t: 0xd03\n\n"
                      "processor\t: 2\nCPU implementer\t: 0x41\nCPU part\t: 0xd08\n\n"
                      "processor\t: 3\nCPU implementer\t: 0x51\nCPU part\t: 0x800\n";
    collect__parse_cpuinfo(a64, strlen(a64), &m);
    assert_int_equal(m.records, 4);
    assert_int_equal(m.n, 3);
    assert_string_equal(m.name[0], "Cortex-A53");
    assert_int_equal(m.count[0], 2);
    assert_string_equal(m.name[1], "Cortex-A72");
    assert_string_equal(m.name[2], ""); /* not ARM Ltd: no table, no name */
    const char *junk = "model name: before any record\n::::\n\n:\nprocessor\nprocessor:\n";
    collect__parse_cpuinfo(junk, strlen(junk), &m);
    assert_int_equal(m.records, 1);
    assert_string_equal(m.name[0], "");
    collect__parse_cpuinfo("", 0, &m);
    assert_int_equal(m.n, 0);
}

static void test_collect__parse_misc(void **state)
{
    (void)state;
    double l[3];
    uint64_t u, rx, tx;
    unsigned n;
    assert_int_equal(collect__parse_loadavg("1 2", 3, l), -EINVAL);
    assert_int_equal(collect__parse_loadavg("1.5 -2 3", 8, l), -EINVAL);
    assert_int_equal(collect__parse_loadavg("12.34 0.5 7 1/2 3", 17, l), 0);
    assert_true(l[0] == 12.34 && l[1] == 0.5 && l[2] == 7);
    assert_int_equal(collect__parse_uptime("99.99 1.0", 9, &u), 0);
    assert_int_equal(u, 99);
    assert_int_equal(collect__parse_uptime(".5", 2, &u), -EINVAL);

    /* our interface rule: prefixes, not substrings */
    assert_true(collect__nic_counted("wlo1", 4, NULL, 0));
    assert_true(collect__nic_counted("eth0", 4, NULL, 0));
    assert_true(collect__nic_counted("enp0s31f6", 9, NULL, 0));
    assert_false(collect__nic_counted("lo", 2, NULL, 0));
    assert_false(collect__nic_counted("br-1a2b", 7, NULL, 0));
    assert_false(collect__nic_counted("kube-bridge", 11, NULL, 0));
    const char *dev = "junk\n eth0:1 2 3 4 5 6 7 8 9 10\n bad: x y\n";
    assert_int_equal(collect__parse_netdev(dev, strlen(dev), NULL, 0, &rx, &tx, &n), 0);
    assert_int_equal(rx, 1);
    assert_int_equal(tx, 9);
    assert_int_equal(n, 1);
    assert_int_equal(collect__parse_netdev("a:b", 3, NULL, 0, &rx, &tx, &n), -EINVAL);

    const char *ss = "sockets: used 12\nTCP: inuse 3 orphan 1 tw 7 alloc 9 mem 1\n"
                     "UDP: inuse 2 mem 0\nUDPLITE: inuse 5\n";
    const char *ss6 = "TCP6: inuse 4\nUDP6: inuse 1\nRAW6: inuse 9\n";
    uint64_t st = 0, su = 0;
    assert_int_equal(collect__parse_sockstat(ss, strlen(ss), &st, &su), 0);
    assert_int_equal(collect__parse_sockstat(ss6, strlen(ss6), &st, &su), 0);
    assert_int_equal(st, 3 + 7 + 4);
    assert_int_equal(su, 2 + 1);
    assert_int_equal(collect__parse_sockstat("TCP: inuse x\n", 13, &st, &su), -EINVAL);
    assert_int_equal(collect__parse_sockstat("RAW: inuse 1\n", 13, &st, &su), -EINVAL);

    struct collect__meminfo m;
    assert_int_equal(collect__parse_meminfo("MemFree: 1 kB\n", 14, &m), -EINVAL);
    const char *mi = "MemTotal: 10 kB\nMemAvailable: 20 kB\n";
    assert_int_equal(collect__parse_meminfo(mi, strlen(mi), &m), 0);
    assert_int_equal(collect__mem_used(&m), 0); /* never negative */

    char out[64];
    const char *lsb = "DISTRIB_ID=\"Ubuntu\"\nDISTRIB_RELEASE='24.04'\n";
    assert_int_equal(collect__kv_value(lsb, strlen(lsb), "DISTRIB_RELEASE", out, sizeof(out)), 0);
    assert_string_equal(out, "24.04");
    assert_int_equal(collect__kv_value(lsb, strlen(lsb), "ID", out, sizeof(out)), -ENOENT);
    const char *rh = "Rocky Linux release 9.3 (Blue Onyx)\n";
    collect__redhat_platform(rh, strlen(rh), out, sizeof(out));
    assert_string_equal(out, "rocky");
    assert_int_equal(collect__redhat_version(rh, strlen(rh), out, sizeof(out)), 0);
    assert_string_equal(out, "9.3");
    const char *rhel = "Red Hat Enterprise Linux release 8.9 (Ootpa)";
    collect__redhat_platform(rhel, strlen(rhel), out, sizeof(out));
    assert_string_equal(out, "redhat");
    assert_int_equal(collect__redhat_version("Fedora", 6, out, sizeof(out)), -ENOENT);

    assert_int_equal(collect__sensor_key((struct slice){"coretemp\n", 9},
                                         (struct slice){"Package id 0\n", 13}, out, sizeof(out)),
                     0);
    assert_string_equal(out, "coretemp_package_id_0");
    assert_true(collect__sensor_ignored("PMU tcal"));
    assert_true(collect__sensor_ignored("x_noname_y"));
    assert_false(collect__sensor_ignored("acpitz"));

    struct collect__pciids p = {.vendor = 0x8086, .device = 0x3e92};
    const char *lines[] = {"8086  Intel Corporation", "\t3e91  Other", "\t\t3e92 0001  Sub",
                           "\t3e92  CoffeeLake-S GT2 [UHD Graphics 630]", "\t3e93  Late"};
    for (size_t i = 0; i < 5; i++)
        collect__pciids_line(&p, lines[i], strlen(lines[i]));
    assert_true(p.found);
    assert_string_equal(p.name, "CoffeeLake-S GT2 [UHD Graphics 630]");

    struct collect__mounts mt;
    const char *mi2 = "1 2 3 / / rw - ext4\n1 2 3:4 / /x rw shared:1 - btrfs /dev/a rw\n"
                      "1 2 3:4 / /y rw - btrfs /dev/a rw\n- - - - - - - - -\n";
    collect__disk_select(mi2, strlen(mi2), COLLECT_MOUNTINFO, NULL, 0, &mt);
    assert_int_equal(mt.n, 1);
    assert_string_equal(mt.point[0], "/x");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_collect__kvm_debian),
        cmocka_unit_test(test_collect__lxc_ubuntu),
        cmocka_unit_test(test_collect__arm_board),
        cmocka_unit_test(test_collect__docker_host),
        cmocka_unit_test(test_collect__noswap),
        cmocka_unit_test(test_collect__failing_collector_disabled),
        cmocka_unit_test(test_collect__no_heap_in_steady_state),
        cmocka_unit_test(test_collect__live_root),
        cmocka_unit_test(test_collect__parse_stat),
        cmocka_unit_test(test_collect__parse_stat_counts_each_field_once),
        cmocka_unit_test(test_collect__cpu_percent_with_steal_iowait_irq_and_guest),
        cmocka_unit_test(test_collect__parse_cpuinfo),
        cmocka_unit_test(test_collect__parse_misc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
