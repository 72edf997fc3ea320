/*
 * TLSA records and OpenSSL's DANE verifier. Records come from the
 * network: every length is checked before use, and a record we cannot
 * use is counted (RFC 7672 2.2: with only unusable records, TLS is still
 * required, authentication is not) rather than guessed at.
 */
#include "dane.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"

enum dane_rr
dane_tlsa_parse(const char *rdata, size_t len, unsigned *usage, unsigned *selector,
    unsigned *mtype, const unsigned char **data, size_t *dlen)
{
	if (len < 4)
		return DANE_MALFORMED;	/* RFC 6698 2.1: three octets and the data */
	*usage = (unsigned char)rdata[0];
	*selector = (unsigned char)rdata[1];
	*mtype = (unsigned char)rdata[2];
	*data = (const unsigned char *)rdata + 3;
	*dlen = len - 3;
	/* RFC 7672 3.1.3: PKIX-TA(0) and PKIX-EE(1) are not for SMTP */
	if (*usage != 2 && *usage != 3)
		return DANE_UNUSABLE;
	if (*selector > 1)
		return DANE_UNUSABLE;
	switch (*mtype) {
	case 0:
		return *dlen <= DANE_DATA_MAX ? DANE_USABLE : DANE_UNUSABLE;
	case 1:
		return *dlen == 32 ? DANE_USABLE : DANE_UNUSABLE;
	case 2:
		return *dlen == 64 ? DANE_USABLE : DANE_UNUSABLE;
	default:
		return DANE_UNUSABLE;
	}
}

void
dane_records_add(struct dane_records *r, const char *rdata, size_t len)
{
	unsigned usage, selector, mtype;
	const unsigned char *data;
	size_t dlen;
	struct dane_tlsa *t;

	if (dane_tlsa_parse(rdata, len, &usage, &selector, &mtype, &data, &dlen) != DANE_USABLE ||
	    r->n == DANE_TLSA_MAX) {
		r->unusable++;
		return;
	}
	t = &r->rec[r->n++];
	t->usage = (unsigned char)usage;
	t->selector = (unsigned char)selector;
	t->mtype = (unsigned char)mtype;
	t->len = dlen;
	t->data = xmalloc(dlen);
	memcpy(t->data, data, dlen);
}

void
dane_records_clear(struct dane_records *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->rec[i].data);
	memset(r, 0, sizeof(*r));
}

int
dane_ctx_enable(SSL_CTX *ctx)
{
	return SSL_CTX_dane_enable(ctx) > 0 ? 0 : -1;
}

int
dane_apply(SSL *ssl, const char *base, const struct dane_records *r)
{
	int taken = 0;

	if (SSL_dane_enable(ssl, base) <= 0)
		return -1;
	/* RFC 7672 3.1.1: a DANE-EE match needs no name in the certificate */
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	for (size_t i = 0; i < r->n; i++) {
		const struct dane_tlsa *t = &r->rec[i];
		int rc = SSL_dane_tlsa_add(ssl, t->usage, t->selector, t->mtype, t->data, t->len);
		if (rc < 0)
			return -1;
		taken += rc > 0;
	}
	return taken;
}

const char *
dane_matched(SSL *ssl)
{
	uint8_t usage, selector, mtype;
	const unsigned char *data;
	size_t dlen;

	if (SSL_get0_dane_tlsa(ssl, &usage, &selector, &mtype, &data, &dlen) < 0)
		return NULL;
	return usage == 3 ? "EE" : usage == 2 ? "TA" : NULL;
}
