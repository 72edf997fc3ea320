/*
 * Parsing of the CA's JSON with jansson. Unknown members are ignored
 * (RFC 8555 7.1: clients must), missing required ones are errors, and
 * nothing longer than its field is truncated silently except the
 * human-readable problem detail.
 */
#include "answer.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char *const status_names[] = {
	[ACME_STATUS_UNKNOWN] = "unknown", [ACME_STATUS_PENDING] = "pending",
	[ACME_STATUS_READY] = "ready", [ACME_STATUS_PROCESSING] = "processing",
	[ACME_STATUS_VALID] = "valid", [ACME_STATUS_INVALID] = "invalid",
	[ACME_STATUS_EXPIRED] = "expired", [ACME_STATUS_DEACTIVATED] = "deactivated",
	[ACME_STATUS_REVOKED] = "revoked",
};

const char *
acme_status_name(enum acme_status s)
{
	return (size_t)s < sizeof(status_names) / sizeof(status_names[0]) ? status_names[s] :
	    "unknown";
}

bool
acme_b64url_ok(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_'))
			return false;
	}
	return true;
}

static json_t *
load(const char *buf, size_t len, const char **why)
{
	json_error_t e;
	json_t *j;

	if (len > ACME_JSON_MAX) {
		*why = "answer too large";
		return NULL;
	}
	if ((j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &e)) == NULL) {
		*why = "answer is not JSON";
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		*why = "answer is not a JSON object";
		return NULL;
	}
	return j;
}

/* An https URL we can embed in a JWS header: printable, no quote or
 * backslash, no space. */
static int
url_value(json_t *v, char *out)
{
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n >= ACME_URL_MAX || n < 9 || strncmp(s, "https://", 8) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '"' ||
		    s[i] == '\\')
			return -1;
	memcpy(out, s, n + 1);
	return 0;
}

static int
get_url(json_t *obj, const char *key, char *out, bool required)
{
	json_t *v = json_object_get(obj, key);

	out[0] = '\0';
	if (v == NULL)
		return required ? -1 : 0;
	return url_value(v, out);
}

/* Printable text, control characters and quotes replaced: the detail
 * goes into the log. Truncated when longer than the field. */
static void
get_text(json_t *obj, const char *key, char *out, size_t outlen)
{
	json_t *v = json_object_get(obj, key);
	const char *s = json_is_string(v) ? json_string_value(v) : "";
	size_t n = json_is_string(v) ? json_string_length(v) : 0, o = 0;

	for (size_t i = 0; i < n && o + 1 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];
		out[o++] = (c < 0x20 || c == 0x7f || c == '"' || c == '\\') ? '\'' : (char)c;
	}
	out[o] = '\0';
}

static enum acme_status
get_status(json_t *obj)
{
	json_t *v = json_object_get(obj, "status");
	const char *s = json_is_string(v) ? json_string_value(v) : "";

	for (size_t i = 1; i < sizeof(status_names) / sizeof(status_names[0]); i++)
		if (strcmp(s, status_names[i]) == 0)
			return (enum acme_status)i;
	return ACME_STATUS_UNKNOWN;
}

static void
problem_from(json_t *obj, struct acme_problem *out)
{
	get_text(obj, "type", out->type, sizeof(out->type));
	get_text(obj, "detail", out->detail, sizeof(out->detail));
}

int
acme_parse_directory(const char *buf, size_t len, struct acme_directory *out,
    const char **why)
{
	json_t *j = load(buf, len, why);
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (j == NULL)
		return -1;
	if (get_url(j, "newNonce", out->new_nonce, true) == -1)
		*why = "directory without a valid newNonce URL";
	else if (get_url(j, "newAccount", out->new_account, true) == -1)
		*why = "directory without a valid newAccount URL";
	else if (get_url(j, "newOrder", out->new_order, true) == -1)
		*why = "directory without a valid newOrder URL";
	else
		rc = 0;
	json_decref(j);
	return rc;
}

