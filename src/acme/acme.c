/*
 * RFC 8555 client flow: directory (7.1.1), nonce (7.2), account (7.3),
 * order (7.4), authorizations and http-01 (7.5, 8.3), finalize and
 * download (7.4.2). Every POST is a JWS signed with the account key
 * (jws.c); a badNonce refusal is retried with the fresh nonce the CA
 * sent (6.5), as CAs may reject any nonce. Answers are parsed by
 * answer.c; nothing the CA sends is used unchecked.
 */
#include "acme.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "acme/answer.h"
#include "acme/csr.h"
#include "acme/jws.h"
#include "lib/xmalloc.h"

#define ACME_HTTP_TIMEOUT 30		/* seconds per request */
#define ACME_CONNECT_TIMEOUT 10
#define ACME_POLLS 60			/* per authorization or order */
#define ACME_POLL_WAIT_MAX 10		/* seconds: cap on Retry-After */
#define ACME_NONCE_RETRIES 5
#define ACME_NONCE_MAX 256

struct resp {
	long status;
	char *body;
	size_t len;
	bool too_long;
	char nonce[ACME_NONCE_MAX];
	char location[ACME_URL_MAX];
	unsigned retry_after;
};

struct acme {
	const struct acme_params *p;
	CURL *curl;
	struct acme_directory dir;
	char nonce[ACME_NONCE_MAX];
	char kid[ACME_URL_MAX];		/* the account URL, once known */
	char *thumbprint;
	char **err;
};

void
acme_global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = size * n;

	if (r->len + len > ACME_JSON_MAX) {
		r->too_long = true;
		return 0;	/* aborts the transfer */
	}
	r->body = xrealloc(r->body, r->len + len + 1);
	memcpy(r->body + r->len, data, len);
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

/* Copies the value of header "name:" into out when line is that header. */
static void
header_value(const char *line, size_t len, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);

	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	line += nl + 1;
	len -= nl + 1;
	while (len > 0 && (*line == ' ' || *line == '\t'))
		line++, len--;
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
		len--;
	if (len >= outlen)
		return;		/* an over-long value is not used at all */
	memcpy(out, line, len);
	out[len] = '\0';
}

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t len = size * n;
	char ra[16] = "";

	header_value(data, len, "Replay-Nonce", r->nonce, sizeof(r->nonce));
	header_value(data, len, "Location", r->location, sizeof(r->location));
	header_value(data, len, "Retry-After", ra, sizeof(ra));
	if (ra[0] >= '0' && ra[0] <= '9')
		r->retry_after = (unsigned)strtoul(ra, NULL, 10);
	return len;
}

