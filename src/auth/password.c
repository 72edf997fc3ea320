/*
 * Password checks. The common list holds the passwords that lead every
 * published leak ranking (and their obvious 12+ character extensions);
 * zxcvbn catches keyboard walks, repeats, dictionary words and dates.
 */
#include "password.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <zxcvbn.h>

static const char *const common[] = {
	"123456789012", "1234567890123", "12345678901234", "123456789123",
	"qwertyuiop12", "qwertyuiopas", "qwertyuiopasdf", "1q2w3e4r5t6y",
	"1qaz2wsx3edc", "zaq12wsxcde3", "passwordpassword", "password1234",
	"password12345", "password123456", "Password1234", "Password123!",
	"P@ssw0rd1234", "p@ssw0rd1234", "passw0rd1234", "iloveyou1234",
	"administrator", "administrator1", "letmein12345", "welcome12345",
	"welcome123456", "changeme1234", "changemenow!", "abcdefghijkl",
	"abcdef123456", "abc123456789", "111111111111", "000000000000",
	"123123123123", "987654321098", "qazwsxedcrfv", "asdfghjkl123",
	"asdfghjkl;'", "trustno1trustno1", "monkey123456", "dragon123456",
	"football1234", "baseball1234", "superman1234", "starwars1234",
	"sunshine1234", "princess1234", "michael12345", "shadow123456",
	"master123456", "qwerty123456", "qwerty1234567", "qwertyqwerty",
	"1234qwerasdf", "1234567890qwerty", "correcthorsebatterystaple",
	"correct horse battery staple", "thequickbrownfox", "letmeinletmein",
	"secretsecret", "mypassword123", "mypassword1234", "summer2024!!",
	"winter2024!!", "spring2024!!", "autumn2024!!", "january2024!",
	"azertyuiop12", "azertyuiopqs", "motdepasse123", "motdepasse1234",
	"bienvenue123", "bienvenue1234", "soleil123456", "chocolat1234",
	"jetaime123456", "doudou123456", "marseille1234", "loulou123456",
	"nicolas12345", "password!!!!", "Passw0rd!234", "Welcome1234!",
	"Admin1234567", "admin1234567", "root12345678", "toor12345678",
	"mailserver123", "postmaster123", "webmaster123", "qwerty!@#$%^",
	"!@#$%^&*()_+", "1234567890-=", "zxcvbnm12345", "zxcvbnmasdfg",
};

const char *
password_weakness(const char *address, const char *password)
{
	const char *at = strrchr(address, '@');
	size_t llen = at ? (size_t)(at - address) : strlen(address);
	size_t plen = strlen(password);
	char local[65];
	const char *dict[2];

	{
		/* characters, not octets: "Päß" is three */
		size_t chars = 0;
		for (size_t i = 0; i < plen; i++)
			if (((unsigned char)password[i] & 0xc0) != 0x80)
				chars++;
		if (chars < PASSWORD_MIN_LEN)
			return "too short: at least 12 characters";
	}
	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		if (strcasecmp(password, common[i]) == 0)
			return "too common: it is on the list of the most used passwords";
	/* the local part, in any case, anywhere in the password */
	if (llen >= 3 && llen < sizeof(local)) {
		for (size_t i = 0; i < llen; i++)
			local[i] = (char)tolower((unsigned char)address[i]);
		local[llen] = '\0';
		for (size_t i = 0; i + llen <= plen; i++)
			if (strncasecmp(password + i, local, llen) == 0)
				return "contains the account name";
	}
	dict[0] = llen < sizeof(local) && llen >= 3 ? local : NULL;
	dict[1] = NULL;
	if (ZxcvbnMatch(password, dict[0] ? dict : NULL, NULL) < PASSWORD_MIN_BITS)
		return "too easy to guess (zxcvbn estimates fewer than 10^8 guesses)";
	return NULL;
}
