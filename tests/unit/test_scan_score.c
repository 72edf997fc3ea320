/*
 * Tests of the score (src/scan/score.h) and of the scan that produces it
 * (src/scan/scan.h) without DNS: the weights table is the contract of
 * SPEC 5.3, each symbol counts once, the verdict thresholds of 5.4, the
 * X-Spam-Status format, and offline scans (in.sh = NULL finishes inside
 * scan_start) of well-formed and broken messages.
 */
#include "unit.h"

#include <math.h>

#include "lib/config.h"
#include "scan/scan.h"
#include "scan/score.h"

/* ---- the table ---- */

struct weight_case {
	enum symbol sym;
	const char *name;
	double weight;		/* SPEC 5.3; negative: structural, at most -weight */
};

static const struct weight_case weight_cases[] = {
	{ SYM_URL_DBL_SPAM, "URL_DBL_SPAM", 6.0 },
	{ SYM_URL_DBL_PHISH, "URL_DBL_PHISH", 8.0 },
	{ SYM_URL_DBL_MALWARE, "URL_DBL_MALWARE", 8.0 },
	{ SYM_URL_DBL_BOTNET, "URL_DBL_BOTNET", 8.0 },
	{ SYM_URL_DBL_ABUSED, "URL_DBL_ABUSED", 3.0 },
	{ SYM_URL_IP_SBL, "URL_IP_SBL", 6.0 },
	{ SYM_RCVD_IN_SBL, "RCVD_IN_SBL", 4.0 },
	{ SYM_RCVD_IN_XBL, "RCVD_IN_XBL", 3.0 },
	{ SYM_RCVD_IN_PBL, "RCVD_IN_PBL", 1.0 },
	{ SYM_FROM_DBL, "FROM_DBL", 6.0 },
	{ SYM_FROM_DBL_ABUSED, "FROM_DBL_ABUSED", 2.0 },
	{ SYM_HELO_DBL_ABUSED, "HELO_DBL_ABUSED", 2.0 },
	{ SYM_RDNS_DBL_ABUSED, "RDNS_DBL_ABUSED", 2.0 },
	{ SYM_SPF_FAIL, "SPF_FAIL", 2.0 },
	{ SYM_SPF_SOFTFAIL, "SPF_SOFTFAIL", 0.5 },
	{ SYM_DKIM_INVALID, "DKIM_INVALID", 1.0 },
	{ SYM_DMARC_FAIL, "DMARC_FAIL", 3.0 },
	{ SYM_SCAN_TRUNCATED, "SCAN_TRUNCATED", 3.0 },
	/* Spamhaus DQS (SPEC 4.1) */
	{ SYM_ZRD_VERY_FRESH, "ZRD_VERY_FRESH", 3.0 },
	{ SYM_ZRD_FRESH, "ZRD_FRESH", 1.5 },
	{ SYM_HBL_EMAIL, "HBL_EMAIL", 6.0 },
	{ SYM_HBL_FILE_MALWARE, "HBL_FILE_MALWARE", 20.0 },
	{ SYM_HBL_FILE_SUSPICIOUS, "HBL_FILE_SUSPICIOUS", 5.0 },
	{ SYM_HBL_CW, "HBL_CW", 6.0 },
	/* structural checks: at most 1.0 each */
	{ SYM_MISSING_DATE, "MISSING_DATE", -1.0 },
	{ SYM_MISSING_MESSAGE_ID, "MISSING_MESSAGE_ID", -1.0 },
	{ SYM_MISSING_FROM, "MISSING_FROM", -1.0 },
	{ SYM_MALFORMED_FROM, "MALFORMED_FROM", -1.0 },
	{ SYM_MULTIPLE_FROM, "MULTIPLE_FROM", -1.0 },
	{ SYM_MISSING_SUBJECT, "MISSING_SUBJECT", -1.0 },
	{ SYM_MIME_MALFORMED, "MIME_MALFORMED", -1.0 },
};

/* postern's own symbols beyond SPEC 5.3 (learning from Junk moves):
 * exactly these weights, whatever the sign */
