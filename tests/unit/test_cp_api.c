/* Check suite: controlplane/api.c, the HTTP routes (routing, auth,
 * validation, replies) without a socket. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "api.h"
#include "config.h"
#include "cp.h"
#include "log.h"
#include "web_assets.h"

static char		 dir[64];
static FILE		*logfp;
static struct cp	*cp;
static struct api_resp	 resp;
static json_t		*reply;
static const char	*host_header;	/* the next requests' Host */

static void
rm_rf(const char *path)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", path);
}

static struct cp *
make_cp(const char *token)
{
	struct config	*cfg = calloc(1, sizeof(*cfg));
	struct cp	*c;
	char		 err[256];
	json_t		*root;

	root = json_pack("{s:s,s:{s:s,s:[s]},s:{s:{s:s,s:s,s:i,s:s,s:s,s:s},"
	    "s:{s:s,s:i}},s:{s:i,s:i}}",
	    "state_dir", dir,
	    "http", "token", token, "allowed_hosts", "dpmp.lan",
	    "pools",
	    "A", "name", "ocean", "host", "a.example", "port", 3333,
	    "wallet", "wa", "password", "pa", "chain", "BTC",
	    "B", "host", "b.example", "port", 3334,
	    "scheduler", "poolA_weight", 70, "poolB_weight", 30);
	ck_assert_msg(config_load_json(root, cfg, err, sizeof(err)) == 0,
	    "%s", err);
	json_decref(root);
	c = cp_new(cfg, NULL);
	ck_assert_ptr_nonnull(c);
	free(cfg);
	return c;
}

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/dpmp-cpapi-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	logfp = tmpfile();
	log_init("test", LOG_LEVEL_INFO);
	log_set_stream(logfp);
	log_set_rate_limit(0);
	cp = make_cp("tok");
	memset(&resp, 0, sizeof(resp));
	reply = NULL;
	host_header = NULL;
}

static void
teardown(void)
{
	api_resp_free(&resp);
	json_decref(reply);
	cp_free(cp);
	log_set_stream(NULL);
	fclose(logfp);
	rm_rf(dir);
}

/* One request; the reply body parsed into `reply` when it is JSON. */
static unsigned
req_scope(enum api_scope scope, const char *method, const char *path,
    const char *auth, const char *body)
{
	struct api_req req;

	api_resp_free(&resp);
	json_decref(reply);
	reply = NULL;
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.path = path;
	req.auth = auth;
	req.host = host_header;
	req.body = body;
	req.body_len = body != NULL ? strlen(body) : 0;
	api_handle(cp, scope, &req, &resp);
	if (resp.content_type != NULL &&
	    strcmp(resp.content_type, "application/json") == 0) {
		reply = json_loadb(resp.body, resp.len, 0, NULL);
		ck_assert_msg(reply != NULL, "reply is not JSON: %.*s",
		    (int)resp.len, resp.body);
	}
	return resp.status;
}

static unsigned
req(const char *method, const char *path, const char *auth, const char *body)
{
	return req_scope(API_SCOPE_ALL, method, path, auth, body);
}

static const char *
error_text(void)
{
	const char *e = json_string_value(json_object_get(reply, "error"));

	ck_assert_msg(e != NULL, "no error in reply");
	return e;
}

#define AUTH	"Bearer tok"

/* ---- routing ------------------------------------------------------------ */

START_TEST(unknown_path_404)
{
	ck_assert_uint_eq(req("GET", "/nope", NULL, NULL), 404);
	ck_assert_str_eq(error_text(), "not found");
	ck_assert_uint_eq(req("GET", "/api/v1/weights/x", NULL, NULL), 404);
	ck_assert_uint_eq(req("GET", "/api/v1", NULL, NULL), 404);
}
END_TEST

START_TEST(wrong_method_405_with_allow)
{
	ck_assert_uint_eq(req("DELETE", "/api/v1/weights", AUTH, NULL), 405);
	ck_assert_ptr_nonnull(strstr(resp.allow, "GET"));
	ck_assert_ptr_nonnull(strstr(resp.allow, "PUT"));
	ck_assert_uint_eq(req("POST", "/api/v1/status", NULL, "{}"), 405);
	ck_assert_str_eq(resp.allow, "GET, HEAD");
	ck_assert_uint_eq(req("GET", "/api/v1/pins", NULL, NULL), 405);
	ck_assert_str_eq(resp.allow, "POST");
}
END_TEST

