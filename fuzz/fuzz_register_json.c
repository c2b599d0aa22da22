/*
 * libFuzzer driver for the POST /api/v1/server/register body parser
 * (api_v1_register_parse, src/dashboard/api/api_v1.h) and its reply renderers.
 * Invariants on success: Name/Tag/Note are NUL-terminated strings within the
 * API_V1_REGISTER_*_MAX limits, never NULL for Name and Tag, and
 * HideForGuest is 0 or 1. The reply renderers get the parsed strings so
 * JSON escaping of arbitrary bytes runs too.
 *
 * Build: `make fuzz` (clang, libFuzzer) or the gcc corpus replayer built with
 * the unit tests (build/asan/replay/fuzz_register_json fuzz/corpus/register_json).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "dashboard/api/api_v1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct api_v1_register r;
    memset(&r, 0, sizeof(r));
    if (api_v1_register_parse((const char *)data, size, "192.0.2.7", &r) == 0) {
        if (!r.name || !r.tag || strlen(r.name) > API_V1_REGISTER_NAME_MAX ||
            strlen(r.tag) > API_V1_REGISTER_TAG_MAX ||
            (r.note && strlen(r.note) > API_V1_REGISTER_NOTE_MAX) ||
            (r.hide_for_guest != 0 && r.hide_for_guest != 1))
            abort();
        struct buf out;
        buf_init(&out, 0);
        (void)api_v1_render_register_reply(&out, 200, r.name, r.tag);
        buf_reset(&out);
        (void)api_v1_render_register_simple(&out, r.note ? r.note : r.name);
        buf_release(&out);
    }
    api_v1_register_release(&r);
    api_v1_register_release(&r); /* documented as safe on a released struct */
    return 0;
}
