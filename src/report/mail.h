/*
 * The mail a report travels in: a human-readable part and the report
 * as a base64 attachment (RFC 7489 7.2.1.1 for DMARC, RFC 8460 5.3 for
 * TLS-RPT, which also wants multipart/report and its two headers).
 */
#ifndef POSTERN_REPORT_MAIL_H
#define POSTERN_REPORT_MAIL_H

#include <stddef.h>
#include <time.h>

struct report_mail {
	const char *hostname;		/* Message-ID's right side */
	const char *from, *to;		/* checked addresses (rua.h) */
	const char *subject;
	const char *extra_headers;	/* "Name: value\r\n"..., or NULL */
	const char *multipart;		/* "mixed" or "report; report-type=\"tlsrpt\"" */
	const char *text;		/* the human part */
	const char *att_type;		/* "application/gzip", "application/tlsrpt+gzip" */
	const char *filename;
	const char *att;
	size_t att_len;
};

/* The whole message, CRLF lines, into a new string. */
char *report_mail_compose(const struct report_mail *m, time_t now);

#endif
