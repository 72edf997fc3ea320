/*
 * ACME renewal on the loop. One issuance at a time, on its own thread;
 * the thread reports through a pipe and the loop writes the files
 * (lib/durable: key first, then the certificate, so a crash between the
 * two leaves a pair that does not match, which start-up treats as
 * missing), installs the pair, and arms the next renewal.
 */
#include "service.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acme/acme.h"
#include "acme/challenge.h"
#include "acme/csr.h"
#include "acme/jws.h"
#include "lib/durable.h"
#include "lib/xmalloc.h"
#include "monitor/log.h"

#define ACME_RETRY_FIRST 120		/* seconds; doubles per failure: Let's Encrypt
					 * allows 5 failed validations per hour */
#define ACME_RETRY_MAX 3600
#define ACME_CHECK_MAX 86400		/* re-check the expiry at least daily */
#define ACME_ALERT_FAILURES 3		/* with a certificate in use */

struct acme_service {
	struct event_base *base;
	struct acme_challenge *ch;
	acme_install_fn *install;
	void *arg;
	char *dir, *account_path, *cert_path, *key_path;
	char *directory, *email, *ca_file, *hostname;
	EVP_PKEY *account_key;
	bool have_cert;			/* one is in service */
	time_t not_before, not_after;	/* of the one in service */
	unsigned failures;		/* in a row */
	struct event *timer;		/* next renewal or retry */
	struct event *done_ev;		/* the worker finished */
	int pipe[2];
	pthread_t thread;
	bool running;
	atomic_bool cancel;
	/* the worker's result, read by the loop after the pipe says so */
	int rc;
	struct acme_result result;
	char *error;
};

static void start_issue(struct acme_service *s);

/* notBefore and notAfter of the first certificate in pem. */
static int
cert_times(const char *pem, size_t len, time_t *nb, time_t *na, char *serial, size_t slen)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	struct tm tm;
	int rc = -1;

	if (x != NULL && ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm) == 1) {
		*nb = timegm(&tm);
		if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) {
			BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
			char *hex = bn ? BN_bn2hex(bn) : NULL;
			*na = timegm(&tm);
			snprintf(serial, slen, "%s", hex ? hex : "?");
			OPENSSL_free(hex);
			BN_free(bn);
			rc = 0;
		}
	}
	X509_free(x);
	BIO_free(b);
	return rc;
}

/* Arms the timer secs from now. */
static void
arm(struct acme_service *s, time_t secs)
{
	struct timeval tv = { secs > 0 ? secs : 0, 0 };

	evtimer_add(s->timer, &tv);
}

/* RFC 8555 leaves renewal timing to the client: when less than a third of
 * the lifetime is left (30 of 90 days at Let's Encrypt). */
static void
schedule_renewal(struct acme_service *s, time_t nb, time_t na)
{
	time_t renew = na - (na - nb) / 3, now = time(NULL), wait = renew - now;

	s->not_before = nb;
	s->not_after = na;
	if (wait > ACME_CHECK_MAX)
		wait = ACME_CHECK_MAX;
	arm(s, wait);
}

/* Puts pem in service; 0 when taken. */
static int
use(struct acme_service *s, const char *cert, size_t clen, const char *key, size_t klen,
    const char *source)
{
	time_t nb, na;
	char serial[128], until[32];
	struct tm tm;

	if (cert_times(cert, clen, &nb, &na, serial, sizeof(serial)) == -1 ||
	    s->install(s->arg, cert, clen, key, klen) == -1)
		return -1;
	s->have_cert = true;
	gmtime_r(&na, &tm);
	strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
	log_event("acme", "status=%s name=%s serial=%s not_after=%s", source, s->hostname, serial,
	    until);
	schedule_renewal(s, nb, na);
	return 0;
}

