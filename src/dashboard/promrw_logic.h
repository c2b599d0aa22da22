/*
 * promrw_logic: the decisions and the wire of Prometheus remote-write 1.0 as pure functions,
 * with no socket, no thread and no clock (promrw.c runs them on its sender thread and on the
 * loop). A remote-write request is an HTTP POST whose body is a snappy-compressed (block
 * format) protobuf prometheus.WriteRequest (proto/prometheus_remote.proto): one TimeSeries per
 * sample here, its labels sorted by name ("__name__" holds the metric name), one Sample each.
 *
 *   - a batch: the samples of one interval, copied out of the registry into one owned arena
 *     (label texts repaired to valid UTF-8, which the receiver demands), one timestamp;
 *   - the encoder: batch + the configured extra labels -> WriteRequest bytes, and snappy;
 *   - the bounded queue of batches (drop the oldest when full, counting the samples dropped);
 *   - the back-off (1 s doubling to 60 s), the verdict of an HTTP answer, and the up/down
 *     transitions that decide the two log lines of an outage;
 *   - the `prometheus.remotewrite.labels` text ("k=v,k=v") and the URL as it may be logged.
 *
 * No global state. Every function may run on any thread; a batch, a queue or a health record
 * is used by one thread at a time (promrw.c holds its mutex around the queue).
 */
#ifndef LOTUS_DASHBOARD_PROMRW_LOGIC_H
#define LOTUS_DASHBOARD_PROMRW_LOGIC_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Back-off between attempts of one batch: first wait, doubling, cap (milliseconds). */
#define PROMRW_BACKOFF_MIN_MS 1000
#define PROMRW_BACKOFF_MAX_MS 60000
/* Most labels of one series (the sample's own plus the extra ones). */
#define PROMRW_SERIES_LABELS_MAX 32
/* Most extra labels in `prometheus.remotewrite.labels`, and the longest name and value. */
#define PROMRW_EXTRA_LABELS_MAX 16
#define PROMRW_LABEL_NAME_MAX   128
#define PROMRW_LABEL_VALUE_MAX  1024
/* Largest arena of one batch (bytes): about 3 M samples of 10,000 servers. */
#define PROMRW_BATCH_BYTES_MAX (512u * 1024 * 1024)

struct promrw_label {
    char *name;  /* owned */
    char *value; /* owned */
};

/*
 * The samples of one interval. The arena holds, per sample: a 16-bit label count, then each
 * label as name NUL value NUL (the first label is "__name__"), then the 8-byte double value.
 * Filled with promrw_batch_begin/label/end on one thread, then handed (pointer) to another.
 */
struct promrw_batch {
    struct buf arena;
    size_t n_samples;
    size_t n_labels; /* over all samples, "__name__" included */
    int64_t ts_ms;   /* the timestamp of every sample (unix ms) */
    size_t open;     /* arena offset of the label count of the sample being added */
    unsigned open_labels;
};

/* An empty batch stamped ts_ms (unix ms). Allocates nothing. */
void promrw_batch_init(struct promrw_batch *b, int64_t ts_ms);
/* Frees the arena; b may be initialised again. NULL is a no-op. */
void promrw_batch_release(struct promrw_batch *b);
/*
 * Adds one sample in three steps: begin (metric name), label (any number, up to
 * PROMRW_SERIES_LABELS_MAX - 1; later ones are dropped), end (the value). Names and values are
 * borrowed and copied; bytes that are not UTF-8 become U+FFFD, a value longer than
 * PROMRW_LABEL_VALUE_MAX bytes is cut at a character boundary. Past PROMRW_BATCH_BYTES_MAX the
 * arena's sticky error is set and the batch is no longer sent (promrw_encode returns -E2BIG).
 */
void promrw_batch_begin(struct promrw_batch *b, const char *metric);
void promrw_batch_label(struct promrw_batch *b, const char *name, const char *value);
void promrw_batch_end(struct promrw_batch *b, double value);

