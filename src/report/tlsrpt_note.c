/*
 * From log events to TLS-RPT evidence. A transaction with several
 * recipients logs one line per recipient: the observer keeps the last
 * few (id, relay) pairs so that the session counts once.
 */
#include "tlsrpt_note.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "monitor/log.h"
#include "report/daylog.h"

static bool
has(const char *s, const char *word)
{
	return strcasestr(s, word) != NULL;
}

const char *
tlsrpt_classify(const char *r)
{
	if (has(r, "TLSA") || has(r, "DANE")) {
		if (has(r, "DNSSEC") || has(r, "bogus"))
			return "dnssec-invalid";
		if (has(r, "required") || has(r, "no usable"))
			return "dane-required";
		return "tlsa-invalid";
	}
	if (has(r, "MTA-STS") || has(r, "sts policy")) {
		if (has(r, "fetch") || has(r, "HTTP"))
			return "sts-policy-fetch-error";
		if (has(r, "certificate") || has(r, "verif") || has(r, "not listed") ||
		    has(r, "not in the policy"))
			return "sts-webpki-invalid";
		return "sts-policy-invalid";
	}
	if (has(r, "expired"))
		return "certificate-expired";
	if (has(r, "mismatch") || has(r, "does not match") || has(r, "not valid for"))
		return "certificate-host-mismatch";
	if (has(r, "self-signed") || has(r, "self signed") || has(r, "local issuer") ||
	    has(r, "untrusted") || has(r, "not trusted") || has(r, "unknown ca"))
		return "certificate-not-trusted";
	if (has(r, "STARTTLS") && (has(r, "not offer") || has(r, "no STARTTLS") ||
	    has(r, "not support") || has(r, "without STARTTLS")))
		return "starttls-not-supported";
	if (has(r, "certificate") || has(r, "handshake") || has(r, "TLS") || has(r, "SSL"))
		return "validation-failure";
	return NULL;
}

/* "mx.example.org[192.0.2.1]:25" into host and address. */
static bool
relay_parts(const char *relay, char *mx, size_t mxlen, char *ip, size_t iplen)
{
	const char *lb = strchr(relay, '['), *rb = lb ? strchr(lb, ']') : NULL;

	if (lb == NULL || rb == NULL || lb == relay || (size_t)(lb - relay) >= mxlen ||
	    (size_t)(rb - lb - 1) >= iplen || rb - lb - 1 == 0)
		return false;
	memcpy(mx, relay, (size_t)(lb - relay));
	mx[lb - relay] = '\0';
	memcpy(ip, lb + 1, (size_t)(rb - lb - 1));
	ip[rb - lb - 1] = '\0';
	return true;
}

static bool
word(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		    *s == '.' || *s == '-' || *s == '_' || *s == ':'))
			return false;
	return true;
}

