/*
 * Table tests for URL and domain extraction (src/scan/urls.h): host
 * normalisation as a browser resolves it, the public-suffix test, and
 * extraction from text (schemes, defanged forms, bare www. and domains,
 * email addresses, redirectors) and from HTML attributes. Extraction
 * cases list the items as "h:host" (URL host or bare domain), "i:ip"
 * (IP-literal host) and "e:domain" (email address domain).
 */
#include "unit.h"

#include "scan/urls.h"

/* ---- host normalisation ---- */

struct host_case {
	const char *in;
	int want_kind;		/* URL_ITEM_HOST, URL_ITEM_IP or -1 */
	const char *want;
};

static const struct host_case host_cases[] = {
	{ "example.com", URL_ITEM_HOST, "example.com" },
	{ "Example.COM", URL_ITEM_HOST, "example.com" },
	{ "sub.example.co.uk", URL_ITEM_HOST, "sub.example.co.uk" },
	/* user@ and user:password@ parts are not the host */
	{ "user@example.com", URL_ITEM_HOST, "example.com" },
	{ "user:pass@example.com", URL_ITEM_HOST, "example.com" },
	{ "paypal.com@evil.example", URL_ITEM_HOST, "evil.example" },
	{ "a@b@evil.example", URL_ITEM_HOST, "evil.example" },
	/* percent-encoded hosts */
	{ "%65xample.com", URL_ITEM_HOST, "example.com" },
	{ "evil%2Eexample", URL_ITEM_HOST, "evil.example" },
	{ "%45%56%49%4C.example", URL_ITEM_HOST, "evil.example" },
	{ "user%40x@evil.example", URL_ITEM_HOST, "evil.example" },
	/* a percent-encoded '@' splits the userinfo off too (issue 20, corpus
	 * spam/sa-spam-00133: a browser goes to www.terra.es) */
	{ "www.Smartest_Move_U_Could_Make.com%40w%77%77%2E%74%65%72%72%61%2Ee%73",
	    URL_ITEM_HOST, "www.terra.es" },
	{ "a%40b%40evil.example", URL_ITEM_HOST, "evil.example" },
	{ "evil.example%40", -1, NULL },
	/* labels as DNS has them: "www.dcc-" is half a name (issue 20) */
	{ "www.dcc-", -1, NULL },
	{ "-lead.example", -1, NULL },
	{ "a.-b.example", -1, NULL },
	{ "a-.example", -1, NULL },
	{ "xn--bcher-kva.example", URL_ITEM_HOST, "xn--bcher-kva.example" },
	{ "a-b.example", URL_ITEM_HOST, "a-b.example" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example", URL_ITEM_HOST,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example", -1, NULL },
	/* IDN to punycode */
	{ "b\xc3\xbc" "cher.example", URL_ITEM_HOST, "xn--bcher-kva.example" },
	{ "B\xc3\x9c" "CHER.example", URL_ITEM_HOST, "xn--bcher-kva.example" },
	{ "b%C3%BC" "cher.example", URL_ITEM_HOST, "xn--bcher-kva.example" },
	{ "xn--bcher-kva.example", URL_ITEM_HOST, "xn--bcher-kva.example" },
	/* fullwidth full stop is a dot (UTS 46) */
	{ "example\xef\xbc\x8e" "com", URL_ITEM_HOST, "example.com" },
	{ "example\xe3\x80\x82" "com", URL_ITEM_HOST, "example.com" },
	/* and then the rules of ASCII hosts apply: no trailing dot, no
	 * empty label, no leading dot (found by fuzz_urls) */
	{ "b\xc3\xbc" "cher.example\xe3\x80\x82", URL_ITEM_HOST, "xn--bcher-kva.example" },
	{ "example\xef\xbc\x8e.com", -1, NULL },
	{ "b\xc3\xbc" "cher..example", -1, NULL },
	{ "\xe3\x80\x82" "example.com", -1, NULL },
	/* numeric IPv4 forms, as browsers read them */
	{ "192.168.1.1", URL_ITEM_IP, "192.168.1.1" },
	{ "3232235777", URL_ITEM_IP, "192.168.1.1" },
	{ "0300.0250.0.1", URL_ITEM_IP, "192.168.0.1" },
	{ "0xC0.0xA8.0x1.0x1", URL_ITEM_IP, "192.168.1.1" },
	{ "0xc0.0xa8.0x01.0x01", URL_ITEM_IP, "192.168.1.1" },
	{ "0xC0A80101", URL_ITEM_IP, "192.168.1.1" },
	{ "0xC0.168.01.1", URL_ITEM_IP, "192.168.1.1" },
	{ "192.0x00A8.0401", URL_ITEM_IP, "192.168.1.1" },
	{ "192.11010305", URL_ITEM_IP, "192.168.1.1" },
	{ "127.1", URL_ITEM_IP, "127.0.0.1" },
	{ "%31%39%32.168.1.1", URL_ITEM_IP, "192.168.1.1" },
	/* names made of hex letters are names */
	/* WHATWG URL: a host whose last label is a number is an address or
	 * nothing */
	{ "1.2.3.4.5", -1, NULL },
	{ "example.123", -1, NULL },
	{ "example.0x10", -1, NULL },
	{ "256.1.1.1", -1, NULL },
	{ "1.2.3.256", -1, NULL },
	{ "1.2.65536", -1, NULL },
	{ "1.2.65535", URL_ITEM_IP, "1.2.255.255" },
	{ "09.1.1.1", -1, NULL },
	{ "0x.0x.0x.0x", URL_ITEM_IP, "0.0.0.0" },
	{ "4294967295", URL_ITEM_IP, "255.255.255.255" },
	{ "4294967296", -1, NULL },
	{ "99999999999999999999999", -1, NULL },
	{ "0x100000000", -1, NULL },
	{ "1.2.3.4.", URL_ITEM_IP, "1.2.3.4" },
	{ "1..2", -1, NULL },
	{ "0xg.1.1.1", -1, NULL },
	/* fullwidth digits are digits (UTS 46) */
	{ "\xef\xbc\x91\xef\xbc\x92\xef\xbc\x97.0.0.1", URL_ITEM_IP, "127.0.0.1" },
	/* the last label is a name: a name */
	{ "1.2.3.example", URL_ITEM_HOST, "1.2.3.example" },
	{ "deadbeef.com", URL_ITEM_HOST, "deadbeef.com" },
	{ "cafe.de", URL_ITEM_HOST, "cafe.de" },
	{ "0x.example", URL_ITEM_HOST, "0x.example" },
	/* trailing dot, ports */
	{ "example.com.", URL_ITEM_HOST, "example.com" },
	{ "example.com:8080", URL_ITEM_HOST, "example.com" },
	{ "EXAMPLE.com.:443", URL_ITEM_HOST, "example.com" },
	{ "user:pw@example.com:8080", URL_ITEM_HOST, "example.com" },
	{ "192.0.2.1:80", URL_ITEM_IP, "192.0.2.1" },
	{ "3232235777:8080", URL_ITEM_IP, "192.168.1.1" },
	/* IPv6 literals */
	{ "[2001:db8::1]", URL_ITEM_IP, "2001:db8::1" },
	{ "[2001:DB8:0:0::1]:8443", URL_ITEM_IP, "2001:db8::1" },
	{ "[::ffff:192.0.2.1]", URL_ITEM_IP, "::ffff:192.0.2.1" },
	{ "[2001:db8::1", -1, NULL },
	{ "[not-an-ip]", -1, NULL },
	/* no host */
	{ "", -1, NULL },
	{ "user@", -1, NULL },
	{ ".", -1, NULL },
	{ ":80", -1, NULL },
	{ "exa mple.com", -1, NULL },
	{ "a..b.example", -1, NULL },
	{ ".example.com", -1, NULL },
	{ "ex<ample.com", -1, NULL },
	{ "ex\"ample.com", -1, NULL },
};

