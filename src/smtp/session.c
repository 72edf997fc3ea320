/*
 * SMTP session state machine. Invariants:
 *  - input is processed by session_process() only, one command at a time,
 *    and never while a reply is pending from another thread (COMMIT) or a
 *    TLS handshake runs;
 *  - a line ends with CRLF only; a bare LF or CR is refused, never taken
 *    as a line end;
 *  - a 250 for a message is sent only from commit_done(), after the group
 *    sync that covers its queue file;
 *  - the session is freed from session_free() only, never while a sync
 *    callback still points at it (the "dead" flag defers it).
 */
#include "session.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "policy/learn.h"
#include "policy/local.h"
#include "queue/spool.h"
#include "smtp/address.h"
#include "smtp/data.h"
#include "smtp/parse.h"
#include "smtp/tls.h"
#include "policy/selftest.h"
#include "scan/scan.h"
#include "scan/mime.h"
#include "auth/sasl.h"

enum session_state {
	S_HANDSHAKE,	/* implicit TLS: handshake before the banner */
	S_GREET,	/* banner sent, waiting for EHLO/HELO */
	S_READY,	/* after EHLO/HELO, no transaction */
	S_MAIL,		/* MAIL accepted */
	S_RCPT,		/* at least one RCPT accepted */
	S_DATA,		/* reading DATA content */
	S_BDAT,		/* reading a BDAT chunk */
	S_AUTH,		/* AUTH exchange: the next line is a SASL response */
	S_AUTH_WAIT,	/* password being checked off the loop */
	S_SCAN,		/* content analysis waiting for its lookups */
	S_COMMIT,	/* message written, waiting for the group sync */
	S_TLS,		/* STARTTLS handshake */
	S_CLOSING,	/* last reply being flushed */
};

#define ST(x) (1u << (x))

struct transaction {
	struct mailaddr from;
	char from_str[ADDR_PATH_MAX + 1];
	struct smtp_params params;
	struct spool_rcpt *rcpts;	/* owned strings */
	size_t nrcpts;
	char id[SPOOL_ID_LEN + 1];
	struct spool_writer *w;		/* open during DATA/BDAT */
	struct data_reader dr;
	int write_errno;		/* first spool write error */
	bool bdat;			/* CHUNKING in use */
	bool bdat_failed;		/* a chunk was refused: discard the rest */
	uint64_t chunk_left;		/* octets of the current chunk to read */
	bool chunk_last;
	size_t rcvd_len;		/* our Received header, first in the queue file */
	char *msgbuf;			/* the message read back for the scan */
	struct scan *scan;		/* content analysis, then its verdict */
};

struct session {
	struct session *next, *prev;	/* srv->sessions */
	struct server *srv;
	struct bufferevent *bev;
	enum listener_role role;
	enum session_state state;
	struct sockaddr_storage ss;
	char ip[INET6_ADDRSTRLEN];
	unsigned port;
	char helo[256];			/* sanitised EHLO/HELO argument */
	bool esmtp;
	bool tls;
	char *user;			/* authenticated account (submission) */
	unsigned errors;
	unsigned messages;
	bool skipping;			/* inside an over-long line */
	bool dead;			/* peer gone while committing */
	struct transaction *tx;
	struct client_checks *checks;	/* Spamhaus lookups, NULL when off */
	bool dnsbl_exempt;		/* allow_networks / trusted_networks */
	bool waiting_dns;		/* a RCPT waits for lookups in flight */
	bool selftest;			/* the relay self-test's own session */
	bool selftest_conn;		/* from its source address: not counted */
	enum sasl_mech auth_mech;	/* AUTH in progress */
	char auth_user[SASL_FIELD_MAX];	/* LOGIN: the user name given */
	struct verify_req *auth_req;	/* password check in flight */
	struct event *close_timer;	/* waits for the last reply to flush */
	unsigned close_polls;
	struct event *data_timer;	/* the transfer deadline (SPEC 2, smtp_timeout) */
	struct timeval data_start;	/* when the current DATA/BDAT transfer began */
	struct timeval last_input;	/* for closing the longest-idle session first */
};

static void session_process(struct session *s);
static void scan_begin(struct session *s);
static void session_free(struct session *s);
static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

/* ---- replies and logging ---- */

