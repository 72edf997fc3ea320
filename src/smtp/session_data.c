/*
 * The message phase of a session: DATA and BDAT (RFC 5321 4.1.1.4, RFC
 * 3030) into the queue file, the transfer deadline, the content scan,
 * and the commit. Invariant: the 250 for a message is sent only from
 * commit_done(), after the group sync that covers its queue file; what
 * the scanned message becomes is policy_content()'s verdict.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "policy/bayes_live.h"
#include "policy/learn.h"
#include "policy/replies.h"
#include "report/inbound.h"
#include "scan/score.h"
#include "smtp/received_hdr.h"
#include "smtp/session_int.h"

static void scan_begin(struct session *s);


/* The reply and log reason for a queue file that could not be written:
 * a full disk is said as such, where it happens, and tells the client to
 * come back later (RFC 3463 4.3.1); anything else is a local error. */
static const char *
storage_reply(int err)
{
	if (err == ENOSPC || err == EDQUOT)
		return RPL_STORAGE_FULL;
	return RPL_LOCAL_ERROR;
}

static const char *
storage_reason(int err)
{
	if (err == ENOSPC || err == EDQUOT)
		return "no space left on the data_dir file system";
	return strerror(err);
}

/* ---- the transfer deadline ---- */

/*
 * A DATA or BDAT transfer must end within smtp_timeout plus the octets
 * received so far at smtp_min_data_rate (SPEC 2; Postfix's
 * smtpd_min_data_rate): a client trickling one octet a second would
 * otherwise hold a slot for as long as it likes, since each octet resets
 * the idle timeout.
 */
static void on_data_deadline(evutil_socket_t fd, short what, void *arg);

double
elapsed_since(const struct session *s, const struct timeval *t)
{
	struct timeval now;

	event_base_gettimeofday_cached(s->srv->base, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_usec - t->tv_usec) / 1e6;
}

static void
data_deadline_arm(struct session *s, double secs)
{
	struct timeval tv;

	if (secs < 0.01)
		secs = 0.01;
	tv.tv_sec = (time_t)secs;
	tv.tv_usec = (suseconds_t)((secs - (double)tv.tv_sec) * 1e6);
	if (s->data_timer == NULL)
		s->data_timer = evtimer_new(s->srv->base, on_data_deadline, s);
	evtimer_add(s->data_timer, &tv);
}

static void
data_deadline_start(struct session *s)
{
	event_base_gettimeofday_cached(s->srv->base, &s->data_start);
	data_deadline_arm(s, s->srv->cfg->smtp_timeout);
}

void
data_deadline_stop(struct session *s)
{
	if (s->data_timer != NULL)
		evtimer_del(s->data_timer);
}

static void
on_data_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	const struct config *cfg = s->srv->cfg;
	double allowed, elapsed;
	char text[160];

	if (s->tx == NULL || s->state == S_CLOSING)
		return;
	allowed = (double)cfg->smtp_timeout + (double)s->tx->dr.size / cfg->smtp_min_data_rate;
	elapsed = elapsed_since(s, &s->data_start);
	if (elapsed < allowed) {
		data_deadline_arm(s, allowed - elapsed);
		return;
	}
	snprintf(text, sizeof(text), RPL_SLOW_TRANSFER,
	    cfg->hostname, (unsigned long long)s->tx->dr.size, elapsed);
	log_reject(s, "slow_transfer", "data", NULL, text);
	reply(s, "%s", text);
	tx_free(s);
	session_close(s);
}


/* ---- transactions ---- */

void
tx_free(struct session *s)
{
	struct transaction *tx = s->tx;

	if (tx == NULL)
		return;
	data_deadline_stop(s);
	spool_abort(tx->w);
	scan_free(tx->scan);
	free(tx->msgbuf);
	for (size_t i = 0; i < tx->nrcpts; i++) {
		free(tx->rcpts[i].addr);
		free(tx->rcpts[i].mailbox);
	}
	free(tx->rcpts);
	free(tx);
	s->tx = NULL;
}

void
tx_reset(struct session *s)
{
	tx_free(s);
	session_enter(s, s->state == S_GREET ? S_GREET : S_READY);
}

static const char *
with_protocol(const struct session *s)
{
	return received_protocol(s->esmtp, s->tls, s->user != NULL,
	    s->tx != NULL && s->tx->params.smtputf8);
}

