/*
 * collect_os: Host.platform / platform_version (gopsutil's distro rules,
 * docs/protocol.md §2.1 rows 1-2), Host.arch (row 7) and the virtualization system/role
 * (row 8) that also decides "Virtual"/"Physical" CPU entries and how boot
 * time is computed.
 *
 * Every path is root-prefixed, including /usr/bin/raspi-config, which the
 * reference reads unprefixed. Arch is uname(2) on the live root; under a
 * test root it is root/proc/sys/kernel/arch (the kernel's own file, same
 * value as uname -m outside personality(2) tricks), uname(2) if absent.
 * Nothing here spawns a process: without /etc/lsb-release the reference
 * would run lsb_release; we skip that.
 */
#include "collect_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

static char lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

int collect__kv_value(const char *buf, size_t len, const char *key, char *out, size_t cap)
{
    const char *cur = buf;
    struct slice line, k, v;
    if (cap)
        out[0] = '\0';
    while (procfile_line(&cur, buf + len, &line)) {
        if (procfile_kv(line, '=', &k, &v) || !procfile_eq(k, key))
            continue;
        /* Quotes are removed wherever they are, like the reference's ReplaceAll. */
        size_t o = 0;
        int cut = 0;
        for (size_t i = 0; i < v.len; i++) {
            if (v.ptr[i] == '"' || v.ptr[i] == '\'')
                continue;
            if (o + 1 >= cap) {
                cut = 1;
                break;
            }
            out[o++] = v.ptr[i];
        }
        if (cap)
            out[o] = '\0';
        return cut ? -E2BIG : 0;
    }
    return -ENOENT;
}

int collect__redhat_version(const char *buf, size_t len, char *out, size_t cap)
{
    struct slice s = {buf, len};
    if (cap == 0)
        return -E2BIG;
    if (procfile_contains(s, "rawhide", 1))
        return procfile_copy((struct slice){"rawhide", 7}, out, cap);
    /* "release " then one word character, then digits and dots. */
    for (size_t i = 0; i + 8 < len; i++) {
        size_t j = 0;
        while (j < 8 && lower(buf[i + j]) == "release "[j])
            j++;
        if (j < 8)
            continue;
        size_t start = i + 8;
        char ch = buf[start];
        int word = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
                   (ch >= 'A' && ch <= 'Z') || ch == '_';
        if (!word)
            continue;
        size_t end = start + 1;
        while (end < len && ((buf[end] >= '0' && buf[end] <= '9') || buf[end] == '.'))
            end++;
        int rc = procfile_copy((struct slice){buf + start, end - start}, out, cap);
        for (char *p = out; *p; p++)
            *p = lower(*p);
        return rc;
    }
    out[0] = '\0';
    return -ENOENT;
}

int collect__redhat_platform(const char *buf, size_t len, char *out, size_t cap)
{
    struct slice s = {buf, len};
    if (cap == 0)
        return -E2BIG;
    if (procfile_contains(s, "red hat", 1))
        return procfile_copy((struct slice){"redhat", 6}, out, cap);
    size_t n = 0;
    while (n < len && buf[n] != ' ' && buf[n] != '\n')
        n++;
    int rc = procfile_copy((struct slice){buf, n}, out, cap);
    for (char *p = out; *p; p++)
        *p = lower(*p);
    return rc;
}

/* First line of root + rel, trimmed, into out. */
static int first_line(struct collector *c, const char *rel, char *out, size_t cap)
{
    size_t len;
    out[0] = '\0';
    int rc = procfile_slurp(c->opts.root, rel, c->scratch, sizeof(c->scratch), &len);
    if (rc < 0)
        return rc;
    const char *cur = c->scratch;
    struct slice line = {c->scratch, 0};
    procfile_line(&cur, c->scratch + len, &line);
    return procfile_copy(procfile_trim(line), out, cap);
}

static int file_value(struct collector *c, const char *rel, const char *key, char *out, size_t cap)
{
    size_t len;
    out[0] = '\0';
    int rc = procfile_slurp(c->opts.root, rel, c->scratch, sizeof(c->scratch), &len);
    if (rc < 0)
        return rc;
    return collect__kv_value(c->scratch, len, key, out, cap);
}

static void redhatish(struct collector *c, const char *rel, int set_platform)
{
    size_t len;
    if (procfile_slurp(c->opts.root, rel, c->scratch, sizeof(c->scratch), &len) < 0)
        return;
    collect__redhat_version(c->scratch, len, c->os.version, sizeof(c->os.version));
    if (set_platform)
        collect__redhat_platform(c->scratch, len, c->os.platform, sizeof(c->os.platform));
}

