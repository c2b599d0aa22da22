/*
 * flags: table-driven command line and YAML config of the agent (see
 * flags.h). Relies on libyaml for the config file and on ipdisc for URL
 * validation.
 */
#include "agent/flags.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "agent/ipdisc.h"
#include "core/strnum.h"
#include "core/version.h"
#include "core/xalloc.h"

enum opt_type {
    OPT_BOOL,
    OPT_INT,  /* int or uint32_t field, see is_u32 */
    OPT_STR,  /* char * field */
    OPT_URLS, /* ip_urls, repeatable */
    OPT_NONE, /* help/version: no storage */
};

struct opt {
    const char *name;
    char shortc; /* 0 = none */
    enum opt_type type;
    size_t off;
    int64_t min, max; /* OPT_INT */
    int is_u32;
    int cli_only;    /* not accepted in the config file */
    const char *def; /* default as text (NULL = none) */
    const char *help;
};

#define OFF(field) offsetof(struct agent_flags, field)

static const struct opt opts[] = {
    {"server", 's', OPT_STR, OFF(server), 0, 0, 0, 0, "localhost:5555",
     "dashboard gRPC address host:port"},
    {"password", 'p', OPT_STR, OFF(password), 0, 0, 0, 0, "", "server secret (required)"},
    {"tls", 0, OPT_BOOL, OFF(tls), 0, 0, 0, 0, "false", "connect with TLS"},
    {"insecure", 'k', OPT_BOOL, OFF(insecure), 0, 0, 0, 0, "false",
     "with --tls: skip certificate verification"},
    {"debug", 'd', OPT_BOOL, OFF(debug), 0, 0, 0, 0, "false", "verbose log"},
    {"report-delay", 0, OPT_INT, OFF(report_delay), 1, 4, 0, 0, "1",
     "seconds between state reports (1-4)"},
    {"skip-conn", 0, OPT_BOOL, OFF(skip_conn), 0, 0, 0, 0, "false", "report 0 connections"},
    {"skip-procs", 0, OPT_BOOL, OFF(skip_procs), 0, 0, 0, 0, "false", "report 0 processes"},
    {"disable-command-execute", 0, OPT_BOOL, OFF(disable_command_execute), 0, 0, 0, 0, "false",
     "refuse command, terminal and file tasks"},
    {"disable-nat", 0, OPT_BOOL, OFF(disable_nat), 0, 0, 0, 0, "false", "refuse NAT tasks"},
    {"disable-send-query", 0, OPT_BOOL, OFF(disable_send_query), 0, 0, 0, 0, "false",
     "v0's name of --disable-probes"},
    {"disable-probes", 0, OPT_BOOL, OFF(disable_probes), 0, 0, 0, 0, "false",
     "refuse all probe tasks (HTTP, ICMP, TCP, DNS); probes run by default"},
    {"disable-auto-update", 0, OPT_BOOL, OFF(disable_auto_update), 0, 0, 0, 0, "false",
     "accepted; self-update is not built in"},
    {"disable-force-update", 0, OPT_BOOL, OFF(disable_force_update), 0, 0, 0, 0, "false",
     "accepted; self-update is not built in"},
    {"gitee", 0, OPT_BOOL, OFF(gitee), 0, 0, 0, 0, "false",
     "accepted; self-update is not built in"},
    {"use-ipv6-countrycode", 0, OPT_BOOL, OFF(use_ipv6_countrycode), 0, 0, 0, 0, "false",
     "use the IPv6 address for the GeoIP lookup"},
    {"gpu", 0, OPT_BOOL, OFF(gpu), 0, 0, 0, 0, "false", "collect GPU information"},
    {"temperature", 0, OPT_BOOL, OFF(temperature), 0, 0, 0, 0, "false", "collect temperatures"},
    {"ip-report-period", 'u', OPT_INT, OFF(ip_report_period), 1, UINT32_MAX, 1, 0, "1800",
     "seconds between public-IP refreshes"},
    {"ip", 0, OPT_STR, OFF(ip), 0, 0, 0, 0, NULL, "public IP (v4, v6 or v4/v6); skips discovery"},
    {"ip-url", 0, OPT_URLS, OFF(ip_urls), 0, 0, 0, 0, NULL,
     "IP discovery trace URL (repeatable; default: the Cloudflare trace URLs)"},
    {"root", 0, OPT_STR, OFF(root), 0, 0, 0, 0, "/", "collector filesystem root"},
    {"help", 'h', OPT_NONE, 0, 0, 0, 0, 1, NULL, "print this help"},
    {"version", 'v', OPT_NONE, 0, 0, 0, 0, 1, NULL, "print the version"},
    {"config", 0, OPT_STR, OFF(config), 0, 0, 0, 1, NULL, "YAML config file"},
};
#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static char **str_field(struct agent_flags *f, const struct opt *o)
{
    return (char **)(void *)((char *)f + o->off);
}

