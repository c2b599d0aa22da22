/* Unit tests of src/dashboard/cli: every command, its JSON line, bad arguments and exit codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dashboard/cli.h"
#include "core/clock.h"
#include "core/log.h"
#include "dashboard/store.h"

#define MAX_ARGS 16

struct ctx {
    char dir[64];
    char path[128];
    struct store *st;
    char out[8192];
    char err[8192];
};

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));
    snprintf(c->dir, sizeof(c->dir), "/tmp/lotus-cli-XXXXXX");
    if (!mkdtemp(c->dir))
        return -1;
    snprintf(c->path, sizeof(c->path), "%s/sqlite.db", c->dir);
    char err[256];
    if (store_open(c->path, &c->st, err, sizeof(err)) != 0)
        return -1;
    setenv("LOTUS_TEST_FAST_HASH", "1", 1);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    store_close(c->st);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
    int rc = system(cmd);
    free(c);
    return rc == 0 ? 0 : -1;
}

static void slurp(FILE *fp, char *dst, size_t cap)
{
    long n = ftell(fp);
    assert_true(n >= 0 && (size_t)n < cap);
    rewind(fp);
    assert_int_equal(fread(dst, 1, (size_t)n, fp), (size_t)n);
    dst[n] = '\0';
    fclose(fp);
}

/* Runs cli_run with the NULL-terminated words after stdin_text; captures out and err. */
static int run(struct ctx *c, const char *stdin_text, ...)
{
    char *argv[MAX_ARGS];
    int argc = 0;
    va_list ap;
    va_start(ap, stdin_text);
    for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *)) {
        assert_true(argc < MAX_ARGS - 1);
        argv[argc++] = (char *)(uintptr_t)a;
    }
    va_end(ap);
    argv[argc] = NULL;
    FILE *out = tmpfile();
    FILE *err = tmpfile();
    const char *text = stdin_text ? stdin_text : "";
    FILE *in = fmemopen((void *)(uintptr_t)text, strlen(text), "r");
    if (!in) /* fmemopen refuses a zero-length buffer on some libcs */
        in = fopen("/dev/null", "r");
    assert_non_null(out);
    assert_non_null(err);
    assert_non_null(in);
    int rc = cli_run(c->st, argc, argv, in, out, err);
    fclose(in);
    slurp(out, c->out, sizeof(c->out));
    slurp(err, c->err, sizeof(c->err));
    return rc;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Bad usage: exit 2, nothing on out, one line on err containing needle. */
static void expect_usage(struct ctx *c, int rc, const char *needle)
{
    if (rc != CLI_EXIT_USAGE || c->out[0] != '\0' || count_lines(c->err) != 1 ||
        !strstr(c->err, needle))
        fail_msg("rc=%d out=\"%s\" err=\"%s\" (wanted exit 2 and \"%s\")", rc, c->out, c->err,
                 needle);
}

static void expect_fail(struct ctx *c, int rc, const char *needle)
{
    if (rc != CLI_EXIT_FAIL || c->out[0] != '\0' || count_lines(c->err) != 1 ||
        !strstr(c->err, needle))
        fail_msg("rc=%d out=\"%s\" err=\"%s\" (wanted exit 1 and \"%s\")", rc, c->out, c->err,
                 needle);
}

/* Success: exit 0, exactly one JSON line, nothing on err. Returns the parsed value (owned). */
static json_t *expect_json(struct ctx *c, int rc)
{
    if (rc != CLI_EXIT_OK || c->err[0] != '\0' || count_lines(c->out) != 1)
        fail_msg("rc=%d out=\"%s\" err=\"%s\"", rc, c->out, c->err);
    json_error_t je;
    json_t *v = json_loads(c->out, 0, &je);
    if (!v)
        fail_msg("not JSON: %s (%s)", c->out, je.text);
    return v;
}

static int is_alnum_str(const char *s, size_t len)
{
    if (strlen(s) != len)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')))
            return 0;
    }
    return 1;
}

