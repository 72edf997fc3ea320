/*
 * Counting and writing. Rows are the note lines without their time
 * stamp (report/tally.h); the XML is written in the element order of
 * RFC 7489 Appendix C, every value escaped although the notes only hold
 * host names and result words.
 */
#include "dmarc_build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xmalloc.h"
#include "report/daylog.h"
#include "scan/dmarc.h"

void
dmarc_build_add(struct tally *t, const char *line, size_t len)
{
	struct dmarc_note n;
	char key[DAYLOG_LINE_MAX];
	long long ts;

	if (dmarc_note_parse(line, len, &n) == -1) {
		t->dropped++;
		return;
	}
	ts = n.ts;
	n.ts = 1;
	if (dmarc_note_format(&n, key, sizeof(key)) == 0) {
		t->dropped++;
		return;
	}
	tally_add(t, key, n.header_from, ts);
}

/* ---- the XML ---- */

struct out {
	char *b;
	size_t len, cap;
};

static void
put(struct out *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		while (o->len + n + 1 > o->cap)
			o->cap = o->cap ? o->cap * 2 : 4096;
		o->b = xrealloc(o->b, o->cap);
	}
	memcpy(o->b + o->len, s, n);
	o->len += n;
	o->b[o->len] = '\0';
}

static void
puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* <name>escaped value</name> */
static void
elem(struct out *o, const char *indent, const char *name, const char *v)
{
	puts_(o, indent);
	puts_(o, "<");
	puts_(o, name);
	puts_(o, ">");
	for (; *v; v++)
		switch (*v) {
		case '<': puts_(o, "&lt;"); break;
		case '>': puts_(o, "&gt;"); break;
		case '&': puts_(o, "&amp;"); break;
		case '"': puts_(o, "&quot;"); break;
		default:
			if ((unsigned char)*v >= 0x20)
				put(o, v, 1);
		}
	puts_(o, "</");
	puts_(o, name);
	puts_(o, ">\n");
}

static void
elem_num(struct out *o, const char *indent, const char *name, long long v)
{
	char b[32];

	snprintf(b, sizeof(b), "%lld", v);
	elem(o, indent, name, b);
}

/* RFC 7489 3.1.1 and 3.1.2: strict is the same name, relaxed the same
 * organizational domain (the scanner's own psl judgement). */
static bool
aligned(const char *from, const char *d, bool strict)
{
	if (d[0] == '\0')
		return false;
	if (strict)
		return strcasecmp(from, d) == 0;
	return dmarc_identifier_aligned(from, SPF_PASS, d, NULL, 0);
}

static void
record(struct out *o, const struct dmarc_note *n, unsigned long count,
    const struct dmarc_published *pub)
{
	bool dkim_ok = false;
	bool spf_ok = strcmp(n->spf, "pass") == 0 &&
	    aligned(n->header_from, n->envelope_from, pub->aspf_strict);

	for (size_t i = 0; i < n->ndkim; i++)
		if (strcmp(n->dkim[i].result, "pass") == 0 &&
		    aligned(n->header_from, n->dkim[i].domain, pub->adkim_strict))
			dkim_ok = true;
	puts_(o, "  <record>\n    <row>\n");
	elem(o, "      ", "source_ip", n->ip);
	elem_num(o, "      ", "count", (long long)count);
	puts_(o, "      <policy_evaluated>\n");
	elem(o, "        ", "disposition", n->disposition[0] ? n->disposition : "none");
	elem(o, "        ", "dkim", dkim_ok ? "pass" : "fail");
	elem(o, "        ", "spf", spf_ok ? "pass" : "fail");
	puts_(o, "      </policy_evaluated>\n    </row>\n    <identifiers>\n");
	elem(o, "      ", "header_from", n->header_from);
	puts_(o, "    </identifiers>\n    <auth_results>\n");
	for (size_t i = 0; i < n->ndkim; i++) {
		if (n->dkim[i].domain[0] == '\0')
			continue;
		puts_(o, "      <dkim>\n");
		elem(o, "        ", "domain", n->dkim[i].domain);
		if (n->dkim[i].selector[0])
			elem(o, "        ", "selector", n->dkim[i].selector);
		elem(o, "        ", "result", n->dkim[i].result);
		puts_(o, "      </dkim>\n");
	}
	/* SPF is required once (Appendix C: spf minOccurs 1) */
	puts_(o, "      <spf>\n");
	elem(o, "        ", "domain", n->envelope_from[0] ? n->envelope_from : n->header_from);
	elem(o, "        ", "scope", "mfrom");
	elem(o, "        ", "result", n->spf[0] ? n->spf : "none");
	puts_(o, "      </spf>\n    </auth_results>\n  </record>\n");
}

char *
dmarc_build_xml(const struct tally *a, const struct dmarc_report_meta *m,
    const struct dmarc_published *pub, bool (*belongs)(void *arg, const char *from), void *arg,
    size_t *len, size_t *nrows, unsigned long *messages)
{
	struct out o = { NULL, 0, 0 };

	*nrows = 0;
	*messages = 0;
	puts_(&o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>\n");
	elem(&o, "  ", "version", "1.0");
	puts_(&o, "  <report_metadata>\n");
	elem(&o, "    ", "org_name", m->org_name);
	elem(&o, "    ", "email", m->email);
	elem(&o, "    ", "report_id", m->report_id);
	puts_(&o, "    <date_range>\n");
	elem_num(&o, "      ", "begin", m->begin);
	elem_num(&o, "      ", "end", m->end);
	puts_(&o, "    </date_range>\n  </report_metadata>\n  <policy_published>\n");
	elem(&o, "    ", "domain", pub->domain);
	elem(&o, "    ", "adkim", pub->adkim_strict ? "s" : "r");
	elem(&o, "    ", "aspf", pub->aspf_strict ? "s" : "r");
	elem(&o, "    ", "p", pub->p);
	elem(&o, "    ", "sp", pub->sp);
	elem_num(&o, "    ", "pct", pub->pct);
	puts_(&o, "  </policy_published>\n");
	for (size_t i = 0; i < a->n; i++) {
		struct dmarc_note n;
		if (!belongs(arg, a->rows[i].group))
			continue;
		if (dmarc_note_parse(a->rows[i].key, strlen(a->rows[i].key), &n) == -1)
			continue;
		record(&o, &n, a->rows[i].count, pub);
		(*nrows)++;
		*messages += a->rows[i].count;
	}
	puts_(&o, "</feedback>\n");
	if (*nrows == 0) {
		free(o.b);
		return NULL;
	}
	*len = o.len;
	return o.b;
}
