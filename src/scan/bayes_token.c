/*
 * The classifier's tokenizer. Words are what SpamAssassin's Bayes.pm
 * (_tokenize_line) found worth keeping, simplified to one pass: letters,
 * digits, UTF-8 and a few inner signs ($31,000,000, Hits!, f*ck), trimmed,
 * lower-cased, 3 to 15 octets; longer ones become "sk:" + 7 octets, long
 * runs of 3- and 4-octet UTF-8 characters (Chinese, Japanese) one token
 * per character. Invariant: the same bytes always give the same tokens.
 */
#include "bayes_token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xmalloc.h"
#include "scan/decode.h"
#include "scan/mime.h"

#define HEADER_RAW_MAX 2048	/* an unfolded header value looked at */
#define HEADER_DEC_MAX 4096	/* the same, RFC 2047 decoded */
#define HEADER_NAME_MAX 40	/* longer names are cut in "hdr:NAME" */

/* Character classes of the word splitter. */
enum { C_SEP = 0, C_WORD = 1, C_TRIM = 2, C_INNER = 3 };
static unsigned char cls[256];

static void
cls_init(void)
{
	if (cls['a'] != 0)
		return;
	for (int c = 0; c < 256; c++) {
		unsigned char k = C_SEP;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c >= 0x80)
			k = C_WORD;
		else if (c == '-' || c == '\'' || c == '.' || c == ',')
			k = C_TRIM;	/* kept inside a word, trimmed at its ends */
		else if (c == '$' || c == '!' || c == '@' || c == '*' || c == '_')
			k = C_INNER;	/* kept anywhere ("$100", "free!") */
		cls[c] = k;
	}
}

void
bayes_tokens_init(struct bayes_tokens *t)
{
	memset(t, 0, sizeof(*t));
	cls_init();
}

void
bayes_tokens_clear(struct bayes_tokens *t)
{
	free(t->t);
	free(t->slot);
	free(t->text);
	memset(t, 0, sizeof(*t));
}

uint64_t
bayes_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a 64 offset basis */

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;		/* FNV prime */
	}
	/* MurmurHash3's fmix64: FNV's low bits are weak, and the table
	 * slots are taken from them */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static void
grow(struct bayes_tokens *t)
{
	size_t cap = t->cap ? t->cap * 2 : 256;

	t->t = xrealloc(t->t, cap * sizeof(*t->t));
	t->cap = cap;
	free(t->slot);
	t->nslot = cap * 2;
	t->slot = xcalloc(t->nslot, sizeof(*t->slot));
	for (size_t i = 0; i < t->n; i++) {
		size_t j = t->t[i].hash & (t->nslot - 1);
		while (t->slot[j] != 0)
			j = (j + 1) & (t->nslot - 1);
		t->slot[j] = (uint32_t)i + 1;
	}
}

/* Adds the token prefix[0..pl) + word[0..wl), cut at BAYES_TOKEN_TEXT_MAX;
 * the hash is computed in place, the text copied only when new. */
