/*
 * Parsers for the typed values of the configuration file (SPEC section 2):
 * durations, sizes, rates, HOST:PORT, CIDR networks, scores. Pure: they
 * read exactly len bytes and return 0 on success, -1 on a malformed value
 * and VALUE_RANGE for a well-formed number too large for its type, so the
 * caller can say "out of range" rather than "malformed".
 */
#ifndef POSTERN_VALUE_H
#define POSTERN_VALUE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define HOSTPORT_HOST_MAX 256
#define VALUE_RANGE (-2)	/* well-formed, but overflows its type */

struct rate {
	unsigned count;
	unsigned seconds;
};

struct hostport {
	char host[HOSTPORT_HOST_MAX];	/* without brackets for IPv6 */
	unsigned port;
};

struct cidr {
	int family;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];		/* network, masked */
	unsigned prefix;
};

/* "30s", "10m", "1h", "5d", "2w", or plain seconds. */
int value_duration(const char *buf, size_t len, unsigned *out);
/* Octets with an optional K, M, G or T suffix (x1024). */
int value_size(const char *buf, size_t len, uint64_t *out);
/* COUNT/DURATION, e.g. "100/1h"; a zero duration is malformed. */
int value_rate(const char *buf, size_t len, struct rate *out);
/* HOST:PORT, [IPV6]:PORT; HOST may be a name or an address. */
int value_hostport(const char *buf, size_t len, struct hostport *out);
/* ADDRESS or ADDRESS/PREFIX, IPv4 or IPv6. */
int value_cidr(const char *buf, size_t len, struct cidr *out);
/* Decimal number, optionally signed, with optional fraction. */
int value_number(const char *buf, size_t len, double *out);
/* Non-negative integer. */
int value_uint(const char *buf, size_t len, unsigned *out);
/* yes/no/true/false/on/off/1/0. */
int value_bool(const char *buf, size_t len, bool *out);

/* True when the socket address falls inside the network. */
bool cidr_match(const struct cidr *net, const struct sockaddr *sa);
/* True when the address is inside any of the n networks. */
bool cidr_list_match(const struct cidr *nets, size_t n, const struct sockaddr *sa);

#endif
