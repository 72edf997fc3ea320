/*
 * The doctor's certificate check (SPEC 9): the certificate the server
 * presents must chain to a trusted CA, name the hostname, and not expire
 * within DOCTOR_CERT_DAYS. The file is read as the server reads it (leaf
 * first, then the chain, as certbot's fullchain.pem).
 */
#include "doctor.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/xmalloc.h"

#define CHAIN_MAX 16		/* certificates read after the leaf */

static void
set(struct doctor_finding *out, enum doctor_status st, char *detail, char *fix)
{
	out->name = "certificate";
	out->status = st;
	out->detail = detail;
	out->fix = fix ? fix : xstrdup("");
}

/* The DNS names of the certificate (subjectAltName), comma-separated
 * into out, for the detail. */
static void
names_of(X509 *x, char *out, size_t outlen)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const unsigned char *s;
		int n, len;
		if (g->type != GEN_DNS)
			continue;
		s = ASN1_STRING_get0_data(g->d.dNSName);
		len = ASN1_STRING_length(g->d.dNSName);
		n = snprintf(out + o, outlen - o, "%s%.*s", o ? ", " : "", len, (const char *)s);
		if (n < 0 || (size_t)n >= outlen - o) {
			out[o] = '\0';
			break;
		}
		o += (size_t)n;
	}
	GENERAL_NAMES_free(gens);
	if (o == 0) {
		/* no DNS names: the subject, for the detail only */
		X509_NAME_oneline(X509_get_subject_name(x), out, (int)outlen);
	}
}

/* The trust store: SSL_CERT_FILE alone when set (SPEC 9), else the
 * system's (OpenSSL's default file and directory). */
static X509_STORE *
trust_store(char **why)
{
	X509_STORE *st = X509_STORE_new();
	const char *file = getenv("SSL_CERT_FILE");

	if (st == NULL)
		abort();
	if (file != NULL && *file != '\0') {
		if (X509_STORE_load_file(st, file) != 1) {
			*why = xasprintf("cannot read the trust store SSL_CERT_FILE=%s", file);
			X509_STORE_free(st);
			return NULL;
		}
	} else if (X509_STORE_set_default_paths(st) != 1) {
		*why = xstrdup("cannot load the system trust store");
		X509_STORE_free(st);
		return NULL;
	}
	return st;
}

static void
no_certificate(const char *hostname, struct doctor_finding *out)
{
	set(out, DOCTOR_FAIL,
	    xasprintf("no certificate: tls_cert is not set (or ACME has not issued one yet), so "
	    "submission (587, 465) cannot start and port 25 offers no STARTTLS"),
	    xasprintf("get a certificate for %s (certbot certonly --standalone -d %s) and "
	    "set tls_cert and tls_key, or set acme_email; then reload", hostname, hostname));
}

/* The checks on a certificate (leaf, with its chain) named what. */
static void
check(X509 *leaf, STACK_OF(X509) *chain, const char *what, const char *hostname, time_t now,
    struct doctor_finding *out)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	char names[512], until[64], left[48], *why = NULL;
	int days = 0, secs = 0;
	ASN1_TIME *at_now = NULL;
	BIO *bio = NULL;

	names_of(leaf, names, sizeof(names));
	bio = BIO_new(BIO_s_mem());
	ASN1_TIME_print(bio, X509_get0_notAfter(leaf));
	{
		int n = BIO_read(bio, until, sizeof(until) - 1);
		until[n > 0 ? n : 0] = '\0';
	}
	/* SPEC 9: expiry within DOCTOR_CERT_DAYS is news whatever else is
	 * wrong with the certificate (the server's alert is about it) */
	at_now = ASN1_TIME_set(NULL, now);
	if (at_now == NULL || ASN1_TIME_diff(&days, &secs, at_now, X509_get0_notAfter(leaf)) != 1)
		days = 0, secs = 0;
	if (days < DOCTOR_CERT_DAYS)
		out->flags |= DOCTOR_F_EXPIRY;
	if (days < 0 || (days == 0 && secs <= 0))
		snprintf(left, sizeof(left), "; it has expired");
	else if (days < DOCTOR_CERT_DAYS)
		snprintf(left, sizeof(left), "; it expires in %d days", days);
	else
		left[0] = '\0';
	if ((store = trust_store(&why)) == NULL) {
		set(out, DOCTOR_FAIL, why, xasprintf("check SSL_CERT_FILE or the ca-certificates "
		    "package"));
		goto out;
	}
	ctx = X509_STORE_CTX_new();
	if (ctx == NULL || X509_STORE_CTX_init(ctx, store, leaf, chain) != 1)
		abort();
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), now);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	if (X509_verify_cert(ctx) != 1) {
		int err = X509_STORE_CTX_get_error(ctx);
		set(out, DOCTOR_FAIL,
		    xasprintf("%s (%s, valid until %s) does not chain to a trusted CA: %s%s", what,
		    names, until, X509_verify_cert_error_string(err),
		    err == X509_V_ERR_CERT_HAS_EXPIRED ? "" : left),
		    err == X509_V_ERR_CERT_HAS_EXPIRED ?
		    xasprintf("renew it (certbot renew), then reload postern") :
		    xasprintf("use a certificate from a public CA for %s (certbot certonly "
		    "--standalone -d %s), with its chain (fullchain.pem)", hostname, hostname));
		goto out;
	}
	if (X509_check_host(leaf, hostname, strlen(hostname), 0, NULL) != 1) {
		set(out, DOCTOR_FAIL,
		    xasprintf("%s names %s, not %s (hostname)%s", what, names, hostname, left),
		    xasprintf("get a certificate that names %s (certbot certonly --standalone "
		    "-d %s), or correct hostname", hostname, hostname));
		goto out;
	}
	if (days < DOCTOR_CERT_DAYS) {
		set(out, DOCTOR_WARN,
		    xasprintf("%s (%s) expires in %d days (%s)", what, names, days, until),
		    xasprintf("renew it now (certbot renew; check its timer), then reload postern "
		    "(SIGHUP)"));
		goto out;
	}
	set(out, DOCTOR_OK,
	    xasprintf("%s names %s, chains to a trusted CA, valid until %s (%d days)", what,
	    hostname, until, days), NULL);