static const struct weight_case own_cases[] = {
	{ SYM_LEARNED_SPAM, "LEARNED_SPAM", 6.0 },
	{ SYM_LEARNED_HAM, "LEARNED_HAM", -4.0 },
	/* the content classifier (SPEC 13): the top band's weight */
	{ SYM_BAYES_SPAM, "BAYES_SPAM", 5.0 },
	{ SYM_BAYES_HAM, "BAYES_HAM", -2.0 },
};

static void
test_weights(void **state)
{
	size_t bad = 0;
	struct score sc;

	/* every symbol is in one of the tables above */
	assert_int_equal(NELEM(weight_cases) + NELEM(own_cases), SYM_COUNT);
	for (size_t i = 0; i < NELEM(own_cases); i++) {
		const struct weight_case *c = &own_cases[i];
		CASE_CHECK(bad, strcmp(symbol_name(c->sym), c->name) == 0 &&
		    symbol_default_weight(c->sym) == c->weight, i, "%s: %s %.2f", c->name,
		    symbol_name(c->sym), symbol_default_weight(c->sym));
	}
	score_init(&sc, NULL);
	for (size_t i = 0; i < NELEM(weight_cases); i++) {
		const struct weight_case *c = &weight_cases[i];
		double w = symbol_default_weight(c->sym);
		CASE_CHECK(bad, strcmp(symbol_name(c->sym), c->name) == 0, i, "%s: named %s", c->name,
		    symbol_name(c->sym));
		if (c->weight >= 0)
			CASE_CHECK(bad, w == c->weight, i, "%s: weight %.2f, SPEC says %.2f", c->name, w,
			    c->weight);
		else
			CASE_CHECK(bad, w > 0 && w <= -c->weight, i, "%s: structural weight %.2f",
			    c->name, w);
		CASE_CHECK(bad, sc.weights[c->sym] == w, i, "%s: score_init gives %.2f", c->name,
		    sc.weights[c->sym]);
		for (size_t k = 0; k < i; k++)
			CASE_CHECK(bad, strcmp(symbol_name(weight_cases[k].sym), symbol_name(c->sym)) != 0,
			    i, "%s: name used twice", c->name);
	}
	assert_string_equal(symbol_name(SYM_COUNT), "?");
	assert_true(symbol_default_weight(SYM_COUNT) == 0);
	assert_string_equal(verdict_name(VERDICT_INBOX), "inbox");
	assert_string_equal(verdict_name(VERDICT_JUNK), "junk");
	assert_string_equal(verdict_name(VERDICT_REJECT), "reject");
	assert_int_equal(bad, 0);
}

/* score.SYMBOL overrides from the configuration. */
static void
test_overrides(void **state)
{
	static const char text[] = "domains = example.test\n"
	    "score.URL_DBL_SPAM = 7\nscore.RCVD_IN_PBL = 0\nscore_junk = 4.5\n";
	struct config cfg;
	struct config_diag diag = { 0 };
	struct score sc;

	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(config_parse(text, sizeof(text) - 1, "t.conf", "/tmp", &cfg, &diag), 0);
	score_init(&sc, &cfg);
	assert_true(sc.weights[SYM_URL_DBL_SPAM] == 7.0);
	assert_true(sc.weights[SYM_RCVD_IN_PBL] == 0.0);
	assert_true(sc.weights[SYM_FROM_DBL] == 6.0);
	score_add(&sc, SYM_URL_DBL_SPAM, "x.example");
	assert_true(sc.total == 7.0);
	assert_true(sc.hits[0].weight == 7.0);
	config_clear(&cfg);
	config_diag_clear(&diag);
}

