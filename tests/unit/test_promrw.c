/* Unit tests of remote-write's pure part (src/dashboard/promrw_logic.c): the WriteRequest bytes
 * decoded back with protobuf-c, snappy round trips, the queue bounds, back-off and verdicts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "dashboard/promrw_logic.h"
#include "prometheus_remote.pb-c.h"

#define T0 1717236000000LL

static Prometheus__WriteRequest *decode(const struct buf *raw)
{
    Prometheus__WriteRequest *wr =
        prometheus__write_request__unpack(NULL, raw->len, (const uint8_t *)raw->data);
    assert_non_null(wr);
    return wr;
}

static void assert_label(const Prometheus__TimeSeries *ts, size_t i, const char *name,
                         const char *value)
{
    assert_true(i < ts->n_labels);
    assert_string_equal(ts->labels[i]->name, name);
    assert_string_equal(ts->labels[i]->value, value);
}

static void test_promrw__write_request_decodes_back_sorted(void **state)
{
    struct promrw_batch b;
    promrw_batch_init(&b, T0);
    promrw_batch_begin(&b, "lotus_server_cpu_usage_percent");
    promrw_batch_label(&b, "name", "fra-1");
    promrw_batch_label(&b, "id", "7");
    promrw_batch_label(&b, "tag", "");    /* empty: left out */
    promrw_batch_label(&b, "env", "own"); /* wins over the extra env */
    promrw_batch_end(&b, 12.5);
    promrw_batch_begin(&b, "lotus_servers");
    promrw_batch_end(&b, 3);
    assert_int_equal(b.n_samples, 2);

    char env[] = "env", prod[] = "prod", dc[] = "dc", eu[] = "eu";
    struct promrw_label extra[] = {{env, prod}, {dc, eu}};
    struct buf raw;
    buf_init(&raw, 0);
    assert_int_equal(promrw_encode(&b, extra, 2, &raw), 0);
    Prometheus__WriteRequest *wr = decode(&raw);
    assert_int_equal(wr->n_timeseries, 2);

    const Prometheus__TimeSeries *t = wr->timeseries[0];
    assert_int_equal(t->n_labels, 5);
    assert_label(t, 0, "__name__", "lotus_server_cpu_usage_percent");
    assert_label(t, 1, "dc", "eu");
    assert_label(t, 2, "env", "own");
    assert_label(t, 3, "id", "7");
    assert_label(t, 4, "name", "fra-1");
    assert_int_equal(t->n_samples, 1);
    assert_true(t->samples[0]->value == 12.5);
    assert_int_equal(t->samples[0]->timestamp, T0);

    t = wr->timeseries[1];
    assert_int_equal(t->n_labels, 3);
    assert_label(t, 0, "__name__", "lotus_servers");
    assert_label(t, 1, "dc", "eu");
    assert_label(t, 2, "env", "prod");
    assert_true(t->samples[0]->value == 3);
    prometheus__write_request__free_unpacked(wr, NULL);

    /* An empty batch is an empty WriteRequest. */
    struct promrw_batch e;
    promrw_batch_init(&e, T0);
    buf_reset(&raw);
    assert_int_equal(promrw_encode(&e, NULL, 0, &raw), 0);
    assert_int_equal(raw.len, 0);
    promrw_batch_release(&e);
    buf_release(&raw);
    promrw_batch_release(&b);
}

