/*
 * DSN text. The human part says plainly what happened and what the
 * sender can do; the machine part follows RFC 3464 field by field, and
 * RFC 6533 once an address in it is not ASCII.
 */
#include "dsn.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"
#include "scan/mime.h"

/* The last error inside an expiry reason, or NULL when reason is none. */
static const char *
expired_error(const char *reason)
{
	static const char sep[] = "; last error: ";
	size_t n = strlen(DSN_EXPIRED);

	if (reason == NULL || strncmp(reason, DSN_EXPIRED, n) != 0)
		return NULL;
	return strncmp(reason + n, sep, sizeof(sep) - 1) == 0 ? reason + n + sizeof(sep) - 1 :
	    reason + n;
}

/* True when reason is an SMTP reply, "DDD text" with a 4xx or 5xx code. */
static bool
is_smtp_reply(const char *reason)
{
	return reason != NULL && strlen(reason) > 4 && reason[3] == ' ' &&
	    (reason[0] == '4' || reason[0] == '5') && reason[1] >= '0' && reason[1] <= '9' &&
	    reason[2] >= '0' && reason[2] <= '9';
}

/* "550 5.1.1 text" -> "5.1.1"; a reason without one gets a default. */
static void
status_of(const char *reason, enum dsn_kind kind, char *out, size_t outlen)
{
	const char *p = reason ? reason : "";

	/* RFC 3463 3.5 X.4.7 "delivery time expired": what a delay warning
	 * announces and what the end of queue_lifetime is, whatever the
	 * last temporary error said (SPEC 6.7) */
	if (kind == DSN_DELAYED || expired_error(reason) != NULL) {
		snprintf(out, outlen, "%s", kind == DSN_DELAYED ? "4.4.7" : "5.4.7");
		return;
	}
	/* "DDD X.Y.Z text": the enhanced code of the reply */
	if (strlen(p) > 6 && p[3] == ' ' && (p[4] == '2' || p[4] == '4' || p[4] == '5') &&
	    p[5] == '.') {
		size_t k = 4;
		while (p[k] != '\0' && p[k] != ' ' && k < 4 + 11)
			k++;
		snprintf(out, outlen, "%.*s", (int)(k - 4), p + 4);
		return;
	}
	snprintf(out, outlen, "%s", "5.0.0");
}

