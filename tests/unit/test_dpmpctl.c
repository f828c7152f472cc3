/*
 * Check suite: cli/dpmpctl.c, black-box.  A fake Control service (the real
 * RPC layer, canned answers) runs in a thread; the real dpmpctl binary,
 * found beside this test in the build's bin directory, is run against it
 * and judged by what an operator or a script sees: stdout, the one stderr
 * line, and the exit status.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "log.h"
#include "rpc.h"

static char	 tmpdir[64];
static char	 url[128];
static char	 ctlbin[PATH_MAX];

/* ---- fake controlplane -------------------------------------------- */

struct fake {
	mtx_t		 mtx;
	char		 keys[4][8];
	double		 weights[4];
	size_t		 n;
	char		 pin_worker[64];
	char		 pin_pool[8];
	char		 unpinned[64];
	int		 set_calls;
};

static struct fake	 fake;

static ProtobufCMessage *
heap_copy(const ProtobufCMessage *m)
{
	size_t		 len = protobuf_c_message_get_packed_size(m);
	uint8_t		*buf = malloc(len ? len : 1);
	ProtobufCMessage *copy;

	protobuf_c_message_pack(m, buf);
	copy = protobuf_c_message_unpack(m->descriptor, NULL, len, buf);
	free(buf);
	return copy;
}

static int
h_status(void *ctx, const ProtobufCMessage *in, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	Dpmp__StatusReply	 st = DPMP__STATUS_REPLY__INIT;
	Dpmp__PoolState		 sa = DPMP__POOL_STATE__INIT;
	Dpmp__PoolState		 sb = DPMP__POOL_STATE__INIT;
	Dpmp__PoolStatus	 pa = DPMP__POOL_STATUS__INIT;
	Dpmp__PoolStatus	 pb = DPMP__POOL_STATUS__INIT;
	Dpmp__PoolStatus	*pools[2] = { &pa, &pb };
	Dpmp__MinerState	 m1 = DPMP__MINER_STATE__INIT;
	Dpmp__MinerState	 m2 = DPMP__MINER_STATE__INIT;
	Dpmp__MinerState	*miners[2] = { &m1, &m2 };
	Dpmp__PoolWork		 w1 = DPMP__POOL_WORK__INIT;
	Dpmp__PoolWork		 w2 = DPMP__POOL_WORK__INIT;
	Dpmp__PoolWork		*work1[2] = { &w1, &w2 };
	Dpmp__Pin		 pin = DPMP__PIN__INIT;
	Dpmp__Pin		*pins[1] = { &pin };
	Dpmp__RejectCount	 ra[3] = { DPMP__REJECT_COUNT__INIT,
				    DPMP__REJECT_COUNT__INIT,
				    DPMP__REJECT_COUNT__INIT };
	Dpmp__RejectCount	*rap[3] = { &ra[0], &ra[1], &ra[2] };
	const uint64_t		 now = 1700000100000ull;

	(void)ctx;
	(void)in;
	(void)err;
	(void)errlen;
	sa.key = "A";
	sa.name = "ocean";
	sa.host = "mine.ocean.xyz";
	sa.port = 3334;
	sa.chain = "BTC";
	sa.up = true;
	sa.enabled = true;
	sa.difficulty = 0.00001;
	sa.miners_assigned = 1;
	pa.state = &sa;
	pa.weight = 70;
	pa.target_share = 0.7;
	pa.actual_share = 0.695;
	pa.total_share = 0.701;
	pa.accepted = 1234;
	/* 2 refused here (duplicates), 3 by the pool */
	pa.rejected = 5;
	pa.rejected_local = 2;
	pa.rejected_pool = 3;
	ra[0].where = "local";
	ra[0].reason = "duplicate";
	ra[0].count = 2;
	ra[1].where = "pool";
	ra[1].reason = "stale";
	ra[1].count = 1;
	ra[2].where = "pool";
	ra[2].reason = "pool_timeout";
	ra[2].count = 2;
	pa.n_rejected_by_reason = 3;
	pa.rejected_by_reason = rap;
	pa.accepted_difficulty = 5000.5;
	sb.key = "B";
	sb.name = "bchpool";
	sb.host = "bch.example";
	sb.port = 3333;
	sb.chain = "BCH";
	sb.up = false;
	sb.enabled = true;
	sb.miners_assigned = 1;
	pb.state = &sb;
	pb.weight = 30;
	pb.target_share = 0.3;
	pb.actual_share = 0.305;
	pb.total_share = 0.299;
	pb.accepted = 500;
	pb.rejected = 1;
	pb.rejected_pool = 1;

	w1.pool = "A";
	w1.accepted = 10;
	w1.rejected = 1;
	w1.rejected_local = 1;
	w2.pool = "B";
	w2.accepted = 5;
	w2.rejected = 2;
	w2.rejected_pool = 2;
	m1.id = 1;
	m1.worker = "rig1";
	m1.address = "192.0.2.7:40000";
	m1.pool = "A";
	m1.difficulty = 65536;
	m1.hashrate = 1.2e13;
	m1.connected_ms = now - 3725000;	/* 1h02m05s */
	m1.connected = true;
	m1.n_work = 2;
	m1.work = work1;
	m2.id = 2;
	m2.worker = "evil\x1b[31mred";
	m2.address = "192.0.2.8:40001";
	m2.pool = "B";
	m2.difficulty = 0.5;
	m2.hashrate = 500;
	m2.connected_ms = now - 42000;
	m2.connected = true;
	pin.worker = "rig1";
	pin.pool = "A";

	st.version = "0.1.0";
	st.uptime_s = 3725;
	st.dataplane_uptime_s = 90061;
	st.dataplane_connected = true;
	st.n_pools = 2;
	st.pools = pools;
	st.n_miners = 2;
	st.miners = miners;
	st.n_pins = 1;
	st.pins = pins;
	st.switches = 12;
	st.now_ms = now;
	st.window_s = 600;
	*out = heap_copy(&st.base);
	return RPC_OK;
}

