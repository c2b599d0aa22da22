/*
 * libFuzzer driver for the agent's --config YAML file (src/agent/flags.c,
 * libyaml document API). The input is the file; it is served from a memfd
 * so no disk I/O happens per input. Each input is parsed twice: with only
 * "--config FILE", and with "-s 127.0.0.1:1 --tls -p x" in front, so the
 * "command line wins over the file" path runs too. Invariants on success:
 * list counts within AGENT_FLAGS_MAX_LIST / _MAX_URLS, report delay 1..4,
 * the server host and password set, every string within AGENT_FLAGS_MAX_STR.
 *
 * Build: `make fuzz` (clang, libFuzzer) or the gcc corpus replayer built with
 * the unit tests (build/asan/replay/fuzz_agent_config fuzz/corpus/agent_config).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/flags.h"
#include "fuzz_memfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count_given(const char *name, const char *value, void *ud)
{
    (void)name;
    if (value && strlen(value) > AGENT_FLAGS_MAX_STR)
        abort();
    (*(size_t *)ud)++;
}

static void parse_once(const char *path, int with_cli)
{
    char *argv[10];
    int argc = 0;
    argv[argc++] = (char *)"lotus-agent";
    if (with_cli) {
        argv[argc++] = (char *)"-s";
        argv[argc++] = (char *)"127.0.0.1:1";
        argv[argc++] = (char *)"--tls";
        argv[argc++] = (char *)"-p";
        argv[argc++] = (char *)"x";
    }
    argv[argc++] = (char *)"--config";
    argv[argc++] = (char *)path;
    argv[argc] = NULL;

    struct agent_flags f;
    char err[512];
    agent_flags_init(&f);
    int rc = agent_flags_parse(&f, argc, argv, err, sizeof(err));
    if (memchr(err, '\0', sizeof(err)) == NULL)
        abort();
    if (rc == 0) {
        if (f.n_nic_allow > AGENT_FLAGS_MAX_LIST || f.n_disk_allow > AGENT_FLAGS_MAX_LIST ||
            f.n_ip_urls > AGENT_FLAGS_MAX_URLS || f.report_delay < 1 || f.report_delay > 4 ||
            !f.server_host || !f.password || !f.password[0] ||
            strlen(f.password) > AGENT_FLAGS_MAX_STR)
            abort();
        if (with_cli && (!f.tls || strcmp(f.password, "x") != 0))
            abort(); /* the command line must win */
        for (size_t i = 0; i < f.n_nic_allow; i++)
            if (strlen(f.nic_allow[i]) > AGENT_FLAGS_MAX_STR)
                abort();
        size_t given = 0;
        agent_flags_each_given(&f, count_given, &given);
    } else if (rc >= 0 || !err[0]) {
        abort(); /* failures are negative and always explained */
    }
    agent_flags_release(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fuzz_memfile mf = {.fd = -1};
    if (size > AGENT_FLAGS_MAX_CONFIG + 1)
        return 0;
    const char *path = fuzz_memfile_set(&mf, data, size);
    parse_once(path, 0);
    parse_once(path, 1);
    return 0;
}