static void test_cli__server_add(void **state)
{
    struct ctx *c = *state;
    json_t *v = expect_json(c, run(c, NULL, "server", "add", "--name", "web-1", "--tag", "prod",
                                   "--note=rack 4", "--hide-for-guest", NULL));
    assert_int_equal(json_object_size(v), 2);
    json_int_t id = json_integer_value(json_object_get(v, "id"));
    const char *secret = json_string_value(json_object_get(v, "secret"));
    assert_true(id > 0);
    assert_non_null(secret);
    assert_true(is_alnum_str(secret, STORE_SECRET_LEN));
    /* Exactly {"id":N,"secret":"..."} in that order. */
    char want[128];
    snprintf(want, sizeof(want), "{\"id\":%lld,\"secret\":\"%s\"}\n", (long long)id, secret);
    assert_string_equal(c->out, want);
    struct store_server s;
    assert_int_equal(store_server_get(c->st, (uint64_t)id, &s), 0);
    assert_string_equal(s.name, "web-1");
    assert_string_equal(s.tag, "prod");
    assert_string_equal(s.note, "rack 4");
    assert_string_equal(s.secret, secret);
    assert_int_equal(s.hide_for_guest, 1);
    store_server_release(&s);
    json_decref(v);

    /* Minimal form; a second server gets a different secret. */
    v = expect_json(c, run(c, NULL, "server", "add", "--name", "db", NULL));
    assert_true(json_integer_value(json_object_get(v, "id")) > id);
    assert_int_equal(json_object_size(v), 2);
    json_decref(v);
}

