/*
 * Fuzz target for URL and domain extraction. The first octet picks the
 * options (defanged forms, text or HTML first); the rest is the text.
 * Invariants: items are normalised hosts (lower-case ASCII, no empty
 * label, no trailing dot) or addresses inet_pton accepts, details are
 * printable, nothing is duplicated, the item caps hold (past
 * URL_ITEMS_SOFT only new registered domains); a normalised
 * host normalises to itself.
 */
#include "fuzz.h"

#include <arpa/inet.h>
#include <ctype.h>

#include "scan/urls.h"

static void
check_host(const char *h)
{
	size_t l = strlen(h);

	CHECK(l > 0 && l < URL_HOST_MAX);
	CHECK(h[0] != '.' && h[l - 1] != '.' && strstr(h, "..") == NULL);
	for (size_t i = 0; i < l; i++)
		CHECK(isalnum((unsigned char)h[i]) || h[i] == '-' || h[i] == '.' || h[i] == '_');
	for (size_t i = 0; i < l; i++)
		CHECK(!isupper((unsigned char)h[i]));
}

static void
check_ip(const char *ip)
{
	unsigned char bin[16];

	CHECK(inet_pton(AF_INET, ip, bin) == 1 || inet_pton(AF_INET6, ip, bin) == 1);
}

static void
check_set(const struct url_set *s)
{
	CHECK(s->n <= URL_ITEMS_MAX && s->n <= s->cap);
	for (size_t i = 0; i < s->n; i++) {
		const struct url_item *it = &s->items[i];
		CHECK(memchr(it->host, '\0', sizeof(it->host)) != NULL);
		CHECK(memchr(it->detail, '\0', sizeof(it->detail)) != NULL);
		for (const char *p = it->detail; *p; p++)
			CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
		if (it->kind == URL_ITEM_IP)
			check_ip(it->host);
		else {
			check_host(it->host);
			CHECK(strchr(it->host, '.') != NULL);
		}
		for (size_t k = 0; k < i; k++)
			CHECK(!(s->items[k].kind == it->kind && strcmp(s->items[k].host, it->host) == 0));
		/* the registered domain is a suffix of the host, on a label
		 * boundary; past the soft cap only new ones got in */
		CHECK(it->reg <= strlen(it->host));
		CHECK(it->reg == 0 || it->host[it->reg - 1] == '.');
		CHECK(it->group == 3);
		if (i >= URL_ITEMS_SOFT)
			CHECK(it->new_reg);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t opt = size ? data[0] : 0;
	const uint8_t *d = size ? data + 1 : data;
	size_t n = size ? size - 1 : 0;
	char *text = fuzz_copy(d, n);
	struct url_set s;

	url_set_init(&s, opt & 1);
	s.group = 3;
	if (opt & 2) {
		urls_from_html(&s, text, n);
		urls_from_text(&s, text, n, URL_SRC_SUBJECT);
	} else {
		urls_from_text(&s, text, n, URL_SRC_BODY);
		urls_from_html(&s, text, n);
	}
	check_set(&s);
	url_set_clear(&s);
	CHECK(s.n == 0 && s.items == NULL);

	/* the whole input as a host */
	{
		char out[URL_HOST_MAX], again[URL_HOST_MAX];
		int kind = url_normalize_host(text, n, out, sizeof(out));
		CHECK(kind == -1 || kind == URL_ITEM_HOST || kind == URL_ITEM_IP);
		if (kind == URL_ITEM_IP)
			check_ip(out);
		else if (kind == URL_ITEM_HOST) {
			size_t l = strlen(out);
			char *cp;
			check_host(out);
			cp = fuzz_copy((const uint8_t *)out, l);
			CHECK(url_normalize_host(cp, l, again, sizeof(again)) == URL_ITEM_HOST);
			CHECK(strcmp(out, again) == 0);
			free(cp);
			(void)url_has_public_suffix(out);
		}
		/* a small output buffer: refused or fits */
		kind = url_normalize_host(text, n, out, 8);
		if (kind != -1)
			CHECK(strlen(out) < 8);
	}
	free(text);
	return 0;
}
