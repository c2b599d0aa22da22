/*
 * lotus-dashboard: entry point. Parses the global options, then either runs a
 * management command (server/user/token, see cli.h) or serves (dash.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/hostport.h"
#include "core/log.h"
#include "core/strnum.h"
#include "core/version.h"
#include "dashboard/cli.h"
#include "dashboard/config.h"
#include "dashboard/dash.h"
#include "dashboard/store.h"

#define EXIT_USAGE 2

struct opts {
    const char *data_dir;
    const char *config_path;
    const char *db_path;
    const char *http;
    const char *grpc;
    const char *grpc_tls_cert;
    const char *grpc_tls_key;
    const char *http_tls_cert;
    const char *http_tls_key;
    const char *geoip;
    int debug;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: lotus-dashboard [options]                 serve\n"
            "       lotus-dashboard [options] server add --name N [--tag T] [--note X] "
            "[--hide-for-guest]\n"
            "       lotus-dashboard [options] server list | server del ID\n"
            "       lotus-dashboard [options] user add LOGIN | user passwd LOGIN   "
            "(password on stdin)\n"
            "       lotus-dashboard [options] token add --note N [--user LOGIN] | token list | "
            "token del ID\n"
            "options:\n"
            "  --data DIR            data directory (default ./data)\n"
            "  -c, --config FILE     config file (default DIR/config.yaml)\n"
            "  --db FILE             database (default DIR/sqlite.db)\n"
            "  --http ADDR:PORT      HTTP listener (default 0.0.0.0:8008)\n"
            "  --grpc ADDR:PORT      gRPC listener for agents (default 0.0.0.0:5555)\n"
            "  --grpc-tls-cert FILE  serve gRPC over TLS with this PEM certificate\n"
            "  --grpc-tls-key FILE   ... and this PEM key\n"
            "  --http-tls-cert FILE  serve HTTP over TLS (HTTPS) with this PEM certificate\n"
            "  --http-tls-key FILE   ... and this PEM key\n"
            "  --geoip FILE          MaxMind-format country database for LookupGeoIP\n"
            "  -d, --debug           verbose log\n"
            "  -v, --version         print the version\n"
            "  -h, --help            this help; `--help-config` lists config.yaml keys\n");
}

/* Matches "--name VALUE" or "--name=VALUE"; advances *i. Returns 1 on match, -1 on a missing
 * value. */
static int opt_value(int argc, char **argv, int *i, const char *name, const char **out)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *out = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *out = argv[++*i];
    return 1;
}

static int parse_opts(int argc, char **argv, struct opts *o, int *first_cmd)
{
    static const struct {
        const char *name;
        const char *alias;
        size_t off;
    } vals[] = {
        {"--data", NULL, offsetof(struct opts, data_dir)},
        {"--config", "-c", offsetof(struct opts, config_path)},
        {"--db", NULL, offsetof(struct opts, db_path)},
        {"--http", NULL, offsetof(struct opts, http)},
        {"--grpc", NULL, offsetof(struct opts, grpc)},
        {"--grpc-tls-cert", NULL, offsetof(struct opts, grpc_tls_cert)},
        {"--grpc-tls-key", NULL, offsetof(struct opts, grpc_tls_key)},
        {"--http-tls-cert", NULL, offsetof(struct opts, http_tls_cert)},
        {"--http-tls-key", NULL, offsetof(struct opts, http_tls_key)},
        {"--geoip", NULL, offsetof(struct opts, geoip)},
    };
    int i;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-')
            break;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strcmp(a, "--help-config") == 0) {
            config_print_help(stdout);
            exit(0);
        }
        if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
            printf("lotus-dashboard %s\n", LOTUS_VERSION);
            exit(0);
        }
        if (strcmp(a, "-d") == 0 || strcmp(a, "--debug") == 0) {
            o->debug = 1;
            continue;
        }
        int matched = 0;
        for (size_t k = 0; k < sizeof(vals) / sizeof(vals[0]) && !matched; k++) {
            const char **dst = (const char **)((char *)o + vals[k].off);
            int r = opt_value(argc, argv, &i, vals[k].name, dst);
            if (r == 0 && vals[k].alias)
                r = opt_value(argc, argv, &i, vals[k].alias, dst);
            if (r < 0) {
                fprintf(stderr, "lotus-dashboard: option '%s' needs a value\n", a);
                return -1;
            }
            matched = r;
        }
        if (!matched) {
            fprintf(stderr, "lotus-dashboard: unknown option '%s' (see --help)\n", a);
            return -1;
        }
    }
    *first_cmd = i;
    return 0;
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (!p) {
        fprintf(stderr, "lotus-dashboard: out of memory\n");
        exit(1);
    }
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int make_data_dir(const char *dir)
{
    if (mkdir(dir, 0700) == 0 || errno == EEXIST)
        return 0;
    fprintf(stderr, "lotus-dashboard: cannot create data directory '%s': %s\n", dir,
            strerror(errno));
    return -1;
}

