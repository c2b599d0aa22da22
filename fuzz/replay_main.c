/*
 * replay_main: a stand-in for libFuzzer's main so every fuzz driver can be
 * built with gcc (release or ASan+UBSan flavour) and run once over its
 * corpus as a regression test (STYLE rule 45). Each argument is a file (run
 * as one input) or a directory (every regular file in it, sorted by name, is
 * run; subdirectories are not entered). Inputs larger than REPLAY_MAX_INPUT
 * are refused, like libFuzzer's -max_len would cut them.
 *
 * Output: one line "replayed N inputs from ARG" per argument; exit 0 when
 * every input ran (a crash or sanitizer report aborts the process), 1 when an
 * argument or file could not be read, 2 on usage errors.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Largest input replayed (bytes); corpus files are small seeds and minimised crashes. */
#define REPLAY_MAX_INPUT (4u << 20)

/* Reads path into a fresh malloc'd buffer (freed by the caller) and runs it. Returns 0 or -1. */
static int run_file(const char *path)
{
    FILE *fp = fopen(path, "rbe");
    if (!fp) {
        fprintf(stderr, "replay: cannot open '%s': %s\n", path, strerror(errno));
        return -1;
    }
    uint8_t *data = malloc(REPLAY_MAX_INPUT + 1);
    if (!data) {
        fclose(fp);
        fprintf(stderr, "replay: out of memory\n");
        return -1;
    }
    size_t n = fread(data, 1, REPLAY_MAX_INPUT + 1, fp);
    int bad = ferror(fp);
    fclose(fp);
    if (bad || n > REPLAY_MAX_INPUT) {
        fprintf(stderr, "replay: '%s': %s\n", path,
                bad ? "read error" : "input too large (max 4 MiB)");
        free(data);
        return -1;
    }
    /* Hand the driver an exact-size copy so ASan sees reads past the end. */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) {
        free(data);
        fprintf(stderr, "replay: out of memory\n");
        return -1;
    }
    memcpy(exact, data, n);
    free(data);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of dir; *count gets the number run. Returns 0 or -1. */
static int run_dir(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay: cannot open directory '%s': %s\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(len);
        if (!p) {
            rc = -1;
            break;
        }
        snprintf(p, len, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(p);
            continue;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **nn = realloc(names, ncap * sizeof(*names));
            if (!nn) {
                free(p);
                rc = -1;
                break;
            }
            names = nn;
            cap = ncap;
        }
        names[n++] = p;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) {
            if (run_file(names[i]) != 0)
                rc = -1;
            else
                (*count)++;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        /* libFuzzer-style flags (-runs=N ...) are accepted and ignored. */
        if (argv[i][0] == '-')
            continue;
        struct stat st;
        size_t count = 0;
        int r;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: '%s': %s\n", argv[i], strerror(errno));
            r = -1;
        } else if (S_ISDIR(st.st_mode)) {
            r = run_dir(argv[i], &count);
        } else {
            r = run_file(argv[i]);
            count = r == 0;
        }
        if (r != 0)
            rc = 1;
        printf("replayed %zu inputs from %s\n", count, argv[i]);
    }
    return rc;
}
