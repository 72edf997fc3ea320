/*
 * Tests of the content classifier (src/scan/bayes_token.h, bayes.h):
 * tokenizer tables (text, HTML, header fields, the fields never used),
 * the per-message cap, Robinson's f(w) and the chi-square combination,
 * the vote bands of SPEC 13 with score.BAYES_SPAM scaling, and the
 * scanner's hook: the same message with the fields a delivery adds gives
 * the same tokens and the same vote.
 */
#include "unit.h"

#include <math.h>

#include "scan/bayes.h"
#include "scan/scan.h"

enum mode { TEXT, HTML, HEADER };

struct tok_case {
	enum mode mode;
	const char *name;	/* HEADER: the field name */
	const char *in;
	const char *want;	/* '|'-separated tokens that must be there */
	const char *absent;	/* '|'-separated tokens that must not */
	int count;		/* exact token count, -1: any */
};

static const struct tok_case tok_cases[] = {
	{ TEXT, NULL, "Hello World", "hello|world", "Hello|World", 2 },
	{ TEXT, NULL, "FREE money NOW", "free|FREE|money|now|NOW", "", 5 },
	{ TEXT, NULL, "Free!!! $100", "free!!!|free|$100|100", "Free!!!", -1 },
	{ TEXT, NULL, "a an the it", "the", "an|it", 1 },
	{ TEXT, NULL, "supercalifragilisticexpialidocious", "sk:superca", "", 1 },
	{ TEXT, NULL, "-quoted- 'word',", "quoted|word", "-quoted-|'word',", 2 },
	{ TEXT, NULL, "mail bob@Example.COM now", "@example.com|bob@|mail|now",
	    "bob@example.com", 4 },
	{ TEXT, NULL, "wait...what well--done", "wait|what|well|done", "wait...what", 4 },
	{ TEXT, NULL, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad"
	    "\xe3\x82\xb9\xe3\x83\x88",
	    "u8:\xe6\x97\xa5|u8:\xe6\x9c\xac|u8:\xe3\x83\x88", "", 8 },
	{ TEXT, NULL, "", "", "", 0 },
	{ TEXT, NULL, "\x01\x02\xff\xfe\x7f ab", "", "ab", 0 },	/* binary */
	{ HTML, NULL, "<p>V<b>i</b>agra</p><style>.x{color:red}</style>&amp; cheap&nbsp;pills"
	    "<!-- hidden words --><script>var secret;</script>",
	    "viagra|cheap|pills|tag:p|tag:b|tag:style|tag:script",
	    "color|red|hidden|words|nbsp|amp|secret|var", -1 },
	{ HTML, NULL, "one<br>two<td>three", "one|two|three", "onetwo", -1 },
	{ HTML, NULL, "a < b and <unclosed", "and|tag:unclosed", "", -1 },
	{ HEADER, "Subject", " =?utf-8?q?Cheap_meds?= now",
	    "hdr:subject|subject:cheap|subject:meds|subject:now", "cheap|meds|now", 4 },
	{ HEADER, "Received", " from x.example (x.example [192.0.2.1]) by mx.example", "",
	    "", 0 },
	{ HEADER, "X-Spam-Status", " Yes, score=9.0", "", "", 0 },
	{ HEADER, "X-Spam-Score", " 9.0", "", "", 0 },
	{ HEADER, "Authentication-Results", " mx.example; spf=pass", "", "", 0 },
	{ HEADER, "Delivered-To", " bob@example.test", "", "", 0 },
	{ HEADER, "Return-Path", " <a@b.example>", "", "", 0 },
	{ HEADER, "X-Postern-Origin", " inbound", "", "", 0 },
	{ HEADER, "From", " Big Deals <promo@Shop.Example>",
	    "hdr:from|from:big|from:deals|from:@shop.example|from:promo@", "", 5 },
	{ HEADER, "Content-Type", " text/HTML; charset=\"ISO-8859-1\"",
	    "hdr:content-type|type:text/html|charset:iso-8859-1", "", 3 },
	{ HEADER, "Message-ID", " <abc.123@Mail.Example>", "hdr:message-id|msgid@mail.example",
	    "", 2 },
	{ HEADER, "DKIM-Signature", " v=1; a=rsa-sha256; d=example.com", "hdr:dkim-signature",
	    "", 1 },
	{ HEADER, "List-Id", " <users.lists.example>", "hdr:list-id", "", 1 },
	{ HEADER, "X-Mailer", " Foo Mailer 2.0", "hdr:x-mailer|mailer:foo|mailer:mailer", "",
	    -1 },
	/* other fields: their presence only */
	{ HEADER, "X-Campaign", " spring offer", "hdr:x-campaign",
	    "x-campaign:spring|x-campaign:offer|spring|offer", 1 },
	{ HEADER, "Thread-Topic", " =?utf-8?q?spring_offer?=", "hdr:thread-topic", "", 1 },
};

