/*
 * test_config.c: settings from INI files and flags, and their refusals.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/cfg.h"
#include "util/err.h"

static char errbuf[4096];

/* Write text to a temporary INI file; returns its path (static buffer). */
static const char *
ini_file(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof path, "/tmp/cdn-test-cfg-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static enum cfg_result
parse(struct cfg *cfg, int argc, char **argv)
{
	FILE *out = fopen("/dev/null", "w"), *err = fmemopen(errbuf, sizeof errbuf, "w");
	enum cfg_result r;

	memset(errbuf, 0, sizeof errbuf);
	r = cfg_parse_args(cfg, argc, argv, out, err);
	fclose(out);
	fclose(err);
	return r;
}

static void
sizes_take_binary_suffixes(void **state)
{
	uint64_t v;

	assert_int_equal(cfg_parse_size("64M", &v), CDN_OK);
	assert_true(v == 64ULL << 20);
	assert_int_equal(cfg_parse_size("2G", &v), CDN_OK);
	assert_true(v == 2ULL << 30);
	assert_int_equal(cfg_parse_size("512k", &v), CDN_OK);
	assert_true(v == 512ULL << 10);
	assert_int_equal(cfg_parse_size("1024", &v), CDN_OK);
	assert_true(v == 1024);
	assert_int_equal(cfg_parse_size("10MB", &v), CDN_OK);
	assert_true(v == 10ULL << 20);
}

static void
bad_sizes_are_refused(void **state)
{
	uint64_t v;

	assert_int_equal(cfg_parse_size("banana", &v), CDN_INVAL);
	assert_int_equal(cfg_parse_size("-1", &v), CDN_INVAL);
	assert_int_equal(cfg_parse_size("10X", &v), CDN_INVAL);
	assert_int_equal(cfg_parse_size("", &v), CDN_INVAL);
	assert_int_equal(cfg_parse_size("99999999999999999999", &v), CDN_INVAL);
	assert_int_equal(cfg_parse_size("17179869184G", &v), CDN_INVAL);
}

static void
durations_take_units_and_default_to_seconds(void **state)
{
	uint64_t ms;

	assert_int_equal(cfg_parse_duration_ms("500ms", &ms), CDN_OK);
	assert_true(ms == 500);
	assert_int_equal(cfg_parse_duration_ms("2s", &ms), CDN_OK);
	assert_true(ms == 2000);
	assert_int_equal(cfg_parse_duration_ms("1m", &ms), CDN_OK);
	assert_true(ms == 60000);
	assert_int_equal(cfg_parse_duration_ms("3", &ms), CDN_OK);
	assert_true(ms == 3000);
	assert_int_equal(cfg_parse_duration_ms("1.5s", &ms), CDN_OK);
	assert_true(ms == 1500);
	assert_int_equal(cfg_parse_duration_ms("soon", &ms), CDN_INVAL);
	assert_int_equal(cfg_parse_duration_ms("5 parsecs", &ms), CDN_INVAL);
}

static void
host_port_forms(void **state)
{
	char host[64];
	unsigned port;

	assert_int_equal(cfg_parse_hostport("127.0.0.1:8080", host, sizeof host, &port), CDN_OK);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 8080);
	assert_int_equal(cfg_parse_hostport("[::1]:80", host, sizeof host, &port), CDN_OK);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 80);
	assert_int_equal(cfg_parse_hostport(":0", host, sizeof host, &port), CDN_OK);
	assert_string_equal(host, "0.0.0.0");
	assert_int_equal(port, 0);
	assert_int_equal(cfg_parse_hostport("localhost", host, sizeof host, &port), CDN_INVAL);
	assert_int_equal(cfg_parse_hostport("1.2.3.4:70000", host, sizeof host, &port), CDN_INVAL);
	assert_int_equal(cfg_parse_hostport("::1:80", host, sizeof host, &port), CDN_INVAL);
	assert_int_equal(cfg_parse_hostport("1.2.3.4:", host, sizeof host, &port), CDN_INVAL);
}

