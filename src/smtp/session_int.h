/*
 * What the files of one SMTP session share (private to src/smtp/session*.c):
 * the session and transaction structs, the states, and the few functions
 * every phase uses. session.c holds the life cycle, the input loop and the
 * command table; session_envelope.c HELO/MAIL/RCPT and the small verbs;
 * session_data.c DATA, BDAT, the scan and the commit; session_auth.c
 * STARTTLS and AUTH.
 */
#ifndef POSTERN_SMTP_SESSION_INT_H
#define POSTERN_SMTP_SESSION_INT_H

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>

#include "auth/sasl.h"
#include "policy/envelope.h"
#include "policy/decision.h"
#include "queue/spool.h"
#include "scan/scan.h"
#include "smtp/address.h"
#include "smtp/data.h"
#include "smtp/parse.h"
#include "smtp/session.h"

enum session_state {
	S_HANDSHAKE,	/* implicit TLS: handshake before the banner */
	S_GREET,	/* banner sent, waiting for EHLO/HELO */
	S_READY,	/* after EHLO/HELO, no transaction */
	S_MAIL,		/* MAIL accepted */
	S_RCPT,		/* at least one RCPT accepted */
	S_LOOKUP,	/* a RCPT waits for Spamhaus lookups in flight */
	S_STATE,	/* a command waits for the shared state (limits, lockout):
			 * its line is put back and runs again on the answer */
	S_DATA,		/* reading DATA content */
	S_BDAT,		/* reading a BDAT chunk */
	S_AUTH,		/* AUTH exchange: the next line is a SASL response */
	S_AUTH_WAIT,	/* password being checked off the loop */
	S_SCAN,		/* content analysis: on the scan worker, then
			 * waiting for its lookups (tx_free cancels it) */
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
	enum session_state state;	/* written by session_enter() only */
	enum session_state resume;	/* S_LOOKUP, S_STATE: the state to go back to */
	struct state_ask ask;		/* the command's answers from the shared state */
	struct sockaddr_storage ss;
	char ip[INET6_ADDRSTRLEN];
	unsigned port;
	char helo[256];			/* sanitised EHLO/HELO argument */
	bool esmtp;
	bool tls;
	char *user;			/* authenticated account (submission) */
	unsigned errors;
	unsigned messages;
	/* Two conditions that are not protocol states: the line reader is
	 * inside an over-long line (it drops input up to the next LF), and
	 * the peer left while a sync callback still holds the session. */
	bool skipping;
	bool dead;
	struct transaction *tx;
	struct client_checks *checks;	/* Spamhaus lookups, NULL when off */
	bool dnsbl_exempt;		/* allow_networks / trusted_networks */
	bool selftest;			/* the relay self-test's own session */
	bool selftest_conn;		/* from its source address: not counted */
	enum sasl_mech auth_mech;	/* AUTH in progress */
	char auth_user[SASL_FIELD_MAX];	/* LOGIN: the user name given */
	struct verify_req *auth_req;	/* password check in flight */
	struct event *close_timer;	/* waits for the last reply to flush */
	/* Plain-text sessions: replies wait here until the loop has run
	 * what this event's turn follows, then go out in one write
	 * (replies_flush) instead of through the bufferevent's write event,
	 * which costs two epoll_ctl calls and a loop turn a reply. */
	struct evbuffer *replies;	/* NULL: replies go to bev's output */
	struct event *replies_ev;
	bool replies_queued;
	unsigned close_polls;
	struct event *data_timer;	/* the transfer deadline (SPEC 2, smtp_timeout) */
	struct timeval data_start;	/* when the current DATA/BDAT transfer began */
	struct timeval last_input;	/* for closing the longest-idle session first */
};

/* session.c */
void session_enter(struct session *s, enum session_state st);
void reply(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Moves the replies not yet written to bev's output, where what must
 * follow them (TLS, the close) finds them in order. */
void replies_flush(struct session *s);
/* The same, then replies go to bev's output directly from now on (TLS
 * begins, or the session ends). */
void replies_end(struct session *s);
/* Sends a verdict's refusal, logs event=reject and counts the error:
 * the one place a policy decision reaches the client. */
void session_refuse(struct session *s, const struct decision *v, const char *stage,
    const char *rcpt);
/* A client error; past SMTP_ERRORS_MAX the session ends (true). */
bool count_error(struct session *s);
void log_reject(struct session *s, const char *reason, const char *stage, const char *rcpt,
    const char *text);
const char *session_stage(const struct session *s);
/* v (NULL: "") quoted for a logfmt value in buf (LOG_VALUE_MAX). */
const char *logq(char *buf, const char *v);
void session_close(struct session *s);
void session_process(struct session *s);
void session_free(struct session *s);
void session_facts(struct session *s, struct envelope_facts *f);
/* The command asked the shared state and waits (S_STATE): its line runs
 * again when the answer is in. */
void session_wait_state(struct session *s);
void session_on_read(struct bufferevent *bev, void *arg);
void session_on_event(struct bufferevent *bev, short what, void *arg);
double elapsed_since(const struct session *s, const struct timeval *t);

/* session_envelope.c */
void cmd_helo(struct session *s, const struct smtp_cmd *cmd);
void cmd_mail(struct session *s, const struct smtp_cmd *cmd);
void cmd_rcpt(struct session *s, const struct smtp_cmd *cmd);
void cmd_rset(struct session *s, const struct smtp_cmd *cmd);
void cmd_noop(struct session *s, const struct smtp_cmd *cmd);
void cmd_quit(struct session *s, const struct smtp_cmd *cmd);
void cmd_vrfy(struct session *s, const struct smtp_cmd *cmd);
void cmd_expn(struct session *s, const struct smtp_cmd *cmd);
void cmd_help(struct session *s, const struct smtp_cmd *cmd);

/* session_data.c */
void cmd_data(struct session *s, const struct smtp_cmd *cmd);
void cmd_bdat(struct session *s, const struct smtp_cmd *cmd);
/* Feeds DATA/BDAT content from in; true while more is needed. */
bool read_content(struct session *s, struct evbuffer *in);
void tx_free(struct session *s);
/* Drops the transaction; back to S_READY (or S_GREET before HELO). */
void tx_reset(struct session *s);
void data_deadline_stop(struct session *s);

/* session_auth.c */
void cmd_starttls(struct session *s, const struct smtp_cmd *cmd);
void cmd_auth(struct session *s, const struct smtp_cmd *cmd);
void auth_response(struct session *s, const char *line, size_t len);
/* Ends an AUTH exchange without a verdict: back to commands. */
void auth_abort(struct session *s);

#endif
