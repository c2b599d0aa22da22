/* Unit tests of src/agent/flags: every flag, both syntaxes, defaults, config file, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/flags.h"
#include "core/version.h"

struct run {
    struct agent_flags f;
    int rc;
    char *out;
    char *err;
};

/* Runs agent_flags_cli over a NULL-terminated argument list (argv[0] is added). */
static void run_args(struct run *r, const char *const *args)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)"lotus-agent";
    for (; *args; args++)
        argv[argc++] = (char *)*args;
    argv[argc] = NULL;
    size_t on, en;
    FILE *out = open_memstream(&r->out, &on);
    FILE *err = open_memstream(&r->err, &en);
    agent_flags_init(&r->f);
    r->rc = agent_flags_cli(&r->f, argc, argv, out, err);
    fclose(out);
    fclose(err);
}

static void run_free(struct run *r)
{
    agent_flags_release(&r->f);
    free(r->out);
    free(r->err);
}

#define RUN(r, ...)                                                                                \
    do {                                                                                           \
        static const char *const a_[] = {__VA_ARGS__, NULL};                                       \
        run_args((r), a_);                                                                         \
    } while (0)

/* Asserts exit 1 with a one-line message containing `want`. */
static void expect_error(const char *const *args, const char *want)
{
    struct run r;
    run_args(&r, args);
    if (r.rc != 1 || !strstr(r.err, want))
        fail_msg("args starting \"%s\": rc=%d err=\"%s\", want \"%s\"", args[0], r.rc, r.err, want);
    assert_string_equal(r.out, "");
    assert_ptr_not_equal(strstr(r.err, "lotus-agent: "), NULL);
    run_free(&r);
}
#define EXPECT_ERROR(want, ...)                                                                    \
    do {                                                                                           \
        static const char *const a_[] = {__VA_ARGS__, NULL};                                       \
        expect_error(a_, (want));                                                                  \
    } while (0)

static void test_agent_flags__defaults(void **state)
{
    (void)state;
    struct run r;
    RUN(&r, "-p", "secret");
    assert_int_equal(r.rc, AGENT_FLAGS_CONTINUE);
    assert_int_equal(r.f.cmd, AGENT_CMD_RUN);
    assert_string_equal(r.f.server, "localhost:5555");
    assert_string_equal(r.f.server_host, "localhost");
    assert_int_equal(r.f.server_port, 5555);
    assert_string_equal(r.f.password, "secret");
    assert_int_equal(r.f.report_delay, 1);
    assert_int_equal(r.f.ip_report_period, 1800);
    assert_string_equal(r.f.root, "/");
    assert_null(r.f.config);
    assert_null(r.f.ip);
    assert_int_equal(r.f.n_ip_urls, 3);
    assert_string_equal(r.f.ip_urls[0], "https://blog.cloudflare.com/cdn-cgi/trace");
    assert_string_equal(r.f.ip_urls[1], "https://dash.cloudflare.com/cdn-cgi/trace");
    assert_string_equal(r.f.ip_urls[2], "https://developers.cloudflare.com/cdn-cgi/trace");
    int bools = r.f.tls + r.f.insecure + r.f.debug + r.f.skip_conn + r.f.skip_procs +
                r.f.disable_command_execute + r.f.disable_nat + r.f.disable_send_query +
                r.f.disable_auto_update + r.f.disable_force_update + r.f.gitee +
                r.f.use_ipv6_countrycode + r.f.gpu + r.f.temperature;
    assert_int_equal(bools, 0);
    assert_int_equal(r.f.n_nic_allow + r.f.n_disk_allow, 0);
    run_free(&r);
}

