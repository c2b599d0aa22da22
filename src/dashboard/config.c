/*
 * config: table-driven dashboard configuration (see config.h). Reads YAML
 * with libyaml's event parser, writes it with libyaml's emitter.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "core/buf.h"
#include "core/strnum.h"
#include "core/xalloc.h"
#include "core/errbuf.h"

#define NAME_MAX_LEN 64            /* longest option name, for env names */
#define STR_MAX      4096          /* default length limit of a string value */
#define CODE_MAX     (256u * 1024) /* custom HTML code blocks */

enum opt_type { T_BOOL, T_INT, T_STR, T_MAP };

struct option {
    const char *name; /* lower case; "section.key" for nested keys */
    enum opt_type type;
    size_t off; /* offset of the field in struct dash_config (unused for T_MAP) */
    const char *def_str;
    int64_t def_int;  /* T_INT and T_BOOL */
    int64_t min, max; /* T_INT: range; T_STR: max is the length limit in bytes */
    int used;         /* Lotus uses it (else accepted for Nezha v0 compatibility only) */
    const char *help;
};

#define F(field) offsetof(struct dash_config, field)
/* One initializer per line: the table reads as a table. */
/* clang-format off */
#define B(n, field, d, used, help) {n, T_BOOL, F(field), NULL, d, 0, 1, used, help}
#define I(n, field, d, lo, hi, used, help) {n, T_INT, F(field), NULL, d, lo, hi, used, help}
#define S(n, field, d, maxlen, used, help) {n, T_STR, F(field), d, 0, 0, maxlen, used, help}
/* clang-format on */

