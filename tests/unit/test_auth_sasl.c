/*
 * Table tests for the SMTP AUTH decoding (src/auth/sasl.h: PLAIN per
 * RFC 4616, LOGIN, the mechanism table) and the password strength rules
 * of SPEC 6.2 (src/auth/password.h).
 *
 * PLAIN cases are written as the decoded octets and base64-encoded here,
 * so the table reads as what the client meant; the malformed-base64 cases
 * give the encoded text itself. Every decode writes into buffers followed
 * by a guard zone that must come back untouched.
 */
#include "unit.h"

#include "auth/password.h"
#include "auth/sasl.h"

#define GUARD 64
#define FILL 0xA5

static size_t
b64_encode(const char *in, size_t len, char *out, size_t outlen)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)(unsigned char)in[i] << 16;
		size_t n = len - i < 3 ? len - i : 3;
		if (n > 1)
			v |= (unsigned)(unsigned char)in[i + 1] << 8;
		if (n > 2)
			v |= (unsigned char)in[i + 2];
		assert_true(o + 4 < outlen);
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = n > 1 ? tab[(v >> 6) & 63] : '=';
		out[o++] = n > 2 ? tab[v & 63] : '=';
	}
	out[o] = '\0';
	return o;
}

static bool
guard_intact(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != FILL)
			return false;
	return true;
}

/* ---- mechanism table ---- */

struct mech_case {
	const char *name;
	size_t len;
	enum sasl_mech want;
};

static const struct mech_case mech_cases[] = {
	{ S("PLAIN"), SASL_PLAIN },
	{ S("plain"), SASL_PLAIN },
	{ S("PlAiN"), SASL_PLAIN },
	{ S("LOGIN"), SASL_LOGIN },
	{ S("login"), SASL_LOGIN },
	{ S("Login"), SASL_LOGIN },
	{ S(""), SASL_NONE },
	{ S("PLAI"), SASL_NONE },
	{ S("PLAINX"), SASL_NONE },
	{ S("PLAIN "), SASL_NONE },
	{ S(" PLAIN"), SASL_NONE },
	{ S("PLAIN\0"), SASL_NONE },
	{ S("LOGI"), SASL_NONE },
	{ S("LOGINS"), SASL_NONE },
	{ S("CRAM-MD5"), SASL_NONE },
	{ S("DIGEST-MD5"), SASL_NONE },
	{ S("SCRAM-SHA-256"), SASL_NONE },
	{ S("XOAUTH2"), SASL_NONE },
	{ S("ANONYMOUS"), SASL_NONE },
	{ S("EXTERNAL"), SASL_NONE },
	{ S("GSSAPI"), SASL_NONE },
	{ S("PL\0IN"), SASL_NONE },
	{ S("P\xc3\xa0IN"), SASL_NONE },
};

static void
test_mech_lookup(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(mech_cases); i++) {
		const struct mech_case *c = &mech_cases[i];
		enum sasl_mech got = sasl_mech_lookup(c->name, c->len);
		CASE_CHECK(bad, got == c->want, i, "%s: got %d want %d",
		    unit_show(c->name, c->len), (int)got, (int)c->want);
	}
	/* only the first len octets count */
	assert_int_equal(sasl_mech_lookup("PLAIN and more", 5), SASL_PLAIN);
	assert_int_equal(sasl_mech_lookup("LOGIN=", 5), SASL_LOGIN);
	assert_int_equal(bad, 0);
}

/* ---- PLAIN ---- */

struct plain_case {
	const char *raw;	/* decoded response, encoded by the test */
	size_t rawlen;
	const char *b64;	/* when set: the encoded text itself (raw unused) */
	int rc;
	const char *user, *pass;	/* expected when rc == 0 */
};

#define OK(raw, u, p) { S(raw), NULL, 0, u, p }
#define NO(raw) { S(raw), NULL, -1, NULL, NULL }
#define B64OK(b, u, p) { NULL, 0, b, 0, u, p }
#define B64NO(b) { NULL, 0, b, -1, NULL, NULL }

