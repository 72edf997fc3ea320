/*
 * The envelope phase of a session: HELO/EHLO, MAIL, RCPT and the small
 * verbs. Syntax is checked here; every decision about who may send and
 * to whom comes from policy/envelope.c as a verdict this file only sends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xmalloc.h"
#include "policy/replies.h"
#include "smtp/session_int.h"

void
cmd_helo(struct session *s, const struct smtp_cmd *cmd)
{
	const struct config *cfg = s->srv->cfg;
	bool ehlo = cmd->verb == SMTP_VERB_EHLO;

	if (cmd->arglen >= sizeof(s->helo) || memchr(cmd->arg, ' ', cmd->arglen) ||
	    memchr(cmd->arg, '\t', cmd->arglen)) {
		reply(s, RPL_HELO_SYNTAX, ehlo ? "EHLO" : "HELO");
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
	session_enter(s, S_READY);
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

void
cmd_mail(struct session *s, const struct smtp_cmd *cmd)
{
	const char *path, *params;
	size_t plen, parlen;
	struct smtp_params p;
	struct mailaddr from;
	enum addr_result ar;
	enum smtp_param_result pr;
	struct envelope_facts facts;
	struct decision v;

	if (smtp_split_path_arg(cmd->arg, cmd->arglen, "FROM", &path, &plen,
	    &params, &parlen) == -1) {
		reply(s, RPL_MAIL_SYNTAX);
		count_error(s);
		return;
	}
	pr = smtp_parse_mail_params(params, parlen, &p);
	if (pr == SMTP_PARAM_UNKNOWN) {
		reply(s, RPL_MAIL_PARAM);
		count_error(s);
		return;
	}
	if (pr != SMTP_PARAM_OK || p.body == SMTP_BODY_BINARYMIME) {
		reply(s, RPL_BAD_MAIL_PARAM);
		count_error(s);
		return;
	}
	ar = addr_parse_path(path, plen, true, p.smtputf8, &from);
	session_facts(s, &facts);
	/* AUTH and SIZE are answered before the address's syntax */
	policy_mail(&facts, &p, ar == ADDR_OK ? &from : NULL, &v);
	if (v.wait) {
		session_wait_state(s);	/* the limit is asked of the shared state */
		return;
	}
	if (!v.refused && ar != ADDR_OK)
		decision_refuse(&v, "bad_address", true, RPL_BAD_SENDER, addr_result_reason(ar));
	if (v.refused) {
		session_refuse(s, &v, "mail", NULL);
		return;
	}
	s->tx = xcalloc(1, sizeof(*s->tx));
	s->tx->from = from;
	s->tx->params = p;
	addr_format(&from, s->tx->from_str, sizeof(s->tx->from_str));
	if (s->checks)
		checks_sender(s->checks, from.null || from.literal ? NULL : from.domain);
	session_enter(s, S_MAIL);
	reply(s, RPL_SENDER_OK);
}

void
cmd_rcpt(struct session *s, const struct smtp_cmd *cmd)
{
	const struct config *cfg = s->srv->cfg;
	struct transaction *tx = s->tx;
	const char *path, *params;
	size_t plen, parlen;
	struct mailaddr rcpt;
	enum addr_result ar;
	char addr[ADDR_PATH_MAX + 1], *mailboxes;
	struct envelope_facts facts;
	struct decision v;

	if (smtp_split_path_arg(cmd->arg, cmd->arglen, "TO", &path, &plen,
	    &params, &parlen) == -1) {
		reply(s, RPL_RCPT_SYNTAX);
		count_error(s);
		return;
	}
	if (smtp_parse_rcpt_params(params, parlen) != SMTP_PARAM_OK) {
		reply(s, RPL_RCPT_PARAM);
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
		decision_init(&v);
		decision_refuse(&v, "bad_address", true, RPL_BAD_RCPT, addr_result_reason(ar));
		snprintf(addr, sizeof(addr), "%.*s", (int)(plen > ADDR_PATH_MAX ? ADDR_PATH_MAX : plen),
		    path);
		session_refuse(s, &v, "rcpt", addr);
		return;
	}
	addr_format(&rcpt, addr, sizeof(addr));
	session_facts(s, &facts);
	policy_rcpt(&facts, tx->nrcpts, &rcpt, addr, &mailboxes, &v);
	if (v.wait) {
		session_wait_state(s);	/* the limit is asked of the shared state */
		return;
	}
	if (v.refused) {
		session_refuse(s, &v, "rcpt", addr);
		return;
	}
	for (size_t i = 0; i < tx->nrcpts; i++)
		if (strcasecmp(tx->rcpts[i].addr, addr) == 0) {
			free(mailboxes);
			reply(s, RPL_RCPT_OK);
			return;
		}
	tx->rcpts = xrealloc(tx->rcpts, (tx->nrcpts + 1) * sizeof(*tx->rcpts));
	memset(&tx->rcpts[tx->nrcpts], 0, sizeof(tx->rcpts[0]));
	tx->rcpts[tx->nrcpts].addr = xstrdup(addr);
	tx->rcpts[tx->nrcpts].mailbox = mailboxes;
	tx->rcpts[tx->nrcpts].done = false;
	tx->nrcpts++;
	session_enter(s, S_RCPT);
	reply(s, RPL_RCPT_OK);
}

void
cmd_rset(struct session *s, const struct smtp_cmd *cmd)
{
	tx_reset(s);
	reply(s, RPL_OK);
}

void
cmd_noop(struct session *s, const struct smtp_cmd *cmd)
{
	reply(s, RPL_OK);
}

void
cmd_quit(struct session *s, const struct smtp_cmd *cmd)
{
	reply(s, RPL_BYE);
	tx_free(s);
	session_close(s);
}

void
cmd_vrfy(struct session *s, const struct smtp_cmd *cmd)
{
	/* RFC 5321 3.5.3: 252 neither confirms nor denies, so VRFY cannot be
	 * used to harvest addresses. */
	reply(s, RPL_VRFY);
}

void
cmd_expn(struct session *s, const struct smtp_cmd *cmd)
{
	reply(s, RPL_EXPN);
}

void
cmd_help(struct session *s, const struct smtp_cmd *cmd)
{
	reply(s, RPL_HELP1, s->srv->ssl_ctx ? " STARTTLS" : "");
	reply(s, RPL_HELP2);
}
