/*
 * Envelope and content policy. Order matters and is the order a client
 * learns things in: nothing here tells an unauthenticated client whether
 * a recipient exists before the blocklists and relay rules have spoken.
 */
#include "envelope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/statvfs.h>
#include <time.h>

#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "policy/local.h"
#include "policy/replies.h"
#include "queue/spool.h"
#include "scan/mime.h"
#include "scan/score.h"

bool
policy_sender_owned(const struct envelope_facts *f, const struct mailaddr *from)
{
	char *mailboxes = NULL, own[ADDR_PATH_MAX + 1];
	const char *at = f->user ? strrchr(f->user, '@') : NULL;
	bool ok = false;

	if (from->null)
		return true;	/* vacation notices and the like */
	if (at == NULL)
		return false;
	snprintf(own, sizeof(own), "%s/%.*s", at + 1, (int)(at - f->user), f->user);
	if (local_resolve(f->cfg, f->users, from, &mailboxes) == LOCAL_OK) {
		char *save = NULL;
		for (char *mb = strtok_r(mailboxes, ",", &save); mb; mb = strtok_r(NULL, ",", &save))
			if (strcasecmp(mb, own) == 0)
				ok = true;
	}
	free(mailboxes);
	return ok;
}

/*
 * SPEC 3: below min_free_space new mail waits; nothing accepted is lost.
 * The free space is asked at most once a second (loop thread only), not
 * at every MAIL: a disk that fills within that second still refuses the
 * message at DATA (a failed write answers 452 4.3.1, session_data.c).
 */
static bool
space_ok(const struct config *cfg)
{
	static struct timespec asked;
	static uint64_t free_bytes;
	static bool known;
	struct timespec now;
	struct statvfs sv;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	if (!known || now.tv_sec != asked.tv_sec) {
		asked = now;
		known = statvfs(cfg->data_dir, &sv) == 0;
		if (known)
			free_bytes = (uint64_t)sv.f_bavail * sv.f_frsize;
	}
	if (!known)
		return true;	/* cannot tell: the write will fail loudly */
	return free_bytes >= cfg->min_free_space;
}

/* Puts the account on hold, with the alert that says why: once for a
 * signal that repeats (limits), every time for outbound spam. */
static void
hold_account(struct holds *holds, const char *user, const char *client_ip, const char *kind,
    const char *why, bool every_time)
{
	char *err = NULL;
	int rc = holds_set(holds, user, kind, &err);

	if (rc == -1) {
		char q[LOG_VALUE_MAX];
		log_event("error", "reason=%s", log_quote(q, sizeof(q), err, strlen(err)));
		free(err);
	}
	if (rc != 1 || every_time)
		log_event("alert", "kind=%s user=%s client=%s reason=\"%s\"", kind, user,
		    client_ip, why);
}

static void
hold(const struct envelope_facts *f, const char *kind, const char *why, bool every_time)
{
	hold_account(f->holds, f->user, f->client_ip, kind, why, every_time);
}

/*
 * SPEC 6.4: n more messages or recipients of the account, within its
 * window; beyond it 450 and the account held: a stolen password shows
 * first as a burst of mail. The window is shared state (SPEC 10): when
 * Redis must be asked, v->wait says so and the session runs the command
 * again with the answer (false is returned: stop deciding for now).
 */
static bool
rate_ok(const struct envelope_facts *f, const char *what, const struct rate *r,
    struct decision *v)
{
	char why[160];

	if (f->user == NULL)
		return true;
	switch (ratelimit_ask(f->rl, f->ask, f->user, what, r, 1, time(NULL))) {
	case STATE_YES:
		return true;
	case STATE_WAIT:
		v->wait = true;
		return false;
	case STATE_NO:
		break;
	}
	decision_refuse(v, "ratelimit", false, RPL_RATE_LIMIT, what, f->user, r->count, r->seconds);
	/* a refusal like any other (rejected{ratelimit}), and the account's
	 * own event for the compromised-account watch */
	log_event("ratelimit", "user=%s client=%s kind=%s limit=%u window=%us", f->user,
	    f->client_ip, what, r->count, r->seconds);
	snprintf(why, sizeof(why),
	    "account over its %s limit: new mail held until released (postern user release)", what);
	hold(f, "ratelimit", why, false);
	return false;
}

