/*
 * Check suite: common/config.c
 *
 * The config a Python DPMP v2 user already has must load unchanged; a
 * bad one must be refused with a message that names the key; live edits
 * (the state overlay) must be all or nothing; the dump must hide secrets
 * and load back to the same config.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "config.h"

#define DATA(f)	DPMP_TEST_DATA "/" f

static json_t *
parse(const char *text)
{
	json_error_t	 jerr;
	json_t		*j = json_loads(text, 0, &jerr);

	ck_assert_msg(j != NULL, "test JSON does not parse: %s: %s", text,
	    jerr.text);
	return j;
}

/* Load from a string; returns the rc and leaves the message in err. */
static int
load_str(const char *text, struct config *cfg, char *err, size_t errlen)
{
	json_t	*j = parse(text);
	int	 rc;

	rc = config_load_json(j, cfg, err, errlen);
	json_decref(j);
	return rc;
}

START_TEST(v2_config_loads)
{
	struct config	 cfg;
	char		 err[256] = "";
	const struct config_pool *a, *b;

	ck_assert_msg(config_load_file(DATA("config_v2.json"), &cfg, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(cfg.listen_host, "0.0.0.0");
	ck_assert_uint_eq(cfg.listen_port, 3351);
	ck_assert(cfg.metrics_enabled);
	ck_assert_str_eq(cfg.metrics_host, "127.0.0.1");
	ck_assert_uint_eq(cfg.metrics_port, 9210);
	ck_assert(!cfg.metrics_per_worker);
	ck_assert_uint_eq(cfg.n_pools, 2);
	a = &cfg.pools[0];
	b = &cfg.pools[1];
	ck_assert_str_eq(a->key, "A");
	ck_assert_str_eq(a->name, "ocean");
	ck_assert_str_eq(a->host, "mine.ocean.xyz");
	ck_assert_uint_eq(a->port, 3334);
	ck_assert_str_eq(a->wallet, "bc1qexamplewallet");
	ck_assert_str_eq(a->password, "x");
	ck_assert_str_eq(a->chain, "BTC");
	ck_assert_double_eq(a->weight, 70);
	ck_assert_double_eq(a->min_diff, 0);
	ck_assert_uint_eq(a->silent_seconds, 120);
	ck_assert(a->enabled);
	ck_assert_str_eq(b->key, "B");
	ck_assert_str_eq(b->name, "bchpool");
	ck_assert_str_eq(b->host, "bch.example");
	ck_assert_uint_eq(b->port, 3333);
	ck_assert_str_eq(b->wallet, "qqexamplewallet");
	/* v2 leaves B's password out: the Stratum convention "x" */
	ck_assert_str_eq(b->password, "x");
	ck_assert_str_eq(b->chain, "BCH");
	ck_assert_double_eq(b->weight, 30);
	ck_assert_str_eq(cfg.sched_mode, "ratio");
	ck_assert_uint_eq(cfg.slice_seconds, 30);
	ck_assert_uint_eq(cfg.min_switch_seconds, 10);
	ck_assert_uint_eq(cfg.window_seconds, 600);
	ck_assert_double_eq(cfg.default_min_diff, 0);
	ck_assert(cfg.log_json);
	ck_assert_str_eq(cfg.log_level, "info");
	ck_assert_str_eq(cfg.log_file, "");
	/* everything v2 did not know about has its default */
	ck_assert_str_eq(cfg.http_host, "127.0.0.1");
	ck_assert_uint_eq(cfg.http_port, 8855);
	ck_assert_str_eq(cfg.http_token, "");
	ck_assert_uint_eq(cfg.n_http_allowed_hosts, 0);
	ck_assert_uint_eq(cfg.http_idle_timeout, 15);
	ck_assert_str_eq(cfg.state_dir, "./state");
	ck_assert_str_eq(cfg.ipc_dataplane, "ipc://./state/dataplane.ipc");
	ck_assert_str_eq(cfg.ipc_events, "ipc://./state/events.ipc");
	ck_assert_str_eq(cfg.ipc_control, "ipc://./state/control.ipc");
	ck_assert_int_eq(cfg.upstream_mode, UPSTREAM_PER_MINER);
	ck_assert_uint_eq(cfg.extranonce2_size, 4);
	ck_assert_uint_eq(cfg.upstream_sessions, 1);
	ck_assert_uint_eq(cfg.max_miners, 10000);
	ck_assert_uint_eq(cfg.max_per_address, 1000);
	ck_assert_uint_eq(cfg.handshake_timeout_seconds, 30);
	ck_assert_uint_eq(cfg.max_line, 4096);
	ck_assert_uint_eq(cfg.max_outq, 256 * 1024);
	ck_assert_uint_eq(cfg.jobs_kept, 64);
	ck_assert_uint_eq(cfg.pending_shares, 4096);
	ck_assert_uint_eq(cfg.stale_grace_ms, 5000);
	ck_assert_uint_eq(cfg.reconnect_grace_seconds, 60);
	ck_assert_uint_eq(cfg.connect_timeout_ms, 5000);
	ck_assert_int_eq(config_pool_index(&cfg, "A"), 0);
	ck_assert_int_eq(config_pool_index(&cfg, "B"), 1);
	ck_assert_int_eq(config_pool_index(&cfg, "C"), -1);
}
END_TEST

START_TEST(full_config_loads)
{
	struct config	 cfg;
	char		 err[256] = "";

	ck_assert_msg(config_load_file(DATA("config_full.json"), &cfg, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(cfg.listen_host, "::");
	ck_assert_uint_eq(cfg.listen_port, 4000);
	ck_assert(!cfg.metrics_enabled);
	ck_assert(cfg.metrics_per_worker);
	ck_assert_str_eq(cfg.http_host, "0.0.0.0");
	ck_assert_uint_eq(cfg.http_port, 8080);
	ck_assert_str_eq(cfg.http_token, "s3cret-token");
	ck_assert_uint_eq(cfg.http_idle_timeout, 20);
	ck_assert_uint_eq(cfg.n_http_allowed_hosts, 2);
	ck_assert_str_eq(cfg.http_allowed_hosts[0], "dpmp.lan");
	ck_assert_str_eq(cfg.http_allowed_hosts[1], "rig-proxy.example.org");
	ck_assert_str_eq(cfg.state_dir, "/var/lib/dpmp");
	/* given ones are kept, the others follow state_dir */
	ck_assert_str_eq(cfg.ipc_control, "ipc:///run/dpmp/control.ipc");
	ck_assert_str_eq(cfg.ipc_dataplane, "ipc:///var/lib/dpmp/dataplane.ipc");
	ck_assert_str_eq(cfg.ipc_events, "ipc:///var/lib/dpmp/events.ipc");
	/* written C, A, B: kept sorted by key */
	ck_assert_uint_eq(cfg.n_pools, 3);
	ck_assert_str_eq(cfg.pools[0].key, "A");
	ck_assert_str_eq(cfg.pools[1].key, "B");
	ck_assert_str_eq(cfg.pools[2].key, "C");
	/* scheduler.weights wins over poolX_weight */
	ck_assert_double_eq(cfg.pools[0].weight, 20);
	ck_assert_double_eq(cfg.pools[1].weight, 30.5);
	ck_assert_double_eq(cfg.pools[2].weight, 50);
	ck_assert_uint_eq(cfg.pools[0].silent_seconds, 90);
	ck_assert_str_eq(cfg.pools[0].password, "apass");
	/* B gave only host and port */
	ck_assert_str_eq(cfg.pools[1].name, "B");
	ck_assert_str_eq(cfg.pools[1].wallet, "");
	ck_assert_str_eq(cfg.pools[1].password, "x");
	ck_assert_str_eq(cfg.pools[1].chain, "");
	ck_assert(cfg.pools[1].enabled);
	ck_assert(!cfg.pools[2].enabled);
	ck_assert_uint_eq(cfg.pools[2].silent_seconds, 30);
	ck_assert_double_eq(cfg.default_min_diff, 0.001);
	ck_assert_double_eq(cfg.pools[0].min_diff, 0.5);
	ck_assert_double_eq(cfg.pools[1].min_diff, 0);
	ck_assert_double_eq(cfg.pools[2].min_diff, 16);
	ck_assert_uint_eq(cfg.slice_seconds, 5);
	ck_assert_uint_eq(cfg.min_switch_seconds, 2);
	ck_assert_uint_eq(cfg.window_seconds, 120);
	ck_assert_int_eq(cfg.upstream_mode, UPSTREAM_AGGREGATE);
	ck_assert_uint_eq(cfg.extranonce2_size, 8);
	ck_assert_uint_eq(cfg.upstream_sessions, 4);
	ck_assert_uint_eq(cfg.max_miners, 500);
	ck_assert_uint_eq(cfg.max_line, 8192);
	ck_assert_uint_eq(cfg.max_outq, 65536);
	ck_assert_uint_eq(cfg.jobs_kept, 32);
	ck_assert_uint_eq(cfg.pending_shares, 20000);
	ck_assert_uint_eq(cfg.stale_grace_ms, 2000);
	ck_assert_uint_eq(cfg.reconnect_grace_seconds, 30);
	ck_assert_uint_eq(cfg.connect_timeout_ms, 3000);
	ck_assert(!cfg.log_json);
	/* Python's upper-case level names are accepted */
	ck_assert_str_eq(cfg.log_level, "debug");
	ck_assert_str_eq(cfg.log_file, "/var/log/dpmp.log");
}
END_TEST

START_TEST(defaults)
{
	struct config	 cfg;
	char		 err[256] = "";

	config_defaults(&cfg);
	ck_assert_uint_eq(cfg.n_pools, 0);
	ck_assert_uint_eq(cfg.listen_port, 3351);
	ck_assert_uint_eq(cfg.http_port, 8855);
	ck_assert_uint_eq(cfg.window_seconds, 600);

	/* the least a config can say: one pool, no weights at all */
	ck_assert_msg(load_str("{\"pools\": {\"solo\": {\"host\": \"h\", "
	    "\"port\": 1}, \"two\": {\"host\": \"g\", \"port\": 2}}, "
	    "\"state_dir\": \"/tmp/x\"}", &cfg, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_uint_eq(cfg.n_pools, 2);
	ck_assert_str_eq(cfg.pools[0].key, "solo");
	ck_assert_str_eq(cfg.pools[0].name, "solo");
	/* no weights anywhere: an even split */
	ck_assert_double_eq(cfg.pools[0].weight, 1);
	ck_assert_double_eq(cfg.pools[1].weight, 1);
	ck_assert_str_eq(cfg.ipc_dataplane, "ipc:///tmp/x/dataplane.ipc");
	ck_assert_str_eq(cfg.ipc_control, "ipc:///tmp/x/control.ipc");
	ck_assert_uint_eq(cfg.slice_seconds, 30);
	ck_assert_uint_eq(cfg.min_switch_seconds, 10);
}
END_TEST

START_TEST(python_leniency)
{
	struct config	 cfg;
	char		 err[256] = "";

	/* nulls mean "default", integral reals are integers, unknown keys
	 * (v2 had some we do not) are ignored */
	ck_assert_msg(load_str("{\"pools\": {\"A\": {\"host\": \"h\", "
	    "\"port\": 3333.0, \"password\": null, \"extra\": [1, 2]}}, "
	    "\"listen\": {\"port\": 3351.0, \"backlog\": 5}, \"bogus\": {}, "
	    "\"scheduler\": {\"poolA_weight\": 2.5, \"poolB_weight\": null, "
	    "\"whatever\": 1}, \"logging\": {\"level\": \"WARNING\"}}", &cfg,
	    err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(cfg.pools[0].port, 3333);
	ck_assert_str_eq(cfg.pools[0].password, "x");
	ck_assert_double_eq(cfg.pools[0].weight, 2.5);
	ck_assert_uint_eq(cfg.listen_port, 3351);
	ck_assert_str_eq(cfg.log_level, "warning");
}
END_TEST

static const struct {
	const char	*json;
	const char	*msg;
} bad[] = {
	{ "{}", "pools: at least one pool is required" },
	{ "{\"pools\": {}}", "pools: at least one pool is required" },
	{ "{\"pools\": []}", "pools: must be an object" },
	{ "[]", "config: must be a JSON object" },
	{ "{\"pools\": {\"A\": 5}}", "pools.A: must be an object" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 0}}}",
	  "pools.A.port: must be an integer 1..65535" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 70000}}}",
	  "pools.A.port: must be an integer 1..65535" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": \"x\"}}}",
	  "pools.A.port: must be an integer 1..65535" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 33.5}}}",
	  "pools.A.port: must be an integer 1..65535" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\"}}}",
	  "pools.A.port: required" },
	{ "{\"pools\": {\"A\": {\"port\": 1}}}", "pools.A.host: required" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}, "
	  "\"B\": {\"host\": 5, \"port\": 1}}}",
	  "pools.B.host: must be a string" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1, "
	  "\"enabled\": \"yes\"}}}", "pools.A.enabled: must be true or false" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1, "
	  "\"silent_seconds\": 0}}}", "pools.A.silent_seconds: must be" },
	{ "{\"pools\": {\"A B\": {\"host\": \"h\", \"port\": 1}}}",
	  "pools: key \"A B\": must be 1..31 characters" },
	{ "{\"pools\": {\"\": {\"host\": \"h\", \"port\": 1}}}",
	  "pools: key \"\": must be" },
	{ "{\"pools\": {\"abcdefghijabcdefghijabcdefghijab\": "
	  "{\"host\": \"h\", \"port\": 1}}}", "pools: key" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"scheduler\": {\"poolA_weight\": -1}}",
	  "scheduler.poolA_weight: must be a number >= 0" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"scheduler\": {\"poolA_weight\": \"70\"}}",
	  "scheduler.poolA_weight: must be a number >= 0" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"scheduler\": {\"weights\": {\"A\": -5}}}",
	  "scheduler.weights.A: must be a number >= 0" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}, "
	  "\"B\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"scheduler\": {\"poolA_weight\": 0, \"poolB_weight\": 0}}",
	  "scheduler.weights: all weights are zero" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"scheduler\": {\"weights\": {\"A\": 1, \"C\": 1}}}",
	  "scheduler.weights.C: no such pool" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"scheduler\": {\"poolC_weight\": 30}}",
	  "scheduler.poolC_weight: no such pool C" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"scheduler\": {\"weights\": [1]}}",
	  "scheduler.weights: must be an object" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"scheduler\": {\"slice_seconds\": 0}}",
	  "scheduler.slice_seconds: must be an integer 1.." },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"scheduler\": {\"min_switch_seconds\": 0}}",
	  "scheduler.min_switch_seconds: must be an integer 1.." },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"scheduler\": {\"window_seconds\": 5}}",
	  "scheduler.window_seconds: must be an integer 10.." },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"scheduler\": {\"mode\": \"failover\"}}", "scheduler.mode: " },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"scheduler\": 7}", "scheduler: must be an object" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"listen\": {\"port\": 0}}",
	  "listen.port: must be an integer 1..65535" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"listen\": \"0.0.0.0:3351\"}", "listen: must be an object" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"metrics\": {\"enabled\": 1}}",
	  "metrics.enabled: must be true or false" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"http\": {\"port\": 65536}}",
	  "http.port: must be an integer 1..65535" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"http\": {\"idle_timeout_seconds\": 0}}",
	  "http.idle_timeout_seconds: must be an integer 1..3600" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"http\": {\"allowed_hosts\": \"dpmp.lan\"}}",
	  "http.allowed_hosts: must be an array of host names" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"http\": {\"allowed_hosts\": [\"ok\", 5]}}",
	  "http.allowed_hosts[1]: must be a string" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"http\": {\"allowed_hosts\": [\"dpmp.lan:8855\"]}}",
	  "http.allowed_hosts[0]: must be a host name without port" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"http\": {\"allowed_hosts\": [\"\"]}}",
	  "http.allowed_hosts[0]: must be a host name without port" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"http\": {\"allowed_hosts\": [\"dpmp.lan.\"]}}",
	  "http.allowed_hosts[0]: must be a host name without port" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"http\": {\"allowed_hosts\": [\"a\", \"b\", \"c\", \"d\", "
	  "\"e\", \"f\", \"g\", \"h\", \"i\", \"j\", \"k\", \"l\", \"m\", "
	  "\"n\", \"o\", \"p\", \"q\"]}}",
	  "http.allowed_hosts: more than 16 names" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"upstream\": {\"mode\": \"bogus\"}}",
	  "upstream.mode: must be \"per_miner\" or \"aggregate\"" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"upstream\": {\"extranonce2_size\": 9}}",
	  "upstream.extranonce2_size: must be an integer 2..8" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"upstream\": {\"extranonce2_size\": 1}}",
	  "upstream.extranonce2_size: must be an integer 2..8" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"limits\": {\"max_line\": 10}}", "limits.max_line: must be" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"logging\": {\"level\": \"loud\"}}", "logging.level: must be" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"downstream_diff\": {\"poolA_min\": -1}}",
	  "downstream_diff.poolA_min: must be a number >= 0" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"downstream_diff\": {\"poolQ_min\": 1}}",
	  "downstream_diff.poolQ_min: no such pool Q" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1, "
	  "\"enabled\": false}}}", "pools: every pool is disabled" },
	{ "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}}, "
	  "\"state_dir\": \"\"}", "state_dir: must not be empty" },
};