static ProtobufCMessage *
weights_reply(void)
{
	Dpmp__Weights	 ws = DPMP__WEIGHTS__INIT;
	Dpmp__Weight	 w[4], *wp[4];
	size_t		 i;

	for (i = 0; i < fake.n; i++) {
		dpmp__weight__init(&w[i]);
		w[i].pool = fake.keys[i];
		w[i].weight = fake.weights[i];
		wp[i] = &w[i];
	}
	ws.n_weights = fake.n;
	ws.weights = wp;
	return heap_copy(&ws.base);
}

static int
h_get_weights(void *ctx, const ProtobufCMessage *in, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	(void)ctx;
	(void)in;
	(void)err;
	(void)errlen;
	mtx_lock(&fake.mtx);
	*out = weights_reply();
	mtx_unlock(&fake.mtx);
	return RPC_OK;
}

/* The server's side of validation: only known pools. */
static int
h_set_weights(void *ctx, const ProtobufCMessage *in, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	const Dpmp__Weights	*ws = (const Dpmp__Weights *)in;
	size_t			 i, j;

	(void)ctx;
	mtx_lock(&fake.mtx);
	fake.set_calls++;
	for (i = 0; i < ws->n_weights; i++) {
		for (j = 0; j < fake.n; j++)
			if (strcmp(fake.keys[j], ws->weights[i]->pool) == 0)
				break;
		if (j == fake.n) {
			snprintf(err, errlen, "unknown pool %s",
			    ws->weights[i]->pool);
			mtx_unlock(&fake.mtx);
			return RPC_INVALID_ARGUMENT;
		}
		fake.weights[j] = ws->weights[i]->weight;
	}
	*out = weights_reply();
	mtx_unlock(&fake.mtx);
	return RPC_OK;
}

