/*
 * Idle SMTP sessions kept for the next message to the same destination
 * (Postfix's connection cache): a smart host takes all the mail, and a
 * new connection per message costs both sides a TCP and TLS handshake,
 * the greeting, EHLO and AUTH. A session is parked only between
 * transactions (the server's state is reset after the reply to the data);
 * it is closed with QUIT after idle_ms unused, and dropped at once when
 * the server speaks or closes while it waits.
 */
#ifndef POSTERN_QUEUE_CONNCACHE_H
#define POSTERN_QUEUE_CONNCACHE_H

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

#define CONNCACHE_KEY_MAX 272

/* What the session established, restored by the transaction that takes
 * it (no new EHLO, STARTTLS or AUTH on a reused session). */
struct conn_state {
	struct sockaddr_storage addr;
	char relay[320];	/* "host[ip]:port" for the logs */
	char tls_version[32];	/* "TLSv1.3" or "none" */
	bool tls, verified;
	bool pipelining, size, eightbit, smtputf8;
	unsigned uses;		/* transactions done on it */
	time_t born;		/* when it connected (monotonic seconds) */
};

struct conncache;

/* At most max idle sessions, each kept idle_ms. */
struct conncache *conncache_new(struct event_base *base, unsigned idle_ms, size_t max);
/* Closes every idle session (no QUIT: the loop is going away). */
void conncache_free(struct conncache *c);

/* Takes bev (an SMTP session at rest) for key; a full cache closes its
 * oldest idle session. */
void conncache_put(struct conncache *c, const char *key, struct bufferevent *bev,
    const struct conn_state *st);

/* The most recently parked live session for key, or NULL. The caller owns
 * the bufferevent (and sets its callbacks); *st is what it established. */
struct bufferevent *conncache_take(struct conncache *c, const char *key, struct conn_state *st);

/* Sessions idle now (tests, stats). */
size_t conncache_idle(const struct conncache *c);

#endif
