/*
 * Group commit (STYLE 7): one file-system sync covers every file written
 * before it started. A dedicated thread runs syncfs() while anyone
 * waits, starting them at least GROUPSYNC_GAP_NS apart so that under load
 * each covers the requests of that time; callers never get an answer from
 * a sync that started before their request, so nothing is acknowledged
 * before its own data is on stable storage.
 */
#ifndef POSTERN_GROUPSYNC_H
#define POSTERN_GROUPSYNC_H

#include <event2/event.h>

struct groupsync;

/* Least time between the starts of two syncs; a request made when none
 * started for that long starts one at once (an idle server waits for
 * nothing more than the sync). */
#define GROUPSYNC_GAP_NS (4 * 1000 * 1000L)

typedef void groupsync_cb(void *arg, int status);

/*
 * Starts the sync thread for the file system holding path. Asynchronous
 * requests complete on base's thread. Returns NULL with errno set.
 */
struct groupsync *groupsync_new(struct event_base *base, const char *path);
/* Stops the thread after the syncs already requested. NULL is a no-op. */
void groupsync_free(struct groupsync *gs);

/*
 * Event-loop side: cb(arg, status) runs on the loop once a sync that
 * started after this call has completed; status 0 or an errno value.
 * The callback always runs exactly once (also at groupsync_free).
 */
void groupsync_request(struct groupsync *gs, groupsync_cb *cb, void *arg);
/*
 * The same for a file just written: the sync thread first cuts fd to cut
 * octets (cut -1: not) and closes it, then syncs. fd is groupsync's from
 * now on. A failed cut or close is the request's status (an errno).
 */
void groupsync_request_close(struct groupsync *gs, int fd, long long cut, groupsync_cb *cb,
    void *arg);

/* Worker-thread side: blocks until such a sync has completed. Returns 0
 * or an errno value. */
int groupsync_wait(struct groupsync *gs);

/* Number of syncs run so far (for benchmarks and tests). */
unsigned long groupsync_count(struct groupsync *gs);

#endif
