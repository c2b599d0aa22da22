/* Unit tests of src/dashboard/config: defaults, Nezha v0 files, errors with lines, env, round
 * trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dashboard/config.h"

struct fixture {
    char dir[64];
    char path[128];
    struct dash_config c;
    char err[512];
};

static const char *const env_used[] = {"NZ_SITE_BRAND", "NZ_HTTPPORT", "NZ_GRPCPORT",
                                       "NZ_OAUTH2_CLIENTID", "NZ_DEBUG"};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/lotus-config-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/config.yaml", f->dir);
    for (size_t i = 0; i < sizeof(env_used) / sizeof(env_used[0]); i++)
        unsetenv(env_used[i]);
    config_defaults(&f->c);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    config_release(&f->c);
    for (size_t i = 0; i < sizeof(env_used) / sizeof(env_used[0]); i++)
        unsetenv(env_used[i]);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

/* Loads text as the config file; returns config_load's result. */
static int load_text(struct fixture *f, const char *text)
{
    write_file(f->path, text);
    f->err[0] = '\0';
    return config_load(&f->c, f->path, f->err, sizeof(f->err));
}

/* Asserts err is "PATH:LINE: ..." and contains needle. */
static void assert_err_at(struct fixture *f, int line, const char *needle)
{
    char want[200];
    snprintf(want, sizeof(want), "%s:%d: ", f->path, line);
    if (strncmp(f->err, want, strlen(want)) != 0 || !strstr(f->err, needle))
        fail_msg("error \"%s\" lacks \"%s\" or \"%s\"", f->err, want, needle);
}

static int has_key(const struct dash_config *c, const char *name)
{
    const char *keys[64];
    size_t n = config_ignored_keys(c, keys, 64);
    for (size_t i = 0; i < n && i < 64; i++)
        if (strcmp(keys[i], name) == 0)
            return 1;
    return 0;
}

static void test_config__defaults_and_missing_file(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(config_load(&f->c, f->path, f->err, sizeof(f->err)), 0); /* no file */
    assert_int_equal(f->c.debug, 0);
    assert_string_equal(f->c.language, "zh-CN");
    assert_int_equal(f->c.httpport, 8008);
    assert_int_equal(f->c.grpcport, 5555);
    assert_string_equal(f->c.listenhost, "0.0.0.0");
    assert_string_equal(f->c.grpchost, "");
    assert_int_equal(f->c.proxygrpcport, 0);
    assert_int_equal(f->c.tls, 0);
    assert_string_equal(f->c.site_brand, "Lotus");
    assert_string_equal(f->c.site_cookiename, "nezha-dashboard");
    assert_string_equal(f->c.site_viewpassword, "");
    assert_string_equal(f->c.geoipdb, "");
    assert_string_equal(f->c.grpctlscert, "");
    assert_string_equal(f->c.httptlskey, "");
    assert_string_equal(f->c.location, "Asia/Shanghai");
    assert_int_equal(f->c.avgpingcount, 2);
    const char *keys[4];
    assert_int_equal(config_ignored_keys(&f->c, keys, 4), 0);
    /* Empty and comment-only files are fine too. */
    assert_int_equal(load_text(f, ""), 0);
    assert_int_equal(load_text(f, "# nothing here\n"), 0);
    assert_int_equal(f->c.httpport, 8008);
}

