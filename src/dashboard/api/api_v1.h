/*
 * api_v1: the Nezha v0 `/api/v1/server/...` JSON bodies (docs/protocol.md §5.3), rendered
 * byte for byte like the Go dashboard (key order, number formatting, null
 * lists), from the loop thread's in-memory registry. Pure functions: no
 * sockets, no store access, no clock. Handlers in the HTTP layer call them
 * and send the result with Content-Type application/json; charset=utf-8.
 *
 * Deliberate differences from v0 (docs/compatibility.md, "API"):
 *  - unfiltered results are ordered by display_index desc, then id asc
 *    (v0: random map order);
 *  - display_index and hide_for_guest are filled in every variant (v0 fills
 *    them only in unfiltered details and renders 0/false elsewhere);
 *  - a tag filter lists the tag's servers in ascending id order (v0: tag
 *    list order = load order = ascending id, then creation/retag order).
 */
#ifndef LOTUS_DASHBOARD_API_V1_H
#define LOTUS_DASHBOARD_API_V1_H

#include <stddef.h>

struct buf;
struct jw;
struct live;
struct Proto__Host;
struct Proto__State;

/* last_active of a server that never reported: Go's zero time in Unix seconds. */
#define API_V1_ZERO_TIME (-62135596800LL)

/*
 * GET /api/v1/server/list?tag=  ->  {"code":0,"message":"success","result":[...]}
 * lv and tag borrowed (tag NULL or "" = all servers). Appends to out.
 * Returns 0, or the writer's error (-E2BIG when out's maximum is reached).
 */
int api_v1_render_list(struct buf *out, const struct live *lv, const char *tag);

/*
 * GET /api/v1/server/details?id=&tag=  (lv, tag, id_list borrowed; NULL = absent).
 * A non-empty tag wins; else a non-empty id_list selects one entry per
 * listed id in the given order (duplicates repeated; non-numeric, 0 and
 * unknown ids skipped); else all servers. Returns 0 or the writer's error.
 */
int api_v1_render_details(struct buf *out, const struct live *lv, const char *tag,
                          const char *id_list);

/*
 * The Go-named Host / State objects of the details and WebSocket payloads.
 * host/state borrowed; NULL renders the empty object of docs/protocol.md §4.3. The
 * writer must be positioned where a value is expected.
 */
void api_v1_write_host(struct jw *w, const struct Proto__Host *host);
void api_v1_write_state(struct jw *w, const struct Proto__State *state);

/*
 * Splits Host.ip ("v4/v6", "v4", "v6" or "") into the three API fields
 * (docs/protocol.md fact 13). ip borrowed (NULL = ""); outputs point into ip or at "".
 */
struct api_v1_ips {
    const char *ipv4;
    size_t ipv4_len;
    const char *ipv6;
    size_t ipv6_len;
    const char *valid;
    size_t valid_len;
};
void api_v1_split_ip(const char *ip, struct api_v1_ips *out);

/* ---- POST /api/v1/server/register ---- */

/* Maximum lengths accepted for the register fields (bytes). */
#define API_V1_REGISTER_NAME_MAX 255
#define API_V1_REGISTER_TAG_MAX  255
#define API_V1_REGISTER_NOTE_MAX 4096

struct api_v1_register {
    char *name; /* owned */
    char *tag;  /* owned */
    char *note; /* owned */
    int hide_for_guest;
};

/*
 * Parses and validates a register body (body borrowed, len bytes): a JSON
 * object whose keys Name, Tag, Note, HideForGuest are matched
 * case-insensitively (last one wins, like Go); other keys are ignored;
 * values must be strings (null leaves the default); only the first JSON value
 * is read (trailing bytes ignored, as Go's json.Decoder). Defaults: Name =
 * client_ip (borrowed), Tag = "AutoRegister", HideForGuest = "on"; empty
 * strings count as absent. HideForGuest is true iff the value is "on".
 * Returns 0 with r filled (release with api_v1_register_release), or -EINVAL
 * (reply 400 with api_v1_render_register_reply(out, 400, "Parse JSON failed", "")).
 */
int api_v1_register_parse(const char *body, size_t len, const char *client_ip,
                          struct api_v1_register *r);
/* Frees the strings of r; safe on a zeroed or already released struct. */
void api_v1_register_release(struct api_v1_register *r);

/* {"code":<code>,"message":<message>,"secret":<secret>}; strings borrowed. Returns 0 or -E2BIG. */
int api_v1_render_register_reply(struct buf *out, int code, const char *message,
                                 const char *secret);
/* The ?simple=true|1 success body: the secret as a JSON string. Returns 0 or -E2BIG. */
int api_v1_render_register_simple(struct buf *out, const char *secret);
/* True when the `simple` query value (borrowed, NULL = absent) asks for the simple reply. */
int api_v1_register_simple_requested(const char *simple);

/*
 * The client IP gin reports with all proxies trusted: the first
 * X-Forwarded-For entry (trimmed), else X-Real-IP (trimmed), else peer.
 * Arguments borrowed (NULL = header absent); writes at most outlen-1 bytes
 * plus NUL into out and returns out.
 */
const char *api_v1_client_ip(const char *xff, const char *x_real_ip, const char *peer, char *out,
                             size_t outlen);

/* {"code":403,"message":"访问此接口需要认证"}: unauthorised /api/v1/server/... (HTTP 200). */
int api_v1_render_unauthorized(struct buf *out);

#endif