START_TEST(head_is_get)
{
	ck_assert_uint_eq(req("HEAD", "/api/v1/weights", NULL, NULL), 200);
	ck_assert_uint_eq(req("HEAD", "/", NULL, NULL), 200);
}
END_TEST

START_TEST(metrics_listener_serves_only_metrics)
{
	ck_assert_uint_eq(req_scope(API_SCOPE_METRICS, "GET", "/metrics",
	    NULL, NULL), 200);
	ck_assert_str_eq(resp.content_type,
	    "text/plain; version=0.0.4; charset=utf-8");
	ck_assert_ptr_nonnull(strstr(resp.body, "# TYPE dpmp_pool_weight gauge"));
	ck_assert_uint_eq(req_scope(API_SCOPE_METRICS, "GET",
	    "/api/v1/status", NULL, NULL), 404);
	ck_assert_uint_eq(req_scope(API_SCOPE_METRICS, "GET", "/", NULL,
	    NULL), 404);
	ck_assert_uint_eq(req_scope(API_SCOPE_METRICS, "PUT",
	    "/api/v1/weights", AUTH, "{\"weights\":{\"A\":1}}"), 404);
	/* and the main listener has it too */
	ck_assert_uint_eq(req("GET", "/metrics", NULL, NULL), 200);
}
END_TEST

/* ---- Host (DNS rebinding) ---------------------------------------------- */

static const struct {
	const char	*host;
	bool		 ok;
} hosts[] = {
	{ NULL,				true },	/* HTTP/1.0, no header */
	{ "127.0.0.1",			true },
	{ "127.0.0.1:8855",		true },
	{ "192.168.1.20:8855",		true },
	{ "[::1]:8855",			true },
	{ "[::1]",			true },
	{ "[fe80::1]:80",		true },
	{ "localhost",			true },
	{ "LocalHost:8855",		true },
	{ "localhost.:8855",		true },
	{ "dpmp.lan",			true },	/* http.allowed_hosts */
	{ "DPMP.lan:8855",		true },
	{ "dpmp.lan.",			true },
	{ "evil.example",		false },
	{ "evil.example:8855",		false },
	{ "dpmp.lan.evil.example",	false },
	{ "localhost.evil.example",	false },
	{ "127.0.0.1.evil.example",	false },
	{ "",				false },
	{ ":8855",			false },
	{ ".",				false },
	{ "127.0.0.1:88x",		false },
	{ "127.0.0.1:123456",		false },
	{ "::1",			false },	/* v6 needs brackets */
	{ "[::1",			false },
	{ "[::1]x",			false },
	{ "[evil.example]",		false },
	{ "[]:80",			false },
};

START_TEST(host_allow_list)
{
	ck_assert_msg(api_host_ok(cp_config(cp), hosts[_i].host) ==
	    hosts[_i].ok, "Host \"%s\": want %s", hosts[_i].host ?
	    hosts[_i].host : "(none)", hosts[_i].ok ? "served" : "refused");
}
END_TEST

START_TEST(host_wildcard_allows_any)
{
	struct config cfg;

	config_defaults(&cfg);
	ck_assert(!api_host_ok(&cfg, "dpmp.lan"));
	snprintf(cfg.http_allowed_hosts[0], sizeof(cfg.http_allowed_hosts[0]),
	    "*");
	cfg.n_http_allowed_hosts = 1;
	ck_assert(api_host_ok(&cfg, "dpmp.lan:8855"));
	/* still a Host, not garbage */
	ck_assert(!api_host_ok(&cfg, "dpmp.lan:x"));
}
END_TEST

