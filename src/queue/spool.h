/*
 * The queue on disk. One file per message under <data_dir>/queue/: an
 * envelope (sender, client, recipients with their mailboxes) with its own
 * checksum, a blank line, the message, a meta section with a checksum per
 * block of the message, and a fixed-size trailer holding the length and
 * a checksum of everything before it. A file is written under queue/tmp/
 * and moved into queue/ (spool_commit) only once a group sync has covered
 * it, before the 250: so a file under queue/ was acknowledged, and one
 * that does not load is damage, quarantined under queue/corrupt/ and
 * never deleted; a partial file under queue/tmp/ was never acknowledged.
 */
#ifndef POSTERN_SPOOL_H
#define POSTERN_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define SPOOL_ID_LEN 16

/*
 * True when buf[0..len) is a queue id as spool_new_id makes them:
 * SPOOL_ID_LEN characters 0-9 A-F. Every id that comes from outside (the
 * command line, the control socket) goes through this before it names a
 * file, so "../x", "/etc/passwd" or "a/b" never reach the file system.
 */
bool spool_id_valid(const char *buf, size_t len);

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

/*
 * The server's pool of queue files for reuse under queue-free/: the files
 * of removed messages (at most max) are taken by the next messages
 * instead of an unlink and a create each. Empties queue-free/ first.
 * Without it (the command-line tools) files are created and unlinked.
 * Returns 0 or -1/errno.
 */
int spool_pool_init(const char *data_dir, size_t max);
/* The server's pool size: more than the messages a busy server has
 * between acceptance and delivery. */
#define SPOOL_POOL_FILES 256
/* Seconds a delivered message's file may wait whole in the pool. */
#define SPOOL_POOL_LINGER 10
/* Empties the pooled files that held a message for linger seconds or
 * more (0: all of them). The server calls it every few seconds and at
 * exit. */
void spool_pool_sweep(unsigned linger);
/* Once, the errno that stopped the pool (a file system that cannot
 * rename across queue-free/ and queue/tmp/ without replacing: files are
 * then created and removed per message), else 0. */
int spool_pool_failed(void);

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

/* Writes the meta section and the trailer and closes; the file stays
 * under queue/tmp/. Not yet durable: the caller has a group sync cover it,
 * then spool_commit moves it into queue/ (scheduler_add does, in the same
 * callback as the 250). Frees w. Returns 0, or -1/errno after removing
 * the file. meta may be NULL. */
int spool_finish(struct spool_writer *w, const struct spool_meta *meta);
/*
 * The same, but the file is handed over open instead of closed: *fd to
 * close and *cut the length to cut it to first (-1: leave it), both left
 * to the group sync's thread (groupsync_request_close), so that neither a
 * cut that frees blocks (a discard on some mounts, waited for) nor the
 * close holds the event loop. On -1 the file is removed and nothing is
 * handed over.
 */
int spool_finish_open(struct spool_writer *w, const struct spool_meta *meta, int *fd,
    long long *cut);
/*
 * Moves a finished message whose sync has completed from queue/tmp/ into
 * queue/: from now on it counts as acknowledged. The rename needs no sync
 * of its own: if it is lost in a power cut, the complete file is still
 * under queue/tmp/ and spool_recover moves it. Returns 0 (also when it is
 * in queue/ already) or -1/errno.
 */
int spool_commit(const char *data_dir, const char *id);
/* Discards a message being written. NULL is a no-op. */
void spool_abort(struct spool_writer *w);
/* Octets of message written so far. */
uint64_t spool_size(const struct spool_writer *w);

/*
 * A queued message loaded in memory: envelope and message octets.
 * spool_load returns 0, -1/errno on I/O error, or 1 when the file is
 * damaged (no valid trailer, checksum mismatch, unreadable envelope, or
 * an id that is not its name). A damaged .state file does not fail the
 * load: every recipient is then pending (a duplicate rather than a loss)
 * and state_damaged says so.
 */