static void *
worker(void *arg)
{
	struct acme_service *s = arg;
	const char *names[1] = { s->hostname };
	struct acme_params p = {
		.directory = s->directory,
		.email = s->email,
		.ca_file = s->ca_file,
		.names = names,
		.nnames = 1,
		.account_key = s->account_key,
		.publish = (void (*)(void *, const char *, const char *))acme_challenge_publish,
		.withdraw = (void (*)(void *, const char *))acme_challenge_withdraw,
		.arg = s->ch,
		.cancel = &s->cancel,
	};
	char byte = 1;

	s->rc = acme_issue(&p, &s->result, &s->error);
	(void)!write(s->pipe[1], &byte, 1);
	return NULL;
}

static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	struct acme_service *s = arg;
	char buf[16], q[1024];
	time_t delay;

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	if (!s->running)
		return;
	pthread_join(s->thread, NULL);
	s->running = false;
	if (s->rc == 0) {
		size_t kl = strlen(s->result.key_pem), cl = strlen(s->result.cert_pem);
		if (durable_write_file(s->key_path, s->result.key_pem, kl, 0600) == -1 ||
		    durable_write_file(s->cert_path, s->result.cert_pem, cl, 0644) == -1) {
			free(s->error);
			s->error = xasprintf("cannot keep the certificate in %s: %s", s->dir,
			    strerror(errno));
			s->rc = -1;
		} else if (use(s, s->result.cert_pem, cl, s->result.key_pem, kl, "issued") == -1) {
			free(s->error);
			s->error = xstrdup("the CA's certificate does not load");
			s->rc = -1;
		}
		explicit_bzero(s->result.key_pem, kl);
	}
	free(s->result.cert_pem);
	free(s->result.key_pem);
	memset(&s->result, 0, sizeof(s->result));
	if (s->rc == 0) {
		s->failures = 0;
		free(s->error);
		s->error = NULL;
		return;
	}
	s->failures++;
	delay = ACME_RETRY_FIRST;
	for (unsigned i = 1; i < s->failures && delay < ACME_RETRY_MAX; i++)
		delay *= 2;
	if (delay > ACME_RETRY_MAX)
		delay = ACME_RETRY_MAX;
	log_quote(q, sizeof(q), s->error, strlen(s->error));
	log_event("acme", "status=failed name=%s failures=%u retry_in=%llds reason=%s",
	    s->hostname, s->failures, (long long)delay, q);
	/* SPEC 9: an alert when there is nothing to serve (submission is
	 * closed) or renewal keeps failing while the clock runs */
	if (!s->have_cert || s->failures >= ACME_ALERT_FAILURES)
		log_event("alert", "kind=certificate name=%s failures=%u reason=%s", s->hostname,
		    s->failures, q);
	free(s->error);
	s->error = NULL;
	arm(s, delay);
}

static void
start_issue(struct acme_service *s)
{
	if (s->running)
		return;
	log_event("acme", "status=ordering name=%s directory=%s", s->hostname, s->directory);
	s->rc = -1;
	s->running = true;
	if (pthread_create(&s->thread, NULL, worker, s) != 0) {
		s->running = false;
		log_event("error", "reason=\"ACME: cannot start a thread: %s\"", strerror(errno));
		arm(s, ACME_RETRY_FIRST);
	}
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct acme_service *s = arg;
	time_t now = time(NULL), renew = s->not_after - (s->not_after - s->not_before) / 3;

	/* a retry after a failure, the renewal point, or the daily look */
	if (s->failures == 0 && s->have_cert && renew > now) {
		arm(s, renew - now > ACME_CHECK_MAX ? ACME_CHECK_MAX : renew - now);
		return;
	}
	start_issue(s);
}