static void test_agent_flags__every_flag_long_space(void **state)
{
    (void)state;
    struct run r;
    RUN(&r, "--server", "dash.example:443", "--password", "pw", "--tls", "--insecure", "--debug",
        "--report-delay", "4", "--skip-conn", "--skip-procs", "--disable-command-execute",
        "--disable-nat", "--disable-send-query", "--disable-auto-update", "--disable-force-update",
        "--gitee", "--use-ipv6-countrycode", "--gpu", "--temperature", "--ip-report-period", "60",
        "--ip", "192.0.2.1/2001:db8::1", "--ip-url", "http://127.0.0.1:8080/trace", "--root",
        "/tmp/fixture");
    assert_int_equal(r.rc, AGENT_FLAGS_CONTINUE);
    assert_string_equal(r.f.server_host, "dash.example");
    assert_int_equal(r.f.server_port, 443);
    assert_string_equal(r.f.password, "pw");
    int bools = r.f.tls + r.f.insecure + r.f.debug + r.f.skip_conn + r.f.skip_procs +
                r.f.disable_command_execute + r.f.disable_nat + r.f.disable_send_query +
                r.f.disable_auto_update + r.f.disable_force_update + r.f.gitee +
                r.f.use_ipv6_countrycode + r.f.gpu + r.f.temperature;
    assert_int_equal(bools, 14);
    assert_int_equal(r.f.report_delay, 4);
    assert_int_equal(r.f.ip_report_period, 60);
    assert_string_equal(r.f.ip, "192.0.2.1/2001:db8::1");
    assert_int_equal(r.f.n_ip_urls, 1);
    assert_string_equal(r.f.ip_urls[0], "http://127.0.0.1:8080/trace");
    assert_string_equal(r.f.root, "/tmp/fixture");
    run_free(&r);
}

static void test_agent_flags__every_flag_long_equals(void **state)
{
    (void)state;
    struct run r;
    RUN(&r, "--server=[::1]:5555", "--password=pw", "--tls=true", "--insecure=1", "--debug=T",
        "--report-delay=2", "--skip-conn=true", "--skip-procs=True",
        "--disable-command-execute=TRUE", "--disable-nat=t", "--disable-send-query=true",
        "--disable-auto-update=true", "--disable-force-update=true", "--gitee=true",
        "--use-ipv6-countrycode=true", "--gpu=true", "--temperature=true",
        "--ip-report-period=3600", "--ip=2001:db8::2", "--ip-url=https://a.example/x",
        "--ip-url=http://b.example:81", "--root=/srv");
    assert_int_equal(r.rc, AGENT_FLAGS_CONTINUE);
    assert_string_equal(r.f.server_host, "::1");
    assert_int_equal(r.f.server_port, 5555);
    assert_int_equal(r.f.tls + r.f.insecure + r.f.debug + r.f.skip_conn + r.f.skip_procs +
                         r.f.disable_command_execute + r.f.disable_nat + r.f.disable_send_query +
                         r.f.disable_auto_update + r.f.disable_force_update + r.f.gitee +
                         r.f.use_ipv6_countrycode + r.f.gpu + r.f.temperature,
                     14);
    assert_int_equal(r.f.report_delay, 2);
    assert_int_equal(r.f.ip_report_period, 3600);
    assert_string_equal(r.f.ip, "2001:db8::2");
    assert_int_equal(r.f.n_ip_urls, 2);
    assert_string_equal(r.f.ip_urls[1], "http://b.example:81");
    assert_string_equal(r.f.root, "/srv");
    run_free(&r);

    /* pflag bools: explicit false turns a flag off */
    RUN(&r, "-p", "x", "--tls", "--tls=false", "--gpu=0", "--debug=F", "--insecure=False");
    assert_int_equal(r.rc, AGENT_FLAGS_CONTINUE);
    assert_int_equal(r.f.tls + r.f.gpu + r.f.debug + r.f.insecure, 0);
    run_free(&r);
}

