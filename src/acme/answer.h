/*
 * The ACME CA's answers (RFC 8555 7.1): directory, order, authorization
 * and problem documents, parsed from JSON into fixed-size fields. Pure:
 * (buf, len) in, struct out, a reason on failure; every URL must be
 * https:// and printable, every token base64url, so what we later sign
 * or serve is well-formed whatever the CA sent.
 */
#ifndef POSTERN_ACME_ANSWER_H
#define POSTERN_ACME_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

#define ACME_JSON_MAX (256 * 1024)	/* any answer; a certificate is not JSON */
#define ACME_URL_MAX 1024
#define ACME_TEXT_MAX 512		/* problem type and detail (truncated) */
#define ACME_TOKEN_MAX 256
#define ACME_NAME_MAX 254
#define ACME_AUTHZ_MAX 32		/* we ask for a handful of names */

enum acme_status {
	ACME_STATUS_UNKNOWN, ACME_STATUS_PENDING, ACME_STATUS_READY, ACME_STATUS_PROCESSING,
	ACME_STATUS_VALID, ACME_STATUS_INVALID, ACME_STATUS_EXPIRED,
	ACME_STATUS_DEACTIVATED, ACME_STATUS_REVOKED,
};

struct acme_directory {
	char new_nonce[ACME_URL_MAX], new_account[ACME_URL_MAX], new_order[ACME_URL_MAX];
};

/* RFC 7807 problem document (RFC 8555 6.7). */
struct acme_problem {
	char type[ACME_TEXT_MAX];	/* "urn:ietf:params:acme:error:..." */
	char detail[ACME_TEXT_MAX];	/* what the CA says, printable */
};

struct acme_order {
	enum acme_status status;
	char authz[ACME_AUTHZ_MAX][ACME_URL_MAX];
	size_t nauthz;
	char finalize[ACME_URL_MAX];
	char certificate[ACME_URL_MAX];	/* "" until valid */
	bool has_error;
	struct acme_problem error;
};

/* An authorization and its http-01 challenge (the only one we answer). */
struct acme_authz {
	enum acme_status status;
	char identifier[ACME_NAME_MAX];
	bool has_http01;
	char challenge_url[ACME_URL_MAX];
	char token[ACME_TOKEN_MAX];
	enum acme_status challenge_status;
	bool has_error;			/* the challenge's error, when invalid */
	struct acme_problem error;
};

/* Each returns 0, or -1 with *why saying what was wrong (static text). */
int acme_parse_directory(const char *buf, size_t len, struct acme_directory *out,
    const char **why);
int acme_parse_order(const char *buf, size_t len, struct acme_order *out, const char **why);
int acme_parse_authz(const char *buf, size_t len, struct acme_authz *out, const char **why);
int acme_parse_problem(const char *buf, size_t len, struct acme_problem *out,
    const char **why);

/* True when s (len octets) is a non-empty base64url string (tokens and
 * nonces, RFC 8555 6.5 and 8.1). */
bool acme_b64url_ok(const char *s, size_t len);

const char *acme_status_name(enum acme_status s);

#endif