static void test_cli__server_add_bad_arguments(void **state)
{
    struct ctx *c = *state;
    expect_usage(c, run(c, NULL, "server", "add", NULL), "missing --name");
    expect_usage(c, run(c, NULL, "server", "add", "--tag", "x", NULL), "missing --name");
    expect_usage(c, run(c, NULL, "server", "add", "--name", NULL), "'--name' needs a value");
    expect_usage(c, run(c, NULL, "server", "add", "--name", "a", "--colour", "red", NULL),
                 "unknown option '--colour'");
    expect_usage(c, run(c, NULL, "server", "add", "--name=a", "--color=red", NULL),
                 "unknown option '--color'");
    expect_usage(c, run(c, NULL, "server", "add", "-n", "a", NULL), "unknown option '-n'");
    expect_usage(c, run(c, NULL, "server", "add", "--name", "a", "extra", NULL),
                 "unexpected argument 'extra'");
    expect_usage(c, run(c, NULL, "server", "add", "--name", "a", "--name", "b", NULL),
                 "given twice");
    expect_usage(c, run(c, NULL, "server", "add", "--name", "a", "--hide-for-guest=1", NULL),
                 "takes no value");
    expect_usage(c, run(c, NULL, "server", "add", "--name", "", NULL), "must not be empty");
    expect_usage(c, run(c, NULL, "server", "add", "--name", "bad\xff\xfe", NULL),
                 "not valid UTF-8");
    char big[STORE_NAME_MAX + 2];
    memset(big, 'n', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    expect_usage(c, run(c, NULL, "server", "add", "--name", big, NULL), "longer than");
    /* Nothing was created by any of them. */
    json_t *v = expect_json(c, run(c, NULL, "server", "list", NULL));
    assert_int_equal(json_array_size(v), 0);
    json_decref(v);
    expect_usage(c, run(c, NULL, "server", NULL), "missing command");
    expect_usage(c, run(c, NULL, "server", "rename", NULL), "unknown command 'rename'");
}

static void test_cli__server_list(void **state)
{
    struct ctx *c = *state;
    assert_int_equal(run(c, NULL, "server", "list", NULL), 0);
    assert_string_equal(c->out, "[]\n");
    const char *tricky = "quote\" back\\slash\nnewline <tag> 中文";
    json_decref(
        expect_json(c, run(c, NULL, "server", "add", "--name", tricky, "--tag", "g1", NULL)));
    json_decref(expect_json(c, run(c, NULL, "server", "add", "--name", "b", NULL)));
    store_enqueue_live(c->st, 2, NULL, 0, 1700000000);
    store_flush(c->st);

    json_t *v = expect_json(c, run(c, NULL, "server", "list", NULL));
    assert_int_equal(json_array_size(v), 2);
    json_t *a = json_array_get(v, 0);
    assert_int_equal(json_object_size(a), 4);
    assert_int_equal(json_integer_value(json_object_get(a, "id")), 1);
    assert_string_equal(json_string_value(json_object_get(a, "name")), tricky);
    assert_string_equal(json_string_value(json_object_get(a, "tag")), "g1");
    assert_int_equal(json_integer_value(json_object_get(a, "last_active")), 0);
    json_t *b = json_array_get(v, 1);
    assert_int_equal(json_integer_value(json_object_get(b, "last_active")), 1700000000);
    json_decref(v);
    /* Field order and compact form. */
    assert_non_null(
        strstr(c->out, "{\"id\":2,\"name\":\"b\",\"tag\":\"\",\"last_active\":1700000000}]"));

    expect_usage(c, run(c, NULL, "server", "list", "all", NULL), "unexpected argument 'all'");
    expect_usage(c, run(c, NULL, "server", "list", "--json", NULL), "unknown option '--json'");
}

static void test_cli__server_del(void **state)
{
    struct ctx *c = *state;
    json_decref(expect_json(c, run(c, NULL, "server", "add", "--name", "a", NULL)));
    json_decref(expect_json(c, run(c, NULL, "server", "add", "--name", "b", NULL)));
    assert_int_equal(run(c, NULL, "server", "del", "1", NULL), 0);
    assert_string_equal(c->out, "{\"id\":1,\"deleted\":true}\n");
    expect_fail(c, run(c, NULL, "server", "del", "1", NULL), "no server with id 1");
    expect_fail(c, run(c, NULL, "server", "del", "999", NULL), "no server with id 999");
    expect_usage(c, run(c, NULL, "server", "del", NULL), "missing server ID");
    expect_usage(c, run(c, NULL, "server", "del", "abc", NULL), "invalid id 'abc'");
    expect_usage(c, run(c, NULL, "server", "del", "2x", NULL), "invalid id '2x'");
    expect_usage(c, run(c, NULL, "server", "del", "", NULL), "invalid id ''");
    expect_usage(c, run(c, NULL, "server", "del", "99999999999999999999", NULL), "invalid id");
    expect_usage(c, run(c, NULL, "server", "del", "-1", NULL), "unknown option '-1'");
    expect_usage(c, run(c, NULL, "server", "del", "2", "3", NULL), "unexpected argument '3'");
    json_t *v = expect_json(c, run(c, NULL, "server", "list", NULL));
    assert_int_equal(json_array_size(v), 1); /* server 2 survived every bad call */
    json_decref(v);
}

static void test_cli__user_add_and_passwd(void **state)
{
    struct ctx *c = *state;
    json_t *v = expect_json(c, run(c, "hunter22\n", "user", "add", "admin", NULL));
    assert_string_equal(c->out, "{\"id\":1,\"login\":\"admin\",\"role\":\"admin\"}\n");
    json_decref(v);
    struct store_user u;
    assert_int_equal(store_user_find(c->st, "admin", &u), 0);
    assert_non_null(u.password_hash);
    assert_memory_equal(u.password_hash, "$argon2id$", 10);
    assert_int_equal(crypto_pwhash_str_verify(u.password_hash, "hunter22", 8), 0);
    assert_int_not_equal(crypto_pwhash_str_verify(u.password_hash, "hunter22\n", 9), 0);
    store_user_release(&u);

    /* CRLF stripped; only the first line counts. */
    v = expect_json(c, run(c, "pw two 2\r\nignored\n", "user", "add", "bob", NULL));
    assert_string_equal(json_string_value(json_object_get(v, "role")), "admin");
    json_decref(v);
    assert_int_equal(store_user_find(c->st, "bob", &u), 0);
    assert_int_equal(crypto_pwhash_str_verify(u.password_hash, "pw two 2", 8), 0);
    store_user_release(&u);

    expect_fail(c, run(c, "x\n", "user", "add", "admin", NULL), "user 'admin' already exists");
    expect_fail(c, run(c, "\n", "user", "add", "carol", NULL), "empty password");
    expect_fail(c, run(c, "", "user", "add", "carol", NULL), "no password");
    expect_fail(c, run(c, "seven77\n", "user", "add", "carol", NULL), "shorter than 8");
    char longpw[CLI_PASSWORD_MAX + 10];
    memset(longpw, 'p', sizeof(longpw) - 1);
    longpw[sizeof(longpw) - 1] = '\0';
    expect_fail(c, run(c, longpw, "user", "add", "carol", NULL), "longer than");
    assert_int_equal(store_user_find(c->st, "carol", &u), -ENOENT);
    expect_usage(c, run(c, "x\n", "user", "add", NULL), "missing LOGIN");
    expect_usage(c, run(c, "x\n", "user", "add", "a b", NULL), "invalid login");
    expect_usage(c, run(c, "x\n", "user", "add", "a", "b", NULL), "unexpected argument 'b'");
    expect_usage(c, run(c, "x\n", "user", "add", "--admin", "a", NULL), "unknown option");
    expect_usage(c, run(c, "x\n", "user", "remove", "a", NULL), "unknown command 'remove'");

    v = expect_json(c, run(c, "newpass1\n", "user", "passwd", "bob", NULL));
    assert_string_equal(c->out, "{\"id\":2,\"login\":\"bob\"}\n");
    json_decref(v);
    assert_int_equal(store_user_find(c->st, "bob", &u), 0);
    assert_int_equal(crypto_pwhash_str_verify(u.password_hash, "newpass1", 8), 0);
    store_user_release(&u);
    expect_fail(c, run(c, "x\n", "user", "passwd", "nobody", NULL), "no user 'nobody'");

    /* A reset ends every stored session of that user (and only that user's). */
    uint8_t h1[32], h2[32];
    memset(h1, 1, 32);
    memset(h2, 2, 32);
    int64_t now = clock_wall_ms();
    assert_int_equal(store_session_add(c->st, 2, h1, now + 60000, "c", NULL), 0);
    assert_int_equal(store_session_add(c->st, 1, h2, now + 60000, "c", NULL), 0);
    expect_fail(c, run(c, "short\n", "user", "passwd", "bob", NULL), "shorter than 8");
    struct store_session ss;
    assert_int_equal(store_session_find(c->st, h1, now, &ss), 0); /* a refused reset ends none */
    store_session_release(&ss);
    json_decref(expect_json(c, run(c, "newpass2\n", "user", "passwd", "bob", NULL)));
    assert_int_equal(store_session_find(c->st, h1, now, &ss), -ENOENT);
    assert_int_equal(store_session_find(c->st, h2, now, &ss), 0);
    store_session_release(&ss);
}

static void test_cli__user_add_uses_interactive_limits(void **state)
{
    struct ctx *c = *state;
    unsetenv("LOTUS_TEST_FAST_HASH");
    json_decref(expect_json(c, run(c, "slowpass\n", "user", "add", "admin", NULL)));
    struct store_user u;
    assert_int_equal(store_user_find(c->st, "admin", &u), 0);
    assert_int_equal(crypto_pwhash_str_needs_rehash(u.password_hash,
                                                    crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                                    crypto_pwhash_MEMLIMIT_INTERACTIVE),
                     0);
    store_user_release(&u);
}

static void test_cli__tokens(void **state)
{
    struct ctx *c = *state;
    expect_fail(c, run(c, NULL, "token", "add", "--note", "ci", NULL), "no users yet");
    json_decref(expect_json(c, run(c, "password\n", "user", "add", "admin", NULL)));
    json_decref(expect_json(c, run(c, "password\n", "user", "add", "bob", NULL)));

    json_t *v = expect_json(c, run(c, NULL, "token", "add", "--note", "ci \"bot\"", NULL));
    const char *tokp = json_string_value(json_object_get(v, "token"));
    assert_non_null(tokp);
    assert_true(is_alnum_str(tokp, CLI_TOKEN_LEN));
    char tok[CLI_TOKEN_LEN + 1];
    memcpy(tok, tokp, sizeof(tok));
    assert_string_equal(json_string_value(json_object_get(v, "user")), "admin");
    assert_string_equal(json_string_value(json_object_get(v, "note")), "ci \"bot\"");
    json_int_t id1 = json_integer_value(json_object_get(v, "id"));
    /* Only the SHA-256 is stored, with the first 4 chars as prefix. */
    uint8_t hash[32];
    crypto_hash_sha256(hash, (const unsigned char *)tok, CLI_TOKEN_LEN);
    struct store_token t;
    assert_int_equal(store_token_find(c->st, hash, &t), 0);
    assert_int_equal(t.id, (uint64_t)id1);
    assert_memory_equal(t.prefix, tok, 4);
    char prefix[5];
    memcpy(prefix, tok, 4);
    prefix[4] = '\0';
    store_token_release(&t);
    json_decref(v);

    v = expect_json(c, run(c, NULL, "token", "add", "--user=bob", "--note=", NULL));
    assert_string_equal(json_string_value(json_object_get(v, "user")), "bob");
    json_decref(v);

    v = expect_json(c, run(c, NULL, "token", "list", NULL));
    assert_int_equal(json_array_size(v), 2);
    json_t *a = json_array_get(v, 0);
    assert_string_equal(json_string_value(json_object_get(a, "prefix")), prefix);
    assert_string_equal(json_string_value(json_object_get(a, "user")), "admin");
    assert_string_equal(json_string_value(json_object_get(a, "note")), "ci \"bot\"");
    assert_int_equal(json_integer_value(json_object_get(a, "last_used_at")), 0);
    assert_true(json_integer_value(json_object_get(a, "created_at")) > 1600000000);
    assert_null(strstr(c->out, tok)); /* the token itself is never listed */
    json_decref(v);

    expect_fail(c, run(c, NULL, "token", "add", "--note", "x", "--user", "zed", NULL),
                "no user 'zed'");
    expect_usage(c, run(c, NULL, "token", "add", NULL), "missing --note");
    expect_usage(c, run(c, NULL, "token", "add", "--note", "x", "--ttl", "5", NULL),
                 "unknown option '--ttl'");
    expect_usage(c, run(c, NULL, "token", "add", "--note", "x", "y", NULL),
                 "unexpected argument 'y'");
    expect_usage(c, run(c, NULL, "token", "list", "x", NULL), "unexpected argument 'x'");
    expect_usage(c, run(c, NULL, "token", "del", "one", NULL), "invalid id 'one'");
    expect_usage(c, run(c, NULL, "token", "del", NULL), "missing token ID");
    expect_usage(c, run(c, NULL, "token", NULL), "missing command");

    char idbuf[32];
    snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id1);
    assert_int_equal(run(c, NULL, "token", "del", idbuf, NULL), 0);
    assert_int_equal(store_token_find(c->st, hash, &t), -ENOENT);
    expect_fail(c, run(c, NULL, "token", "del", idbuf, NULL), "no token with id");
}

static void test_cli__dispatch(void **state)
{
    struct ctx *c = *state;
    assert_true(cli_is_command("server"));
    assert_true(cli_is_command("user"));
    assert_true(cli_is_command("token"));
    assert_false(cli_is_command("serve"));
    assert_false(cli_is_command(NULL));
    expect_usage(c, run(c, NULL, "frobnicate", NULL), "unknown command 'frobnicate'");
}

int main(void)
{
    log_set_level(LOG_LEVEL_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cli__server_add, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli__server_add_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli__server_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli__server_del, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli__user_add_and_passwd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli__user_add_uses_interactive_limits, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cli__tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli__dispatch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