static bool
has_token(const struct bayes_tokens *t, const char *s, size_t len)
{
	for (size_t i = 0; i < t->n; i++) {
		size_t l;
		const char *x = bayes_token_text(t, i, &l);
		if (l == len && memcmp(x, s, len) == 0)
			return true;
	}
	return false;
}

/* Checks every '|'-separated item of list is (want) or is not there. */
static size_t
check_list(const struct bayes_tokens *t, const char *list, bool want, size_t idx)
{
	size_t bad = 0;

	for (const char *p = list; *p;) {
		const char *bar = strchr(p, '|');
		size_t l = bar ? (size_t)(bar - p) : strlen(p);
		CASE_CHECK(bad, has_token(t, p, l) == want, idx, "token \"%s\" %s", unit_show(p, l),
		    want ? "missing" : "present");
		p += l + (bar ? 1 : 0);
	}
	return bad;
}

static void
test_tokens_table(void **state)
{
	size_t bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(tok_cases); i++) {
		const struct tok_case *c = &tok_cases[i];
		struct bayes_tokens t;
		size_t len = strlen(c->in);
		char *in = malloc(len ? len : 1);

		memcpy(in, c->in, len);
		bayes_tokens_init(&t);
		if (c->mode == TEXT)
			bayes_tokens_text(&t, in, len);
		else if (c->mode == HTML)
			bayes_tokens_html(&t, in, len);
		else
			bayes_tokens_header(&t, c->name, strlen(c->name), in, len);
		bad += check_list(&t, c->want, true, i);
		bad += check_list(&t, c->absent, false, i);
		if (c->count >= 0)
			CASE_CHECK(bad, t.n == (size_t)c->count, i, "%zu tokens, want %d", t.n,
			    c->count);
		for (size_t k = 0; k < t.n; k++) {
			size_t l;
			const char *x = bayes_token_text(&t, k, &l);
			CASE_CHECK(bad, t.t[k].hash == bayes_hash(x, l), i, "hash of \"%s\"",
			    unit_show(x, l));
		}
		bayes_tokens_clear(&t);
		free(in);
	}
	assert_int_equal(bad, 0);
}

/* A padded message: at most BAYES_TOKENS_MAX distinct tokens, the cut
 * said; duplicates cost no room. */
static void
test_tokens_cap(void **state)
{
	struct bayes_tokens t;
	size_t cap = 20 * BAYES_TOKENS_MAX * 8, o = 0;
	char *buf = malloc(cap);

	(void)state;
	for (unsigned i = 0; o + 16 < cap && i < 5 * BAYES_TOKENS_MAX; i++)
		o += (size_t)snprintf(buf + o, cap - o, "w%07u ", i);
	bayes_tokens_init(&t);
	bayes_tokens_text(&t, "same same same", 14);
	assert_int_equal(t.n, 1);
	bayes_tokens_text(&t, buf, o);
	assert_int_equal(t.n, BAYES_TOKENS_MAX);
	assert_true(t.cut);
	bayes_tokens_clear(&t);
	free(buf);
}