static int *int_field(struct agent_flags *f, const struct opt *o)
{
    return (int *)(void *)((char *)f + o->off);
}

static const void *cfield(const struct agent_flags *f, const struct opt *o)
{
    return (const char *)f + o->off;
}

/* strconv.ParseBool's accepted spellings, plus YAML 1.1's yes/no/on/off (config only). */
static int parse_bool(const char *s, int yaml, int *out)
{
    static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const fl[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (strcmp(s, t[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcmp(s, fl[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    if (yaml) {
        if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "on") == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, "no") == 0 || strcasecmp(s, "off") == 0) {
            *out = 0;
            return 0;
        }
    }
    return -EINVAL;
}

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* Validates "a", "a/b" with a=IPv4 or IPv6, and for two parts a=IPv4, b=IPv6. */
static int valid_ip_arg(const char *s)
{
    char part[IPDISC_IP_LEN + 1];
    unsigned char tmp[16];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof(part))
        return 0;
    memcpy(part, s, n);
    part[n] = '\0';
    int v4 = inet_pton(AF_INET, part, tmp) == 1;
    if (!slash)
        return v4 || inet_pton(AF_INET6, part, tmp) == 1;
    if (!v4)
        return 0;
    const char *b = slash + 1;
    return strlen(b) < sizeof(part) && inet_pton(AF_INET6, b, tmp) == 1;
}

/* Splits --server into host and port; IPv6 needs brackets. */
static int split_server(struct agent_flags *f, char *err, size_t errlen)
{
    const char *s = f->server;
    const char *host, *colon;
    size_t hlen;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':')
            goto bad;
        host = s + 1;
        hlen = (size_t)(rb - host);
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || memchr(s, ':', (size_t)(colon - s)))
            goto bad;
        host = s;
        hlen = (size_t)(colon - s);
    }
    uint64_t port;
    if (hlen == 0 || hlen > IPDISC_MAX_HOST || strnum_u64z(colon + 1, &port) != 0 || port < 1 ||
        port > 65535)
        goto bad;
    free(f->server_host);
    f->server_host = xstrndup(host, hlen);
    f->server_port = (int)port;
    return 0;
bad:
    errf(err, errlen, "invalid argument \"%s\" for \"--server\": want host:port or [ipv6]:port", s);
    return -EINVAL;
}

/* Stores val into option o (val borrowed). */
static int opt_set(struct agent_flags *f, const struct opt *o, const char *val, char *err,
                   size_t errlen)
{
    size_t len = strlen(val);
    if (len > AGENT_FLAGS_MAX_STR || has_ctl(val)) {
        errf(err, errlen, "invalid argument for \"--%s\": too long or contains control characters",
             o->name);
        return -EINVAL;
    }
    switch (o->type) {
    case OPT_BOOL: {
        int b;
        if (parse_bool(val, 0, &b) != 0) {
            errf(err, errlen, "invalid argument \"%s\" for \"--%s\": want true or false", val,
                 o->name);
            return -EINVAL;
        }
        *int_field(f, o) = b;
        return 0;
    }
    case OPT_INT: {
        int64_t v;
        if (strnum_i64z(val, &v) != 0 || v < o->min || v > o->max) {
            errf(err, errlen,
                 "invalid argument \"%s\" for \"--%s\": must be an integer from %lld to %lld", val,
                 o->name, (long long)o->min, (long long)o->max);
            return -EINVAL;
        }
        if (o->is_u32)
            *(uint32_t *)(void *)((char *)f + o->off) = (uint32_t)v;
        else
            *int_field(f, o) = (int)v;
        return 0;
    }
    case OPT_STR: {
        char **p = str_field(f, o);
        if (strcmp(o->name, "ip") == 0 && !valid_ip_arg(val)) {
            errf(err, errlen,
                 "invalid argument \"%s\" for \"--ip\": want an IPv4, IPv6 or ipv4/ipv6 address",
                 val);
            return -EINVAL;
        }
        if ((strcmp(o->name, "root") == 0 || strcmp(o->name, "config") == 0) && len == 0) {
            errf(err, errlen, "invalid argument \"\" for \"--%s\": must not be empty", o->name);
            return -EINVAL;
        }
        free(*p);
        *p = xstrdup(val);
        return 0;
    }
    case OPT_URLS: {
        struct httpc_url u;
        if (len > IPDISC_MAX_URL || httpc_url_parse(val, &u) != 0) {
            errf(err, errlen,
                 "invalid argument \"%s\" for \"--ip-url\": want an http:// or https:// URL", val);
            return -EINVAL;
        }
        if (f->n_ip_urls >= AGENT_FLAGS_MAX_URLS) {
            errf(err, errlen, "too many --ip-url values (at most %d)", AGENT_FLAGS_MAX_URLS);
            return -EINVAL;
        }
        f->ip_urls[f->n_ip_urls++] = xstrdup(val);
        return 0;
    }
    case OPT_NONE:
        break;
    }
    return 0;
}

