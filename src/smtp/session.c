/*
 * SMTP session: life cycle, the input loop and the command table (the
 * phases are in session_envelope.c, session_data.c and session_auth.c).
 * Invariants:
 *  - state changes in session_enter() only, which also turns reading on
 *    or off, so no state forgets to stop input it must not see;
 *  - input is processed by session_process() only, one command at a time,
 *    and never while a reply is pending from another thread or from DNS
 *    (the non-reading states) or a TLS handshake runs;
 *  - a line ends with CRLF only; a bare LF or CR is refused, never taken
 *    as a line end;
 *  - the session is freed from session_free() only, never while a sync
 *    callback still points at it (the "dead" flag defers it).
 */
#include "session.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "policy/replies.h"
#include "policy/selftest.h"
#include "smtp/session_int.h"
#include "smtp/tls.h"

static void on_write(struct bufferevent *bev, void *arg);

/* States in which the client's input is read; in the others the session
 * waits for something of ours (a lookup, a scan, a sync, a password
 * check) or is closing. The TLS handshakes read to make progress. */
#define READING_STATES (ST(S_HANDSHAKE) | ST(S_GREET) | ST(S_READY) | ST(S_MAIL) | \
    ST(S_RCPT) | ST(S_DATA) | ST(S_BDAT) | ST(S_AUTH) | ST(S_TLS))

void
session_enter(struct session *s, enum session_state st)
{
	s->state = st;
	if (s->bev == NULL)
		return;
	if (ST(st) & READING_STATES)
		bufferevent_enable(s->bev, EV_READ);
	else
		bufferevent_disable(s->bev, EV_READ);
}

/* ---- replies and logging ---- */


void
reply(struct session *s, const char *fmt, ...)
{
	struct evbuffer *out = s->replies ? s->replies : bufferevent_get_output(s->bev);
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
	if (s->replies && !s->replies_queued) {
		/* after the rest of this turn: a pipelined batch's replies,
		 * or a multi-line one, leave together */
		s->replies_queued = true;
		event_active(s->replies_ev, EV_WRITE, 1);
	}
}

void
replies_flush(struct session *s)
{
	if (s->replies != NULL && s->bev != NULL && evbuffer_get_length(s->replies) > 0)
		evbuffer_add_buffer(bufferevent_get_output(s->bev), s->replies);
}

void
replies_end(struct session *s)
{
	replies_flush(s);
	if (s->replies_ev != NULL)
		event_free(s->replies_ev);
	if (s->replies != NULL)
		evbuffer_free(s->replies);
	s->replies_ev = NULL;
	s->replies = NULL;
	s->replies_queued = false;
}

/* Writes the waiting replies at once when nothing is queued before them;
 * what the socket does not take (or an error) is left to the
 * bufferevent, which writes the rest and reports the error. */
static void
on_replies(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	s->replies_queued = false;
	if (evbuffer_get_length(s->replies) == 0)
		return;
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		(void)evbuffer_write(s->replies, bufferevent_getfd(s->bev));
	replies_flush(s);
}