static const struct option options[] = {
    /* Used by Lotus. */
    B("debug", debug, 0, 1, "verbose (debug) logging"),
    S("language", language, "zh-CN", 16, 1,
      "language of notification texts: zh-CN, zh-TW, en-US, es-ES"),
    /* Nezha v0's built-in default is 80 (its installer writes 8008); Lotus defaults to 8008
     * so it does not need root or CAP_NET_BIND_SERVICE. */
    I("httpport", httpport, 8008, 1, 65535, 1, "HTTP (web UI and API) listen port"),
    I("grpcport", grpcport, 5555, 1, 65535, 1, "gRPC (agent) listen port"),
    S("listenhost", listenhost, "0.0.0.0", 255, 1, "bind address of both listeners (Lotus)"),
    S("grpchost", grpchost, "", 255, 1, "dashboard address agents connect to (install commands)"),
    I("proxygrpcport", proxygrpcport, 0, 0, 65535, 1,
      "gRPC port agents connect to behind a proxy, 0 = grpcport (install commands)"),
    B("tls", tls, 0, 1, "agents connect with TLS (install commands)"),
    S("site.brand", site_brand, "Lotus", 256, 1, "site title"),
    S("site.cookiename", site_cookiename, "nezha-dashboard", 64, 1, "session cookie name"),
    S("site.viewpassword", site_viewpassword, "", 256, 1, "password guests need to view the site"),
    S("grpctlscert", grpctlscert, "", STR_MAX, 1,
      "PEM certificate file for the gRPC listener (Lotus)"),
    S("grpctlskey", grpctlskey, "", STR_MAX, 1,
      "PEM private key file for the gRPC listener (Lotus)"),
    S("httptlscert", httptlscert, "", STR_MAX, 1,
      "PEM certificate file for the HTTP listener (Lotus)"),
    S("httptlskey", httptlskey, "", STR_MAX, 1,
      "PEM private key file for the HTTP listener (Lotus)"),
    S("geoipdb", geoipdb, "", STR_MAX, 1,
      "MaxMind .mmdb file for country lookup, empty = off (Lotus)"),
    B("metrics.public", metrics_public, 0, 1,
      "GET /metrics without an API token, hidden servers left out (Lotus)"),
    S("prometheus.remotewrite.url", promrw_url, "", STR_MAX, 1,
      "Prometheus remote-write receiver, e.g. http://host:9090/api/v1/write; empty = off (Lotus)"),
    I("prometheus.remotewrite.interval", promrw_interval, 15, 1, 86400, 1,
      "seconds between remote-write batches (Lotus)"),
    I("prometheus.remotewrite.timeout", promrw_timeout, 30, 1, 3600, 1,
      "seconds one remote-write POST may take (Lotus)"),
    S("prometheus.remotewrite.username", promrw_username, "", 256, 1,
      "remote-write basic auth user (Lotus)"),
    S("prometheus.remotewrite.password", promrw_password, "", 256, 1,
      "remote-write basic auth password (Lotus)"),
    S("prometheus.remotewrite.bearertoken", promrw_bearertoken, "", STR_MAX, 1,
      "remote-write bearer token, wins over basic auth (Lotus)"),
    I("prometheus.remotewrite.queuesamples", promrw_queuesamples, 500000, 1000, 100000000, 1,
      "samples kept for an unreachable receiver, about 100 bytes each (Lotus)"),
    S("prometheus.remotewrite.labels", promrw_labels, "", STR_MAX, 1,
      "extra labels on every written series, \"name=value,name=value\" (Lotus)"),

    /* Nezha v0 keys accepted and preserved but not used yet. */
    S("site.theme", site_theme, "default", 64, 0, "Nezha: front-end theme"),
    S("site.dashboardtheme", site_dashboardtheme, "default", 64, 0, "Nezha: admin theme"),
    S("site.customcode", site_customcode, "", CODE_MAX, 0, "Nezha: HTML injected in public pages"),
    S("site.customcodedashboard", site_customcodedashboard, "", CODE_MAX, 0,
      "Nezha: HTML injected in admin pages"),
    S("oauth2.type", oauth2_type, "", 32, 0, "Nezha: OAuth2 provider"),
    S("oauth2.admin", oauth2_admin, "", STR_MAX, 0, "Nezha: comma list of admin logins"),
    S("oauth2.admingroups", oauth2_admingroups, "", STR_MAX, 0, "Nezha: OIDC admin groups"),
    S("oauth2.clientid", oauth2_clientid, "", STR_MAX, 0, "Nezha: OAuth2 client id"),
    S("oauth2.clientsecret", oauth2_clientsecret, "", STR_MAX, 0, "Nezha: OAuth2 client secret"),
    S("oauth2.endpoint", oauth2_endpoint, "", STR_MAX, 0, "Nezha: Gitea/Cloudflare base URL"),
    S("oauth2.oidcissuer", oauth2_oidcissuer, "", STR_MAX, 0, "Nezha: OIDC issuer"),
    S("oauth2.oidcdisplayname", oauth2_oidcdisplayname, "OIDC", 256, 0, "Nezha: OIDC button text"),
    S("oauth2.oidcscopes", oauth2_oidcscopes, "openid,profile,email", STR_MAX, 0,
      "Nezha: OIDC scopes"),
    S("oauth2.oidcloginclaim", oauth2_oidcloginclaim, "sub", 256, 0, "Nezha: OIDC login claim"),
    S("oauth2.oidcgroupclaim", oauth2_oidcgroupclaim, "groups", 256, 0, "Nezha: OIDC group claim"),
    S("oauth2.oidclogouturl", oauth2_oidclogouturl, "", STR_MAX, 0, "Nezha: OIDC logout URL"),
    S("oauth2.oidcregisterurl", oauth2_oidcregisterurl, "", STR_MAX, 0, "Nezha: OIDC register URL"),
    B("oauth2.oidcautocreate", oauth2_oidcautocreate, 0, 0, "Nezha: create OIDC users on login"),
    B("oauth2.oidcautologin", oauth2_oidcautologin, 0, 0, "Nezha: redirect to OIDC login"),
    B("enableplainipinnotification", enableplainipinnotification, 0, 0,
      "Nezha: unmasked IPs in notifications"),
    B("disableswitchtemplateinfrontend", disableswitchtemplateinfrontend, 0, 0,
      "Nezha: hide the theme switch"),
    B("enableipchangenotification", enableipchangenotification, 0, 0,
      "Nezha: notify on IP changes"),
    S("ipchangenotificationtag", ipchangenotificationtag, "default", 256, 0,
      "Nezha: notification group for IP changes"),
    I("cover", cover, 0, 0, 1, 0, "Nezha: IP-change coverage, 0 all but listed, 1 only listed"),
    S("ignoredipnotification", ignoredipnotification, "", STR_MAX, 0,
      "Nezha: comma list of server ids for IP-change coverage"),
    {"ignoredipnotificationserverids", T_MAP, 0, NULL, 0, 0, 0, 0,
     "Nezha: derived id map (read and dropped; rebuilt from ignoredipnotification)"},
    S("location", location, "Asia/Shanghai", 64, 0, "Nezha: time zone"),
    I("maxtcppingvalue", maxtcppingvalue, 1000, 0, 1000000, 0,
      "Nezha: cap of stored ping averages (ms)"),
    I("avgpingcount", avgpingcount, 2, 0, 1000000, 0,
      "Nezha: ping results averaged per stored row"),
    S("dnsservers", dnsservers, "", STR_MAX, 0, "Nezha: DNS servers for DDNS"),
};
#define N_OPTIONS (sizeof(options) / sizeof(options[0]))
_Static_assert(N_OPTIONS <= CONFIG_OPTIONS_MAX, "raise CONFIG_OPTIONS_MAX");

