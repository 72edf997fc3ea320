/*
 * Where reports go: the rua= of a DMARC record (RFC 7489 6.4, 7.1) and of
 * a TLS-RPT record (RFC 8460 3), as mailto: addresses checked to be safe
 * in an envelope and a header. https: destinations are counted, not kept:
 * postern reports by mail only. Pure.
 */
#ifndef POSTERN_REPORT_RUA_H
#define POSTERN_REPORT_RUA_H

#include <stdbool.h>
#include <stddef.h>

/* RFC 7489 6.2: receivers may limit the URIs they send to; two is
 * common practice and bounds what one DNS record can make us send. */
#define RUA_MAX 2
#define RUA_ADDR_MAX 320

struct rua_list {
	char addr[RUA_MAX][RUA_ADDR_MAX];	/* "local@domain", domain lower case */
	unsigned long long limit[RUA_MAX];	/* "!10m": octets, 0: none */
	size_t n;
	size_t https;				/* https: URIs skipped */
	size_t dropped;				/* bad or past RUA_MAX */
};

/* The rua= of a DMARC record. -1 when txt is not "v=DMARC1..." */
int rua_from_dmarc(const char *txt, size_t len, struct rua_list *out);
/* The rua= of a TLS-RPT record. -1 when txt is not "v=TLSRPTv1..." */
int rua_from_tlsrpt(const char *txt, size_t len, struct rua_list *out);
/* RFC 7489 7.1: a verification record at
 * <policy domain>._report._dmarc.<rua domain> starts with v=DMARC1. */
bool rua_verify_record(const char *txt, size_t len);
/* The domain of an address in a rua_list (after the '@'). */
const char *rua_domain(const char *addr);

#endif
