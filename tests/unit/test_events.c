/*
 * test_events.c: the invalidation log (ctl/events): sequence numbers and
 * unique ids, duplicates, cursors in the same transaction, retention,
 * where a reader resumes (or must reset), persistence across reopening,
 * the private temporary directory, waiting, and format versions.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "ctl/events.h"
#include "util/err.h"

static char dir[256];

static int
setup(void **state)
{
	snprintf(dir, sizeof dir, "%s/test-events-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int
teardown(void **state)
{
	char cmd[400];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static json_t *
purge_body(const char *url)
{
	return json_pack("{s:[s],s:b}", "urls", url, "soft", 0);
}

static void
append_local(struct events *ev, const char *url, struct events_added *out)
{
	json_t *b = purge_body(url);

	assert_int_equal(events_append(ev, b, "api", NULL, NULL, out), CDN_OK);
	json_decref(b);
}

static void
collect(void *arg, uint64_t seq, const char *body)
{
	char *s = arg;
	char num[32];

	snprintf(num, sizeof num, "%llu,", (unsigned long long)seq);
	strcat(s, num);
	assert_non_null(strstr(body, "\"uid\""));
}

static void
local_events_get_dense_seqs_and_unique_ids(void **state)
{
	struct events *ev;
	struct events_added a;
	char want[64], id[EVENTS_ID_MAX];
	uint64_t first, head;

	assert_int_equal(events_open(dir, 100, &ev), CDN_OK);
	assert_int_equal(strlen(events_log_id(ev)), EVENTS_LOGID_LEN);
	assert_true(events_durable(ev));
	for (int i = 1; i <= 3; i++) {
		append_local(ev, "/a", &a);
		assert_int_equal(a.seq, i);
		assert_false(a.duplicate);
		snprintf(want, sizeof want, "%s:%d", events_log_id(ev), i);
		assert_string_equal(a.uid, want);
		assert_true(events_has(ev, a.uid, NULL));
	}
	events_bounds(ev, &first, &head);
	assert_int_equal(first, 1);
	assert_int_equal(head, 3);
	events_format_id(ev, 3, id, sizeof id);
	snprintf(want, sizeof want, "%s-3", events_log_id(ev));
	assert_string_equal(id, want);
	events_close(&ev);
	assert_null(ev);
}

static void
a_known_uid_is_a_duplicate_but_moves_the_cursor(void **state)
{
	struct events *ev;
	struct events_added a, b;
	json_t *body = json_pack("{s:[s],s:s}", "urls", "/x", "uid", "00112233aabbccdd:7");
	char cur[EVENTS_ID_MAX];
	uint64_t head;

	assert_int_equal(events_open(dir, 100, &ev), CDN_OK);
	assert_int_equal(events_append(ev, body, "http://up1", "http://up1", "00112233aabbccdd-7", &a),
	    CDN_OK);
	assert_false(a.duplicate);
	assert_string_equal(a.uid, "00112233aabbccdd:7");
	assert_int_equal(a.seq, 1);
	assert_true(events_cursor_get(ev, "http://up1", cur, sizeof cur));
	assert_string_equal(cur, "00112233aabbccdd-7");
	/* The same event from another upstream. */
	assert_int_equal(events_append(ev, body, "http://up2", "http://up2", "99887766aabbccdd-3", &b),
	    CDN_OK);
	assert_true(b.duplicate);
	assert_int_equal(b.time_ms, a.time_ms);
	events_bounds(ev, NULL, &head);
	assert_int_equal(head, 1);
	assert_true(events_cursor_get(ev, "http://up2", cur, sizeof cur));
	assert_string_equal(cur, "99887766aabbccdd-3");
	assert_false(events_cursor_get(ev, "http://up3", cur, sizeof cur));
	json_decref(body);
	events_close(&ev);
}

static void
retention_keeps_the_newest_events(void **state)
{
	struct events *ev;
	struct events_added a;
	char got[256] = "";
	uint64_t first, head;

	assert_int_equal(events_open(dir, 3, &ev), CDN_OK);
	for (int i = 0; i < 5; i++)
		append_local(ev, "/r", &a);
	events_bounds(ev, &first, &head);
	assert_int_equal(first, 3);
	assert_int_equal(head, 5);
	assert_int_equal(events_read(ev, 0, 100, collect, got), 3);
	assert_string_equal(got, "3,4,5,");
	got[0] = '\0';
	assert_int_equal(events_read(ev, 3, 1, collect, got), 1);
	assert_string_equal(got, "4,");
	assert_int_equal(events_read(ev, 5, 10, collect, got), 0);
	events_close(&ev);
}

