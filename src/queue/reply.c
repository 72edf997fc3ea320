/*
 * Reply line parsing for the SMTP client.
 */
#include "reply.h"

#include <ctype.h>
#include <string.h>

int
reply_parse_line(const char *buf, size_t len, int *code, bool *more, const char **text,
    size_t *textlen)
{
	if (len < 3 || !isdigit((unsigned char)buf[0]) || !isdigit((unsigned char)buf[1]) ||
	    !isdigit((unsigned char)buf[2]) || buf[0] < '2' || buf[0] > '5')
		return -1;
	if (len > 3 && buf[3] != ' ' && buf[3] != '-')
		return -1;
	*code = (buf[0] - '0') * 100 + (buf[1] - '0') * 10 + (buf[2] - '0');
	*more = len > 3 && buf[3] == '-';
	*text = len > 4 ? buf + 4 : buf + len;
	*textlen = len > 4 ? len - 4 : 0;
	for (size_t i = 0; i < *textlen; i++)
		if (((unsigned char)(*text)[i] < 0x20 && (*text)[i] != '\t') || (*text)[i] == 0x7f)
			return -1;
	return 0;
}

bool
reply_enhanced_code(const char *text, size_t len, char *out)
{
	size_t i = 0, parts = 0, digits = 0;

	/* class "." subject "." detail: 1 digit, 1-3 digits, 1-3 digits */
	if (len < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.')
		return false;
	for (i = 0; i < len && i < 15; i++) {
		if (isdigit((unsigned char)text[i])) {
			if (++digits > 3)
				return false;
		} else if (text[i] == '.') {
			if (digits == 0 || ++parts > 2)
				return false;
			digits = 0;
		} else
			break;
	}
	if (parts != 2 || digits == 0 || (i < len && text[i] != ' '))
		return false;
	memcpy(out, text, i);
	out[i] = '\0';
	return true;
}
