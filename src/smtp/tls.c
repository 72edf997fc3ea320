/*
 * TLS context. TLS 1.2 is the floor: mail peers that cannot do it get
 * plain text on port 25 (opportunistic TLS, RFC 3207), which is no worse
 * than a broken handshake, and submission clients all speak 1.2. Every
 * context is built from PEM text in memory, so files read by us, by the
 * key reader or written by the ACME client go through one loader. The
 * client side verifies in every handshake and lets its caller decide
 * what a failure costs (opportunistic, required, MTA-STS, DANE).
 */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/durable.h"
#include "lib/keyreader.h"
#include "lib/xmalloc.h"
#include "monitor/log.h"

static char *
ssl_error(const char *what, const char *path)
{
	char buf[256];
	unsigned long e = ERR_peek_last_error();

	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return xasprintf("%s %s: %s", what, path, e ? buf : "unknown error");
}

/* An encrypted key must fail, not prompt on the terminal. */
static int
no_password(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

SSL_CTX *
tls_server_ctx_pem(const char *cert, size_t cert_len, const char *key, size_t key_len,
    const char *cert_name, const char *key_name, char **err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	BIO *b = NULL;
	X509 *x = NULL;
	EVP_PKEY *pk = NULL;

	ERR_clear_error();
	if (ctx == NULL) {
		*err = ssl_error("cannot create TLS context", "");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* the leaf first, then its chain (as SSL_CTX_use_certificate_chain_file) */
	b = BIO_new_mem_buf(cert, (int)cert_len);
	if ((x = PEM_read_bio_X509_AUX(b, NULL, no_password, NULL)) == NULL ||
	    SSL_CTX_use_certificate(ctx, x) != 1) {
		*err = ssl_error("cannot load certificate", cert_name);
		goto fail;
	}
	for (int i = 0; i < 32; i++) {
		X509 *ca = PEM_read_bio_X509(b, NULL, no_password, NULL);
		if (ca == NULL)
			break;
		if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
			X509_free(ca);
			*err = ssl_error("cannot load certificate chain", cert_name);
			goto fail;
		}
	}
	ERR_clear_error();	/* the end of the PEM text */
	BIO_free(b);
	b = BIO_new_mem_buf(key, (int)key_len);
	if ((pk = PEM_read_bio_PrivateKey(b, NULL, no_password, NULL)) == NULL ||
	    SSL_CTX_use_PrivateKey(ctx, pk) != 1) {
		*err = ssl_error("cannot load key", key_name);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*err = ssl_error("key does not match certificate", cert_name);
		goto fail;
	}
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(pk);
	return ctx;
fail:
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(pk);
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *
tls_server_ctx(const char *cert, const char *key, char **err)
{
	struct stat st;
	char *c, *k;
	SSL_CTX *ctx;

	if ((c = durable_slurp(cert, &st)) == NULL) {
		*err = xasprintf("cannot load certificate %s: %s", cert, strerror(errno));
		return NULL;
	}
	if ((k = durable_slurp(key, &st)) == NULL) {
		*err = xasprintf("cannot load key %s: %s", key, strerror(errno));
		free(c);
		return NULL;
	}
	ctx = tls_server_ctx_pem(c, strlen(c), k, strlen(k), cert, key, err);
	explicit_bzero(k, strlen(k));
	free(k);
	free(c);
	return ctx;
}

SSL_CTX *
tls_reload_ctx(struct keyreader *kr, const char *cert, const char *key, char **err)
{
	struct keyfiles f;
	SSL_CTX *ctx;

	if (kr == NULL)
		return tls_server_ctx(cert, key, err);
	if (keyreader_fetch(kr, &f, err) == -1)
		return NULL;
	/* the reader read the file anew: both must name the same files */
	if (f.cert_path == NULL || f.key_path == NULL || strcmp(f.cert_path, cert) != 0 ||
	    strcmp(f.key_path, key) != 0 || f.cert == NULL || f.key == NULL) {
		*err = xasprintf("the configuration changed while the key reader read it (tls_cert %s)",
		    cert);
		keyfiles_clear(&f);
		return NULL;
	}
	ctx = tls_server_ctx_pem(f.cert, f.cert_len, f.key, f.key_len, cert, key, err);
	keyfiles_clear(&f);
	return ctx;
}

int
tls_ctx_cert_info(SSL_CTX *ctx, char *serial, size_t serial_len, time_t *not_before,
    time_t *not_after)
{
	X509 *x = ctx ? SSL_CTX_get0_certificate(ctx) : NULL;
	struct tm tm;

	if (x == NULL)
		return -1;
	if (serial != NULL) {
		BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
		char *hex = bn ? BN_bn2hex(bn) : NULL;
		snprintf(serial, serial_len, "%s", hex ? hex : "?");
		OPENSSL_free(hex);
		BN_free(bn);
	}
	if (not_before != NULL) {
		if (ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm) != 1)
			return -1;
		*not_before = timegm(&tm);
	}
	if (not_after != NULL) {
		if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
			return -1;
		*not_after = timegm(&tm);
	}
	return 0;
}

void
tls_log_cert(SSL_CTX *ctx, const char *source)
{
	X509 *x = ctx ? SSL_CTX_get0_certificate(ctx) : NULL;
	char serial[128], subject[256] = "?", until[32] = "?", q[LOG_VALUE_MAX];
	time_t not_after;
	struct tm tm;

	if (x == NULL || tls_ctx_cert_info(ctx, serial, sizeof(serial), NULL, &not_after) == -1)
		return;
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, subject,
	    sizeof(subject));
	gmtime_r(&not_after, &tm);
	strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
	log_event("certificate", "source=%s subject=%s serial=%s not_after=%s", source,
	    log_quote(q, sizeof(q), subject, strlen(subject)), serial, until);
}

const char *
tls_version(const SSL *ssl)
{
	return ssl ? SSL_get_version(ssl) : "none";
}

int
tls_client_trust(SSL_CTX *ctx, char **err)
{
	const char *file = getenv("SSL_CERT_FILE");

	ERR_clear_error();
	if (file != NULL && *file != '\0') {
		/* SPEC 12: the file overrides the system store, it does not
		 * add to it (as doctor's certificate check reads it) */
		if (X509_STORE_load_file(SSL_CTX_get_cert_store(ctx), file) != 1) {
			*err = ssl_error("cannot read the trust store SSL_CERT_FILE", file);
			return -1;
		}
		return 0;
	}
	if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		*err = ssl_error("cannot load the system trust store", "(OpenSSL default paths)");
		return -1;
	}
	return 0;
}

void
tls_client_expect(SSL *ssl, const char *host)
{
	X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
	unsigned char bin[16];

	if (inet_pton(AF_INET, host, bin) == 1 || inet_pton(AF_INET6, host, bin) == 1) {
		X509_VERIFY_PARAM_set1_ip_asc(vp, host);
		return;
	}
	SSL_set_tlsext_host_name(ssl, host);
	X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	X509_VERIFY_PARAM_set1_host(vp, host, 0);
}

int
tls_client_verified(const SSL *ssl, char *why, size_t len)
{
	long v;

	if (SSL_get0_peer_certificate(ssl) == NULL) {
		snprintf(why, len, "certificate verify failed: no certificate presented");
		return -1;
	}
	v = SSL_get_verify_result(ssl);
	if (v == X509_V_OK)
		return 0;
	snprintf(why, len, "certificate verify failed: %s", X509_verify_cert_error_string(v));
	return -1;
}