static void clear_urls(struct agent_flags *f)
{
    for (size_t i = 0; i < f->n_ip_urls; i++)
        free(f->ip_urls[i]);
    f->n_ip_urls = 0;
}

void agent_flags_init(struct agent_flags *f)
{
    char err[16];
    memset(f, 0, sizeof(*f));
    for (size_t i = 0; i < N_OPTS; i++)
        if (opts[i].def && opt_set(f, &opts[i], opts[i].def, err, sizeof(err)) != 0)
            abort(); /* the table's defaults are valid by construction */
    for (size_t i = 0; ipdisc_default_urls[i]; i++)
        f->ip_urls[f->n_ip_urls++] = xstrdup(ipdisc_default_urls[i]);
    f->server_host = xstrdup("localhost");
    f->server_port = 5555;
}

void agent_flags_release(struct agent_flags *f)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (opts[i].type == OPT_STR) {
            free(*str_field(f, &opts[i]));
            *str_field(f, &opts[i]) = NULL;
        }
    clear_urls(f);
    for (size_t i = 0; i < f->n_nic_allow; i++)
        free(f->nic_allow[i]);
    for (size_t i = 0; i < f->n_disk_allow; i++)
        free(f->disk_allow[i]);
    f->n_nic_allow = f->n_disk_allow = 0;
    free(f->server_host);
    f->server_host = NULL;
}

static const struct opt *find_long(const char *name, size_t n)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (strlen(opts[i].name) == n && memcmp(opts[i].name, name, n) == 0)
            return &opts[i];
    return NULL;
}

static const struct opt *find_short(char c)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (opts[i].shortc == c)
            return &opts[i];
    return NULL;
}

/* Applies one command-line occurrence. */
static int cli_apply(struct agent_flags *f, const struct opt *o, const char *val, char *err,
                     size_t errlen)
{
    size_t idx = (size_t)(o - opts);
    if (o->type == OPT_NONE) {
        int b;
        if (parse_bool(val, 0, &b) != 0) {
            errf(err, errlen, "invalid argument \"%s\" for \"--%s\": want true or false", val,
                 o->name);
            return -EINVAL;
        }
        if (b && o->shortc == 'h')
            f->cmd = AGENT_CMD_HELP;
        else if (b && o->shortc == 'v' && f->cmd != AGENT_CMD_HELP)
            f->cmd = AGENT_CMD_VERSION;
        return 0;
    }
    /* the first --ip-url on the command line replaces the defaults */
    if (o->type == OPT_URLS && !(f->cli_set & (UINT64_C(1) << idx)))
        clear_urls(f);
    f->cli_set |= UINT64_C(1) << idx;
    return opt_set(f, o, val, err, errlen);
}

/* ---- config file (libyaml document API) ---- */

struct cfgctx {
    struct agent_flags *f;
    yaml_document_t *doc;
    const char *path;
    char *err;
    size_t errlen;
};

