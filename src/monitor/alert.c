/*
 * Alert de-duplication and wording. The subject of an alert is its kind
 * and what it is about (user=, zone=, client=); the body says what it
 * means and what to do, for an administrator reading it on a phone.
 *
 * This node's table of recent alerts is the first filter (any thread,
 * under a lock). Shared: what passes it waits in a list that a loop
 * timer hands to the shared state as claims ("alert:KIND/ABOUT" for
 * alert_window); only the node whose claim is first mails it. While
 * Redis is away the claim is local, so an alert is never lost, at worst
 * mailed by every node.
 */
#include "alert.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"
#include "monitor/log.h"

#define ALERTS_TRACKED_MAX 256
#define CLAIM_MS 250		/* how often waiting alerts are claimed */

/* An alert that passed this node's filter, to claim before mailing. */
struct waiting {
	struct waiting *next;
	struct alerts *a;
	char key[200];		/* "alert:" + the seen key */
	char *subject, *body;
};

struct seen {
	char key[192];
	time_t at;
};

struct alerts {
	unsigned window;
	alert_send *send;
	void *arg;
	struct seen seen[ALERTS_TRACKED_MAX];
	size_t n;
	pthread_mutex_t lock;		/* seen, n, waiting */
	struct state *st;		/* shared state, or NULL */
	struct event *claim_ev;
	struct waiting *waiting;
};

struct alerts *
alerts_new(unsigned window, alert_send *send, void *arg)
{
	struct alerts *a = xcalloc(1, sizeof(*a));

	a->window = window ? window : 3600;
	a->send = send;
	a->arg = arg;
	pthread_mutex_init(&a->lock, NULL);
	return a;
}

static void
waiting_free(struct waiting *w)
{
	free(w->subject);
	free(w->body);
	free(w);
}

void
alerts_free(struct alerts *a)
{
	if (a == NULL)
		return;
	if (a->claim_ev)
		event_free(a->claim_ev);
	while (a->waiting) {
		struct waiting *n = a->waiting->next;
		waiting_free(a->waiting);
		a->waiting = n;
	}
	pthread_mutex_destroy(&a->lock);
	free(a);
}

void
alerts_set_window(struct alerts *a, unsigned window)
{
	pthread_mutex_lock(&a->lock);
	a->window = window ? window : 3600;
	pthread_mutex_unlock(&a->lock);
}

static const char *
advice(const char *kind)
{
	if (strcmp(kind, "dnsbl") == 0)
		return "The blocklist answers errors or nothing: incoming mail is NOT being checked\n"
		    "against it. Usual cause: queries go through a public resolver (Spamhaus answers\n"
		    "127.255.255.254) or the zone name is wrong. Use a local recursive resolver (leave\n"
		    "dns_servers empty or point it at your own unbound) or set spamhaus_dqs_key.";
	if (strcmp(kind, "ratelimit") == 0)
		return "An account sent more than its limit. New mail from it is held. Check the\n"
		    "account (a stolen password shows first as a burst of mail), change its password\n"
		    "if in doubt, then release legitimate mail with: postern queue release ID";
	if (strcmp(kind, "outbound_spam") == 0)
		return "An authenticated account sent mail that scores as spam: a stolen password or a\n"
		    "hacked script is likely. New mail from it is held. Change the password, then\n"
		    "release legitimate mail with: postern queue release ID";
	if (strcmp(kind, "bounce_ratio") == 0)
		return "Too much of the mail sent recently bounced. Sending to many unknown addresses\n"
		    "is what spammers do, and receivers notice: the server's IP is at risk of being\n"
		    "blocklisted. Find who sends (postern stats), stop it, then release held mail.";
	if (strcmp(kind, "queue_stuck") == 0)
		return "Messages pile up in the queue and none was delivered recently. Check the\n"
		    "log for event=deferred reasons (DNS, network, disk space), and postern queue list.";
	if (strcmp(kind, "queue_corrupt") == 0)
		return "A queue file that was acknowledged (its sender got a 250) is damaged: disk or\n"
		    "file-system trouble, or someone edited it. It was moved, unaltered, to\n"
		    "queue/corrupt/ under the data directory; nothing was delivered from it. See\n"
		    "postern queue list, then postern queue salvage ID to re-queue what can be\n"
		    "saved (the envelope and the message up to the damage). Check the disk.";
	if (strcmp(kind, "reputation") == 0)
		return "Something receivers look at before they accept this server's mail is wrong:\n"
		    "its address is in a Spamhaus list (most receivers then refuse its mail), a\n"
		    "domain of ours is in the DBL, or its address has no PTR naming it. 'reason'\n"
		    "says what was found, 'fix' what to do. A listing after spam left the server\n"
		    "means an account or a script is compromised: find it (postern stats, the\n"
		    "log) before asking for removal. postern doctor shows every check.";
	if (strcmp(kind, "certificate") == 0)
		return "The TLS certificate is about to expire or has expired: mail clients will\n"
		    "refuse to connect and senders that require TLS will stop delivering. Renew it\n"
		    "(certbot renew, or check why ACME failed in the log), then reload postern.";
	if (strcmp(kind, "failed_recipients") == 0)
		return "An account sends to many addresses that do not exist: typical of a harvested\n"
		    "list sent from a stolen account. Its new mail is held; check and release.";
	if (strcmp(kind, "state_backend") == 0)
		return "The shared state (state_backend, Redis) cannot be reached. This node goes on\n"
		    "with its own: limits apply per node, and holds, lockouts and statistics of the\n"
		    "other nodes reach it when Redis is back (it reconnects by itself and logs\n"
		    "event=state_backend status=up). Check that Redis runs, and state_password.";
	if (strcmp(kind, "open_relay") == 0)
		return "The server accepted mail for relay from an unauthenticated client and stopped\n"
		    "itself. Check trusted_networks and the configuration before starting it again.";
	return "See the log for details (event=alert).";
}

