/*
 * libFuzzer driver for the protobuf-c decoding of every message the
 * dashboard unpacks from agents (State, Host, TaskResult, GeoIP,
 * IOStreamData; docs/protocol.md §2) and the agent unpacks from dashboards (Task). Each
 * input is offered to every message type. When it decodes, the message is
 * packed again and the round trip must be stable: the packed size equals
 * get_packed_size, the packed bytes decode again, and packing that second
 * message gives the same bytes (protobuf-c keeps unknown fields, so nothing
 * may be lost or invented). Must never crash, leak or trip a sanitizer.
 *
 * Known library quirk, excluded from the round-trip check: protobuf-c 1.4.1
 * rejects field number 0 only when the tag's first byte is zero, so a
 * non-minimal tag varint (80 00) decodes as an unknown field 0, which is
 * packed back minimally (00) and then refused. Harmless for Lotus (unknown
 * fields are never forwarded); found by this driver.
 *
 * Build: `make fuzz` (clang, libFuzzer) or the gcc corpus replayer built with
 * the unit tests (build/asan/replay/fuzz_protobuf fuzz/corpus/protobuf).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nezha_v0.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Largest payload the dashboard accepts per gRPC message (svc limits are lower). */
#define FUZZ_PB_MAX (1u << 20)

/* True when m or a sub-message holds an unknown field with number 0 (see the quirk above). */
static int has_field0(const ProtobufCMessage *m)
{
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0)
            return 1;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *base = (const char *)m;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            ProtobufCMessage *const *arr = *(ProtobufCMessage *const *const *)(base + f->offset);
            for (size_t k = 0; k < n; k++)
                if (arr[k] && has_field0(arr[k]))
                    return 1;
        } else {
            const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)(base + f->offset);
            if (sub && has_field0(sub))
                return 1;
        }
    }
    return 0;
}

static void round_trip(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, size, data);
    if (!m)
        return;
    if (has_field0(m)) {
        protobuf_c_message_free_unpacked(m, NULL);
        return;
    }
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *a = malloc(n ? n : 1);
    if (!a)
        abort();
    if (protobuf_c_message_pack(m, a) != n)
        abort();
    ProtobufCMessage *m2 = protobuf_c_message_unpack(desc, NULL, n, a);
    if (!m2)
        abort(); /* what we packed must decode */
    size_t n2 = protobuf_c_message_get_packed_size(m2);
    uint8_t *b = malloc(n2 ? n2 : 1);
    if (!b)
        abort();
    if (protobuf_c_message_pack(m2, b) != n2 || n2 != n || memcmp(a, b, n) != 0)
        abort(); /* packing is not stable */
    free(a);
    free(b);
    protobuf_c_message_free_unpacked(m2, NULL);
    protobuf_c_message_free_unpacked(m, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ProtobufCMessageDescriptor *const descs[] = {
        &proto__state__descriptor,         &proto__host__descriptor,
        &proto__task_result__descriptor,   &proto__geo_ip__descriptor,
        &proto__iostream_data__descriptor, &proto__task__descriptor,
        &proto__receipt__descriptor,
    };
    if (size > FUZZ_PB_MAX)
        return 0;
    for (size_t i = 0; i < sizeof(descs) / sizeof(descs[0]); i++)
        round_trip(descs[i], data, size);
    return 0;
}