static bool
add2(struct bayes_tokens *t, const char *prefix, size_t pl, const char *word, size_t wl)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t j;

	if (pl > BAYES_TOKEN_TEXT_MAX)
		pl = BAYES_TOKEN_TEXT_MAX;
	if (wl > BAYES_TOKEN_TEXT_MAX - pl)
		wl = BAYES_TOKEN_TEXT_MAX - pl;
	/* bayes_hash() of the concatenation, without making it */
	for (size_t i = 0; i < pl; i++) {
		h ^= (unsigned char)prefix[i];
		h *= 0x100000001b3ULL;
	}
	for (size_t i = 0; i < wl; i++) {
		h ^= (unsigned char)word[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	if (t->n == t->cap) {
		if (t->n >= BAYES_TOKENS_MAX) {
			t->cut = true;
			return false;
		}
		grow(t);
	}
	for (j = h & (t->nslot - 1); t->slot[j] != 0; j = (j + 1) & (t->nslot - 1))
		/* equal hashes are the same token: 64 bits, and the database
		 * knows tokens by hash alone anyway */
		if (t->t[t->slot[j] - 1].hash == h)
			return true;
	if (t->n >= BAYES_TOKENS_MAX) {
		t->cut = true;
		return false;
	}
	if (t->text_len + pl + wl > t->text_cap) {
		t->text_cap = t->text_cap ? t->text_cap * 2 : 4096;
		if (t->text_cap < t->text_len + pl + wl)
			t->text_cap = t->text_len + pl + wl;
		t->text = xrealloc(t->text, t->text_cap);
	}
	memcpy(t->text + t->text_len, prefix, pl);
	memcpy(t->text + t->text_len + pl, word, wl);
	t->t[t->n] = (struct bayes_token){ h, (uint32_t)t->text_len, (uint8_t)(pl + wl) };
	t->text_len += pl + wl;
	t->slot[j] = (uint32_t)++t->n;
	return true;
}

bool
bayes_tokens_add(struct bayes_tokens *t, const char *prefix, const char *word, size_t len)
{
	return add2(t, prefix ? prefix : "", prefix ? strlen(prefix) : 0, word, len);
}

const char *
bayes_token_text(const struct bayes_tokens *t, size_t i, size_t *len)
{
	*len = t->t[i].len;
	return t->text + t->t[i].off;
}

/* Octets of the UTF-8 sequence starting with lead byte c (1 if invalid). */
static size_t
u8len(unsigned char c)
{
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	if (c >= 0xe0)
		return c <= 0xef ? 3 : 1;
	if (c >= 0xc0)
		return 2;
	return 1;
}

/* A long word: runs of CJK-like characters one token each ("u8:"), else
 * "sk:" and its first 7 characters (SpamAssassin bugs 7135, 7141). */
static void
long_word(struct bayes_tokens *t, const char *prefix, const char *w, size_t len)
{
	char p2[24];
	size_t i = 0, n = 0, hi = 0;

	for (size_t k = 0; k < len; k++)
		hi += (unsigned char)w[k] >= 0x80;
	if (hi >= 6) {
		bool any = false;
		snprintf(p2, sizeof(p2), "%su8:", prefix);
		while (i < len) {
			size_t l = u8len((unsigned char)w[i]);
			if (i + l > len)
				break;
			if (l >= 3) {
				if (!bayes_tokens_add(t, p2, w + i, l))
					return;
				any = true;
			}
			i += l;
		}
		if (any)
			return;
		i = 0;
	}
	while (i < len && n < 7) {
		size_t l = u8len((unsigned char)w[i]);
		if (i + l > len)
			break;
		i += l;
		n++;
	}
	snprintf(p2, sizeof(p2), "%ssk:", prefix);
	bayes_tokens_add(t, p2, w, i);
}

/* One word of [w, w+len) (already split, case as in the text). */
static void
word(struct bayes_tokens *t, const char *prefix, size_t pl, const char *w, size_t len)
{
	char low[BAYES_WORD_MAX + 1], core[BAYES_WORD_MAX + 1];
	size_t cl = 0;
	const char *at;

	while (len > 0 && cls[(unsigned char)w[0]] == C_TRIM) {
		w++;
		len--;
	}
	while (len > 0 && cls[(unsigned char)w[len - 1]] == C_TRIM)
		len--;
	if (len < 3)
		return;
	/* an address: its domain and its local part, each its own clue */
	if ((at = memchr(w, '@', len)) != NULL && at > w && at < w + len - 1) {
		char p2[24], dom[BAYES_TOKEN_TEXT_MAX];
		size_t dl = (size_t)(w + len - at - 1), ll = (size_t)(at - w);
		if (dl > sizeof(dom))
			dl = sizeof(dom);
		for (size_t i = 0; i < dl; i++)
			dom[i] = (char)(at[1 + i] >= 'A' && at[1 + i] <= 'Z' ? at[1 + i] + 32 : at[1 + i]);
		snprintf(p2, sizeof(p2), "%s@", prefix);
		bayes_tokens_add(t, p2, dom, dl);
		if (ll <= BAYES_WORD_MAX) {
			for (size_t i = 0; i < ll; i++)
				low[i] = (char)(w[i] >= 'A' && w[i] <= 'Z' ? w[i] + 32 : w[i]);
			low[ll] = '@';
			bayes_tokens_add(t, prefix, low, ll + 1);
		}
		return;
	}
	if (len > BAYES_WORD_MAX) {
		long_word(t, prefix, w, len);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		char c = w[i];
		if (c >= 'A' && c <= 'Z')
			c += 32;
		low[i] = c;
		if (cls[(unsigned char)c] == C_WORD)
			core[cl++] = c;
	}
	add2(t, prefix, pl, low, len);
	/* "free!" also counts as "free" (Bayes.pm DECOMPOSE_BODY_TOKENS) */
	if (cl != len && cl >= 3)
		add2(t, prefix, pl, core, cl);
	/* and "FREE" as itself too: shouting is a clue of its own; a
	 * capital first letter only is not (Bayes.pm IGNORE_TITLE_CASE) */
	if (memcmp(low + 1, w + 1, len - 1) != 0)
		add2(t, prefix, pl, w, len);
}

/* Splits buf into words; separators are the C_SEP characters, and "..."
 * or "--" inside a word (a common formatting slip that would make
 * one-off tokens). */
static void
words(struct bayes_tokens *t, const char *prefix, const char *buf, size_t len)
{
	size_t i = 0, pl = strlen(prefix);

	while (i < len && !t->cut) {
		size_t start;
		while (i < len && cls[(unsigned char)buf[i]] == C_SEP)
			i++;
		start = i;
		while (i < len && cls[(unsigned char)buf[i]] != C_SEP) {
			if ((buf[i] == '.' || buf[i] == '-') && i + 1 < len && buf[i + 1] == buf[i] &&
			    i > start)
				break;
			i++;
		}
		if (i > start)
			word(t, prefix, pl, buf + start, i - start);
		while (i < len && (buf[i] == '.' || buf[i] == '-'))
			i++;
	}
}

void
bayes_tokens_text(struct bayes_tokens *t, const char *buf, size_t len)
{
	words(t, "", buf, len);
}

void
bayes_tokens_words(struct bayes_tokens *t, const char *prefix, const char *buf, size_t len)
{
	words(t, prefix, buf, len);
}

/* Case-insensitive: does [p, end) start with the NUL-terminated s? */
static bool
starts(const char *p, const char *end, const char *s)
{
	size_t n = strlen(s);

	return (size_t)(end - p) >= n && strncasecmp(p, s, n) == 0;
}

/* Position after the first case-insensitive s in [p, end), or end. */
static const char *
skip_past(const char *p, const char *end, const char *s)
{
	size_t n = strlen(s);

	for (; (size_t)(end - p) >= n; p++)
		if (strncasecmp(p, s, n) == 0)
			return p + n;
	return end;
}

/* Tags that end a line or a block: a word never runs across them, while
 * "V<b>i</b>agra" reads as one word, as a browser shows it. */
static bool
block_tag(const char *n, size_t l)
{
	static const char *const b[] = {
		"br", "p", "div", "td", "th", "tr", "li", "table", "hr", "h1", "h2", "h3", "h4",
		"h5", "h6", "ul", "ol", "title", "blockquote", "pre", "img", "center",
	};
	for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++)
		if (strlen(b[i]) == l && strncasecmp(b[i], n, l) == 0)
			return true;
	return false;
}

