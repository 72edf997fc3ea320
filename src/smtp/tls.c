/*
 * TLS context. TLS 1.2 is the floor: mail peers that cannot do it get
 * plain text on port 25 (opportunistic TLS, RFC 3207), which is no worse
 * than a broken handshake, and submission clients all speak 1.2.
 */
#include "tls.h"

#include <openssl/err.h>
#include <string.h>

#include "lib/xmalloc.h"

static char *
ssl_error(const char *what, const char *path)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return xasprintf("%s %s: %s", what, path, e ? buf : "unknown error");
}

SSL_CTX *
tls_server_ctx(const char *cert, const char *key, char **err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		*err = ssl_error("cannot create TLS context", "");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		*err = ssl_error("cannot load certificate", cert);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		*err = ssl_error("cannot load key", key);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*err = ssl_error("key does not match certificate", cert);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

const char *
tls_version(const SSL *ssl)
{
	return ssl ? SSL_get_version(ssl) : "none";
}
