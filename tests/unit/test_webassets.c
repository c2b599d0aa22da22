/* Unit tests of src/dashboard/webassets against the table generated from the real web build. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "dashboard/http_gzip.h"
#include "dashboard/webassets.h"

static const struct webasset *find(const char *p)
{
    return webasset_find(p, strlen(p));
}

/* Finds the first "/static/app.<hash>.<ext>" reference in index.html; out gets the path. */
static int hashed_ref(const char *ext, char *out, size_t cap)
{
    const struct webasset *ix = find("/index.html");
    if (!ix)
        return -1;
    const char *p = (const char *)ix->data, *end = p + ix->len;
    const char *key = "/static/app.";
    size_t kl = strlen(key), el = strlen(ext);
    for (; p + kl < end; p++) {
        if (memcmp(p, key, kl) != 0)
            continue;
        const char *q = p + kl;
        while (q < end && *q != '"')
            q++;
        size_t n = (size_t)(q - p);
        if (n >= cap || n < kl + el || memcmp(q - el, ext, el) != 0)
            continue;
        memcpy(out, p, n);
        out[n] = '\0';
        return 0;
    }
    return -1;
}

static void test_webassets__index_html_found(void **state)
{
    (void)state;
    const struct webasset *a = find("/index.html");
    assert_non_null(a);
    assert_string_equal(a->path, "/index.html");
    assert_string_equal(a->content_type, "text/html; charset=utf-8");
    assert_false(a->immutable);
    assert_true(a->len > 100);
    assert_non_null(memmem(a->data, a->len, "<div id=\"app\">", 14));
    /* Strong ETag: quoted, 16 hex digits, no W/ prefix. */
    assert_int_equal(strlen(a->etag), 18);
    assert_int_equal(a->etag[0], '"');
    assert_int_equal(a->etag[17], '"');
}

static void test_webassets__hashed_js_is_immutable(void **state)
{
    (void)state;
    char path[WEBASSET_PATH_MAX + 1];
    assert_int_equal(hashed_ref(".js", path, sizeof(path)), 0);
    const struct webasset *a = find(path);
    assert_non_null(a);
    assert_true(a->immutable);
    assert_string_equal(a->content_type, "text/javascript; charset=utf-8");
    assert_true(a->len > 1000);

    assert_int_equal(hashed_ref(".css", path, sizeof(path)), 0);
    a = find(path);
    assert_non_null(a);
    assert_true(a->immutable);
    assert_string_equal(a->content_type, "text/css; charset=utf-8");
}

static void test_webassets__etags_differ_with_content(void **state)
{
    (void)state;
    char js[WEBASSET_PATH_MAX + 1], css[WEBASSET_PATH_MAX + 1];
    assert_int_equal(hashed_ref(".js", js, sizeof(js)), 0);
    assert_int_equal(hashed_ref(".css", css, sizeof(css)), 0);
    assert_string_not_equal(find(js)->etag, find(css)->etag);
    assert_string_not_equal(find(js)->etag, find("/index.html")->etag);
}

static void test_webassets__table_sorted_and_every_entry_findable(void **state)
{
    (void)state;
    size_t n = webasset_count();
    assert_true(n > 2);
    assert_null(webasset_at(n));
    int flags = 0;
    for (size_t i = 0; i < n; i++) {
        const struct webasset *a = webasset_at(i);
        assert_non_null(a);
        if (i > 0)
            assert_true(strcmp(webasset_at(i - 1)->path, a->path) < 0);
        assert_ptr_equal(find(a->path), a);
        if (strncmp(a->path, "/static/flags-", 14) == 0) {
            flags++;
            assert_true(a->immutable);
            assert_string_equal(a->content_type, "image/svg+xml");
        }
    }
    assert_true(flags > 200);
}

static void test_webassets__unknown_and_traversal_not_found(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "/nope.html",
        "index.html",
        "/",
        "",
        "/static/",
        "/static",
        "/static/../index.html",
        "/static/../x",
        "/static/%2e%2e/index.html",
        "/%2e%2e/index.html",
        "/static/..%2findex.html",
        "/./index.html",
        "//index.html",
        "/index.html/",
        "/INDEX.HTML",
        "/index.html?x=1",
        "/index.htm",
        "/index.html.",
        "/static/install-agent.sh/..",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_null(find(bad[i]));
    assert_null(webasset_find(NULL, 0));
    /* Length is honoured: a prefix of a real path, and a real path followed by junk. */
    assert_null(webasset_find("/index.html", 10));
    assert_non_null(webasset_find("/index.htmlXYZ", 11));
    char big[WEBASSET_PATH_MAX + 8];
    memset(big, 'a', sizeof(big));
    big[0] = '/';
    assert_null(webasset_find(big, sizeof(big)));
}

static void test_webassets__install_script_embedded(void **state)
{
    (void)state;
    const struct webasset *a = find("/static/install-agent.sh");
    assert_non_null(a);
    assert_false(a->immutable);
    assert_true(a->len > 0);
}

/* Inflates one gzip member; returns the owned result or NULL when it is not exactly one member. */
static unsigned char *gunzip(const unsigned char *in, size_t len, size_t cap, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 15 + 16) != Z_OK)
        return NULL;
    unsigned char *out = malloc(cap + 1);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap + 1;
    int rc = inflate(&zs, Z_FINISH);
    *out_len = zs.total_out;
    inflateEnd(&zs);
    if (rc != Z_STREAM_END || zs.avail_in != 0) {
        free(out);
        return NULL;
    }
    return out;
}

static void test_webassets__gzip_forms(void **state)
{
    (void)state;
    size_t with = 0;
    for (size_t i = 0; i < webasset_count(); i++) {
        const struct webasset *a = webasset_at(i);
        if (!a->gz) {
            assert_int_equal(a->gz_len, 0);
            assert_null(a->gz_etag);
            /* Only small text assets, or ones gzip does not shrink, go without. */
            if (http_gzip_compressible(a->content_type) && a->len >= HTTP_GZIP_MIN_BYTES * 4)
                fail_msg("%s (%zu bytes) has no gzip form", a->path, a->len);
            continue;
        }
        with++;
        assert_true(http_gzip_compressible(a->content_type));
        assert_true(a->len >= HTTP_GZIP_MIN_BYTES);
        assert_true(a->gz_len <= a->len * 9 / 10);
        /* Its own strong ETag, same shape as the identity one. */
        assert_non_null(a->gz_etag);
        assert_int_equal(strlen(a->gz_etag), 18);
        assert_string_not_equal(a->gz_etag, a->etag);
        size_t n;
        unsigned char *back = gunzip(a->gz, a->gz_len, a->len, &n);
        if (!back)
            fail_msg("%s: gzip form does not inflate", a->path);
        assert_int_equal(n, a->len);
        assert_memory_equal(back, a->data, n);
        free(back);
    }
    assert_true(with > 10);
    char path[WEBASSET_PATH_MAX + 1];
    assert_int_equal(hashed_ref(".js", path, sizeof(path)), 0);
    assert_non_null(find(path)->gz);
    assert_int_equal(hashed_ref(".css", path, sizeof(path)), 0);
    assert_non_null(find(path)->gz);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_webassets__index_html_found),
        cmocka_unit_test(test_webassets__hashed_js_is_immutable),
        cmocka_unit_test(test_webassets__etags_differ_with_content),
        cmocka_unit_test(test_webassets__table_sorted_and_every_entry_findable),
        cmocka_unit_test(test_webassets__unknown_and_traversal_not_found),
        cmocka_unit_test(test_webassets__install_script_embedded),
        cmocka_unit_test(test_webassets__gzip_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
