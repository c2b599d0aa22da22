/* geoip: MaxMind DB country lookups (libmaxminddb). */
#include "geoip.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <maxminddb.h>

#include "core/xalloc.h"

struct geoip {
    MMDB_s db;
};

int geoip_open(const char *path, struct geoip **out, char *err, size_t errlen)
{
    struct geoip *g = xcalloc(1, sizeof(*g));
    int rc = MMDB_open(path, MMDB_MODE_MMAP, &g->db);
    if (rc != MMDB_SUCCESS) {
        snprintf(err, errlen, "cannot open GeoIP database '%s': %s", path, MMDB_strerror(rc));
        free(g);
        return -EINVAL;
    }
    *out = g;
    return 0;
}

void geoip_close(struct geoip *g)
{
    if (!g)
        return;
    MMDB_close(&g->db);
    free(g);
}

/* Copies a short UTF-8 code string lower-cased into out; 0 or -ENOENT. */
static int get_code(MMDB_entry_s *entry, const char *section, char *out, size_t outlen)
{
    MMDB_entry_data_s data;
    int rc = MMDB_get_value(entry, &data, section, "iso_code", NULL);
    if (rc != MMDB_SUCCESS || !data.has_data || data.type != MMDB_DATA_TYPE_UTF8_STRING)
        rc = MMDB_get_value(entry, &data, section, "code", NULL);
    if (rc != MMDB_SUCCESS || !data.has_data || data.type != MMDB_DATA_TYPE_UTF8_STRING)
        return -ENOENT;
    if (data.data_size == 0 || data.data_size >= outlen)
        return -ENOENT;
    for (uint32_t i = 0; i < data.data_size; i++)
        out[i] = (char)tolower((unsigned char)data.utf8_string[i]);
    out[data.data_size] = '\0';
    return 0;
}

int geoip_lookup(struct geoip *g, const char *ip, char *out, size_t outlen)
{
    int gai = 0, mmdb = 0;
    MMDB_lookup_result_s res = MMDB_lookup_string(&g->db, ip, &gai, &mmdb);
    if (gai != 0)
        return -EINVAL;
    if (mmdb != MMDB_SUCCESS || !res.found_entry)
        return -ENOENT;
    if (get_code(&res.entry, "country", out, outlen) == 0)
        return 0;
    return get_code(&res.entry, "continent", out, outlen);
}