void
bayes_tokens_html(struct bayes_tokens *t, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	char *vis = xmalloc(len + 1), *dec;
	size_t o = 0, dl;

	while (p < end) {
		const char *name, *q;
		size_t nl;
		bool close;
		if (*p != '<') {
			vis[o++] = *p++;
			continue;
		}
		if (starts(p, end, "<!--")) {
			p = skip_past(p + 4, end, "-->");
			continue;
		}
		q = p + 1;
		close = q < end && *q == '/';
		if (close)
			q++;
		name = q;
		while (q < end && ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
		    (*q >= '0' && *q <= '9')))
			q++;
		nl = (size_t)(q - name);
		if (nl == 0 && !close && !(q < end && (*q == '!' || *q == '?'))) {
			vis[o++] = *p++;	/* "a < b": text */
			continue;
		}
		p = q < end ? memchr(q, '>', (size_t)(end - q)) : NULL;
		p = p ? p + 1 : end;
		if (nl > 0 && !close) {
			char low[16];
			size_t ll = nl < sizeof(low) ? nl : sizeof(low);
			for (size_t i = 0; i < ll; i++)
				low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
			bayes_tokens_add(t, "tag:", low, ll);
			if (nl == 5 && strncasecmp(name, "style", 5) == 0)
				p = skip_past(p, end, "</style");
			else if (nl == 6 && strncasecmp(name, "script", 6) == 0)
				p = skip_past(p, end, "</script");
		}
		if (block_tag(name, nl))
			vis[o++] = ' ';
	}
	/* references decoded after the tags are gone: "&lt;b&gt;" is text */
	dec = xmalloc(o * 2 + 16);
	dl = html_entities_decode(vis, o, dec, o * 2 + 16);
	for (size_t i = 0; i + 1 < dl; i++)
		if ((unsigned char)dec[i] == 0xc2 && (unsigned char)dec[i + 1] == 0xa0)
			dec[i] = dec[i + 1] = ' ';	/* &nbsp; */
	words(t, "", dec, dl);
	free(dec);
	free(vis);
}

