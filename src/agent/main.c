/*
 * lotus-agent: parses the command line, then either runs a service
 * subcommand or builds the collector and runs the agent on one libuv loop
 * until SIGINT/SIGTERM, freeing everything on the way out.
 *
 * Environment: LOTUS_AGENT_RETRY_MS (reconnect base delay, default 10000),
 * LOTUS_SYSTEMD_DIR (service unit directory, for tests).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <uv.h>

#include "agent/agent.h"
#include "agent/agent_logic.h"
#include "agent/collect.h"
#include "agent/flags.h"
#include "agent/service.h"
#include "core/log.h"
#include "core/version.h"

struct app {
    struct agent *agent;
    uv_signal_t sigint;
    uv_signal_t sigterm;
};

static void on_signal(uv_signal_t *s, int signum)
{
    struct app *app = s->data;
    log_info("received %s", signum == SIGINT ? "SIGINT" : "SIGTERM");
    agent_stop(app->agent);
    uv_close((uv_handle_t *)&app->sigint, NULL);
    uv_close((uv_handle_t *)&app->sigterm, NULL);
}

static int run_service(const struct agent_flags *f)
{
    char err[512];
    const char *dir = getenv("LOTUS_SYSTEMD_DIR");
    int rc;
    if (f->cmd == AGENT_CMD_SERVICE_UNINSTALL) {
        rc = service_uninstall(dir, err, sizeof(err));
    } else {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n <= 0) {
            fprintf(stderr, "lotus-agent: cannot find own executable: %s\n", strerror(errno));
            return 1;
        }
        exe[n] = '\0';
        rc = service_install(f, exe, dir, err, sizeof(err));
    }
    if (rc != 0) {
        fprintf(stderr, "lotus-agent: %s\n", err);
        return 1;
    }
    return 0;
}

static int run_agent(const struct agent_flags *f)
{
    unsigned retry_ms;
    if (agent_retry_base_ms(getenv("LOTUS_AGENT_RETRY_MS"), &retry_ms) != 0)
        log_warn("ignoring invalid LOTUS_AGENT_RETRY_MS (want 0..%u); using %u ms",
                 AGENT_RETRY_MAX_MS, retry_ms);
    struct collect_opts co;
    memset(&co, 0, sizeof(co));
    co.root = f->root;
    co.skip_conn = f->skip_conn;
    co.skip_procs = f->skip_procs;
    co.temperature = f->temperature;
    co.gpu = f->gpu;
    co.nic_allow = (const char *const *)f->nic_allow;
    co.n_nic_allow = f->n_nic_allow;
    co.disk_allow = (const char *const *)f->disk_allow;
    co.n_disk_allow = f->n_disk_allow;
    struct collector *col = collect_new(&co);

    uv_loop_t loop;
    int rc = uv_loop_init(&loop);
    if (rc != 0) {
        log_error("cannot initialise the event loop: %s", uv_strerror(rc));
        collect_free(col);
        return 1;
    }
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
        seed = uv_hrtime() ^ (uint64_t)getpid();

    struct app app;
    memset(&app, 0, sizeof(app));
    struct agent_config ac = {f, col, retry_ms, seed};
    app.agent = agent_new(&loop, &ac);
    uv_signal_init(&loop, &app.sigint);
    uv_signal_init(&loop, &app.sigterm);
    app.sigint.data = app.sigterm.data = &app;
    uv_signal_start(&app.sigint, on_signal, SIGINT);
    uv_signal_start(&app.sigterm, on_signal, SIGTERM);

    log_info("lotus-agent %s starting (server \"%s\", report every %d s)", LOTUS_VERSION, f->server,
             f->report_delay);
    int exit_code = 0;
    if ((rc = agent_start(app.agent)) != 0) {
        log_error("cannot start the agent: %s", uv_strerror(rc));
        exit_code = 1;
        agent_stop(app.agent);
        uv_close((uv_handle_t *)&app.sigint, NULL);
        uv_close((uv_handle_t *)&app.sigterm, NULL);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    agent_free(app.agent);
    collect_free(col);
    if (uv_loop_close(&loop) != 0)
        log_error("event loop closed with handles still open");
    log_info("stopped");
    return exit_code;
}

int main(int argc, char **argv)
{
    struct agent_flags f;
    agent_flags_init(&f);
    int rc = agent_flags_cli(&f, argc, argv, stdout, stderr);
    if (rc != AGENT_FLAGS_CONTINUE) {
        agent_flags_release(&f);
        return rc;
    }
    log_set_level(f.debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
    signal(SIGPIPE, SIG_IGN);
    if (f.cmd == AGENT_CMD_SERVICE_INSTALL || f.cmd == AGENT_CMD_SERVICE_UNINSTALL)
        rc = run_service(&f);
    else
        rc = run_agent(&f);
    agent_flags_release(&f);
    return rc;
}
