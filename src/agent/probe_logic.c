/*
 * probe_logic: pure parts of the agent's probes (see probe_logic.h).
 */
#include "agent/probe_logic.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "core/strnum.h"

/* ---- texts ---- */

size_t probe_status_text(const uint8_t *head, size_t len, char *out, size_t n)
{
    size_t i = 0, o = 0;
    if (n == 0)
        return 0;
    while (i < len && head[i] != ' ' && head[i] != '\r' && head[i] != '\n')
        i++; /* the protocol */
    while (i < len && head[i] == ' ')
        i++;
    while (i < len && head[i] != '\r' && head[i] != '\n' && o + 1 < n) {
        unsigned char c = head[i++];
        out[o++] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
    }
    out[o] = '\0';
    return o;
}

void probe_status_failure(const char *status_text, char *out, size_t n)
{
    snprintf(out, n, "%s%s", PROBE_MSG_STATUS_PREFIX, status_text);
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

char *probe_utf8_fix(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        size_t n = utf8_seq(p);
        if (n == 0) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
    return s;
}

int probe_status_ok(int code, int lo, int hi)
{
    return code >= lo && code <= hi;
}

/* ---- parsers ---- */

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void errf(char *err, size_t errlen, const char *what)
{
    if (errlen)
        snprintf(err, errlen, "%s", what);
}

/* Copies s[0..n) trimmed of white space into out[cap]; -EINVAL when empty, too long or with a NUL
 * or control character. */
static int copy_trimmed(const char *s, size_t n, char *out, size_t cap)
{
    while (n > 0 && is_space(*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_space(s[n - 1]))
        n--;
    if (n == 0 || n >= cap)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return -EINVAL;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

static int parse_range(const char *v, size_t n, int *lo, int *hi)
{
    const char *dash = memchr(v, '-', n);
    uint64_t a, b;
    if (!dash || strnum_u64(v, (size_t)(dash - v), &a) != 0 ||
        strnum_u64(dash + 1, n - (size_t)(dash - v) - 1, &b) != 0)
        return -EINVAL;
    if (a < 100 || b > 599 || a > b)
        return -EINVAL;
    *lo = (int)a;
    *hi = (int)b;
    return 0;
}

int probe_http_spec_parse(const char *data, size_t len, int lotus, struct probe_http_spec *out,
                          char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->lo = 200;
    out->hi = 399;
    const char *nl = lotus ? memchr(data, '\n', len) : NULL;
    size_t ulen = nl ? (size_t)(nl - data) : len;
    struct httpc_url u;
    if (copy_trimmed(data, ulen, out->url, sizeof(out->url)) != 0 ||
        httpc_url_parse(out->url, &u) != 0) {
        errf(err, errlen, "invalid URL (expected http:// or https://host[:port][/path])");
        return -EINVAL;
    }
    const char *p = nl ? nl + 1 : data + len, *end = data + len;
    while (p < end) {
        const char *le = memchr(p, '\n', (size_t)(end - p));
        size_t ll = le ? (size_t)(le - p) : (size_t)(end - p);
        if (ll > 0 && p[ll - 1] == '\r')
            ll--;
        if (ll >= 7 && memcmp(p, "status=", 7) == 0) {
            if (parse_range(p + 7, ll - 7, &out->lo, &out->hi) != 0) {
                errf(err, errlen, "invalid status range (expected status=<min>-<max>, 100-599)");
                return -EINVAL;
            }
        } else if (ll >= 8 && memcmp(p, "keyword=", 8) == 0) {
            size_t kl = ll - 8;
            if (kl == 0 || kl > PROBE_KEYWORD_MAX || memchr(p + 8, '\0', kl)) {
                errf(err, errlen, "invalid keyword (1-256 bytes)");
                return -EINVAL;
            }
            memcpy(out->keyword, p + 8, kl);
            out->keyword[kl] = '\0';
            out->kwlen = kl;
        } else if (ll >= 15 && memcmp(p, "keyword_absent=", 15) == 0) {
            out->keyword_absent = ll == 16 && p[15] == '1';
        }
        p = le ? le + 1 : end;
    }
    return 0;
}

static int parse_ip(const char *s, uint8_t *bin, int *family)
{
    if (inet_pton(AF_INET, s, bin) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, s, bin) == 1) {
        *family = AF_INET6;
        return 0;
    }
    return -EINVAL;
}

/* Host names: letters, digits, '-', '.', '_' (and ':' for IPv6 literals). */
static int host_ok(const char *h)
{
    if (!*h || h[0] == '-' || h[0] == '.')
        return 0;
    for (; *h; h++)
        if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9') ||
              *h == '-' || *h == '.' || *h == '_' || *h == ':' || *h == '%'))
            return 0;
    return 1;
}