int
acme_parse_problem(const char *buf, size_t len, struct acme_problem *out, const char **why)
{
	json_t *j = load(buf, len, why);

	memset(out, 0, sizeof(*out));
	if (j == NULL)
		return -1;
	problem_from(j, out);
	json_decref(j);
	if (out->type[0] == '\0' && out->detail[0] == '\0') {
		*why = "problem document without type or detail";
		return -1;
	}
	return 0;
}

int
acme_parse_order(const char *buf, size_t len, struct acme_order *out, const char **why)
{
	json_t *j = load(buf, len, why), *a, *e;
	size_t i;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (j == NULL)
		return -1;
	out->status = get_status(j);
	a = json_object_get(j, "authorizations");
	if (out->status == ACME_STATUS_UNKNOWN) {
		*why = "order without a known status";
		goto out;
	}
	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > ACME_AUTHZ_MAX) {
		*why = "order without a usable authorizations list";
		goto out;
	}
	for (i = 0; i < json_array_size(a); i++)
		if (url_value(json_array_get(a, i), out->authz[i]) == -1) {
			*why = "order with an invalid authorization URL";
			goto out;
		}
	out->nauthz = i;
	if (get_url(j, "finalize", out->finalize, true) == -1) {
		*why = "order without a valid finalize URL";
		goto out;
	}
	if (get_url(j, "certificate", out->certificate, false) == -1 ||
	    (out->status == ACME_STATUS_VALID && out->certificate[0] == '\0')) {
		*why = "order without a valid certificate URL";
		goto out;
	}
	if (json_is_object(e = json_object_get(j, "error"))) {
		out->has_error = true;
		problem_from(e, &out->error);
	}
	rc = 0;
out:
	json_decref(j);
	return rc;
}

int
acme_parse_authz(const char *buf, size_t len, struct acme_authz *out, const char **why)
{
	json_t *j = load(buf, len, why), *id, *chs, *v;
	const char *s;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (j == NULL)
		return -1;
	out->status = get_status(j);
	id = json_object_get(j, "identifier");
	v = json_is_object(id) ? json_object_get(id, "value") : NULL;
	if (out->status == ACME_STATUS_UNKNOWN) {
		*why = "authorization without a known status";
		goto out;
	}
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) >= sizeof(out->identifier)) {
		*why = "authorization without an identifier";
		goto out;
	}
	s = json_string_value(v);
	for (size_t i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.' || s[i] == '*')) {
			*why = "authorization identifier is not a DNS name";
			goto out;
		}
	memcpy(out->identifier, s, strlen(s) + 1);
	chs = json_object_get(j, "challenges");
	if (!json_is_array(chs)) {
		*why = "authorization without challenges";
		goto out;
	}
	for (size_t i = 0; i < json_array_size(chs) && i < 16; i++) {
		json_t *c = json_array_get(chs, i), *t, *e;
		if (!json_is_object(c) || !json_is_string(t = json_object_get(c, "type")) ||
		    strcmp(json_string_value(t), "http-01") != 0)
			continue;
		v = json_object_get(c, "token");
		if (!json_is_string(v) || json_string_length(v) >= sizeof(out->token) ||
		    !acme_b64url_ok(json_string_value(v), json_string_length(v))) {
			*why = "http-01 challenge with an invalid token";
			goto out;
		}
		if (get_url(c, "url", out->challenge_url, true) == -1) {
			*why = "http-01 challenge without a valid URL";
			goto out;
		}
		memcpy(out->token, json_string_value(v), json_string_length(v) + 1);
		out->challenge_status = get_status(c);
		if (json_is_object(e = json_object_get(c, "error"))) {
			out->has_error = true;
			problem_from(e, &out->error);
		}
		out->has_http01 = true;
		break;
	}
	rc = 0;
out:
	json_decref(j);
	return rc;
}