/* Each symbol counts once; the first detail is kept and made safe. */
static void
test_once(void **state)
{
	struct score sc;

	score_init(&sc, NULL);
	assert_false(score_has(&sc, SYM_URL_DBL_SPAM));
	score_add(&sc, SYM_URL_DBL_SPAM, "first.example");
	score_add(&sc, SYM_URL_DBL_SPAM, "second.example");
	score_add(&sc, SYM_URL_DBL_SPAM, NULL);
	assert_int_equal(sc.nhits, 1);
	assert_true(sc.total == 6.0);
	assert_string_equal(sc.hits[0].detail, "first.example");
	assert_true(score_has(&sc, SYM_URL_DBL_SPAM));
	score_add(&sc, SYM_RCVD_IN_PBL, NULL);
	score_add(&sc, SYM_RCVD_IN_PBL, "192.0.2.1");
	assert_int_equal(sc.nhits, 2);
	assert_string_equal(sc.hits[1].detail, "");
	assert_true(sc.total == 7.0);
	/* unknown symbols are ignored */
	score_add(&sc, SYM_COUNT, "x");
	score_add(&sc, (enum symbol)-1, "x");
	assert_int_equal(sc.nhits, 2);

	/* every symbol at once: each once, total is the sum */
	score_init(&sc, NULL);
	{
		double sum = 0;
		for (int round = 0; round < 3; round++)
			for (int s = 0; s < SYM_COUNT; s++)
				score_add(&sc, (enum symbol)s, "d");
		for (int s = 0; s < SYM_COUNT; s++)
			sum += symbol_default_weight((enum symbol)s);
		assert_int_equal(sc.nhits, SYM_COUNT);
		assert_true(fabs(sc.total - sum) < 1e-9);
	}

	/* details go into a header: no control characters, no list syntax */
	score_init(&sc, NULL);
	score_add(&sc, SYM_FROM_DBL, "a,b(c)\r\nX-Evil: 1\x7f");
	assert_null(strpbrk(sc.hits[0].detail, ",()\r\n\x7f"));
	assert_non_null(strstr(sc.hits[0].detail, "X-Evil: 1"));
	/* a long detail is cut to SCORE_DETAIL_MAX */
	{
		char big[SCORE_DETAIL_MAX * 2];
		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		score_add(&sc, SYM_URL_DBL_SPAM, big);
		assert_int_equal(strlen(sc.hits[1].detail), SCORE_DETAIL_MAX - 1);
	}
}

struct verdict_case {
	enum symbol syms[6];
	size_t nsyms;
	bool force_reject;
	double junk, reject;
	double total;
	enum verdict want;
};

static const struct verdict_case verdict_cases[] = {
	{ { 0 }, 0, false, 5.0, 12.0, 0.0, VERDICT_INBOX },
	{ { SYM_RCVD_IN_SBL }, 1, false, 5.0, 12.0, 4.0, VERDICT_INBOX },
	{ { SYM_RCVD_IN_SBL, SYM_SPF_SOFTFAIL }, 2, false, 5.0, 12.0, 4.5, VERDICT_INBOX },
	/* score >= score_junk: Junk */
	{ { SYM_RCVD_IN_SBL, SYM_RCVD_IN_PBL }, 2, false, 5.0, 12.0, 5.0, VERDICT_JUNK },
	{ { SYM_URL_DBL_SPAM }, 1, false, 5.0, 12.0, 6.0, VERDICT_JUNK },
	{ { SYM_URL_DBL_PHISH, SYM_RCVD_IN_XBL }, 2, false, 5.0, 12.0, 11.0, VERDICT_JUNK },
	/* score >= score_reject: reject */
	{ { SYM_URL_DBL_SPAM, SYM_FROM_DBL }, 2, false, 5.0, 12.0, 12.0, VERDICT_REJECT },
	{ { SYM_URL_DBL_PHISH, SYM_URL_DBL_MALWARE }, 2, false, 5.0, 12.0, 16.0, VERDICT_REJECT },
	/* DMARC p=reject rejects whatever the score */
	{ { SYM_DMARC_FAIL }, 1, true, 5.0, 12.0, 3.0, VERDICT_REJECT },
	/* other thresholds */
	{ { SYM_DKIM_INVALID }, 1, false, 1.0, 2.0, 1.0, VERDICT_JUNK },
	{ { SYM_DKIM_INVALID, SYM_SPF_FAIL }, 2, false, 1.0, 2.0, 3.0, VERDICT_REJECT },
	{ { SYM_SPF_SOFTFAIL }, 1, false, 0.6, 2.0, 0.5, VERDICT_INBOX },
};

