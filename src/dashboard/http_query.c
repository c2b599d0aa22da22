/* http_query: percent-decoding, query strings and cookies (see http_query.h). */
#include "http_query.h"

#include <errno.h>
#include <string.h>
#include "core/ascii.h"

int http_query_pct_decode(const char *s, size_t n, int plus_as_space, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -EINVAL;
            int h = ascii_hexval((unsigned char)s[i + 1]);
            int l = ascii_hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0)
                return -EINVAL;
            c = (unsigned char)(h * 16 + l);
            i += 2;
        } else if (c == '+' && plus_as_space) {
            c = ' ';
        }
        if (c == '\0')
            return -EINVAL;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return (int)o;
}

void http_query_init(struct http_query *q)
{
    buf_init(&q->store, 0);
    q->n = 0;
}

void http_query_release(struct http_query *q)
{
    buf_release(&q->store);
    q->n = 0;
}

/* Appends the decoded s[0..n) plus a NUL to the store; returns its offset or -EINVAL. */
static long store_decoded(struct http_query *q, const char *s, size_t n)
{
    size_t start = q->store.len;
    /* Reserve n+1 bytes, then decode in place over the reservation. */
    if (buf_append(&q->store, s, n) || buf_putc(&q->store, '\0'))
        return -E2BIG;
    int len = http_query_pct_decode(s, n, 1, q->store.data + start);
    if (len < 0) {
        q->store.len = start;
        q->store.data[start] = '\0';
        return -EINVAL;
    }
    q->store.len = start + (size_t)len + 1;
    return (long)start;
}

int http_query_parse(struct http_query *q, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        const char *seg = s + i;
        const char *amp = memchr(seg, '&', n - i);
        size_t seglen = amp ? (size_t)(amp - seg) : n - i;
        i += seglen + (amp ? 1 : 0);
        if (seglen == 0 || memchr(seg, ';', seglen))
            continue;
        const char *eq = memchr(seg, '=', seglen);
        size_t klen = eq ? (size_t)(eq - seg) : seglen;
        if (q->n >= HTTP_QUERY_MAX_PARAMS)
            return -E2BIG;
        size_t mark = q->store.len;
        long ko = store_decoded(q, seg, klen);
        if (ko < 0)
            continue;
        long vo = eq ? store_decoded(q, eq + 1, seglen - klen - 1) : store_decoded(q, "", 0);
        if (vo < 0) {
            q->store.len = mark;
            q->store.data[mark] = '\0';
            continue;
        }
        q->key_off[q->n] = (size_t)ko;
        q->val_off[q->n] = (size_t)vo;
        q->n++;
    }
    return 0;
}

const char *http_query_get(const struct http_query *q, const char *key)
{
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->store.data + q->key_off[i], key) == 0)
            return q->store.data + q->val_off[i];
    return NULL;
}

const char *http_query_key(const struct http_query *q, size_t i)
{
    return i < q->n ? q->store.data + q->key_off[i] : NULL;
}

const char *http_query_value(const struct http_query *q, size_t i)
{
    return i < q->n ? q->store.data + q->val_off[i] : NULL;
}

/* RFC 7230 token characters (cookie names, as Go's isCookieNameValid). */
static int is_token_char(unsigned char c)
{
    if (c <= 0x20 || c >= 0x7f)
        return 0;
    return !strchr("()<>@,;:\\\"/[]?={}", c);
}

static int valid_cookie_value_byte(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != '"' && c != ';' && c != '\\';
}

int http_query_cookie(const char *header, const char *name, struct slice *out)
{
    size_t name_len = strlen(name);
    const char *p = header;
    while (*p) {
        const char *semi = strchr(p, ';');
        const char *end = semi ? semi : p + strlen(p);
        const char *a = p;
        const char *b = end;
        p = semi ? semi + 1 : end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (a == b)
            continue;
        const char *eq = memchr(a, '=', (size_t)(b - a));
        const char *nend = eq ? eq : b;
        if (nend == a)
            continue;
        int ok = 1;
        for (const char *c = a; c < nend; c++)
            ok &= is_token_char((unsigned char)*c);
        if (!ok || (size_t)(nend - a) != name_len || memcmp(a, name, name_len) != 0)
            continue;
        const char *v = eq ? eq + 1 : b;
        const char *ve = b;
        if (ve - v >= 2 && v[0] == '"' && ve[-1] == '"') {
            v++;
            ve--;
        }
        for (const char *c = v; c < ve; c++)
            ok &= valid_cookie_value_byte((unsigned char)*c);
        if (!ok)
            continue;
        out->ptr = v;
        out->len = (size_t)(ve - v);
        return 0;
    }
    return -ENOENT;
}

/* etagc (RFC 9110 §8.8.3): %x21 / %x23-7E / obs-text. */
static int is_etagc(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c != 0x7f);
}

/* Skips an optional "W/" and returns the opaque tag's end ('"' included) or NULL if malformed. */
static const char *etag_opaque(const char *p, const char **start)
{
    if (p[0] == 'W' && p[1] == '/')
        p += 2;
    if (*p != '"')
        return NULL;
    *start = p++;
    while (is_etagc((unsigned char)*p))
        p++;
    return *p == '"' ? p + 1 : NULL;
}

int http_query_etag_match(const char *header, const char *etag)
{
    const char *want, *want_end = etag_opaque(etag, &want);
    if (!want_end)
        return 0;
    size_t want_len = (size_t)(want_end - want);
    const char *p = header;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '*') {
        const char *q = p + 1;
        while (*q == ' ' || *q == '\t')
            q++;
        return *q == '\0';
    }
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            return 0;
        const char *tag, *end = etag_opaque(p, &tag);
        if (!end)
            return 0;
        if ((size_t)(end - tag) == want_len && memcmp(tag, want, want_len) == 0)
            return 1;
        p = end;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p && *p != ',')
            return 0;
    }
}
