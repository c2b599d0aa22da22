/*
 * api_v1: Nezha v0 /api/v1 JSON rendering (see api_v1.h). Servers come from
 * struct live (sorted by id); the selection rules are docs/protocol.md §5.3.
 */
#include "dashboard/api/api_v1.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/ascii.h"
#include "core/buf.h"
#include "core/jw.h"
#include "core/strnum.h"
#include "core/xalloc.h"
#include "dashboard/live.h"
#include "nezha_v0.pb-c.h"

/* Keys are plain ASCII constants: written without escaping. */
#define KEY(w, lit) jw_key_ascii((w), lit, sizeof(lit) - 1)

void api_v1_split_ip(const char *ip, struct api_v1_ips *o)
{
    if (!ip)
        ip = "";
    size_t n = strlen(ip);
    o->ipv4 = o->ipv6 = o->valid = "";
    o->ipv4_len = o->ipv6_len = o->valid_len = 0;
    const char *slash = strchr(ip, '/');
    if (slash && !strchr(slash + 1, '/')) {
        o->ipv4 = ip;
        o->ipv4_len = (size_t)(slash - ip);
        o->ipv6 = slash + 1;
        o->ipv6_len = n - o->ipv4_len - 1;
        o->valid = o->ipv4;
        o->valid_len = o->ipv4_len;
    } else if (!slash && strchr(ip, ':')) {
        o->ipv6 = o->valid = ip;
        o->ipv6_len = o->valid_len = n;
    } else {
        o->ipv4 = o->valid = ip;
        o->ipv4_len = o->valid_len = n;
    }
}

/*
 * The hot fixed-shape objects are written with jw's cursor writers: the
 * worst-case size of one object is reserved once, then punctuation and keys
 * (fused into literals, inlined as fixed-size copies) and values are written
 * without any per-value check (see bench/jw_bench.c).
 */
#define LIT(p, s) (memcpy((p), s, sizeof(s) - 1), (p) += sizeof(s) - 1)

/*
 * Bytes of one object beyond its strings and list items: all 47 literals of
 * put_entry/put_host/put_state together (950 bytes, counting both of each
 * alternative and the null forms), about 10 single punctuation bytes,
 * 3 + 4 + 11 integers of at most JW_INT_BOUND and 5 doubles of at most
 * JW_DOUBLE_BOUND: under 1500 bytes. More, for safety; cursor_end aborts if
 * a write ever passes its bound.
 */
#define ENTRY_FIXED_BOUND 2304
/* One temperature beyond its name: `,{"Name":` `,"Temperature":` `}` and a double. */
#define TEMP_FIXED_BOUND (32 + JW_DOUBLE_BOUND)

static size_t str_bound(const char *s)
{
    return JW_STR_BOUND(s ? strlen(s) : 0);
}

static size_t list_bound(char **v, size_t n)
{
    size_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += str_bound(v[i]) + 1;
    return sum;
}

static size_t host_bound(const struct Proto__Host *h)
{
    if (!h)
        return 0;
    return str_bound(h->platform) + str_bound(h->platform_version) + list_bound(h->cpu, h->n_cpu) +
           str_bound(h->arch) + str_bound(h->virtualization) + str_bound(h->country_code) +
           str_bound(h->version) + list_bound(h->gpu, h->n_gpu);
}

static size_t state_bound(const struct Proto__State *s)
{
    if (!s)
        return 0;
    size_t sum = 0;
    for (size_t i = 0; i < s->n_temperatures; i++) {
        const Proto__StateSensorTemperature *t = s->temperatures[i];
        sum += TEMP_FIXED_BOUND + str_bound(t ? t->name : NULL);
    }
    return sum;
}

static char *put_str(char *p, const char *s)
{
    return jw_put_str(p, s ? s : "", s ? strlen(s) : 0);
}

/*
 * Go would fail the whole response on NaN/Inf (encoding/json refuses them);
 * Lotus renders such a value as 0 so one bad agent report cannot break the
 * API for every server (docs/compatibility.md, "API").
 */