/* A list of lower-case field names; a name ending in '-' is a prefix. */
struct names {
	const char *const *v;
	size_t n;
};

/* Is the lower-case name low[0..nl) in the list? */
static bool
listed(const struct names *l, const char *low, size_t nl)
{
	for (size_t i = 0; i < l->n; i++) {
		const char *e = l->v[i];
		size_t el;
		if (e[0] != low[0])
			continue;
		el = strlen(e);
		if (e[el - 1] == '-' ? nl >= el && memcmp(low, e, el) == 0 :
		    nl == el && memcmp(low, e, el) == 0)
			return true;
	}
	return false;
}

/* Header fields added on the way in (by postern, by a delivery agent, by
 * a mailbox): no token, so the message as received and the stored copy
 * give the same ones. */
static const char *const ignored_v[] = {
	"received", "x-spam-", "x-postern-", "authentication-results",
	"arc-authentication-results", "arc-seal", "arc-message-signature",
	"received-spf", "delivered-to", "return-path", "x-original-to", "envelope-to",
	"x-envelope-to", "delivery-date", "x-delivery-date", "date", "status", "x-status",
	"x-keywords", "x-uid", "x-uidl", "x-imapbase", "x-flags", "content-length", "lines",
	"x-sieve", "x-sieve-", "x-virus-", "x-bogosity", "x-dspam-", "x-rspamd-",
	"x-mailscanner", "x-mailscanner-", "x-spamd-", "x-amavis-",
};
static const struct names ignored = { ignored_v, sizeof(ignored_v) / sizeof(ignored_v[0]) };

/* Fields whose value is a one-off string: only their presence counts
 * (Bayes.pm MARK_PRESENCE_ONLY_HDRS). */
static const char *const presence_v[] = {
	"dkim-signature", "domainkey-signature", "x-google-dkim-signature", "arc-",
	"autocrypt", "x-face", "references", "in-reply-to", "thread-index", "x-gm-",
	"x-google-", "x-ms-exchange-", "x-microsoft-", "x-forefront-", "openpgp",
	/* mailing lists: a list that spam also goes through would make its
	 * spam look like ham (Bayes.pm IGNORED_HDRS) */
	"list-", "x-list", "x-list-", "mailing-list", "x-mailing-list", "x-mailman-version",
	"x-beenthere", "x-loop", "mail-followup-to", "x-egroups-", "resent-", "original-",
	"x-original-", "sender", "x-sender", "errors-to", "precedence",
};
static const struct names presence_only = { presence_v, sizeof(presence_v) / sizeof(presence_v[0]) };

