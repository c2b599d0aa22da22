/*
 * http_gzip: content-coding negotiation for the dashboard's HTTP responses
 * (Accept-Encoding, RFC 9110 §12.5.3) and gzip compression with zlib.
 *
 * Pure functions: no sockets, no clock, no global state; the only state is
 * the caller's struct http_gzip_accept. The HTTP server (http.c) uses them to
 * compress large JSON/text bodies on the fly; the web UI's assets are
 * compressed at build time (scripts/embed-assets) and only negotiated here.
 * See docs/internals/http.md, "Compression".
 */
#ifndef LOTUS_DASHBOARD_HTTP_GZIP_H
#define LOTUS_DASHBOARD_HTTP_GZIP_H

#include <stddef.h>

struct buf;

/* Bodies shorter than this are sent as they are: gzip's 18-byte frame and
 * the CPU cost are not worth it, and most such bodies fit one packet anyway. */
#define HTTP_GZIP_MIN_BYTES 1024
/* Bodies longer than this are never compressed on the fly (they are built by
 * the dashboard itself, so this is a guard, not a user-facing limit). */
#define HTTP_GZIP_MAX_BYTES (64u << 20)
/* zlib level for on-the-fly compression (loop thread or work pool): see
 * docs/benchmarks.md, "gzip": on the 1000-server details body level 1 takes
 * about a third of level 6's time for 28 % more bytes (ratio 0.163 vs 0.126). */
#define HTTP_GZIP_LEVEL 1
/* Longest Accept-Encoding value looked at; the rest is ignored (the request
 * head is bounded by http_config.max_header_bytes anyway). */
#define HTTP_GZIP_ACCEPT_MAX 4096

/*
 * What the client's Accept-Encoding header(s) said, as weights in thousandths
 * (0..1000) or -1 when the coding was not listed. Fill with
 * http_gzip_accept_init, then feed every Accept-Encoding field value in order
 * (several header lines are one comma-separated list).
 */
struct http_gzip_accept {
    int seen;    /* any Accept-Encoding field fed at all */
    int gzip_q;  /* highest weight given to "gzip" or "x-gzip" */
    int ident_q; /* highest weight given to "identity" */
    int star_q;  /* highest weight given to "*" */
};

/* Initialises caller storage: nothing seen. */
void http_gzip_accept_init(struct http_gzip_accept *a);
/*
 * Adds one field value (value borrowed, len bytes, need not be
 * NUL-terminated; only the first HTTP_GZIP_ACCEPT_MAX bytes count). Tokens
 * and the "q" parameter name are case-insensitive; whitespace around ',' ';'
 * and '=' is allowed. An element that does not parse (bad token, bad qvalue
 * such as "q=1.5" or "q=abc") is ignored; it never makes gzip acceptable.
 */
void http_gzip_accept_feed(struct http_gzip_accept *a, const char *value, size_t len);
/*
 * 1 when a gzip response should be sent: gzip is acceptable (its own weight,
 * else the weight of "*", is above 0) and identity was not given a strictly
 * higher weight (explicitly, or through "*" when identity is not listed).
 * 0 otherwise, in particular when no Accept-Encoding was fed at all: a client
 * that did not ask for a coding gets the identity body.
 */
int http_gzip_accept_gzip(const struct http_gzip_accept *a);
/* One-header shorthand: value borrowed, NUL-terminated; NULL = header absent. */
int http_gzip_accepts(const char *value);

/*
 * 1 when a body of this Content-Type is worth compressing: any text type, JSON,
 * JavaScript, XML and SVG; 0 for everything else (images, fonts, archives,
 * octet-stream: already compressed or opaque) and for NULL. content_type
 * borrowed; parameters (";charset=...") are ignored.
 */
int http_gzip_compressible(const char *content_type);

/*
 * Compresses in[0..len) (borrowed) as one gzip member (RFC 1952; zlib
 * deflate, window 32 KiB, level 1..9) and appends it to out (borrowed; its
 * maximum applies). Returns 0, -EINVAL (bad level, or len over
 * HTTP_GZIP_MAX_BYTES), -E2BIG (out's maximum reached) or -EIO (zlib failed;
 * out is then left as it was).
 */
int http_gzip_compress(const void *in, size_t len, int level, struct buf *out);

#endif
