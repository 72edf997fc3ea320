/*
 * ES256 signing for ACME. OpenSSL signs ECDSA in DER (SEQUENCE of r, s);
 * JWS wants r and s as two 32-octet big-endian numbers (RFC 7518 3.4).
 */
#include "jws.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"

#define P256_OCTETS 32

char *
jws_b64url(const void *data, size_t len)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = data;
	char *out = xmalloc(len / 3 * 4 + 5), *o = out;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		*o++ = tab[p[i] >> 2];
		*o++ = tab[(p[i] & 3) << 4 | p[i + 1] >> 4];
		*o++ = tab[(p[i + 1] & 15) << 2 | p[i + 2] >> 6];
		*o++ = tab[p[i + 2] & 63];
	}
	if (len - i == 1) {
		*o++ = tab[p[i] >> 2];
		*o++ = tab[(p[i] & 3) << 4];
	} else if (len - i == 2) {
		*o++ = tab[p[i] >> 2];
		*o++ = tab[(p[i] & 3) << 4 | p[i + 1] >> 4];
		*o++ = tab[(p[i + 1] & 15) << 2];
	}
	*o = '\0';
	return out;
}

EVP_PKEY *
jws_key_new(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

/* The affine coordinates, each padded to 32 octets. */
static int
coordinates(EVP_PKEY *key, unsigned char x[P256_OCTETS], unsigned char y[P256_OCTETS])
{
	BIGNUM *bx = NULL, *by = NULL;
	char curve[32];
	int rc = -1;

	if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, curve,
	    sizeof(curve), NULL) != 1 || strcmp(curve, "prime256v1") != 0)
		return -1;
	if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &bx) == 1 &&
	    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &by) == 1 &&
	    BN_bn2binpad(bx, x, P256_OCTETS) == P256_OCTETS &&
	    BN_bn2binpad(by, y, P256_OCTETS) == P256_OCTETS)
		rc = 0;
	BN_free(bx);
	BN_free(by);
	return rc;
}

char *
jws_jwk(EVP_PKEY *key)
{
	unsigned char x[P256_OCTETS], y[P256_OCTETS];
	char *bx, *by, *out;

	if (coordinates(key, x, y) == -1)
		return NULL;
	bx = jws_b64url(x, sizeof(x));
	by = jws_b64url(y, sizeof(y));
	out = xasprintf("{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", bx, by);
	free(bx);
	free(by);
	return out;
}

char *
jws_thumbprint(EVP_PKEY *key)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char *jwk = jws_jwk(key);

	if (jwk == NULL)
		return NULL;
	SHA256((const unsigned char *)jwk, strlen(jwk), md);
	free(jwk);
	return jws_b64url(md, sizeof(md));
}

/* ES256 over input; the 64-octet r||s, base64url. */
static char *
sign_es256(EVP_PKEY *key, const char *input)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char der[128], raw[2 * P256_OCTETS];
	const unsigned char *p = der;
	size_t derlen = sizeof(der);
	ECDSA_SIG *sig = NULL;
	char *out = NULL;

	if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, der, &derlen, (const unsigned char *)input, strlen(input)) != 1 ||
	    (sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) == NULL)
		goto out;
	if (BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, P256_OCTETS) != P256_OCTETS ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + P256_OCTETS, P256_OCTETS) != P256_OCTETS)
		goto out;
	out = jws_b64url(raw, sizeof(raw));
out:
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	return out;
}

char *
jws_sign(EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
    const char *payload)
{
	char *header, *ph, *pp, *input, *sig, *out = NULL, *jwk = NULL;

	/* nonce and URL come from the CA; they are JSON-safe printable text
	 * (answer.c checks them) */
	if (kid != NULL)
		header = xasprintf("{\"alg\":\"ES256\",\"kid\":\"%s\",\"nonce\":\"%s\",\"url\":\"%s\"}",
		    kid, nonce, url);
	else {
		if ((jwk = jws_jwk(key)) == NULL)
			return NULL;
		header = xasprintf("{\"alg\":\"ES256\",\"jwk\":%s,\"nonce\":\"%s\",\"url\":\"%s\"}",
		    jwk, nonce, url);
	}
	ph = jws_b64url(header, strlen(header));
	pp = jws_b64url(payload, strlen(payload));
	input = xasprintf("%s.%s", ph, pp);
	if ((sig = sign_es256(key, input)) != NULL)
		out = xasprintf("{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\"}",
		    ph, pp, sig);
	free(sig);
	free(input);
	free(pp);
	free(ph);
	free(header);
	free(jwk);
	return out;
}