START_TEST(foreign_host_gets_421_before_routing)
{
	char *text;

	host_header = "evil.example:8855";
	ck_assert_uint_eq(req("GET", "/api/v1/status", NULL, NULL), 421);
	ck_assert_ptr_nonnull(strstr(error_text(), "http.allowed_hosts"));
	/* no route is revealed, and no write goes through with the token */
	ck_assert_uint_eq(req("GET", "/nope", NULL, NULL), 421);
	ck_assert_uint_eq(req("PUT", "/api/v1/weights", AUTH,
	    "{\"weights\":{\"A\":1}}"), 421);
	ck_assert_uint_eq(req("GET", "/", NULL, NULL), 421);
	/* the metrics listener serves any name */
	ck_assert_uint_eq(req_scope(API_SCOPE_METRICS, "GET", "/metrics",
	    NULL, NULL), 200);
	/* and counts what the other one refused */
	text = cp_metrics(cp, NULL);
	ck_assert_ptr_nonnull(strstr(text, "dpmp_http_refused_total"
	    "{listener=\"http\",reason=\"host\"} 4\n"));
	free(text);
	host_header = "localhost:8855";
	ck_assert_uint_eq(req("GET", "/api/v1/status", NULL, NULL), 200);
	host_header = "dpmp.lan";
	ck_assert_uint_eq(req("GET", "/", NULL, NULL), 200);
}
END_TEST

/* ---- reads -------------------------------------------------------------- */

START_TEST(status_without_dataplane)
{
	json_t *pools, *a;

	ck_assert_uint_eq(req("GET", "/api/v1/status", NULL, NULL), 200);
	ck_assert(json_is_false(json_object_get(reply, "dataplane_connected")));
	pools = json_object_get(reply, "pools");
	ck_assert_uint_eq(json_array_size(pools), 2);
	a = json_object_get(json_array_get(pools, 0), "state");
	ck_assert_str_eq(json_string_value(json_object_get(a, "key")), "A");
	ck_assert_str_eq(json_string_value(json_object_get(a, "name")),
	    "ocean");
	ck_assert(json_is_false(json_object_get(a, "up")));
	/* rejects: the total, and who refused them (DPMP or the pool) */
	a = json_array_get(pools, 0);
	ck_assert(json_is_integer(json_object_get(a, "rejected")));
	ck_assert_int_eq(json_integer_value(json_object_get(a,
	    "rejected_local")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(a,
	    "rejected_pool")), 0);
	ck_assert(json_is_array(json_object_get(a, "rejected_by_reason")));
	ck_assert_uint_eq(json_array_size(json_object_get(reply, "miners")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
	    reply, "weights"), "A")), 70);
	ck_assert(json_is_true(json_object_get(reply, "writes_enabled")));
	ck_assert_int_eq(json_integer_value(json_object_get(reply,
	    "window_s")), 600);

	ck_assert_uint_eq(req("GET", "/api/v1/pools", NULL, NULL), 200);
	ck_assert_uint_eq(json_array_size(json_object_get(reply, "pools")), 2);
	ck_assert_uint_eq(req("GET", "/api/v1/miners", NULL, NULL), 200);
	ck_assert(json_is_array(json_object_get(reply, "miners")));
}
END_TEST

START_TEST(config_is_masked)
{
	const char *text;

	ck_assert_uint_eq(req("GET", "/api/v1/config", NULL, NULL), 200);
	text = resp.body;
	ck_assert_ptr_null(strstr(text, "\"pa\""));
	ck_assert_ptr_null(strstr(text, "\"tok\""));
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(
	    json_object_get(reply, "pools"), "A"), "password")), "***");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(
	    reply, "http"), "token")), "***");
}
END_TEST

START_TEST(static_assets)
{
	size_t i;

	ck_assert_uint_eq(req("GET", "/", NULL, NULL), 200);
	ck_assert_str_eq(resp.content_type, "text/html; charset=utf-8");
	ck_assert(resp.html);
	ck_assert_ptr_nonnull(strstr(resp.body, "/static/app.js"));
	ck_assert_uint_eq(req("GET", "/static/app.js", NULL, NULL), 200);
	ck_assert_str_eq(resp.content_type, "text/javascript; charset=utf-8");
	ck_assert(!resp.html);
	ck_assert_uint_eq(req("GET", "/static/style.css", NULL, NULL), 200);
	ck_assert_str_eq(resp.content_type, "text/css; charset=utf-8");
	ck_assert_uint_eq(req("GET", "/static/nope.js", NULL, NULL), 404);
	ck_assert_uint_eq(req("GET", "/static/", NULL, NULL), 404);
	ck_assert_uint_eq(req("GET", "/static/../cp.c", NULL, NULL), 404);
	ck_assert_uint_eq(req("GET", "/static/..", NULL, NULL), 404);
	/* the page builds DOM from data only through textContent */
	for (i = 0; i < web_assets_count; i++) {
		ck_assert_ptr_null(strstr((const char *)web_assets[i].data,
		    "innerHTML"));
		ck_assert_ptr_null(strstr((const char *)web_assets[i].data,
		    "insertAdjacentHTML"));
		ck_assert_ptr_null(strstr((const char *)web_assets[i].data,
		    "document.write"));
	}
}
END_TEST

