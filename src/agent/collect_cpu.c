/*
 * collect_cpu: CPU usage from /proc/stat deltas (State.cpu) and CPU model
 * strings from /proc/cpuinfo (Host.cpu), docs/protocol.md §2.1 row 3 and §2.2 row 1.
 *
 * Usage is primed in collect_new(), so the first State carries the usage since
 * the collector was created (the Go agent primes at start-up the same way).
 */
#include "collect_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/ascii.h"

int collect__parse_stat(const char *buf, size_t len, struct collect__cpu_times *cpu,
                        uint64_t *btime)
{
    const char *cur = buf;
    const char *end = buf + len;
    struct slice line;
    int have_cpu = 0;
    *btime = 0;
    while (procfile_line(&cur, end, &line)) {
        struct slice f[11];
        size_t n = procfile_fields(line, f, 11);
        if (n == 0)
            continue;
        if (!have_cpu && procfile_eq(f[0], "cpu")) {
            /* user nice system idle iowait irq softirq steal guest guest_nice */
            uint64_t v[10] = {0};
            size_t nv = n - 1;
            if (nv < 4)
                return -EINVAL;
            for (size_t i = 0; i < nv; i++) {
                /* Ticks stay far below 2^56; larger values would overflow the sums. */
                if (procfile_u64(f[i + 1], &v[i]) || v[i] > (UINT64_MAX >> 8))
                    return -EINVAL;
            }
            /* guest and guest_nice are already inside user/nice: left out. */
            uint64_t total = 0;
            for (size_t i = 0; i < 8; i++)
                total += v[i];
            uint64_t idle = v[3] + v[4];
            cpu->total = total;
            cpu->busy = total - idle;
            have_cpu = 1;
        } else if (procfile_eq(f[0], "btime") && n >= 2) {
            uint64_t b;
            if (procfile_u64(f[1], &b) == 0)
                *btime = b;
        }
    }
    return have_cpu ? 0 : -EINVAL;
}

double collect__cpu_percent(const struct collect__cpu_times *prev,
                            const struct collect__cpu_times *cur)
{
    if (cur->busy <= prev->busy)
        return 0;
    if (cur->total <= prev->total)
        return 100;
    double v = (double)(cur->busy - prev->busy) / (double)(cur->total - prev->total) * 100.0;
    if (v > 100)
        v = 100;
    if (v < 0)
        v = 0;
    return v;
}

/* ARM CPU part numbers (implementer 0x41) → core names, as /proc/cpuinfo lacks a model name. */
static const struct {
    unsigned part;
    const char *name;
} arm_parts[] = {
    {0x810, "ARM810"},      {0x920, "ARM920"},       {0x922, "ARM922"},
    {0x926, "ARM926"},      {0x940, "ARM940"},       {0x946, "ARM946"},
    {0x966, "ARM966"},      {0xa20, "ARM1020"},      {0xa22, "ARM1022"},
    {0xa26, "ARM1026"},     {0xb02, "ARM11 MPCore"}, {0xb36, "ARM1136"},
    {0xb56, "ARM1156"},     {0xb76, "ARM1176"},      {0xc05, "Cortex-A5"},
    {0xc07, "Cortex-A7"},   {0xc08, "Cortex-A8"},    {0xc09, "Cortex-A9"},
    {0xc0d, "Cortex-A17"},  {0xc0f, "Cortex-A15"},   {0xc0e, "Cortex-A17"},
    {0xc14, "Cortex-R4"},   {0xc15, "Cortex-R5"},    {0xc17, "Cortex-R7"},
    {0xc18, "Cortex-R8"},   {0xc20, "Cortex-M0"},    {0xc21, "Cortex-M1"},
    {0xc23, "Cortex-M3"},   {0xc24, "Cortex-M4"},    {0xc27, "Cortex-M7"},
    {0xc60, "Cortex-M0+"},  {0xd01, "Cortex-A32"},   {0xd03, "Cortex-A53"},
    {0xd04, "Cortex-A35"},  {0xd05, "Cortex-A55"},   {0xd06, "Cortex-A65"},
    {0xd07, "Cortex-A57"},  {0xd08, "Cortex-A72"},   {0xd09, "Cortex-A73"},
    {0xd0a, "Cortex-A75"},  {0xd0b, "Cortex-A76"},   {0xd0c, "Neoverse-N1"},
    {0xd0d, "Cortex-A77"},  {0xd0e, "Cortex-A76AE"}, {0xd13, "Cortex-R52"},
    {0xd20, "Cortex-M23"},  {0xd21, "Cortex-M33"},   {0xd40, "Neoverse-V1"},
    {0xd41, "Cortex-A78"},  {0xd42, "Cortex-A78AE"}, {0xd43, "Cortex-A65AE"},
    {0xd44, "Cortex-X1"},   {0xd46, "Cortex-A510"},  {0xd47, "Cortex-A710"},
    {0xd48, "Cortex-X2"},   {0xd49, "Neoverse-N2"},  {0xd4a, "Neoverse-E1"},
    {0xd4b, "Cortex-A78C"}, {0xd4c, "Cortex-X1C"},   {0xd4d, "Cortex-A715"},
    {0xd4e, "Cortex-X3"},   {0xd4f, "Neoverse-V2"},  {0xd80, "Cortex-A520"},
    {0xd81, "Cortex-A720"}, {0xd82, "Cortex-X4"},
};

