/*
 * The HBL hashes (src/scan/hbl.h) against known vectors: RFC 4648's
 * base32 test vectors, SHA-256 and SHA-1 values computed independently
 * (Python's hashlib and base64, the same primitives as Spamhaus's rule
 * sets: Digest::SHA and rspamd_cryptobox_hash), and the normalisation of
 * addresses of SpamAssassin's HashBL 'nodot/notag' with the gmail alias.
 * The streaming file hash must equal the hash of the decoded bytes
 * whatever the encoding and the piece boundaries.
 */
#include "unit.h"

#include "scan/hbl.h"

struct b32_case {
	const char *in;
	const char *want;
};

/* RFC 4648 section 10, without the padding */
static const struct b32_case b32_cases[] = {
	{ "", "" },
	{ "f", "MY" },
	{ "fo", "MZXQ" },
	{ "foo", "MZXW6" },
	{ "foob", "MZXW6YQ" },
	{ "fooba", "MZXW6YTB" },
	{ "foobar", "MZXW6YTBOI" },
};

static void
test_base32(void **state)
{
	char out[64];
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(b32_cases); i++) {
		const struct b32_case *c = &b32_cases[i];
		size_t n = hbl_base32((const unsigned char *)c->in, strlen(c->in), out, sizeof(out));
		CASE_CHECK(bad, n == strlen(c->want) && strcmp(out, c->want) == 0, i,
		    "%s: got %s", c->in, out);
	}
	assert_int_equal(bad, 0);
	/* too small a buffer is refused, never truncated */
	assert_int_equal(hbl_base32((const unsigned char *)"foobar", 6, out, 10), 0);
	assert_int_equal(hbl_base32((const unsigned char *)"foobar", 6, out, 11), 10);
}

struct norm_case {
	const char *in;
	const char *want;	/* NULL: no address */
};

static const struct norm_case norm_cases[] = {
	{ "test@example.com", "test@example.com" },
	{ "Test@Example.COM", "test@example.com" },
	/* +tag removed, whatever the domain */
	{ "sales+promo@example.com", "sales@example.com" },
	{ "a+b+c@example.com", "a@example.com" },
	/* dots kept outside gmail.com */
	{ "john.doe@example.com", "john.doe@example.com" },
	/* gmail.com: dots dropped; googlemail.com is gmail.com */
	{ "John.Doe@gmail.com", "johndoe@gmail.com" },
	{ "j.o.h.n.d.o.e+x@GoogleMail.com", "johndoe@gmail.com" },
	{ "john.doe@mail.gmail.com", "john.doe@mail.gmail.com" },
	{ "john.doe@googlemail.com.example", "john.doe@googlemail.com.example" },
	/* the last '@' splits */
	{ "\"a@b\"@example.com", "\"a@b\"@example.com" },
	/* no address */
	{ "", NULL },
	{ "noat", NULL },
	{ "@example.com", NULL },
	{ "local@", NULL },
	{ "+tag@example.com", NULL },
	{ "...@gmail.com", NULL },
	{ "a b@example.com", NULL },
	{ "a\tb@example.com", NULL },
};

static void
test_normalize(void **state)
{
	char out[HBL_ADDR_MAX + 16];
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(norm_cases); i++) {
		const struct norm_case *c = &norm_cases[i];
		bool ok = hbl_email_normalize(c->in, strlen(c->in), out, sizeof(out));
		if (c->want == NULL)
			CASE_CHECK(bad, !ok, i, "%s: accepted as %s", c->in, out);
		else
			CASE_CHECK(bad, ok && strcmp(out, c->want) == 0, i, "%s: got %s", c->in,
			    ok ? out : "(refused)");
	}
	assert_int_equal(bad, 0);
	/* over HBL_ADDR_MAX: no address, never a cut one */
	{
		char big[HBL_ADDR_MAX + 20];
		memset(big, 'a', sizeof(big));
		memcpy(big + sizeof(big) - 12, "@example.com", 12);
		assert_false(hbl_email_normalize(big, sizeof(big), out, sizeof(out)));
	}
	/* a too small output is refused */
	assert_false(hbl_email_normalize(S("test@example.com"), out, 8));
}

struct hash_case {
	const char *in;
	const char *want;
};

/* sha1(normalised).hexdigest() */
static const struct hash_case email_cases[] = {
	{ "test@example.com", "567159d622ffbb50b11b0efd307be358624a26ee" },
	{ "John.Doe+newsletter@googlemail.com", "e1e8d3e4a336d4f9dc63b70a534ff10834471556" },
	{ "johndoe@gmail.com", "e1e8d3e4a336d4f9dc63b70a534ff10834471556" },
	{ "Dropbox.Scammer+prize@googlemail.com", "142bee02849504af68ad425c33baef80b0767bda" },
};