static const struct plain_case plain_cases[] = {
	/* valid: empty authzid */
	OK("\0bob@example.test\0secret", "bob@example.test", "secret"),
	OK("\0bob\0s", "bob", "s"),
	OK("\0b\0p", "b", "p"),
	/* authzid equal to authcid: acting as oneself */
	OK("bob@example.test\0bob@example.test\0secret", "bob@example.test", "secret"),
	/* a password may hold spaces, punctuation and 8-bit octets */
	OK("\0bob@example.test\0pass word with spaces", "bob@example.test",
	    "pass word with spaces"),
	OK("\0bob@example.test\0=+/\\\"'!@#$%^&*()", "bob@example.test", "=+/\\\"'!@#$%^&*()"),
	OK("\0bob@example.test\0p\xc3\xa4ssw\xc3\xb6rd", "bob@example.test",
	    "p\xc3\xa4ssw\xc3\xb6rd"),
	OK("\0j\xc3\xb6rg@example.test\0pw", "j\xc3\xb6rg@example.test", "pw"),
	/* the user name is passed through as sent (case is the caller's) */
	OK("\0Bob@Example.TEST\0pw", "Bob@Example.TEST", "pw"),

	/* a different authzid: nobody may act as someone else */
	NO("alice@example.test\0bob@example.test\0secret"),
	NO("admin\0bob@example.test\0secret"),
	NO("bob\0bob@example.test\0secret"),		/* a prefix of it */
	NO("bob@example.test \0bob@example.test\0secret"),	/* trailing space */
	NO("bob@example.testx\0bob@example.test\0secret"),
	NO("bob@example.test\0bob@example.tes\0secret"),

	/* missing NULs */
	NO("bob@example.testsecret"),
	NO("bob@example.test\0secret"),
	NO("\0bob@example.testsecret"),
	NO("secret"),
	NO("\0"),
	NO("\0\0"),
	/* empty user or password */
	NO("\0\0secret"),
	NO("bob\0\0secret"),
	NO("\0bob@example.test\0"),
	NO("bob@example.test\0bob@example.test\0"),
	/* a NUL inside the password, or after it */
	NO("\0bob@example.test\0sec\0ret"),
	NO("\0bob@example.test\0secret\0"),
	NO("\0bob@example.test\0\0secret"),
	NO("\0bob@example.test\0secret\0\0"),
	NO("\0\0\0"),

	/* malformed base64 (decodes of "\0bob\0secret" = AGJvYgBzZWNyZXQ=) */
	B64OK("AGJvYgBzZWNyZXQ=", "bob", "secret"),
	B64NO(""),
	B64NO("="),
	B64NO("===="),
	B64NO("AGJvYgBzZWNyZXQ"),		/* padding missing: 15 chars */
	B64NO("AGJvYgBzZWNyZXQ=="),		/* one '=' too many */
	B64NO("AGJvYgBzZWNyZXQ==="),
	B64NO("AGJvYgBzZWNyZ==="),		/* three '=' */
	B64NO("AGJvYgBzZWNy=XQ="),		/* '=' inside */
	B64NO("=AGJvYgBzZWNyZXQ"),		/* '=' first */
	B64NO("AGJvYgBzZWNyZXQ=AAAA"),	/* data after the padding */
	B64NO("AGJvYgBzZWNyZXQ=\r\n"),	/* line end inside the response */
	B64NO("AGJvYgBz ZWNyZXQ="),		/* space inside */
	B64NO(" AGJvYgBzZWNyZXQ="),
	B64NO("AGJvYgBzZWNyZXQ= "),
	B64NO("AGJvYgBz\tZWNyZXQ="),
	B64NO("AGJvYgBzZWNyZX*="),		/* outside the alphabet */
	B64NO("AGJvYgBzZWNyZX-="),		/* base64url is not base64 */
	B64NO("AGJvYgBzZWNyZX_="),
	B64NO("AGJvYgBzZWNyZX\x80="),
	B64NO("AGJvYgBzZWNyZXQ=."),
	B64NO("A"),
	B64NO("AG"),
	B64NO("AGJ"),
	B64NO("AGJvY"),
	B64NO("AGJvYgBzZWNyZXQ=A"),
	B64NO("*"),				/* the cancel line is not a response */
};

