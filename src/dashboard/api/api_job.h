/*
 * api_job: the work-pool job of a handler. A handler that needs the disk (or
 * CPU-heavy work such as argon2id or gzip) creates a job with its own typed
 * context, fills it on the loop thread, and starts it: `run` executes on a
 * libuv work-pool thread, `done` back on the loop thread, where it applies
 * the result to the in-memory state and answers the request. The job and its
 * context are freed after `done`.
 *
 *     struct passwd_ctx { uint64_t user_id; char *old_pw, *new_pw; };
 *     struct api_job *j = api_job_new(a, req, passwd_run, passwd_done,
 *                                     sizeof(struct passwd_ctx), passwd_release);
 *     struct passwd_ctx *c = api_job_ctx(j);
 *
 * Threads: run must touch only the store (thread-safe; several calls that
 * must not interleave with other threads' go inside store_batch), its own
 * context and, read-only, the api's configuration. Everything else (live,
 * auth, the request) is for done.
 */
#ifndef LOTUS_DASHBOARD_API_JOB_H
#define LOTUS_DASHBOARD_API_JOB_H

#include <stddef.h>

#include <uv.h>

struct api;
struct http_request;
struct api_job;

typedef void (*api_job_fn)(struct api_job *j);
typedef void (*api_job_release_fn)(void *ctx);

struct api_job {
    uv_work_t work;
    struct api *api;            /* borrowed */
    struct http_request *req;   /* borrowed until done; NULL for fire-and-forget jobs */
    api_job_fn run;             /* work-pool thread */
    api_job_fn done;            /* loop thread; NULL = nothing to do */
    api_job_release_fn release; /* frees what the context owns; NULL = nothing */
    int rc;                     /* run's result; -ECANCELED when the pool dropped the job */
    void *ctx;                  /* the handler's context, zeroed, ctx_size bytes */
};

/*
 * A new job for req (borrowed; NULL = nobody to answer) with a zeroed context
 * of ctx_size bytes that release (may be NULL) frees the contents of. Never
 * fails (allocation failure aborts, as xalloc). Owned until api_job_start or
 * api_job_discard.
 */
struct api_job *api_job_new(struct api *a, struct http_request *req, api_job_fn run,
                            api_job_fn done, size_t ctx_size, api_job_release_fn release);
/* The job's context (typed by the handler that made it). */
static inline void *api_job_ctx(struct api_job *j)
{
    return j->ctx;
}
/*
 * Queues j on the work pool (consumed). If the pool refuses, answers req with
 * 503 {"code":503,"message":"server busy"} and frees j without calling done.
 */
void api_job_start(struct api_job *j);
/* Frees a job that was never started (consumed). */
void api_job_discard(struct api_job *j);

#endif
