/* Check suite: controlplane/state.c and the live changes in cp.c that it
 * persists (weights, pins, pool and scheduler edits), reloaded the way
 * dpmp-controlplane does at start. */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "config.h"
#include "cp.h"
#include "log.h"
#include "state.h"

static char	 dir[64];
static FILE	*logfp;

static void
rm_rf(const char *path)
{
	char	 cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", path);
}

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/dpmp-cpstate-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	logfp = tmpfile();
	log_init("test", LOG_LEVEL_INFO);
	log_set_stream(logfp);
	log_set_rate_limit(0);
}

static void
teardown(void)
{
	log_set_stream(NULL);
	fclose(logfp);
	rm_rf(dir);
}

/* The config a test runs with: two pools at 70:30, state in dir. */
static void
load_config(struct config *cfg)
{
	char	 err[256];
	json_t	*root;

	root = json_pack("{s:s,s:{s:s},s:{s:{s:s,s:i,s:s,s:s,s:s},"
	    "s:{s:s,s:i}},s:{s:i,s:i}}",
	    "state_dir", dir,
	    "http", "token", "tok",
	    "pools",
	    "A", "host", "a.example", "port", 3333, "wallet", "wa",
	    "password", "pa", "chain", "BTC",
	    "B", "host", "b.example", "port", 3334,
	    "scheduler", "poolA_weight", 70, "poolB_weight", 30);
	ck_assert_ptr_nonnull(root);
	ck_assert_msg(config_load_json(root, cfg, err, sizeof(err)) == 0,
	    "%s", err);
	json_decref(root);
}

