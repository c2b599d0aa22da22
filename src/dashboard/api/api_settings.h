/*
 * api_settings: the site settings (GET/POST /api/setting, saved to
 * config.yaml on the work pool, one write at a time), the public site info
 * the UI reads first (GET /api/public) and the view password's form
 * (POST /view-password, v0's field name "Password"). Loop thread.
 */
#ifndef LOTUS_DASHBOARD_API_SETTINGS_H
#define LOTUS_DASHBOARD_API_SETTINGS_H

struct api;

/* Registers GET/POST /api/setting, GET /api/public and POST /view-password. */
void api_settings_routes(struct api *a);

#endif