static void
test_normalize_host(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(host_cases); i++) {
		const struct host_case *c = &host_cases[i];
		size_t len = strlen(c->in);
		char *in = malloc(len ? len : 1), out[URL_HOST_MAX];
		int kind;

		memcpy(in, c->in, len);
		strcpy(out, "(untouched)");
		kind = url_normalize_host(in, len, out, sizeof(out));
		if (c->want_kind == -1)
			CASE_CHECK(bad, kind == -1, i, "\"%s\": accepted as %d \"%s\"",
			    unit_show(c->in, len), kind, out);
		else
			CASE_CHECK(bad, kind == c->want_kind && strcmp(out, c->want) == 0, i,
			    "\"%s\": got %d \"%s\", want %d \"%s\"", unit_show(c->in, len), kind,
			    kind == -1 ? "" : out, c->want_kind, c->want);
		free(in);
	}
	assert_int_equal(bad, 0);
}

/* A host that does not fit in out is refused, not truncated. */
static void
test_normalize_host_caps(void **state)
{
	char big[400], out[URL_HOST_MAX];

	memset(big, 'a', sizeof(big));
	memcpy(big + sizeof(big) - 4, ".com", 4);
	assert_int_equal(url_normalize_host(big, sizeof(big), out, sizeof(out)), -1);
	assert_int_equal(url_normalize_host("example.com", 11, out, 8), -1);
	assert_int_equal(url_normalize_host("example.com", 11, out, 12), URL_ITEM_HOST);
	assert_string_equal(out, "example.com");
}

