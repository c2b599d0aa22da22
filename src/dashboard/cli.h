/*
 * cli: the dashboard's management commands, run by main as
 *   lotus-dashboard [--data DIR] server add --name N [--tag T] [--note X] [--hide-for-guest]
 *   lotus-dashboard [--data DIR] server list
 *   lotus-dashboard [--data DIR] server del ID
 *   lotus-dashboard [--data DIR] user add LOGIN          (password: first line of stdin)
 *   lotus-dashboard [--data DIR] user passwd LOGIN       (password: first line of stdin)
 *   lotus-dashboard [--data DIR] token add --note N [--user LOGIN]
 *   lotus-dashboard [--data DIR] token list
 *   lotus-dashboard [--data DIR] token del ID
 *
 * Results are exactly one JSON line on out (built with jansson, so strings are
 * escaped properly); errors are exactly one line on err. Return value = the
 * process exit code: CLI_EXIT_OK, CLI_EXIT_FAIL (the command could not be done:
 * unknown id, database error, ...) or CLI_EXIT_USAGE (bad arguments: missing
 * or unknown option, non-numeric id, extra arguments).
 *
 * Options take their value as the next argument or after '=' (--name=N).
 * Strings given on the command line must be valid UTF-8. Secrets and tokens
 * are printed once and never logged.
 *
 * Thread: the caller's; st is used through its own connection, so a running
 * dashboard on the same database notices changes by polling store_servers_rev
 * and store_tokens_rev (trigger-maintained revision counters).
 */
#ifndef LOTUS_DASHBOARD_CLI_H
#define LOTUS_DASHBOARD_CLI_H

#include <stdio.h>

struct store;

#define CLI_EXIT_OK    0
#define CLI_EXIT_FAIL  1
#define CLI_EXIT_USAGE 2

/* Longest password accepted on stdin (bytes, without the newline). */
#define CLI_PASSWORD_MAX 1024
#define CLI_PASSWORD_MIN 8 /* as the UI's password change */
/* Length of a generated API token ([0-9A-Za-z]). */
#define CLI_TOKEN_LEN 32

/*
 * argv[0] is "server"; argc counts from there. st, argv, out and err borrowed.
 * add → {"id":N,"secret":"..."}; list → [{"id":N,"name":"..","tag":"..","last_active":S},...]
 * (last_active unix seconds, 0 = never); del → {"id":N,"deleted":true}.
 */
int cli_server(struct store *st, int argc, char **argv, FILE *out, FILE *err);

/*
 * argv[0] is "user". The password is the first line read from in (borrowed;
 * "\n" or "\r\n" stripped, CLI_PASSWORD_MIN..CLI_PASSWORD_MAX bytes) and stored as an
 * argon2id string (crypto_pwhash_str at OPSLIMIT/MEMLIMIT_INTERACTIVE; the
 * environment variable LOTUS_TEST_FAST_HASH=1 switches to the MIN limits, for
 * tests only). add → {"id":N,"login":"..","role":"admin"}; passwd → {"id":N,"login":".."}
 * and deletes every stored session of the user (a running dashboard drops
 * them from memory when it sees the store's auth_rev move).
 * LOGIN: 1..64 characters of [A-Za-z0-9._@-].
 */
int cli_user(struct store *st, int argc, char **argv, FILE *in, FILE *out, FILE *err);

/*
 * argv[0] is "token". add creates a CLI_TOKEN_LEN-char token for --user
 * (default: the first user), stores only its SHA-256 and prints it once:
 * {"id":N,"token":"..","user":"..","note":".."}. list → [{"id","user","prefix",
 * "note","created_at","last_used_at"}] (times unix seconds, 0 = never);
 * del → {"id":N,"deleted":true}.
 */
int cli_token(struct store *st, int argc, char **argv, FILE *out, FILE *err);

/* 1 if word names a command group handled here ("server", "user", "token"). word borrowed. */
int cli_is_command(const char *word);
/* Dispatches on argv[0] to the functions above (unknown group → CLI_EXIT_USAGE). */
int cli_run(struct store *st, int argc, char **argv, FILE *in, FILE *out, FILE *err);

#endif
