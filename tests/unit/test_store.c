/* Unit tests of src/dashboard/store: schema, servers, secrets, writer thread, users, tokens,
 * sessions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xalloc.h"
#include "dashboard/auth.h"
#include "dashboard/store.h"
#include "core/clock.h"

/* The struct's fields are char * (owned when read back); tests point them at literals. */
#define W(lit) ((char *)(uintptr_t)(lit))

struct fixture {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/lotus-store-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/sqlite.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static struct store *open_ok(const char *path)
{
    char err[256] = "";
    struct store *st = NULL;
    int rc = store_open(path, &st, err, sizeof(err));
    if (rc != 0)
        fail_msg("store_open: %d %s", rc, err);
    assert_non_null(st);
    return st;
}

/* An independent connection, as another process (the CLI or a test) would have. */
static sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static int64_t raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    int rc = sqlite3_step(s);
    assert_true(rc == SQLITE_DONE || rc == SQLITE_ROW);
    sqlite3_finalize(s);
}

static uint64_t add_server(struct store *st, const char *name)
{
    struct store_server s = {0};
    s.name = W(name);
    assert_int_equal(store_server_add(st, &s), 0);
    uint64_t id = s.id;
    free(s.secret);
    return id;
}

static void test_store__migrations_idempotent_across_reopen(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->path);
    uint64_t id = add_server(st, "a");
    /* WAL mode: the -wal file exists while open and has the database's 0600 mode. */
    char wal[160];
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    struct stat wsb;
    assert_int_equal(stat(wal, &wsb), 0);
    assert_int_equal(wsb.st_mode & 0777, 0600);
    store_close(st);
    st = open_ok(f->path);
    store_close(st);

    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    sqlite3 *db = raw_open(f->path);
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM schema_version"), 5);
    assert_int_equal(raw_int(db, "SELECT MAX(version) FROM schema_version"), 5);
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM servers"), 1);
    assert_int_equal(raw_int(db, "SELECT id FROM servers"), (int64_t)id);
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND "
                                 "name IN ('servers','users','sessions','api_tokens','settings',"
                                 "'monitors','monitor_history')"),
                     7);
    /* Defaults of docs/protocol.md §4.2 columns. */
    assert_int_equal(raw_int(db, "SELECT ddns_profiles_raw = '[]' AND enable_d_dns = 0 AND "
                                 "deleted_at IS NULL AND last_active = 0 FROM servers"),
                     1);
    sqlite3_close(db);
}

static void test_store__creates_missing_directory_0700(void **state)
{
    struct fixture *f = *state;
    char path[192];
    snprintf(path, sizeof(path), "%s/data/sqlite.db", f->dir);
    struct store *st = open_ok(path);
    store_close(st);
    char dir[160];
    snprintf(dir, sizeof(dir), "%s/data", f->dir);
    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
}

static void test_store__server_crud(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->path);

    struct store_server s = {0};
    assert_int_equal(store_server_add(st, &s), -EINVAL); /* name required */
    s.name = W("web-1");
    s.tag = W("prod");
    s.note = W("admin only");
    s.hide_for_guest = 1;
    s.display_index = 7;
    assert_int_equal(store_server_add(st, &s), 0);
    assert_true(s.id > 0);
    assert_true(s.created_at > 0);
    char *secret = s.secret;
    assert_int_equal(strlen(secret), STORE_SECRET_LEN);
    uint64_t id2 = add_server(st, "db-1");
    assert_true(id2 > s.id);

    struct store_server *list = NULL;
    size_t n = 0;
    assert_int_equal(store_server_list(st, &list, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].id, s.id);
    assert_string_equal(list[0].name, "web-1");
    assert_string_equal(list[0].tag, "prod");
    assert_string_equal(list[0].note, "admin only");
    assert_string_equal(list[0].public_note, "");
    assert_string_equal(list[0].secret, secret);
    assert_int_equal(list[0].hide_for_guest, 1);
    assert_int_equal(list[0].display_index, 7);
    assert_int_equal(list[0].last_active, 0);
    assert_null(list[0].host_pb);
    assert_string_equal(list[1].name, "db-1");
    store_server_list_free(list, n);

    struct store_server u = {0};
    u.id = s.id;
    u.name = W("web-one");
    u.secret = W("newsecret");
    u.public_note = W("{}");
    assert_int_equal(store_server_update(st, &u), 0);
    struct store_server got;
    assert_int_equal(store_server_get(st, s.id, &got), 0);
    assert_string_equal(got.name, "web-one");
    assert_string_equal(got.secret, "newsecret");
    assert_string_equal(got.tag, "");
    assert_string_equal(got.public_note, "{}");
    assert_int_equal(got.hide_for_guest, 0);
    store_server_release(&got);
    u.id = 9999;
    assert_int_equal(store_server_update(st, &u), -ENOENT);

    assert_int_equal(store_server_del(st, s.id), 0);
    assert_int_equal(store_server_del(st, s.id), -ENOENT);
    assert_int_equal(store_server_get(st, s.id, &got), -ENOENT);
    assert_int_equal(store_server_list(st, &list, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, id2);
    store_server_list_free(list, n);

    free(secret);
    store_close(st);
}

