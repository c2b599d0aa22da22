/*
 * jw: streaming JSON writer with Go encoding/json output (see jw.h). Doubles
 * are formatted by core/dtoa (one call), integers by core/itoa (inline).
 */
#include "jw.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "buf.h"
#include "ascii.h"
#include "dtoa.h"
#include "itoa.h"

/*
 * Inline fast paths for appending to a struct buf: when the bytes fit in the
 * current capacity and under the maximum, copy directly (keeping the NUL);
 * otherwise defer to buf_append, which grows or records the sticky error.
 */
static inline int put(struct buf *b, const void *p, size_t n)
{
    if (!b->err && b->len + n < b->cap && (!b->max || b->len + n <= b->max)) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
    }
    return buf_append(b, p, n);
}

static inline int putch(struct buf *b, char c)
{
    if (!b->err && b->len + 1 < b->cap && (!b->max || b->len + 1 <= b->max)) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return 0;
    }
    return buf_append(b, &c, 1);
}

/* ---- strings ---- */

/* 0: copy as is; 1: needs escaping or UTF-8 checking. */
static const unsigned char needs_care[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/*
 * Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid, with the
 * same acceptance as Go's utf8.DecodeRune (no overlongs, no surrogates, max
 * U+10FFFF). *cp receives the code point.
 */
static size_t utf8_seq(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0];
    if (c < 0xC2 || c > 0xF4)
        return 0;
    if (c < 0xE0) {
        if (n < 2 || (s[1] & 0xC0) != 0x80)
            return 0;
        *cp = ((c & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    unsigned lo = 0x80;
    unsigned hi = 0xBF;
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (n < 2 || s[1] < lo || s[1] > hi)
        return 0;
    if (c < 0xF0) {
        if (n < 3 || (s[2] & 0xC0) != 0x80)
            return 0;
        *cp = ((c & 0x0F) << 12) | ((unsigned)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        return 3;
    }
    if (n < 4 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
        return 0;
    *cp = ((c & 0x07) << 18) | ((unsigned)(s[1] & 0x3F) << 12) | ((unsigned)(s[2] & 0x3F) << 6) |
          (s[3] & 0x3F);
    return 4;
}

/*
 * True when one of the 8 bytes in x needs care (see needs_care). Each test
 * is exact about whether some byte matches (false alarms only cost a byte
 * loop): bytes < 0x20, bytes >= 0x80, and bytes equal to 0x22/0x26 (`"` `&`,
 * folded by setting bit 2), 0x3C/0x3E (`<` `>`, bit 1) or 0x5C (`\`).
 */
static inline int word_needs_care(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull;
    const uint64_t high = 0x8080808080808080ull;
    uint64_t q = (x | ones * 0x04) ^ (ones * 0x26);
    uint64_t a = (x | ones * 0x02) ^ (ones * 0x3E);
    uint64_t bs = x ^ (ones * 0x5C);
    uint64_t hit = ((x - ones * 0x20) & ~x) | x;
    hit |= (q - ones) & ~q;
    hit |= (a - ones) & ~a;
    hit |= (bs - ones) & ~bs;
    return (hit & high) != 0;
}

/* Handles the byte at s[*i] that needs care: writes it (escaped or, for
 * valid UTF-8, as is) at d, advances *i, returns the new end. */
static char *escape_one(char *d, const unsigned char *s, size_t n, size_t *i)
{
    unsigned c = s[*i];
    if (c >= 0x80) {
        unsigned cp = 0;
        size_t l = utf8_seq(s + *i, n - *i, &cp);
        if (l && cp != 0x2028 && cp != 0x2029) {
            memcpy(d, s + *i, l);
            *i += l;
            return d + l;
        }
        if (l)
            memcpy(d, cp == 0x2028 ? "\\u2028" : "\\u2029", 6);
        else
            memcpy(d, "\\ufffd", 6);
        *i += l ? l : 1;
        return d + 6;
    }
    *i += 1;
    d[0] = '\\';
    if (c == '"' || c == '\\') {
        d[1] = (char)c;
        return d + 2;
    }
    if (c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f') {
        d[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : c == '\b' ? 'b' : 'f';
        return d + 2;
    }
    memcpy(d + 1, "u00", 3);
    d[4] = ascii_hex_lower[c >> 4];
    d[5] = ascii_hex_lower[c & 15];
    return d + 6;
}

char *jw_put_str(char *d, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    size_t run = 0; /* s[run..i) was copied as is, ending at d */
    *d++ = '"';
    for (;;) {
        /* Eight clean bytes at a time; the output never runs ahead of the
         * bound since every input byte produces at least one. */
        while (n - i >= 8) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            if (word_needs_care(x))
                break;
            memcpy(d, &x, 8);
            d += 8;
            i += 8;
        }
        /* A short clean rest: one word ending at n (overlapping bytes before
         * i of the current verbatim run, rewritten with the same values), or
         * two overlapping 4-byte halves. */
        if (n - i < 8 && i < n && n - run >= 8) {
            uint64_t x;
            memcpy(&x, s + n - 8, 8);
            if (!word_needs_care(x)) {
                memcpy(d - (i - (n - 8)), &x, 8);
                d += n - i;
                break;
            }
        } else if (n - i < 8 && n - i >= 4) {
            uint32_t a;
            uint32_t b;
            memcpy(&a, s + i, 4);
            memcpy(&b, s + n - 4, 4);
            if (!word_needs_care((uint64_t)a | (uint64_t)b << 32)) {
                memcpy(d + (n - 4 - i), &b, 4);
                memcpy(d, &a, 4);
                d += n - i;
                break;
            }
        }
        while (i < n && !needs_care[s[i]])
            *d++ = (char)s[i++];
        if (i == n)
            break;
        d = escape_one(d, s, n, &i);
        run = i;
    }
    *d++ = '"';
    return d;
}

char *jw_put_u64(char *d, uint64_t v)
{
    return itoa_put_u64(d, v);
}

char *jw_put_i64(char *d, int64_t v)
{
    if (v < 0) {
        *d++ = '-';
        return itoa_put_u64(d, (uint64_t)0 - (uint64_t)v);
    }
    return itoa_put_u64(d, (uint64_t)v);
}

char *jw_put_double(char *d, double v)
{
    if (!isfinite(v))
        return d;
    return dtoa_put_go(d, v);
}

char *jw_reserve(struct buf *out, size_t n)
{
    if (out->err || (out->max && (out->len > out->max || n > out->max - out->len)))
        return NULL;
    if (out->len + n >= out->cap && buf_reserve(out, n) != 0)
        return NULL;
    return out->data + out->len;
}

void jw_commit(struct buf *out, char *end)
{
    out->len = (size_t)(end - out->data);
    out->data[out->len] = '\0';
}

/*
 * Writes len bytes produced by a cursor writer through the reservation, or
 * (near the buffer's maximum, where the worst case may not fit though the
 * real output does) through a scratch buffer and buf_append.
 */
#define VIA_CURSOR(out, bound, call)                                                               \
    do {                                                                                           \
        char *d_ = jw_reserve((out), (bound));                                                     \
        if (d_) {                                                                                  \
            char *d = d_;                                                                          \
            jw_commit((out), (call));                                                              \
        } else if (!(out)->err) {                                                                  \
            struct buf t_;                                                                         \
            buf_init(&t_, 0);                                                                      \
            char *d = jw_reserve(&t_, (bound));                                                    \
            if (d) {                                                                               \
                jw_commit(&t_, (call));                                                            \
                buf_append((out), t_.data, t_.len);                                                \
            }                                                                                      \
            buf_release(&t_);                                                                      \
        }                                                                                          \
    } while (0)

int jw_append_string(struct buf *out, const char *s, size_t n)
{
    if (n > (SIZE_MAX - 2) / 6)
        return buf_reserve(out, SIZE_MAX); /* cannot fit: sets the buffer's error */
    VIA_CURSOR(out, JW_STR_BOUND(n), jw_put_str(d, s, n));
    return out->err;
}

static int before_value(struct jw *w);

int jw_append_u64(struct buf *out, uint64_t v)
{
    char tmp[JW_INT_BOUND];
    return put(out, tmp, (size_t)(itoa_put_u64(tmp, v) - tmp));
}

int jw_append_i64(struct buf *out, int64_t v)
{
    char tmp[JW_INT_BOUND];
    return put(out, tmp, (size_t)(jw_put_i64(tmp, v) - tmp));
}

int jw_append_double(struct buf *out, double v)
{
    if (!isfinite(v))
        return -EINVAL;
    char tmp[DTOA_GO_MAX];
    return put(out, tmp, (size_t)(dtoa_put_go(tmp, v) - tmp));
}

int jw_append_lit(struct buf *out, const char *s, size_t n)
{
    return put(out, s, n);
}

struct buf *jw_raw_value(struct jw *w)
{
    if (before_value(w))
        return NULL;
    return w->out;
}

/* ---- structure ---- */

void jw_init(struct jw *w, struct buf *out)
{
    w->out = out;
    w->err = out->err;
    w->depth = 0;
    w->nonempty = 0;
    w->is_obj = 0;
    w->after_key = 0;
}

int jw_finish(const struct jw *w)
{
    if (w->err)
        return w->err;
    if (w->out->err)
        return w->out->err;
    if (w->depth != 0 || w->after_key)
        return -EINVAL;
    return 0;
}

static void set_err(struct jw *w, int e)
{
    if (!w->err)
        w->err = e;
}

/* Emits the separator before a value; returns nonzero if the writer is in error. */
static int before_value(struct jw *w)
{
    if (w->err)
        return 1;
    if (w->after_key) {
        w->after_key = 0;
        return 0;
    }
    if (w->depth > 0) {
        uint64_t bit = 1ull << (w->depth - 1);
        if (w->is_obj & bit) { /* a value in an object needs a key first */
            set_err(w, -EINVAL);
            return 1;
        }
        if (w->nonempty & bit)
            putch(w->out, ',');
        w->nonempty |= bit;
    }
    return 0;
}

static void after_write(struct jw *w)
{
    if (w->out->err)
        set_err(w, w->out->err);
}

static void begin(struct jw *w, char c, int obj)
{
    if (before_value(w))
        return;
    if (w->depth >= JW_MAX_DEPTH) {
        set_err(w, -ERANGE);
        return;
    }
    putch(w->out, c);
    uint64_t bit = 1ull << w->depth;
    w->nonempty &= ~bit;
    if (obj)
        w->is_obj |= bit;
    else
        w->is_obj &= ~bit;
    w->depth++;
    after_write(w);
}

static void end(struct jw *w, char c, int obj)
{
    if (w->err)
        return;
    if (w->depth == 0 || w->after_key || (((w->is_obj >> (w->depth - 1)) & 1) != (uint64_t)obj)) {
        set_err(w, -EINVAL);
        return;
    }
    w->depth--;
    putch(w->out, c);
    after_write(w);
}

void jw_obj_begin(struct jw *w)
{
    begin(w, '{', 1);
}

void jw_obj_end(struct jw *w)
{
    end(w, '}', 1);
}

void jw_arr_begin(struct jw *w)
{
    begin(w, '[', 0);
}

void jw_arr_end(struct jw *w)
{
    end(w, ']', 0);
}

/* Emits the separator before a key; returns nonzero if the writer is in error. */
static int before_key(struct jw *w)
{
    if (w->err)
        return 1;
    uint64_t bit = w->depth ? 1ull << (w->depth - 1) : 0;
    if (!bit || !(w->is_obj & bit) || w->after_key) {
        set_err(w, -EINVAL);
        return 1;
    }
    if (w->nonempty & bit)
        putch(w->out, ',');
    w->nonempty |= bit;
    return 0;
}

void jw_key_ascii(struct jw *w, const char *s, size_t n)
{
    if (before_key(w))
        return;
    struct buf *b = w->out;
    if (putch(b, '"') == 0 && put(b, s, n) == 0)
        put(b, "\":", 2);
    w->after_key = 1;
    after_write(w);
}

void jw_key_n(struct jw *w, const char *s, size_t n)
{
    if (before_key(w))
        return;
    jw_append_string(w->out, s, n);
    putch(w->out, ':');
    w->after_key = 1;
    after_write(w);
}

void jw_key(struct jw *w, const char *s)
{
    jw_key_n(w, s, strlen(s));
}

void jw_str_n(struct jw *w, const char *s, size_t n)
{
    if (before_value(w))
        return;
    jw_append_string(w->out, s ? s : "", s ? n : 0);
    after_write(w);
}

void jw_str(struct jw *w, const char *s)
{
    jw_str_n(w, s, s ? strlen(s) : 0);
}

void jw_u64(struct jw *w, uint64_t v)
{
    if (before_value(w))
        return;
    char tmp[JW_INT_BOUND];
    put(w->out, tmp, (size_t)(itoa_put_u64(tmp, v) - tmp));
    after_write(w);
}

void jw_i64(struct jw *w, int64_t v)
{
    if (before_value(w))
        return;
    char tmp[JW_INT_BOUND];
    put(w->out, tmp, (size_t)(jw_put_i64(tmp, v) - tmp));
    after_write(w);
}

void jw_bool(struct jw *w, int v)
{
    if (before_value(w))
        return;
    if (v)
        put(w->out, "true", 4);
    else
        put(w->out, "false", 5);
    after_write(w);
}

void jw_null(struct jw *w)
{
    if (before_value(w))
        return;
    put(w->out, "null", 4);
    after_write(w);
}

void jw_double(struct jw *w, double v)
{
    if (w->err)
        return;
    char tmp[DTOA_GO_MAX];
    int n = dtoa_format_go(v, tmp);
    if (n < 0) {
        set_err(w, n);
        return;
    }
    if (before_value(w))
        return;
    put(w->out, tmp, (size_t)n);
    after_write(w);
}

void jw_raw(struct jw *w, const char *s, size_t n)
{
    if (before_value(w))
        return;
    put(w->out, s, n);
    after_write(w);
}
