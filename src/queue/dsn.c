/*
 * DSN text. The human part says plainly what happened and what the
 * sender can do; the machine part follows RFC 3464 field by field.
 */
#include "dsn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"
#include "scan/mime.h"

/* "550 5.1.1 text" -> "5.1.1"; a reason without one gets a default. */
static void
status_of(const char *reason, enum dsn_kind kind, char *out, size_t outlen)
{
	const char *p = reason ? reason : "";

	/* "DDD X.Y.Z text": the enhanced code of the reply */
	if (strlen(p) > 6 && p[3] == ' ' && (p[4] == '2' || p[4] == '4' || p[4] == '5') &&
	    p[5] == '.') {
		size_t k = 4;
		while (p[k] != '\0' && p[k] != ' ' && k < 4 + 11)
			k++;
		snprintf(out, outlen, "%.*s", (int)(k - 4), p + 4);
		return;
	}
	snprintf(out, outlen, "%s", kind == DSN_FAILED ? "5.0.0" : "4.0.0");
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
	fprintf(f, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"%s\"\r\n\r\n", boundary);
	fprintf(f, "This is a MIME-encapsulated message.\r\n\r\n");

	/* 1. for people */
	fprintf(f, "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n", boundary);
	fprintf(f, "This is the mail system at host %s.\r\n\r\n", hostname);
	if (kind == DSN_FAILED)
		fprintf(f, "Your message could not be delivered to one or more recipients.\r\n"
		    "It is attached below. Check the addresses; if the problem persists,\r\n"
		    "contact the postmaster of the recipient's domain with this report.\r\n\r\n");
	else
		fprintf(f, "Your message has not been delivered yet to one or more recipients.\r\n"
		    "The mail system keeps trying; you do not need to send it again.\r\n\r\n");
	for (size_t i = 0; i < n; i++) {
		const struct spool_rcpt *r = &env->rcpts[idx[i]];
		fprintf(f, "<%s>: %s\r\n", r->addr, r->reason ? r->reason : "undeliverable");
	}
	fprintf(f, "\r\n");

	/* 2. for machines (RFC 3464 2.2, 2.3) */
	fprintf(f, "--%s\r\nContent-Type: message/delivery-status\r\n\r\n", boundary);
	fprintf(f, "Reporting-MTA: dns; %s\r\n", hostname);
	fprintf(f, "X-Postern-Queue-ID: %s\r\n", env->id);
	fprintf(f, "Arrival-Date: %s\r\n", arrival);
	for (size_t i = 0; i < n; i++) {
		const struct spool_rcpt *r = &env->rcpts[idx[i]];
		status_of(r->reason, kind, status, sizeof(status));
		fprintf(f, "\r\nFinal-Recipient: rfc822; %s\r\n", r->addr);
		fprintf(f, "Original-Recipient: rfc822; %s\r\n", r->addr);
		fprintf(f, "Action: %s\r\n", kind == DSN_FAILED ? "failed" : "delayed");
		fprintf(f, "Status: %s\r\n", status);
		if (r->reason && strlen(r->reason) > 4 && r->reason[3] == ' ' &&
		    (r->reason[0] == '4' || r->reason[0] == '5'))
			fprintf(f, "Diagnostic-Code: smtp; %s\r\n", r->reason);
		else
			fprintf(f, "Diagnostic-Code: x-postern; %s\r\n", r->reason ? r->reason : "undeliverable");
		fprintf(f, "Last-Attempt-Date: %s\r\n", date);
	}
	fprintf(f, "\r\n");

	/* 3. the original headers (RFC 6522: text/rfc822-headers) */
	fprintf(f, "--%s\r\nContent-Type: text/rfc822-headers\r\n\r\n", boundary);
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