struct psl_case {
	const char *name;
	bool want;
};

static const struct psl_case psl_cases[] = {
	{ "example.com", true },
	{ "www.example.com", true },
	{ "example.co.uk", true },
	{ "example.de", true },
	{ "xn--bcher-kva.example.com", true },
	{ "foo.xn--p1ai", true },	/* .рф */
	/* file names are not domains */
	{ "file.txt", false },
	{ "report.pdf", false },
	{ "setup.exe", false },
	{ "index.html", false },
	{ "image.jpeg", false },
	/* a suffix alone has nothing to register */
	{ "com", false },
	{ "co.uk", false },
	{ ".com", false },
	{ "example.", false },
	{ "localhost", false },
	{ "example.invalid", false },
	{ "example.test", false },
	{ "", false },
};

static void
test_public_suffix(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(psl_cases); i++) {
		bool got = url_has_public_suffix(psl_cases[i].name);
		CASE_CHECK(bad, got == psl_cases[i].want, i, "\"%s\": got %d", psl_cases[i].name,
		    (int)got);
	}
	assert_int_equal(bad, 0);
}

/* ---- extraction ---- */

/*
 * Compares the items of s with want, a space-separated list of
 * "h:host", "i:ip", "e:domain". exact: nothing else may be there;
 * nowant: hosts that must not appear under any kind.
 */
static bool
items_match(const struct url_set *s, const char *want, bool exact, const char *nowant,
    char *why, size_t whylen)
{
	char buf[2048];
	size_t found = 0, nwant = 0;
	char *save, *tok;

	why[0] = '\0';
	snprintf(buf, sizeof(buf), "%s", want);
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		enum url_item_kind k = tok[0] == 'i' ? URL_ITEM_IP :
		    tok[0] == 'e' ? URL_ITEM_EMAIL : URL_ITEM_HOST;
		bool hit = false;
		nwant++;
		for (size_t i = 0; i < s->n; i++)
			if (s->items[i].kind == k && strcmp(s->items[i].host, tok + 2) == 0)
				hit = true;
		if (hit)
			found++;
		else
			snprintf(why + strlen(why), whylen - strlen(why), " missing %s;", tok);
	}
	if (nowant != NULL) {
		snprintf(buf, sizeof(buf), "%s", nowant);
		for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
			for (size_t i = 0; i < s->n; i++)
				if (strcmp(s->items[i].host, tok) == 0)
					snprintf(why + strlen(why), whylen - strlen(why),
					    " unwanted %s;", tok);
	}
	if (exact && s->n != nwant)
		snprintf(why + strlen(why), whylen - strlen(why), " %zu items, want %zu;", s->n,
		    nwant);
	return why[0] == '\0';
}

static const char *
items_show(const struct url_set *s)
{
	static char buf[2048];
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < s->n && o + 300 < sizeof(buf); i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%c:%s", i ? " " : "",
		    s->items[i].kind == URL_ITEM_IP ? 'i' :
		    s->items[i].kind == URL_ITEM_EMAIL ? 'e' : 'h', s->items[i].host);
	return buf;
}

struct text_case {
	const char *text;
	bool defanged;
	const char *want;
	bool exact;
	const char *nowant;
};