/* What dpmp-controlplane does at start: config, then state.json on top. */
static void
reload(struct config *cfg, json_t **overlay)
{
	char err[256];

	load_config(cfg);
	ck_assert_msg(state_load(dir, overlay, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_msg(cp_overlay_apply(cfg, *overlay, err, sizeof(err)) == 0,
	    "%s", err);
}

static struct cp *
new_cp(struct config *cfg)
{
	json_t		*overlay;
	struct cp	*cp;

	reload(cfg, &overlay);
	cp = cp_new(cfg, overlay);
	json_decref(overlay);
	ck_assert_ptr_nonnull(cp);
	return cp;
}

static void
write_file(const char *name, const char *text)
{
	char	 path[128];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
}

/* ---- state.c ------------------------------------------------------------ */

START_TEST(missing_file_is_empty_overlay)
{
	json_t	*ov = NULL;
	char	 err[256];

	ck_assert_int_eq(state_load(dir, &ov, err, sizeof(err)), 0);
	ck_assert(json_is_object(ov));
	ck_assert_uint_eq(json_object_size(ov), 0);
	json_decref(ov);
}
END_TEST

START_TEST(save_then_load)
{
	json_t	*ov, *back = NULL;
	char	 err[256];

	ov = json_pack("{s:{s:i,s:f},s:{s:s}}", "weights", "A", 60, "B",
	    40.5, "pins", "rig<1>", "B");
	ck_assert_int_eq(state_save(dir, ov, err, sizeof(err)), 0);
	ck_assert_int_eq(state_load(dir, &back, err, sizeof(err)), 0);
	ck_assert(json_equal(ov, back));
	json_decref(ov);
	json_decref(back);
}
END_TEST

START_TEST(save_is_private_and_leaves_no_temp)
{
	json_t		*ov = json_pack("{s:{s:{s:s}}}", "pools", "A",
			    "password", "secret");
	struct dirent	*de;
	struct stat	 st;
	char		 path[128], err[256];
	DIR		*d;
	int		 n = 0;

	ck_assert_int_eq(state_save(dir, ov, err, sizeof(err)), 0);
	ck_assert_int_eq(state_save(dir, ov, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	ck_assert_int_eq(stat(path, &st), 0);
	/* live pool edits carry passwords */
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	d = opendir(dir);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	ck_assert_int_eq(n, 1);
	json_decref(ov);
}
END_TEST

START_TEST(save_replaces_by_rename)
{
	json_t	*v1 = json_pack("{s:{s:i}}", "weights", "A", 1);
	json_t	*v2 = json_pack("{s:{s:i}}", "weights", "A", 2);
	json_t	*old;
	char	 path[128], link_path[128], err[256];
	json_error_t jerr;

	ck_assert_int_eq(state_save(dir, v1, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	snprintf(link_path, sizeof(link_path), "%s/old.json", dir);
	ck_assert_int_eq(link(path, link_path), 0);
	ck_assert_int_eq(state_save(dir, v2, err, sizeof(err)), 0);
	/*
	 * The old inode still holds the old document: the new one was
	 * written beside it and renamed over, never truncated in place, so
	 * a crash mid-write cannot leave a half file under the real name.
	 */
	old = json_load_file(link_path, 0, &jerr);
	ck_assert_ptr_nonnull(old);
	ck_assert(json_equal(old, v1));
	json_decref(old);
	json_decref(v1);
	json_decref(v2);
}
END_TEST

START_TEST(malformed_file_names_the_file)
{
	json_t	*ov = NULL;
	char	 err[256];

	write_file("state.json", "{\"weights\": {\"A\": ");
	ck_assert_int_eq(state_load(dir, &ov, err, sizeof(err)), -1);
	ck_assert_ptr_null(ov);
	ck_assert_ptr_nonnull(strstr(err, "state.json"));
	write_file("state.json", "[1, 2]");
	ck_assert_int_eq(state_load(dir, &ov, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a JSON object"));
}
END_TEST

START_TEST(save_to_missing_dir_fails)
{
	json_t	*ov = json_object();
	char	 path[128], err[256] = "";

	snprintf(path, sizeof(path), "%s/nope/deeper", dir);
	ck_assert_int_eq(state_save(path, ov, err, sizeof(err)), -1);
	ck_assert_str_ne(err, "");
	json_decref(ov);
}
END_TEST

START_TEST(dir_ensure_makes_parents)
{
	struct stat	 st;
	char		 path[128], err[256];

	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	ck_assert_int_eq(state_dir_ensure(path, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	/* again: already there is fine */
	ck_assert_int_eq(state_dir_ensure(path, err, sizeof(err)), 0);
}
END_TEST

START_TEST(config_part_keeps_pins_out)
{
	json_t *ov = json_pack("{s:{s:i},s:{s:s},s:{s:i},s:{s:{}}}",
	    "weights", "A", 1, "pins", "w", "A", "scheduler",
	    "slice_seconds", 5, "pools", "A");
	json_t *part = state_config_part(ov);

	ck_assert_ptr_nonnull(json_object_get(part, "weights"));
	ck_assert_ptr_nonnull(json_object_get(part, "scheduler"));
	ck_assert_ptr_nonnull(json_object_get(part, "pools"));
	ck_assert_ptr_null(json_object_get(part, "pins"));
	json_decref(part);
	json_decref(ov);
}
END_TEST

/* ---- live changes, persisted and reloaded --------------------------------- */

START_TEST(weights_persist_and_reload)
{
	struct config	 cfg, again;
	struct cp	*cp = new_cp(&cfg);
	const char	*keys[2] = { "A", "B" };
	double		 w[2] = { 60, 40 };
	json_t		*ov;
	char		 err[256];

	ck_assert_int_eq(cp_set_weights(cp, keys, w, 2, "test", err,
	    sizeof(err)), CP_OK);
	ck_assert(cp_config(cp)->pools[0].weight == 60);
	ck_assert(cp_config(cp)->pools[1].weight == 40);
	cp_free(cp);

	reload(&again, &ov);
	ck_assert(again.pools[0].weight == 60);
	ck_assert(again.pools[1].weight == 40);
	json_decref(ov);
}
END_TEST

START_TEST(partial_weights_keep_the_rest)
{
	struct config	 cfg, again;
	struct cp	*cp = new_cp(&cfg);
	const char	*keys[1] = { "B" };
	double		 w[1] = { 0 };
	json_t		*ov;
	char		 err[256];

	ck_assert_int_eq(cp_set_weights(cp, keys, w, 1, "test", err,
	    sizeof(err)), CP_OK);
	cp_free(cp);
	reload(&again, &ov);
	ck_assert(again.pools[0].weight == 70);
	ck_assert(again.pools[1].weight == 0);
	json_decref(ov);
}
END_TEST

START_TEST(bad_weights_refused_and_not_persisted)
{
	struct config	 cfg;
	struct cp	*cp = new_cp(&cfg);
	const char	*k_unknown[1] = { "C" };
	const char	*k_both[2] = { "A", "B" };
	const char	*k_dup[2] = { "A", "A" };
	double		 neg[1] = { -1 }, zero[2] = { 0, 0 }, nan1[1] = { NAN };
	double		 inf1[1] = { INFINITY }, big[1] = { 1e12 };
	double		 ok[2] = { 1, 2 };
	json_t		*ov;
	char		 err[256], path[128];

	ck_assert_int_eq(cp_set_weights(cp, k_unknown, ok, 1, "t", err,
	    sizeof(err)), CP_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "weights.C"));
	ck_assert_int_eq(cp_set_weights(cp, k_both, neg, 1, "t", err,
	    sizeof(err)), CP_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "weights.A"));
	ck_assert_int_eq(cp_set_weights(cp, k_both, nan1, 1, "t", err,
	    sizeof(err)), CP_EINVAL);
	ck_assert_int_eq(cp_set_weights(cp, k_both, inf1, 1, "t", err,
	    sizeof(err)), CP_EINVAL);
	ck_assert_int_eq(cp_set_weights(cp, k_both, big, 1, "t", err,
	    sizeof(err)), CP_EINVAL);
	ck_assert_int_eq(cp_set_weights(cp, k_both, zero, 2, "t", err,
	    sizeof(err)), CP_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "above 0"));
	ck_assert_int_eq(cp_set_weights(cp, k_dup, ok, 2, "t", err,
	    sizeof(err)), CP_EINVAL);
	ck_assert_int_eq(cp_set_weights(cp, k_both, ok, 0, "t", err,
	    sizeof(err)), CP_EINVAL);
	/* nothing changed, nothing written */
	ck_assert(cp_config(cp)->pools[0].weight == 70);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	ck_assert_int_eq(access(path, F_OK), -1);
	ov = cp_weights_json(cp);
	ck_assert_int_eq(json_integer_value(json_object_get(ov, "A")), 70);
	json_decref(ov);
	cp_free(cp);
}
END_TEST

START_TEST(unwritable_state_dir_refuses_change)
{
	struct config	 cfg;
	struct cp	*cp = new_cp(&cfg);
	const char	*keys[2] = { "A", "B" };
	double		 w[2] = { 1, 1 };
	char		 err[256];

	rm_rf(dir);
	/* the change is not applied when it cannot be kept */
	ck_assert_int_eq(cp_set_weights(cp, keys, w, 2, "t", err,
	    sizeof(err)), CP_EIO);
	ck_assert(cp_config(cp)->pools[0].weight == 70);
	cp_free(cp);
	mkdir(dir, 0700);
}
END_TEST

START_TEST(pins_persist_and_reload)
{
	struct config	 cfg, again;
	struct cp	*cp = new_cp(&cfg), *cp2;
	json_t		*ov;
	char		 err[256];

	ck_assert_int_eq(cp_pin(cp, "rig \"1\"", "B", "t", err, sizeof(err)),
	    CP_OK);
	ck_assert_int_eq(cp_pin(cp, "rig2", "A", "t", err, sizeof(err)), CP_OK);
	ck_assert_int_eq(cp_pin(cp, "rig2", NULL, "t", err, sizeof(err)),
	    CP_OK);
	ck_assert_int_eq(cp_pin(cp, "rig3", "Z", "t", err, sizeof(err)),
	    CP_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "unknown pool"));
	ck_assert_int_eq(cp_pin(cp, "rig3", NULL, "t", err, sizeof(err)),
	    CP_ENOENT);
	ck_assert_int_eq(cp_pin(cp, "", "A", "t", err, sizeof(err)), CP_EINVAL);
	cp_free(cp);

	reload(&again, &ov);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ov,
	    "pins"), "rig \"1\"")), "B");
	ck_assert_ptr_null(json_object_get(json_object_get(ov, "pins"),
	    "rig2"));
	/* and a restarted controlplane lists it */
	cp2 = cp_new(&again, ov);
	{
		struct cp_status st;

		ck_assert_int_eq(cp_status_build(cp2, &st), 0);
		ck_assert_uint_eq(st.reply.n_pins, 1);
		ck_assert_str_eq(st.reply.pins[0]->worker, "rig \"1\"");
		ck_assert_str_eq(st.reply.pins[0]->pool, "B");
		cp_status_release(&st);
	}
	cp_free(cp2);
	json_decref(ov);
}
END_TEST

START_TEST(pool_edit_persists_and_validates)
{
	struct config	 cfg, again;
	struct cp	*cp = new_cp(&cfg);
	json_t		*f, *ov;
	char		 err[256];

	f = json_pack("{s:s,s:i,s:s,s:b}", "host", "a2.example", "port", 4444,
	    "password", "newpw", "enabled", 0);
	ck_assert_int_eq(cp_edit_pool(cp, "A", f, "t", err, sizeof(err)),
	    CP_OK);
	json_decref(f);
	ck_assert_str_eq(cp_config(cp)->pools[0].host, "a2.example");
	ck_assert_uint_eq(cp_config(cp)->pools[0].port, 4444);
	ck_assert(!cp_config(cp)->pools[0].enabled);

	/* validated like the config file, the error names the key */
	f = json_pack("{s:i}", "port", 70000);
	ck_assert_int_eq(cp_edit_pool(cp, "B", f, "t", err, sizeof(err)),
	    CP_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "pools.B.port"));
	json_decref(f);
	f = json_pack("{s:i}", "host", 5);
	ck_assert_int_eq(cp_edit_pool(cp, "B", f, "t", err, sizeof(err)),
	    CP_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "pools.B.host"));
	json_decref(f);
	/* disabling the last enabled pool would leave nothing to mine on */
	f = json_pack("{s:b}", "enabled", 0);
	ck_assert_int_eq(cp_edit_pool(cp, "B", f, "t", err, sizeof(err)),
	    CP_EINVAL);
	json_decref(f);
	f = json_pack("{s:f}", "weight", 5.0);
	ck_assert_int_eq(cp_edit_pool(cp, "B", f, "t", err, sizeof(err)),
	    CP_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "pools.B.weight"));
	json_decref(f);
	f = json_pack("{s:s}", "host", "x");
	ck_assert_int_eq(cp_edit_pool(cp, "Z", f, "t", err, sizeof(err)),
	    CP_ENOENT);
	json_decref(f);
	f = json_object();
	ck_assert_int_eq(cp_edit_pool(cp, "A", f, "t", err, sizeof(err)),
	    CP_EINVAL);
	json_decref(f);
	ck_assert_uint_eq(cp_config(cp)->pools[1].port, 3334);
	cp_free(cp);

	reload(&again, &ov);
	ck_assert_str_eq(again.pools[0].host, "a2.example");
	ck_assert_uint_eq(again.pools[0].port, 4444);
	ck_assert_str_eq(again.pools[0].password, "newpw");
	ck_assert(!again.pools[0].enabled);
	/* untouched fields come from the config file */
	ck_assert_str_eq(again.pools[0].wallet, "wa");
	json_decref(ov);
}
END_TEST

