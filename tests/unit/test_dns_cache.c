/*
 * Tests of the answer cache (src/dns/cache.h): a hit is a deep copy that
 * outlives the entry, keys ignore case and a final dot, TTLs expire and
 * are capped, failures and over-long answers are never kept, and a
 * collision in a one-slot cache replaces the entry.
 */
#include "unit.h"

#include "dns/cache.h"

static struct dns_answer
answer_of(const char *const *data, const int *len, size_t n)
{
	struct dns_answer a = { .status = DNS_OK, .count = n, .data = data, .len = len };
	return a;
}

static void
test_hit_is_a_copy(void **state)
{
	struct dns_cache *c = dns_cache_new(64);
	char r1[4] = { 127, 0, 0, 2 }, r2[4] = { 127, 0, 0, 4 };
	const char *data[2] = { r1, r2 };
	int len[2] = { 4, 4 };
	struct dns_answer a = answer_of(data, len, 2);
	struct dns_cached *hit;
	const struct dns_answer *h;

	(void)state;
	a.secure = true;
	dns_cache_put(c, "2.0.0.127.ZEN.spamhaus.org.", 1, &a, 300, 1000);
	r1[3] = 99;	/* the cache kept its own copy */
	hit = dns_cache_get(c, "2.0.0.127.zen.spamhaus.org", 1, 1299);
	assert_non_null(hit);
	h = dns_cached_answer(hit);
	assert_int_equal(h->status, DNS_OK);
	assert_true(h->secure);
	assert_int_equal(h->count, 2);
	assert_int_equal(h->len[0], 4);
	assert_int_equal((unsigned char)h->data[0][3], 2);
	assert_int_equal((unsigned char)h->data[1][3], 4);
	/* another type, another name: misses */
	assert_null(dns_cache_get(c, "2.0.0.127.zen.spamhaus.org", 16, 1000));
	assert_null(dns_cache_get(c, "3.0.0.127.zen.spamhaus.org", 1, 1000));
	/* the copy outlives a replacement and the cache itself */
	dns_cache_put(c, "2.0.0.127.zen.spamhaus.org", 1, &a, 300, 1000);
	dns_cache_free(c);
	assert_int_equal((unsigned char)h->data[1][3], 4);
	dns_cached_free(hit);
}

static void
test_expiry_and_cap(void **state)
{
	struct dns_cache *c = dns_cache_new(64);
	struct dns_answer nx = { .status = DNS_NXDOMAIN };

	(void)state;
	dns_cache_put(c, "gone.example", 1, &nx, 60, 1000);
	{
		struct dns_cached *h = dns_cache_get(c, "gone.example", 1, 1059);
		assert_non_null(h);
		assert_int_equal(dns_cached_answer(h)->status, DNS_NXDOMAIN);
		dns_cached_free(h);
	}
	assert_null(dns_cache_get(c, "gone.example", 1, 1060));
	/* a day's TTL is kept DNS_CACHE_TTL_MAX at most */
	dns_cache_put(c, "long.example", 1, &nx, 86400, 1000);
	{
		struct dns_cached *h = dns_cache_get(c, "long.example", 1, 1000 + DNS_CACHE_TTL_MAX - 1);
		assert_non_null(h);
		assert_int_equal(dns_cached_answer(h)->status, DNS_NXDOMAIN);
		dns_cached_free(h);
	}
	assert_null(dns_cache_get(c, "long.example", 1, 1000 + DNS_CACHE_TTL_MAX));
	dns_cache_free(c);
}

static void
test_never_kept(void **state)
{
	struct dns_cache *c = dns_cache_new(64);
	struct dns_answer fail = { .status = DNS_SERVFAIL }, to = { .status = DNS_TIMEOUT };
	struct dns_answer nodata = { .status = DNS_NODATA };
	static const char r[1] = { 0 };
	const char *many[65];
	int lens[65];
	struct dns_answer big;
	char longname[400];

	(void)state;
	for (int i = 0; i < 65; i++) {
		many[i] = r;
		lens[i] = 1;
	}
	big = answer_of(many, lens, 65);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	dns_cache_put(c, "a.example", 1, &fail, 300, 0);
	dns_cache_put(c, "b.example", 1, &to, 300, 0);
	dns_cache_put(c, "c.example", 1, &nodata, 0, 0);	/* TTL 0 */
	dns_cache_put(c, "d.example", 1, &big, 300, 0);		/* too many records */
	dns_cache_put(c, longname, 1, &nodata, 300, 0);
	dns_cache_put(c, "", 1, &nodata, 300, 0);
	assert_null(dns_cache_get(c, "a.example", 1, 0));
	assert_null(dns_cache_get(c, "b.example", 1, 0));
	assert_null(dns_cache_get(c, "c.example", 1, 0));
	assert_null(dns_cache_get(c, "d.example", 1, 0));
	assert_null(dns_cache_get(c, longname, 1, 0));
	assert_null(dns_cache_get(c, "", 1, 0));
	assert_null(dns_cache_get(c, ".", 1, 0));
	dns_cache_free(c);
}

/* Records of different lengths (TXT-like, an empty one, 64 of them, the
 * most kept) come back whole and in order, and a long key still matches
 * only itself. */
static void
test_records_of_any_length(void **state)
{
	struct dns_cache *c = dns_cache_new(64);
	char recs[64][300];
	const char *data[64];
	int lens[64];
	struct dns_answer a;
	struct dns_cached *h;
	const struct dns_answer *g;
	char name[250];

	(void)state;
	for (int i = 0; i < 64; i++) {
		lens[i] = (i * 37) % 300;	/* 0 for the first */
		memset(recs[i], 'a' + i % 26, sizeof(recs[i]));
		data[i] = recs[i];
	}
	a = answer_of(data, lens, 64);
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	name[60] = name[120] = name[180] = '.';
	dns_cache_put(c, name, DNS_TYPE_TXT, &a, 300, 0);
	name[200] = 'y';
	assert_null(dns_cache_get(c, name, DNS_TYPE_TXT, 0));
	name[200] = 'x';
	h = dns_cache_get(c, name, DNS_TYPE_TXT, 0);
	assert_non_null(h);
	g = dns_cached_answer(h);
	assert_int_equal(g->count, 64);
	for (int i = 0; i < 64; i++) {
		assert_int_equal(g->len[i], lens[i]);
		assert_memory_equal(g->data[i], recs[i], (size_t)lens[i]);
	}
	dns_cached_free(h);
	dns_cache_free(c);
}

static void
test_collision_replaces(void **state)
{
	struct dns_cache *c = dns_cache_new(1);
	struct dns_answer nx = { .status = DNS_NXDOMAIN }, nd = { .status = DNS_NODATA };
	struct dns_cached *h;

	(void)state;
	dns_cache_put(c, "one.example", 1, &nx, 300, 0);
	dns_cache_put(c, "two.example", 1, &nd, 300, 0);
	assert_null(dns_cache_get(c, "one.example", 1, 0));
	h = dns_cache_get(c, "two.example", 1, 0);
	assert_non_null(h);
	assert_int_equal(dns_cached_answer(h)->status, DNS_NODATA);
	dns_cached_free(h);
	dns_cache_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_is_a_copy),
		cmocka_unit_test(test_expiry_and_cap),
		cmocka_unit_test(test_never_kept),
		cmocka_unit_test(test_records_of_any_length),
		cmocka_unit_test(test_collision_replaces),
	};

	return cmocka_run_group_tests_name("dns_cache", tests, NULL, NULL);
}