/* ---- auth --------------------------------------------------------------- */

START_TEST(writes_need_the_token)
{
	const char *body = "{\"weights\":{\"A\":60,\"B\":40}}";

	ck_assert_uint_eq(req("PUT", "/api/v1/weights", NULL, body), 401);
	ck_assert(resp.challenge);
	ck_assert_uint_eq(req("PUT", "/api/v1/weights", "Bearer nope", body),
	    401);
	ck_assert_uint_eq(req("PUT", "/api/v1/weights", "Bearer tokx", body),
	    401);
	ck_assert_uint_eq(req("PUT", "/api/v1/weights", "Basic dG9r", body),
	    401);
	ck_assert_uint_eq(req("PUT", "/api/v1/weights", "tok", body), 401);
	ck_assert_uint_eq(req("POST", "/api/v1/pins", NULL,
	    "{\"worker\":\"w\",\"pool\":\"A\"}"), 401);
	ck_assert_uint_eq(req("PUT", "/api/v1/pools/A", NULL,
	    "{\"port\":1}"), 401);
	ck_assert_uint_eq(req("PUT", "/api/v1/scheduler", NULL,
	    "{\"slice_seconds\":3}"), 401);
	/* nothing changed */
	ck_assert(cp_config(cp)->pools[0].weight == 70);
	ck_assert_uint_eq(req("PUT", "/api/v1/weights", AUTH, body), 200);
	ck_assert(cp_config(cp)->pools[0].weight == 60);
	ck_assert_uint_eq(req("PUT", "/api/v1/weights", "bearer tok", body),
	    200);
}
END_TEST

START_TEST(no_token_configured_refuses_writes)
{
	cp_free(cp);
	cp = make_cp("");
	ck_assert_uint_eq(req("PUT", "/api/v1/weights", "Bearer ",
	    "{\"weights\":{\"A\":1}}"), 401);
	ck_assert_ptr_nonnull(strstr(error_text(), "no http.token"));
	ck_assert_uint_eq(req("PUT", "/api/v1/weights", NULL,
	    "{\"weights\":{\"A\":1}}"), 401);
	/* reads stay open */
	ck_assert_uint_eq(req("GET", "/api/v1/status", NULL, NULL), 200);
	ck_assert(json_is_false(json_object_get(reply, "writes_enabled")));
}
END_TEST

START_TEST(auth_compare)
{
	ck_assert(api_auth_ok("tok", "Bearer tok"));
	ck_assert(api_auth_ok("tok", "Bearer   tok"));
	ck_assert(!api_auth_ok("tok", "Bearer tok "));
	ck_assert(!api_auth_ok("tok", "Bearer to"));
	ck_assert(!api_auth_ok("tok", "Bearer"));
	ck_assert(!api_auth_ok("tok", NULL));
	ck_assert(!api_auth_ok("", "Bearer "));
	ck_assert(!api_auth_ok(NULL, "Bearer x"));
}
END_TEST

/* ---- weights ------------------------------------------------------------ */

START_TEST(weights_round_trip)
{
	ck_assert_uint_eq(req("GET", "/api/v1/weights", NULL, NULL), 200);
	ck_assert_str_eq(resp.body, "{\"weights\":{\"A\":70,\"B\":30}}");
	ck_assert_uint_eq(req("PUT", "/api/v1/weights", AUTH,
	    "{\"weights\":{\"A\":60,\"B\":40}}"), 200);
	ck_assert_str_eq(resp.body, "{\"weights\":{\"A\":60,\"B\":40}}");
	ck_assert_uint_eq(req("PUT", "/api/v1/weights", AUTH,
	    "{\"weights\":{\"B\":12.5}}"), 200);
	ck_assert_str_eq(resp.body, "{\"weights\":{\"A\":60,\"B\":12.5}}");
	ck_assert_uint_eq(req("GET", "/api/v1/weights", NULL, NULL), 200);
	ck_assert_str_eq(resp.body, "{\"weights\":{\"A\":60,\"B\":12.5}}");
}
END_TEST