/* Opens the queue file and writes our Received header (SPEC 3). */
static int
data_begin(struct session *s, enum data_mode mode)
{
	const struct config *cfg = s->srv->cfg;
	struct transaction *tx = s->tx;
	struct spool_envelope env;
	char *hdr;
	time_t now = time(NULL);
	struct received_info ri;

	memset(&env, 0, sizeof(env));
	env.time = now;
	env.from = tx->from_str;
	env.client = s->ip;
	env.helo = s->helo;
	env.user = s->user;
	env.rcpts = tx->rcpts;
	env.nrcpts = tx->nrcpts;
	/* An id can only clash with a file left by an earlier process that
	 * ran with the clock set back: take the next one. */
	for (int tries = 0; tries < 8; tries++) {
		spool_new_id(tx->id);
		memcpy(env.id, tx->id, sizeof(env.id));
		tx->w = spool_create(cfg->data_dir, &env);
		if (tx->w != NULL || errno != EEXIST)
			break;
	}
	if (tx->w == NULL) {
		tx->write_errno = errno;
		log_event("error", "reason=\"cannot create queue file: %s\" client=%s",
		    storage_reason(errno), s->ip);
		return -1;
	}
	ri = (struct received_info){ .helo = s->helo, .ip = s->ip, .hostname = cfg->hostname,
	    .id = tx->id, .user = s->user, .rcpt = tx->nrcpts == 1 ? tx->rcpts[0].addr : NULL,
	    .esmtp = s->esmtp, .tls = s->tls, .smtputf8 = tx->params.smtputf8, .when = now };
	ri.rdns = s->checks ? checks_rdns(s->checks) : NULL;
	hdr = received_hdr(&ri);
	tx->rcvd_len = strlen(hdr);
	if (spool_write(tx->w, hdr, tx->rcvd_len) == -1)
		tx->write_errno = errno;
	free(hdr);
	data_reader_init(&tx->dr, mode, cfg->max_message_size);
	return 0;
}

static void
commit_done(void *arg, int status)
{
	struct session *s = arg;
	struct transaction *tx = s->tx;
	const struct config *cfg = s->srv->cfg;
	char f[LOG_VALUE_MAX], h[LOG_VALUE_MAX], *rcpts;
	size_t len = 0;

	if (s->dead) {
		/* The client never saw a 250: it will send again, so keeping
		 * this copy would only make a duplicate. */
		spool_remove(cfg->data_dir, tx->id);
		session_free(s);
		return;
	}
	if (status != 0) {
		spool_remove(cfg->data_dir, tx->id);
		log_event("error", "reason=\"queue sync failed: %s\" id=%s", storage_reason(status),
		    tx->id);
		reply(s, "%s", storage_reply(status));
	} else {
		for (size_t i = 0; i < tx->nrcpts; i++)
			len += strlen(tx->rcpts[i].addr) + 1;
		rcpts = xmalloc(len + 1);
		rcpts[0] = '\0';
		for (size_t i = 0; i < tx->nrcpts; i++) {
			if (i)
				strcat(rcpts, ",");
			strcat(rcpts, tx->rcpts[i].addr);
		}
		reply(s, RPL_QUEUED, tx->id);
		s->messages++;
		{
			char syms[1024] = "-";
			double total = 0;
			const char *verdict = "inbox";
			if (tx->scan) {
				score_symbols(scan_score(tx->scan), syms, sizeof(syms));
				total = scan_score(tx->scan)->total;
				verdict = verdict_name(scan_verdict(tx->scan));
			}
			log_event("accepted", "id=%s client=%s helo=%s from=%s rcpts=%s size=%llu score=%.1f verdict=%s symbols=%s proto=%s%s%s",
			    tx->id, s->ip, logq(h, s->helo), logq(f, tx->from_str),
			    log_quote((char[LOG_VALUE_MAX * 4]){ 0 }, LOG_VALUE_MAX * 4, rcpts, strlen(rcpts)),
			    (unsigned long long)tx->dr.size, total, verdict, syms, with_protocol(s),
			    s->user ? " user=" : "", s->user ? s->user : "");
		}
		free(rcpts);
		{
			struct spool_envelope env;
			memset(&env, 0, sizeof(env));
			memcpy(env.id, tx->id, sizeof(env.id));
			env.time = time(NULL);
			env.from = tx->from_str;
			env.rcpts = tx->rcpts;
			env.nrcpts = tx->nrcpts;
			env.user = s->user;
			scheduler_add(s->srv->sched, &env,
			    s->user != NULL && holds_held(s->srv->holds, s->user));
		}
	}
	tx_free(s);
	if (s->srv->stopping) {
		reply(s, RPL_SHUTTING_DOWN, cfg->hostname);
		session_close(s);
		return;
	}
	session_enter(s, S_READY);
	session_process(s);
}

