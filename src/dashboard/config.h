/*
 * config: the dashboard configuration file DIR/config.yaml (STYLE rule 30).
 *
 * One table in config.c lists every option with its name, type, default,
 * min/max, help text and whether Lotus uses it; parsing, validation,
 * environment overrides, writing and --help all come from that table.
 * The file is read with libyaml's event API. Every key of a Nezha v0.20
 * config.yaml (docs/protocol.md §7.2: lower-case keys, nested `site:` and `oauth2:`
 * mappings) is accepted, so an existing Nezha file loads unchanged; keys
 * Lotus does not use yet are kept (and written back) and reported by
 * config_ignored_keys so main can log them.
 *
 * Precedence (highest first): command-line flags (applied by main after
 * config_load) > the file > environment variables NZ_<KEY> > defaults.
 * Environment names are the key upper-cased with '.' replaced by '_'
 * (site.brand -> NZ_SITE_BRAND), as in Nezha v0, where the file also
 * overrides the environment.
 *
 * Keys match case-insensitively (Nezha's viper did too); duplicate keys,
 * unknown keys and bad values fail with "FILE:LINE: message".
 */
#ifndef LOTUS_DASHBOARD_CONFIG_H
#define LOTUS_DASHBOARD_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Largest config file accepted (bytes). */
#define CONFIG_FILE_MAX (1u << 20)
/* Capacity of the per-option bookkeeping array (the table has fewer entries). */
#define CONFIG_OPTIONS_MAX 64

/* Where an option's current value came from. */
enum config_source { CONFIG_SRC_DEFAULT = 0, CONFIG_SRC_ENV, CONFIG_SRC_FILE };

/*
 * All strings are owned by the struct (never NULL after config_defaults) and
 * freed by config_release. Booleans are 0/1.
 */
struct dash_config {
    /* ---- used by Lotus ---- */
    int debug;
    char *language;        /* zh-CN */
    int64_t httpport;      /* 8008 (Nezha v0's built-in default is 80; its installer writes 8008) */
    int64_t grpcport;      /* 5555 */
    char *listenhost;      /* Lotus: bind address of both listeners, 0.0.0.0 */
    char *grpchost;        /* address agents are told to use (install commands) */
    int64_t proxygrpcport; /* port agents are told to use when behind a proxy, 0 = grpcport */
    int tls;               /* agents connect with TLS (install commands) */
    char *site_brand;      /* Lotus */
    char *site_cookiename; /* nezha-dashboard */
    char *site_viewpassword;
    char *grpctlscert; /* Lotus: PEM certificate for the gRPC listener, "" = plain */
    char *grpctlskey;
    char *httptlscert; /* Lotus: PEM certificate for the HTTP listener, "" = plain */
    char *httptlskey;
    char *geoipdb;      /* Lotus: path to a MaxMind .mmdb for country lookup, "" = none */
    int metrics_public; /* Lotus: metrics.public, GET /metrics without a token (no hidden servers)
                         */
    /* Lotus: Prometheus remote-write (src/dashboard/promrw.h); url "" = off */
    char *promrw_url;
    int64_t promrw_interval; /* seconds, 15 */
    int64_t promrw_timeout;  /* seconds per POST, 30 */
    char *promrw_username;   /* basic auth */
    char *promrw_password;
    char *promrw_bearertoken;    /* wins over basic auth */
    char *promrw_labels;         /* extra labels "k=v,k=v" */
    int64_t promrw_queuesamples; /* samples kept while the receiver is unreachable, 500000 */

    /* ---- accepted for Nezha v0 compatibility, not used by Lotus yet ---- */
    char *site_theme;
    char *site_dashboardtheme;
    char *site_customcode;
    char *site_customcodedashboard;
    char *oauth2_type;
    char *oauth2_admin;
    char *oauth2_admingroups;
    char *oauth2_clientid;
    char *oauth2_clientsecret;
    char *oauth2_endpoint;
    char *oauth2_oidcissuer;
    char *oauth2_oidcdisplayname;
    char *oauth2_oidcscopes;
    char *oauth2_oidcloginclaim;
    char *oauth2_oidcgroupclaim;
    char *oauth2_oidclogouturl;
    char *oauth2_oidcregisterurl;
    int oauth2_oidcautocreate;
    int oauth2_oidcautologin;
    int enableplainipinnotification;
    int disableswitchtemplateinfrontend;
    int enableipchangenotification;
    char *ipchangenotificationtag;
    int64_t cover;
    char *ignoredipnotification;
    char *location;
    int64_t maxtcppingvalue;
    int64_t avgpingcount;
    char *dnsservers;

    /* Source of each option, indexed like the table (see config_option_name). */
    unsigned char source[CONFIG_OPTIONS_MAX];
};

/* Fills c with the defaults (allocates the strings: call config_release later). */
void config_defaults(struct dash_config *c);
/* Frees the strings in c (not c itself); c may be passed to config_defaults again. */
void config_release(struct dash_config *c);

/*
 * Applies NZ_* environment variables, then the file at path (borrowed), on top
 * of c (which must hold config_defaults or an earlier load). A missing file is
 * not an error (the defaults and environment stay). Returns 0, or a negative
 * code with one line "PATH:LINE: message" (or "env NZ_X: message") in err:
 * -EINVAL (bad YAML, unknown or duplicate key, bad value), -EFBIG (file over
 * CONFIG_FILE_MAX) or -errno (read error). On error c holds a partial result:
 * release it.
 */
int config_load(struct dash_config *c, const char *path, char *err, size_t errlen);

/*
 * Writes every option of c (including the ignored Nezha keys, so nothing an
 * admin set is lost) as YAML to path (borrowed), atomically: a temporary file
 * with mode 0600 in the same directory, fsync, rename. Returns 0 or -errno
 * with a one-line reason in err.
 */
int config_write(const struct dash_config *c, const char *path, char *err, size_t errlen);

/*
 * Stores in out[0..max) the names (static strings) of options that were set
 * by the file or the environment but are not used by Lotus; returns how many
 * there are (may exceed max).
 */
size_t config_ignored_keys(const struct dash_config *c, const char **out, size_t max);

/* Number of options in the table, and the name of option i (static string, NULL past the end). */
size_t config_option_count(void);
const char *config_option_name(size_t i);

/* Prints one line per option (name, type, default, range, env name, help) to out (borrowed). */
void config_print_help(FILE *out);

#endif
