/* Check suite: common/log.c, JSON-lines logging. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "clock.h"
#include "log.h"

static FILE	*cap;

static void	align_second(void);

static void
setup(void)
{
	cap = tmpfile();
	ck_assert_ptr_nonnull(cap);
	log_init("testproc", LOG_LEVEL_INFO);
	log_set_stream(cap);
	log_set_rate_limit(0);
}

static void
teardown(void)
{
	log_set_stream(NULL);
	fclose(cap);
	cap = NULL;
}

/* Every line written to fp so far, each parsed as JSON, in a json array.
 * Fails the test on a line that is not one complete JSON object. */
static json_t *
lines_of(FILE *fp)
{
	json_t		*arr = json_array(), *obj;
	json_error_t	 jerr;
	char		*line = NULL;
	size_t		 cap_len = 0;
	ssize_t		 n;
	long		 pos = ftell(fp);

	rewind(fp);
	while ((n = getline(&line, &cap_len, fp)) > 0) {
		ck_assert_msg(line[n - 1] == '\n', "unterminated line");
		obj = json_loadb(line, (size_t)n - 1, 0, &jerr);
		ck_assert_msg(json_is_object(obj), "bad line %s: %s", line,
		    jerr.text);
		json_array_append_new(arr, obj);
	}
	free(line);
	fseek(fp, pos, SEEK_SET);
	return (arr);
}

static size_t
count_event(json_t *lines, const char *event)
{
	json_t	*o;
	size_t	 i, n = 0;

	json_array_foreach(lines, i, o)
		if (strcmp(json_string_value(json_object_get(o, "event")),
		    event) == 0)
			n++;
	return (n);
}

START_TEST(line_format)
{
	json_t		*lines, *o;
	const char	*key;
	json_t		*v;
	regex_t		 re;
	const char	*order[] = { "ts", "level", "proc", "event", "worker",
	    "port", "diff" };
	size_t		 i = 0;
	struct tm	 tm;
	time_t		 t;

	log_info("miner_connected", "{s:s,s:i,s:f}", "worker", "w\"1\n",
	    "port", 3351, "diff", 0.5);
	lines = lines_of(cap);
	ck_assert_uint_eq(json_array_size(lines), 1);
	o = json_array_get(lines, 0);

	/* fixed keys first, then the fields in the order given */
	json_object_foreach(o, key, v) {
		ck_assert_uint_lt(i, 7);
		ck_assert_str_eq(key, order[i]);
		i++;
	}
	ck_assert_uint_eq(i, 7);
	ck_assert_str_eq(json_string_value(json_object_get(o, "level")), "info");
	ck_assert_str_eq(json_string_value(json_object_get(o, "proc")),
	    "testproc");
	ck_assert_str_eq(json_string_value(json_object_get(o, "event")),
	    "miner_connected");
	ck_assert_str_eq(json_string_value(json_object_get(o, "worker")),
	    "w\"1\n");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "port")), 3351);
	ck_assert_double_eq(json_real_value(json_object_get(o, "diff")), 0.5);

	/* RFC 3339 UTC with milliseconds, and about now */
	ck_assert_int_eq(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T"
	    "[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$", REG_EXTENDED), 0);
	key = json_string_value(json_object_get(o, "ts"));
	ck_assert_msg(regexec(&re, key, 0, NULL, 0) == 0, "ts %s", key);
	regfree(&re);
	memset(&tm, 0, sizeof(tm));
	ck_assert_ptr_nonnull(strptime(key, "%Y-%m-%dT%H:%M:%S", &tm));
	t = timegm(&tm);
	ck_assert(labs((long)(t - time(NULL))) <= 5);
	json_decref(lines);
}
END_TEST

