/*
 * dash: the dashboard process — one libuv loop running the gRPC service (and the
 * HTTP server), the live registry, the store and its writer thread, the
 * servers-table watcher that picks up CLI changes, and signal handling.
 */
#ifndef LOTUS_DASHBOARD_DASH_H
#define LOTUS_DASHBOARD_DASH_H

struct dash_config;

struct dash_opts {
    const char *data_dir; /* borrowed; created 0700 if missing */
    const char *db_path;  /* borrowed */
    const char *http_host;
    int http_port;
    const char *grpc_host;
    int grpc_port;
    const char *grpc_tls_cert; /* NULL = h2c */
    const char *grpc_tls_key;
    const char *http_tls_cert; /* NULL = plain HTTP */
    const char *http_tls_key;
    const char *geoip_db;       /* NULL or "" = none */
    unsigned task_keepalive_ms; /* 0 = 60 s */
    unsigned task_hostinfo_ms;  /* 0 = 15 s */
    unsigned sync_ms;           /* servers-table poll period, 0 = 250 ms */
    struct dash_config *cfg;    /* borrowed; the settings page edits it */
    const char *config_path;    /* borrowed; where settings are saved */
};

/*
 * Runs the dashboard until SIGINT/SIGTERM; returns the process exit code
 * (0 after a clean shutdown, 1 when start-up fails, with one line on stderr).
 * Sets SIGPIPE to ignored for the process (a write to a reset connection
 * fails with EPIPE instead of killing the dashboard).
 */
int dash_run(const struct dash_opts *o);

#endif