static void
test_verdicts(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(verdict_cases); i++) {
		const struct verdict_case *c = &verdict_cases[i];
		struct score sc;
		enum verdict v;

		score_init(&sc, NULL);
		for (size_t k = 0; k < c->nsyms; k++)
			score_add(&sc, c->syms[k], NULL);
		sc.force_reject = c->force_reject;
		v = score_verdict(&sc, c->junk, c->reject);
		CASE_CHECK(bad, fabs(sc.total - c->total) < 1e-9 && v == c->want, i,
		    "total %.2f verdict %s, want %.2f %s", sc.total, verdict_name(v), c->total,
		    verdict_name(c->want));
	}
	assert_int_equal(bad, 0);
}

static void
test_status(void **state)
{
	static const char conf[] = "domains = example.test\nscore.URL_DBL_SPAM = 7\n";
	struct config cfg;
	struct config_diag diag = { 0 };
	struct score sc;
	char out[512];

	score_init(&sc, NULL);
	assert_string_equal(score_status(&sc, 5.0, out, sizeof(out)),
	    "No, score=0.0 required=5.0 tests=none");

	/* SPEC 5.4: the listed item appears in X-Spam-Status */
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(config_parse(conf, sizeof(conf) - 1, "t.conf", "/tmp", &cfg, &diag), 0);
	score_init(&sc, &cfg);
	score_add(&sc, SYM_URL_DBL_SPAM, "badspam.example");
	assert_string_equal(score_status(&sc, 5.0, out, sizeof(out)),
	    "Yes, score=7.0 required=5.0 tests=URL_DBL_SPAM(badspam.example)");
	config_clear(&cfg);
	config_diag_clear(&diag);

	score_init(&sc, NULL);
	score_add(&sc, SYM_URL_DBL_SPAM, "badspam.example");
	score_add(&sc, SYM_DKIM_INVALID, NULL);
	score_add(&sc, SYM_RCVD_IN_PBL, "192.0.2.1");
	assert_string_equal(score_status(&sc, 5.0, out, sizeof(out)),
	    "Yes, score=8.0 required=5.0 tests=URL_DBL_SPAM(badspam.example),DKIM_INVALID,"
	    "RCVD_IN_PBL(192.0.2.1)");
	assert_string_equal(score_status(&sc, 10.0, out, sizeof(out)),
	    "No, score=8.0 required=10.0 tests=URL_DBL_SPAM(badspam.example),DKIM_INVALID,"
	    "RCVD_IN_PBL(192.0.2.1)");

	score_init(&sc, NULL);
	score_add(&sc, SYM_SPF_SOFTFAIL, NULL);
	assert_string_equal(score_status(&sc, 5.0, out, sizeof(out)),
	    "No, score=0.5 required=5.0 tests=SPF_SOFTFAIL");

	/* a small buffer: terminated, never overrun */
	score_init(&sc, NULL);
	score_add(&sc, SYM_URL_DBL_SPAM, "badspam.example");
	memset(out, 'X', sizeof(out));
	score_status(&sc, 5.0, out, 20);
	assert_true(memchr(out, '\0', 20) != NULL);
	assert_int_equal(out[20], 'X');
	memset(out, 'X', sizeof(out));
	score_status(&sc, 5.0, out, 45);
	assert_true(memchr(out, '\0', 45) != NULL);
	assert_int_equal(out[45], 'X');
}

/* ---- offline scans ---- */

