/*
 * promrw_logic: remote-write batches, encoding, queue and retry decisions (see promrw_logic.h).
 * The WriteRequest is packed by protobuf-c from structs that point into the batch's arena, so
 * no label text is copied a second time.
 */
#include "promrw_logic.h"

#include <errno.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>

#include "core/ascii.h"
#include "core/errbuf.h"
#include "core/xalloc.h"
#include "prometheus_remote.pb-c.h"

/* ---- UTF-8 repair ---- */

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlong form, no surrogate, at most
 * U+10FFFF), or 0 when the bytes there are not one. s is NUL-terminated. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/*
 * Appends s as valid UTF-8 (U+FFFD for each bad byte), at most max bytes, and a NUL. Valid runs
 * go in with one append each (label texts are almost always plain ASCII: this is the snapshot's
 * hot path on the loop).
 */
static void put_text(struct buf *a, const char *s, size_t max)
{
    static const char repl[] = "\xEF\xBF\xBD";
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *run = p;
    size_t used = 0;
    while (*p) {
        size_t n = *p < 0x80 ? 1 : utf8_seq(p);
        size_t len = n ? n : 3;
        if (used + len > max)
            break;
        if (!n) {
            buf_append(a, run, (size_t)(p - run));
            buf_append(a, repl, 3);
            p++;
            run = p;
        } else {
            p += n;
        }
        used += len;
    }
    buf_append(a, run, (size_t)(p - run));
    buf_putc(a, '\0');
}

/* ---- batches ---- */

void promrw_batch_init(struct promrw_batch *b, int64_t ts_ms)
{
    memset(b, 0, sizeof(*b));
    buf_init(&b->arena, PROMRW_BATCH_BYTES_MAX);
    b->ts_ms = ts_ms;
}

void promrw_batch_release(struct promrw_batch *b)
{
    if (!b)
        return;
    buf_release(&b->arena);
    memset(b, 0, sizeof(*b));
}

void promrw_batch_begin(struct promrw_batch *b, const char *metric)
{
    uint16_t zero = 0;
    b->open = b->arena.len;
    b->open_labels = 0;
    buf_append(&b->arena, &zero, sizeof(zero));
    promrw_batch_label(b, "__name__", metric);
}

void promrw_batch_label(struct promrw_batch *b, const char *name, const char *value)
{
    if (b->open_labels >= PROMRW_SERIES_LABELS_MAX - PROMRW_EXTRA_LABELS_MAX)
        return;
    put_text(&b->arena, name, PROMRW_LABEL_NAME_MAX);
    put_text(&b->arena, value ? value : "", PROMRW_LABEL_VALUE_MAX);
    b->open_labels++;
}

void promrw_batch_end(struct promrw_batch *b, double value)
{
    buf_append(&b->arena, &value, sizeof(value));
    if (b->arena.err)
        return;
    uint16_t n = (uint16_t)b->open_labels;
    memcpy(b->arena.data + b->open, &n, sizeof(n));
    b->n_samples++;
    b->n_labels += n;
}

/* ---- encoding ---- */

/* Reads the NUL-terminated text at *pos in the arena; NULL when it runs past the end. */
static char *arena_text(const struct promrw_batch *b, size_t *pos)
{
    if (*pos >= b->arena.len)
        return NULL;
    char *s = b->arena.data + *pos;
    size_t len = strlen(s); /* the buf is NUL-terminated at len: this stays inside */
    if (*pos + len >= b->arena.len)
        return NULL;
    *pos += len + 1;
    return s;
}

static int label_cmp(const void *x, const void *y)
{
    const Prometheus__Label *a = *(Prometheus__Label *const *)x;
    const Prometheus__Label *c = *(Prometheus__Label *const *)y;
    return strcmp(a->name, c->name);
}

struct enc {
    Prometheus__TimeSeries *ts;
    Prometheus__TimeSeries **tsp;
    Prometheus__Sample *smp;
    Prometheus__Sample **smpp;
    Prometheus__Label *lab;
    Prometheus__Label **labp;
};

/* Fills series i from the record at *pos: own labels, extra ones not already named, sorted,
 * empty values and repeated names left out. Labels go to e->labp from *nl on. */
