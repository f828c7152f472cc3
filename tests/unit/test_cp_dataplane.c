/*
 * Check suite: dpmp-controlplane against a fake dataplane.  The fake
 * serves the Dataplane service and publishes events from a thread of this
 * test; the real binary (beside this one in bin/) is started with a config
 * pointing at it, and checked through HTTP, the Control service and its
 * log: config pushed on first contact and on a new boot id, miners
 * scheduled by batched Assign calls, accepted difficulty credited once
 * (history, events, lost events), counters passed through to /metrics,
 * and a dataplane that goes away and comes back.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "clock.h"
#include "log.h"
#include "pbjson.h"
#include "rpc.h"

#define MAX_MINERS	32
#define MAX_ASSIGN	1024

/* ---- the fake dataplane -------------------------------------------------- */

struct fminer {
	uint64_t	 id;
	char		 worker[64];
	char		 pool[8];
	double		 hashrate;
	double		 acc_diff[2];	/* A, B */
	bool		 connected;
};

struct fassign {
	uint64_t	 miner_id;
	char		 pool[8];
	char		 reason[32];
	char		 newcomer[8];
};

static struct fake {
	pthread_mutex_t	 mu;
	pthread_t	 thread;
	volatile bool	 stop;
	bool		 running;
	char		 url[PATH_MAX];
	char		 boot_id[32];
	struct fminer	 miners[MAX_MINERS];
	size_t		 n_miners;
	int		 getstate_calls;
	int64_t		 wall_skew_ms;	/* added to State.now_ms */
	int		 setconfig_calls;
	char		 cfg_keys[2][8];
	char		 cfg_hosts[2][64];
	double		 cfg_weights[2];
	struct fassign	 assigns[MAX_ASSIGN];
	size_t		 n_assigns;
	int		 assign_calls;
} fk = { .mu = PTHREAD_MUTEX_INITIALIZER };

static int
pool_slot(const char *key)
{
	return strcmp(key, "A") == 0 ? 0 : strcmp(key, "B") == 0 ? 1 : -1;
}

static int
h_get_state(void *ctx, const ProtobufCMessage *in, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	Dpmp__State		 st = DPMP__STATE__INIT;
	Dpmp__PoolState		 ps[2], *psp[2];
	Dpmp__MinerState	 ms[MAX_MINERS], *msp[MAX_MINERS];
	Dpmp__PoolWork		 pw[MAX_MINERS][2], *pwp[MAX_MINERS][2];
	static char		*keys[2] = { "A", "B" };
	size_t			 i, j;

	(void)ctx;
	(void)in;
	(void)err;
	(void)errlen;
	pthread_mutex_lock(&fk.mu);
	fk.getstate_calls++;
	st.boot_id = fk.boot_id;
	st.version = "fake";
	st.now_ms = clock_wall_ms() + (uint64_t)fk.wall_skew_ms;
	st.mono_ms = clock_mono_ms();
	st.started_ms = st.now_ms - 42000;
	for (i = 0; i < 2; i++) {
		dpmp__pool_state__init(&ps[i]);
		ps[i].key = keys[i];
		ps[i].up = true;
		ps[i].enabled = true;
		ps[i].difficulty = i == 0 ? 0.00001 : 1024;
		ps[i].upstream_connections = 1;
		psp[i] = &ps[i];
	}
	for (i = 0; i < fk.n_miners; i++) {
		struct fminer *m = &fk.miners[i];

		dpmp__miner_state__init(&ms[i]);
		ms[i].id = m->id;
		ms[i].worker = m->worker;
		ms[i].address = "127.0.0.1:4000";
		ms[i].pool = m->pool;
		ms[i].hashrate = m->hashrate;
		ms[i].connected = m->connected;
		ms[i].difficulty = 1;
		for (j = 0; j < 2; j++) {
			dpmp__pool_work__init(&pw[i][j]);
			pw[i][j].pool = keys[j];
			pw[i][j].accepted_difficulty = m->acc_diff[j];
			pw[i][j].accepted = (uint64_t)m->acc_diff[j];
			pwp[i][j] = &pw[i][j];
		}
		ms[i].work = pwp[i];
		ms[i].n_work = 2;
		msp[i] = &ms[i];
		if (strcmp(m->pool, "A") == 0)
			ps[0].miners_assigned++;
		else if (strcmp(m->pool, "B") == 0)
			ps[1].miners_assigned++;
	}
	st.pools = psp;
	st.n_pools = 2;
	st.miners = msp;
	st.n_miners = fk.n_miners;
	*out = pbjson_clone(&st.base);
	pthread_mutex_unlock(&fk.mu);
	return *out != NULL ? RPC_OK : RPC_INTERNAL;
}

