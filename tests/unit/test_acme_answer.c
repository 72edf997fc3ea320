/*
 * The ACME answer parsers (src/acme/answer.h) as tables of CA answers:
 * accepted with the fields we use, or refused with a reason; and the JWS
 * helpers (src/acme/jws.h): base64url, the RFC 7638 thumbprint layout,
 * and an ES256 signature that OpenSSL verifies.
 */
#include "unit.h"

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include "acme/answer.h"
#include "acme/jws.h"
#include "lib/xmalloc.h"

struct dir_case {
	const char *json;
	int rc;
	const char *new_order;
};

static const struct dir_case dir_cases[] = {
	{ "{\"newNonce\":\"https://a.test/n\",\"newAccount\":\"https://a.test/a\","
	  "\"newOrder\":\"https://a.test/o\",\"meta\":{\"x\":1}}", 0, "https://a.test/o" },
	{ "{\"newNonce\":\"https://a.test/n\",\"newAccount\":\"https://a.test/a\"}", -1, NULL },
	{ "{\"newNonce\":\"http://a.test/n\",\"newAccount\":\"https://a.test/a\","
	  "\"newOrder\":\"https://a.test/o\"}", -1, NULL },	/* not https */
	{ "{\"newNonce\":\"https://a.test/n\",\"newAccount\":\"https://a.test/a\","
	  "\"newOrder\":\"https://a.test/o\\\"x\"}", -1, NULL },	/* a quote */
	{ "{\"newNonce\":\"https://a.test/n\",\"newAccount\":\"https://a.test/a\","
	  "\"newOrder\":\"https://a.test/o x\"}", -1, NULL },	/* a space */
	{ "{\"newNonce\":1,\"newAccount\":\"https://a.test/a\",\"newOrder\":\"https://a.test/o\"}",
	  -1, NULL },
	{ "[1,2]", -1, NULL },
	{ "not json", -1, NULL },
	{ "{\"newNonce\":\"https://a\",\"newNonce\":\"https://b\"}", -1, NULL },	/* duplicate */
	{ "", -1, NULL },
};

static void
test_directory(void **state)
{
	int bad = 0;

	for (size_t i = 0; i < NELEM(dir_cases); i++) {
		const struct dir_case *c = &dir_cases[i];
		struct acme_directory d;
		const char *why = NULL;
		int rc = acme_parse_directory(c->json, strlen(c->json), &d, &why);

		CASE_CHECK(bad, rc == c->rc, i, "rc %d, expected %d for %s", rc, c->rc, c->json);
		if (rc == 0 && c->new_order)
			CASE_CHECK(bad, strcmp(d.new_order, c->new_order) == 0, i, "newOrder %s",
			    d.new_order);
		if (rc == -1)
			CASE_CHECK(bad, why != NULL, i, "%s", "no reason");
	}
	assert_int_equal(bad, 0);
}

struct order_case {
	const char *json;
	int rc;
	enum acme_status status;
	size_t nauthz;
	const char *certificate;
	const char *error_type;
};

static const struct order_case order_cases[] = {
	{ "{\"status\":\"pending\",\"authorizations\":[\"https://a.test/z/1\",\"https://a.test/z/2\"],"
	  "\"finalize\":\"https://a.test/f\"}", 0, ACME_STATUS_PENDING, 2, "", NULL },
	{ "{\"status\":\"valid\",\"authorizations\":[\"https://a.test/z/1\"],"
	  "\"finalize\":\"https://a.test/f\",\"certificate\":\"https://a.test/c\"}", 0,
	  ACME_STATUS_VALID, 1, "https://a.test/c", NULL },
	/* valid without the certificate URL: unusable */
	{ "{\"status\":\"valid\",\"authorizations\":[\"https://a.test/z/1\"],"
	  "\"finalize\":\"https://a.test/f\"}", -1, 0, 0, NULL, NULL },
	{ "{\"status\":\"invalid\",\"authorizations\":[\"https://a.test/z/1\"],"
	  "\"finalize\":\"https://a.test/f\",\"error\":{\"type\":\"urn:ietf:params:acme:error:"
	  "unauthorized\",\"detail\":\"no \\\"way\\\"\\n\"}}", 0, ACME_STATUS_INVALID, 1, "",
	  "urn:ietf:params:acme:error:unauthorized" },
	{ "{\"status\":\"bogus\",\"authorizations\":[\"https://a.test/z/1\"],"
	  "\"finalize\":\"https://a.test/f\"}", -1, 0, 0, NULL, NULL },
	{ "{\"status\":\"pending\",\"authorizations\":[],\"finalize\":\"https://a.test/f\"}", -1, 0,
	  0, NULL, NULL },
	{ "{\"status\":\"pending\",\"authorizations\":[3],\"finalize\":\"https://a.test/f\"}", -1, 0,
	  0, NULL, NULL },
	{ "{\"status\":\"pending\",\"authorizations\":[\"https://a.test/z/1\"]}", -1, 0, 0, NULL,
	  NULL },
};