static char **str_field(struct dash_config *c, const struct option *o)
{
    return (char **)((char *)c + o->off);
}
static int *bool_field(struct dash_config *c, const struct option *o)
{
    return (int *)((char *)c + o->off);
}
static int64_t *int_field(struct dash_config *c, const struct option *o)
{
    return (int64_t *)((char *)c + o->off);
}
static const char *cstr_field(const struct dash_config *c, const struct option *o)
{
    return *(char *const *)((const char *)c + o->off);
}

static void set_default(struct dash_config *c, const struct option *o)
{
    switch (o->type) {
    case T_BOOL:
        *bool_field(c, o) = (int)o->def_int;
        break;
    case T_INT:
        *int_field(c, o) = o->def_int;
        break;
    case T_STR:
        free(*str_field(c, o));
        *str_field(c, o) = xstrdup(o->def_str);
        break;
    case T_MAP:
        break;
    }
}

void config_defaults(struct dash_config *c)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < N_OPTIONS; i++)
        set_default(c, &options[i]);
}

void config_release(struct dash_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if (options[i].type == T_STR) {
            free(*str_field(c, &options[i]));
            *str_field(c, &options[i]) = NULL;
        }
    }
}

size_t config_option_count(void)
{
    return N_OPTIONS;
}

const char *config_option_name(size_t i)
{
    return i < N_OPTIONS ? options[i].name : NULL;
}

static const struct option *find_option(const char *name, size_t *idx)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if (strcasecmp(options[i].name, name) == 0) {
            *idx = i;
            return &options[i];
        }
    }
    return NULL;
}

/* A section is a name that prefixes some option ("site" for "site.brand"). */
static int is_section(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (strncasecmp(options[i].name, name, n) == 0 && options[i].name[n] == '.')
            return 1;
    return 0;
}

static int is_null_scalar(const char *v, size_t len, int plain)
{
    if (!plain)
        return 0;
    return len == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
           strcmp(v, "NULL") == 0;
}

static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "y", "1"};
    static const char *const no[] = {"false", "no", "off", "n", "0"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -EINVAL;
}

