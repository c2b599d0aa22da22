/*
 * hostport: parsing of "HOST:PORT" listen/dial addresses: "0.0.0.0:8008",
 * "[::1]:5555", "localhost:5555", ":5555" (host empty), "example.com".
 */
#ifndef LOTUS_CORE_HOSTPORT_H
#define LOTUS_CORE_HOSTPORT_H

#include <stddef.h>

/*
 * Splits s (borrowed) into host (copied into host[hostlen], brackets of an IPv6
 * literal removed) and port. A missing ":PORT" gives *port = default_port;
 * a bare IPv6 literal without brackets ("::1") is taken whole as the host.
 * Returns 0, or -EINVAL (bad port, empty input, unbalanced brackets, host too long).
 */
int hostport_parse(const char *s, int default_port, char *host, size_t hostlen, int *port);

#endif