static void __attribute__((format(printf, 2, 3)))
reply(struct session *s, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

static void
session_close(struct session *s)
{
	s->state = S_CLOSING;
	bufferevent_disable(s->bev, EV_READ);
	/* on_write frees the session once the reply is out. */
	bufferevent_setcb(s->bev, NULL, on_write, on_event, s);
	bufferevent_enable(s->bev, EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		on_write(s->bev, s);
}

/* Counts a client error; past the limit the session ends with 421. */
static bool
count_error(struct session *s)
{
	if (++s->errors < SMTP_ERRORS_MAX)
		return false;
	reply(s, "421 4.7.0 %s Error: too many errors", s->srv->cfg->hostname);
	log_event("reject", "reason=too_many_errors stage=session client=%s errors=%u",
	    s->ip, s->errors);
	session_close(s);
	return true;
}

static const char *
q(char *buf, const char *v)
{
	return log_quote(buf, LOG_VALUE_MAX, v ? v : "", v ? strlen(v) : 0);
}

static const char *
stage_name(struct session *s)
{
	switch (s->state) {
	case S_GREET: return "helo";
	case S_READY: return "mail";
	case S_MAIL:
	case S_RCPT: return "rcpt";
	case S_DATA:
	case S_BDAT: return "data";
	default: return "session";
	}
}

/* The line that rejects is the line that logs (STYLE 10). */
static void
log_reject(struct session *s, const char *reason, const char *stage,
    const char *rcpt, const char *text)
{
	char h[LOG_VALUE_MAX], f[LOG_VALUE_MAX], r[LOG_VALUE_MAX], t[LOG_VALUE_MAX];

	if (s->selftest)
		return;	/* the relay self-test's refusals are its success */
	log_event("reject", "reason=%s stage=%s client=%s helo=%s from=%s rcpt=%s reply=%s",
	    reason, stage, s->ip, q(h, s->helo),
	    q(f, s->tx ? s->tx->from_str : ""), q(r, rcpt), q(t, text));
}

/* The reply and log reason for a queue file that could not be written:
 * a full disk is said as such, where it happens, and tells the client to
 * come back later (RFC 3463 4.3.1); anything else is a local error. */
static const char *
storage_reply(int err)
{
	if (err == ENOSPC || err == EDQUOT)
		return "452 4.3.1 Insufficient system storage; try again later";
	return "451 4.3.0 Local error in processing; try again later";
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

static double
elapsed_since(struct session *s, const struct timeval *t)
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

static void
data_deadline_stop(struct session *s)
{
	if (s->data_timer != NULL)
		evtimer_del(s->data_timer);
}

static void tx_free(struct session *s);

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
	snprintf(text, sizeof(text), "421 4.4.2 %s Error: data transfer too slow (%llu octets in %.0fs)",
	    cfg->hostname, (unsigned long long)s->tx->dr.size, elapsed);
	log_reject(s, "slow_transfer", "data", NULL, text);
	reply(s, "%s", text);
	tx_free(s);
	session_close(s);
}

/* ---- transactions ---- */

static void
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

static void
tx_reset(struct session *s)
{
	tx_free(s);
	if (s->state != S_GREET)
		s->state = S_READY;
}

/* ---- command handlers ---- */

static void
cmd_helo(struct session *s, const struct smtp_cmd *cmd)
{
	const struct config *cfg = s->srv->cfg;
	bool ehlo = cmd->verb == SMTP_VERB_EHLO;

	if (cmd->arglen >= sizeof(s->helo) || memchr(cmd->arg, ' ', cmd->arglen) ||
	    memchr(cmd->arg, '\t', cmd->arglen)) {
		reply(s, "501 5.5.4 Syntax: %s hostname", ehlo ? "EHLO" : "HELO");
		log_reject(s, "bad_helo", "helo", NULL, "501 5.5.4");
		count_error(s);
		return;
	}
	memcpy(s->helo, cmd->arg, cmd->arglen);
	s->helo[cmd->arglen] = '\0';
	/* the relay self-test is never trusted, whatever trusted_networks */
	if (s->srv->selftest_helo[0] && strcmp(s->helo, s->srv->selftest_helo) == 0)
		s->selftest = true;
	if (s->checks)
		checks_helo(s->checks, s->helo);
	tx_free(s);
	s->state = S_READY;
	s->esmtp = ehlo;
	if (!ehlo) {
		reply(s, "250 %s", cfg->hostname);
		return;
	}
	reply(s, "250-%s", cfg->hostname);
	reply(s, "250-PIPELINING");
	reply(s, "250-SIZE %llu", (unsigned long long)cfg->max_message_size);
	if (s->srv->ssl_ctx != NULL && !s->tls)
		reply(s, "250-STARTTLS");
	/* RFC 4954 and SPEC 6.1: AUTH only on the submission ports, and
	 * only once the session is encrypted. */
	if (s->role != ROLE_MX && s->tls && s->user == NULL)
		reply(s, "250-AUTH PLAIN LOGIN");
	reply(s, "250-ENHANCEDSTATUSCODES");
	reply(s, "250-8BITMIME");
	reply(s, "250-SMTPUTF8");
	reply(s, "250 CHUNKING");
}

static bool
space_ok(struct session *s)
{
	struct statvfs sv;

	if (statvfs(s->srv->cfg->data_dir, &sv) == -1)
		return true;	/* cannot tell: the write will fail loudly */
	return (uint64_t)sv.f_bavail * sv.f_frsize >= s->srv->cfg->min_free_space;
}

/* SPEC 6.4: over a per-account limit, 450 and the account held: a
 * stolen password shows first as a burst of mail. */
static void
rate_exceeded(struct session *s, const char *what, const struct rate *r, const char *stage,
    const char *rcpt)
{
	char text[512];

	snprintf(text, sizeof(text), "450 4.7.1 Too many %s from %s (limit %u per %us); try later",
	    what, s->user, r->count, r->seconds);
	reply(s, "%s", text);
	/* a refusal like any other (rejected{ratelimit}), and the account's
	 * own event for the compromised-account watch */
	log_reject(s, "ratelimit", stage, rcpt, text);
	log_event("ratelimit", "user=%s client=%s kind=%s limit=%u window=%us", s->user, s->ip,
	    what, r->count, r->seconds);
	if (!ratelimit_held(s->srv->ratelimit, s->user)) {
		ratelimit_hold(s->srv->ratelimit, s->user);
		log_event("alert", "kind=ratelimit user=%s client=%s reason=\"account over its %s limit: new mail held until released (postern queue release)\"",
		    s->user, s->ip, what);
	}
}

/* SPEC 6.1: an authenticated user sends as the account or one of its
 * aliases (an alias whose expansion includes the account's mailbox). */
static bool
sender_owned(struct session *s, const struct mailaddr *from)
{
	char *mailboxes = NULL, own[ADDR_PATH_MAX + 1];
	const char *at = strrchr(s->user, '@');
	bool ok = false;

	if (from->null)
		return true;	/* vacation notices and the like */
	if (at == NULL)
		return false;
	snprintf(own, sizeof(own), "%s/%.*s", at + 1, (int)(at - s->user), s->user);
	if (local_resolve(s->srv->cfg, s->srv->users, from, &mailboxes) == LOCAL_OK) {
		char *save = NULL;
		for (char *mb = strtok_r(mailboxes, ",", &save); mb; mb = strtok_r(NULL, ",", &save))
			if (strcasecmp(mb, own) == 0)
				ok = true;
	}
	free(mailboxes);
	return ok;
}

static void
cmd_mail(struct session *s, const struct smtp_cmd *cmd)
{
	const struct config *cfg = s->srv->cfg;
	const char *path, *params;
	size_t plen, parlen;
	struct smtp_params p;
	enum addr_result ar;
	enum smtp_param_result pr;
	struct transaction *tx;

	if (s->role != ROLE_MX && s->user == NULL) {
		reply(s, "530 5.7.0 Authentication required");
		log_reject(s, "auth_required", "mail", NULL, "530 5.7.0");
		count_error(s);
		return;
	}
	if (smtp_split_path_arg(cmd->arg, cmd->arglen, "FROM", &path, &plen,
	    &params, &parlen) == -1) {
		reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		count_error(s);
		return;
	}
	pr = smtp_parse_mail_params(params, parlen, &p);
	if (pr == SMTP_PARAM_UNKNOWN) {
		reply(s, "555 5.5.4 Unsupported MAIL parameter");
		count_error(s);
		return;
	}
	if (pr != SMTP_PARAM_OK || p.body == SMTP_BODY_BINARYMIME) {
		reply(s, "501 5.5.4 Bad MAIL parameter");
		count_error(s);
		return;
	}
	if (p.has_size && p.size > cfg->max_message_size) {
		reply(s, "552 5.3.4 Message size exceeds fixed limit");
		log_reject(s, "message_too_big", "mail", NULL, "552 5.3.4");
		count_error(s);
		return;
	}
	tx = xcalloc(1, sizeof(*tx));
	ar = addr_parse_path(path, plen, true, p.smtputf8, &tx->from);
	if (ar != ADDR_OK) {
		reply(s, "553 5.1.7 Bad sender address syntax: %s", addr_result_reason(ar));
		free(tx);
		log_reject(s, "bad_address", "mail", NULL, "553 5.1.7");
		count_error(s);
		return;
	}
	if (!space_ok(s)) {
		reply(s, "452 4.3.1 Insufficient system storage");
		free(tx);
		log_reject(s, "disk_full", "mail", NULL, "452 4.3.1");
		return;
	}
	if (s->user != NULL && !ratelimit_take(s->srv->ratelimit, s->user, "messages",
	    &cfg->user_max_messages, 1, time(NULL))) {
		free(tx);
		rate_exceeded(s, "messages", &cfg->user_max_messages, "mail", NULL);
		return;
	}
	if (s->user != NULL && !sender_owned(s, &tx->from)) {
		char text[ADDR_PATH_MAX + 80], f[ADDR_PATH_MAX + 1];
		addr_format(&tx->from, f, sizeof(f));
		snprintf(text, sizeof(text), "553 5.7.1 <%s>: Sender address not owned by user %s",
		    f, s->user);
		reply(s, "%s", text);
		free(tx);
		log_reject(s, "sender_not_owned", "mail", NULL, text);
		count_error(s);
		return;
	}
	tx->params = p;
	addr_format(&tx->from, tx->from_str, sizeof(tx->from_str));
	if (s->checks)
		checks_sender(s->checks, tx->from.null || tx->from.literal ? NULL : tx->from.domain);
	s->tx = tx;
	s->state = S_MAIL;
	reply(s, "250 2.1.0 Ok");
}

/* Who may send to domains that are not ours (SPEC 6.3). */
static bool
relay_allowed(const struct session *s)
{
	const struct config *cfg = s->srv->cfg;

	if (s->user != NULL)
		return true;
	if (s->selftest)
		return false;
	return cidr_list_match(cfg->trusted_networks, cfg->ntrusted_networks,
	    (const struct sockaddr *)&s->ss);
}

static void
cmd_rcpt(struct session *s, const struct smtp_cmd *cmd)
{
	const struct config *cfg = s->srv->cfg;
	struct transaction *tx = s->tx;
	const char *path, *params;
	size_t plen, parlen;
	struct mailaddr rcpt;
	enum addr_result ar;
	enum local_result lr;
	char addr[ADDR_PATH_MAX + 1], *mailboxes, *err = NULL;
	char text[ADDR_PATH_MAX + DNSBL_NAME_MAX * 2 + 160];

	if (smtp_split_path_arg(cmd->arg, cmd->arglen, "TO", &path, &plen,
	    &params, &parlen) == -1) {
		reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		count_error(s);
		return;
	}
	if (smtp_parse_rcpt_params(params, parlen) != SMTP_PARAM_OK) {
		reply(s, "555 5.5.4 Unsupported RCPT parameter");
		count_error(s);
		return;
	}
	ar = addr_parse_path(path, plen, false, tx->params.smtputf8, &rcpt);
	if (ar == ADDR_NO_DOMAIN && plen == 12 && strncasecmp(path, "<postmaster>", 12) == 0) {
		/* RFC 5321 4.1.1.3: "<Postmaster>" without a domain must be
		 * accepted; it is the postmaster of our primary domain. */
		char pm[ADDR_PATH_MAX];
		snprintf(pm, sizeof(pm), "<postmaster@%s>", cfg->domains[0]);
		ar = addr_parse_path(pm, strlen(pm), false, false, &rcpt);
	}
	if (ar != ADDR_OK) {
		reply(s, "553 5.1.3 Bad recipient address syntax: %s", addr_result_reason(ar));
		snprintf(addr, sizeof(addr), "%.*s", (int)(plen > ADDR_PATH_MAX ? ADDR_PATH_MAX : plen), path);
		log_reject(s, "bad_address", "rcpt", addr, "553 5.1.3");
		count_error(s);
		return;
	}
	addr_format(&rcpt, addr, sizeof(addr));
	if (s->checks && !s->dnsbl_exempt) {
		char detail[DNSBL_NAME_MAX * 2 + 128];
		if (checks_reject(s->checks, text, sizeof(text), detail, sizeof(detail))) {
			char h[LOG_VALUE_MAX], f[LOG_VALUE_MAX], r[LOG_VALUE_MAX];
			reply(s, "%s", text);
			log_event("reject", "reason=dnsbl stage=rcpt %s client=%s helo=%s from=%s rcpt=%s",
			    detail, s->ip, q(h, s->helo), q(f, tx->from_str), q(r, addr));
			count_error(s);
			return;
		}
	}
	if (s->user != NULL && !ratelimit_take(s->srv->ratelimit, s->user, "recipients",
	    &cfg->user_max_recipients, 1, time(NULL))) {
		rate_exceeded(s, "recipients", &cfg->user_max_recipients, "rcpt", addr);
		return;
	}
	if (tx->nrcpts >= cfg->max_recipients) {
		reply(s, "452 4.5.3 Too many recipients");
		log_reject(s, "too_many_recipients", "rcpt", addr, "452 4.5.3");
		return;
	}
	if (userdb_refresh(s->srv->users, &err) == -1) {
		log_event("error", "reason=%s", q(text, err));
		free(err);
	}
	lr = local_resolve(cfg, s->srv->users, &rcpt, &mailboxes);
	switch (lr) {
	case LOCAL_OK:
		break;
	case LOCAL_NOT_LOCAL:
		/* SPEC 6.3: relay needs AUTH or a trusted_networks client;
		 * the address was parsed strictly, so no relay trick gets
		 * here as a local recipient. */
		if (relay_allowed(s)) {
			mailboxes = xstrdup(SPOOL_REMOTE);
			break;
		}
		snprintf(text, sizeof(text), "554 5.7.1 <%s>: Relay access denied", addr);
		reply(s, "%s", text);
		log_reject(s, "relay_denied", "rcpt", addr, text);
		count_error(s);
		return;
	case LOCAL_UNKNOWN:
		snprintf(text, sizeof(text),
		    "550 5.1.1 <%s>: Recipient address rejected: User unknown", addr);
		reply(s, "%s", text);
		log_reject(s, "unknown_user", "rcpt", addr, text);
		/* SPEC 6.4: many unknown recipients from one account is a
		 * compromised-account signal (harvested address lists) */
		if (s->user != NULL && !ratelimit_take(s->srv->ratelimit, s->user, "failed_recipients",
		    &cfg->user_max_failed_recipients, 1, time(NULL)) &&
		    !ratelimit_held(s->srv->ratelimit, s->user)) {
			ratelimit_hold(s->srv->ratelimit, s->user);
			log_event("alert", "kind=failed_recipients user=%s client=%s reason=\"account sends to many unknown recipients: new mail held until released\"",
			    s->user, s->ip);
		}
		count_error(s);
		return;
	case LOCAL_LOOP:
		snprintf(text, sizeof(text),
		    "451 4.3.0 <%s>: Alias expansion failed (loop or too many targets)", addr);
		reply(s, "%s", text);
		log_reject(s, "alias_loop", "rcpt", addr, text);
		return;
	}
	for (size_t i = 0; i < tx->nrcpts; i++)
		if (strcasecmp(tx->rcpts[i].addr, addr) == 0) {
			free(mailboxes);
			reply(s, "250 2.1.5 Ok");
			return;
		}
	tx->rcpts = xrealloc(tx->rcpts, (tx->nrcpts + 1) * sizeof(*tx->rcpts));
	memset(&tx->rcpts[tx->nrcpts], 0, sizeof(tx->rcpts[0]));
	tx->rcpts[tx->nrcpts].addr = xstrdup(addr);
	tx->rcpts[tx->nrcpts].mailbox = mailboxes;
	tx->rcpts[tx->nrcpts].done = false;
	tx->nrcpts++;
	s->state = S_RCPT;
	reply(s, "250 2.1.5 Ok");
}

static const char *
with_protocol(const struct session *s)
{
	if (!s->esmtp)
		return s->tls ? "SMTPS" : "SMTP";
	if (s->tls)
		return s->user ? "ESMTPSA" : "ESMTPS";
	return s->user ? "ESMTPA" : "ESMTP";
}

/* Opens the queue file and writes our Received header (SPEC 3). */
static int
data_begin(struct session *s, enum data_mode mode)
{
	const struct config *cfg = s->srv->cfg;
	struct transaction *tx = s->tx;
	struct spool_envelope env;
	char date[64], *hdr, forpart[ADDR_PATH_MAX + 8] = "", authpart[340] = "";
	const char *rdns;
	time_t now = time(NULL);
	struct tm tm;

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
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	if (tx->nrcpts == 1)
		snprintf(forpart, sizeof(forpart), " for <%s>", tx->rcpts[0].addr);
	if (s->user)
		snprintf(authpart, sizeof(authpart), " (authenticated as %s)", s->user);
	rdns = s->checks ? checks_rdns(s->checks) : NULL;
	hdr = xasprintf("Received: from %s (%s [%s]) by %s (postern) with %s id %s%s%s; %s\r\n",
	    s->helo, rdns ? rdns : "unknown", s->ip, cfg->hostname, with_protocol(s), tx->id, authpart,
	    forpart, date);
	tx->rcvd_len = strlen(hdr);
	if (spool_write(tx->w, hdr, tx->rcvd_len) == -1)
		tx->write_errno = errno;
	free(hdr);
	data_reader_init(&tx->dr, mode, cfg->max_message_size);
	return 0;
}

/* "SYM1,SYM2" of a score, or "-" */
static void
symbols_text(const struct score *sc, char *out, size_t outlen)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sc->nhits; i++) {
		int n = snprintf(out + o, outlen - o, "%s%s", i ? "," : "", symbol_name(sc->hits[i].sym));
		if (n < 0 || (size_t)n >= outlen - o)
			break;
		o += (size_t)n;
	}
	if (o == 0)
		snprintf(out, outlen, "-");
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
		reply(s, "250 2.0.0 Ok: queued as %s", tx->id);
		s->messages++;
		{
			char syms[1024] = "-";
			double total = 0;
			const char *verdict = "inbox";
			if (tx->scan) {
				symbols_text(scan_score(tx->scan), syms, sizeof(syms));
				total = scan_score(tx->scan)->total;
				verdict = verdict_name(scan_verdict(tx->scan));
			}
			log_event("accepted", "id=%s client=%s helo=%s from=%s rcpts=%s size=%llu score=%.1f verdict=%s symbols=%s proto=%s%s%s",
			    tx->id, s->ip, q(h, s->helo), q(f, tx->from_str),
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
			    s->user != NULL && ratelimit_held(s->srv->ratelimit, s->user));
		}
	}
	tx_free(s);
	s->state = S_READY;
	if (s->srv->stopping) {
		reply(s, "421 4.3.2 %s Service shutting down", cfg->hostname);
		session_close(s);
		return;
	}
	bufferevent_enable(s->bev, EV_READ);
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

	if (tx->scan != NULL) {
		headers = scan_headers(tx->scan);
		meta.headers = headers;
		if (scan_verdict(tx->scan) == VERDICT_JUNK)
			meta.folder = "Junk";
	}
	if (spool_finish(tx->w, &meta) == -1) {
		int err = errno;
		tx->w = NULL;
		free(headers);
		log_event("error", "reason=\"queue write failed: %s\" client=%s",
		    storage_reason(err), s->ip);
		reply(s, "%s", storage_reply(err));
		tx_reset(s);
		bufferevent_enable(s->bev, EV_READ);
		return;
	}
	free(headers);
	tx->w = NULL;
	s->state = S_COMMIT;
	bufferevent_disable(s->bev, EV_READ);
	groupsync_request(s->srv->gs, commit_done, s);
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