START_TEST(no_fields)
{
	json_t	*lines, *o;

	log_warn("pool_down", NULL);
	log_error("bye", NULL);
	lines = lines_of(cap);
	ck_assert_uint_eq(json_array_size(lines), 2);
	o = json_array_get(lines, 0);
	ck_assert_uint_eq(json_object_size(o), 4);
	ck_assert_str_eq(json_string_value(json_object_get(o, "level")), "warn");
	o = json_array_get(lines, 1);
	ck_assert_str_eq(json_string_value(json_object_get(o, "level")),
	    "error");
	ck_assert_str_eq(json_string_value(json_object_get(o, "event")), "bye");
	json_decref(lines);
}
END_TEST

START_TEST(text_lines)
{
	char	 line[512], want[256];
	char	*sp;

	log_set_json(false);
	log_info("pool_switched", "{s:I,s:s,s:s,s:f,s:b}", "miner",
	    (json_int_t)7, "to", "B", "worker", "rig 1 \"x\"\nfake=1",
	    "diff", 0.5, "ok", 1);
	log_warn("bare", NULL);
	log_set_json(true);
	rewind(cap);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), cap));
	/* "2026-...Z info testproc pool_switched miner=7 ..." */
	ck_assert_ptr_nonnull(sp = strchr(line, ' '));
	ck_assert(sp - line == 24 && line[23] == 'Z');
	snprintf(want, sizeof(want), " info testproc pool_switched miner=7 "
	    "to=B worker=\"rig 1 \\\"x\\\"\\nfake=1\" diff=0.5 ok=true\n");
	ck_assert_str_eq(sp, want);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), cap));
	ck_assert_ptr_nonnull(strstr(line, " warn testproc bare\n"));
	ck_assert_ptr_null(fgets(line, sizeof(line), cap));
}
END_TEST

START_TEST(pack_failure)
{
	json_t	*lines, *o;

	/* a NULL string is a pack error: the event is still logged */
	log_info("share_result", "{s:s,s:i}", "worker", (char *)NULL,
	    "n", 1);
	/* and a field may not replace a fixed key */
	log_info("spoof", "{s:s,s:s}", "event", "other", "x", "y");
	lines = lines_of(cap);
	ck_assert_uint_eq(json_array_size(lines), 2);
	o = json_array_get(lines, 0);
	ck_assert_str_eq(json_string_value(json_object_get(o, "event")),
	    "share_result");
	ck_assert(json_is_string(json_object_get(o, "log_error")));
	ck_assert_ptr_null(json_object_get(o, "worker"));
	o = json_array_get(lines, 1);
	ck_assert_str_eq(json_string_value(json_object_get(o, "event")),
	    "spoof");
	ck_assert_str_eq(json_string_value(json_object_get(o, "x")), "y");
	json_decref(lines);
}
END_TEST

static int	side_effects;

static int
bump(void)
{
	return (++side_effects);
}

START_TEST(level_filter)
{
	json_t	*lines;

	log_set_level(LOG_LEVEL_WARN);
	ck_assert_int_eq(log_get_level(), LOG_LEVEL_WARN);
	ck_assert(!log_enabled(LOG_LEVEL_INFO));
	ck_assert(log_enabled(LOG_LEVEL_ERROR));
	log_info("dropped", NULL);
	log_debug("dropped", "{s:i}", "n", bump());
	log_warn("kept", NULL);
	log_error("kept", NULL);
	/* log_debug does not even evaluate its arguments when off */
	ck_assert_int_eq(side_effects, 0);
	lines = lines_of(cap);
	ck_assert_uint_eq(json_array_size(lines), 2);
	ck_assert_uint_eq(count_event(lines, "dropped"), 0);
	json_decref(lines);

	log_set_level(LOG_LEVEL_DEBUG);
	log_debug("debugged", "{s:i}", "n", bump());
	ck_assert_int_eq(side_effects, 1);
	lines = lines_of(cap);
	ck_assert_uint_eq(count_event(lines, "debugged"), 1);
	json_decref(lines);
}
END_TEST