/* "0x41" / "65" → value; -EINVAL on anything else. */
static int parse_num(struct slice s, uint64_t *out)
{
    if (s.len > 2 && s.ptr[0] == '0' && (s.ptr[1] == 'x' || s.ptr[1] == 'X')) {
        uint64_t v = 0;
        if (s.len - 2 > 15)
            return -ERANGE;
        for (size_t i = 2; i < s.len; i++) {
            int d = ascii_hexval((unsigned char)s.ptr[i]);
            if (d < 0)
                return -EINVAL;
            v = v * 16 + (unsigned)d;
        }
        *out = v;
        return 0;
    }
    return procfile_u64(s, out);
}

struct cpuinfo_rec {
    int active;
    int vendor_arm;
    char model[COLLECT_MODEL_MAX];
};

static void finish_record(struct collect__cpu_models *out, const struct cpuinfo_rec *r)
{
    if (!r->active)
        return;
    out->records++;
    for (size_t i = 0; i < out->n; i++) {
        if (strcmp(out->name[i], r->model) == 0) {
            out->count[i]++;
            return;
        }
    }
    if (out->n == COLLECT_CPU_MODELS_MAX)
        return; /* more distinct models than we keep: counted in records only */
    memcpy(out->name[out->n], r->model, sizeof(r->model));
    out->count[out->n] = 1;
    out->n++;
}

/*
 * Record rules (gopsutil's, which the reference uses): a "processor" (or
 * "cpu number") line starts a record whose model defaults to the last
 * "Processor" value (old 32-bit ARM kernels print it once, before the
 * records); "model name"/"Model Name"/"cpu" set the model; on ARM
 * ("CPU implementer" 0x41) "CPU part" maps through arm_parts, unknown parts
 * giving "Undefined". Lines outside a record are ignored: before the first
 * one, and after a blank line. The reference ignores blank lines, so on old
 * 32-bit ARM kernels, which print one shared "CPU implementer/CPU part" block
 * after all records, it renames only the last CPU (e.g. "ARMv7 Processor
 * rev 5 (v7l) 3 Physical Core" + "Cortex-A7 1 Physical Core"); we don't
 * (docs/compatibility.md).
 */