/* SPEC 5.4: reject at end of DATA (never a bounce), else commit. */
static void
scan_decide(struct session *s)
{
	struct transaction *tx = s->tx;
	const struct score *sc = scan_score(tx->scan);
	char text[256], syms[1024];

	if (s->user != NULL && tx->msgbuf != NULL) {
		/* SPEC 6.1: the From: header belongs to the account too */
		char path[ADDR_PATH_MAX + 4];
		struct mailaddr from;
		if (header_from_path(tx->msgbuf, strlen(tx->msgbuf), path, sizeof(path)) &&
		    (addr_parse_path(path, strlen(path), false, true, &from) != ADDR_OK ||
		    !sender_owned(s, &from))) {
			char t2[ADDR_PATH_MAX + 120];
			snprintf(t2, sizeof(t2), "553 5.7.1 From: header %s not owned by user %s",
			    path, s->user);
			reply(s, "%s", t2);
			log_reject(s, "from_not_owned", "data", NULL, t2);
			tx_reset(s);
			bufferevent_enable(s->bev, EV_READ);
			return;
		}
	}

	free(tx->msgbuf);
	tx->msgbuf = NULL;
	if (s->user != NULL && scan_verdict(tx->scan) != VERDICT_INBOX) {
		/* SPEC 6.4: outgoing mail has no Junk folder, and spam from an
		 * account means a stolen password. */
		symbols_text(sc, syms, sizeof(syms));
		snprintf(text, sizeof(text),
		    "550 5.7.1 Message refused: it looks like spam (score %.1f)", sc->total);
		reply(s, "%s", text);
		log_event("reject", "reason=outbound_spam stage=data client=%s user=%s score=%.1f symbols=%s",
		    s->ip, s->user, sc->total, syms);
		log_event("alert", "kind=outbound_spam user=%s client=%s score=%.1f reason=\"authenticated account sent content scored as spam: compromised password? new mail held until released\"",
		    s->user, s->ip, sc->total);
		ratelimit_hold(s->srv->ratelimit, s->user);
		tx_reset(s);
		bufferevent_enable(s->bev, EV_READ);
		return;
	}
	if (scan_verdict(tx->scan) != VERDICT_REJECT) {
		commit(s);
		return;
	}
	symbols_text(sc, syms, sizeof(syms));
	snprintf(text, sizeof(text), "550 5.7.1 Message rejected as spam (score %.1f)", sc->total);
	reply(s, "%s", text);
	{
		char h[LOG_VALUE_MAX], f[LOG_VALUE_MAX];
		log_event("reject", "reason=spam stage=data client=%s helo=%s from=%s score=%.1f symbols=%s",
		    s->ip, q(h, s->helo), q(f, tx->from_str), sc->total, syms);
	}
	tx_reset(s);
	bufferevent_enable(s->bev, EV_READ);
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
		const char *text = "554 5.6.0 Message refused: no header section";
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
			log_event("error", "reason=%s", q(t, err));
			free(err);
		}
		in.learned = recipients_opinion;
		in.learned_arg = s;
	}
	tx->scan = scan_start(&in, tx->msgbuf, (size_t)n, on_scan_done, s);
	if (!scan_finished(tx->scan)) {
		s->state = S_SCAN;
		bufferevent_disable(s->bev, EV_READ);
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
		text = "552 5.3.4 Message size exceeds fixed limit";
	} else if (tx->dr.header_too_big) {
		reason = "header_too_big";
		text = "552 5.3.4 Message header section too large";
	} else if (tx->dr.bare_lf || tx->dr.bare_cr) {
		/* RFC 5321 2.3.8: CR and LF only as CRLF. Refusing the whole
		 * message closes the smuggling hole of CVE-2023-51764. */
		reason = tx->dr.bare_lf ? "bare_lf" : "bare_cr";
		text = "550 5.5.2 Message refused: bare CR or LF in message (lines must end with CRLF)";
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

static void
cmd_data(struct session *s, const struct smtp_cmd *cmd)
{
	if (s->tx == NULL || s->tx->nrcpts == 0) {
		reply(s, "554 5.5.1 Error: no valid recipients");
		count_error(s);
		return;
	}
	if (s->tx->bdat) {
		reply(s, "503 5.5.1 Error: DATA after BDAT");
		count_error(s);
		return;
	}
	if (data_begin(s, DATA_MODE_DOT) == -1) {
		reply(s, "%s", storage_reply(s->tx->write_errno));
		tx_reset(s);
		return;
	}
	s->state = S_DATA;
	data_deadline_start(s);
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/*
 * BDAT (RFC 3030): the chunk's octets follow the command line whatever
 * we answer, so even a refused chunk is read and thrown away, or its
 * content would be taken for commands.
 */
static void
cmd_bdat(struct session *s, const struct smtp_cmd *cmd)
{
	uint64_t size;
	bool last;
	struct transaction *tx = s->tx;
	bool first = tx == NULL || !tx->bdat;	/* the transfer starts now */

	if (smtp_parse_bdat(cmd->arg, cmd->arglen, &size, &last) == -1) {
		/* Without a size we cannot resynchronise: end the session. */
		reply(s, "501 5.5.4 Syntax: BDAT size [LAST]");
		log_reject(s, "bad_bdat", stage_name(s), NULL, "501 5.5.4");
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
	s->state = S_BDAT;
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
			reply(s, "554 5.5.1 Error: no valid recipients");
		else
			reply(s, "%s", storage_reply(tx->write_errno));
		tx_reset(s);
		count_error(s);
		return;
	}
	if (!tx->chunk_last) {
		s->state = S_RCPT;
		reply(s, "250 2.0.0 Ok: %llu octets received",
		    (unsigned long long)tx->dr.size);
		return;
	}
	n = data_reader_finish(&tx->dr, out);
	if (n > 0 && tx->w && !tx->dr.too_big && spool_write(tx->w, out, n) == -1)
		tx->write_errno = errno;
	data_end(s);
}

static void
cmd_rset(struct session *s, const struct smtp_cmd *cmd)
{
	tx_reset(s);
	reply(s, "250 2.0.0 Ok");
}

static void
cmd_noop(struct session *s, const struct smtp_cmd *cmd)
{
	reply(s, "250 2.0.0 Ok");
}

static void
cmd_quit(struct session *s, const struct smtp_cmd *cmd)
{
	reply(s, "221 2.0.0 Bye");
	tx_free(s);
	session_close(s);
}

static void
cmd_vrfy(struct session *s, const struct smtp_cmd *cmd)
{
	/* RFC 5321 3.5.3: 252 neither confirms nor denies, so VRFY cannot be
	 * used to harvest addresses. */
	reply(s, "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery");
}

static void
cmd_expn(struct session *s, const struct smtp_cmd *cmd)
{
	reply(s, "502 5.5.1 EXPN not available");
}

static void
cmd_help(struct session *s, const struct smtp_cmd *cmd)
{
	reply(s, "214-2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY%s",
	    s->srv->ssl_ctx ? " STARTTLS" : "");
	reply(s, "214 2.0.0 postern, https://postern.example/ (RFC 5321)");
}

static void
starttls_begin(struct session *s)
{
	SSL *ssl = SSL_new(s->srv->ssl_ctx);
	struct bufferevent *tlsbev;
	struct evbuffer *in = bufferevent_get_input(s->bev);

	/* CVE-2011-0411: whatever the client pipelined after STARTTLS came
	 * in plain text and must not be executed inside the TLS session. */
	evbuffer_drain(in, evbuffer_get_length(in));
	tlsbev = bufferevent_openssl_filter_new(s->srv->base, s->bev, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (tlsbev == NULL) {
		SSL_free(ssl);
		reply(s, "454 4.7.0 TLS not available due to local problem");
		return;
	}
	s->bev = tlsbev;
	s->state = S_TLS;
	event_base_gettimeofday_cached(s->srv->base, &s->last_input);
	bufferevent_setcb(s->bev, on_read, NULL, on_event, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, SMTP_INPUT_HIGH);
	{
		struct timeval tv = { s->srv->cfg->smtp_timeout, 0 };
		bufferevent_set_timeouts(s->bev, &tv, &tv);
	}
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

static void
cmd_starttls(struct session *s, const struct smtp_cmd *cmd)
{
	if (s->srv->ssl_ctx == NULL || s->tls) {
		reply(s, "502 5.5.1 STARTTLS not available");
		count_error(s);
		return;
	}
	reply(s, "220 2.0.0 Ready to start TLS");
	tx_free(s);
	starttls_begin(s);
}

static void
auth_done(void *arg, bool ok)
{
	struct session *s = arg;
	char u[LOG_VALUE_MAX];
	time_t until;

	s->auth_req = NULL;
	s->state = S_READY;
	if (ok) {
		char *lower = xstrdup(s->auth_user);
		for (char *p = lower; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		s->user = lower;
		reply(s, "235 2.7.0 Authentication successful");
		log_event("auth", "client=%s user=%s mech=%s", s->ip, q(u, s->user),
		    s->auth_mech == SASL_PLAIN ? "PLAIN" : "LOGIN");
	} else {
		/* fail2ban-friendly: always client= and user= */
		log_event("auth_failed", "client=%s user=%s mech=%s", s->ip, q(u, s->auth_user),
		    s->auth_mech == SASL_PLAIN ? "PLAIN" : "LOGIN");
		if (lockout_fail(s->srv->lockout, s->ip, &s->srv->cfg->auth_max_failures,
		    s->srv->cfg->auth_lockout, time(NULL), &until))
			log_event("auth_lockout", "client=%s failures=%u window=%us until=%lld",
			    s->ip, s->srv->cfg->auth_max_failures.count,
			    s->srv->cfg->auth_max_failures.seconds, (long long)until);
		reply(s, "535 5.7.8 Authentication credentials invalid");
		count_error(s);
	}
	explicit_bzero(s->auth_user, sizeof(s->auth_user));
	if (s->state == S_READY) {
		bufferevent_enable(s->bev, EV_READ);
		session_process(s);
	}
}

/* User and password known: check them off the loop. */
static void
auth_check(struct session *s, const char *user, const char *pass)
{
	char lower[SASL_FIELD_MAX];
	size_t i;

	for (i = 0; user[i] && i + 1 < sizeof(lower); i++)
		lower[i] = (char)tolower((unsigned char)user[i]);
	lower[i] = '\0';
	snprintf(s->auth_user, sizeof(s->auth_user), "%s", lower);
	userdb_refresh(s->srv->users, &(char *){ NULL });
	s->auth_req = verifier_check(s->srv->verifier, userdb_hash(s->srv->users, lower), pass,
	    auth_done, s);
	if (s->auth_req == NULL) {
		s->state = S_READY;
		reply(s, "454 4.7.0 Temporary authentication failure, try again later");
		return;
	}
	s->state = S_AUTH_WAIT;
	bufferevent_disable(s->bev, EV_READ);
}

/* Ends an AUTH exchange without a verdict: back to commands. */
static void
auth_abort(struct session *s)
{
	explicit_bzero(s->auth_user, sizeof(s->auth_user));
	s->state = S_READY;
}

/* A SASL response line (S_AUTH). */
static void
auth_response(struct session *s, const char *line, size_t len)
{
	char user[SASL_FIELD_MAX], pass[SASL_FIELD_MAX];

	if (len == 1 && line[0] == '*') {
		auth_abort(s);
		reply(s, "501 5.7.0 Authentication cancelled");
		return;
	}
	if (s->auth_mech == SASL_PLAIN) {
		if (sasl_plain_decode(line, len, user, sizeof(user), pass, sizeof(pass)) == -1)
			goto bad;
		auth_check(s, user, pass);
	} else if (s->auth_user[0] == '\0') {
		if (sasl_login_decode(line, len, s->auth_user, sizeof(s->auth_user)) == -1)
			goto bad;
		reply(s, "334 UGFzc3dvcmQ6");	/* "Password:" */
	} else {
		if (sasl_login_decode(line, len, pass, sizeof(pass)) == -1)
			goto bad;
		snprintf(user, sizeof(user), "%s", s->auth_user);
		auth_check(s, user, pass);
	}
	explicit_bzero(pass, sizeof(pass));
	return;
bad:
	explicit_bzero(pass, sizeof(pass));
	s->state = S_READY;
	reply(s, "501 5.5.2 Cannot decode the SASL response");
	count_error(s);
}

static void
cmd_auth(struct session *s, const struct smtp_cmd *cmd)
{
	const char *sp = memchr(cmd->arg, ' ', cmd->arglen);
	size_t ml = sp ? (size_t)(sp - cmd->arg) : cmd->arglen;
	time_t until;

	if (s->role == ROLE_MX) {
		/* SPEC 2: the inbound MX port has no AUTH at all */
		reply(s, "503 5.5.1 AUTH not available on this port; use submission (587/465)");
		count_error(s);
		return;
	}
	if (!s->tls) {
		reply(s, "530 5.7.0 Must issue a STARTTLS command first");
		count_error(s);
		return;
	}
	if (s->user != NULL) {
		reply(s, "503 5.5.1 Already authenticated");
		count_error(s);
		return;
	}
	if (lockout_locked(s->srv->lockout, s->ip, time(NULL), &until)) {
		reply(s, "454 4.7.0 Too many failed authentications from your address; try later");
		log_event("reject", "reason=auth_lockout stage=auth client=%s until=%lld", s->ip,
		    (long long)until);
		return;
	}
	s->auth_mech = sasl_mech_lookup(cmd->arg, ml);
	s->auth_user[0] = '\0';
	if (s->auth_mech == SASL_NONE) {
		reply(s, "504 5.5.4 Unrecognized authentication type");
		count_error(s);
		return;
	}
	s->state = S_AUTH;
	if (sp != NULL) {
		/* initial response (RFC 4954 4) */
		const char *ir = sp + 1;
		size_t il = cmd->arglen - ml - 1;
		if (il == 1 && ir[0] == '=')
			il = 0;
		auth_response(s, ir, il);
		return;
	}
	reply(s, s->auth_mech == SASL_PLAIN ? "334 " : "334 VXNlcm5hbWU6");	/* "Username:" */
}

struct command {
	enum smtp_verb verb;
	unsigned states;	/* states the verb is allowed in */
	void (*fn)(struct session *, const struct smtp_cmd *);
};

#define ANY (ST(S_GREET) | ST(S_READY) | ST(S_MAIL) | ST(S_RCPT))
static const struct command commands[] = {
	{ SMTP_VERB_HELO, ANY, cmd_helo },
	{ SMTP_VERB_EHLO, ANY, cmd_helo },
	{ SMTP_VERB_MAIL, ST(S_READY), cmd_mail },
	{ SMTP_VERB_RCPT, ST(S_MAIL) | ST(S_RCPT), cmd_rcpt },
	{ SMTP_VERB_DATA, ST(S_MAIL) | ST(S_RCPT), cmd_data },
	{ SMTP_VERB_BDAT, ANY, cmd_bdat },
	{ SMTP_VERB_RSET, ANY, cmd_rset },
	{ SMTP_VERB_NOOP, ANY, cmd_noop },
	{ SMTP_VERB_QUIT, ANY, cmd_quit },
	{ SMTP_VERB_VRFY, ANY, cmd_vrfy },
	{ SMTP_VERB_EXPN, ANY, cmd_expn },
	{ SMTP_VERB_HELP, ANY, cmd_help },
	{ SMTP_VERB_STARTTLS, ST(S_GREET) | ST(S_READY), cmd_starttls },
	{ SMTP_VERB_AUTH, ST(S_READY), cmd_auth },
};

static void
dispatch(struct session *s, const char *line, size_t len)
{
	struct smtp_cmd cmd;
	enum smtp_parse_result r = smtp_parse_cmd(line, len, &cmd);
	const struct command *c = NULL;

	switch (r) {
	case SMTP_PARSE_OK:
		break;
	case SMTP_PARSE_EMPTY:
	case SMTP_PARSE_UNKNOWN:
		reply(s, "500 5.5.2 Error: command not recognized");
		count_error(s);
		return;
	case SMTP_PARSE_BAD_CHAR:
		reply(s, "500 5.5.2 Error: bad character in command");
		count_error(s);
		return;
	case SMTP_PARSE_SYNTAX:
		reply(s, "501 5.5.4 Syntax error in parameters or arguments");
		count_error(s);
		return;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].verb == cmd.verb) {
			c = &commands[i];
			break;
		}
	if (c == NULL || !(c->states & ST(s->state))) {
		if (cmd.verb == SMTP_VERB_MAIL && s->state == S_GREET)
			reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		else if (cmd.verb == SMTP_VERB_MAIL)
			reply(s, "503 5.5.1 Error: nested MAIL command");
		else if (cmd.verb == SMTP_VERB_RCPT || cmd.verb == SMTP_VERB_DATA)
			reply(s, "503 5.5.1 Error: need MAIL command");
		else
			reply(s, "503 5.5.1 Error: bad sequence of commands");
		count_error(s);
		return;
	}
	c->fn(s, &cmd);
}

/* ---- input ---- */

static char scratch[65536 + 2];	/* loop thread only */

/* Feeds content to the data reader; returns true when more is needed. */
static bool
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

static void
session_process(struct session *s)
{
	struct evbuffer *in, *out;
	char line[SMTP_LINE_MAX + 2];

	for (;;) {
		struct evbuffer_ptr eol;
		size_t len;

		if (s->state == S_CLOSING || s->state == S_COMMIT || s->state == S_SCAN ||
		    s->state == S_AUTH_WAIT ||
		    s->state == S_TLS || s->state == S_HANDSHAKE || s->waiting_dns)
			return;
		in = bufferevent_get_input(s->bev);
		out = bufferevent_get_output(s->bev);
		/* Back-pressure: a client that pipelines without reading our
		 * replies stops being read (on_write resumes us). */
		if (evbuffer_get_length(out) > SMTP_OUTPUT_HIGH) {
			bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
			return;
		}
		if (s->state == S_DATA || s->state == S_BDAT) {
			if (read_content(s, in))
				return;
			continue;
		}
		eol = evbuffer_search_eol(in, NULL, &len, EVBUFFER_EOL_LF);
		if (eol.pos == -1) {
			/* No line end yet. A line past the cap is dropped up to
			 * its LF and answered then (Postfix's resync). */
			if (evbuffer_get_length(in) > SMTP_LINE_MAX) {
				evbuffer_drain(in, evbuffer_get_length(in));
				s->skipping = true;
			}
			return;
		}
		if (s->skipping || (size_t)eol.pos > SMTP_LINE_MAX) {
			evbuffer_drain(in, (size_t)eol.pos + 1);
			s->skipping = false;
			if (s->state == S_AUTH) {
				/* RFC 4954 4: a too-long response line ends the
				 * exchange with 500 5.5.6; what follows is a
				 * command again, never a user name or password. */
				auth_abort(s);
				reply(s, "500 5.5.6 Authentication exchange line is too long");
			} else
				reply(s, "500 5.5.2 Error: line too long");
			count_error(s);
			continue;
		}
		/* RCPT is where blocklist verdicts are given (SPEC 4): wait for
		 * lookups still in flight, leaving the line in the buffer. */
		if (s->checks && checks_pending(s->checks) && eol.pos >= 4) {
			char verb[4];
			evbuffer_copyout(in, verb, 4);
			if (strncasecmp(verb, "RCPT", 4) == 0) {
				s->waiting_dns = true;
				bufferevent_disable(s->bev, EV_READ);
				return;
			}
		}
		evbuffer_remove(in, line, (size_t)eol.pos + 1);
		len = (size_t)eol.pos;
		if (len == 0 || line[len - 1] != '\r') {
			/* RFC 5321 2.3.8: a bare LF is not a line end, so what
			 * follows it up to the real CRLF belongs to the same
			 * (refused) line and is never run as a command. */
			struct evbuffer_ptr crlf = evbuffer_search(in, "\r\n", 2, NULL);
			if (crlf.pos != -1)
				evbuffer_drain(in, (size_t)crlf.pos + 2);
			reply(s, "500 5.5.2 Error: bare LF received; lines must end with CRLF");
			log_reject(s, "bare_lf", stage_name(s), NULL, "500 5.5.2");
			count_error(s);
			continue;
		}
		if (s->state == S_AUTH)
			auth_response(s, line, len - 1);
		else
			dispatch(s, line, len - 1);
		explicit_bzero(line, len);
	}
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	event_base_gettimeofday_cached(s->srv->base, &s->last_input);
	session_process(s);
}

static void
close_poll(evutil_socket_t fd, short what, void *arg)
{
	on_write(NULL, arg);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct bufferevent *under;

	if (s->state != S_CLOSING) {
		/* Output drained below the mark: resume processing input. */
		bufferevent_setcb(s->bev, on_read, NULL, on_event, s);
		session_process(s);
		return;
	}
	/* With TLS the filter's buffer drains into the socket's: wait for
	 * both, briefly, so the last reply is not lost. */
	under = bufferevent_get_underlying(s->bev);
	if ((evbuffer_get_length(bufferevent_get_output(s->bev)) > 0 ||
	    (under && evbuffer_get_length(bufferevent_get_output(under)) > 0)) &&
	    s->close_polls < 100) {
		struct timeval tv = { 0, 20000 };
		if (s->close_timer == NULL)
			s->close_timer = evtimer_new(s->srv->base, close_poll, s);
		s->close_polls++;
		evtimer_add(s->close_timer, &tv);
		return;
	}
	session_free(s);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
		s->tls = true;
		log_event("tls", "client=%s version=%s cipher=%s", s->ip,
		    tls_version(ssl), ssl ? SSL_get_cipher_name(ssl) : "none");
		if (s->state == S_HANDSHAKE)
			reply(s, "220 %s ESMTP postern", s->srv->cfg->hostname);
		s->state = S_GREET;
		s->helo[0] = '\0';
		s->esmtp = false;
		session_process(s);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (s->state == S_COMMIT) {
			s->dead = true;
			return;
		}
		if (s->state != S_CLOSING) {
			log_event("reject", "reason=timeout stage=%s client=%s", stage_name(s), s->ip);
			reply(s, "421 4.4.2 %s Error: timeout exceeded", s->srv->cfg->hostname);
			tx_free(s);
			session_close(s);
			return;
		}
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long e, first = 0;
		/* Only a failed handshake is worth a line: peers that close
		 * without close_notify are common and harmless. */
		while ((e = bufferevent_get_openssl_error(s->bev)) != 0)
			if (first == 0)
				first = e;
		if (first != 0 && (s->state == S_TLS || s->state == S_HANDSHAKE)) {
			char buf[200];
			ERR_error_string_n(first, buf, sizeof(buf));
			log_event("tls_error", "client=%s reason=%s", s->ip,
			    log_quote((char[LOG_VALUE_MAX]){ 0 }, LOG_VALUE_MAX, buf, strlen(buf)));
		}
	}
	if (s->state == S_COMMIT) {
		/* Keep the session until the sync callback; it sees "dead". */
		s->dead = true;
		bufferevent_disable(s->bev, EV_READ | EV_WRITE);
		return;
	}
	session_free(s);
}

/* ---- life cycle ---- */

static void
session_free(struct session *s)
{
	struct server *srv = s->srv;

	log_event("disconnect", "client=%s messages=%u errors=%u%s", s->ip, s->messages, s->errors,
	    s->selftest ? " selftest=1" : "");
	tx_free(s);
	checks_free(s->checks);
	verifier_cancel(s->auth_req);
	if (s->close_timer)
		event_free(s->close_timer);
	if (s->data_timer)
		event_free(s->data_timer);
	if (s->bev)
		bufferevent_free(s->bev);
	if (s->prev)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	srv->nsessions--;
	if (s->selftest_conn)
		srv->nselftest--;
	free(s->user);
	free(s);
	if (srv->stopping && srv->nsessions == 0 && srv->ev_stop_timer)
		event_active(srv->ev_stop_timer, EV_TIMEOUT, 0);
}

/* The last Spamhaus lookup answered (or timed out). */
static void
on_checks_ready(void *arg)
{
	struct session *s = arg;

	if (!s->waiting_dns)
		return;
	s->waiting_dns = false;
	if (s->state == S_CLOSING)
		return;
	bufferevent_enable(s->bev, EV_READ);
	session_process(s);
}

static const char *
role_name(enum listener_role role)
{
	switch (role) {
	case ROLE_MX: return "smtp";
	case ROLE_SUBMISSION: return "submission";
	case ROLE_SUBMISSIONS: return "submissions";
	}
	return "?";
}

static void
sockaddr_ip(const struct sockaddr *sa, char *ip, size_t iplen, unsigned *port)
{
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET, s6->sin6_addr.s6_addr + 12, ip, (socklen_t)iplen);
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, ip, (socklen_t)iplen);
		*port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, ip, (socklen_t)iplen);
		*port = ntohs(s4->sin_port);
	}
}

