/*
 * Password strength rules of SPEC 6.2: at least 12 characters, not in the
 * common-password list shipped with postern, not containing the account's
 * local part, and estimated at 10^8 guesses or more by zxcvbn (log2 of
 * the guesses >= 26.6 bits: zxcvbn score 3).
 */
#ifndef POSTERN_AUTH_PASSWORD_H
#define POSTERN_AUTH_PASSWORD_H

#define PASSWORD_MIN_LEN 12
#define PASSWORD_MIN_BITS 26.6	/* log2(10^8) */

/* Returns NULL when the password may be used for address, else the
 * reason (a static string) to print. */
const char *password_weakness(const char *address, const char *password);

#endif