void
session_close(struct session *s)
{
	replies_flush(s);
	session_enter(s, S_CLOSING);
	/* on_write frees the session once the reply is out. */
	bufferevent_setcb(s->bev, NULL, on_write, session_on_event, s);
	bufferevent_enable(s->bev, EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		on_write(s->bev, s);
}

/* Counts a client error; past the limit the session ends with 421. */
bool
count_error(struct session *s)
{
	if (++s->errors < SMTP_ERRORS_MAX)
		return false;
	reply(s, RPL_TOO_MANY_ERRORS, s->srv->cfg->hostname);
	log_event("reject", "reason=too_many_errors stage=session client=%s errors=%u",
	    s->ip, s->errors);
	session_close(s);
	return true;
}

const char *
logq(char *buf, const char *v)
{
	return log_quote(buf, LOG_VALUE_MAX, v ? v : "", v ? strlen(v) : 0);
}

const char *
session_stage(const struct session *s)
{
	switch (s->state) {
	case S_GREET: return "helo";
	case S_READY: return "mail";
	case S_MAIL:
	case S_RCPT:
	case S_LOOKUP: return "rcpt";
	case S_STATE: return s->resume == S_READY ? "mail" : "rcpt";
	case S_DATA:
	case S_BDAT: return "data";
	default: return "session";
	}
}

/* The line that rejects is the line that logs (STYLE 10). */
void
log_reject(struct session *s, const char *reason, const char *stage,
    const char *rcpt, const char *text)
{
	char h[LOG_VALUE_MAX], f[LOG_VALUE_MAX], r[LOG_VALUE_MAX], t[LOG_VALUE_MAX];

	if (s->selftest)
		return;	/* the relay self-test's refusals are its success */
	log_event("reject", "reason=%s stage=%s client=%s helo=%s from=%s rcpt=%s reply=%s",
	    reason, stage, s->ip, logq(h, s->helo),
	    logq(f, s->tx ? s->tx->from_str : ""), logq(r, rcpt), logq(t, text));
}

void
session_refuse(struct session *s, const struct decision *v, const char *stage, const char *rcpt)
{
	char h[LOG_VALUE_MAX], fr[LOG_VALUE_MAX], r[LOG_VALUE_MAX], t[LOG_VALUE_MAX];

	reply(s, "%s", v->reply);
	/* the relay self-test's refusals are its success, not rejections */
	if (v->reason != NULL && !s->selftest)
		log_event("reject", "reason=%s stage=%s%s client=%s helo=%s from=%s rcpt=%s reply=%s",
		    v->reason, stage, v->log, s->ip, logq(h, s->helo),
		    logq(fr, s->tx ? s->tx->from_str : ""), logq(r, rcpt), logq(t, v->reply));
	if (v->client_error)
		count_error(s);
}

void
session_facts(struct session *s, struct envelope_facts *f)
{
	const struct config *cfg = s->srv->cfg;

	memset(f, 0, sizeof(*f));
	f->cfg = cfg;
	f->users = s->srv->users;
	f->rl = s->srv->ratelimit;
	f->holds = s->srv->holds;
	f->ask = &s->ask;
	f->suppress = s->srv->suppress;
	f->client_ip = s->ip;
	f->user = s->user;
	f->submission = s->role != ROLE_MX;
	/* the relay self-test is never trusted, whatever trusted_networks */
	f->relay_trusted = !s->selftest && cidr_list_match(cfg->trusted_networks,
	    cfg->ntrusted_networks, (const struct sockaddr *)&s->ss);
	f->checks = s->checks;
	f->dnsbl_exempt = s->dnsbl_exempt;
}

/* ---- input ---- */

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
		reply(s, RPL_UNRECOGNIZED);
		count_error(s);
		return;
	case SMTP_PARSE_BAD_CHAR:
		reply(s, RPL_BAD_CHAR);
		count_error(s);
		return;
	case SMTP_PARSE_SYNTAX:
		reply(s, RPL_SYNTAX);
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
			reply(s, RPL_NEED_HELO);
		else if (cmd.verb == SMTP_VERB_MAIL)
			reply(s, RPL_NESTED_MAIL);
		else if (cmd.verb == SMTP_VERB_RCPT || cmd.verb == SMTP_VERB_DATA)
			reply(s, RPL_NEED_MAIL);
		else
			reply(s, RPL_BAD_SEQUENCE);
		count_error(s);
		return;
	}
	c->fn(s, &cmd);
}

void
session_process(struct session *s)
{
	struct evbuffer *in, *out;
	char line[SMTP_LINE_MAX + 2];

	for (;;) {
		struct evbuffer_ptr eol;
		size_t len;

		if (!(ST(s->state) & READING_STATES) || s->state == S_TLS ||
		    s->state == S_HANDSHAKE)
			return;
		in = bufferevent_get_input(s->bev);
		out = bufferevent_get_output(s->bev);
		/* Back-pressure: a client that pipelines without reading our
		 * replies stops being read (on_write resumes us). */
		if (evbuffer_get_length(out) > SMTP_OUTPUT_HIGH) {
			bufferevent_setcb(s->bev, session_on_read, on_write, session_on_event, s);
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
				reply(s, RPL_AUTH_LINE_TOO_LONG);
			} else
				reply(s, RPL_LINE_TOO_LONG);
			count_error(s);
			continue;
		}
		/* RCPT is where blocklist verdicts are given (SPEC 4), AUTH
		 * where AuthBL's is (4.1): wait for lookups still in flight,
		 * leaving the line in the buffer. */
		if (s->checks && checks_pending(s->checks) && eol.pos >= 4) {
			char verb[4];
			evbuffer_copyout(in, verb, 4);
			if (strncasecmp(verb, "RCPT", 4) == 0 || (s->role != ROLE_MX &&
			    s->state == S_READY && strncasecmp(verb, "AUTH", 4) == 0)) {
				s->resume = s->state;
				session_enter(s, S_LOOKUP);
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
			reply(s, RPL_BARE_LF);
			log_reject(s, "bare_lf", session_stage(s), NULL, "500 5.5.2");
			count_error(s);
			continue;
		}
		if (s->state == S_AUTH)
			auth_response(s, line, len - 1);
		else {
			state_ask_rewind(&s->ask);
			dispatch(s, line, len - 1);
			if (s->state == S_STATE) {
				/* the command waits for the shared state: its
				 * line goes back, to run again on the answer
				 * (state_ask in state/state.h) */
				evbuffer_prepend(in, line, len + 1);
				explicit_bzero(line, len + 1);
				return;
			}
			state_ask_clear(&s->ask);
		}
		explicit_bzero(line, len);
	}
}

