/*
 * Scheduler. Invariants:
 *  - a message is in the list from scheduler_add/recover until its queue
 *    file is removed;
 *  - a recipient is handed to at most one agent at a time (inflight);
 *  - the queue file goes only after every recipient is final, and a
 *    bounce it causes is durable first (group sync) so a crash between
 *    the two cannot lose the bounce.
 */
#include "scheduler.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "queue/deliver.h"
#include "queue/dsn.h"

struct srcpt {
	char *addr;
	char *mailbox;		/* Maildirs of a local recipient */
	char *domain;		/* lower case, for remote grouping */
	bool remote;
	enum rcpt_status status;
	unsigned attempts;
	time_t next;
	char *reason;
	bool inflight;
	/* answers to the data still due in the transaction in flight (LMTP:
	 * one per mailbox), whether one was a failure, and whether the
	 * delivery is already in the state file (recorded before the
	 * transaction ends, so that a crash does not send it again) */
	unsigned answers_due;
	bool answer_failed;
	bool journaled;
};

struct smsg {
	struct smsg *next, *prev;
	struct scheduler *sc;
	char id[SPOOL_ID_LEN + 1];
	time_t arrival;
	char *from;
	char *user;		/* authenticated sender, or NULL */
	struct srcpt *r;
	size_t n;
	bool held;
	bool dirty;		/* state changed since the last save */
	bool finishing;		/* a report (bounce, delay warning) being made durable */
	unsigned report_failures;	/* bounces that could not be written, in a row */
	bool warned;		/* the delay warning was queued */
	bool deleted;		/* by the operator while results were due */
	bool recovered;		/* from the queue at start: its delivery may
				 * have been interrupted by a crash */
	unsigned inflight;
	struct event *timer;
};

struct scheduler {
	struct event_base *base;
	struct scheduler_options opt;
	char *data_dir, *hostname;
	struct groupsync *gs;
	struct mta *mta;
	struct deliver *deliver;
	struct smsg *msgs;
	unsigned count;
	unsigned remote_active;
	unsigned lmtp_active;
	unsigned long delivered;
	bool stopped;		/* scheduler_stop: nothing is dispatched any more */
	struct smsg *answering;	/* the message of the last on_answer */
};

static void dispatch(struct smsg *m);

/* A delivery slot is free: messages waiting for one get their turn. */
static void
give_turns(struct scheduler *sc)
{
	/* dispatch may finish and free w (never another message) */
	for (struct smsg *w = sc->msgs, *next; w; w = next) {
		next = w->next;
		if (sc->remote_active >= sc->opt.concurrency &&
		    (sc->opt.lmtp == NULL || sc->lmtp_active >= sc->opt.lmtp_concurrency))
			break;
		if (!w->held && !w->finishing && !evtimer_pending(w->timer, NULL))
			dispatch(w);
	}
}

static struct smsg *
find(struct scheduler *sc, const char *id)
{
	for (struct smsg *m = sc->msgs; m; m = m->next)
		if (strcmp(m->id, id) == 0)
			return m;
	return NULL;
}

static void
msg_free(struct smsg *m)
{
	struct scheduler *sc = m->sc;

	if (m->prev)
		m->prev->next = m->next;
	else
		sc->msgs = m->next;
	if (m->next)
		m->next->prev = m->prev;
	sc->count--;
	if (sc->answering == m)
		sc->answering = NULL;
	for (size_t i = 0; i < m->n; i++) {
		free(m->r[i].addr);
		free(m->r[i].mailbox);
		free(m->r[i].domain);
		free(m->r[i].reason);
	}
	free(m->r);
	free(m->from);
	free(m->user);
	if (m->timer)
		event_free(m->timer);
	free(m);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	dispatch(arg);
}

