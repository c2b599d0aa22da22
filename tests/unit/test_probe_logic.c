/*
 * probe_logic: Go's time.String() of UTC instants (odd dates included), the
 * v0 texts, the status judgement, the type 101 / 102 / host:port parsers, the
 * DNS answer list, ICMP packets (checksum, build, parse of hand-made replies)
 * and the keyword search across every split of the body; plus httpc's
 * streaming body framing that the HTTP probe relies on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "core/gotime.h"
#include "agent/probe_logic.h"
#include "proto/httpc.h"

static void expect_time(int64_t t, const char *want)
{
    char out[GOTIME_STRING_MAX];
    int n = gotime_string_utc(t, out, sizeof(out));
    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(out, want);
}

static void test_probe_logic__go_time(void **state)
{
    (void)state;
    expect_time(0, "1970-01-01 00:00:00 +0000 UTC");
    expect_time(1740830400, "2025-03-01 12:00:00 +0000 UTC");
    expect_time(951782400, "2000-02-29 00:00:00 +0000 UTC");  /* leap day of a /400 year */
    expect_time(4107542399, "2100-02-28 23:59:59 +0000 UTC"); /* 2100 is not leap */
    expect_time(4107542400, "2100-03-01 00:00:00 +0000 UTC");
    expect_time(-1, "1969-12-31 23:59:59 +0000 UTC");           /* before the epoch */
    expect_time(253402300799, "9999-12-31 23:59:59 +0000 UTC"); /* X.509 "no expiry" */
    expect_time(-62135596800, "0001-01-01 00:00:00 +0000 UTC"); /* Go's zero time */
    expect_time(-62167219200, "0000-01-01 00:00:00 +0000 UTC");
    expect_time(-62167219201, "-0001-12-31 23:59:59 +0000 UTC"); /* Go pads after the sign */
    expect_time(1709210096, "2024-02-29 12:34:56 +0000 UTC");
    char small[10];
    assert_int_equal(gotime_string_utc(0, small, sizeof(small)), -E2BIG);
}

static void test_probe_logic__texts_and_status(void **state)
{
    (void)state;
    char st[64], out[PROBE_DATA_MAX];
    const char *h = "HTTP/1.1 404 Not Found\r\nServer: x\r\n\r\n";
    assert_int_equal(probe_status_text((const uint8_t *)h, strlen(h), st, sizeof(st)), 13);
    assert_string_equal(st, "404 Not Found");
    probe_status_failure(st, out, sizeof(out));
    assert_string_equal(out, "\n应用错误：404 Not Found");
    h = "HTTP/1.0 503\r\n\r\n"; /* no reason phrase: Go's Status is the code alone */
    probe_status_text((const uint8_t *)h, strlen(h), st, sizeof(st));
    assert_string_equal(st, "503");
    h = "HTTP/1.1   301 Moved\x01Permanently\r\n\r\n";
    probe_status_text((const uint8_t *)h, strlen(h), st, 12);
    assert_string_equal(st, "301 Moved?P"); /* truncated, control bytes replaced */
    char u[64];
    snprintf(u, sizeof(u), "%s", "\n应用错误：404 ok \xc3\xa9");
    assert_string_equal(probe_utf8_fix(u), "\n应用错误：404 ok \xc3\xa9"); /* valid: unchanged */
    snprintf(u, sizeof(u), "%s", "a\xff b\xc3 \xe5\xba c\xed\xa0\x80 \xc0\xaf \xe5\xba");
    assert_string_equal(probe_utf8_fix(u),
                        "a? b? ?? c??? ?? ??"); /* bad, cut, surrogate, overlong */
    assert_true(probe_status_ok(200, 200, 399));
    assert_true(probe_status_ok(399, 200, 399));
    assert_false(probe_status_ok(199, 200, 399));
    assert_false(probe_status_ok(400, 200, 399));
    assert_true(probe_status_ok(404, 404, 404));
}