int probe_dns_spec_parse(const char *data, size_t len, struct probe_dns_spec *out, char *err,
                         size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->family = AF_UNSPEC;
    const char *f[3];
    size_t fl[3];
    int nf = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && is_space(data[i]))
            i++;
        if (i >= len)
            break;
        size_t s = i;
        while (i < len && !is_space(data[i]))
            i++;
        if (nf == 3) {
            errf(err, errlen, "invalid DNS target (expected <name> [A|AAAA|ANY [address]])");
            return -EINVAL;
        }
        f[nf] = data + s;
        fl[nf++] = i - s;
    }
    if (nf == 0 || fl[0] > PROBE_HOST_MAX) {
        errf(err, errlen, "invalid DNS target (expected <name> [A|AAAA|ANY [address]])");
        return -EINVAL;
    }
    memcpy(out->name, f[0], fl[0]);
    out->name[fl[0]] = '\0';
    if (!host_ok(out->name) || strchr(out->name, ':')) {
        errf(err, errlen, "invalid DNS name");
        return -EINVAL;
    }
    if (nf >= 2) {
        if (fl[1] == 1 && strncasecmp(f[1], "A", 1) == 0)
            out->family = AF_INET;
        else if (fl[1] == 4 && strncasecmp(f[1], "AAAA", 4) == 0)
            out->family = AF_INET6;
        else if (fl[1] == 3 && strncasecmp(f[1], "ANY", 3) == 0)
            out->family = AF_UNSPEC;
        else {
            errf(err, errlen, "invalid DNS record type (expected A, AAAA or ANY)");
            return -EINVAL;
        }
    }
    if (nf == 3) {
        if (fl[2] >= sizeof(out->expect_text)) {
            errf(err, errlen, "invalid expected address");
            return -EINVAL;
        }
        memcpy(out->expect_text, f[2], fl[2]);
        out->expect_text[fl[2]] = '\0';
        if (parse_ip(out->expect_text, out->expect, &out->expect_family) != 0) {
            errf(err, errlen, "invalid expected address");
            return -EINVAL;
        }
    }
    return 0;
}

int probe_dns_answers(const struct addrinfo *ai, const struct probe_dns_spec *spec, char *out,
                      size_t n, int *found)
{
    size_t cap = n < PROBE_DNS_ANSWERS + 1 ? n : PROBE_DNS_ANSWERS + 1, o = 0;
    int count = 0, hit = 0;
    uint8_t seen[16][16];
    int seen_fam[16];
    if (cap)
        out[0] = '\0';
    for (; ai; ai = ai->ai_next) {
        const void *bin;
        size_t blen;
        if (ai->ai_family == AF_INET && ai->ai_addrlen >= sizeof(struct sockaddr_in)) {
            bin = &((const struct sockaddr_in *)(const void *)ai->ai_addr)->sin_addr;
            blen = 4;
        } else if (ai->ai_family == AF_INET6 && ai->ai_addrlen >= sizeof(struct sockaddr_in6)) {
            bin = &((const struct sockaddr_in6 *)(const void *)ai->ai_addr)->sin6_addr;
            blen = 16;
        } else {
            continue;
        }
        int dup = 0;
        for (int k = 0; k < count && k < 16; k++)
            if (seen_fam[k] == ai->ai_family && memcmp(seen[k], bin, blen) == 0)
                dup = 1;
        if (dup)
            continue;
        if (count < 16) {
            memcpy(seen[count], bin, blen);
            seen_fam[count] = ai->ai_family;
        }
        count++;
        if (spec && spec->expect_family == ai->ai_family && memcmp(spec->expect, bin, blen) == 0)
            hit = 1;
        char txt[INET6_ADDRSTRLEN];
        if (!inet_ntop(ai->ai_family, bin, txt, sizeof(txt)))
            continue;
        size_t tl = strlen(txt), need = tl + (o ? 1 : 0);
        if (o + need + 1 > cap)
            continue;
        if (o)
            out[o++] = ',';
        memcpy(out + o, txt, tl + 1);
        o += tl;
    }
    if (found)
        *found = hit;
    return count;
}

int probe_hostport_parse(const char *data, size_t len, char *host, size_t hostlen, int *port,
                         char *err, size_t errlen)
{
    char buf[PROBE_HOST_MAX + 16];
    if (copy_trimmed(data, len, buf, sizeof(buf)) != 0)
        goto bad;
    char *colon = strrchr(buf, ':');
    if (!colon)
        goto bad;
    *colon = '\0';
    uint64_t pv;
    if (strnum_u64(colon + 1, strlen(colon + 1), &pv) != 0 || pv < 1 || pv > 65535)
        goto bad;
    char *h = buf;
    size_t hl = strlen(h);
    if (h[0] == '[') {
        if (hl < 3 || h[hl - 1] != ']')
            goto bad;
        h[hl - 1] = '\0';
        h++;
        hl -= 2;
        uint8_t tmp[16];
        if (inet_pton(AF_INET6, h, tmp) != 1)
            goto bad;
    } else if (strchr(h, ':')) {
        goto bad; /* an IPv6 literal needs brackets */
    }
    if (hl == 0 || hl >= hostlen || hl > PROBE_HOST_MAX || !host_ok(h))
        goto bad;
    memcpy(host, h, hl + 1);
    *port = (int)pv;
    return 0;
bad:
    errf(err, errlen, "invalid target (expected host:port or [v6]:port)");
    return -EINVAL;
}