START_TEST(weights_bad_input_400)
{
	static const struct {
		const char *body;
		const char *err;
	} bad[] = {
		{ "{\"weights\":", "bad JSON" },
		{ "", "expected a JSON object" },
		{ "[1]", "expected a JSON object" },
		{ "{\"weights\":{\"A\":60,\"A\":40}}", "bad JSON" },
		{ "{}", "weights:" },
		{ "{\"weights\":[60,40]}", "weights:" },
		{ "{\"weights\":{}}", "weights:" },
		{ "{\"weights\":{\"A\":\"60\"}}", "weights.A: must be a number" },
		{ "{\"weights\":{\"A\":true}}", "weights.A: must be a number" },
		{ "{\"weights\":{\"A\":null}}", "weights.A: must be a number" },
		{ "{\"weights\":{\"A\":-1}}", "weights.A: must be a number >= 0" },
		{ "{\"weights\":{\"A\":1e300}}", "weights.A: must be at most" },
		{ "{\"weights\":{\"C\":10}}", "weights.C: unknown pool" },
		{ "{\"weights\":{\"A\":0,\"B\":0}}", "above 0" },
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(req("PUT", "/api/v1/weights", AUTH,
		    bad[i].body) == 400, "%s: %u", bad[i].body, resp.status);
		ck_assert_msg(strstr(error_text(), bad[i].err) != NULL,
		    "%s: got \"%s\"", bad[i].body, error_text());
	}
	ck_assert(cp_config(cp)->pools[0].weight == 70);
	ck_assert(cp_config(cp)->pools[1].weight == 30);
}
END_TEST

START_TEST(body_too_large_413)
{
	struct api_req r;

	memset(&r, 0, sizeof(r));
	r.method = "PUT";
	r.path = "/api/v1/weights";
	r.auth = AUTH;
	r.body_too_large = true;
	api_handle(cp, API_SCOPE_ALL, &r, &resp);
	ck_assert_uint_eq(resp.status, 413);
	/* the auth check comes first: a stranger learns nothing */
	r.auth = NULL;
	api_resp_free(&resp);
	api_handle(cp, API_SCOPE_ALL, &r, &resp);
	ck_assert_uint_eq(resp.status, 401);
}
END_TEST

/* ---- pins ---------------------------------------------------------------- */

START_TEST(pins)
{
	ck_assert_uint_eq(req("POST", "/api/v1/pins", AUTH,
	    "{\"worker\":\"<img src=x onerror=alert(1)>\",\"pool\":\"B\"}"),
	    200);
	ck_assert_str_eq(json_string_value(json_object_get(reply, "pool")),
	    "B");
	ck_assert_uint_eq(req("GET", "/api/v1/status", NULL, NULL), 200);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(reply, "pins"), 0), "worker")),
	    "<img src=x onerror=alert(1)>");
	ck_assert_uint_eq(req("POST", "/api/v1/pins", AUTH,
	    "{\"worker\":\"<img src=x onerror=alert(1)>\",\"pool\":null}"),
	    200);
	ck_assert(json_is_null(json_object_get(reply, "pool")));
	ck_assert_uint_eq(req("POST", "/api/v1/pins", AUTH,
	    "{\"worker\":\"w\",\"pool\":null}"), 404);
	ck_assert_uint_eq(req("POST", "/api/v1/pins", AUTH,
	    "{\"worker\":\"w\",\"pool\":\"Z\"}"), 400);
	ck_assert_ptr_nonnull(strstr(error_text(), "unknown pool"));
	ck_assert_uint_eq(req("POST", "/api/v1/pins", AUTH,
	    "{\"worker\":\"w\"}"), 400);
	ck_assert_uint_eq(req("POST", "/api/v1/pins", AUTH,
	    "{\"worker\":5,\"pool\":\"A\"}"), 400);
	ck_assert_uint_eq(req("POST", "/api/v1/pins", AUTH,
	    "{\"worker\":\"\",\"pool\":\"A\"}"), 400);
}
END_TEST

