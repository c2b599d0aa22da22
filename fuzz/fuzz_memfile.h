/*
 * fuzz_memfile: a tiny harness helper shared by the fuzz drivers whose code
 * under test reads a named file (config loaders). The input is written into a
 * memfd (memory-only file, no disk I/O) and exposed as "/proc/self/fd/N",
 * reused across inputs. Harness-only state; not part of Lotus.
 */
#ifndef LOTUS_FUZZ_MEMFILE_H
#define LOTUS_FUZZ_MEMFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

struct fuzz_memfile {
    int fd;        /* -1 until the first fuzz_memfile_set */
    char path[64]; /* "/proc/self/fd/N" */
};

/* Replaces the file's content with data[0..size); returns the path (inside mf) or aborts. */
static inline const char *fuzz_memfile_set(struct fuzz_memfile *mf, const uint8_t *data,
                                           size_t size)
{
    if (mf->fd < 0) {
        mf->fd = memfd_create("fuzz-input", MFD_CLOEXEC);
        if (mf->fd < 0)
            abort();
        snprintf(mf->path, sizeof(mf->path), "/proc/self/fd/%d", mf->fd);
    }
    if (ftruncate(mf->fd, 0) != 0)
        abort();
    size_t off = 0;
    while (off < size) {
        ssize_t k = pwrite(mf->fd, data + off, size - off, (off_t)off);
        if (k <= 0)
            abort();
        off += (size_t)k;
    }
    return mf->path;
}

#endif
