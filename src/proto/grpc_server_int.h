/*
 * grpc_server internals shared with tests and fuzzers only (STYLE rule 2).
 */
#ifndef LOTUS_PROTO_GRPC_SERVER_INT_H
#define LOTUS_PROTO_GRPC_SERVER_INT_H

#include <stddef.h>
#include <stdint.h>

struct grpc_server;

/*
 * Runs p[0..n) (borrowed) as the complete byte stream of one client
 * connection through a socket-less server connection (h2c), delivering calls to
 * the registered methods, then closes that connection (on_close for every call).
 * Output is discarded. Returns 0, or a negative code when the connection was
 * closed early for a protocol error. Used by fuzz/fuzz_h2_server.c.
 */
int grpc_server__feed(struct grpc_server *srv, const uint8_t *p, size_t n);
/*
 * Overrides the keepalive PING period and ACK timeout (ms) for connections
 * accepted afterwards. Defaults: 60000 and 20000.
 */
void grpc_server__set_keepalive(struct grpc_server *srv, unsigned interval_ms, unsigned timeout_ms);

#endif
