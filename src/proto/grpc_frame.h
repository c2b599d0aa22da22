/*
 * grpc_frame: the gRPC length-prefixed message codec. A received message is a
 * 5-byte prefix (1 flag byte: 0 = plain, 1 = compressed; then a big-endian
 * uint32 length) followed by that many bytes; messages may be split across
 * HTTP/2 DATA frames and one frame may carry several messages.
 *
 * The deframer is an incremental, pure parser (STYLE rule 22): it keeps its
 * state in a caller-owned struct, never touches sockets or clocks, and checks
 * the announced length against its maximum as soon as the prefix is complete,
 * before buffering a single body byte.
 */
#ifndef LOTUS_PROTO_GRPC_FRAME_H
#define LOTUS_PROTO_GRPC_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"

#define GRPC_FRAME_PREFIX     5
#define GRPC_FRAME_INCOMPLETE (-2) /* all input consumed, no message complete yet */
#define GRPC_FRAME_ERROR      (-1) /* see grpc_deframer.error; the deframer is dead */

struct grpc_deframer {
    size_t max; /* largest accepted message body, bytes */
    uint8_t hdr[GRPC_FRAME_PREFIX];
    size_t hdr_len;    /* prefix bytes collected so far */
    uint32_t body_len; /* announced length (valid once hdr_len == 5) */
    struct buf body;   /* partial body when a message spans feeds; max = max */
    const char *error; /* static reason once GRPC_FRAME_ERROR was returned, else NULL */
    uint32_t too_big;  /* announced length that exceeded max (error case), else 0 */
};

/* One complete message. data is borrowed: it points into the input given to
 * grpc_deframer_feed or into the deframer, valid until the next feed/release. */
struct grpc_frame_msg {
    const uint8_t *data;
    size_t len;
    int compressed; /* flag byte was 1: the caller decides (needs grpc-encoding) */
};

/* Initialises caller storage; max is the largest body accepted. Allocates nothing. */
void grpc_deframer_init(struct grpc_deframer *d, size_t max);
/* Frees the partial-message buffer; d may be re-initialised afterwards. */
void grpc_deframer_release(struct grpc_deframer *d);
/*
 * Feeds p[0..n) (borrowed). Returns:
 *  >0  bytes consumed; exactly one message completed and *out describes it.
 *      Call again with the rest of the input.
 *  GRPC_FRAME_INCOMPLETE  every byte was consumed into the state; no message yet.
 *  GRPC_FRAME_ERROR       d->error says why (a flag byte other than 0/1, or a
 *      length over max: then d->too_big holds the announced length). Further
 *      feeds keep returning GRPC_FRAME_ERROR.
 * n == 0 returns GRPC_FRAME_INCOMPLETE.
 */
ssize_t grpc_deframer_feed(struct grpc_deframer *d, const uint8_t *p, size_t n,
                           struct grpc_frame_msg *out);
/* Bytes currently held in the deframer (prefix + partial body), for accounting. */
size_t grpc_deframer_buffered(const struct grpc_deframer *d);
/* 1 when no partial message is pending (a clean message boundary). */
int grpc_deframer_idle(const struct grpc_deframer *d);

/* Writes the 5-byte prefix for a plain (uncompressed) message of len bytes. */
void grpc_frame_prefix(uint8_t out[GRPC_FRAME_PREFIX], uint32_t len);

/*
 * Percent-encodes a grpc-message value (bytes outside 0x20..0x7e and '%'
 * become %XX). Appends to out (borrowed); returns 0 or -E2BIG from buf.
 */
int grpc_percent_encode(struct buf *out, const char *s);
/* Decodes %XX sequences (invalid ones are kept verbatim). Appends to out. */
int grpc_percent_decode(struct buf *out, const char *s, size_t n);

#endif
