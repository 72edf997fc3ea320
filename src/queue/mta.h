/*
 * Remote delivery: the SMTP client side (RFC 5321), OpenSMTPD's "mta".
 * One call delivers one message to the recipients of one domain: MX
 * lookup (fallback A/AAAA, RFC 5321 5.1), hosts by preference with
 * random order among equals, opportunistic STARTTLS (RFC 3207),
 * PIPELINING, SIZE, 8BITMIME/SMTPUTF8, dot-stuffing, per-recipient
 * results, a timeout on every step. Runs on the event loop.
 *
 * The same client speaks LMTP (RFC 2033) to a local delivery agent such
 * as Dovecot: LHLO, no STARTTLS, one reply per accepted recipient after
 * the data, over TCP (relayhost) or a unix socket (unix_path).
 */
#ifndef POSTERN_QUEUE_MTA_H
#define POSTERN_QUEUE_MTA_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

#include "dns/resolver.h"
#include "lib/value.h"

#define MTA_REPLY_MAX 512

struct mta_options {
	const char *helo;		/* our hostname */
	unsigned port;			/* outbound_port */
	const struct hostport *relayhost;	/* NULL: MX delivery */
	/* AUTH to the relayhost (SPEC 12), both or neither; copied (the
	 * password is wiped at mta_free) */
	const char *relayhost_user, *relayhost_password;
	/* MTA-STS policies (RFC 8461) are cached under data_dir/mta-sts;
	 * NULL: no MTA-STS (LMTP, tests of other parts) */
	const char *data_dir;
	bool dane;			/* dnssec = yes: DANE for MX hosts (RFC 7672) */
	const char *const *tls_required;	/* domains that need TLS (may be NULL) */
	size_t ntls_required;
	unsigned timeout;		/* seconds per step */
	/* DKIM signing: a newly allocated "DKIM-Signature: ...\r\n" for the
	 * message, or NULL to send it unsigned. */
	char *(*sign)(void *arg, const char *data, size_t len);
	void *sign_arg;
	/* SPEC 9: which address family remote delivery uses (0: any,
	 * AF_INET, AF_INET6), and the source address of each family (a
	 * source without a matching PTR gets mail refused by the large
	 * providers), NULL: the kernel's choice. */
	int family;
	const char *source4, *source6;
	bool lmtp;			/* LMTP to relayhost or unix_path */
	const char *unix_path;		/* LMTP over this unix socket */
};

struct mta_rcpt_result {
	size_t rcpt;			/* index in the message */
	bool ok;
	bool permanent;			/* 5xx: bounce */
	char reply[MTA_REPLY_MAX];	/* the server's reply or our reason */
};

struct mta_summary {
	char relay[320];		/* "host[ip]:port" that took the message */
	char tls[32];			/* "TLSv1.3" or "none" */
};

typedef void mta_done_cb(void *arg, const char *id, const struct mta_rcpt_result *res, size_t n,
    const struct mta_summary *sum);
/* One recipient's answer to the message itself (the reply to the data,
 * or in LMTP its own reply, RFC 2033 4.2) as soon as it is read, before
 * the transaction ends: lets the caller record a delivery at once. */
typedef void mta_rcpt_cb(void *arg, const char *id, const struct mta_rcpt_result *r);

struct mta;

struct mta *mta_new(struct event_base *base, struct resolver *res, const struct mta_options *opt);
void mta_free(struct mta *m);

/*
 * Sends one message (data, rcpts and sender are copied) from sender to
 * rcpts (all of domain). cb runs once on the loop, never before mta_send
 * returns; each (may be NULL) runs before it for every answer to the
 * data.
 */
void mta_send(struct mta *m, const char *id, const char *sender, const char *domain,
    const char *const *rcpts, const size_t *idx, size_t n, const char *data, size_t len,
    mta_rcpt_cb *each, mta_done_cb *cb, void *arg);

/* Transactions in flight, in total and for one domain. */
unsigned mta_active(const struct mta *m, const char *domain);

#endif