int collect__parse_cpuinfo(const char *buf, size_t len, struct collect__cpu_models *out)
{
    const char *cur = buf;
    const char *end = buf + len;
    struct slice line, key, val;
    struct cpuinfo_rec rec = {0};
    char processor_name[COLLECT_MODEL_MAX] = "";
    memset(out, 0, sizeof(*out));
    while (procfile_line(&cur, end, &line)) {
        if (procfile_trim(line).len == 0) {
            /* A blank line ends the record (the reference keeps it open; see above). */
            finish_record(out, &rec);
            memset(&rec, 0, sizeof(rec));
            continue;
        }
        if (procfile_kv(line, ':', &key, &val))
            continue;
        if (procfile_eq(key, "Processor")) {
            procfile_copy(val, processor_name, sizeof(processor_name));
        } else if (procfile_eq(key, "processor") || procfile_eq(key, "cpu number")) {
            finish_record(out, &rec);
            memset(&rec, 0, sizeof(rec));
            rec.active = 1;
            memcpy(rec.model, processor_name, sizeof(rec.model));
        } else if (procfile_eq(key, "vendor_id") || procfile_eq(key, "vendorId")) {
            if (procfile_contains(val, "S390", 0))
                memcpy(processor_name, "S390", sizeof("S390"));
        } else if (!rec.active) {
            continue; /* outside a record: e.g. old ARM kernels' trailing CPU block */
        } else if (procfile_eq(key, "CPU implementer")) {
            uint64_t v;
            rec.vendor_arm = parse_num(val, &v) == 0 && v == 0x41;
        } else if (procfile_eq(key, "model") || procfile_eq(key, "CPU part")) {
            uint64_t v;
            if (rec.vendor_arm && parse_num(val, &v) == 0) {
                const char *name = "Undefined";
                for (size_t i = 0; i < sizeof(arm_parts) / sizeof(arm_parts[0]); i++) {
                    if (arm_parts[i].part == v)
                        name = arm_parts[i].name;
                }
                snprintf(rec.model, sizeof(rec.model), "%s", name);
            }
        } else if (procfile_eq(key, "model name") || procfile_eq(key, "Model Name") ||
                   procfile_eq(key, "cpu")) {
            procfile_copy(val, rec.model, sizeof(rec.model));
        }
    }
    finish_record(out, &rec);
    return 0;
}

static int read_stat(struct collector *c, struct collect__cpu_times *t, uint64_t *btime)
{
    size_t len;
    int rc = procfile_read(&c->cpu.stat, c->scratch, sizeof(c->scratch), &len);
    if (rc < 0)
        return rc;
    return collect__parse_stat(c->scratch, len, t, btime);
}

int collect__cpu_prime(struct collector *c, uint64_t now_mono_ms)
{
    uint64_t btime;
    int rc = read_stat(c, &c->cpu.prev, &btime);
    c->cpu.primed = rc == 0;
    return rc;
}

int collect__cpu_state(struct collector *c, Proto__State *st, uint64_t now_mono_ms)
{
    struct collect__cpu_times t;
    uint64_t btime;
    int rc = read_stat(c, &t, &btime);
    if (rc)
        return rc;
    st->cpu = c->cpu.primed ? collect__cpu_percent(&c->cpu.prev, &t) : 0;
    c->cpu.prev = t;
    c->cpu.primed = 1;
    return 0;
}

int collect__cpu_host(struct collector *c, Proto__Host *h)
{
    struct collect__cpu_models m;
    size_t len;
    h->n_cpu = 0;
    h->cpu = c->cpu_ptr;
    int rc = procfile_slurp(c->opts.root, "/proc/cpuinfo", c->scratch, sizeof(c->scratch), &len);
    if (rc < 0)
        return rc;
    collect__parse_cpuinfo(c->scratch, len, &m);
    const char *kind = c->os.guest ? "Virtual" : "Physical";
    for (size_t i = 0; i < m.n; i++) {
        unsigned n = m.records > 1 ? m.count[i] : 1;
        /* The model is bounded below COLLECT_MODEL_MAX - 32 so the suffix always fits. */
        snprintf(c->cpu_str[i], sizeof(c->cpu_str[i]), "%.*s %u %s Core", COLLECT_MODEL_MAX - 32,
                 m.name[i], n, kind);
        c->cpu_ptr[i] = c->cpu_str[i];
    }
    h->n_cpu = m.n;
    return 0;
}
