/*
 * tlspump: the one memory-BIO driver between a socket and the plaintext user
 * of a tls_conn, shared by the dashboard's HTTP server (http.c), h2io (gRPC
 * server and client) and the agent's HTTP client (httpc). The socket code
 * feeds received ciphertext in (tlspump_feed: also advances the handshake),
 * drains plaintext out to a sink (tlspump_pull), encrypts plaintext
 * (tlspump_send) and collects the ciphertext that must go out (tlspump_send,
 * tlspump_flush; a close_notify queued with tls_conn_close_notify goes out
 * with the next flush) into a struct buf it then writes. No sockets
 * and no allocation of its own: the TLS state is the caller's tls_conn.
 *
 * Ownership: every function borrows t (and the caller's `ready` flag, which
 * records that the handshake completed). Threads: one thread per tls_conn.
 */
#ifndef LOTUS_PROTO_TLSPUMP_H
#define LOTUS_PROTO_TLSPUMP_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct tls_conn;

#define TLSPUMP_RECORD 16384 /* largest TLS plaintext record: one tlspump_pull read */
#define TLSPUMP_EOF    1     /* tlspump_pull: the peer sent close_notify */

/*
 * Queues received ciphertext p[0..n) (borrowed) and, while *ready is 0,
 * advances the handshake. Returns 1 when the handshake completed in this call
 * (*ready is set), 0 otherwise (more input needed, or it was done before),
 * -ENOMEM when the bytes could not be queued (nothing else done), or -EPROTO
 * with a reason in err (certificate, ALPN, protocol error). Handshake records
 * to send may be pending after any return: call tlspump_flush.
 */
int tlspump_feed(struct tls_conn *t, int *ready, const uint8_t *p, size_t n, char *err,
                 size_t errlen);

/*
 * The plaintext consumer of tlspump_pull: takes p[0..n) (borrowed for the
 * call) and returns how many more bytes it accepts now (0 = stop pulling).
 */
typedef size_t (*tlspump_sink)(void *ud, const uint8_t *p, size_t n);

/*
 * Decrypts buffered records into sink, at most min(room, TLSPUMP_RECORD)
 * bytes per read, room being `room` at first and then what the sink returned.
 * Stops when nothing is buffered or room is 0 (the rest stays buffered).
 * Returns 0, TLSPUMP_EOF (close_notify) or -EPROTO (bad record). Reading may
 * produce records to send (key update): call tlspump_flush afterwards.
 */
int tlspump_pull(struct tls_conn *t, size_t room, tlspump_sink sink, void *ud);

/* Encrypts p[0..n) (borrowed) and appends all pending ciphertext to out. 0, -EPROTO or -E2BIG. */
int tlspump_send(struct tls_conn *t, const void *p, size_t n, struct buf *out);

/* Appends pending ciphertext (handshake, alerts, records) to out. 0 or -E2BIG. */
int tlspump_flush(struct tls_conn *t, struct buf *out);

#endif