static void
readers_resume_or_reset(void **state)
{
	struct events *ev;
	struct events_added a;
	char id[EVENTS_ID_MAX], other[EVENTS_ID_MAX];
	uint64_t from = 99;

	assert_int_equal(events_open(dir, 3, &ev), CDN_OK);
	assert_true(events_resume(ev, NULL, &from));
	assert_int_equal(from, 0);
	for (int i = 0; i < 2; i++)
		append_local(ev, "/z", &a);
	/* A stranger's id while nothing was trimmed: everything is news. */
	assert_true(events_resume(ev, "0123456789abcdef-40", &from));
	assert_int_equal(from, 0);
	for (int i = 0; i < 3; i++)
		append_local(ev, "/z", &a);          /* head 5, first 3 */
	assert_true(events_resume(ev, NULL, &from));
	assert_int_equal(from, 5);
	assert_true(events_resume(ev, "", &from));
	assert_int_equal(from, 5);
	events_format_id(ev, 2, id, sizeof id);
	assert_true(events_resume(ev, id, &from));  /* next is 3: kept */
	assert_int_equal(from, 2);
	assert_true(events_resume(ev, "4", &from));  /* bare seq: this log */
	assert_int_equal(from, 4);
	events_format_id(ev, 1, id, sizeof id);
	assert_false(events_resume(ev, id, &from)); /* 2 was trimmed */
	assert_int_equal(from, 5);
	events_format_id(ev, 9, id, sizeof id);
	assert_false(events_resume(ev, id, &from)); /* from the future */
	snprintf(other, sizeof other, "0123456789abcdef-2");
	assert_false(events_resume(ev, other, &from)); /* another log, trimmed */
	assert_false(events_resume(ev, "garbage", &from));
	assert_false(events_resume(ev, "0123-5", &from));
	events_close(&ev);
}

static void
the_log_survives_reopening(void **state)
{
	struct events *ev;
	struct events_added a;
	char logid[EVENTS_LOGID_LEN + 1], cur[EVENTS_ID_MAX];
	uint64_t first, head;

	assert_int_equal(events_open(dir, 100, &ev), CDN_OK);
	snprintf(logid, sizeof logid, "%s", events_log_id(ev));
	append_local(ev, "/p", &a);
	append_local(ev, "/q", &a);
	assert_int_equal(events_cursor_set(ev, "http://up", "fedcba9876543210-12"), CDN_OK);
	events_close(&ev);

	assert_int_equal(events_open(dir, 100, &ev), CDN_OK);
	assert_string_equal(events_log_id(ev), logid);
	events_bounds(ev, &first, &head);
	assert_int_equal(first, 1);
	assert_int_equal(head, 2);
	assert_true(events_cursor_get(ev, "http://up", cur, sizeof cur));
	assert_string_equal(cur, "fedcba9876543210-12");
	append_local(ev, "/r", &a);
	assert_int_equal(a.seq, 3);
	events_close(&ev);
}

static void
without_a_dir_the_log_is_private_and_removed(void **state)
{
	struct events *ev;
	struct events_added a;
	char path[512];
	struct stat st;

	assert_int_equal(events_open(NULL, 10, &ev), CDN_OK);
	assert_false(events_durable(ev));
	snprintf(path, sizeof path, "%s", events_path(ev));
	assert_int_equal(stat(path, &st), 0);
	append_local(ev, "/t", &a);
	events_close(&ev);
	assert_int_not_equal(stat(path, &st), 0);
	*strrchr(path, '/') = '\0';
	assert_int_not_equal(stat(path, &st), 0);
}

static void
waiting_sees_news_times_out_and_wakes(void **state)
{
	struct events *ev;
	struct events_added a;

	assert_int_equal(events_open(dir, 10, &ev), CDN_OK);
	assert_false(events_wait(ev, 0, 20));
	append_local(ev, "/w", &a);
	assert_true(events_wait(ev, 0, 5000));
	assert_false(events_wait(ev, 1, 10));
	events_wake_all(ev);
	assert_false(events_wait(ev, 0, 5000)); /* stopping: no more news */
	events_close(&ev);
}

static void
another_format_version_is_moved_aside(void **state)
{
	struct events *ev;
	struct events_added a;
	char logid[EVENTS_LOGID_LEN + 1], path[512];
	sqlite3 *db;
	uint64_t head;

	assert_int_equal(events_open(dir, 10, &ev), CDN_OK);
	snprintf(logid, sizeof logid, "%s", events_log_id(ev));
	snprintf(path, sizeof path, "%s", events_path(ev));
	append_local(ev, "/v", &a);
	events_close(&ev);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE meta SET v = '0' WHERE k = 'version'", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(events_open(dir, 10, &ev), CDN_OK);
	assert_string_not_equal(events_log_id(ev), logid);
	events_bounds(ev, NULL, &head);
	assert_int_equal(head, 0);
	events_close(&ev);
}

static void
ids_parse(void **state)
{
	char logid[EVENTS_LOGID_LEN + 1];
	uint64_t seq;

	assert_true(events_parse_id("0123456789abcdef-42", logid, &seq));
	assert_string_equal(logid, "0123456789abcdef");
	assert_int_equal(seq, 42);
	assert_true(events_parse_id("7", logid, &seq));
	assert_string_equal(logid, "");
	assert_int_equal(seq, 7);
	assert_false(events_parse_id("0123456789ABCDEF-1", logid, &seq));
	assert_false(events_parse_id("0123456789abcdef-", logid, &seq));
	assert_false(events_parse_id("0123456789abcdef-1x", logid, &seq));
	assert_false(events_parse_id("", logid, &seq));
	assert_false(events_parse_id("-1", logid, &seq));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(local_events_get_dense_seqs_and_unique_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(a_known_uid_is_a_duplicate_but_moves_the_cursor, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(retention_keeps_the_newest_events, setup, teardown),
		cmocka_unit_test_setup_teardown(readers_resume_or_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(the_log_survives_reopening, setup, teardown),
		cmocka_unit_test(without_a_dir_the_log_is_private_and_removed),
		cmocka_unit_test_setup_teardown(waiting_sees_news_times_out_and_wakes, setup, teardown),
		cmocka_unit_test_setup_teardown(another_format_version_is_moved_aside, setup, teardown),
		cmocka_unit_test(ids_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
