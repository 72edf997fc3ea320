/*
 * Header addresses: "Name <addr>, ..." or bare addr-specs; the first one.
 */
#include "hdraddr.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "scan/mime.h"
#include "scan/urls.h"

/*
 * The first address of a header value ("Name <addr>, ..." or bare
 * addr-specs), unfolded into v: *local is its local part (not empty) and
 * the domain starts after *at and ends before the return value. NULL when
 * there is none.
 */
static const char *
first_address(const char *value, size_t len, char *v, size_t vcap, const char **local,
    const char **at)
{
	size_t n = mime_unfold(value, len, v, vcap - 1);
	const char *end, *start;
	char *lt;

	v[n] = '\0';
	/* a quoted display name may hold commas, never '<' */
	if ((lt = strchr(v, '<')) != NULL) {
		char *gt = strchr(lt, '>');
		if (gt == NULL)
			return NULL;
		*gt = '\0';
		start = lt + 1;
	} else {
		/* bare addr-specs: the first one, without a comment */
		char *cut = strpbrk(v, ",(");
		if (cut)
			*cut = '\0';
		start = v;
	}
	while (*start == ' ' || *start == '\t')
		start++;
	*at = strrchr(start, '@');
	if (*at == NULL || *at == start)
		return NULL;
	*local = start;
	end = *at + 1;
	while (*end && !isspace((unsigned char)*end) && *end != '>' && *end != ',' && *end != ';')
		end++;
	return end;
}

bool
scan_address_domain(const char *value, size_t len, char *out, size_t outlen)
{
	char v[1024];
	const char *local, *at, *end = first_address(value, len, v, sizeof(v), &local, &at);

	return end != NULL &&
	    url_normalize_host(at + 1, (size_t)(end - at - 1), out, outlen) == URL_ITEM_HOST &&
	    strchr(out, '.') != NULL;
}

bool
scan_address_spec(const char *value, size_t len, char *out, size_t outlen)
{
	char v[1024], dom[URL_HOST_MAX];
	const char *local, *at, *end = first_address(value, len, v, sizeof(v), &local, &at);
	size_t ll;

	if (end == NULL ||
	    url_normalize_host(at + 1, (size_t)(end - at - 1), dom, sizeof(dom)) != URL_ITEM_HOST ||
	    strchr(dom, '.') == NULL)
		return false;
	ll = (size_t)(at - local);
	if (ll + 1 + strlen(dom) + 1 > outlen)
		return false;
	for (size_t i = 0; i < ll; i++) {
		unsigned char c = (unsigned char)local[i];
		if (c <= ' ' || c == '<' || c == '>' || c == 0x7f)
			return false;
		out[i] = (char)tolower(c);
	}
	snprintf(out + ll, outlen - ll, "@%s", dom);
	return true;
}
