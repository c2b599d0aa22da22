/*
 * api_settings: settings, public info and the view password (see
 * api_settings.h).
 */
#include "dashboard/api/api_settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "core/ascii.h"
#include "core/buf.h"
#include "core/jw.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "dashboard/api/api_guard.h"
#include "dashboard/api/api_int.h"
#include "dashboard/api/api_job.h"
#include "dashboard/api/api_reply.h"
#include "dashboard/config.h"
#include "dashboard/http.h"

#define VIEW_PASSWORD_MAX 1024

static void h_setting_get(struct http_request *req, void *ud)
{
    struct api *a = ud;
    if (!api_guard_admin(a, req))
        return;
    struct dash_config *c = a->cfg;
    struct api_body out;
    struct jw *jw = api_body_begin(&out);
    jw_obj_begin(jw);
    jw_key(jw, "site_brand");
    jw_str(jw, c->site_brand);
    jw_key(jw, "language");
    jw_str(jw, c->language);
    jw_key(jw, "view_password_set");
    jw_bool(jw, c->site_viewpassword && c->site_viewpassword[0]);
    jw_key(jw, "grpc_host");
    jw_str(jw, c->grpchost ? c->grpchost : "");
    jw_key(jw, "grpc_port");
    jw_i64(jw, c->proxygrpcport > 0 ? c->proxygrpcport : a->grpc_port);
    jw_key(jw, "tls");
    jw_bool(jw, c->tls);
    jw_key(jw, "cookie_name");
    jw_str(jw, api_guard_cookie_name(a));
    jw_obj_end(jw);
    api_reply_body(req, 0, &out);
}

struct setting_ctx {
    char err[256]; /* config_write's reason when it failed */
};

/* Work pool: writes config.yaml from a->cfg, which the loop leaves alone while settings_busy. */
static void setting_run(struct api_job *j)
{
    struct setting_ctx *c = api_job_ctx(j);
    j->rc = config_write(j->api->cfg, j->api->config_path, c->err, sizeof(c->err));
}

static void setting_done(struct api_job *j)
{
    struct setting_ctx *c = api_job_ctx(j);
    j->api->settings_busy = 0;
    if (j->rc != 0) {
        log_error("settings: %s", c->err[0] ? c->err : "write failed");
        api_reply(j->req, 500, 500, "cannot save config.yaml", NULL);
        return;
    }
    api_reply_ok(j->req, NULL);
}

static void set_cfg_str(char **dst, const char *v)
{
    free(*dst);
    *dst = xstrdup(v);
}