/* A config.yaml as Nezha v0.20 writes it (viper: lower-case keys), with OAuth2 settings. */
static const char nezha_v0_sample[] = "debug: false\n"
                                      "language: zh-CN\n"
                                      "site:\n"
                                      "  brand: 哪吒监控\n"
                                      "  cookiename: nezha-dashboard\n"
                                      "  theme: default\n"
                                      "  dashboardtheme: default\n"
                                      "  customcode: |\n"
                                      "    <script>\n"
                                      "    console.log(\"hi\")\n"
                                      "    </script>\n"
                                      "  customcodedashboard: \"\"\n"
                                      "  viewpassword: \"\"\n"
                                      "oauth2:\n"
                                      "  type: github\n"
                                      "  admin: alice,bob\n"
                                      "  admingroups: \"\"\n"
                                      "  clientid: 0123456789abcdef0123\n"
                                      "  clientsecret: 0123456789abcdef0123456789abcdef01234567\n"
                                      "  endpoint: \"\"\n"
                                      "  oidcissuer: \"\"\n"
                                      "  oidcdisplayname: OIDC\n"
                                      "  oidcscopes: openid,profile,email\n"
                                      "  oidcloginclaim: sub\n"
                                      "  oidcgroupclaim: groups\n"
                                      "  oidclogouturl: \"\"\n"
                                      "  oidcregisterurl: \"\"\n"
                                      "  oidcautocreate: false\n"
                                      "  oidcautologin: false\n"
                                      "httpport: 8008\n"
                                      "grpcport: 5555\n"
                                      "grpchost: nezha.example.com\n"
                                      "proxygrpcport: 443\n"
                                      "tls: true\n"
                                      "enableplainipinnotification: false\n"
                                      "disableswitchtemplateinfrontend: false\n"
                                      "enableipchangenotification: true\n"
                                      "ipchangenotificationtag: default\n"
                                      "cover: 1\n"
                                      "ignoredipnotification: \"1,3\"\n"
                                      "ignoredipnotificationserverids:\n"
                                      "  1: true\n"
                                      "  3: true\n"
                                      "location: Asia/Shanghai\n"
                                      "maxtcppingvalue: 1000\n"
                                      "avgpingcount: 2\n"
                                      "dnsservers: \"\"\n";

static void test_config__loads_nezha_v0_file_unchanged(void **state)
{
    struct fixture *f = *state;
    if (load_text(f, nezha_v0_sample) != 0)
        fail_msg("load: %s", f->err);
    assert_string_equal(f->c.site_brand, "哪吒监控");
    assert_string_equal(f->c.site_cookiename, "nezha-dashboard");
    assert_int_equal(f->c.httpport, 8008);
    assert_int_equal(f->c.grpcport, 5555);
    assert_string_equal(f->c.grpchost, "nezha.example.com");
    assert_int_equal(f->c.proxygrpcport, 443);
    assert_int_equal(f->c.tls, 1);
    assert_string_equal(f->c.oauth2_type, "github");
    assert_string_equal(f->c.oauth2_admin, "alice,bob");
    assert_string_equal(f->c.oauth2_clientid, "0123456789abcdef0123");
    assert_string_equal(f->c.site_customcode, "<script>\nconsole.log(\"hi\")\n</script>\n");
    assert_int_equal(f->c.enableipchangenotification, 1);
    assert_int_equal(f->c.cover, 1);
    assert_string_equal(f->c.ignoredipnotification, "1,3");
    /* Keys Lotus does not use are reported; used ones are not. */
    assert_true(has_key(&f->c, "oauth2.type"));
    assert_true(has_key(&f->c, "oauth2.clientsecret"));
    assert_true(has_key(&f->c, "site.theme"));
    assert_true(has_key(&f->c, "ignoredipnotificationserverids"));
    assert_true(has_key(&f->c, "location"));
    assert_false(has_key(&f->c, "site.brand"));
    assert_false(has_key(&f->c, "httpport"));
    assert_false(has_key(&f->c, "grpchost"));
}

static void test_config__keys_case_insensitive_and_nulls(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(load_text(f, "HTTPPort: 9001\n"
                                  "Site:\n"
                                  "  Brand: x\n"
                                  "grpchost:\n"
                                  "grpcport: ~\n"
                                  "oauth2:\n"
                                  "debug: yes\n"
                                  "tls: off\n"
                                  "site.viewpassword_unused: 1\n"),
                     -EINVAL);
    assert_err_at(f, 9, "unknown key 'site.viewpassword_unused'");
    config_release(&f->c);
    config_defaults(&f->c);
    if (load_text(f, "HTTPPort: 9001\nSite:\n  Brand: x\ngrpchost:\ngrpcport: ~\noauth2:\n"
                     "debug: yes\ntls: off\nsite:\n  viewpassword: 123456\n") != 0)
        fail_msg("load: %s", f->err);
    assert_int_equal(f->c.httpport, 9001);
    assert_string_equal(f->c.site_brand, "x");
    assert_string_equal(f->c.grpchost, "");
    assert_int_equal(f->c.grpcport, 5555);
    assert_int_equal(f->c.debug, 1);
    assert_int_equal(f->c.tls, 0);
    assert_string_equal(f->c.site_viewpassword, "123456");
}