/* Sets option o from scalar text v (len bytes). On error writes a message (no location) to msg. */
static int set_value(struct dash_config *c, const struct option *o, const char *v, size_t len,
                     int plain, char *msg, size_t msglen)
{
    if (o->type == T_MAP) {
        errbuf_set(msg, msglen, "'%s' expects a mapping", o->name);
        return -EINVAL;
    }
    if (is_null_scalar(v, len, plain)) {
        set_default(c, o);
        if (o->type == T_STR) {
            free(*str_field(c, o));
            *str_field(c, o) = xstrdup("");
        }
        return 0;
    }
    switch (o->type) {
    case T_BOOL: {
        int b;
        if (strlen(v) != len || parse_bool(v, &b) != 0) {
            errbuf_set(msg, msglen, "'%s' expects true or false, got '%.64s'", o->name, v);
            return -EINVAL;
        }
        *bool_field(c, o) = b;
        return 0;
    }
    case T_INT: {
        int64_t n;
        if (strlen(v) != len || strnum_i64(v, len, &n) != 0 || n < o->min || n > o->max) {
            errbuf_set(msg, msglen, "'%s' expects an integer %lld..%lld, got '%.64s'", o->name,
                       (long long)o->min, (long long)o->max, v);
            return -EINVAL;
        }
        *int_field(c, o) = n;
        return 0;
    }
    case T_STR:
        if (strlen(v) != len) {
            errbuf_set(msg, msglen, "'%s' contains a NUL character", o->name);
            return -EINVAL;
        }
        if (len > (size_t)o->max) {
            errbuf_set(msg, msglen, "'%s' is longer than %lld bytes", o->name, (long long)o->max);
            return -EINVAL;
        }
        free(*str_field(c, o));
        *str_field(c, o) = xstrndup(v, len);
        return 0;
    case T_MAP:
        break;
    }
    return -EINVAL;
}

/* ---- environment ---- */

static void env_name(const struct option *o, char *out, size_t n)
{
    size_t k = 0;
    const char *p = "NZ_";
    while (*p && k + 1 < n)
        out[k++] = *p++;
    for (p = o->name; *p && k + 1 < n; p++)
        out[k++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
    out[k] = '\0';
}

static int apply_env(struct dash_config *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option *o = &options[i];
        if (o->type == T_MAP)
            continue;
        char name[NAME_MAX_LEN];
        env_name(o, name, sizeof(name));
        const char *v = getenv(name);
        if (!v)
            continue;
        char msg[256];
        /* Not plain: an empty variable means "", and "null" is literal text. */
        if (set_value(c, o, v, strlen(v), 0, msg, sizeof(msg)) != 0) {
            errbuf_set(err, errlen, "env %s: %s", name, msg);
            return -EINVAL;
        }
        c->source[i] = CONFIG_SRC_ENV;
    }
    return 0;
}

/* ---- YAML reading ---- */

struct reader {
    yaml_parser_t p;
    const char *path;
    char *err;
    size_t errlen;
    struct dash_config *c;
    unsigned char seen[CONFIG_OPTIONS_MAX]; /* set in this file (duplicate detection) */
};

static int next_event(struct reader *r, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&r->p, ev)) {
        errbuf_set(r->err, r->errlen, "%s:%zu: %s%s%s", r->path, r->p.problem_mark.line + 1,
                   r->p.problem ? r->p.problem : "YAML syntax error", r->p.context ? " " : "",
                   r->p.context ? r->p.context : "");
        return -EINVAL;
    }
    if (ev->type == YAML_ALIAS_EVENT) {
        errbuf_set(r->err, r->errlen, "%s:%zu: YAML aliases are not supported", r->path,
                   ev->start_mark.line + 1);
        yaml_event_delete(ev);
        return -EINVAL;
    }
    return 0;
}

/* Skips the rest of a node whose start event (a collection start) was just read. */
static int skip_collection(struct reader *r)
{
    size_t depth = 1;
    while (depth > 0) {
        yaml_event_t ev;
        if (next_event(r, &ev) != 0)
            return -EINVAL;
        if (ev.type == YAML_MAPPING_START_EVENT || ev.type == YAML_SEQUENCE_START_EVENT)
            depth++;
        else if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT)
            depth--;
        yaml_event_delete(&ev);
    }
    return 0;
}

static int read_mapping(struct reader *r, const char *prefix);