static void detect_platform(struct collector *c)
{
    struct collect__os *os = &c->os;
    char lsb_id[COLLECT_SHORT_MAX] = "", lsb_rel[COLLECT_SHORT_MAX] = "";
    const char *root = c->opts.root;
    file_value(c, "/etc/lsb-release", "DISTRIB_ID", lsb_id, sizeof(lsb_id));
    file_value(c, "/etc/lsb-release", "DISTRIB_RELEASE", lsb_rel, sizeof(lsb_rel));
    os->platform[0] = '\0';
    os->version[0] = '\0';

    if (procfile_exists(root, "/etc/oracle-release", 1)) {
        snprintf(os->platform, sizeof(os->platform), "oracle");
        redhatish(c, "/etc/oracle-release", 0);
    } else if (procfile_exists(root, "/etc/enterprise-release", 1)) {
        snprintf(os->platform, sizeof(os->platform), "oracle");
        redhatish(c, "/etc/enterprise-release", 0);
    } else if (procfile_exists(root, "/etc/debian_version", 1)) {
        if (strcmp(lsb_id, "Ubuntu") == 0 || strcmp(lsb_id, "LinuxMint") == 0) {
            snprintf(os->platform, sizeof(os->platform), "%s",
                     lsb_id[0] == 'U' ? "ubuntu" : "linuxmint");
            snprintf(os->version, sizeof(os->version), "%s", lsb_rel);
        } else {
            snprintf(os->platform, sizeof(os->platform), "%s",
                     procfile_exists(root, "/usr/bin/raspi-config", 1) ? "raspbian" : "debian");
            first_line(c, "/etc/debian_version", os->version, sizeof(os->version));
        }
    } else if (procfile_exists(root, "/etc/redhat-release", 1)) {
        redhatish(c, "/etc/redhat-release", 1);
    } else if (procfile_exists(root, "/etc/system-release", 1)) {
        redhatish(c, "/etc/system-release", 1);
    } else if (procfile_exists(root, "/etc/gentoo-release", 1)) {
        snprintf(os->platform, sizeof(os->platform), "gentoo");
        redhatish(c, "/etc/gentoo-release", 0);
    } else if (procfile_exists(root, "/etc/arch-release", 0)) {
        snprintf(os->platform, sizeof(os->platform), "arch");
        snprintf(os->version, sizeof(os->version), "%s", lsb_rel);
    } else if (procfile_exists(root, "/etc/alpine-release", 1)) {
        snprintf(os->platform, sizeof(os->platform), "alpine");
        first_line(c, "/etc/alpine-release", os->version, sizeof(os->version));
    } else if (procfile_exists(root, "/etc/os-release", 1)) {
        file_value(c, "/etc/os-release", "ID", os->platform, sizeof(os->platform));
        file_value(c, "/etc/os-release", "VERSION_ID", os->version, sizeof(os->version));
        if (strcmp(os->platform, "amzn") == 0)
            snprintf(os->platform, sizeof(os->platform), "amazon");
    } else {
        size_t i = 0;
        for (; lsb_id[i] && i + 1 < sizeof(os->platform); i++)
            os->platform[i] = lower(lsb_id[i]);
        os->platform[i] = '\0';
        snprintf(os->version, sizeof(os->version), "%s", lsb_rel);
    }
}

static void detect_arch(struct collector *c)
{
    struct utsname u;
    if (!c->root_is_slash &&
        first_line(c, "/proc/sys/kernel/arch", c->os.arch, sizeof(c->os.arch)) == 0 &&
        c->os.arch[0])
        return;
    if (uname(&u) == 0)
        procfile_copy((struct slice){u.machine, strnlen(u.machine, sizeof(u.machine))}, c->os.arch,
                      sizeof(c->os.arch));
    else
        c->os.arch[0] = '\0';
}

/* 1 if root + rel is readable and contains needle. */
static int file_has(struct collector *c, const char *rel, const char *needle)
{
    size_t len;
    if (procfile_slurp(c->opts.root, rel, c->scratch, sizeof(c->scratch), &len) < 0)
        return 0;
    return procfile_contains((struct slice){c->scratch, len}, needle, 0);
}

static void set_virt(struct collect__os *os, const char *system, int guest)
{
    snprintf(os->virt_system, sizeof(os->virt_system), "%s", system);
    os->guest = guest;
}

/* DMI strings that name a hypervisor (our addition; readable without root). */
static const struct {
    const char *needle;
    const char *system;
} dmi_vendors[] = {
    {"QEMU", "kvm"},
    {"KVM", "kvm"},
    {"Google", "kvm"},
    {"Amazon EC2", "kvm"},
    {"OpenStack", "kvm"},
    {"oVirt", "kvm"},
    {"VMware", "vmware"},
    {"VirtualBox", "vbox"},
    {"innotek", "vbox"},
    {"Xen", "xen"},
    {"Parallels", "parallels"},
    {"Bochs", "bochs"},
    {"Virtual Machine", "hyperv"},
};

