/*
 * api_audit: security events into the log and the audit_log table (see
 * api_audit.h).
 */
#include "dashboard/api/api_audit.h"

#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "dashboard/api/api_int.h"
#include "dashboard/api/api_job.h"
#include "dashboard/store.h"

struct audit_ctx {
    struct store_audit e; /* strings owned */
};

static void audit_release(void *p)
{
    store_audit_release(&((struct audit_ctx *)p)->e);
}

static void audit_run(struct api_job *j)
{
    struct audit_ctx *c = api_job_ctx(j);
    j->rc = store_audit_add(j->api->st, &c->e);
}

/* A copy of s (NULL = "") cut to at most max bytes, never inside a UTF-8 sequence. */
static char *dup_cut(const char *s, size_t max)
{
    if (!s)
        s = "";
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    char *d = xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void api_audit(struct api *a, const char *ip, uint64_t user_id, const char *login,
               const char *event, const char *detail)
{
    char elogin[200], eip[120], edetail[400];
    log_info("audit: %s user '%s' (id %llu) from %s%s%s", event,
             log_escape(login, elogin, sizeof(elogin)), (unsigned long long)user_id,
             ip && *ip ? log_escape(ip, eip, sizeof(eip)) : "-", detail && *detail ? ": " : "",
             detail && *detail ? log_escape(detail, edetail, sizeof(edetail)) : "");
    struct api_job *j =
        api_job_new(a, NULL, audit_run, NULL, sizeof(struct audit_ctx), audit_release);
    struct audit_ctx *c = api_job_ctx(j);
    c->e.created_at = clock_wall_ms();
    c->e.user_id = user_id;
    c->e.login = dup_cut(login, 64);
    c->e.ip = dup_cut(ip, 64);
    c->e.event = dup_cut(event, 64);
    c->e.detail = dup_cut(detail, STORE_AUDIT_DETAIL_MAX);
    api_job_start(j);
}