static void
check_plain(size_t *bad, size_t idx, const char *b64, size_t blen, int want_rc,
    const char *want_user, const char *want_pass, size_t ulen, size_t plen)
{
	unsigned char *ubuf = malloc(ulen + GUARD), *pbuf = malloc(plen + GUARD);
	int rc;

	assert_non_null(ubuf);
	assert_non_null(pbuf);
	memset(ubuf, FILL, ulen + GUARD);
	memset(pbuf, FILL, plen + GUARD);
	rc = sasl_plain_decode(b64, blen, (char *)ubuf, ulen, (char *)pbuf, plen);
	CASE_CHECK(*bad, rc == want_rc, idx, "%s: rc=%d want %d", unit_show(b64, blen), rc,
	    want_rc);
	if (rc == 0 && want_rc == 0) {
		CASE_CHECK(*bad, memchr(ubuf, '\0', ulen) && strcmp((char *)ubuf, want_user) == 0,
		    idx, "%s: user %s", unit_show(b64, blen),
		    unit_show((char *)ubuf, strnlen((char *)ubuf, ulen)));
		CASE_CHECK(*bad, memchr(pbuf, '\0', plen) && strcmp((char *)pbuf, want_pass) == 0,
		    idx, "%s: password %s", unit_show(b64, blen),
		    unit_show((char *)pbuf, strnlen((char *)pbuf, plen)));
	}
	CASE_CHECK(*bad, guard_intact(ubuf + ulen, GUARD) && guard_intact(pbuf + plen, GUARD), idx,
	    "%s: wrote past the caller's buffers", unit_show(b64, blen));
	free(ubuf);
	free(pbuf);
}

static void
test_plain_table(void **state)
{
	char b64[4096];
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(plain_cases); i++) {
		const struct plain_case *c = &plain_cases[i];
		const char *in = c->b64;
		size_t len;

		if (in == NULL) {
			len = b64_encode(c->raw, c->rawlen, b64, sizeof(b64));
			in = b64;
		} else
			len = strlen(in);
		check_plain(&bad, i, in, len, c->rc, c->user, c->pass, SASL_FIELD_MAX,
		    SASL_FIELD_MAX);
	}
	assert_int_equal(bad, 0);
}

/* Field lengths around the caps: the caller's buffer sizes and
 * SASL_FIELD_MAX; a field must fit with its terminating NUL. */
