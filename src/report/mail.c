/*
 * Report mail: RFC 5322 headers, a MIME multipart of two parts, the
 * attachment in base64 lines of 76 (RFC 2045 6.8).
 */
#include "mail.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"

static char *
base64_lines(const char *in, size_t len)
{
	size_t lines = (len + 56) / 57, o = 0;
	char *out = xmalloc(lines * 78 + 1);

	for (size_t i = 0; i < len; i += 57) {
		size_t n = len - i < 57 ? len - i : 57;
		o += (size_t)EVP_EncodeBlock((unsigned char *)out + o, (const unsigned char *)in + i,
		    (int)n);
		out[o++] = '\r';
		out[o++] = '\n';
	}
	out[o] = '\0';
	return out;
}

char *
report_mail_compose(const struct report_mail *m, time_t now)
{
	unsigned char rnd[12];
	char boundary[64], date[64], mid[40];
	struct tm tm;
	char *b64, *msg;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		memset(rnd, 0x5a, sizeof(rnd));
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(mid + 2 * i, 3, "%02x", rnd[i]);
	snprintf(boundary, sizeof(boundary), "=_postern_report_%s", mid);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	b64 = base64_lines(m->att, m->att_len);
	msg = xasprintf("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\n"
	    "Message-ID: <report.%lld.%s@%s>\r\n%sAuto-Submitted: auto-generated\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: multipart/%s; boundary=\"%s\"\r\n\r\n"
	    "This is a MIME message.\r\n\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n%s\r\n\r\n--%s\r\nContent-Type: %s; name=\"%s\"\r\n"
	    "Content-Disposition: attachment; filename=\"%s\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--%s--\r\n",
	    m->from, m->to, m->subject, date, (long long)now, mid, m->hostname,
	    m->extra_headers ? m->extra_headers : "", m->multipart, boundary, boundary, m->text,
	    boundary, m->att_type, m->filename, m->filename, b64, boundary);
	free(b64);
	return msg;
}
