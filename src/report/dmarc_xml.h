/*
 * Reader of DMARC aggregate reports (RFC 7489 7.2.1, the XML of its
 * Appendix C) that other receivers send about our domains. A hand-written
 * parser for the small subset reports use: elements, attributes (skipped),
 * text, the five predefined entities and character references, comments,
 * CDATA, the XML declaration. No DTD (a DOCTYPE is refused: no entity
 * expansion to bomb us with). Pure, bounded by the caps below.
 */
#ifndef POSTERN_REPORT_DMARC_XML_H
#define POSTERN_REPORT_DMARC_XML_H

#include <stddef.h>

#define DMARC_XML_RECORDS_MAX 10000	/* <record> elements in one report */
#define DMARC_XML_DEPTH_MAX 16		/* nesting (the schema needs 5) */
#define DMARC_XML_NAME_MAX 64		/* an element name */
#define DMARC_XML_VALUE_MAX 256		/* the text of a field we keep */
#define DMARC_XML_WHY_MAX 160

struct dmarc_xml_row {
	char source_ip[64];
	unsigned long count;
	char disposition[16];		/* none, quarantine, reject */
	char dkim[16], spf[16];		/* policy_evaluated: pass or fail */
	char header_from[256];
	/* auth_results: the first passing DKIM signature, else the first */
	char dkim_domain[256], dkim_result[16];
	char spf_domain[256], spf_result[16];
};

struct dmarc_xml_report {
	char org_name[DMARC_XML_VALUE_MAX], email[DMARC_XML_VALUE_MAX];
	char report_id[DMARC_XML_VALUE_MAX];
	long long begin, end;		/* date_range, unix seconds */
	char domain[256];		/* policy_published */
	char p[16];
	struct dmarc_xml_row *rows;	/* owned */
	size_t nrows;
};

/*
 * Parses an aggregate report. Returns 0 with out filled (free it with
 * dmarc_xml_clear), or -1 with why: not well-formed within our subset,
 * over a cap, or not a report (no feedback root, no report_id, org_name,
 * date_range or policy_published domain, a record without source_ip).
 */
int dmarc_xml_parse(const char *buf, size_t len, struct dmarc_xml_report *out, char *why,
    size_t whylen);
void dmarc_xml_clear(struct dmarc_xml_report *r);

#endif
