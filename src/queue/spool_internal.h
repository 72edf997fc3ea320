/*
 * What spool.c (the queue file format, writing and loading) shares with
 * spool_repair.c (damaged files). Not an interface for the rest of
 * postern: use spool.h.
 */
#ifndef POSTERN_SPOOL_INTERNAL_H
#define POSTERN_SPOOL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "queue/spool.h"

#define SPOOL_MAGIC "POSTERN-QUEUE 1\n"
#define SPOOL_META_MARK "POSTERN-META\n"
#define SPOOL_TRAILER_FMT "\nPOSTERN-END %020" PRIu64 " %016" PRIx64 " %010u\n"
#define SPOOL_TRAILER_LEN (1 + 11 + 1 + 20 + 1 + 16 + 1 + 10 + 1)
#define SPOOL_FNV_OFFSET 14695981039346656037ULL
#define SPOOL_FNV32_OFFSET 2166136261U

/* FNV-1a 64 (the trailer, the envelope) and 32 (the blocks) of p[0..n). */
uint64_t spool_fnv1a(uint64_t h, const char *p, size_t n);
uint32_t spool_fnv1a32(uint32_t h, const char *p, size_t n);
/* Message offset where block k starts; number of blocks of len octets. */
uint64_t spool_block_start(size_t k);
size_t spool_block_count(uint64_t len);
/* Length covered by a valid trailer (meta length in *metalen), or -1. */
ssize_t spool_check_trailer(const char *buf, size_t len, size_t *metalen);
/* The envelope after the magic: offset past its blank line, or 0 when
 * malformed (env cleared); *sum_at: offset of its "sum" line, or 0. */
size_t spool_parse_envelope(const char *buf, size_t len, struct spool_envelope *env,
    size_t *sum_at);
/* A whole file, NUL-terminated; NULL with errno. */
char *spool_read_file(const char *path, size_t *len);
/* spool_finish, with an fsync of the file before it is closed. */
int spool_finish_synced(struct spool_writer *w, const struct spool_meta *meta);

#endif