static void test_store__secret_format(void **state)
{
    (void)state;
    int seen[256] = {0};
    for (int i = 0; i < 2000; i++) {
        char sec[STORE_SECRET_LEN + 1];
        memset(sec, 'x', sizeof(sec));
        auth_random_string(sec, STORE_SECRET_LEN);
        assert_int_equal(sec[STORE_SECRET_LEN], '\0');
        for (int k = 0; k < STORE_SECRET_LEN; k++) {
            unsigned char c = (unsigned char)sec[k];
            assert_true((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'));
            seen[c]++;
        }
    }
    /* 36000 draws over 62 symbols (~580 each): every symbol appears, none dominates. */
    int distinct = 0;
    for (int c = 0; c < 256; c++) {
        if (seen[c]) {
            distinct++;
            assert_true(seen[c] > 350 && seen[c] < 850);
        }
    }
    assert_int_equal(distinct, 62);
    char tok[33];
    auth_random_string(tok, 32);
    assert_int_equal(strlen(tok), 32);
}

static void test_store__unique_secret(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->path);
    struct store_server a = {.name = W("a"), .secret = W("SAMESECRET")};
    struct store_server b = {.name = W("b"), .secret = W("SAMESECRET")};
    assert_int_equal(store_server_add(st, &a), 0);
    assert_int_equal(store_server_add(st, &b), -EEXIST);
    struct store_server c = {.name = W("c")};
    assert_int_equal(store_server_add(st, &c), 0);
    c.secret[0] = '\0';
    free(c.secret);
    c.secret = W("SAMESECRET"); /* re-keying onto a taken secret */
    assert_int_equal(store_server_update(st, &c), -EEXIST);
    struct store_server d = {.name = W("d"), .secret = W("")};
    assert_int_equal(store_server_add(st, &d), -EINVAL);
    store_close(st);
}

static void test_store__writer_batches_and_flush_is_visible(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->path);
    uint64_t ids[50];
    for (int i = 0; i < 50; i++)
        ids[i] = add_server(st, "s");
    assert_int_equal(store_writer_start(st), 0);
    assert_int_equal(store_writer_start(st), -EALREADY);

    sqlite3 *db = raw_open(f->path);
    const uint8_t host_a[] = {0x0a, 0x01, 'a'};
    const uint8_t host_b[] = {0x0a, 0x02, 'b', 'b'};
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 50; i++)
            store_enqueue_live(st, ids[i], round == 0 ? host_a : NULL, sizeof(host_a),
                               1000 + round);
    store_enqueue_live(st, ids[1], host_b, sizeof(host_b), 2000);
    store_enqueue_live(st, ids[1], NULL, 0, 2001);
    /* The writer waits ~1 s before a batch: nothing is committed yet. */
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM servers WHERE last_active != 0"), 0);
    store_flush(st);
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM servers WHERE last_active = 1002"), 49);
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM servers WHERE host_pb = x'0a0161'"), 49);
    /* Coalesced: latest last_active, latest non-NULL Host. */
    char sql[160];
    snprintf(sql, sizeof(sql),
             "SELECT last_active = 2001 AND host_pb = x'0a026262' FROM servers WHERE id = %llu",
             (unsigned long long)ids[1]);
    assert_int_equal(raw_int(db, sql), 1);

    /* A NULL Host keeps the stored one; without store_flush the writer commits within ~1 s. */
    store_enqueue_live(st, ids[0], NULL, 0, 5000);
    snprintf(sql, sizeof(sql), "SELECT last_active FROM servers WHERE id = %llu",
             (unsigned long long)ids[0]);
    int64_t v = 0;
    for (int i = 0; i < 60 && v != 5000; i++) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
        v = raw_int(db, sql);
    }
    assert_int_equal(v, 5000);
    snprintf(sql, sizeof(sql), "SELECT host_pb = x'0a0161' FROM servers WHERE id = %llu",
             (unsigned long long)ids[0]);
    assert_int_equal(raw_int(db, sql), 1);

    /* store_close does a final flush. */
    store_enqueue_live(st, ids[2], NULL, 0, 7777);
    store_close(st);
    snprintf(sql, sizeof(sql), "SELECT last_active FROM servers WHERE id = %llu",
             (unsigned long long)ids[2]);
    assert_int_equal(raw_int(db, sql), 7777);
    sqlite3_close(db);
}