static void test_probe_logic__http_spec(void **state)
{
    (void)state;
    struct probe_http_spec s;
    char err[128];
    const char *d = " https://example.com/x \n";
    assert_int_equal(probe_http_spec_parse(d, strlen(d), 0, &s, err, sizeof(err)), 0);
    assert_string_equal(s.url, "https://example.com/x");
    assert_int_equal(s.lo, 200);
    assert_int_equal(s.hi, 399);
    assert_int_equal(s.kwlen, 0);
    /* type 1 takes the whole text as the URL: lines after it make it invalid */
    d = "http://a/\nstatus=200-200";
    assert_int_equal(probe_http_spec_parse(d, strlen(d), 0, &s, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "invalid URL"));
    d = "http://a/\r\nstatus=200-204\r\nkeyword=hello world \r\nkeyword_absent=1\r\nfoo=bar\n";
    assert_int_equal(probe_http_spec_parse(d, strlen(d), 1, &s, err, sizeof(err)), 0);
    assert_string_equal(s.url, "http://a/");
    assert_int_equal(s.lo, 200);
    assert_int_equal(s.hi, 204);
    assert_string_equal(s.keyword, "hello world "); /* to the end of the line */
    assert_int_equal(s.kwlen, 12);
    assert_int_equal(s.keyword_absent, 1);
    d = "http://a/\nkeyword_absent=0\nkeyword=x";
    assert_int_equal(probe_http_spec_parse(d, strlen(d), 1, &s, err, sizeof(err)), 0);
    assert_int_equal(s.keyword_absent, 0);
    assert_int_equal(s.kwlen, 1);
    static const char *bad[] = {"http://a/\nstatus=99-200",
                                "http://a/\nstatus=300-200",
                                "http://a/\nstatus=200-600",
                                "http://a/\nstatus=200",
                                "http://a/\nstatus=a-b",
                                "http://a/\nkeyword=",
                                "ftp://a/",
                                "",
                                "\nstatus=200-200"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(probe_http_spec_parse(bad[i], strlen(bad[i]), 1, &s, err, sizeof(err)),
                         -EINVAL);
    char big[400];
    memset(big, 'k', sizeof(big));
    memcpy(big, "http://a/\nkeyword=", 18);
    assert_int_equal(probe_http_spec_parse(big, 18 + 256, 1, &s, err, sizeof(err)), 0);
    assert_int_equal(s.kwlen, 256);
    assert_int_equal(probe_http_spec_parse(big, 18 + 257, 1, &s, err, sizeof(err)), -EINVAL);
}

static void test_probe_logic__dns_spec_and_answers(void **state)
{
    (void)state;
    struct probe_dns_spec s;
    char err[128];
    assert_int_equal(probe_dns_spec_parse("example.com", 11, &s, err, sizeof(err)), 0);
    assert_string_equal(s.name, "example.com");
    assert_int_equal(s.family, AF_UNSPEC);
    assert_int_equal(s.expect_family, 0);
    const char *d = "  example.com\taaaa  ";
    assert_int_equal(probe_dns_spec_parse(d, strlen(d), &s, err, sizeof(err)), 0);
    assert_int_equal(s.family, AF_INET6);
    d = "localhost A 127.0.0.1";
    assert_int_equal(probe_dns_spec_parse(d, strlen(d), &s, err, sizeof(err)), 0);
    assert_int_equal(s.family, AF_INET);
    assert_int_equal(s.expect_family, AF_INET);
    assert_string_equal(s.expect_text, "127.0.0.1");
    d = "h ANY ::1";
    assert_int_equal(probe_dns_spec_parse(d, strlen(d), &s, err, sizeof(err)), 0);
    assert_int_equal(s.family, AF_UNSPEC);
    assert_int_equal(s.expect_family, AF_INET6);
    static const char *bad[] = {"",         "   ", "h MX",    "h A 1.2.3", "h A 1.2.3.4 x",
                                "bad/name", "-h",  "h A ::zz"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(probe_dns_spec_parse(bad[i], strlen(bad[i]), &s, err, sizeof(err)),
                         -EINVAL);

    /* a hand-made answer list: 10.0.0.1, ::1, 10.0.0.1 again */
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    memset(&a4, 0, sizeof(a4));
    memset(&a6, 0, sizeof(a6));
    a4.sin_family = AF_INET;
    inet_pton(AF_INET, "10.0.0.1", &a4.sin_addr);
    a6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::1", &a6.sin6_addr);
    struct addrinfo ai[3];
    memset(ai, 0, sizeof(ai));
    ai[0].ai_family = AF_INET;
    ai[0].ai_addr = (struct sockaddr *)&a4;
    ai[0].ai_addrlen = sizeof(a4);
    ai[0].ai_next = &ai[1];
    ai[1].ai_family = AF_INET6;
    ai[1].ai_addr = (struct sockaddr *)&a6;
    ai[1].ai_addrlen = sizeof(a6);
    ai[1].ai_next = &ai[2];
    ai[2] = ai[0];
    ai[2].ai_next = NULL;
    char out[PROBE_DNS_ANSWERS + 1];
    int found = -1;
    d = "x A ::1";
    assert_int_equal(probe_dns_spec_parse(d, strlen(d), &s, err, sizeof(err)), 0);
    assert_int_equal(probe_dns_answers(ai, &s, out, sizeof(out), &found), 2);
    assert_string_equal(out, "10.0.0.1,::1");
    assert_int_equal(found, 1);
    d = "x A 10.0.0.2";
    assert_int_equal(probe_dns_spec_parse(d, strlen(d), &s, err, sizeof(err)), 0);
    probe_dns_answers(ai, &s, out, sizeof(out), &found);
    assert_int_equal(found, 0);
    char tiny[12];
    assert_int_equal(probe_dns_answers(ai, NULL, tiny, sizeof(tiny), NULL), 2);
    assert_string_equal(tiny, "10.0.0.1"); /* "::1" would not fit whole */
    assert_int_equal(probe_dns_answers(NULL, NULL, out, sizeof(out), &found), 0);
    assert_string_equal(out, "");
}

static void test_probe_logic__host_targets(void **state)
{
    (void)state;
    char host[PROBE_HOST_MAX + 1], err[128];
    int port = 0;
    assert_int_equal(
        probe_hostport_parse("example.com:443", 15, host, sizeof(host), &port, err, sizeof(err)),
        0);
    assert_string_equal(host, "example.com");
    assert_int_equal(port, 443);
    assert_int_equal(
        probe_hostport_parse("[::1]:80", 8, host, sizeof(host), &port, err, sizeof(err)), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 80);
    static const char *bad[] = {"example.com", "h:0", "h:65536", "::1:80", "[::1:80",
                                "[zz]:80",     ":80", "h:80x",   "a b:80", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(probe_hostport_parse(bad[i], strlen(bad[i]), host, sizeof(host), &port,
                                              err, sizeof(err)),
                         -EINVAL);
    assert_non_null(strstr(err, "host:port"));
    assert_int_equal(probe_host_parse("1.1.1.1", 7, host, sizeof(host), err, sizeof(err)), 0);
    assert_int_equal(probe_host_parse("[2001:db8::1]", 13, host, sizeof(host), err, sizeof(err)),
                     0);
    assert_string_equal(host, "2001:db8::1");
    assert_int_equal(probe_host_parse("2001:db8::1", 11, host, sizeof(host), err, sizeof(err)), 0);
    assert_int_equal(probe_host_parse("a:b", 3, host, sizeof(host), err, sizeof(err)), -EINVAL);
    assert_int_equal(probe_host_parse("", 0, host, sizeof(host), err, sizeof(err)), -EINVAL);
    assert_int_equal(probe_host_parse("h\x01", 2, host, sizeof(host), err, sizeof(err)), -EINVAL);
}

static void test_probe_logic__icmp(void **state)
{
    (void)state;
    /* RFC 1071's example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2, checksum 220d */
    static const uint8_t ex[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    assert_int_equal(probe_inet_cksum(ex, sizeof(ex)), 0x220d);
    static const uint8_t odd[] = {0x01};
    assert_int_equal(probe_inet_cksum(odd, 1), 0xfeff);
    uint8_t pkt[PROBE_ICMP_PKT];
    assert_int_equal(probe_icmp_build(pkt, 0, 0x1234, 3), PROBE_ICMP_PKT);
    assert_int_equal(pkt[0], 8);
    assert_int_equal(pkt[4] << 8 | pkt[5], 0x1234);
    assert_int_equal(pkt[6] << 8 | pkt[7], 3);
    assert_int_equal(probe_inet_cksum(pkt, sizeof(pkt)), 0); /* the checksum is right */
    uint16_t seq = 99;
    /* our own request is not a reply */
    assert_int_equal(probe_icmp_parse(pkt, sizeof(pkt), 0, 0, 1, 0x1234, &seq), -EAGAIN);
    /* turn it into the reply a host sends: type 0, checksum fixed up */
    uint8_t rep[20 + PROBE_ICMP_PKT];
    memcpy(rep + 20, pkt, sizeof(pkt));
    rep[20] = 0;
    rep[22] = rep[23] = 0;
    uint16_t c = probe_inet_cksum(rep + 20, PROBE_ICMP_PKT);
    rep[22] = (uint8_t)(c >> 8);
    rep[23] = (uint8_t)c;
    assert_int_equal(probe_icmp_parse(rep + 20, PROBE_ICMP_PKT, 0, 0, 1, 0x1234, &seq), 0);
    assert_int_equal(seq, 3);
    assert_int_equal(probe_icmp_parse(rep + 20, PROBE_ICMP_PKT, 0, 0, 1, 0x4321, &seq), -EAGAIN);
    /* a datagram socket: the kernel's id, not checked */
    assert_int_equal(probe_icmp_parse(rep + 20, PROBE_ICMP_PKT, 0, 0, 0, 0x4321, &seq), 0);
    /* raw IPv4: a 20-byte IP header first */
    memset(rep, 0, 20);
    rep[0] = 0x45;
    assert_int_equal(probe_icmp_parse(rep, sizeof(rep), 0, 1, 1, 0x1234, &seq), 0);
    rep[0] = 0x4f; /* IHL 60 > the packet's ICMP start: still parses within bounds */
    assert_int_not_equal(probe_icmp_parse(rep, sizeof(rep), 0, 1, 1, 0x1234, &seq), 0);
    rep[0] = 0x44; /* IHL 16 < 20 */
    assert_int_equal(probe_icmp_parse(rep, sizeof(rep), 0, 1, 1, 0x1234, &seq), -EPROTO);
    rep[0] = 0x65; /* not IPv4 */
    assert_int_equal(probe_icmp_parse(rep, sizeof(rep), 0, 1, 1, 0x1234, &seq), -EPROTO);
    assert_int_equal(probe_icmp_parse(rep, 10, 0, 1, 1, 0x1234, &seq), -EPROTO);
    assert_int_equal(probe_icmp_parse(rep + 20, 7, 0, 0, 1, 0x1234, &seq), -EPROTO);
    rep[25] ^= 1; /* bad checksum */
    assert_int_equal(probe_icmp_parse(rep + 20, PROBE_ICMP_PKT, 0, 0, 1, 0x1234, &seq), -EPROTO);
    /* an echo reply of someone else's ping (other payload) */
    rep[25] ^= 1;
    rep[40] ^= 0xff;
    rep[22] = rep[23] = 0;
    c = probe_inet_cksum(rep + 20, PROBE_ICMP_PKT);
    rep[22] = (uint8_t)(c >> 8);
    rep[23] = (uint8_t)c;
    assert_int_equal(probe_icmp_parse(rep + 20, PROBE_ICMP_PKT, 0, 0, 0, 0, &seq), -EAGAIN);
    /* ICMPv6: request 128, reply 129, no checksum check (the kernel verifies it) */
    assert_int_equal(probe_icmp_build(pkt, 1, 7, 4), PROBE_ICMP_PKT);
    assert_int_equal(pkt[0], 128);
    assert_int_equal(pkt[2] | pkt[3], 0);
    pkt[0] = 129;
    assert_int_equal(probe_icmp_parse(pkt, sizeof(pkt), 1, 0, 1, 7, &seq), 0);
    assert_int_equal(seq, 4);
    pkt[0] = 135; /* neighbour solicitation */
    assert_int_equal(probe_icmp_parse(pkt, sizeof(pkt), 1, 0, 1, 7, &seq), -EAGAIN);
    double r[] = {1.0, 2.0, 4.5};
    assert_true(probe_rtt_avg(r, 3) > 2.49 && probe_rtt_avg(r, 3) < 2.51);
    assert_true(probe_rtt_avg(r, 0) == 0);
}

/* Searches kw in text split at every pair of points. */
static void kw_all_splits(const char *kw, const char *text, int want)
{
    size_t n = strlen(text);
    for (size_t i = 0; i <= n; i++)
        for (size_t j = i; j <= n; j++) {
            static struct probe_kw k;
            probe_kw_init(&k, kw, strlen(kw));
            probe_kw_feed(&k, (const uint8_t *)text, i);
            probe_kw_feed(&k, (const uint8_t *)text + i, j - i);
            int got = probe_kw_feed(&k, (const uint8_t *)text + j, n - j);
            if (got != want)
                fail_msg("kw \"%s\" in \"%s\" split %zu/%zu: %d", kw, text, i, j, got);
        }
}

static void test_probe_logic__keyword_stream(void **state)
{
    (void)state;
    kw_all_splits("needle", "hay needle hay", 1);
    kw_all_splits("needle", "hay needl ehay", 0);
    kw_all_splits("aab", "aaab", 1); /* a partial match restarts inside itself */
    kw_all_splits("abab", "ababab", 1);
    kw_all_splits("abab", "abaabab", 1);
    kw_all_splits("abab", "abaaba", 0);
    kw_all_splits("x", "", 0);
    kw_all_splits("héllo", "say héllo", 1);
    static struct probe_kw k;
    probe_kw_init(&k, "ab", 2);
    assert_int_equal(probe_kw_feed(&k, (const uint8_t *)"a", 1), 0);
    assert_int_equal(probe_kw_feed(&k, (const uint8_t *)"b", 1), 1);
    assert_int_equal(probe_kw_feed(&k, (const uint8_t *)"zz", 2), 1); /* found stays found */
}

struct sinkbuf {
    char b[256];
    size_t n;
};

static void sink(void *ud, const uint8_t *p, size_t n)
{
    struct sinkbuf *s = ud;
    memcpy(s->b + s->n, p, n);
    s->n += n;
}

/* Frames head+body fed in pieces of `step` bytes; returns the last rc. */
static int stream(const char *resp, size_t step, struct sinkbuf *out, const char **why)
{
    size_t len = strlen(resp), hend = 0;
    int status = 0;
    memset(out, 0, sizeof(*out));
    assert_int_equal(httpc_parse_head((const uint8_t *)resp, len, 1, &status, &hend, why), 0);
    struct httpc_body b;
    if (httpc_body_begin(&b, (const uint8_t *)resp, hend, status, why) != 0)
        return -EPROTO;
    int rc = 0;
    size_t i = hend;
    do {
        size_t n = len - i < step ? len - i : step;
        rc = httpc_body_feed(&b, (const uint8_t *)resp + i, n, i + n == len, sink, out, why);
        i += n;
    } while (rc == 0 && i < len);
    return rc;
}

static void test_probe_logic__httpc_body_stream(void **state)
{
    (void)state;
    struct sinkbuf o;
    const char *why = NULL;
    for (size_t step = 1; step < 64; step++) {
        assert_int_equal(stream("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "2;ext=1\r\nok\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\ntail",
                                step, &o, &why),
                         1);
        assert_int_equal(o.n, 12);
        assert_memory_equal(o.b, "ok0123456789", 12);
        assert_int_equal(
            stream("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA", step, &o, &why), 1);
        assert_int_equal(o.n, 5);
        assert_int_equal(stream("HTTP/1.0 200 OK\r\n\r\nuntil close", step, &o, &why), 1);
        assert_int_equal(o.n, 11);
    }
    assert_int_equal(stream("HTTP/1.1 204 No Content\r\n\r\n", 4, &o, &why), 1);
    assert_int_equal(stream("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", 2, &o, &why),
                     -EPROTO);
    assert_string_equal(why, "truncated body");
    assert_int_equal(
        stream("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", 2, &o, &why),
        -EPROTO);
    assert_string_equal(why, "truncated chunked body");
    assert_int_equal(
        stream("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 2, &o, &why),
        -EPROTO);
    assert_string_equal(why, "bad chunk size");
    assert_int_equal(
        stream("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc\r\n", 2, &o, &why),
        -EPROTO);
    assert_string_equal(why, "missing CRLF after chunk");
    assert_int_equal(stream("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "ffffffffffffffffff\r\n",
                            3, &o, &why),
                     -EPROTO);
    assert_int_equal(stream("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", 3, &o, &why), -EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe_logic__go_time),
        cmocka_unit_test(test_probe_logic__texts_and_status),
        cmocka_unit_test(test_probe_logic__http_spec),
        cmocka_unit_test(test_probe_logic__dns_spec_and_answers),
        cmocka_unit_test(test_probe_logic__host_targets),
        cmocka_unit_test(test_probe_logic__icmp),
        cmocka_unit_test(test_probe_logic__keyword_stream),
        cmocka_unit_test(test_probe_logic__httpc_body_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