/* Writes the scan's decision with the message and waits for the sync
 * that makes it durable; commit_done sends the 250. */
static void
commit(struct session *s)
{
	struct transaction *tx = s->tx;
	struct spool_meta meta = { NULL, NULL };
	char *headers = NULL;
	long long cut = -1;
	int fd = -1;

	if (tx->scan != NULL) {
		headers = scan_headers(tx->scan);
		meta.headers = headers;
		if (scan_verdict(tx->scan) == VERDICT_JUNK)
			meta.folder = "Junk";
	}
	if (spool_finish_open(tx->w, &meta, &fd, &cut) == -1) {
		int err = errno;
		tx->w = NULL;
		free(headers);
		log_event("error", "reason=\"queue write failed: %s\" client=%s",
		    storage_reason(err), s->ip);
		reply(s, "%s", storage_reply(err));
		tx_reset(s);
		return;
	}
	free(headers);
	tx->w = NULL;
	session_enter(s, S_COMMIT);
	groupsync_request_close(s->srv->gs, fd, cut, commit_done, s);
}

/* SPEC 5.4: reject at end of DATA (never a bounce), else commit. */
static void
scan_decide(struct session *s)
{
	struct transaction *tx = s->tx;
	struct envelope_facts facts;
	struct decision v;

	session_facts(s, &facts);
	policy_content(&facts, tx->scan, tx->msgbuf, tx->msgbuf ? strlen(tx->msgbuf) : 0, &v);
	/* SPEC 12: the DMARC evaluation for the aggregate reports, and a
	 * copy of a report addressed to us for the importer */
	report_inbound(s->srv->cfg, tx->scan, s->ip, s->user != NULL, v.refused, tx->msgbuf,
	    tx->msgbuf ? strlen(tx->msgbuf) : 0);
	free(tx->msgbuf);
	tx->msgbuf = NULL;
	if (!v.refused) {
		commit(s);
		return;
	}
	session_refuse(s, &v, "data", NULL);
	tx_reset(s);
}

static void
on_scan_done(void *arg, struct scan *sc)
{
	struct session *s = arg;

	scan_decide(s);
	if (s->state == S_READY)
		session_process(s);
}

/*
 * What the message's local recipients taught about its From: address:
 * spam when some moved the sender's mail to Junk and none out of it, ham
 * the other way round, nothing when they disagree (one message, one
 * folder for all of them).
 */
static enum learn_opinion
recipients_opinion(void *arg, const char *from_addr)
{
	struct session *s = arg;
	struct transaction *tx = s->tx;
	bool spam = false, ham = false;

	for (size_t i = 0; tx != NULL && i < tx->nrcpts; i++) {
		char *mbs, *save = NULL, *mb;
		if (tx->rcpts[i].mailbox == NULL || strcmp(tx->rcpts[i].mailbox, SPOOL_REMOTE) == 0)
			continue;
		mbs = xstrdup(tx->rcpts[i].mailbox);
		for (mb = strtok_r(mbs, ",", &save); mb; mb = strtok_r(NULL, ",", &save)) {
			char *slash = strchr(mb, '/'), account[ADDR_PATH_MAX + 2];
			if (slash == NULL)
				continue;
			*slash = '\0';
			snprintf(account, sizeof(account), "%s@%s", slash + 1, mb);
			switch (learned_get(s->srv->learned, account, from_addr)) {
			case LEARN_SPAM: spam = true; break;
			case LEARN_HAM: ham = true; break;
			case LEARN_NONE: break;
			}
		}
		free(mbs);
	}
	return spam && !ham ? LEARN_SPAM : ham && !spam ? LEARN_HAM : LEARN_NONE;
}

/* Content analysis before the 250 (SPEC 5.4). The message is read back
 * from the queue file (page cache) rather than kept in memory during
 * DATA, so a slow client's message costs no memory until now. */