static void test_store__flush_without_writer_applies_locally(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->path);
    uint64_t id = add_server(st, "s");
    store_flush(st); /* nothing queued: no-op */
    store_enqueue_live(st, id, (const uint8_t *)"\x01", 1, 42);
    store_flush(st);
    struct store_server got;
    assert_int_equal(store_server_get(st, id, &got), 0);
    assert_int_equal(got.last_active, 42);
    assert_int_equal(got.host_len, 1);
    store_server_release(&got);
    store_close(st);
}

static void test_store__data_version_changes_after_other_commit(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->path);
    int64_t v1, v2, v3;
    assert_int_equal(store_data_version(st, &v1), 0);
    add_server(st, "own"); /* own commits do not change it */
    assert_int_equal(store_data_version(st, &v2), 0);
    assert_int_equal(v1, v2);

    struct store *other = open_ok(f->path); /* e.g. the CLI in another process */
    add_server(other, "from-cli");
    store_close(other);
    assert_int_equal(store_data_version(st, &v3), 0);
    assert_true(v3 != v2);
    store_close(st);
}

static void test_store__delete_while_queued_does_not_resurrect(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->path);
    uint64_t id = add_server(st, "doomed");
    uint64_t keep = add_server(st, "kept");
    assert_int_equal(store_writer_start(st), 0);
    store_enqueue_live(st, id, (const uint8_t *)"\x0a\x00", 2, 123);
    store_enqueue_live(st, keep, NULL, 0, 124);
    assert_int_equal(store_server_del(st, id), 0);
    store_flush(st);
    struct store_server got;
    assert_int_equal(store_server_get(st, id, &got), -ENOENT);
    assert_int_equal(store_server_get(st, keep, &got), 0);
    assert_int_equal(got.last_active, 124); /* the rest of the batch still commits */
    store_server_release(&got);
    store_close(st);
    sqlite3 *db = raw_open(f->path);
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM servers"), 1);
    sqlite3_close(db);
}

static void test_store__not_a_database_is_a_clear_error(void **state)
{
    struct fixture *f = *state;
    int fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    char junk[4096];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (char)('a' + i % 26);
    assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);
    char err[256] = "";
    struct store *st = (struct store *)1;
    int rc = store_open(f->path, &st, err, sizeof(err));
    assert_int_equal(rc, -EIO);
    assert_null(st);
    assert_non_null(strstr(err, "not a database"));
    assert_non_null(strstr(err, f->path));
}

static void test_store__newer_schema_is_refused(void **state)
{
    struct fixture *f = *state;
    store_close(open_ok(f->path));
    sqlite3 *db = raw_open(f->path);
    raw_exec(db, "INSERT INTO schema_version (version, applied_at) VALUES (999, 0)");
    sqlite3_close(db);
    char err[256] = "";
    struct store *st = NULL;
    assert_int_equal(store_open(f->path, &st, err, sizeof(err)), -ENOTSUP);
    assert_null(st);
    assert_non_null(strstr(err, "schema version 999"));
}

static void test_store__readonly_directory_is_a_clear_error(void **state)
{
    struct fixture *f = *state;
    /* Root ignores permission bits, so the open runs in a child as "nobody". */
    char ro[128];
    snprintf(ro, sizeof(ro), "%s/ro", f->dir);
    assert_int_equal(mkdir(ro, 0555), 0);
    assert_int_equal(chmod(ro, 0555), 0);
    assert_int_equal(chmod(f->dir, 0755), 0);
    char path[192];
    snprintf(path, sizeof(path), "%s/sqlite.db", ro);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(3);
        char err[256] = "";
        struct store *st = NULL;
        int rc = store_open(path, &st, err, sizeof(err));
        ssize_t w = write(pfd[1], err, strlen(err));
        (void)w;
        _exit(rc == -EACCES && st == NULL ? 0 : 1);
    }
    close(pfd[1]);
    char msg[256] = "";
    ssize_t n = read(pfd[0], msg, sizeof(msg) - 1);
    close(pfd[0]);
    msg[n > 0 ? n : 0] = '\0';
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_non_null(strstr(msg, "Permission denied"));
    assert_non_null(strstr(msg, path));
    chmod(ro, 0755);
}

