/*
 * Maildir delivery (SPEC 6.7): the message is written under tmp/, made
 * durable by the caller's group sync, then renamed into new/. A reader
 * such as Dovecot never sees a partial file in new/. The caller names
 * each copy with a key that stays the same when the delivery is done
 * again (after a crash), so that maildir_scan can tell what arrived.
 */
#ifndef POSTERN_MAILDIR_H
#define POSTERN_MAILDIR_H

#include <limits.h>
#include <stddef.h>

/* Longest key: "TIME.UNIQUE" without '/', ':' and, after TIME, '.'. */
#define MAILDIR_KEY_MAX 128

struct maildir_file {
	char tmp[PATH_MAX];
	char final[PATH_MAX];
};

/*
 * Writes head (headers added at delivery) then body into
 * maildir/tmp/KEY.HOST,S=SIZE (maildir(5) "time.unique.host"), creating
 * maildir/{tmp,new,cur} when tmp/ is missing (maildir_publish: new/); a leftover of that name from an
 * interrupted delivery is overwritten. Returns 0, or -1 with errno set
 * (no file is left behind).
 */
int maildir_write(const char *maildir, const char *key, const char *head, size_t headlen,
    const char *body, size_t bodylen, struct maildir_file *out);

/* Moves a written file into new/ (over a copy of the same name, which
 * has the same contents). Returns 0 or -1/errno. */
int maildir_publish(const struct maildir_file *f);

/* Removes a written, unpublished file. */
void maildir_discard(const struct maildir_file *f);

/*
 * Finds the copies written by maildir_write on this host whose key
 * starts with prefix, in new/ and in cur/ (where a reader moves them as
 * cur/NAME:2,FLAGS, keeping the name before ':'): fn(arg, rest, len) for
 * each, rest being the key after prefix. A missing directory holds
 * nothing. Reads whole directories: for recovery, not for every
 * delivery. Returns 0, or -1 with errno set when one cannot be read.
 */
int maildir_scan(const char *maildir, const char *prefix,
    void (*fn)(void *arg, const char *rest, size_t len), void *arg);

#endif
