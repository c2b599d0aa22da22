/*
 * cli: management commands over the store (see cli.h). Argument parsing is a
 * small table per command (no getopt: it keeps global state).
 */
#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/strnum.h"
#include "core/xalloc.h"
#include "dashboard/auth.h"
#include "dashboard/store.h"

#define PROG           "lotus-dashboard"
#define LOGIN_MAX      64
#define MAX_POSITIONAL 4

static void say(FILE *err, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(FILE *err, const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(err, "%s: %s: ", PROG, cmd);
    vfprintf(err, fmt, ap);
    fputc('\n', err);
    va_end(ap);
}

/* ---- option parsing ---- */

struct optdef {
    const char *name; /* "--name" */
    int takes_value;
    const char **value; /* OUT: borrowed from argv */
    int *flag;          /* OUT: set to 1 */
};

/*
 * Parses argv[start..argc) against defs; other arguments go to pos (at most
 * maxpos). Returns 0, or CLI_EXIT_USAGE after printing one line.
 */
static int parse_args(const char *cmd, int argc, char **argv, int start, struct optdef *defs,
                      size_t ndefs, const char **pos, size_t maxpos, size_t *npos, FILE *err)
{
    *npos = 0;
    for (int i = start; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == '\0') {
            if (*npos >= maxpos) {
                say(err, cmd, "unexpected argument '%s'", a);
                return CLI_EXIT_USAGE;
            }
            pos[(*npos)++] = a;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        struct optdef *d = NULL;
        for (size_t k = 0; k < ndefs; k++)
            if (strlen(defs[k].name) == nlen && strncmp(defs[k].name, a, nlen) == 0)
                d = &defs[k];
        if (!d) {
            say(err, cmd, "unknown option '%.*s'", (int)nlen, a);
            return CLI_EXIT_USAGE;
        }
        if ((d->flag && *d->flag) || (d->value && *d->value)) {
            say(err, cmd, "option '%s' given twice", d->name);
            return CLI_EXIT_USAGE;
        }
        if (!d->takes_value) {
            if (eq) {
                say(err, cmd, "option '%s' takes no value", d->name);
                return CLI_EXIT_USAGE;
            }
            *d->flag = 1;
            continue;
        }
        if (eq) {
            *d->value = eq + 1;
        } else if (i + 1 < argc) {
            *d->value = argv[++i];
        } else {
            say(err, cmd, "option '%s' needs a value", d->name);
            return CLI_EXIT_USAGE;
        }
    }
    return 0;
}

/* Parses a positive database id; CLI_EXIT_USAGE (printed) when not a decimal number. */
static int parse_id(const char *cmd, const char *s, uint64_t *id, FILE *err)
{
    if (strnum_u64z(s, id) != 0 || *id > INT64_MAX) {
        say(err, cmd, "invalid id '%s' (expected a positive integer)", s);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

/* Checks a command-line string: valid UTF-8 and at most max bytes. */
static int check_text(const char *cmd, const char *opt, const char *v, size_t max, int nonempty,
                      FILE *err)
{
    size_t n = strlen(v);
    if (nonempty && n == 0) {
        say(err, cmd, "%s must not be empty", opt);
        return CLI_EXIT_USAGE;
    }
    if (n > max) {
        say(err, cmd, "%s is longer than %zu bytes", opt, max);
        return CLI_EXIT_USAGE;
    }
    json_t *j = json_stringn(v, n);
    if (!j) {
        say(err, cmd, "%s is not valid UTF-8", opt);
        return CLI_EXIT_USAGE;
    }
    json_decref(j);
    return 0;
}

/* ---- JSON output ---- */

/* A JSON string from stored text; bytes of invalid UTF-8 become '?' rather than failing. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s ? s : "");
    if (j)
        return j;
    char *copy = xstrdup(s);
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

static json_t *jint(int64_t v)
{
    return json_integer((json_int_t)v);
}

/* Prints v (consumed) as one compact line; CLI_EXIT_OK or CLI_EXIT_FAIL. */
static int emit(const char *cmd, json_t *v, FILE *out, FILE *err)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(v);
    if (!s) {
        say(err, cmd, "cannot encode the result as JSON");
        return CLI_EXIT_FAIL;
    }
    fprintf(out, "%s\n", s);
    free(s);
    return fflush(out) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int db_fail(const char *cmd, int rc, FILE *err)
{
    say(err, cmd, "database error (%s)", strerror(-rc));
    return CLI_EXIT_FAIL;
}

static int deleted(const char *cmd, uint64_t id, FILE *out, FILE *err)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", jint((int64_t)id));
    json_object_set_new(o, "deleted", json_true());
    return emit(cmd, o, out, err);
}

/* ---- server ---- */

static int server_add(struct store *st, int argc, char **argv, FILE *out, FILE *err)
{
    const char *cmd = "server add";
    const char *name = NULL, *tag = NULL, *note = NULL;
    int hide = 0;
    struct optdef defs[] = {
        {"--name", 1, &name, NULL},
        {"--tag", 1, &tag, NULL},
        {"--note", 1, &note, NULL},
        {"--hide-for-guest", 0, NULL, &hide},
    };
    const char *pos[1];
    size_t npos;
    int rc = parse_args(cmd, argc, argv, 2, defs, 4, pos, 0, &npos, err);
    if (rc)
        return rc;
    if (!name) {
        say(err, cmd, "missing --name");
        return CLI_EXIT_USAGE;
    }
    if (check_text(cmd, "--name", name, STORE_NAME_MAX, 1, err) ||
        (tag && check_text(cmd, "--tag", tag, STORE_NAME_MAX, 0, err)) ||
        (note && check_text(cmd, "--note", note, STORE_NOTE_MAX, 0, err)))
        return CLI_EXIT_USAGE;

    struct store_server s;
    memset(&s, 0, sizeof(s));
    s.name = (char *)(uintptr_t)name;
    s.tag = (char *)(uintptr_t)tag;
    s.note = (char *)(uintptr_t)note;
    s.hide_for_guest = hide;
    rc = store_server_add(st, &s);
    if (rc) {
        free(s.secret);
        return db_fail(cmd, rc, err);
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", jint((int64_t)s.id));
    json_object_set_new(o, "secret", jstr(s.secret));
    free(s.secret);
    return emit(cmd, o, out, err);
}

static int server_list(struct store *st, int argc, char **argv, FILE *out, FILE *err)
{
    const char *cmd = "server list";
    const char *pos[1];
    size_t npos;
    int rc = parse_args(cmd, argc, argv, 2, NULL, 0, pos, 0, &npos, err);
    if (rc)
        return rc;
    struct store_server *list = NULL;
    size_t n = 0;
    rc = store_server_list(st, &list, &n);
    if (rc)
        return db_fail(cmd, rc, err);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "id", jint((int64_t)list[i].id));
        json_object_set_new(o, "name", jstr(list[i].name));
        json_object_set_new(o, "tag", jstr(list[i].tag));
        json_object_set_new(o, "last_active", jint(list[i].last_active));
        json_array_append_new(arr, o);
    }
    store_server_list_free(list, n);
    return emit(cmd, arr, out, err);
}

static int server_del(struct store *st, int argc, char **argv, FILE *out, FILE *err)
{
    const char *cmd = "server del";
    const char *pos[1];
    size_t npos;
    int rc = parse_args(cmd, argc, argv, 2, NULL, 0, pos, 1, &npos, err);
    if (rc)
        return rc;
    if (npos != 1) {
        say(err, cmd, "missing server ID");
        return CLI_EXIT_USAGE;
    }
    uint64_t id;
    if (parse_id(cmd, pos[0], &id, err))
        return CLI_EXIT_USAGE;
    rc = store_server_del(st, id);
    if (rc == -ENOENT) {
        say(err, cmd, "no server with id %llu", (unsigned long long)id);
        return CLI_EXIT_FAIL;
    }
    if (rc)
        return db_fail(cmd, rc, err);
    return deleted(cmd, id, out, err);
}

int cli_server(struct store *st, int argc, char **argv, FILE *out, FILE *err)
{
    const char *sub = argc >= 2 ? argv[1] : "";
    if (strcmp(sub, "add") == 0)
        return server_add(st, argc, argv, out, err);
    if (strcmp(sub, "list") == 0)
        return server_list(st, argc, argv, out, err);
    if (strcmp(sub, "del") == 0)
        return server_del(st, argc, argv, out, err);
    say(err, "server", "%s'%s' (expected add, list or del)",
        argc >= 2 ? "unknown command " : "missing command ", sub);
    return CLI_EXIT_USAGE;
}

/* ---- user ---- */

static int login_ok(const char *cmd, const char *login, FILE *err)
{
    size_t n = strlen(login);
    int ok = n >= 1 && n <= LOGIN_MAX;
    for (size_t i = 0; ok && i < n; i++) {
        char c = login[i];
        ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
             c == '.' || c == '_' || c == '@' || c == '-';
    }
    if (!ok) {
        say(err, cmd, "invalid login '%.80s' (1..%d of A-Z a-z 0-9 . _ @ -)", login, LOGIN_MAX);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

/*
 * Reads the first line of in into pw (CLI_PASSWORD_MAX + 2 bytes) without the
 * line ending. Returns 0 or CLI_EXIT_FAIL (printed).
 */
static int read_password(const char *cmd, FILE *in, char *pw, size_t cap, FILE *err)
{
    if (!fgets(pw, (int)cap, in)) {
        say(err, cmd, "no password on standard input");
        return CLI_EXIT_FAIL;
    }
    size_t n = strlen(pw);
    int had_newline = n > 0 && pw[n - 1] == '\n';
    if (!had_newline && n >= cap - 1) {
        sodium_memzero(pw, cap);
        say(err, cmd, "password longer than %d bytes", CLI_PASSWORD_MAX);
        return CLI_EXIT_FAIL;
    }
    if (had_newline)
        pw[--n] = '\0';
    if (n > 0 && pw[n - 1] == '\r')
        pw[--n] = '\0';
    if (n == 0) {
        say(err, cmd, "empty password");
        return CLI_EXIT_FAIL;
    }
    if (n < CLI_PASSWORD_MIN) {
        sodium_memzero(pw, cap);
        say(err, cmd, "password shorter than %d bytes", CLI_PASSWORD_MIN);
        return CLI_EXIT_FAIL;
    }
    if (n > CLI_PASSWORD_MAX) {
        sodium_memzero(pw, cap);
        say(err, cmd, "password longer than %d bytes", CLI_PASSWORD_MAX);
        return CLI_EXIT_FAIL;
    }
    return 0;
}

static int hash_password(const char *cmd, char *pw, char *out, FILE *err)
{
    int rc = auth_password_hash(pw, out);
    sodium_memzero(pw, strlen(pw));
    if (rc != 0) {
        say(err, cmd, "hashing the password failed (out of memory?)");
        return CLI_EXIT_FAIL;
    }
    return 0;
}

static int user_add_or_passwd(struct store *st, int argc, char **argv, FILE *in, FILE *out,
                              FILE *err, int is_add)
{
    const char *cmd = is_add ? "user add" : "user passwd";
    const char *pos[1];
    size_t npos;
    int rc = parse_args(cmd, argc, argv, 2, NULL, 0, pos, 1, &npos, err);
    if (rc)
        return rc;
    if (npos != 1) {
        say(err, cmd, "missing LOGIN");
        return CLI_EXIT_USAGE;
    }
    const char *login = pos[0];
    if (login_ok(cmd, login, err))
        return CLI_EXIT_USAGE;

    struct store_user u;
    rc = store_user_find(st, login, &u);
    if (rc != 0 && rc != -ENOENT)
        return db_fail(cmd, rc, err);
    if (is_add && rc == 0) {
        store_user_release(&u);
        say(err, cmd, "user '%s' already exists", login);
        return CLI_EXIT_FAIL;
    }
    if (!is_add && rc == -ENOENT) {
        say(err, cmd, "no user '%s'", login);
        return CLI_EXIT_FAIL;
    }

    char pw[CLI_PASSWORD_MAX + 2];
    char hash[AUTH_PWHASH_LEN];
    if (read_password(cmd, in, pw, sizeof(pw), err) || hash_password(cmd, pw, hash, err)) {
        if (!is_add)
            store_user_release(&u);
        return CLI_EXIT_FAIL;
    }
    uint64_t id = 0;
    if (is_add) {
        rc = store_user_add(st, login, hash, STORE_ROLE_ADMIN, &id);
        if (rc == 0)
            rc = store_user_get(st, id, &u);
    } else {
        id = u.id;
        rc = store_user_set_password(st, id, hash);
        /* A reset ends every session of the user for good; a running dashboard sees auth_rev
         * move and drops them from memory within its poll interval. */
        if (rc == 0)
            rc = store_session_del_user(st, id, NULL, NULL);
    }
    sodium_memzero(hash, sizeof(hash));
    if (rc) {
        if (!is_add)
            store_user_release(&u);
        if (rc != -EEXIST)
            return db_fail(cmd, rc, err);
        say(err, cmd, "user '%s' already exists", login);
        return CLI_EXIT_FAIL;
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", jint((int64_t)id));
    json_object_set_new(o, "login", jstr(login));
    if (is_add)
        json_object_set_new(o, "role", jstr(store_role_name(STORE_ROLE_ADMIN)));
    store_user_release(&u);
    return emit(cmd, o, out, err);
}

int cli_user(struct store *st, int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    const char *sub = argc >= 2 ? argv[1] : "";
    if (strcmp(sub, "add") == 0)
        return user_add_or_passwd(st, argc, argv, in, out, err, 1);
    if (strcmp(sub, "passwd") == 0)
        return user_add_or_passwd(st, argc, argv, in, out, err, 0);
    say(err, "user", "%s'%s' (expected add or passwd)",
        argc >= 2 ? "unknown command " : "missing command ", sub);
    return CLI_EXIT_USAGE;
}

/* ---- token ---- */

static int token_add(struct store *st, int argc, char **argv, FILE *out, FILE *err)
{
    const char *cmd = "token add";
    const char *note = NULL, *user = NULL;
    struct optdef defs[] = {
        {"--note", 1, &note, NULL},
        {"--user", 1, &user, NULL},
    };
    const char *pos[1];
    size_t npos;
    int rc = parse_args(cmd, argc, argv, 2, defs, 2, pos, 0, &npos, err);
    if (rc)
        return rc;
    if (!note) {
        say(err, cmd, "missing --note");
        return CLI_EXIT_USAGE;
    }
    if (check_text(cmd, "--note", note, STORE_NOTE_MAX, 0, err) ||
        (user && login_ok(cmd, user, err)))
        return CLI_EXIT_USAGE;

    struct store_user u;
    rc = user ? store_user_find(st, user, &u) : store_user_first(st, &u);
    if (rc == -ENOENT) {
        if (user)
            say(err, cmd, "no user '%s'", user);
        else
            say(err, cmd, "no users yet: create one with 'user add LOGIN'");
        return CLI_EXIT_FAIL;
    }
    if (rc)
        return db_fail(cmd, rc, err);

    char token[AUTH_TOKEN_LEN + 1];
    uint8_t hash[AUTH_HASH_LEN];
    char prefix[STORE_TOKEN_PREFIX_LEN + 1];
    auth_token_mint(token, hash, prefix, STORE_TOKEN_PREFIX_LEN);
    uint64_t id = 0;
    rc = store_token_add(st, u.id, hash, prefix, note, &id);
    if (rc) {
        store_user_release(&u);
        sodium_memzero(token, sizeof(token));
        return db_fail(cmd, rc, err);
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", jint((int64_t)id));
    json_object_set_new(o, "token", jstr(token));
    json_object_set_new(o, "user", jstr(u.login));
    json_object_set_new(o, "note", jstr(note));
    store_user_release(&u);
    sodium_memzero(token, sizeof(token));
    return emit(cmd, o, out, err);
}

static int token_list(struct store *st, int argc, char **argv, FILE *out, FILE *err)
{
    const char *cmd = "token list";
    const char *pos[1];
    size_t npos;
    int rc = parse_args(cmd, argc, argv, 2, NULL, 0, pos, 0, &npos, err);
    if (rc)
        return rc;
    struct store_token *list = NULL;
    size_t n = 0;
    rc = store_token_list(st, 0, &list, &n);
    if (rc)
        return db_fail(cmd, rc, err);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        struct store_user u;
        int urc = store_user_get(st, list[i].user_id, &u);
        json_t *o = json_object();
        json_object_set_new(o, "id", jint((int64_t)list[i].id));
        json_object_set_new(o, "user", jstr(urc == 0 ? u.login : ""));
        json_object_set_new(o, "prefix", jstr(list[i].prefix));
        json_object_set_new(o, "note", jstr(list[i].note));
        json_object_set_new(o, "created_at", jint(list[i].created_at / 1000));
        json_object_set_new(o, "last_used_at", jint(list[i].last_used_at / 1000));
        json_array_append_new(arr, o);
        if (urc == 0)
            store_user_release(&u);
    }
    store_token_list_free(list, n);
    return emit(cmd, arr, out, err);
}

static int token_del(struct store *st, int argc, char **argv, FILE *out, FILE *err)
{
    const char *cmd = "token del";
    const char *pos[1];
    size_t npos;
    int rc = parse_args(cmd, argc, argv, 2, NULL, 0, pos, 1, &npos, err);
    if (rc)
        return rc;
    if (npos != 1) {
        say(err, cmd, "missing token ID");
        return CLI_EXIT_USAGE;
    }
    uint64_t id;
    if (parse_id(cmd, pos[0], &id, err))
        return CLI_EXIT_USAGE;
    rc = store_token_del(st, id, 0);
    if (rc == -ENOENT) {
        say(err, cmd, "no token with id %llu", (unsigned long long)id);
        return CLI_EXIT_FAIL;
    }
    if (rc)
        return db_fail(cmd, rc, err);
    return deleted(cmd, id, out, err);
}

int cli_token(struct store *st, int argc, char **argv, FILE *out, FILE *err)
{
    const char *sub = argc >= 2 ? argv[1] : "";
    if (strcmp(sub, "add") == 0)
        return token_add(st, argc, argv, out, err);
    if (strcmp(sub, "list") == 0)
        return token_list(st, argc, argv, out, err);
    if (strcmp(sub, "del") == 0)
        return token_del(st, argc, argv, out, err);
    say(err, "token", "%s'%s' (expected add, list or del)",
        argc >= 2 ? "unknown command " : "missing command ", sub);
    return CLI_EXIT_USAGE;
}

/* ---- dispatch ---- */

int cli_is_command(const char *word)
{
    return word &&
           (strcmp(word, "server") == 0 || strcmp(word, "user") == 0 || strcmp(word, "token") == 0);
}

int cli_run(struct store *st, int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    const char *group = argc >= 1 ? argv[0] : "";
    if (strcmp(group, "server") == 0)
        return cli_server(st, argc, argv, out, err);
    if (strcmp(group, "user") == 0)
        return cli_user(st, argc, argv, in, out, err);
    if (strcmp(group, "token") == 0)
        return cli_token(st, argc, argv, out, err);
    fprintf(err, "%s: unknown command '%s' (expected server, user or token)\n", PROG, group);
    return CLI_EXIT_USAGE;
}
