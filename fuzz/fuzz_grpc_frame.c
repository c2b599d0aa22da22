/*
 * libFuzzer driver for src/proto/grpc_frame: feeds the input to the deframer in
 * chunks whose sizes come from the first byte, and checks the invariants:
 * consumed <= offered, a message body lies inside the input or the deframer's
 * buffer, and no message exceeds the maximum.
 *
 * Build: clang -std=c11 -D_GNU_SOURCE -g -fsanitize=fuzzer,address,undefined -Isrc -Ibuild/gen \
 *          fuzz/fuzz_grpc_frame.c src/proto/grpc_frame.c src/core/buf.c src/core/xalloc.c \
 *          src/core/log.c -o build/fuzz_grpc_frame
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/buf.h"
#include "proto/grpc_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)(data[0] % 17) + 1;
    data++;
    size--;
    struct grpc_deframer d;
    grpc_deframer_init(&d, 64);
    size_t off = 0;
    while (off < size) {
        size_t k = size - off < step ? size - off : step;
        const uint8_t *p = data + off;
        size_t left = k;
        while (left > 0) {
            struct grpc_frame_msg m;
            ssize_t r = grpc_deframer_feed(&d, p, left, &m);
            if (r == GRPC_FRAME_INCOMPLETE)
                break;
            if (r == GRPC_FRAME_ERROR) {
                if (!d.error)
                    abort();
                goto out;
            }
            if (r <= 0 || (size_t)r > left || m.len > d.max)
                abort();
            int in_input = m.data >= p && m.data + m.len <= p + r;
            int in_buf = m.data >= (const uint8_t *)d.body.data &&
                         m.data + m.len <= (const uint8_t *)d.body.data + d.body.len;
            if (m.len && !in_input && !in_buf)
                abort();
            p += r;
            left -= (size_t)r;
        }
        off += k;
    }
out:
    grpc_deframer_release(&d);
    return 0;
}
