/* tls: OpenSSL memory-BIO glue shared by the gRPC server and client and the HTTPS listener. */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/buf.h"
#include "core/xalloc.h"
#include "core/errbuf.h"

struct tls_ctx {
    SSL_CTX *ssl;
    int insecure;
    /* Client: the offered ALPN list (wire format), one of which the server must select; 0 =
     * none. */
    unsigned char alpn[TLS_ALPN_MAX];
    size_t alpn_len;
};

struct tls_conn {
    SSL *ssl;
    BIO *rbio; /* network -> SSL; owned by ssl */
    BIO *wbio; /* SSL -> network; owned by ssl */
    int is_server;
    int done;
    const unsigned char *alpn; /* client: the context's required ALPN list (borrowed), or NULL */
    size_t alpn_len;
};

/*
 * A memory BIO keeps the largest size it ever held. Once empty (after the
 * handshake), a BIO holding more than this is replaced by a fresh one, so an
 * idle connection keeps no buffer of its last request or response. 0: always;
 * the allocation is cheap next to the crypto, and it saves ~1.7 KiB per idle
 * HTTPS connection over a 4 KiB threshold (bench/https-idle.sh).
 */
#define BIO_KEEP_BYTES 0

static const unsigned char alpn_h2[] = {2, 'h', '2'};
static const unsigned char alpn_http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

static void set_tls_err(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_get_error();
    char detail[256] = "";
    if (e)
        ERR_error_string_n(e, detail, sizeof(detail));
    errbuf_set(err, errlen, "%s%s%s", what, detail[0] ? ": " : "", detail);
    ERR_clear_error();
}

/* What a server context accepts in ALPN: one protocol, and what to do when the client lacks it. */
struct alpn_policy {
    const unsigned char *wire; /* length-prefixed protocol name */
    size_t wire_len;
    int missing; /* SSL_TLSEXT_ERR_ALERT_FATAL (gRPC: h2 or nothing) or _NOACK (HTTP/1.1) */
};

static const struct alpn_policy alpn_grpc = {alpn_h2, sizeof(alpn_h2), SSL_TLSEXT_ERR_ALERT_FATAL};
/* HTTP/1.1 listener: picks "http/1.1" when offered, else no ALPN at all (never h2). */
static const struct alpn_policy alpn_http = {alpn_http11, sizeof(alpn_http11),
                                             SSL_TLSEXT_ERR_NOACK};

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    const struct alpn_policy *pol = arg;
    unsigned char *sel = NULL;
    if (SSL_select_next_proto(&sel, outlen, pol->wire, (unsigned)pol->wire_len, in, inlen) !=
            OPENSSL_NPN_NEGOTIATED ||
        *outlen != pol->wire[0] || memcmp(sel, pol->wire + 1, pol->wire[0]) != 0)
        return pol->missing;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* alpn: static policy, borrowed for the context's lifetime. */
static int new_server(const char *cert_pem, const char *key_pem, const struct alpn_policy *alpn,
                      struct tls_ctx **out, char *err, size_t errlen)
{
    SSL_CTX *ssl = SSL_CTX_new(TLS_server_method());
    if (!ssl) {
        set_tls_err(err, errlen, "cannot create TLS context");
        return -EINVAL;
    }
    SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION);
    SSL_CTX_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(ssl, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(ssl, cert_pem) != 1) {
        set_tls_err(err, errlen, "cannot load TLS certificate");
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ssl, key_pem, SSL_FILETYPE_PEM) != 1) {
        set_tls_err(err, errlen, "cannot load TLS key");
        goto fail;
    }
    if (SSL_CTX_check_private_key(ssl) != 1) {
        set_tls_err(err, errlen, "TLS key does not match the certificate");
        goto fail;
    }
    SSL_CTX_set_alpn_select_cb(ssl, alpn_select, (void *)alpn);
    struct tls_ctx *c = xcalloc(1, sizeof(*c));
    c->ssl = ssl;
    *out = c;
    return 0;
fail:
    SSL_CTX_free(ssl);
    return -EINVAL;
}

int tls_ctx_new_server(const char *cert_pem, const char *key_pem, struct tls_ctx **out, char *err,
                       size_t errlen)
{
    return new_server(cert_pem, key_pem, &alpn_grpc, out, err, errlen);
}

int tls_ctx_new_server_http(const char *cert_pem, const char *key_pem, struct tls_ctx **out,
                            char *err, size_t errlen)
{
    return new_server(cert_pem, key_pem, &alpn_http, out, err, errlen);
}

/* A wire-format ALPN list: 1..255-byte names, each after its length byte, nothing left over. */
static int alpn_list_ok(const char *alpn, size_t len)
{
    if (len == 0 || len > TLS_ALPN_MAX)
        return 0;
    for (size_t i = 0; i < len; i += 1 + (unsigned char)alpn[i])
        if ((unsigned char)alpn[i] == 0 || i + 1 + (unsigned char)alpn[i] > len)
            return 0;
    return 1;
}

