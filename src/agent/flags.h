/*
 * flags: the agent's command line, compatible with nezha-agent v0.20.5
 * (docs/protocol.md §3.1), plus Lotus's own --config FILE, --ip, --ip-url and --root.
 *
 * Options live in one table (name, short letter, type, limits, default,
 * help); the usage text, the command-line parser, the YAML config keys and the
 * service-unit argument list all come from it. Syntax is pflag's: "--name
 * value", "--name=value", "-s value", "-svalue", "-s=value", clustered short
 * bools ("-dk"), bools as "--tls" or "--tls=true|false" (never "--tls false").
 *
 * Precedence: command line > --config file > defaults. The config file is
 * YAML (parsed with libyaml), keys case-insensitive: every option's long name
 * (except config/help/version), plus v0's harddrivepartitionallowlist (list of
 * mount points), nicallowlist (map name -> bool) and dns (accepted, ignored).
 * Unknown keys and bad values fail with "FILE:LINE: message".
 *
 * Subcommands: "service install [flags]" and "service uninstall".
 */
#ifndef LOTUS_AGENT_FLAGS_H
#define LOTUS_AGENT_FLAGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define AGENT_FLAGS_MAX_LIST   64    /* entries of nicallowlist / harddrivepartitionallowlist */
#define AGENT_FLAGS_MAX_URLS   8     /* --ip-url entries */
#define AGENT_FLAGS_MAX_STR    1024  /* bytes of any string value */
#define AGENT_FLAGS_MAX_CONFIG 65536 /* bytes of the --config file */
#define AGENT_FLAGS_CONTINUE   (-1)  /* agent_flags_cli: run the command in f->cmd */

enum agent_cmd {
    AGENT_CMD_RUN = 0,
    AGENT_CMD_VERSION,
    AGENT_CMD_HELP,
    AGENT_CMD_SERVICE_INSTALL,
    AGENT_CMD_SERVICE_UNINSTALL,
};

struct agent_flags {
    enum agent_cmd cmd;
    char *server;      /* owned; "host:port" as given */
    char *server_host; /* owned; host part, IPv6 without brackets */
    int server_port;
    char *password; /* owned; "" when not given */
    int tls;
    int insecure;
    int debug;
    int report_delay; /* 1..4 seconds */
    int skip_conn;
    int skip_procs;
    int disable_command_execute;
    int disable_nat;
    int disable_send_query;
    int disable_probes; /* Lotus alias of disable_send_query that also names types 101/102 */
    int disable_auto_update;
    int disable_force_update;
    int gitee;
    int use_ipv6_countrycode;
    int gpu;
    int temperature;
    uint32_t ip_report_period;           /* seconds, >= 1 */
    char *config;                        /* owned; NULL when not given */
    char *ip;                            /* owned; NULL = discover the public IP */
    char *ip_urls[AGENT_FLAGS_MAX_URLS]; /* owned entries */
    size_t n_ip_urls;
    char *root;                            /* owned; collector root, default "/" */
    char *nic_allow[AGENT_FLAGS_MAX_LIST]; /* owned entries (config nicallowlist: true) */
    size_t n_nic_allow;
    char *disk_allow[AGENT_FLAGS_MAX_LIST]; /* owned entries (config harddrivepartitionallowlist) */
    size_t n_disk_allow;
    uint64_t cli_set; /* bit per option table row given on the command line */
    int want_usage;   /* set by agent_flags_parse when the error should be followed by usage */
};

/* Initialises caller storage with the defaults (allocates; free with agent_flags_release). */
void agent_flags_init(struct agent_flags *f);
/* Frees the contents; f may be re-initialised afterwards. */
void agent_flags_release(struct agent_flags *f);

/*
 * Parses argv[1..argc) (argv borrowed, values copied) into f, which must be
 * freshly initialised; loads --config and validates everything. Returns 0 or
 * -EINVAL with a one-line message (no trailing newline) in err[errlen].
 */
int agent_flags_parse(struct agent_flags *f, int argc, char *const *argv, char *err, size_t errlen);

/*
 * The front end main() uses: parses, and for --version/--help/errors prints to
 * out/errout (borrowed) and returns the process exit code (0 or 1); otherwise
 * returns AGENT_FLAGS_CONTINUE and the caller runs f->cmd.
 */
int agent_flags_cli(struct agent_flags *f, int argc, char *const *argv, FILE *out, FILE *errout);

/* Prints the usage text generated from the option table (prog borrowed). */
void agent_flags_usage(FILE *out, const char *prog);

/*
 * Calls cb once per option that was given on the command line with a value
 * different from its default, in table order (repeatable options once per
 * value). value is NULL for a bool set to true; name is the long name. Strings
 * are borrowed for the call.
 */
void agent_flags_each_given(const struct agent_flags *f,
                            void (*cb)(const char *name, const char *value, void *ud), void *ud);

#endif
