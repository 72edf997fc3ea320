/*
 * Maildir delivery (SPEC 6.7): the message is written under tmp/ with a
 * unique name, made durable by the caller's group sync, then renamed into
 * new/. A reader such as Dovecot never sees a partial file in new/.
 */
#ifndef POSTERN_MAILDIR_H
#define POSTERN_MAILDIR_H

#include <limits.h>
#include <stddef.h>

struct maildir_file {
	char tmp[PATH_MAX];
	char final[PATH_MAX];
};

/*
 * Writes head (headers added at delivery) then body into a new file
 * under maildir/tmp/, creating maildir/{tmp,new,cur} when missing.
 * Returns 0, or -1 with errno set (no file is left behind).
 */
int maildir_write(const char *maildir, const char *head, size_t headlen,
    const char *body, size_t bodylen, struct maildir_file *out);

/* Moves a written file into new/. Returns 0 or -1/errno. */
int maildir_publish(const struct maildir_file *f);

/* Removes a written, unpublished file. */
void maildir_discard(const struct maildir_file *f);

#endif
