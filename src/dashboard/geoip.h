/*
 * geoip: country lookup in a MaxMind-format database (libmaxminddb), for the
 * LookupGeoIP RPC (docs/protocol.md §1.2). The database path comes from the config key
 * `geoipdb`; with no database every lookup answers an empty country code.
 * Threading: loop thread only (reads are memory-mapped, no disk stalls after open).
 */
#ifndef LOTUS_DASHBOARD_GEOIP_H
#define LOTUS_DASHBOARD_GEOIP_H

#include <stddef.h>

struct geoip;

/* Opens path (borrowed). 0 and an owned *out, or a negative code and a one-line reason in err. */
int geoip_open(const char *path, struct geoip **out, char *err, size_t errlen);
/* NULL is a no-op. */
void geoip_close(struct geoip *g);
/*
 * Looks ip (borrowed, text form) up. On success writes the lower-case ISO
 * country code, or the continent code when the record has no country, into out
 * (at least 8 bytes) and returns 0. Returns -ENOENT when the address is not in
 * the database or has neither code, -EINVAL when ip is not an IP address.
 */
int geoip_lookup(struct geoip *g, const char *ip, char *out, size_t outlen);

#endif
