/*
 * live: in-memory server registry, sorted by id, owned by the loop thread.
 * Lookups by id are binary searches; lookups by secret are binary searches
 * over a second array sorted by secret. The report rules (live_report_*) sit
 * at the end of the file.
 */
#include "live.h"

#include <errno.h>
#include <string.h>
#include <stdlib.h>

#include "core/xalloc.h"
#include "dashboard/store.h"
#include "nezha_v0.pb-c.h"
#include "proto/nezha_metrics.h"

void live_init(struct live *lv)
{
    lv->servers = NULL;
    lv->n = 0;
    lv->cap = 0;
    lv->gen = 0;
    lv->by_secret = NULL;
    lv->st = NULL;
    lv->n_observers = 0;
}

void live_set_store(struct live *lv, struct store *st)
{
    lv->st = st;
}

int live_observe(struct live *lv, live_observer_fn fn, void *ud)
{
    if (lv->n_observers >= LIVE_OBSERVERS_MAX)
        return -ENOSPC;
    lv->observers[lv->n_observers].fn = fn;
    lv->observers[lv->n_observers].ud = ud;
    lv->n_observers++;
    return 0;
}

static void server_free(struct live_server *s)
{
    if (!s)
        return;
    free(s->name);
    free(s->tag);
    free(s->secret);
    free(s->note);
    free(s->public_note);
    if (s->host)
        protobuf_c_message_free_unpacked(&s->host->base, NULL);
    if (s->state)
        protobuf_c_message_free_unpacked(&s->state->base, NULL);
    free(s);
}

void live_release(struct live *lv)
{
    for (size_t i = 0; i < lv->n; i++)
        server_free(lv->servers[i]);
    free(lv->servers);
    free(lv->by_secret);
    live_init(lv);
}

