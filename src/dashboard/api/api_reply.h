/*
 * api_reply: the answers and request-body readers every JSON handler uses,
 * written once below the handlers. Loop thread (they answer an http_request).
 *
 * Answers are the admin API's envelope {"code":..,"message":..[,"result":..]}
 * (docs/api-admin.md); the HTTP status is separate from "code" as in Nezha v0,
 * where most errors are HTTP 200 with an error code.
 */
#ifndef LOTUS_DASHBOARD_API_REPLY_H
#define LOTUS_DASHBOARD_API_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/jw.h"

struct http_request;

/* The messages Nezha v0 answers with (its clients match on them). */
#define API_MSG_LOGIN_REQUIRED "访问此接口需要登录"
#define API_MSG_VIEW_LIMITED   "访问受限"

/*
 * Answers {"code":code,"message":message[,"result":result_raw]} with HTTP
 * status. result_raw is already-encoded JSON (borrowed; NULL = no key).
 * Each of these answers req exactly once.
 */
void api_reply(struct http_request *req, int status, int code, const char *message,
               const char *result_raw);
/* 200 {"code":200,"message":"success"[,"result":result_raw]}. */
void api_reply_ok(struct http_request *req, const char *result_raw);
/* 200 {"code":400,"message":"请求错误：<detail>"}. detail borrowed. */
void api_reply_bad(struct http_request *req, const char *detail);
/*
 * A success body being written: api_body_begin initialises it and returns its
 * JSON writer (the "result" value is written with it); api_reply_body answers
 * 200 {"code":code,"message":"success","result":<it>} and releases it.
 */
struct api_body {
    struct buf b;
    struct jw jw;
};
struct jw *api_body_begin(struct api_body *o);
void api_reply_body(struct http_request *req, int code, struct api_body *o);
/* 500 {"code":500,"message":"database error"}: a store call failed. */
void api_reply_db_error(struct http_request *req);

/*
 * Parses req's body as a JSON object (want_array 0) or array (1), rejecting
 * duplicate keys. Returns an owned value (json_decref), or NULL after
 * answering 400 {"code":400,...}.
 */
json_t *api_body_json(struct http_request *req, int want_array);

/*
 * Field readers with Nezha's case-insensitive key match (Go's JSON decoder
 * matches struct fields that way). obj borrowed; results borrowed from obj.
 *   api_jget:  the value or NULL.
 *   api_jstr:  1 string found, 0 absent or null (*out NULL), -1 wrong type.
 *   api_jbool: 1 found (JSON true/false, or the strings "on"/"true" = 1, any
 *              other string = 0), 0 absent or null (*out untouched), -1 wrong type.
 *   api_jint:  1 found (integer, or a string of decimal digits), 0 absent or
 *              null, -1 wrong type or not a number.
 *   api_jnum:  1 found (any JSON number, or a string holding a finite decimal number),
 *              0 absent, null or "", -1 wrong type or not a number.
 */
json_t *api_jget(json_t *obj, const char *key);
int api_jstr(json_t *obj, const char *key, const char **out);
int api_jbool(json_t *obj, const char *key, int *out);
int api_jint(json_t *obj, const char *key, int64_t *out);
int api_jnum(json_t *obj, const char *key, double *out);

/*
 * 1 if s is non-NULL and at most max bytes long (a length check only: jansson
 * has already rejected invalid UTF-8 in every string it decoded).
 */
int api_str_fits(const char *s, size_t max);

#endif