static void
test_token_prob(void **state)
{
	static const struct {
		uint32_t spam, ham, nspam, nham;
		double lo, hi;
	} cases[] = {
		{ 0, 0, 100, 100, 0.537, 0.539 },	/* never seen: x */
		{ 10, 0, 100, 100, 0.998, 0.999 },
		{ 0, 10, 100, 100, 0.001, 0.002 },
		{ 5, 5, 100, 100, 0.49, 0.51 },
		{ 1, 0, 100, 100, 0.98, 0.99 },		/* one message: strong already */
		{ 10, 10, 100, 10, 0.08, 0.10 },	/* ratios, not counts */
		{ 500, 0, 100, 100, 0.99, 1.0 },	/* above the total: capped */
		{ 3, 0, 0, 100, 0.537, 0.539 },		/* nothing learned of one kind */
	};
	size_t bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		double p = bayes_token_prob((struct bayes_counts){ cases[i].spam, cases[i].ham },
		    cases[i].nspam, cases[i].nham);
		CASE_CHECK(bad, p >= cases[i].lo && p <= cases[i].hi, i, "f(w) = %f", p);
	}
	assert_int_equal(bad, 0);
}

static void
test_combine(void **state)
{
	static const struct {
		double p;	/* n0 tokens of p */
		size_t n0;
		double q;	/* and n1 of q */
		size_t n1;
		uint32_t nspam, nham;
		double lo, hi;
	} cases[] = {
		{ 0, 0, 0, 0, 100, 100, 0.5, 0.5 },
		{ 0.99, 10, 0, 0, 100, 100, 0.999, 1.0 },
		{ 0.01, 10, 0, 0, 100, 100, 0.0, 0.001 },
		{ 0.99, 5, 0.01, 5, 100, 100, 0.45, 0.55 },
		{ 0.99, 150, 0, 0, 100, 100, 0.999, 1.0 },	/* no underflow */
		{ 0.0016, 150, 0, 0, 100, 100, 0.0, 0.001 },
		{ 0.9, 3, 0.2, 1, 100, 100, 0.6, 0.99 },
		{ 0.99, 1, 0, 0, 100, 100, 0.5, 0.99 },		/* one clue is not proof */
	};
	double p[300];
	size_t bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		size_t n = 0;
		double r;
		for (size_t k = 0; k < cases[i].n0; k++)
			p[n++] = cases[i].p;
		for (size_t k = 0; k < cases[i].n1; k++)
			p[n++] = cases[i].q;
		r = bayes_combine(p, n, cases[i].nspam, cases[i].nham);
		CASE_CHECK(bad, r >= cases[i].lo && r <= cases[i].hi, i, "combined %f", r);
	}
	assert_int_equal(bad, 0);
}

/* SPEC 13's bands, and score.BAYES_SPAM scaling all three. */
static void
test_vote(void **state)
{
	static const struct {
		double prob;
		bool votes;
		double top;		/* weight of BAYES_SPAM */
		enum symbol sym;	/* SYM_COUNT: no hit */
		double weight;
	} cases[] = {
		{ 0.9995, true, 5.0, SYM_BAYES_SPAM, 5.0 },
		{ 0.999, true, 5.0, SYM_BAYES_SPAM, 5.0 },
		{ 0.995, true, 5.0, SYM_BAYES_SPAM, 4.0 },
		{ 0.99, true, 5.0, SYM_BAYES_SPAM, 4.0 },
		{ 0.96, true, 5.0, SYM_BAYES_SPAM, 2.0 },
		{ 0.9499, true, 5.0, SYM_COUNT, 0 },
		{ 0.5, true, 5.0, SYM_COUNT, 0 },
		{ 0.0101, true, 5.0, SYM_COUNT, 0 },
		{ 0.01, true, 5.0, SYM_BAYES_HAM, -2.0 },
		{ 0.0, true, 5.0, SYM_BAYES_HAM, -2.0 },
		{ 0.9999, false, 5.0, SYM_COUNT, 0 },	/* below bayes_min_learned */
		{ 0.0, false, 5.0, SYM_COUNT, 0 },
		{ 0.9995, true, 10.0, SYM_BAYES_SPAM, 10.0 },
		{ 0.995, true, 10.0, SYM_BAYES_SPAM, 8.0 },
		{ 0.96, true, 10.0, SYM_BAYES_SPAM, 4.0 },
	};
	size_t bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct score sc;
		struct bayes_result r = {
			.ran = true, .votes = cases[i].votes, .prob = cases[i].prob
		};
		score_init(&sc, NULL);
		sc.weights[SYM_BAYES_SPAM] = cases[i].top;
		bayes_vote(&r, &sc);
		if (cases[i].sym == SYM_COUNT)
			CASE_CHECK(bad, sc.nhits == 0, i, "%zu hits", sc.nhits);
		else
			CASE_CHECK(bad, sc.nhits == 1 && sc.hits[0].sym == cases[i].sym &&
			    fabs(sc.hits[0].weight - cases[i].weight) < 1e-9 &&
			    fabs(sc.total - cases[i].weight) < 1e-9, i,
			    "hits %zu, weight %f", sc.nhits, sc.nhits ? sc.hits[0].weight : 0.0);
	}
	assert_int_equal(bad, 0);
}

