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
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Atomically replaces path with len bytes of data. Returns 0 or -1/errno. */
int durable_write_file(const char *path, const void *data, size_t len, mode_t mode);

/* fsync()s a directory, making renames and creations in it durable. */
int durable_sync_dir(const char *dir);

/* mkdir -p with mode for each created component. Returns 0 or -1/errno. */
int durable_mkdirs(const char *path, mode_t mode);

/* write() all of it, retrying on EINTR and short writes. */
int durable_write_all(int fd, const void *data, size_t len);

/* The whole file, NUL-terminated, into a new buffer; st filled. NULL with
 * errno set when it cannot be read. */
char *durable_slurp(const char *path, struct stat *st);

/*
 * Read-modify-write of a small file shared by the server and the command
 * line tools: under an exclusive lock (path.lock), fn gets the current
 * contents ("" when missing) and writes the new ones to out; the file is
 * then replaced atomically with mode. Run as root, the file and its lock
 * take the owner of their directory (the `user =` postern drops to), so
 * that both sides can go on editing it. Returns 0, or -1 with *err set.
 */
int durable_edit_file(const char *path, mode_t mode,
    int (*fn)(char *old, FILE *out, void *arg, char **err), void *arg, char **err);

#endif
