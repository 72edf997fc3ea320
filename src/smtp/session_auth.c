/*
 * STARTTLS (RFC 3207) and AUTH PLAIN/LOGIN (RFC 4954) of a session. AUTH
 * exists only on the submission ports and only inside TLS (SPEC 6.1);
 * passwords are checked off the loop (S_AUTH_WAIT); failures count per
 * client IP toward the lockout (SPEC 6.2).
 */
#include <ctype.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "policy/replies.h"
#include "smtp/session_int.h"


static void
starttls_begin(struct session *s)
{
	SSL *ssl = SSL_new(s->srv->ssl_ctx);
	struct bufferevent *tlsbev;
	struct evbuffer *in = bufferevent_get_input(s->bev);

	/* CVE-2011-0411: whatever the client pipelined after STARTTLS came
	 * in plain text and must not be executed inside the TLS session. */
	evbuffer_drain(in, evbuffer_get_length(in));
	/* the 220 goes out in plain text before the handshake; every reply
	 * after it goes through TLS */
	replies_end(s);
	tlsbev = bufferevent_openssl_filter_new(s->srv->base, s->bev, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (tlsbev == NULL) {
		SSL_free(ssl);
		reply(s, RPL_TLS_FAILED);
		return;
	}
	s->bev = tlsbev;
	bufferevent_setcb(s->bev, session_on_read, NULL, session_on_event, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, SMTP_INPUT_HIGH);
	{
		struct timeval tv = { s->srv->cfg->smtp_timeout, 0 };
		bufferevent_set_timeouts(s->bev, &tv, &tv);
	}
	bufferevent_enable(s->bev, EV_WRITE);
	session_enter(s, S_TLS);
}

void
cmd_starttls(struct session *s, const struct smtp_cmd *cmd)
{
	if (s->srv->ssl_ctx == NULL || s->tls) {
		reply(s, RPL_TLS_UNAVAILABLE);
		count_error(s);
		return;
	}
	reply(s, RPL_TLS_GO);
	tx_free(s);
	starttls_begin(s);
}

struct failure {
	char ip[INET6_ADDRSTRLEN];
	struct rate max;
};

static void
failure_counted(void *arg, time_t until)
{
	struct failure *f = arg;

	if (until != 0)
		log_event("auth_lockout", "client=%s failures=%u window=%us until=%lld",
		    f->ip, f->max.count, f->max.seconds, (long long)until);
	free(f);
}

/* A failed attempt counts per client IP toward the lockout (SPEC 6.2),
 * in the background: with shared state the count is Redis's, and the
 * session does not wait for it. */
static void
auth_count_failure(struct session *s)
{
	struct failure *f = xcalloc(1, sizeof(*f));

	snprintf(f->ip, sizeof(f->ip), "%s", s->ip);
	f->max = s->srv->cfg->auth_max_failures;
	lockout_fail(s->srv->lockout, s->ip, &f->max, s->srv->cfg->auth_lockout, time(NULL),
	    failure_counted, f);
}

static void
auth_done(void *arg, bool ok)
{
	struct session *s = arg;
	char u[LOG_VALUE_MAX];

	s->auth_req = NULL;
	session_enter(s, S_READY);
	if (ok) {
		char *lower = xstrdup(s->auth_user);
		for (char *p = lower; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		s->user = lower;
		reply(s, RPL_AUTH_OK);
		log_event("auth", "client=%s user=%s mech=%s", s->ip, logq(u, s->user),
		    s->auth_mech == SASL_PLAIN ? "PLAIN" : "LOGIN");
	} else {
		/* fail2ban-friendly: always client= and user= */
		log_event("auth_failed", "client=%s user=%s mech=%s", s->ip, logq(u, s->auth_user),
		    s->auth_mech == SASL_PLAIN ? "PLAIN" : "LOGIN");
		auth_count_failure(s);
		reply(s, RPL_AUTH_INVALID);
		count_error(s);
	}
	explicit_bzero(s->auth_user, sizeof(s->auth_user));
	if (s->state == S_READY)
		session_process(s);
}

/*
 * SPEC 4.1: a client in AuthBL is refused before its password is
 * checked, right or wrong: a botnet host trying stolen passwords learns
 * nothing. It is a failed AUTH (auth_failed, the lockout count) as well
 * as a rejection (reason=authbl stage=auth). True when refused.
 */
static bool
auth_blocked(struct session *s)
{
	struct decision v;
	char u[LOG_VALUE_MAX];

	if (s->checks == NULL)
		return false;
	checks_auth(s->checks, &v);
	if (!v.refused)
		return false;
	session_enter(s, S_READY);
	log_event("auth_failed", "client=%s user=%s mech=%s reason=authbl", s->ip,
	    logq(u, s->auth_user), s->auth_mech == SASL_PLAIN ? "PLAIN" : "LOGIN");
	auth_count_failure(s);
	explicit_bzero(s->auth_user, sizeof(s->auth_user));
	session_refuse(s, &v, "auth", NULL);
	return true;
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
	if (auth_blocked(s))
		return;
	userdb_refresh(s->srv->users, &(char *){ NULL });
	s->auth_req = verifier_check(s->srv->verifier, userdb_hash(s->srv->users, lower), pass,
	    auth_done, s);
	if (s->auth_req == NULL) {
		session_enter(s, S_READY);
		reply(s, RPL_AUTH_TEMP);
		return;
	}
	session_enter(s, S_AUTH_WAIT);
}

/* Ends an AUTH exchange without a verdict: back to commands. */
void
auth_abort(struct session *s)
{
	explicit_bzero(s->auth_user, sizeof(s->auth_user));
	session_enter(s, S_READY);
}

/* A SASL response line (S_AUTH). */
void
auth_response(struct session *s, const char *line, size_t len)
{
	char user[SASL_FIELD_MAX], pass[SASL_FIELD_MAX];

	if (len == 1 && line[0] == '*') {
		auth_abort(s);
		reply(s, RPL_AUTH_CANCELLED);
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
	session_enter(s, S_READY);
	reply(s, RPL_AUTH_UNDECODABLE);
	count_error(s);
}

void
cmd_auth(struct session *s, const struct smtp_cmd *cmd)
{
	const char *sp = memchr(cmd->arg, ' ', cmd->arglen);
	size_t ml = sp ? (size_t)(sp - cmd->arg) : cmd->arglen;
	time_t until;

	if (s->role == ROLE_MX) {
		/* SPEC 2: the inbound MX port has no AUTH at all */
		reply(s, RPL_AUTH_NOT_HERE);
		count_error(s);
		return;
	}
	if (!s->tls) {
		reply(s, RPL_AUTH_NEED_TLS);
		count_error(s);
		return;
	}
	if (s->user != NULL) {
		reply(s, RPL_AUTH_ALREADY);
		count_error(s);
		return;
	}
	/* the lockout is shared state: asking Redis, the session waits and
	 * this command runs again with the answer */
	switch (lockout_ask(s->srv->lockout, &s->ask, s->ip, time(NULL), &until)) {
	case STATE_WAIT:
		session_wait_state(s);
		return;
	case STATE_YES:
		reply(s, RPL_AUTH_LOCKED);
		log_event("reject", "reason=auth_lockout stage=auth client=%s until=%lld", s->ip,
		    (long long)until);
		return;
	case STATE_NO:
		break;
	}
	s->auth_mech = sasl_mech_lookup(cmd->arg, ml);
	s->auth_user[0] = '\0';
	if (s->auth_mech == SASL_NONE) {
		reply(s, RPL_AUTH_MECH);
		count_error(s);
		return;
	}
	session_enter(s, S_AUTH);
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
