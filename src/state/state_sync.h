/*
 * A blocking client of the shared state, for the command line only
 * (`postern stats` reads every node's counters). The server never uses
 * it: its loop asks Redis through state.h, asynchronously.
 */
#ifndef POSTERN_STATE_STATE_SYNC_H
#define POSTERN_STATE_STATE_SYNC_H

#include "lib/config.h"

struct state_sync;

/* Connects to cfg's Redis (AUTH, SELECT) within timeout_ms; NULL with
 * *err (caller frees) when it cannot, or when the backend is local. */
struct state_sync *state_sync_open(const struct config *cfg, unsigned timeout_ms, char **err);
/* NULL is a no-op. */
void state_sync_close(struct state_sync *c);

/* fn(arg, field, value) for each field of map (the same names as
 * state_map_put's). Returns 0, or -1 with *err. */
int state_sync_map_all(struct state_sync *c, const char *map,
    void (*fn)(void *arg, const char *field, const char *value), void *arg, char **err);
/* HSET (and EXPIRE the map after ttl seconds, 0: never). 0, or -1 with *err. */
int state_sync_map_put(struct state_sync *c, const char *map, const char *field,
    const char *value, unsigned ttl, char **err);

#endif