static const struct text_case text_cases[] = {
	/* schemes */
	{ "Visit http://example.com/path now", false, "h:example.com", true, NULL },
	{ "https://Sub.Example.ORG:8443/x?y=1", false, "h:sub.example.org", true, NULL },
	{ "HTTP://EXAMPLE.COM/", false, "h:example.com", true, NULL },
	{ "ftp://files.example.net/pub", false, "h:files.example.net", true, NULL },
	{ "a http://a.example.com b https://b.example.org c", false,
	    "h:a.example.com h:b.example.org", true, NULL },
	{ "http://example.com http://example.com/again", false, "h:example.com", true, NULL },
	{ "http://%65xample.com/", false, "h:example.com", true, NULL },
	{ "http://b\xc3\xbc" "cher.example/", false, "h:xn--bcher-kva.example", true, NULL },
	{ "http://user:pw@paypal.com@evil.example/login", false, "h:evil.example", false,
	    "paypal.com" },
	/* trailing punctuation belongs to the sentence */
	{ "see http://example.com.", false, "h:example.com", true, NULL },
	{ "see http://example.com/page.", false, "h:example.com", true, NULL },
	{ "(http://example.com/a),", false, "h:example.com", true, NULL },
	{ "<http://example.com/>", false, "h:example.com", true, NULL },
	{ "\"http://example.com/\"", false, "h:example.com", true, NULL },
	{ "http://example.com!", false, "h:example.com", true, NULL },
	{ "go to http://example.com:8080, then", false, "h:example.com", true, NULL },
	/* IP literals, in every numeric form */
	{ "http://192.0.2.1/x", false, "i:192.0.2.1", true, NULL },
	{ "http://3232235777/", false, "i:192.168.1.1", true, NULL },
	{ "http://0300.0250.0.1/", false, "i:192.168.0.1", true, NULL },
	{ "http://0xC0.0xA8.0x1.0x1/", false, "i:192.168.1.1", true, NULL },
	{ "http://[2001:db8::1]:8080/", false, "i:2001:db8::1", true, NULL },
	/* defanged forms, when asked */
	{ "hxxp://evil[.]example/x", true, "h:evil.example", true, NULL },
	{ "hxxps://bad[.]example[.]com/", true, "h:bad.example.com", true, NULL },
	{ "hXXp://evil(.)example.com", true, "h:evil.example.com", true, NULL },
	{ "evil[.]com", true, "h:evil.com", true, NULL },
	{ "evil[dot]com/path", true, "h:evil.com", true, NULL },
	{ "user[at]mail[.]example[.]org", true, "e:mail.example.org", true, NULL },
	{ "hxxp[:]//evil[.]example[.]com", true, "h:evil.example.com", true, NULL },
	{ "hxxp://evil[.]example/x", false, "", true, NULL },
	/* bare www. and bare domains with real TLDs only */
	{ "www.example.net", false, "h:www.example.net", true, NULL },
	{ "Go to WWW.EXAMPLE.COM/page.", false, "h:www.example.com", true, NULL },
	{ "visit example.com today", false, "h:example.com", true, NULL },
	{ "visit shop.example.co.uk/buy?x=1 today", false, "h:shop.example.co.uk", true, NULL },
	{ "Open file.txt and report.pdf, run setup.exe", false, "", true, NULL },
	{ "see index.html or image.jpeg", false, "", true, NULL },
	/* SPEC 5.1: a www. name whatever its TLD (issue 15), if the TLD
	 * looks like one */
	{ "www.nosuchtld and www.bar.localdomain", false, "h:www.nosuchtld h:www.bar.localdomain",
	    true, NULL },
	{ "Visit www.badspam.test today", false, "h:www.badspam.test", true, NULL },
	{ "www.example.123 www.example.c0m www.example.x", false, "", true, NULL },
	{ "www.example.xn--p1ai", false, "h:www.example.xn--p1ai", true, NULL },
	/* a bare word without www. still needs a TLD the list knows */
	{ "badspam.test and foo.nosuchtld", false, "", true, NULL },
	{ "version 1.2.3 costs 3.14", false, "", true, NULL },
	{ "e.g. i.e. etc.", false, "", true, NULL },
	{ "example.com.", false, "h:example.com", true, NULL },
	{ "(example.com)", false, "h:example.com", true, NULL },
	/* email addresses: the domain, not the local part */
	{ "mail me at john.doe@example.org", false, "e:example.org", true, "john.doe" },
	{ "<x@mail.example.co.uk>", false, "e:mail.example.co.uk", true, NULL },
	{ "user@Example.COM.", false, "e:example.com", true, NULL },
	{ "first.last+tag@sub.example.net,", false, "e:sub.example.net", true, NULL },
	{ "not an address: user@localhost or @example.com", false, "", false, "localhost" },
	/* an address's domain, whatever its TLD (SPEC 5.1, issue 15) */
	{ "write to sales@badspam2.test now", false, "e:badspam2.test", true, NULL },
	{ "mailto:someone@badspam2.test", false, "e:badspam2.test", true, NULL },
	{ "user@file.txt", false, "e:file.txt", true, NULL },
	/* but an HTML cid: is no address */
	{ "cid:image001.png@01D3A1B2.C3D4E5F0", false, "", true, NULL },
	{ "user@host.123", false, "", true, NULL },
	/* redirectors: the URL in the query is extracted too */
	{ "http://r.example/?url=http%3A%2F%2Fevil.example%2F", false,
	    "h:r.example h:evil.example", true, NULL },
	{ "https://www.google.com/url?q=https://evil.example.com/x&sa=D", false,
	    "h:www.google.com h:evil.example.com", true, NULL },
	{ "http://r.example/redirect?to=https%3a%2f%2fphish.example.net%2flogin", false,
	    "h:r.example h:phish.example.net", true, NULL },
	{ "http://r.example/go?u=www.target.example.com", false,
	    "h:r.example h:www.target.example.com", true, NULL },
	{ "http://r.example/?a=1&url=http%3A%2F%2F192.0.2.9%2F", false,
	    "h:r.example i:192.0.2.9", true, NULL },
	/* issue 20: a bare word in a URL's path or query, a file path or an
	 * address's local part is no domain (corpus lines) */
	{ "http://use.perl.org/article.pl?sid=02/10/02/1647249", false, "h:use.perl.org", true,
	    "article.pl" },
	{ "http://r.example/go?u=target.example.com&v=Makefile.PL", false, "h:r.example", true,
	    NULL },
	{ "/var/tmp/freetype-2.1.2-root/usr/lib/libttf.so", false, "", true, NULL },
	{ "edit /etc/mail/sendmail.cf and reload", false, "", true, NULL },
	{ "/usr/local/lib/perl5/site_perl/5.6.1/Razor2/Client/Config.pm", false, "", true, NULL },
	{ "C:\\Program Files\\app\\setup.pl", false, "", true, NULL },
	{ "see 60_whitelist.cf and local_scan.py", false, "", true, NULL },
	{ "write to jan.kowalski.pl@example.com", false, "e:example.com", true, NULL },
	{ "mail first.last+tag@example.org", false, "e:example.org", true, NULL },
	/* a URL broken across a line: no junk host from its first half */
	{ "> http://www.rhyolite.com/anti-spam/dcc/ and http://www.dcc-\n> servers.net/dcc/",
	    false, "h:www.rhyolite.com", false, "www.dcc- www.dcc" },
	{ "see www.dcc-\r\nservers.net", false, "", false, "www.dcc- www.dcc" },
	/* a name that is itself a public suffix: nothing registered under
	 * it for a blocklist to list */
	{ "http://iki.fi/ http://dyndns.org/x user@blogspot.com", false, "", true, NULL },
	{ "http://www.iki.fi/ http://foo.dyndns.org/", false, "h:www.iki.fi h:foo.dyndns.org",
	    true, NULL },
	/* a scheme URL's host whatever its TLD */
	{ "http://badspam.test/x https://a.b.nosuchtld/", false, "h:badspam.test h:a.b.nosuchtld",
	    true, NULL },
	/* protocol-relative in a query: a URL for the browser it is sent to
	 * (SPEC 5.1), any TLD; not in a path, not in prose */
	{ "http://r.example/go?next=//evil.test/x", false, "h:r.example h:evil.test", true, NULL },
	{ "http://r.example/go?a=1&next=%2F%2Fevil.example.com%2F", false,
	    "h:r.example h:evil.example.com", true, NULL },
	{ "http://r.example//not.example/ and //prose.example/", false, "h:r.example", true, NULL },
	/* IPv4 as browsers read it, in text too; a host ending in a number
	 * that is no address is nothing (WHATWG URL) */
	{ "http://3232235777/ and http://0xC0.0xA8.257/", false, "i:192.168.1.1 i:192.168.1.1", false,
	    NULL },
	{ "http://1.2.3.4.5/ http://example.123/ http://09.1.1.1/ http://256.1.1.1/", false, "",
	    true, NULL },
	/* a host without a dot is no item */
	{ "http://localhost/x http://intranet:8080/", false, "", true, NULL },
	{ "", false, "", true, NULL },
};