static int
h_assign(void *ctx, const ProtobufCMessage *in, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	const Dpmp__AssignRequest	*req = (const Dpmp__AssignRequest *)in;
	Dpmp__AssignReply		 rep = DPMP__ASSIGN_REPLY__INIT;
	size_t				 i, j;

	(void)ctx;
	(void)err;
	(void)errlen;
	pthread_mutex_lock(&fk.mu);
	fk.assign_calls++;
	for (i = 0; i < req->n_assignments; i++) {
		const Dpmp__Assignment *a = req->assignments[i];

		if (fk.n_assigns < MAX_ASSIGN) {
			struct fassign *fa = &fk.assigns[fk.n_assigns++];

			fa->miner_id = a->miner_id;
			snprintf(fa->pool, sizeof(fa->pool), "%s", a->pool);
			snprintf(fa->reason, sizeof(fa->reason), "%s",
			    req->reason);
			snprintf(fa->newcomer, sizeof(fa->newcomer), "%s",
			    req->newcomer_pool);
		}
		/* carried out, as the real one would */
		for (j = 0; j < fk.n_miners; j++)
			if (fk.miners[j].id == a->miner_id)
				snprintf(fk.miners[j].pool,
				    sizeof(fk.miners[j].pool), "%s", a->pool);
		rep.applied++;
	}
	pthread_mutex_unlock(&fk.mu);
	*out = pbjson_clone(&rep.base);
	return RPC_OK;
}

static int
h_set_config(void *ctx, const ProtobufCMessage *in, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	const Dpmp__SetConfigRequest	*req = (const Dpmp__SetConfigRequest *)in;
	Dpmp__SetConfigReply		 rep = DPMP__SET_CONFIG_REPLY__INIT;
	size_t				 i;

	(void)ctx;
	(void)err;
	(void)errlen;
	pthread_mutex_lock(&fk.mu);
	fk.setconfig_calls++;
	for (i = 0; i < req->n_pools && i < 2; i++) {
		snprintf(fk.cfg_keys[i], sizeof(fk.cfg_keys[i]), "%s",
		    req->pools[i]->key);
		snprintf(fk.cfg_hosts[i], sizeof(fk.cfg_hosts[i]), "%s",
		    req->pools[i]->host);
		fk.cfg_weights[i] = req->pools[i]->weight;
	}
	rep.pools_changed = (uint32_t)req->n_pools;
	pthread_mutex_unlock(&fk.mu);
	*out = pbjson_clone(&rep.base);
	return RPC_OK;
}

static Dpmp__Label *
mk_label(const char *n, const char *v)
{
	Dpmp__Label *l = malloc(sizeof(*l));

	dpmp__label__init(l);
	l->name = strdup(n);
	l->value = strdup(v);
	return l;
}

/* A dpmp_shares_rejected_total sample as the dataplane sends it. */
static Dpmp__Metric *
mk_reject(const char *pool, const char *reason, const char *where, double v)
{
	Dpmp__Metric *m = malloc(sizeof(*m));

	dpmp__metric__init(m);
	m->name = strdup("dpmp_shares_rejected_total");
	m->labels = calloc(3, sizeof(*m->labels));
	m->labels[m->n_labels++] = mk_label("pool", pool);
	m->labels[m->n_labels++] = mk_label("reason", reason);
	m->labels[m->n_labels++] = mk_label("where", where);
	m->value = v;
	return m;
}

static int
h_get_counters(void *ctx, const ProtobufCMessage *in, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	Dpmp__Counters	*c = malloc(sizeof(*c));
	Dpmp__Metric	*m;
	Dpmp__Histogram	*h;

	(void)ctx;
	(void)in;
	(void)err;
	(void)errlen;
	dpmp__counters__init(c);
	c->metrics = calloc(5, sizeof(*c->metrics));
	m = malloc(sizeof(*m));
	dpmp__metric__init(m);
	m->name = strdup("dpmp_shares_accepted_total");
	m->labels = calloc(1, sizeof(*m->labels));
	m->labels[m->n_labels++] = mk_label("pool", "A");
	m->value = 10;
	c->metrics[c->n_metrics++] = m;
	/* refused here once, by the pool twice; a zero series and one of
	 * shares tied to no pool, neither of which is pool A's */
	c->metrics[c->n_metrics++] = mk_reject("A", "low \"diff\"\\", "local",
	    1);
	c->metrics[c->n_metrics++] = mk_reject("A", "stale", "pool", 2);
	c->metrics[c->n_metrics++] = mk_reject("A", "duplicate", "local", 0);
	c->metrics[c->n_metrics++] = mk_reject("none", "stale", "local", 7);
	c->histograms = calloc(1, sizeof(*c->histograms));
	h = malloc(sizeof(*h));
	dpmp__histogram__init(h);
	h->name = strdup("dpmp_share_latency_seconds");
	h->labels = calloc(1, sizeof(*h->labels));
	h->labels[h->n_labels++] = mk_label("pool", "A");
	h->bounds = calloc(2, sizeof(double));
	h->buckets = calloc(2, sizeof(uint64_t));
	h->bounds[0] = 0.01;
	h->bounds[1] = 0.1;
	h->buckets[0] = 3;
	h->buckets[1] = 4;
	h->n_bounds = h->n_buckets = 2;
	h->sum = 0.2;
	h->count = 5;
	c->histograms[c->n_histograms++] = h;
	*out = &c->base;
	return RPC_OK;
}