#define WELL_FORMED                                                            \
	"Received: from mail.sender.example (mail.sender.example [198.51.100.5])\r\n" \
	"\tby mx.example.test (Postfix) with ESMTPS id 4ABC\r\n"                     \
	"\tfor <bob@example.test>; Mon, 1 Jan 2024 10:00:00 +0000 (UTC)\r\n"         \
	"Received: from laptop (laptop [10.0.0.7])\r\n"                              \
	"\tby mail.sender.example (Postfix) with ESMTPSA id 1XYZ;\r\n"               \
	"\tMon, 1 Jan 2024 09:59:59 +0000 (UTC)\r\n"                                 \
	"Date: Mon, 1 Jan 2024 09:59:58 +0000\r\n"                                   \
	"From: Alice <alice@sender.example>\r\n"                                     \
	"Reply-To: alice@replies.sender.example\r\n"                                 \
	"To: Bob <bob@example.test>\r\n"                                             \
	"Subject: Minutes of the meeting\r\n"                                        \
	"Message-ID: <20240101095958.1234@sender.example>\r\n"                       \
	"MIME-Version: 1.0\r\n"                                                      \
	"Content-Type: multipart/alternative; boundary=\"b1\"\r\n"                   \
	"\r\n"                                                                       \
	"--b1\r\n"                                                                   \
	"Content-Type: text/plain; charset=utf-8\r\n"                                \
	"\r\n"                                                                       \
	"Hi Bob, the minutes are at https://docs.sender.example/minutes\r\n"         \
	"--b1\r\n"                                                                   \
	"Content-Type: text/html; charset=utf-8\r\n"                                 \
	"Content-Transfer-Encoding: quoted-printable\r\n"                            \
	"\r\n"                                                                       \
	"<p>Hi Bob, the <a href=3D\"https://docs.sender.example/minutes\">minutes</a>=\r\n" \
	" and <img src=3D\"http://192.0.2.44/logo.png\"></p>\r\n"                    \
	"--b1--\r\n"

static struct scan *
scan_offline(const struct scan_input *in, const char *msg, size_t len)
{
	struct scan *s = scan_start(in, msg, len, NULL, NULL);

	assert_non_null(s);
	/* no resolver: finished on return */
	assert_true(scan_finished(s));
	return s;
}

static void
count_cb(void *arg, struct scan *s)
{
	(*(unsigned *)arg)++;
}

/*
 * scan.h: when no lookup is needed the scan is finished on return and
 * the callback is never called. A caller that starts its next scan from
 * the callback (postern scan does) would otherwise recurse once per
 * message and count each scan as done twice.
 */
static void
test_scan_sync_no_callback(void **state)
{
	static const char msg[] = "From: a@sender.example\r\nSubject: s\r\n\r\nbody\r\n";
	struct scan_input in = { 0 };
	unsigned calls = 0;
	struct scan *s = scan_start(&in, msg, sizeof(msg) - 1, count_cb, &calls);

	assert_true(scan_finished(s));
	scan_free(s);
	if (calls != 0)
		fail_msg("scan_start called its callback %u time(s) from inside scan_start",
		    calls);
}

static bool
has_item(const struct scan *s, enum url_item_kind k, const char *host, enum url_source *src)
{
	const struct url_set *u = scan_urls(s);

	for (size_t i = 0; i < u->n; i++)
		if (u->items[i].kind == k && strcmp(u->items[i].host, host) == 0) {
			if (src)
				*src = u->items[i].source;
			return true;
		}
	return false;
}

static bool
has_lookup(const struct scan *s, enum scan_role role, const char *item)
{
	size_t n;
	const struct scan_lookup *l = scan_lookups(s, &n);

	for (size_t i = 0; i < n; i++)
		if (l[i].role == role && strcmp(l[i].item, item) == 0) {
			assert_int_equal(l[i].state, LOOKUP_SKIPPED);
			return true;
		}
	return false;
}

