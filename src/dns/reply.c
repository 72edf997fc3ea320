/*
 * DNS reply reading (RFC 1035 4.1). Names are expanded into a fixed
 * buffer of at most 255 octets and a compression pointer may be followed
 * only so many times, so a looping or over-long name is an error, never a
 * hang or an overrun. Record counts come from the header but every record
 * must fit in len, which bounds the work by the message's size.
 */
#include "reply.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"

#define NAME_WIRE_MAX 255	/* RFC 1035 2.3.4 */
#define JUMPS_MAX 128		/* a 255-octet name has at most 128 labels */
#define HEADER_LEN 12
#define TYPE_NS 2
#define TYPE_CNAME 5
#define TYPE_SOA 6
#define TYPE_PTR 12
#define TYPE_MX 15
#define TYPE_OPT 41
#define CLASS_IN 1

struct wire_name {
	size_t len;
	unsigned char o[NAME_WIRE_MAX];
};

static unsigned
get16(const unsigned char *p)
{
	return ((unsigned)p[0] << 8) | p[1];
}

static uint32_t
get32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Expands the name at off into n; *next: the offset after the name as
 * written there (after its first pointer, if any). */
static int
read_name(const unsigned char *p, size_t len, size_t off, struct wire_name *n, size_t *next)
{
	size_t jumps = 0;
	bool jumped = false;

	n->len = 0;
	for (;;) {
		unsigned lab;
		if (off >= len)
			return -1;
		lab = p[off];
		if ((lab & 0xC0) == 0xC0) {
			if (off + 1 >= len || ++jumps > JUMPS_MAX)
				return -1;
			if (!jumped) {
				*next = off + 2;
				jumped = true;
			}
			off = ((size_t)(lab & 0x3F) << 8) | p[off + 1];
			continue;
		}
		if (lab > 63)
			return -1;	/* the reserved label types */
		if (off + 1 + lab > len || n->len + 1 + lab > NAME_WIRE_MAX)
			return -1;
		memcpy(n->o + n->len, p + off, 1 + lab);
		n->len += 1 + lab;
		off += 1 + lab;
		if (lab == 0)
			break;
	}
	if (!jumped)
		*next = off;
	return 0;
}

/* Names compare without regard to ASCII case (RFC 4343); length octets
 * are below 64, which no case folding touches. */