START_TEST(bad_configs)
{
	struct config	 cfg, before;
	char		 err[256];

	memset(&before, 0x5a, sizeof(before));
	memcpy(&cfg, &before, sizeof(cfg));
	strcpy(err, "unset");
	ck_assert_msg(load_str(bad[_i].json, &cfg, err, sizeof(err)) == -1,
	    "accepted: %s", bad[_i].json);
	ck_assert_msg(strstr(err, bad[_i].msg) == err,
	    "for %s\n  got \"%s\"\n  want \"%s...\"", bad[_i].json, err,
	    bad[_i].msg);
	/* a refused config leaves the caller's untouched */
	ck_assert(memcmp(&cfg, &before, sizeof(cfg)) == 0);
}
END_TEST

START_TEST(too_long_and_too_many)
{
	struct config	 cfg;
	char		 err[256], *buf;
	size_t		 i, off;

	/* 300 characters of host: refused, not cut to 255 */
	buf = malloc(8192);
	off = (size_t)snprintf(buf, 8192, "{\"pools\": {\"A\": {\"port\": 1, "
	    "\"host\": \"");
	for (i = 0; i < 300; i++)
		buf[off++] = 'h';
	snprintf(buf + off, 8192 - off, "\"}}}");
	ck_assert_int_eq(load_str(buf, &cfg, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "pools.A.host: longer than 255 characters");

	off = (size_t)snprintf(buf, 8192, "{\"pools\": {");
	for (i = 0; i < CONFIG_MAX_POOLS + 1; i++)
		off += (size_t)snprintf(buf + off, 8192 - off,
		    "%s\"p%zu\": {\"host\": \"h\", \"port\": 1}",
		    i ? ", " : "", i);
	snprintf(buf + off, 8192 - off, "}}");
	ck_assert_int_eq(load_str(buf, &cfg, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "pools: at most 16 pools");
	free(buf);
}
END_TEST

START_TEST(file_errors)
{
	struct config	 cfg;
	char		 err[256], path[] = "/tmp/dpmp_cfg_XXXXXX";
	const char	*text = "{\n  \"pools\": {\n    \"A\": {,}\n}\n";
	int		 fd;

	ck_assert_int_eq(config_load_file("/nonexistent/dpmp.json", &cfg,
	    err, sizeof(err)), -1);
	ck_assert_str_eq(err, "config: cannot open /nonexistent/dpmp.json: "
	    "No such file or directory");

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
	ck_assert_int_eq(config_load_file(path, &cfg, err, sizeof(err)), -1);
	ck_assert_msg(strncmp(err, "config: line 3 column ", 22) == 0, "%s",
	    err);
	/* duplicate keys are a mistake, not a choice */
	fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	text = "{\"pools\": {\"A\": {\"host\": \"h\", \"port\": 1}, "
	    "\"A\": {\"host\": \"g\", \"port\": 2}}}";
	ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
	ck_assert_int_eq(config_load_file(path, &cfg, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "duplicate") != NULL, "%s", err);
	unlink(path);
}
END_TEST

START_TEST(overlay_applies)
{
	struct config	 cfg;
	char		 err[256] = "";
	json_t		*ov;

	ck_assert_int_eq(config_load_file(DATA("config_v2.json"), &cfg, err,
	    sizeof(err)), 0);
	ov = parse("{\"weights\": {\"A\": 60, \"B\": 40}, "
	    "\"pins\": {\"rig1\": \"B\"}, "
	    "\"pools\": {\"A\": {\"host\": \"new.ocean.xyz\"}, "
	    "\"C\": {\"host\": \"c.example\", \"port\": 4444}}, "
	    "\"scheduler\": {\"slice_seconds\": 5, \"min_switch_seconds\": 2, "
	    "\"window_seconds\": 60}}");
	ck_assert_msg(config_apply_overlay(&cfg, ov, err, sizeof(err)) == 0,
	    "%s", err);
	json_decref(ov);
	ck_assert_double_eq(cfg.pools[0].weight, 60);
	ck_assert_double_eq(cfg.pools[1].weight, 40);
	/* a partial pool edit changes only what it names */
	ck_assert_str_eq(cfg.pools[0].host, "new.ocean.xyz");
	ck_assert_uint_eq(cfg.pools[0].port, 3334);
	ck_assert_str_eq(cfg.pools[0].wallet, "bc1qexamplewallet");
	/* a new pool is complete and gets the default weight */
	ck_assert_uint_eq(cfg.n_pools, 3);
	ck_assert_str_eq(cfg.pools[2].key, "C");
	ck_assert_uint_eq(cfg.pools[2].port, 4444);
	ck_assert_double_eq(cfg.pools[2].weight, 1);
	ck_assert_uint_eq(cfg.slice_seconds, 5);
	ck_assert_uint_eq(cfg.min_switch_seconds, 2);
	ck_assert_uint_eq(cfg.window_seconds, 60);
	/* an empty overlay changes nothing */
	ov = json_object();
	ck_assert_int_eq(config_apply_overlay(&cfg, ov, err, sizeof(err)), 0);
	json_decref(ov);
	ck_assert_double_eq(cfg.pools[0].weight, 60);
}
END_TEST

static const struct {
	const char	*json;
	const char	*msg;
} bad_overlay[] = {
	{ "{\"weights\": {\"A\": 60, \"C\": 40}}", "weights.C: no such pool" },
	{ "{\"weights\": {\"A\": 0, \"B\": 0}}",
	  "scheduler.weights: all weights are zero" },
	{ "{\"weights\": {\"A\": -1}}", "weights.A: must be a number >= 0" },
	{ "{\"weights\": 5}", "weights: must be an object" },
	{ "{\"pools\": {\"A\": {\"port\": 0}}}",
	  "pools.A.port: must be an integer 1..65535" },
	{ "{\"pools\": {\"D\": {\"port\": 5}}}", "pools.D.host: required" },
	{ "{\"scheduler\": {\"slice_seconds\": 0}}",
	  "scheduler.slice_seconds: must be an integer 1.." },
	{ "{\"scheduler\": {\"weights\": {\"Z\": 1}}}",
	  "scheduler.weights.Z: no such pool" },
	{ "{\"scheduler\": []}", "scheduler: must be an object" },
	{ "[1]", "overlay: must be a JSON object" },
	/* valid first half, bad second: all or nothing */
	{ "{\"pools\": {\"A\": {\"host\": \"moved.example\"}}, "
	  "\"weights\": {\"A\": \"x\"}}", "weights.A: must be a number >= 0" },
};

START_TEST(overlay_rejects)
{
	struct config	 cfg, before;
	char		 err[256] = "";
	json_t		*ov;

	ck_assert_int_eq(config_load_file(DATA("config_v2.json"), &cfg, err,
	    sizeof(err)), 0);
	memcpy(&before, &cfg, sizeof(before));
	ov = parse(bad_overlay[_i].json);
	ck_assert_msg(config_apply_overlay(&cfg, ov, err, sizeof(err)) == -1,
	    "accepted %s", bad_overlay[_i].json);
	json_decref(ov);
	ck_assert_msg(strstr(err, bad_overlay[_i].msg) == err,
	    "for %s\n  got \"%s\"\n  want \"%s...\"", bad_overlay[_i].json,
	    err, bad_overlay[_i].msg);
	ck_assert(memcmp(&cfg, &before, sizeof(cfg)) == 0);
}
END_TEST

START_TEST(to_json_masks)
{
	struct config	 cfg;
	char		 err[256] = "";
	json_t		*j, *p;

	ck_assert_int_eq(config_load_file(DATA("config_full.json"), &cfg, err,
	    sizeof(err)), 0);
	j = config_to_json(&cfg, true);
	ck_assert_ptr_nonnull(j);
	p = json_object_get(json_object_get(j, "pools"), "A");
	ck_assert_str_eq(json_string_value(json_object_get(p, "password")),
	    "***");
	ck_assert_str_eq(json_string_value(json_object_get(
	    json_object_get(j, "http"), "token")), "***");
	/* nothing else is hidden */
	ck_assert_str_eq(json_string_value(json_object_get(p, "wallet")),
	    "bc1qexamplewallet");
	ck_assert_int_eq(json_integer_value(json_object_get(
	    json_object_get(json_object_get(j, "scheduler"), "weights"),
	    "C")), 50);
	ck_assert_double_eq(json_real_value(json_object_get(
	    json_object_get(json_object_get(j, "scheduler"), "weights"),
	    "B")), 30.5);
	ck_assert_str_eq(json_string_value(json_object_get(
	    json_object_get(j, "upstream"), "mode")), "aggregate");
	/* the hardening limits are part of the dump */
	ck_assert_int_eq(json_integer_value(json_object_get(
	    json_object_get(j, "limits"), "max_per_address")), 1000);
	ck_assert_int_eq(json_integer_value(json_object_get(
	    json_object_get(j, "limits"), "handshake_timeout_seconds")), 30);
	json_decref(j);
	/* an empty secret stays empty: "***" would suggest one is set */
	cfg.http_token[0] = '\0';
	j = config_to_json(&cfg, true);
	ck_assert_str_eq(json_string_value(json_object_get(
	    json_object_get(j, "http"), "token")), "");
	json_decref(j);
	j = config_to_json(&cfg, false);
	p = json_object_get(json_object_get(j, "pools"), "C");
	ck_assert_str_eq(json_string_value(json_object_get(p, "password")),
	    "cpass");
	json_decref(j);
}
END_TEST

static void
round_trip(const char *file)
{
	struct config	 a, b;
	char		 err[256] = "", *text;
	json_t		*j, *k;

	ck_assert_msg(config_load_file(file, &a, err, sizeof(err)) == 0, "%s",
	    err);
	j = config_to_json(&a, false);
	ck_assert_ptr_nonnull(j);
	/* through text, as the state file and the API would carry it */
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	k = parse(text);
	free(text);
	ck_assert_msg(config_load_json(k, &b, err, sizeof(err)) == 0, "%s",
	    err);
	json_decref(k);
	ck_assert_msg(memcmp(&a, &b, sizeof(a)) == 0, "%s: round trip "
	    "differs", file);
}

START_TEST(round_trips)
{
	round_trip(DATA("config_v2.json"));
	round_trip(DATA("config_full.json"));
}
END_TEST

static Suite *
config_suite(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc;

	tc = tcase_create("load");
	tcase_add_test(tc, v2_config_loads);
	tcase_add_test(tc, full_config_loads);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, python_leniency);
	tcase_add_test(tc, file_errors);
	tcase_add_test(tc, too_long_and_too_many);
	tcase_add_loop_test(tc, bad_configs, 0,
	    (int)(sizeof(bad) / sizeof(bad[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("overlay");
	tcase_add_test(tc, overlay_applies);
	tcase_add_loop_test(tc, overlay_rejects, 0,
	    (int)(sizeof(bad_overlay) / sizeof(bad_overlay[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("dump");
	tcase_add_test(tc, to_json_masks);
	tcase_add_test(tc, round_trips);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(config_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
