/* h2io: uv_tcp <-> TLS (tlspump) <-> nghttp2 byte plumbing shared by server and client. */
#include "h2io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "proto/tls.h"
#include "proto/tlspump.h"

struct h2io_wreq {
    uv_write_t req;
    struct h2io *io;
    size_t len;
    char data[];
};

void h2io_init(struct h2io *io, void (*on_written)(struct h2io *io, int status))
{
    io->ng = NULL;
    io->tls = NULL;
    io->tls_ready = 0;
    io->in_ng = 0;
    io->fake = 0;
    io->dead = 0;
    io->want_flush = 0;
    io->queued = 0;
    buf_init(&io->out, 0);
    buf_init(&io->plain, 0);
    io->on_written = on_written;
}

void h2io_release(struct h2io *io)
{
    if (io->ng) {
        nghttp2_session_del(io->ng);
        io->ng = NULL;
    }
    tls_conn_free(io->tls);
    io->tls = NULL;
    buf_release(&io->out);
    buf_release(&io->plain);
}

static int ng_recv(struct h2io *io, const uint8_t *p, size_t n, char *err, size_t errlen)
{
    io->in_ng++;
    ssize_t rv = nghttp2_session_mem_recv(io->ng, p, n);
    io->in_ng--;
    if (rv < 0) {
        if (err && errlen)
            snprintf(err, errlen, "http2: %s", nghttp2_strerror((int)rv));
        return -EPROTO;
    }
    return 0;
}

struct h2_sink {
    struct h2io *io;
    char *err;
    size_t errlen;
    int rc;
};

/* tlspump sink: plaintext straight into nghttp2; stops at its first error. */
static size_t h2_sink(void *ud, const uint8_t *p, size_t n)
{
    struct h2_sink *k = ud;
    k->rc = ng_recv(k->io, p, n, k->err, k->errlen);
    return k->rc ? 0 : SIZE_MAX;
}

int h2io_recv(struct h2io *io, const uint8_t *p, size_t n, int *handshake_done, char *err,
              size_t errlen)
{
    if (!io->tls)
        return ng_recv(io, p, n, err, errlen);
    int rc = tlspump_feed(io->tls, &io->tls_ready, p, n, err, errlen);
    if (rc == -ENOMEM) {
        if (err && errlen)
            snprintf(err, errlen, "tls: out of buffer memory");
        return -ENOMEM;
    }
    if (rc < 0 || !io->tls_ready)
        return rc < 0 ? rc : 0;
    if (rc == 1 && handshake_done)
        *handshake_done = 1;
    struct h2_sink k = {io, err, errlen, 0};
    rc = tlspump_pull(io->tls, SIZE_MAX, h2_sink, &k);
    if (k.rc)
        return k.rc;
    if (rc != 0) {
        if (err && errlen)
            snprintf(err, errlen, "tls: %s", rc == TLSPUMP_EOF ? "closed by peer" : "bad record");
        return rc == TLSPUMP_EOF ? -ECONNRESET : rc;
    }
    return 0;
}

static void write_cb(uv_write_t *req, int status)
{
    struct h2io_wreq *w = (struct h2io_wreq *)req;
    struct h2io *io = w->io;
    io->queued -= w->len;
    free(w);
    if (status < 0)
        io->dead = 1;
    if (io->on_written)
        io->on_written(io, status);
}

static int write_out(struct h2io *io)
{
    size_t len = io->out.len;
    if (len == 0 || io->fake)
        return 0;
    size_t off = 0;
    if (io->queued == 0) {
        uv_buf_t b = uv_buf_init(io->out.data, (unsigned)len);
        int r = uv_try_write((uv_stream_t *)&io->tcp, &b, 1);
        if (r > 0)
            off = (size_t)r;
        else if (r < 0 && r != UV_EAGAIN) {
            io->dead = 1;
            return r;
        }
    }
    if (off == len)
        return 0;
    struct h2io_wreq *w = xmalloc(sizeof(*w) + (len - off));
    w->io = io;
    w->len = len - off;
    memcpy(w->data, io->out.data + off, len - off);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)w->len);
    int r = uv_write(&w->req, (uv_stream_t *)&io->tcp, &b, 1, write_cb);
    if (r < 0) {
        free(w);
        io->dead = 1;
        return r;
    }
    io->queued += w->len;
    return 0;
}

int h2io_flush(struct h2io *io)
{
    if (io->dead)
        return -EPIPE;
    if (io->in_ng) {
        io->want_flush = 1;
        return 0;
    }
    io->want_flush = 0;
    for (;;) {
        if (io->queued > H2IO_HIGH_WATER) {
            io->want_flush = 1;
            return 0;
        }
        buf_reset(&io->out);
        buf_reset(&io->plain);
        int more = 0;
        if (!io->tls || io->tls_ready) {
            struct buf *dst = io->tls ? &io->plain : &io->out;
            io->in_ng++;
            for (;;) {
                const uint8_t *data = NULL;
                ssize_t n = nghttp2_session_mem_send(io->ng, &data);
                if (n < 0) {
                    io->in_ng--;
                    io->dead = 1;
                    return -EPROTO;
                }
                if (n == 0)
                    break;
                /* data is only valid until the next mem_send: copy it now. */
                buf_append(dst, data, (size_t)n);
                if (dst->len >= H2IO_CHUNK) {
                    more = 1;
                    break;
                }
            }
            io->in_ng--;
        }
        if (io->tls) {
            /* a full io->out (-E2BIG) is not an error here: it was never checked */
            int rc = io->plain.len ? tlspump_send(io->tls, io->plain.data, io->plain.len, &io->out)
                                   : tlspump_flush(io->tls, &io->out);
            if (rc == -EPROTO) {
                io->dead = 1;
                return -EPROTO;
            }
        }
        int rc = write_out(io);
        if (rc < 0)
            return rc;
        if (!more)
            return 0;
    }
}

int h2io_finished(const struct h2io *io)
{
    return io->ng && !nghttp2_session_want_read(io->ng) && !nghttp2_session_want_write(io->ng);
}

size_t h2io_outq_take(struct buf *q, size_t *off, uint8_t *out, size_t length)
{
    size_t avail = q->len - *off;
    size_t n = avail < length ? avail : length;
    if (n) {
        memcpy(out, q->data + *off, n);
        *off += n;
        if (*off == q->len) {
            buf_reset(q);
            *off = 0;
        } else if (*off >= (64u << 10)) {
            buf_consume(q, *off);
            *off = 0;
        }
    }
    return n;
}
