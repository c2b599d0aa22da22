/* hostport: HOST:PORT splitting with IPv6 bracket support. */
#include "hostport.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "core/strnum.h"

static int set_host(const char *p, size_t n, char *host, size_t hostlen)
{
    if (n >= hostlen)
        return -EINVAL;
    memcpy(host, p, n);
    host[n] = '\0';
    return 0;
}

static int parse_port(const char *p, int *port)
{
    uint64_t v;
    if (strnum_u64z(p, &v) != 0 || v > 65535)
        return -EINVAL;
    *port = (int)v;
    return 0;
}

int hostport_parse(const char *s, int default_port, char *host, size_t hostlen, int *port)
{
    if (!s || !*s || hostlen == 0)
        return -EINVAL;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end == s + 1)
            return -EINVAL;
        if (set_host(s + 1, (size_t)(end - s - 1), host, hostlen) != 0)
            return -EINVAL;
        if (end[1] == '\0') {
            *port = default_port;
            return 0;
        }
        if (end[1] != ':')
            return -EINVAL;
        return parse_port(end + 2, port);
    }
    const char *colon = strchr(s, ':');
    if (colon && strchr(colon + 1, ':')) {
        /* More than one colon and no brackets: a bare IPv6 literal. */
        *port = default_port;
        return set_host(s, strlen(s), host, hostlen);
    }
    if (!colon) {
        *port = default_port;
        return set_host(s, strlen(s), host, hostlen);
    }
    if (set_host(s, (size_t)(colon - s), host, hostlen) != 0)
        return -EINVAL;
    return parse_port(colon + 1, port);
}
