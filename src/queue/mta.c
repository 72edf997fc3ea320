/*
 * SMTP client. One transaction per call: resolve the destination, try
 * its hosts in MX order and their addresses in turn until one takes the
 * message or refuses it for good. Invariants:
 *  - a recipient's result is final once the server answered its RCPT
 *    with 5xx, or the DATA reply came;
 *  - after the message data started, a broken connection is a temporary
 *    failure for every accepted recipient (the server may or may not
 *    have it: a duplicate is better than a loss);
 *  - nothing from the network is trusted to be short: replies are read
 *    line by line with caps.
 */
#include "mta.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dns/answer.h"
#include "lib/clock.h"
#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "queue/conncache.h"
#include "queue/dane.h"
#include "queue/mtasts.h"
#include "queue/reply.h"
#include "queue/smarthost.h"
#include "smtp/tls.h"

#define MX_MAX 10
#define ADDRS_MAX 16
#define REPLY_LINES_MAX 64
#define REPLY_LINE_MAX 2048
/* Sessions to the relayhost kept between messages (conncache.h): idle
 * for at most 2 s (Postfix's smtp_connection_cache_time_limit), reused
 * for at most 100 transactions and 300 s (its reuse limits), so a relay
 * that changed address or certificate is seen again soon. */
#define CACHE_IDLE_MS 2000
#define CACHE_MAX 32
#define REUSE_COUNT_MAX 100
#define REUSE_SECS_MAX 300
#define CACHE_KEY "relayhost"
#define REUSE_REPLY_SECS 10

enum stage {
	ST_RESOLVE, ST_CONNECT, ST_GREETING, ST_EHLO, ST_HELO, ST_STARTTLS, ST_TLS,
	ST_AUTH, ST_MAIL, ST_RCPT, ST_DATA, ST_BODY, ST_QUIT, ST_DONE,
};

struct mx_host {
	char name[DNS_NAME_TEXT_MAX];
	unsigned pref;
};

struct mta {
	struct event_base *base;
	struct resolver *res;
	struct mta_options opt;
	struct hostport relayhost;
	bool has_relayhost;
	char **tls_required;
	size_t ntls_required;
	char *helo;
	char *unix_path;	/* LMTP socket, or NULL */
	/* the smart host's credentials (SPEC 12): AUTH only over TLS whose
	 * certificate verified for the relayhost's name; NULL: no AUTH */
	char *relay_user, *relay_pass;
	bool relay_implicit;	/* relayhost port 465: TLS from the first octet */
	SSL_CTX *ssl;		/* client context, with the trust store */
	/* the relayhost's last TLS session from a handshake whose
	 * certificate verified, resumed by the next connections: a smart
	 * host takes all the mail, and a full handshake per message cost
	 * both sides a certificate check and a signature */
	SSL_SESSION *relay_session;
	struct mtasts *sts;	/* MTA-STS policies (MX delivery only), or NULL */
	struct conncache *cache;	/* idle sessions to the relayhost, or NULL */
	bool dane;		/* DNSSEC on: TLSA records of MX hosts (RFC 7672) */
	struct mta_tx *txs;
};

struct mta_tx {
	struct mta_tx *next, *prev;
	struct mta *m;
	char id[32];
	char *sender, *domain;
	char **rcpts;
	size_t *idx;
	size_t n;
	char *data;
	size_t len;
	mta_done_cb *cb;
	mta_rcpt_cb *each;	/* answers to the data, as they come */
	void *arg;
	struct mta_rcpt_result *res;
	bool *accepted;		/* RCPT answered 2xx on this connection */
	bool *final;		/* result decided for good */
	bool *too_many;		/* 452 "too many recipients" in this transaction */
	unsigned rounds;	/* transactions on this connection */

	struct mx_host hosts[MX_MAX];
	size_t nhosts, host;	/* current host */
	struct sockaddr_storage addrs[ADDRS_MAX];
	size_t naddrs, addr;	/* current address of the current host */
	int pending_lookups;
	struct dns_query *q[2];
	char last_error[MTA_REPLY_MAX];
	bool last_error_permanent;

	struct bufferevent *bev;
	struct event *timer;
	enum stage stage;
	bool tls, no_tls;	/* no_tls: TLS failed on this address once */
	/* what this host must offer (set_security): TLS at all, and a
	 * certificate that verifies for its name; no plain-text fallback */
	bool must_tls, must_verify;
	char must_why[DNS_NAME_TEXT_MAX + 48];	/* what asks for it, for the reason */
	/* RFC 8461: the recipient domain's policy (NULL: none), asked for
	 * with the MX records; hosts are tried once both answered */
	struct mtasts_req *sts_req;
	struct mtasts_policy *sts;
	int waiting;		/* of the MX lookup and the policy */
	/* RFC 7672: DANE for the current host, when its MX and address
	 * records are DNSSEC-secure and it has secure TLSA records */
	bool mx_secure;		/* the MX answer (or implicit MX) was secure */
	bool addr_insecure;	/* an address answer of this host was not */
	bool tlsa_asked;
	struct dns_query *q_tlsa;
	enum dns_status tlsa_status;
	bool tlsa_secure;
	struct dane_records tlsa;
	enum { DANE_OFF, DANE_AUTH, DANE_ENCRYPT } dane;	/* what the records ask */
	bool implicit;		/* TLS before the greeting (port 465) */
	bool verified;		/* the certificate verified (tls_client_verified) */
	bool pipelining, starttls, size, eightbit, smtputf8;
	int auth_mechs;		/* AUTH offered (smarthost.h bits), -1: not offered */
	bool auth_login;	/* AUTH LOGIN in progress (else PLAIN) */
	unsigned auth_step;	/* LOGIN: 334 challenges answered */
	size_t *order;		/* recipient of the k-th RCPT sent */
	size_t rcpt_sent, rcpt_replied;
	bool data_started;
	bool mail_refused;	/* pipelined MAIL refused: the rest is read, not used */
	char reply[MTA_REPLY_MAX];	/* the reply read so far */
	int code;
	unsigned lines;
	struct mta_summary sum;
	struct event *defer;	/* to finish from the loop */
	bool reused;		/* on a session taken from the cache */
	unsigned uses;		/* transactions done on this session before */
	time_t born;		/* when the session connected */
};

static void next_address(struct mta_tx *t);
static void sts_report(struct mta_tx *t, const char *mx, const char *why);
static void addrs_done(struct mta_tx *t);
static void on_read(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);
static void mta_enter(struct mta_tx *t, enum stage s);
static void set_security(struct mta_tx *t);
static void resolve_host(struct mta_tx *t);

/* ---- life cycle ---- */

static void
close_conn(struct mta_tx *t)
{
	if (t->bev) {
		bufferevent_free(t->bev);
		t->bev = NULL;
	}
	if (t->timer)
		evtimer_del(t->timer);
}

static void
tx_free(struct mta_tx *t)
{
	struct mta *m = t->m;

	close_conn(t);
	for (int i = 0; i < 2; i++)
		dns_cancel(t->q[i]);
	mtasts_cancel(t->sts_req);
	free(t->sts);
	dns_cancel(t->q_tlsa);
	dane_records_clear(&t->tlsa);
	if (t->timer)
		event_free(t->timer);
	if (t->defer)
		event_free(t->defer);
	if (t->prev)
		t->prev->next = t->next;
	else
		m->txs = t->next;
	if (t->next)
		t->next->prev = t->prev;
	for (size_t i = 0; i < t->n; i++)
		free(t->rcpts[i]);
	free(t->rcpts);
	free(t->idx);
	free(t->res);
	free(t->accepted);
	free(t->final);
	free(t->too_many);
	free(t->order);
	free(t->sender);
	free(t->domain);
	free(t->data);
	free(t);
}