int tls_ctx_new_client(const char *alpn, int insecure, const char *ca_file, struct tls_ctx **out,
                       char *err, size_t errlen)
{
    size_t alpn_len = alpn ? strlen(alpn) : 0;
    if (alpn && !alpn_list_ok(alpn, alpn_len)) {
        errbuf_set(err, errlen, "bad ALPN list");
        return -EINVAL;
    }
    SSL_CTX *ssl = SSL_CTX_new(TLS_client_method());
    if (!ssl) {
        set_tls_err(err, errlen, "cannot create TLS context");
        return -EINVAL;
    }
    SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION);
    SSL_CTX_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
    if (alpn_len &&
        SSL_CTX_set_alpn_protos(ssl, (const unsigned char *)alpn, (unsigned)alpn_len) != 0) {
        set_tls_err(err, errlen, "cannot set ALPN");
        goto fail;
    }
    if (insecure) {
        SSL_CTX_set_verify(ssl, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_CTX_set_verify(ssl, SSL_VERIFY_PEER, NULL);
        if (SSL_CTX_set_default_verify_paths(ssl) != 1) {
            set_tls_err(err, errlen, "cannot load the system CA store");
            goto fail;
        }
        if (ca_file && SSL_CTX_load_verify_locations(ssl, ca_file, NULL) != 1) {
            set_tls_err(err, errlen, "cannot load CA file");
            goto fail;
        }
    }
    struct tls_ctx *c = xcalloc(1, sizeof(*c));
    c->ssl = ssl;
    c->insecure = insecure;
    if (alpn_len)
        memcpy(c->alpn, alpn, alpn_len);
    c->alpn_len = alpn_len;
    *out = c;
    return 0;
fail:
    SSL_CTX_free(ssl);
    return -EINVAL;
}

void tls_ctx_free(struct tls_ctx *ctx)
{
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ssl);
    free(ctx);
}

static int is_ip_literal(const char *host)
{
    unsigned char tmp[16];
    return inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;
}

static BIO *mem_bio(void)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b) {
        fprintf(stderr, "fatal: out of memory in OpenSSL\n");
        abort();
    }
    /* An empty BIO means "retry later", not end of file. */
    BIO_set_mem_eof_return(b, -1);
    return b;
}

/* Bytes the memory BIO b has allocated. */
static size_t bio_capacity(BIO *b)
{
    BUF_MEM *bm = NULL;
    BIO_get_mem_ptr(b, &bm);
    return bm ? bm->max : 0;
}

struct tls_conn *tls_conn_new(struct tls_ctx *ctx, int is_server, const char *host)
{
    struct tls_conn *t = xcalloc(1, sizeof(*t));
    t->ssl = SSL_new(ctx->ssl);
    if (!t->ssl) {
        fprintf(stderr, "fatal: out of memory in OpenSSL\n");
        abort();
    }
    t->rbio = mem_bio();
    t->wbio = mem_bio();
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    t->is_server = is_server;
    if (!is_server && ctx->alpn_len) {
        t->alpn = ctx->alpn; /* the context outlives its connections (tls_ctx_free's contract) */
        t->alpn_len = ctx->alpn_len;
    }
    if (is_server) {
        SSL_set_accept_state(t->ssl);
    } else {
        SSL_set_connect_state(t->ssl);
        if (host && host[0] && !is_ip_literal(host))
            SSL_set_tlsext_host_name(t->ssl, host);
        if (!ctx->insecure && host && host[0]) {
            if (is_ip_literal(host)) {
                X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);
                X509_VERIFY_PARAM_set1_ip_asc(vp, host);
            } else {
                SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
                SSL_set1_host(t->ssl, host);
            }
        }
    }
    return t;
}

void tls_conn_free(struct tls_conn *t)
{
    if (!t)
        return;
    SSL_free(t->ssl); /* frees both BIOs */
    free(t);
}

int tls_conn_feed(struct tls_conn *t, const uint8_t *p, size_t n)
{
    if (n == 0)
        return 0;
    if (n > INT32_MAX || BIO_write(t->rbio, p, (int)n) != (int)n)
        return -ENOMEM;
    return 0;
}

/* 1 when proto[0..plen) is one of the names in the wire-format list. */
static int alpn_in_list(const unsigned char *list, size_t len, const unsigned char *proto,
                        unsigned plen)
{
    for (size_t i = 0; i < len; i += 1 + list[i])
        if (plen && list[i] == plen && memcmp(list + i + 1, proto, plen) == 0)
            return 1;
    return 0;
}

/* "TLS peer did not negotiate ALPN h2" (names joined by ','). */
static void alpn_missing_err(const unsigned char *list, size_t len, char *err, size_t errlen)
{
    char names[TLS_ALPN_MAX + 1];
    size_t o = 0;
    for (size_t i = 0; i < len; i += 1 + list[i]) {
        if (o)
            names[o++] = ',';
        memcpy(names + o, list + i + 1, list[i]);
        o += list[i];
    }
    names[o] = '\0';
    if (err && errlen)
        snprintf(err, errlen, "TLS peer did not negotiate ALPN %s", names);
}