/* The account key: made once, kept (RFC 8555 7.3: the key is the account). */
static EVP_PKEY *
account_key(const char *path, char **err)
{
	struct stat st;
	char *pem = durable_slurp(path, &st), *out;
	EVP_PKEY *k;

	if (pem != NULL) {
		k = csr_key_from_pem(pem, strlen(pem));
		explicit_bzero(pem, strlen(pem));
		free(pem);
		if (k == NULL)
			*err = xasprintf("ACME account key %s does not load", path);
		return k;
	}
	if (errno != ENOENT) {
		*err = xasprintf("cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	if ((k = jws_key_new()) == NULL || (out = csr_key_pem(k)) == NULL) {
		*err = xstrdup("cannot make an ACME account key");
		EVP_PKEY_free(k);
		return NULL;
	}
	if (durable_write_file(path, out, strlen(out), 0600) == -1) {
		*err = xasprintf("cannot write %s: %s", path, strerror(errno));
		EVP_PKEY_free(k);
		k = NULL;
	}
	explicit_bzero(out, strlen(out));
	free(out);
	return k;
}

struct acme_service *
acme_service_new(struct event_base *base, const struct config *cfg, struct acme_challenge *ch,
    acme_install_fn *install, void *arg, char **err)
{
	struct acme_service *s = xcalloc(1, sizeof(*s));
	char *cert, *key;
	struct stat st;

	s->base = base;
	s->ch = ch;
	s->install = install;
	s->arg = arg;
	s->dir = xasprintf("%s/acme", cfg->data_dir);
	s->account_path = xasprintf("%s/account.key", s->dir);
	s->cert_path = xasprintf("%s/cert.pem", s->dir);
	s->key_path = xasprintf("%s/key.pem", s->dir);
	s->directory = xstrdup(cfg->acme_directory);
	s->email = xstrdup(cfg->acme_email);
	s->ca_file = cfg->acme_ca_file ? xstrdup(cfg->acme_ca_file) : NULL;
	s->hostname = xstrdup(cfg->hostname);
	s->pipe[0] = s->pipe[1] = -1;
	atomic_init(&s->cancel, false);
	if (durable_mkdirs(s->dir, 0700) == -1) {
		*err = xasprintf("cannot create %s: %s", s->dir, strerror(errno));
		goto fail;
	}
	if ((s->account_key = account_key(s->account_path, err)) == NULL)
		goto fail;
	if (pipe2(s->pipe, O_CLOEXEC | O_NONBLOCK) == -1) {
		*err = xasprintf("cannot make a pipe: %s", strerror(errno));
		goto fail;
	}
	acme_global_init();
	s->timer = evtimer_new(base, on_timer, s);
	s->done_ev = event_new(base, s->pipe[0], EV_READ | EV_PERSIST, on_done, s);
	event_add(s->done_ev, NULL);
	/* what an earlier run obtained serves at once, if still good */
	cert = durable_slurp(s->cert_path, &st);
	key = durable_slurp(s->key_path, &st);
	if (cert != NULL && key != NULL &&
	    use(s, cert, strlen(cert), key, strlen(key), "loaded") == 0 &&
	    s->not_after > time(NULL)) {
		/* use() armed the renewal */
	} else {
		s->have_cert = false;
		start_issue(s);
	}
	if (key != NULL)
		explicit_bzero(key, strlen(key));
	free(cert);
	free(key);
	return s;
fail:
	acme_service_free(s);
	return NULL;
}

void
acme_service_free(struct acme_service *s)
{
	if (s == NULL)
		return;
	if (s->running) {
		atomic_store(&s->cancel, true);
		pthread_join(s->thread, NULL);
		free(s->result.cert_pem);
		free(s->result.key_pem);
		free(s->error);
	}
	if (s->timer)
		event_free(s->timer);
	if (s->done_ev)
		event_free(s->done_ev);
	if (s->pipe[0] != -1) {
		close(s->pipe[0]);
		close(s->pipe[1]);
	}
	EVP_PKEY_free(s->account_key);
	free(s->dir);
	free(s->account_path);
	free(s->cert_path);
	free(s->key_path);
	free(s->directory);
	free(s->email);
	free(s->ca_file);
	free(s->hostname);
	free(s);
}
