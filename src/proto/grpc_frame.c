/* grpc_frame: incremental 5-byte-prefix deframer and grpc-message percent codec. */
#include "grpc_frame.h"

#include <string.h>
#include "core/ascii.h"

static const char err_flag[] = "invalid gRPC compressed flag";
static const char err_too_big[] = "gRPC message larger than the maximum";

void grpc_deframer_init(struct grpc_deframer *d, size_t max)
{
    d->max = max;
    memset(d->hdr, 0, sizeof(d->hdr));
    d->hdr_len = 0;
    d->body_len = 0;
    buf_init(&d->body, max ? max : 1);
    d->error = NULL;
    d->too_big = 0;
}

void grpc_deframer_release(struct grpc_deframer *d)
{
    buf_release(&d->body);
    d->hdr_len = 0;
}

size_t grpc_deframer_buffered(const struct grpc_deframer *d)
{
    return d->hdr_len + (d->hdr_len == GRPC_FRAME_PREFIX ? d->body.len : 0);
}

int grpc_deframer_idle(const struct grpc_deframer *d)
{
    return d->hdr_len == 0;
}

static void finish(struct grpc_deframer *d, const uint8_t *data, size_t len,
                   struct grpc_frame_msg *out)
{
    out->data = data;
    out->len = len;
    out->compressed = d->hdr[0] == 1;
    d->hdr_len = 0;
}

ssize_t grpc_deframer_feed(struct grpc_deframer *d, const uint8_t *p, size_t n,
                           struct grpc_frame_msg *out)
{
    if (d->error)
        return GRPC_FRAME_ERROR;
    if (n == 0)
        return GRPC_FRAME_INCOMPLETE;
    if (d->hdr_len == 0 && d->body.cap > (64u << 10))
        buf_release(&d->body); /* do not keep a large message's memory around */
    size_t used = 0;
    if (d->hdr_len < GRPC_FRAME_PREFIX) {
        size_t take = GRPC_FRAME_PREFIX - d->hdr_len;
        if (take > n)
            take = n;
        memcpy(d->hdr + d->hdr_len, p, take);
        d->hdr_len += take;
        used = take;
        if (d->hdr_len < GRPC_FRAME_PREFIX)
            return GRPC_FRAME_INCOMPLETE;
        /* The prefix is complete: check it before any body byte is kept. */
        if (d->hdr[0] > 1) {
            d->error = err_flag;
            return GRPC_FRAME_ERROR;
        }
        d->body_len = (uint32_t)d->hdr[1] << 24 | (uint32_t)d->hdr[2] << 16 |
                      (uint32_t)d->hdr[3] << 8 | (uint32_t)d->hdr[4];
        if (d->body_len > d->max) {
            d->too_big = d->body_len;
            d->error = err_too_big;
            return GRPC_FRAME_ERROR;
        }
        buf_reset(&d->body);
        if (d->body_len == 0) {
            finish(d, (const uint8_t *)d->body.data, 0, out);
            return (ssize_t)used;
        }
    }
    size_t missing = d->body_len - d->body.len;
    size_t avail = n - used;
    if (d->body.len == 0 && avail >= missing) {
        /* Whole body present in this input: hand it out without copying. */
        finish(d, p + used, missing, out);
        return (ssize_t)(used + missing);
    }
    size_t take = avail < missing ? avail : missing;
    if (buf_append(&d->body, p + used, take) != 0) {
        /* Cannot happen: body_len <= max was checked above. */
        d->error = err_too_big;
        return GRPC_FRAME_ERROR;
    }
    used += take;
    if (d->body.len < d->body_len)
        return GRPC_FRAME_INCOMPLETE;
    finish(d, (const uint8_t *)d->body.data, d->body.len, out);
    /* The body buffer is reset when the next prefix completes, so out stays valid. */
    return (ssize_t)used;
}

void grpc_frame_prefix(uint8_t out[GRPC_FRAME_PREFIX], uint32_t len)
{
    out[0] = 0;
    out[1] = (uint8_t)(len >> 24);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
}

int grpc_percent_encode(struct buf *out, const char *s)
{
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        if (*q >= 0x20 && *q <= 0x7e && *q != '%') {
            buf_putc(out, (char)*q);
        } else {
            char e[3] = {'%', ascii_hex_upper[*q >> 4], ascii_hex_upper[*q & 15]};
            buf_append(out, e, 3);
        }
    }
    return out->err;
}

int grpc_percent_decode(struct buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && ascii_hexval(s[i + 1]) >= 0 &&
            ascii_hexval(s[i + 2]) >= 0) {
            buf_putc(out, (char)(ascii_hexval(s[i + 1]) << 4 | ascii_hexval(s[i + 2])));
            i += 2;
        } else {
            buf_putc(out, s[i]);
        }
    }
    return out->err;
}
