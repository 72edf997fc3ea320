/*
 * MTA-STS policy fetches on worker threads. A job belongs to the loop
 * until its thread starts, to the thread until it writes the job's
 * address into the pipe, and to the loop again after: the two never
 * touch a job at the same time. The thread never logs; the loop does.
 */
#include "mtasts_fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/xmalloc.h"
#include "queue/mtasts_policy.h"

#define FETCH_TIMEOUT_MAX 60	/* seconds: RFC 8461 leaves it to us; a minute is generous */

struct job {
	struct job *next;
	struct mtasts_fetch *f;
	char *host;
	struct curl_slist *resolve;	/* HOST:443:ADDR,... (CURLOPT_RESOLVE) */
	mtasts_fetch_cb *cb;
	void *arg;
	pthread_t thread;
	/* written by the thread */
	char *body;
	size_t len;
	bool too_large;
	long status;
	char ctype[128];
	char err[CURL_ERROR_SIZE + 64];
	CURLcode rc;
};

struct mtasts_fetch {
	struct event_base *base;
	unsigned parallel, timeout, running;
	struct job *waiting, *last_waiting;	/* not started yet, in order */
	struct job *active;			/* threads running (loop's list) */
	int pipe[2];
	struct event *ev;
	atomic_bool cancel;
};

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct job *j = arg;
	size_t add = size * n;

	if (j->len + add > MTASTS_POLICY_MAX) {
		j->too_large = true;
		return 0;	/* libcurl stops with CURLE_WRITE_ERROR */
	}
	j->body = xrealloc(j->body, j->len + add + 1);
	memcpy(j->body + j->len, p, add);
	j->len += add;
	j->body[j->len] = '\0';
	return add;
}

static int
on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct mtasts_fetch *f = arg;

	return atomic_load(&f->cancel);
}

static void *
worker(void *arg)
{
	struct job *j = arg;
	struct mtasts_fetch *f = j->f;
	CURL *c = curl_easy_init();
	char url[512], errbuf[CURL_ERROR_SIZE] = "";
	const char *ca = getenv("SSL_CERT_FILE");
	char *ct = NULL;

	if (c == NULL) {
		snprintf(j->err, sizeof(j->err), "cannot start libcurl");
		goto done;
	}
	snprintf(url, sizeof(url), "https://%s/.well-known/mta-sts.txt", j->host);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	/* RFC 8461 3.3: "Senders MUST NOT follow redirects" (the default;
	 * said here so no later change of defaults turns it on) */
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_RESOLVE, j->resolve);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)f->timeout);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)f->timeout);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	/* SPEC 12: libcurl does not read SSL_CERT_FILE by itself; when set,
	 * it is the whole trust store (no CA directory besides it) */
	if (ca != NULL && *ca != '\0') {
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
		curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	}
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MTASTS_POLICY_MAX);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "postern-mta-sts");
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, j);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, f);
	j->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &j->status);
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != NULL)
		snprintf(j->ctype, sizeof(j->ctype), "%s", ct);
	if (j->rc != CURLE_OK)
		snprintf(j->err, sizeof(j->err), "%s", errbuf[0] ? errbuf : curl_easy_strerror(j->rc));
	curl_easy_cleanup(c);
done:
	/* a pointer is less than PIPE_BUF: the write is atomic */
	(void)!write(f->pipe[1], &j, sizeof(j));
	return NULL;
}

static void start_waiting(struct mtasts_fetch *f);

/* text/plain, with or without parameters (RFC 8461 3.2) */
static bool
is_text_plain(const char *ct)
{
	size_t n = strcspn(ct, "; \t");

	return n == 10 && strncasecmp(ct, "text/plain", 10) == 0;
}

static void
job_free(struct job *j)
{
	curl_slist_free_all(j->resolve);
	free(j->host);
	free(j->body);
	free(j);
}

/* The verdict of a finished job, on the loop. */
static void
report(struct job *j)
{
	char why[sizeof(j->err) + 64];

	if (j->too_large || j->rc == CURLE_FILESIZE_EXCEEDED)
		snprintf(why, sizeof(why), "the policy is larger than 64 KiB (RFC 8461 3.3)");
	else if (j->rc != CURLE_OK)
		snprintf(why, sizeof(why), "https://%s/: %s", j->host, j->err);
	else if (j->status / 100 == 3)
		snprintf(why, sizeof(why), "HTTP status %ld: redirects are not followed "
		    "(RFC 8461 3.3)", j->status);
	else if (j->status != 200)
		snprintf(why, sizeof(why), "HTTP status %ld", j->status);
	else if (!is_text_plain(j->ctype))
		snprintf(why, sizeof(why), "Content-Type %s is not text/plain",
		    j->ctype[0] ? j->ctype : "(none)");
	else {
		j->cb(j->arg, j->body ? j->body : "", j->len, NULL);
		return;
	}
	j->cb(j->arg, NULL, 0, why);
}