static void
test_plain_caps(void **state)
{
	static const struct {
		bool authz;		/* authzid = authcid, else empty */
		size_t user, pass;	/* field lengths */
		size_t ulen, plen;	/* caller's buffers */
		int rc;
	} cases[] = {
		{ false, 511, 511, SASL_FIELD_MAX, SASL_FIELD_MAX, 0 },
		{ true, 511, 511, SASL_FIELD_MAX, SASL_FIELD_MAX, 0 },
		{ false, 512, 10, SASL_FIELD_MAX, SASL_FIELD_MAX, -1 },
		{ false, 10, 512, SASL_FIELD_MAX, SASL_FIELD_MAX, -1 },
		{ false, 600, 10, SASL_FIELD_MAX, SASL_FIELD_MAX, -1 },
		{ false, 10, 600, SASL_FIELD_MAX, SASL_FIELD_MAX, -1 },
		/* beyond SASL_FIELD_MAX however big the caller's buffer */
		{ false, 2000, 10, 4096, 4096, -1 },
		{ false, 10, 2000, 4096, 4096, -1 },
		{ false, 3000, 3000, 4096, 4096, -1 },
		/* smaller caller buffers */
		{ false, 7, 15, 8, 16, 0 },
		{ false, 8, 15, 8, 16, -1 },
		{ false, 7, 16, 8, 16, -1 },
		{ true, 7, 15, 8, 16, 0 },
		{ false, 1, 1, 2, 2, 0 },
		{ false, 1, 1, 1, 2, -1 },
		{ false, 1, 1, 2, 1, -1 },
	};
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(cases); i++) {
		size_t ul = cases[i].user, pl = cases[i].pass;
		size_t need = (cases[i].authz ? ul : 0) + ul + pl + 2, o = 0, len;
		char *raw = malloc(need), *enc = malloc(need * 2 + 8);
		char *u = malloc(ul + 1), *p = malloc(pl + 1);

		assert_true(raw && enc && u && p);
		for (size_t k = 0; k < ul; k++)
			u[k] = (char)('a' + k % 26);
		u[ul] = '\0';
		for (size_t k = 0; k < pl; k++)
			p[k] = (char)('A' + k % 26);
		p[pl] = '\0';
		if (cases[i].authz) {
			memcpy(raw, u, ul);
			o = ul;
		}
		raw[o++] = '\0';
		memcpy(raw + o, u, ul);
		o += ul;
		raw[o++] = '\0';
		memcpy(raw + o, p, pl);
		o += pl;
		len = b64_encode(raw, o, enc, need * 2 + 8);
		check_plain(&bad, i, enc, len, cases[i].rc, u, p, cases[i].ulen, cases[i].plen);
		free(raw);
		free(enc);
		free(u);
		free(p);
	}
	assert_int_equal(bad, 0);
}

/* The decoder reads only len octets: what follows is not part of it. */
static void
test_plain_length_bound(void **state)
{
	char user[SASL_FIELD_MAX], pass[SASL_FIELD_MAX];
	/* "\0bob\0secret" followed by more text that must be ignored */
	const char *text = "AGJvYgBzZWNyZXQ=AGJvYgBzZWNyZXQ=";
	char *exact = malloc(16);

	assert_non_null(exact);
	memcpy(exact, text, 16);	/* not NUL-terminated */
	assert_int_equal(sasl_plain_decode(exact, 16, user, sizeof(user), pass, sizeof(pass)), 0);
	assert_string_equal(user, "bob");
	assert_string_equal(pass, "secret");
	assert_int_equal(sasl_plain_decode(text, 16, user, sizeof(user), pass, sizeof(pass)), 0);
	assert_int_equal(sasl_plain_decode(text, 32, user, sizeof(user), pass, sizeof(pass)), -1);
	assert_int_equal(sasl_plain_decode(text, 0, user, sizeof(user), pass, sizeof(pass)), -1);
	free(exact);
}

/* ---- LOGIN ---- */

struct login_case {
	const char *b64;
	size_t outlen;
	int rc;
	const char *want;
};

static const struct login_case login_cases[] = {
	{ "Ym9i", 64, 0, "bob" },
	{ "Ym9iQGV4YW1wbGUudGVzdA==", 64, 0, "bob@example.test" },
	{ "c2VjcmV0", 64, 0, "secret" },
	{ "YQ==", 64, 0, "a" },
	{ "YWI=", 64, 0, "ab" },
	{ "cCDDpCBzcw==", 64, 0, "p \xc3\xa4 ss" },
	{ "VXNlcm5hbWU6", 64, 0, "Username:" },
	/* cap: the value and its NUL must fit */
	{ "YWJjZGVmZw==", 8, 0, "abcdefg" },
	{ "YWJjZGVmZ2g=", 8, -1, NULL },	/* 8 octets in 8 */
	{ "YWJjZGVmZ2g=", 9, 0, "abcdefgh" },
	{ "YQ==", 2, 0, "a" },
	{ "YQ==", 1, -1, NULL },
	/* empty, NULs */
	{ "", 64, -1, NULL },
	{ "=", 64, -1, NULL },
	{ "====", 64, -1, NULL },
	{ "AA==", 64, -1, NULL },		/* "\0" */
	{ "Ym9iAA==", 64, -1, NULL },		/* "bob\0" */
	{ "AGJvYg==", 64, -1, NULL },		/* "\0bob" */
	{ "Ym8AYg==", 64, -1, NULL },		/* "bo\0b" */
	/* malformed base64 */
	{ "Ym9", 64, -1, NULL },
	{ "Ym9iQ", 64, -1, NULL },
	{ "YQ=", 64, -1, NULL },
	{ "YQ", 64, -1, NULL },
	{ "Y===", 64, -1, NULL },
	{ "YQ==YQ==", 64, -1, NULL },
	{ "Y=Q=", 64, -1, NULL },
	{ "Ym9i ", 64, -1, NULL },
	{ "Ym9i\r\n", 64, -1, NULL },
	{ "Ym-i", 64, -1, NULL },
	{ "Ym_i", 64, -1, NULL },
	{ "Ym9i.", 64, -1, NULL },
	{ "*", 64, -1, NULL },
};