void
alerts_observe(void *arg, const char *event, const char *fields)
{
	struct alerts *a = arg;
	char kind[64] = "alert", about[128] = "", key[192], subject[256], *body;
	size_t len = strlen(fields), slot = 0;
	time_t now = time(NULL);
	/* what an alert is about: one mail per account, zone, client, server
	 * address or domain (reputation), certificate name */
	static const char *const subjects[] = { "user", "zone", "client", "account", "ip",
	    "domain", "name" };

	if (strcmp(event, "alert") != 0)
		return;
	logfmt_get(fields, len, "kind", kind, sizeof(kind));
	for (size_t i = 0; i < sizeof(subjects) / sizeof(subjects[0]) && about[0] == '\0'; i++)
		logfmt_get(fields, len, subjects[i], about, sizeof(about));
	snprintf(key, sizeof(key), "%s/%s", kind, about);
	pthread_mutex_lock(&a->lock);
	/* once per kind and subject per window */
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->seen[i].key, key) == 0) {
			if (now - a->seen[i].at < (time_t)a->window) {
				pthread_mutex_unlock(&a->lock);
				return;
			}
			slot = i;
			goto record;
		}
	if (a->n < ALERTS_TRACKED_MAX)
		slot = a->n++;
	else
		for (size_t i = 0; i < a->n; i++)
			if (a->seen[i].at < a->seen[slot].at)
				slot = i;
record:
	snprintf(a->seen[slot].key, sizeof(a->seen[slot].key), "%s", key);
	a->seen[slot].at = now;
	snprintf(subject, sizeof(subject), "[postern alert] %s%s%s", kind, about[0] ? ": " : "", about);
	body = xasprintf("postern raised an alert.\n\n  kind: %s\n  %s\n\n%s\n\n"
	    "Further alerts of this kind about %s are not mailed for %u seconds;\n"
	    "the log keeps every one (grep 'event=alert').\n",
	    kind, fields, advice(kind), about[0] ? about : "this", a->window);
	if (a->st != NULL) {
		/* the nodes agree on who mails it, from the loop */
		struct waiting *w = xcalloc(1, sizeof(*w));
		w->a = a;
		snprintf(w->key, sizeof(w->key), "alert:%s", key);
		w->subject = xstrdup(subject);
		w->body = body;
		w->next = a->waiting;
		a->waiting = w;
		pthread_mutex_unlock(&a->lock);
		return;
	}
	pthread_mutex_unlock(&a->lock);
	a->send(a->arg, subject, body);
	free(body);
}

static void
claimed(void *arg, bool first)
{
	struct waiting *w = arg;

	/* not first: another node mailed it within the window */
	if (first)
		w->a->send(w->a->arg, w->subject, w->body);
	waiting_free(w);
}

/* Loop timer: each waiting alert is claimed; the first claim mails. */
static void
claim_tick(evutil_socket_t fd, short what, void *arg)
{
	struct alerts *a = arg;
	struct waiting *list;
	unsigned window;

	pthread_mutex_lock(&a->lock);
	list = a->waiting;
	a->waiting = NULL;
	window = a->window;
	pthread_mutex_unlock(&a->lock);
	while (list) {
		struct waiting *n = list->next;
		state_claim(a->st, list->key, window, time(NULL), claimed, list);
		list = n;
	}
}

void
alerts_share(struct alerts *a, struct state *st)
{
	struct timeval tv = { 0, CLAIM_MS * 1000 };

	if (!state_shared(st))
		return;
	a->claim_ev = event_new(state_base(st), -1, EV_PERSIST, claim_tick, a);
	event_add(a->claim_ev, &tv);
	pthread_mutex_lock(&a->lock);
	a->st = st;
	pthread_mutex_unlock(&a->lock);
}
