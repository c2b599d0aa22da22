/*
 * tls: OpenSSL 3 glue for TLS over an event loop with memory BIOs. The socket
 * code feeds received ciphertext in (tls_conn_feed), drives the handshake,
 * reads plaintext out, writes plaintext in and drains ciphertext to send.
 * No sockets here, so the same code serves the gRPC server and client and the
 * dashboard's HTTPS listener.
 *
 * Contexts: the gRPC server context loads a PEM certificate chain and key and
 * selects ALPN "h2"; the HTTP server context does the same but selects
 * "http/1.1" (or no ALPN). There is one client setup path: the caller chooses
 * the ALPN list it offers (TLS_ALPN_H2 for the gRPC client, NULL for the
 * agent's HTTP/1.1 client httpc) and the peer is verified against the system
 * store (plus ca_file) unless insecure, with SNI and host/IP checks per
 * connection (tls_conn_new).
 *
 * Memory: SSL_MODE_RELEASE_BUFFERS frees OpenSSL's record buffers while a
 * connection is idle, and a memory BIO that grew past a few KiB is replaced
 * once it is empty, so an idle connection holds only the SSL object.
 */
#ifndef LOTUS_PROTO_TLS_H
#define LOTUS_PROTO_TLS_H

#include <stddef.h>
#include <stdint.h>

/* ALPN lists in wire format (each name after its length byte), for tls_ctx_new_client. */
#define TLS_ALPN_H2  "\x02h2"
#define TLS_ALPN_MAX 64 /* bytes of a client's ALPN list */

struct buf;
struct tls_ctx;
struct tls_conn;

/*
 * Server context from PEM paths (borrowed). On success *out is owned by the
 * caller (tls_ctx_free) and 0 is returned; else -EINVAL and a message in err.
 */
int tls_ctx_new_server(const char *cert_pem, const char *key_pem, struct tls_ctx **out, char *err,
                       size_t errlen);
/*
 * Like tls_ctx_new_server, for an HTTP/1.1 listener: TLS >= 1.2, ALPN
 * "http/1.1" when the client offers it, else no ALPN (a client that offers
 * only h2 gets none and must speak HTTP/1.1).
 */
int tls_ctx_new_server_http(const char *cert_pem, const char *key_pem, struct tls_ctx **out,
                            char *err, size_t errlen);
/*
 * Client context: TLS >= 1.2. alpn (borrowed, copied; NULL = offer none) is a
 * wire-format list (TLS_ALPN_H2) that is offered and required: a handshake in
 * which the server selects none of them fails with "TLS peer did not negotiate
 * ALPN <names>". insecure = no certificate checks; ca_file (borrowed, may be
 * NULL) adds trusted CAs to the system store. Returns 0 and *out (owned by the
 * caller, tls_ctx_free), or -EINVAL with a message in err (bad ALPN list, CA
 * file that cannot be loaded, OpenSSL failure). Any thread.
 */
int tls_ctx_new_client(const char *alpn, int insecure, const char *ca_file, struct tls_ctx **out,
                       char *err, size_t errlen);
/* NULL is a no-op. Connections made from it keep it alive (refcounted by OpenSSL). */
void tls_ctx_free(struct tls_ctx *ctx);

/*
 * New connection (owned by the caller; tls_conn_free). For a client, host
 * (borrowed) is sent as SNI (unless it is an IP literal) and, unless the context
 * is insecure, checked against the certificate. host is ignored for servers.
 */
struct tls_conn *tls_conn_new(struct tls_ctx *ctx, int is_server, const char *host);
void tls_conn_free(struct tls_conn *t);
/* Queues received ciphertext p[0..n) (borrowed). Returns 0 or -ENOMEM. */
int tls_conn_feed(struct tls_conn *t, const uint8_t *p, size_t n);
/*
 * Advances the handshake with what was fed. Returns 1 when it is complete
 * (also on later calls), 0 if more input is needed, or -EPROTO with a reason in
 * err (certificate, client: none of the context's required ALPN names, protocol
 * error).
 */
int tls_conn_handshake(struct tls_conn *t, char *err, size_t errlen);
/*
 * Reads decrypted bytes into out (borrowed, cap bytes). Returns n > 0, 0 when
 * nothing is buffered, or -ECONNRESET on close_notify / -EPROTO on error.
 */
int tls_conn_read(struct tls_conn *t, uint8_t *out, size_t cap);
/* Encrypts p[0..n) (borrowed). Returns 0 or -EPROTO. */
int tls_conn_write(struct tls_conn *t, const uint8_t *p, size_t n);
/* Moves all pending ciphertext to the end of out (borrowed). Returns 0 or -E2BIG. */
int tls_conn_drain(struct tls_conn *t, struct buf *out);
/* Bytes fed but not yet read out: ciphertext waiting plus decrypted bytes held by OpenSSL. */
size_t tls_conn_buffered(const struct tls_conn *t);
/*
 * The verified peer certificate's notAfter as Unix seconds in *not_after.
 * Returns 0, or -ENOENT before the handshake / without a peer certificate.
 * For the agent's HTTP monitors (certificate expiry).
 */
int tls_conn_peer_not_after(const struct tls_conn *t, int64_t *not_after);
/*
 * The verified peer certificate's issuer commonName (UTF-8, truncated) into
 * out[n]. Returns 0 ("" when the issuer has no CN), or -ENOENT before the
 * handshake / without a peer certificate. For the agent's HTTP monitors.
 */
int tls_conn_peer_issuer_cn(const struct tls_conn *t, char *out, size_t n);
/* Queues a close_notify alert (after the handshake only); tls_conn_drain sends it. */
void tls_conn_close_notify(struct tls_conn *t);

#endif