static void
scan_begin(struct session *s)
{
	struct transaction *tx = s->tx;
	struct server *srv = s->srv;
	struct scan_input in;
	ssize_t n = spool_read_back(tx->w, &tx->msgbuf, SCAN_TEXT_MAX);

	if (n == -1) {
		/* read-back first flushes what is buffered: a full disk shows
		 * up here as a failed write */
		int err = errno;
		log_event("error", "reason=\"queue %s failed: %s\" client=%s",
		    err == ENOSPC || err == EDQUOT ? "write" : "read", storage_reason(err), s->ip);
		reply(s, "%s", storage_reply(err));
		tx_reset(s);
		return;
	}
	if ((size_t)n < tx->rcvd_len ||
	    !data_has_header(tx->msgbuf + tx->rcvd_len, (size_t)n - tx->rcvd_len)) {
		/* RFC 5322 3.5: a message is a header section, then maybe a
		 * body. Nothing to file or show: refused, never queued. */
		const char *text = RPL_NO_HEADER;
		reply(s, "%s", text);
		log_reject(s, "no_header", "data", NULL, text);
		tx_reset(s);
		count_error(s);
		return;
	}
	memset(&in, 0, sizeof(in));
	in.cfg = srv->cfg;
	in.sh = srv->spamhaus;
	in.client_ip = s->ip;
	in.helo = s->helo;
	in.rdns = s->checks ? checks_rdns(s->checks) : NULL;
	in.authserv_id = srv->cfg->hostname;
	in.mail_from = tx->from_str;
	in.authenticated = s->user != NULL;
	in.helo_abused = s->checks && checks_abused(s->checks, CHECK_HELO);
	in.rdns_abused = s->checks && checks_abused(s->checks, CHECK_RDNS);
	in.max_lookups = srv->cfg->scan_max_lookups;
	in.defanged = srv->cfg->scan_defanged;
	if (s->user == NULL && srv->learned != NULL) {
		/* inbound mail only: outgoing mail has no Junk folder */
		char *err = NULL;
		if (learned_refresh(srv->learned, &err) == -1) {
			char t[LOG_VALUE_MAX];
			log_event("error", "reason=%s", logq(t, err));
			free(err);
		}
		in.learned = recipients_opinion;
		in.learned_arg = s;
	}
	if (s->user == NULL && srv->cfg->bayes && srv->bayes != NULL) {
		/* SPEC 13: inbound mail, as the learned opinions; the table
		 * in memory, refreshed off the loop (policy/bayes_live.h) */
		const struct bayes_table *bt = bayes_live_table(srv->bayes);
		uint32_t ns = 0, nh = 0;
		if (bt != NULL)
			bayes_table_learned(bt, &ns, &nh);
		/* before bayes_min_learned of each kind it cannot vote, and
		 * the server shows nothing else: no tokens made at all */
		if (ns >= srv->cfg->bayes_min_learned && nh >= srv->cfg->bayes_min_learned) {
			in.bayes = bt;
			in.bayes_min_learned = srv->cfg->bayes_min_learned;
		}
	}
	/* the computation on the message runs on the worker, off the
	 * loop; on_scan_done comes once its lookups are in */
	if (srv->scanq != NULL)
		tx->scan = scan_start_async(srv->scanq, &in, tx->msgbuf, (size_t)n, on_scan_done, s);
	else
		tx->scan = scan_start(&in, tx->msgbuf, (size_t)n, on_scan_done, s);
	if (!scan_finished(tx->scan)) {
		session_enter(s, S_SCAN);
		return;
	}
	scan_decide(s);
}

/* The message is complete: refuse it, or commit it and wait for the sync. */
static void
data_end(struct session *s)
{
	struct transaction *tx = s->tx;
	const char *reason = NULL, *text = NULL;

	data_deadline_stop(s);
	if (tx->write_errno != 0) {
		reason = tx->write_errno == ENOSPC || tx->write_errno == EDQUOT ? "no_space" :
		    "local_error";
		text = storage_reply(tx->write_errno);
		log_event("error", "reason=\"queue write failed: %s\" client=%s",
		    storage_reason(tx->write_errno), s->ip);
	} else if (tx->dr.too_big) {
		reason = "message_too_big";
		text = RPL_TOO_BIG;
	} else if (tx->dr.header_too_big) {
		reason = "header_too_big";
		text = RPL_HEADER_TOO_BIG;
	} else if (tx->dr.bare_lf || tx->dr.bare_cr) {
		/* RFC 5321 2.3.8: CR and LF only as CRLF. Refusing the whole
		 * message closes the smuggling hole of CVE-2023-51764. */
		reason = tx->dr.bare_lf ? "bare_lf" : "bare_cr";
		text = RPL_BARE_CR_LF;
	}
	if (reason != NULL) {
		reply(s, "%s", text);
		log_reject(s, reason, "data", NULL, text);
		tx_reset(s);
		count_error(s);
		return;
	}
	scan_begin(s);
}