static void
test_from_text(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(text_cases); i++) {
		const struct text_case *c = &text_cases[i];
		size_t len = strlen(c->text);
		char *in = malloc(len ? len : 1), why[512];
		struct url_set s;

		memcpy(in, c->text, len);
		url_set_init(&s, c->defanged);
		urls_from_text(&s, in, len, URL_SRC_BODY);
		CASE_CHECK(bad, items_match(&s, c->want, c->exact, c->nowant, why, sizeof(why)), i,
		    "\"%s\":%s got [%s]", unit_show(c->text, len), why, items_show(&s));
		url_set_clear(&s);
		free(in);
	}
	assert_int_equal(bad, 0);
}

struct html_case {
	const char *html;
	const char *want;
	const char *nowant;
};

static const struct html_case html_cases[] = {
	{ "<a href=\"http://example.com/\">x</a>", "h:example.com", NULL },
	{ "<a HREF = 'http://upper.example.com/'>x</a>", "h:upper.example.com", NULL },
	{ "<img src='https://img.example.net/a.png'>", "h:img.example.net", NULL },
	{ "<form action=http://form.example.org/post method=post>", "h:form.example.org", NULL },
	{ "<a href=http://unq.example.com>x</a>", "h:unq.example.com", NULL },
	/* entities inside attributes */
	{ "<a href=\"http&#58;&#47;&#47;evil&#46;example&#x2F;login\">", "h:evil.example", NULL },
	{ "<a href=\"&#104;&#116;&#116;&#112;&#115;://numeric.example.com/\">",
	    "h:numeric.example.com", NULL },
	{ "<a href=\"http://a.example.com/?x=1&amp;url=http%3A%2F%2Fhidden.example.net%2F\">",
	    "h:a.example.com h:hidden.example.net", NULL },
	/* tab, CR and LF are removed anywhere in an attribute URL */
	{ "<a href=\"ht\ttp://tab.example.com/\">", "h:tab.example.com", NULL },
	{ "<a href=\"http://cr\r\nlf.example.com/\">", "h:crlf.example.com", NULL },
	{ "<a href=\"http://ent&#x0A;ity.example.com/\">", "h:entity.example.com", NULL },
	{ "<a href=\"h&#x09;ttp://tabent.example.com/\">", "h:tabent.example.com", NULL },
	{ "<a href=\"  http://spaced.example.com/  \">", "h:spaced.example.com", NULL },
	/* protocol-relative */
	{ "<a href=\"//proto.example.com/path\">", "h:proto.example.com", NULL },
	{ "<a href=\" //proto2.example.com/path \">", "h:proto2.example.com", NULL },
	{ "<a href=\"&#x2F;&#x2F;pr.example.com/\">", "h:pr.example.com", NULL },
	{ "<img src=\"//192.0.2.7/pixel.gif\">", "i:192.0.2.7", NULL },
	/* any TLD in attributes too */
	{ "<a href=\"http://www.badspam.test/\">x</a>", "h:www.badspam.test", NULL },
	{ "<a href=\"mailto:someone@badspam2.test\">x</a>", "e:badspam2.test", NULL },
	{ "<a href=\"//cdn.badspam.test/x\">x</a>", "h:cdn.badspam.test", NULL },
	{ "<p>www.badspam.test</p>", "h:www.badspam.test", NULL },
	{ "<img src=\"cid:image001.png@01D3A1B2.C3D4E5F0\">", "", "01d3a1b2.c3d4e5f0" },
	{ "<a href=\"http://0x7f.1/\">", "i:127.0.0.1", NULL },
	/* mailto: */
	{ "<a href=\"mailto:someone@mail.example.org\">write</a>", "e:mail.example.org", NULL },
	{ "<a href=\"mailto:someone&#64;mail2.example.org?subject=hi\">", "e:mail2.example.org",
	    NULL },
	/* visible text */
	{ "<p>Visit www.visible.example.com today</p>", "h:www.visible.example.com", NULL },
	{ "<p>Go to http&#58;//text.example.com</p>", "h:text.example.com", NULL },
	{ "<p>evil&#46;example&#46;com</p>", "h:evil.example.com", NULL },
	/* several attributes and tags */
	{ "<a href=\"http://one.example.com/\"><img src=\"http://two.example.com/i.png\"></a>"
	  "<form action=\"https://three.example.com/\">",
	    "h:one.example.com h:two.example.com h:three.example.com", NULL },
	/* the name of another attribute is not ours */
	{ "<a title=\"href\" href=\"http://real.example.com/\">", "h:real.example.com", NULL },
	/* issue 20, corpus spam/sa-spam-00133 */
	{ "<p><a href=\"http://www.Smartest_Move_U_Could_Make.com%40w%77%77%2E%74%65%72%72%61%2Ee%73"
	  "/pe%72%73o%6E%61%6C9/chunk102/\"><font face=\"Arial\"><b>CL", "h:www.terra.es",
	    "www.smartest_move_u_could_make.com" },
	/* file names in attributes are not domains */
	{ "<img src=\"images/logo.png\"><a href=\"page.html\">", "", "logo.png page.html" },
	/* unterminated tag and attribute */
	{ "<a href=\"http://unterminated.example.com/", "h:unterminated.example.com", NULL },
	{ "", "", NULL },
};

