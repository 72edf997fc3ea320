/*
 * One DMARC evaluation of inbound mail as the daily aggregate report
 * needs it (RFC 7489 7.2.1.1: source IP, identifiers, SPF and DKIM
 * results, disposition), as one line of the day file and back. Pure.
 */
#ifndef POSTERN_REPORT_DMARC_NOTE_H
#define POSTERN_REPORT_DMARC_NOTE_H

#include <stdbool.h>
#include <stddef.h>

#define DMARC_NOTE_DKIM_MAX 4

struct dmarc_note {
	long long ts;
	char ip[64];
	char header_from[256];		/* lower case */
	char envelope_from[256];	/* the domain SPF checked, "" if none */
	char spf[16];			/* spf_result_name() */
	char dmarc[16];			/* "pass" or "fail" */
	char disposition[16];		/* "none", "quarantine", "reject" */
	size_t ndkim;
	struct {
		char domain[256], selector[64], result[16];
	} dkim[DMARC_NOTE_DKIM_MAX];
};

/* The line (no LF) into out; returns its length, or 0 when it does not
 * fit. Names outside [a-z0-9._-] are written as "-" (never a field
 * separator in the file). */
size_t dmarc_note_format(const struct dmarc_note *n, char *out, size_t outlen);

/* Parses a line written by dmarc_note_format. Returns 0 or -1. */
int dmarc_note_parse(const char *line, size_t len, struct dmarc_note *n);

#endif