void
policy_mail(const struct envelope_facts *f, const struct smtp_params *p,
    const struct mailaddr *from, struct decision *v)
{
	const struct config *cfg = f->cfg;

	decision_init(v);
	if (f->submission && f->user == NULL) {
		decision_refuse(v, "auth_required", true, RPL_AUTH_REQUIRED);
		return;
	}
	if (p->has_size && p->size > cfg->max_message_size) {
		decision_refuse(v, "message_too_big", true, RPL_SIZE_LIMIT);
		return;
	}
	if (from == NULL)
		return;	/* unparseable: the session says why */
	if (!space_ok(cfg)) {
		decision_refuse(v, "disk_full", false, RPL_NO_SPACE);
		return;
	}
	if (!rate_ok(f, "messages", &cfg->user_max_messages, v))
		return;
	if (f->user != NULL && !policy_sender_owned(f, from)) {
		char a[ADDR_PATH_MAX + 1];
		addr_format(from, a, sizeof(a));
		decision_refuse(v, "sender_not_owned", true, RPL_SENDER_NOT_OWNED, a, f->user);
	}
}

struct failed {
	struct holds *holds;
	char user[ADDR_PATH_MAX + 1];
	char client_ip[64];
};

static void
failed_done(void *arg, bool passed)
{
	struct failed *x = arg;

	if (!passed)
		hold_account(x->holds, x->user, x->client_ip, "failed_recipients",
		    "account sends to many unknown recipients: new mail held until released (postern user release)",
		    false);
	free(x);
}

/* SPEC 6.4: many unknown recipients from one account is a
 * compromised-account signal (harvested address lists). The reply does
 * not depend on it: counted in the background (shared state). */
static void
failed_recipient(const struct envelope_facts *f)
{
	struct failed *x;

	if (f->user == NULL)
		return;
	x = xcalloc(1, sizeof(*x));
	x->holds = f->holds;
	snprintf(x->user, sizeof(x->user), "%s", f->user);
	snprintf(x->client_ip, sizeof(x->client_ip), "%s", f->client_ip);
	ratelimit_take(f->rl, f->user, "failed_recipients", &f->cfg->user_max_failed_recipients, 1,
	    time(NULL), failed_done, x);
}

