/*
 * Fuzz target for the SMTP client's reply parser: the input is split into
 * lines as the client reads them. Invariants: an accepted line has a code
 * in 200-599 and text inside the line without control characters; an
 * enhanced code is "C.S.D" of at most 11 octets.
 */
#include "fuzz.h"

#include "queue/reply.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_copy(data, size);
	size_t pos = 0;

	while (pos < size) {
		const char *nl = memchr(buf + pos, '\n', size - pos);
		size_t end = nl ? (size_t)(nl - buf) : size;
		size_t len = end - pos;
		char *line = fuzz_copy((const uint8_t *)buf + pos, len);
		const char *text;
		size_t tl;
		int code;
		bool more;

		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (reply_parse_line(line, len, &code, &more, &text, &tl) == 0) {
			char enh[16];
			CHECK(code >= 200 && code <= 599);
			CHECK(fuzz_inside(text, tl, line, len) || tl == 0);
			for (size_t i = 0; i < tl; i++)
				CHECK((unsigned char)text[i] >= 0x20 || text[i] == '\t');
			if (reply_enhanced_code(text, tl, enh)) {
				size_t el = strlen(enh);
				CHECK(el >= 5 && el <= 11 && enh[1] == '.');
			}
		}
		free(line);
		pos = end + 1;
	}
	free(buf);
	return 0;
}