static void
test_order(void **state)
{
	int bad = 0;
	struct acme_order *o = malloc(sizeof(*o));

	for (size_t i = 0; i < NELEM(order_cases); i++) {
		const struct order_case *c = &order_cases[i];
		const char *why = NULL;
		int rc = acme_parse_order(c->json, strlen(c->json), o, &why);

		CASE_CHECK(bad, rc == c->rc, i, "rc %d (%s), expected %d", rc, why ? why : "",
		    c->rc);
		if (rc != 0 || c->rc != 0)
			continue;
		CASE_CHECK(bad, o->status == c->status, i, "status %s", acme_status_name(o->status));
		CASE_CHECK(bad, o->nauthz == c->nauthz, i, "nauthz %zu", o->nauthz);
		CASE_CHECK(bad, strcmp(o->certificate, c->certificate) == 0, i, "certificate %s",
		    o->certificate);
		if (c->error_type) {
			CASE_CHECK(bad, o->has_error && strcmp(o->error.type, c->error_type) == 0, i,
			    "error %s", o->error.type);
			/* quotes and the newline are made harmless for the log */
			CASE_CHECK(bad, strchr(o->error.detail, '"') == NULL &&
			    strchr(o->error.detail, '\n') == NULL, i, "detail %s", o->error.detail);
		}
	}
	free(o);
	assert_int_equal(bad, 0);
}

struct authz_case {
	const char *json;
	int rc;
	bool http01;
	const char *token;
	const char *identifier;
};

static const struct authz_case authz_cases[] = {
	{ "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"mx.example.test\"},"
	  "\"challenges\":[{\"type\":\"tls-alpn-01\",\"url\":\"https://a.test/c/0\",\"token\":\"x\"},"
	  "{\"type\":\"http-01\",\"url\":\"https://a.test/c/1\",\"token\":\"tok_en-1\"}]}", 0, true,
	  "tok_en-1", "mx.example.test" },
	/* no http-01: parsed, the caller says it cannot answer */
	{ "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.test\"},"
	  "\"challenges\":[{\"type\":\"dns-01\",\"url\":\"https://a.test/c/0\",\"token\":\"x\"}]}",
	  0, false, "", "a.test" },
	/* a token that would escape the URL path */
	{ "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.test\"},"
	  "\"challenges\":[{\"type\":\"http-01\",\"url\":\"https://a.test/c\",\"token\":\"../x\"}]}",
	  -1, false, NULL, NULL },
	{ "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a b\"},"
	  "\"challenges\":[]}", -1, false, NULL, NULL },
	{ "{\"status\":\"valid\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.test\"}}", -1,
	  false, NULL, NULL },
	{ "{\"status\":\"valid\",\"challenges\":[]}", -1, false, NULL, NULL },
};

