/*
 * The control socket <data_dir>/control (AF_UNIX, mode 0600): how
 * `postern queue flush|hold|release|delete|salvage` reaches a running
 * server; it lives in data_dir, which the server takes from its path.
 * One request line, one reply line ("ok ..." or "error: reason"); an id
 * that is not a queue id (spool_id_valid) is refused.
 */
#ifndef POSTERN_QUEUE_CONTROL_H
#define POSTERN_QUEUE_CONTROL_H

#include <event2/event.h>
#include <stddef.h>

#include "queue/scheduler.h"

#define CONTROL_LINE_MAX 512

struct control;

/* Listens on path (an old socket file is replaced). NULL with errno. */
struct control *control_start(struct event_base *base, const char *path, struct scheduler *sc);
void control_free(struct control *c);

/*
 * Client side: sends line, reads the reply into reply. Returns 0, or -1
 * when no server listens (errno set).
 */
int control_request(const char *path, const char *line, char *reply, size_t replylen);

#endif
