/*
 * Every reply the SMTP server sends, in one table (STYLE 14): grep a code
 * here to find the one name used where it is decided. Templates are
 * printf formats (literals, so the compiler checks their arguments).
 * Enhanced codes: RFC 3463; X.5.6 only inside an AUTH exchange (RFC 4954).
 */
#ifndef POSTERN_POLICY_REPLIES_H
#define POSTERN_POLICY_REPLIES_H

/* greeting, goodbye, session limits (hostname first) */
#define RPL_BANNER		"220 %s ESMTP postern"
#define RPL_BYE			"221 2.0.0 Bye"
#define RPL_SHUTTING_DOWN	"421 4.3.2 %s Service shutting down"
#define RPL_TIMEOUT		"421 4.4.2 %s Error: timeout exceeded"
#define RPL_SLOW_TRANSFER	"421 4.4.2 %s Error: data transfer too slow (%llu octets in %.0fs)"
#define RPL_TOO_MANY_ERRORS	"421 4.7.0 %s Error: too many errors"
#define RPL_IDLE_CLOSED		"421 4.7.0 %s Too many connections; closing the longest-idle session (%.0fs idle)"

/* plain acknowledgements */
#define RPL_OK			"250 2.0.0 Ok"
#define RPL_SENDER_OK		"250 2.1.0 Ok"
#define RPL_RCPT_OK		"250 2.1.5 Ok"
#define RPL_CHUNK_OK		"250 2.0.0 Ok: %llu octets received"
#define RPL_QUEUED		"250 2.0.0 Ok: queued as %s"
#define RPL_DATA_GO		"354 End data with <CR><LF>.<CR><LF>"
#define RPL_VRFY		"252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery"
#define RPL_EXPN		"502 5.5.1 EXPN not available"
#define RPL_HELP1		"214-2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY%s"
#define RPL_HELP2		"214 2.0.0 postern, https://postern.example/ (RFC 5321)"

/* command syntax and sequence (RFC 5321 4.2.4, 4.3.2) */
#define RPL_UNRECOGNIZED	"500 5.5.2 Error: command not recognized"
#define RPL_BAD_CHAR		"500 5.5.2 Error: bad character in command"
#define RPL_LINE_TOO_LONG	"500 5.5.2 Error: line too long"
#define RPL_BARE_LF		"500 5.5.2 Error: bare LF received; lines must end with CRLF"
#define RPL_SYNTAX		"501 5.5.4 Syntax error in parameters or arguments"
#define RPL_HELO_SYNTAX		"501 5.5.4 Syntax: %s hostname"
#define RPL_MAIL_SYNTAX		"501 5.5.4 Syntax: MAIL FROM:<address>"
#define RPL_RCPT_SYNTAX		"501 5.5.4 Syntax: RCPT TO:<address>"
#define RPL_BDAT_SYNTAX		"501 5.5.4 Syntax: BDAT size [LAST]"
#define RPL_BAD_MAIL_PARAM	"501 5.5.4 Bad MAIL parameter"
#define RPL_MAIL_PARAM		"555 5.5.4 Unsupported MAIL parameter"
#define RPL_RCPT_PARAM		"555 5.5.4 Unsupported RCPT parameter"
#define RPL_NEED_HELO		"503 5.5.1 Error: send HELO/EHLO first"
#define RPL_NESTED_MAIL		"503 5.5.1 Error: nested MAIL command"
#define RPL_NEED_MAIL		"503 5.5.1 Error: need MAIL command"
#define RPL_BAD_SEQUENCE	"503 5.5.1 Error: bad sequence of commands"
#define RPL_DATA_AFTER_BDAT	"503 5.5.1 Error: DATA after BDAT"
#define RPL_NO_VALID_RCPT	"554 5.5.1 Error: no valid recipients"
#define RPL_BAD_SENDER		"553 5.1.7 Bad sender address syntax: %s"
#define RPL_BAD_RCPT		"553 5.1.3 Bad recipient address syntax: %s"