static void
test_email_hash(void **state)
{
	char out[HBL_HASH_MAX];
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(email_cases); i++) {
		const struct hash_case *c = &email_cases[i];
		bool ok = hbl_email_hash(c->in, strlen(c->in), out);
		CASE_CHECK(bad, ok && strlen(out) == HBL_SHA1_HEX_LEN && strcmp(out, c->want) == 0,
		    i, "%s: got %s", c->in, ok ? out : "(refused)");
	}
	assert_int_equal(bad, 0);
	assert_false(hbl_email_hash(S("not an address"), out));
}

struct cw_case {
	const char *in;
	bool lower;
	const char *want;
};

/* base32(sha256(text as hashed)) */
static const struct cw_case cw_cases[] = {
	{ "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", false,
	    "HCJXSTJIODYKXPQASPOL62U4NNEM6IE42GVWCBSNRB7HFNCIC2KA" },
	/* ETH: hashed lower-cased, whatever its EIP-55 capitals */
	{ "0x52908400098527886E0F7030069857D2E4169EE7", true,
	    "2MYRTVKYQPC7AOMQZQHI3NUPF5XLYMFWHCTZJ2LHL52EWFGQGM2A" },
	{ "0x52908400098527886e0f7030069857d2e4169ee7", true,
	    "2MYRTVKYQPC7AOMQZQHI3NUPF5XLYMFWHCTZJ2LHL52EWFGQGM2A" },
	{ "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", true,
	    "OJZ4QUJJNY7A4VSLLLDNCFMGCG4D4IG24KJNNGMC2PQMOTJW3A6A" },
	{ "abc", false, "XJ4BNP4PAHH6UQKBIDPF3LRCEOYAGYNDSYLXVHFUCD7WD4QACWWQ" },
	{ "", false, "4OYMIQUY7QOBJGX36TEJS35ZEQT24QPEMSNZGTFESWMRW6CSXBKQ" },
};

static void
test_cw_hash(void **state)
{
	char out[HBL_HASH_MAX];
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(cw_cases); i++) {
		const struct cw_case *c = &cw_cases[i];
		hbl_cw_hash(c->in, strlen(c->in), c->lower, out);
		CASE_CHECK(bad, strlen(out) == HBL_SHA256_B32_LEN && strcmp(out, c->want) == 0, i,
		    "%s: got %s", c->in, out);
	}
	assert_int_equal(bad, 0);
	/* the text as written: a BTC address is case-sensitive */
	hbl_cw_hash(S("1boatslrhtknngkdxeeobr76b53lettpyt"), false, out);
	assert_string_not_equal(out, cw_cases[0].want);
}

/* 100,000 octets of (i * 7 + 3) & 0xff */
#define PATTERN_LEN 100000
#define PATTERN_HASH "3FV2W2SV5YZGXIQG3VFILJXJLYKDMDL7VO7UJDYD42E4EQ4CW7IA"

static unsigned char *
pattern(void)
{
	unsigned char *p = malloc(PATTERN_LEN);

	assert_non_null(p);
	for (size_t i = 0; i < PATTERN_LEN; i++)
		p[i] = (unsigned char)((i * 7 + 3) & 0xff);
	return p;
}

/* base64 with line breaks every `line` characters (76 in MIME) */
static char *
b64(const unsigned char *in, size_t len, size_t line, size_t *outlen)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc(len * 2 + 16);
	size_t o = 0, col = 0;

	assert_non_null(out);
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0) |
		    (i + 2 < len ? in[i + 2] : 0);
		char q[4] = { a[v >> 18 & 63], a[v >> 12 & 63], i + 1 < len ? a[v >> 6 & 63] : '=',
		    i + 2 < len ? a[v & 63] : '=' };
		for (int k = 0; k < 4; k++) {
			out[o++] = q[k];
			if (++col == line) {
				out[o++] = '\r';
				out[o++] = '\n';
				col = 0;
			}
		}
	}
	*outlen = o;
	return out;
}

