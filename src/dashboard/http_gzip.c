/*
 * http_gzip: Accept-Encoding negotiation and zlib gzip compression (see
 * http_gzip.h). The parser walks the field value once, element by element
 * (elements are separated by ','), and keeps only the three weights the
 * decision needs.
 */
#include "dashboard/http_gzip.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "core/buf.h"
#include "core/xalloc.h"

void http_gzip_accept_init(struct http_gzip_accept *a)
{
    a->seen = 0;
    a->gzip_q = -1;
    a->ident_q = -1;
    a->star_q = -1;
}

/* RFC 9110 tchar. */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static void skip_ows(const char **p, const char *end)
{
    while (*p < end && is_ows(**p))
        (*p)++;
}

/*
 * qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), s[0..n).
 * Returns the weight in thousandths, or -1 when it does not parse.
 */
static int parse_qvalue(const char *s, size_t n)
{
    if (n == 0 || (s[0] != '0' && s[0] != '1'))
        return -1;
    int q = (s[0] - '0') * 1000;
    if (n == 1)
        return q;
    if (s[1] != '.' || n > 5)
        return -1;
    int scale = 100;
    for (size_t i = 2; i < n; i++, scale /= 10) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        q += (s[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

/*
 * One element: token *( OWS ";" OWS name OWS "=" OWS value ), s[0..n) with
 * the surrounding whitespace already allowed. Sets *coding to the token and
 * returns its weight (1000 without "q"), or -1 when the element is malformed.
 * Parameters other than q are skipped (Accept-Encoding defines none).
 */
static int parse_element(const char *s, size_t n, struct slice *coding)
{
    const char *p = s, *end = s + n;
    skip_ows(&p, end);
    const char *tok = p;
    while (p < end && is_tchar((unsigned char)*p))
        p++;
    if (p == tok)
        return -1;
    coding->ptr = tok;
    coding->len = (size_t)(p - tok);
    int q = 1000;
    for (;;) {
        skip_ows(&p, end);
        if (p == end)
            return q;
        if (*p != ';')
            return -1;
        p++;
        skip_ows(&p, end);
        const char *name = p;
        while (p < end && is_tchar((unsigned char)*p))
            p++;
        size_t name_len = (size_t)(p - name);
        skip_ows(&p, end);
        if (name_len == 0 || p == end || *p != '=')
            return -1;
        p++;
        skip_ows(&p, end);
        const char *val = p;
        while (p < end && !is_ows(*p) && *p != ';')
            p++;
        if (name_len == 1 && (name[0] == 'q' || name[0] == 'Q')) {
            q = parse_qvalue(val, (size_t)(p - val));
            if (q < 0)
                return -1;
        } else if (p == val) {
            return -1;
        }
    }
}

static int slice_is(const struct slice *s, const char *word)
{
    size_t n = strlen(word);
    return s->len == n && strncasecmp(s->ptr, word, n) == 0;
}

static void raise_to(int *slot, int q)
{
    if (q > *slot)
        *slot = q;
}

void http_gzip_accept_feed(struct http_gzip_accept *a, const char *value, size_t len)
{
    a->seen = 1;
    if (len > HTTP_GZIP_ACCEPT_MAX)
        len = HTTP_GZIP_ACCEPT_MAX;
    const char *p = value, *end = value + len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        struct slice coding;
        int q = parse_element(p, (size_t)(stop - p), &coding);
        if (q >= 0) {
            if (slice_is(&coding, "gzip") || slice_is(&coding, "x-gzip"))
                raise_to(&a->gzip_q, q);
            else if (slice_is(&coding, "identity"))
                raise_to(&a->ident_q, q);
            else if (slice_is(&coding, "*"))
                raise_to(&a->star_q, q);
        }
        p = comma ? comma + 1 : end;
    }
}

int http_gzip_accept_gzip(const struct http_gzip_accept *a)
{
    if (!a->seen)
        return 0;
    int gz = a->gzip_q >= 0 ? a->gzip_q : a->star_q;
    if (gz <= 0)
        return 0;
    int ident = a->ident_q >= 0 ? a->ident_q : a->star_q;
    return ident <= gz;
}

int http_gzip_accepts(const char *value)
{
    if (!value)
        return 0;
    struct http_gzip_accept a;
    http_gzip_accept_init(&a);
    http_gzip_accept_feed(&a, value, strlen(value));
    return http_gzip_accept_gzip(&a);
}

int http_gzip_compressible(const char *content_type)
{
    if (!content_type)
        return 0;
    size_t n = strcspn(content_type, "; \t");
    const char *t = content_type;
    if (n >= 5 && strncasecmp(t, "text/", 5) == 0)
        return 1;
    static const char *const types[] = {
        "application/json", "application/javascript",    "application/xml",
        "image/svg+xml",    "application/manifest+json",
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strlen(types[i]) == n && strncasecmp(t, types[i], n) == 0)
            return 1;
    return n > 5 && strncasecmp(t + n - 5, "+json", 5) == 0;
}

int http_gzip_compress(const void *in, size_t len, int level, struct buf *out)
{
    if (level < 1 || level > 9 || len > HTTP_GZIP_MAX_BYTES)
        return -EINVAL;
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    /* windowBits 15 + 16: a gzip header and trailer instead of zlib's. */
    if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -EIO;
    uLong bound = deflateBound(&zs, (uLong)len);
    unsigned char *tmp = xmalloc(bound);
    zs.next_in = (Bytef *)(uintptr_t)in; /* zlib's API is not const-correct; it only reads */
    zs.avail_in = (uInt)len;
    zs.next_out = tmp;
    zs.avail_out = (uInt)bound;
    int zrc = deflate(&zs, Z_FINISH);
    size_t produced = (size_t)zs.total_out;
    deflateEnd(&zs);
    int rc = 0;
    if (zrc != Z_STREAM_END)
        rc = -EIO;
    else
        rc = buf_append(out, tmp, produced);
    free(tmp);
    return rc;
}