static int
h_pin(void *ctx, const ProtobufCMessage *in, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	const Dpmp__PinRequest	*pr = (const Dpmp__PinRequest *)in;
	Dpmp__Empty		 e = DPMP__EMPTY__INIT;

	(void)ctx;
	if (strcmp(pr->pool, "A") != 0 && strcmp(pr->pool, "B") != 0) {
		snprintf(err, errlen, "unknown pool %s", pr->pool);
		return RPC_NOT_FOUND;
	}
	mtx_lock(&fake.mtx);
	snprintf(fake.pin_worker, sizeof(fake.pin_worker), "%s", pr->worker);
	snprintf(fake.pin_pool, sizeof(fake.pin_pool), "%s", pr->pool);
	mtx_unlock(&fake.mtx);
	*out = heap_copy(&e.base);
	return RPC_OK;
}

static int
h_unpin(void *ctx, const ProtobufCMessage *in, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	const Dpmp__PinRequest	*pr = (const Dpmp__PinRequest *)in;
	Dpmp__Empty		 e = DPMP__EMPTY__INIT;

	(void)ctx;
	(void)err;
	(void)errlen;
	mtx_lock(&fake.mtx);
	snprintf(fake.unpinned, sizeof(fake.unpinned), "%s", pr->worker);
	mtx_unlock(&fake.mtx);
	*out = heap_copy(&e.base);
	return RPC_OK;
}

/* Descriptor order: Status, GetWeights, SetWeights, PinMiner, UnpinMiner */
static const rpc_handler handlers[] = {
	h_status, h_get_weights, h_set_weights, h_pin, h_unpin,
};

static struct rpc_server *srv;
static thrd_t		 srv_th;
static atomic_bool	 srv_stop;

static int
srv_loop(void *arg)
{
	struct pollfd	 pfd = { .fd = rpc_server_fd(srv), .events = POLLIN };

	(void)arg;
	while (!atomic_load(&srv_stop))
		if (poll(&pfd, 1, 50) > 0)
			rpc_server_poll(srv);
	return 0;
}

/* ---- running dpmpctl ---------------------------------------------- */

struct run {
	int	 status;	/* exit status, -1 if killed */
	char	 out[16384];
	char	 err[4096];
};

static void
slurp(const char *path, char *buf, size_t len)
{
	FILE	*fp = fopen(path, "r");
	size_t	 n = 0;

	if (fp != NULL) {
		n = fread(buf, 1, len - 1, fp);
		fclose(fp);
	}
	buf[n] = '\0';
}

/*
 * Run dpmpctl with args (NULL-terminated, without argv[0]).  fork+exec,
 * not posix_spawn: <spawn.h> needs <sched.h>, which controlplane/sched.h
 * shadows on the test include path.  The child only opens, dups and execs.
 */