static void test_agent_flags__short_forms(void **state)
{
    (void)state;
    struct run r;
    RUN(&r, "-s", "h:1", "-p", "pw", "-k", "-d", "-u", "99");
    assert_int_equal(r.rc, AGENT_FLAGS_CONTINUE);
    assert_string_equal(r.f.server_host, "h");
    assert_int_equal(r.f.server_port, 1);
    assert_int_equal(r.f.insecure, 1);
    assert_int_equal(r.f.debug, 1);
    assert_int_equal(r.f.ip_report_period, 99);
    run_free(&r);

    RUN(&r, "-sh2:2", "-p=pw", "-dk", "-u=7");
    assert_int_equal(r.rc, AGENT_FLAGS_CONTINUE);
    assert_string_equal(r.f.server_host, "h2");
    assert_string_equal(r.f.password, "pw");
    assert_int_equal(r.f.debug + r.f.insecure, 2);
    assert_int_equal(r.f.ip_report_period, 7);
    run_free(&r);

    /* a value flag at the end of a cluster takes the next argument */
    RUN(&r, "-dp", "pw3");
    assert_int_equal(r.rc, AGENT_FLAGS_CONTINUE);
    assert_string_equal(r.f.password, "pw3");
    assert_int_equal(r.f.debug, 1);
    run_free(&r);
}

static void test_agent_flags__version_and_help(void **state)
{
    (void)state;
    struct run r;
    RUN(&r, "-v");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, LOTUS_VERSION "\n");
    run_free(&r);
    RUN(&r, "--version");
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, LOTUS_VERSION "\n");
    run_free(&r);
    RUN(&r, "--help");
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "--report-delay"));
    assert_non_null(strstr(r.out, "-p, --password"));
    assert_non_null(strstr(r.out, "--ip-url"));
    run_free(&r);
}

static void test_agent_flags__password_required(void **state)
{
    (void)state;
    struct run r;
    RUN(&r, "-s", "h:1");
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "--password flag is required"));
    assert_non_null(strstr(r.err, "Usage:")); /* help follows */
    run_free(&r);
    RUN(&r, "--password=");
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "Usage:"));
    run_free(&r);
}

static void test_agent_flags__invalid_values(void **state)
{
    (void)state;
    EXPECT_ERROR("\"--report-delay\": must be an integer from 1 to 4", "-p", "x", "--report-delay",
                 "0");
    EXPECT_ERROR("\"--report-delay\": must be an integer from 1 to 4", "-p", "x",
                 "--report-delay=5");
    EXPECT_ERROR("\"--report-delay\"", "-p", "x", "--report-delay", "1s");
    EXPECT_ERROR("\"--report-delay\"", "-p", "x", "--report-delay=");
    EXPECT_ERROR("\"--ip-report-period\"", "-p", "x", "-u", "0");
    EXPECT_ERROR("\"--ip-report-period\"", "-p", "x", "-u", "-5");
    EXPECT_ERROR("\"--ip-report-period\"", "-p", "x", "--ip-report-period=4294967296");
    EXPECT_ERROR("\"--ip-report-period\"", "-p", "x", "-u", "12abc");
    EXPECT_ERROR("\"--server\"", "-p", "x", "-s", "nohostport");
    EXPECT_ERROR("\"--server\"", "-p", "x", "-s", "h:0");
    EXPECT_ERROR("\"--server\"", "-p", "x", "-s", "h:65536");
    EXPECT_ERROR("\"--server\"", "-p", "x", "-s", "::1:5555");
    EXPECT_ERROR("\"--server\"", "-p", "x", "-s", ":5555");
    EXPECT_ERROR("\"--server\"", "-p", "x", "-s", "[::1]5555");
    EXPECT_ERROR("\"--ip\"", "-p", "x", "--ip", "1.2.3");
    EXPECT_ERROR("\"--ip\"", "-p", "x", "--ip", "2001:db8::1/1.2.3.4");
    EXPECT_ERROR("\"--ip\"", "-p", "x", "--ip=");
    EXPECT_ERROR("\"--ip-url\"", "-p", "x", "--ip-url", "ftp://x/");
    EXPECT_ERROR("\"--ip-url\"", "-p", "x", "--ip-url", "http://");
    EXPECT_ERROR("\"--ip-url\"", "-p", "x", "--ip-url", "http://a b/");
    EXPECT_ERROR("\"--root\"", "-p", "x", "--root=");
    EXPECT_ERROR("\"--tls\": want true or false", "-p", "x", "--tls=maybe");
    EXPECT_ERROR("unexpected argument \"false\"", "-p", "x", "--tls", "false");
    EXPECT_ERROR("unexpected argument \"extra\"", "-p", "x", "extra");
    EXPECT_ERROR("unexpected argument \"-p\"", "--", "-p");
    EXPECT_ERROR("unknown flag: --nope", "-p", "x", "--nope");
    EXPECT_ERROR("unknown shorthand flag: 'z' in -dz", "-p", "x", "-dz");
    EXPECT_ERROR("flag needs an argument: --server", "-p", "x", "--server");
    EXPECT_ERROR("flag needs an argument: 'p' in -p", "-p");
    EXPECT_ERROR("too many --ip-url values", "-p", "x", "--ip-url=http://a/", "--ip-url=http://a/",
                 "--ip-url=http://a/", "--ip-url=http://a/", "--ip-url=http://a/",
                 "--ip-url=http://a/", "--ip-url=http://a/", "--ip-url=http://a/",
                 "--ip-url=http://a/");
    EXPECT_ERROR("control characters", "-p", "x\ny");
    EXPECT_ERROR("service: expected \"install\" or \"uninstall\"", "service", "start");
    EXPECT_ERROR("cannot open config file", "-p", "x", "--config", "/nonexistent/lotus.yml");
}

