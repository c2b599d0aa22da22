/*
 * fuzz_http_request: feeds arbitrary bytes through the HTTP/1.1 request
 * parser, limits and router via the socket-less connection seam
 * (http_conn_new_memory / http_conn_feed), in a few split points so header
 * accumulation across reads is exercised. Invariants: no crash, no leak,
 * every response starts with "HTTP/1.1 ".
 *
 * Build (from the repository root, after `make unit-tests` generated build/gen):
 *   clang -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Isrc -Ibuild/gen \
 *     fuzz/fuzz_http_request.c src/dashboard/http.c src/dashboard/http_query.c src/core/buf.c \
 *     src/core/xalloc.c src/core/log.c -o build/fuzz_http_request -luv -lhttp_parser
 *   build/fuzz_http_request fuzz/corpus/http_request
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "dashboard/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void h_ok(struct http_request *req, void *ud)
{
    (void)ud;
    const char *p = http_request_param(req, "id");
    const char *q = http_request_query(req, "tag");
    struct slice body;
    http_request_body(req, &body);
    (void)http_request_header(req, "authorization");
    struct slice ck;
    (void)http_request_cookie(req, "nezha-dashboard", &ck);
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b, "%s|%s|%zu", p ? p : "", q ? q : "", body.len);
    http_request_respond_json(req, 200, &b);
    buf_release(&b);
}

/*
 * One loop-less server for the whole run: it holds only the routes and the
 * configuration (plus a 64 KiB read buffer that is calloc'ed, which made a
 * per-input server cost more than the parsing). Every input gets a fresh
 * connection, and a connection keeps all of its request state.
 */
static struct http_server *server(void)
{
    static struct http_server *s;
    if (s)
        return s;
    struct http_config cfg;
    http_config_defaults(&cfg);
    cfg.max_body_bytes = 4096;
    cfg.max_header_bytes = 2048;
    s = http_server_new(NULL, &cfg);
    http_server_route(s, "GET", "/api/v1/server/details", h_ok, NULL);
    http_server_route(s, "POST", "/api/v1/server/register", h_ok, NULL);
    http_server_route(s, "DELETE", "/api/token/:id", h_ok, NULL);
    http_server_route(s, "GET", "/static/*path", h_ok, NULL);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_server *s = server();
    struct buf out;
    buf_init(&out, 0);
    struct http_conn *c = http_conn_new_memory(s, &out, "192.0.2.1");
    /* first byte picks a split size so fields get cut across feeds */
    size_t step = size ? (size_t)(data[0] % 17) + 1 : 1;
    for (size_t i = size ? 1 : 0; i < size; i += step) {
        size_t n = size - i < step ? size - i : step;
        if (http_conn_feed(c, (const char *)data + i, n) != 0)
            break;
    }
    if (out.len && memcmp(out.data, "HTTP/1.1 ", 9) != 0)
        abort();
    http_conn_free_memory(c);
    buf_release(&out);
    return 0;
}