/* "o" hands over a reference: kept or dropped, the line consumes it. */
START_TEST(stolen_refs)
{
	json_t	*obj = json_pack("{s:i}", "a", 1), *lines;

	log_set_rate_limit(1);
	align_second();
	json_incref(obj);
	log_info("with_obj", "{s:o}", "o", obj);	/* written */
	ck_assert_int_eq(obj->refcount, 1);
	json_incref(obj);
	log_info("with_obj", "{s:o}", "o", obj);	/* rate-limited */
	ck_assert_int_eq(obj->refcount, 1);
	log_set_level(LOG_LEVEL_ERROR);
	json_incref(obj);
	log_info("with_obj", "{s:O}", "o", obj);	/* filtered, "O" */
	ck_assert_int_eq(obj->refcount, 2);
	json_decref(obj);
	json_incref(obj);
	log_warn("filtered", "{s:o}", "o", obj);	/* filtered */
	ck_assert_int_eq(obj->refcount, 1);
	lines = lines_of(cap);
	ck_assert_uint_eq(json_array_size(lines), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
	    json_array_get(lines, 0), "o"), "a")), 1);
	json_decref(lines);
	json_decref(obj);
}
END_TEST

START_TEST(level_names)
{
	ck_assert_int_eq(log_level_parse("debug"), LOG_LEVEL_DEBUG);
	ck_assert_int_eq(log_level_parse("info"), LOG_LEVEL_INFO);
	ck_assert_int_eq(log_level_parse("warn"), LOG_LEVEL_WARN);
	ck_assert_int_eq(log_level_parse("warning"), LOG_LEVEL_WARN);
	ck_assert_int_eq(log_level_parse("ERROR"), LOG_LEVEL_ERROR);
	ck_assert_int_eq(log_level_parse("verbose"), -1);
	ck_assert_int_eq(log_level_parse(""), -1);
	ck_assert_int_eq(log_level_parse(NULL), -1);
	ck_assert_str_eq(log_level_name(LOG_LEVEL_DEBUG), "debug");
	ck_assert_str_eq(log_level_name(LOG_LEVEL_INFO), "info");
	ck_assert_str_eq(log_level_name(LOG_LEVEL_WARN), "warn");
	ck_assert_str_eq(log_level_name(LOG_LEVEL_ERROR), "error");
}
END_TEST

/* Wait until early in a monotonic second, so a burst of lines lands in
 * one rate-limit window. */
static void
align_second(void)
{
	while (clock_mono_ms() % 1000 >= 200)
		usleep(10000);
}

static void
next_second(void)
{
	uint64_t	 a = clock_mono_ms() / 1000;

	do
		usleep(10000);
	while (clock_mono_ms() / 1000 == a);
}

START_TEST(rate_limit)
{
	json_t	*lines, *o;
	size_t	 i;
	int	 n;

	log_set_rate_limit(3);
	align_second();
	for (n = 0; n < 10; n++)
		log_info("flood", "{s:i}", "n", n);
	log_info("other", NULL);
	log_info("other", NULL);
	lines = lines_of(cap);
	ck_assert_uint_eq(count_event(lines, "flood"), 3);
	ck_assert_uint_eq(count_event(lines, "other"), 2);
	/* the first three got through, none reports suppression */
	json_array_foreach(lines, i, o)
		ck_assert_ptr_null(json_object_get(o, "suppressed"));
	ck_assert_int_eq(json_integer_value(json_object_get(
	    json_array_get(lines, 2), "n")), 2);
	json_decref(lines);

	/* next window: the first line says how many were dropped */
	next_second();
	log_info("flood", "{s:i}", "n", 100);
	log_info("flood", "{s:i}", "n", 101);
	lines = lines_of(cap);
	ck_assert_uint_eq(json_array_size(lines), 7);
	o = json_array_get(lines, 5);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "n")), 100);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "suppressed")),
	    7);
	o = json_array_get(lines, 6);
	ck_assert_ptr_null(json_object_get(o, "suppressed"));
	json_decref(lines);
}
END_TEST

