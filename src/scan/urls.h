/*
 * Extraction of what the blocklists can judge in a message body (SPEC
 * 5.1): URL hosts and bare domains in text and HTML, hosts of email
 * addresses, IP-literal URL hosts. Hosts are normalised as a browser
 * would resolve them: user@ parts dropped, percent- and entity-decoded,
 * IDN to punycode (libidn2), numeric/octal/hex IPv4 forms to dotted quad,
 * lower case, no trailing dot. Defanged forms (hxxp, [.]) are read too
 * when asked. Pure and bounded: a cap on items, on recursion into
 * redirector queries, and on the text examined.
 */
#ifndef POSTERN_SCAN_URLS_H
#define POSTERN_SCAN_URLS_H

#include <stdbool.h>
#include <stddef.h>

#define URL_HOST_MAX 254
#define URL_DETAIL_MAX 200
/*
 * Items kept per message. Past URL_ITEMS_SOFT only an item whose
 * registered domain is new gets in (up to URL_ITEMS_MAX), so hosts of
 * one domain cannot crowd out another domain (SPEC 5.1: padding cannot
 * push a listed name out). Whatever is dropped sets items_cut.
 */
#define URL_ITEMS_SOFT 512
#define URL_ITEMS_MAX 1024
/* Text examined per call; the scanner passes less (SCAN_TEXT_MAX). */
#define URL_TEXT_MAX (32 * 1024 * 1024)

enum url_item_kind {
	URL_ITEM_HOST,		/* host name of a URL or a bare domain */
	URL_ITEM_IP,		/* IP-literal URL host */
	URL_ITEM_EMAIL,		/* domain of an email address */
};

enum url_source { URL_SRC_BODY = 0, URL_SRC_SUBJECT, URL_SRC_HTML_ATTR };

struct url_item {
	enum url_item_kind kind;
	enum url_source source;
	unsigned group;			/* url_set.group when found (the part) */
	unsigned char reg;		/* offset of the registered domain in host
					 * (libpsl); 0 for an IP */
	bool new_reg;			/* first item of its registered domain */
	char host[URL_HOST_MAX];	/* normalised host, domain or IP */
	char detail[URL_DETAIL_MAX];	/* the URL or address as found */
};

struct url_set {
	struct url_item *items;
	size_t n, cap;
	unsigned group;		/* set by the caller, stamped on new items */
	bool defanged;		/* read hxxp:// and [.] forms */
	bool items_cut;		/* an item was dropped (URL_ITEMS_SOFT/MAX) */
	bool text_cut;		/* text past URL_TEXT_MAX was not examined */
	unsigned *slots;	/* open addressing: item index + 1, by host */
	unsigned *regs;		/* same, by registered domain */
	size_t nslots;		/* of each, a power of two */
};

void url_set_init(struct url_set *s, bool defanged);
void url_set_clear(struct url_set *s);

/* Plain text (already decoded to UTF-8). */
void urls_from_text(struct url_set *s, const char *text, size_t len, enum url_source src);
/* HTML: href/src/action attributes read as a browser does, then the
 * entity-decoded text. */
void urls_from_html(struct url_set *s, const char *html, size_t len);

/*
 * Normalises a URL host (between "//" and the path, user@ included) into
 * out. Returns URL_ITEM_HOST or URL_ITEM_IP, or -1 when it is no host.
 */
int url_normalize_host(const char *host, size_t len, char *out, size_t outlen);

/* True when name ends in a real public suffix (libpsl, no "*" rule) and
 * has a registrable part: "example.com" yes, "file.txt" no. */
bool url_has_public_suffix(const char *name);

#endif