static void
out_free(void *ctx, ProtobufCMessage *out)
{
	(void)ctx;
	protobuf_c_message_free_unpacked(out, NULL);
}

static void *
fake_main(void *arg)
{
	const ProtobufCServiceDescriptor *svc = &dpmp__dataplane__descriptor;
	static const struct {
		const char *name;
		rpc_handler h;
	} table[] = {
		{ "GetState", h_get_state }, { "Assign", h_assign },
		{ "SetConfig", h_set_config }, { "GetCounters", h_get_counters },
	};
	rpc_handler		 handlers[8] = { NULL };
	struct rpc_server	*srv;
	struct pollfd		 pfd;
	size_t			 i, j;

	(void)arg;
	for (i = 0; i < svc->n_methods; i++)
		for (j = 0; j < 4; j++)
			if (strcmp(svc->methods[i].name, table[j].name) == 0)
				handlers[i] = table[j].h;
	srv = rpc_server_new(fk.url, svc, handlers, out_free, NULL);
	if (srv == NULL)
		return NULL;
	pfd.fd = rpc_server_fd(srv);
	pfd.events = POLLIN;
	while (!fk.stop) {
		if (poll(&pfd, 1, 20) > 0)
			rpc_server_poll(srv);
	}
	rpc_server_free(srv);
	return NULL;
}

static void
fake_start(void)
{
	fk.stop = false;
	ck_assert_int_eq(pthread_create(&fk.thread, NULL, fake_main, NULL), 0);
	fk.running = true;
}

static void
fake_stop(void)
{
	if (!fk.running)
		return;
	fk.stop = true;
	pthread_join(fk.thread, NULL);
	fk.running = false;
}

static void
add_miner(uint64_t id, const char *worker, const char *pool, double hr,
    double acc_a, double acc_b)
{
	struct fminer *m;

	pthread_mutex_lock(&fk.mu);
	m = &fk.miners[fk.n_miners++];
	memset(m, 0, sizeof(*m));
	m->id = id;
	snprintf(m->worker, sizeof(m->worker), "%s", worker);
	snprintf(m->pool, sizeof(m->pool), "%s", pool);
	m->hashrate = hr;
	m->acc_diff[0] = acc_a;
	m->acc_diff[1] = acc_b;
	m->connected = true;
	pthread_mutex_unlock(&fk.mu);
}

/* ---- the controlplane under test --------------------------------------- */

static char		 dir[64];
static char		 url_ev[PATH_MAX], url_ctl[PATH_MAX], log_path[PATH_MAX];
static int		 http_port, metrics_port;
static pid_t		 cp_pid = -1;
static struct rpc_pub	*pub;

static int
free_port(void)
{
	struct sockaddr_in	sa;
	socklen_t		len = sizeof(sa);
	int			fd, port;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static uint64_t
now_ms(void)
{
	return clock_mono_ms();
}

/* One HTTP/1.1 request with Connection: close.  Returns the status, with
 * the body (malloc'd) in *body. */
static int
http(int port, const char *method, const char *path, const char *auth,
    const char *reqbody, char **body)
{
	struct sockaddr_in	 sa;
	struct timeval		 tv = { 5, 0 };
	char			 head[1024], *buf = NULL, *p;
	size_t			 len = 0, cap = 0;
	ssize_t			 n;
	int			 fd, status = -1;

	*body = NULL;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		close(fd);
		return -1;
	}
	snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\n%s%s%sContent-Length: %zu\r\n\r\n", method,
	    path, auth ? "Authorization: " : "", auth ? auth : "",
	    auth ? "\r\n" : "", reqbody ? strlen(reqbody) : 0);
	if (write(fd, head, strlen(head)) < 0 ||
	    (reqbody && write(fd, reqbody, strlen(reqbody)) < 0)) {
		close(fd);
		return -1;
	}
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (buf == NULL)
		return -1;
	buf[len] = '\0';
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		status = -1;
	if ((p = strstr(buf, "\r\n\r\n")) != NULL)
		*body = strdup(p + 4);
	free(buf);
	return status;
}

