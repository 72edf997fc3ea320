/*
 * Damaged queue files: what can be trusted in one (spool_examine), moving
 * it aside unaltered (queue/corrupt/), recovery at start, the list of the
 * quarantined files and salvage. Nothing under queue/ is deleted here:
 * it was acknowledged (spool.h); only partial files under queue/tmp/,
 * cut before their 250, are.
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/durable.h"
#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "queue/spool_internal.h"

/* queue/corrupt/ID, then ID.1 ... when the same id is set aside again */
#define SPOOL_CORRUPT_DUPS 100

/* The trailer's fields when its form is right, whatever the hash says. */
static bool
trailer_fields(const char *buf, size_t len, uint64_t *size, size_t *metalen)
{
	const char *t;
	uint64_t v = 0;
	unsigned ml = 0;

	if (len < SPOOL_TRAILER_LEN)
		return false;
	t = buf + len - SPOOL_TRAILER_LEN;
	if (memcmp(t, "\nPOSTERN-END ", 13) != 0 || t[33] != ' ' || t[50] != ' ' ||
	    t[SPOOL_TRAILER_LEN - 1] != '\n')
		return false;
	for (int i = 13; i < 33; i++) {
		if (t[i] < '0' || t[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(t[i] - '0');
	}
	for (int i = 51; i < 61; i++) {
		if (t[i] < '0' || t[i] > '9')
			return false;
		ml = ml * 10 + (unsigned)(t[i] - '0');
	}
	*size = v;
	*metalen = ml;
	return true;
}

/* Offset of the last SPOOL_META_MARK line in buf[from..len), or len. */
static size_t
find_meta_mark(const char *buf, size_t from, size_t len)
{
	size_t found = len, ml = strlen(SPOOL_META_MARK);
	const char *p = buf + from;

	while (p < buf + len) {
		const char *m = memmem(p, (size_t)(buf + len - p), SPOOL_META_MARK, ml);
		if (m == NULL)
			break;
		if (m == buf + from || m[-1] == '\n')
			found = (size_t)(m - buf);
		p = m + 1;
	}
	return found;
}

/* The block sums of the meta section meta[0..len) into sums (n of them
 * expected). Returns false when absent or not exactly n. */
static bool
parse_sums(const char *meta, size_t len, uint32_t *sums, size_t n)
{
	const char *p = meta, *end = meta + len;
	size_t got = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if (le - p >= 6 && memcmp(p, "sums 1", 6) == 0) {
			const char *q = p + 6;
			while (q < le) {
				uint32_t v = 0;
				if (le - q < 9 || *q != ' ' || got == n)
					return false;
				for (int i = 1; i <= 8; i++) {
					char c = q[i];
					unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') :
					    c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16;
					if (d == 16)
						return false;
					v = v << 4 | d;
				}
				sums[got++] = v;
				q += 9;
			}
			return got == n;
		}
		p = le + (nl ? 1 : 0);
	}
	return false;
}

int
spool_examine(const char *buf, size_t len, struct spool_damage *d, struct spool_envelope *env)
{
	struct spool_envelope tmp;
	struct spool_envelope *e = env ? env : &tmp;
	size_t mlen = strlen(SPOOL_MAGIC), metalen = 0, pos, sum_at, msg_end, meta_end, good;
	uint64_t tsize = 0;
	ssize_t body;
	bool tform, verified = false;
	uint32_t *sums = NULL;

	memset(d, 0, sizeof(*d));
	memset(e, 0, sizeof(*e));
	if (len == 0) {
		d->reason = "empty file";
		d->why = "the file is empty";
		return 1;
	}
	if (len < mlen || memcmp(buf, SPOOL_MAGIC, mlen) != 0) {
		d->reason = "not a queue file (no POSTERN-QUEUE header)";
		d->why = "there is no queue envelope in it: it was overwritten or is not a queue file";
		return 1;
	}
	body = spool_check_trailer(buf, len, &metalen);
	tform = trailer_fields(buf, len, &tsize, &metalen);
	if (body >= 0)
		d->reason = "unreadable envelope";
	else if (tform && tsize == len - SPOOL_TRAILER_LEN)
		d->reason = "checksum mismatch";
	else
		d->reason = "truncated or damaged at its end (no valid trailer)";

	pos = spool_parse_envelope(buf, body >= 0 ? (size_t)body : len, e, &sum_at);
	if (pos == 0) {
		d->why = "the envelope is cut short or unreadable: its recipients are unknown";
		return 1;
	}
	if (sum_at == 0 && body < 0) {
		d->why = "the envelope has no checksum (written by an older postern): its recipients cannot be trusted";
		goto nothing;
	}
	if (sum_at != 0) {
		/* "sum " 16 hex digits "\n", then the blank line */
		const char *h = buf + sum_at + 4;
		uint64_t want = 0;
		bool ok = sum_at + 4 + 16 + 1 + 1 == pos;
		for (int i = 0; ok && i < 16; i++) {
			char c = h[i];
			unsigned dv = c >= '0' && c <= '9' ? (unsigned)(c - '0') :
			    c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16;
			ok = dv < 16;
			want = want << 4 | dv;
		}
		if (!ok || spool_fnv1a(SPOOL_FNV_OFFSET, buf, sum_at) != want) {
			d->why = "the envelope is damaged (its checksum does not match): its recipients cannot be trusted";
			goto nothing;
		}
	}
	d->env_len = pos;

	/* where the message ends: the trailer says, when it can be read;
	 * else the meta section's mark; else the end of the file */
	if (body >= 0 && metalen <= (size_t)body - pos) {
		msg_end = (size_t)body - metalen;
		meta_end = (size_t)body;
	} else if (tform && tsize == len - SPOOL_TRAILER_LEN && metalen <= tsize - pos &&
	    tsize - metalen + strlen(SPOOL_META_MARK) <= tsize &&
	    memcmp(buf + tsize - metalen, SPOOL_META_MARK, strlen(SPOOL_META_MARK)) == 0) {
		msg_end = (size_t)(tsize - metalen);
		meta_end = (size_t)tsize;
	} else {
		msg_end = find_meta_mark(buf, pos, len);
		meta_end = len;
	}
	d->msg_len = msg_end - pos;
	good = d->msg_len;

	if (d->msg_len > 0 && spool_block_count(d->msg_len) <= (meta_end - msg_end) / 9 + 1) {
		size_t n = spool_block_count(d->msg_len);
		sums = xmalloc(n * sizeof(*sums));
		if (parse_sums(buf + msg_end, meta_end - msg_end, sums, n)) {
			verified = true;
			for (size_t k = 0; k < n; k++) {
				size_t s = (size_t)spool_block_start(k);
				size_t en = k + 1 < n ? (size_t)spool_block_start(k + 1) : d->msg_len;
				if (spool_fnv1a32(SPOOL_FNV32_OFFSET, buf + pos + s, en - s) != sums[k]) {
					good = s;
					break;
				}
			}
		}
		free(sums);
	}
	if (!verified && body >= 0)
		verified = true;	/* the whole file's hash matches */
	if (!verified) {
		const char *z;
		if (tform && tsize == len - SPOOL_TRAILER_LEN) {
			/* every octet is there but one is wrong, somewhere */
			d->why = "the checksum does not match and the block checksums are unreadable: where the damage is cannot be told";
			goto nothing;
		}
		/* cut short: what is there is as written, up to zeroed blocks */
		if ((z = memchr(buf + pos, '\0', good)) != NULL)
			good = (size_t)(z - (buf + pos));
	}
	while (good > 0 && buf[pos + good - 1] != '\n')
		good--;
	d->good_len = good;
	d->verified = verified;
	if (good == 0) {
		d->why = d->msg_len == 0 ? "the message is empty" :
		    "no complete line of the message comes before the damage";
		goto nothing;
	}
	if (env == NULL)
		spool_envelope_clear(&tmp);
	return 0;
nothing:
	spool_envelope_clear(e);
	return 1;
}

/* Moves from to to, failing with EEXIST rather than replacing. */
static int
move_noreplace(const char *from, const char *to)
{
	struct stat st;

	if (link(from, to) == 0)
		return unlink(from) == -1 && errno != ENOENT ? -1 : 0;
	if (errno == EEXIST || errno == ENOENT)
		return -1;
	/* no hard links on this file system */
	if (lstat(to, &st) == 0) {
		errno = EEXIST;
		return -1;
	}
	return rename(from, to);
}

/* Moves queue/<file> to queue/corrupt/<id>[.N]<suffix>, never over
 * another file; that name goes to dest. Returns 0 or -1/errno. */
static int
set_aside(const char *data_dir, const char *file, const char *id, const char *suffix, char *dest,
    size_t destlen)
{
	char dir[PATH_MAX], from[PATH_MAX], to[PATH_MAX + 64];

	snprintf(dir, sizeof(dir), "%s/queue/corrupt", data_dir);
	if (durable_mkdirs(dir, 0700) == -1)
		return -1;
	snprintf(from, sizeof(from), "%s/queue/%s", data_dir, file);
	for (int i = 0; i < SPOOL_CORRUPT_DUPS; i++) {
		if (i == 0)
			snprintf(dest, destlen, "%s%s", id, suffix);
		else
			snprintf(dest, destlen, "%s.%d%s", id, i, suffix);
		snprintf(to, sizeof(to), "%s/%s", dir, dest);
		if (move_noreplace(from, to) == 0)
			return durable_sync_dir(dir);
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

/* Quarantines queue/id and its sidecar under the same name. */
static int
quarantine(const char *data_dir, const char *id, char *dest, size_t destlen)
{
	char from[PATH_MAX], to[PATH_MAX + 64];
	struct stat st;

	if (set_aside(data_dir, id, id, "", dest, destlen) == -1)
		return -1;
	snprintf(from, sizeof(from), "%s/queue/%s.state", data_dir, id);
	snprintf(to, sizeof(to), "%s/queue/corrupt/%s.state", data_dir, dest);
	if (stat(from, &st) == 0 && move_noreplace(from, to) == -1)
		log_event("warning", "id=%s reason=\"cannot move %s.state next to the quarantined file: %s\"",
		    id, id, strerror(errno));
	snprintf(from, sizeof(from), "%s/queue", data_dir);
	durable_sync_dir(from);
	snprintf(from, sizeof(from), "%s/queue/corrupt", data_dir);
	return durable_sync_dir(from);
}

/* queue/tmp/ at start: see spool_recover. */
static int
recover_tmp(const char *data_dir)
{
	char path[PATH_MAX], final[PATH_MAX];
	DIR *d;
	struct dirent *de;
	int moved = 0, dropped = 0;

	snprintf(path, sizeof(path), "%s/queue/tmp", data_dir);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		struct spool_msg msg;
		struct stat st;
		size_t len;
		char *raw;
		bool whole = false;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/queue/tmp/%s", data_dir, de->d_name);
		snprintf(final, sizeof(final), "%s/queue/%s", data_dir, de->d_name);
		if (spool_id_valid(de->d_name, strlen(de->d_name)) &&
		    (raw = spool_read_file(path, &len)) != NULL) {
			if (spool_parse(raw, len, &msg) == 0) {
				whole = strcmp(msg.env.id, de->d_name) == 0 && stat(final, &st) == -1;
				spool_msg_clear(&msg);
			}
			free(raw);
		}
		/* Complete: its sync may have completed and its client got a
		 * 250 before the rename into queue/ was lost; delivering it
		 * risks a duplicate, dropping it a loss. Partial: cut by a
		 * crash before its sync, so its client got no 250. */
		if (whole && rename(path, final) == 0)
			moved++;
		else if (unlink(path) == 0)
			dropped++;
	}
	closedir(d);
	if (moved > 0) {
		snprintf(path, sizeof(path), "%s/queue", data_dir);
		durable_sync_dir(path);
		log_event("warning", "reason=\"%d complete message(s) found in queue/tmp/ after a crash: queued (their clients may have got no 250 and may send again)\"",
		    moved);
	}
	if (dropped > 0)
		log_event("warning", "reason=\"removed %d partial queue file(s) from queue/tmp/: cut by a crash before their 250, never acknowledged\"",
		    dropped);
	return 0;
}

/* A .state that does not parse: set aside (or, if it cannot be, replaced
 * by one where every recipient of env is pending), and logged. */
static void
state_damaged(const char *data_dir, const char *id, const struct spool_envelope *env)
{
	char file[SPOOL_ID_LEN + 8], dest[PATH_MAX];

	snprintf(file, sizeof(file), "%s.state", id);
	if (set_aside(data_dir, file, id, ".state-damaged", dest, sizeof(dest)) == 0) {
		log_event("error", "id=%s reason=\"queue state file damaged: every recipient is pending again (some may get a second copy)\" file=queue/corrupt/%s",
		    id, dest);
		return;
	}
	log_event("error", "id=%s reason=\"queue state file damaged and cannot be moved to queue/corrupt/ (%s): replaced, every recipient is pending again (some may get a second copy)\"",
	    id, strerror(errno));
	if (spool_save_state(data_dir, env, false, false) == -1)
		log_event("error", "id=%s reason=\"cannot rewrite the state file: %s\"", id,
		    strerror(errno));
}

int
spool_recover(const char *data_dir, void (*fn)(const char *id, void *arg), void *arg)
{
	char path[PATH_MAX], dest[PATH_MAX];
	char **ids;
	size_t n;
	int valid = 0;

	if (recover_tmp(data_dir) == -1)
		return -1;
	/* Everything under queue/ was acknowledged (spool_commit runs
	 * after the sync): one that does not load is damage, and the mail
	 * in it is kept for the administrator, never deleted. */
	ids = spool_list(data_dir, &n);
	for (size_t i = 0; i < n; i++) {
		struct spool_msg msg;
		struct spool_damage dmg;
		const char *reason;
		size_t len, slen;
		char *raw, *sraw;
		int rc;

		snprintf(path, sizeof(path), "%s/queue/%s", data_dir, ids[i]);
		if ((raw = spool_read_file(path, &len)) == NULL) {
			log_event("error", "id=%s reason=\"cannot read queue file: %s\"", ids[i],
			    strerror(errno));
			continue;
		}
		rc = spool_parse(raw, len, &msg);
		reason = NULL;
		if (rc == 0 && strcmp(msg.env.id, ids[i]) != 0) {
			spool_msg_clear(&msg);
			rc = 1;
			reason = "its envelope names another queue id";
		}
		if (rc != 0) {
			int salvage = spool_examine(raw, len, &dmg, NULL);
			if (reason == NULL)
				reason = dmg.reason;
			free(raw);
			if (quarantine(data_dir, ids[i], dest, sizeof(dest)) == -1) {
				log_event("error", "id=%s reason=\"queue file damaged (%s) and cannot be moved to queue/corrupt/: %s; left in place\"",
				    ids[i], reason, strerror(errno));
				log_event("alert", "kind=queue_corrupt id=%s reason=\"queue file damaged (%s), left in place\"",
				    ids[i], reason);
				continue;
			}
			log_event("error", "id=%s reason=\"queue file damaged: %s\" file=queue/corrupt/%s salvage=%s",
			    ids[i], reason, dest, salvage == 0 ? "possible" : "none");
			log_event("alert", "kind=queue_corrupt id=%s file=queue/corrupt/%s reason=\"queue file damaged (%s): moved to queue/corrupt/, see postern queue list and postern queue salvage %s\"",
			    ids[i], dest, reason, ids[i]);
			continue;
		}
		/* a damaged .state loses no mail: every recipient is pending
		 * again, and a second copy is the worst that follows */
		snprintf(path, sizeof(path), "%s/queue/%s.state", data_dir, ids[i]);
		if ((sraw = spool_read_file(path, &slen)) != NULL) {
			bool held, warned;
			if (spool_state_parse(sraw, slen, &msg.env, &held, &warned) != 0)
				state_damaged(data_dir, ids[i], &msg.env);
			free(sraw);
		}
		spool_msg_clear(&msg);
		free(raw);
		valid++;
		fn(ids[i], arg);
	}
	spool_list_free(ids, n);
	return valid;
}

/* "ID" or "ID.N": the name of a quarantined queue file. */
static bool
corrupt_name(const char *name)
{
	size_t l = strlen(name);

	if (l < SPOOL_ID_LEN || !spool_id_valid(name, SPOOL_ID_LEN))
		return false;
	if (l == SPOOL_ID_LEN)
		return true;
	if (name[SPOOL_ID_LEN] != '.' || l == SPOOL_ID_LEN + 1 || l > SPOOL_ID_LEN + 3)
		return false;
	for (size_t i = SPOOL_ID_LEN + 1; i < l; i++)
		if (name[i] < '0' || name[i] > '9')
			return false;
	return true;
}

static int
cmp_corrupt(const void *a, const void *b)
{
	return strcmp(((const struct spool_corrupt *)a)->name, ((const struct spool_corrupt *)b)->name);
}

struct spool_corrupt *
spool_list_corrupt(const char *data_dir, size_t *n)
{
	char path[PATH_MAX];
	struct spool_corrupt *list = NULL;
	struct dirent *de;
	DIR *d;

	*n = 0;
	snprintf(path, sizeof(path), "%s/queue/corrupt", data_dir);
	if ((d = opendir(path)) == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		struct spool_corrupt *c;
		size_t len;
		char *raw;

		if (!corrupt_name(de->d_name))
			continue;
		list = xrealloc(list, (*n + 1) * sizeof(*list));
		c = &list[(*n)++];
		memset(c, 0, sizeof(*c));
		memcpy(c->id, de->d_name, SPOOL_ID_LEN);
		snprintf(c->name, sizeof(c->name), "%s", de->d_name);
		snprintf(path, sizeof(path), "%s/queue/corrupt/%s", data_dir, de->d_name);
		if ((raw = spool_read_file(path, &len)) != NULL) {
			c->size = (long long)len;
			c->salvageable = spool_examine(raw, len, &c->damage, NULL) == 0;
			free(raw);
		} else {
			c->damage.reason = "unreadable";
			c->damage.why = "the file cannot be read";
		}
		snprintf(path, sizeof(path), "%s/queue/corrupt/%s.salvaged", data_dir, de->d_name);
		if ((raw = spool_read_file(path, &len)) != NULL) {
			if (len >= SPOOL_ID_LEN && spool_id_valid(raw, SPOOL_ID_LEN))
				memcpy(c->salvaged, raw, SPOOL_ID_LEN);
			free(raw);
		}
	}
	closedir(d);
	if (*n > 1)
		qsort(list, *n, sizeof(*list), cmp_corrupt);
	return list;
}

/* Run as root against a server that dropped privileges (`user =`), a
 * new queue file must stay readable by that user: it takes the owner of
 * queue/. */
static void
give_to_queue_owner(const char *data_dir, const char *path)
{
	char dir[PATH_MAX];
	struct stat st;

	if (geteuid() != 0)
		return;
	snprintf(dir, sizeof(dir), "%s/queue", data_dir);
	if (stat(dir, &st) == 0 && st.st_uid != 0)
		(void)!chown(path, st.st_uid, st.st_gid);
}

/* The new envelope: the old one's sender and pending recipients. */
static void
salvage_envelope(const struct spool_envelope *old, struct spool_envelope *env)
{
	env->time = time(NULL);
	env->from = xstrdup(old->from);
	env->client = xstrdup(old->client ? old->client : "");
	env->helo = xstrdup(old->helo ? old->helo : "");
	env->user = old->user ? xstrdup(old->user) : NULL;
	env->rcpts = xcalloc(old->nrcpts ? old->nrcpts : 1, sizeof(*env->rcpts));
	for (size_t i = 0; i < old->nrcpts; i++) {
		struct spool_rcpt *r;
		if (old->rcpts[i].status != RCPT_PENDING)
			continue;
		r = &env->rcpts[env->nrcpts++];
		r->addr = xstrdup(old->rcpts[i].addr);
		r->mailbox = xstrdup(old->rcpts[i].mailbox);
	}
}

int
spool_salvage(const char *data_dir, const char *id, struct spool_salvage_result *res)
{
	char path[PATH_MAX], other[PATH_MAX + 16], hdr[512];
	struct spool_damage d;
	struct spool_envelope old;
	struct spool_writer *w = NULL;
	struct stat st;
	size_t len, slen;
	char *raw, *sraw;
	int n;

	memset(res, 0, sizeof(*res));
	if (!spool_id_valid(id, strlen(id))) {
		snprintf(res->why, sizeof(res->why), "not a queue ID");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/queue/corrupt/%s", data_dir, id);
	/* once only: a second run would deliver a second copy */
	snprintf(other, sizeof(other), "%s.salvaged", path);
	if ((raw = spool_read_file(other, &len)) != NULL) {
		bool done = len >= SPOOL_ID_LEN && spool_id_valid(raw, SPOOL_ID_LEN);
		if (done) {
			memcpy(res->new_id, raw, SPOOL_ID_LEN);
			res->already = true;
		}
		free(raw);
		if (done)
			return 0;
	}
	if ((raw = spool_read_file(path, &len)) == NULL) {
		int saved = errno;
		if (saved != ENOENT) {
			snprintf(res->why, sizeof(res->why), "cannot read queue/corrupt/%s: %s", id,
			    strerror(saved));
			return -1;
		}
		snprintf(other, sizeof(other), "%s/queue/%s", data_dir, id);
		if (stat(other, &st) == 0)
			snprintf(res->why, sizeof(res->why), "%s is in the queue, not quarantined (a damaged queue file is moved to queue/corrupt/ when the server starts)",
			    id);
		else
			snprintf(res->why, sizeof(res->why), "no quarantined message %s (postern queue list shows them)",
			    id);
		return 1;
	}
	if (spool_examine(raw, len, &d, &old) != 0) {
		snprintf(res->why, sizeof(res->why), "nothing can be recovered from %s (%s): %s", id,
		    d.reason, d.why);
		free(raw);
		return 1;
	}
	/* recipients served before the damage, when its state says so */
	snprintf(other, sizeof(other), "%s.state", path);
	if ((sraw = spool_read_file(other, &slen)) != NULL) {
		bool held, warned;
		(void)spool_state_parse(sraw, slen, &old, &held, &warned);
		free(sraw);
	}
	salvage_envelope(&old, &res->env);
	spool_envelope_clear(&old);
	if (res->env.nrcpts == 0) {
		snprintf(res->why, sizeof(res->why), "every recipient of %s was delivered or bounced before the damage: nothing to re-queue",
		    id);
		goto fail;
	}
	for (int tries = 0; tries < 8; tries++) {
		spool_new_id(res->env.id);
		if ((w = spool_create(data_dir, &res->env)) != NULL || errno != EEXIST)
			break;
	}
	if (w == NULL) {
		snprintf(res->why, sizeof(res->why), "cannot create a queue file: %s", strerror(errno));
		goto error;
	}
	if (d.good_len == d.msg_len)
		n = snprintf(hdr, sizeof(hdr), "X-Postern-Salvaged: from damaged queue file %s (%s);\r\n"
		    "\tmessage complete, %zu octets\r\n", id, d.reason, d.msg_len);
	else if (d.verified)
		n = snprintf(hdr, sizeof(hdr), "X-Postern-Salvaged: from damaged queue file %s (%s);\r\n"
		    "\tmessage cut at octet %zu of %zu, before the damage\r\n", id, d.reason, d.good_len,
		    d.msg_len);
	else
		n = snprintf(hdr, sizeof(hdr), "X-Postern-Salvaged: from damaged queue file %s (%s);\r\n"
		    "\tmessage cut at octet %zu, where the file stops\r\n", id, d.reason, d.good_len);
	if (spool_write(w, hdr, (size_t)n) == -1 || spool_write(w, raw + d.env_len, d.good_len) == -1) {
		snprintf(res->why, sizeof(res->why), "cannot write the queue file: %s", strerror(errno));
		spool_abort(w);
		goto error;
	}
	/* durable before it counts: synced, moved into queue/, synced */
	if (spool_finish_synced(w, NULL) == -1 || spool_commit(data_dir, res->env.id) == -1) {
		snprintf(res->why, sizeof(res->why), "cannot write the queue file: %s", strerror(errno));
		spool_remove(data_dir, res->env.id);
		goto error;
	}
	snprintf(other, sizeof(other), "%s/queue/%s", data_dir, res->env.id);
	give_to_queue_owner(data_dir, other);
	snprintf(other, sizeof(other), "%s/queue", data_dir);
	if (durable_sync_dir(other) == -1) {
		snprintf(res->why, sizeof(res->why), "cannot sync the queue directory: %s",
		    strerror(errno));
		spool_remove(data_dir, res->env.id);
		goto error;
	}
	snprintf(other, sizeof(other), "%s.salvaged", path);
	snprintf(hdr, sizeof(hdr), "%s\n", res->env.id);
	if (durable_write_file(other, hdr, strlen(hdr), 0600) == -1)
		snprintf(res->why, sizeof(res->why), "cannot record that it was salvaged (%s): running salvage again would queue a second copy",
		    strerror(errno));
	memcpy(res->new_id, res->env.id, sizeof(res->new_id));
	res->kept = d.good_len;
	res->total = d.msg_len;
	free(raw);
	return 0;
fail:
	spool_envelope_clear(&res->env);
	free(raw);
	return 1;
error:
	spool_envelope_clear(&res->env);
	free(raw);
	return -1;
}