/* envelope policy (SPEC 3, 4, 6) */
#define RPL_AUTH_REQUIRED	"530 5.7.0 Authentication required"
#define RPL_SIZE_LIMIT		"552 5.3.4 Message size exceeds fixed limit"
#define RPL_NO_SPACE		"452 4.3.1 Insufficient system storage"
#define RPL_RATE_LIMIT		"450 4.7.1 Too many %s from %s (limit %u per %us); try later"
#define RPL_SENDER_NOT_OWNED	"553 5.7.1 <%s>: Sender address not owned by user %s"
#define RPL_TOO_MANY_RCPTS	"452 4.5.3 Too many recipients"
#define RPL_RELAY_DENIED	"554 5.7.1 <%s>: Relay access denied"
#define RPL_USER_UNKNOWN	"550 5.1.1 <%s>: Recipient address rejected: User unknown"
#define RPL_SUPPRESSED		"550 5.1.1 <%s>: Recipient address rejected: it bounced as unknown; remembered until %s"
#define RPL_ALIAS_LOOP		"451 4.3.0 <%s>: Alias expansion failed (loop or too many targets)"
/* the Spamhaus refusal is formatted by policy/spamhaus.c (zone, list, link) */

/* message content (SPEC 3, 5.4, 6.4) */
#define RPL_LOCAL_ERROR		"451 4.3.0 Local error in processing; try again later"
#define RPL_STORAGE_FULL	"452 4.3.1 Insufficient system storage; try again later"
#define RPL_TOO_BIG		"552 5.3.4 Message size exceeds fixed limit"
#define RPL_HEADER_TOO_BIG	"552 5.3.4 Message header section too large"
#define RPL_BARE_CR_LF		"550 5.5.2 Message refused: bare CR or LF in message (lines must end with CRLF)"
#define RPL_NO_HEADER		"554 5.6.0 Message refused: no header section"
#define RPL_FROM_NOT_OWNED	"553 5.7.1 From: header %s not owned by user %s"
#define RPL_OUTBOUND_SPAM	"550 5.7.1 Message refused: it looks like spam (score %.1f)"
#define RPL_SPAM		"550 5.7.1 Message rejected as spam (score %.1f)"

/* TLS and AUTH (RFC 3207, RFC 4954) */
#define RPL_TLS_GO		"220 2.0.0 Ready to start TLS"
#define RPL_TLS_UNAVAILABLE	"502 5.5.1 STARTTLS not available"
#define RPL_TLS_FAILED		"454 4.7.0 TLS not available due to local problem"
#define RPL_AUTH_OK		"235 2.7.0 Authentication successful"
#define RPL_AUTH_NOT_HERE	"503 5.5.1 AUTH not available on this port; use submission (587/465)"
#define RPL_AUTH_NEED_TLS	"530 5.7.0 Must issue a STARTTLS command first"
#define RPL_AUTH_ALREADY	"503 5.5.1 Already authenticated"
#define RPL_AUTH_LOCKED		"454 4.7.0 Too many failed authentications from your address; try later"
/* SPEC 4.1: the AuthBL zone is named, never the DQS key behind it */
#define RPL_AUTHBL		"554 5.7.1 Service unavailable; client [%s] blocked using AuthBL; see https://check.spamhaus.org/"
#define RPL_AUTH_MECH		"504 5.5.4 Unrecognized authentication type"
#define RPL_AUTH_TEMP		"454 4.7.0 Temporary authentication failure, try again later"
#define RPL_AUTH_INVALID	"535 5.7.8 Authentication credentials invalid"
#define RPL_AUTH_CANCELLED	"501 5.7.0 Authentication cancelled"
#define RPL_AUTH_UNDECODABLE	"501 5.5.2 Cannot decode the SASL response"
#define RPL_AUTH_LINE_TOO_LONG	"500 5.5.6 Authentication exchange line is too long"

#endif
