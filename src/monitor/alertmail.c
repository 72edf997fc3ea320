/*
 * Alert mails: a list filled by alert_mailer_queue() and emptied by one
 * loop event into the queue (inject_message), each a plain text message
 * from MAILER-DAEMON marked Auto-Submitted.
 */
#include "alertmail.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "queue/inject.h"
#include "queue/spool.h"

struct pending_mail {
	struct pending_mail *next;
	char *subject, *body;
};

struct alert_mailer {
	struct config *const *cfg;
	struct scheduler *sched;
	struct groupsync *gs;
	char *(*route)(void *arg, const char *addr);
	void *route_arg;
	struct event *ev;
	struct pending_mail *list;
};

static void
pending_free(struct pending_mail *p)
{
	free(p->subject);
	free(p->body);
	free(p);
}

/* Where the alert goes: the address's Maildirs, postmaster's when it is
 * ours without a mailbox, SPOOL_REMOTE (NULL) when it is not ours. */
static char *
alert_mailbox(struct alert_mailer *m, const struct config *cfg)
{
	char *mailbox = m->route(m->route_arg, cfg->alert_address);
	const char *at = strrchr(cfg->alert_address, '@');

	if (mailbox == NULL && at && config_is_local_domain(cfg, at + 1, strlen(at + 1))) {
		log_event("warning", "reason=\"alert_address %s has no mailbox: alert delivered to postmaster@%s\"",
		    cfg->alert_address, cfg->domains[0]);
		mailbox = xasprintf("%s/postmaster", cfg->domains[0]);
	}
	return mailbox;
}

static void
send_alerts(evutil_socket_t fd, short what, void *arg)
{
	struct alert_mailer *m = arg;
	struct pending_mail *list = m->list;

	if (m->sched == NULL)
		return;	/* not attached yet: they stay listed */
	m->list = NULL;
	while (list != NULL) {
		struct pending_mail *next = list->next;
		const struct config *cfg = *m->cfg;
		char date[64], *text, *mailbox;
		time_t now = time(NULL);
		struct tm tm;

		localtime_r(&now, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
		text = xasprintf("From: postern <MAILER-DAEMON@%s>\nTo: <%s>\nSubject: %s\nDate: %s\n"
		    "Message-ID: <alert.%lld.%p@%s>\nAuto-Submitted: auto-generated\n"
		    "Content-Type: text/plain; charset=utf-8\n\n%s", cfg->hostname, cfg->alert_address,
		    list->subject, date, (long long)now, (void *)list, cfg->hostname, list->body);
		mailbox = alert_mailbox(m, cfg);
		if (inject_message(m->sched, m->gs, cfg->data_dir, cfg->hostname, cfg->alert_address,
		    mailbox ? mailbox : SPOOL_REMOTE, text) == -1)
			log_event("error", "reason=\"cannot queue the alert mail: %s\"", strerror(errno));
		free(mailbox);
		free(text);
		pending_free(list);
		list = next;
	}
}

struct alert_mailer *
alert_mailer_new(struct event_base *base, struct config *const *cfg,
    char *(*route)(void *arg, const char *addr), void *route_arg)
{
	struct alert_mailer *m = xcalloc(1, sizeof(*m));

	m->cfg = cfg;
	m->route = route;
	m->route_arg = route_arg;
	m->ev = event_new(base, -1, 0, send_alerts, m);
	return m;
}

void
alert_mailer_attach(struct alert_mailer *m, struct scheduler *sched, struct groupsync *gs)
{
	m->sched = sched;
	m->gs = gs;
}

void
alert_mailer_free(struct alert_mailer *m)
{
	if (m == NULL)
		return;
	event_free(m->ev);
	while (m->list) {
		struct pending_mail *next = m->list->next;
		pending_free(m->list);
		m->list = next;
	}
	free(m);
}

void
alert_mailer_queue(void *arg, const char *subject, const char *body)
{
	struct alert_mailer *m = arg;
	struct pending_mail *p = xcalloc(1, sizeof(*p));

	p->subject = xstrdup(subject);
	p->body = xstrdup(body);
	p->next = m->list;
	m->list = p;
	event_active(m->ev, EV_TIMEOUT, 0);
}