void
cmd_data(struct session *s, const struct smtp_cmd *cmd)
{
	if (s->tx == NULL || s->tx->nrcpts == 0) {
		reply(s, RPL_NO_VALID_RCPT);
		count_error(s);
		return;
	}
	if (s->tx->bdat) {
		reply(s, RPL_DATA_AFTER_BDAT);
		count_error(s);
		return;
	}
	if (data_begin(s, DATA_MODE_DOT) == -1) {
		reply(s, "%s", storage_reply(s->tx->write_errno));
		tx_reset(s);
		return;
	}
	session_enter(s, S_DATA);
	data_deadline_start(s);
	reply(s, RPL_DATA_GO);
}

/*
 * BDAT (RFC 3030): the chunk's octets follow the command line whatever
 * we answer, so even a refused chunk is read and thrown away, or its
 * content would be taken for commands.
 */
void
cmd_bdat(struct session *s, const struct smtp_cmd *cmd)
{
	uint64_t size;
	bool last;
	struct transaction *tx = s->tx;
	bool first = tx == NULL || !tx->bdat;	/* the transfer starts now */

	if (smtp_parse_bdat(cmd->arg, cmd->arglen, &size, &last) == -1) {
		/* Without a size we cannot resynchronise: end the session. */
		reply(s, RPL_BDAT_SYNTAX);
		log_reject(s, "bad_bdat", session_stage(s), NULL, "501 5.5.4");
		session_close(s);
		return;
	}
	if (tx == NULL || tx->nrcpts == 0 || s->state == S_GREET) {
		/* Read and drop the chunk in a throw-away transaction. */
		if (tx == NULL) {
			tx = s->tx = xcalloc(1, sizeof(*tx));
		}
		tx->bdat = true;
		tx->bdat_failed = true;
		data_reader_init(&tx->dr, DATA_MODE_RAW, UINT64_MAX);
	} else if (!tx->bdat) {
		tx->bdat = true;
		if (data_begin(s, DATA_MODE_RAW) == -1)
			tx->bdat_failed = true;
	}
	tx->chunk_left = size;
	tx->chunk_last = last;
	session_enter(s, S_BDAT);
	if (first)
		data_deadline_start(s);
}

static void
bdat_chunk_end(struct session *s)
{
	struct transaction *tx = s->tx;
	char out[2];
	size_t n;

	if (tx->bdat_failed) {
		if (tx->nrcpts == 0)
			reply(s, RPL_NO_VALID_RCPT);
		else
			reply(s, "%s", storage_reply(tx->write_errno));
		tx_reset(s);
		count_error(s);
		return;
	}
	if (!tx->chunk_last) {
		session_enter(s, S_RCPT);
		reply(s, RPL_CHUNK_OK,
		    (unsigned long long)tx->dr.size);
		return;
	}
	n = data_reader_finish(&tx->dr, out);
	if (n > 0 && tx->w && !tx->dr.too_big && spool_write(tx->w, out, n) == -1)
		tx->write_errno = errno;
	data_end(s);
}

static char scratch[65536 + 2];	/* loop thread only */

/* Feeds content to the data reader; returns true when more is needed. */
bool
read_content(struct session *s, struct evbuffer *in)
{
	struct transaction *tx = s->tx;

	while (evbuffer_get_length(in) > 0) {
		size_t avail = evbuffer_get_contiguous_space(in), n, olen, used;
		const char *p;

		if (avail > sizeof(scratch) - 2)
			avail = sizeof(scratch) - 2;
		if (s->state == S_BDAT && avail > tx->chunk_left)
			avail = (size_t)tx->chunk_left;
		if (avail == 0 && s->state == S_BDAT)
			break;
		p = (const char *)evbuffer_pullup(in, (ev_ssize_t)avail);
		used = data_reader_feed(&tx->dr, p, avail, scratch, &olen);
		n = olen;
		if (n > 0 && tx->w != NULL && tx->write_errno == 0 &&
		    spool_write(tx->w, scratch, n) == -1)
			tx->write_errno = errno;
		evbuffer_drain(in, used);
		if (s->state == S_BDAT) {
			tx->chunk_left -= used;
			if (tx->chunk_left == 0)
				break;
		} else if (tx->dr.done)
			break;
	}
	if (s->state == S_BDAT) {
		if (tx->chunk_left > 0)
			return true;
		bdat_chunk_end(s);
		return false;
	}
	if (!tx->dr.done)
		return true;
	data_end(s);
	return false;
}