/* Handles the value of key `full` (whose key event was at line) given its first event. */
static int read_value(struct reader *r, const char *full, size_t line, yaml_event_t *val)
{
    size_t idx = 0;
    const struct option *o = find_option(full, &idx);
    if (!o && is_section(full)) {
        if (val->type == YAML_MAPPING_START_EVENT) {
            char prefix[NAME_MAX_LEN + 2];
            snprintf(prefix, sizeof(prefix), "%s.", full);
            return read_mapping(r, prefix);
        }
        if (val->type == YAML_SCALAR_EVENT &&
            is_null_scalar((const char *)val->data.scalar.value, val->data.scalar.length,
                           val->data.scalar.plain_implicit))
            return 0; /* "site:" with nothing under it */
        errbuf_set(r->err, r->errlen, "%s:%zu: '%s' must be a mapping", r->path, line, full);
        return -EINVAL;
    }
    if (!o) {
        errbuf_set(r->err, r->errlen, "%s:%zu: unknown key '%s'", r->path, line, full);
        return -EINVAL;
    }
    if (r->seen[idx]) {
        errbuf_set(r->err, r->errlen, "%s:%zu: duplicate key '%s'", r->path, line, o->name);
        return -EINVAL;
    }
    r->seen[idx] = 1;
    r->c->source[idx] = CONFIG_SRC_FILE;
    if (o->type == T_MAP) {
        if (val->type == YAML_MAPPING_START_EVENT)
            return skip_collection(r);
        if (val->type == YAML_SCALAR_EVENT &&
            is_null_scalar((const char *)val->data.scalar.value, val->data.scalar.length,
                           val->data.scalar.plain_implicit))
            return 0;
        errbuf_set(r->err, r->errlen, "%s:%zu: '%s' must be a mapping", r->path, line, o->name);
        return -EINVAL;
    }
    if (val->type != YAML_SCALAR_EVENT) {
        errbuf_set(r->err, r->errlen, "%s:%zu: '%s' expects a single value", r->path,
                   val->start_mark.line + 1, o->name);
        return -EINVAL;
    }
    char msg[256];
    if (set_value(r->c, o, (const char *)val->data.scalar.value, val->data.scalar.length,
                  val->data.scalar.plain_implicit, msg, sizeof(msg)) != 0) {
        errbuf_set(r->err, r->errlen, "%s:%zu: %s", r->path, val->start_mark.line + 1, msg);
        return -EINVAL;
    }
    return 0;
}

/* Reads key/value pairs until the end of the current mapping. */
static int read_mapping(struct reader *r, const char *prefix)
{
    for (;;) {
        yaml_event_t key;
        if (next_event(r, &key) != 0)
            return -EINVAL;
        if (key.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&key);
            return 0;
        }
        size_t line = key.start_mark.line + 1;
        if (key.type != YAML_SCALAR_EVENT) {
            yaml_event_delete(&key);
            errbuf_set(r->err, r->errlen, "%s:%zu: keys must be plain names", r->path, line);
            return -EINVAL;
        }
        char full[NAME_MAX_LEN + 1];
        int n = snprintf(full, sizeof(full), "%s%s", prefix, (const char *)key.data.scalar.value);
        int too_long = n < 0 || (size_t)n >= sizeof(full) ||
                       strlen((const char *)key.data.scalar.value) != key.data.scalar.length;
        yaml_event_delete(&key);
        if (too_long) {
            errbuf_set(r->err, r->errlen, "%s:%zu: unknown key '%s%.32s...'", r->path, line, prefix,
                       full + strlen(prefix));
            return -EINVAL;
        }
        yaml_event_t val;
        if (next_event(r, &val) != 0)
            return -EINVAL;
        int rc = read_value(r, full, line, &val);
        yaml_event_delete(&val);
        if (rc != 0)
            return rc;
    }
}

