/*
 * promrw: Prometheus remote-write 1.0 from the dashboard (issue #18). Every `interval` seconds
 * a timer on the loop walks the registry (prom_walk, the same samples /metrics renders,
 * hidden servers included: the receiver is the admin's) into a batch and pushes it onto a
 * bounded queue under a mutex; that is all the loop does, so nothing here slows agent ingest.
 * One sender thread of its own (never the loop, never the store writer) takes the batches
 * oldest first, encodes and snappy-compresses each (promrw_logic), and POSTs it with libcurl;
 * an attempt without an answer, or a 429/5xx, keeps the batch and waits 1 s, doubling to
 * 60 s, reset on success; any other status drops the batch. One warning line when the
 * receiver goes down and one info line when it is back; health counters for /metrics.
 *
 * The URL and credentials are the admin's (config.yaml); any host is allowed, loopback too.
 */
#ifndef LOTUS_DASHBOARD_PROMRW_H
#define LOTUS_DASHBOARD_PROMRW_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct live;
struct monitors;
struct promrw;

/* Queue bounds: batches and samples (about 2 MiB of arena per 20,000 samples). */
#define PROMRW_QUEUE_BATCHES 256
/* About 100 bytes of memory per queued sample: 500 000 are about 50 MB (an hour of a 100-server
 * fleet at 15 s, or 30 s of 10,000 servers); prometheus.remotewrite.queuesamples sets it. */
#define PROMRW_QUEUE_SAMPLES 500000

/* Settings; every string borrowed for the call (copied). */
struct promrw_config {
    const char *url;      /* http(s)://host:port/path of the receiver; must not be empty */
    unsigned interval_s;  /* seconds between snapshots, >= 1 */
    unsigned timeout_s;   /* per POST (connect included), >= 1 */
    const char *username; /* basic auth when non-empty (with password) */
    const char *password;
    const char *bearer_token; /* "Authorization: Bearer ..." when non-empty (wins over basic) */
    const char *labels;       /* extra labels "k=v,k=v" (promrw_labels_parse), "" = none */
    size_t queue_batches;     /* 0 = PROMRW_QUEUE_BATCHES */
    size_t queue_samples;     /* 0 = PROMRW_QUEUE_SAMPLES */
};

/* Health counters (a snapshot; promrw_stats). */
struct promrw_stats {
    uint64_t samples_sent;    /* samples in batches the receiver accepted (2xx) */
    uint64_t failed_sends;    /* attempts that did not get a 2xx */
    uint64_t samples_dropped; /* queue overflow, rejected batches (non-retryable status), stop */
    uint64_t queue_batches;   /* waiting, the one being sent included */
    uint64_t queue_samples;
    int64_t last_success_ms; /* unix ms of the last 2xx, 0 = never */
    int up;                  /* 1 unless the last attempt failed */
};

/*
 * Starts remote-write on loop: parses c->labels, initialises libcurl (curl_global_init; call
 * before other threads use curl), starts the sender thread and the snapshot timer. lv and mon
 * (mon may be NULL) are borrowed until promrw_stop and read on the loop thread only. On
 * success *out is set and 0 returned; else -EINVAL (bad labels or interval) or -errno (thread)
 * with the reason in err, and nothing is left running. Loop thread.
 */
int promrw_start(uv_loop_t *loop, const struct promrw_config *c, const struct live *lv,
                 const struct monitors *mon, struct promrw **out, char *err, size_t errlen);

/*
 * Stops the timer, tells the sender to stop (an upload in progress is aborted within about
 * 100 ms), joins it, drops what is still queued (counted and logged) and frees p once the
 * timer's close callback has run (the loop must run once more). NULL is a no-op. Loop thread.
 */
void promrw_stop(struct promrw *p);

/* Copies the health counters into *out. Any thread (takes the module's mutex). */
void promrw_stats(struct promrw *p, struct promrw_stats *out);

/*
 * One snapshot now, as the timer takes it (for tests and the bench): walks lv and mon into a
 * batch stamped now_ms and queues it. Loop thread.
 */
void promrw_snapshot(struct promrw *p, int64_t now_ms);

/*
 * An HTTP client for one receiver (a libcurl easy handle: the connection is kept between
 * posts). promrw_client_new copies c's URL, credentials and timeout; abort (borrowed, may be
 * NULL) is polled during a transfer, which ends early once it reads non-zero. Needs
 * curl_global_init done (promrw_start does it; the bench calls it). One thread at a time.
 */
struct promrw_client;
struct promrw_client *promrw_client_new(const struct promrw_config *c, const _Atomic int *abort);
void promrw_client_free(struct promrw_client *cl);
/*
 * One POST of body[0..len) (a compressed WriteRequest) with the remote-write 1.0 headers.
 * Returns 1 when an HTTP answer arrived (its code in *status), 0 when none did (the reason,
 * curl's, in err).
 */
int promrw_client_post(struct promrw_client *cl, const void *body, size_t len, long *status,
                       char *err, size_t errlen);

#endif