static int run_command(const struct opts *o, const char *db_path, int argc, char **argv)
{
    struct store *st = NULL;
    char err[512];
    if (make_data_dir(o->data_dir) != 0)
        return 1;
    if (store_open(db_path, &st, err, sizeof(err)) != 0) {
        fprintf(stderr, "lotus-dashboard: %s\n", err);
        return 1;
    }
    int rc = cli_run(st, argc, argv, stdin, stdout, stderr);
    store_close(st);
    return rc;
}

static int parse_listen(const char *what, const char *s, char *host, size_t hostlen, int *port)
{
    if (hostport_parse(s, -1, host, hostlen, port) != 0 || *port < 0) {
        fprintf(stderr, "lotus-dashboard: bad %s address '%s' (want ADDR:PORT)\n", what, s);
        return -1;
    }
    if (!host[0])
        snprintf(host, hostlen, "0.0.0.0");
    return 0;
}

static unsigned env_ms(const char *name)
{
    const char *v = getenv(name);
    uint64_t ms;
    if (!v || strnum_u64z(v, &ms) != 0 || ms > 86400000)
        return 0;
    return (unsigned)ms;
}

static int serve(const struct opts *o, const char *db_path)
{
    struct dash_config cfg;
    char err[512];
    char http_host[256], grpc_host[256];
    int http_port, grpc_port;
    int rc = 1;
    char *cfg_path = o->config_path ? NULL : join(o->data_dir, "config.yaml");
    const char *path = o->config_path ? o->config_path : cfg_path;

    config_defaults(&cfg);
    if (make_data_dir(o->data_dir) != 0)
        goto out;
    if (config_load(&cfg, path, err, sizeof(err)) != 0) {
        fprintf(stderr, "lotus-dashboard: %s\n", err);
        goto out;
    }
    log_set_level(o->debug || cfg.debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
    const char *ignored[64];
    size_t n_ignored = config_ignored_keys(&cfg, ignored, 64);
    for (size_t i = 0; i < n_ignored && i < 64; i++)
        log_info("config: '%s' is accepted for Nezha compatibility but not used by Lotus",
                 ignored[i]);

    snprintf(http_host, sizeof(http_host), "%s", cfg.listenhost);
    snprintf(grpc_host, sizeof(grpc_host), "%s", cfg.listenhost);
    http_port = (int)cfg.httpport;
    grpc_port = (int)cfg.grpcport;
    if (o->http && parse_listen("--http", o->http, http_host, sizeof(http_host), &http_port) != 0)
        goto out_usage;
    if (o->grpc && parse_listen("--grpc", o->grpc, grpc_host, sizeof(grpc_host), &grpc_port) != 0)
        goto out_usage;
    const char *cert = o->grpc_tls_cert ? o->grpc_tls_cert : cfg.grpctlscert;
    const char *key = o->grpc_tls_key ? o->grpc_tls_key : cfg.grpctlskey;
    if ((cert && cert[0]) != (key && key[0])) {
        fprintf(stderr, "lotus-dashboard: gRPC TLS needs both a certificate and a key\n");
        goto out_usage;
    }
    const char *hcert = o->http_tls_cert ? o->http_tls_cert : cfg.httptlscert;
    const char *hkey = o->http_tls_key ? o->http_tls_key : cfg.httptlskey;
    if ((hcert && hcert[0]) != (hkey && hkey[0])) {
        fprintf(stderr, "lotus-dashboard: HTTPS needs both a certificate and a key\n");
        goto out_usage;
    }
    struct dash_opts d = {
        .data_dir = o->data_dir,
        .db_path = db_path,
        .http_host = http_host,
        .http_port = http_port,
        .grpc_host = grpc_host,
        .grpc_port = grpc_port,
        .grpc_tls_cert = cert && cert[0] ? cert : NULL,
        .grpc_tls_key = key && key[0] ? key : NULL,
        .http_tls_cert = hcert && hcert[0] ? hcert : NULL,
        .http_tls_key = hkey && hkey[0] ? hkey : NULL,
        .geoip_db = o->geoip ? o->geoip : cfg.geoipdb,
        .task_keepalive_ms = env_ms("LOTUS_TEST_KEEPALIVE_MS"),
        .task_hostinfo_ms = env_ms("LOTUS_TEST_HOSTINFO_MS"),
        .cfg = &cfg,
        .config_path = path,
    };
    rc = dash_run(&d);
    goto out;
out_usage:
    rc = EXIT_USAGE;
out:
    config_release(&cfg);
    free(cfg_path);
    return rc;
}

int main(int argc, char **argv)
{
    struct opts o = {.data_dir = "./data"};
    int first = 0;
    if (parse_opts(argc, argv, &o, &first) != 0)
        return EXIT_USAGE;
    char *db_alloc = o.db_path ? NULL : join(o.data_dir, "sqlite.db");
    const char *db_path = o.db_path ? o.db_path : db_alloc;
    int rc;
    if (first < argc) {
        if (!cli_is_command(argv[first])) {
            fprintf(stderr, "lotus-dashboard: unknown command '%s' (see --help)\n", argv[first]);
            rc = EXIT_USAGE;
        } else {
            rc = run_command(&o, db_path, argc - first, argv + first);
        }
    } else {
        rc = serve(&o, db_path);
    }
    free(db_alloc);
    return rc;
}
