/*
 * One SMTP session (RFC 5321) on an accepted connection: the state
 * machine, its command table, DATA and BDAT, STARTTLS. A session is
 * created by the server's accept path and frees itself when the
 * connection ends.
 */
#ifndef POSTERN_SMTP_SESSION_H
#define POSTERN_SMTP_SESSION_H

#include <event2/util.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "smtp/server.h"

/* Caps a peer cannot raise (STYLE 4). */
#define SMTP_ERRORS_MAX 10		/* then 421 (RFC 5321 4.5.3.2 spirit) */
#define SMTP_INPUT_HIGH (128 * 1024)	/* stop reading beyond this */
#define SMTP_OUTPUT_HIGH (64 * 1024)	/* stop processing beyond this */

/* Takes ownership of fd; the session links itself into srv->sessions. */
void session_start(struct server *srv, evutil_socket_t fd,
    const struct sockaddr *sa, socklen_t salen, enum listener_role role);

/* Live sessions from the same address as sa. */
unsigned session_count_ip(const struct server *srv, const struct sockaddr *sa);

/* At max_connections: closes the session that has waited longest for
 * its client (421 4.7.0, SPEC 2) so that a new client can be served.
 * False when no session is idle (all wait for lookups, scans or syncs). */
bool session_close_idlest(struct server *srv);

/* Shutdown: sessions not committing a message get 421 and close; those
 * committing finish their reply first. */
void session_shutdown_all(struct server *srv);

/* Frees every session left after the shutdown grace period, without a
 * reply: the event loop is no longer running. */
void session_abandon_all(struct server *srv);

#endif