static void
test_login_table(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(login_cases); i++) {
		const struct login_case *c = &login_cases[i];
		size_t blen = strlen(c->b64);
		unsigned char *out = malloc(c->outlen + GUARD);
		char *in = malloc(blen ? blen : 1);	/* exactly sized, no NUL */
		int rc;

		assert_non_null(out);
		assert_non_null(in);
		memcpy(in, c->b64, blen);
		memset(out, FILL, c->outlen + GUARD);
		rc = sasl_login_decode(in, blen, (char *)out, c->outlen);
		CASE_CHECK(bad, rc == c->rc, i, "%s (outlen %zu): rc=%d want %d",
		    unit_show(c->b64, blen), c->outlen, rc, c->rc);
		if (rc == 0 && c->rc == 0)
			CASE_CHECK(bad, memchr(out, '\0', c->outlen) &&
			    strcmp((char *)out, c->want) == 0, i, "%s: got %s",
			    unit_show(c->b64, blen),
			    unit_show((char *)out, strnlen((char *)out, c->outlen)));
		CASE_CHECK(bad, guard_intact(out + c->outlen, GUARD), i,
		    "%s: wrote past outlen %zu", unit_show(c->b64, blen), c->outlen);
		free(out);
		free(in);
	}
	assert_int_equal(bad, 0);
}

/* LOGIN fields at the SASL_FIELD_MAX cap the server uses. */
static void
test_login_caps(void **state)
{
	char raw[2 * SASL_FIELD_MAX], enc[4 * SASL_FIELD_MAX], out[SASL_FIELD_MAX];
	size_t len;

	memset(raw, 'x', sizeof(raw));
	len = b64_encode(raw, SASL_FIELD_MAX - 1, enc, sizeof(enc));
	assert_int_equal(sasl_login_decode(enc, len, out, sizeof(out)), 0);
	assert_int_equal(strlen(out), SASL_FIELD_MAX - 1);
	len = b64_encode(raw, SASL_FIELD_MAX, enc, sizeof(enc));
	assert_int_equal(sasl_login_decode(enc, len, out, sizeof(out)), -1);
	len = b64_encode(raw, sizeof(raw), enc, sizeof(enc));
	assert_int_equal(sasl_login_decode(enc, len, out, sizeof(out)), -1);
}

/* ---- password strength (SPEC 6.2) ---- */

struct pw_case {
	const char *address, *password;
	const char *why;	/* NULL: accepted; else a word the reason contains */
};