struct spool_msg {
	struct spool_envelope env;
	char *folder;		/* "Junk" or NULL for INBOX */
	char *headers;		/* to prepend at delivery, or NULL */
	bool held;		/* on hold: not delivered until released */
	bool warned;		/* the sender got its delay warning */
	bool state_damaged;	/* the .state file was unreadable: ignored */
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

/*
 * Pure parser of a .state file (fuzzable): applies it to env's recipients
 * and sets *held and *warned. Returns 0, or 1 when the file is damaged
 * (bad checksum, truncated, unknown lines): env is then left untouched
 * and *held and *warned are false.
 */
int spool_state_parse(const char *buf, size_t len, struct spool_envelope *env, bool *held,
    bool *warned);

/* What can be saved of a queue file that does not load. */
struct spool_damage {
	const char *reason;	/* why the file does not load (static text) */
	const char *why;	/* when nothing can be saved: why (static text) */
	size_t env_len;		/* octets of the envelope, blank line included */
	size_t msg_len;		/* octets of message present in the file */
	size_t good_len;	/* octets of message before the damage, whole lines */
	bool verified;		/* good_len checked against the block checksums */
};

/*
 * Pure examination of a damaged queue file (fuzzable): the envelope is
 * kept only when its own checksum matches; the message up to the first
 * block whose checksum does not match, or, when the end of the file is
 * missing (truncation), up to where it stops; cut at a line end. Returns
 * 0 when something can be saved (env filled, when not NULL: the caller
 * clears it), 1 with d->why when nothing can.
 */
int spool_examine(const char *buf, size_t len, struct spool_damage *d,
    struct spool_envelope *env);

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
/* Removes a message (queue/ or still under queue/tmp/) and its sidecar.
 * Returns 0, or -1/errno (ENOENT: no such message). */
int spool_remove(const char *data_dir, const char *id);
/* The same for a message whose every recipient has its result (delivered
 * or bounced): with the pool, its file is kept whole for the next message
 * to write over, emptied by spool_pool_sweep if none does. */
int spool_remove_delivered(const char *data_dir, const char *id);

/*
 * Recovery at start. Under queue/tmp/: a complete file (its sync may have
 * been the one before a power cut) moves into queue/, a partial one was
 * never acknowledged and is removed. Under queue/: a file that does not
 * load is moved unaltered to queue/corrupt/ (logged event=error and
 * event=alert kind=queue_corrupt), a damaged .state is logged and set
 * aside (all recipients pending). Then calls fn for every valid queued
 * message id, oldest first. Returns the number of valid messages, or
 * -1/errno when the queue cannot be read.
 */
int spool_recover(const char *data_dir, void (*fn)(const char *id, void *arg), void *arg);

/* A quarantined file under queue/corrupt/. */
struct spool_corrupt {
	char id[SPOOL_ID_LEN + 1];
	char name[SPOOL_ID_LEN + 8];	/* its file name: the id, or id.N */
	long long size;
	struct spool_damage damage;	/* from spool_examine */
	bool salvageable;		/* spool_examine returned 0 */
	char salvaged[SPOOL_ID_LEN + 1];	/* the id it was re-queued as, or "" */
};
/* The quarantined files, sorted. Caller frees. NULL with *n = 0 when none. */
struct spool_corrupt *spool_list_corrupt(const char *data_dir, size_t *n);

/* What spool_salvage did. */
struct spool_salvage_result {
	char new_id[SPOOL_ID_LEN + 1];	/* the re-queued message */
	bool already;			/* salvaged before (as new_id): nothing done */
	size_t kept, total;		/* octets of message kept, present */
	struct spool_envelope env;	/* of the new message (spool_envelope_clear) */
	char why[256];			/* when it returns 1 or -1 */
};
/*
 * Re-queues what can be saved of the quarantined message id: its pending
 * recipients (per its quarantined .state, when readable) and the message
 * up to the damage, with an X-Postern-Salvaged header saying so. The new
 * file is durable in queue/ on return (synchronous: this is a rare repair
 * started by an administrator); the quarantined file stays. Returns 0,
 * 1 when nothing can be saved or there is no such quarantined message,
 * -1 on a system error (why set in both cases).
 */
int spool_salvage(const char *data_dir, const char *id, struct spool_salvage_result *res);

/* Lists ids of queued files, sorted (oldest first). Caller frees. */
char **spool_list(const char *data_dir, size_t *n);
void spool_list_free(char **ids, size_t n);

/* Frees the strings of env (not env itself). */
void spool_envelope_clear(struct spool_envelope *env);

#endif