static void test_promrw__label_texts_become_valid_utf8(void **state)
{
    struct promrw_batch b;
    promrw_batch_init(&b, T0);
    promrw_batch_begin(&b, "m");
    promrw_batch_label(&b, "name",
                       "a\xff"
                       "b\xc3\xa9\xed\xa0\x80");               /* bad byte, é, surrogate */
    promrw_batch_label(&b, "tag", "\xe4\xb8\xad\xe6\x96\x87"); /* valid CJK stays */
    promrw_batch_end(&b, 1);
    struct buf raw;
    buf_init(&raw, 0);
    assert_int_equal(promrw_encode(&b, NULL, 0, &raw), 0);
    Prometheus__WriteRequest *wr = decode(&raw);
    assert_label(wr->timeseries[0], 1, "name",
                 "a\xef\xbf\xbd"
                 "b\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    assert_label(wr->timeseries[0], 2, "tag", "\xe4\xb8\xad\xe6\x96\x87");
    prometheus__write_request__free_unpacked(wr, NULL);
    buf_release(&raw);
    promrw_batch_release(&b);
}

static void test_promrw__snappy_round_trip(void **state)
{
    struct promrw_batch b;
    promrw_batch_init(&b, T0);
    for (int i = 0; i < 2000; i++) {
        char id[16];
        snprintf(id, sizeof(id), "%d", i);
        promrw_batch_begin(&b, "lotus_server_memory_used_bytes");
        promrw_batch_label(&b, "id", id);
        promrw_batch_label(&b, "name", "server");
        promrw_batch_end(&b, 1e9 + i);
    }
    struct buf raw, z;
    buf_init(&raw, 0);
    buf_init(&z, 0);
    assert_int_equal(promrw_encode(&b, NULL, 0, &raw), 0);
    assert_int_equal(promrw_snappy(raw.data, raw.len, &z), 0);
    assert_true(z.len < raw.len / 2); /* repeated label texts compress */
    size_t n = 0;
    assert_int_equal(snappy_uncompressed_length(z.data, z.len, &n), SNAPPY_OK);
    assert_int_equal(n, raw.len);
    char *back = malloc(n);
    assert_int_equal(snappy_uncompress(z.data, z.len, back, &n), SNAPPY_OK);
    assert_memory_equal(back, raw.data, raw.len);
    free(back);

    struct buf small;
    buf_init(&small, 16); /* out over its maximum: -E2BIG */
    assert_int_equal(promrw_snappy(raw.data, raw.len, &small), -E2BIG);
    buf_release(&small);
    buf_release(&raw);
    buf_release(&z);
    promrw_batch_release(&b);
}

static struct promrw_batch *batch_of(size_t samples)
{
    struct promrw_batch *b = malloc(sizeof(*b));
    promrw_batch_init(b, T0);
    for (size_t i = 0; i < samples; i++) {
        promrw_batch_begin(b, "m");
        promrw_batch_end(b, (double)i);
    }
    return b;
}

static void test_promrw__queue_drops_oldest_within_bounds(void **state)
{
    struct promrw_queue q;
    promrw_queue_init(&q, 3, 100);
    assert_null(promrw_queue_pop(&q));
    struct promrw_batch *first = batch_of(10);
    assert_int_equal(promrw_queue_push(&q, first), 0);
    assert_int_equal(promrw_queue_push(&q, batch_of(11)), 0);
    assert_int_equal(promrw_queue_push(&q, batch_of(12)), 0);
    assert_int_equal(q.n, 3);
    assert_int_equal(q.samples, 33);
    /* The fourth batch passes max_batches: the oldest (10 samples) goes. */
    assert_int_equal(promrw_queue_push(&q, batch_of(13)), 10);
    assert_int_equal(q.n, 3);
    assert_int_equal(q.samples, 36);
    /* 70 more passes max_samples (36 + 70 > 100): 11 goes, then 25 + 70 fits. */
    assert_int_equal(promrw_queue_push(&q, batch_of(70)), 11);
    assert_int_equal(q.n, 3);
    assert_int_equal(q.samples, 95);
    /* Oldest first. */
    struct promrw_batch *b = promrw_queue_pop(&q);
    assert_int_equal(b->n_samples, 12);
    promrw_batch_release(b);
    free(b);
    /* A batch alone over max_samples is admitted after emptying the queue. */
    assert_int_equal(promrw_queue_push(&q, batch_of(150)), 83);
    assert_int_equal(q.n, 1);
    assert_int_equal(q.samples, 150);
    promrw_queue_release(&q);
}

static void test_promrw__backoff_doubles_to_a_minute(void **state)
{
    int64_t want[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
    int64_t w = 0;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        w = promrw_backoff_next(w);
        assert_int_equal(w, want[i]);
    }
    assert_int_equal(promrw_backoff_next(29999), 59998);
    assert_int_equal(promrw_backoff_next(30000), 60000);
}

static void test_promrw__verdicts_and_one_log_per_outage(void **state)
{
    assert_int_equal(promrw_verdict_of(1, 200), PROMRW_SENT);
    assert_int_equal(promrw_verdict_of(1, 204), PROMRW_SENT);
    assert_int_equal(promrw_verdict_of(1, 299), PROMRW_SENT);
    assert_int_equal(promrw_verdict_of(0, 0), PROMRW_RETRY);
    assert_int_equal(promrw_verdict_of(0, 200), PROMRW_RETRY);
    assert_int_equal(promrw_verdict_of(1, 429), PROMRW_RETRY);
    assert_int_equal(promrw_verdict_of(1, 500), PROMRW_RETRY);
    assert_int_equal(promrw_verdict_of(1, 503), PROMRW_RETRY);
    assert_int_equal(promrw_verdict_of(1, 599), PROMRW_RETRY);
    assert_int_equal(promrw_verdict_of(1, 300), PROMRW_REJECTED);
    assert_int_equal(promrw_verdict_of(1, 400), PROMRW_REJECTED);
    assert_int_equal(promrw_verdict_of(1, 401), PROMRW_REJECTED);
    assert_int_equal(promrw_verdict_of(1, 404), PROMRW_REJECTED);
    assert_int_equal(promrw_verdict_of(1, 600), PROMRW_REJECTED);

    struct promrw_health h = {0};
    assert_int_equal(promrw_health_note(&h, 1), PROMRW_SAME);
    assert_int_equal(promrw_health_note(&h, 0), PROMRW_WENT_DOWN);
    assert_int_equal(promrw_health_note(&h, 0), PROMRW_SAME);
    assert_int_equal(promrw_health_note(&h, 0), PROMRW_SAME);
    assert_int_equal(h.failures, 3);
    assert_int_equal(promrw_health_note(&h, 1), PROMRW_CAME_BACK);
    assert_int_equal(h.failures, 0);
    assert_int_equal(promrw_health_note(&h, 1), PROMRW_SAME);
    assert_int_equal(promrw_health_note(&h, 0), PROMRW_WENT_DOWN);
}

static void test_promrw__extra_labels_text(void **state)
{
    struct promrw_label *l = NULL;
    size_t n = 9;
    char err[128];
    assert_int_equal(promrw_labels_parse("", &l, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0);
    assert_null(l);
    assert_int_equal(promrw_labels_parse("  ", &l, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0);
    assert_int_equal(promrw_labels_parse(" env = prod ,dc=eu-1 ,_x9=a b", &l, &n, err, sizeof(err)),
                     0);
    assert_int_equal(n, 3);
    assert_string_equal(l[0].name, "env");
    assert_string_equal(l[0].value, "prod");
    assert_string_equal(l[1].name, "dc");
    assert_string_equal(l[1].value, "eu-1");
    assert_string_equal(l[2].name, "_x9");
    assert_string_equal(l[2].value, "a b");
    promrw_labels_free(l, n);

    const char *bad[] = {"env",        "env=", "=x",      "9a=x",  "a-b=x",
                         "__name__=x", "a=1,", "a=1,a=2", "a b=c", ",a=1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(promrw_labels_parse(bad[i], &l, &n, err, sizeof(err)), -EINVAL);
        assert_null(l);
        assert_int_equal(n, 0);
        assert_true(err[0] != '\0');
    }
    char many[512] = "";
    for (int i = 0; i <= PROMRW_EXTRA_LABELS_MAX; i++) {
        char one[16];
        snprintf(one, sizeof(one), "%sl%d=v", i ? "," : "", i);
        strncat(many, one, sizeof(many) - strlen(many) - 1);
    }
    assert_int_equal(promrw_labels_parse(many, &l, &n, err, sizeof(err)), -EINVAL);
}

static void test_promrw__url_logged_without_credentials(void **state)
{
    struct buf b;
    buf_init(&b, 0);
    promrw_url_for_log("https://u:secret@prom.example:9090/api/v1/write", &b);
    assert_string_equal(b.data, "https://prom.example:9090/api/v1/write");
    buf_reset(&b);
    promrw_url_for_log("http://127.0.0.1:9090/api/v1/write?x=a@b", &b);
    assert_string_equal(b.data, "http://127.0.0.1:9090/api/v1/write?x=a@b");
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_promrw__write_request_decodes_back_sorted),
        cmocka_unit_test(test_promrw__label_texts_become_valid_utf8),
        cmocka_unit_test(test_promrw__snappy_round_trip),
        cmocka_unit_test(test_promrw__queue_drops_oldest_within_bounds),
        cmocka_unit_test(test_promrw__backoff_doubles_to_a_minute),
        cmocka_unit_test(test_promrw__verdicts_and_one_log_per_outage),
        cmocka_unit_test(test_promrw__extra_labels_text),
        cmocka_unit_test(test_promrw__url_logged_without_credentials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
