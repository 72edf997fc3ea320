/*
 * The DMARC aggregate report we send (RFC 7489 7.2.1.1, the XML of its
 * Appendix C): evaluations from the day files counted per distinct row,
 * and the XML for one policy domain. Pure.
 */
#ifndef POSTERN_REPORT_DMARC_BUILD_H
#define POSTERN_REPORT_DMARC_BUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "report/dmarc_note.h"
#include "report/tally.h"

/* Counts one day-file line in t (key: the note without its time stamp,
 * group: its header_from); a damaged line is counted in t->dropped. */
void dmarc_build_add(struct tally *t, const char *line, size_t len);

/* The published policy a report states (RFC 7489 Appendix C
 * PolicyPublishedType), from the record found at domain. */
struct dmarc_published {
	char domain[256];
	bool adkim_strict, aspf_strict;
	char p[16], sp[16];
	int pct;
};

struct dmarc_report_meta {
	const char *org_name;		/* us: our host name */
	const char *email;		/* where to write about the report */
	const char *report_id;
	long long begin, end;
};

/*
 * The XML of a report on the rows (of a) whose header_from belongs(arg,
 * from) says are under pub->domain's record (the domain itself, or a
 * subdomain without a record of its own). policy_evaluated's dkim and spf
 * say whether an aligned identifier passed (RFC 7489 3.1, with
 * adkim/aspf). Returns a new string (length in *len), the rows and the
 * messages they count; NULL when no row belongs.
 */
char *dmarc_build_xml(const struct tally *a, const struct dmarc_report_meta *m,
    const struct dmarc_published *pub, bool (*belongs)(void *arg, const char *from), void *arg,
    size_t *len, size_t *nrows, unsigned long *messages);

#endif