static void
resp_clear(struct resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static void __attribute__((format(printf, 3, 4)))
fail(struct acme *a, const char *step, const char *fmt, ...)
{
	char what[ACME_TEXT_MAX * 2 + ACME_NAME_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	free(*a->err);
	*a->err = xasprintf("%s: %s", step, what);
}

/* The CA's own words when the body is a problem document. */
static void
fail_resp(struct acme *a, const char *step, const struct resp *r)
{
	struct acme_problem pb;
	const char *why;
	char buf[ACME_TEXT_MAX * 2 + 32];

	if (r->body != NULL && acme_parse_problem(r->body, r->len, &pb, &why) == 0)
		snprintf(buf, sizeof(buf), "%s: %s", pb.type, pb.detail);
	else
		snprintf(buf, sizeof(buf), "HTTP status %ld", r->status);
	fail(a, step, "%s", buf);
}

/* libcurl's progress callback: a non-zero return aborts the transfer,
 * so a shutdown never waits for a slow CA. */
static int
on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	atomic_bool *cancel = arg;

	return cancel != NULL && atomic_load(cancel);
}

/* One HTTPS request; method "GET", "HEAD" or "POST" (body JOSE). */
static int
http(struct acme *a, const char *method, const char *url, const char *body,
    const char *accept, struct resp *r, const char *step)
{
	struct curl_slist *hdrs = NULL;
	const char *ca = a->p->ca_file ? a->p->ca_file : getenv("SSL_CERT_FILE");
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	curl_easy_reset(a->curl);
	curl_easy_setopt(a->curl, CURLOPT_URL, url);
	curl_easy_setopt(a->curl, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(a->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(a->curl, CURLOPT_TIMEOUT, (long)ACME_HTTP_TIMEOUT);
	curl_easy_setopt(a->curl, CURLOPT_CONNECTTIMEOUT, (long)ACME_CONNECT_TIMEOUT);
	curl_easy_setopt(a->curl, CURLOPT_USERAGENT, "postern-acme");
	curl_easy_setopt(a->curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(a->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(a->curl, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(a->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(a->curl, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(a->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(a->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(a->curl, CURLOPT_XFERINFODATA, a->p->cancel);
	/* SPEC 12: libcurl does not read SSL_CERT_FILE by itself */
	if (ca != NULL && *ca != '\0')
		curl_easy_setopt(a->curl, CURLOPT_CAINFO, ca);
	if (accept != NULL) {
		char h[128];
		snprintf(h, sizeof(h), "Accept: %s", accept);
		hdrs = curl_slist_append(hdrs, h);
	}
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(a->curl, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "POST") == 0) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/jose+json");
		curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, body);
	}
	curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, hdrs);
	rc = curl_easy_perform(a->curl);
	curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		fail(a, step, "%s", r->too_long ? "answer too large" :
		    errbuf[0] ? errbuf : curl_easy_strerror(rc));
		resp_clear(r);
		return -1;
	}
	curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->nonce[0] != '\0' && acme_b64url_ok(r->nonce, strlen(r->nonce)))
		memcpy(a->nonce, r->nonce, sizeof(a->nonce));
	return 0;
}

static bool
is_bad_nonce(const struct resp *r)
{
	struct acme_problem pb;
	const char *why;

	return r->status == 400 && r->body != NULL &&
	    acme_parse_problem(r->body, r->len, &pb, &why) == 0 &&
	    strcmp(pb.type, "urn:ietf:params:acme:error:badNonce") == 0;
}

static bool
cancelled(struct acme *a)
{
	return a->p->cancel != NULL && atomic_load(a->p->cancel);
}

/* A signed POST (payload "" is POST-as-GET); 2xx expected. */
static int
post(struct acme *a, const char *url, const char *payload, const char *accept,
    struct resp *r, const char *step)
{
	for (int i = 0; i < ACME_NONCE_RETRIES; i++) {
		char *body;

		if (a->nonce[0] == '\0') {
			struct resp nr;
			if (http(a, "HEAD", a->dir.new_nonce, NULL, NULL, &nr, "newNonce") == -1)
				return -1;
			resp_clear(&nr);
			if (a->nonce[0] == '\0') {
				fail(a, "newNonce", "%s", "the CA sent no Replay-Nonce");
				return -1;
			}
		}
		body = jws_sign(a->p->account_key, a->kid[0] ? a->kid : NULL, a->nonce, url, payload);
		a->nonce[0] = '\0';	/* each nonce is used once */
		if (body == NULL) {
			fail(a, step, "%s", "cannot sign the request");
			return -1;
		}
		if (http(a, "POST", url, body, accept, r, step) == -1) {
			free(body);
			return -1;
		}
		free(body);
		if (is_bad_nonce(r)) {
			resp_clear(r);
			continue;
		}
		if (r->status < 200 || r->status > 299) {
			fail_resp(a, step, r);
			resp_clear(r);
			return -1;
		}
		return 0;
	}
	fail(a, step, "%s", "the CA refused every nonce (badNonce)");
	return -1;
}

/* Waits secs (Retry-After, bounded) in small steps, unless cancelled. */
static void
pause_for(struct acme *a, unsigned secs)
{
	if (secs == 0)
		secs = 1;
	if (secs > ACME_POLL_WAIT_MAX)
		secs = ACME_POLL_WAIT_MAX;
	for (unsigned i = 0; i < secs * 10 && !cancelled(a); i++)
		usleep(100000);
}

static int
directory(struct acme *a)
{
	struct resp r;
	const char *why;
	int rc = 0;

	if (http(a, "GET", a->p->directory, NULL, "application/json", &r, "directory") == -1)
		return -1;
	if (r.status != 200) {
		fail_resp(a, "directory", &r);
		rc = -1;
	} else if (acme_parse_directory(r.body ? r.body : "", r.len, &a->dir, &why) == -1) {
		fail(a, "directory", "%s", why);
		rc = -1;
	}
	resp_clear(&r);
	return rc;
}

/* RFC 8555 7.3: creates the account, or finds it (200) for our key. */
static int
account(struct acme *a)
{
	struct resp r;
	char *payload;
	int rc;

	/* the address goes into JSON: it was checked at configuration
	 * time to have an '@'; quotes and backslashes are refused here */
	if (strpbrk(a->p->email, "\"\\") != NULL) {
		fail(a, "newAccount", "%s", "acme_email contains a quote or backslash");
		return -1;
	}
	payload = xasprintf("{\"termsOfServiceAgreed\":true,\"contact\":[\"mailto:%s\"]}",
	    a->p->email);
	rc = post(a, a->dir.new_account, payload, NULL, &r, "newAccount");
	free(payload);
	if (rc == -1)
		return -1;
	if (r.location[0] == '\0' || strncmp(r.location, "https://", 8) != 0 ||
	    strpbrk(r.location, "\"\\ ") != NULL) {
		fail(a, "newAccount", "%s", "no account URL (Location) in the answer");
		resp_clear(&r);
		return -1;
	}
	memcpy(a->kid, r.location, sizeof(a->kid));
	resp_clear(&r);
	return 0;
}

static int
get_order(struct acme *a, const char *url, struct acme_order *o, const char *step)
{
	struct resp r;
	const char *why;

	if (post(a, url, "", NULL, &r, step) == -1)
		return -1;
	if (acme_parse_order(r.body ? r.body : "", r.len, o, &why) == -1) {
		fail(a, step, "%s", why);
		resp_clear(&r);
		return -1;
	}
	resp_clear(&r);
	return 0;
}

static void
order_problem(struct acme *a, const char *step, const struct acme_order *o)
{
	char buf[ACME_TEXT_MAX * 2 + 64];

	if (o->has_error)
		snprintf(buf, sizeof(buf), "order %s: %s: %s", acme_status_name(o->status),
		    o->error.type, o->error.detail);
	else
		snprintf(buf, sizeof(buf), "order %s", acme_status_name(o->status));
	fail(a, step, "%s", buf);
}

/* One authorization through http-01 to valid (RFC 8555 7.5.1). */
static int
authorize(struct acme *a, const char *url)
{
	struct acme_authz z;
	struct resp r;
	const char *why;
	char *keyauth = NULL, token[ACME_TOKEN_MAX] = "";
	int rc = -1;

	for (int poll = 0; poll < ACME_POLLS && !cancelled(a); poll++) {
		if (post(a, url, "", NULL, &r, "authorization") == -1)
			break;
		if (acme_parse_authz(r.body ? r.body : "", r.len, &z, &why) == -1) {
			fail(a, "authorization", "%s", why);
			resp_clear(&r);
			break;
		}
		if (z.status == ACME_STATUS_VALID) {
			resp_clear(&r);
			rc = 0;
			break;
		}
		if (z.status != ACME_STATUS_PENDING) {
			char buf[ACME_TEXT_MAX * 2 + ACME_NAME_MAX + 64];
			snprintf(buf, sizeof(buf), "%s is %s%s%s%s%s", z.identifier,
			    acme_status_name(z.status), z.has_error ? ": " : "",
			    z.has_error ? z.error.type : "", z.has_error ? ": " : "",
			    z.has_error ? z.error.detail : "");
			fail(a, "authorization", "%s", buf);
			resp_clear(&r);
			break;
		}
		if (!z.has_http01) {
			fail(a, "authorization", "%s has no http-01 challenge", z.identifier);
			resp_clear(&r);
			break;
		}
		if (keyauth == NULL) {
			struct resp cr;
			/* RFC 8555 8.1: token "." thumbprint, served before we
			 * tell the CA to look */
			keyauth = xasprintf("%s.%s", z.token, a->thumbprint);
			memcpy(token, z.token, sizeof(token));
			a->p->publish(a->p->arg, token, keyauth);
			if (post(a, z.challenge_url, "{}", NULL, &cr, "challenge") == -1) {
				resp_clear(&r);
				break;
			}
			resp_clear(&cr);
		}
		pause_for(a, r.retry_after);
		resp_clear(&r);
	}
	if (rc == -1 && !cancelled(a) && (*a->err == NULL))
		fail(a, "authorization", "%s", "still pending after every poll");
	if (keyauth != NULL) {
		a->p->withdraw(a->p->arg, token);
		free(keyauth);
	}
	return rc;
}

/* Polls the order until it leaves status from. */
static int
wait_order(struct acme *a, const char *url, struct acme_order *o, enum acme_status from,
    const char *step)
{
	for (int poll = 0; poll < ACME_POLLS && o->status == from && !cancelled(a); poll++) {
		pause_for(a, 1);
		if (get_order(a, url, o, step) == -1)
			return -1;
	}
	return 0;
}

static int
issue(struct acme *a, struct acme_result *out)
{
	const struct acme_params *p = a->p;
	struct acme_order o;
	struct resp r;
	char order_url[ACME_URL_MAX], *payload, *csr = NULL, *tmp;
	const char *why;
	EVP_PKEY *key = NULL;
	size_t i;
	int rc = -1;

	if (directory(a) == -1 || account(a) == -1)
		return -1;
	/* RFC 8555 7.4: one identifier per name */
	payload = xstrdup("{\"identifiers\":[");
	for (i = 0; i < p->nnames; i++) {
		tmp = xasprintf("%s%s{\"type\":\"dns\",\"value\":\"%s\"}", payload, i ? "," : "",
		    p->names[i]);
		free(payload);
		payload = tmp;
	}
	tmp = xasprintf("%s]}", payload);
	free(payload);
	payload = tmp;
	if (post(a, a->dir.new_order, payload, NULL, &r, "newOrder") == -1) {
		free(payload);
		return -1;
	}
	free(payload);
	if (acme_parse_order(r.body ? r.body : "", r.len, &o, &why) == -1 ||
	    r.location[0] == '\0' || strncmp(r.location, "https://", 8) != 0 ||
	    strpbrk(r.location, "\"\\ ") != NULL) {
		fail(a, "newOrder", "%s", r.location[0] ? why : "no order URL (Location)");
		resp_clear(&r);
		return -1;
	}
	memcpy(order_url, r.location, sizeof(order_url));
	resp_clear(&r);
	for (i = 0; i < o.nauthz; i++)
		if (authorize(a, o.authz[i]) == -1)
			return -1;
	if (get_order(a, order_url, &o, "order") == -1 ||
	    wait_order(a, order_url, &o, ACME_STATUS_PENDING, "order") == -1)
		return -1;
	if (o.status != ACME_STATUS_READY && o.status != ACME_STATUS_VALID) {
		order_problem(a, "order", &o);
		return -1;
	}
	if (o.status == ACME_STATUS_READY) {
		if ((key = csr_key_new()) == NULL ||
		    (csr = csr_new(key, p->names, p->nnames)) == NULL) {
			fail(a, "finalize", "%s", "cannot make the key and signing request");
			goto out;
		}
		payload = xasprintf("{\"csr\":\"%s\"}", csr);
		rc = post(a, o.finalize, payload, NULL, &r, "finalize");
		free(payload);
		if (rc == -1)
			goto out;
		rc = -1;
		resp_clear(&r);
		if (get_order(a, order_url, &o, "finalize") == -1 ||
		    wait_order(a, order_url, &o, ACME_STATUS_PROCESSING, "finalize") == -1 ||
		    wait_order(a, order_url, &o, ACME_STATUS_READY, "finalize") == -1)
			goto out;
	}
	if (o.status != ACME_STATUS_VALID || key == NULL) {
		order_problem(a, "finalize", &o);
		goto out;
	}
	if (post(a, o.certificate, "", "application/pem-certificate-chain", &r,
	    "certificate") == -1)
		goto out;
	if (r.body == NULL || strstr(r.body, "-----BEGIN CERTIFICATE-----") == NULL) {
		fail(a, "certificate", "%s", "the answer is not a PEM certificate chain");
		resp_clear(&r);
		goto out;
	}
	out->cert_pem = r.body;
	r.body = NULL;
	resp_clear(&r);
	out->key_pem = csr_key_pem(key);
	rc = 0;
out:
	free(csr);
	EVP_PKEY_free(key);
	return rc;
}

int
acme_issue(const struct acme_params *p, struct acme_result *out, char **err)
{
	struct acme a = { .p = p, .err = err };
	int rc;

	memset(out, 0, sizeof(*out));
	*err = NULL;
	if ((a.curl = curl_easy_init()) == NULL) {
		*err = xstrdup("cannot start libcurl");
		return -1;
	}
	if ((a.thumbprint = jws_thumbprint(p->account_key)) == NULL) {
		*err = xstrdup("the account key is not an ECDSA P-256 key");
		curl_easy_cleanup(a.curl);
		return -1;
	}
	rc = issue(&a, out);
	if (rc == -1 && *err == NULL)
		*err = xstrdup(cancelled(&a) ? "cancelled (shutting down)" : "failed");
	if (rc == 0 && out->key_pem == NULL) {
		free(out->cert_pem);
		out->cert_pem = NULL;
		*err = xstrdup("cannot write the new key");
		rc = -1;
	}
	free(a.thumbprint);
	curl_easy_cleanup(a.curl);
	return rc;
}
