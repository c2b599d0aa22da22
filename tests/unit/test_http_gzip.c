/*
 * Unit tests of src/dashboard/http_gzip: Accept-Encoding negotiation (RFC
 * 9110 §12.5.3 weights, case, whitespace, malformed elements, several header
 * lines), the compressible-type list, and gzip output checked by inflating it
 * with zlib.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "core/buf.h"
#include "dashboard/http_gzip.h"

static void test_gzip__accept_encoding(void **state)
{
    static const struct {
        const char *value;
        int gzip;
    } cases[] = {
        {"gzip", 1},
        {"GZip", 1},
        {"x-gzip", 1},
        {"gzip, deflate, br, zstd", 1}, /* Chromium */
        {"deflate,gzip", 1},
        {" , gzip ,", 1}, /* empty elements and whitespace */
        {"gzip ; q=0.3", 1},
        {"gzip;Q=0.001", 1},
        {"gzip;q=1.000", 1},
        {"gzip;level=9", 1}, /* unknown parameters are skipped */
        {"*", 1},
        {"*;q=0.5", 1},
        {"br;q=1, *;q=0.1", 1},
        {"gzip;q=0.5, identity;q=0.5", 1}, /* a tie goes to gzip */
        {"", 0},                           /* identity only */
        {"identity", 0},
        {"br", 0},
        {"deflate, br", 0},
        {"gzip;q=0", 0},
        {"gzip; q=0.000", 0},
        {"gzip;q=0, *", 0}, /* the explicit entry wins over "*" */
        {"*, gzip;q=0", 0},
        {"*;q=0", 0},
        {"identity;q=0, gzip;q=0", 0},
        {"gzip;q=0.5, identity;q=0.8", 0}, /* the client prefers identity */
        {"gzip;q=0.5, *;q=1", 0},          /* ... through "*" */
        {"gzip;q=1.5", 0},                 /* malformed weights: element ignored */
        {"gzip;q=1.001", 0},
        {"gzip;q=0.1234", 0},
        {"gzip;q=abc", 0},
        {"gzip;q=", 0},
        {"gzip;q", 0},
        {"gzip;", 0},
        {"gzip q=1", 0},
        {"gz ip", 0},
        {"gzipx", 0},
        {"\"gzip\"", 0},
        {"gzip;q=0.5 junk", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = http_gzip_accepts(cases[i].value);
        if (got != cases[i].gzip)
            fail_msg("Accept-Encoding \"%s\": got %d, want %d", cases[i].value, got, cases[i].gzip);
    }
    assert_int_equal(http_gzip_accepts(NULL), 0); /* no header: identity */
}

static void test_gzip__accept_several_fields(void **state)
{
    struct http_gzip_accept a;
    http_gzip_accept_init(&a);
    assert_int_equal(http_gzip_accept_gzip(&a), 0);
    http_gzip_accept_feed(&a, "br", 2);
    assert_int_equal(http_gzip_accept_gzip(&a), 0);
    http_gzip_accept_feed(&a, "gzip", 4);
    assert_int_equal(http_gzip_accept_gzip(&a), 1);

    http_gzip_accept_init(&a);
    http_gzip_accept_feed(&a, "*", 1);
    http_gzip_accept_feed(&a, "gzip;q=0", 8);
    assert_int_equal(http_gzip_accept_gzip(&a), 0);

    /* Not NUL-terminated: only len bytes count. */
    http_gzip_accept_init(&a);
    http_gzip_accept_feed(&a, "br, gzip", 4);
    assert_int_equal(http_gzip_accept_gzip(&a), 0);
}

static void test_gzip__accept_bounded(void **state)
{
    /* Only the first HTTP_GZIP_ACCEPT_MAX bytes are looked at. */
    size_t n = HTTP_GZIP_ACCEPT_MAX + 64;
    char *v = malloc(n + 1);
    assert_non_null(v);
    memset(v, ' ', n);
    memcpy(v + n - 4, "gzip", 4);
    v[n] = '\0';
    assert_int_equal(http_gzip_accepts(v), 0);
    memcpy(v + 10, "gzip,", 5);
    assert_int_equal(http_gzip_accepts(v), 1);
    free(v);
}

