/*
 * Formatting of our Received header (received_hdr.h). The values come
 * from the session, already checked; nothing here reads the network.
 */
#include "received_hdr.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/xmalloc.h"

const char *
received_protocol(bool esmtp, bool tls, bool auth, bool smtputf8)
{
	if (!esmtp)
		return tls ? "SMTPS" : "SMTP";
	/* SMTPUTF8 needs EHLO, so only the extended forms have a UTF8 one */
	if (smtputf8) {
		if (tls)
			return auth ? "UTF8SMTPSA" : "UTF8SMTPS";
		return auth ? "UTF8SMTPA" : "UTF8SMTP";
	}
	if (tls)
		return auth ? "ESMTPSA" : "ESMTPS";
	return auth ? "ESMTPA" : "ESMTP";
}

char *
received_hdr(const struct received_info *ri)
{
	char date[64], forpart[600] = "", authpart[340] = "";
	const char *ip = ri->ip, *tag = "";
	struct tm tm;

	/* RFC 5321 4.1.3 address literals: "[192.0.2.1]", "[IPv6:2001:db8::1]";
	 * an IPv4 client seen on an IPv6 socket is an IPv4 client */
	if (strncasecmp(ip, "::ffff:", 7) == 0 && strchr(ip + 7, '.') != NULL &&
	    strchr(ip + 7, ':') == NULL)
		ip += 7;
	else if (strchr(ip, ':') != NULL)
		tag = "IPv6:";
	localtime_r(&ri->when, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	if (ri->rcpt != NULL)
		snprintf(forpart, sizeof(forpart), " for <%s>", ri->rcpt);
	if (ri->user != NULL)
		snprintf(authpart, sizeof(authpart), " (authenticated as %s)", ri->user);
	return xasprintf("Received: from %s (%s [%s%s]) by %s (postern) with %s id %s%s%s; %s\r\n",
	    ri->helo, ri->rdns ? ri->rdns : "unknown", tag, ip, ri->hostname,
	    received_protocol(ri->esmtp, ri->tls, ri->user != NULL, ri->smtputf8), ri->id, authpart,
	    forpart, date);
}
