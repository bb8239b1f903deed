/*
 * test_digest.c: SHA-256 over OpenSSL and the RFC 9530 field value.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/digest.h"

static void
sha256_of_abc_matches_fips_180_vector(void **state)
{
	uint8_t sha[DIGEST_LEN];
	char hex[2 * DIGEST_LEN + 1];

	digest_sha256("abc", 3, sha);
	digest_hex(sha, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void
streaming_in_pieces_equals_one_shot(void **state)
{
	static const char text[] = "The quick brown fox jumps over the lazy dog";
	uint8_t a[DIGEST_LEN], b[DIGEST_LEN];
	struct digest d;

	digest_sha256(text, strlen(text), a);
	digest_init(&d);
	for (size_t i = 0; i < strlen(text); i += 5)
		digest_update(&d, text + i, strlen(text) - i < 5 ? strlen(text) - i : 5);
	digest_final(&d, b);
	assert_memory_equal(a, b, DIGEST_LEN);
}

static void
rfc9530_field_of_empty_body(void **state)
{
	uint8_t sha[DIGEST_LEN];
	char field[DIGEST_FIELD_LEN];

	digest_sha256("", 0, sha);
	digest_field(sha, field);
	/* RFC 9530 appendix: sha-256 of the empty representation. */
	assert_string_equal(field, "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:");
}

static void
rfc9530_field_of_hello_world_json(void **state)
{
	static const char body[] = "{\"hello\": \"world\"}";
	uint8_t sha[DIGEST_LEN];
	char field[DIGEST_FIELD_LEN];

	digest_sha256(body, strlen(body), sha);
	digest_field(sha, field);
	/* The example of RFC 9530 section 2. */
	assert_string_equal(field, "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:");
}

static void
fini_on_unfinished_digest_releases_it(void **state)
{
	struct digest d;

	digest_init(&d);
	digest_update(&d, "x", 1);
	digest_fini(&d);
	assert_null(d._ctx);
	digest_fini(&d); /* twice is harmless */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sha256_of_abc_matches_fips_180_vector),
		cmocka_unit_test(streaming_in_pieces_equals_one_shot),
		cmocka_unit_test(rfc9530_field_of_empty_body),
		cmocka_unit_test(rfc9530_field_of_hello_world_json),
		cmocka_unit_test(fini_on_unfinished_digest_releases_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
