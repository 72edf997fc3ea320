/*
 * Padding cannot hide a listed name (issue 19 item 3, SPEC 5.1, 5.3): a
 * message within 1 MiB, 1,000 parts and 20 levels of nesting is scanned
 * whole; distinct registered domains are planned for lookup before more
 * hosts of a domain, and the parts take turns in the lookup budget; a cap
 * that still cuts scores SCAN_TRUNCATED naming it. Offline scans (no
 * resolver): what would be looked up is the plan, LOOKUP_SKIPPED within
 * the budget and LOOKUP_OVER_BUDGET past it.
 */
#include "unit.h"

#include "scan/mime.h"
#include "scan/scan.h"
#include "scan/score.h"

#define HDR "From: a@sender.example\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n" \
	"Message-ID: <a@sender.example>\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
#define LISTED "http://dbltest.com/x"
#define MIB (1024 * 1024)

/* A growing string. */
struct sb {
	char *p;
	size_t n, cap;
};

static void __attribute__((format(printf, 2, 3)))
sb_add(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
		va_end(ap);
		assert_true(n >= 0);
		if (b->p != NULL && (size_t)n < b->cap - b->n)
			break;
		b->cap = (b->cap + (size_t)n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	b->n += (size_t)n;
}

static void
sb_pad(struct sb *b, size_t size)
{
	static const char line[] = "lorem ipsum dolor sit amet, consectetur adipiscing elit\r\n";

	while (size >= sizeof(line) - 1) {
		sb_add(b, "%s", line);
		size -= sizeof(line) - 1;
	}
}

static void
text_part(struct sb *b, const char *body)
{
	sb_add(b, "Content-Type: text/plain\r\n\r\n%s\r\n", body);
}

/* levels multiparts, one inside the other, the listed URL innermost */
static void
build_nested(struct sb *b, int levels)
{
	sb_add(b, HDR);
	for (int d = 0; d < levels; d++)
		sb_add(b, "Content-Type: multipart/mixed; boundary=\"l%d\"\r\n\r\n--l%d\r\n", d, d);
	text_part(b, "see " LISTED);
	for (int d = levels - 1; d >= 0; d--)
		sb_add(b, "--l%d--\r\n", d);
}

static void
build_parts(struct sb *b, int nparts)
{
	sb_add(b, HDR "Content-Type: multipart/mixed; boundary=\"p\"\r\n\r\n");
	for (int i = 0; i < nparts - 1; i++) {
		sb_add(b, "--p\r\n");
		text_part(b, "filler");
	}
	sb_add(b, "--p\r\n");
	text_part(b, "see " LISTED);
	sb_add(b, "--p--\r\n");
}

static void
build_text(struct sb *b, size_t pad)
{
	sb_add(b, HDR "Content-Type: text/plain\r\n\r\n");
	sb_pad(b, pad);
	sb_add(b, "see " LISTED "\r\n");
}

static void
build_big_first_part(struct sb *b, size_t pad)
{
	sb_add(b, HDR "Content-Type: multipart/mixed; boundary=\"p\"\r\n\r\n--p\r\n"
	    "Content-Type: text/plain\r\n\r\n");
	sb_pad(b, pad);
	sb_add(b, "\r\n--p\r\n");
	text_part(b, "see " LISTED);
	sb_add(b, "--p--\r\n");
}

/* n URLs: hosts of one domain (same) or n registered domains */
static void
urls(struct sb *b, int n, bool same)
{
	for (int i = 0; i < n; i++)
		sb_add(b, same ? "http://h%d.clean-pad.example/ " : "http://www.pad%d-clean.com/ ", i);
}

static void
build_urls_one_part(struct sb *b, int n, bool same)
{
	sb_add(b, HDR "Content-Type: text/plain\r\n\r\n");
	urls(b, n, same);
	sb_add(b, "then " LISTED "\r\n");
}

static void
build_urls_two_parts(struct sb *b, int n, int hops)
{
	for (int i = 0; i < hops; i++)
		sb_add(b, "Received: from h%d (h%d [198.51.100.%d]) by mx%d; Mon, 1 Jan 2024\r\n", i,
		    i, i + 1, i);
	sb_add(b, HDR "Content-Type: multipart/alternative; boundary=\"p\"\r\n\r\n--p\r\n"
	    "Content-Type: text/plain\r\n\r\n");
	urls(b, n, false);
	sb_add(b, "\r\n--p\r\nContent-Type: text/html\r\n\r\n<a href=\"" LISTED "\">x</a>\r\n"
	    "--p--\r\n");
}

/* many hosts of one domain first, then a host of another: both
 * registered domains come before the further hosts */
static void
build_hosts_then_other(struct sb *b, int n)
{
	sb_add(b, HDR "Content-Type: text/plain\r\n\r\n");
	for (int i = 0; i < n; i++)
		sb_add(b, "http://a%d.example.com/ ", i);
	sb_add(b, "http://www.dbltest.com/x\r\n");
}

enum kind {
	NESTED, PARTS, TEXT, BIG_FIRST, URLS_SAME, URLS_DISTINCT, URLS_OTHER_PART, HOSTS_OTHER,
};

struct cap_case {
	const char *what;
	enum kind kind;
	size_t n;		/* levels, parts, octets of padding, URLs */
	int hops;		/* Received hops (URLS_OTHER_PART) */
	bool item;		/* dbltest.com extracted */
	int lookup;		/* dbltest.com: 1 planned, 0 over budget, -1 none */
	unsigned cuts;		/* exactly these caps cut (offline: never lookups) */
};

static const struct cap_case cases[] = {
	/* SPEC 5.1: scanned whole */
	{ "20 levels of nesting", NESTED, 20, 0, true, 1, 0 },
	{ "999 parts", PARTS, 999, 0, true, 1, 0 },
	{ "5 MiB of text first", TEXT, 5 * MIB, 0, true, 1, 0 },
	/* beyond: cut, and scored */
	{ "60 levels of nesting", NESTED, 60, 0, false, -1, SCAN_CUT_DEPTH },
	{ "2100 parts", PARTS, 2100, 0, false, -1, SCAN_CUT_PARTS },
	{ "a 9 MiB part first", BIG_FIRST, 9 * MIB, 0, false, -1, SCAN_CUT_SIZE },
	/* the item cap keeps room for new registered domains */
	{ "600 hosts of one domain", URLS_SAME, 600, 0, true, 1, SCAN_CUT_ITEMS },
	/* one part of 600 domains: the budget cannot reach the last */
	{ "600 domains, then the listed one", URLS_DISTINCT, 600, 0, true, 0, 0 },
	/* the parts take turns, so do the deeper Received hops */
	{ "600 domains in the part before", URLS_OTHER_PART, 600, 0, true, 1, 0 },
	{ "30 hops and 40 domains before", URLS_OTHER_PART, 40, 30, true, 1, 0 },
	/* registered domains before further hosts */
	{ "100 hosts of example.com first", HOSTS_OTHER, 100, 0, true, 1, 0 },
};

static int
lookup_state_of(const struct scan *s, const char *item)
{
	size_t n;
	const struct scan_lookup *l = scan_lookups(s, &n);

	for (size_t i = 0; i < n; i++)
		if (strcmp(l[i].item, item) == 0)
			return l[i].state == LOOKUP_SKIPPED ? 1 : l[i].state == LOOKUP_OVER_BUDGET ? 0 : 2;
	return -1;
}

static bool
has_host(const struct scan *s, const char *host)
{
	const struct url_set *u = scan_urls(s);

	for (size_t i = 0; i < u->n; i++)
		if (strcmp(u->items[i].host, host) == 0)
			return true;
	return false;
}

static void
test_caps(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(cases); i++) {
		const struct cap_case *c = &cases[i];
		struct sb b = { 0 };
		struct scan_input in = { 0 };
		struct scan *s;
		const struct score *sc;
		char names[128];
		int got;

		switch (c->kind) {
		case NESTED: build_nested(&b, (int)c->n); break;
		case PARTS: build_parts(&b, (int)c->n); break;
		case TEXT: build_text(&b, c->n); break;
		case BIG_FIRST: build_big_first_part(&b, c->n); break;
		case URLS_SAME: build_urls_one_part(&b, (int)c->n, true); break;
		case URLS_DISTINCT: build_urls_one_part(&b, (int)c->n, false); break;
		case URLS_OTHER_PART: build_urls_two_parts(&b, (int)c->n, c->hops); break;
		case HOSTS_OTHER: build_hosts_then_other(&b, (int)c->n); break;
		}
		s = scan_start(&in, b.p, b.n, NULL, NULL);
		assert_true(scan_finished(s));
		sc = scan_score(s);
		CASE_CHECK(bad, has_host(s, c->kind == HOSTS_OTHER ? "www.dbltest.com" : "dbltest.com") ==
		    c->item, i, "%s: item %s", c->what, c->item ? "missing" : "found");
		got = lookup_state_of(s, "dbltest.com");
		CASE_CHECK(bad, got == c->lookup, i, "%s: lookup of dbltest.com %d, want %d", c->what,
		    got, c->lookup);
		if (c->kind == HOSTS_OTHER) {
			/* the second registered domain, then the hosts */
			got = lookup_state_of(s, "example.com");
			CASE_CHECK(bad, got == 1, i, "%s: example.com %d", c->what, got);
			got = lookup_state_of(s, "a99.example.com");
			CASE_CHECK(bad, got == 0, i, "%s: a99.example.com %d", c->what, got);
		}
		CASE_CHECK(bad, scan_cuts(s) == c->cuts, i, "%s: cuts %s, want %s", c->what,
		    scan_cut_names(scan_cuts(s), names, sizeof(names)),
		    scan_cut_names(c->cuts, names + 64, 64));
		/* a cut is scored and named; nothing else hits */
		if (c->cuts) {
			scan_cut_names(c->cuts, names, sizeof(names));
			CASE_CHECK(bad, sc->nhits == 1 && sc->hits[0].sym == SYM_SCAN_TRUNCATED &&
			    strcmp(sc->hits[0].detail, names) == 0 && sc->total == 3.0, i,
			    "%s: %zu hits, first %s(%s)", c->what, sc->nhits,
			    sc->nhits ? symbol_name(sc->hits[0].sym) : "-",
			    sc->nhits ? sc->hits[0].detail : "");
		} else
			CASE_CHECK(bad, sc->nhits == 0, i, "%s: %zu hits, first %s", c->what, sc->nhits,
			    sc->nhits ? symbol_name(sc->hits[0].sym) : "-");
		scan_free(s);
		free(b.p);
	}
	assert_int_equal(bad, 0);
}

