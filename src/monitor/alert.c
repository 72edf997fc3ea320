/*
 * Alert de-duplication and wording. The subject of an alert is its kind
 * and what it is about (user=, zone=, client=); the body says what it
 * means and what to do, for an administrator reading it on a phone.
 */
#include "alert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"
#include "monitor/log.h"

#define ALERTS_TRACKED_MAX 256

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
};

struct alerts *
alerts_new(unsigned window, alert_send *send, void *arg)
{
	struct alerts *a = xcalloc(1, sizeof(*a));

	a->window = window ? window : 3600;
	a->send = send;
	a->arg = arg;
	return a;
}

void
alerts_free(struct alerts *a)
{
	free(a);
}

void
alerts_set_window(struct alerts *a, unsigned window)
{
	a->window = window ? window : 3600;
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
	/* once per kind and subject per window */
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->seen[i].key, key) == 0) {
			if (now - a->seen[i].at < (time_t)a->window)
				return;
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
	a->send(a->arg, subject, body);
	free(body);
}
