/*
 * api_assets: the embedded UI and the agent binary (see api_assets.h).
 */
#include "dashboard/api/api_assets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <sodium.h>

#include "core/log.h"
#include "dashboard/api/api_int.h"
#include "dashboard/auth.h"
#include "dashboard/http.h"
#include "dashboard/http_query.h"
#include "dashboard/webassets.h"

/*
 * An embedded asset. When it has a build-time gzip form, the representation
 * follows Accept-Encoding: each form has its own strong ETag (so a cached
 * identity copy never validates the gzip one), and every answer, 304s
 * included, says "Vary: Accept-Encoding". No on-the-fly compression here.
 */
static void send_asset(struct http_request *req, const struct webasset *a)
{
    int gz = a->gz && http_request_accepts_gzip(req);
    const char *etag = gz ? a->gz_etag : a->etag;
    http_request_set_compress(req, 0);
    if (a->gz)
        http_request_add_header(req, "Vary", "Accept-Encoding");
    http_request_add_header(req, "ETag", etag);
    http_request_add_header(req, "Cache-Control",
                            a->immutable ? "public, max-age=31536000, immutable" : "no-cache");
    const char *inm = http_request_header(req, "if-none-match");
    if (inm && http_query_etag_match(inm, etag)) {
        http_request_respond(req, 304, NULL, NULL);
        return;
    }
    struct buf b;
    buf_init(&b, 0);
    if (gz) {
        buf_append(&b, a->gz, a->gz_len);
        http_request_respond_gzip(req, 200, a->content_type, &b);
    } else {
        buf_append(&b, a->data, a->len);
        http_request_respond(req, 200, a->content_type, &b);
    }
    buf_release(&b);
}

/* The agent binary for the one-line install (read once at start, see load_agent_binary). */
static void send_agent(struct api_agent_bin *ab, struct http_request *req)
{
    http_request_add_header(req, "ETag", ab->etag);
    http_request_add_header(req, "Cache-Control", "no-cache");
    const char *inm = http_request_header(req, "if-none-match");
    if (inm && http_query_etag_match(inm, ab->etag)) {
        http_request_respond(req, 304, NULL, NULL);
        return;
    }
    struct buf b;
    buf_init(&b, 0);
    buf_append(&b, ab->bin.data, ab->bin.len);
    http_request_respond(req, 200, "application/octet-stream", &b);
    buf_release(&b);
}

static void h_asset(struct http_request *req, void *ud)
{
    struct api *a = ud;
    struct api_agent_bin *ab = &a->agent;
    const char *path = http_request_path(req);
    if (ab->bin.len && strcmp(path, ab->path) == 0) {
        send_agent(ab, req);
        return;
    }
    const struct webasset *wa = webasset_find(path, strlen(path));
    if (!wa) {
        http_request_respond_text(req, 404, "text/plain; charset=utf-8", "404 page not found\n");
        return;
    }
    send_asset(req, wa);
}

/* The single-page UI: every page path answers index.html (the UI routes itself). */
static void h_page(struct http_request *req, void *ud)
{
    (void)ud;
    const struct webasset *a = webasset_find("/index.html", 11);
    if (!a) {
        http_request_respond_text(req, 500, "text/plain; charset=utf-8", "UI not built\n");
        return;
    }
    http_request_add_header(req, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; style-src 'self' "
                            "'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'");
    send_asset(req, a);
}

/*
 * Reads the lotus-agent binary installed next to this lotus-dashboard (one
 * fixed path, resolved once at start) so the install command can download it
 * from /static/lotus-agent-linux-<arch>. Missing: the route answers 404.
 */
void api_assets_load_agent(struct api_agent_bin *ab)
{
    buf_init(&ab->bin, 64u << 20);
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 32);
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    snprintf(slash + 1, sizeof(exe) - (size_t)(slash + 1 - exe), "lotus-agent");
    FILE *f = fopen(exe, "rb");
    if (!f)
        return;
    char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (buf_append(&ab->bin, chunk, k) != 0)
            break;
    fclose(f);
    if (ab->bin.err) {
        buf_release(&ab->bin);
        return;
    }
    struct utsname u;
    const char *arch = "amd64";
    if (uname(&u) == 0 && strcmp(u.machine, "aarch64") == 0)
        arch = "arm64";
    else if (uname(&u) == 0 && strncmp(u.machine, "armv7", 5) == 0)
        arch = "arm";
    snprintf(ab->path, sizeof(ab->path), "/static/lotus-agent-linux-%s", arch);
    uint8_t h[AUTH_HASH_LEN];
    auth_hash(ab->bin.data, ab->bin.len, h);
    char hex[17];
    sodium_bin2hex(hex, sizeof(hex), h, 8);
    snprintf(ab->etag, sizeof(ab->etag), "\"%s\"", hex);
    log_info("serving %s (%zu bytes) for agent installs", ab->path, ab->bin.len);
}

void api_assets_release(struct api_agent_bin *ab)
{
    buf_release(&ab->bin);
}

static const struct api_route routes[] = {
    {"GET", "/static/*path", h_asset},
    {"GET", "/favicon.ico", h_asset},
    {"GET", "/", h_page},
    {"GET", "/login", h_page},
    {"GET", "/service", h_page},
    {"GET", "/network", h_page},
    {"GET", "/network/*rest", h_page},
    {"GET", "/admin", h_page},
    {"GET", "/admin/*rest", h_page},
};

void api_assets_routes(struct api *a)
{
    api_routes_add(a, routes, sizeof(routes) / sizeof(routes[0]));
}