static void
put(struct bayes_table *t, const char *tok, uint32_t spam, uint32_t ham)
{
	bayes_table_put(t, bayes_hash(tok, strlen(tok)), (struct bayes_counts){ spam, ham });
}

static struct bayes_table *
trained(void)
{
	struct bayes_table *t = bayes_table_new(0);
	char w[32];

	bayes_table_set_learned(t, 300, 300);
	put(t, "viagra", 250, 0);
	put(t, "cheap", 200, 3);
	put(t, "pills", 180, 1);
	put(t, "meeting", 1, 240);
	put(t, "agenda", 0, 200);
	put(t, "the", 290, 290);
	put(t, "offer", 150, 0);
	put(t, "discount", 140, 0);
	put(t, "buy", 160, 2);
	put(t, "minutes", 0, 180);
	put(t, "project", 2, 200);
	put(t, "schedule", 0, 150);
	/* enough tokens to grow the table a few times */
	for (int i = 0; i < 5000; i++) {
		snprintf(w, sizeof(w), "filler%d", i);
		put(t, w, 1, 1);
	}
	return t;
}

static void
test_table_and_classify(void **state)
{
	struct bayes_table *t = trained();
	struct bayes_tokens tok;
	struct bayes_result r;
	struct bayes_counts c;
	static const char spam[] = "Cheap viagra pills, the best offer: discount buy",
	    ham[] = "the meeting agenda, minutes and project schedule";

	(void)state;
	assert_int_equal(bayes_table_count(t), 5012);
	assert_true(bayes_table_get(t, bayes_hash("viagra", 6), &c));
	assert_int_equal(c.spam, 250);
	assert_false(bayes_table_get(t, bayes_hash("unknown", 7), &c));
	put(t, "viagra", 0, 0);		/* forgotten: unknown, table whole */
	assert_false(bayes_table_get(t, bayes_hash("viagra", 6), &c));
	assert_true(bayes_table_get(t, bayes_hash("agenda", 6), &c));
	put(t, "viagra", 250, 0);

	bayes_tokens_init(&tok);
	bayes_tokens_text(&tok, spam, sizeof(spam) - 1);
	bayes_classify(t, &tok, 200, &r);
	assert_true(r.ran && r.votes);
	assert_true(r.prob >= 0.999);
	assert_int_equal(r.used, 6);		/* "the" and "best" say nothing */
	assert_int_equal(r.nshown, 6);
	assert_string_equal(r.shown[0].text, "viagra");
	assert_true(r.shown[0].prob > 0.99 && r.shown[0].c.spam == 250);
	bayes_classify(t, &tok, 301, &r);
	assert_false(r.votes);
	bayes_tokens_clear(&tok);

	bayes_tokens_init(&tok);
	bayes_tokens_text(&tok, ham, sizeof(ham) - 1);
	bayes_classify(t, &tok, 200, &r);
	assert_true(r.prob <= 0.01);
	bayes_tokens_clear(&tok);

	bayes_classify(NULL, &tok, 200, &r);
	assert_false(r.ran);
	assert_true(r.prob == 0.5);
	bayes_table_free(t);
}

