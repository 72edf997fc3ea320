/*
 * The Received: chain (SPEC 5.1). Each header's "from" clause names the
 * host that handed the message over and, in the formats of Postfix,
 * Exim, Sendmail, Exchange, Gmail and qmail, its IP. Walking from the
 * newest header down, hops from internal addresses (loopback, private,
 * link-local, trusted networks, our own) are skipped; the first other one
 * is the last external hop, and every hop below it is deeper.
 */
#ifndef POSTERN_SCAN_RECEIVED_H
#define POSTERN_SCAN_RECEIVED_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/value.h"

#define RCVD_HOPS_MAX 32
#define RCVD_IP_MAX 46

/* The sending IP of one Received header value, into ip (RCVD_IP_MAX).
 * Returns false when the header names none. */
bool received_parse_ip(const char *value, size_t len, char *ip);

struct received_hop {
	char ip[RCVD_IP_MAX];
	bool internal;
	bool last_external;	/* the hop that handed the message to us */
	bool deeper;		/* below the last external hop */
	unsigned field;		/* which Received field, 0 the newest */
};

struct received_chain {
	struct received_hop hops[RCVD_HOPS_MAX];	/* newest first */
	size_t n;
	int last_external;	/* index, -1 when every hop is internal */
};

/*
 * Classifies the hops of a header block. trusted (n) are the
 * trusted_networks; own (nown) this server's addresses.
 */
void received_chain(const char *headers, size_t len, const struct cidr *trusted, size_t ntrusted,
    const char *const *own, size_t nown, struct received_chain *out);

/* True for loopback, RFC 1918, RFC 6598, link-local, RFC 4193 and the like. */
bool received_ip_internal(const char *ip);

#endif
