/*
 * RFC 8460 4.4 field names; counts are JSON integers >= 0 (a report
 * whose counts are strings or negative is refused, not guessed at), and
 * date-time values are RFC 3339.
 */
#include "tlsrpt_json.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/xmalloc.h"

static int fail(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (whylen > 0) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* RFC 3339 5.6 date-time: "2016-04-01T00:00:00Z", fractions and
 * offsets allowed. Returns -1 when it is not one. */
static long long
datetime(const char *s)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, n = 0;
	long long t, off = 0;
	const char *p;

	if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
	    n != 19)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
		return -1;
	p = s + 19;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p == 'Z' || *p == 'z')
		p++;
	else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int oh, om;
		if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2 || oh > 23 || om > 59)
			return -1;
		off = (oh * 3600LL + om * 60LL) * (*p == '+' ? 1 : -1);
		p += 6;
	} else
		return -1;
	if (*p != '\0')
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = (long long)timegm(&tm);
	return t - off;
}

/* A string member into out; false when absent, not a string or too long. */
static bool
str(json_t *o, const char *key, char *out, size_t outlen)
{
	json_t *v = json_object_get(o, key);
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return false;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n >= outlen || memchr(s, '\0', n) != NULL)
		return false;
	memcpy(out, s, n + 1);
	return true;
}

/* An optional integer member (0 when absent); false when present and
 * not a non-negative integer. */
static bool
count(json_t *o, const char *key, unsigned long long *out)
{
	json_t *v = json_object_get(o, key);

	*out = 0;
	if (v == NULL)
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = (unsigned long long)json_integer_value(v);
	return true;
}

static int
policy(json_t *pj, struct tlsrpt_policy *p, char *why, size_t whylen)
{
	json_t *pol = json_object_get(pj, "policy"), *sum = json_object_get(pj, "summary");
	json_t *det = json_object_get(pj, "failure-details");

	if (!json_is_object(pol) || !str(pol, "policy-type", p->type, sizeof(p->type)) ||
	    !str(pol, "policy-domain", p->domain, sizeof(p->domain)))
		return fail(why, whylen, "a policy without policy-type or policy-domain");
	if (!json_is_object(sum) || !count(sum, "total-successful-session-count", &p->success) ||
	    !count(sum, "total-failure-session-count", &p->failure))
		return fail(why, whylen, "a policy without a valid summary");
	if (det == NULL)
		return 0;
	if (!json_is_array(det))
		return fail(why, whylen, "failure-details is not an array");
	if (json_array_size(det) > TLSRPT_DETAILS_MAX)
		return fail(why, whylen, "more than %d failure-details in a policy", TLSRPT_DETAILS_MAX);
	p->details = xcalloc(json_array_size(det) + 1, sizeof(*p->details));
	for (size_t i = 0; i < json_array_size(det); i++) {
		json_t *d = json_array_get(det, i);
		struct tlsrpt_detail *o = &p->details[p->ndetails];
		if (!json_is_object(d) || !str(d, "result-type", o->result_type, sizeof(o->result_type)) ||
		    !count(d, "failed-session-count", &o->count))
			return fail(why, whylen, "a failure-details entry without result-type or count");
		/* optional members: absent or too long reads as unknown */
		if (!str(d, "sending-mta-ip", o->sending_ip, sizeof(o->sending_ip)))
			o->sending_ip[0] = '\0';
		if (!str(d, "receiving-ip", o->receiving_ip, sizeof(o->receiving_ip)))
			o->receiving_ip[0] = '\0';
		if (!str(d, "receiving-mx-hostname", o->receiving_mx, sizeof(o->receiving_mx)))
			o->receiving_mx[0] = '\0';
		p->ndetails++;
	}
	return 0;
}

