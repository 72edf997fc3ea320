/*
 * The queue on disk. One file per message under <data_dir>/queue/: an
 * envelope (sender, client, recipients with their mailboxes), a blank
 * line, the message, and a fixed-size trailer holding the length and a
 * checksum of everything before it. A file is written under queue/tmp/,
 * then renamed into queue/; it counts only once a group sync has covered
 * it (the 250 waits for that), and at start-up a file whose trailer does
 * not match is a half-written message from before a crash and is removed.
 */
#ifndef POSTERN_SPOOL_H
#define POSTERN_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define SPOOL_ID_LEN 16

enum rcpt_status { RCPT_PENDING = 0, RCPT_DELIVERED, RCPT_BOUNCED };

/* Maildir list of a recipient to be delivered remotely. */
#define SPOOL_REMOTE "-"

struct spool_rcpt {
	char *addr;		/* as given at RCPT, e.g. "bob+x@example.test" */
	char *mailbox;		/* "DOMAIN/LOCAL[,...]" under mail/, or SPOOL_REMOTE */
	bool done;		/* status != PENDING */
	/* delivery state, from the .state file */
	enum rcpt_status status;
	unsigned attempts;
	time_t next_attempt;	/* 0: as soon as possible */
	char *reason;		/* last failure, or NULL */
};

struct spool_envelope {
	char id[SPOOL_ID_LEN + 1];
	time_t time;		/* arrival */
	char *from;		/* "" for the null sender */
	char *client;		/* client IP */
	char *helo;
	char *user;		/* authenticated account or NULL */
	struct spool_rcpt *rcpts;
	size_t nrcpts;
};

struct spool_writer;

/* Creates the queue directories under data_dir. Returns 0 or -1/errno. */
int spool_init(const char *data_dir);

/* A new unique queue id in id (SPOOL_ID_LEN + 1 bytes). Thread-safe. */
void spool_new_id(char *id);

/*
 * Starts writing the message of env (env->id must be set) under
 * queue/tmp/. Returns NULL with errno set.
 */
struct spool_writer *spool_create(const char *data_dir, const struct spool_envelope *env);
/* Appends message octets. Returns 0 or -1/errno (the writer stays valid
 * for spool_abort). */
int spool_write(struct spool_writer *w, const char *buf, size_t len);
/*
 * Reads back the message written so far (after flushing), at most max
 * octets, into a new buffer (*out, freed by the caller). Used to scan the
 * message before it is acknowledged. Returns the length or -1/errno.
 */
ssize_t spool_read_back(struct spool_writer *w, char **out, size_t max);

/* What the delivery agent needs besides the message: the folder (NULL or
 * "Junk") and header lines to prepend (CRLF-terminated, may be NULL). */
struct spool_meta {
	const char *folder;
	const char *headers;
};

/* Writes the meta section and the trailer, closes and renames into
 * queue/. Not yet durable: the caller must have a group sync cover it
 * before acknowledging. Frees w. Returns 0, or -1/errno after removing
 * the file. meta may be NULL. */
int spool_finish(struct spool_writer *w, const struct spool_meta *meta);
/* Discards a message being written. NULL is a no-op. */
void spool_abort(struct spool_writer *w);
/* Octets of message written so far. */
uint64_t spool_size(const struct spool_writer *w);

/*
 * A queued message loaded in memory: envelope and message octets.
 * spool_load returns 0, -1/errno on I/O error, or 1 when the file is
 * incomplete or corrupt (no valid trailer).
 */
struct spool_msg {
	struct spool_envelope env;
	char *folder;		/* "Junk" or NULL for INBOX */
	char *headers;		/* to prepend at delivery, or NULL */
	bool held;		/* on hold: not delivered until released */
	bool warned;		/* the sender got its delay warning */
	char *raw;		/* whole file */
	const char *data;	/* message octets inside raw */
	size_t datalen;
};
int spool_load(const char *data_dir, const char *id, struct spool_msg *msg);
void spool_msg_clear(struct spool_msg *msg);

/*
 * Pure parser of a queue file's bytes (fuzzable). Returns 0 or 1 when
 * malformed. msg->raw is not set; pointers refer into buf and strings
 * in env are allocated.
 */
int spool_parse(const char *buf, size_t len, struct spool_msg *msg);

/* Records the recipients' delivery state, the hold flag and whether the
 * delay warning went (atomically, durably) in queue/ID.state. */
int spool_save_state(const char *data_dir, const struct spool_envelope *env, bool held,
    bool warned);
/* Adds recipient i's state r to queue/ID.state without rewriting it:
 * kept across a crash of the process at once, across a power loss once
 * the caller's group sync has run. The next spool_save_state replaces
 * it. Returns 0 or -1/errno. */
int spool_append_state(const char *data_dir, const char *id, size_t i,
    const struct spool_rcpt *r);
const char *spool_rcpt_status_name(enum rcpt_status st);
/* Removes a delivered message and its sidecar. */
int spool_remove(const char *data_dir, const char *id);

/*
 * Recovery at start: removes queue/tmp/ leftovers and invalid files, and
 * calls fn for every valid queued message id, oldest first. Returns the
 * number of valid messages, or -1/errno when the queue cannot be read.
 */
int spool_recover(const char *data_dir, void (*fn)(const char *id, void *arg), void *arg);

/* Lists ids of queued files, sorted (oldest first). Caller frees. */
char **spool_list(const char *data_dir, size_t *n);
void spool_list_free(char **ids, size_t n);

/* Frees the strings of env (not env itself). */
void spool_envelope_clear(struct spool_envelope *env);

#endif