static int cfg_fail(struct cfgctx *c, const yaml_node_t *n, const char *msg, const char *key)
{
    errf(c->err, c->errlen, "%s:%lu: %s%s%s%s", c->path, (unsigned long)n->start_mark.line + 1, msg,
         key ? " \"" : "", key ? key : "", key ? "\"" : "");
    return -EINVAL;
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int cfg_list(struct cfgctx *c, const yaml_node_t *v, const char *key, char **arr, size_t *n)
{
    if (v->type != YAML_SEQUENCE_NODE)
        return cfg_fail(c, v, "expected a list for", key);
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        const yaml_node_t *e = yaml_document_get_node(c->doc, *it);
        const char *s = scalar(e);
        if (!s || !*s || strlen(s) > AGENT_FLAGS_MAX_STR || has_ctl(s))
            return cfg_fail(c, e ? e : v, "expected a non-empty string in", key);
        if (*n >= AGENT_FLAGS_MAX_LIST)
            return cfg_fail(c, e, "too many entries in", key);
        arr[(*n)++] = xstrdup(s);
    }
    return 0;
}

static int cfg_key(struct cfgctx *c, const char *key, const yaml_node_t *v)
{
    struct agent_flags *f = c->f;
    if (strcasecmp(key, "harddrivepartitionallowlist") == 0)
        return cfg_list(c, v, key, f->disk_allow, &f->n_disk_allow);
    if (strcasecmp(key, "dns") == 0) /* v0 resolver list: accepted, the system resolver is used */
        return v->type == YAML_SEQUENCE_NODE || v->type == YAML_SCALAR_NODE
                   ? 0
                   : cfg_fail(c, v, "expected a list for", key);
    if (strcasecmp(key, "nicallowlist") == 0) {
        if (v->type != YAML_MAPPING_NODE)
            return cfg_fail(c, v, "expected a map of name: true|false for", key);
        for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top;
             p++) {
            const yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
            const yaml_node_t *vn = yaml_document_get_node(c->doc, p->value);
            const char *name = scalar(kn), *val = scalar(vn);
            int b;
            if (!name || !*name || strlen(name) > AGENT_FLAGS_MAX_STR || has_ctl(name))
                return cfg_fail(c, kn ? kn : v, "expected an interface name in", key);
            if (!val || parse_bool(val, 1, &b) != 0)
                return cfg_fail(c, vn ? vn : kn, "expected true or false for interface", name);
            if (!b)
                continue;
            if (f->n_nic_allow >= AGENT_FLAGS_MAX_LIST)
                return cfg_fail(c, kn, "too many entries in", key);
            f->nic_allow[f->n_nic_allow++] = xstrdup(name);
        }
        return 0;
    }
    const struct opt *o = NULL;
    for (size_t i = 0; i < N_OPTS; i++)
        if (!opts[i].cli_only && strcasecmp(opts[i].name, key) == 0)
            o = &opts[i];
    if (!o)
        return cfg_fail(c, v, "unknown key", key);
    size_t idx = (size_t)(o - opts);
    if (f->cli_set & (UINT64_C(1) << idx))
        return 0; /* the command line wins */
    char sub[AGENT_FLAGS_MAX_STR + 64];
    if (o->type == OPT_URLS) {
        clear_urls(f);
        if (v->type == YAML_SCALAR_NODE) {
            if (opt_set(f, o, scalar(v), sub, sizeof(sub)) != 0)
                return cfg_fail(c, v, sub, NULL);
            return 0;
        }
        if (v->type != YAML_SEQUENCE_NODE)
            return cfg_fail(c, v, "expected a URL or a list of URLs for", key);
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
             it++) {
            const yaml_node_t *e = yaml_document_get_node(c->doc, *it);
            const char *s = scalar(e);
            if (!s)
                return cfg_fail(c, v, "expected a URL in", key);
            if (opt_set(f, o, s, sub, sizeof(sub)) != 0)
                return cfg_fail(c, e, sub, NULL);
        }
        return 0;
    }
    const char *s = scalar(v);
    if (!s)
        return cfg_fail(c, v, "expected a single value for", key);
    if (o->type == OPT_BOOL) {
        int b;
        if (parse_bool(s, 1, &b) != 0)
            return cfg_fail(c, v, "expected true or false for", key);
        *int_field(f, o) = b;
        return 0;
    }
    if (opt_set(f, o, s, sub, sizeof(sub)) != 0)
        return cfg_fail(c, v, sub, NULL);
    return 0;
}