int
tlsrpt_parse(const char *buf, size_t len, struct tlsrpt_report *out, char *why, size_t whylen)
{
	json_error_t err;
	json_t *root, *dr, *pols;
	char b[64], e[64];
	int rc = -1;

	memset(out, 0, sizeof(*out));
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
	if (root == NULL)
		return fail(why, whylen, "not JSON: %s (line %d)", err.text, err.line);
	if (!json_is_object(root)) {
		fail(why, whylen, "not a TLS report (not a JSON object)");
		goto out;
	}
	if (!str(root, "organization-name", out->org, sizeof(out->org)) ||
	    !str(root, "report-id", out->report_id, sizeof(out->report_id))) {
		fail(why, whylen, "not a TLS report (no organization-name or report-id)");
		goto out;
	}
	if (!str(root, "contact-info", out->contact, sizeof(out->contact)))
		out->contact[0] = '\0';
	dr = json_object_get(root, "date-range");
	if (!json_is_object(dr) || !str(dr, "start-datetime", b, sizeof(b)) ||
	    !str(dr, "end-datetime", e, sizeof(e)) || (out->begin = datetime(b)) < 0 ||
	    (out->end = datetime(e)) < 0) {
		fail(why, whylen, "not a TLS report (no valid date-range)");
		goto out;
	}
	pols = json_object_get(root, "policies");
	if (!json_is_array(pols)) {
		fail(why, whylen, "not a TLS report (no policies array)");
		goto out;
	}
	if (json_array_size(pols) > TLSRPT_POLICIES_MAX) {
		fail(why, whylen, "more than %d policies", TLSRPT_POLICIES_MAX);
		goto out;
	}
	out->policies = xcalloc(json_array_size(pols) + 1, sizeof(*out->policies));
	for (size_t i = 0; i < json_array_size(pols); i++) {
		if (!json_is_object(json_array_get(pols, i))) {
			fail(why, whylen, "a policy that is not an object");
			goto out;
		}
		out->npolicies++;
		if (policy(json_array_get(pols, i), &out->policies[i], why, whylen) == -1)
			goto out;
	}
	rc = 0;
out:
	json_decref(root);
	if (rc == -1)
		tlsrpt_clear(out);
	return rc;
}

void
tlsrpt_clear(struct tlsrpt_report *r)
{
	for (size_t i = 0; i < r->npolicies; i++)
		free(r->policies[i].details);
	free(r->policies);
	memset(r, 0, sizeof(*r));
}

/* ---- the report we send ---- */

/* A JSON string value. Neither jansson's json_string() nor json_pack()
 * (which calls it): lib/json.h has a function of that name, and in the
 * server's binary it interposes on the library's. */
static json_t *
jstr(const char *s)
{
	return json_stringn(s, strlen(s));
}

static void
iso(long long t, char *out, size_t outlen)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *
tlsrpt_build(const struct tlsrpt_meta *m, const char *domain, const struct tlsrpt_row *rows,
    size_t n)
{
	json_t *root = json_object(), *pols = json_array(), *dr;
	char b[32], e[32];
	char *s;

	iso(m->begin, b, sizeof(b));
	iso(m->end, e, sizeof(e));
	json_object_set_new(root, "organization-name", jstr(m->org));
	dr = json_object();
	json_object_set_new(dr, "start-datetime", jstr(b));
	json_object_set_new(dr, "end-datetime", jstr(e));
	json_object_set_new(root, "date-range", dr);
	json_object_set_new(root, "contact-info", jstr(m->contact));
	json_object_set_new(root, "report-id", jstr(m->report_id));
	/* one policy object per policy type met for the domain (4.4) */
	for (size_t i = 0; i < n; i++) {
		bool first = true;
		json_t *pj, *det, *pol, *sum;
		unsigned long long ok = 0, bad = 0;
		for (size_t j = 0; j < i; j++)
			if (strcmp(rows[j].policy, rows[i].policy) == 0)
				first = false;
		if (!first)
			continue;
		det = json_array();
		for (size_t j = i; j < n; j++) {
			json_t *d;
			if (strcmp(rows[j].policy, rows[i].policy) != 0)
				continue;
			if (rows[j].result[0] == '\0') {
				ok += rows[j].count;
				continue;
			}
			bad += rows[j].count;
			d = json_object();
			json_object_set_new(d, "result-type", jstr(rows[j].result));
			json_object_set_new(d, "failed-session-count", json_integer((json_int_t)rows[j].count));
			if (m->sending_ip != NULL)
				json_object_set_new(d, "sending-mta-ip", jstr(m->sending_ip));
			if (rows[j].mx[0])
				json_object_set_new(d, "receiving-mx-hostname", jstr(rows[j].mx));
			if (rows[j].ip[0])
				json_object_set_new(d, "receiving-ip", jstr(rows[j].ip));
			json_array_append_new(det, d);
		}
		pol = json_object();
		json_object_set_new(pol, "policy-type", jstr(rows[i].policy));
		json_object_set_new(pol, "policy-domain", jstr(domain));
		sum = json_object();
		json_object_set_new(sum, "total-successful-session-count", json_integer((json_int_t)ok));
		json_object_set_new(sum, "total-failure-session-count", json_integer((json_int_t)bad));
		pj = json_object();
		json_object_set_new(pj, "policy", pol);
		json_object_set_new(pj, "summary", sum);
		if (json_array_size(det) > 0)
			json_object_set_new(pj, "failure-details", det);
		else
			json_decref(det);
		json_array_append_new(pols, pj);
	}
	json_object_set_new(root, "policies", pols);
	s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	return s;
}