static bool
name_eq(const struct wire_name *a, const struct wire_name *b)
{
	if (a->len != b->len)
		return false;
	for (size_t i = 0; i < a->len; i++) {
		unsigned char x = a->o[i], y = b->o[i];
		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

/* The records being kept: rdata octets in one growing store. */
struct keep {
	size_t count, cap, used, room;
	size_t *off;
	int *len;
	char *store;
};

static void
keep_put(struct keep *k, const void *octets, size_t n)
{
	if (k->store == NULL || k->used + n > k->room) {
		k->room = (k->used + n) * 2 + 16;
		k->store = xrealloc(k->store, k->room);
	}
	if (n > 0)
		memcpy(k->store + k->used, octets, n);
	k->used += n;
}

/* Appends the rdata at p[off..end) of a record of type type, its names
 * expanded. The names must fill the rdata exactly. */
static int
keep_rdata(struct keep *k, const unsigned char *p, size_t len, size_t off, size_t end, int type)
{
	size_t start = k->used, fixed = 0, names = 0, next;
	struct wire_name n;

	switch (type) {
	case TYPE_NS:
	case TYPE_CNAME:
	case TYPE_PTR:
		names = 1;
		break;
	case TYPE_MX:
		fixed = 2;	/* preference, then the exchange */
		names = 1;
		break;
	case TYPE_SOA:
		names = 2;	/* mname, rname, then five 32-bit fields */
		break;
	default:
		break;
	}
	if (k->count == k->cap) {
		k->cap = k->cap ? k->cap * 2 : 8;
		k->off = xrealloc(k->off, k->cap * sizeof(*k->off));
		k->len = xrealloc(k->len, k->cap * sizeof(*k->len));
	}
	if (names == 0) {
		keep_put(k, p + off, end - off);	/* also makes the store exist */
	} else {
		if (end - off < fixed)
			return -1;
		keep_put(k, p + off, fixed);
		off += fixed;
		for (size_t i = 0; i < names; i++) {
			/* a pointer may lead anywhere before, not its octets */
			if (read_name(p, len, off, &n, &next) != 0)
				return -1;
			if (next > end)
				return -1;
			keep_put(k, n.o, n.len);
			off = next;
		}
		if (type == TYPE_SOA) {
			if (end - off != 20)
				return -1;
			keep_put(k, p + off, 20);
			off += 20;
		}
		if (off != end)
			return -1;
	}
	k->off[k->count] = start;
	k->len[k->count] = (int)(k->used - start);
	k->count++;
	return 0;
}

/* The header fields of one record: the owner name, type, class, TTL and
 * where its rdata lies. */
struct rr {
	struct wire_name owner;
	unsigned type, class;
	uint32_t ttl;
	size_t rd, rdend;
};

static int
read_rr(const unsigned char *p, size_t len, size_t *off, struct rr *rr)
{
	size_t o;

	if (read_name(p, len, *off, &rr->owner, &o) != 0 || len - o < 10)
		return -1;
	rr->type = get16(p + o);
	rr->class = get16(p + o + 2);
	rr->ttl = get32(p + o + 4);
	if (rr->ttl > INT32_MAX)
		rr->ttl = 0;
	rr->rd = o + 10;
	if (get16(p + o + 8) > len - rr->rd)
		return -1;
	rr->rdend = rr->rd + get16(p + o + 8);
	*off = rr->rdend;
	return 0;
}

static void
lower_ttl(uint32_t *ttl, bool *seen, uint32_t t)
{
	if (!*seen || t < *ttl)
		*ttl = t;
	*seen = true;
}

int
dns_reply_parse(const char *buf, size_t len, int qtype, struct dns_reply *out)
{
	const unsigned char *p = (const unsigned char *)buf;
	struct keep k = { 0 };
	struct wire_name sname;
	struct rr rr;
	unsigned qd, an, ns;
	size_t off;
	uint32_t ttl_an = 0, ttl_neg = 0;
	bool seen_an = false, seen_neg = false, soa = false;

	memset(out, 0, sizeof(*out));
	if (len < HEADER_LEN || !(p[2] & 0x80))
		return -1;	/* too short, or no response */
	qd = get16(p + 4);
	an = get16(p + 6);
	ns = get16(p + 8);
	if (qd != 1)
		return -1;
	if (read_name(p, len, HEADER_LEN, &sname, &off) != 0 || len - off < 4 ||
	    get16(p + off) != (unsigned)qtype)
		return -1;
	off += 4;
	for (unsigned i = 0; i < an; i++) {
		if (read_rr(p, len, &off, &rr) != 0)
			goto bad;
		lower_ttl(&ttl_an, &seen_an, rr.ttl);
		lower_ttl(&ttl_neg, &seen_neg, rr.ttl);
		if (rr.class != CLASS_IN || !name_eq(&rr.owner, &sname))
			continue;
		if (rr.type == (unsigned)qtype) {
			if (keep_rdata(&k, p, len, rr.rd, rr.rdend, qtype) != 0)
				goto bad;
		} else if (rr.type == TYPE_CNAME && k.count == 0) {
			/* the chain goes on at the alias's target */
			size_t next;
			if (read_name(p, len, rr.rd, &sname, &next) != 0 || next != rr.rdend)
				goto bad;
		}
	}
	for (unsigned i = 0; i < ns; i++) {
		if (read_rr(p, len, &off, &rr) != 0)
			goto bad;
		if (rr.type != TYPE_OPT)
			lower_ttl(&ttl_neg, &seen_neg, rr.ttl);
		if (rr.type == TYPE_SOA)
			soa = true;
		/* RFC 2308 5: a negative answer lasts the smaller of the
		 * SOA's TTL and its MINIMUM, the rdata's last field */
		if (rr.type == TYPE_SOA && rr.rdend - rr.rd >= 22) {
			uint32_t minimum = get32(p + rr.rdend - 4);
			lower_ttl(&ttl_neg, &seen_neg, minimum > INT32_MAX ? 0 : minimum);
		}
	}
	out->rcode = p[3] & 0x0F;
	out->count = k.count;
	out->len = k.len;
	out->store = k.store;
	out->ttl = k.count > 0 ? ttl_an : ttl_neg;
	out->soa = soa;
	if (k.count > 0) {
		out->data = xmalloc(k.count * sizeof(*out->data));
		for (size_t i = 0; i < k.count; i++)
			out->data[i] = k.store + k.off[i];
	}
	free(k.off);
	return 0;
bad:
	free(k.off);
	free(k.len);
	free(k.store);
	return -1;
}

void
dns_reply_clear(struct dns_reply *r)
{
	if (r == NULL)
		return;
	free(r->data);
	free(r->len);
	free(r->store);
	memset(r, 0, sizeof(*r));
}