int tls_conn_handshake(struct tls_conn *t, char *err, size_t errlen)
{
    if (t->done)
        return 1;
    ERR_clear_error();
    int rc = SSL_do_handshake(t->ssl);
    if (rc == 1) {
        const unsigned char *proto = NULL;
        unsigned int plen = 0;
        SSL_get0_alpn_selected(t->ssl, &proto, &plen);
        if (t->alpn && !alpn_in_list(t->alpn, t->alpn_len, proto, plen)) {
            alpn_missing_err(t->alpn, t->alpn_len, err, errlen);
            return -EPROTO;
        }
        t->done = 1;
        return 1;
    }
    int e = SSL_get_error(t->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    long vr = SSL_get_verify_result(t->ssl);
    if (!t->is_server && vr != X509_V_OK) {
        if (err && errlen)
            snprintf(err, errlen, "TLS certificate verification failed: %s",
                     X509_verify_cert_error_string(vr));
        ERR_clear_error();
    } else {
        set_tls_err(err, errlen, "TLS handshake failed");
    }
    return -EPROTO;
}

int tls_conn_read(struct tls_conn *t, uint8_t *out, size_t cap)
{
    ERR_clear_error();
    int n = SSL_read(t->ssl, out, cap > INT32_MAX ? INT32_MAX : (int)cap);
    if (n > 0)
        return n;
    int e = SSL_get_error(t->ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        if (t->done && BIO_ctrl_pending(t->rbio) == 0 && bio_capacity(t->rbio) > BIO_KEEP_BYTES) {
            t->rbio = mem_bio();
            SSL_set0_rbio(t->ssl, t->rbio); /* frees the old one */
        }
        return 0;
    }
    ERR_clear_error();
    if (e == SSL_ERROR_ZERO_RETURN)
        return -ECONNRESET;
    return -EPROTO;
}

int tls_conn_write(struct tls_conn *t, const uint8_t *p, size_t n)
{
    while (n > 0) {
        int chunk = n > (1u << 30) ? (1 << 30) : (int)n;
        ERR_clear_error();
        int w = SSL_write(t->ssl, p, chunk);
        if (w <= 0) {
            ERR_clear_error();
            return -EPROTO;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int tls_conn_drain(struct tls_conn *t, struct buf *out)
{
    char *data = NULL;
    long n = BIO_get_mem_data(t->wbio, &data);
    if (n > 0) {
        int rc = buf_append(out, data, (size_t)n);
        (void)BIO_reset(t->wbio);
        if (t->done && bio_capacity(t->wbio) > BIO_KEEP_BYTES) {
            t->wbio = mem_bio();
            SSL_set0_wbio(t->ssl, t->wbio); /* frees the old one */
        }
        if (rc)
            return rc;
    }
    return 0;
}

size_t tls_conn_buffered(const struct tls_conn *t)
{
    return BIO_ctrl_pending(t->rbio) + (size_t)SSL_pending(t->ssl);
}

void tls_conn_close_notify(struct tls_conn *t)
{
    if (!t->done)
        return;
    ERR_clear_error();
    (void)SSL_shutdown(t->ssl);
    ERR_clear_error();
}

int tls_conn_peer_issuer_cn(const struct tls_conn *t, char *out, size_t n)
{
    if (n)
        out[0] = '\0';
    if (!t->done)
        return -ENOENT;
    X509 *cert = SSL_get0_peer_certificate(t->ssl);
    if (!cert)
        return -ENOENT;
    const X509_NAME *name = X509_get_issuer_name(cert);
    int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (idx < 0 || n == 0)
        return 0;
    const ASN1_STRING *a = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    unsigned char *utf8 = NULL;
    int len = ASN1_STRING_to_UTF8(&utf8, a);
    if (len < 0)
        return 0;
    size_t l = (size_t)len < n - 1 ? (size_t)len : n - 1;
    for (size_t i = 0; i < l; i++)
        out[i] = utf8[i] < 0x20 || utf8[i] == 0x7f ? '?' : (char)utf8[i];
    out[l] = '\0';
    OPENSSL_free(utf8);
    return 0;
}

int tls_conn_peer_not_after(const struct tls_conn *t, int64_t *not_after)
{
    if (!t->done)
        return -ENOENT;
    X509 *cert = SSL_get0_peer_certificate(t->ssl);
    if (!cert)
        return -ENOENT;
    struct tm tm;
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1)
        return -ENOENT;
    int64_t days = 0;
    /* days from 1970-01-01 to tm (proleptic Gregorian; civil-from-days inverse) */
    int y = tm.tm_year + 1900, m = tm.tm_mon + 1;
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + tm.tm_mday - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    days = era * 146097 + doe - 719468;
    *not_after = days * 86400 + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
    return 0;
}
