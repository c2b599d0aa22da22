/*
 * fuzz_query: query-string parsing, percent-decoding and Cookie header
 * lookup on arbitrary bytes. Invariants: decoded lengths never exceed the
 * input, results are NUL-terminated, cookie slices point inside the header.
 *
 * Build (from the repository root):
 *   clang -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Isrc -Ibuild/gen \
 *     fuzz/fuzz_query.c src/dashboard/http_query.c src/core/buf.c src/core/xalloc.c src/core/log.c
 * \ -o build/fuzz_query build/fuzz_query fuzz/corpus/query
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
    /* If-None-Match: a match needs the tag itself or "*" in the header. */
    if (http_query_etag_match(hdr, "\"abc\"") && !strstr(hdr, "\"abc\"") && !strchr(hdr, '*'))
        abort();
    free(hdr);
    return 0;
}