static void test_store__servers_rev_tracks_metadata_only(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->path);
    int64_t r0, r1, r2, r3, r4;
    assert_int_equal(store_servers_rev(st, &r0), 0);
    struct store_server s = {.name = xstrdup("a")};
    assert_int_equal(store_server_add(st, &s), 0);
    assert_int_equal(store_servers_rev(st, &r1), 0);
    assert_true(r1 > r0);
    /* Live-state writes (every second in production) leave the revision alone. */
    store_enqueue_live(st, s.id, (const uint8_t *)"\x08\x01", 2, 1717236000);
    store_flush(st);
    assert_int_equal(store_servers_rev(st, &r2), 0);
    assert_int_equal(r2, r1);
    free(s.name);
    s.name = xstrdup("renamed");
    assert_int_equal(store_server_update(st, &s), 0);
    assert_int_equal(store_servers_rev(st, &r3), 0);
    assert_true(r3 > r2);
    assert_int_equal(store_server_del(st, s.id), 0);
    assert_int_equal(store_servers_rev(st, &r4), 0);
    assert_true(r4 > r3);
    store_server_release(&s);
    store_close(st);
}

static void test_store__monitors_and_history(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->path);
    int64_t r0, r1;
    assert_int_equal(store_monitors_rev(st, &r0), 0);
    struct store_monitor m = {.name = W("ping"),
                              .type = 2,
                              .target = W("192.0.2.1"),
                              .duration = 30,
                              .cover = 1,
                              .skip_servers_raw = W("[1]"),
                              .max_latency = 250.5,
                              .keyword = W("")};
    assert_int_equal(store_monitor_add(st, &m), 0);
    assert_true(m.id > 0 && m.created_at > 0);
    assert_int_equal(store_monitors_rev(st, &r1), 0);
    assert_true(r1 > r0);
    struct store_monitor got;
    assert_int_equal(store_monitor_get(st, m.id, &got), 0);
    assert_string_equal(got.notification_tag, "default"); /* NULL -> the column default */
    assert_string_equal(got.fail_trigger_tasks_raw, "[]");
    assert_string_equal(got.skip_servers_raw, "[1]");
    assert_true(got.max_latency == 250.5 && got.cover == 1 && got.duration == 30);
    free(got.name);
    got.name = xstrdup("ping 2");
    assert_int_equal(store_monitor_update(st, &got), 0);
    store_monitor_release(&got);
    struct store_monitor bad = {.id = 999, .name = W("x"), .type = 2};
    assert_int_equal(store_monitor_update(st, &bad), -ENOENT);
    char big[STORE_MONITOR_TEXT_MAX + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    bad.target = big;
    assert_int_equal(store_monitor_add(st, &bad), -EINVAL);

    /* history through the writer: rows of two servers and the aggregate */
    struct store_server s1 = {.name = xstrdup("a")}, s2 = {.name = xstrdup("b")};
    assert_int_equal(store_server_add(st, &s1), 0);
    assert_int_equal(store_server_add(st, &s2), 0);
    assert_int_equal(store_writer_start(st), 0);
    for (int i = 0; i < 3; i++) {
        struct store_monitor_row r = {.monitor_id = m.id,
                                      .server_id = s1.id,
                                      .created_at = 1000 + i,
                                      .avg_delay = i,
                                      .up = 2};
        store_enqueue_monitor_row(st, &r);
        r.server_id = s2.id;
        store_enqueue_monitor_row(st, &r);
    }
    struct store_monitor_row agg = {
        .monitor_id = m.id, .created_at = 500, .avg_delay = 9, .up = 29, .down = 1, .data = "R3|x"};
    store_enqueue_monitor_row(st, &agg);
    store_flush(st);
    struct store_monitor_point *p = NULL;
    size_t n = 0;
    assert_int_equal(store_monitor_points(st, s1.id, 1001, &p, &n), 0);
    assert_int_equal(n, 2);
    assert_true(p[0].created_at == 1001 && p[1].avg_delay == 2 && p[0].up == 2);
    free(p);
    assert_int_equal(store_monitor_points(st, 0, 0, &p, &n), 0);
    assert_int_equal(n, 1);
    assert_true(p[0].up == 29 && p[0].down == 1);
    free(p);
    assert_int_equal(store_monitor_reporters(st, &p, &n), 0);
    assert_int_equal(n, 2);
    assert_true(p[0].server_id == s1.id && p[0].created_at == 1002);
    free(p);
    /* a server excluded from the monitor loses its rows; a deleted server too (trigger) */
    store_enqueue_monitor_forget(st, m.id, s1.id);
    store_flush(st);
    assert_int_equal(store_monitor_points(st, s1.id, 0, &p, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(store_server_del(st, s2.id), 0);
    assert_int_equal(store_monitor_reporters(st, &p, &n), 0);
    assert_int_equal(n, 0);
    /* retention: aggregate rows older than the bound go */
    store_enqueue_monitor_prune(st, 0, 501);
    store_flush(st);
    assert_int_equal(store_monitor_points(st, 0, 0, &p, &n), 0);
    assert_int_equal(n, 0);
    /* deleting the monitor deletes its rows */
    store_enqueue_monitor_row(st, &agg);
    store_flush(st);
    assert_int_equal(store_monitor_del(st, m.id), 0);
    assert_int_equal(store_monitor_points(st, 0, 0, &p, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(store_monitor_del(st, m.id), -ENOENT);
    struct store_monitor *list = NULL;
    assert_int_equal(store_monitor_list(st, &list, &n), 0);
    assert_int_equal(n, 0);
    store_server_release(&s1);
    store_server_release(&s2);
    store_close(st);
}

static void test_store__settings(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->path);
    char *v = (char *)1;
    assert_int_equal(store_setting_get(st, "k", &v), 0);
    assert_null(v);
    assert_int_equal(store_setting_set(st, "k", "one"), 0);
    assert_int_equal(store_setting_set(st, "k", "two"), 0);
    assert_int_equal(store_setting_get(st, "k", &v), 0);
    assert_string_equal(v, "two");
    free(v);
    assert_int_equal(store_setting_set(st, "k", NULL), -EINVAL);
    store_close(st);
}

static void test_store__users(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->path);
    uint64_t n = 99;
    assert_int_equal(store_user_count(st, &n), 0);
    assert_int_equal(n, 0);
    struct store_user u;
    assert_int_equal(store_user_first(st, &u), -ENOENT);
    uint64_t id1 = 0, id2 = 0;
    assert_int_equal(store_user_add(st, "admin", "$argon2id$x", STORE_ROLE_ADMIN, &id1), 0);
    assert_int_equal(store_user_add(st, "bob", NULL, STORE_ROLE_VIEWER, &id2), 0);
    assert_int_equal(store_user_add(st, "admin", "h", STORE_ROLE_ADMIN, NULL), -EEXIST);
    assert_int_equal(store_user_add(st, "", "h", STORE_ROLE_ADMIN, NULL), -EINVAL);
    assert_int_equal(store_user_add(st, "carol", "h", 3, NULL), -EINVAL);
    assert_int_equal(store_user_count(st, &n), 0);
    assert_int_equal(n, 2);

    assert_int_equal(store_user_find(st, "admin", &u), 0);
    assert_int_equal(u.id, id1);
    assert_int_equal(u.role, STORE_ROLE_ADMIN);
    assert_string_equal(u.password_hash, "$argon2id$x");
    store_user_release(&u);
    assert_int_equal(store_user_get(st, id2, &u), 0);
    assert_string_equal(u.login, "bob");
    assert_int_equal(u.role, STORE_ROLE_VIEWER);
    assert_null(u.password_hash);
    store_user_release(&u);
    assert_int_equal(store_user_find(st, "nobody", &u), -ENOENT);
    assert_int_equal(store_user_first(st, &u), 0);
    assert_int_equal(u.id, id1);
    store_user_release(&u);

    assert_int_equal(store_user_set_password(st, id2, "$argon2id$y"), 0);
    assert_int_equal(store_user_set_password(st, 777, "$argon2id$y"), -ENOENT);
    assert_int_equal(store_user_find(st, "bob", &u), 0);
    assert_string_equal(u.password_hash, "$argon2id$y");
    store_user_release(&u);
    store_close(st);
}

static void test_store__tokens(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->path);
    uint64_t uid = 0, uid2 = 0;
    assert_int_equal(store_user_add(st, "admin", NULL, STORE_ROLE_ADMIN, &uid), 0);
    assert_int_equal(store_user_add(st, "bob", NULL, STORE_ROLE_ADMIN, &uid2), 0);
    uint8_t h1[32], h2[32], h3[32];
    memset(h1, 1, 32);
    memset(h2, 2, 32);
    memset(h3, 3, 32);
    uint64_t t1 = 0, t2 = 0;
    assert_int_equal(store_token_add(st, uid, h1, "abcd", "ci", &t1), 0);
    assert_int_equal(store_token_add(st, uid2, h2, "efgh", NULL, &t2), 0);
    assert_int_equal(store_token_add(st, uid, h1, "abcd", "dup", NULL), -EEXIST);
    assert_int_equal(store_token_add(st, 4242, h3, "ijkl", "", NULL), -ENOENT);
    assert_int_equal(store_token_add(st, uid, h3, "toolong", "", NULL), -EINVAL);

    struct store_token *list = NULL;
    size_t n = 0;
    assert_int_equal(store_token_list(st, 0, &list, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].prefix, "abcd");
    assert_string_equal(list[0].note, "ci");
    assert_memory_equal(list[0].token_hash, h1, 32);
    assert_int_equal(list[0].last_used_at, 0);
    assert_string_equal(list[1].note, "");
    store_token_list_free(list, n);
    assert_int_equal(store_token_list(st, uid2, &list, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, t2);
    store_token_list_free(list, n);

    struct store_token t;
    assert_int_equal(store_token_find(st, h1, &t), 0);
    assert_int_equal(t.id, t1);
    assert_int_equal(t.user_id, uid);
    store_token_release(&t);
    assert_int_equal(store_token_find(st, h3, &t), -ENOENT);
    assert_int_equal(store_token_touch(st, t1, 123456), 0);
    assert_int_equal(store_token_find(st, h1, &t), 0);
    assert_int_equal(t.last_used_at, 123456);
    store_token_release(&t);

    assert_int_equal(store_token_del(st, t1, uid2), -ENOENT); /* not bob's */
    assert_int_equal(store_token_del(st, t1, uid), 0);
    assert_int_equal(store_token_del(st, t1, 0), -ENOENT);
    assert_int_equal(store_token_del(st, t2, 0), 0);
    assert_int_equal(store_token_touch(st, t2, 1), -ENOENT);
    store_close(st);
}

/* Migration 5's auth_rev moves for every change that must end or re-check sessions, and
 * only for those; a role outside admin/viewer is refused by the table itself. */
static void test_store__auth_rev_tracks_access_changes(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->path);
    uint64_t uid = 0;
    assert_int_equal(store_user_add(st, "admin", "h0", STORE_ROLE_ADMIN, &uid), 0);
    uint8_t h[32];
    memset(h, 0x11, 32);
    int64_t r0 = 0, r1 = 0;
    assert_int_equal(store_auth_rev(st, &r0), 0);
    assert_int_equal(store_session_add(st, uid, h, clock_wall_ms() + 60000, "c", NULL), 0);
    assert_int_equal(store_auth_rev(st, &r1), 0);
    assert_int_equal(r1, r0); /* a new session ends nothing */
    assert_int_equal(store_user_set_password(st, uid, "h1"), 0);
    assert_int_equal(store_auth_rev(st, &r1), 0);
    assert_int_equal(r1, r0 + 1);
    assert_int_equal(store_session_del(st, h), 0);
    assert_int_equal(store_auth_rev(st, &r0), 0);
    assert_int_equal(r0, r1 + 1);
    store_close(st);

    sqlite3 *db = raw_open(f->path);
    raw_exec(db, "UPDATE users SET name = 'x'");
    assert_int_equal(raw_int(db, "SELECT value FROM meta WHERE key = 'auth_rev'"), r0);
    raw_exec(db, "UPDATE users SET role = 'viewer'");
    assert_int_equal(raw_int(db, "SELECT value FROM meta WHERE key = 'auth_rev'"), r0 + 1);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "UPDATE users SET role = 'root'", -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_CONSTRAINT);
    sqlite3_finalize(q);
    raw_exec(db, "DELETE FROM users");
    assert_int_equal(raw_int(db, "SELECT value FROM meta WHERE key = 'auth_rev'"), r0 + 2);
    sqlite3_close(db);
}

