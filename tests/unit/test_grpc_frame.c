/* Unit tests of src/proto/grpc_frame: the incremental deframer and percent codec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/buf.h"
#include "proto/grpc_frame.h"

static size_t frame(uint8_t *out, uint8_t flag, const char *body)
{
    size_t n = strlen(body);
    grpc_frame_prefix(out, (uint32_t)n);
    out[0] = flag;
    memcpy(out + GRPC_FRAME_PREFIX, body, n);
    return GRPC_FRAME_PREFIX + n;
}

/* Feeds in chunks of `step` and collects message bodies joined by '|'. */
static int feed_all(struct grpc_deframer *d, const uint8_t *p, size_t n, size_t step,
                    struct buf *out)
{
    size_t off = 0;
    while (off < n) {
        size_t k = n - off < step ? n - off : step;
        const uint8_t *q = p + off;
        size_t left = k;
        while (left > 0) {
            struct grpc_frame_msg m;
            ssize_t r = grpc_deframer_feed(d, q, left, &m);
            if (r == GRPC_FRAME_INCOMPLETE)
                break;
            if (r == GRPC_FRAME_ERROR)
                return -1;
            assert_true((size_t)r <= left);
            buf_append(out, m.data, m.len);
            buf_putc(out, m.compressed ? '!' : '|');
            q += r;
            left -= (size_t)r;
        }
        off += k;
    }
    return 0;
}

static void test_grpc_frame__split_across_chunks(void **state)
{
    (void)state;
    uint8_t wire[64];
    size_t n = frame(wire, 0, "hello world");
    for (size_t step = 1; step <= n; step++) {
        struct grpc_deframer d;
        struct buf out;
        grpc_deframer_init(&d, 1024);
        buf_init(&out, 0);
        assert_int_equal(feed_all(&d, wire, n, step, &out), 0);
        assert_string_equal(out.data, "hello world|");
        assert_true(grpc_deframer_idle(&d));
        buf_release(&out);
        grpc_deframer_release(&d);
    }
}

static void test_grpc_frame__several_in_one_chunk(void **state)
{
    (void)state;
    uint8_t wire[128];
    size_t n = frame(wire, 0, "a");
    n += frame(wire + n, 0, "");
    n += frame(wire + n, 0, "ccc");
    n += frame(wire + n, 0, "dddd");
    struct grpc_deframer d;
    struct buf out;
    grpc_deframer_init(&d, 1024);
    buf_init(&out, 0);
    assert_int_equal(feed_all(&d, wire, n, n, &out), 0);
    assert_string_equal(out.data, "a||ccc|dddd|");
    /* The same bytes in chunks of 3 give the same messages. */
    buf_reset(&out);
    assert_int_equal(feed_all(&d, wire, n, 3, &out), 0);
    assert_string_equal(out.data, "a||ccc|dddd|");
    buf_release(&out);
    grpc_deframer_release(&d);
}

static void test_grpc_frame__oversize_prefix_rejected(void **state)
{
    (void)state;
    struct grpc_deframer d;
    grpc_deframer_init(&d, 16);
    uint8_t pre[GRPC_FRAME_PREFIX];
    grpc_frame_prefix(pre, 17);
    struct grpc_frame_msg m;
    /* The first 4 bytes are not enough to decide. */
    assert_int_equal(grpc_deframer_feed(&d, pre, 4, &m), GRPC_FRAME_INCOMPLETE);
    /* The 5th completes the prefix: rejected before any body byte is buffered. */
    assert_int_equal(grpc_deframer_feed(&d, pre + 4, 1, &m), GRPC_FRAME_ERROR);
    assert_non_null(d.error);
    assert_int_equal(d.too_big, 17);
    assert_int_equal(d.body.cap, 0);
    /* Dead from now on. */
    assert_int_equal(grpc_deframer_feed(&d, pre, 1, &m), GRPC_FRAME_ERROR);
    grpc_deframer_release(&d);

    /* Exactly max is fine; 4 GiB - 1 announced is rejected at once. */
    grpc_deframer_init(&d, 16);
    uint8_t wire[64];
    size_t n = frame(wire, 0, "0123456789abcdef");
    assert_int_equal(grpc_deframer_feed(&d, wire, n, &m), (ssize_t)n);
    assert_int_equal(m.len, 16);
    uint8_t huge[GRPC_FRAME_PREFIX] = {0, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(grpc_deframer_feed(&d, huge, sizeof(huge), &m), GRPC_FRAME_ERROR);
    assert_int_equal(d.too_big, 0xffffffffu);
    grpc_deframer_release(&d);
}

static void test_grpc_frame__compressed_flag_flagged(void **state)
{
    (void)state;
    struct grpc_deframer d;
    struct buf out;
    grpc_deframer_init(&d, 64);
    buf_init(&out, 0);
    uint8_t wire[64];
    size_t n = frame(wire, 1, "zz");
    n += frame(wire + n, 0, "p");
    assert_int_equal(feed_all(&d, wire, n, 2, &out), 0);
    assert_string_equal(out.data, "zz!p|");
    /* A flag byte other than 0 or 1 is a protocol error. */
    uint8_t bad[GRPC_FRAME_PREFIX] = {2, 0, 0, 0, 0};
    struct grpc_frame_msg m;
    assert_int_equal(grpc_deframer_feed(&d, bad, sizeof(bad), &m), GRPC_FRAME_ERROR);
    assert_int_equal(d.too_big, 0);
    buf_release(&out);
    grpc_deframer_release(&d);
}

static void test_grpc_frame__percent_codec(void **state)
{
    (void)state;
    struct buf e, d;
    buf_init(&e, 0);
    buf_init(&d, 0);
    const char *msg = "客户端认证失败 100% ok\n";
    assert_int_equal(grpc_percent_encode(&e, msg), 0);
    for (size_t i = 0; i < e.len; i++)
        assert_true(e.data[i] >= 0x20 && e.data[i] <= 0x7e);
    assert_non_null(strstr(e.data, "100%25 ok%0A"));
    assert_int_equal(grpc_percent_decode(&d, e.data, e.len), 0);
    assert_string_equal(d.data, msg);
    /* Broken escapes are kept as they are. */
    buf_reset(&d);
    grpc_percent_decode(&d, "a%zz%4", 6);
    assert_string_equal(d.data, "a%zz%4");
    buf_release(&e);
    buf_release(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grpc_frame__split_across_chunks),
        cmocka_unit_test(test_grpc_frame__several_in_one_chunk),
        cmocka_unit_test(test_grpc_frame__oversize_prefix_rejected),
        cmocka_unit_test(test_grpc_frame__compressed_flag_flagged),
        cmocka_unit_test(test_grpc_frame__percent_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