static void test_config__bad_value_reports_line(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(load_text(f, "debug: false\nlanguage: en-US\nhttpport: eighty\n"), -EINVAL);
    assert_err_at(f, 3, "'httpport' expects an integer 1..65535, got 'eighty'");
    assert_int_equal(load_text(f, "# c\n\ngrpcport: 70000\n"), -EINVAL);
    assert_err_at(f, 3, "'grpcport' expects an integer 1..65535");
    assert_int_equal(load_text(f, "site:\n  brand: ok\n\ntls: maybe\n"), -EINVAL);
    assert_err_at(f, 4, "'tls' expects true or false, got 'maybe'");
    assert_int_equal(load_text(f, "httpport: 80 # comment ok\ngrpcport: 12a\n"), -EINVAL);
    assert_err_at(f, 2, "'grpcport'");
    assert_int_equal(load_text(f, "httpport:\n  - 1\n  - 2\n"), -EINVAL);
    assert_err_at(f, 2, "'httpport' expects a single value");
    assert_int_equal(load_text(f, "site: brand\n"), -EINVAL);
    assert_err_at(f, 1, "'site' must be a mapping");
    char big[400];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    char text[512];
    snprintf(text, sizeof(text), "language: en\nsite:\n  brand: %s\n", big);
    assert_int_equal(load_text(f, text), -EINVAL);
    assert_err_at(f, 3, "'site.brand' is longer than 256 bytes");
}

static void test_config__unknown_and_duplicate_keys(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(load_text(f, "debug: true\nhttp_port: 80\n"), -EINVAL);
    assert_err_at(f, 2, "unknown key 'http_port'");
    assert_int_equal(load_text(f, "site:\n  brand: a\n  nosuch: 1\n"), -EINVAL);
    assert_err_at(f, 3, "unknown key 'site.nosuch'");
    assert_int_equal(load_text(f, "httpport: 80\nhttpport: 81\n"), -EINVAL);
    assert_err_at(f, 2, "duplicate key 'httpport'");
}

static void test_config__bad_yaml(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(load_text(f, "debug: true\nsite:\n  brand: \"unterminated\n"), -EINVAL);
    assert_non_null(strstr(f->err, f->path));
    assert_int_equal(load_text(f, "- a\n- b\n"), -EINVAL);
    assert_err_at(f, 1, "top level must be a mapping");
    assert_int_equal(load_text(f, "debug: true\n---\ndebug: false\n"), -EINVAL);
    assert_err_at(f, 2, "only one YAML document");
    assert_int_equal(load_text(f, "site:\n  brand: &b x\n  theme: *b\n"), -EINVAL);
    assert_err_at(f, 3, "aliases are not supported");
    assert_int_equal(load_text(f, "debug: [true\n"), -EINVAL);
    /* Over the size limit. */
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    for (unsigned i = 0; i <= CONFIG_FILE_MAX / 16; i++)
        fputs("# padding line\n\n", fp);
    fclose(fp);
    f->err[0] = '\0';
    assert_int_equal(config_load(&f->c, f->path, f->err, sizeof(f->err)), -EFBIG);
    assert_non_null(strstr(f->err, "larger than"));
}

static void test_config__env_override_and_precedence(void **state)
{
    struct fixture *f = *state;
    setenv("NZ_SITE_BRAND", "From Env", 1);
    setenv("NZ_HTTPPORT", "9000", 1);
    setenv("NZ_OAUTH2_CLIENTID", "envclient", 1);
    /* The file wins over the environment (as in Nezha v0). */
    if (load_text(f, "httpport: 8080\n") != 0)
        fail_msg("load: %s", f->err);
    assert_int_equal(f->c.httpport, 8080);
    assert_string_equal(f->c.site_brand, "From Env");
    assert_string_equal(f->c.oauth2_clientid, "envclient");
    assert_true(has_key(&f->c, "oauth2.clientid")); /* set by env, not used */
    unlink(f->path);
    config_release(&f->c);
    config_defaults(&f->c);
    assert_int_equal(config_load(&f->c, f->path, f->err, sizeof(f->err)), 0);
    assert_int_equal(f->c.httpport, 9000);

    setenv("NZ_GRPCPORT", "not-a-port", 1);
    f->err[0] = '\0';
    assert_int_equal(config_load(&f->c, f->path, f->err, sizeof(f->err)), -EINVAL);
    assert_non_null(strstr(f->err, "env NZ_GRPCPORT: 'grpcport' expects an integer"));
}