/* The lookup budget of scan_input is the plan's: max_lookups names. */
static void
test_budget(void **state)
{
	struct sb b = { 0 };
	struct scan_input in = { 0 };
	struct scan *s;
	size_t n, planned = 0, over = 0;
	const struct scan_lookup *l;

	build_urls_one_part(&b, 30, false);
	in.max_lookups = 10;
	s = scan_start(&in, b.p, b.n, NULL, NULL);
	l = scan_lookups(s, &n);
	for (size_t i = 0; i < n; i++) {
		if (l[i].state == LOOKUP_SKIPPED)
			planned++;
		else if (l[i].state == LOOKUP_OVER_BUDGET)
			over++;
		/* the sender domain first (tier 0), then registered
		 * domains, then further hosts */
		if (i == 0)
			assert_string_equal(l[i].item, "sender.example");
		if (i == 1)
			assert_string_equal(l[i].item, "pad0-clean.com");
	}
	assert_int_equal(planned, 10);
	assert_int_equal(over, n - 10);
	/* offline, nothing was looked up: the budget cut nothing */
	assert_int_equal(scan_cuts(s), 0);
	scan_free(s);
	free(b.p);
}

/* The names of the caps, as SCAN_TRUNCATED's detail and the log show. */
static void
test_cut_names(void **state)
{
	char out[128], text[160];

	assert_string_equal(scan_cut_names(0, out, sizeof(out)), "");
	assert_string_equal(scan_cut_names(SCAN_CUT_DEPTH, out, sizeof(out)), "depth");
	assert_string_equal(scan_cut_names(SCAN_CUT_SIZE | SCAN_CUT_PARTS | SCAN_CUT_TEXT |
	    SCAN_CUT_ITEMS | SCAN_CUT_LOOKUPS | SCAN_CUT_DEPTH, out, sizeof(out)),
	    "message_size+depth+parts+text_size+items+lookups");
	/* a short buffer holds whole names only */
	assert_string_equal(scan_cut_names(SCAN_CUT_DEPTH | SCAN_CUT_PARTS, out, 10), "depth");
	for (unsigned i = 0; i < SCAN_CUT_COUNT; i++) {
		scan_cut_text((enum scan_cut)(1u << i), text, sizeof(text));
		assert_true(strlen(text) > 10 && strcmp(text, "?") != 0);
	}
	assert_non_null(strstr(scan_cut_text(SCAN_CUT_DEPTH, text, sizeof(text)), "24"));
}

