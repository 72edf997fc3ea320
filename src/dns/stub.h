/*
 * A stub resolver on c-ares for forwarders on this host: questions go to
 * the forwarder over one UDP socket (TCP when an answer is truncated) and
 * the reply message comes back whole, from the libevent loop. No thread,
 * no cache, no recursion: the resolver in front keeps the cache, the
 * forwarder does the rest.
 */
#ifndef POSTERN_DNS_STUB_H
#define POSTERN_DNS_STUB_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/value.h"

enum dns_stub_result {
	DNS_STUB_REPLY,		/* msg/len: the reply, whatever its rcode */
	DNS_STUB_FAILED,	/* no forwarder could be asked */
	DNS_STUB_TIMEOUT,	/* no forwarder answered in time */
	DNS_STUB_GONE,		/* the stub is being freed */
};

typedef void dns_stub_cb(void *arg, enum dns_stub_result result, const char *msg, size_t len);

struct dns_stub;

/*
 * True when every server is an address of this host (127.0.0.0/8, ::1):
 * on loopback nobody can answer in the forwarder's place, so one socket
 * (one source port) is as safe as a socket per question; past it, a
 * forged answer needs only the 16-bit id, and libunbound's port
 * randomisation is kept.
 */
bool dns_stub_suits(const struct hostport *servers, size_t n);

/* NULL with *err (caller frees) when c-ares refuses the setup. */
struct dns_stub *dns_stub_new(struct event_base *base, const struct hostport *servers,
    size_t n, char **err);
/* Every pending callback runs with DNS_STUB_GONE first. NULL is a no-op. */
void dns_stub_free(struct dns_stub *s);

/* dns_stub_send's answer for a name no DNS may be asked about */
#define DNS_STUB_NO_SUCH_NAME 1

/*
 * Asks name/type (class IN, recursion desired, EDNS 1232, a random id).
 * cb runs exactly once, from the loop, never from inside this call.
 * Returns 0; DNS_STUB_NO_SUCH_NAME for a .onion name, which RFC 7686
 * keeps out of the DNS (the answer is NXDOMAIN); -1 when the question
 * cannot be sent (a name c-ares refuses, no socket). cb never runs then.
 */
int dns_stub_send(struct dns_stub *s, const char *name, int type, dns_stub_cb *cb, void *arg);

#endif