unsigned
session_count_ip(const struct server *srv, const struct sockaddr *sa)
{
	char ip[INET6_ADDRSTRLEN];
	unsigned port, n = 0;

	sockaddr_ip(sa, ip, sizeof(ip), &port);
	for (const struct session *s = srv->sessions; s; s = s->next)
		if (strcmp(s->ip, ip) == 0)
			n++;
	return n;
}

void
session_start(struct server *srv, evutil_socket_t fd, const struct sockaddr *sa,
    socklen_t salen, enum listener_role role)
{
	struct session *s = xcalloc(1, sizeof(*s));
	struct timeval tv = { srv->cfg->smtp_timeout, 0 };

	s->srv = srv;
	s->role = role;
	if ((size_t)salen <= sizeof(s->ss))
		memcpy(&s->ss, sa, (size_t)salen);
	sockaddr_ip(sa, s->ip, sizeof(s->ip), &s->port);
	if (role == ROLE_SUBMISSIONS) {
		SSL *ssl = SSL_new(srv->ssl_ctx);
		s->bev = bufferevent_openssl_socket_new(srv->base, fd, ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		s->state = S_HANDSHAKE;
	} else {
		s->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
		s->state = S_GREET;
	}
	if (s->bev == NULL) {
		evutil_closesocket(fd);
		free(s);
		return;
	}
	s->next = srv->sessions;
	if (s->next)
		s->next->prev = s;
	srv->sessions = s;
	srv->nsessions++;
	if (srv->selftest_running && strcmp(s->ip, SELFTEST_SOURCE) == 0) {
		s->selftest_conn = true;
		srv->nselftest++;
	}
	bufferevent_setcb(s->bev, on_read, NULL, on_event, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, SMTP_INPUT_HIGH);
	bufferevent_set_timeouts(s->bev, &tv, &tv);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	log_event("connect", "client=%s port=%u listener=%s", s->ip, s->port, role_name(role));
	/* Authenticated sessions get no IP check (SPEC 4): only the MX role
	 * is looked up. Exempt networks are looked up for the score only. */
	/* nor do the self-test's sessions need blocklist lookups */
	if (srv->spamhaus != NULL && role == ROLE_MX &&
	    !(srv->selftest_running && strcmp(s->ip, SELFTEST_SOURCE) == 0)) {
		const struct config *cfg = srv->cfg;
		s->dnsbl_exempt = cidr_list_match(cfg->allow_networks, cfg->nallow_networks, sa) ||
		    cidr_list_match(cfg->trusted_networks, cfg->ntrusted_networks, sa);
		s->checks = checks_new(srv->spamhaus, s->ip, !s->dnsbl_exempt, on_checks_ready, s);
	}
	if (s->state == S_GREET)
		reply(s, "220 %s ESMTP postern", srv->cfg->hostname);
}

bool
session_close_idlest(struct server *srv)
{
	struct session *best = NULL;
	char text[160];

	for (struct session *s = srv->sessions; s != NULL; s = s->next) {
		if (s->selftest_conn || s->dead)
			continue;
		/* only sessions waiting for their client: one waiting for us
		 * (DNS, scan, sync, password check) is not idle */
		if (s->waiting_dns || !(ST(s->state) & (ST(S_GREET) | ST(S_READY) | ST(S_MAIL) |
		    ST(S_RCPT) | ST(S_DATA) | ST(S_BDAT) | ST(S_AUTH))))
			continue;
		if (best == NULL || timercmp(&s->last_input, &best->last_input, <))
			best = s;
	}
	if (best == NULL)
		return false;
	snprintf(text, sizeof(text),
	    "421 4.7.0 %s Too many connections; closing the longest-idle session (%.0fs idle)",
	    srv->cfg->hostname, elapsed_since(best, &best->last_input));
	log_reject(best, "idle_closed", stage_name(best), NULL, text);
	reply(best, "%s", text);
	tx_free(best);
	session_close(best);
	return true;
}

void
session_shutdown_all(struct server *srv)
{
	struct session *s, *next;

	for (s = srv->sessions; s != NULL; s = next) {
		next = s->next;
		if (s->state == S_COMMIT || s->state == S_CLOSING)
			continue;
		if (s->dead)
			continue;
		reply(s, "421 4.3.2 %s Service shutting down", srv->cfg->hostname);
		tx_free(s);
		session_close(s);
	}
}

void
session_abandon_all(struct server *srv)
{
	while (srv->sessions != NULL) {
		srv->sessions->dead = false;
		session_free(srv->sessions);
	}
}