static void
run_ctl(struct run *r, const char *const *args)
{
	char	 outp[128], errp[128];
	char	*argv[32];
	pid_t	 pid;
	int	 i, st = 0, waited, ofd, efd;

	argv[0] = "dpmpctl";
	for (i = 0; args[i] != NULL && i < 30; i++)
		argv[i + 1] = (char *)args[i];
	argv[i + 1] = NULL;
	snprintf(outp, sizeof(outp), "%s/out", tmpdir);
	snprintf(errp, sizeof(errp), "%s/err", tmpdir);
	ofd = open(outp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	efd = open(errp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(ofd, 0);
	ck_assert_int_ge(efd, 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (dup2(ofd, 1) == -1 || dup2(efd, 2) == -1)
			_exit(127);
		execv(ctlbin, argv);
		_exit(127);
	}
	close(ofd);
	close(efd);
	for (waited = 0; waited < 20000; waited += 10) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
		usleep(10000);
	}
	if (waited >= 20000) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	slurp(outp, r->out, sizeof(r->out));
	slurp(errp, r->err, sizeof(r->err));
}

/* A failure is one line starting "dpmpctl: ". */
static void
assert_one_error_line(const struct run *r, const char *contains)
{
	ck_assert_msg(strncmp(r->err, "dpmpctl: ", 9) == 0, "stderr: %s",
	    r->err);
	ck_assert_msg(strchr(r->err, '\n') == r->err + strlen(r->err) - 1,
	    "not one line: %s", r->err);
	ck_assert_msg(strstr(r->err, contains) != NULL, "want '%s' in: %s",
	    contains, r->err);
}

static json_t *
parse_json(const char *s)
{
	json_error_t	 jerr;
	json_t		*j = json_loads(s, 0, &jerr);

	ck_assert_msg(j != NULL, "bad JSON (%s): %s", jerr.text, s);
	return j;
}

/* ---- fixture ------------------------------------------------------ */

static void
setup(void)
{
	char	 self[PATH_MAX];
	ssize_t	 n;

	/* tests and programs share the build's bin directory */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	ck_assert_int_gt(n, 0);
	self[n] = '\0';
	snprintf(ctlbin, sizeof(ctlbin), "%s/dpmpctl", dirname(self));
	ck_assert_msg(access(ctlbin, X_OK) == 0, "dpmpctl not built at %s",
	    ctlbin);

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/dpmp-ctl-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(url, sizeof(url), "ipc://%s/control.ipc", tmpdir);

	memset(&fake, 0, sizeof(fake));
	mtx_init(&fake.mtx, mtx_plain);
	snprintf(fake.keys[0], sizeof(fake.keys[0]), "A");
	snprintf(fake.keys[1], sizeof(fake.keys[1]), "B");
	fake.weights[0] = 70;
	fake.weights[1] = 30;
	fake.n = 2;

	log_set_level(LOG_LEVEL_ERROR);
	srv = rpc_server_new(url, &dpmp__control__descriptor, handlers, NULL,
	    NULL);
	ck_assert_ptr_nonnull(srv);
	atomic_store(&srv_stop, false);
	ck_assert_int_eq(thrd_create(&srv_th, srv_loop, NULL), thrd_success);
}

static void
teardown(void)
{
	char	 path[192];

	atomic_store(&srv_stop, true);
	thrd_join(srv_th, NULL);
	rpc_server_free(srv);
	srv = NULL;
	mtx_destroy(&fake.mtx);
	snprintf(path, sizeof(path), "%s/out", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/err", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/dpmp.json", tmpdir);
	unlink(path);
	rmdir(tmpdir);
}

/* ---- weights ------------------------------------------------------ */

START_TEST(weights_json_exact)
{
	struct run	 r;

	run_ctl(&r, (const char *[]){ "-e", url, "--json", "weights", NULL });
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "{\"weights\": {\"A\": 70, \"B\": 30}}\n");
	ck_assert_str_eq(r.err, "");
}
END_TEST

START_TEST(weights_human)
{
	struct run	 r;

	/* options after the command work too */
	run_ctl(&r, (const char *[]){ "weights", "-e", url, NULL });
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "A=70 B=30\n");
}
END_TEST

START_TEST(weights_set)
{
	struct run	 r;

	run_ctl(&r, (const char *[]){ "-e", url, "--json", "weights", "set",
	    "A=60", "B=40.5", NULL });
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "{\"weights\": {\"A\": 60, \"B\": 40.5}}\n");
	mtx_lock(&fake.mtx);
	ck_assert_double_eq(fake.weights[0], 60);
	ck_assert_double_eq(fake.weights[1], 40.5);
	mtx_unlock(&fake.mtx);

	run_ctl(&r, (const char *[]){ "-e", url, "weights", "set", "A=0",
	    "B=1", NULL });
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "A=0 B=1\n");
}
END_TEST