static int encode_series(const struct promrw_batch *b, const struct promrw_label *extra,
                         size_t n_extra, struct enc *e, size_t i, size_t *pos, size_t *nl)
{
    uint16_t n;
    if (*pos + sizeof(n) > b->arena.len)
        return -EINVAL;
    memcpy(&n, b->arena.data + *pos, sizeof(n));
    *pos += sizeof(n);
    Prometheus__Label **first = e->labp + *nl;
    size_t k = 0;
    for (uint16_t j = 0; j < n; j++) {
        char *name = arena_text(b, pos);
        char *value = name ? arena_text(b, pos) : NULL;
        if (!value)
            return -EINVAL;
        Prometheus__Label *l = &e->lab[*nl + k];
        prometheus__label__init(l);
        l->name = name;
        l->value = value;
        first[k++] = l;
    }
    size_t own = k;
    for (size_t x = 0; x < n_extra; x++) {
        int named = 0;
        for (size_t j = 0; j < own && !named; j++)
            named = strcmp(first[j]->name, extra[x].name) == 0;
        if (named)
            continue;
        Prometheus__Label *l = &e->lab[*nl + k];
        prometheus__label__init(l);
        l->name = extra[x].name;
        l->value = extra[x].value;
        first[k++] = l;
    }
    qsort(first, k, sizeof(*first), label_cmp);
    size_t kept = 0;
    for (size_t j = 0; j < k; j++) {
        if (!first[j]->value[0] || (kept && strcmp(first[kept - 1]->name, first[j]->name) == 0))
            continue;
        first[kept++] = first[j];
    }
    double v;
    if (*pos + sizeof(v) > b->arena.len)
        return -EINVAL;
    memcpy(&v, b->arena.data + *pos, sizeof(v));
    *pos += sizeof(v);

    prometheus__sample__init(&e->smp[i]);
    e->smp[i].value = v;
    e->smp[i].timestamp = b->ts_ms;
    e->smpp[i] = &e->smp[i];
    prometheus__time_series__init(&e->ts[i]);
    e->ts[i].n_labels = kept;
    e->ts[i].labels = first;
    e->ts[i].n_samples = 1;
    e->ts[i].samples = &e->smpp[i];
    e->tsp[i] = &e->ts[i];
    *nl += k;
    return 0;
}

int promrw_encode(const struct promrw_batch *b, const struct promrw_label *extra, size_t n_extra,
                  struct buf *out)
{
    if (b->arena.err || out->err)
        return -E2BIG;
    size_t ns = b->n_samples;
    size_t nlab = b->n_labels + ns * n_extra;
    struct enc e = {
        .ts = xcalloc(ns ? ns : 1, sizeof(*e.ts)),
        .tsp = xcalloc(ns ? ns : 1, sizeof(*e.tsp)),
        .smp = xcalloc(ns ? ns : 1, sizeof(*e.smp)),
        .smpp = xcalloc(ns ? ns : 1, sizeof(*e.smpp)),
        .lab = xcalloc(nlab ? nlab : 1, sizeof(*e.lab)),
        .labp = xcalloc(nlab ? nlab : 1, sizeof(*e.labp)),
    };
    int rc = 0;
    size_t pos = 0;
    size_t nl = 0;
    for (size_t i = 0; i < ns && rc == 0; i++)
        rc = encode_series(b, extra, n_extra, &e, i, &pos, &nl);
    if (rc == 0 && pos != b->arena.len)
        rc = -EINVAL;
    if (rc == 0) {
        Prometheus__WriteRequest wr = PROMETHEUS__WRITE_REQUEST__INIT;
        wr.n_timeseries = ns;
        wr.timeseries = e.tsp;
        size_t len = prometheus__write_request__get_packed_size(&wr);
        rc = buf_reserve(out, len);
        if (rc == 0) {
            prometheus__write_request__pack(&wr, (uint8_t *)out->data + out->len);
            out->len += len;
            out->data[out->len] = '\0';
        }
    }
    free(e.ts);
    free(e.tsp);
    free(e.smp);
    free(e.smpp);
    free(e.lab);
    free(e.labp);
    return rc;
}

int promrw_snappy(const void *in, size_t n, struct buf *out)
{
    size_t cap = snappy_max_compressed_length(n);
    int rc = buf_reserve(out, cap);
    if (rc != 0)
        return rc;
    size_t len = cap;
    if (snappy_compress(in, n, out->data + out->len, &len) != SNAPPY_OK)
        return -EINVAL;
    out->len += len;
    out->data[out->len] = '\0';
    return 0;
}

/* ---- queue ---- */

void promrw_queue_init(struct promrw_queue *q, size_t max_batches, size_t max_samples)
{
    memset(q, 0, sizeof(*q));
    q->max_batches = max_batches ? max_batches : 1;
    q->max_samples = max_samples;
    q->items = xcalloc(q->max_batches, sizeof(*q->items));
}

struct promrw_batch *promrw_queue_pop(struct promrw_queue *q)
{
    if (q->n == 0)
        return NULL;
    struct promrw_batch *b = q->items[q->head];
    q->items[q->head] = NULL;
    q->head = (q->head + 1) % q->max_batches;
    q->n--;
    q->samples -= b->n_samples;
    return b;
}

size_t promrw_queue_push(struct promrw_queue *q, struct promrw_batch *b)
{
    size_t dropped = 0;
    while (q->n > 0 && (q->n + 1 > q->max_batches || q->samples + b->n_samples > q->max_samples)) {
        struct promrw_batch *old = promrw_queue_pop(q);
        dropped += old->n_samples;
        promrw_batch_release(old);
        free(old);
    }
    q->items[(q->head + q->n) % q->max_batches] = b;
    q->n++;
    q->samples += b->n_samples;
    return dropped;
}

