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
#define URL_ITEMS_MAX 512

enum url_item_kind {
	URL_ITEM_HOST,		/* host name of a URL or a bare domain */
	URL_ITEM_IP,		/* IP-literal URL host */
	URL_ITEM_EMAIL,		/* domain of an email address */
};

enum url_source { URL_SRC_BODY = 0, URL_SRC_SUBJECT, URL_SRC_HTML_ATTR };

struct url_item {
	enum url_item_kind kind;
	enum url_source source;
	char host[URL_HOST_MAX];	/* normalised host, domain or IP */
	char detail[URL_DETAIL_MAX];	/* the URL or address as found */
};

struct url_set {
	struct url_item *items;
	size_t n, cap;
	bool defanged;		/* read hxxp:// and [.] forms */
	bool truncated;		/* URL_ITEMS_MAX reached */
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