static int read_document(struct reader *r)
{
    yaml_event_t ev;
    if (next_event(r, &ev) != 0)
        return -EINVAL;
    yaml_event_type_t t = ev.type;
    yaml_event_delete(&ev); /* STREAM_START */
    if (t != YAML_STREAM_START_EVENT)
        goto bad;
    if (next_event(r, &ev) != 0)
        return -EINVAL;
    t = ev.type;
    yaml_event_delete(&ev);
    if (t == YAML_STREAM_END_EVENT)
        return 0; /* empty file or comments only */
    if (t != YAML_DOCUMENT_START_EVENT)
        goto bad;

    if (next_event(r, &ev) != 0)
        return -EINVAL;
    int rc = 0;
    if (ev.type == YAML_MAPPING_START_EVENT) {
        rc = read_mapping(r, "");
    } else if (ev.type != YAML_SCALAR_EVENT ||
               !is_null_scalar((const char *)ev.data.scalar.value, ev.data.scalar.length,
                               ev.data.scalar.plain_implicit)) {
        errbuf_set(r->err, r->errlen, "%s:%zu: the top level must be a mapping of keys", r->path,
                   ev.start_mark.line + 1);
        rc = -EINVAL;
    }
    yaml_event_delete(&ev);
    if (rc)
        return rc;

    if (next_event(r, &ev) != 0) /* DOCUMENT_END */
        return -EINVAL;
    yaml_event_delete(&ev);
    if (next_event(r, &ev) != 0)
        return -EINVAL;
    t = ev.type;
    size_t line = ev.start_mark.line + 1;
    yaml_event_delete(&ev);
    if (t != YAML_STREAM_END_EVENT) {
        errbuf_set(r->err, r->errlen, "%s:%zu: only one YAML document is allowed", r->path, line);
        return -EINVAL;
    }
    return 0;
bad:
    errbuf_set(r->err, r->errlen, "%s:1: not a YAML document", r->path);
    return -EINVAL;
}

/* Reads the whole file (at most CONFIG_FILE_MAX bytes) into *out (owned). */
static int slurp(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        errbuf_set(err, errlen, "%s: not a regular file", path);
        return -EINVAL;
    }
    if ((uint64_t)sb.st_size > CONFIG_FILE_MAX) {
        close(fd);
        errbuf_set(err, errlen, "%s: larger than %u bytes", path, CONFIG_FILE_MAX);
        return -EFBIG;
    }
    /* Sized to the file (it may still grow while read: bounded by CONFIG_FILE_MAX). */
    size_t cap = (size_t)sb.st_size + 1024;
    char *data = xmalloc(cap + 1);
    size_t n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap * 2 > CONFIG_FILE_MAX + 1 ? CONFIG_FILE_MAX + 1 : cap * 2;
            data = xrealloc(data, cap + 1);
        }
        ssize_t k = read(fd, data + n, cap - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int e = errno;
            close(fd);
            free(data);
            errbuf_set(err, errlen, "%s: %s", path, strerror(e));
            return -e;
        }
        if (k == 0)
            break;
        n += (size_t)k;
        if (n > CONFIG_FILE_MAX) {
            close(fd);
            free(data);
            errbuf_set(err, errlen, "%s: larger than %u bytes", path, CONFIG_FILE_MAX);
            return -EFBIG;
        }
    }
    close(fd);
    data[n] = '\0';
    *out = data;
    *len = n;
    return 0;
}

int config_load(struct dash_config *c, const char *path, char *err, size_t errlen)
{
    int rc = apply_env(c, err, errlen);
    if (rc)
        return rc;
    char *data = NULL;
    size_t len = 0;
    rc = slurp(path, &data, &len, err, errlen);
    if (rc == -ENOENT)
        return 0;
    if (rc) {
        if (err && errlen && !*err)
            errbuf_set(err, errlen, "%s: %s", path, strerror(-rc));
        return rc;
    }
    struct reader r;
    memset(&r, 0, sizeof(r));
    r.path = path;
    r.err = err;
    r.errlen = errlen;
    r.c = c;
    if (!yaml_parser_initialize(&r.p)) {
        free(data);
        errbuf_set(err, errlen, "%s: cannot initialise the YAML parser", path);
        return -ENOMEM;
    }
    yaml_parser_set_input_string(&r.p, (const unsigned char *)data, len);
    rc = read_document(&r);
    yaml_parser_delete(&r.p);
    free(data);
    return rc;
}