static const struct pw_case pw_cases[] = {
	/* too short (fewer than 12 characters) */
	{ "bob@example.test", "", "short" },
	{ "bob@example.test", "a", "short" },
	{ "bob@example.test", "Xq7#Lp9w!Rt", "short" },	/* 11, otherwise strong */
	{ "bob@example.test", "v8$Kq", "short" },
	/* 11 characters that take 17 octets in UTF-8: still 11 characters */
	{ "bob@example.test", "\xc3\x9c" "n\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9" "-P\xc3\xa4\xc3\x9f", "short" },
	/* the common list, in any case */
	{ "bob@example.test", "password1234", "common" },
	{ "bob@example.test", "PASSWORD1234", "common" },
	{ "bob@example.test", "Password1234", "common" },
	{ "bob@example.test", "123456789012", "common" },
	{ "bob@example.test", "qwertyuiopasdf", "common" },
	{ "bob@example.test", "correcthorsebatterystaple", "common" },
	{ "bob@example.test", "Summer2024!!", "common" },
	{ "bob@example.test", "administrator", "common" },
	/* the account's local part, in any case, anywhere */
	{ "bob@example.test", "bob-Qz7#Kp2wLm", "account" },
	{ "bob@example.test", "Qz7#BOB-Kp2wLm", "account" },
	{ "bob@example.test", "Qz7#Kp2wLm-BoB", "account" },
	{ "BOB@example.test", "zzbobzz-Q7#kp2W", "account" },
	{ "Alice.Smith@example.test", "x-alice.SMITH-7#Qk2", "account" },
	{ "carol@example.test", "Q7#kp2W-CAROL", "account" },
	/* zxcvbn: repeats, keyboard walks, sequences, dictionary words */
	{ "bob@example.test", "aaaaaaaaaaaaaaa", "guess" },
	{ "bob@example.test", "qwertyuiopasdfgh", "guess" },
	{ "bob@example.test", "zxcvbnmasdfghjkl", "guess" },
	{ "bob@example.test", "1234567890abcdef", "guess" },
	{ "bob@example.test", "abcabcabcabcabc", "guess" },
	{ "bob@example.test", "monkeymonkeymonkey", "guess" },
	{ "bob@example.test", "passwordpassword1", "guess" },
	{ "bob@example.test", "qwerty123456789", "guess" },
	{ "bob@example.test", "aaaaaaaaaaaa1", "guess" },
	/* strong passwords are accepted */
	{ "bob@example.test", "vQ8-mZ2#Lp9w-Rt4kX", NULL },
	{ "bob@example.test", "Qz7-Kp2#Lm9x", NULL },
	{ "bob@example.test", "elephant-violin-crater-42", NULL },
	{ "bob@example.test", "Tr0ub4dor&3xyz", NULL },
	{ "bob@example.test", "P4ss-w0rd-Xq7!z", NULL },
	{ "alice@example.test", "Bob-Qz7#Kp2wLm", NULL },	/* someone else's name is fine */
	/* a local part shorter than 3 is not searched for */
	{ "al@example.test", "al-Qz7#Kp2wLm", NULL },
	{ "x@example.test", "xQz7#Kp2wLmv", NULL },
	/* 12 characters with 8-bit octets */
	{ "bob@example.test", "\xc3\x9c" "n\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9" "-P\xc3\xa4\xc3\x9f!", NULL },
};

static void
test_password_table(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(pw_cases); i++) {
		const struct pw_case *c = &pw_cases[i];
		const char *why = password_weakness(c->address, c->password);

		if (c->why == NULL)
			CASE_CHECK(bad, why == NULL, i, "%s for %s: refused: %s",
			    unit_show(c->password, strlen(c->password)), c->address, why);
		else
			CASE_CHECK(bad, why != NULL && why[0] != '\0' && strstr(why, c->why) != NULL,
			    i, "%s for %s: reason %s, want one about \"%s\"",
			    unit_show(c->password, strlen(c->password)), c->address,
			    why ? why : "(accepted)", c->why);
	}
	assert_int_equal(bad, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mech_lookup),
		cmocka_unit_test(test_plain_table),
		cmocka_unit_test(test_plain_caps),
		cmocka_unit_test(test_plain_length_bound),
		cmocka_unit_test(test_login_table),
		cmocka_unit_test(test_login_caps),
		cmocka_unit_test(test_password_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