START_TEST(weights_set_rejected_locally)
{
	static const char *const bad[][3] = {
		{ "A=-1", "B=10", "negative" },
		{ "A=0", "B=0", "all be zero" },
		{ "A=x", "B=1", "not a number" },
		{ "A=nan", "B=1", "not a number" },
		{ "A=inf", "B=1", "not a number" },
		{ "A=1e999", "B=1", "not a number" },
		{ "A=", "B=1", "not a number" },
		{ "=5", "B=1", "not KEY=WEIGHT" },
		{ "A5", "B=1", "not KEY=WEIGHT" },
		{ "A=1", "A=2", "given twice" },
	};
	struct run	 r;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		run_ctl(&r, (const char *[]){ "-e", url, "weights", "set",
		    bad[i][0], bad[i][1], NULL });
		ck_assert_msg(r.status == 2, "%s %s: exit %d", bad[i][0],
		    bad[i][1], r.status);
		ck_assert_str_eq(r.out, "");
		assert_one_error_line(&r, bad[i][2]);
	}
	run_ctl(&r, (const char *[]){ "-e", url, "weights", "set", NULL });
	ck_assert_int_eq(r.status, 2);
	assert_one_error_line(&r, "KEY=WEIGHT");
	run_ctl(&r, (const char *[]){ "-e", url, "weights", "get", NULL });
	ck_assert_int_eq(r.status, 2);
	/* none of it reached the controlplane */
	mtx_lock(&fake.mtx);
	ck_assert_int_eq(fake.set_calls, 0);
	mtx_unlock(&fake.mtx);
}
END_TEST

START_TEST(weights_set_server_error)
{
	struct run	 r;

	run_ctl(&r, (const char *[]){ "-e", url, "weights", "set", "A=50",
	    "C=50", NULL });
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(r.err, "dpmpctl: unknown pool C\n");
}
END_TEST

/* ---- status / pools / miners -------------------------------------- */

START_TEST(status_json)
{
	struct run	 r;
	json_t		*j, *a, *p, *r0;

	run_ctl(&r, (const char *[]){ "-e", url, "status", "--json", NULL });
	ck_assert_int_eq(r.status, 0);
	j = parse_json(r.out);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "uptime_s")),
	    3725);
	ck_assert(json_is_true(json_object_get(j, "dataplane_connected")));
	a = json_object_get(j, "pools");
	ck_assert_int_eq(json_array_size(a), 2);
	p = json_array_get(a, 0);
	ck_assert_str_eq(json_string_value(json_object_get(p, "key")), "A");
	ck_assert(json_is_true(json_object_get(p, "up")));
	ck_assert_int_eq(json_integer_value(json_object_get(p, "weight")), 70);
	ck_assert_double_eq_tol(json_real_value(json_object_get(p,
	    "actual_share")), 0.695, 1e-9);
	ck_assert_int_eq(json_integer_value(json_object_get(p, "accepted")),
	    1234);
	/* rejects split by who refused them, the total kept */
	ck_assert_int_eq(json_integer_value(json_object_get(p, "rejected")),
	    5);
	ck_assert_int_eq(json_integer_value(json_object_get(p,
	    "rejected_local")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(p,
	    "rejected_pool")), 3);
	r0 = json_array_get(json_object_get(p, "rejected_by_reason"), 2);
	ck_assert_str_eq(json_string_value(json_object_get(r0, "where")),
	    "pool");
	ck_assert_str_eq(json_string_value(json_object_get(r0, "reason")),
	    "pool_timeout");
	ck_assert_int_eq(json_integer_value(json_object_get(r0, "count")), 2);
	/* a sub-1 difficulty is reported as it is */
	ck_assert_double_eq(json_real_value(json_object_get(p, "difficulty")),
	    0.00001);
	p = json_array_get(a, 1);
	ck_assert(json_is_false(json_object_get(p, "up")));
	p = json_object_get(j, "totals");
	ck_assert_int_eq(json_integer_value(json_object_get(p, "accepted")),
	    1734);
	ck_assert_int_eq(json_integer_value(json_object_get(p, "rejected")),
	    6);
	ck_assert_int_eq(json_integer_value(json_object_get(p,
	    "rejected_local")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(p,
	    "rejected_pool")), 4);
	ck_assert_int_eq(json_integer_value(json_object_get(p, "miners")), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j,
	    "pins"), "rig1")), "A");
	json_decref(j);
}
END_TEST

