/*
 * Smart host credentials. The password lives in memory from start-up
 * (read before privileges drop, like the DKIM key) and is wiped when the
 * client is freed; nothing here logs it or a response derived from it.
 */
#include "smarthost.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/xmalloc.h"

int
smarthost_ehlo_auth(const char *line, size_t len)
{
	int mechs = 0;
	size_t i;

	/* RFC 4954 3: "AUTH" SP mechanism list; early servers wrote
	 * "AUTH=" (Postfix's broken_sasl_auth_clients), read both */
	if (len < 4 || strncasecmp(line, "AUTH", 4) != 0 ||
	    (len > 4 && line[4] != ' ' && line[4] != '='))
		return -1;
	i = 5;
	while (i < len) {
		size_t start, wl;

		while (i < len && line[i] == ' ')
			i++;
		start = i;
		while (i < len && line[i] != ' ')
			i++;
		wl = i - start;
		if (wl == 5 && strncasecmp(line + start, "PLAIN", 5) == 0)
			mechs |= SMARTHOST_MECH_PLAIN;
		else if (wl == 5 && strncasecmp(line + start, "LOGIN", 5) == 0)
			mechs |= SMARTHOST_MECH_LOGIN;
	}
	return mechs;
}

char *
smarthost_b64(const char *s, size_t len)
{
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)len);
	return out;
}

char *
smarthost_plain(const char *user, const char *pass)
{
	size_t ul = strlen(user), pl = strlen(pass), n = 1 + ul + 1 + pl;
	char *raw = xmalloc(n), *out;

	/* RFC 4616 2: [authzid] NUL authcid NUL passwd */
	raw[0] = '\0';
	memcpy(raw + 1, user, ul);
	raw[1 + ul] = '\0';
	memcpy(raw + 2 + ul, pass, pl);
	out = smarthost_b64(raw, n);
	explicit_bzero(raw, n);
	free(raw);
	return out;
}

char *
smarthost_password_read(const char *path, char **err)
{
	char buf[SMARTHOST_PASSWORD_MAX + 3];
	size_t got = 0, len;
	ssize_t r;
	char *nl, *pass;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;

	if (fd == -1) {
		*err = xasprintf("relayhost_password_file %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		*err = xasprintf("relayhost_password_file %s: not a regular file", path);
		close(fd);
		return NULL;
	}
	/* only the first line matters: read at most what it may be */
	while (got < sizeof(buf) && (r = read(fd, buf + got, sizeof(buf) - got)) > 0)
		got += (size_t)r;
	close(fd);
	nl = memchr(buf, '\n', got);
	len = nl ? (size_t)(nl - buf) : got;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0 || memchr(buf, '\0', len) != NULL || len > SMARTHOST_PASSWORD_MAX) {
		*err = xasprintf("relayhost_password_file %s: %s", path,
		    len == 0 ? "the first line (the password) is empty" :
		    len > SMARTHOST_PASSWORD_MAX ? "the first line is longer than 1024 octets" :
		    "the password holds a NUL octet");
		explicit_bzero(buf, sizeof(buf));
		return NULL;
	}
	pass = xstrndup(buf, len);
	explicit_bzero(buf, sizeof(buf));
	return pass;
}