out:
	ASN1_TIME_free(at_now);
	BIO_free(bio);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
}

void
doctor_certificate(const char *cert_path, const char *hostname, time_t now,
    struct doctor_finding *out)
{
	STACK_OF(X509) *chain;
	X509 *leaf, *x;
	FILE *f;

	memset(out, 0, sizeof(*out));
	if (cert_path == NULL) {
		no_certificate(hostname, out);
		return;
	}
	if ((f = fopen(cert_path, "re")) == NULL) {
		set(out, DOCTOR_FAIL, xasprintf("cannot read %s: %s", cert_path, strerror(errno)),
		    xasprintf("check tls_cert, and that the file is readable"));
		return;
	}
	leaf = PEM_read_X509(f, NULL, NULL, NULL);
	chain = sk_X509_new_null();
	while (leaf != NULL && sk_X509_num(chain) < CHAIN_MAX &&
	    (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		sk_X509_push(chain, x);
	ERR_clear_error();	/* the read that ended the loop */
	fclose(f);
	if (leaf == NULL)
		set(out, DOCTOR_FAIL, xasprintf("%s holds no PEM certificate", cert_path),
		    xasprintf("point tls_cert at the certificate chain (certbot: fullchain.pem)"));
	else
		check(leaf, chain, cert_path, hostname, now, out);
	sk_X509_pop_free(chain, X509_free);
	X509_free(leaf);
}

void
doctor_certificate_of(const struct config *cfg, time_t now, struct doctor_finding *out)
{
	char *path;
	struct stat st;

	if (cfg->tls_cert != NULL || cfg->acme_email == NULL) {
		doctor_certificate(cfg->tls_cert, cfg->hostname, now, out);
		return;
	}
	/* ACME keeps its certificate there (acme/service.h) */
	path = xasprintf("%s/acme/cert.pem", cfg->data_dir);
	if (stat(path, &st) == 0)
		doctor_certificate(path, cfg->hostname, now, out);
	else {
		memset(out, 0, sizeof(*out));
		set(out, DOCTOR_FAIL,
		    xasprintf("acme_email is set but no certificate was issued yet (%s: %s): "
		    "submission (587, 465) waits for it and port 25 offers no STARTTLS", path,
		    strerror(errno)),
		    xasprintf("start postern and read its event=acme lines: the CA must reach "
		    "http://%s/.well-known/acme-challenge/ on port 80 (acme_http_listen), so the "
		    "A/AAAA records of %s must point here", cfg->hostname, cfg->hostname));
	}
	free(path);
}

void
doctor_certificate_ctx(const struct ssl_ctx_st *tls, const char *hostname, time_t now,
    struct doctor_finding *out)
{
	/* OpenSSL's getters take a non-const context; nothing is changed */
	SSL_CTX *ctx = (SSL_CTX *)tls;
	STACK_OF(X509) *chain = NULL;
	X509 *leaf;

	memset(out, 0, sizeof(*out));
	if (ctx == NULL || (leaf = SSL_CTX_get0_certificate(ctx)) == NULL) {
		no_certificate(hostname, out);
		return;
	}
	SSL_CTX_get0_chain_certs(ctx, &chain);
	check(leaf, chain, "the certificate in service", hostname, now, out);
}