/* A message as the server scans it and as stored in the mailbox (with
 * the fields a delivery adds): the same tokens, the same vote. */
static void
test_scan_hook(void **state)
{
	static const char msg[] =
	    "From: Deals <deals@shop.example>\r\nTo: bob@example.test\r\n"
	    "Subject: cheap viagra\r\nMessage-ID: <1@shop.example>\r\n"
	    "Date: Sat, 28 Nov 2026 00:00:00 +0000\r\n"
	    "Content-Type: text/html; charset=utf-8\r\n\r\n"
	    "<p>Cheap <b>pills</b> at http://pills.shop.example/buy, offer discount</p>\r\n";
	static const char stored[] =
	    "Return-Path: <deals@shop.example>\r\nDelivered-To: bob@example.test\r\n"
	    "Received: from mx.example.test by imap.example.test with LMTP id 1\r\n"
	    "X-Spam-Score: 9.0\r\nX-Spam-Status: Yes, score=9.0 required=5.0 tests=BAYES_SPAM\r\n"
	    "Authentication-Results: mx.example.test; dkim=none\r\n"
	    "From: Deals <deals@shop.example>\r\nTo: bob@example.test\r\n"
	    "Subject: cheap viagra\r\nMessage-ID: <1@shop.example>\r\n"
	    "Date: Sat, 28 Nov 2026 00:00:00 +0000\r\n"
	    "Content-Type: text/html; charset=utf-8\r\n\r\n"
	    "<p>Cheap <b>pills</b> at http://pills.shop.example/buy, offer discount</p>\r\n";
	struct bayes_table *t = trained();
	struct scan_input in = { 0 };
	struct scan *a, *b;
	const struct bayes_tokens *ta, *tb;
	const struct score *sc;

	(void)state;
	in.bayes = t;
	in.bayes_min_learned = 200;
	in.bayes_tokens = true;
	a = scan_start(&in, msg, sizeof(msg) - 1, NULL, NULL);
	b = scan_start(&in, stored, sizeof(stored) - 1, NULL, NULL);
	assert_true(scan_finished(a) && scan_finished(b));
	ta = scan_bayes_tokens(a);
	tb = scan_bayes_tokens(b);
	assert_non_null(ta);
	assert_int_equal(ta->n, tb->n);
	for (size_t i = 0; i < ta->n; i++)
		assert_true(ta->t[i].hash == tb->t[i].hash);
	assert_true(has_token(ta, S("url:pills.shop.example")));
	assert_true(has_token(ta, S("url:shop.example")));
	assert_true(scan_bayes(a)->prob == scan_bayes(b)->prob);
	assert_true(scan_bayes(a)->prob >= 0.999);
	sc = scan_score(a);
	assert_true(score_has(sc, SYM_BAYES_SPAM));
	for (size_t i = 0; i < sc->nhits; i++)
		if (sc->hits[i].sym == SYM_BAYES_SPAM)
			assert_true(sc->hits[i].weight == 5.0);
	scan_free(a);
	scan_free(b);

	/* no table: no vote, no tokens kept unless asked */
	in.bayes = NULL;
	in.bayes_tokens = false;
	a = scan_start(&in, msg, sizeof(msg) - 1, NULL, NULL);
	assert_false(scan_bayes(a)->ran);
	assert_null(scan_bayes_tokens(a));
	assert_false(score_has(scan_score(a), SYM_BAYES_SPAM));
	scan_free(a);
	bayes_table_free(t);
}

/* Alternative twins: of a multipart/alternative's text/plain and
 * text/html parts only the HTML one is tokenized; a plain part with no
 * HTML after it in the same alternative, or outside one, is. */