/* ---- YAML writing ---- */

static int buf_write_handler(void *data, unsigned char *buffer, size_t size)
{
    return buf_append(data, buffer, size) == 0;
}

static int emit_scalar(yaml_emitter_t *em, const char *v, yaml_scalar_style_t style)
{
    yaml_event_t ev;
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)(uintptr_t)v, (int)strlen(v),
                                      1, 1, style))
        return -1;
    return yaml_emitter_emit(em, &ev) ? 0 : -1;
}

static int emit_simple(yaml_emitter_t *em, yaml_event_type_t type)
{
    yaml_event_t ev;
    int ok = 0;
    switch (type) {
    case YAML_STREAM_START_EVENT:
        ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
        break;
    case YAML_STREAM_END_EVENT:
        ok = yaml_stream_end_event_initialize(&ev);
        break;
    case YAML_DOCUMENT_START_EVENT:
        ok = yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
        break;
    case YAML_DOCUMENT_END_EVENT:
        ok = yaml_document_end_event_initialize(&ev, 1);
        break;
    case YAML_MAPPING_START_EVENT:
        ok = yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
        break;
    case YAML_MAPPING_END_EVENT:
        ok = yaml_mapping_end_event_initialize(&ev);
        break;
    default:
        break;
    }
    if (!ok)
        return -1;
    return yaml_emitter_emit(em, &ev) ? 0 : -1;
}

static int emit_option(yaml_emitter_t *em, const struct dash_config *c, const struct option *o,
                       const char *key)
{
    char num[32];
    if (emit_scalar(em, key, YAML_PLAIN_SCALAR_STYLE))
        return -1;
    switch (o->type) {
    case T_BOOL:
        return emit_scalar(em, *(const int *)((const char *)c + o->off) ? "true" : "false",
                           YAML_PLAIN_SCALAR_STYLE);
    case T_INT:
        snprintf(num, sizeof(num), "%lld", (long long)*(const int64_t *)((const char *)c + o->off));
        return emit_scalar(em, num, YAML_PLAIN_SCALAR_STYLE);
    case T_STR:
        return emit_scalar(em, cstr_field(c, o), YAML_DOUBLE_QUOTED_SCALAR_STYLE);
    case T_MAP:
        break;
    }
    return -1;
}

/* Option name o is directly in section ("" = top level): "section.key" with no further dot. */
static int in_section(const char *name, const char *section)
{
    size_t sl = strlen(section);
    if (sl == 0)
        return strchr(name, '.') == NULL;
    return strncmp(name, section, sl) == 0 && name[sl] == '.' && !strchr(name + sl + 1, '.');
}

/* Emits the options of one section ("" = top level, non-dotted names) in table order. */
static int emit_section(yaml_emitter_t *em, const struct dash_config *c, const char *section)
{
    size_t sl = strlen(section);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option *o = &options[i];
        if (o->type == T_MAP || !in_section(o->name, section))
            continue;
        if (emit_option(em, c, o, sl ? o->name + sl + 1 : o->name))
            return -1;
    }
    return 0;
}

/* Emits section ("a" or "a.b") as nested mappings "a: {b: {...}}". */
static int emit_nested(yaml_emitter_t *em, const struct dash_config *c, const char *section)
{
    char part[NAME_MAX_LEN];
    const char *p = section;
    int depth = 0;
    int rc = 0;
    while (!rc && *p) {
        size_t n = strcspn(p, ".");
        snprintf(part, sizeof(part), "%.*s", (int)n, p);
        rc = emit_scalar(em, part, YAML_PLAIN_SCALAR_STYLE) ||
             emit_simple(em, YAML_MAPPING_START_EVENT);
        depth++;
        p += n + (p[n] == '.');
    }
    rc = rc || emit_section(em, c, section);
    while (!rc && depth-- > 0)
        rc = emit_simple(em, YAML_MAPPING_END_EVENT);
    return rc ? -1 : 0;
}

