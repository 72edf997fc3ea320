/*
 * The key reader: a small process forked before `postern serve` drops its
 * privileges, whose only job is to read, when asked, the certificate and
 * key files that the configuration names (tls_cert, tls_key). A SIGHUP
 * after a renewal by certbot (key readable by root only) can then load
 * the new pair although the server itself can no longer open it, as
 * Postfix's master re-reads what its unprivileged daemons cannot.
 */
#ifndef POSTERN_KEYREADER_H
#define POSTERN_KEYREADER_H

#include <stddef.h>

#define KEYREADER_FILE_MAX (1024 * 1024)	/* a PEM chain or key is far smaller */

struct keyreader;

/* What the reader found, as the configuration file says it now. */
struct keyfiles {
	char *cert_path, *key_path;	/* NULL: not configured */
	char *cert, *key;		/* contents, NUL-terminated */
	size_t cert_len, key_len;
};

/*
 * Forks the reader for the configuration at config_path (re-read by the
 * reader at each request, so the server can never name another file).
 * user: the account the server is about to become; the reader keeps of
 * root's powers only the one to read files (CAP_DAC_READ_SEARCH) under
 * that account, or, where that capability is not granted, stays root
 * without any capability. Call before any thread is started. Returns
 * NULL with *err set.
 */
struct keyreader *keyreader_start(const char *config_path, const char *user, char **err);

/* Asks for the files (bounded wait). Returns 0, or -1 with *err saying
 * which file could not be read and why. */
int keyreader_fetch(struct keyreader *kr, struct keyfiles *out, char **err);

void keyfiles_clear(struct keyfiles *f);
/* Ends the reader and waits for it; NULL is a no-op. */
void keyreader_free(struct keyreader *kr);

#endif