static json_t *
get_json(const char *path)
{
	char	*body;
	json_t	*j;
	int	 st;

	st = http(http_port, "GET", path, NULL, NULL, &body);
	ck_assert_int_eq(st, 200);
	j = json_loads(body, 0, NULL);
	ck_assert_ptr_nonnull(j);
	free(body);
	return j;
}

static json_t *
pool_status(json_t *status, int i)
{
	return json_array_get(json_object_get(status, "pools"), (size_t)i);
}

static double
pool_num(const char *field, int i)
{
	json_t	*st = get_json("/api/v1/status");
	double	 v = json_number_value(json_object_get(pool_status(st, i),
		    field));

	json_decref(st);
	return v;
}

static bool
connected(void)
{
	json_t	*st = get_json("/api/v1/status");
	bool	 c = json_is_true(json_object_get(st, "dataplane_connected"));

	json_decref(st);
	return c;
}

static char *
read_log(void)
{
	FILE	*fp = fopen(log_path, "r");
	char	*text;
	long	 n;

	ck_assert_ptr_nonnull(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	text = calloc(1, (size_t)n + 1);
	if (fread(text, 1, (size_t)n, fp) != (size_t)n)
		n = 0;
	fclose(fp);
	return text;
}

static int
count_str(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

#define WAIT_UNTIL(cond, ms) do {					\
	uint64_t _deadline = now_ms() + (ms);				\
	while (!(cond)) {						\
		ck_assert_msg(now_ms() < _deadline, "timed out: %s", #cond); \
		usleep(20000);						\
	}								\
} while (0)

/* How many of the fake's miners are on pool now. */
static int
count_on(const char *pool)
{
	size_t	i;
	int	n = 0;

	pthread_mutex_lock(&fk.mu);
	for (i = 0; i < fk.n_miners; i++)
		n += strcmp(fk.miners[i].pool, pool) == 0;
	pthread_mutex_unlock(&fk.mu);
	return n;
}

static bool
miner_on(size_t i, const char *pool)
{
	bool b;

	pthread_mutex_lock(&fk.mu);
	b = strcmp(fk.miners[i].pool, pool) == 0;
	pthread_mutex_unlock(&fk.mu);
	return b;
}

static double
pushed_weight(int i)
{
	double w;

	pthread_mutex_lock(&fk.mu);
	w = fk.cfg_weights[i];
	pthread_mutex_unlock(&fk.mu);
	return w;
}

static int
locked_int(const int *p)
{
	int v;

	pthread_mutex_lock(&fk.mu);
	v = *p;
	pthread_mutex_unlock(&fk.mu);
	return v;
}

static void
start_controlplane(void)
{
	char	 exe[PATH_MAX], bin[PATH_MAX + 32], cfg_path[PATH_MAX];
	ssize_t	 n;
	FILE	*fp;
	int	 fd;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ck_assert_int_gt(n, 0);
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	snprintf(bin, sizeof(bin), "%s/dpmp-controlplane", exe);
	ck_assert_msg(access(bin, X_OK) == 0, "%s not built", bin);

	snprintf(cfg_path, sizeof(cfg_path), "%s/dpmp.json", dir);
	fp = fopen(cfg_path, "w");
	ck_assert_ptr_nonnull(fp);
	fprintf(fp, "{\"pools\": {"
	    "\"A\": {\"name\": \"ocean\", \"host\": \"a.example\", "
	    "\"port\": 3333, \"wallet\": \"wa\", \"chain\": \"BTC\"},"
	    "\"B\": {\"name\": \"bch\", \"host\": \"b.example\", "
	    "\"port\": 3334, \"wallet\": \"wb\", \"chain\": \"BCH\"}},"
	    "\"scheduler\": {\"poolA_weight\": 70, \"poolB_weight\": 30, "
	    "\"slice_seconds\": 2, \"min_switch_seconds\": 1, "
	    "\"window_seconds\": 60},"
	    "\"http\": {\"port\": %d, \"token\": \"tok\"},"
	    "\"metrics\": {\"port\": %d},"
	    "\"state_dir\": \"%s/state\","
	    "\"ipc\": {\"dataplane\": \"%s\", \"events\": \"%s\", "
	    "\"control\": \"%s\"},"
	    "\"logging\": {\"level\": \"debug\"}}\n", http_port, metrics_port,
	    dir, fk.url, url_ev, url_ctl);
	fclose(fp);

	cp_pid = fork();
	ck_assert_int_ge(cp_pid, 0);
	if (cp_pid == 0) {
		fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(bin, bin, "-c", cfg_path, (char *)NULL);
		_exit(127);
	}
	/* up once HTTP answers */
	{
		uint64_t deadline = now_ms() + 5000;
		char *body;

		while (http(http_port, "GET", "/api/v1/weights", NULL, NULL,
		    &body) != 200) {
			ck_assert_msg(now_ms() < deadline,
			    "controlplane did not come up");
			usleep(20000);
		}
		free(body);
	}
}

/* SIGTERM must give a clean exit 0. */
static void
stop_controlplane(void)
{
	int status = 0;

	if (cp_pid <= 0)
		return;
	kill(cp_pid, SIGTERM);
	waitpid(cp_pid, &status, 0);
	cp_pid = -1;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "controlplane exit status %d", status);
}

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/dpmp-cpdp-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	log_init("test", LOG_LEVEL_ERROR);
	pthread_mutex_lock(&fk.mu);
	fk.n_miners = 0;
	fk.n_assigns = 0;
	fk.assign_calls = fk.getstate_calls = fk.setconfig_calls = 0;
	fk.wall_skew_ms = 0;
	snprintf(fk.boot_id, sizeof(fk.boot_id), "boot-1");
	snprintf(fk.url, sizeof(fk.url), "ipc://%s/dp.ipc", dir);
	pthread_mutex_unlock(&fk.mu);
	snprintf(url_ev, sizeof(url_ev), "ipc://%s/ev.ipc", dir);
	snprintf(url_ctl, sizeof(url_ctl), "ipc://%s/ctl.ipc", dir);
	snprintf(log_path, sizeof(log_path), "%s/controlplane.log", dir);
	http_port = free_port();
	metrics_port = free_port();
	pub = rpc_pub_new(url_ev);
	ck_assert_ptr_nonnull(pub);
}

