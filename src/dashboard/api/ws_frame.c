/*
 * ws_frame: the v0 live frame renderer of /ws (see ws_frame.h): the live
 * registry to `{"now":..,"servers":[...]}` with Go's time format. Pure: no
 * clock, no sockets.
 */
#include "dashboard/api/ws_frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/jw.h"
#include "core/xalloc.h"
#include "dashboard/api/api_v1.h"
#include "dashboard/live.h"

#define ZERO_TIME      "0001-01-01T00:00:00Z"
#define UNIX_YEAR1     (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define UNIX_YEAR10000 253402300800LL   /* 10000-01-01T00:00:00Z */

#define KEY(w, lit) jw_key_ascii((w), lit, sizeof(lit) - 1)

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

size_t ws_format_time(int64_t ms, char out[WS_TIME_MAX])
{
    int64_t secs = floor_div(ms, 1000);
    int frac = (int)(ms - secs * 1000);
    if (secs < UNIX_YEAR1 || secs >= UNIX_YEAR10000) {
        memcpy(out, ZERO_TIME, sizeof(ZERO_TIME));
        return sizeof(ZERO_TIME) - 1;
    }
    int64_t days = floor_div(secs, 86400);
    int sod = (int)(secs - days * 86400);
    /* Civil date from days since 1970-01-01 (proleptic Gregorian, 400-year eras). */
    int64_t z = days + 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int day = (int)(doy - (153 * mp + 2) / 5 + 1);
    int month = (int)(mp < 10 ? mp + 3 : mp - 9);
    int year = (int)(yoe + era * 400 + (month <= 2));
    int n = snprintf(out, WS_TIME_MAX, "%04d-%02d-%02dT%02d:%02d:%02d", year, month, day,
                     sod / 3600, sod / 60 % 60, sod % 60);
    if (frac) {
        char f[4] = {(char)('0' + frac / 100), (char)('0' + frac / 10 % 10),
                     (char)('0' + frac % 10), '\0'};
        int flen = 3;
        while (f[flen - 1] == '0')
            flen--;
        out[n++] = '.';
        memcpy(out + n, f, (size_t)flen);
        n += flen;
    }
    out[n++] = 'Z';
    out[n] = '\0';
    return (size_t)n;
}

static void write_time(struct jw *w, int64_t ms)
{
    char t[WS_TIME_MAX];
    size_t n = ws_format_time(ms, t);
    jw_str_n(w, t, n);
}

static void write_server(struct jw *w, const struct live_server *s, int64_t now_ms)
{
    int64_t last_ms = s->last_active_ms ? s->last_active_ms : s->last_active * 1000;
    jw_obj_begin(w);
    KEY(w, "ID");
    jw_u64(w, s->id);
    KEY(w, "CreatedAt");
    write_time(w, s->created_at);
    KEY(w, "UpdatedAt");
    write_time(w, s->updated_at);
    KEY(w, "DeletedAt");
    jw_null(w);
    KEY(w, "Name");
    jw_str(w, s->name);
    KEY(w, "Tag");
    jw_str(w, s->tag);
    KEY(w, "DisplayIndex");
    jw_i64(w, s->display_index);
    KEY(w, "HideForGuest");
    jw_bool(w, s->hide_for_guest);
    KEY(w, "EnableDDNS");
    jw_bool(w, 0);
    KEY(w, "Host");
    api_v1_write_host(w, s->host);
    KEY(w, "State");
    api_v1_write_state(w, s->state);
    KEY(w, "LastActive");
    if (last_ms == 0)
        jw_str_n(w, ZERO_TIME, sizeof(ZERO_TIME) - 1);
    else
        write_time(w, last_ms);
    KEY(w, "PublicNote");
    jw_str(w, s->public_note);
    KEY(w, "Online");
    jw_bool(w, live_server_online(s, now_ms));
    jw_obj_end(w);
}

int ws_render_frame(const struct live *lv, int include_hidden, int64_t now_ms, struct buf *out)
{
    const struct live_server **v = NULL;
    size_t n = 0;
    if (lv->n)
        v = xmalloc(lv->n * sizeof(*v));
    for (size_t i = 0; i < lv->n; i++) {
        const struct live_server *s = lv->servers[i];
        if (include_hidden || !s->hide_for_guest)
            v[n++] = s;
    }
    if (n > 1)
        qsort(v, n, sizeof(*v), live_cmp_display);
    struct jw w;
    jw_init(&w, out);
    jw_obj_begin(&w);
    KEY(&w, "now");
    jw_i64(&w, now_ms);
    if (n) {
        KEY(&w, "servers");
        jw_arr_begin(&w);
        for (size_t i = 0; i < n; i++)
            write_server(&w, v[i], now_ms);
        jw_arr_end(&w);
    }
    jw_obj_end(&w);
    free(v);
    return jw_finish(&w);
}
