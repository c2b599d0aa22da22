/*
 * http_query: pure parsers for the parts of an HTTP request that carry
 * name/value data: percent-decoding, URL query strings (Go url.ParseQuery
 * rules, as gin's c.Query sees them) and Cookie headers (Go net/http
 * readCookies rules). No sockets, no clock, no global state.
 */
#ifndef LOTUS_DASHBOARD_HTTP_QUERY_H
#define LOTUS_DASHBOARD_HTTP_QUERY_H

#include <stddef.h>

#include "core/buf.h"

/* Maximum number of pairs kept from one query string; more is an error. */
#define HTTP_QUERY_MAX_PARAMS 256

struct http_query {
    struct buf store;                      /* owned: decoded "key\0value\0" pairs */
    size_t key_off[HTTP_QUERY_MAX_PARAMS]; /* offsets into store.data */
    size_t val_off[HTTP_QUERY_MAX_PARAMS];
    size_t n;
};

/*
 * Percent-decodes s[0..n) into out (at least n+1 bytes, NUL-terminated);
 * plus_as_space turns '+' into ' ' (query strings, not paths). Returns the
 * decoded length, or -EINVAL for a '%' not followed by two hex digits or a
 * decoded NUL byte (C strings cannot carry it).
 */
int http_query_pct_decode(const char *s, size_t n, int plus_as_space, char *out);

/* Initialises an empty query (no allocation). */
void http_query_init(struct http_query *q);
/* Frees the decoded store; q may be re-initialised. */
void http_query_release(struct http_query *q);
/*
 * Parses a raw query string (the part after '?', s borrowed) and appends its
 * pairs to q. Like Go's url.ParseQuery, pairs are split on '&', empty
 * segments are skipped, a segment containing ';' or a bad escape is dropped
 * silently (Go reports an error that gin ignores), '+' means space, and a
 * segment without '=' has an empty value. Pairs with a decoded NUL are
 * dropped too. Returns 0, or -E2BIG when more than HTTP_QUERY_MAX_PARAMS
 * pairs would be kept.
 */
int http_query_parse(struct http_query *q, const char *s, size_t n);
/* First value of key (exact, case-sensitive match), or NULL. Borrowed from q. */
const char *http_query_get(const struct http_query *q, const char *key);
/* The i-th pair (i < q->n); borrowed from q. */
const char *http_query_key(const struct http_query *q, size_t i);
const char *http_query_value(const struct http_query *q, size_t i);

/*
 * Finds cookie `name` in a Cookie header value (header borrowed). Parts are
 * split on ';' and trimmed; parts with an invalid name or value (Go's
 * cookie-value byte rules; surrounding double quotes are removed) are
 * skipped. On success *out points into header (borrowed) and 0 is returned;
 * -ENOENT when absent.
 */
int http_query_cookie(const char *header, const char *name, struct slice *out);

/*
 * If-None-Match (RFC 9110 §13.1.2) against the current entity tag, both
 * borrowed and NUL-terminated; etag is a quoted tag, optionally "W/"-prefixed.
 * 1 when the header is "*" or lists a tag that matches etag by the weak
 * comparison (opaque parts equal, W/ ignored), else 0. The header is a
 * comma-separated list with optional whitespace; parsing stops at the first
 * malformed element (what came before still counts), so a garbled header
 * never matches by accident and a full answer is sent.
 */
int http_query_etag_match(const char *header, const char *etag);

#endif
