/*
 * The HTTPS listener of https_listen (SPEC 9, 12): Thunderbird autoconfig,
 * Outlook autodiscover and the MTA-STS policy, served with the server's
 * own certificate (the one STARTTLS uses, renewed or reloaded in place).
 * On the event loop: libevent's evhttp over OpenSSL bufferevents.
 */
#ifndef POSTERN_WEB_HTTPS_H
#define POSTERN_WEB_HTTPS_H

#include <event2/event.h>
#include <openssl/ssl.h>

#include "lib/config.h"

struct https;

/*
 * Binds hp (before dropping privileges: port 443). ctx and cfg point at
 * the server's current context and configuration, read at each
 * connection and request, so a reload or a renewal applies at once
 * (borrowed; they must outlive the listener). NULL with *err.
 */
struct https *https_new(struct event_base *base, const struct hostport *hp,
    SSL_CTX *const *ctx, struct config *const *cfg, char **err);
void https_free(struct https *h);

#endif