static void
teardown(void)
{
	char cmd[128];

	stop_controlplane();
	fake_stop();
	rpc_pub_free(pub);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static void
publish_share(uint64_t id, const char *pool, double diff, bool update_work)
{
	Dpmp__Event	ev = DPMP__EVENT__INIT;
	size_t		i;

	pthread_mutex_lock(&fk.mu);
	/* the dataplane counts before it publishes */
	for (i = 0; update_work && i < fk.n_miners; i++)
		if (fk.miners[i].id == id)
			fk.miners[i].acc_diff[pool_slot(pool)] += diff;
	pthread_mutex_unlock(&fk.mu);
	ev.type = "share_result";
	ev.ts_ms = clock_wall_ms();
	ev.mono_ms = clock_mono_ms();
	ev.miner_id = id;
	ev.pool = (char *)pool;
	ev.result = "accepted";
	ev.difficulty = diff;
	ck_assert_int_eq(rpc_pub_send(pub, &ev), 0);
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(pushes_config_on_contact_and_new_boot)
{
	char *log;

	fake_start();
	start_controlplane();
	WAIT_UNTIL(locked_int(&fk.setconfig_calls) >= 1, 5000);
	pthread_mutex_lock(&fk.mu);
	ck_assert_str_eq(fk.cfg_keys[0], "A");
	ck_assert_str_eq(fk.cfg_hosts[1], "b.example");
	ck_assert(fk.cfg_weights[0] == 70 && fk.cfg_weights[1] == 30);
	pthread_mutex_unlock(&fk.mu);
	WAIT_UNTIL(connected(), 5000);
	ck_assert(pool_num("weight", 0) == 70);

	/* the same boot is not pushed again */
	usleep(1500000);
	ck_assert_int_eq(locked_int(&fk.setconfig_calls), 1);
	pthread_mutex_lock(&fk.mu);
	snprintf(fk.boot_id, sizeof(fk.boot_id), "boot-2");
	pthread_mutex_unlock(&fk.mu);
	WAIT_UNTIL(locked_int(&fk.setconfig_calls) == 2, 5000);
	log = read_log();
	ck_assert_ptr_nonnull(strstr(log, "\"event\":\"dataplane_connected\""));
	ck_assert_ptr_nonnull(strstr(log, "\"boot_id\":\"boot-2\""));
	ck_assert_ptr_nonnull(strstr(log, "\"event\":\"controlplane_started\""));
	free(log);
}
END_TEST

START_TEST(schedules_whole_miners_in_batches)
{
	char		 name[32];
	size_t		 i;
	int		 on_a = 0, on_b = 0;
	bool		 newcomer = false, reason = true;

	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "rig%zu", i);
		add_miner(i + 1, name, "A", 1e12, 0, 0);
	}
	fake_start();
	start_controlplane();
	/* ten equal miners at 70:30: three move to B, as whole miners */
	WAIT_UNTIL(count_on("B") == 3, 8000);
	usleep(2500000);
	pthread_mutex_lock(&fk.mu);
	for (i = 0; i < fk.n_miners; i++) {
		on_a += strcmp(fk.miners[i].pool, "A") == 0;
		on_b += strcmp(fk.miners[i].pool, "B") == 0;
	}
	for (i = 0; i < fk.n_assigns; i++) {
		newcomer |= fk.assigns[i].newcomer[0] != '\0';
		reason &= strcmp(fk.assigns[i].reason, "schedule") == 0;
	}
	/* one Assign carried the three moves, and nothing moved back */
	ck_assert_uint_eq(fk.n_assigns, 3);
	pthread_mutex_unlock(&fk.mu);
	ck_assert_int_eq(on_a, 7);
	ck_assert_int_eq(on_b, 3);
	ck_assert(newcomer);
	ck_assert(reason);
	ck_assert(pool_num("target_share", 0) > 0.69 &&
	    pool_num("target_share", 0) < 0.71);
}
END_TEST