/* quoted-printable of everything but printable ASCII, soft breaks at 76 */
static char *
qp(const unsigned char *in, size_t len, size_t *outlen)
{
	char *out = malloc(len * 4 + 16);
	size_t o = 0, col = 0;

	assert_non_null(out);
	for (size_t i = 0; i < len; i++) {
		if (col >= 72) {
			memcpy(out + o, "=\r\n", 3);
			o += 3;
			col = 0;
		}
		if (in[i] >= 33 && in[i] <= 126 && in[i] != '=') {
			out[o++] = (char)in[i];
			col++;
		} else {
			o += (size_t)sprintf(out + o, "=%02X", in[i]);
			col += 3;
		}
	}
	*outlen = o;
	return out;
}

static void
test_file_hash(void **state)
{
	unsigned char *p = pattern();
	char out[HBL_HASH_MAX], *enc;
	size_t n;
	struct hbl_file *f;

	/* raw, in one piece and in odd pieces */
	f = hbl_file_begin();
	assert_int_equal(hbl_file_body(f, (char *)p, PATTERN_LEN, HBL_ENC_RAW), PATTERN_LEN);
	hbl_file_end(f, out);
	assert_string_equal(out, PATTERN_HASH);
	f = hbl_file_begin();
	for (size_t i = 0; i < PATTERN_LEN; i += 997)
		hbl_file_update(f, p + i, PATTERN_LEN - i < 997 ? PATTERN_LEN - i : 997);
	hbl_file_end(f, out);
	assert_string_equal(out, PATTERN_HASH);
	/* base64, MIME lines and one endless line */
	static const size_t lines[] = { 76, 64, 5, 1000000 };
	for (size_t li = 0; li < NELEM(lines); li++) {
		enc = b64(p, PATTERN_LEN, lines[li], &n);
		f = hbl_file_begin();
		assert_int_equal(hbl_file_body(f, enc, n, HBL_ENC_BASE64), PATTERN_LEN);
		hbl_file_end(f, out);
		assert_string_equal(out, PATTERN_HASH);
		free(enc);
	}
	/* base64 with a last quantum of 2 and 3 characters */
	{
		static const struct hash_case tail[] = {
			{ "YWJj", "XJ4BNP4PAHH6UQKBIDPF3LRCEOYAGYNDSYLXVHFUCD7WD4QACWWQ" },
		};
		f = hbl_file_begin();
		hbl_file_body(f, tail[0].in, strlen(tail[0].in), HBL_ENC_BASE64);
		hbl_file_end(f, out);
		assert_string_equal(out, tail[0].want);
		for (size_t k = 1; k <= 2; k++) {
			char want[HBL_HASH_MAX];
			enc = b64(p, PATTERN_LEN - k, 76, &n);
			f = hbl_file_begin();
			assert_int_equal(hbl_file_body(f, enc, n, HBL_ENC_BASE64), PATTERN_LEN - k);
			hbl_file_end(f, out);
			f = hbl_file_begin();
			hbl_file_update(f, p, PATTERN_LEN - k);
			hbl_file_end(f, want);
			assert_string_equal(out, want);
			free(enc);
		}
	}
	/* quoted-printable, pieces cut between lines */
	enc = qp(p, PATTERN_LEN, &n);
	f = hbl_file_begin();
	assert_int_equal(hbl_file_body(f, enc, n, HBL_ENC_QP), PATTERN_LEN);
	hbl_file_end(f, out);
	assert_string_equal(out, PATTERN_HASH);
	free(enc);
	/* an empty file and an abandoned hash */
	f = hbl_file_begin();
	hbl_file_end(f, out);
	assert_string_equal(out, "4OYMIQUY7QOBJGX36TEJS35ZEQT24QPEMSNZGTFESWMRW6CSXBKQ");
	hbl_file_free(hbl_file_begin());
	hbl_file_free(NULL);
	free(p);
}

/* A large attachment costs no memory of its size: 24 MiB of base64 in
 * one endless line (the worst case for piece cutting) hashes as the raw
 * bytes do. */
static void
test_file_hash_large(void **state)
{
	size_t len = 24u << 20, n;
	unsigned char *p = malloc(len);
	char *enc, a[HBL_HASH_MAX], b[HBL_HASH_MAX];
	struct hbl_file *f;

	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 2654435761u >> 24);
	enc = b64(p, len, (size_t)-1, &n);
	f = hbl_file_begin();
	assert_int_equal(hbl_file_body(f, enc, n, HBL_ENC_BASE64), len);
	hbl_file_end(f, a);
	f = hbl_file_begin();
	hbl_file_update(f, p, len);
	hbl_file_end(f, b);
	assert_string_equal(a, b);
	free(enc);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base32),
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_email_hash),
		cmocka_unit_test(test_cw_hash),
		cmocka_unit_test(test_file_hash),
		cmocka_unit_test(test_file_hash_large),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
