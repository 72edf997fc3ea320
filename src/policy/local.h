/*
 * Which recipients live here, and in which Maildirs. A recipient is local
 * when its domain is one of `domains` (an address literal never is: that
 * is a relay trick, SPEC 6.3). It resolves through, in order: the account
 * itself, an alias, the same two without a "+tag" extension, and finally
 * the RFC 2142 role mailboxes postmaster@ and abuse@ that always exist.
 */
#ifndef POSTERN_POLICY_LOCAL_H
#define POSTERN_POLICY_LOCAL_H

#include "auth/userdb.h"
#include "lib/config.h"
#include "smtp/address.h"

enum local_result {
	LOCAL_OK = 0,
	LOCAL_NOT_LOCAL,	/* domain not ours: relay rules apply */
	LOCAL_UNKNOWN,		/* ours, but no such mailbox: 550 5.1.1 */
	LOCAL_LOOP,		/* alias chain too deep or too wide */
};

/*
 * Resolves a parsed recipient. On LOCAL_OK, *mailboxes is a newly
 * allocated comma-separated list of "DOMAIN/LOCAL" Maildirs relative to
 * <data_dir>/mail (the caller frees it).
 */
enum local_result local_resolve(const struct config *cfg, const struct userdb *db,
    const struct mailaddr *rcpt, char **mailboxes);

/* True when the recipient's domain is ours (and not a literal). */
bool local_is_local(const struct config *cfg, const struct mailaddr *rcpt);

#endif