/*
 * Appends to out (caller's buf) the WriteRequest of b: per sample one TimeSeries with its
 * labels plus extra[0..n_extra) (a sample's own label wins over an extra one of the same
 * name; labels with an empty value are left out, as Prometheus reads them as absent), sorted
 * by name byte-wise, and one Sample (value, b->ts_ms). Returns 0, -E2BIG when b's arena
 * overflowed or out passed its maximum, -EINVAL for a malformed arena (a programmer error).
 */
int promrw_encode(const struct promrw_batch *b, const struct promrw_label *extra, size_t n_extra,
                  struct buf *out);
/* Appends the snappy block-format compression of in[0..n) to out. 0, -E2BIG or -EINVAL. */
int promrw_snappy(const void *in, size_t n, struct buf *out);

/*
 * The bounded queue of batches waiting for the sender, oldest first. Bounds: at most
 * max_batches batches and max_samples samples; a push that passes either drops the oldest
 * batches until the new one fits (a batch alone larger than max_samples is still admitted:
 * the newest interval matters most).
 */
struct promrw_queue {
    struct promrw_batch **items; /* ring of max_batches owned batches */
    size_t max_batches;
    size_t max_samples;
    size_t head; /* index of the oldest */
    size_t n;
    size_t samples; /* over the queued batches */
};

/* An empty queue with the bounds (max_batches >= 1). Allocates the ring. */
void promrw_queue_init(struct promrw_queue *q, size_t max_batches, size_t max_samples);
/* Frees every queued batch and the ring. */
void promrw_queue_release(struct promrw_queue *q);
/*
 * Appends b (heap-allocated, ownership taken); frees the dropped batches. Returns the number
 * of samples dropped to make room (0 when it fitted).
 */
size_t promrw_queue_push(struct promrw_queue *q, struct promrw_batch *b);
/* Takes the oldest batch (the caller owns it), or NULL when the queue is empty. */
struct promrw_batch *promrw_queue_pop(struct promrw_queue *q);

/* The wait before the next attempt after a failure, given the previous wait (0 = none yet). */
int64_t promrw_backoff_next(int64_t prev_ms);

enum promrw_verdict {
    PROMRW_SENT = 0, /* 2xx: the batch is done */
    PROMRW_RETRY,    /* no answer (connect, timeout), 429 or 5xx: keep it, back off */
    PROMRW_REJECTED, /* any other status: the receiver will never take it; drop it */
};
/* The verdict of one attempt: transport_ok 0 = no HTTP answer at all; status its code. */
enum promrw_verdict promrw_verdict_of(int transport_ok, long status);

/* Up/down state of the receiver, for one log line per outage. Starts up. */
struct promrw_health {
    int down;
    uint64_t failures; /* attempts failed since it went down */
};
enum promrw_transition { PROMRW_SAME = 0, PROMRW_WENT_DOWN, PROMRW_CAME_BACK };
/* Records one attempt's outcome (ok = PROMRW_SENT); says whether this one changes the state. */
enum promrw_transition promrw_health_note(struct promrw_health *h, int ok);

/*
 * Parses `prometheus.remotewrite.labels`: "" or comma-separated name=value pairs (spaces
 * around names and values are trimmed; a value cannot hold a comma). Names match
 * [a-zA-Z_][a-zA-Z0-9_]*, do not start with "__" (reserved) and appear once; at most
 * PROMRW_EXTRA_LABELS_MAX. On success *out (owned: promrw_labels_free) and *n are set and 0 is
 * returned; else -EINVAL with the reason in err.
 */
int promrw_labels_parse(const char *text, struct promrw_label **out, size_t *n, char *err,
                        size_t errlen);
void promrw_labels_free(struct promrw_label *l, size_t n);

/* Appends url to out without its user:password@ part (for log lines). */
void promrw_url_for_log(const char *url, struct buf *out);

#endif
