/*
 * Injection: the same spool path as SMTP (spool_create, spool_finish),
 * the same durability rule (nothing is scheduled before its sync).
 */
#include "inject.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/xmalloc.h"
#include "monitor/log.h"

struct pending {
	struct scheduler *sc;
	struct spool_envelope env;
};

static void
on_synced(void *arg, int status)
{
	struct pending *p = arg;

	if (status == 0)
		scheduler_add(p->sc, &p->env, false);
	else
		log_event("error", "id=%s reason=\"injected message not durable: %s\"", p->env.id,
		    strerror(status));
	spool_envelope_clear(&p->env);
	free(p);
}

int
inject_message(struct scheduler *sc, struct groupsync *gs, const char *data_dir,
    const char *hostname, const char *rcpt, const char *mailbox, const char *text)
{
	struct pending *p = xcalloc(1, sizeof(*p));
	struct spool_writer *w;
	int rc = 0;

	spool_new_id(p->env.id);
	p->env.time = time(NULL);
	p->env.from = xstrdup("");
	p->env.client = xstrdup("127.0.0.1");
	p->env.helo = xstrdup(hostname);
	p->env.rcpts = xcalloc(1, sizeof(struct spool_rcpt));
	p->env.rcpts[0].addr = xstrdup(rcpt);
	p->env.rcpts[0].mailbox = xstrdup(mailbox);
	p->env.nrcpts = 1;
	p->sc = sc;
	if ((w = spool_create(data_dir, &p->env)) == NULL) {
		spool_envelope_clear(&p->env);
		free(p);
		return -1;
	}
	/* CRLF lines, whatever the caller wrote */
	for (const char *s = text; *s && rc == 0;) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);
		if (n > 0 && s[n - 1] == '\r')
			n--;
		rc = spool_write(w, s, n);
		if (rc == 0)
			rc = spool_write(w, "\r\n", 2);
		s = nl ? nl + 1 : s + strlen(s);
	}
	if (rc != 0) {
		int saved = errno;
		spool_abort(w);
		spool_envelope_clear(&p->env);
		free(p);
		errno = saved;
		return -1;
	}
	if (spool_finish(w, NULL) == -1) {
		int saved = errno;
		spool_envelope_clear(&p->env);
		free(p);
		errno = saved;
		return -1;
	}
	groupsync_request(gs, on_synced, p);
	return 0;
}
