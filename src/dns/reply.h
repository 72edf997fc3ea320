/*
 * Reading a DNS reply message in wire format: libunbound's event mode
 * hands its callback the reply, not a parsed result. Gives what
 * libunbound's own result gives: the rcode, the records of the asked type
 * at the end of the answer's CNAME chain, and how long the answer may be
 * kept. The message carries what a server sent: every read is bounded by
 * len, and a malformed message is refused whole.
 */
#ifndef POSTERN_DNS_REPLY_H
#define POSTERN_DNS_REPLY_H

#include <stdbool.h>
#include <stddef.h>

/* One parsed reply. Owns data, len and what data points into. */
struct dns_reply {
	int rcode;		/* the header's */
	size_t count;		/* records of the asked type at the final name */
	char **data;		/* their rdata, names in it decompressed */
	int *len;
	unsigned ttl;		/* seconds the answer may be kept; 0: not at all */
	bool soa;		/* an SOA in the authority section: a negative
				 * answer may be kept at all (RFC 2308 5) */
	char *store;		/* the rdata octets, data points into it */
};

/*
 * Parses the reply buf/len to a question of type qtype (the question
 * section must hold exactly one question, of that type). Names inside the
 * rdata of NS, CNAME, PTR, MX and SOA records are decompressed, so a
 * record reads as libunbound's result gives it. ttl: for data, the
 * smallest TTL in the answer section; for no data, the smallest in the
 * answer and authority sections, an SOA's MINIMUM included (RFC 2308
 * 5); a TTL above 2^31-1
 * counts as 0 (RFC 2181 8). Returns 0, or -1 for a malformed message
 * (out is then empty). Free with dns_reply_clear either way.
 */
int dns_reply_parse(const char *buf, size_t len, int qtype, struct dns_reply *out);
/* Frees what out owns and empties it. */
void dns_reply_clear(struct dns_reply *r);

#endif
