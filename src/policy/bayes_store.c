/*
 * The classifier store's front: picks the backend (bayes_store.h), turns
 * a message's tokens into the hashes a backend keeps, and says what makes
 * two messages the same one (SPEC 13: the Message-ID, else a digest).
 */
#include "bayes_store.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/state_url.h"
#include "lib/xmalloc.h"
#include "scan/mime.h"

struct bayes_store {
	const struct bayes_backend *b;
	void *h;
};

char *
bayes_store_path(const char *data_dir)
{
	return xasprintf("%s/bayes.db", data_dir);
}

const struct bayes_backend *
bayes_store_backend(const struct config *cfg, char **where, char **secret)
{
	/* SPEC 10 and 13: the classifier's state lives with the other state,
	 * so with Redis every node learns together; never a local file
	 * beside it, which would split what the nodes learned */
	if (cfg->state_url.redis) {
		char url[STATE_URL_MAX + 16];
		state_url_format(&cfg->state_url, url, sizeof(url));
		*where = xstrdup(url);
		*secret = cfg->state_password && *cfg->state_password ?
		    xstrdup(cfg->state_password) : NULL;
		return &bayes_redis_backend;
	}
	*where = bayes_store_path(cfg->data_dir);
	*secret = NULL;
	return &bayes_sqlite_backend;
}

struct bayes_store *
bayes_store_open_at(const struct bayes_backend *b, const char *where, const char *secret,
    bool write, char **err)
{
	void *h = b->open(where, secret, write, err);
	struct bayes_store *st;

	if (h == NULL)
		return NULL;
	st = xcalloc(1, sizeof(*st));
	st->b = b;
	st->h = h;
	return st;
}

struct bayes_store *
bayes_store_open(const struct config *cfg, bool write, char **err)
{
	char *where, *secret;
	const struct bayes_backend *b = bayes_store_backend(cfg, &where, &secret);
	struct bayes_store *st = bayes_store_open_at(b, where, secret, write, err);

	free(where);
	free(secret);
	return st;
}

void
bayes_store_set_caps(struct bayes_store *st, size_t tokens_max, size_t messages_max)
{
	st->b->set_caps(st->h, tokens_max, messages_max);
}

int
bayes_store_serial(struct bayes_store *st, uint64_t *out, char **err)
{
	if (st->b->serial == NULL) {
		*err = xasprintf("the %s classifier store has no change counter", st->b->name);
		return -1;
	}
	return st->b->serial(st->h, out, err);
}

void
bayes_store_close(struct bayes_store *st)
{
	if (st == NULL)
		return;
	st->b->close(st->h);
	free(st);
}

int
bayes_store_begin(struct bayes_store *st, char **err)
{
	return st->b->begin(st->h, err);
}

int
bayes_store_learn(struct bayes_store *st, const char *id, const struct bayes_tokens *tok,
    enum bayes_kind kind, time_t now, enum bayes_learn_result *res, char **err)
{
	uint64_t *h = xmalloc((tok->n ? tok->n : 1) * sizeof(*h));
	int rc;

	for (size_t i = 0; i < tok->n; i++)
		h[i] = tok->t[i].hash;
	rc = st->b->learn(st->h, id, h, tok->n, kind, now, res, err);
	free(h);
	return rc;
}

int
bayes_store_commit(struct bayes_store *st, char **err)
{
	return st->b->commit(st->h, err);
}

struct bayes_table *
bayes_store_load(struct bayes_store *st, char **err)
{
	return st->b->load(st->h, err);
}

int
bayes_store_totals(struct bayes_store *st, uint32_t *nspam, uint32_t *nham, char **err)
{
	return st->b->lookup(st->h, NULL, 0, NULL, nspam, nham, err);
}

/* Feeds [p, p+len) to the digest without its CRs: the copy in a mailbox
 * may have LF line ends where the message had CRLF. */
static void
digest_nocr(EVP_MD_CTX *md, const char *p, size_t len)
{
	while (len > 0) {
		const char *cr = memchr(p, '\r', len);
		size_t n = cr ? (size_t)(cr - p) : len;
		EVP_DigestUpdate(md, p, n);
		if (cr == NULL)
			break;
		p += n + 1;
		len -= n + 1;
	}
}

static void
hex_digest(EVP_MD_CTX *md, const char *label, char *out, size_t outlen)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dl = 0;
	size_t o;

	EVP_DigestFinal_ex(md, d, &dl);
	o = (size_t)snprintf(out, outlen, "%s", label);
	for (unsigned i = 0; i < dl && o + 2 < outlen; i++, o += 2)
		snprintf(out + o, outlen - o, "%02x", d[i]);
}

void
bayes_message_id(const char *msg, size_t len, char *out, size_t outlen)
{
	static const char *const fields[] = { "From", "To", "Subject", "Date" };
	size_t hend = mime_header_end(msg, len), vl, n = 0;
	const char *v;
	char raw[1024];
	EVP_MD_CTX *md;

	if (mime_header_find(msg, hend, "Message-ID", &v, &vl)) {
		char id[BAYES_ID_MAX];
		size_t rl = mime_unfold(v, vl, raw, sizeof(raw));
		for (size_t i = 0; i < rl && n + 1 < sizeof(id); i++)
			if (raw[i] != ' ' && raw[i] != '\t')
				id[n++] = raw[i];
		id[n] = '\0';
		if (n > 0 && n + 1 < sizeof(id) && rl < sizeof(raw) - 1) {
			snprintf(out, outlen, "%s", id);
			return;
		}
		if (n > 0) {
			/* too long to keep: its digest stands for it */
			md = EVP_MD_CTX_new();
			if (md == NULL)
				abort();
			EVP_DigestInit_ex(md, EVP_sha256(), NULL);
			EVP_DigestUpdate(md, raw, rl);
			hex_digest(md, "mid-sha256:", out, outlen);
			EVP_MD_CTX_free(md);
			return;
		}
	}
	md = EVP_MD_CTX_new();
	if (md == NULL)
		abort();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		size_t rl = 0;
		if (mime_header_find(msg, hend, fields[i], &v, &vl))
			rl = mime_unfold(v, vl, raw, sizeof(raw));
		EVP_DigestUpdate(md, raw, rl);
		EVP_DigestUpdate(md, "\n", 1);
	}
	digest_nocr(md, msg + hend, len - hend);
	hex_digest(md, "sha256:", out, outlen);
	EVP_MD_CTX_free(md);
}
