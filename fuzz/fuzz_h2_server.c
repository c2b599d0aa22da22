/*
 * libFuzzer driver for the gRPC server's HTTP/2 input path: each input is the
 * whole byte stream of one client connection, run through a socket-less server
 * connection (grpc_server__feed). When the first byte is even, the client
 * connection preface and an empty SETTINGS frame are put in front so the
 * fuzzer starts past the magic. Handlers reply (unary, streaming, errors) so
 * the output path runs too. Must never crash, leak or trip a sanitizer.
 *
 * Build: clang -std=c11 -D_GNU_SOURCE -g -fsanitize=fuzzer,address,undefined -Isrc -Ibuild/gen \
 *          fuzz/fuzz_h2_server.c src/proto/grpc_server.c src/proto/h2io.c src/proto/tls.c \
 *          src/proto/grpc_frame.c src/core/buf.c src/core/xalloc.c src/core/log.c \
 *          -luv -lnghttp2 -lssl -lcrypto -o build/fuzz_h2_server
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "proto/grpc_server.h"
#include "proto/grpc_server_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_msg(struct grpc_call *call, const uint8_t *data, size_t len)
{
    grpc_call_send(call, data, len);
    if (len && data[0] == 'e')
        grpc_call_finish(call, GRPC_STATUS_INTERNAL, "echo \xe5\xa4\xb1\xe8\xb4\xa5 %");
}

static void on_half(struct grpc_call *call)
{
    grpc_call_finish(call, GRPC_STATUS_OK, NULL);
}

static void on_close(struct grpc_call *call)
{
    (void)call;
}

static const struct grpc_method methods[] = {
    {"/x.Y/Echo", on_msg, on_half, on_close},
    {"/x.Y/Hold", on_msg, NULL, on_close},
};

static const uint8_t preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                                 "\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/* The fuzzer keeps one loop and server for the whole run (harness state only). */
static uv_loop_t loop;
static struct grpc_server *srv;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!srv) {
        uv_loop_init(&loop);
        struct grpc_server_config cfg = {
            .host = "127.0.0.1",
            .max_message = 1024,
            .methods = methods,
            .n_methods = 2,
        };
        char err[128];
        if (grpc_server_start(&loop, &cfg, &srv, err, sizeof(err)) != 0)
            abort();
    }
    if (size == 0)
        return 0;
    if (data[0] % 2 == 0) {
        size_t n = sizeof(preface) - 1 + size - 1;
        uint8_t *buf = malloc(n);
        if (!buf)
            return 0;
        memcpy(buf, preface, sizeof(preface) - 1);
        memcpy(buf + sizeof(preface) - 1, data + 1, size - 1);
        grpc_server__feed(srv, buf, n);
        free(buf);
    } else {
        grpc_server__feed(srv, data + 1, size - 1);
    }
    if (grpc_server_connection_count(srv) != 0)
        abort();
    return 0;
}