static int render(const struct dash_config *c, struct buf *out)
{
    static const char *const sections[] = {"site", "oauth2", "metrics", "prometheus.remotewrite"};
    yaml_emitter_t em;
    if (!yaml_emitter_initialize(&em))
        return -1;
    yaml_emitter_set_output(&em, buf_write_handler, out);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1);
    int rc = emit_simple(&em, YAML_STREAM_START_EVENT) ||
             emit_simple(&em, YAML_DOCUMENT_START_EVENT) ||
             emit_simple(&em, YAML_MAPPING_START_EVENT) || emit_section(&em, c, "");
    for (size_t i = 0; !rc && i < sizeof(sections) / sizeof(sections[0]); i++) {
        rc = emit_nested(&em, c, sections[i]);
    }
    rc = rc || emit_simple(&em, YAML_MAPPING_END_EVENT) ||
         emit_simple(&em, YAML_DOCUMENT_END_EVENT) || emit_simple(&em, YAML_STREAM_END_EVENT);
    if (!rc && !yaml_emitter_flush(&em))
        rc = 1;
    yaml_emitter_delete(&em);
    return rc || out->err ? -1 : 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int config_write(const struct dash_config *c, const char *path, char *err, size_t errlen)
{
    struct buf out;
    buf_init(&out, 4 * (size_t)CONFIG_FILE_MAX);
    buf_puts(&out, "# Lotus dashboard configuration (Nezha v0 compatible keys); "
                   "see lotus-dashboard --help\n");
    if (render(c, &out) != 0) {
        buf_release(&out);
        errbuf_set(err, errlen, "%s: cannot render the configuration as YAML", path);
        return -EINVAL;
    }
    struct buf tmp;
    buf_init(&tmp, 0);
    buf_printf(&tmp, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp.data); /* mode 0600 */
    int rc = 0;
    if (fd < 0) {
        rc = -errno;
        errbuf_set(err, errlen, "%s: cannot create a temporary file: %s", path, strerror(errno));
        goto out;
    }
    rc = write_all(fd, out.data, out.len);
    if (rc == 0 && fchmod(fd, 0600) != 0)
        rc = -errno;
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp.data, path) != 0)
        rc = -errno;
    if (rc) {
        errbuf_set(err, errlen, "%s: write failed: %s", path, strerror(-rc));
        unlink(tmp.data);
        goto out;
    }
    /* Make the rename durable. */
    const char *slash = strrchr(path, '/');
    char *dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(dir);
out:
    buf_release(&tmp);
    buf_release(&out);
    return rc;
}

size_t config_ignored_keys(const struct dash_config *c, const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if (options[i].used || c->source[i] == CONFIG_SRC_DEFAULT)
            continue;
        if (n < max)
            out[n] = options[i].name;
        n++;
    }
    return n;
}

void config_print_help(FILE *out)
{
    static const char *const type_names[] = {"bool", "int", "string", "mapping"};
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option *o = &options[i];
        char env[NAME_MAX_LEN];
        env_name(o, env, sizeof(env));
        fprintf(out, "  %-32s %-7s ", o->name, type_names[o->type]);
        switch (o->type) {
        case T_BOOL:
            fprintf(out, "default %s", o->def_int ? "true" : "false");
            break;
        case T_INT:
            fprintf(out, "default %lld (%lld..%lld)", (long long)o->def_int, (long long)o->min,
                    (long long)o->max);
            break;
        case T_STR:
            fprintf(out, "default \"%s\"", o->def_str);
            break;
        case T_MAP:
            fprintf(out, "-");
            break;
        }
        fprintf(out, "  env %s%s\n      %s\n", o->type == T_MAP ? "-" : env,
                o->used ? "" : "  [accepted, not used by Lotus]", o->help);
    }
}
