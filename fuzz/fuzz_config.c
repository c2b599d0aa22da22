/*
 * libFuzzer driver for the dashboard's config.yaml loader
 * (src/dashboard/config.c, libyaml event API). The input is the file, served
 * from a memfd. On success the config must survive a write/load round trip:
 * config_write to a scratch directory (on /dev/shm when present, so the
 * fsync is cheap), config_load of that file into fresh defaults must
 * succeed, and writing that again must give byte-identical output. On
 * failure the error line must be non-empty. Must never crash or leak.
 *
 * Build: `make fuzz` (clang, libFuzzer) or the gcc corpus replayer built with
 * the unit tests (build/asan/replay/fuzz_config fuzz/corpus/config).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dashboard/config.h"
#include "fuzz_memfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Harness state: one scratch directory per process, removed at exit. */
static char scratch_dir[64];
static char scratch_a[96], scratch_b[96];

static void scratch_cleanup(void)
{
    unlink(scratch_a);
    unlink(scratch_b);
    rmdir(scratch_dir);
}

static void scratch_init(void)
{
    if (scratch_dir[0])
        return;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(scratch_dir, sizeof(scratch_dir), "%s/lotus-fuzz-config-XXXXXX", base);
    if (!mkdtemp(scratch_dir))
        abort();
    snprintf(scratch_a, sizeof(scratch_a), "%s/a.yaml", scratch_dir);
    snprintf(scratch_b, sizeof(scratch_b), "%s/b.yaml", scratch_dir);
    atexit(scratch_cleanup);
}

/* Reads a whole (small) file into a malloc'd buffer sized to it; aborts on error. */
static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rbe");
    if (!fp || fseek(fp, 0, SEEK_END) != 0)
        abort();
    long n = ftell(fp);
    if (n < 0 || (unsigned long)n > 4ul * CONFIG_FILE_MAX || fseek(fp, 0, SEEK_SET) != 0)
        abort();
    char *p = malloc((size_t)n + 1);
    if (!p)
        abort();
    *len = fread(p, 1, (size_t)n, fp);
    fclose(fp);
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fuzz_memfile mf = {.fd = -1};
    if (size > CONFIG_FILE_MAX + 1)
        return 0;
    scratch_init();
    const char *path = fuzz_memfile_set(&mf, data, size);
    struct dash_config c;
    char err[512];
    err[0] = '\0';
    config_defaults(&c);
    int rc = config_load(&c, path, err, sizeof(err));
    if (rc != 0) {
        if (rc > 0 || !err[0] || memchr(err, '\0', sizeof(err)) == NULL)
            abort();
        config_release(&c);
        return 0;
    }
    const char *ign[CONFIG_OPTIONS_MAX];
    size_t n_ign = config_ignored_keys(&c, ign, CONFIG_OPTIONS_MAX);
    if (n_ign > config_option_count())
        abort();
    if (config_write(&c, scratch_a, err, sizeof(err)) != 0)
        abort();
    struct dash_config c2;
    config_defaults(&c2);
    if (config_load(&c2, scratch_a, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_config: written config does not load back: %s\n", err);
        abort();
    }
    if (config_write(&c2, scratch_b, err, sizeof(err)) != 0)
        abort();
    size_t la, lb;
    char *a = slurp(scratch_a, &la), *b = slurp(scratch_b, &lb);
    if (la != lb || memcmp(a, b, la) != 0) {
        fprintf(stderr, "fuzz_config: write/load/write is not stable\n");
        abort();
    }
    free(a);
    free(b);
    config_release(&c2);
    config_release(&c);
    return 0;
}
