/*
 * DANE for SMTP (RFC 7672, with RFC 7671): the TLSA records of an MX
 * host, read from DNSSEC-validated answers, and their use by OpenSSL to
 * authenticate the host's TLS. As Postfix does: DANE-EE(3) and DANE-TA(2)
 * with selectors 0/1 and matching types 0/1/2 are usable; PKIX-TA(0) and
 * PKIX-EE(1) (RFC 7672 3.1.3) and anything unknown are not. The parser is
 * pure; only dane_apply touches an SSL object.
 */
#ifndef POSTERN_QUEUE_DANE_H
#define POSTERN_QUEUE_DANE_H

#include <openssl/ssl.h>
#include <stddef.h>

#define DANE_DNS_TYPE_TLSA 52	/* RFC 6698 7.1 */
#define DANE_TLSA_MAX 8		/* usable records kept per host */
#define DANE_DATA_MAX 4096	/* a full certificate (matching type 0) at most */

enum dane_rr {
	DANE_USABLE,		/* 2 or 3, selector 0/1, matching type 0/1/2, right length */
	DANE_UNUSABLE,		/* well formed, but of no use to SMTP or to us */
	DANE_MALFORMED,		/* shorter than its fixed fields, or no data */
};

struct dane_tlsa {
	unsigned char usage, selector, mtype;
	size_t len;
	unsigned char *data;	/* owned */
};

struct dane_records {
	size_t n;			/* usable records in rec */
	size_t unusable;		/* the others, counted */
	struct dane_tlsa rec[DANE_TLSA_MAX];
};

/*
 * Reads one TLSA rdata (RFC 6698 2.1: usage, selector, matching type,
 * association data). *data points into rdata. A digest of the wrong
 * length (32 octets for SHA2-256, 64 for SHA2-512) is unusable (RFC 7671
 * 5.1).
 */
enum dane_rr dane_tlsa_parse(const char *rdata, size_t len, unsigned *usage, unsigned *selector,
    unsigned *mtype, const unsigned char **data, size_t *dlen);

/* Adds one rdata to r: kept when usable (up to DANE_TLSA_MAX), counted
 * as unusable otherwise. */
void dane_records_add(struct dane_records *r, const char *rdata, size_t len);
void dane_records_clear(struct dane_records *r);

/* Lets ctx's connections use DANE (once, on the client context). 0 or -1. */
int dane_ctx_enable(SSL_CTX *ctx);

/*
 * Makes ssl authenticate its peer by r: base is the TLSA base domain
 * (the MX host name), the reference identifier of DANE-TA; DANE-EE
 * matches the key alone, without name checks (RFC 7672 3.1.1, 3.2.2).
 * Returns the number of records OpenSSL took (0: none usable), -1 on
 * error. The outcome is read after the handshake with tls_client_verified.
 */
int dane_apply(SSL *ssl, const char *base, const struct dane_records *r);

/* After a verified handshake: "EE" or "TA", the kind of record that
 * matched, or NULL when DANE did not authenticate it. */
const char *dane_matched(SSL *ssl);

#endif