START_TEST(status_human)
{
	struct run	 r;

	run_ctl(&r, (const char *[]){ "-e", url, "status", NULL });
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, "up 1h02m") != NULL, "%s", r.out);
	ck_assert_msg(strstr(r.out, "dataplane connected, up 1d01h") != NULL,
	    "%s", r.out);
	/* what DPMP refused and what the pool refused, side by side */
	ck_assert_msg(strstr(r.out, "POOL   NAME     STATE  MINERS  WEIGHT  "
	    "TARGET  WINDOW 600s  TOTAL  ACCEPTED  REJ(local)  REJ(pool)\n")
	    != NULL, "%s", r.out);
	ck_assert_msg(strstr(r.out, "A      ocean    up          1      70   "
	    "70.0%        69.5%  70.1%      1234           2          3\n")
	    != NULL, "%s", r.out);
	ck_assert_msg(strstr(r.out, "B      bchpool  down        1      30   "
	    "30.0%        30.5%  29.9%       500           0          1\n")
	    != NULL, "%s", r.out);
	ck_assert_msg(strstr(r.out, "total                       2     100   "
	    "                               1734           2          4\n")
	    != NULL, "%s", r.out);
	ck_assert_msg(strstr(r.out, "pinned: rig1 -> A") != NULL, "%s", r.out);
}
END_TEST

START_TEST(pools_table)
{
	struct run	 r;
	json_t		*j, *p;

	run_ctl(&r, (const char *[]){ "-e", url, "pools", NULL });
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, "mine.ocean.xyz:3334") != NULL, "%s",
	    r.out);
	ck_assert_msg(strstr(r.out, "1e-05") != NULL, "%s", r.out);
	ck_assert_msg(strstr(r.out, "ACCEPTED  REJ(local)  REJ(pool)\n") !=
	    NULL, "%s", r.out);
	ck_assert_msg(strstr(r.out, "1234           2          3\n") != NULL,
	    "%s", r.out);

	run_ctl(&r, (const char *[]){ "-e", url, "--json", "pools", NULL });
	ck_assert_int_eq(r.status, 0);
	j = parse_json(r.out);
	ck_assert_int_eq(json_array_size(json_object_get(j, "pools")), 2);
	p = json_array_get(json_object_get(j, "pools"), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(p,
	    "rejected_local")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(p,
	    "rejected_pool")), 1);
	ck_assert_int_eq(json_array_size(json_object_get(p,
	    "rejected_by_reason")), 0);
	json_decref(j);
}
END_TEST

START_TEST(miners_table)
{
	struct run	 r;
	const char	*l;

	run_ctl(&r, (const char *[]){ "-e", url, "miners", NULL });
	ck_assert_int_eq(r.status, 0);
	/* the escape sequence a miner put in its name is shown, not obeyed */
	ck_assert_msg(strchr(r.out, '\x1b') == NULL, "raw ESC in %s", r.out);
	ck_assert_msg(strstr(r.out, "evil\\x1b[31mred") != NULL, "%s", r.out);
	l = strstr(r.out, "rig1");
	ck_assert_ptr_nonnull(l);
	ck_assert_msg(strstr(r.out, "ACCEPTED  REJ(local)  REJ(pool)  SINCE\n")
	    != NULL, "%s", r.out);
	ck_assert_msg(strncmp(l, "rig1             192.0.2.7:40000  "
	    "A (pinned)       65536  12.00 TH/s        15           1          "
	    "2  1h02m\n", 109) == 0, "%s", r.out);
	ck_assert_msg(strstr(r.out, "500 H/s") != NULL, "%s", r.out);
	ck_assert_msg(strstr(r.out, "42s") != NULL, "%s", r.out);
}
END_TEST

