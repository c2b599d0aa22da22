/*
 * h2io: the byte plumbing shared by the gRPC server and client connections:
 * uv_tcp <-> (optional TLS memory BIOs, driven by tlspump) <-> nghttp2 session.
 *
 * The owner creates the nghttp2 session (its own callbacks) and the TLS
 * connection, then calls h2io_recv for received bytes and h2io_flush to send.
 * One flush copies nghttp2's mem_send output (and TLS records) into one buffer
 * and makes one write (uv_try_write first, uv_write for the rest). Flushing
 * pauses while more than H2IO_HIGH_WATER bytes wait in the socket; the owner's
 * on_written callback flushes again when writes complete.
 *
 * Pitfalls handled here (docs/internals/grpc.md): no nghttp2 output before the
 * TLS handshake finished; the mem_send pointer is copied before the next call;
 * flushing is refused while inside nghttp2 (in_ng) and reported as wanted.
 */
#ifndef LOTUS_PROTO_H2IO_H
#define LOTUS_PROTO_H2IO_H

#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>
#include <uv.h>

#include "core/buf.h"

struct tls_conn;

#define H2IO_HIGH_WATER (1u << 20)   /* stop producing output above this many queued bytes */
#define H2IO_LOW_WATER  (256u << 10) /* resume reading below this */
#define H2IO_CHUNK      (256u << 10) /* bytes gathered per write */

struct h2io {
    uv_tcp_t tcp;         /* embedded; the owner inits and closes it; tcp.data = owner */
    nghttp2_session *ng;  /* owned (set by the owner, deleted by h2io_release) */
    struct tls_conn *tls; /* owned; NULL for h2c */
    int tls_ready;        /* TLS handshake complete (always 1 for h2c) */
    int in_ng;            /* >0 while inside nghttp2_session_mem_recv/mem_send */
    int fake;             /* no socket (fuzzing): output is discarded */
    int dead;             /* a write failed; nothing more is sent */
    int want_flush;       /* a flush was refused (in_ng / high water) and is due */
    size_t queued;        /* bytes handed to uv_write and not yet completed */
    struct buf out;       /* scratch for one write (ciphertext or h2c bytes) */
    struct buf plain;     /* scratch: plaintext gathered before one TLS write */
    /* Called after each uv_write completes (status 0 or negative uv error). */
    void (*on_written)(struct h2io *io, int status);
};

/* Initialises the non-socket parts. on_written may be NULL. */
void h2io_init(struct h2io *io, void (*on_written)(struct h2io *io, int status));
/* Deletes the session and TLS state and frees the scratch buffer (not the tcp handle). */
void h2io_release(struct h2io *io);
/*
 * Processes received bytes p[0..n) (borrowed): TLS first if any, then
 * nghttp2_session_mem_recv. *handshake_done is set to 1 when the TLS
 * handshake completed during this call (for h2c it is never set).
 * Returns 0, or a negative code with a reason in err: the connection is dead.
 * The caller flushes afterwards (TLS handshake records may be pending).
 */
int h2io_recv(struct h2io *io, const uint8_t *p, size_t n, int *handshake_done, char *err,
              size_t errlen);
/* Sends what nghttp2 (and TLS) have pending. Returns 0 or a negative code (dead). */
int h2io_flush(struct h2io *io);
/* 1 when the session neither wants to read nor write any more (GOAWAY done, fatal). */
int h2io_finished(const struct h2io *io);

/*
 * Copies up to `length` queued bytes of a call's outgoing queue q, starting at
 * *off, into out (an nghttp2 DATA payload) and advances *off; empties or
 * compacts q once it is consumed or 64 KiB of it are. Returns the bytes copied.
 * Shared by the client's and the server's data-source read callbacks.
 */
size_t h2io_outq_take(struct buf *q, size_t *off, uint8_t *out, size_t length);

#endif