static void
finish(struct mta_tx *t)
{
	/* every recipient without a final result gets the last error */
	for (size_t i = 0; i < t->n; i++)
		if (!t->final[i]) {
			t->res[i].ok = false;
			t->res[i].permanent = t->last_error_permanent;
			snprintf(t->res[i].reply, sizeof(t->res[i].reply), "%s",
			    t->last_error[0] ? t->last_error : "451 4.4.0 delivery failed");
		}
	mta_enter(t, ST_DONE);
	t->cb(t->arg, t->id, t->res, t->n, &t->sum);
	tx_free(t);
}

static void
on_defer(evutil_socket_t fd, short what, void *arg)
{
	finish(arg);
}

/* Ends the transaction from the loop (never inside mta_send). */
static void
finish_later(struct mta_tx *t)
{
	if (t->defer == NULL)
		t->defer = evtimer_new(t->m->base, on_defer, t);
	event_active(t->defer, EV_TIMEOUT, 0);
}

static void
fail_all(struct mta_tx *t, bool permanent, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail_all(struct mta_tx *t, bool permanent, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->last_error, sizeof(t->last_error), fmt, ap);
	va_end(ap);
	t->last_error_permanent = permanent;
}

static void
set_result(struct mta_tx *t, size_t i, bool ok, bool permanent, const char *reply)
{
	t->res[i].ok = ok;
	t->res[i].permanent = permanent;
	snprintf(t->res[i].reply, sizeof(t->res[i].reply), "%s", reply);
	t->final[i] = true;
}

/* ---- output ---- */