/* Fields that had fixed buffers: read whole within their caps, and a
 * cap that cuts says so (no silent truncation left). */
static void
test_long_fields(void **state)
{
	struct scan_input in = { 0 };
	struct sb b = { 0 };
	struct scan *s;
	char *enc;
	size_t el;

	/* a Subject padded past the old 2,048 octets */
	sb_add(&b, "From: a@sender.example\r\nSubject: ");
	for (int i = 0; i < 500; i++)
		sb_add(&b, "padding ");
	sb_add(&b, "http://dbltest.com/x\r\n\r\nbody\r\n");
	s = scan_start(&in, b.p, b.n, NULL, NULL);
	assert_true(has_host(s, "dbltest.com"));
	assert_int_equal(scan_cuts(s), 0);
	scan_free(s);
	free(b.p);

	/* one encoded word longer than the old 1,024 octets */
	memset(&b, 0, sizeof(b));
	{
		char plain[3000];
		static const char b64[] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		size_t pl = 0, o = 0;
		memset(plain, ' ', 2500);
		pl = 2500;
		pl += (size_t)snprintf(plain + pl, sizeof(plain) - pl, "www.dbltest.com");
		enc = malloc(pl * 2 + 8);
		for (size_t i = 0; i < pl; i += 3) {
			unsigned v = (unsigned char)plain[i] << 16;
			if (i + 1 < pl)
				v |= (unsigned char)plain[i + 1] << 8;
			if (i + 2 < pl)
				v |= (unsigned char)plain[i + 2];
			enc[o++] = b64[(v >> 18) & 63];
			enc[o++] = b64[(v >> 12) & 63];
			enc[o++] = i + 1 < pl ? b64[(v >> 6) & 63] : '=';
			enc[o++] = i + 2 < pl ? b64[v & 63] : '=';
		}
		el = o;
	}
	sb_add(&b, "From: a@sender.example\r\nSubject: =?UTF-8?B?%.*s?=\r\n\r\nbody\r\n",
	    (int)el, enc);
	free(enc);
	s = scan_start(&in, b.p, b.n, NULL, NULL);
	assert_true(has_host(s, "www.dbltest.com"));
	scan_free(s);
	free(b.p);

	/* past SUBJECT_MAX: cut, and said */
	memset(&b, 0, sizeof(b));
	sb_add(&b, "From: a@sender.example\r\nSubject: ");
	for (int i = 0; i < 9000; i++)
		sb_add(&b, "padding ");
	sb_add(&b, "http://dbltest.com/x\r\n\r\nbody\r\n");
	s = scan_start(&in, b.p, b.n, NULL, NULL);
	assert_int_equal(scan_cuts(s), SCAN_CUT_TEXT);
	assert_true(score_has(scan_score(s), SYM_SCAN_TRUNCATED));
	scan_free(s);
	free(b.p);

	/* a fifth sender domain has no room: said */
	memset(&b, 0, sizeof(b));
	sb_add(&b, "From: a@one.example\r\nReply-To: b@two.example\r\nReply-To: c@three.example\r\n"
	    "Return-Path: <d@four.example>\r\nReply-To: e@five.example\r\nSubject: s\r\n\r\nx\r\n");
	s = scan_start(&in, b.p, b.n, NULL, NULL);
	assert_int_equal(scan_cuts(s), SCAN_CUT_ITEMS);
	scan_free(s);
	free(b.p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_cut_names),
		cmocka_unit_test(test_long_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