struct twin_case {
	const char *body;	/* after the top header block */
	const char *type;	/* the top Content-Type */
	const char *want, *absent;
};

#define ALT_HDR(b) "multipart/alternative; boundary=\"" b "\""
static const struct twin_case twin_cases[] = {
	/* plain then HTML: the HTML one */
	{ "--b\r\nContent-Type: text/plain\r\n\r\nplainword shared\r\n"
	  "--b\r\nContent-Type: text/html\r\n\r\n<p>htmlword shared</p>\r\n--b--\r\n",
	  ALT_HDR("b"), "htmlword|shared|tag:p", "plainword" },
	/* HTML in a multipart/related branch: still the twin */
	{ "--b\r\nContent-Type: text/plain\r\n\r\nplainword\r\n"
	  "--b\r\nContent-Type: multipart/related; boundary=\"r\"\r\n\r\n"
	  "--r\r\nContent-Type: text/html\r\n\r\n<p>htmlword</p>\r\n"
	  "--r\r\nContent-Type: image/png\r\n\r\nxx\r\n--r--\r\n--b--\r\n",
	  ALT_HDR("b"), "htmlword", "plainword" },
	/* plain alone in its alternative (or with an image): kept */
	{ "--b\r\nContent-Type: text/plain\r\n\r\nplainword\r\n"
	  "--b\r\nContent-Type: image/png\r\n\r\nxx\r\n--b--\r\n",
	  ALT_HDR("b"), "plainword", "" },
	/* HTML first, then plain: both (no HTML follows the plain one) */
	{ "--b\r\nContent-Type: text/html\r\n\r\n<p>htmlword</p>\r\n"
	  "--b\r\nContent-Type: text/plain\r\n\r\nplainword\r\n--b--\r\n",
	  ALT_HDR("b"), "htmlword|plainword", "" },
	/* multipart/mixed: no twins, both */
	{ "--b\r\nContent-Type: text/plain\r\n\r\nplainword\r\n"
	  "--b\r\nContent-Type: text/html\r\n\r\n<p>htmlword</p>\r\n--b--\r\n",
	  "multipart/mixed; boundary=\"b\"", "plainword|htmlword", "" },
	/* two alternatives in a mixed: each its own twin; the HTML of the
	 * second is no twin of the first's plain */
	{ "--m\r\nContent-Type: " ALT_HDR("a1") "\r\n\r\n"
	  "--a1\r\nContent-Type: text/plain\r\n\r\nplainone\r\n--a1--\r\n"
	  "--m\r\nContent-Type: " ALT_HDR("a2") "\r\n\r\n"
	  "--a2\r\nContent-Type: text/plain\r\n\r\nplaintwo\r\n"
	  "--a2\r\nContent-Type: text/html\r\n\r\n<p>htmltwo</p>\r\n--a2--\r\n--m--\r\n",
	  "multipart/mixed; boundary=\"m\"", "plainone|htmltwo", "plaintwo" },
	/* two plain parts in one alternative: the first kept, the second
	 * the HTML's twin */
	{ "--b\r\nContent-Type: text/plain\r\n\r\nplainone\r\n"
	  "--b\r\nContent-Type: text/plain\r\n\r\nplaintwo\r\n"
	  "--b\r\nContent-Type: text/html\r\n\r\n<p>htmlword</p>\r\n--b--\r\n",
	  ALT_HDR("b"), "plainone|htmlword", "plaintwo" },
	/* a message inside: its parts are no twins of the outer ones */
	{ "--b\r\nContent-Type: text/plain\r\n\r\nplainword\r\n"
	  "--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: x\r\n"
	  "Content-Type: text/html\r\n\r\n<p>innerword</p>\r\n--b--\r\n",
	  ALT_HDR("b"), "plainword|innerword", "" },
};
#undef ALT_HDR