/* Index of the first server with id >= id. */
static size_t lower_bound(const struct live *lv, uint64_t id)
{
    size_t lo = 0, hi = lv->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (lv->servers[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct live_server *live_find_id(const struct live *lv, uint64_t id)
{
    size_t i = lower_bound(lv, id);
    if (i < lv->n && lv->servers[i]->id == id)
        return lv->servers[i];
    return NULL;
}

/* Index in by_secret of the first server whose secret is >= secret. */
static size_t secret_bound(const struct live *lv, const char *secret)
{
    size_t lo = 0, hi = lv->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(lv->by_secret[mid]->secret, secret) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct live_server *live_find_secret(const struct live *lv, const char *secret)
{
    if (!secret || !*secret)
        return NULL; /* an empty secret never authenticates (fixes docs/protocol.md §1.3 QUIRK) */
    size_t i = secret_bound(lv, secret);
    if (i < lv->n && strcmp(lv->by_secret[i]->secret, secret) == 0)
        return lv->by_secret[i];
    return NULL;
}

/* Removes s from the secret index (it must be there, under its current secret). */
static void secret_unlink(struct live *lv, const struct live_server *s, size_t n_indexed)
{
    for (size_t i = 0; i < n_indexed; i++) {
        if (lv->by_secret[i] == s) {
            memmove(lv->by_secret + i, lv->by_secret + i + 1,
                    (n_indexed - i - 1) * sizeof(*lv->by_secret));
            return;
        }
    }
}

/* Inserts s (not indexed) into the secret index holding n_indexed entries. */
static void secret_link(struct live *lv, struct live_server *s, size_t n_indexed)
{
    size_t lo = 0, hi = n_indexed;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(lv->by_secret[mid]->secret, s->secret) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(lv->by_secret + lo + 1, lv->by_secret + lo, (n_indexed - lo) * sizeof(*lv->by_secret));
    lv->by_secret[lo] = s;
}

static void set_str(char **dst, const char *src)
{
    const char *v = src ? src : "";
    if (*dst && strcmp(*dst, v) == 0)
        return;
    free(*dst);
    *dst = xstrdup(v);
}

struct live_server *live_upsert(struct live *lv, const struct store_server *row)
{
    size_t i = lower_bound(lv, row->id);
    struct live_server *s;
    if (i < lv->n && lv->servers[i]->id == row->id) {
        s = lv->servers[i];
    } else {
        if (lv->n == lv->cap) {
            lv->cap = lv->cap ? lv->cap * 2 : 16;
            lv->servers = xrealloc(lv->servers, lv->cap * sizeof(*lv->servers));
            lv->by_secret = xrealloc(lv->by_secret, lv->cap * sizeof(*lv->by_secret));
        }
        memmove(lv->servers + i + 1, lv->servers + i, (lv->n - i) * sizeof(*lv->servers));
        s = xcalloc(1, sizeof(*s));
        s->id = row->id;
        lv->servers[i] = s;
        lv->n++;
        /* Restore the last known Host and LastActive persisted by an earlier run. */
        if (row->host_pb && row->host_len) {
            s->host = proto__host__unpack(NULL, row->host_len, row->host_pb);
        }
        s->last_active = row->last_active;
        s->last_active_ms = row->last_active * 1000;
        s->persisted_active = row->last_active;
    }
    set_str(&s->name, row->name);
    set_str(&s->tag, row->tag);
    int fresh = s->secret == NULL;
    if (fresh || strcmp(s->secret, row->secret ? row->secret : "") != 0) {
        /* (Re)index under the new secret; a new server is not indexed yet. */
        if (!fresh)
            secret_unlink(lv, s, lv->n);
        set_str(&s->secret, row->secret);
        secret_link(lv, s, lv->n - 1); /* n - 1 servers are indexed now */
    }
    set_str(&s->note, row->note);
    set_str(&s->public_note, row->public_note);
    s->display_index = row->display_index;
    s->hide_for_guest = row->hide_for_guest;
    s->created_at = row->created_at;
    s->updated_at = row->updated_at;
    lv->gen++;
    return s;
}

void live_remove(struct live *lv, uint64_t id)
{
    size_t i = lower_bound(lv, id);
    if (i >= lv->n || lv->servers[i]->id != id)
        return;
    secret_unlink(lv, lv->servers[i], lv->n);
    server_free(lv->servers[i]);
    memmove(lv->servers + i, lv->servers + i + 1, (lv->n - i - 1) * sizeof(*lv->servers));
    lv->n--;
    lv->gen++;
}

int live_server_online(const struct live_server *s, int64_t now_ms)
{
    int64_t last_ms = s->last_active_ms ? s->last_active_ms : s->last_active * 1000;
    return last_ms != 0 && last_ms >= now_ms - LIVE_ONLINE_WINDOW_MS;
}

int live_cmp_display(const void *a, const void *b)
{
    const struct live_server *x = *(const struct live_server *const *)a;
    const struct live_server *y = *(const struct live_server *const *)b;
    if (x->display_index != y->display_index)
        return x->display_index > y->display_index ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* ---- reports ---- */

/* Replaces a protobuf-c string field with an owned copy of v. */
static void pb_set_string(char **field, const char *v)
{
    if (*field && *field != protobuf_c_empty_string)
        free(*field);
    *field = xstrdup(v);
}

/* Queues srv's LastActive (and its Host when with_host) to the store. */
static void persist(struct live *lv, struct live_server *srv, int with_host)
{
    if (!lv->st)
        return;
    uint8_t *pb = NULL;
    size_t len = 0;
    if (with_host && srv->host) {
        len = proto__host__get_packed_size(srv->host);
        pb = xmalloc(len ? len : 1);
        proto__host__pack(srv->host, pb);
    }
    store_enqueue_live(lv->st, srv->id, pb, len, srv->last_active);
    srv->persisted_active = srv->last_active;
    free(pb);
}

void live_report_state(struct live *lv, struct live_server *srv, struct Proto__State *st,
                       int64_t now_ms)
{
    if (srv->state)
        protobuf_c_message_free_unpacked(&srv->state->base, NULL);
    srv->state = st;
    lv->gen++;
    srv->last_active_ms = now_ms;
    srv->last_active = now_ms / 1000;
    /* docs/protocol.md §8.7: the first report after start (either baseline 0) sets both
     * baselines. */
    if (srv->transfer_in_base == 0 || srv->transfer_out_base == 0) {
        srv->transfer_in_base = (int64_t)st->net_in_transfer;
        srv->transfer_out_base = (int64_t)st->net_out_transfer;
    }
    /* LastActive reaches the disk at most every few seconds (and at shutdown). */
    if (srv->last_active - srv->persisted_active >= LIVE_PERSIST_EVERY_S)
        persist(lv, srv, 0);
    if (lv->n_observers) {
        struct nezha_sample sample;
        nezha_metrics_from_state(st, &sample);
        for (size_t i = 0; i < lv->n_observers; i++)
            lv->observers[i].fn(lv->observers[i].ud, srv->id, &sample, now_ms);
    }
}

void live_report_host(struct live *lv, struct live_server *srv, struct Proto__Host *h,
                      const char *peer_ip)
{
    /* Lotus improvement: an agent that could not discover its public IP is
     * recorded with the address it connected from (docs/compatibility.md). */
    if (!h->ip || !h->ip[0])
        pb_set_string(&h->ip, peer_ip);
    if (srv->host) {
        /* docs/protocol.md §8.7: a later boot time means the counters restarted from 0. */
        if (h->boot_time > srv->host->boot_time && srv->state) {
            srv->transfer_in_base -= (int64_t)srv->state->net_in_transfer;
            srv->transfer_out_base -= (int64_t)srv->state->net_out_transfer;
        }
        /* The country code only comes from LookupGeoIP; keep it (docs/protocol.md fact 5). */
        pb_set_string(&h->country_code, srv->host->country_code ? srv->host->country_code : "");
        protobuf_c_message_free_unpacked(&srv->host->base, NULL);
    } else {
        pb_set_string(&h->country_code, "");
    }
    srv->host = h;
    lv->gen++;
    persist(lv, srv, 1);
}

int live_report_country(struct live *lv, struct live_server *srv, const char *cc)
{
    if (!srv->host)
        return -ENOENT;
    pb_set_string(&srv->host->country_code, cc);
    lv->gen++;
    persist(lv, srv, 1);
    return 0;
}

void live_persist_pending(struct live *lv)
{
    for (size_t i = 0; lv->st && i < lv->n; i++) {
        struct live_server *s = lv->servers[i];
        if (s->last_active > s->persisted_active)
            store_enqueue_live(lv->st, s->id, NULL, 0, s->last_active);
    }
}