static char *put_double(char *p, double v)
{
    return jw_put_double(p, isfinite(v) ? v : 0);
}

static char *put_str_list(char *p, char **v, size_t n)
{
    if (n == 0)
        return LIT(p, "null");
    *p++ = '[';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        p = put_str(p, v[i]);
    }
    *p++ = ']';
    return p;
}

static char *put_host(char *p, const struct Proto__Host *h)
{
    if (!h)
        return LIT(p, "{\"Platform\":\"\",\"PlatformVersion\":\"\",\"CPU\":null,\"MemTotal\":0,"
                      "\"DiskTotal\":0,\"SwapTotal\":0,\"Arch\":\"\",\"Virtualization\":\"\","
                      "\"BootTime\":0,\"CountryCode\":\"\",\"Version\":\"\",\"GPU\":null}");
    LIT(p, "{\"Platform\":");
    p = put_str(p, h->platform);
    LIT(p, ",\"PlatformVersion\":");
    p = put_str(p, h->platform_version);
    LIT(p, ",\"CPU\":");
    p = put_str_list(p, h->cpu, h->n_cpu);
    LIT(p, ",\"MemTotal\":");
    p = jw_put_u64(p, h->mem_total);
    LIT(p, ",\"DiskTotal\":");
    p = jw_put_u64(p, h->disk_total);
    LIT(p, ",\"SwapTotal\":");
    p = jw_put_u64(p, h->swap_total);
    LIT(p, ",\"Arch\":");
    p = put_str(p, h->arch);
    LIT(p, ",\"Virtualization\":");
    p = put_str(p, h->virtualization);
    LIT(p, ",\"BootTime\":");
    p = jw_put_u64(p, h->boot_time);
    LIT(p, ",\"CountryCode\":");
    p = put_str(p, h->country_code);
    LIT(p, ",\"Version\":");
    p = put_str(p, h->version);
    LIT(p, ",\"GPU\":");
    p = put_str_list(p, h->gpu, h->n_gpu);
    *p++ = '}';
    return p;
}

static char *put_state(char *p, const struct Proto__State *s)
{
    if (!s)
        return LIT(p, "{\"CPU\":0,\"MemUsed\":0,\"SwapUsed\":0,\"DiskUsed\":0,\"NetInTransfer\":0,"
                      "\"NetOutTransfer\":0,\"NetInSpeed\":0,\"NetOutSpeed\":0,\"Uptime\":0,"
                      "\"Load1\":0,\"Load5\":0,\"Load15\":0,\"TcpConnCount\":0,\"UdpConnCount\":0,"
                      "\"ProcessCount\":0,\"Temperatures\":null,\"GPU\":0}");
    LIT(p, "{\"CPU\":");
    p = put_double(p, s->cpu);
    LIT(p, ",\"MemUsed\":");
    p = jw_put_u64(p, s->mem_used);
    LIT(p, ",\"SwapUsed\":");
    p = jw_put_u64(p, s->swap_used);
    LIT(p, ",\"DiskUsed\":");
    p = jw_put_u64(p, s->disk_used);
    LIT(p, ",\"NetInTransfer\":");
    p = jw_put_u64(p, s->net_in_transfer);
    LIT(p, ",\"NetOutTransfer\":");
    p = jw_put_u64(p, s->net_out_transfer);
    LIT(p, ",\"NetInSpeed\":");
    p = jw_put_u64(p, s->net_in_speed);
    LIT(p, ",\"NetOutSpeed\":");
    p = jw_put_u64(p, s->net_out_speed);
    LIT(p, ",\"Uptime\":");
    p = jw_put_u64(p, s->uptime);
    LIT(p, ",\"Load1\":");
    p = put_double(p, s->load1);
    LIT(p, ",\"Load5\":");
    p = put_double(p, s->load5);
    LIT(p, ",\"Load15\":");
    p = put_double(p, s->load15);
    LIT(p, ",\"TcpConnCount\":");
    p = jw_put_u64(p, s->tcp_conn_count);
    LIT(p, ",\"UdpConnCount\":");
    p = jw_put_u64(p, s->udp_conn_count);
    LIT(p, ",\"ProcessCount\":");
    p = jw_put_u64(p, s->process_count);
    LIT(p, ",\"Temperatures\":");
    if (s->n_temperatures == 0) {
        LIT(p, "null");
    } else {
        *p++ = '[';
        for (size_t i = 0; i < s->n_temperatures; i++) {
            const Proto__StateSensorTemperature *t = s->temperatures[i];
            if (i)
                LIT(p, ",{\"Name\":");
            else
                LIT(p, "{\"Name\":");
            p = put_str(p, t ? t->name : "");
            LIT(p, ",\"Temperature\":");
            p = put_double(p, t ? t->temperature : 0);
            *p++ = '}';
        }
        *p++ = ']';
    }
    LIT(p, ",\"GPU\":");
    p = put_double(p, s->gpu);
    *p++ = '}';
    return p;
}