static void
only_listen_and_upstream_give_working_defaults(void **state)
{
	struct cfg cfg;
	char *argv[] = { "cdn-edge", "-l", "127.0.0.1:0", "-u", "http://127.0.0.1:8000", NULL };

	cfg_init(&cfg, "edge", "cdn-edge");
	assert_int_equal(parse(&cfg, 5, argv), CFG_RUN);
	assert_string_equal(cfg.listen, "127.0.0.1:0");
	assert_int_equal(cfg.upstream.n, 1);
	assert_true(cfg.mem_size == 256ULL << 20);
	assert_true(cfg.max_object_size == 32ULL << 20);
	assert_true(cfg.max_header_size == 32 << 10);
	cfg_fini(&cfg);
}

static void
ini_file_sets_values_and_lists_accumulate(void **state)
{
	struct cfg cfg;
	const char *path = ini_file("; comment\n[node]\nname = e1\nupstream = http://a:1\n"
	    "upstream = http://b:2\n[cache]\nmem_size = 64M\n[upstream]\ntimeout = 1500ms\n");
	char *argv[] = { "cdn-edge", "-c", (char *)path, NULL };

	cfg_init(&cfg, "edge", "cdn-edge");
	assert_int_equal(parse(&cfg, 3, argv), CFG_RUN);
	assert_string_equal(cfg.name, "e1");
	assert_int_equal(cfg.upstream.n, 2);
	assert_string_equal(cfg.upstream.v[1], "http://b:2");
	assert_true(cfg.mem_size == 64ULL << 20);
	assert_true(cfg.upstream_timeout_ms == 1500);
	cfg_fini(&cfg);
	unlink(path);
}

static void
flags_override_the_file_and_replace_its_lists(void **state)
{
	struct cfg cfg;
	const char *path = ini_file("[node]\nupstream = http://a:1\nupstream = http://b:2\n"
	    "[cache]\nmem_size = 64M\n");
	char *argv[] = { "cdn-edge", "--mem-size", "128M", "-c", (char *)path,
		"-u", "http://c:3", NULL };

	cfg_init(&cfg, "edge", "cdn-edge");
	assert_int_equal(parse(&cfg, 7, argv), CFG_RUN);
	assert_true(cfg.mem_size == 128ULL << 20);
	assert_int_equal(cfg.upstream.n, 1);
	assert_string_equal(cfg.upstream.v[0], "http://c:3");
	cfg_fini(&cfg);
	unlink(path);
}

static void
bad_config_line_names_file_and_line(void **state)
{
	struct cfg cfg;
	const char *path = ini_file("[node]\nupstream = http://a:1\n[cache]\nmem_size = lots\n");
	char *argv[] = { "cdn-edge", "-c", (char *)path, NULL };
	char want[128];

	cfg_init(&cfg, "edge", "cdn-edge");
	assert_int_equal(parse(&cfg, 3, argv), CFG_EXIT_USAGE);
	snprintf(want, sizeof want, "%s:4:", path);
	if (strstr(errbuf, want) == NULL)
		fail_msg("expected \"%s\" in: %s", want, errbuf);
	assert_non_null(strstr(errbuf, "lots"));
	cfg_fini(&cfg);
	unlink(path);
}

static void
unknown_config_key_is_refused_with_its_line(void **state)
{
	struct cfg cfg;
	const char *path = ini_file("[node]\nupstream = http://a:1\nlisten_on = 1\n");
	char *argv[] = { "cdn-edge", "-c", (char *)path, NULL };
	char want[128];

	cfg_init(&cfg, "edge", "cdn-edge");
	assert_int_equal(parse(&cfg, 3, argv), CFG_EXIT_USAGE);
	snprintf(want, sizeof want, "%s:3: unknown setting \"listen_on\"", path);
	if (strstr(errbuf, want) == NULL)
		fail_msg("expected \"%s\" in: %s", want, errbuf);
	cfg_fini(&cfg);
	unlink(path);
}

static void
malformed_config_line_is_refused(void **state)
{
	struct cfg cfg;
	const char *path = ini_file("[node]\nupstream = http://a:1\nthis is not ini\n");
	char *argv[] = { "cdn-edge", "-c", (char *)path, NULL };
	char want[128];

	cfg_init(&cfg, "edge", "cdn-edge");
	assert_int_equal(parse(&cfg, 3, argv), CFG_EXIT_USAGE);
	snprintf(want, sizeof want, "%s:3:", path);
	if (strstr(errbuf, want) == NULL)
		fail_msg("expected \"%s\" in: %s", want, errbuf);
	cfg_fini(&cfg);
	unlink(path);
}