/* ---- pool and scheduler edits ------------------------------------------- */

START_TEST(pool_edit)
{
	json_t *pool;

	ck_assert_uint_eq(req("PUT", "/api/v1/pools/A", AUTH,
	    "{\"port\":4444,\"password\":\"new\"}"), 200);
	pool = json_object_get(reply, "pool");
	ck_assert_int_eq(json_integer_value(json_object_get(pool, "port")),
	    4444);
	ck_assert_str_eq(json_string_value(json_object_get(pool, "password")),
	    "***");
	ck_assert_str_eq(cp_config(cp)->pools[0].password, "new");
	ck_assert_uint_eq(req("PUT", "/api/v1/pools/A", AUTH,
	    "{\"port\":0}"), 400);
	ck_assert_ptr_nonnull(strstr(error_text(), "pools.A.port"));
	ck_assert_uint_eq(req("PUT", "/api/v1/pools/A", AUTH,
	    "{\"enabled\":\"yes\"}"), 400);
	ck_assert_ptr_nonnull(strstr(error_text(), "pools.A.enabled"));
	ck_assert_uint_eq(req("PUT", "/api/v1/pools/A", AUTH,
	    "{\"key\":\"C\"}"), 400);
	ck_assert_uint_eq(req("PUT", "/api/v1/pools/Z", AUTH,
	    "{\"port\":1}"), 404);
	ck_assert_uint_eq(req("PUT", "/api/v1/pools/", AUTH,
	    "{\"port\":1}"), 404);
	ck_assert_uint_eq(req("PUT", "/api/v1/pools/A/x", AUTH,
	    "{\"port\":1}"), 404);
	ck_assert_uint_eq(cp_config(cp)->pools[0].port, 4444);
}
END_TEST

START_TEST(scheduler_edit)
{
	ck_assert_uint_eq(req("GET", "/api/v1/scheduler", NULL, NULL), 200);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
	    reply, "scheduler"), "slice_seconds")), 30);
	ck_assert_uint_eq(req("PUT", "/api/v1/scheduler", AUTH,
	    "{\"slice_seconds\":5,\"min_switch_seconds\":1}"), 200);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
	    reply, "scheduler"), "slice_seconds")), 5);
	ck_assert_uint_eq(req("PUT", "/api/v1/scheduler", AUTH,
	    "{\"slice_seconds\":0}"), 400);
	ck_assert_uint_eq(req("PUT", "/api/v1/scheduler", AUTH,
	    "{\"slice_seconds\":1.5}"), 400);
	ck_assert_uint_eq(req("PUT", "/api/v1/scheduler", AUTH,
	    "{\"bogus\":1}"), 400);
	ck_assert_uint_eq(cp_config(cp)->slice_seconds, 5);
	ck_assert_uint_eq(cp_config(cp)->min_switch_seconds, 1);
}
END_TEST

static Suite *
cp_api_suite(void)
{
	Suite	*s = suite_create("cp_api");
	TCase	*tc = tcase_create("api");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, unknown_path_404);
	tcase_add_test(tc, wrong_method_405_with_allow);
	tcase_add_test(tc, head_is_get);
	tcase_add_test(tc, metrics_listener_serves_only_metrics);
	tcase_add_loop_test(tc, host_allow_list, 0,
	    sizeof(hosts) / sizeof(hosts[0]));
	tcase_add_test(tc, host_wildcard_allows_any);
	tcase_add_test(tc, foreign_host_gets_421_before_routing);
	tcase_add_test(tc, status_without_dataplane);
	tcase_add_test(tc, config_is_masked);
	tcase_add_test(tc, static_assets);
	tcase_add_test(tc, writes_need_the_token);
	tcase_add_test(tc, no_token_configured_refuses_writes);
	tcase_add_test(tc, auth_compare);
	tcase_add_test(tc, weights_round_trip);
	tcase_add_test(tc, weights_bad_input_400);
	tcase_add_test(tc, body_too_large_413);
	tcase_add_test(tc, pins);
	tcase_add_test(tc, pool_edit);
	tcase_add_test(tc, scheduler_edit);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(cp_api_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