void promrw_queue_release(struct promrw_queue *q)
{
    struct promrw_batch *b;
    while ((b = promrw_queue_pop(q)) != NULL) {
        promrw_batch_release(b);
        free(b);
    }
    free(q->items);
    memset(q, 0, sizeof(*q));
}

/* ---- decisions ---- */

int64_t promrw_backoff_next(int64_t prev_ms)
{
    if (prev_ms < PROMRW_BACKOFF_MIN_MS)
        return PROMRW_BACKOFF_MIN_MS;
    if (prev_ms >= PROMRW_BACKOFF_MAX_MS / 2)
        return PROMRW_BACKOFF_MAX_MS;
    return prev_ms * 2;
}

enum promrw_verdict promrw_verdict_of(int transport_ok, long status)
{
    if (!transport_ok)
        return PROMRW_RETRY;
    if (status >= 200 && status < 300)
        return PROMRW_SENT;
    if (status == 429 || (status >= 500 && status < 600))
        return PROMRW_RETRY;
    return PROMRW_REJECTED;
}

enum promrw_transition promrw_health_note(struct promrw_health *h, int ok)
{
    if (ok) {
        int was_down = h->down;
        h->down = 0;
        h->failures = 0;
        return was_down ? PROMRW_CAME_BACK : PROMRW_SAME;
    }
    h->failures++;
    if (h->down)
        return PROMRW_SAME;
    h->down = 1;
    return PROMRW_WENT_DOWN;
}

/* ---- configuration texts ---- */

static int name_ok(const char *s, size_t n)
{
    if (n == 0 || n > PROMRW_LABEL_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
            return 0;
    }
    return 1;
}

void promrw_labels_free(struct promrw_label *l, size_t n)
{
    for (size_t i = 0; l && i < n; i++) {
        free(l[i].name);
        free(l[i].value);
    }
    free(l);
}

static int parse_pair(const char *p, size_t len, struct promrw_label *l, size_t have, char *err,
                      size_t errlen)
{
    const char *eq = memchr(p, '=', len);
    if (!eq) {
        errbuf_set(err, errlen, "label '%.*s' has no '='", (int)(len > 64 ? 64 : len), p);
        return -EINVAL;
    }
    size_t nn = (size_t)(eq - p);
    size_t vn = len - nn - 1;
    const char *name = ascii_trim_blanks(p, &nn);
    const char *value = ascii_trim_blanks(eq + 1, &vn);
    if (!name_ok(name, nn) || (nn >= 2 && name[0] == '_' && name[1] == '_')) {
        errbuf_set(err, errlen, "'%.*s' is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, not __)",
                   (int)(nn > 64 ? 64 : nn), name);
        return -EINVAL;
    }
    if (vn == 0 || vn > PROMRW_LABEL_VALUE_MAX) {
        errbuf_set(err, errlen, "label '%.*s' needs a value of 1..%d bytes", (int)nn, name,
                   PROMRW_LABEL_VALUE_MAX);
        return -EINVAL;
    }
    for (size_t i = 0; i < have; i++) {
        if (strlen(l[i].name) == nn && memcmp(l[i].name, name, nn) == 0) {
            errbuf_set(err, errlen, "label '%.*s' is given twice", (int)nn, name);
            return -EINVAL;
        }
    }
    l[have].name = xstrndup(name, nn);
    l[have].value = xstrndup(value, vn);
    return 0;
}

int promrw_labels_parse(const char *text, struct promrw_label **out, size_t *n, char *err,
                        size_t errlen)
{
    *out = NULL;
    *n = 0;
    size_t tl = strlen(text);
    ascii_trim_blanks(text, &tl);
    if (tl == 0)
        return 0;
    struct promrw_label *l = xcalloc(PROMRW_EXTRA_LABELS_MAX, sizeof(*l));
    size_t have = 0;
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (have == PROMRW_EXTRA_LABELS_MAX) {
            errbuf_set(err, errlen, "more than %d labels", PROMRW_EXTRA_LABELS_MAX);
            promrw_labels_free(l, have);
            return -EINVAL;
        }
        if (parse_pair(p, len, l, have, err, errlen) != 0) {
            promrw_labels_free(l, have);
            return -EINVAL;
        }
        have++;
        if (!comma)
            break;
        p = comma + 1;
    }
    *out = l;
    *n = have;
    return 0;
}

void promrw_url_for_log(const char *url, struct buf *out)
{
    const char *scheme = strstr(url, "://");
    const char *host = scheme ? scheme + 3 : url;
    size_t auth_end = strcspn(host, "/?#");
    const char *at = memchr(host, '@', auth_end);
    if (!at) {
        buf_puts(out, url);
        return;
    }
    buf_append(out, url, (size_t)(host - url));
    buf_puts(out, at + 1);
}