static void test_agent_flags__service_subcommand(void **state)
{
    (void)state;
    struct run r;
    RUN(&r, "service", "install", "-s", "d:5555", "-p", "pw", "--tls");
    assert_int_equal(r.rc, AGENT_FLAGS_CONTINUE);
    assert_int_equal(r.f.cmd, AGENT_CMD_SERVICE_INSTALL);
    assert_int_equal(r.f.tls, 1);
    run_free(&r);
    RUN(&r, "service", "uninstall");
    assert_int_equal(r.rc, AGENT_FLAGS_CONTINUE);
    assert_int_equal(r.f.cmd, AGENT_CMD_SERVICE_UNINSTALL);
    run_free(&r);
    RUN(&r, "service", "install");
    assert_int_equal(r.rc, 1); /* install needs the secret */
    run_free(&r);
}

static void collect_given(const char *name, const char *value, void *ud)
{
    char *acc = ud;
    size_t n = strlen(acc);
    snprintf(acc + n, 512 - n, "%s%s%s;", name, value ? "=" : "", value ? value : "");
}

static void test_agent_flags__each_given(void **state)
{
    (void)state;
    struct run r;
    char acc[512] = "";
    RUN(&r, "-p", "pw", "--report-delay", "1", "--tls", "--gpu=false", "-u", "60", "--ip-url",
        "http://a/", "--ip-url", "http://b/", "--root", "/");
    assert_int_equal(r.rc, AGENT_FLAGS_CONTINUE);
    agent_flags_each_given(&r.f, collect_given, acc);
    /* defaults (report-delay 1, root /, gpu false) are left out */
    assert_string_equal(acc,
                        "password=pw;tls;ip-report-period=60;ip-url=http://a/;ip-url=http://b/;");
    run_free(&r);
}

static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/lotus-flags-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

/* --disable-probes (Lotus): off by default, on from the command line or the config key. */
static void test_agent_flags__disable_probes(void **state)
{
    (void)state;
    struct run r;
    RUN(&r, "-p", "x");
    assert_int_equal(r.f.disable_probes, 0);
    run_free(&r);
    RUN(&r, "-p", "x", "--disable-probes");
    assert_int_equal(r.rc, AGENT_FLAGS_CONTINUE);
    assert_int_equal(r.f.disable_probes, 1);
    assert_int_equal(r.f.disable_send_query, 0);
    run_free(&r);
    char *p = write_tmp("disable-probes: true\n");
    static const char *args[] = {"-p", "x", "--config", NULL, NULL};
    args[3] = p;
    run_args(&r, args);
    assert_int_equal(r.rc, AGENT_FLAGS_CONTINUE);
    assert_int_equal(r.f.disable_probes, 1);
    run_free(&r);
    unlink(p);
    free(p);
}