START_TEST(weights_change_moves_miners)
{
	char	 name[32], *body;
	size_t	 i;
	bool	 seen = false;

	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "rig%zu", i);
		add_miner(i + 1, name, i < 7 ? "A" : "B", 1e12, 0, 0);
	}
	fake_start();
	start_controlplane();
	WAIT_UNTIL(connected(), 5000);
	usleep(1500000);
	ck_assert_int_eq(http(http_port, "PUT", "/api/v1/weights",
	    "Bearer tok", "{\"weights\":{\"A\":30,\"B\":70}}", &body), 200);
	free(body);
	/* pushed to the dataplane with the config, then acted on */
	WAIT_UNTIL(pushed_weight(1) == 70, 5000);
	WAIT_UNTIL(count_on("B") == 7, 8000);
	pthread_mutex_lock(&fk.mu);
	for (i = 0; i < fk.n_assigns; i++)
		seen |= strcmp(fk.assigns[i].reason, "weights_changed") == 0;
	pthread_mutex_unlock(&fk.mu);
	ck_assert(seen);
	body = read_log();
	ck_assert_ptr_nonnull(strstr(body, "\"event\":\"weights_changed\""));
	ck_assert_ptr_nonnull(strstr(body, "\"event\":\"schedule_decision\""));
	free(body);
}
END_TEST

START_TEST(history_events_and_losses_credited_once)
{
	fake_start();
	/* work done before the controlplane came: real history */
	add_miner(1, "rig1", "A", 1e12, 700, 0);
	add_miner(2, "rig2", "B", 1e12, 0, 300);
	start_controlplane();
	WAIT_UNTIL(connected(), 5000);
	WAIT_UNTIL(fabs(pool_num("total_share", 0) - 0.7) < 1e-9, 3000);
	/* history is cumulative only: the window reports what was
	 * measured since the controlplane started, nothing invented */
	ck_assert(pool_num("actual_share", 0) == 0);
	ck_assert(pool_num("actual_share", 1) == 0);

	/* events, each also counted in the dataplane's snapshot: credited
	 * once, whatever order the two arrive in */
	publish_share(2, "B", 500, true);
	publish_share(2, "B", 500, true);
	WAIT_UNTIL(fabs(pool_num("total_share", 1) - 1300.0 / 2000) < 1e-9,
	    3000);
	usleep(2500000);
	ck_assert(fabs(pool_num("total_share", 1) - 1300.0 / 2000) < 1e-9);

	/* a share whose event was lost shows up from the snapshot */
	pthread_mutex_lock(&fk.mu);
	fk.miners[0].acc_diff[0] += 1000;
	pthread_mutex_unlock(&fk.mu);
	WAIT_UNTIL(fabs(pool_num("total_share", 0) - 1700.0 / 3000) < 1e-9,
	    5000);
	usleep(2500000);
	ck_assert(fabs(pool_num("total_share", 0) - 1700.0 / 3000) < 1e-9);
}
END_TEST

/*
 * The dataplane's wall clock stepped back an hour after the snapshot the
 * controlplane started from: the events that follow carry a ts_ms an hour
 * before that snapshot's now_ms.  They are still new work (mono_ms says
 * so) and must be credited, not taken for work the snapshot held.
 */
START_TEST(events_after_a_wall_step_back_credited)
{
	add_miner(1, "rig1", "A", 1e12, 700, 0);
	add_miner(2, "rig2", "B", 1e12, 0, 300);
	pthread_mutex_lock(&fk.mu);
	fk.wall_skew_ms = 3600000;
	pthread_mutex_unlock(&fk.mu);
	fake_start();
	start_controlplane();
	WAIT_UNTIL(connected(), 5000);
	WAIT_UNTIL(fabs(pool_num("total_share", 0) - 0.7) < 1e-9, 3000);
	/* not added to the snapshot's totals: only the event can credit
	 * it, so a dropped event shows as a share that never counts */
	publish_share(2, "B", 500, false);
	WAIT_UNTIL(fabs(pool_num("total_share", 1) - 800.0 / 1500) < 1e-9,
	    3000);
}
END_TEST

