/*
 * libFuzzer target for the probes' parsers of network input (task data from
 * the dashboard, ICMP packets and HTTP bodies from the probed targets): the
 * type 101 and 102 Task.data parsers, host:port and host targets, the UTF-8 fix, the ICMP
 * reply parser (IPv4 raw/datagram, IPv6), the streaming keyword search and
 * httpc's streaming body framing fed in two pieces. The first input byte
 * picks the split point. Build: `make fuzz` (clang), replayed by
 * tests/integration/80-fuzz-replay.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/probe_logic.h"
#include "proto/httpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void sink(void *ud, const uint8_t *p, size_t n)
{
    struct probe_kw *k = ud;
    (void)probe_kw_feed(k, p, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t split = data[0] % size;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    char err[128];
    static struct probe_http_spec hs;
    for (int lotus = 0; lotus <= 1; lotus++)
        if (probe_http_spec_parse(s, n, lotus, &hs, err, sizeof(err)) == 0) {
            struct httpc_url u;
            if (httpc_url_parse(hs.url, &u) != 0 || hs.lo < 100 || hs.hi > 599 || hs.lo > hs.hi ||
                hs.kwlen > PROBE_KEYWORD_MAX || strlen(hs.keyword) > PROBE_KEYWORD_MAX)
                abort();
        }
    struct probe_dns_spec ds;
    if (probe_dns_spec_parse(s, n, &ds, err, sizeof(err)) == 0 && strlen(ds.name) > PROBE_HOST_MAX)
        abort();
    char host[PROBE_HOST_MAX + 1];
    int port;
    if (probe_hostport_parse(s, n, host, sizeof(host), &port, err, sizeof(err)) == 0 &&
        (port < 1 || port > 65535))
        abort();
    (void)probe_host_parse(s, n, host, sizeof(host), err, sizeof(err));
    uint16_t seq;
    for (int v6 = 0; v6 <= 1; v6++)
        for (int raw = 0; raw <= 1; raw++)
            (void)probe_icmp_parse(data + 1, n, v6, raw, raw, 0x1234, &seq);
    static char text[PROBE_DATA_MAX];
    size_t tl = n < sizeof(text) - 1 ? n : sizeof(text) - 1;
    memcpy(text, s, tl);
    text[tl] = '\0';
    if (strlen(probe_utf8_fix(text)) != strnlen(s, tl))
        abort(); /* fixing replaces bytes, never drops or adds any */
    char st[64];
    if (probe_status_text(data + 1, n, st, sizeof(st)) >= sizeof(st))
        abort();

    /* a response: head, then the body in two pieces, searched for a keyword */
    int status;
    size_t hend;
    const char *why = NULL;
    if (n <= HTTPC_MAX_RESPONSE && httpc_parse_head(data + 1, n, 1, &status, &hend, &why) == 0) {
        struct httpc_body b;
        static struct probe_kw k;
        probe_kw_init(&k, "needle", 6);
        if (httpc_body_begin(&b, data + 1, hend, status, &why) == 0) {
            size_t rest = n - hend, cut = split < rest ? split : rest;
            int rc = httpc_body_feed(&b, data + 1 + hend, cut, 0, sink, &k, &why);
            if (rc == 0)
                rc = httpc_body_feed(&b, data + 1 + hend + cut, rest - cut, 1, sink, &k, &why);
            if (b.total > rest)
                abort(); /* never more body than input */
        }
    }
    return 0;
}
