/*
 * Tokens of a message for the content classifier (SPEC 13): words of the
 * decoded text parts (plain and HTML, the text between the tags), of a few
 * header fields, URL hosts, and the last external hop's network. Pure and
 * bounded: the scanner feeds what it already decoded; each token is kept
 * once per message, at most BAYES_TOKENS_MAX of them, so a huge or binary
 * message costs a bounded table (SpamAssassin's Bayes.pm counts each token
 * once per message too).
 */
#ifndef POSTERN_SCAN_BAYES_TOKEN_H
#define POSTERN_SCAN_BAYES_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Distinct tokens kept per message: far above a real message's (a 20 KiB
 * newsletter has about 1,500), so only padding is cut. */
#define BAYES_TOKENS_MAX 3000
/* A word longer than this is a "sk:" token of its first 7 characters:
 * SpamAssassin's MAX_TOKEN_LENGTH 15 and its Spambayes "skip" trick
 * (Bayes.pm, _tokenize_line). */
#define BAYES_WORD_MAX 15
/* A token's text, prefix included, is cut here (URL hosts are the long
 * ones): enough to show it, and the hash is of what is kept. */
#define BAYES_TOKEN_TEXT_MAX 64
/* Received fields remembered (a message with more gives no Received
 * tokens: the originating hops are out of reach). */
#define BAYES_RCVD_MAX 64

struct bayes_token {
	uint64_t hash;		/* bayes_hash() of the text */
	uint32_t off;		/* text in bayes_tokens.text */
	uint8_t len;
};

struct bayes_tokens {
	struct bayes_token *t;	/* in the order first seen */
	size_t n, cap;
	uint64_t *slot;		/* open addressing: the hashes (0 kept as 1), 0 empty */
	size_t nslot;		/* power of two, 2 * cap */
	char *text;		/* token texts, not NUL-terminated */
	size_t text_len, text_cap;	/* text_cap >= text_len + BAYES_TOKEN_TEXT_MAX */
	bool cut;		/* BAYES_TOKENS_MAX reached: tokens dropped */
	/* The Received fields bayes_tokens_header saw, newest first
	 * (values borrowed from the message, valid while it is scanned):
	 * bayes_tokens_scan keeps those below the last external hop. */
	const char *rcvd[BAYES_RCVD_MAX];
	size_t rcvd_len[BAYES_RCVD_MAX];
	size_t nrcvd;		/* may exceed BAYES_RCVD_MAX: then none used */
};

void bayes_tokens_init(struct bayes_tokens *t);
void bayes_tokens_clear(struct bayes_tokens *t);

/* 64-bit hash of a token's text (eight octets per step, little-endian,
 * MurmurHash3's final mix): the key of the token database, so it never
 * changes for a given text, whatever the host. */
uint64_t bayes_hash(const char *s, size_t len);

/* Adds prefix + word as one token (no splitting, text as given). Returns
 * false when the message's token cap was reached. */
bool bayes_tokens_add(struct bayes_tokens *t, const char *prefix, const char *word,
    size_t len);

/* Words of decoded text (UTF-8), lower-cased. */
void bayes_tokens_text(struct bayes_tokens *t, const char *buf, size_t len);
/* The same, each word after prefix. */
void bayes_tokens_words(struct bayes_tokens *t, const char *prefix, const char *buf, size_t len);

/* Words of decoded HTML: text between tags, character references as
 * separators, <style> and <script> contents and comments skipped; each
 * tag name once as "tag:NAME". */
void bayes_tokens_html(struct bayes_tokens *t, const char *buf, size_t len);

/*
 * One raw header field of the message's top header block (value may be
 * folded). Fields that a server or a mailbox adds on the way in, postern
 * first (Received, X-Spam-*, Authentication-Results, Delivered-To,
 * Return-Path, X-Postern-*), give no token, so the server's vote on the
 * message as received and `postern scan` or `postern learn` on the copy in
 * the mailbox are the same. Others give "hdr:NAME" (the field is there),
 * and a few give words of their value (Subject, From, To, Cc, Reply-To,
 * X-Mailer, User-Agent, Content-Type, Message-ID's domain).
 */
void bayes_tokens_header(struct bayes_tokens *t, const char *name, size_t namelen,
    const char *value, size_t valuelen);

/* A URL or e-mail host the scanner found: "url:HOST". */
void bayes_tokens_host(struct bayes_tokens *t, const char *host);

/* Text of token i (not NUL-terminated), its length in *len. */
const char *bayes_token_text(const struct bayes_tokens *t, size_t i, size_t *len);

#endif