static void
test_authz(void **state)
{
	int bad = 0;

	for (size_t i = 0; i < NELEM(authz_cases); i++) {
		const struct authz_case *c = &authz_cases[i];
		struct acme_authz z;
		const char *why = NULL;
		int rc = acme_parse_authz(c->json, strlen(c->json), &z, &why);

		CASE_CHECK(bad, rc == c->rc, i, "rc %d (%s), expected %d", rc, why ? why : "",
		    c->rc);
		if (rc != 0 || c->rc != 0)
			continue;
		CASE_CHECK(bad, z.has_http01 == c->http01, i, "http01 %d", z.has_http01);
		CASE_CHECK(bad, strcmp(z.token, c->token) == 0, i, "token %s", z.token);
		CASE_CHECK(bad, strcmp(z.identifier, c->identifier) == 0, i, "identifier %s",
		    z.identifier);
	}
	assert_int_equal(bad, 0);
}

static void
test_problem(void **state)
{
	struct acme_problem p;
	const char *why;
	static const char ok[] = "{\"type\":\"urn:ietf:params:acme:error:badNonce\","
	    "\"detail\":\"bad\\u0001nonce\",\"status\":400}";

	assert_int_equal(acme_parse_problem(ok, strlen(ok), &p, &why), 0);
	assert_string_equal(p.type, "urn:ietf:params:acme:error:badNonce");
	assert_string_equal(p.detail, "bad'nonce");
	assert_int_equal(acme_parse_problem("{}", 2, &p, &why), -1);
}

static void
test_b64url(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
		{ "\xfb\xff", "-_8" },
	};
	int bad = 0;

	for (size_t i = 0; i < NELEM(cases); i++) {
		char *o = jws_b64url(cases[i].in, strlen(cases[i].in));
		CASE_CHECK(bad, strcmp(o, cases[i].out) == 0, i, "got %s", o);
		free(o);
	}
	assert_true(acme_b64url_ok("aZ09-_", 6));
	assert_false(acme_b64url_ok("a=", 2));
	assert_false(acme_b64url_ok("", 0));
	assert_int_equal(bad, 0);
}

/* The signature verifies with the key, over "protected.payload". */
static void
test_jws_sign(void **state)
{
	EVP_PKEY *k = jws_key_new();
	char *jwk, *jws, *tp, *p1, *p2, *p3, *input;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char raw[64], *der = NULL;
	ECDSA_SIG *sig = ECDSA_SIG_new();
	int len;

	assert_non_null(k);
	jwk = jws_jwk(k);
	/* RFC 7638 3.2: members in lexicographic order, no white space */
	assert_int_equal(strncmp(jwk, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"", 31), 0);
	tp = jws_thumbprint(k);
	assert_int_equal(strlen(tp), 43);
	jws = jws_sign(k, NULL, "nonce1", "https://a.test/x", "{}");
	assert_non_null(jws);
	/* {"protected":"P","payload":"Q","signature":"S"} */
	p1 = strstr(jws, "\"protected\":\"") + 13;
	p2 = strstr(jws, "\"payload\":\"") + 11;
	p3 = strstr(jws, "\"signature\":\"") + 13;
	input = xasprintf("%.*s.%.*s", (int)(strchr(p1, '"') - p1), p1,
	    (int)(strchr(p2, '"') - p2), p2);
	assert_int_equal(strchr(p3, '"') - p3, 86);	/* 64 octets */
	{
		/* decode base64url of the signature by hand */
		static const char tab[] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
		unsigned acc = 0, bits = 0;
		size_t o = 0;
		for (const char *c = p3; *c != '"'; c++) {
			acc = acc << 6 | (unsigned)(strchr(tab, *c) - tab);
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				raw[o++] = (unsigned char)(acc >> bits);
			}
		}
		assert_int_equal(o, 64);
	}
	ECDSA_SIG_set0(sig, BN_bin2bn(raw, 32, NULL), BN_bin2bn(raw + 32, 32, NULL));
	len = i2d_ECDSA_SIG(sig, &der);
	assert_true(len > 0);
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k), 1);
	assert_int_equal(EVP_DigestVerify(md, der, (size_t)len, (unsigned char *)input,
	    strlen(input)), 1);
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	free(input);
	free(jws);
	free(tp);
	free(jwk);
	EVP_PKEY_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_authz),
		cmocka_unit_test(test_problem),
		cmocka_unit_test(test_b64url),
		cmocka_unit_test(test_jws_sign),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