static void
test_from_html(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(html_cases); i++) {
		const struct html_case *c = &html_cases[i];
		size_t len = strlen(c->html);
		char *in = malloc(len ? len : 1), why[512];
		struct url_set s;

		memcpy(in, c->html, len);
		url_set_init(&s, false);
		urls_from_html(&s, in, len);
		CASE_CHECK(bad, items_match(&s, c->want, false, c->nowant, why, sizeof(why)), i,
		    "\"%s\":%s got [%s]", unit_show(c->html, len), why, items_show(&s));
		url_set_clear(&s);
		free(in);
	}
	assert_int_equal(bad, 0);
}

/* Sources, details, deduplication and the item cap. */
static void
test_items(void **state)
{
	struct url_set s;
	char *big;
	size_t o = 0;

	url_set_init(&s, false);
	urls_from_text(&s, S("Win at http://subject.example.com/ now"), URL_SRC_SUBJECT);
	urls_from_text(&s, S("body: http://subject.example.com/again http://body.example.com/x"),
	    URL_SRC_BODY);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.items[0].host, "subject.example.com");
	assert_int_equal(s.items[0].source, URL_SRC_SUBJECT);
	/* the detail is the URL as found */
	assert_string_equal(s.items[0].detail, "http://subject.example.com/");
	assert_string_equal(s.items[1].host, "body.example.com");
	assert_int_equal(s.items[1].source, URL_SRC_BODY);
	assert_string_equal(s.items[1].detail, "http://body.example.com/x");
	assert_false(s.items_cut);
	url_set_clear(&s);
	assert_int_equal(s.n, 0);

	/* a host and an email domain that agree are two items */
	url_set_init(&s, false);
	urls_from_text(&s, S("http://example.org/ and me@example.org"), URL_SRC_BODY);
	assert_int_equal(s.n, 2);
	url_set_clear(&s);

	/* details are printable and bounded */
	url_set_init(&s, false);
	big = malloc(4096);
	o = (size_t)snprintf(big, 4096, "http://long.example.com/");
	while (o < 1000)
		big[o++] = 'a';
	urls_from_text(&s, big, o, URL_SRC_BODY);
	assert_int_equal(s.n, 1);
	assert_true(strlen(s.items[0].detail) < URL_DETAIL_MAX);
	url_set_clear(&s);

	/* past URL_ITEMS_SOFT only new registered domains get in (issue 19:
	 * 600 hosts of one domain hid the listed one after them) */
	url_set_init(&s, false);
	o = 0;
	big = realloc(big, 256 * 1024);
	for (int i = 0; i < URL_ITEMS_SOFT + 100; i++)
		o += (size_t)snprintf(big + o, 256 * 1024 - o, "http://h%d.example.com/ ", i);
	o += (size_t)snprintf(big + o, 256 * 1024 - o, "http://dbltest.com/x me@listed.example.org");
	urls_from_text(&s, big, o, URL_SRC_BODY);
	assert_int_equal(s.n, URL_ITEMS_SOFT + 2);
	assert_true(s.items_cut);
	assert_string_equal(s.items[URL_ITEMS_SOFT].host, "dbltest.com");
	assert_true(s.items[URL_ITEMS_SOFT].new_reg);
	assert_string_equal(s.items[URL_ITEMS_SOFT + 1].host, "listed.example.org");
	assert_int_equal(s.items[URL_ITEMS_SOFT + 1].kind, URL_ITEM_EMAIL);
	/* the registered domain is a suffix of the host */
	assert_string_equal(s.items[1].host + s.items[1].reg, "example.com");
	assert_true(s.items[0].new_reg);
	assert_false(s.items[1].new_reg);
	url_set_clear(&s);

	/* and at most URL_ITEMS_MAX items of any kind */
	url_set_init(&s, false);
	o = 0;
	for (int i = 0; i < URL_ITEMS_MAX + 20; i++)
		o += (size_t)snprintf(big + o, 256 * 1024 - o, "http://h%d.example%d.com/ ", i, i);
	urls_from_text(&s, big, o, URL_SRC_BODY);
	assert_int_equal(s.n, URL_ITEMS_MAX);
	assert_true(s.items_cut);
	url_set_clear(&s);

	/* items carry the group the caller set */
	url_set_init(&s, false);
	s.group = 7;
	urls_from_text(&s, S("http://a.example.com/"), URL_SRC_BODY);
	s.group = 9;
	urls_from_text(&s, S("http://a.example.com/ http://b.example.net/"), URL_SRC_BODY);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.items[0].group, 7);
	assert_int_equal(s.items[1].group, 9);
	url_set_clear(&s);
	free(big);
	url_set_clear(&s);	/* twice is harmless */
}

