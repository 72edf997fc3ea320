/*
 * The one way postern makes data durable (STYLE 7): write a temporary file
 * in the target directory, sync it, rename it over the target, sync the
 * directory. Batched variants (many files, one sync) go through
 * groupsync.h; this module is for the single-file case and the helpers
 * both share.
 */
#ifndef POSTERN_DURABLE_H
#define POSTERN_DURABLE_H

#include <stddef.h>
#include <sys/types.h>

/* Atomically replaces path with len bytes of data. Returns 0 or -1/errno. */
int durable_write_file(const char *path, const void *data, size_t len, mode_t mode);

/* fsync()s a directory, making renames and creations in it durable. */
int durable_sync_dir(const char *dir);

/* mkdir -p with mode for each created component. Returns 0 or -1/errno. */
int durable_mkdirs(const char *path, mode_t mode);

/* write() all of it, retrying on EINTR and short writes. */
int durable_write_all(int fd, const void *data, size_t len);

#endif
