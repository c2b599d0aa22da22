/*
 * api_reply: JSON answers and body readers shared by the handlers (see
 * api_reply.h).
 */
#include "dashboard/api/api_reply.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/jw.h"
#include "core/strnum.h"
#include "dashboard/http.h"

/* {"code":code,"message":message[,"result":result_raw]} with the given HTTP status. */
void api_reply(struct http_request *req, int status, int code, const char *message,
               const char *result_raw)
{
    struct buf b;
    struct jw w;
    buf_init(&b, 0);
    jw_init(&w, &b);
    jw_obj_begin(&w);
    jw_key(&w, "code");
    jw_i64(&w, code);
    jw_key(&w, "message");
    jw_str(&w, message);
    if (result_raw) {
        jw_key(&w, "result");
        jw_raw(&w, result_raw, strlen(result_raw));
    }
    jw_obj_end(&w);
    http_request_respond_json(req, status, &b);
    buf_release(&b);
}

void api_reply_ok(struct http_request *req, const char *result_raw)
{
    api_reply(req, 200, 200, "success", result_raw);
}

void api_reply_bad(struct http_request *req, const char *detail)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "请求错误：%s", detail);
    api_reply(req, 200, 400, msg, NULL);
}

struct jw *api_body_begin(struct api_body *o)
{
    buf_init(&o->b, 0);
    jw_init(&o->jw, &o->b);
    return &o->jw;
}

void api_reply_body(struct http_request *req, int code, struct api_body *o)
{
    api_reply(req, 200, code, "success", o->b.data);
    buf_release(&o->b);
}

/* Parses the JSON body; on failure answers 400 and returns NULL. Owned result (json_decref). */
json_t *api_body_json(struct http_request *req, int want_array)
{
    struct slice body;
    http_request_body(req, &body);
    json_error_t e;
    json_t *j = json_loadb(body.ptr ? body.ptr : "", body.len, JSON_REJECT_DUPLICATES, &e);
    if (!j || (want_array ? !json_is_array(j) : !json_is_object(j))) {
        json_decref(j);
        api_reply(req, 400, 400,
                  want_array ? "请求错误：请求体必须是 JSON 数组"
                             : "请求错误：请求体必须是 JSON 对象",
                  NULL);
        return NULL;
    }
    return j;
}

/* Case-insensitive key lookup (Nezha matches JSON fields that way). Borrowed. */
json_t *api_jget(json_t *obj, const char *key)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (strcasecmp(k, key) == 0)
            return v;
    }
    return NULL;
}

/* String field: 1 found (string), 0 absent/null, -1 wrong type. */
int api_jstr(json_t *obj, const char *key, const char **out)
{
    json_t *v = api_jget(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return -1;
    *out = json_string_value(v);
    return 1;
}

/* Checkbox-like booleans: JSON true/false or "on"/"". */
int api_jbool(json_t *obj, const char *key, int *out)
{
    json_t *v = api_jget(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 1;
    }
    if (json_is_string(v)) {
        *out = strcmp(json_string_value(v), "on") == 0 || strcmp(json_string_value(v), "true") == 0;
        return 1;
    }
    return -1;
}

int api_jint(json_t *obj, const char *key, int64_t *out)
{
    json_t *v = api_jget(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 1;
    }
    if (json_is_string(v) && strnum_i64z(json_string_value(v), out) == 0)
        return 1;
    return -1;
}

int api_jnum(json_t *obj, const char *key, double *out)
{
    json_t *v = api_jget(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 1;
    }
    if (!json_is_string(v))
        return -1;
    const char *s = json_string_value(v);
    if (!*s)
        return 0;
    char *end = NULL;
    errno = 0;
    double d = strtod(s, &end);
    if (errno || *end || !isfinite(d))
        return -1;
    *out = d;
    return 1;
}

int api_str_fits(const char *s, size_t max)
{
    return s && strlen(s) <= max;
}

void api_reply_db_error(struct http_request *req)
{
    api_reply(req, 500, 500, "database error", NULL);
}
