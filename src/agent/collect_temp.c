/*
 * collect_temp: temperatures (docs/protocol.md §2.2 row 17, with --temperature).
 * Sensors: root/sys/class/hwmon/hwmon*\/temp*_input, else
 * hwmon*\/device/temp*_input, else thermal_zone*\/temp named by its type.
 * Key = hwmon name (+ "_" + lower-cased label, spaces → '_'); "PMU tcal" and
 * "noname" keys are dropped; values are millidegrees / 1000 and readings
 * ≤ 0 °C are left out of that report. Sensors are discovered on the first
 * collection (directory scans allocate; later reports only pread the kept
 * fds) and sorted by key. Unlike the reference, whose collection runs
 * asynchronously, the reading is the current one, so the first report has
 * temperatures too.
 */
#include "collect_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/strnum.h"

int collect__sensor_key(struct slice name, struct slice label, char *out, size_t cap)
{
    name = procfile_trim(name);
    label = procfile_trim(label);
    if (cap == 0)
        return -E2BIG;
    size_t o = 0;
    for (size_t i = 0; i < name.len; i++) {
        if (o + 1 >= cap)
            goto cut;
        out[o++] = name.ptr[i];
    }
    if (label.len) {
        if (o + 1 >= cap)
            goto cut;
        out[o++] = '_';
        for (size_t i = 0; i < label.len; i++) {
            char ch = label.ptr[i];
            if (ch >= 'A' && ch <= 'Z')
                ch = (char)(ch - 'A' + 'a');
            if (ch == ' ')
                ch = '_';
            if (o + 1 >= cap)
                goto cut;
            out[o++] = ch;
        }
    }
    out[o] = '\0';
    return 0;
cut:
    out[o] = '\0';
    return -E2BIG;
}

int collect__sensor_ignored(const char *key)
{
    struct slice s = {key, strlen(key)};
    return procfile_contains(s, "PMU tcal", 1) || procfile_contains(s, "noname", 1);
}

static int has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static int has_suffix(const char *s, const char *sfx)
{
    size_t n = strlen(s), m = strlen(sfx);
    return n >= m && strcmp(s + n - m, sfx) == 0;
}

/* Adds one sensor; rel is the input file relative to root. */
static void add_sensor(struct collector *c, const char *rel, struct slice name, struct slice label)
{
    struct collect__temp *t = &c->temp;
    if (t->n == COLLECT_TEMPS_MAX)
        return;
    struct collect__sensor *s = &t->s[t->n];
    if (collect__sensor_key(name, label, s->key, sizeof(s->key)) || s->key[0] == '\0' ||
        collect__sensor_ignored(s->key))
        return;
    procfile_init(&s->input);
    if (procfile_set(&s->input, c->opts.root, rel))
        return;
    t->n++;
}

/* Scans dir (relative to root) for temp*_input files; returns how many were added. */
static size_t scan_hwmon_dir(struct collector *c, const char *dir)
{
    char path[PROCFILE_PATH_MAX];
    char rel[PROCFILE_PATH_MAX];
    char name[COLLECT_SENSOR_MAX], label[COLLECT_SENSOR_MAX];
    size_t added = 0, len;
    if (procfile_path(path, sizeof(path), c->opts.root, dir))
        return 0;
    DIR *d = opendir(path);
    if (!d)
        return 0;
    if ((size_t)snprintf(rel, sizeof(rel), "%s/name", dir) >= sizeof(rel) ||
        procfile_slurp(c->opts.root, rel, name, sizeof(name), &len) < 0) {
        closedir(d);
        return 0; /* the reference skips sensors without a name file */
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!has_prefix(e->d_name, "temp") || !has_suffix(e->d_name, "_input"))
            continue;
        size_t base = strlen(e->d_name) - strlen("_input");
        label[0] = '\0';
        size_t llen = 0;
        if ((size_t)snprintf(rel, sizeof(rel), "%s/%.*s_label", dir, (int)base, e->d_name) <
            sizeof(rel))
            procfile_slurp(c->opts.root, rel, label, sizeof(label), &llen);
        if ((size_t)snprintf(rel, sizeof(rel), "%s/%s", dir, e->d_name) >= sizeof(rel))
            continue;
        size_t before = c->temp.n;
        add_sensor(c, rel, (struct slice){name, strlen(name)}, (struct slice){label, llen});
        added += c->temp.n - before;
    }
    closedir(d);
    return added;
}