static bool
named(const char *low, size_t nl, const char *s)
{
	return nl == strlen(s) && memcmp(low, s, nl) == 0;
}

void
bayes_tokens_header(struct bayes_tokens *t, const char *name, size_t namelen,
    const char *value, size_t valuelen)
{
	char raw[HEADER_RAW_MAX], dec[HEADER_DEC_MAX], low[HEADER_NAME_MAX], pfx[32];
	const char *prefix = NULL;
	size_t rl, dl, ll = namelen < sizeof(low) ? namelen : sizeof(low);

	if (namelen == 0)
		return;
	for (size_t i = 0; i < ll; i++) {
		char c = name[i];
		low[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	/* a name longer than low is none of the listed ones but may start
	 * with a listed prefix */
	if (listed(&ignored, low, ll))
		return;
	bayes_tokens_add(t, "hdr:", low, ll);
	if (named(low, ll, "subject"))
		prefix = "subject:";
	else if (named(low, ll, "from") || named(low, ll, "sender"))
		prefix = "from:";
	else if (named(low, ll, "reply-to"))
		prefix = "reply-to:";
	else if (named(low, ll, "to") || named(low, ll, "cc"))
		prefix = "to:";
	else if (named(low, ll, "x-mailer") || named(low, ll, "user-agent"))
		prefix = "mailer:";
	else if (named(low, ll, "content-type")) {
		char cs[64];
		size_t i = 0;
		rl = mime_unfold(value, valuelen, raw, sizeof(raw));
		while (i < rl && raw[i] != ';' && raw[i] != ' ')
			i++;
		for (size_t k = 0; k < i; k++)
			raw[k] = (char)(raw[k] >= 'A' && raw[k] <= 'Z' ? raw[k] + 32 : raw[k]);
		bayes_tokens_add(t, "type:", raw, i);
		if (mime_param(raw, rl, "charset", cs, sizeof(cs))) {
			for (char *c = cs; *c; c++)
				*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
			bayes_tokens_add(t, "charset:", cs, strlen(cs));
		}
		return;
	} else if (named(low, ll, "message-id")) {
		/* the domain part: spamware makes its own up */
		const char *at, *gt;
		rl = mime_unfold(value, valuelen, raw, sizeof(raw));
		at = memchr(raw, '@', rl);
		if (at != NULL) {
			gt = memchr(at, '>', (size_t)(raw + rl - at));
			dl = (size_t)((gt ? gt : raw + rl) - at - 1);
			for (size_t k = 0; k < dl; k++)
				dec[k] = (char)(at[1 + k] >= 'A' && at[1 + k] <= 'Z' ? at[1 + k] + 32 : at[1 + k]);
			bayes_tokens_add(t, "msgid@", dec, dl);
		}
		return;
	}
	if (prefix == NULL) {
		/* other fields: the words of their value under their name, as
		 * Bayes.pm does (spamware's own fields are clues), except
		 * those that are one-off strings (signatures, message ids) */
		if (listed(&presence_only, low, ll))
			return;
		snprintf(pfx, sizeof(pfx), "%.*s:", (int)(ll < 24 ? ll : 24), low);
		prefix = pfx;
	}
	rl = mime_unfold(value, valuelen, raw, sizeof(raw));
	dl = rfc2047_decode(raw, rl, dec, sizeof(dec));
	words(t, prefix, dec, dl);
	/* a reader sees the Subject as the first line of the text, and
	 * Bayes.pm tokenizes it so */
	if (strcmp(prefix, "subject:") == 0)
		words(t, "", dec, dl);
}

void
bayes_tokens_host(struct bayes_tokens *t, const char *host)
{
	bayes_tokens_add(t, "url:", host, strlen(host));
}