/* One URL, one attribute: read whole up to URL_MAX octets, a cut said
 * (text_cut); inline data: URIs are no cut. */
static void
test_long_urls(void **state)
{
	struct url_set s;
	char *big = malloc(200 * 1024);
	size_t o;

	/* a redirect target behind 3,000 octets of path padding */
	o = (size_t)sprintf(big, "http://r.example/?pad=");
	memset(big + o, 'A', 3000);
	o += 3000;
	o += (size_t)sprintf(big + o, "&url=http%%3A%%2F%%2Fhidden.example.net%%2F x");
	url_set_init(&s, false);
	urls_from_text(&s, big, o, URL_SRC_BODY);
	assert_true(s.n == 2 && strcmp(s.items[1].host, "hidden.example.net") == 0);
	assert_false(s.text_cut);
	url_set_clear(&s);

	/* the same in an attribute */
	o = (size_t)sprintf(big, "<a href=\"http://r.example/?pad=");
	memset(big + o, 'A', 3000);
	o += 3000;
	o += (size_t)sprintf(big + o, "&url=http%%3A%%2F%%2Fhidden.example.net%%2F\">x</a>");
	url_set_init(&s, false);
	urls_from_html(&s, big, o);
	assert_true(s.n == 2 && strcmp(s.items[1].host, "hidden.example.net") == 0);
	assert_false(s.text_cut);
	url_set_clear(&s);

	/* longer than URL_MAX: cut there, and said */
	o = (size_t)sprintf(big, "http://r.example/");
	memset(big + o, 'A', 100000);
	o += 100000;
	url_set_init(&s, false);
	urls_from_text(&s, big, o, URL_SRC_BODY);
	assert_true(s.text_cut);
	url_set_clear(&s);
	o = (size_t)sprintf(big, "<a href=\"http://r.example/");
	memset(big + o, 'A', 100000);
	o += 100000;
	o += (size_t)sprintf(big + o, "\">");
	url_set_init(&s, false);
	urls_from_html(&s, big, o);
	assert_true(s.text_cut);
	url_set_clear(&s);

	/* a large inline image is no cut */
	o = (size_t)sprintf(big, "<img src=\" data:image/png;base64,");
	memset(big + o, 'Q', 150000);
	o += 150000;
	o += (size_t)sprintf(big + o, "\"><a href=\"http://after.example.com/\">");
	url_set_init(&s, false);
	urls_from_html(&s, big, o);
	assert_false(s.text_cut);
	assert_true(s.n == 1 && strcmp(s.items[0].host, "after.example.com") == 0);
	url_set_clear(&s);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize_host),
		cmocka_unit_test(test_normalize_host_caps),
		cmocka_unit_test(test_public_suffix),
		cmocka_unit_test(test_from_text),
		cmocka_unit_test(test_from_html),
		cmocka_unit_test(test_items),
		cmocka_unit_test(test_long_urls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