/* Calls fn for every entry of root + dir whose name starts with prefix. */
static size_t scan_class(struct collector *c, const char *dir, const char *prefix, const char *sub)
{
    char path[PROCFILE_PATH_MAX], rel[PROCFILE_PATH_MAX];
    size_t added = 0;
    if (procfile_path(path, sizeof(path), c->opts.root, dir))
        return 0;
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!has_prefix(e->d_name, prefix))
            continue;
        if ((size_t)snprintf(rel, sizeof(rel), "%s/%s%s", dir, e->d_name, sub) >= sizeof(rel))
            continue;
        added += scan_hwmon_dir(c, rel);
    }
    closedir(d);
    return added;
}

static void scan_thermal(struct collector *c)
{
    char path[PROCFILE_PATH_MAX], rel[PROCFILE_PATH_MAX];
    char type[COLLECT_SENSOR_MAX];
    size_t len;
    if (procfile_path(path, sizeof(path), c->opts.root, "/sys/class/thermal"))
        return;
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!has_prefix(e->d_name, "thermal_zone"))
            continue;
        if ((size_t)snprintf(rel, sizeof(rel), "/sys/class/thermal/%s/type", e->d_name) >=
            sizeof(rel))
            continue;
        if (procfile_slurp(c->opts.root, rel, type, sizeof(type), &len) < 0)
            continue;
        if ((size_t)snprintf(rel, sizeof(rel), "/sys/class/thermal/%s/temp", e->d_name) >=
            sizeof(rel))
            continue;
        add_sensor(c, rel, (struct slice){type, len}, (struct slice){"", 0});
    }
    closedir(d);
}

static void discover(struct collector *c)
{
    struct collect__temp *t = &c->temp;
    t->n = 0;
    if (scan_class(c, "/sys/class/hwmon", "hwmon", "") == 0 &&
        scan_class(c, "/sys/class/hwmon", "hwmon", "/device") == 0)
        scan_thermal(c);
    /* Insertion sort by key (n ≤ COLLECT_TEMPS_MAX); procfile structs move with their keys. */
    for (size_t i = 1; i < t->n; i++) {
        struct collect__sensor tmp = t->s[i];
        size_t j = i;
        while (j > 0 && strcmp(t->s[j - 1].key, tmp.key) > 0) {
            t->s[j] = t->s[j - 1];
            j--;
        }
        t->s[j] = tmp;
    }
    for (size_t i = 0; i < COLLECT_TEMPS_MAX; i++) {
        Proto__StateSensorTemperature init = PROTO__STATE__SENSOR_TEMPERATURE__INIT;
        t->msg[i] = init;
    }
    t->discovered = 1;
}

int collect__temp_state(struct collector *c, Proto__State *st, uint64_t now_mono_ms)
{
    struct collect__temp *t = &c->temp;
    if (!c->opts.temperature)
        return 0;
    if (!t->discovered)
        discover(c);
    size_t out = 0, ok = 0;
    for (size_t i = 0; i < t->n; i++) {
        char buf[32];
        size_t len;
        int64_t milli;
        if (procfile_read(&t->s[i].input, buf, sizeof(buf), &len) < 0)
            continue;
        struct slice v = procfile_trim((struct slice){buf, len});
        if (strnum_i64(v.ptr, v.len, &milli))
            continue;
        ok++;
        double deg = (double)milli / 1000.0;
        if (deg <= 0)
            continue;
        t->msg[out].name = t->s[i].key;
        t->msg[out].temperature = deg;
        t->ptr[out] = &t->msg[out];
        out++;
    }
    st->n_temperatures = out;
    st->temperatures = out ? t->ptr : NULL;
    return t->n > 0 && ok == 0 ? -EIO : 0;
}

void collect__temp_close(struct collector *c)
{
    for (size_t i = 0; i < c->temp.n; i++)
        procfile_close(&c->temp.s[i].input);
    c->temp.n = 0;
    c->temp.discovered = 0;
}
