/*
 * Autoconfig documents. Both name the same three services: IMAP over TLS
 * (Dovecot, 993), submission over TLS (465, RFC 8314's preference) and
 * submission with STARTTLS (587); logins are the full address, as
 * postern's accounts are. The autodiscover request is not parsed as
 * general XML: only the one element we need is taken, from a bounded
 * body that must look like the 2006 request schema.
 */
#include "autoconfig.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"

int
autoconfig_address_ok(const char *s, const char **domain)
{
	const char *at = strrchr(s, '@');
	size_t n = strlen(s);

	if (n == 0 || n >= AUTOCONFIG_ADDRESS_MAX || at == NULL || at == s || at[1] == '\0')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || strchr("<>&\"'\\()[],;:", c))
			return 0;
	}
	for (const char *d = at + 1; *d; d++)
		if (!((*d >= 'a' && *d <= 'z') || (*d >= 'A' && *d <= 'Z') ||
		    (*d >= '0' && *d <= '9') || *d == '-' || *d == '.'))
			return 0;
	if (domain != NULL)
		*domain = at + 1;
	return 1;
}

/* hostname and domain come from the configuration (checked DNS names),
 * still escaped: what goes into XML is never trusted blindly. */
static void
xml_put(FILE *f, const char *s)
{
	for (; *s; s++)
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		default: fputc(*s, f);
		}
}

char *
autoconfig_thunderbird(const char *hostname, const char *domain)
{
	static const struct {
		const char *type, *port, *socket;
	} servers[] = {
		{ "imap", "993", "SSL" },
		{ "smtp", "465", "SSL" },
		{ "smtp", "587", "STARTTLS" },
	};
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<clientConfig version=\"1.1\">\n"
	    "  <emailProvider id=\"", f);
	xml_put(f, domain);
	fputs("\">\n    <domain>", f);
	xml_put(f, domain);
	fputs("</domain>\n    <displayName>", f);
	xml_put(f, domain);
	fputs("</displayName>\n    <displayShortName>", f);
	xml_put(f, domain);
	fputs("</displayShortName>\n", f);
	for (size_t i = 0; i < sizeof(servers) / sizeof(servers[0]); i++) {
		bool in = strcmp(servers[i].type, "imap") == 0;
		fprintf(f, "    <%s type=\"%s\">\n      <hostname>", in ? "incomingServer" :
		    "outgoingServer", servers[i].type);
		xml_put(f, hostname);
		fprintf(f, "</hostname>\n      <port>%s</port>\n      <socketType>%s</socketType>\n"
		    "      <authentication>password-cleartext</authentication>\n"
		    "      <username>%%EMAILADDRESS%%</username>\n    </%s>\n", servers[i].port,
		    servers[i].socket, in ? "incomingServer" : "outgoingServer");
	}
	fputs("  </emailProvider>\n</clientConfig>\n", f);
	fclose(f);
	return out;
}

/* The text between open and close tags (no attributes), searched in
 * [buf, buf+len); NULL when absent. */
static const char *
element(const char *buf, size_t len, const char *name, size_t *vlen)
{
	char open[64], close[64];
	const char *s, *e;
	size_t ol;

	snprintf(open, sizeof(open), "<%s>", name);
	snprintf(close, sizeof(close), "</%s>", name);
	ol = strlen(open);
	if ((s = memmem(buf, len, open, ol)) == NULL)
		return NULL;
	s += ol;
	if ((e = memmem(s, len - (size_t)(s - buf), close, strlen(close))) == NULL)
		return NULL;
	*vlen = (size_t)(e - s);
	return s;
}

int
autodiscover_request_address(const char *buf, size_t len, char *out, const char **why)
{
	const char *req, *addr;
	size_t rlen, alen;

	if (len > AUTODISCOVER_BODY_MAX) {
		*why = "request body too large";
		return -1;
	}
	if (memmem(buf, len, "<Autodiscover", 13) == NULL ||
	    (req = element(buf, len, "Request", &rlen)) == NULL) {
		*why = "not an autodiscover request (no <Autodiscover> with <Request>)";
		return -1;
	}
	if ((addr = element(req, rlen, "EMailAddress", &alen)) == NULL) {
		*why = "no <EMailAddress> in the request";
		return -1;
	}
	while (alen > 0 && (*addr == ' ' || *addr == '\t' || *addr == '\r' || *addr == '\n'))
		addr++, alen--;
	while (alen > 0 && (addr[alen - 1] == ' ' || addr[alen - 1] == '\t' ||
	    addr[alen - 1] == '\r' || addr[alen - 1] == '\n'))
		alen--;
	if (alen == 0 || alen >= AUTOCONFIG_ADDRESS_MAX || memchr(addr, '\0', alen) != NULL) {
		*why = "empty or over-long <EMailAddress>";
		return -1;
	}
	memcpy(out, addr, alen);
	out[alen] = '\0';
	if (!autoconfig_address_ok(out, NULL)) {
		*why = "<EMailAddress> is not an address";
		out[0] = '\0';
		return -1;
	}
	return 0;
}

char *
autodiscover_response(const char *hostname, const char *address)
{
	static const struct {
		const char *type, *port, *encryption;
	} protos[] = {
		{ "IMAP", "993", "SSL" },
		{ "SMTP", "465", "SSL" },
		{ "SMTP", "587", "TLS" },	/* TLS: STARTTLS in this schema */
	};
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	fputs("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	    "<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">\n"
	    "  <Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a\">\n"
	    "    <Account>\n      <AccountType>email</AccountType>\n      <Action>settings</Action>\n", f);
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		fprintf(f, "      <Protocol>\n        <Type>%s</Type>\n        <Server>", protos[i].type);
		xml_put(f, hostname);
		fprintf(f, "</Server>\n        <Port>%s</Port>\n        <LoginName>", protos[i].port);
		xml_put(f, address);
		fprintf(f, "</LoginName>\n        <DomainRequired>off</DomainRequired>\n"
		    "        <SPA>off</SPA>\n        <SSL>on</SSL>\n        <Encryption>%s</Encryption>\n"
		    "        <AuthRequired>on</AuthRequired>\n", protos[i].encryption);
		if (strcmp(protos[i].type, "SMTP") == 0)
			fputs("        <UsePOPAuth>off</UsePOPAuth>\n        <SMTPLast>off</SMTPLast>\n", f);
		fputs("      </Protocol>\n", f);
	}
	fputs("    </Account>\n  </Response>\n</Autodiscover>\n", f);
	fclose(f);
	return out;
}