static void fold_err(struct jw *w, const struct buf *b)
{
    if (b->err && !w->err)
        w->err = b->err;
}

/*
 * A cursor with room for bound bytes: in b itself, or (when the worst case
 * would pass b's maximum) in the scratch buf tmp (caller storage, released
 * by cursor_end), so that the maximum applies to the real size. NULL when b
 * is in error.
 */
static char *cursor_begin(struct buf *b, struct buf *tmp, size_t bound)
{
    buf_init(tmp, 0);
    char *p = jw_reserve(b, bound);
    if (p || b->err)
        return p;
    p = jw_reserve(tmp, bound);
    if (!p) /* only for an absurd bound: make it b's error */
        buf_reserve(b, SIZE_MAX);
    return p;
}

/* Ends what cursor_begin started; end (borrowed) is where writing stopped. */
static void cursor_end(struct buf *b, struct buf *tmp, char *start, char *end, size_t bound)
{
    if ((size_t)(end - start) > bound)
        abort(); /* a bound above is wrong: memory is already corrupt */
    if (tmp->cap) {
        jw_commit(tmp, end);
        buf_append(b, tmp->data, tmp->len);
        buf_release(tmp);
    } else {
        jw_commit(b, end);
    }
}

void api_v1_write_host(struct jw *w, const struct Proto__Host *host)
{
    struct buf *b = jw_raw_value(w);
    if (!b)
        return;
    struct buf tmp;
    size_t bound = ENTRY_FIXED_BOUND + host_bound(host);
    char *p = cursor_begin(b, &tmp, bound);
    if (p)
        cursor_end(b, &tmp, p, put_host(p, host), bound);
    fold_err(w, b);
}

void api_v1_write_state(struct jw *w, const struct Proto__State *state)
{
    struct buf *b = jw_raw_value(w);
    if (!b)
        return;
    struct buf tmp;
    size_t bound = ENTRY_FIXED_BOUND + state_bound(state);
    char *p = cursor_begin(b, &tmp, bound);
    if (p)
        cursor_end(b, &tmp, p, put_state(p, state), bound);
    fold_err(w, b);
}

static char *put_entry(char *p, const struct live_server *sv, const struct api_v1_ips *ips,
                       int details)
{
    LIT(p, "{\"id\":");
    p = jw_put_u64(p, sv->id);
    LIT(p, ",\"name\":");
    p = put_str(p, sv->name);
    LIT(p, ",\"tag\":");
    p = put_str(p, sv->tag);
    LIT(p, ",\"last_active\":");
    p = jw_put_i64(p, sv->last_active ? sv->last_active : API_V1_ZERO_TIME);
    LIT(p, ",\"ipv4\":");
    p = jw_put_str(p, ips->ipv4, ips->ipv4_len);
    LIT(p, ",\"ipv6\":");
    p = jw_put_str(p, ips->ipv6, ips->ipv6_len);
    LIT(p, ",\"valid_ip\":");
    p = jw_put_str(p, ips->valid, ips->valid_len);
    LIT(p, ",\"display_index\":");
    p = jw_put_i64(p, sv->display_index);
    if (sv->hide_for_guest)
        LIT(p, ",\"hide_for_guest\":true");
    else
        LIT(p, ",\"hide_for_guest\":false");
    if (details) {
        LIT(p, ",\"host\":");
        p = put_host(p, sv->host);
        LIT(p, ",\"status\":");
        p = put_state(p, sv->state);
    }
    *p++ = '}';
    return p;
}