static void __attribute__((format(printf, 2, 3)))
send_line(struct mta_tx *t, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(t->bev);
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

/* The message, dot-stuffed (RFC 5321 4.5.2), CRLF only: a bare CR or LF
 * left in stored data is sent as CRLF, never passed on as it is. */
static void
send_body(struct mta_tx *t, const char *sig)
{
	struct evbuffer *out = bufferevent_get_output(t->bev);
	const char *p = t->data, *end = t->data + t->len;
	bool bol = true;

	if (sig != NULL)
		evbuffer_add(out, sig, strlen(sig));
	while (p < end) {
		const char *q = p;
		if (bol && *p == '.')
			evbuffer_add(out, ".", 1);
		while (q < end && *q != '\r' && *q != '\n')
			q++;
		evbuffer_add(out, p, (size_t)(q - p));
		if (q >= end) {
			evbuffer_add(out, "\r\n", 2);
			bol = true;
			p = q;
			break;
		}
		evbuffer_add(out, "\r\n", 2);
		if (*q == '\r' && q + 1 < end && q[1] == '\n')
			q += 2;
		else
			q += 1;
		p = q;
		bol = true;
	}
	if (t->len > 0 && !bol)
		evbuffer_add(out, "\r\n", 2);
	evbuffer_add(out, ".\r\n", 3);
}

/* ---- dialog ---- */

static void
arm_timer(struct mta_tx *t)
{
	struct timeval tv = { t->m->opt.timeout ? t->m->opt.timeout : 300, 0 };

	evtimer_add(t->timer, &tv);
}

static bool
tls_required(const struct mta_tx *t)
{
	for (size_t i = 0; i < t->m->ntls_required; i++)
		if (strcasecmp(t->m->tls_required[i], t->domain) == 0)
			return true;
	return false;
}

static bool
needs_smtputf8(const struct mta_tx *t)
{
	for (const char *p = t->sender; *p; p++)
		if ((unsigned char)*p >= 0x80)
			return true;
	for (size_t i = 0; i < t->n; i++)
		for (const char *p = t->rcpts[i]; *p; p++)
			if ((unsigned char)*p >= 0x80)
				return true;
	return false;
}

static bool
has_8bit(const struct mta_tx *t)
{
	for (size_t i = 0; i < t->len; i++)
		if ((unsigned char)t->data[i] >= 0x80)
			return true;
	return false;
}

static void
send_rcpt(struct mta_tx *t, size_t i)
{
	send_line(t, "RCPT TO:<%s>", t->rcpts[i]);
	t->order[t->rcpt_sent++] = i;
}

/* The next recipient without a result and not yet asked for. */
static size_t
next_unsent(const struct mta_tx *t)
{
	for (size_t i = 0; i < t->n; i++) {
		bool sent = false;
		if (t->final[i])
			continue;
		for (size_t k = 0; k < t->rcpt_sent; k++)
			if (t->order[k] == i)
				sent = true;
		if (!sent)
			return i;
	}
	return t->n;
}

static bool
any_accepted(const struct mta_tx *t)
{
	for (size_t k = 0; k < t->n; k++)
		if (t->accepted[k])
			return true;
	return false;
}

static void
send_envelope(struct mta_tx *t)
{
	char params[128] = "";
	size_t o = 0;

	if (t->size)
		o += (size_t)snprintf(params + o, sizeof(params) - o, " SIZE=%zu", t->len);
	if (t->eightbit && has_8bit(t))
		o += (size_t)snprintf(params + o, sizeof(params) - o, " BODY=8BITMIME");
	if (t->smtputf8 && needs_smtputf8(t))
		snprintf(params + o, sizeof(params) - o, " SMTPUTF8");
	send_line(t, "MAIL FROM:<%s>%s", t->sender, params);
	t->rcpt_sent = t->rcpt_replied = 0;
	t->mail_refused = false;
	memset(t->accepted, 0, t->n * sizeof(bool));
	if (t->pipelining) {
		/* RFC 2920: MAIL, every RCPT and DATA in one go */
		for (size_t i = 0; i < t->n; i++)
			if (!t->final[i])
				send_rcpt(t, i);
		send_line(t, "DATA");
	}
}

/* AUTH to the smart host, PLAIN preferred (one round trip, RFC 4616 with
 * the initial response of RFC 4954 4), else LOGIN (after_hello checked
 * that one is offered). */
static void
send_auth(struct mta_tx *t)
{
	if (t->auth_mechs & (int)SMARTHOST_MECH_PLAIN) {
		char *r = smarthost_plain(t->m->relay_user, t->m->relay_pass);
		send_line(t, "AUTH PLAIN %s", r);
		explicit_bzero(r, strlen(r));
		free(r);
		t->auth_login = false;
		return;
	}
	send_line(t, "AUTH LOGIN");
	t->auth_login = true;
	t->auth_step = 0;
}

/*
 * The only place the stage changes (as OpenSMTPD's mta_enter_state): it
 * sends what the new stage starts with, and the reply that comes back is
 * read by that stage's handler (reply_handlers below). RESOLVE, CONNECT,
 * GREETING and TLS start with no command: the resolver, connect_addr,
 * the server or the handshake speaks first.
 */
static void
mta_enter(struct mta_tx *t, enum stage s)
{
	t->stage = s;
	switch (s) {
	case ST_EHLO:
		/* a new greeting or a new TLS session: what the server
		 * offers is asked again (RFC 3207 4.2) */
		t->pipelining = t->starttls = t->size = t->eightbit = t->smtputf8 = false;
		t->auth_mechs = -1;
		send_line(t, "%s %s", t->m->opt.lmtp ? "LHLO" : "EHLO", t->m->helo);
		break;
	case ST_HELO:
		send_line(t, "HELO %s", t->m->helo);
		break;
	case ST_STARTTLS:
		send_line(t, "STARTTLS");
		break;
	case ST_AUTH:
		send_auth(t);
		break;
	case ST_MAIL:
		send_envelope(t);
		break;
	case ST_RCPT:
		/* pipelined: every RCPT went with the MAIL */
		if (!t->pipelining)
			send_rcpt(t, next_unsent(t));
		break;
	case ST_DATA:
		if (!t->pipelining)
			send_line(t, "DATA");
		break;
	case ST_BODY: {
		char *sig = t->m->opt.sign ? t->m->opt.sign(t->m->opt.sign_arg, t->data, t->len) : NULL;
		send_body(t, sig);
		free(sig);
		t->data_started = true;
		break;
	}
	case ST_QUIT:
		send_line(t, "QUIT");
		break;
	case ST_DONE:
		close_conn(t);
		break;
	case ST_RESOLVE:
	case ST_CONNECT:
	case ST_GREETING:
	case ST_TLS:
		break;
	}
}

static void
parse_ehlo(struct mta_tx *t, const char *line, size_t len)
{
	/* "250-KEYWORD params"; the first line is the greeting name */
	if (len > 4) {
		const char *k = line + 4;
		size_t kl = len - 4;
		if (kl >= 10 && strncasecmp(k, "PIPELINING", 10) == 0)
			t->pipelining = true;
		else if (kl >= 8 && strncasecmp(k, "STARTTLS", 8) == 0)
			t->starttls = true;
		else if (kl >= 4 && strncasecmp(k, "SIZE", 4) == 0 && (kl == 4 || k[4] == ' '))
			t->size = true;
		else if (kl >= 8 && strncasecmp(k, "8BITMIME", 8) == 0)
			t->eightbit = true;
		else if (kl >= 8 && strncasecmp(k, "SMTPUTF8", 8) == 0)
			t->smtputf8 = true;
		else if (smarthost_ehlo_auth(k, kl) >= 0)
			t->auth_mechs = (t->auth_mechs > 0 ? t->auth_mechs : 0) |
			    smarthost_ehlo_auth(k, kl);
	}
}

/* Returns -1 when TLS could not be started (the stage is unchanged). */
static int
start_tls(struct mta_tx *t)
{
	SSL *ssl = SSL_new(t->m->ssl);
	struct bufferevent *b;

	if (ssl == NULL)
		return -1;
	/* Whatever came in plain text after the 220 is not the server's TLS
	 * and must not be read as replies (RFC 3207 5, the client side of
	 * CVE-2011-0411): drop it; the handshake then fails or succeeds on
	 * its own. */
	{
		struct evbuffer *in = bufferevent_get_input(t->bev);
		evbuffer_drain(in, evbuffer_get_length(in));
	}
	/* SNI and the name the certificate is checked for: the MX host
	 * name or the relayhost's (RFC 7672 and 8461 check the MX name, SPEC
	 * 12 the relayhost as configured); an address has neither SNI nor
	 * a DNS name to match */
	if (t->hosts[t->host].name[0])
		tls_client_expect(ssl, t->hosts[t->host].name);
	/* RFC 7672 2.2: records OpenSSL cannot use leave TLS required but
	 * unauthenticated */
	if (t->dane == DANE_AUTH && dane_apply(ssl, t->hosts[t->host].name, &t->tlsa) == 0) {
		t->dane = DANE_ENCRYPT;
		t->must_verify = tls_required(t);
	}
	if (t->m->has_relayhost && t->m->relay_session != NULL &&
	    SSL_SESSION_is_resumable(t->m->relay_session))
		SSL_set_session(ssl, t->m->relay_session);
	b = bufferevent_openssl_filter_new(t->m->base, t->bev, ssl, BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (b == NULL) {
		/* not freed here: libevent may have freed it already (its
		 * constructor's error path frees the SSL of a half-built
		 * filter with BEV_OPT_CLOSE_ON_FREE); a leak when memory ran
		 * out beats a double free */
		return -1;
	}
	t->bev = b;
	mta_enter(t, ST_TLS);
	bufferevent_setcb(b, on_read, NULL, on_event, t);
	bufferevent_enable(b, EV_READ | EV_WRITE);
	return 0;
}

/* LMTP: the recipient whose reply to the data comes next. */
static size_t
next_lmtp_reply(const struct mta_tx *t)
{
	for (size_t k = 0; k < t->rcpt_sent; k++) {
		size_t i = t->order[k];
		if (t->accepted[i] && !t->final[i])
			return i;
	}
	return t->n;
}

/*
 * RFC 5321 4.5.3.1.10: a server out of recipients for this transaction
 * answers 452 (or 552) and expects the rest in another one. A 452 with an
 * enhanced code other than X.5.3 (4.3.1: out of storage) is an ordinary
 * temporary failure.
 */
static bool
is_too_many(int code, const char *reply)
{
	const char *ec = strlen(reply) > 4 ? reply + 4 : "";

	if (code != 452 && code != 552)
		return false;
	if (ec[0] >= '2' && ec[0] <= '5' && ec[1] == '.')
		return strncmp(ec + 1, ".5.3", 4) == 0 && (ec[5] == ' ' || ec[5] == '\0');
	return code == 452;
}

/*
 * After a transaction ended, the recipients refused as too many go in the
 * next one on the same connection, at once (not at the next retry). Only
 * while each transaction delivers some: a server that takes none ends it.
 * Returns true when a new transaction started.
 */
static bool
next_round(struct mta_tx *t)
{
	bool more = false, progress = false;

	for (size_t i = 0; i < t->n; i++) {
		if (t->too_many[i] && !t->final[i])
			more = true;
		if (t->accepted[i] && t->res[i].ok)
			progress = true;
	}
	if (!more)
		return false;
	if (!progress || ++t->rounds >= t->n) {
		/* left as they were refused: temporary failures */
		for (size_t i = 0; i < t->n; i++)
			if (t->too_many[i] && !t->final[i]) {
				char reply[MTA_REPLY_MAX];
				snprintf(reply, sizeof(reply), "%s", t->res[i].reply);
				set_result(t, i, false, false, reply);
			}
		return false;
	}
	memset(t->too_many, 0, t->n * sizeof(bool));
	t->data_started = false;
	mta_enter(t, ST_MAIL);
	return true;
}

/*
 * The transaction ended with the reply to its data (any but 421, which
 * closes): the session goes to the cache for the next message to the
 * relayhost instead of QUIT. False when it cannot be kept.
 */
static bool
park(struct mta_tx *t, int code)
{
	struct conn_state st;

	if (t->m->cache == NULL || t->bev == NULL || code == 421 ||
	    t->uses + 1 >= REUSE_COUNT_MAX || clock_mono_sec() - t->born >= REUSE_SECS_MAX)
		return false;
	/* more input than the reply is a server out of step */
	if (evbuffer_get_length(bufferevent_get_input(t->bev)) > 0)
		return false;
	memset(&st, 0, sizeof(st));
	st.addr = t->addrs[t->addr];
	snprintf(st.relay, sizeof(st.relay), "%s", t->sum.relay);
	snprintf(st.tls_version, sizeof(st.tls_version), "%s", t->sum.tls);
	st.tls = t->tls;
	st.verified = t->verified;
	st.pipelining = t->pipelining;
	st.size = t->size;
	st.eightbit = t->eightbit;
	st.smtputf8 = t->smtputf8;
	st.uses = t->uses + 1;
	st.born = t->born;
	evtimer_del(t->timer);
	conncache_put(t->m->cache, CACHE_KEY, t->bev, &st);
	t->bev = NULL;
	return true;
}

/*
 * A session from the cache for this transaction: it already greeted,
 * negotiated TLS and authenticated, so the envelope goes first. False
 * when there is none, or none that meets what this delivery requires.
 */
static bool
reuse(struct mta_tx *t)
{
	struct conn_state st;
	struct bufferevent *bev;

	if (t->m->cache == NULL ||
	    (bev = conncache_take(t->m->cache, CACHE_KEY, &st)) == NULL)
		return false;
	t->addrs[0] = st.addr;
	t->naddrs = 1;
	t->addr = 0;
	set_security(t);
	if ((t->must_tls && !st.tls) || (t->must_verify && !st.verified)) {
		/* cannot happen (parked sessions passed the same checks);
		 * never send over one that did not */
		bufferevent_free(bev);
		return false;
	}
	snprintf(t->sum.relay, sizeof(t->sum.relay), "%s", st.relay);
	snprintf(t->sum.tls, sizeof(t->sum.tls), "%s", st.tls_version);
	t->tls = st.tls;
	t->verified = st.verified;
	t->pipelining = st.pipelining;
	t->size = st.size;
	t->eightbit = st.eightbit;
	t->smtputf8 = st.smtputf8;
	t->uses = st.uses;
	t->born = st.born;
	t->reused = true;
	t->data_started = false;
	t->lines = 0;
	t->bev = bev;
	bufferevent_setcb(bev, on_read, NULL, on_event, t);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	mta_enter(t, ST_MAIL);
	{
		/* a live relay answers MAIL at once: one that does not within
		 * REUSE_REPLY_SECS lost the session, and a new one is cheaper
		 * than the full step timeout */
		unsigned limit = t->m->opt.timeout ? t->m->opt.timeout : 300;
		struct timeval tv = { limit < REUSE_REPLY_SECS ? limit : REUSE_REPLY_SECS, 0 };
		evtimer_add(t->timer, &tv);
	}
	return true;
}

/*
 * A cached session that the server closed (or answered 421) before the
 * data went out: nothing was delivered on it, so the transaction starts
 * again on a new connection, once, without counting it as a failure.
 */
static bool
reconnect(struct mta_tx *t)
{
	if (!t->reused || t->data_started || t->mail_refused || t->stage == ST_QUIT)
		return false;
	t->reused = false;
	close_conn(t);
	t->last_error[0] = '\0';
	resolve_host(t);
	return true;
}

/* ---- one handler per stage: each reads the reply to what its stage
 * sent and enters the next stage ---- */

static void
on_greeting(struct mta_tx *t, int code, const char *reply)
{
	if (code / 100 != 2) {
		fail_all(t, false, "%s (greeting)", reply);
		next_address(t);
		return;
	}
	mta_enter(t, ST_EHLO);
}

/*
 * EHLO or HELO done: TLS first when offered (and possible), then AUTH to a
 * smart host with credentials (SPEC 12) only over TLS whose certificate
 * verified for the relayhost, then the envelope.
 */
static void
after_hello(struct mta_tx *t)
{
	/* LMTP goes to a local agent: no TLS to negotiate */
	if (!t->tls && t->starttls && t->m->ssl && !t->no_tls && !t->m->opt.lmtp) {
		mta_enter(t, ST_STARTTLS);
		return;
	}
	if (!t->tls && t->must_tls) {
		fail_all(t, false, "451 4.7.5 TLS is required by %s but %s", t->must_why,
		    t->starttls ? "the handshake failed" : "the server does not offer STARTTLS");
		next_address(t);
		return;
	}
	if (!t->tls && !t->m->opt.lmtp)
		sts_report(t, t->hosts[t->host].name, t->starttls ? "TLS handshake failed" :
		    "the server does not offer STARTTLS");
	if (t->m->relay_user == NULL) {
		mta_enter(t, ST_MAIL);
		return;
	}
	/* guards the invariant whatever set_security decided */
	if (!t->tls || !t->verified) {
		fail_all(t, false, "451 4.7.5 no verified TLS to the relayhost: credentials not sent");
		next_address(t);
		return;
	}
	if (t->auth_mechs <= 0 ||
	    !(t->auth_mechs & (int)(SMARTHOST_MECH_PLAIN | SMARTHOST_MECH_LOGIN))) {
		fail_all(t, false, "451 4.7.0 the relayhost %s offers %s: mail not sent "
		    "unauthenticated (relayhost_user is set)", t->sum.relay,
		    t->auth_mechs < 0 ? "no AUTH" : "neither AUTH PLAIN nor LOGIN");
		mta_enter(t, ST_QUIT);
		return;
	}
	mta_enter(t, ST_AUTH);
}

static void
on_ehlo(struct mta_tx *t, int code, const char *reply)
{
	if (code / 100 == 2) {
		after_hello(t);
		return;
	}
	if (t->m->opt.lmtp) {
		/* LMTP has no HELO to fall back to (RFC 2033 4.1) */
		fail_all(t, false, "%s (LHLO)", reply);
		next_address(t);
		return;
	}
	mta_enter(t, ST_HELO);
}

static void
on_helo(struct mta_tx *t, int code, const char *reply)
{
	if (code / 100 != 2) {
		fail_all(t, code / 100 == 5, "%s (HELO)", reply);
		next_address(t);
		return;
	}
	after_hello(t);
}

static void
on_starttls(struct mta_tx *t, int code, const char *reply)
{
	if (code == 220) {
		if (start_tls(t) == 0)
			return;
		fail_all(t, false, "451 4.7.5 cannot start TLS with %s", t->sum.relay);
		next_address(t);
		return;
	}
	if (t->must_tls) {
		fail_all(t, false, "%s (STARTTLS)", reply);
		next_address(t);
		return;
	}
	mta_enter(t, ST_MAIL);
}

static void
on_auth(struct mta_tx *t, int code, const char *reply)
{
	if (t->auth_login && code == 334 && t->auth_step < 2) {
		/* RFC 4954 4: the user name, then the password */
		const char *v = t->auth_step++ == 0 ? t->m->relay_user : t->m->relay_pass;
		char *b = smarthost_b64(v, strlen(v));
		send_line(t, "%s", b);
		explicit_bzero(b, strlen(b));
		free(b);
		return;
	}
	if (code == 235) {
		mta_enter(t, ST_MAIL);
		return;
	}
	/* a refused login is temporary: the password may be fixed before
	 * queue_lifetime (Postfix's smtp_sasl_auth_soft_bounce) */
	fail_all(t, false, "%s (AUTH %s to the relayhost)", reply, t->auth_login ? "LOGIN" : "PLAIN");
	if (code == 334)
		send_line(t, "*");	/* RFC 4954 4: cancel the exchange */
	mta_enter(t, ST_QUIT);
}

static void
on_mail(struct mta_tx *t, int code, const char *reply)
{
	if (code / 100 == 2) {
		mta_enter(t, ST_RCPT);
		return;
	}
	/* a cached session the server is closing (its idle timeout) */
	if (code == 421 && reconnect(t))
		return;
	fail_all(t, code / 100 == 5, "%s", reply);
	if (!t->pipelining) {
		mta_enter(t, ST_QUIT);
		return;
	}
	/* the pipelined RCPT and DATA replies still come (RFC 2920 3.1):
	 * read them (they mean nothing for the recipients) before QUIT,
	 * and never send the message after a 354 */
	t->mail_refused = true;
	mta_enter(t, ST_RCPT);
}

static void
on_rcpt(struct mta_tx *t, int code, const char *reply)
{
	size_t i = t->rcpt_replied < t->rcpt_sent ? t->order[t->rcpt_replied] : t->n;

	if (i < t->n && !t->mail_refused) {
		if (code / 100 == 2)
			t->accepted[i] = true;
		else if (is_too_many(code, reply)) {
			/* not final: kept for the next transaction */
			t->too_many[i] = true;
			snprintf(t->res[i].reply, sizeof(t->res[i].reply), "%s", reply);
		} else
			set_result(t, i, false, code / 100 == 5, reply);
	}
	t->rcpt_replied++;
	if (t->rcpt_replied < t->rcpt_sent)
		return;
	if (!t->pipelining && next_unsent(t) < t->n) {
		send_rcpt(t, next_unsent(t));
		return;
	}
	if (!any_accepted(t)) {
		if (!t->mail_refused) {
			next_round(t);	/* the too many keep their reply */
			fail_all(t, false, "no recipient accepted");
		}
		/* pipelined: the DATA reply (an error) still comes */
		mta_enter(t, t->pipelining ? ST_DATA : ST_QUIT);
		return;
	}
	mta_enter(t, ST_DATA);
}

static void
on_data(struct mta_tx *t, int code, const char *reply)
{
	if (!any_accepted(t)) {
		/* pipelined DATA after the MAIL or every RCPT failed: whatever
		 * the server said, no message is sent */
		if (code == 354)
			send_line(t, ".");
		mta_enter(t, ST_QUIT);
		return;
	}
	if (code != 354) {
		for (size_t k = 0; k < t->n; k++)
			if (t->accepted[k])
				set_result(t, k, false, code / 100 == 5, reply);
		next_round(t);	/* nothing delivered: no new round */
		mta_enter(t, ST_QUIT);
		return;
	}
	mta_enter(t, ST_BODY);
}

static void
on_body(struct mta_tx *t, int code, const char *reply)
{
	if (t->m->opt.lmtp) {
		/* RFC 2033 4.2: one reply per accepted recipient, in RCPT
		 * order; the transaction ends with the last one */
		size_t i = next_lmtp_reply(t);
		if (i < t->n)
			set_result(t, i, code / 100 == 2, code / 100 == 5, reply);
		if (i < t->n && t->each)
			t->each(t->arg, t->id, &t->res[i]);
		if (next_lmtp_reply(t) < t->n)
			return;
	} else
		for (size_t k = 0; k < t->n; k++)
			if (t->accepted[k]) {
				set_result(t, k, code / 100 == 2, code / 100 == 5, reply);
				if (t->each)
					t->each(t->arg, t->id, &t->res[k]);
			}
	if (next_round(t))
		return;
	if (park(t, code)) {
		finish_later(t);
		return;
	}
	mta_enter(t, ST_QUIT);
}

static void
on_quit(struct mta_tx *t, int code, const char *reply)
{
	finish(t);
}

typedef void reply_handler(struct mta_tx *t, int code, const char *reply);

static reply_handler *const reply_handlers[] = {
	[ST_GREETING] = on_greeting,
	[ST_EHLO] = on_ehlo,
	[ST_HELO] = on_helo,
	[ST_STARTTLS] = on_starttls,
	[ST_AUTH] = on_auth,
	[ST_MAIL] = on_mail,
	[ST_RCPT] = on_rcpt,
	[ST_DATA] = on_data,
	[ST_BODY] = on_body,
	[ST_QUIT] = on_quit,
};

/* A complete reply arrived: the stage that asked for it moves on. A reply
 * nobody asked for (during the handshake, after DONE) is ignored. */
static void
on_reply(struct mta_tx *t)
{
	char reply[MTA_REPLY_MAX];

	if ((size_t)t->stage >= sizeof(reply_handlers) / sizeof(reply_handlers[0]) ||
	    reply_handlers[t->stage] == NULL)
		return;
	/* a copy: the handler may start the next reply into t->reply */
	snprintf(reply, sizeof(reply), "%s", t->reply);
	reply_handlers[t->stage](t, t->code, reply);
}

/*
 * Past the point where another address may be tried: the data went out
 * (the server may have the message: a duplicate beats a loss), QUIT was
 * sent, or the server refused the MAIL (its answer is the result; the
 * pipelined replies still due change nothing, and another MX must not
 * turn a refusal into a delivery).
 */
static bool
session_ending(const struct mta_tx *t)
{
	return t->data_started || t->stage == ST_QUIT || t->mail_refused;
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct mta_tx *t = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	for (;;) {
		size_t len;
		char *line;
		int code;
		bool more;
		const char *text;
		size_t textlen;

		if (t->stage == ST_DONE || t->bev == NULL)
			return;
		line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
		if (line == NULL) {
			if (evbuffer_get_length(in) > REPLY_LINE_MAX) {
				fail_all(t, false, "451 4.4.2 reply line too long from server");
				goto broken;
			}
			return;
		}
		if (reply_parse_line(line, len, &code, &more, &text, &textlen) == -1 ||
		    (t->lines > 0 && code != t->code) || ++t->lines > REPLY_LINES_MAX) {
			free(line);
			fail_all(t, false, "451 4.4.2 malformed reply from server");
			goto broken;
		}
		if (t->lines == 1) {
			t->code = code;
			snprintf(t->reply, sizeof(t->reply), "%d %.*s", code,
			    (int)(textlen > 400 ? 400 : textlen), text);
		}
		if (t->stage == ST_EHLO)
			parse_ehlo(t, line, len);
		free(line);
		if (more)
			continue;
		t->lines = 0;
		arm_timer(t);
		{
			/* on_reply may free t (the reply to QUIT finishes the
			 * transaction) or move it to another connection or to
			 * TLS: then this buffer is no longer ours to read. */
			bool quitting = t->stage == ST_QUIT;
			on_reply(t);
			if (quitting || t->stage == ST_DONE || t->bev != bev)
				return;
		}
	}
broken:
	if (session_ending(t)) {
		finish(t);
		return;
	}
	next_address(t);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct mta_tx *t = arg;

	if (what & BEV_EVENT_CONNECTED) {
		if (t->stage == ST_CONNECT) {
			/* every command goes out whole: Nagle would hold a
			 * TLS record back until the server's delayed ACK (40 ms
			 * a round trip, 90 ms a message to a TLS smart host) */
			int one = 1;
			evutil_socket_t fd = bufferevent_getfd(bev);
			if (fd != -1 && t->addrs[t->addr].ss_family != AF_UNIX)
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		}
		if (t->stage == ST_TLS) {
			SSL *ssl = bufferevent_openssl_get_ssl(t->bev);
			char why[MTA_REPLY_MAX - 64];
			t->tls = true;
			snprintf(t->sum.tls, sizeof(t->sum.tls), "%s", ssl ? SSL_get_version(ssl) : "TLS");
			t->verified = ssl != NULL && tls_client_verified(ssl, why, sizeof(why)) == 0;
			if (!t->verified)
				sts_report(t, t->hosts[t->host].name, why);
			if (!t->verified && t->must_verify) {
				/* nothing was sent over this connection yet, and
				 * nothing will be: not an EHLO, not a credential */
				fail_all(t, false, "451 4.7.5 %s (%s; required by %s)", why, t->sum.relay,
				    t->must_why);
				next_address(t);
				return;
			}
			if (t->verified && t->dane == DANE_AUTH && dane_matched(ssl) != NULL)
				log_event("dane", "domain=%s mx=%s result=authenticated record=%s",
				    t->domain, t->hosts[t->host].name, dane_matched(ssl));
			/* RFC 8314 3: after implicit TLS the greeting comes
			 * over it; after STARTTLS the client speaks first */
			mta_enter(t, t->implicit ? ST_GREETING : ST_EHLO);
		} else if (t->implicit) {
			if (start_tls(t) == -1) {
				fail_all(t, false, "451 4.7.5 cannot start TLS with %s", t->sum.relay);
				next_address(t);
				return;
			}
		} else
			mta_enter(t, ST_GREETING);
		arm_timer(t);
		return;
	}
	if (reconnect(t))
		return;
	if (t->stage == ST_TLS && !t->no_tls) {
		/* opportunistic TLS failed: once more in plain text, unless
		 * this host must have TLS */
		unsigned long e = bufferevent_get_openssl_error(bev);
		char detail[160] = "";
		if (e != 0)
			snprintf(detail, sizeof(detail), ": %s", ERR_reason_error_string(e) ?
			    ERR_reason_error_string(e) : "TLS error");
		fail_all(t, false, "451 4.7.5 TLS handshake failed with %s%s", t->sum.relay, detail);
		sts_report(t, t->hosts[t->host].name, t->last_error + 10);
		if (!t->must_tls && !t->implicit) {
			t->no_tls = true;
			t->addr--;	/* the same address again */
		}
		next_address(t);
		return;
	}
	if (t->stage == ST_QUIT || t->mail_refused) {
		finish(t);
		return;
	}
	if (t->data_started) {
		fail_all(t, false, "451 4.4.2 connection lost after the message data was sent");
		finish(t);
		return;
	}
	if (t->last_error[0] == '\0' || t->stage == ST_CONNECT)
		fail_all(t, false, "451 4.4.1 cannot connect to %s: %s", t->sum.relay,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	next_address(t);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct mta_tx *t = arg;

	/* a cached session that died without a word (a NAT forgot it) */
	if (reconnect(t))
		return;
	fail_all(t, false, "451 4.4.2 timeout talking to %s", t->sum.relay);
	if (session_ending(t)) {
		finish(t);
		return;
	}
	next_address(t);
}

/* ---- addresses and hosts ---- */

/* RFC 8461 5: in testing mode a failure is reported, and the message
 * goes as it would without a policy. */
static void
sts_report(struct mta_tx *t, const char *mx, const char *why)
{
	char q[LOG_VALUE_MAX];

	if (t->sts == NULL || t->sts->mode != MTASTS_TESTING)
		return;
	log_event("mta_sts", "domain=%s mode=testing mx=%s result=failure reason=%s", t->domain,
	    mx, log_quote(q, sizeof(q), why, strlen(why)));
}

/*
 * The MX hosts and the policy are known: with enforce, only hosts the
 * policy lists are tried (RFC 8461 4.1, 5); with testing, unlisted ones
 * are reported and tried all the same.
 */
static void
apply_sts(struct mta_tx *t)
{
	if (t->sts != NULL && t->sts->mode == MTASTS_ENFORCE) {
		size_t k = 0;
		for (size_t i = 0; i < t->nhosts; i++)
			if (mtasts_policy_mx_match(t->sts, t->hosts[i].name))
				t->hosts[k++] = t->hosts[i];
		if (k == 0) {
			fail_all(t, false, "451 4.7.5 no MX host of %s (%s%s) is listed in its "
			    "MTA-STS policy (enforce)", t->domain, t->hosts[0].name,
			    t->nhosts > 1 ? ", ..." : "");
			finish(t);
			return;
		}
		t->nhosts = k;
	} else if (t->sts != NULL)
		for (size_t i = 0; i < t->nhosts; i++)
			if (!mtasts_policy_mx_match(t->sts, t->hosts[i].name))
				sts_report(t, t->hosts[i].name, "the MX host is not listed in the policy");
	t->host = 0;
	resolve_host(t);
}

/* One of the MX lookup and the policy answered. */
static void
hosts_ready(struct mta_tx *t)
{
	if (--t->waiting > 0)
		return;
	apply_sts(t);
}

static void
on_sts(void *arg, const struct mtasts_policy *p)
{
	struct mta_tx *t = arg;

	t->sts_req = NULL;
	if (p != NULL) {
		t->sts = xmalloc(sizeof(*t->sts));
		*t->sts = *p;
	}
	hosts_ready(t);
}

/*
 * What the host about to be tried must offer. The smart host with
 * credentials: TLS (STARTTLS, or implicit on port 465) with a certificate
 * that verifies for the relayhost's name, or nothing is sent (SPEC 12);
 * without credentials it is an MX like any other. An MX: TLS with a
 * certificate that verifies for the MX host name when its domain is in
 * tls_required_domains (anything less defers, SPEC 12: an active
 * attacker must not get the mail with any certificate); else
 * opportunistic (RFC 7435).
 */
static void
set_security(struct mta_tx *t)
{
	struct mta *m = t->m;

	t->implicit = false;
	t->must_tls = t->must_verify = false;
	t->must_why[0] = '\0';
	if (m->opt.lmtp)
		return;
	if (m->has_relayhost) {
		t->implicit = m->relay_implicit;
		t->must_tls = t->must_verify = m->relay_user != NULL;
		snprintf(t->must_why, sizeof(t->must_why), "relayhost_user");
		return;
	}
	/* RFC 8461 5: enforce means TLS with a certificate valid for the
	 * MX name (its match with the policy was checked in apply_sts) */
	if (t->sts != NULL && t->sts->mode == MTASTS_ENFORCE) {
		t->must_tls = t->must_verify = true;
		snprintf(t->must_why, sizeof(t->must_why), "the MTA-STS policy of %s (enforce)",
		    t->domain);
	}
	if (tls_required(t)) {
		t->must_tls = t->must_verify = true;
		snprintf(t->must_why, sizeof(t->must_why), "tls_required_domains");
	}
	/* RFC 7672 2.2, RFC 8461 2: secure TLSA records take precedence
	 * over MTA-STS; with none usable, TLS is still required */
	if (t->dane == DANE_AUTH) {
		t->must_tls = t->must_verify = true;
		snprintf(t->must_why, sizeof(t->must_why), "the DANE TLSA records of %s",
		    t->hosts[t->host].name);
	} else if (t->dane == DANE_ENCRYPT) {
		t->must_tls = true;
		t->must_verify = tls_required(t);
		snprintf(t->must_why, sizeof(t->must_why), "the DANE TLSA records of %s (none usable)",
		    t->hosts[t->host].name);
	}
}

/* A socket bound to the configured source address of family, or -1 to
 * let libevent make one (and the kernel choose the source). */
static evutil_socket_t
source_socket(const struct mta_tx *t, int family)
{
	const char *src = family == AF_INET ? t->m->opt.source4 :
	    family == AF_INET6 ? t->m->opt.source6 : NULL;
	struct sockaddr_storage ss;
	socklen_t len;
	evutil_socket_t fd;

	if (src == NULL)
		return -1;
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET) {
		inet_pton(AF_INET, src, &((struct sockaddr_in *)&ss)->sin_addr);
		len = sizeof(struct sockaddr_in);
	} else {
		inet_pton(AF_INET6, src, &((struct sockaddr_in6 *)&ss)->sin6_addr);
		len = sizeof(struct sockaddr_in6);
	}
	if ((fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&ss, len) == -1) {
		log_event("warning", "reason=\"cannot use source address %s: %s; connecting from the default address\"",
		    src, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void
connect_addr(struct mta_tx *t)
{
	struct sockaddr_storage *ss = &t->addrs[t->addr];
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = t->m->has_relayhost ? t->m->relayhost.port : t->m->opt.port;
	struct timeval tv = { 30, 0 };
	socklen_t sslen = ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) :
	    ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_un);

	if (ss->ss_family == AF_UNIX) {
		snprintf(t->sum.relay, sizeof(t->sum.relay), "unix:%.300s", t->m->unix_path);
	} else if (ss->ss_family == AF_INET) {
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
		inet_ntop(AF_INET, &((struct sockaddr_in *)ss)->sin_addr, ip, sizeof(ip));
	} else {
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ss)->sin6_addr, ip, sizeof(ip));
	}
	if (ss->ss_family != AF_UNIX)
		snprintf(t->sum.relay, sizeof(t->sum.relay), "%s[%s]:%u", t->hosts[t->host].name,
		    ip, port);
	snprintf(t->sum.tls, sizeof(t->sum.tls), "none");
	t->tls = false;
	t->verified = false;
	set_security(t);
	t->data_started = false;
	t->lines = 0;
	t->reused = false;
	t->uses = 0;
	t->born = clock_mono_sec();
	t->bev = bufferevent_socket_new(t->m->base, source_socket(t, ss->ss_family),
	    BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(t->bev, on_read, NULL, on_event, t);
	bufferevent_enable(t->bev, EV_READ | EV_WRITE);
	mta_enter(t, ST_CONNECT);
	if (t->m->opt.timeout && t->m->opt.timeout < 30)
		tv.tv_sec = t->m->opt.timeout;
	evtimer_add(t->timer, &tv);
	if (bufferevent_socket_connect(t->bev, (struct sockaddr *)ss, (int)sslen) == -1) {
		fail_all(t, false, "451 4.4.1 cannot connect to %s", t->sum.relay);
		close_conn(t);
		next_address(t);
	}
}

static void
next_address(struct mta_tx *t)
{
	close_conn(t);
	for (size_t i = 0; i < t->n; i++)
		t->accepted[i] = false;
	if (t->addr + 1 < t->naddrs || (t->addr == (size_t)-1 && t->naddrs > 0)) {
		t->addr++;
		connect_addr(t);
		return;
	}
	/* next host */
	t->host++;
	if (t->host < t->nhosts) {
		resolve_host(t);
		return;
	}
	finish_later(t);
}

static void
on_addr(void *arg, const struct dns_answer *ans)
{
	struct mta_tx *t = arg;

	if (ans->status == DNS_OK)
		for (size_t i = 0; i < ans->count && t->naddrs < ADDRS_MAX; i++) {
			struct sockaddr_storage *ss = &t->addrs[t->naddrs];
			int fam = ans->len[i] == 4 ? AF_INET : AF_INET6;
			if (t->m->opt.family != 0 && fam != t->m->opt.family)
				continue;	/* outbound_family */
			memset(ss, 0, sizeof(*ss));
			if (ans->len[i] == 4) {
				ss->ss_family = AF_INET;
				memcpy(&((struct sockaddr_in *)ss)->sin_addr, ans->data[i], 4);
				t->naddrs++;
			} else if (ans->len[i] == 16) {
				ss->ss_family = AF_INET6;
				memcpy(&((struct sockaddr_in6 *)ss)->sin6_addr, ans->data[i], 16);
				t->naddrs++;
			}
		}
	else if (ans->status == DNS_TIMEOUT || ans->status == DNS_SERVFAIL)
		fail_all(t, false, "451 4.4.3 cannot resolve %s", t->hosts[t->host].name);
	if ((ans->status != DNS_OK && ans->status != DNS_NODATA) || !ans->secure)
		t->addr_insecure = true;
	if (--t->pending_lookups > 0)
		return;
	addrs_done(t);
}

/* RFC 7672 2.2: the TLSA records of the host, used only when secure. */
static void
on_tlsa(void *arg, const struct dns_answer *ans)
{
	struct mta_tx *t = arg;

	t->q_tlsa = NULL;
	t->tlsa_status = ans->status;
	t->tlsa_secure = ans->secure;
	if (ans->status == DNS_OK && ans->secure)
		for (size_t i = 0; i < ans->count; i++)
			dane_records_add(&t->tlsa, ans->data[i], (size_t)ans->len[i]);
	if (--t->pending_lookups > 0)
		return;
	addrs_done(t);
}

/* Every lookup of the host answered: its DANE level, then connect. */
static void
addrs_done(struct mta_tx *t)
{
	t->q[0] = t->q[1] = NULL;
	t->dane = DANE_OFF;
	/* RFC 7672 2.2.2: DANE only for a host whose addresses are secure */
	if (t->tlsa_asked && !t->addr_insecure && t->naddrs > 0) {
		if (t->tlsa_status == DNS_OK && t->tlsa_secure)
			t->dane = t->tlsa.n > 0 ? DANE_AUTH : DANE_ENCRYPT;
		else if (t->tlsa_status == DNS_SERVFAIL || t->tlsa_status == DNS_TIMEOUT) {
			/* a signed zone that cannot say whether the host has
			 * TLSA records: not this host (an attacker may be
			 * hiding them) */
			fail_all(t, false, "451 4.7.5 the TLSA lookup of %s failed: not delivered "
			    "without knowing its DANE records", t->hosts[t->host].name);
			t->naddrs = 0;
			next_address(t);
			return;
		}
	}
	if (t->naddrs == 0) {
		if (t->last_error[0] == '\0')
			fail_all(t, false, "451 4.4.3 no address for %s", t->hosts[t->host].name);
		next_address(t);
		return;
	}
	t->addr = 0;
	connect_addr(t);
}

static void
resolve_host(struct mta_tx *t)
{
	const char *name = t->hosts[t->host].name;
	struct in_addr a4;
	struct in6_addr a6;

	t->naddrs = 0;
	t->addr = (size_t)-1;
	/* a literal (relayhost = 192.0.2.1:25) needs no lookup */
	if (inet_pton(AF_INET, name, &a4) == 1 || inet_pton(AF_INET6, name, &a6) == 1) {
		struct sockaddr_storage *ss = &t->addrs[0];
		memset(ss, 0, sizeof(*ss));
		if (inet_pton(AF_INET, name, &a4) == 1) {
			ss->ss_family = AF_INET;
			((struct sockaddr_in *)ss)->sin_addr = a4;
		} else {
			ss->ss_family = AF_INET6;
			((struct sockaddr_in6 *)ss)->sin6_addr = a6;
		}
		t->naddrs = 1;
		t->addr = 0;
		if (t->m->opt.family != 0 && ss->ss_family != t->m->opt.family) {
			fail_all(t, false, "451 4.4.4 %s is not reachable with outbound_family %s",
			    name, t->m->opt.family == AF_INET ? "ipv4" : "ipv6");
			t->naddrs = 0;
			next_address(t);
			return;
		}
		connect_addr(t);
		return;
	}
	dane_records_clear(&t->tlsa);
	t->addr_insecure = t->tlsa_asked = false;
	t->pending_lookups = 2;
	if (t->m->dane && t->mx_secure) {
		char q[DNS_NAME_TEXT_MAX + 16];
		/* RFC 7672 2.2.3: _PORT._tcp.MXHOST */
		snprintf(q, sizeof(q), "_%u._tcp.%s", t->m->opt.port ? t->m->opt.port : 25, name);
		t->tlsa_asked = true;
		t->pending_lookups = 3;
		t->q_tlsa = dns_query(t->m->res, q, DANE_DNS_TYPE_TLSA,
		    (t->m->opt.timeout ? t->m->opt.timeout : 30) * 1000, on_tlsa, t);
	}
	t->q[0] = dns_query(t->m->res, name, DNS_TYPE_A, (t->m->opt.timeout ? t->m->opt.timeout : 30) * 1000,
	    on_addr, t);
	t->q[1] = dns_query(t->m->res, name, DNS_TYPE_AAAA, (t->m->opt.timeout ? t->m->opt.timeout : 30) * 1000,
	    on_addr, t);
}

static int
cmp_mx(const void *a, const void *b)
{
	const struct mx_host *x = a, *y = b;
	return x->pref < y->pref ? -1 : x->pref > y->pref;
}

static void
on_mx(void *arg, const struct dns_answer *ans)
{
	struct mta_tx *t = arg;

	t->q[0] = NULL;
	/* RFC 7672 2.2.1: TLSA records count only under a secure MX RRset
	 * (or a secure denial of one, for the implicit MX) */
	t->mx_secure = ans->secure && (ans->status == DNS_OK || ans->status == DNS_NODATA);
	switch (ans->status) {
	case DNS_OK:
		for (size_t i = 0; i < ans->count && t->nhosts < MX_MAX; i++) {
			struct mx_host *h = &t->hosts[t->nhosts];
			if (ans->len[i] < 3)
				continue;
			h->pref = ((unsigned char)ans->data[i][0] << 8) | (unsigned char)ans->data[i][1];
			/* RFC 7505 null MX: "0 ." means no mail at all */
			if (ans->len[i] == 3 && ans->data[i][2] == 0) {
				fail_all(t, true, "556 5.1.10 %s does not accept mail (null MX)", t->domain);
				finish(t);
				return;
			}
			if (dns_name_from_wire(ans->data[i] + 2, (size_t)ans->len[i] - 2, h->name,
			    sizeof(h->name)) == 0)
				t->nhosts++;
		}
		if (t->nhosts == 0) {
			fail_all(t, false, "451 4.4.3 no usable MX for %s", t->domain);
			finish(t);
			return;
		}
		/* preference order, random among equals (RFC 5321 5.1) */
		for (size_t i = t->nhosts; i > 1; i--) {
			size_t j = (size_t)arc4random_uniform((uint32_t)i);
			struct mx_host tmp = t->hosts[i - 1];
			t->hosts[i - 1] = t->hosts[j];
			t->hosts[j] = tmp;
		}
		qsort(t->hosts, t->nhosts, sizeof(t->hosts[0]), cmp_mx);
		break;
	case DNS_NODATA:
		/* no MX: the domain itself (implicit MX, RFC 5321 5.1) */
		snprintf(t->hosts[0].name, sizeof(t->hosts[0].name), "%s", t->domain);
		t->nhosts = 1;
		break;
	case DNS_NXDOMAIN:
		fail_all(t, true, "550 5.1.2 domain %s does not exist", t->domain);
		finish(t);
		return;
	default:
		fail_all(t, false, "451 4.4.3 cannot resolve the MX of %s", t->domain);
		finish(t);
		return;
	}
	hosts_ready(t);
}

/* ---- interface ---- */

/*
 * OpenSSL hands over each session (a TLS 1.3 ticket comes after the
 * handshake): only the relayhost's, only from a connection whose
 * certificate verified for its name, is kept for resumption; the resumed
 * connection carries that verification (RFC 8446 2.2, the PSK binds the
 * original handshake). Returns 0: OpenSSL keeps its reference.
 */
static int
on_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct mta *m = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	char why[128];
	SSL_SESSION *copy;

	if (m == NULL || !m->has_relayhost || tls_client_verified(ssl, why, sizeof(why)) != 0)
		return 0;
	/* a copy: OpenSSL marks the connection's own session not
	 * resumable when the connection is freed without a close_notify
	 * (after QUIT, or a broken one), though its keys stay good */
	if ((copy = SSL_SESSION_dup(sess)) == NULL)
		return 0;
	SSL_SESSION_free(m->relay_session);
	m->relay_session = copy;
	return 0;
}

struct mta *
mta_new(struct event_base *base, struct resolver *res, const struct mta_options *opt)
{
	struct mta *m = xcalloc(1, sizeof(*m));

	m->base = base;
	m->res = res;
	m->opt = *opt;
	m->helo = xstrdup(opt->helo);
	m->opt.helo = m->helo;
	if (opt->relayhost) {
		m->relayhost = *opt->relayhost;
		m->has_relayhost = true;
	}
	m->opt.relayhost = NULL;
	if (opt->unix_path) {
		m->unix_path = xstrdup(opt->unix_path);
		m->opt.lmtp = true;
	}
	m->opt.unix_path = NULL;
	m->ntls_required = opt->ntls_required;
	m->tls_required = xcalloc(m->ntls_required + 1, sizeof(char *));
	for (size_t i = 0; i < m->ntls_required; i++)
		m->tls_required[i] = xstrdup(opt->tls_required[i]);
	m->opt.tls_required = NULL;
	if (opt->relayhost_user != NULL && opt->relayhost_password != NULL && !m->opt.lmtp) {
		m->relay_user = xstrdup(opt->relayhost_user);
		m->relay_pass = xstrdup(opt->relayhost_password);
	}
	m->opt.relayhost_user = m->opt.relayhost_password = NULL;
	/* RFC 8461: MTA-STS for MX delivery (a relayhost is no MX) */
	if (!m->opt.lmtp && !m->has_relayhost && opt->data_dir != NULL)
		m->sts = mtasts_new(base, res, opt->data_dir, opt->timeout);
	m->opt.data_dir = NULL;
	/* RFC 7672: with DNSSEC validation, TLSA records of MX hosts */
	m->dane = opt->dane && !m->opt.lmtp && !m->has_relayhost;
	if (m->has_relayhost && !m->opt.lmtp)
		m->cache = conncache_new(base, CACHE_IDLE_MS, CACHE_MAX);
	/* RFC 8314 3.3: port 465 is TLS from the start */
	m->relay_implicit = m->has_relayhost && m->relayhost.port == 465 && !m->opt.lmtp;
	m->ssl = SSL_CTX_new(TLS_client_method());
	if (m->ssl != NULL) {
		char *err = NULL;
		if (m->has_relayhost && !m->opt.lmtp) {
			SSL_CTX_set_app_data(m->ssl, m);
			SSL_CTX_set_session_cache_mode(m->ssl, SSL_SESS_CACHE_CLIENT |
			    SSL_SESS_CACHE_NO_INTERNAL_STORE);
			SSL_CTX_sess_set_new_cb(m->ssl, on_new_session);
		}
		/* Never below TLS 1.2. The handshake itself never fails on
		 * the certificate (SSL_VERIFY_NONE): the chain and name are
		 * checked all the same, and set_security decides whether a
		 * failure matters (opportunistic TLS, RFC 7435, does not). */
		SSL_CTX_set_min_proto_version(m->ssl, TLS1_2_VERSION);
		SSL_CTX_set_verify(m->ssl, SSL_VERIFY_NONE, NULL);
		if (m->dane && dane_ctx_enable(m->ssl) == -1) {
			log_event("error", "reason=\"OpenSSL refuses DANE: TLSA records are not used\"");
			m->dane = false;
		}
		if (!m->opt.lmtp && tls_client_trust(m->ssl, &err) == -1) {
			log_event("error", "reason=\"%s: certificates of remote servers cannot verify\"",
			    err);
			free(err);
		}
	}
	return m;
}

void
mta_free(struct mta *m)
{
	if (m == NULL)
		return;
	while (m->txs != NULL)
		tx_free(m->txs);
	mtasts_free(m->sts);
	conncache_free(m->cache);
	for (size_t i = 0; i < m->ntls_required; i++)
		free(m->tls_required[i]);
	free(m->tls_required);
	SSL_CTX_free(m->ssl);
	SSL_SESSION_free(m->relay_session);
	if (m->relay_pass != NULL)
		explicit_bzero(m->relay_pass, strlen(m->relay_pass));
	free(m->relay_pass);
	free(m->relay_user);
	free(m->helo);
	free(m->unix_path);
	free(m);
}

void
mta_send(struct mta *m, const char *id, const char *sender, const char *domain,
    const char *const *rcpts, const size_t *idx, size_t n, const char *data, size_t len,
    mta_rcpt_cb *each, mta_done_cb *cb, void *arg)
{
	struct mta_tx *t = xcalloc(1, sizeof(*t));

	t->m = m;
	snprintf(t->id, sizeof(t->id), "%s", id);
	t->sender = xstrdup(sender);
	t->domain = xstrdup(domain);
	t->n = n;
	t->rcpts = xcalloc(n, sizeof(char *));
	t->idx = xcalloc(n, sizeof(size_t));
	t->res = xcalloc(n, sizeof(*t->res));
	t->accepted = xcalloc(n, sizeof(bool));
	t->final = xcalloc(n, sizeof(bool));
	t->too_many = xcalloc(n, sizeof(bool));
	t->order = xcalloc(n, sizeof(size_t));
	for (size_t i = 0; i < n; i++) {
		t->rcpts[i] = xstrdup(rcpts[i]);
		t->idx[i] = idx[i];
		t->res[i].rcpt = idx[i];
	}
	t->data = xmalloc(len + 1);
	memcpy(t->data, data, len);
	t->len = len;
	t->cb = cb;
	t->each = each;
	t->arg = arg;
	t->timer = evtimer_new(m->base, on_timeout, t);
	t->next = m->txs;
	if (t->next)
		t->next->prev = t;
	m->txs = t;
	mta_enter(t, ST_RESOLVE);
	if (m->unix_path) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&t->addrs[0];
		memset(&t->addrs[0], 0, sizeof(t->addrs[0]));
		sun->sun_family = AF_UNIX;
		snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", m->unix_path);
		snprintf(t->hosts[0].name, sizeof(t->hosts[0].name), "localhost");
		t->nhosts = 1;
		t->host = 0;
		t->naddrs = 1;
		/* a failure to connect finishes from the loop (finish_later) */
		t->addr = (size_t)-1;
		next_address(t);
		return;
	}
	if (m->has_relayhost) {
		snprintf(t->hosts[0].name, sizeof(t->hosts[0].name), "%.*s",
		    (int)sizeof(t->hosts[0].name) - 1, m->relayhost.host);
		t->nhosts = 1;
		t->host = 0;
		if (reuse(t))
			return;
		/* connecting may fail at once: never call back from here */
		t->addr = (size_t)-1;
		resolve_host(t);
		return;
	}
	t->waiting = 1;
	if (m->sts != NULL) {
		t->waiting++;
		t->sts_req = mtasts_get(m->sts, domain, on_sts, t);
	}
	t->q[0] = dns_query(m->res, domain, DNS_TYPE_MX, (m->opt.timeout ? m->opt.timeout : 30) * 1000,
	    on_mx, t);
}

unsigned
mta_active(const struct mta *m, const char *domain)
{
	unsigned n = 0;

	for (const struct mta_tx *t = m->txs; t; t = t->next)
		if (domain == NULL || strcasecmp(t->domain, domain) == 0)
			n++;
	return n;
}