static struct smsg *
msg_new(struct scheduler *sc, const struct spool_envelope *env, bool held, bool warned)
{
	struct smsg *m = xcalloc(1, sizeof(*m));

	m->sc = sc;
	snprintf(m->id, sizeof(m->id), "%s", env->id);
	m->arrival = env->time;
	m->from = xstrdup(env->from ? env->from : "");
	m->user = env->user ? xstrdup(env->user) : NULL;
	m->held = held;
	m->warned = warned;
	m->n = env->nrcpts;
	m->r = xcalloc(m->n ? m->n : 1, sizeof(*m->r));
	for (size_t i = 0; i < m->n; i++) {
		const struct spool_rcpt *src = &env->rcpts[i];
		const char *at = strrchr(src->addr, '@');
		struct srcpt *r = &m->r[i];
		r->addr = xstrdup(src->addr);
		r->mailbox = xstrdup(src->mailbox ? src->mailbox : SPOOL_REMOTE);
		r->domain = xstrdup(at ? at + 1 : "");
		for (char *p = r->domain; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		r->remote = strcmp(src->mailbox, SPOOL_REMOTE) == 0;
		r->status = src->status;
		r->attempts = src->attempts;
		r->next = src->next_attempt;
		r->reason = src->reason ? xstrdup(src->reason) : NULL;
	}
	m->timer = evtimer_new(sc->base, on_timer, m);
	m->next = sc->msgs;
	if (m->next)
		m->next->prev = m;
	sc->msgs = m;
	sc->count++;
	return m;
}

static void
save_state(struct smsg *m)
{
	struct spool_envelope env;
	struct spool_rcpt *rs = xcalloc(m->n ? m->n : 1, sizeof(*rs));

	memset(&env, 0, sizeof(env));
	snprintf(env.id, sizeof(env.id), "%s", m->id);
	for (size_t i = 0; i < m->n; i++) {
		rs[i].addr = m->r[i].addr;
		rs[i].status = m->r[i].status;
		rs[i].attempts = m->r[i].attempts;
		if (m->r[i].journaled && m->r[i].status == RCPT_PENDING) {
			/* what on_answer appended must survive the rewrite */
			rs[i].status = RCPT_DELIVERED;
			rs[i].attempts++;
		}
		rs[i].next_attempt = m->r[i].next;
		rs[i].reason = m->r[i].reason;
	}
	env.rcpts = rs;
	env.nrcpts = m->n;
	if (spool_save_state(m->sc->data_dir, &env, m->held, m->warned) == -1)
		log_event("error", "id=%s reason=\"cannot save delivery state: %s\"", m->id,
		    strerror(errno));
	else
		m->dirty = false;
	free(rs);
}

static unsigned
backoff(const struct scheduler *sc, unsigned attempts)
{
	unsigned long d = sc->opt.retry_initial ? sc->opt.retry_initial : 300;

	for (unsigned i = 1; i < attempts && d < sc->opt.retry_max; i++)
		d *= 2;
	if (sc->opt.retry_max && d > sc->opt.retry_max)
		d = sc->opt.retry_max;
	return (unsigned)d;
}

static void
set_reason(struct srcpt *r, const char *reason)
{
	/* reason may be r->reason itself: copy before freeing */
	char *copy = xstrdup(reason ? reason : "");

	free(r->reason);
	r->reason = copy;
}

/* ---- reports: bounces and delay warnings ---- */

struct report_commit {
	struct smsg *m;
	enum dsn_kind kind;
	char id[SPOOL_ID_LEN + 1];
	struct spool_envelope env;	/* of the report, for scheduler_add */
};

static void finish_remove(struct smsg *m);
static void settle(struct smsg *m);

static void
on_report_synced(void *arg, int status)
{
	struct report_commit *bc = arg;
	struct smsg *m = bc->m;

	if (bc->kind == DSN_DELAYED) {
		/* the original goes on being retried either way */
		if (status != 0) {
			log_event("error", "id=%s reason=\"delay warning not durable: %s\"", m->id,
			    strerror(status));
			spool_remove(m->sc->data_dir, bc->id);
		} else {
			log_event("delay_warning_queued", "id=%s report_id=%s to=%s", m->id, bc->id,
			    bc->env.rcpts[0].addr);
			scheduler_add(m->sc, &bc->env, false);
		}
		m->finishing = false;
		settle(m);
	} else if (status != 0) {
		/* The bounce may not be on disk: keep the original, and try
		 * the whole thing again later. */
		log_event("error", "id=%s reason=\"bounce not durable: %s\"", m->id, strerror(status));
		spool_remove(m->sc->data_dir, bc->id);
		m->finishing = false;
		event_add(m->timer, &(struct timeval){ 60, 0 });
	} else {
		log_event("bounce_queued", "id=%s bounce_id=%s to=%s", m->id, bc->id,
		    bc->env.rcpts[0].addr);
		scheduler_add(m->sc, &bc->env, false);
		finish_remove(m);
	}
	spool_envelope_clear(&bc->env);
	free(bc);
}

/*
 * A report could not be written (disk full, the queue directory gone, the
 * original unreadable): a bounce keeps its original, tried again with the
 * retry back-off (retry_initial doubling up to retry_max), as when
 * its sync fails (removing the original would lose the only news the
 * sender gets); a delay warning is skipped. Returns queue_report's value.
 */
static bool
report_failed(struct smsg *m, enum dsn_kind kind, int err)
{
	struct timeval tv = { backoff(m->sc, ++m->report_failures), 0 };

	if (kind != DSN_FAILED) {
		log_event("error", "id=%s reason=\"cannot queue delay warning: %s\"", m->id,
		    strerror(err));
		return false;
	}
	log_event("error", "id=%s reason=\"cannot queue bounce: %s; the message is kept and the bounce tried again in %ld s\"",
	    m->id, strerror(err), (long)tv.tv_sec);
	event_add(m->timer, &tv);
	return true;
}

/*
 * Queues an RFC 3464 report to the sender: DSN_FAILED for the bounced
 * recipients (the original goes once the report is durable), DSN_DELAYED
 * for the ones still being retried after a failure.
 */
static bool
queue_report(struct smsg *m, enum dsn_kind kind)
{
	struct scheduler *sc = m->sc;
	struct spool_msg orig;
	struct spool_envelope benv;
	struct spool_writer *w;
	struct report_commit *bc;
	size_t *idx = xcalloc(m->n ? m->n : 1, sizeof(size_t)), nidx = 0;
	char *text, *mailbox;
	struct spool_rcpt rcpt;

	for (size_t i = 0; i < m->n; i++)
		if (kind == DSN_FAILED ? m->r[i].status == RCPT_BOUNCED :
		    m->r[i].status == RCPT_PENDING && m->r[i].attempts > 0)
			idx[nidx++] = i;
	errno = 0;
	if (spool_load(sc->data_dir, m->id, &orig) != 0) {
		/* no bounce without the original (EMFILE, EIO, damage): it
		 * stays, and a damaged one goes to queue/corrupt/ at the next
		 * start, never removed */
		int err = errno ? errno : EIO;
		free(idx);
		return report_failed(m, kind, err);
	}
	/* reasons as the scheduler knows them */
	for (size_t i = 0; i < m->n && i < orig.env.nrcpts; i++) {
		free(orig.env.rcpts[i].reason);
		orig.env.rcpts[i].reason = m->r[i].reason ? xstrdup(m->r[i].reason) : NULL;
	}
	text = dsn_build(kind, sc->hostname, &orig.env, idx, nidx, orig.data, orig.datalen,
	    time(NULL));
	free(idx);

	memset(&benv, 0, sizeof(benv));
	spool_new_id(benv.id);
	benv.time = time(NULL);
	benv.from = "";
	benv.client = "127.0.0.1";
	benv.helo = (char *)sc->hostname;
	memset(&rcpt, 0, sizeof(rcpt));
	rcpt.addr = m->from;
	/* our own users get it in their Maildir, others by SMTP */
	mailbox = sc->opt.route ? sc->opt.route(sc->opt.route_arg, m->from) : NULL;
	rcpt.mailbox = mailbox ? mailbox : (char *)SPOOL_REMOTE;
	benv.rcpts = &rcpt;
	benv.nrcpts = 1;
	w = spool_create(sc->data_dir, &benv);
	if (w == NULL || spool_write(w, text, strlen(text)) == -1) {
		int saved = errno;
		spool_abort(w);
		free(text);
		free(mailbox);
		spool_msg_clear(&orig);
		return report_failed(m, kind, saved);
	}
	if (spool_finish(w, NULL) == -1) {
		int saved = errno;
		free(text);
		free(mailbox);
		spool_msg_clear(&orig);
		return report_failed(m, kind, saved);
	}
	free(text);
	spool_msg_clear(&orig);
	bc = xcalloc(1, sizeof(*bc));
	bc->m = m;
	bc->kind = kind;
	snprintf(bc->id, sizeof(bc->id), "%s", benv.id);
	memcpy(bc->env.id, benv.id, sizeof(bc->env.id));
	bc->env.time = benv.time;
	bc->env.from = xstrdup("");
	bc->env.client = xstrdup("127.0.0.1");
	bc->env.helo = xstrdup(sc->hostname);
	bc->env.rcpts = xcalloc(1, sizeof(struct spool_rcpt));
	bc->env.rcpts[0].addr = xstrdup(m->from);
	bc->env.rcpts[0].mailbox = xstrdup(rcpt.mailbox);
	bc->env.nrcpts = 1;
	free(mailbox);
	m->finishing = true;
	groupsync_request(sc->gs, on_report_synced, bc);
	return true;
}

static void
finish_remove(struct smsg *m)
{
	if (spool_remove_delivered(m->sc->data_dir, m->id) == -1 && errno != ENOENT)
		log_event("error", "id=%s reason=\"cannot remove queue file: %s\"", m->id,
		    strerror(errno));
	log_event("removed", "id=%s", m->id);
	msg_free(m);
}

/* Called after every result: finish, save or schedule the next try. */
static void
settle(struct smsg *m)
{
	time_t next = 0, now = time(NULL);
	bool pending = false, bounced = false;

	if (m->inflight > 0 || m->finishing)
		return;
	if (m->deleted) {
		msg_free(m);	/* its files are gone: nothing to save */
		return;
	}
	for (size_t i = 0; i < m->n; i++) {
		if (m->r[i].status == RCPT_PENDING) {
			pending = true;
			if (next == 0 || m->r[i].next < next)
				next = m->r[i].next;
		} else if (m->r[i].status == RCPT_BOUNCED)
			bounced = true;
	}
	if (!pending) {
		/* RFC 5321 6.1: never a bounce to the null sender */
		if (bounced && m->from[0] != '\0' && queue_report(m, DSN_FAILED))
			return;
		finish_remove(m);
		return;
	}
	/* RFC 3464 "delayed": once per message, while it is still retried */
	if (!m->warned && m->sc->opt.delay_warning > 0 && m->from[0] != '\0' &&
	    now >= m->arrival + (time_t)m->sc->opt.delay_warning) {
		m->warned = true;
		m->dirty = true;
		if (queue_report(m, DSN_DELAYED))
			return;	/* on_report_synced settles again */
	}
	if (m->dirty)
		save_state(m);
	if (m->held)
		return;
	{
		time_t expiry = m->arrival + (time_t)m->sc->opt.queue_lifetime;
		if (expiry < next)
			next = expiry;
		struct timeval tv = { next > now ? next - now : 0, 0 };
		event_add(m->timer, &tv);
	}
}

/* ---- results ---- */

/* now: the time of the attempt's result, one for all its recipients, so
 * that those deferred together are retried together (in one transaction,
 * not one per second boundary crossed while they were recorded). */
static void
record(struct smsg *m, time_t now, size_t i, bool ok, bool permanent, const char *reason,
    const char *relay, const char *tls)
{
	struct srcpt *r = &m->r[i];
	char q1[LOG_VALUE_MAX], q2[LOG_VALUE_MAX], q3[LOG_VALUE_MAX];
	char *why0 = xstrdup(reason ? reason : "");

	/* reason may point into r (dispatch passes r->reason): work on a copy */
	reason = why0;

	r->attempts++;
	m->dirty = true;
	if (ok)
		m->sc->delivered++;
	if (ok && !r->remote) {
		char q4[LOG_VALUE_MAX];
		r->status = RCPT_DELIVERED;
		/* relay=local either way (the statistics' local/remote split);
		 * an LMTP delivery names the agent and its reply */
		log_event("delivered", "id=%s rcpt=%s from=%s relay=local mailbox=%s%s%s%s%s", m->id,
		    log_quote(q1, sizeof(q1), r->addr, strlen(r->addr)),
		    log_quote(q2, sizeof(q2), m->from, strlen(m->from)),
		    log_quote(q3, sizeof(q3), r->mailbox, strlen(r->mailbox)),
		    strcmp(relay, "local") != 0 ? " lmtp=" : "",
		    strcmp(relay, "local") != 0 ? relay : "",
		    strcmp(relay, "local") != 0 ? " reply=" : "",
		    strcmp(relay, "local") != 0 ? log_quote(q4, sizeof(q4), reason, strlen(reason)) : "");
		free(why0);
		return;
	}
	if (ok) {
		r->status = RCPT_DELIVERED;
		log_event("delivered", "id=%s rcpt=%s from=%s relay=%s tls=%s reply=%s%s%s", m->id,
		    log_quote(q1, sizeof(q1), r->addr, strlen(r->addr)),
		    log_quote(q2, sizeof(q2), m->from, strlen(m->from)), relay, tls,
		    log_quote(q3, sizeof(q3), reason ? reason : "", reason ? strlen(reason) : 0),
		    m->user ? " user=" : "", m->user ? m->user : "");
		if (m->sc->opt.outcome)
			m->sc->opt.outcome(m->sc->opt.route_arg, m->user, true);
		free(why0);
		return;
	}
	set_reason(r, reason);
	if (permanent || now >= m->arrival + (time_t)m->sc->opt.queue_lifetime) {
		r->status = RCPT_BOUNCED;
		if (!permanent) {
			/* DSN_EXPIRED: the report says 5.4.7 (dsn.h) */
			char *why = xasprintf(DSN_EXPIRED "; last error: %s", reason ? reason : "");
			set_reason(r, why);
			free(why);
		}
		log_event("bounced", "id=%s rcpt=%s from=%s relay=%s reason=%s%s%s", m->id,
		    log_quote(q1, sizeof(q1), r->addr, strlen(r->addr)),
		    log_quote(q2, sizeof(q2), m->from, strlen(m->from)), r->remote ? relay : "local",
		    log_quote(q3, sizeof(q3), r->reason, strlen(r->reason)),
		    m->user ? " user=" : "", m->user ? m->user : "");
		if (r->remote && m->sc->opt.outcome)
			m->sc->opt.outcome(m->sc->opt.route_arg, m->user, false);
		if (r->remote && permanent && reason && m->sc->opt.rcpt_refused)
			m->sc->opt.rcpt_refused(m->sc->opt.route_arg, m->user, r->addr, reason);
		free(why0);
		return;
	}
	r->next = now + backoff(m->sc, r->attempts);
	/* on disk before the line that says so: a crash right after the
	 * deferral keeps the attempt count and the reason */
	save_state(m);
	{
		char when[32];
		struct tm tm;
		gmtime_r(&r->next, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		log_event("deferred", "id=%s rcpt=%s from=%s relay=%s reason=%s attempt=%u next=%s",
		    m->id, log_quote(q1, sizeof(q1), r->addr, strlen(r->addr)),
		    log_quote(q2, sizeof(q2), m->from, strlen(m->from)), r->remote ? relay : "local",
		    log_quote(q3, sizeof(q3), reason ? reason : "", reason ? strlen(reason) : 0),
		    r->attempts, when);
	}
	free(why0);
}

static void
on_local_done(void *arg, const char *id, const struct local_result *res, size_t n)
{
	struct scheduler *sc = arg;
	struct smsg *m = find(sc, id);
	time_t now = time(NULL);

	if (m == NULL)
		return;		/* deleted by the operator meanwhile */
	for (size_t k = 0; k < n; k++) {
		size_t i = res[k].rcpt;
		if (i >= m->n || !m->r[i].inflight)
			continue;
		m->r[i].inflight = false;
		m->inflight--;
		record(m, now, i, res[k].ok, res[k].permanent, res[k].ok ? "maildir" : res[k].reason,
		    "local", "none");
	}
	settle(m);
}

/*
 * The results of an SMTP or LMTP transaction. A recipient may come more
 * than once (LMTP answers per mailbox, and an alias may expand to
 * several): its worst result counts. Delivered when every mailbox took
 * it, deferred when one failed for now (a retry may duplicate into the
 * others, never lose), bounced when the failures are all permanent.
 */
static void
record_transaction(struct scheduler *sc, const char *id, const struct mta_rcpt_result *res,
    size_t n, const struct mta_summary *sum)
{
	struct smsg *m = find(sc, id);
	time_t now = time(NULL);

	if (m == NULL)
		return;		/* deleted by the operator meanwhile */
	for (size_t k = 0; k < n; k++) {
		size_t i = res[k].rcpt;
		const struct mta_rcpt_result *worst = &res[k];
		if (i >= m->n || !m->r[i].inflight)
			continue;
		for (size_t j = k + 1; j < n; j++) {
			if (res[j].rcpt != i || res[j].ok)
				continue;
			if (worst->ok || (worst->permanent && !res[j].permanent))
				worst = &res[j];
		}
		m->r[i].inflight = false;
		m->inflight--;
		record(m, now, i, worst->ok, worst->permanent, worst->reply,
		    sum->relay[0] ? sum->relay : "none", sum->tls[0] ? sum->tls : "none");
	}
	settle(m);
}

static void
on_journal_synced(void *arg, int status)
{
	if (status != 0)
		log_event("error", "reason=\"delivery records not synced: %s\"", strerror(status));
}

/*
 * One answer to the data of an SMTP or LMTP transaction, read before the
 * transaction ends: once every mailbox of the recipient took it, the
 * delivery goes into the state file at once (group-committed), so that
 * a crash before the end does not send it again (the end may be a whole
 * round trip away, and an LMTP agent answers a thousand recipients one
 * by one).
 */
static void
on_answer(void *arg, const char *id, const struct mta_rcpt_result *res)
{
	struct scheduler *sc = arg;
	struct smsg *m = sc->answering;
	struct srcpt *r;
	struct spool_rcpt line;

	if (m == NULL || strcmp(m->id, id) != 0)
		m = sc->answering = find(sc, id);
	if (m == NULL || m->deleted || res->rcpt >= m->n)
		return;
	r = &m->r[res->rcpt];
	if (!r->inflight || r->journaled || r->answers_due == 0)
		return;
	r->answers_due--;
	if (!res->ok)
		r->answer_failed = true;
	if (r->answers_due > 0 || r->answer_failed)
		return;
	memset(&line, 0, sizeof(line));
	line.status = RCPT_DELIVERED;
	line.attempts = r->attempts + 1;
	if (spool_append_state(sc->data_dir, m->id, res->rcpt, &line) == -1) {
		log_event("error", "id=%s reason=\"cannot record a delivery: %s\"", m->id,
		    strerror(errno));
		return;
	}
	r->journaled = true;
	groupsync_request(sc->gs, on_journal_synced, NULL);
}

static void
on_remote_done(void *arg, const char *id, const struct mta_rcpt_result *res, size_t n,
    const struct mta_summary *sum)
{
	struct scheduler *sc = arg;

	sc->remote_active--;
	record_transaction(sc, id, res, n, sum);
	give_turns(sc);
}

static void
on_lmtp_done(void *arg, const char *id, const struct mta_rcpt_result *res, size_t n,
    const struct mta_summary *sum)
{
	struct scheduler *sc = arg;

	sc->lmtp_active--;
	record_transaction(sc, id, res, n, sum);
	give_turns(sc);
}

/* ---- dispatch ---- */

static void
send_remote(struct smsg *m, const char *domain, time_t now)
{
	struct scheduler *sc = m->sc;
	struct spool_msg msg;
	const char **rcpts = xcalloc(m->n, sizeof(char *));
	size_t *idx = xcalloc(m->n, sizeof(size_t)), k = 0;

	for (size_t i = 0; i < m->n; i++) {
		struct srcpt *r = &m->r[i];
		if (r->remote && r->status == RCPT_PENDING && !r->inflight && r->next <= now &&
		    strcmp(r->domain, domain) == 0) {
			rcpts[k] = r->addr;
			idx[k++] = i;
		}
	}
	if (k > 0 && spool_load(sc->data_dir, m->id, &msg) == 0) {
		for (size_t i = 0; i < k; i++) {
			m->r[idx[i]].inflight = true;
			m->r[idx[i]].answers_due = 1;
			m->r[idx[i]].answer_failed = false;
		}
		m->inflight += (unsigned)k;
		sc->remote_active++;
		mta_send(sc->mta, m->id, m->from, domain, rcpts, idx, k, msg.data, msg.datalen,
		    on_answer, on_remote_done, sc);
		spool_msg_clear(&msg);
	}
	free(rcpts);
	free(idx);
}

/*
 * Local recipients idx[0..n) to the LMTP agent: one RCPT per mailbox of
 * each ("DOMAIN/LOCAL" -> LOCAL@DOMAIN), and for a message filed in a
 * folder LOCAL+FOLDER@DOMAIN, which Dovecot saves into that folder with
 * lmtp_save_to_detail_mailbox (contrib/dovecot/lmtp.conf). The agent
 * adds Return-Path and Delivered-To itself; postern's scan headers go
 * first, as in a Maildir delivery.
 */
static void
send_lmtp(struct smsg *m, const size_t *idx, size_t n)
{
	struct scheduler *sc = m->sc;
	struct spool_msg msg;
	char **rcpts = NULL;
	size_t *ridx = NULL, k = 0, cap = 0;
	time_t now = time(NULL);

	if (spool_load(sc->data_dir, m->id, &msg) != 0) {
		for (size_t j = 0; j < n; j++)
			record(m, now, idx[j], false, false, "cannot read the queue file", "local", "none");
		return;
	}
	for (size_t j = 0; j < n; j++) {
		char *mbs = xstrdup(m->r[idx[j]].mailbox), *save = NULL, *mb;
		m->r[idx[j]].answers_due = 0;
		m->r[idx[j]].answer_failed = false;
		for (mb = strtok_r(mbs, ",", &save); mb; mb = strtok_r(NULL, ",", &save)) {
			char *slash = strchr(mb, '/');
			if (slash == NULL)
				continue;
			m->r[idx[j]].answers_due++;
			*slash = '\0';
			if (k == cap) {
				cap = cap ? cap * 2 : 8;
				rcpts = xrealloc(rcpts, cap * sizeof(*rcpts));
				ridx = xrealloc(ridx, cap * sizeof(*ridx));
			}
			rcpts[k] = xasprintf("%s%s%s@%s", slash + 1, msg.folder ? "+" : "",
			    msg.folder ? msg.folder : "", mb);
			ridx[k++] = idx[j];
		}
		free(mbs);
		m->r[idx[j]].inflight = true;
		m->inflight++;
	}
	if (k == 0) {
		for (size_t j = 0; j < n; j++) {
			m->r[idx[j]].inflight = false;
			m->inflight--;
			record(m, now, idx[j], false, false, "no mailbox for the recipient", "local", "none");
		}
	} else {
		size_t hlen = msg.headers ? strlen(msg.headers) : 0;
		char *data = xmalloc(hlen + msg.datalen + 1);
		if (hlen)
			memcpy(data, msg.headers, hlen);
		memcpy(data + hlen, msg.data, msg.datalen);
		sc->lmtp_active++;
		mta_send(sc->opt.lmtp, m->id, m->from, "localhost", (const char *const *)rcpts, ridx,
		    k, data, hlen + msg.datalen, on_answer, on_lmtp_done, sc);
		free(data);
	}
	for (size_t j = 0; j < k; j++)
		free(rcpts[j]);
	free(rcpts);
	free(ridx);
	spool_msg_clear(&msg);
}

static void
dispatch(struct smsg *m)
{
	struct scheduler *sc = m->sc;
	time_t now = time(NULL);
	size_t *local = xcalloc(m->n ? m->n : 1, sizeof(size_t)), nlocal = 0;
	bool check = m->recovered;	/* copies may be in the Maildirs */

	if (m->held || m->finishing || sc->stopped) {
		free(local);
		return;
	}
	for (size_t i = 0; i < m->n; i++) {
		struct srcpt *r = &m->r[i];
		if (r->status != RCPT_PENDING || r->inflight)
			continue;
		/* queue_lifetime reached without a try left: bounce */
		if (now >= m->arrival + (time_t)sc->opt.queue_lifetime && r->attempts > 0) {
			record(m, now, i, false, false, r->reason ? r->reason : "not delivered", "none", "none");
			continue;
		}
		if (r->next > now)
			continue;
		if (!r->remote && sc->opt.lmtp != NULL)
			local[nlocal++] = i;	/* send_lmtp marks them */
		else if (!r->remote) {
			local[nlocal++] = i;
			r->inflight = true;
			m->inflight++;
			check |= r->attempts > 0;
		}
	}
	if (nlocal > 0 && sc->opt.lmtp == NULL)
		deliver_enqueue(sc->deliver, m->id, local, nlocal, check);
	else if (nlocal > 0 && sc->lmtp_active < sc->opt.lmtp_concurrency)
		send_lmtp(m, local, nlocal);	/* else on_lmtp_done gives it a turn */
	free(local);
	/* remote recipients, one transaction per domain */
	for (size_t i = 0; i < m->n; i++) {
		struct srcpt *r = &m->r[i];
		if (!r->remote || r->status != RCPT_PENDING || r->inflight || r->next > now)
			continue;
		if (sc->mta == NULL) {
			record(m, now, i, false, false, "remote delivery is not available", "none", "none");
			continue;
		}
		if (sc->remote_active >= sc->opt.concurrency ||
		    mta_active(sc->mta, r->domain) >= sc->opt.domain_concurrency)
			continue;	/* on_remote_done gives it a turn */
		send_remote(m, r->domain, now);
	}
	settle(m);
}

/* ---- interface ---- */

struct scheduler *
scheduler_new(struct event_base *base, const struct scheduler_options *opt,
    struct groupsync *gs, struct mta *mta)
{
	struct scheduler *sc = xcalloc(1, sizeof(*sc));

	sc->base = base;
	sc->opt = *opt;
	sc->data_dir = xstrdup(opt->data_dir);
	sc->hostname = xstrdup(opt->hostname);
	sc->opt.data_dir = sc->data_dir;
	sc->opt.hostname = sc->hostname;
	if (sc->opt.concurrency == 0)
		sc->opt.concurrency = 100;
	if (sc->opt.domain_concurrency == 0)
		sc->opt.domain_concurrency = 10;
	if (sc->opt.retry_max == 0)
		sc->opt.retry_max = 3600;
	if (sc->opt.lmtp_concurrency == 0)
		sc->opt.lmtp_concurrency = 10;
	sc->gs = gs;
	sc->mta = mta;
	sc->deliver = deliver_start(base, sc->data_dir, gs, on_local_done, sc);
	if (sc->deliver == NULL) {
		free(sc->data_dir);
		free(sc->hostname);
		free(sc);
		return NULL;
	}
	return sc;
}

void
scheduler_stop(struct scheduler *sc)
{
	if (sc == NULL || sc->stopped)
		return;
	sc->stopped = true;
	deliver_stop(sc->deliver);
	sc->deliver = NULL;
}

void
scheduler_free(struct scheduler *sc)
{
	if (sc == NULL)
		return;
	scheduler_stop(sc);
	while (sc->msgs != NULL) {
		if (sc->msgs->dirty)
			save_state(sc->msgs);
		msg_free(sc->msgs);
	}
	free(sc->data_dir);
	free(sc->hostname);
	free(sc);
}

void
scheduler_add(struct scheduler *sc, const struct spool_envelope *env, bool held)
{
	struct smsg *m;

	/* Its sync is done: into queue/, where it counts as acknowledged
	 * (spool.h). If the rename fails, the complete file stays under
	 * queue/tmp/ and the next start queues it. */
	if (spool_commit(sc->data_dir, env->id) == -1) {
		log_event("error", "id=%s reason=\"cannot move the message into the queue: %s; it is queued at the next start\"",
		    env->id, strerror(errno));
		return;
	}
	if (sc->stopped)
		return;		/* durable in the queue: the next start recovers it */
	m = msg_new(sc, env, held, false);

	if (held) {
		log_event("held", "id=%s user=%s reason=\"account on hold\"", m->id,
		    m->user ? m->user : "-");
		save_state(m);
		return;
	}
	dispatch(m);
}

static void
recovered(const char *id, void *arg)
{
	struct scheduler *sc = arg;
	struct spool_msg msg;
	struct smsg *m;

	if (find(sc, id) != NULL || spool_load(sc->data_dir, id, &msg) != 0)
		return;
	m = msg_new(sc, &msg.env, msg.held, msg.warned);
	m->recovered = true;
	dispatch(m);
	spool_msg_clear(&msg);
}

int
scheduler_recover(struct scheduler *sc)
{
	return spool_recover(sc->data_dir, recovered, sc);
}

void
scheduler_flush(struct scheduler *sc)
{
	for (struct smsg *m = sc->msgs, *next; m; m = next) {
		next = m->next;
		if (m->held)
			continue;
		for (size_t i = 0; i < m->n; i++)
			if (m->r[i].status == RCPT_PENDING)
				m->r[i].next = 0;
		evtimer_del(m->timer);
		dispatch(m);
	}
}

int
scheduler_hold(struct scheduler *sc, const char *id, bool hold)
{
	struct smsg *m = find(sc, id);

	if (m == NULL)
		return -1;
	m->held = hold;
	save_state(m);
	log_event(hold ? "held" : "released", "id=%s", id);
	if (hold)
		evtimer_del(m->timer);
	else {
		if (m->user && sc->opt.released)
			sc->opt.released(sc->opt.route_arg, m->user);
		for (size_t i = 0; i < m->n; i++)
			if (m->r[i].status == RCPT_PENDING)
				m->r[i].next = 0;
		dispatch(m);
	}
	return 0;
}

unsigned
scheduler_release_user(struct scheduler *sc, const char *user)
{
	unsigned n = 0;

	for (struct smsg *m = sc->msgs; m; m = m->next) {
		if (!m->held || m->deleted || m->user == NULL || strcasecmp(m->user, user) != 0)
			continue;
		m->held = false;
		save_state(m);
		log_event("released", "id=%s user=%s", m->id, user);
		for (size_t i = 0; i < m->n; i++)
			if (m->r[i].status == RCPT_PENDING)
				m->r[i].next = 0;
		dispatch(m);
		n++;
	}
	return n;
}

int
scheduler_delete(struct scheduler *sc, const char *id)
{
	struct smsg *m = find(sc, id);

	if (m == NULL)
		return -1;
	if (m->inflight > 0 || m->finishing) {
		/* results will arrive for it: logged, then it goes */
		m->held = true;
		m->deleted = true;
	}
	spool_remove(sc->data_dir, id);
	log_event("deleted", "id=%s", id);
	if (m->inflight == 0 && !m->finishing)
		msg_free(m);
	return 0;
}

unsigned
scheduler_count(const struct scheduler *sc)
{
	return sc->count;
}

unsigned long
scheduler_delivered(const struct scheduler *sc)
{
	return sc->delivered;
}