static void test_config__write_load_round_trip(void **state)
{
    struct fixture *f = *state;
    struct dash_config *c = &f->c;
    free(c->site_brand);
    c->site_brand = strdup("Quote \" and 'single', colon: x, # hash, 中文");
    free(c->site_customcode);
    c->site_customcode = strdup("<script>\n  a = 1;\n</script>\n");
    free(c->grpchost);
    c->grpchost = strdup("true");
    free(c->site_viewpassword);
    c->site_viewpassword = strdup("123");
    free(c->language);
    c->language = strdup("");
    free(c->oauth2_admin);
    c->oauth2_admin = strdup("  leading and trailing  ");
    c->httpport = 65535;
    c->tls = 1;
    c->debug = 1;
    c->cover = 1;
    c->oauth2_oidcautologin = 1;
    free(c->promrw_url);
    c->promrw_url = strdup("http://127.0.0.1:9090/api/v1/write");
    free(c->promrw_labels);
    c->promrw_labels = strdup("env=prod,dc=eu");
    c->promrw_interval = 1;
    if (config_write(c, f->path, f->err, sizeof(f->err)) != 0)
        fail_msg("write: %s", f->err);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* No temporary file left behind. */
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    int entries = 0;
    for (struct dirent *e = readdir(d); e; e = readdir(d))
        if (e->d_name[0] != '.')
            entries++;
    closedir(d);
    assert_int_equal(entries, 1);

    struct dash_config back;
    config_defaults(&back);
    if (config_load(&back, f->path, f->err, sizeof(f->err)) != 0)
        fail_msg("reload: %s", f->err);
    for (size_t i = 0; i < config_option_count(); i++)
        assert_int_equal(back.source[i] == CONFIG_SRC_FILE ||
                             strcmp(config_option_name(i), "ignoredipnotificationserverids") == 0,
                         1);
    assert_string_equal(back.site_brand, c->site_brand);
    assert_string_equal(back.site_customcode, c->site_customcode);
    assert_string_equal(back.grpchost, "true");
    assert_string_equal(back.site_viewpassword, "123");
    assert_string_equal(back.language, "");
    assert_string_equal(back.oauth2_admin, "  leading and trailing  ");
    assert_string_equal(back.site_cookiename, "nezha-dashboard");
    assert_int_equal(back.httpport, 65535);
    assert_int_equal(back.tls, 1);
    assert_int_equal(back.debug, 1);
    assert_int_equal(back.cover, 1);
    assert_int_equal(back.oauth2_oidcautologin, 1);
    assert_int_equal(back.avgpingcount, 2);
    /* Two-level sections (prometheus.remotewrite.*) come back from nested mappings. */
    assert_string_equal(back.promrw_url, "http://127.0.0.1:9090/api/v1/write");
    assert_string_equal(back.promrw_labels, "env=prod,dc=eu");
    assert_int_equal(back.promrw_interval, 1);
    assert_int_equal(back.promrw_timeout, 30);
    config_release(&back);

    /* Writing over an existing file replaces it. */
    c->httpport = 1234;
    assert_int_equal(config_write(c, f->path, f->err, sizeof(f->err)), 0);
    config_defaults(&back);
    assert_int_equal(config_load(&back, f->path, f->err, sizeof(f->err)), 0);
    assert_int_equal(back.httpport, 1234);
    config_release(&back);

    /* Unwritable destination: clear error. */
    char bad[200];
    snprintf(bad, sizeof(bad), "%s/missing-dir/config.yaml", f->dir);
    f->err[0] = '\0';
    assert_true(config_write(c, bad, f->err, sizeof(f->err)) < 0);
    assert_non_null(strstr(f->err, bad));
}

static void test_config__help_lists_every_option(void **state)
{
    (void)state;
    FILE *fp = tmpfile();
    assert_non_null(fp);
    config_print_help(fp);
    long n = ftell(fp);
    assert_true(n > 0);
    char *text = calloc(1, (size_t)n + 1);
    rewind(fp);
    assert_int_equal(fread(text, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    for (size_t i = 0; i < config_option_count(); i++)
        assert_non_null(strstr(text, config_option_name(i)));
    assert_non_null(strstr(text, "NZ_SITE_BRAND"));
    assert_non_null(strstr(text, "default 8008 (1..65535)"));
    assert_null(config_option_name(config_option_count()));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config__defaults_and_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__loads_nezha_v0_file_unchanged, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_config__keys_case_insensitive_and_nulls, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_config__bad_value_reports_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__unknown_and_duplicate_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__bad_yaml, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__env_override_and_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__write_load_round_trip, setup, teardown),
        cmocka_unit_test(test_config__help_lists_every_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
