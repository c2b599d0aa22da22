/*
 * fuzz_ws_frames: feeds arbitrary bytes as the client side of a live-update
 * WebSocket connection through the socket-less seam (ws_conn_new_memory /
 * ws_conn_feed), so wslay parses them as client frames (masking, lengths,
 * fragmentation, control frames, close codes, UTF-8, the 4 KiB message cap).
 * The first byte picks the split size so frame headers get cut across feeds;
 * a broadcast runs between feeds so data frames, pings and close handling
 * interleave. Invariants: no crash, no leak, and the output is a sequence of
 * complete, unmasked server frames (control frames <= 125 bytes, text frames
 * only with the broadcast payload) with nothing after a close frame.
 *
 * Build (from the repository root, after `make unit-tests` generated build/gen):
 *   clang -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Isrc -Ibuild/gen \
 *     fuzz/fuzz_ws_frames.c src/dashboard/ws_hub.c src/dashboard/api/ws_frame.c
 * src/dashboard/api/api_v1.c src/dashboard/http.c \
 *     src/dashboard/http_query.c src/core/jw.c \
 *     src/core/buf.c src/core/xalloc.c src/core/log.c src/core/strnum.c \
 *     build/gen/nezha_v0.pb-c.c -o build/fuzz_ws_frames \
 *     -luv -lwslay -lhttp_parser -lcrypto -ljansson -lprotobuf-c
 *   build/fuzz_ws_frames fuzz/corpus/ws_frames
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "dashboard/ws_hub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char payload[] = "{\"now\":1}";

/* Walks the server output; aborts on anything that is not a well-formed frame. */
static void check_output(const struct buf *out)
{
    const unsigned char *p = (const unsigned char *)out->data;
    size_t i = 0;
    int closed = 0;
    while (i < out->len) {
        if (closed || out->len - i < 2)
            abort();
        unsigned op = p[i] & 0x0f;
        if (!(p[i] & 0x80) || (p[i] & 0x70) || (p[i + 1] & 0x80))
            abort(); /* FIN set, no RSV bits, never masked */
        uint64_t n = p[i + 1] & 0x7f;
        size_t hl = 2;
        if (n == 126) {
            if (out->len - i < 4)
                abort();
            n = ((uint64_t)p[i + 2] << 8) | p[i + 3];
            hl = 4;
        } else if (n == 127) {
            abort(); /* nothing here is that large */
        }
        if (out->len - i - hl < n)
            abort();
        if (op >= 8 && n > 125)
            abort();
        if (op == 1 && (n != sizeof(payload) - 1 || memcmp(p + i + hl, payload, n) != 0))
            abort();
        if (op != 1 && op != 8 && op != 9 && op != 10)
            abort();
        if (op == 8)
            closed = 1;
        i += hl + (size_t)n;
    }
}

/*
 * One loop-less hub for the whole run (it embeds large buffers whose calloc
 * cost more than the frames); every input gets a fresh connection, and the
 * hub must be empty again once that connection is freed.
 */
static struct ws_hub *hub_once(void)
{
    static struct ws_hub *hub;
    if (!hub) {
        struct ws_config cfg;
        ws_config_defaults(&cfg);
        cfg.ping_every = 2;
        hub = ws_hub_new(NULL, &cfg);
    }
    return hub;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ws_hub *hub = hub_once();
    struct buf out;
    buf_init(&out, 0);
    struct buf frame;
    buf_init(&frame, 0);
    buf_puts(&frame, payload);
    int audience = size && (data[0] & 0x80) ? WS_AUDIENCE_ADMIN : WS_AUDIENCE_GUEST;
    struct ws_conn *c = ws_conn_new_memory(hub, audience, &out);
    size_t step = size ? (size_t)(data[0] % 31) + 1 : 1;
    for (size_t i = size ? 1 : 0; i < size; i += step) {
        size_t n = size - i < step ? size - i : step;
        if (ws_conn_feed(c, data + i, n) != 0)
            break;
        ws_hub_broadcast(hub, &frame, &frame);
    }
    check_output(&out);
    if (ws_conn_is_closed(c) && ws_hub_count(hub, -1) != 0)
        abort();
    ws_conn_free_memory(c);
    if (ws_hub_count(hub, -1) != 0)
        abort(); /* a freed connection left the hub */
    buf_release(&frame);
    buf_release(&out);
    return 0;
}
