/*
 * tls: the server contexts in memory, against a plain OpenSSL client on memory
 * BIOs (no sockets): ALPN of the HTTP/1.1 context (http/1.1 or none, never h2)
 * next to the gRPC one (h2 only), data both ways, close_notify both ways,
 * input that is not TLS, buffered-byte accounting and start-up errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/buf.h"
#include "proto/tls.h"

struct fx {
    char dir[64];
    char cert[128];
    char key[128];
    SSL_CTX *cctx;
    SSL *cl;
    BIO *c_in;  /* server -> client (owned by cl) */
    BIO *c_out; /* client -> server (owned by cl) */
    struct tls_ctx *sctx;
    struct tls_conn *sv;
};

/* Self-signed EC certificate for "localhost". */
static void make_cert(struct fx *f)
{
    snprintf(f->dir, sizeof(f->dir), "/tmp/lotus-tls-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->cert, sizeof(f->cert), "%s/cert.pem", f->dir);
    snprintf(f->key, sizeof(f->key), "%s/key.pem", f->dir);
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    assert_non_null(pk);
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pk);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
    FILE *fp = fopen(f->cert, "w");
    assert_non_null(fp);
    PEM_write_X509(fp, x);
    fclose(fp);
    fp = fopen(f->key, "w");
    assert_non_null(fp);
    PEM_write_PrivateKey(fp, pk, NULL, NULL, 0, NULL, NULL);
    fclose(fp);
    X509_free(x);
    EVP_PKEY_free(pk);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    make_cert(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    tls_conn_free(f->sv);
    tls_ctx_free(f->sctx);
    SSL_free(f->cl);
    SSL_CTX_free(f->cctx);
    unlink(f->cert);
    unlink(f->key);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* A client (no verification: the test is about the server side) offering alpn (wire format). */
static void new_client(struct fx *f, const unsigned char *alpn, unsigned alen)
{
    f->cctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(f->cctx);
    SSL_CTX_set_verify(f->cctx, SSL_VERIFY_NONE, NULL);
    if (alpn)
        assert_int_equal(SSL_CTX_set_alpn_protos(f->cctx, alpn, alen), 0);
    f->cl = SSL_new(f->cctx);
    f->c_in = BIO_new(BIO_s_mem());
    f->c_out = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(f->c_in, -1);
    BIO_set_mem_eof_return(f->c_out, -1);
    SSL_set_bio(f->cl, f->c_in, f->c_out);
    SSL_set_connect_state(f->cl);
}

/* Moves the client's pending output to the server. */
static void client_to_server(struct fx *f)
{
    char *p = NULL;
    long n = BIO_get_mem_data(f->c_out, &p);
    if (n > 0)
        assert_int_equal(tls_conn_feed(f->sv, (const uint8_t *)p, (size_t)n), 0);
    (void)BIO_reset(f->c_out);
}

/* Moves the server's pending output to the client. */
static void server_to_client(struct fx *f)
{
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(tls_conn_drain(f->sv, &b), 0);
    if (b.len)
        assert_int_equal(BIO_write(f->c_in, b.data, (int)b.len), (int)b.len);
    buf_release(&b);
}

/* Runs both handshakes; returns the server's last tls_conn_handshake result. */
static int handshake(struct fx *f)
{
    char err[256] = "";
    int rc = 0;
    for (int i = 0; i < 10; i++) {
        int c = SSL_do_handshake(f->cl);
        client_to_server(f);
        rc = tls_conn_handshake(f->sv, err, sizeof(err));
        server_to_client(f);
        if (rc < 0)
            return rc;
        if (rc == 1 && c == 1)
            return 1;
    }
    return rc;
}

static void start(struct fx *f, int http, const unsigned char *alpn, unsigned alen)
{
    char err[256];
    int rc = http ? tls_ctx_new_server_http(f->cert, f->key, &f->sctx, err, sizeof(err))
                  : tls_ctx_new_server(f->cert, f->key, &f->sctx, err, sizeof(err));
    assert_int_equal(rc, 0);
    f->sv = tls_conn_new(f->sctx, 1, NULL);
    new_client(f, alpn, alen);
}

static const unsigned char h2_and_http11[] = {2,   'h', '2', 8,   'h', 't',
                                              't', 'p', '/', '1', '.', '1'};
static const unsigned char h2_only[] = {2, 'h', '2'};
static const unsigned char http11_only[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

static void selected(struct fx *f, const char *want)
{
    const unsigned char *p = NULL;
    unsigned n = 0;
    SSL_get0_alpn_selected(f->cl, &p, &n);
    if (!want) {
        assert_int_equal(n, 0);
        return;
    }
    assert_int_equal(n, strlen(want));
    assert_memory_equal(p, want, n);
}

static void test_tls__http_context_picks_http11_over_h2(void **state)
{
    struct fx *f = *state;
    start(f, 1, h2_and_http11, sizeof(h2_and_http11));
    assert_int_equal(handshake(f), 1);
    selected(f, "http/1.1");
    /* Request and answer through the glue. */
    assert_int_equal(SSL_write(f->cl, "GET / HTTP/1.1\r\n\r\n", 18), 18);
    client_to_server(f);
    assert_true(tls_conn_buffered(f->sv) > 0);
    uint8_t got[64];
    assert_int_equal(tls_conn_read(f->sv, got, sizeof(got)), 18);
    assert_memory_equal(got, "GET / HTTP/1.1\r\n\r\n", 18);
    assert_int_equal(tls_conn_read(f->sv, got, sizeof(got)), 0);
    assert_int_equal(tls_conn_buffered(f->sv), 0);
    assert_int_equal(tls_conn_write(f->sv, (const uint8_t *)"HTTP/1.1 200 OK", 15), 0);
    server_to_client(f);
    char out[64];
    assert_int_equal(SSL_read(f->cl, out, sizeof(out)), 15);
    assert_memory_equal(out, "HTTP/1.1 200 OK", 15);
    /* Our close_notify reaches the client as a clean end. */
    tls_conn_close_notify(f->sv);
    server_to_client(f);
    assert_true(SSL_read(f->cl, out, sizeof(out)) <= 0);
    assert_int_equal(SSL_get_error(f->cl, 0), SSL_ERROR_ZERO_RETURN);
}

static void test_tls__http_context_never_picks_h2(void **state)
{
    struct fx *f = *state;
    start(f, 1, h2_only, sizeof(h2_only));
    assert_int_equal(handshake(f), 1); /* no ALPN, but no failure either */
    selected(f, NULL);
    /* The client's close_notify reads as -ECONNRESET (EOF for http.c). */
    assert_int_equal(SSL_shutdown(f->cl), 0);
    client_to_server(f);
    uint8_t got[16];
    assert_int_equal(tls_conn_read(f->sv, got, sizeof(got)), -ECONNRESET);
}

static void test_tls__http_context_without_alpn(void **state)
{
    struct fx *f = *state;
    start(f, 1, NULL, 0);
    assert_int_equal(handshake(f), 1);
    selected(f, NULL);
}

static void test_tls__grpc_context_still_h2_only(void **state)
{
    struct fx *f = *state;
    start(f, 0, h2_and_http11, sizeof(h2_and_http11));
    assert_int_equal(handshake(f), 1);
    selected(f, "h2");
    tls_conn_free(f->sv);
    SSL_free(f->cl);
    SSL_CTX_free(f->cctx);
    f->sv = tls_conn_new(f->sctx, 1, NULL);
    new_client(f, http11_only, sizeof(http11_only));
    assert_int_equal(handshake(f), -EPROTO);
}

static void test_tls__plain_http_is_a_handshake_error(void **state)
{
    struct fx *f = *state;
    start(f, 1, NULL, 0);
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(tls_conn_feed(f->sv, (const uint8_t *)req, sizeof(req) - 1), 0);
    char err[256] = "";
    assert_int_equal(tls_conn_handshake(f->sv, err, sizeof(err)), -EPROTO);
    assert_non_null(strstr(err, "TLS handshake failed"));
    /* A half-received hello waits for more (buffered counts it). */
    tls_conn_free(f->sv);
    f->sv = tls_conn_new(f->sctx, 1, NULL);
    static const uint8_t part[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01};
    assert_int_equal(tls_conn_feed(f->sv, part, sizeof(part)), 0);
    assert_int_equal(tls_conn_handshake(f->sv, err, sizeof(err)), 0);
}

static void test_tls__bad_files_fail_with_a_reason(void **state)
{
    struct fx *f = *state;
    char err[256] = "";
    struct tls_ctx *c = NULL;
    assert_int_equal(tls_ctx_new_server_http("/nonexistent/cert.pem", f->key, &c, err, sizeof(err)),
                     -EINVAL);
    assert_null(c);
    assert_non_null(strstr(err, "cannot load TLS certificate"));
    assert_int_equal(tls_ctx_new_server_http(f->cert, f->cert, &c, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "cannot load TLS key"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tls__http_context_picks_http11_over_h2, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tls__http_context_never_picks_h2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls__http_context_without_alpn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls__grpc_context_still_h2_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls__plain_http_is_a_handshake_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls__bad_files_fail_with_a_reason, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