/* Reads at most AGENT_FLAGS_MAX_CONFIG bytes of path; returns owned memory or NULL. */
static unsigned char *slurp(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rbe");
    if (!fp) {
        errf(err, errlen, "%s: cannot open config file: %s", path, strerror(errno));
        return NULL;
    }
    unsigned char *data = xmalloc(AGENT_FLAGS_MAX_CONFIG + 1);
    size_t n = fread(data, 1, AGENT_FLAGS_MAX_CONFIG + 1, fp);
    int rerr = ferror(fp);
    fclose(fp);
    if (rerr || n > AGENT_FLAGS_MAX_CONFIG) {
        errf(err, errlen, "%s: %s", path,
             rerr ? "cannot read config file" : "config file too large (max 65536 bytes)");
        free(data);
        return NULL;
    }
    *len = n;
    return data;
}

static int load_config(struct agent_flags *f, const char *path, char *err, size_t errlen)
{
    size_t len = 0;
    unsigned char *data = slurp(path, &len, err, errlen);
    if (!data)
        return -EINVAL;
    yaml_parser_t parser;
    yaml_document_t doc;
    int rc = 0, have_doc = 0;
    if (!yaml_parser_initialize(&parser)) {
        free(data);
        errf(err, errlen, "%s: cannot initialise the YAML parser", path);
        return -ENOMEM;
    }
    yaml_parser_set_input_string(&parser, data, len);
    if (!yaml_parser_load(&parser, &doc)) {
        errf(err, errlen, "%s:%lu: %s", path, (unsigned long)parser.problem_mark.line + 1,
             parser.problem ? parser.problem : "invalid YAML");
        rc = -EINVAL;
        goto out;
    }
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) /* empty file */
        goto out;
    struct cfgctx c = {f, &doc, path, err, errlen};
    if (root->type != YAML_MAPPING_NODE) {
        rc = cfg_fail(&c, root, "expected a map of key: value", NULL);
        goto out;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *kn = yaml_document_get_node(&doc, p->key);
        const yaml_node_t *vn = yaml_document_get_node(&doc, p->value);
        const char *key = scalar(kn);
        if (!key || !vn) {
            rc = cfg_fail(&c, kn ? kn : root, "expected a string key", NULL);
            goto out;
        }
        rc = cfg_key(&c, key, vn);
        if (rc != 0)
            goto out;
    }
out:
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    free(data);
    return rc;
}

int agent_flags_parse(struct agent_flags *f, int argc, char *const *argv, char *err, size_t errlen)
{
    int i = 1, rc, dashdash = 0;
    err[0] = '\0';
    f->want_usage = 0;
    f->cmd = AGENT_CMD_RUN;
    if (argc > 1 && strcmp(argv[1], "service") == 0) {
        if (argc > 2 && strcmp(argv[2], "install") == 0)
            f->cmd = AGENT_CMD_SERVICE_INSTALL;
        else if (argc > 2 && strcmp(argv[2], "uninstall") == 0)
            f->cmd = AGENT_CMD_SERVICE_UNINSTALL;
        else {
            errf(err, errlen, "service: expected \"install\" or \"uninstall\"");
            return -EINVAL;
        }
        i = 3;
    }
    enum agent_cmd sub = f->cmd;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (dashdash || a[0] != '-' || a[1] == '\0') {
            errf(err, errlen, "unexpected argument \"%s\"", a);
            return -EINVAL;
        }
        if (strcmp(a, "--") == 0) {
            dashdash = 1;
            continue;
        }
        if (a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
            const struct opt *o = find_long(name, nlen);
            if (!o) {
                errf(err, errlen, "unknown flag: --%.*s", (int)(nlen > 64 ? 64 : nlen), name);
                return -EINVAL;
            }
            const char *val;
            if (eq)
                val = eq + 1;
            else if (o->type == OPT_BOOL || o->type == OPT_NONE)
                val = "true";
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                errf(err, errlen, "flag needs an argument: --%s", o->name);
                return -EINVAL;
            }
            if ((rc = cli_apply(f, o, val, err, errlen)) != 0)
                return rc;
            continue;
        }
        for (size_t j = 1; a[j]; j++) {
            const struct opt *o = find_short(a[j]);
            if (!o) {
                errf(err, errlen, "unknown shorthand flag: '%c' in %s",
                     (a[j] >= 0x20 && a[j] < 0x7f) ? a[j] : '?', a);
                return -EINVAL;
            }
            const char *val;
            int last = 1;
            if (a[j + 1] == '=')
                val = a + j + 2;
            else if (o->type == OPT_BOOL || o->type == OPT_NONE) {
                val = "true";
                last = 0;
            } else if (a[j + 1])
                val = a + j + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                errf(err, errlen, "flag needs an argument: '%c' in -%c", a[j], a[j]);
                return -EINVAL;
            }
            if ((rc = cli_apply(f, o, val, err, errlen)) != 0)
                return rc;
            if (last)
                break;
        }
    }
    if (f->cmd == AGENT_CMD_HELP || f->cmd == AGENT_CMD_VERSION)
        return 0;
    f->cmd = sub;
    if (f->cmd == AGENT_CMD_SERVICE_UNINSTALL)
        return 0;
    if (f->config && (rc = load_config(f, f->config, err, errlen)) != 0)
        return rc;
    if ((rc = split_server(f, err, errlen)) != 0)
        return rc;
    if (f->password[0] == '\0') {
        errf(err, errlen, "the --password flag is required (the server secret from the dashboard)");
        f->want_usage = 1;
        return -EINVAL;
    }
    return 0;
}