static void
test_scan_well_formed(void **state)
{
	static const char conf[] = "domains = example.test\ndnsbl = no\n";
	struct config cfg;
	struct config_diag diag = { 0 };
	struct scan_input in = { 0 };
	const char *msg = WELL_FORMED;
	size_t len = strlen(msg), nf;
	char *copy = malloc(len), *hdrs;
	struct scan *s;
	const struct received_chain *ch;
	const char *const *from;

	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(config_parse(conf, sizeof(conf) - 1, "t.conf", "/tmp", &cfg, &diag), 0);
	memcpy(copy, msg, len);
	in.cfg = &cfg;
	s = scan_offline(&in, copy, len);

	/* SPEC 5.3: a well-formed message with nothing listed stays below
	 * score_junk; in fact nothing hits at all */
	assert_true(scan_score(s)->total < 5.0);
	assert_int_equal(scan_score(s)->nhits, 0);
	assert_int_equal(scan_verdict(s), VERDICT_INBOX);
	hdrs = scan_headers(s);
	assert_string_equal(hdrs, "X-Spam-Score: 0.0\r\n"
	    "X-Spam-Status: No, score=0.0 required=5.0 tests=none\r\n");
	free(hdrs);

	/* what was extracted */
	ch = scan_chain(s);
	assert_int_equal(ch->n, 2);
	assert_int_equal(ch->last_external, 0);
	assert_string_equal(ch->hops[0].ip, "198.51.100.5");
	assert_true(ch->hops[1].internal);
	from = scan_from_domains(s, &nf);
	assert_int_equal(nf, 2);
	assert_string_equal(from[0], "sender.example");
	assert_string_equal(from[1], "replies.sender.example");
	assert_true(has_item(s, URL_ITEM_HOST, "docs.sender.example", NULL));
	assert_true(has_item(s, URL_ITEM_IP, "192.0.2.44", NULL));

	/* and what would be looked up (SPEC 5.2) */
	assert_true(has_lookup(s, ROLE_RCVD_LAST, "198.51.100.5"));
	assert_false(has_lookup(s, ROLE_RCVD_DEEP, "10.0.0.7"));
	assert_true(has_lookup(s, ROLE_FROM, "sender.example"));
	assert_true(has_lookup(s, ROLE_FROM, "replies.sender.example"));
	assert_true(has_lookup(s, ROLE_URL_HOST, "docs.sender.example"));
	assert_true(has_lookup(s, ROLE_URL_IP, "192.0.2.44"));
	scan_free(s);
	scan_free(NULL);
	free(copy);
	config_clear(&cfg);
	config_diag_clear(&diag);
}

/* Structural checks, each weighing at most 1.0. */
struct struct_case {
	const char *what;
	const char *msg;
	const char *want;	/* space-separated symbols, exactly these */
};

static const struct struct_case struct_cases[] = {
	{ "nothing at all", "\r\nbody\r\n",
	    "MISSING_DATE MISSING_MESSAGE_ID MISSING_SUBJECT MISSING_FROM" },
	{ "complete", "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <a@b.example>\r\n"
	  "From: a@sender.example\r\nSubject: s\r\n\r\nbody\r\n", "" },
	{ "LF only", "Date: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <a@b.example>\n"
	  "From: a@sender.example\nSubject: s\n\nbody\n", "" },
	{ "two From", "Date: x\r\nMessage-ID: <a@b.example>\r\nFrom: a@sender.example\r\n"
	  "From: b@sender.example\r\nSubject: s\r\n\r\nbody\r\n", "MULTIPLE_FROM" },
	{ "malformed From", "Date: x\r\nMessage-ID: <a@b.example>\r\nFrom: nobody\r\n"
	  "Subject: s\r\n\r\nbody\r\n", "MALFORMED_FROM" },
	{ "broken MIME", "Date: x\r\nMessage-ID: <a@b.example>\r\nFrom: a@sender.example\r\n"
	  "Subject: s\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
	  "--b\r\n\r\nno end\r\n", "MIME_MALFORMED" },
	{ "everything wrong", "From: nobody\r\nContent-Type: multipart/mixed\r\n\r\nx\r\n",
	  "MISSING_DATE MISSING_MESSAGE_ID MISSING_SUBJECT MALFORMED_FROM MIME_MALFORMED" },
};