static int add_audit_rows(struct store *st, void *arg)
{
    int n = *(int *)arg;
    for (int i = 0; i < n; i++) {
        struct store_audit e = {.created_at = i, .event = W("login.failed"), .login = W("x")};
        if (store_audit_add(st, &e) != 0)
            return -EIO;
    }
    return 0;
}

/* The audit log lists newest first in pages, refuses bad rows, and keeps only 10,000. */
static void test_store__audit_log_bounded(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->path);
    struct store_audit e = {.created_at = 5,
                            .user_id = 1,
                            .login = W("admin"),
                            .ip = W("127.0.0.1"),
                            .event = W("login.ok"),
                            .detail = NULL};
    assert_int_equal(store_audit_add(st, &e), 0);
    struct store_audit bad = {.created_at = 1, .event = W("")};
    assert_int_equal(store_audit_add(st, &bad), -EINVAL);
    struct store_audit *list = NULL;
    size_t n = 0;
    assert_int_equal(store_audit_list(st, 0, 10, &list, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].event, "login.ok");
    assert_string_equal(list[0].detail, "");
    assert_string_equal(list[0].ip, "127.0.0.1");
    store_audit_list_free(list, n);
    assert_int_equal(store_audit_list(st, 0, 0, &list, &n), -EINVAL);
    int rows = 10005;
    assert_int_equal(store_batch(st, add_audit_rows, &rows), 0);
    sqlite3 *db = raw_open(f->path);
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM audit_log"), 10000);
    sqlite3_close(db);
    assert_int_equal(store_audit_list(st, 0, 3, &list, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(list[0].created_at, 10004);
    uint64_t next = list[2].id;
    store_audit_list_free(list, n);
    assert_int_equal(store_audit_list(st, next, 2, &list, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].created_at, 10001);
    store_audit_list_free(list, n);
    store_close(st);
}

static void test_store__sessions(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->path);
    uint64_t uid = 0;
    assert_int_equal(store_user_add(st, "admin", NULL, STORE_ROLE_ADMIN, &uid), 0);
    uint8_t live[32], old[32];
    memset(live, 0xaa, 32);
    memset(old, 0xbb, 32);
    int64_t now = clock_wall_ms();
    assert_int_equal(store_session_add(st, uid, live, now + 60000, "csrf1", NULL), 0);
    assert_int_equal(store_session_add(st, uid, old, now - 1, "csrf2", NULL), 0);
    assert_int_equal(store_session_add(st, uid, old, now + 1, "csrf3", NULL), -EEXIST);
    uint8_t other[32];
    memset(other, 0xcc, 32);
    assert_int_equal(store_session_add(st, 999, other, now + 1, "x", NULL), -ENOENT);
    struct store_session s;
    assert_int_equal(store_session_find(st, live, now, &s), 0);
    assert_int_equal(s.user_id, uid);
    assert_string_equal(s.csrf_token, "csrf1");
    assert_memory_equal(s.token_hash, live, 32);
    store_session_release(&s);
    assert_int_equal(store_session_find(st, old, now, &s), -ENOENT); /* expired */
    uint64_t purged = 0;
    assert_int_equal(store_session_purge_expired(st, now, &purged), 0);
    assert_int_equal(purged, 1);
    assert_int_equal(store_session_del(st, live), 0);
    assert_int_equal(store_session_del(st, live), -ENOENT);
    assert_int_equal(store_session_find(st, live, now, &s), -ENOENT);

    /* A password change ends the user's other sessions, not other users' ones. */
    uint64_t bob = 0, n = 99;
    assert_int_equal(store_user_add(st, "bob", NULL, STORE_ROLE_ADMIN, &bob), 0);
    uint8_t a1[32], a2[32], a3[32], b1[32];
    memset(a1, 1, 32);
    memset(a2, 2, 32);
    memset(a3, 3, 32);
    memset(b1, 4, 32);
    assert_int_equal(store_session_add(st, uid, a1, now + 60000, "c", NULL), 0);
    assert_int_equal(store_session_add(st, uid, a2, now + 60000, "c", NULL), 0);
    assert_int_equal(store_session_add(st, uid, a3, now + 60000, "c", NULL), 0);
    assert_int_equal(store_session_add(st, bob, b1, now + 60000, "c", NULL), 0);
    int64_t r0 = 0, r1 = 0;
    assert_int_equal(store_auth_rev(st, &r0), 0);
    assert_int_equal(store_session_del_user(st, uid, a2, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(store_auth_rev(st, &r1), 0);
    assert_true(r1 > r0); /* a running dashboard notices */
    assert_int_equal(store_session_find(st, a1, now, &s), -ENOENT);
    assert_int_equal(store_session_find(st, a3, now, &s), -ENOENT);
    assert_int_equal(store_session_find(st, a2, now, &s), 0);
    store_session_release(&s);
    assert_int_equal(store_session_find(st, b1, now, &s), 0);
    store_session_release(&s);
    assert_int_equal(store_session_del_user(st, uid, NULL, &n), 0); /* NULL: all of them */
    assert_int_equal(n, 1);
    assert_int_equal(store_session_find(st, a2, now, &s), -ENOENT);
    assert_int_equal(store_session_del_user(st, uid, NULL, NULL), 0);
    assert_int_equal(store_session_find(st, b1, now, &s), 0);
    store_session_release(&s);
    store_close(st);
}

/* ---- the store's own lock ---- */

struct share_arg {
    struct store *st;
    pthread_mutex_t *outer; /* NULL: no caller lock (as dash.c's sync poll); else a caller's own
                               lock around its calls */
    int worker;
    atomic_int *errors;
};

static void *share_worker(void *p)
{
    struct share_arg *a = p;
    for (int i = 0; i < 40; i++) {
        if (a->outer)
            pthread_mutex_lock(a->outer);
        char name[32], key[32], *v = NULL;
        snprintf(name, sizeof(name), "w%d-%d", a->worker, i);
        snprintf(key, sizeof(key), "k%d", a->worker);
        struct store_server s = {0}, got = {0};
        s.name = name;
        if (store_server_add(a->st, &s) != 0 || store_server_get(a->st, s.id, &got) != 0 ||
            strcmp(got.name, name) != 0)
            atomic_fetch_add(a->errors, 1);
        store_server_release(&got);
        free(s.secret);
        if (store_setting_set(a->st, key, name) != 0 || store_setting_get(a->st, key, &v) != 0 ||
            !v || strcmp(v, name) != 0)
            atomic_fetch_add(a->errors, 1);
        free(v);
        struct store_server *list = NULL;
        size_t n = 0;
        if (store_server_list(a->st, &list, &n) != 0 || n == 0)
            atomic_fetch_add(a->errors, 1);
        store_server_list_free(list, n);
        store_enqueue_live(a->st, s.id, NULL, 0, 1000 + i);
        if (a->outer)
            pthread_mutex_unlock(a->outer);
    }
    return NULL;
}

/* Threads with and without a lock of their own share one store: no error, no deadlock. */
static void test_store__threads_share_one_store(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->path);
    assert_int_equal(store_writer_start(st), 0);
    pthread_mutex_t outer = PTHREAD_MUTEX_INITIALIZER;
    atomic_int errors = 0;
    pthread_t th[4];
    struct share_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct share_arg){st, i % 2 ? &outer : NULL, i, &errors};
        assert_int_equal(pthread_create(&th[i], NULL, share_worker, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&errors), 0);
    struct store_server *list = NULL;
    size_t n = 0;
    assert_int_equal(store_server_list(st, &list, &n), 0);
    assert_int_equal(n, 160);
    store_server_list_free(list, n);
    store_close(st);
}