static void detect_dmi(struct collector *c)
{
    static const char *const files[] = {
        "/sys/class/dmi/id/sys_vendor", "/sys/class/dmi/id/product_name",
        "/sys/class/dmi/id/board_vendor", "/sys/class/dmi/id/bios_vendor"};
    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        char buf[128];
        size_t len;
        if (procfile_slurp(c->opts.root, files[f], buf, sizeof(buf), &len) < 0)
            continue;
        for (size_t i = 0; i < sizeof(dmi_vendors) / sizeof(dmi_vendors[0]); i++) {
            if (procfile_contains((struct slice){buf, len}, dmi_vendors[i].needle, 0)) {
                set_virt(&c->os, dmi_vendors[i].system, 1);
                return;
            }
        }
    }
}

static void detect_virt(struct collector *c)
{
    struct collect__os *os = &c->os;
    const char *root = c->opts.root;
    size_t len;
    set_virt(os, "", 0);

    /* The reference chain: later checks override earlier ones. */
    if (procfile_exists(root, "/proc/xen", 0))
        set_virt(os, "xen", !file_has(c, "/proc/xen/capabilities", "control_d"));
    if (procfile_slurp(root, "/proc/modules", c->scratch, sizeof(c->scratch), &len) >= 0) {
        struct slice s = {c->scratch, len};
        if (procfile_contains(s, "kvm", 0))
            set_virt(os, "kvm", 0);
        else if (procfile_contains(s, "hv_util", 0))
            set_virt(os, "hyperv", 1);
        else if (procfile_contains(s, "vboxdrv", 0))
            set_virt(os, "vbox", 0);
        else if (procfile_contains(s, "vboxguest", 0))
            set_virt(os, "vbox", 1);
        else if (procfile_contains(s, "vmware", 0))
            set_virt(os, "vmware", 1);
    }
    int hypervisor_flag = 0;
    if (procfile_slurp(root, "/proc/cpuinfo", c->scratch, sizeof(c->scratch), &len) >= 0) {
        struct slice s = {c->scratch, len};
        if (procfile_contains(s, "QEMU Virtual CPU", 0) ||
            procfile_contains(s, "Common KVM processor", 0) ||
            procfile_contains(s, "Common 32-bit KVM processor", 0))
            set_virt(os, "kvm", 1);
        hypervisor_flag = procfile_contains(s, " hypervisor", 0);
    }
    if (file_has(c, "/proc/bus/pci/devices", "virtio-pci")) {
        os->guest = 1; /* role only: the system keeps its value */
    }
    if (procfile_exists(root, "/proc/bc/0", 0))
        set_virt(os, "openvz", 0);
    else if (procfile_exists(root, "/proc/vz", 0))
        set_virt(os, "openvz", 1);
    if (file_has(c, "/proc/self/status", "s_context:") || file_has(c, "/proc/self/status", "VxID:"))
        snprintf(os->virt_system, sizeof(os->virt_system), "linux-vserver");
    if (file_has(c, "/proc/1/environ", "container=lxc"))
        set_virt(os, "lxc", 1);
    if (procfile_slurp(root, "/proc/self/cgroup", c->scratch, sizeof(c->scratch), &len) >= 0) {
        struct slice s = {c->scratch, len};
        if (procfile_contains(s, "lxc", 0))
            set_virt(os, "lxc", 1);
        else if (procfile_contains(s, "docker", 0))
            set_virt(os, "docker", 1);
        else if (procfile_contains(s, "machine-rkt", 0))
            set_virt(os, "rkt", 1);
        else if (procfile_exists(root, "/usr/bin/lxc-version", 0))
            set_virt(os, "lxc", 0);
    }
    char id[COLLECT_SHORT_MAX];
    if (file_value(c, "/etc/os-release", "ID", id, sizeof(id)) == 0 && strcmp(id, "coreos") == 0)
        set_virt(os, "rkt", 0);
    if (procfile_exists(root, "/.dockerenv", 0))
        set_virt(os, "docker", 1);

    /* Our additions (docs/compatibility.md): systemd's container marker ... */
    char ctr[COLLECT_SHORT_MAX];
    if (first_line(c, "/run/systemd/container", ctr, sizeof(ctr)) == 0 && ctr[0]) {
        if (strncmp(ctr, "lxc", 3) == 0)
            set_virt(os, "lxc", 1);
        else
            set_virt(os, ctr, 1);
    }
    /* ... and naming the hypervisor of a VM guest from DMI when nothing else did. */
    if (!os->guest || os->virt_system[0] == '\0') {
        if (hypervisor_flag || os->guest)
            detect_dmi(c);
        if (hypervisor_flag)
            os->guest = 1;
    }
}

int collect__os_detect(struct collector *c)
{
    detect_virt(c);
    detect_platform(c);
    detect_arch(c);
    return 0;
}