static void
test_scan_structure(void **state)
{
	size_t bad = 0;
	struct scan_input in = { 0 };

	for (size_t i = 0; i < NELEM(struct_cases); i++) {
		const struct struct_case *c = &struct_cases[i];
		size_t len = strlen(c->msg), nwant = 0;
		char *copy = malloc(len), want[256], *save, *tok;
		struct scan *s;
		const struct score *sc;
		double sum = 0;

		memcpy(copy, c->msg, len);
		s = scan_offline(&in, copy, len);
		sc = scan_score(s);
		snprintf(want, sizeof(want), "%s", c->want);
		for (tok = strtok_r(want, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			bool hit = false;
			nwant++;
			for (size_t k = 0; k < sc->nhits; k++)
				if (strcmp(symbol_name(sc->hits[k].sym), tok) == 0)
					hit = true;
			CASE_CHECK(bad, hit, i, "%s: %s missing", c->what, tok);
		}
		for (size_t k = 0; k < sc->nhits; k++) {
			CASE_CHECK(bad, sc->hits[k].weight <= 1.0, i, "%s: %s weighs %.1f", c->what,
			    symbol_name(sc->hits[k].sym), sc->hits[k].weight);
			sum += sc->hits[k].weight;
		}
		CASE_CHECK(bad, sc->nhits == nwant, i, "%s: %zu hits, want %zu", c->what, sc->nhits,
		    nwant);
		CASE_CHECK(bad, fabs(sc->total - sum) < 1e-9 && sc->total < 5.0 &&
		    scan_verdict(s) == VERDICT_INBOX, i, "%s: total %.1f", c->what, sc->total);
		scan_free(s);
		free(copy);
	}
	assert_int_equal(bad, 0);
}

/* URLs in the Subject after RFC 2047 decoding; session flags. */
static void
test_scan_subject_and_session(void **state)
{
	static const char msg[] = "Received: from h (h [198.51.100.9]) by mx; Mon, 1 Jan 2024\r\n"
	    "Received: from h2 (h2 [203.0.113.77]) by h; Mon, 1 Jan 2024\r\n"
	    "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <a@b.example>\r\n"
	    "From: \"Shop\" <deals@shop.example.com>\r\n"
	    "Subject: =?UTF-8?B?VmlzaXQgaHR0cDovL2V2aWwuZXhhbXBsZS5jb20vIG5vdw==?=\r\n\r\n"
	    "Write to sales@orders.example.net or see www.shop.example.com\r\n";
	struct scan_input in = { 0 };
	size_t len = sizeof(msg) - 1;
	char *copy = malloc(len);
	struct scan *s;
	enum url_source src;

	memcpy(copy, msg, len);
	in.client_ip = "198.51.100.9";
	in.authenticated = true;
	in.helo_abused = true;
	in.mail_from = "bounce@mail.example.org";
	s = scan_offline(&in, copy, len);
	assert_true(has_item(s, URL_ITEM_HOST, "evil.example.com", &src));
	assert_int_equal(src, URL_SRC_SUBJECT);
	assert_true(has_item(s, URL_ITEM_EMAIL, "orders.example.net", &src));
	assert_int_equal(src, URL_SRC_BODY);
	assert_true(has_item(s, URL_ITEM_HOST, "www.shop.example.com", NULL));
	/* DBL: full host name and registered domain */
	assert_true(has_lookup(s, ROLE_URL_HOST, "evil.example.com"));
	assert_true(has_lookup(s, ROLE_URL_HOST, "www.shop.example.com"));
	assert_true(has_lookup(s, ROLE_URL_HOST, "example.com"));
	assert_true(has_lookup(s, ROLE_EMAIL, "orders.example.net"));
	assert_true(has_lookup(s, ROLE_EMAIL, "example.net"));
	assert_true(has_lookup(s, ROLE_FROM, "shop.example.com"));
	assert_true(has_lookup(s, ROLE_FROM, "mail.example.org"));
	/* SPEC 5.2: an authenticated client's own hop is never looked up,
	 * deeper hops against the SBL only */
	assert_false(has_lookup(s, ROLE_RCVD_LAST, "198.51.100.9"));
	assert_true(has_lookup(s, ROLE_RCVD_DEEP, "203.0.113.77"));
	/* the session's HELO check is scored */
	assert_true(score_has(scan_score(s), SYM_HELO_DBL_ABUSED));
	assert_false(score_has(scan_score(s), SYM_RDNS_DBL_ABUSED));
	assert_true(scan_score(s)->total == 2.0);
	scan_free(s);

	/* not authenticated: the same hop is the last external one */
	in.authenticated = false;
	in.helo_abused = false;
	s = scan_offline(&in, copy, len);
	assert_true(has_lookup(s, ROLE_RCVD_LAST, "198.51.100.9"));
	assert_int_equal(scan_score(s)->nhits, 0);
	scan_free(s);
	free(copy);
}

/* text parts marked as attachments are scanned too: readers show them
 * inline (SPEC 5.1, issue 20); other types are not text */
static void
test_scan_text_attachments(void **state)
{
	static const char msg[] = "From: a@sender.example\r\nSubject: s\r\n"
	    "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\nsee the attachment\r\n"
	    "--b\r\nContent-Type: text/plain; name=\"a.txt\"\r\n"
	    "Content-Disposition: attachment; filename=\"a.txt\"\r\n\r\n"
	    "go to http://attached.example.com/offer\r\n"
	    "--b\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n"
	    "Content-Disposition: attachment; filename=\"a.html\"\r\n\r\n"
	    "PGEgaHJlZj0iaHR0cDovL2h0bWwtYXR0YWNoZWQuZXhhbXBsZS5uZXQvIj54PC9hPg==\r\n"
	    "--b\r\nContent-Type: application/octet-stream\r\n"
	    "Content-Disposition: attachment; filename=\"a.bin\"\r\n\r\n"
	    "http://binary.example.org/\r\n--b--\r\n";
	struct scan_input in = { 0 };
	size_t len = sizeof(msg) - 1;
	char *copy = malloc(len);
	struct scan *s;

	memcpy(copy, msg, len);
	s = scan_offline(&in, copy, len);
	assert_true(has_item(s, URL_ITEM_HOST, "attached.example.com", NULL));
	assert_true(has_item(s, URL_ITEM_HOST, "html-attached.example.net", NULL));
	assert_false(has_item(s, URL_ITEM_HOST, "binary.example.org", NULL));
	assert_true(has_lookup(s, ROLE_URL_HOST, "example.com"));
	scan_free(s);
	free(copy);
}

struct addr_case {
	const char *value;
	const char *want;	/* NULL: none */
};

static const struct addr_case addr_cases[] = {
	{ " alice@example.com", "example.com" },
	{ " Alice <alice@Example.COM>", "example.com" },
	{ " \"Alice\" <alice@mail.example.co.uk>\r\n", "mail.example.co.uk" },
	{ " alice@example.com (Alice)", "example.com" },
	{ " \"a@fake.example\" <real@real.example>", "real.example" },
	{ " =?UTF-8?Q?Alice?=\r\n <alice@folded.example>", "folded.example" },
	{ " <alice@example.com.>", "example.com" },
	{ " <alice@b\xc3\xbc" "cher.example>", "xn--bcher-kva.example" },
	/* the first address of a list (scan.h) */
	{ " alice@example.com, bob@other.example", "example.com" },
	{ " Alice <alice@first.example>, Bob <bob@second.example>", "first.example" },
	{ " <>", NULL },
	{ " undisclosed-recipients:;", NULL },
	{ " Alice <alice@localhost>", NULL },
	{ " Alice <alice@example.com", NULL },
	{ " @example.com", NULL },
	{ "", NULL },
};

static void
test_address_domain(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(addr_cases); i++) {
		const struct addr_case *c = &addr_cases[i];
		size_t len = strlen(c->value);
		char *in = malloc(len ? len : 1), out[URL_HOST_MAX];
		bool ok;

		memcpy(in, c->value, len);
		ok = scan_address_domain(in, len, out, sizeof(out));
		if (c->want == NULL)
			CASE_CHECK(bad, !ok, i, "\"%s\": found %s", unit_show(c->value, len), out);
		else
			CASE_CHECK(bad, ok && strcmp(out, c->want) == 0, i, "\"%s\": got %s",
			    unit_show(c->value, len), ok ? out : "none");
		free(in);
	}
	assert_int_equal(bad, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_weights),
		cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_once),
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_scan_sync_no_callback),
		cmocka_unit_test(test_scan_well_formed),
		cmocka_unit_test(test_scan_structure),
		cmocka_unit_test(test_scan_subject_and_session),
		cmocka_unit_test(test_scan_text_attachments),
		cmocka_unit_test(test_address_domain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