int probe_host_parse(const char *data, size_t len, char *host, size_t hostlen, char *err,
                     size_t errlen)
{
    char buf[PROBE_HOST_MAX + 3];
    if (copy_trimmed(data, len, buf, sizeof(buf)) != 0)
        goto bad;
    char *h = buf;
    size_t hl = strlen(h);
    if (h[0] == '[') {
        if (hl < 3 || h[hl - 1] != ']')
            goto bad;
        h[hl - 1] = '\0';
        h++;
        hl -= 2;
    }
    if (strchr(h, ':')) {
        uint8_t tmp[16];
        if (inet_pton(AF_INET6, h, tmp) != 1)
            goto bad;
    }
    if (hl == 0 || hl >= hostlen || hl > PROBE_HOST_MAX || !host_ok(h))
        goto bad;
    memcpy(host, h, hl + 1);
    return 0;
bad:
    errf(err, errlen, "invalid target (expected a host name or an IP address)");
    return -EINVAL;
}

/* ---- ICMP ---- */

uint16_t probe_inet_cksum(const uint8_t *p, size_t n)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* The payload: "lotus-probe" and a byte pattern, so our replies are told from others'. */
static void payload(uint8_t *p)
{
    static const char tag[] = "lotus-probe";
    memcpy(p, tag, sizeof(tag) - 1);
    for (size_t i = sizeof(tag) - 1; i < PROBE_ICMP_PAYLOAD; i++)
        p[i] = (uint8_t)i;
}

size_t probe_icmp_build(uint8_t *out, int v6, uint16_t id, uint16_t seq)
{
    memset(out, 0, PROBE_ICMP_PKT);
    out[0] = v6 ? 128 : 8;
    out[4] = (uint8_t)(id >> 8);
    out[5] = (uint8_t)id;
    out[6] = (uint8_t)(seq >> 8);
    out[7] = (uint8_t)seq;
    payload(out + 8);
    if (!v6) {
        uint16_t c = probe_inet_cksum(out, PROBE_ICMP_PKT);
        out[2] = (uint8_t)(c >> 8);
        out[3] = (uint8_t)c;
    }
    return PROBE_ICMP_PKT;
}

int probe_icmp_parse(const uint8_t *p, size_t n, int v6, int with_ip, int check_id, uint16_t id,
                     uint16_t *seq)
{
    if (with_ip && !v6) {
        if (n < 20 || (p[0] >> 4) != 4)
            return -EPROTO;
        size_t ihl = (size_t)(p[0] & 0x0f) * 4;
        if (ihl < 20 || ihl > n)
            return -EPROTO;
        p += ihl;
        n -= ihl;
    }
    if (n < 8)
        return -EPROTO;
    if (!v6 && probe_inet_cksum(p, n) != 0)
        return -EPROTO;
    if (p[0] != (v6 ? 129 : 0) || p[1] != 0)
        return -EAGAIN;
    if (check_id && ((uint16_t)(p[4] << 8 | p[5])) != id)
        return -EAGAIN;
    uint8_t want[PROBE_ICMP_PAYLOAD];
    payload(want);
    if (n != PROBE_ICMP_PKT || memcmp(p + 8, want, PROBE_ICMP_PAYLOAD) != 0)
        return -EAGAIN;
    *seq = (uint16_t)(p[6] << 8 | p[7]);
    return 0;
}

double probe_rtt_avg(const double *rtt_ms, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += rtt_ms[i];
    return n ? s / (double)n : 0;
}

/* ---- keyword search ---- */

void probe_kw_init(struct probe_kw *k, const char *kw, size_t len)
{
    memset(k, 0, sizeof(*k));
    if (len > PROBE_KEYWORD_MAX)
        len = PROBE_KEYWORD_MAX;
    k->kw = kw;
    k->len = len;
    size_t j = 0;
    for (size_t i = 1; i < len; i++) {
        while (j > 0 && kw[i] != kw[j])
            j = k->fail[j - 1];
        if (kw[i] == kw[j])
            j++;
        k->fail[i] = (uint16_t)j;
    }
}

int probe_kw_feed(struct probe_kw *k, const uint8_t *p, size_t n)
{
    if (k->found || k->len == 0)
        return k->found;
    size_t j = k->matched;
    for (size_t i = 0; i < n; i++) {
        while (j > 0 && (uint8_t)k->kw[j] != p[i])
            j = k->fail[j - 1];
        if ((uint8_t)k->kw[j] == p[i])
            j++;
        if (j == k->len) {
            k->found = 1;
            break;
        }
    }
    k->matched = j;
    return k->found;
}