START_TEST(miners_json)
{
	struct run	 r;
	json_t		*j, *m;

	run_ctl(&r, (const char *[]){ "-e", url, "--json", "miners", NULL });
	ck_assert_int_eq(r.status, 0);
	j = parse_json(r.out);
	m = json_array_get(json_object_get(j, "miners"), 1);
	/* JSON carries the name exactly; escaping is the reader's job */
	ck_assert_str_eq(json_string_value(json_object_get(m, "worker")),
	    "evil\x1b[31mred");
	m = json_array_get(json_object_get(j, "miners"), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(m, "accepted")),
	    15);
	ck_assert_int_eq(json_integer_value(json_object_get(m,
	    "connected_s")), 3725);
	ck_assert_str_eq(json_string_value(json_object_get(m, "pinned")), "A");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
	    json_object_get(m, "work"), "A"), "rejected")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
	    json_object_get(m, "work"), "A"), "rejected_local")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
	    json_object_get(m, "work"), "B"), "rejected_pool")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(m, "rejected")),
	    3);
	ck_assert_int_eq(json_integer_value(json_object_get(m,
	    "rejected_local")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(m,
	    "rejected_pool")), 2);
	json_decref(j);
}
END_TEST

/* ---- pins --------------------------------------------------------- */

START_TEST(pin_unpin)
{
	struct run	 r;

	run_ctl(&r, (const char *[]){ "-e", url, "pin", "rig2", "B", NULL });
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "pinned rig2 to pool B\n");
	mtx_lock(&fake.mtx);
	ck_assert_str_eq(fake.pin_worker, "rig2");
	ck_assert_str_eq(fake.pin_pool, "B");
	mtx_unlock(&fake.mtx);

	run_ctl(&r, (const char *[]){ "-e", url, "--json", "unpin", "rig2",
	    NULL });
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "{\"unpinned\": {\"worker\": \"rig2\"}}\n");
	mtx_lock(&fake.mtx);
	ck_assert_str_eq(fake.unpinned, "rig2");
	mtx_unlock(&fake.mtx);

	run_ctl(&r, (const char *[]){ "-e", url, "pin", "rig2", "Z", NULL });
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.err, "dpmpctl: unknown pool Z\n");
}
END_TEST

/* ---- failures ----------------------------------------------------- */

START_TEST(not_reachable)
{
	struct run	 r;
	char		 none[160], want[200];

	snprintf(none, sizeof(none), "ipc://%s/none.ipc", tmpdir);
	run_ctl(&r, (const char *[]){ "-e", none, "status", NULL });
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "");
	snprintf(want, sizeof(want), "controlplane not reachable at %s: ",
	    none);
	assert_one_error_line(&r, want);
}
END_TEST

START_TEST(hung_controlplane)
{
	struct run	 r;
	nng_socket	 rep;
	char		 hung[160], want[512];

	/* something listens but never answers: bounded by -t, not a hang */
	snprintf(hung, sizeof(hung), "ipc://%s/hung.ipc", tmpdir);
	ck_assert_int_eq(nng_rep0_open(&rep), 0);
	ck_assert_int_eq(nng_listen(rep, hung, NULL, 0), 0);
	run_ctl(&r, (const char *[]){ "-e", hung, "-t", "300", "--json",
	    "weights", NULL });
	nng_close(rep);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "");
	snprintf(want, sizeof(want), "controlplane not reachable at %s: "
	    "no answer from %s in 300 ms", hung, hung);
	assert_one_error_line(&r, want);
}
END_TEST