START_TEST(scheduler_edit_persists_and_validates)
{
	struct config	 cfg, again;
	struct cp	*cp = new_cp(&cfg);
	json_t		*f, *ov;
	char		 err[256];

	f = json_pack("{s:i,s:i}", "slice_seconds", 5, "min_switch_seconds",
	    2);
	ck_assert_int_eq(cp_edit_scheduler(cp, f, "t", err, sizeof(err)),
	    CP_OK);
	json_decref(f);
	f = json_pack("{s:i}", "slice_seconds", 0);
	ck_assert_int_eq(cp_edit_scheduler(cp, f, "t", err, sizeof(err)),
	    CP_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "scheduler.slice_seconds"));
	json_decref(f);
	f = json_pack("{s:s}", "mode", "other");
	ck_assert_int_eq(cp_edit_scheduler(cp, f, "t", err, sizeof(err)),
	    CP_EINVAL);
	json_decref(f);
	cp_free(cp);
	reload(&again, &ov);
	ck_assert_uint_eq(again.slice_seconds, 5);
	ck_assert_uint_eq(again.min_switch_seconds, 2);
	json_decref(ov);
}
END_TEST

START_TEST(bad_overlay_names_the_key)
{
	struct config	 cfg;
	json_t		*ov;
	char		 err[256];

	load_config(&cfg);
	ov = json_pack("{s:{s:i}}", "weights", "A", -1);
	ck_assert_int_eq(cp_overlay_apply(&cfg, ov, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "weights.A"));
	json_decref(ov);
	ck_assert(cfg.pools[0].weight == 70);
}
END_TEST

static Suite *
cp_state_suite(void)
{
	Suite	*s = suite_create("cp_state");
	TCase	*tc = tcase_create("state");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, missing_file_is_empty_overlay);
	tcase_add_test(tc, save_then_load);
	tcase_add_test(tc, save_is_private_and_leaves_no_temp);
	tcase_add_test(tc, save_replaces_by_rename);
	tcase_add_test(tc, malformed_file_names_the_file);
	tcase_add_test(tc, save_to_missing_dir_fails);
	tcase_add_test(tc, dir_ensure_makes_parents);
	tcase_add_test(tc, config_part_keeps_pins_out);
	tcase_add_test(tc, weights_persist_and_reload);
	tcase_add_test(tc, partial_weights_keep_the_rest);
	tcase_add_test(tc, bad_weights_refused_and_not_persisted);
	tcase_add_test(tc, unwritable_state_dir_refuses_change);
	tcase_add_test(tc, pins_persist_and_reload);
	tcase_add_test(tc, pool_edit_persists_and_validates);
	tcase_add_test(tc, scheduler_edit_persists_and_validates);
	tcase_add_test(tc, bad_overlay_names_the_key);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(cp_state_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