START_TEST(metrics_pass_through)
{
	char	*body;
	json_t	*st, *rej, *r;

	add_miner(1, "rig1", "A", 1e12, 0, 0);
	fake_start();
	start_controlplane();
	WAIT_UNTIL(connected(), 5000);
	usleep(1200000);
	ck_assert_int_eq(http(metrics_port, "GET", "/metrics", NULL, NULL,
	    &body), 200);
	ck_assert_ptr_nonnull(strstr(body,
	    "\ndpmp_shares_accepted_total{pool=\"A\"} 10\n"));
	ck_assert_ptr_nonnull(strstr(body,
	    "\ndpmp_shares_rejected_total{pool=\"A\",reason=\"low "
	    "\\\"diff\\\"\\\\\",where=\"local\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(body,
	    "\ndpmp_shares_rejected_total{pool=\"A\",reason=\"stale\","
	    "where=\"pool\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(body,
	    "\ndpmp_share_latency_seconds_bucket{pool=\"A\",le=\"+Inf\"} 5\n"));
	ck_assert_ptr_nonnull(strstr(body, "\ndpmp_pool_up{pool=\"B\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(body, "\ndpmp_up_seconds 42\n"));
	ck_assert_ptr_nonnull(strstr(body,
	    "\ndpmp_pool_difficulty{pool=\"A\"} 1e-05\n"));
	ck_assert_ptr_nonnull(strstr(body, "\ndpmp_downstream_connections 1\n"));
	free(body);
	/* the status sums the counters, rejects split by who refused */
	ck_assert(pool_num("accepted", 0) == 10);
	ck_assert(pool_num("rejected", 0) == 3);
	ck_assert(pool_num("rejected_local", 0) == 1);
	ck_assert(pool_num("rejected_pool", 0) == 2);
	ck_assert(pool_num("rejected", 1) == 0);
	st = get_json("/api/v1/pools");
	rej = json_object_get(json_array_get(json_object_get(st, "pools"), 0),
	    "rejected_by_reason");
	/* the non-zero ones, as {where, reason, count} */
	ck_assert_uint_eq(json_array_size(rej), 2);
	r = json_array_get(rej, 0);
	ck_assert_str_eq(json_string_value(json_object_get(r, "where")),
	    "local");
	ck_assert_str_eq(json_string_value(json_object_get(r, "reason")),
	    "low \"diff\"\\");
	ck_assert_int_eq(json_integer_value(json_object_get(r, "count")), 1);
	r = json_array_get(rej, 1);
	ck_assert_str_eq(json_string_value(json_object_get(r, "where")),
	    "pool");
	ck_assert_str_eq(json_string_value(json_object_get(r, "reason")),
	    "stale");
	ck_assert_int_eq(json_integer_value(json_object_get(r, "count")), 2);
	json_decref(st);
	ck_assert_int_eq(http(metrics_port, "GET", "/api/v1/status", NULL,
	    NULL, &body), 404);
	free(body);
}
END_TEST

START_TEST(control_service)
{
	Dpmp__Empty		 empty = DPMP__EMPTY__INIT;
	Dpmp__Weights		 ws = DPMP__WEIGHTS__INIT;
	Dpmp__Weight		 w[2], *wp[2] = { &w[0], &w[1] };
	Dpmp__PinRequest	 pin = DPMP__PIN_REQUEST__INIT;
	ProtobufCMessage	*out = NULL;
	Dpmp__StatusReply	*st;
	Dpmp__Weights		*got;
	struct rpc_client	*cl;
	char			 err[256];
	bool			 pinned = false;
	size_t			 i;

	add_miner(1, "<img src=x onerror=alert(1)>", "A", 1e12, 0, 0);
	add_miner(2, "rig2", "A", 1e12, 0, 0);
	fake_start();
	start_controlplane();
	WAIT_UNTIL(connected(), 5000);
	cl = rpc_client_new(url_ctl, 2000);
	ck_assert_ptr_nonnull(cl);

	ck_assert_int_eq(rpc_call(cl, &dpmp__control__descriptor, "Status",
	    &empty.base, &out, err, sizeof(err)), RPC_OK);
	st = (Dpmp__StatusReply *)out;
	ck_assert(st->dataplane_connected);
	ck_assert_uint_eq(st->n_pools, 2);
	ck_assert_uint_eq(st->n_miners, 2);
	ck_assert_uint_eq(st->dataplane_uptime_s, 42);
	ck_assert_uint_eq(st->window_s, 60);
	ck_assert(st->now_ms > 1600000000000ULL);
	ck_assert_str_eq(st->pools[0]->state->key, "A");
	protobuf_c_message_free_unpacked(out, NULL);

	pin.worker = "<img src=x onerror=alert(1)>";
	pin.pool = "Q";
	ck_assert_int_eq(rpc_call(cl, &dpmp__control__descriptor, "PinMiner",
	    &pin.base, &out, err, sizeof(err)), RPC_INVALID_ARGUMENT);
	ck_assert_ptr_nonnull(strstr(err, "unknown pool"));
	pin.pool = "A";
	ck_assert_int_eq(rpc_call(cl, &dpmp__control__descriptor, "PinMiner",
	    &pin.base, &out, err, sizeof(err)), RPC_OK);
	protobuf_c_message_free_unpacked(out, NULL);

	dpmp__weight__init(&w[0]);
	dpmp__weight__init(&w[1]);
	w[0].pool = "A";
	w[0].weight = 0;
	w[1].pool = "B";
	w[1].weight = 0;
	ws.weights = wp;
	ws.n_weights = 2;
	ck_assert_int_eq(rpc_call(cl, &dpmp__control__descriptor,
	    "SetWeights", &ws.base, &out, err, sizeof(err)),
	    RPC_INVALID_ARGUMENT);
	/* all the weight on B: the pinned miner stays on A regardless */
	w[1].weight = 1;
	ck_assert_int_eq(rpc_call(cl, &dpmp__control__descriptor,
	    "SetWeights", &ws.base, &out, err, sizeof(err)), RPC_OK);
	got = (Dpmp__Weights *)out;
	ck_assert_uint_eq(got->n_weights, 2);
	ck_assert(got->weights[0]->weight == 0 && got->weights[1]->weight == 1);
	protobuf_c_message_free_unpacked(out, NULL);
	ck_assert_int_eq(rpc_call(cl, &dpmp__control__descriptor,
	    "GetWeights", &empty.base, &out, err, sizeof(err)), RPC_OK);
	protobuf_c_message_free_unpacked(out, NULL);
	WAIT_UNTIL(miner_on(1, "B"), 8000);
	usleep(2500000);
	pthread_mutex_lock(&fk.mu);
	ck_assert_str_eq(fk.miners[0].pool, "A");
	for (i = 0; i < fk.n_assigns; i++)
		pinned |= fk.assigns[i].miner_id == 1 &&
		    strcmp(fk.assigns[i].pool, "B") == 0;
	pthread_mutex_unlock(&fk.mu);
	ck_assert(!pinned);

	pin.worker = "nobody";
	pin.pool = "";
	ck_assert_int_eq(rpc_call(cl, &dpmp__control__descriptor,
	    "UnpinMiner", &pin.base, &out, err, sizeof(err)), RPC_NOT_FOUND);
	rpc_client_free(cl);

	/* the hostile name travels as data in the JSON status */
	{
		json_t *j = get_json("/api/v1/status");

		ck_assert_str_eq(json_string_value(json_object_get(
		    json_array_get(json_object_get(j, "pins"), 0), "worker")),
		    "<img src=x onerror=alert(1)>");
		json_decref(j);
	}
}
END_TEST

START_TEST(dataplane_away_and_back)
{
	char		*body, *log;
	uint64_t	 t0;

	fake_start();
	start_controlplane();
	WAIT_UNTIL(connected(), 5000);
	fake_stop();
	WAIT_UNTIL(!connected(), 5000);
	/* still serving, and promptly, while it keeps retrying */
	usleep(3000000);
	t0 = now_ms();
	ck_assert_int_eq(http(http_port, "GET", "/api/v1/status", NULL, NULL,
	    &body), 200);
	ck_assert_uint_lt(now_ms() - t0, 500);
	free(body);
	ck_assert_int_eq(http(metrics_port, "GET", "/metrics", NULL, NULL,
	    &body), 200);
	ck_assert_ptr_null(strstr(body, "dpmp_shares_accepted_total{"));
	free(body);
	log = read_log();
	ck_assert_int_eq(count_str(log, "\"event\":\"dataplane_unreachable\""),
	    1);
	free(log);

	fake_start();
	WAIT_UNTIL(connected(), 5000);
	log = read_log();
	ck_assert_int_eq(count_str(log, "\"event\":\"dataplane_connected\""),
	    2);
	free(log);
	/* same boot: the config it has is still the config */
	ck_assert_int_eq(locked_int(&fk.setconfig_calls), 1);
}
END_TEST

static Suite *
cp_dataplane_suite(void)
{
	Suite	*s = suite_create("cp_dataplane");
	TCase	*tc = tcase_create("fake_dataplane");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, pushes_config_on_contact_and_new_boot);
	tcase_add_test(tc, schedules_whole_miners_in_batches);
	tcase_add_test(tc, weights_change_moves_miners);
	tcase_add_test(tc, history_events_and_losses_credited_once);
	tcase_add_test(tc, events_after_a_wall_step_back_credited);
	tcase_add_test(tc, metrics_pass_through);
	tcase_add_test(tc, control_service);
	tcase_add_test(tc, dataplane_away_and_back);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(cp_dataplane_suite());
	int	 failed;

	signal(SIGPIPE, SIG_IGN);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
