/*
 * api_audit: records security events (logins and their failures, password and
 * TOTP changes, tokens, users and roles, settings) in the store's bounded
 * audit log and in the log, with every value that came from the network
 * escaped (log_escape) so it cannot forge a line. Loop thread.
 */
#ifndef LOTUS_DASHBOARD_API_AUDIT_H
#define LOTUS_DASHBOARD_API_AUDIT_H

#include <stdint.h>

struct api;

/*
 * Logs "audit: <event> user '<login>' (id N) from <ip>: <detail>" at info
 * level and queues the row for the store (a fire-and-forget job; a failed
 * write is logged by the store and dropped). ip, login and detail are
 * borrowed and may be NULL; event is a static dotted name (docs/security.md
 * lists them). Longer values are truncated to the store's limits.
 */
void api_audit(struct api *a, const char *ip, uint64_t user_id, const char *login,
               const char *event, const char *detail);

#endif