void agent_flags_usage(FILE *out, const char *prog)
{
    fprintf(
        out,
        "Usage:\n  %s [flags]\n  %s service install [flags]\n  %s service uninstall\n\nFlags:\n",
        prog, prog, prog);
    for (size_t i = 0; i < N_OPTS; i++) {
        const struct opt *o = &opts[i];
        char lhs[64];
        const char *arg = o->type == OPT_INT                            ? " int"
                          : (o->type == OPT_STR || o->type == OPT_URLS) ? " string"
                                                                        : "";
        if (o->shortc)
            snprintf(lhs, sizeof(lhs), "-%c, --%s%s", o->shortc, o->name, arg);
        else
            snprintf(lhs, sizeof(lhs), "    --%s%s", o->name, arg);
        fprintf(out, "  %-34s %s", lhs, o->help);
        if (o->def && o->type != OPT_BOOL && o->def[0])
            fprintf(out, " (default \"%s\")", o->def);
        fputc('\n', out);
    }
}

int agent_flags_cli(struct agent_flags *f, int argc, char *const *argv, FILE *out, FILE *errout)
{
    char err[AGENT_FLAGS_MAX_STR + 256];
    const char *prog = "lotus-agent";
    if (agent_flags_parse(f, argc, argv, err, sizeof(err)) != 0) {
        fprintf(errout, "%s: %s\n", prog, err);
        if (f->want_usage)
            agent_flags_usage(errout, prog);
        return 1;
    }
    if (f->cmd == AGENT_CMD_HELP) {
        agent_flags_usage(out, prog);
        return 0;
    }
    if (f->cmd == AGENT_CMD_VERSION) {
        fprintf(out, "%s\n", LOTUS_VERSION);
        return 0;
    }
    return AGENT_FLAGS_CONTINUE;
}

void agent_flags_each_given(const struct agent_flags *f,
                            void (*cb)(const char *name, const char *value, void *ud), void *ud)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        const struct opt *o = &opts[i];
        char num[24];
        if (!(f->cli_set & (UINT64_C(1) << i)) || o->type == OPT_NONE)
            continue;
        switch (o->type) {
        case OPT_BOOL:
            if (*(const int *)cfield(f, o))
                cb(o->name, NULL, ud);
            break;
        case OPT_INT:
            snprintf(num, sizeof(num), "%lld",
                     o->is_u32 ? (long long)*(const uint32_t *)cfield(f, o)
                               : (long long)*(const int *)cfield(f, o));
            if (!o->def || strcmp(num, o->def) != 0)
                cb(o->name, num, ud);
            break;
        case OPT_STR: {
            const char *v = *(char *const *)cfield(f, o);
            if (v && (!o->def || strcmp(v, o->def) != 0))
                cb(o->name, v, ud);
            break;
        }
        case OPT_URLS:
            for (size_t k = 0; k < f->n_ip_urls; k++)
                cb(o->name, f->ip_urls[k], ud);
            break;
        case OPT_NONE:
            break;
        }
    }
}
