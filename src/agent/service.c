/* service: systemd unit install/uninstall for the agent (see service.h). */
#include "agent/service.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/flags.h"
#include "core/buf.h"
#include "core/log.h"

extern char **environ;

void service_quote_arg(struct buf *out, const char *s)
{
    buf_putc(out, '"');
    for (; *s; s++) {
        switch (*s) {
        case '"':
            buf_puts(out, "\\\"");
            break;
        case '\\':
            buf_puts(out, "\\\\");
            break;
        case '%':
            buf_puts(out, "%%");
            break;
        case '$':
            buf_puts(out, "$$");
            break;
        default:
            buf_putc(out, *s);
            break;
        }
    }
    buf_putc(out, '"');
}

static void add_arg(const char *name, const char *value, void *ud)
{
    struct buf *out = ud;
    char *abs = NULL;
    /* the service runs from "/", so relative paths given at install time are made absolute */
    if (value && value[0] != '/' && (strcmp(name, "config") == 0 || strcmp(name, "root") == 0))
        abs = realpath(value, NULL);
    buf_puts(out, " --");
    buf_puts(out, name);
    if (value) {
        buf_putc(out, '=');
        service_quote_arg(out, abs ? abs : value);
    }
    free(abs);
}

int service_unit_text(struct buf *out, const char *exe, const struct agent_flags *f)
{
    buf_puts(out, "# Written by \"lotus-agent service install\"; remove with \"lotus-agent service "
                  "uninstall\".\n"
                  "[Unit]\n"
                  "Description=Lotus monitoring agent\n"
                  "After=network-online.target\n"
                  "Wants=network-online.target\n"
                  "\n"
                  "[Service]\n"
                  "Type=simple\n"
                  "ExecStart=");
    service_quote_arg(out, exe);
    agent_flags_each_given(f, add_arg, out);
    buf_puts(out, "\n"
                  "Restart=always\n"
                  "RestartSec=10\n"
                  "NoNewPrivileges=yes\n"
                  "ProtectSystem=strict\n"
                  "ProtectHome=read-only\n"
                  "PrivateTmp=yes\n"
                  "ProtectKernelModules=yes\n"
                  "ProtectKernelTunables=yes\n"
                  "ProtectControlGroups=yes\n"
                  "RestrictAddressFamilies=AF_INET AF_INET6 AF_NETLINK AF_UNIX\n"
                  "RestrictNamespaces=yes\n"
                  "RestrictRealtime=yes\n"
                  "RestrictSUIDSGID=yes\n"
                  "LockPersonality=yes\n"
                  "MemoryDenyWriteExecute=yes\n"
                  "SystemCallArchitectures=native\n"
                  "\n"
                  "[Install]\n"
                  "WantedBy=multi-user.target\n");
    return out->err;
}

static int is_real_dir(const char *env_dir)
{
    return env_dir == NULL || strcmp(env_dir, SERVICE_SYSTEMD_DIR) == 0;
}

static const char *find_systemctl(void)
{
    static const char *const cands[] = {"/usr/bin/systemctl", "/bin/systemctl"};
    for (size_t i = 0; i < 2; i++)
        if (access(cands[i], X_OK) == 0)
            return cands[i];
    return NULL;
}

/* Runs systemctl with up to three arguments; returns its exit status or -errno. */
static int run_systemctl(const char *sc, const char *a1, const char *a2, const char *a3)
{
    char *argv[] = {(char *)sc, (char *)a1, (char *)a2, (char *)a3, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, sc, NULL, NULL, argv, environ);
    if (rc != 0)
        return -rc;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -ECHILD;
}

int service_install(const struct agent_flags *f, const char *exe, const char *env_dir, char *err,
                    size_t errlen)
{
    const char *dir = env_dir ? env_dir : SERVICE_SYSTEMD_DIR;
    char path[4096], tmp[4200];
    struct buf unit;
    int rc = 0, fd = -1;
    buf_init(&unit, SERVICE_MAX_UNIT);
    if (snprintf(path, sizeof(path), "%s/%s", dir, SERVICE_UNIT_NAME) >= (int)sizeof(path)) {
        snprintf(err, errlen, "service directory path too long");
        rc = -ENAMETOOLONG;
        goto out;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (service_unit_text(&unit, exe, f) != 0) {
        snprintf(err, errlen, "service unit too large");
        rc = -E2BIG;
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot write \"%s\": %s", tmp, strerror(errno));
        goto out;
    }
    size_t off = 0;
    while (off < unit.len) {
        ssize_t n = write(fd, unit.data + off, unit.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = -errno;
            snprintf(err, errlen, "cannot write \"%s\": %s", tmp, strerror(errno));
            goto out;
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        rc = -errno;
        snprintf(err, errlen, "cannot write \"%s\": %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot rename \"%s\": %s", tmp, strerror(errno));
        goto out;
    }
    log_info("wrote \"%s\"", path);
    const char *sc = find_systemctl();
    if (is_real_dir(env_dir) && sc) {
        if (run_systemctl(sc, "daemon-reload", NULL, NULL) != 0 ||
            run_systemctl(sc, "enable", "--now", SERVICE_UNIT_NAME) != 0) {
            snprintf(err, errlen, "systemctl failed to enable \"%s\"", SERVICE_UNIT_NAME);
            rc = -EIO;
            goto out;
        }
        log_info("enabled and started \"%s\"", SERVICE_UNIT_NAME);
    } else {
        log_info("not running systemctl (%s)", sc ? "test directory" : "systemctl not found");
    }
out:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    } else if (rc != 0) {
        unlink(tmp);
    }
    buf_release(&unit);
    return rc;
}

int service_uninstall(const char *env_dir, char *err, size_t errlen)
{
    const char *dir = env_dir ? env_dir : SERVICE_SYSTEMD_DIR;
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/%s", dir, SERVICE_UNIT_NAME) >= (int)sizeof(path)) {
        snprintf(err, errlen, "service directory path too long");
        return -ENAMETOOLONG;
    }
    const char *sc = find_systemctl();
    int real = is_real_dir(env_dir) && sc;
    if (real)
        (void)run_systemctl(sc, "disable", "--now", SERVICE_UNIT_NAME); /* may not be loaded */
    if (unlink(path) != 0 && errno != ENOENT) {
        int e = errno;
        snprintf(err, errlen, "cannot remove \"%s\": %s", path, strerror(e));
        return -e;
    }
    if (real)
        (void)run_systemctl(sc, "daemon-reload", NULL, NULL);
    log_info("removed \"%s\"", path);
    return 0;
}
