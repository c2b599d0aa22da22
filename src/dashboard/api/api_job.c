/*
 * api_job: handler jobs on the libuv work pool (see api_job.h).
 */
#include "dashboard/api/api_job.h"

#include <errno.h>
#include <stdlib.h>

#include "core/xalloc.h"
#include "dashboard/api/api_int.h"
#include "dashboard/api/api_reply.h"

static void job_work(uv_work_t *w)
{
    struct api_job *j = w->data;
    j->run(j);
}

static void job_free(struct api_job *j)
{
    if (j->release)
        j->release(j->ctx);
    free(j->ctx);
    free(j);
}

static void job_after(uv_work_t *w, int status)
{
    struct api_job *j = w->data;
    struct api *a = j->api;
    a->pending--;
    if (status != 0)
        j->rc = -ECANCELED;
    if (j->done)
        j->done(j);
    job_free(j);
    api_release_if_idle(a);
}

struct api_job *api_job_new(struct api *a, struct http_request *req, api_job_fn run,
                            api_job_fn done, size_t ctx_size, api_job_release_fn release)
{
    struct api_job *j = xcalloc(1, sizeof(*j));
    j->api = a;
    j->req = req;
    j->run = run;
    j->done = done;
    j->release = release;
    j->ctx = xcalloc(1, ctx_size ? ctx_size : 1);
    j->work.data = j;
    return j;
}

void api_job_start(struct api_job *j)
{
    j->api->pending++;
    if (uv_queue_work(j->api->loop, &j->work, job_work, job_after) != 0) {
        j->api->pending--;
        if (j->req)
            api_reply(j->req, 503, 503, "server busy", NULL);
        job_free(j);
    }
}

void api_job_discard(struct api_job *j)
{
    job_free(j);
}
