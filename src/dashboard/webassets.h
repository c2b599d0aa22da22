/*
 * webassets: the web UI (web/, bundled by web/build.mjs) compiled into the
 * dashboard binary. The table itself is generated at build time by
 * scripts/embed-assets into build/gen/webassets_data.c; this module only looks
 * paths up in it. Nothing touches the file system at run time.
 *
 * Paths are URL paths with a leading '/', exactly as built: "/index.html",
 * "/static/app.<hash>.js", "/static/flags-<hash>/de.svg", ... The table holds
 * only names made of [A-Za-z0-9._/-] with no "." or ".." segment, so a lookup
 * is an exact byte match: anything percent-encoded, dotted or otherwise odd is
 * simply not found. The HTTP layer decides which routes map to "/index.html"
 * (/, /login, /admin/...) and which prefix (/static/) goes to the table.
 *
 * Text assets of at least 1 KiB also carry a gzip form (level 9, made at
 * build time) when it is at least 10 % smaller; the HTTP layer picks it by the
 * request's Accept-Encoding. Already-compressed types (png, woff2) have none.
 *
 * Thread-safe: the table is const and the lookup keeps no state.
 */
#ifndef LOTUS_DASHBOARD_WEBASSETS_H
#define LOTUS_DASHBOARD_WEBASSETS_H

#include <stddef.h>

struct webasset {
    const char *path;          /* "/static/app.0123456789.js"; NUL-terminated */
    const char *content_type;  /* e.g. "text/javascript; charset=utf-8" */
    const unsigned char *data; /* len bytes (not NUL-terminated) */
    size_t len;
    const char *etag;        /* strong ETag with its quotes: "\"<16 hex of SHA-256>\"" */
    int immutable;           /* 1: name carries a content hash, serve with
                                "Cache-Control: public, max-age=31536000, immutable";
                                0: revalidate ("no-cache") */
    const unsigned char *gz; /* gzip form (one RFC 1952 member), gz_len bytes; NULL = none */
    size_t gz_len;
    const char *gz_etag; /* strong ETag of the gzip form (SHA-256 of its bytes, like etag);
                            NULL when gz is */
};

/* Longest path stored in the table (bytes); longer lookups fail fast. */
#define WEBASSET_PATH_MAX 255

/*
 * Finds the asset whose path is exactly path[0..len). path borrowed, need not
 * be NUL-terminated; NULL with len 0 is allowed. Returns a pointer into the
 * static table (valid for the life of the process; never free it), or NULL.
 */
const struct webasset *webasset_find(const char *path, size_t len);

/* Number of embedded assets, and the i-th one in path order (i < count), for
 * listing and tests; NULL when i is out of range. */
size_t webasset_count(void);
const struct webasset *webasset_at(size_t i);

#endif
