/*
 * test_upload_keys.c: the pure parts of cdn-upload (tools/cdn-upload.c,
 * included whole without its main): keys built from file names and their
 * percent-encoding, the push API's key rules, the media types table, retry
 * timing and token files.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#define CDN_UPLOAD_NO_MAIN
#include "../../tools/cdn-upload.c"

/* A temporary file holding text; the caller unlinks and frees the path. */
static char *
temp_file(const char *text)
{
	char *path = strdup("/tmp/cdn-test-upload-XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void
key_is_prefix_plus_path_below_the_directory(void **state)
{
	char key[KEY_MAX + 16];

	assert_null(key_build("/site", "a/b.css", key, sizeof key));
	assert_string_equal(key, "/site/a/b.css");
	assert_null(key_build("", "logo.png", key, sizeof key));
	assert_string_equal(key, "/logo.png");
}

static void
prefix_gets_a_leading_slash_and_loses_empty_segments(void **state)
{
	char p[KEY_MAX + 1];

	assert_null(prefix_normalize("site//v1/", p, sizeof p));
	assert_string_equal(p, "/site/v1");
	assert_null(prefix_normalize("/", p, sizeof p));
	assert_string_equal(p, "");
	assert_null(prefix_normalize("", p, sizeof p));
	assert_string_equal(p, "");
	assert_null(prefix_normalize("/my dir", p, sizeof p));
	assert_string_equal(p, "/my%20dir");
}

static void
prefix_with_dot_segments_or_backslash_is_refused(void **state)
{
	char p[KEY_MAX + 1];

	assert_non_null(prefix_normalize("/a/../b", p, sizeof p));
	assert_non_null(prefix_normalize("./a", p, sizeof p));
	assert_non_null(prefix_normalize("/a\\b", p, sizeof p));
}

static void
unsafe_bytes_are_percent_encoded_but_slashes_are_not(void **state)
{
	char key[KEY_MAX + 16];

	assert_null(key_build("/p", "with space & 100%.txt", key, sizeof key));
	assert_string_equal(key, "/p/with%20space%20&%20100%25.txt");
	assert_null(key_build("", "q?x#y/\"<>[]^`{|}.txt", key, sizeof key));
	assert_string_equal(key, "/q%3Fx%23y/%22%3C%3E%5B%5D%5E%60%7B%7C%7D.txt");
	/* Non-ASCII names are their UTF-8 bytes, each encoded. */
	assert_null(key_build("", "caf\xc3\xa9/\xe2\x82\xac.js", key, sizeof key));
	assert_string_equal(key, "/caf%C3%A9/%E2%82%AC.js");
}

static void
sub_delims_colon_and_at_stay_as_browsers_send_them(void **state)
{
	char key[KEY_MAX + 16];

	assert_null(key_build("", "a+b=c;d,e!$'()*:@~-_.txt", key, sizeof key));
	assert_string_equal(key, "/a+b=c;d,e!$'()*:@~-_.txt");
}

static void
names_with_backslash_or_control_characters_get_no_key(void **state)
{
	char key[KEY_MAX + 16];

	assert_non_null(key_build("", "back\\slash", key, sizeof key));
	assert_non_null(key_build("", "new\nline", key, sizeof key));
	assert_non_null(key_build("", "del\x7f", key, sizeof key));
	assert_non_null(key_build("", "a/../b", key, sizeof key));
	assert_non_null(key_build("/p", "", key, sizeof key));
}

static void
keys_longer_than_1024_bytes_get_no_key(void **state)
{
	char key[KEY_MAX + 16], name[1100];

	memset(name, 'a', 1023);
	name[1023] = '\0';
	assert_null(key_build("", name, key, sizeof key));
	assert_int_equal(strlen(key), 1024);
	name[1023] = 'a';
	name[1024] = '\0';
	assert_non_null(key_build("", name, key, sizeof key));
	/* The limit is on the encoded key: 400 spaces are 1200 bytes. */
	memset(name, ' ', 400);
	name[400] = '\0';
	assert_non_null(key_build("", name, key, sizeof key));
	/* A prefix counts too. */
	memset(name, 'a', 1000);
	name[1000] = '\0';
	assert_non_null(key_build("/a-prefix-of-some-length", name, key, sizeof key));
}

static void
key_rules_match_what_the_push_api_refuses(void **state)
{
	assert_null(key_refused("/img/logo.png"));
	assert_null(key_refused("/.well-hidden/..dots.../x"));
	assert_null(key_refused("/a%20b%C3%A9"));
	assert_non_null(key_refused("img/logo.png"));
	assert_non_null(key_refused("/a/../b"));
	assert_non_null(key_refused("/a/.."));
	assert_non_null(key_refused("/a/./b"));
	assert_non_null(key_refused("/%2e%2e/etc"));
	assert_non_null(key_refused("/a%2Fb"));
	assert_non_null(key_refused("/a%5cb"));
	assert_non_null(key_refused("/a\\b"));
	assert_non_null(key_refused("/a\tb"));
	assert_non_null(key_refused("/a b"));
	assert_non_null(key_refused("/a%zz"));
	assert_non_null(key_refused("/a%2"));
}

static void
mime_types_map_extensions_case_insensitively(void **state)
{
	char *path = temp_file("# comment line\n\ntext/css\t\t\tcss\n"
	    "text/html html htm # trailing comment\nimage/png png\napplication/x-nothing\n");
	struct mime_table t;

	assert_int_equal(mime_load(&t, path), 0);
	assert_string_equal(mime_lookup(&t, "a/b/site.css"), "text/css");
	assert_string_equal(mime_lookup(&t, "INDEX.HTM"), "text/html");
	assert_string_equal(mime_lookup(&t, "logo.Png"), "image/png");
	assert_string_equal(mime_lookup(&t, "x.comment"), MIME_DEFAULT);
	mime_free(&t);
	unlink(path);
	free(path);
}

static void
first_line_naming_an_extension_wins(void **state)
{
	char *path = temp_file("application/mp4 mp4 mp4s\nvideo/mp4 mp4 m4v\n");
	struct mime_table t;

	assert_int_equal(mime_load(&t, path), 0);
	assert_string_equal(mime_lookup(&t, "clip.mp4"), "application/mp4");
	assert_string_equal(mime_lookup(&t, "clip.m4v"), "video/mp4");
	assert_int_equal(t.n, 3);
	mime_free(&t);
	unlink(path);
	free(path);
}

static void
no_or_unknown_extension_is_octet_stream(void **state)
{
	char *path = temp_file("text/plain txt\n");
	struct mime_table t;

	assert_int_equal(mime_load(&t, path), 0);
	assert_string_equal(mime_lookup(&t, "README"), MIME_DEFAULT);
	assert_string_equal(mime_lookup(&t, "dir.txt/README"), MIME_DEFAULT);
	assert_string_equal(mime_lookup(&t, ".txt"), MIME_DEFAULT); /* a dot file */
	assert_string_equal(mime_lookup(&t, "trailing."), MIME_DEFAULT);
	assert_string_equal(mime_lookup(&t, "x.unknown"), MIME_DEFAULT);
	assert_string_equal(mime_lookup(&t, "notes.txt"), "text/plain");
	mime_free(&t);
	unlink(path);
	free(path);
}

static void
missing_mime_types_file_leaves_octet_stream_for_all(void **state)
{
	struct mime_table t;

	assert_int_equal(mime_load(&t, "/nonexistent/mime.types"), -1);
	assert_string_equal(mime_lookup(&t, "a.css"), MIME_DEFAULT);
	mime_free(&t);
}

static void
system_mime_types_know_css_and_html_when_installed(void **state)
{
	struct mime_table t;

	if (mime_load(&t, MIME_TYPES_FILE) != 0)
		skip();
	assert_string_equal(mime_lookup(&t, "a.css"), "text/css");
	assert_string_equal(mime_lookup(&t, "index.html"), "text/html");
	mime_free(&t);
}

static void
backoff_doubles_from_200ms_up_to_30s(void **state)
{
	assert_int_equal(backoff_ms(1), 200);
	assert_int_equal(backoff_ms(2), 400);
	assert_int_equal(backoff_ms(3), 800);
	assert_int_equal(backoff_ms(5), 3200);
	assert_int_equal(backoff_ms(9), 30000);
	assert_int_equal(backoff_ms(100), 30000);
}

static void
retry_after_seconds_and_dates_are_honoured_up_to_60s(void **state)
{
	time_t now = 1700000000; /* Tue, 14 Nov 2023 22:13:20 GMT */

	assert_int_equal(retry_after_ms("3", now), 3000);
	assert_int_equal(retry_after_ms(" 0 ", now), 0);
	assert_int_equal(retry_after_ms("120", now), 60000);
	assert_int_equal(retry_after_ms("99999999999999999999999", now), 60000);
	assert_int_equal(retry_after_ms("Tue, 14 Nov 2023 22:13:30 GMT", now), 10000);
	assert_int_equal(retry_after_ms("Tue, 14 Nov 2023 22:00:00 GMT", now), 0);
	assert_int_equal(retry_after_ms("Wed, 15 Nov 2023 22:13:20 GMT", now), 60000);
	assert_int_equal(retry_after_ms("soon", now), -1);
	assert_int_equal(retry_after_ms("3x", now), -1);
	assert_int_equal(retry_after_ms("", now), -1);
	assert_int_equal(retry_after_ms(NULL, now), -1);
}

static void
rate_limits_and_passing_server_errors_are_retried_full_disk_is_not(void **state)
{
	static const long yes[] = { 429, 500, 502, 503, 504 };
	static const long no[] = { 200, 201, 400, 401, 403, 404, 413, 501, 505, 507 };

	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		assert_true(status_retryable(yes[i]));
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		assert_false(status_retryable(no[i]));
}

static void
token_file_gives_first_token_after_comments_and_blank_lines(void **state)
{
	char *path = temp_file("# tokens for the shields\n\n   \t\n  s3cret-1 push purge # ops\n"
	    "other read\n");
	const char *why = NULL;
	char *tok = token_from_file(path, &why);

	assert_non_null(tok);
	assert_string_equal(tok, "s3cret-1");
	free(tok);
	unlink(path);
	free(path);
}

static void
token_file_without_a_token_or_missing_says_why(void **state)
{
	char *path = temp_file("# nothing here\n\n");
	const char *why = NULL;

	assert_null(token_from_file(path, &why));
	assert_string_equal(why, "no token in it");
	assert_null(token_from_file("/nonexistent/tokens", &why));
	assert_string_equal(why, strerror(ENOENT));
	unlink(path);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(key_is_prefix_plus_path_below_the_directory),
		cmocka_unit_test(prefix_gets_a_leading_slash_and_loses_empty_segments),
		cmocka_unit_test(prefix_with_dot_segments_or_backslash_is_refused),
		cmocka_unit_test(unsafe_bytes_are_percent_encoded_but_slashes_are_not),
		cmocka_unit_test(sub_delims_colon_and_at_stay_as_browsers_send_them),
		cmocka_unit_test(names_with_backslash_or_control_characters_get_no_key),
		cmocka_unit_test(keys_longer_than_1024_bytes_get_no_key),
		cmocka_unit_test(key_rules_match_what_the_push_api_refuses),
		cmocka_unit_test(mime_types_map_extensions_case_insensitively),
		cmocka_unit_test(first_line_naming_an_extension_wins),
		cmocka_unit_test(no_or_unknown_extension_is_octet_stream),
		cmocka_unit_test(missing_mime_types_file_leaves_octet_stream_for_all),
		cmocka_unit_test(system_mime_types_know_css_and_html_when_installed),
		cmocka_unit_test(backoff_doubles_from_200ms_up_to_30s),
		cmocka_unit_test(retry_after_seconds_and_dates_are_honoured_up_to_60s),
		cmocka_unit_test(rate_limits_and_passing_server_errors_are_retried_full_disk_is_not),
		cmocka_unit_test(token_file_gives_first_token_after_comments_and_blank_lines),
		cmocka_unit_test(token_file_without_a_token_or_missing_says_why),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
