/*
 * service: "lotus-agent service install|uninstall". Writes or removes the
 * systemd unit lotus-agent.service in /etc/systemd/system (or in the directory
 * named by env LOTUS_SYSTEMD_DIR, for tests). The unit's ExecStart carries the
 * flags given on the command line that differ from their defaults, quoted for
 * systemd. The unit holds the secret, so it is written 0600, atomically.
 * systemctl (daemon-reload, enable --now / disable --now) runs only when the
 * directory is the real one and systemctl exists.
 */
#ifndef LOTUS_AGENT_SERVICE_H
#define LOTUS_AGENT_SERVICE_H

#include <stddef.h>

struct agent_flags;
struct buf;

#define SERVICE_UNIT_NAME   "lotus-agent.service"
#define SERVICE_SYSTEMD_DIR "/etc/systemd/system"
#define SERVICE_MAX_UNIT    16384 /* bytes of the generated unit */

/* Appends s (borrowed) to out as one systemd ExecStart word (quoted, % and $ escaped). */
void service_quote_arg(struct buf *out, const char *s);

/*
 * Appends the whole unit text for binary `exe` (absolute path, borrowed) and
 * the given flags to out. Returns 0 or -E2BIG.
 */
int service_unit_text(struct buf *out, const char *exe, const struct agent_flags *f);

/*
 * Installs / uninstalls. exe borrowed; env_dir is the LOTUS_SYSTEMD_DIR value
 * (borrowed, NULL = the real directory). Returns 0 or a negative errno with a
 * one-line message in err[errlen].
 */
int service_install(const struct agent_flags *f, const char *exe, const char *env_dir, char *err,
                    size_t errlen);
int service_uninstall(const char *env_dir, char *err, size_t errlen);

#endif