START_TEST(usage_errors)
{
	struct run	 r;

	run_ctl(&r, (const char *[]){ NULL });
	ck_assert_int_eq(r.status, 2);
	assert_one_error_line(&r, "no command");
	run_ctl(&r, (const char *[]){ "-e", url, "frobnicate", NULL });
	ck_assert_int_eq(r.status, 2);
	assert_one_error_line(&r, "unknown command 'frobnicate'");
	run_ctl(&r, (const char *[]){ "-e", url, "pin", "rig1", NULL });
	ck_assert_int_eq(r.status, 2);
	assert_one_error_line(&r, "wrong number of arguments");
	run_ctl(&r, (const char *[]){ "-e", url, "-t", "abc", "status",
	    NULL });
	ck_assert_int_eq(r.status, 2);
	assert_one_error_line(&r, "timeout");
	run_ctl(&r, (const char *[]){ "--nope", "status", NULL });
	ck_assert_int_eq(r.status, 2);
	assert_one_error_line(&r, "unknown option");
	run_ctl(&r, (const char *[]){ "-e", "nonsense", "status", NULL });
	ck_assert_int_eq(r.status, 2);
	assert_one_error_line(&r, "not a URL");

	run_ctl(&r, (const char *[]){ "help", NULL });
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "usage: dpmpctl"));
	ck_assert_str_eq(r.err, "");
	run_ctl(&r, (const char *[]){ "-h", NULL });
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "weights set"));
}
END_TEST

/* ---- config ------------------------------------------------------- */

static void
write_config(const char *ipc)
{
	char	 path[128];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/dpmp.json", tmpdir);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fprintf(fp, "{\"pools\": {"
	    "\"A\": {\"name\": \"ocean\", \"host\": \"127.0.0.1\", "
	    "\"port\": 3334, \"wallet\": \"bc1q\"},"
	    "\"B\": {\"name\": \"bch\", \"host\": \"127.0.0.1\", "
	    "\"port\": 3335, \"wallet\": \"qq\"}},"
	    " \"state_dir\": \"%s\", \"ipc\": {\"control\": \"%s\"}}\n",
	    tmpdir, ipc);
	fclose(fp);
}

START_TEST(endpoint_from_config)
{
	struct run	 r;
	char		 cfg[128], none[160];

	write_config(url);
	snprintf(cfg, sizeof(cfg), "%s/dpmp.json", tmpdir);
	run_ctl(&r, (const char *[]){ "-c", cfg, "--json", "weights", NULL });
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.out, "{\"weights\": {\"A\": 70, \"B\": 30}}\n");

	/* -e wins over -c */
	snprintf(none, sizeof(none), "ipc://%s/none.ipc", tmpdir);
	write_config(none);
	run_ctl(&r, (const char *[]){ "-c", cfg, "-e", url, "weights", NULL });
	ck_assert_int_eq(r.status, 0);
	run_ctl(&r, (const char *[]){ "-c", cfg, "weights", NULL });
	ck_assert_int_eq(r.status, 1);
	assert_one_error_line(&r, none);

	/* a config that does not load names itself */
	run_ctl(&r, (const char *[]){ "-c", "/nonexistent/dpmp.json",
	    "weights", NULL });
	ck_assert_int_eq(r.status, 1);
	assert_one_error_line(&r, "/nonexistent/dpmp.json");
}
END_TEST

static Suite *
dpmpctl_suite(void)
{
	Suite	*s = suite_create("dpmpctl");
	TCase	*tc = tcase_create("cli");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, weights_json_exact);
	tcase_add_test(tc, weights_human);
	tcase_add_test(tc, weights_set);
	tcase_add_test(tc, weights_set_rejected_locally);
	tcase_add_test(tc, weights_set_server_error);
	tcase_add_test(tc, status_json);
	tcase_add_test(tc, status_human);
	tcase_add_test(tc, pools_table);
	tcase_add_test(tc, miners_table);
	tcase_add_test(tc, miners_json);
	tcase_add_test(tc, pin_unpin);
	tcase_add_test(tc, not_reachable);
	tcase_add_test(tc, hung_controlplane);
	tcase_add_test(tc, usage_errors);
	tcase_add_test(tc, endpoint_from_config);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(dpmpctl_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