static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	struct mtasts_fetch *f = arg;
	struct job *j;

	for (int guard = 0; guard < 64; guard++) {
		ssize_t r = read(fd, &j, sizeof(j));
		if (r != (ssize_t)sizeof(j))
			break;
		pthread_join(j->thread, NULL);
		for (struct job **pp = &f->active; *pp; pp = &(*pp)->next)
			if (*pp == j) {
				*pp = j->next;
				break;
			}
		f->running--;
		report(j);
		job_free(j);
	}
	start_waiting(f);
}

static void
start_waiting(struct mtasts_fetch *f)
{
	while (f->running < f->parallel && f->waiting != NULL) {
		struct job *j = f->waiting;

		f->waiting = j->next;
		if (f->waiting == NULL)
			f->last_waiting = NULL;
		j->next = f->active;
		f->active = j;
		f->running++;
		if (pthread_create(&j->thread, NULL, worker, j) != 0) {
			f->active = j->next;
			f->running--;
			j->cb(j->arg, NULL, 0, "cannot start a thread for the fetch");
			job_free(j);
		}
	}
}

struct mtasts_fetch *
mtasts_fetch_new(struct event_base *base, unsigned parallel, unsigned timeout)
{
	struct mtasts_fetch *f = xcalloc(1, sizeof(*f));

	if (pipe2(f->pipe, O_CLOEXEC | O_NONBLOCK) == -1) {
		free(f);
		return NULL;
	}
	/* the write end blocks: a thread must never lose its report */
	fcntl(f->pipe[1], F_SETFL, 0);
	f->base = base;
	f->parallel = parallel ? parallel : 1;
	f->timeout = timeout == 0 || timeout > FETCH_TIMEOUT_MAX ? FETCH_TIMEOUT_MAX : timeout;
	atomic_init(&f->cancel, false);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	f->ev = event_new(base, f->pipe[0], EV_READ | EV_PERSIST, on_done, f);
	event_add(f->ev, NULL);
	return f;
}

void
mtasts_fetch_free(struct mtasts_fetch *f)
{
	if (f == NULL)
		return;
	atomic_store(&f->cancel, true);
	while (f->active != NULL) {
		struct job *j = f->active;
		f->active = j->next;
		pthread_join(j->thread, NULL);
		job_free(j);
	}
	/* the threads' reports name jobs freed above: drain, never follow */
	while (read(f->pipe[0], &(struct job *){ NULL }, sizeof(struct job *)) > 0)
		;
	while (f->waiting != NULL) {
		struct job *j = f->waiting;
		f->waiting = j->next;
		job_free(j);
	}
	event_free(f->ev);
	close(f->pipe[0]);
	close(f->pipe[1]);
	free(f);
}

void
mtasts_fetch_get(struct mtasts_fetch *f, const char *host, const char *const *addrs,
    size_t naddrs, mtasts_fetch_cb *cb, void *arg)
{
	struct job *j = xcalloc(1, sizeof(*j));
	char line[512 + MTASTS_FETCH_ADDRS_MAX * 48];
	size_t o;

	j->f = f;
	j->host = xstrdup(host);
	j->cb = cb;
	j->arg = arg;
	/* our resolver's answers, not the system's: "HOST:443:A,[B]" */
	o = (size_t)snprintf(line, sizeof(line), "%.300s:443:", host);
	for (size_t i = 0; i < naddrs && i < MTASTS_FETCH_ADDRS_MAX && o < sizeof(line); i++)
		o += (size_t)snprintf(line + o, sizeof(line) - o, strchr(addrs[i], ':') ? "%s[%s]" :
		    "%s%s", i ? "," : "", addrs[i]);
	j->resolve = curl_slist_append(NULL, line);
	if (f->last_waiting)
		f->last_waiting->next = j;
	else
		f->waiting = j;
	f->last_waiting = j;
	start_waiting(f);
}