static int cookie_name_ok(const char *s)
{
    if (!s[0] || strlen(s) > 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return 0;
    return 1;
}

static void h_setting_post(struct http_request *req, void *ud)
{
    struct api *a = ud;
    if (!api_guard_admin(a, req))
        return;
    if (a->settings_busy) {
        api_reply(req, 200, 409, "settings are being saved, retry", NULL);
        return;
    }
    json_t *body = api_body_json(req, 0);
    if (!body)
        return;
    const char *brand = NULL, *lang = NULL, *vp = NULL, *gh = NULL, *cn = NULL;
    int64_t gp = -1;
    int tls = -1, tls_set;
    int bad = api_jstr(body, "sitebrand", &brand) < 0 || api_jstr(body, "language", &lang) < 0 ||
              api_jstr(body, "viewpassword", &vp) < 0 || api_jstr(body, "grpchost", &gh) < 0 ||
              api_jstr(body, "cookiename", &cn) < 0 || api_jint(body, "grpcport", &gp) < 0 ||
              (tls_set = api_jbool(body, "tls", &tls)) < 0;
    if (!bad && lang && strcmp(lang, "zh-CN") != 0 && strcmp(lang, "en-US") != 0 &&
        strcmp(lang, "zh-TW") != 0 && strcmp(lang, "es-ES") != 0)
        bad = 1;
    if (!bad && gp != -1 && (gp < 0 || gp > 65535))
        bad = 1;
    if (!bad && cn && !cookie_name_ok(cn))
        bad = 1;
    if (!bad && ((brand && strlen(brand) > 255) || (gh && strlen(gh) > 255) ||
                 (vp && strlen(vp) > VIEW_PASSWORD_MAX)))
        bad = 1;
    if (bad) {
        json_decref(body);
        api_reply_bad(req, "设置无效");
        return;
    }
    struct dash_config *c = a->cfg;
    if (brand)
        set_cfg_str(&c->site_brand, brand);
    if (lang)
        set_cfg_str(&c->language, lang);
    if (vp && vp[0])
        set_cfg_str(&c->site_viewpassword, strcmp(vp, "-") == 0 ? "" : vp);
    if (gh)
        set_cfg_str(&c->grpchost, gh);
    if (cn) {
        set_cfg_str(&c->site_cookiename, cn);
        api_guard_update_vp_name(a);
    }
    if (gp >= 0)
        c->proxygrpcport = gp;
    if (tls_set > 0)
        c->tls = tls;
    json_decref(body);
    a->settings_busy = 1;
    api_job_start(api_job_new(a, req, setting_run, setting_done, sizeof(struct setting_ctx), NULL));
}

static void h_public(struct http_request *req, void *ud)
{
    struct api *a = ud;
    int logged_in = api_guard_session(a, req) != NULL;
    int vp_required = a->cfg->site_viewpassword && a->cfg->site_viewpassword[0];
    int may_view = api_guard_may_view(a, req);
    if (vp_required && !may_view) {
        api_reply(req, 200, 403, API_MSG_VIEW_LIMITED, NULL);
        return;
    }
    struct api_body out;
    struct jw *jw = api_body_begin(&out);
    jw_obj_begin(jw);
    jw_key(jw, "site_brand");
    jw_str(jw, a->cfg->site_brand);
    jw_key(jw, "language");
    jw_str(jw, a->cfg->language);
    jw_key(jw, "logged_in");
    jw_bool(jw, logged_in);
    jw_key(jw, "view_password_required");
    jw_bool(jw, vp_required && !may_view);
    jw_obj_end(jw);
    api_reply_body(req, 0, &out);
}

static void h_view_password(struct http_request *req, void *ud)
{
    struct api *a = ud;
    struct slice body;
    http_request_body(req, &body);
    const char *pw = NULL;
    char *form_pw = NULL;
    json_t *j = NULL;
    const char *ct = http_request_header(req, "content-type");
    if (ct && strncasecmp(ct, "application/json", 16) == 0) {
        j = json_loadb(body.ptr ? body.ptr : "", body.len, 0, NULL);
        if (j && json_is_object(j))
            api_jstr(j, "password", &pw);
    } else {
        /* form: Password=<urlencoded> (v0's field name) */
        const char *p = body.ptr;
        size_t n = body.len;
        if (p && n > 9 && strncmp(p, "Password=", 9) == 0) {
            form_pw = xmalloc(n);
            size_t k = 0;
            for (size_t i = 9; i < n && p[i] != '&'; i++) {
                if (p[i] == '+') {
                    form_pw[k++] = ' ';
                } else if (p[i] == '%' && i + 2 < n) {
                    int hi = ascii_hexval(p[i + 1]), lo = ascii_hexval(p[i + 2]);
                    if (hi < 0 || lo < 0)
                        break;
                    form_pw[k++] = (char)(hi << 4 | lo);
                    i += 2;
                } else {
                    form_pw[k++] = p[i];
                }
            }
            form_pw[k] = '\0';
            pw = form_pw;
        }
    }
    const char *want = a->cfg->site_viewpassword ? a->cfg->site_viewpassword : "";
    int ok =
        want[0] && pw && strlen(pw) == strlen(want) && sodium_memcmp(pw, want, strlen(want)) == 0;
    if (!ok) {
        api_reply(req, 200, 403, "密码错误", NULL);
    } else {
        char v[65];
        api_guard_vp_cookie_value(a, v);
        api_guard_set_cookie(req, a->cookie_vp, v, 86400);
        api_reply_ok(req, NULL);
    }
    free(form_pw);
    json_decref(j);
}

static const struct api_route routes[] = {
    {"GET", "/api/setting", h_setting_get},
    {"POST", "/api/setting", h_setting_post},
    {"GET", "/api/public", h_public},
    {"POST", "/view-password", h_view_password},
};

void api_settings_routes(struct api *a)
{
    api_routes_add(a, routes, sizeof(routes) / sizeof(routes[0]));
}