static void
test_alternative_twins(void **state)
{
	struct scan_input in = { 0 };
	size_t bad = 0;

	(void)state;
	in.bayes_tokens = true;
	for (size_t i = 0; i < NELEM(twin_cases); i++) {
		const struct twin_case *c = &twin_cases[i];
		char *msg;
		int n = asprintf(&msg, "From: a@b.example\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
		    "Content-Type: %s\r\n\r\n%s", c->type, c->body);
		struct scan *sc;
		const struct bayes_tokens *t;

		assert_true(n > 0);
		sc = scan_start(&in, msg, (size_t)n, NULL, NULL);
		assert_true(scan_finished(sc));
		t = scan_bayes_tokens(sc);
		assert_non_null(t);
		bad += check_list(t, c->want, true, i);
		bad += check_list(t, c->absent, false, i);
		scan_free(sc);
		free(msg);
	}
	assert_int_equal(bad, 0);
}

/* The sender's side of the Received chain: the last external hop's
 * address and network, and the words of the fields below it; never our
 * own field (the newest here, written for the public client). */
static void
test_received_tokens(void **state)
{
	static const char msg[] =
	    "Received: from client.example (client.example [203.0.113.5])\r\n"
	    "\tby mx.ours.test with ESMTP id OURID; Sat, 28 Nov 2026 00:00:00 +0000\r\n"
	    "Received: from bot.test ([198.51.100.7]) by spamhelo.test;\r\n"
	    "\tFri, 27 Nov 2026 23:59:00 -0500\r\n"
	    "From: a@b.example\r\nSubject: s\r\n\r\nbody\r\n";
	struct scan_input in = { 0 };
	struct scan *s;
	const struct bayes_tokens *t;

	(void)state;
	in.bayes_tokens = true;
	s = scan_start(&in, msg, sizeof(msg) - 1, NULL, NULL);
	t = scan_bayes_tokens(s);
	assert_true(has_token(t, S("ip:203.0.113.5")));
	assert_true(has_token(t, S("net:203.0.113")));
	assert_true(has_token(t, S("rcvd:spamhelo.test")));
	assert_true(has_token(t, S("rcvd:bot.test")));
	assert_false(has_token(t, S("rcvd:mx.ours.test")));
	assert_false(has_token(t, S("rcvd:ourid")));
	assert_false(has_token(t, S("rcvd:esmtp")));
	/* the sender's date: no words */
	assert_false(has_token(t, S("rcvd:nov")));
	assert_false(has_token(t, S("rcvd:2026")));
	assert_false(has_token(t, S("rcvd:0500")));
	scan_free(s);
}

/*
 * Token hashes are the stores' and anyone can send the words that make
 * them: 300,000 hashes that agree in their low 32 bits (what an unkeyed
 * "hash & mask" table would pile into one probe chain: hours of probing,
 * the server's loader stuck) go in and come out as any others.
 */
static void
test_table_crafted_hashes(void **state)
{
	enum { N = 300000 };
	struct bayes_table *t = bayes_table_new(16);
	struct bayes_counts c;

	(void)state;
	for (uint64_t i = 1; i <= N; i++)
		bayes_table_put(t, i << 32 | 0x5a5a5a5aull, (struct bayes_counts){ 1, (uint32_t)(i & 7) });
	for (uint64_t i = 1; i <= N; i += 997) {
		assert_true(bayes_table_get(t, i << 32 | 0x5a5a5a5aull, &c));
		assert_int_equal(c.spam, 1);
		assert_int_equal(c.ham, i & 7);
	}
	assert_false(bayes_table_get(t, (uint64_t)(N + 1) << 32 | 0x5a5a5a5aull, &c));
	bayes_table_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokens_table),
		cmocka_unit_test(test_tokens_cap),
		cmocka_unit_test(test_token_prob),
		cmocka_unit_test(test_combine),
		cmocka_unit_test(test_vote),
		cmocka_unit_test(test_table_and_classify),
		cmocka_unit_test(test_table_crafted_hashes),
		cmocka_unit_test(test_scan_hook),
		cmocka_unit_test(test_alternative_twins),
		cmocka_unit_test(test_received_tokens),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
