/*
 * fuzz_query: the small header and URL parsers of the HTTP server on
 * arbitrary bytes: query strings, percent-decoding, Cookie lookup,
 * Accept-Encoding negotiation (whole and split over two header lines) and
 * If-None-Match matching. Invariants: decoded lengths never exceed the input,
 * results are NUL-terminated, cookie slices point inside the header, weights
 * stay in [-1, 1000], gzip is only chosen when named or "*" is present, and an
 * entity tag only matches when it (or "*") is in the header.
 *
 * Build: `make fuzz` (clang, libFuzzer) or the gcc corpus replayer built with
 * the unit tests (build/asan/replay/fuzz_query fuzz/corpus/query).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard/http_gzip.h"
#include "dashboard/http_query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct http_query q;
    http_query_init(&q);
    (void)http_query_parse(&q, s, size);
    for (size_t i = 0; i < q.n; i++) {
        if (strlen(http_query_key(&q, i)) > size || strlen(http_query_value(&q, i)) > size)
            abort();
    }
    (void)http_query_get(&q, "tag");
    http_query_release(&q);

    char *out = malloc(size + 1);
    int n = http_query_pct_decode(s, size, 1, out);
    if (n > (int)size || (n >= 0 && out[n] != '\0'))
        abort();
    free(out);

    char *hdr = malloc(size + 1);
    memcpy(hdr, s, size);
    hdr[size] = '\0';
    struct slice v;
    if (http_query_cookie(hdr, "sid", &v) == 0) {
        if (v.ptr < hdr || v.ptr + v.len > hdr + strlen(hdr))
            abort();
    }
    /* Accept-Encoding: weights stay in range, fed whole or as two header lines. */
    struct http_gzip_accept ae;
    http_gzip_accept_init(&ae);
    http_gzip_accept_feed(&ae, s, size / 2);
    http_gzip_accept_feed(&ae, s + size / 2, size - size / 2);
    if (ae.gzip_q < -1 || ae.gzip_q > 1000 || ae.ident_q < -1 || ae.ident_q > 1000 ||
        ae.star_q < -1 || ae.star_q > 1000 || (unsigned)http_gzip_accept_gzip(&ae) > 1)
        abort();
    if (http_gzip_accepts(hdr) && !strcasestr(hdr, "gzip") && !strchr(hdr, '*'))
        abort(); /* gzip needs to be named, or "*" */
    /* If-None-Match: a match needs the tag itself or "*" in the header. */
    if (http_query_etag_match(hdr, "\"abc\"") && !strstr(hdr, "\"abc\"") && !strchr(hdr, '*'))
        abort();
    free(hdr);
    return 0;
}