/* One CommonServerInfo (list) or StatusResponse (details) object. */
static void write_entry(struct jw *w, const struct live_server *sv, int details)
{
    struct buf *b = jw_raw_value(w);
    if (!b)
        return;
    struct api_v1_ips ips;
    api_v1_split_ip(sv->host ? sv->host->ip : NULL, &ips);
    size_t bound = ENTRY_FIXED_BOUND + str_bound(sv->name) + str_bound(sv->tag) +
                   JW_STR_BOUND(ips.ipv4_len) + JW_STR_BOUND(ips.ipv6_len) +
                   JW_STR_BOUND(ips.valid_len);
    if (details)
        bound += host_bound(sv->host) + state_bound(sv->state);
    struct buf tmp;
    char *p = cursor_begin(b, &tmp, bound);
    if (p)
        cursor_end(b, &tmp, p, put_entry(p, sv, &ips, details), bound);
    fold_err(w, b);
}

static const struct live_server *find_id(const struct live *lv, uint64_t id)
{
    size_t lo = 0;
    size_t hi = lv->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t m = lv->servers[mid]->id;
        if (m == id)
            return lv->servers[mid];
        if (m < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void write_all(struct jw *w, const struct live *lv, int details)
{
    if (lv->n == 0)
        return;
    /* The registry is sorted by id; with equal display indexes (the usual
     * case) that is already the wanted order and no copy is needed. */
    size_t i = 1;
    while (i < lv->n && lv->servers[i]->display_index == lv->servers[0]->display_index)
        i++;
    if (i == lv->n) {
        for (i = 0; i < lv->n; i++)
            write_entry(w, lv->servers[i], details);
        return;
    }
    struct live_server **v = xmalloc(lv->n * sizeof(*v));
    memcpy(v, lv->servers, lv->n * sizeof(*v));
    qsort(v, lv->n, sizeof(*v), live_cmp_display);
    for (i = 0; i < lv->n; i++)
        write_entry(w, v[i], details);
    free(v);
}

static void write_tag(struct jw *w, const struct live *lv, const char *tag, int details)
{
    for (size_t i = 0; i < lv->n; i++) {
        const struct live_server *sv = lv->servers[i];
        if (sv->tag && strcmp(sv->tag, tag) == 0)
            write_entry(w, sv, details);
    }
}

/* Go strconv.ParseUint(s, 10, 64) on s[0..n): digits only, leading zeros allowed. */
static int parse_id(const char *s, size_t n, uint64_t *out)
{
    while (n > 1 && s[0] == '0') {
        s++;
        n--;
    }
    return strnum_u64(s, n, out);
}

static void write_ids(struct jw *w, const struct live *lv, const char *ids)
{
    const char *p = ids;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        uint64_t id;
        if (parse_id(p, n, &id) == 0 && id != 0) {
            const struct live_server *sv = find_id(lv, id);
            if (sv)
                write_entry(w, sv, 1);
        }
        if (!comma)
            break;
        p = comma + 1;
    }
}

static int render(struct buf *out, const struct live *lv, const char *tag, const char *ids,
                  int details)
{
    struct jw w;
    jw_init(&w, out);
    jw_obj_begin(&w);
    KEY(&w, "code");
    jw_i64(&w, 0);
    KEY(&w, "message");
    jw_str(&w, "success");
    KEY(&w, "result");
    jw_arr_begin(&w);
    if (tag && *tag)
        write_tag(&w, lv, tag, details);
    else if (details && ids && *ids)
        write_ids(&w, lv, ids);
    else
        write_all(&w, lv, details);
    jw_arr_end(&w);
    jw_obj_end(&w);
    return jw_finish(&w);
}

int api_v1_render_list(struct buf *out, const struct live *lv, const char *tag)
{
    return render(out, lv, tag, NULL, 0);
}

int api_v1_render_details(struct buf *out, const struct live *lv, const char *tag,
                          const char *id_list)
{
    return render(out, lv, tag, id_list, 1);
}

/* ---- register ---- */

void api_v1_register_release(struct api_v1_register *r)
{
    free(r->name);
    free(r->tag);
    free(r->note);
    r->name = r->tag = r->note = NULL;
    r->hide_for_guest = 0;
}

/* Takes a string member; returns -EINVAL for a non-string non-null value. */
static int take_string(json_t *v, const char **dst, size_t max)
{
    if (json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) > max)
        return -EINVAL;
    *dst = json_string_value(v);
    return 0;
}