void
policy_rcpt(const struct envelope_facts *f, size_t nrcpts, const struct mailaddr *rcpt,
    const char *addr, char **mailboxes, struct decision *v)
{
	const struct config *cfg = f->cfg;
	char *err = NULL;

	decision_init(v);
	*mailboxes = NULL;
	/* SPEC 4: the blocklist verdict is given here, so the log holds
	 * sender and recipient of every rejection */
	if (f->checks != NULL && !f->dnsbl_exempt) {
		char detail[DNSBL_NAME_MAX * 2 + 128];
		if (checks_reject(f->checks, v->reply, sizeof(v->reply), detail, sizeof(detail))) {
			v->refused = true;
			v->client_error = true;
			v->reason = "dnsbl";
			decision_log(v, " %s", detail);
			return;
		}
	}
	if (!rate_ok(f, "recipients", &cfg->user_max_recipients, v))
		return;
	if (nrcpts >= cfg->max_recipients) {
		decision_refuse(v, "too_many_recipients", false, RPL_TOO_MANY_RCPTS);
		return;
	}
	if (userdb_refresh(f->users, &err) == -1) {
		char t[LOG_VALUE_MAX];
		log_event("error", "reason=%s", log_quote(t, sizeof(t), err, strlen(err)));
		free(err);
	}
	switch (local_resolve(cfg, f->users, rcpt, mailboxes)) {
	case LOCAL_OK:
		return;
	case LOCAL_NOT_LOCAL:
		/* SPEC 6.3: relay needs AUTH or a trusted_networks client;
		 * the address was parsed strictly, so no relay trick gets
		 * here as a local recipient. */
		if (f->user != NULL && f->suppress != NULL) {
			time_t until;
			if (suppress_check(f->suppress, addr, time(NULL), &until)) {
				/* SPEC 10: it bounced as unknown: refused at once,
				 * and a failed recipient of the account */
				struct tm tm;
				char when[32];
				gmtime_r(&until, &tm);
				strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
				decision_refuse(v, "suppressed", true, RPL_SUPPRESSED, addr, when);
				failed_recipient(f);
				return;
			}
		}
		if (f->user != NULL || f->relay_trusted) {
			*mailboxes = xstrdup(SPOOL_REMOTE);
			return;
		}
		decision_refuse(v, "relay_denied", true, RPL_RELAY_DENIED, addr);
		return;
	case LOCAL_UNKNOWN:
		decision_refuse(v, "unknown_user", true, RPL_USER_UNKNOWN, addr);
		failed_recipient(f);
		return;
	case LOCAL_LOOP:
		decision_refuse(v, "alias_loop", false, RPL_ALIAS_LOOP, addr);
		return;
	}
}

/* The first From: header's address as a path "<addr>"; false if none. */
static bool
header_from_path(const char *msg, size_t len, char *out, size_t outlen)
{
	size_t hend = mime_header_end(msg, len), n;
	const char *v, *start, *end, *lt;
	char buf[1024];
	size_t vl;

	if (!mime_header_find(msg, hend, "From", &v, &vl))
		return false;
	n = mime_unfold(v, vl, buf, sizeof(buf) - 1);
	buf[n] = '\0';
	if ((lt = strchr(buf, '<')) != NULL && strchr(lt, '>') != NULL) {
		start = lt + 1;
		end = strchr(lt, '>');
	} else {
		start = buf;
		while (*start == ' ' || *start == '\t')
			start++;
		end = start + strcspn(start, " \t(,");
	}
	snprintf(out, outlen, "<%.*s>", (int)(end - start), start);
	return end > start;
}

void
policy_content(const struct envelope_facts *f, const struct scan *scan, const char *msg,
    size_t len, struct decision *v)
{
	const struct score *sc = scan_score(scan);
	char syms[1024];

	decision_init(v);
	if (f->user != NULL && msg != NULL) {
		/* SPEC 6.1: the From: header belongs to the account too */
		char path[ADDR_PATH_MAX + 4];
		struct mailaddr from;
		if (header_from_path(msg, len, path, sizeof(path)) &&
		    (addr_parse_path(path, strlen(path), false, true, &from) != ADDR_OK ||
		    !policy_sender_owned(f, &from))) {
			decision_refuse(v, "from_not_owned", false, RPL_FROM_NOT_OWNED, path, f->user);
			return;
		}
	}
	if (f->user != NULL && scan_verdict(scan) != VERDICT_INBOX) {
		/* SPEC 6.4: outgoing mail has no Junk folder, and spam from an
		 * account means a stolen password. */
		score_symbols(sc, syms, sizeof(syms));
		decision_refuse(v, "outbound_spam", false, RPL_OUTBOUND_SPAM, sc->total);
		decision_log(v, " user=%s score=%.1f symbols=%s", f->user, sc->total, syms);
		hold(f, "outbound_spam",
		    "authenticated account sent content scored as spam: compromised password? new mail held until released (postern user release)", true);
		return;
	}
	if (scan_verdict(scan) == VERDICT_REJECT) {
		score_symbols(sc, syms, sizeof(syms));
		decision_refuse(v, "spam", false, RPL_SPAM, sc->total);
		decision_log(v, " score=%.1f symbols=%s", sc->total, syms);
	}
}