static void
missing_config_file_is_refused(void **state)
{
	struct cfg cfg;
	char *argv[] = { "cdn-edge", "-c", "/nonexistent/cdn.ini", NULL };

	cfg_init(&cfg, "edge", "cdn-edge");
	assert_int_equal(parse(&cfg, 3, argv), CFG_EXIT_USAGE);
	assert_non_null(strstr(errbuf, "/nonexistent/cdn.ini"));
	cfg_fini(&cfg);
}

static void
unknown_flag_and_stray_argument_are_usage_errors(void **state)
{
	struct cfg cfg;
	char *argv1[] = { "cdn-edge", "--frobnicate", "-u", "http://a:1", NULL };
	char *argv2[] = { "cdn-edge", "-u", "http://a:1", "extra", NULL };

	cfg_init(&cfg, "edge", "cdn-edge");
	assert_int_equal(parse(&cfg, 4, argv1), CFG_EXIT_USAGE);
	assert_non_null(strstr(errbuf, "--frobnicate"));
	cfg_fini(&cfg);
	cfg_init(&cfg, "edge", "cdn-edge");
	assert_int_equal(parse(&cfg, 4, argv2), CFG_EXIT_USAGE);
	assert_non_null(strstr(errbuf, "extra"));
	cfg_fini(&cfg);
}

static void
upstream_must_be_an_http_url(void **state)
{
	struct cfg cfg;
	char *argv[] = { "cdn-edge", "-u", "ftp://a:1", NULL };
	char *argv2[] = { "cdn-edge", NULL };

	cfg_init(&cfg, "edge", "cdn-edge");
	assert_int_equal(parse(&cfg, 3, argv), CFG_EXIT_USAGE);
	assert_non_null(strstr(errbuf, "http://"));
	cfg_fini(&cfg);
	cfg_init(&cfg, "edge", "cdn-edge");
	assert_int_equal(parse(&cfg, 1, argv2), CFG_EXIT_USAGE);
	assert_non_null(strstr(errbuf, "no upstream"));
	cfg_fini(&cfg);
}

static void
help_and_version_exit_zero(void **state)
{
	struct cfg cfg;
	char *argv1[] = { "cdn-edge", "--help", NULL };
	char *argv2[] = { "cdn-edge", "-V", NULL };

	cfg_init(&cfg, "edge", "cdn-edge");
	assert_int_equal(parse(&cfg, 2, argv1), CFG_EXIT_OK);
	assert_int_equal(parse(&cfg, 2, argv2), CFG_EXIT_OK);
	cfg_fini(&cfg);
}

static void
set_reaches_any_setting_by_section_and_key(void **state)
{
	struct cfg cfg;
	char *argv[] = { "cdn-edge", "-u", "http://a:1", "--set", "limits.max_url_length=100",
		"--set", "log.level=debug", NULL };
	char *bad[] = { "cdn-edge", "-u", "http://a:1", "--set", "limits.nope=1", NULL };

	cfg_init(&cfg, "edge", "cdn-edge");
	assert_int_equal(parse(&cfg, 7, argv), CFG_RUN);
	assert_true(cfg.max_url_length == 100);
	assert_int_equal(cfg.log_level, 3);
	cfg_fini(&cfg);
	cfg_init(&cfg, "edge", "cdn-edge");
	assert_int_equal(parse(&cfg, 5, bad), CFG_EXIT_USAGE);
	assert_non_null(strstr(errbuf, "limits.nope"));
	cfg_fini(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sizes_take_binary_suffixes),
		cmocka_unit_test(bad_sizes_are_refused),
		cmocka_unit_test(durations_take_units_and_default_to_seconds),
		cmocka_unit_test(host_port_forms),
		cmocka_unit_test(only_listen_and_upstream_give_working_defaults),
		cmocka_unit_test(ini_file_sets_values_and_lists_accumulate),
		cmocka_unit_test(flags_override_the_file_and_replace_its_lists),
		cmocka_unit_test(bad_config_line_names_file_and_line),
		cmocka_unit_test(unknown_config_key_is_refused_with_its_line),
		cmocka_unit_test(malformed_config_line_is_refused),
		cmocka_unit_test(missing_config_file_is_refused),
		cmocka_unit_test(unknown_flag_and_stray_argument_are_usage_errors),
		cmocka_unit_test(upstream_must_be_an_http_url),
		cmocka_unit_test(help_and_version_exit_zero),
		cmocka_unit_test(set_reaches_any_setting_by_section_and_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