static void test_agent_flags__config_file(void **state)
{
    (void)state;
    char *p = write_tmp("# v0 keys\n"
                        "HardDrivePartitionAllowList:\n  - /\n  - /data\n"
                        "nicallowlist:\n  eth0: true\n  docker0: false\n  wlan0: yes\n"
                        "dns:\n  - 1.1.1.1:53\n"
                        "gpu: true\ntemperature: on\ndebug: false\n"
                        "server: cfg.example:5555\npassword: fromfile\nreport-delay: 3\n"
                        "tls: true\nip-url:\n  - http://x.example/t\n");
    struct run r;
    static const char *args[] = {"--config", NULL, "--report-delay", "2", NULL};
    args[1] = p;
    run_args(&r, args);
    assert_int_equal(r.rc, AGENT_FLAGS_CONTINUE);
    assert_int_equal(r.f.n_disk_allow, 2);
    assert_string_equal(r.f.disk_allow[1], "/data");
    assert_int_equal(r.f.n_nic_allow, 2);
    assert_string_equal(r.f.nic_allow[0], "eth0");
    assert_string_equal(r.f.nic_allow[1], "wlan0");
    assert_int_equal(r.f.gpu, 1);
    assert_int_equal(r.f.temperature, 1);
    assert_int_equal(r.f.tls, 1);
    assert_string_equal(r.f.server_host, "cfg.example");
    assert_string_equal(r.f.password, "fromfile");
    assert_int_equal(r.f.report_delay, 2); /* the command line wins */
    assert_int_equal(r.f.n_ip_urls, 1);
    assert_string_equal(r.f.ip_urls[0], "http://x.example/t");
    run_free(&r);
    unlink(p);
    free(p);
}

static void config_error(const char *text, const char *want)
{
    char *p = write_tmp(text);
    struct run r;
    static const char *args[] = {"-p", "x", "--config", NULL, NULL};
    args[3] = p;
    run_args(&r, args);
    if (r.rc != 1 || !strstr(r.err, want) || !strstr(r.err, p))
        fail_msg("config \"%s\": rc=%d err=\"%s\", want \"%s\"", text, r.rc, r.err, want);
    run_free(&r);
    unlink(p);
    free(p);
}

static void test_agent_flags__config_errors(void **state)
{
    (void)state;
    config_error("gpu: true\nbogus: 1\n", ":2: unknown key \"bogus\"");
    config_error("gpu: maybe\n", ":1: expected true or false for \"gpu\"");
    config_error("report-delay: 9\n", ":1: invalid argument \"9\" for \"--report-delay\"");
    config_error("nicallowlist:\n  - eth0\n", ":2: expected a map");
    config_error("nicallowlist:\n  eth0: sure\n", "expected true or false for interface \"eth0\"");
    config_error("harddrivepartitionallowlist: /\n", ":1: expected a list");
    config_error("- a\n- b\n", ":1: expected a map of key: value");
    config_error("gpu: [true\n", "flags-"); /* YAML syntax error names the file */
    config_error("version: true\n", "unknown key \"version\"");
    config_error("server:\n  a: b\n", ":2: expected a single value for \"server\"");
    /* empty file: fine */
    char *p = write_tmp("");
    struct run r;
    static const char *args[] = {"-p", "x", "--config", NULL, NULL};
    args[3] = p;
    run_args(&r, args);
    assert_int_equal(r.rc, AGENT_FLAGS_CONTINUE);
    run_free(&r);
    unlink(p);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_flags__defaults),
        cmocka_unit_test(test_agent_flags__disable_probes),
        cmocka_unit_test(test_agent_flags__every_flag_long_space),
        cmocka_unit_test(test_agent_flags__every_flag_long_equals),
        cmocka_unit_test(test_agent_flags__short_forms),
        cmocka_unit_test(test_agent_flags__version_and_help),
        cmocka_unit_test(test_agent_flags__password_required),
        cmocka_unit_test(test_agent_flags__invalid_values),
        cmocka_unit_test(test_agent_flags__service_subcommand),
        cmocka_unit_test(test_agent_flags__each_given),
        cmocka_unit_test(test_agent_flags__config_file),
        cmocka_unit_test(test_agent_flags__config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