size_t
tlsrpt_note_line(const char *event, const char *fields, long long ts, char *out, size_t outlen)
{
	size_t flen = strlen(fields);
	char relay[LOG_VALUE_MAX], rcpt[LOG_VALUE_MAX], tls[64], reason[LOG_VALUE_MAX * 2];
	char policy[24] = "no-policy-found", mx[256], ip[64], domain[256];
	const char *result, *at;
	int n;

	if (strcmp(event, "delivered") != 0 && strcmp(event, "deferred") != 0 &&
	    strcmp(event, "bounced") != 0)
		return 0;
	if (!logfmt_get(fields, flen, "relay", relay, sizeof(relay)) ||
	    !logfmt_get(fields, flen, "rcpt", rcpt, sizeof(rcpt)) ||
	    !relay_parts(relay, mx, sizeof(mx), ip, sizeof(ip)))
		return 0;	/* local, LMTP, or no host reached */
	if ((at = strrchr(rcpt, '@')) == NULL)
		return 0;
	snprintf(domain, sizeof(domain), "%s", at + 1);
	for (char *c = domain; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c + 32);
	if (strcmp(event, "delivered") == 0) {
		/* a session without TLS: the MX offered none (mta.c falls back
		 * to plain text only then, or after a failed handshake) */
		if (!logfmt_get(fields, flen, "tls", tls, sizeof(tls)))
			return 0;
		result = strcmp(tls, "none") == 0 ? "starttls-not-supported" : "success";
	} else {
		if (!logfmt_get(fields, flen, "reason", reason, sizeof(reason)) ||
		    (result = tlsrpt_classify(reason)) == NULL)
			return 0;
	}
	/* the policy that applied, when the delivery says (policy=sts|dane);
	 * else told by the failure itself */
	{
		char pol[24];
		if (logfmt_get(fields, flen, "policy", pol, sizeof(pol)))
			snprintf(policy, sizeof(policy), "%s", strcmp(pol, "dane") == 0 ? "tlsa" : pol);
		else if (strncmp(result, "sts-", 4) == 0)
			snprintf(policy, sizeof(policy), "sts");
		else if (strstr(result, "tlsa") || strstr(result, "dane") || strstr(result, "dnssec"))
			snprintf(policy, sizeof(policy), "tlsa");
	}
	if (!word(domain) || !word(mx) || !word(ip) || !word(policy))
		return 0;
	n = snprintf(out, outlen, "%lld %s %s %s %s %s", ts, domain, policy, result, mx, ip);
	return n > 0 && (size_t)n < outlen ? (size_t)n : 0;
}

void
tlsrpt_note_add(struct tally *t, const char *line, size_t len)
{
	char buf[DAYLOG_LINE_MAX + 1], *f[6], *save = NULL, *p;
	long long ts;
	size_t k = 0;

	if (len > DAYLOG_LINE_MAX) {
		t->dropped++;
		return;
	}
	memcpy(buf, line, len);
	buf[len] = '\0';
	for (p = strtok_r(buf, " \n", &save); p != NULL && k < 6; p = strtok_r(NULL, " \n", &save))
		f[k++] = p;
	if (k != 6 || (ts = strtoll(f[0], NULL, 10)) <= 0 || strlen(f[1]) >= TALLY_GROUP_MAX) {
		t->dropped++;
		return;
	}
	{
		char key[DAYLOG_LINE_MAX];
		snprintf(key, sizeof(key), "%s %s %s %s", f[2], f[3], f[4], f[5]);
		tally_add(t, key, f[1], ts);
	}
}

#define SEEN_MAX 32
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static char seen[SEEN_MAX][128];
static unsigned seen_next;

void
tlsrpt_note_observe(void *arg, const char *event, const char *fields)
{
	const char *data_dir = arg;
	char line[DAYLOG_LINE_MAX], id[64], key[128], relay[LOG_VALUE_MAX];
	size_t n, flen;
	bool dup = false;
	time_t now;

	if (event[0] != 'd' && event[0] != 'b')
		return;		/* the common case, before any work */
	now = time(NULL);
	if ((n = tlsrpt_note_line(event, fields, (long long)now, line, sizeof(line))) == 0)
		return;
	flen = strlen(fields);
	if (!logfmt_get(fields, flen, "id", id, sizeof(id)))
		id[0] = '\0';
	if (!logfmt_get(fields, flen, "relay", relay, sizeof(relay)))
		relay[0] = '\0';
	snprintf(key, sizeof(key), "%s %s %s", id, relay, event);
	pthread_mutex_lock(&seen_lock);
	for (unsigned i = 0; i < SEEN_MAX && id[0]; i++)
		if (strcmp(seen[i], key) == 0)
			dup = true;
	if (!dup) {
		snprintf(seen[seen_next], sizeof(seen[0]), "%s", key);
		seen_next = (seen_next + 1) % SEEN_MAX;
	}
	pthread_mutex_unlock(&seen_lock);
	if (!dup)
		daylog_append(data_dir, "tlsrpt", now, line, n);
}