/* True when s holds a byte outside ASCII: an SMTPUTF8 address. */
static bool
is_utf8(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

/*
 * RFC 3464 2.3.2 Final-Recipient. An SMTPUTF8 address is of type "utf-8"
 * and, in a message/global-delivery-status, written as it is (RFC 6533 3,
 * utf-8-address); an ASCII one stays "rfc822".
 */
static void
put_recipient(FILE *f, const char *addr)
{
	fprintf(f, "Final-Recipient: %s; %s\r\n", is_utf8(addr) ? "utf-8" : "rfc822", addr);
}

char *
dsn_build(enum dsn_kind kind, const char *hostname, const struct spool_envelope *env,
    const size_t *idx, size_t n, const char *data, size_t len, time_t now)
{
	char date[64], arrival[64], boundary[64], status[16];
	struct tm tm;
	size_t hend = mime_header_end(data, len);
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	bool global = is_utf8(env->from);

	for (size_t i = 0; i < n; i++)
		global |= is_utf8(env->rcpts[idx[i]].addr);

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	localtime_r(&env->time, &tm);
	strftime(arrival, sizeof(arrival), "%a, %d %b %Y %H:%M:%S %z", &tm);
	snprintf(boundary, sizeof(boundary), "%s.%lld/%s", env->id, (long long)now, hostname);

	fprintf(f, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", hostname);
	fprintf(f, "To: <%s>\r\n", env->from);
	fprintf(f, "Subject: %s\r\n", kind == DSN_FAILED ?
	    "Undelivered Mail Returned to Sender" : "Delayed Mail (still being retried)");
	fprintf(f, "Date: %s\r\n", date);
	fprintf(f, "Message-ID: <%s.%lld.dsn@%s>\r\n", env->id, (long long)now, hostname);
	fprintf(f, "Auto-Submitted: auto-replied\r\n");
	fprintf(f, "MIME-Version: 1.0\r\n");
	/* report-type stays delivery-status with a global part (as Postfix
	 * sends it; RFC 6533 6.2 names the part, not a new report type) */
	fprintf(f, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"%s\"\r\n%s\r\n", boundary,
	    global ? "Content-Transfer-Encoding: 8bit\r\n" : "");
	fprintf(f, "This is a MIME-encapsulated message.\r\n\r\n");

	/* 1. for people: the addresses below are as given, UTF-8 included */
	fprintf(f, "--%s\r\nContent-Type: text/plain; charset=%s\r\n%s\r\n", boundary,
	    global ? "utf-8" : "us-ascii", global ? "Content-Transfer-Encoding: 8bit\r\n" : "");
	fprintf(f, "This is the mail system at host %s.\r\n\r\n", hostname);
	/* only the header section goes back (part 3): say so */
	if (kind == DSN_FAILED)
		fprintf(f, "Your message could not be delivered to one or more recipients.\r\n"
		    "Its headers are attached below. Check the addresses; if the problem\r\n"
		    "persists, contact the postmaster of the recipient's domain with this\r\n"
		    "report.\r\n\r\n");
	else
		fprintf(f, "Your message has not been delivered yet to one or more recipients.\r\n"
		    "The mail system keeps trying; you do not need to send it again.\r\n"
		    "Its headers are attached below.\r\n\r\n");
	for (size_t i = 0; i < n; i++) {
		const struct spool_rcpt *r = &env->rcpts[idx[i]];
		fprintf(f, "<%s>: %s\r\n", r->addr, r->reason ? r->reason : "undeliverable");
	}
	fprintf(f, "\r\n");

	/* 2. for machines (RFC 3464 2.2, 2.3; RFC 6533 6.2 for UTF-8) */
	fprintf(f, "--%s\r\nContent-Type: message/%sdelivery-status\r\n%s\r\n", boundary,
	    global ? "global-" : "", global ? "Content-Transfer-Encoding: 8bit\r\n" : "");
	fprintf(f, "Reporting-MTA: dns; %s\r\n", hostname);
	fprintf(f, "X-Postern-Queue-ID: %s\r\n", env->id);
	fprintf(f, "Arrival-Date: %s\r\n", arrival);
	for (size_t i = 0; i < n; i++) {
		const struct spool_rcpt *r = &env->rcpts[idx[i]];
		const char *last = expired_error(r->reason);
		status_of(r->reason, kind, status, sizeof(status));
		fprintf(f, "\r\n");
		put_recipient(f, r->addr);
		/* no Original-Recipient: RFC 3464 2.3.1 takes it from an ORCPT
		 * parameter only, and postern accepts none (no DSN extension) */
		fprintf(f, "Action: %s\r\n", kind == DSN_FAILED ? "failed" : "delayed");
		fprintf(f, "Status: %s\r\n", status);
		/* an expired recipient's diagnostic is the remote's last reply */
		if (is_smtp_reply(r->reason) || is_smtp_reply(last))
			fprintf(f, "Diagnostic-Code: smtp; %s\r\n", is_smtp_reply(last) ? last : r->reason);
		else
			fprintf(f, "Diagnostic-Code: x-postern; %s\r\n", r->reason ? r->reason : "undeliverable");
		fprintf(f, "Last-Attempt-Date: %s\r\n", date);
	}
	fprintf(f, "\r\n");

	/* 3. the original headers (RFC 6522 text/rfc822-headers; RFC 6533
	 * message/global-headers beside UTF-8 addresses) */
	fprintf(f, "--%s\r\nContent-Type: %s\r\n%s\r\n", boundary,
	    global ? "message/global-headers" : "text/rfc822-headers",
	    global ? "Content-Transfer-Encoding: 8bit\r\n" : "");
	for (size_t i = 0; i < hend; i++) {
		/* the stored message has CRLF lines; never emit a bare LF */
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			fputc('\r', f);
		fputc(data[i], f);
	}
	if (hend < 2 || data[hend - 1] != '\n')
		fprintf(f, "\r\n");
	fprintf(f, "\r\n--%s--\r\n", boundary);
	fclose(f);
	return out;
}
