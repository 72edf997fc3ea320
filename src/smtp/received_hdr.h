/*
 * The Received header postern writes first in every message it queues
 * (RFC 5321 4.4, SPEC 3): "from HELO (RDNS [IP]) by HOST (postern) with
 * PROTO id ID [(authenticated as USER)] [for <RCPT>]; DATE". Pure: the
 * session gathers the facts, this file only formats them.
 */
#ifndef POSTERN_SMTP_RECEIVED_HDR_H
#define POSTERN_SMTP_RECEIVED_HDR_H

#include <stdbool.h>
#include <time.h>

struct received_info {
	const char *helo;	/* as the client gave it */
	const char *rdns;	/* the client's verified name, NULL: "unknown" */
	const char *ip;		/* the client's address as text */
	const char *hostname;	/* ours */
	const char *id;		/* queue id */
	const char *user;	/* authenticated account, or NULL */
	const char *rcpt;	/* the only recipient, or NULL when several */
	bool esmtp;		/* EHLO, not HELO */
	bool tls;
	bool smtputf8;		/* the transaction used SMTPUTF8 (RFC 6531) */
	time_t when;
};

/*
 * The "with" keyword (RFC 3848, RFC 6531 3.7.3): SMTP, SMTPS, ESMTP,
 * ESMTPA, ESMTPS, ESMTPSA, or UTF8SMTP[S][A] for an SMTPUTF8 transaction.
 * A static string.
 */
const char *received_protocol(bool esmtp, bool tls, bool auth, bool smtputf8);

/* The whole header line, CRLF-terminated; the caller frees it. An IPv6
 * client is written [IPv6:ADDR] (RFC 5321 4.1.3), an IPv4-mapped one as
 * the IPv4 address it is. */
char *received_hdr(const struct received_info *ri);

#endif
