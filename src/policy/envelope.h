/*
 * The envelope and content decisions of an SMTP transaction (SPEC 3, 4,
 * 5.4, 6.1-6.4): who may send, to whom, and what becomes of the message
 * once scanned. Each call takes the facts the session has and fills a
 * verdict; the session only sends it (STYLE 14). The rate limits and the
 * holds they set are decided, logged and alerted here.
 */
#ifndef POSTERN_POLICY_ENVELOPE_H
#define POSTERN_POLICY_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/userdb.h"
#include "lib/config.h"
#include "policy/ratelimit.h"
#include "policy/spamhaus.h"
#include "policy/decision.h"
#include "policy/hold.h"
#include "policy/suppress.h"
#include "scan/scan.h"
#include "smtp/address.h"
#include "smtp/parse.h"

/* What the session knows of its client (all borrowed). */
struct envelope_facts {
	const struct config *cfg;
	struct userdb *users;
	struct ratelimit *rl;
	struct holds *holds;
	struct state_ask *ask;		/* the command's answers from the shared
					 * state (limits): see state_ask */
	struct suppress *suppress;	/* remembered bounces, or NULL */
	const char *client_ip;
	const char *user;		/* authenticated account, or NULL */
	bool submission;		/* a submission port: AUTH required */
	bool relay_trusted;		/* trusted_networks (never the self-test) */
	struct client_checks *checks;	/* Spamhaus lookups, or NULL */
	bool dnsbl_exempt;		/* allow_networks / trusted_networks */
};

/* MAIL FROM; from NULL when the address did not parse (only the AUTH
 * and SIZE checks run, and nothing is counted). */
void policy_mail(const struct envelope_facts *f, const struct smtp_params *p,
    const struct mailaddr *from, struct decision *v);

/*
 * RCPT TO (addr: rcpt as formatted for logs), with nrcpts already
 * accepted. Accepted: *mailboxes is the recipient's comma-separated
 * Maildirs, or SPOOL_REMOTE to relay (the caller frees it).
 */
void policy_rcpt(const struct envelope_facts *f, size_t nrcpts, const struct mailaddr *rcpt,
    const char *addr, char **mailboxes, struct decision *v);

/*
 * The scanned message: the From: header of an authenticated sender must
 * be the account's, outbound spam is refused (and the account held),
 * inbound mail at score_reject is refused. msg may be NULL (not kept).
 */
void policy_content(const struct envelope_facts *f, const struct scan *sc, const char *msg,
    size_t len, struct decision *v);

/* The account owns the sender address (itself, or an alias that
 * delivers to it); the null sender always passes. */
bool policy_sender_owned(const struct envelope_facts *f, const struct mailaddr *from);

#endif
