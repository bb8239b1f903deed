/*
 * test_upstream.c: the upstream set picks each key's owner on the tier's ring.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http/key.h"
#include "net/ring.h"
#include "net/upstream.h"

static void
pick_is_the_ring_owner_by_host_and_port(void **state)
{
	char *urls[] = { "http://10.0.0.1:8080/", "http://10.0.0.2:8080", "http://10.0.0.3:8080//" };
	/* A shield builds its ring from its own -l and its peers, in another order. */
	struct ring_node tier[3] = {
		{ "10.0.0.3:8080", 1 }, { "10.0.0.1:8080", 1 }, { "10.0.0.2:8080", 1 },
	};
	struct ups *u = ups_new(urls, 3);
	struct ring *shield = ring_new(tier, 3, 0, NULL);
	unsigned per[3] = { 0 };

	assert_non_null(shield);
	assert_int_equal(ups_count(u), 3);
	assert_string_equal(ups_base(u, 0), "http://10.0.0.1:8080");
	assert_string_equal(ups_base(u, 2), "http://10.0.0.3:8080");
	assert_string_equal(ups_bases(u)[1], "http://10.0.0.2:8080");
	for (unsigned i = 0; i < 30000; i++) {
		char key[32], want[64];
		int len = snprintf(key, sizeof key, "/k/%u", i);
		uint64_t h = key_hash(key, (size_t)len);
		unsigned o = ring_owner(ups_ring(u), h);

		snprintf(want, sizeof want, "http://%s", ring_node_id(shield, ring_owner(shield, h)));
		if (strcmp(ups_pick(u, h), want) != 0)
			fail_msg("key %s: edge picks %s, the shields' ring says %s", key,
			    ups_pick(u, h), want);
		per[o]++;
	}
	for (unsigned i = 0; i < 3; i++)
		if (per[i] < 8000)
			fail_msg("upstream %u got %u of 30000 keys, expected about 10000", i, per[i]);
	ring_free(&shield);
	ups_free(&u);
	assert_null(u);
}

static void
the_same_host_and_port_twice_is_one_upstream(void **state)
{
	char *urls[] = { "http://Shield:8080/", "http://shield:8080/x", "http://shield:8081" };
	struct ups *u = ups_new(urls, 3);

	assert_int_equal(ups_count(u), 2);
	assert_string_equal(ups_base(u, 0), "http://Shield:8080");
	assert_string_equal(ups_base(u, 1), "http://shield:8081");
	assert_int_equal(ring_count(ups_ring(u)), 2);
	ups_free(&u);
}

static void
one_upstream_gets_everything(void **state)
{
	char *urls[] = { "http://origin.example" };
	struct ups *u = ups_new(urls, 1);
	char *url;

	for (unsigned i = 0; i < 1000; i++)
		assert_string_equal(ups_pick(u, (uint64_t)i * 0x9e3779b97f4a7c15ULL),
		    "http://origin.example");
	url = ups_url(u, 42, "/a?b=1");
	assert_string_equal(url, "http://origin.example/a?b=1");
	free(url);
	ups_free(&u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pick_is_the_ring_owner_by_host_and_port),
		cmocka_unit_test(the_same_host_and_port_twice_is_one_upstream),
		cmocka_unit_test(one_upstream_gets_everything),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
