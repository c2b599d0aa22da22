/*
 * libFuzzer target for the dashboard's path of a ReportTask result (network input from any
 * agent): TaskResult.data, delay and success fed to monitor_on_result for an HTTP monitor with
 * notify and latency alerts on (the certificate text parser, Go time texts, the event texts),
 * and the parsers on their own. Input: byte 0 = flags (bit 0 success), bytes 1-4 = the delay
 * (a float, any bits, NaN and infinities included), the rest = data. Several results are fed in
 * a row so the ring, the gate and the back-off move. Build: `make fuzz` (clang), replayed by
 * tests/integration/80-fuzz-replay.sh.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/gotime.h"
#include "dashboard/monitor_logic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5)
        return 0;
    float f;
    memcpy(&f, data + 1, sizeof(f));
    size_t n = size - 5;
    char *text = malloc(n + 1);
    memcpy(text, data + 5, n);
    text[n] = '\0';
    int64_t ms;
    (void)gotime_parse_string(text, &ms);
    char issuer[128];
    if (monitor_parse_cert(text, issuer, sizeof(issuer), &ms) == 0 && strlen(issuer) >= 128)
        abort();
    const char *why;
    for (int t = 1; t <= 3; t++)
        (void)monitor_check_target(t, text, &why);
    int lo, hi;
    if (monitor_parse_status_range(text, &lo, &hi) == 0 &&
        (lo > hi || (lo && lo < 100) || hi > 599))
        abort();

    static struct monitor_state s;
    memset(&s, 0, sizeof(s));
    struct monitor_spec m = {.id = 1,
                             .name = "fuzz",
                             .type = MONITOR_TYPE_HTTP,
                             .target = "https://example.com/",
                             .duration_s = 1,
                             .notify = 1,
                             .latency_notify = 1,
                             .max_latency = 10,
                             .min_latency = 1,
                             .trigger_task = 1,
                             .keyword = "",
                             .dns_rrtype = "",
                             .dns_expect = ""};
    int64_t now = 1717236000000LL;
    for (int i = 0; i < 40; i++) {
        /* the dashboard clamps the delay before it reaches the logic (monitor.c) */
        double d = isfinite(f) && f >= 0 && f < 1e9 ? f : 0;
        struct monitor_input in = {.reporter = 3,
                                   .reporter_name = "fra",
                                   .ok = (data[0] & 1) ^ (i % 7 == 0),
                                   .delay = d,
                                   .data = text,
                                   .now_ms = now,
                                   .tz_offset_s = (data[0] >> 1) * 3600 - 12 * 3600};
        struct monitor_effects fx;
        monitor_on_result(&s, &m, &in, &fx);
        if (fx.n_events > MONITOR_EVENTS_MAX || fx.status < MONITOR_STATUS_NODATA ||
            fx.status > MONITOR_STATUS_DOWN)
            abort();
        for (size_t k = 0; k < fx.n_events; k++)
            if (strlen(fx.ev[k].text) >= sizeof(fx.ev[k].text))
                abort();
        now += (data[0] & 0x80) ? 86400000LL * 3 : 1000;
    }
    uint32_t up, down;
    double avg;
    monitor_ring_counts(&s, &up, &down, &avg);
    if (up + down > MONITOR_RING_SIZE)
        abort();
    free(text);
    return 0;
}