static void test_gzip__compressible_types(void **state)
{
    assert_true(http_gzip_compressible("application/json; charset=utf-8"));
    assert_true(http_gzip_compressible("text/html; charset=utf-8"));
    assert_true(http_gzip_compressible("TEXT/CSS"));
    assert_true(http_gzip_compressible("text/javascript; charset=utf-8"));
    assert_true(http_gzip_compressible("image/svg+xml"));
    assert_true(http_gzip_compressible("application/problem+json"));
    assert_false(http_gzip_compressible("application/octet-stream"));
    assert_false(http_gzip_compressible("image/png"));
    assert_false(http_gzip_compressible("font/woff2"));
    assert_false(http_gzip_compressible("application/jsonx"));
    assert_false(http_gzip_compressible("text"));
    assert_false(http_gzip_compressible(""));
    assert_false(http_gzip_compressible(NULL));
}

/* Inflates a gzip member; returns the owned result (NUL-terminated) or NULL. */
static char *gunzip(const char *in, size_t len, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 15 + 16) != Z_OK)
        return NULL;
    size_t cap = 1 << 20;
    char *out = malloc(cap + 1);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    int rc = inflate(&zs, Z_FINISH);
    *out_len = zs.total_out;
    inflateEnd(&zs);
    if (rc != Z_STREAM_END || zs.avail_in != 0) {
        free(out);
        return NULL;
    }
    out[*out_len] = '\0';
    return out;
}

static void test_gzip__compress_round_trip(void **state)
{
    struct buf src, gz;
    buf_init(&src, 0);
    buf_init(&gz, 0);
    for (int i = 0; i < 5000; i++)
        buf_printf(&src, "{\"id\":%d,\"name\":\"server-%d\",\"cpu\":%d.%02d},", i, i * 7919 % 1000,
                   i % 100, i * 31 % 100);
    for (int level = 1; level <= 9; level += 4) {
        buf_reset(&gz);
        assert_int_equal(http_gzip_compress(src.data, src.len, level, &gz), 0);
        assert_true(gz.len > 18 && gz.len < src.len / 3);
        assert_int_equal((unsigned char)gz.data[0], 0x1f); /* gzip magic */
        assert_int_equal((unsigned char)gz.data[1], 0x8b);
        size_t n;
        char *back = gunzip(gz.data, gz.len, &n);
        assert_non_null(back);
        assert_int_equal(n, src.len);
        assert_memory_equal(back, src.data, n);
        free(back);
    }
    /* Empty input is one valid, empty member. */
    buf_reset(&gz);
    assert_int_equal(http_gzip_compress("", 0, HTTP_GZIP_LEVEL, &gz), 0);
    size_t n = 1;
    char *back = gunzip(gz.data, gz.len, &n);
    assert_non_null(back);
    assert_int_equal(n, 0);
    free(back);
    /* Appends after what out already holds. */
    buf_reset(&gz);
    buf_puts(&gz, "XY");
    assert_int_equal(http_gzip_compress("abc", 3, 1, &gz), 0);
    assert_memory_equal(gz.data, "XY\x1f\x8b", 4);
    buf_release(&gz);
    buf_release(&src);
}

static void test_gzip__compress_errors(void **state)
{
    struct buf gz;
    buf_init(&gz, 0);
    assert_int_equal(http_gzip_compress("abc", 3, 0, &gz), -EINVAL);
    assert_int_equal(http_gzip_compress("abc", 3, 10, &gz), -EINVAL);
    assert_int_equal(http_gzip_compress("abc", (size_t)HTTP_GZIP_MAX_BYTES + 1, 1, &gz), -EINVAL);
    assert_int_equal(gz.len, 0);
    buf_release(&gz);
    buf_init(&gz, 8); /* the caller's maximum applies */
    assert_int_equal(http_gzip_compress("abcdefgh", 8, 1, &gz), -E2BIG);
    buf_release(&gz);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gzip__accept_encoding),
        cmocka_unit_test(test_gzip__accept_several_fields),
        cmocka_unit_test(test_gzip__accept_bounded),
        cmocka_unit_test(test_gzip__compressible_types),
        cmocka_unit_test(test_gzip__compress_round_trip),
        cmocka_unit_test(test_gzip__compress_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