START_TEST(rate_unlimited)
{
	json_t	*lines;
	int	 n;

	for (n = 0; n < 500; n++)
		log_info("flood", "{s:i}", "n", n);
	lines = lines_of(cap);
	ck_assert_uint_eq(count_event(lines, "flood"), 500);
	json_decref(lines);
}
END_TEST

/* Many distinct events: more than the table holds are still logged. */
START_TEST(rate_many_events)
{
	json_t	*lines;
	char	 ev[32];
	int	 n;

	log_set_rate_limit(1);
	align_second();
	for (n = 0; n < 300; n++) {
		snprintf(ev, sizeof(ev), "ev%d", n);
		log_info(ev, NULL);
	}
	lines = lines_of(cap);
	ck_assert_uint_eq(json_array_size(lines), 300);
	json_decref(lines);
}
END_TEST

static FILE *
open_read(const char *path)
{
	FILE	*fp = fopen(path, "r");

	ck_assert_msg(fp != NULL, "open %s", path);
	return (fp);
}

START_TEST(file_reopen)
{
	char	 dir[] = "/tmp/dpmp_test_log.XXXXXX";
	char	 path[256], rotated[256], bad[300];
	FILE	*fp;
	json_t	*lines;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/dpmp.log", dir);
	snprintf(rotated, sizeof(rotated), "%s/dpmp.log.1", dir);
	snprintf(bad, sizeof(bad), "%s/missing/dir.log", dir);

	/* append: what is there stays */
	fp = fopen(path, "w");
	fputs("{\"event\":\"old\"}\n", fp);
	fclose(fp);
	ck_assert_int_eq(log_open_file(path), 0);
	log_info("first", NULL);

	/* logrotate moves the file; lines follow the open descriptor
	 * until the reopen */
	ck_assert_int_eq(rename(path, rotated), 0);
	log_info("second", NULL);
	ck_assert_int_eq(log_reopen(), 0);
	log_info("third", NULL);

	/* a failed open keeps the current file */
	ck_assert_int_eq(log_open_file(bad), -1);
	log_info("fourth", NULL);

	fp = open_read(rotated);
	lines = lines_of(fp);
	fclose(fp);
	ck_assert_uint_eq(json_array_size(lines), 3);
	ck_assert_uint_eq(count_event(lines, "old"), 1);
	ck_assert_uint_eq(count_event(lines, "first"), 1);
	ck_assert_uint_eq(count_event(lines, "second"), 1);
	json_decref(lines);

	fp = open_read(path);
	lines = lines_of(fp);
	fclose(fp);
	ck_assert_uint_eq(json_array_size(lines), 2);
	ck_assert_uint_eq(count_event(lines, "third"), 1);
	ck_assert_uint_eq(count_event(lines, "fourth"), 1);
	json_decref(lines);

	/* back to stderr; nothing more reaches the file */
	ck_assert_int_eq(log_open_file(NULL), 0);
	ck_assert_int_eq(log_reopen(), 0);
	log_set_stream(cap);
	log_info("fifth", NULL);
	fp = open_read(path);
	lines = lines_of(fp);
	fclose(fp);
	ck_assert_uint_eq(json_array_size(lines), 2);
	json_decref(lines);
	lines = lines_of(cap);
	ck_assert_uint_eq(count_event(lines, "fifth"), 1);
	json_decref(lines);

	unlink(path);
	unlink(rotated);
	rmdir(dir);
}
END_TEST

static Suite *
log_suite(void)
{
	Suite	*s = suite_create("log");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, line_format);
	tcase_add_test(tc, no_fields);
	tcase_add_test(tc, pack_failure);
	tcase_add_test(tc, level_filter);
	tcase_add_test(tc, level_names);
	tcase_add_test(tc, stolen_refs);
	tcase_add_test(tc, rate_limit);
	tcase_add_test(tc, rate_unlimited);
	tcase_add_test(tc, rate_many_events);
	tcase_add_test(tc, file_reopen);
	tcase_add_test(tc, text_lines);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(log_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
