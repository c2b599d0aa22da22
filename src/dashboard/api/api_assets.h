/*
 * api_assets: the embedded web UI (/static/...,  /favicon.ico and the page
 * paths /, /login, /admin, /admin/..., which all answer index.html: the UI
 * routes itself) and the agent binary of the one-line install
 * (/static/lotus-agent-linux-<arch>, read once at start from next to this
 * binary). Loop thread.
 */
#ifndef LOTUS_DASHBOARD_API_ASSETS_H
#define LOTUS_DASHBOARD_API_ASSETS_H

#include "core/buf.h"

struct api;

/* The agent binary served for installs, embedded in struct api. */
struct api_agent_bin {
    char path[64];  /* "/static/lotus-agent-linux-<arch>" */
    struct buf bin; /* the file's bytes (empty: not installed, the route answers 404) */
    char etag[40];
};

/*
 * Start-up: reads the lotus-agent next to this lotus-dashboard (one fixed
 * path, resolved once; at most 64 MiB) into ab. Missing or unreadable: ab
 * stays empty. Release with api_assets_release.
 */
void api_assets_load_agent(struct api_agent_bin *ab);
void api_assets_release(struct api_agent_bin *ab);

/* Registers GET /static/(any), /favicon.ico, /, /login, /admin and /admin/(any). */
void api_assets_routes(struct api *a);

#endif