void
session_on_read(struct bufferevent *bev, void *arg)
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
		bufferevent_setcb(s->bev, session_on_read, NULL, session_on_event, s);
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

void
session_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
		s->tls = true;
		log_event("tls", "client=%s version=%s cipher=%s", s->ip,
		    tls_version(ssl), ssl ? SSL_get_cipher_name(ssl) : "none");
		if (s->state == S_HANDSHAKE)
			reply(s, RPL_BANNER, s->srv->cfg->hostname);
		session_enter(s, S_GREET);
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
			log_event("reject", "reason=timeout stage=%s client=%s", session_stage(s), s->ip);
			reply(s, RPL_TIMEOUT, s->srv->cfg->hostname);
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

void
session_free(struct session *s)
{
	struct server *srv = s->srv;

	log_event("disconnect", "client=%s messages=%u errors=%u%s", s->ip, s->messages, s->errors,
	    s->selftest ? " selftest=1" : "");
	tx_free(s);
	checks_free(s->checks);
	state_ask_clear(&s->ask);
	verifier_cancel(s->auth_req);
	if (s->close_timer)
		event_free(s->close_timer);
	replies_end(s);
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

/* The shared state answered the command that waits (S_STATE). */
static void
on_state_answer(void *arg)
{
	struct session *s = arg;

	if (s->state != S_STATE)
		return;
	session_enter(s, s->resume);
	session_process(s);
}

void
session_wait_state(struct session *s)
{
	s->resume = s->state;
	session_enter(s, S_STATE);
}

/* The last Spamhaus lookup answered (or timed out). */
static void
on_checks_ready(void *arg)
{
	struct session *s = arg;

	if (s->state != S_LOOKUP)
		return;
	session_enter(s, s->resume);
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
	s->ask.wake = on_state_answer;
	s->ask.wake_arg = s;
	if ((size_t)salen <= sizeof(s->ss))
		memcpy(&s->ss, sa, (size_t)salen);
	sockaddr_ip(sa, s->ip, sizeof(s->ip), &s->port);
	if (role == ROLE_SUBMISSIONS) {
		SSL *ssl = SSL_new(srv->ssl_ctx);
		s->bev = bufferevent_openssl_socket_new(srv->base, fd, ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	} else {
		s->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
		s->replies = evbuffer_new();
		s->replies_ev = event_new(srv->base, -1, 0, on_replies, s);
	}
	if (s->bev == NULL) {
		evutil_closesocket(fd);
		replies_end(s);
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
	bufferevent_setcb(s->bev, session_on_read, NULL, session_on_event, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, SMTP_INPUT_HIGH);
	bufferevent_set_timeouts(s->bev, &tv, &tv);
	bufferevent_enable(s->bev, EV_WRITE);
	session_enter(s, role == ROLE_SUBMISSIONS ? S_HANDSHAKE : S_GREET);
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
	} else if (srv->spamhaus != NULL && spamhaus_dqs(srv->spamhaus) &&
	    !(srv->selftest_running && strcmp(s->ip, SELFTEST_SOURCE) == 0) &&
	    !cidr_list_match(srv->cfg->allow_networks, srv->cfg->nallow_networks, sa) &&
	    !cidr_list_match(srv->cfg->trusted_networks, srv->cfg->ntrusted_networks, sa))
		/* SPEC 4.1: AuthBL asked at connect, so AUTH rarely waits;
		 * networks exempt from blocklists (SPEC 2) are not asked */
		s->checks = checks_new_auth(srv->spamhaus, s->ip, on_checks_ready, s);
	if (s->state == S_GREET)
		reply(s, RPL_BANNER, srv->cfg->hostname);
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
		if (!(ST(s->state) & (ST(S_GREET) | ST(S_READY) | ST(S_MAIL) |
		    ST(S_RCPT) | ST(S_DATA) | ST(S_BDAT) | ST(S_AUTH))))
			continue;
		if (best == NULL || timercmp(&s->last_input, &best->last_input, <))
			best = s;
	}
	if (best == NULL)
		return false;
	snprintf(text, sizeof(text),
	    RPL_IDLE_CLOSED,
	    srv->cfg->hostname, elapsed_since(best, &best->last_input));
	log_reject(best, "idle_closed", session_stage(best), NULL, text);
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
		reply(s, RPL_SHUTTING_DOWN, srv->cfg->hostname);
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