int api_v1_register_parse(const char *body, size_t len, const char *client_ip,
                          struct api_v1_register *r)
{
    memset(r, 0, sizeof(*r));
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY, &jerr);
    if (!root)
        return -EINVAL;
    int rc = -EINVAL;
    /* A JSON null decodes into nothing in Go: all defaults. */
    if (!json_is_object(root) && !json_is_null(root))
        goto out;
    const char *name = NULL;
    const char *tag = NULL;
    const char *note = NULL;
    const char *hide = NULL;
    const char *key;
    json_t *v;
    /* jansson keeps insertion order, so "last one wins" matches Go. Duplicate
     * exact keys are collapsed by jansson to the last value, as Go's would be. */
    if (json_is_object(root))
        json_object_foreach(root, key, v)
        {
            int e = 0;
            if (strcasecmp(key, "Name") == 0)
                e = take_string(v, &name, API_V1_REGISTER_NAME_MAX);
            else if (strcasecmp(key, "Tag") == 0)
                e = take_string(v, &tag, API_V1_REGISTER_TAG_MAX);
            else if (strcasecmp(key, "Note") == 0)
                e = take_string(v, &note, API_V1_REGISTER_NOTE_MAX);
            else if (strcasecmp(key, "HideForGuest") == 0)
                e = take_string(v, &hide, 16);
            if (e)
                goto out;
        }
    r->name = xstrdup(name && *name ? name : (client_ip ? client_ip : ""));
    r->tag = xstrdup(tag && *tag ? tag : "AutoRegister");
    r->note = xstrdup(note ? note : "");
    r->hide_for_guest = !(hide && *hide) || strcmp(hide, "on") == 0;
    rc = 0;
out:
    json_decref(root);
    return rc;
}

int api_v1_render_register_reply(struct buf *out, int code, const char *message, const char *secret)
{
    struct jw w;
    jw_init(&w, out);
    jw_obj_begin(&w);
    KEY(&w, "code");
    jw_i64(&w, code);
    KEY(&w, "message");
    jw_str(&w, message);
    KEY(&w, "secret");
    jw_str(&w, secret);
    jw_obj_end(&w);
    return jw_finish(&w);
}

int api_v1_render_register_simple(struct buf *out, const char *secret)
{
    struct jw w;
    jw_init(&w, out);
    jw_str(&w, secret);
    return jw_finish(&w);
}

int api_v1_register_simple_requested(const char *simple)
{
    return simple && (strcmp(simple, "true") == 0 || strcmp(simple, "1") == 0);
}

const char *api_v1_client_ip(const char *xff, const char *x_real_ip, const char *peer, char *out,
                             size_t outlen)
{
    const char *s = NULL;
    size_t n = 0;
    if (xff) {
        const char *comma = strchr(xff, ',');
        n = comma ? (size_t)(comma - xff) : strlen(xff);
        s = ascii_trim_blanks(xff, &n);
    }
    if ((!s || n == 0) && x_real_ip) {
        n = strlen(x_real_ip);
        s = ascii_trim_blanks(x_real_ip, &n);
    }
    if (!s || n == 0) {
        s = peer ? peer : "";
        n = strlen(s);
    }
    if (outlen == 0)
        return out;
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

int api_v1_render_unauthorized(struct buf *out)
{
    static const char body[] = "{\"code\":403,\"message\":\"访问此接口需要认证\"}";
    return buf_append(out, body, sizeof(body) - 1);
}