struct batch_arg {
    struct store *st;
    atomic_int inside; /* set once the batch holds the lock */
    atomic_int added;  /* set by the other thread once its insert returned */
    int64_t rev_before, rev_after;
    int added_during; /* the other thread's insert returned while the batch ran */
    int nested_rc;
};

static int batch_fn(struct store *st, void *p)
{
    struct batch_arg *a = p;
    if (store_servers_rev(st, &a->rev_before) != 0)
        return -1;
    atomic_store(&a->inside, 1);
    struct timespec ts = {0, 150 * 1000000L};
    nanosleep(&ts, NULL);
    a->added_during = atomic_load(&a->added);
    if (store_servers_rev(st, &a->rev_after) != 0)
        return -1;
    struct store_server s = {0};
    s.name = W("inside");
    a->nested_rc = store_server_add(st, &s); /* the lock is re-entrant */
    free(s.secret);
    return 7;
}

static void *batch_other(void *p)
{
    struct batch_arg *a = p;
    while (!atomic_load(&a->inside)) {
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
    add_server(a->st, "other");
    atomic_store(&a->added, 1);
    return NULL;
}

/* store_batch keeps other threads' calls out of a caller's sequence of calls. */
static void test_store__batch_is_not_interleaved(void **state)
{
    struct fixture *f = *state;
    struct store *st = open_ok(f->path);
    struct batch_arg a = {.st = st};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, batch_other, &a), 0);
    assert_int_equal(store_batch(st, batch_fn, &a), 7);
    pthread_join(th, NULL);
    assert_int_equal(a.nested_rc, 0);
    assert_int_equal(a.added_during, 0);
    assert_int_equal(a.rev_after, a.rev_before);
    int64_t rev = 0;
    assert_int_equal(store_servers_rev(st, &rev), 0);
    assert_int_equal(rev, a.rev_before + 2);
    store_close(st);
}

int main(void)
{
    log_set_level(LOG_LEVEL_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store__audit_log_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store__auth_rev_tracks_access_changes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store__migrations_idempotent_across_reopen, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store__creates_missing_directory_0700, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store__server_crud, setup, teardown),
        cmocka_unit_test(test_store__secret_format),
        cmocka_unit_test_setup_teardown(test_store__unique_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store__writer_batches_and_flush_is_visible, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store__flush_without_writer_applies_locally, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store__data_version_changes_after_other_commit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store__delete_while_queued_does_not_resurrect, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store__not_a_database_is_a_clear_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store__newer_schema_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store__readonly_directory_is_a_clear_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store__servers_rev_tracks_metadata_only, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store__monitors_and_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store__settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store__users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store__tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store__sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store__threads_share_one_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store__batch_is_not_interleaved, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
