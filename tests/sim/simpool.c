/*
 * dpmp-simpool: a Stratum v1 pool for tests and benchmarks.  It issues
 * realistic jobs and validates every share the way a real pool does
 * (sha256d against the job's own difficulty, stale and unknown jobs,
 * duplicates, version bits, ntime), answering with the de-facto error
 * codes, so whatever sits in front of it can be checked share by share.
 * Fault injection options make it misbehave on purpose.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <jansson.h>

#include "diff.h"
#include "hex.h"
#include "job.h"
#include "log.h"
#include "share.h"
#include "simcommon.h"
#include "stratum.h"

#define POOL_MAX_CONNS		100000
#define POOL_MAX_OUTQ		(4 * 1024 * 1024)	/* bytes per connection */
#define CONN_JOBS_KEPT		32	/* jobs a share may still name */
#define CONN_MAX_WORKERS	16	/* authorized names per connection */
#define WORKER_NAME_MAX		128
#define DUP_MAX_PER_JOB		(1 << 16)	/* shares remembered per job */
#define SIM_MAX_BRANCHES	12
#define VARDIFF_MAX_STEPS	16
#define STATS_MAX_WORKERS	100000
#define EN1_MAX			8
#define EN2_MIN			1
#define EN2_MAX			16
#define COINBASE_TAG		"/dpmp-simpool/"

enum job_id_style {
	JOB_IDS_PREFIXED,
	JOB_IDS_COUNTER,
};

struct vardiff_step {
	double		 t;
	double		 d;
};

struct pool_opts {
	const char	*host;
	uint16_t	 port;
	const char	*name;
	size_t		 en1_size;
	size_t		 en2_size;
	double		 difficulty;
	struct vardiff_step vardiff[VARDIFF_MAX_STEPS];
	size_t		 n_vardiff;
	double		 job_interval;
	double		 block_interval;
	enum job_id_style job_ids;
	uint32_t	 version_mask;
	double		 xn_interval;
	uint32_t	 nbits;
	unsigned	 reject_every;
	double		 drop_after;
	double		 refuse_for;
	double		 silent_after;
	double		 garbage_every;
	double		 reconnect_after;
	double		 duration;
	const char	*stats_path;
	bool		 ckpool_style;
	bool		 honour_suggest;
	uint64_t	 seed;
};

/* One job as issued; connections hold references to it. */
struct pjob {
	unsigned	 refs;
	struct job	 job;
};

/* Duplicate detection key (docs/PROTOCOL.md 6.9: job, en2, ntime, nonce,
 * vbits); the job is implied by the table the key lives in. */
struct dup_key {
	uint8_t		 en2[EN2_MAX];
	uint32_t	 ntime;
	uint32_t	 nonce;
	uint32_t	 vbits;
	uint8_t		 en2_len;
	uint8_t		 has_vbits;
	uint8_t		 used;
	uint8_t		 pad;
};

struct dupset {
	struct dup_key	*keys;
	size_t		 cap;
	size_t		 n;
};

/* A job as one connection saw it: the difficulty and extranonce1 in force
 * when it was sent stay with it (docs/PROTOCOL.md 6.1). */
struct conn_job {
	struct pjob	*pj;
	double		 difficulty;
	uint8_t		 en1[EN1_MAX];
	size_t		 en1_len;
	bool		 stale;
	struct dupset	 dups;
};

enum conn_state {
	CONN_CONNECTED,
	CONN_SUBSCRIBED,
	CONN_CLOSING,
};

static const char *conn_state_names[] = {
	"connected", "subscribed", "closing",
};

struct conn {
	TAILQ_ENTRY(conn) entry;
	uint64_t	 id;
	struct bufferevent *bev;
	char		 peer[INET6_ADDRSTRLEN + 8];
	enum conn_state	 state;
	const char	*close_reason;
	double		 t_start;
	char		 workers[CONN_MAX_WORKERS][WORKER_NAME_MAX + 1];
	size_t		 n_workers;
	uint8_t		 en1[EN1_MAX];
	size_t		 en1_len;
	double		 difficulty;	/* for the next notify */
	bool		 rolling;
	uint32_t	 mask;
	bool		 xnsub;
	struct conn_job	 jobs[CONN_JOBS_KEPT];
	size_t		 jobs_next;
	struct event	*vardiff_ev;
	size_t		 vardiff_step;
	uint64_t	 accepted;
	uint64_t	 rejected;
};

TAILQ_HEAD(conn_list, conn);

struct pool_stats {
	uint64_t	 accepted;
	double		 accepted_diff;
	uint64_t	 rolled;	/* accepted with version bits set */
	uint64_t	 rejected[6];	/* codes 20..25 */
	json_t		*by_reason;
	json_t		*by_diff;	/* accepted shares per job difficulty */
	json_t		*workers;
	uint64_t	 connections;
	uint64_t	 blocks;
	uint64_t	 bad_lines;
	uint64_t	 limit_hits;
	uint64_t	 jobs;
};

struct pool {
	struct pool_opts opts;
	struct event_base *base;
	evutil_socket_t	 lfd;
	struct evconnlistener *listener;
	uint16_t	 port;
	struct conn_list conns;
	size_t		 n_conns;
	uint64_t	 conn_ids;
	struct pjob	*current;
	uint64_t	 job_counter;
	uint8_t		 prevhash[32];
	uint32_t	 height;
	uint64_t	 en1_counter;
	uint64_t	 valid_count;	/* for --reject-every */
	uint64_t	 rng;
	bool		 silent;
	unsigned	 garbage_seq;
	double		 t0;
	struct pool_stats stats;
	struct event	*ev_job, *ev_block, *ev_stats, *ev_xn, *ev_drop;
	struct event	*ev_refuse, *ev_silent, *ev_garbage, *ev_reconnect;
	struct event	*ev_duration, *ev_sigterm, *ev_sigint;
};

static struct pool	 pool;

static void	conn_close(struct conn *, const char *);
static void	conn_read_cb(struct bufferevent *, void *);
static void	conn_vardiff_schedule(struct conn *);

/* xorshift64*: the jobs only need to look random, and a seed makes a
 * run reproducible. */
static uint64_t
rnd64(void)
{
	pool.rng ^= pool.rng >> 12;
	pool.rng ^= pool.rng << 25;
	pool.rng ^= pool.rng >> 27;
	return (pool.rng * 2685821657736338717ULL);
}

static void
rnd_bytes(uint8_t *p, size_t n)
{
	uint64_t	 r = 0;
	size_t		 i;

	for (i = 0; i < n; i++) {
		if (i % 8 == 0)
			r = rnd64();
		p[i] = (uint8_t)r;
		r >>= 8;
	}
}

/* ---- jobs ---- */

static struct pjob *
pjob_ref(struct pjob *pj)
{
	pj->refs++;
	return (pj);
}

static void
pjob_unref(struct pjob *pj)
{
	if (pj == NULL || --pj->refs > 0)
		return;
	job_clear(&pj->job);
	free(pj);
}

static void
job_id_next(char *id, size_t len)
{
	pool.job_counter++;
	if (pool.opts.job_ids == JOB_IDS_COUNTER)
		snprintf(id, len, "%llu", (unsigned long long)pool.job_counter);
	else
		snprintf(id, len, "%c-%llx", pool.opts.name[0] != '\0' ?
		    pool.opts.name[0] : 'P',
		    (unsigned long long)pool.job_counter);
}

/*
 * A coinbase shaped like a real one (BIP 34 height push, extranonce slot
 * inside the scriptSig, one P2PKH output) with random bytes where a pool
 * would put its tag and address, so every job hashes differently.
 */
static int
build_coinbase(struct job *j)
{
	uint8_t		*cb1 = NULL, *cb2 = NULL;
	size_t		 n1 = 0, n2 = 0, script_len;
	const size_t	 tag_len = sizeof(COINBASE_TAG) - 1;
	uint64_t	 value = 625000000;
	int		 i;

	if ((cb1 = malloc(64)) == NULL || (cb2 = malloc(128)) == NULL)
		goto err;
	cb1[n1++] = 0x01; cb1[n1++] = 0; cb1[n1++] = 0; cb1[n1++] = 0;
	cb1[n1++] = 0x01;			/* one input */
	memset(cb1 + n1, 0, 32);		/* prevout: none */
	n1 += 32;
	memset(cb1 + n1, 0xff, 4);
	n1 += 4;
	script_len = 4 + 8 + pool.opts.en1_size + pool.opts.en2_size + tag_len;
	cb1[n1++] = (uint8_t)script_len;
	cb1[n1++] = 0x03;			/* BIP 34 height */
	cb1[n1++] = (uint8_t)pool.height;
	cb1[n1++] = (uint8_t)(pool.height >> 8);
	cb1[n1++] = (uint8_t)(pool.height >> 16);
	rnd_bytes(cb1 + n1, 8);
	n1 += 8;

	memcpy(cb2, COINBASE_TAG, tag_len);
	n2 += tag_len;
	memset(cb2 + n2, 0xff, 4);		/* sequence */
	n2 += 4;
	cb2[n2++] = 0x01;			/* one output */
	for (i = 0; i < 8; i++)
		cb2[n2++] = (uint8_t)(value >> (8 * i));
	cb2[n2++] = 0x19;
	cb2[n2++] = 0x76; cb2[n2++] = 0xa9; cb2[n2++] = 0x14;
	rnd_bytes(cb2 + n2, 20);
	n2 += 20;
	cb2[n2++] = 0x88; cb2[n2++] = 0xac;
	memset(cb2 + n2, 0, 4);			/* lock time */
	n2 += 4;

	j->coinb1 = cb1;
	j->coinb1_len = n1;
	j->coinb2 = cb2;
	j->coinb2_len = n2;
	return (0);
 err:
	free(cb1);
	free(cb2);
	return (-1);
}

/* A fresh job, or (tmpl != NULL) the same work under a new id, for a
 * notify that only one connection gets. */
static struct pjob *
pjob_new(const struct pjob *tmpl, bool clean)
{
	struct pjob	*pj;
	size_t		 i;

	if ((pj = calloc(1, sizeof(*pj))) == NULL)
		return (NULL);
	if (tmpl != NULL) {
		if (job_copy(&pj->job, &tmpl->job) == -1)
			goto err;
	} else {
		if (build_coinbase(&pj->job) == -1)
			goto err;
		memcpy(pj->job.prevhash, pool.prevhash, 32);
		pj->job.n_branches = (size_t)(rnd64() % (SIM_MAX_BRANCHES + 1));
		for (i = 0; i < pj->job.n_branches; i++)
			rnd_bytes(pj->job.branches[i], 32);
		pj->job.version = 0x20000000;
		pj->job.nbits = pool.opts.nbits;
		pj->job.ntime = (uint32_t)time(NULL);
	}
	pj->job.clean = clean;
	job_id_next(pj->job.id, sizeof(pj->job.id));
	pj->refs = 1;
	pool.stats.jobs++;
	return (pj);
 err:
	free(pj);
	log_error("job_alloc_failed", NULL);
	return (NULL);
}

/* ---- duplicate sets ---- */

static uint64_t
dup_hash(const struct dup_key *k)
{
	const uint8_t	*p = (const uint8_t *)k;
	uint64_t	 h = 14695981039346656037ULL;
	size_t		 i;

	for (i = 0; i < offsetof(struct dup_key, used); i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return (h);
}

static void
dupset_free(struct dupset *ds)
{
	free(ds->keys);
	ds->keys = NULL;
	ds->cap = ds->n = 0;
}

static int
dupset_grow(struct dupset *ds)
{
	struct dup_key	*old = ds->keys, *nk;
	size_t		 oldcap = ds->cap, cap, i, h;

	cap = oldcap == 0 ? 64 : oldcap * 2;
	if ((nk = calloc(cap, sizeof(*nk))) == NULL)
		return (-1);
	for (i = 0; i < oldcap; i++) {
		if (!old[i].used)
			continue;
		h = (size_t)dup_hash(&old[i]) & (cap - 1);
		while (nk[h].used)
			h = (h + 1) & (cap - 1);
		nk[h] = old[i];
	}
	free(old);
	ds->keys = nk;
	ds->cap = cap;
	return (0);
}

/* 1 when k was seen before, 0 when added, -1 when the table is full (the
 * share is then let through unremembered and the limit is counted). */
static int
dupset_add(struct dupset *ds, const struct dup_key *k)
{
	size_t		 h;

	if (ds->n * 2 >= ds->cap && ds->n < DUP_MAX_PER_JOB &&
	    dupset_grow(ds) == -1)
		return (-1);
	if (ds->cap == 0)
		return (-1);
	h = (size_t)dup_hash(k) & (ds->cap - 1);
	while (ds->keys[h].used) {
		if (memcmp(&ds->keys[h], k, sizeof(*k)) == 0)
			return (1);
		h = (h + 1) & (ds->cap - 1);
	}
	if (ds->n >= DUP_MAX_PER_JOB)
		return (-1);
	ds->keys[h] = *k;
	ds->n++;
	return (0);
}

/* ---- sending ---- */

static void
conn_set_state(struct conn *c, enum conn_state st)
{
	log_debug("conn_state", "{s:I,s:s,s:s}", "conn", (json_int_t)c->id,
	    "from", conn_state_names[c->state], "to", conn_state_names[st]);
	c->state = st;
}

/* Mark for closing; whoever holds the connection closes it once its
 * callback unwinds, so no handler frees what its caller still uses. */
static void
conn_fail(struct conn *c, const char *reason)
{
	if (c->state == CONN_CLOSING)
		return;
	c->close_reason = reason;
	conn_set_state(c, CONN_CLOSING);
}

/* Every write goes through here: a silent pool drops it, and a peer that
 * does not read gets closed before it can grow our memory. */
static int
conn_check_outq(struct conn *c)
{
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) >
	    POOL_MAX_OUTQ) {
		pool.stats.limit_hits++;
		conn_fail(c, "output queue over limit");
		return (-1);
	}
	return (0);
}

static int
conn_send_raw(struct conn *c, const char *line, size_t len)
{
	if (pool.silent || c->state == CONN_CLOSING)
		return (0);
	if (evbuffer_add(bufferevent_get_output(c->bev), line, len) == -1)
		return (-1);
	return (conn_check_outq(c));
}

static int
conn_send_result(struct conn *c, json_t *id, json_t *result)
{
	if (pool.silent || c->state == CONN_CLOSING) {
		json_decref(result);
		return (0);
	}
	if (stratum_write_result(bufferevent_get_output(c->bev), id,
	    result) == -1)
		return (-1);
	return (conn_check_outq(c));
}

static int
conn_send_error(struct conn *c, json_t *id, int code, const char *text)
{
	if (pool.silent || c->state == CONN_CLOSING)
		return (0);
	if (stratum_write_error(bufferevent_get_output(c->bev), id, code,
	    text) == -1)
		return (-1);
	return (conn_check_outq(c));
}

static int
conn_send_notification(struct conn *c, const char *method, json_t *params)
{
	if (pool.silent || c->state == CONN_CLOSING) {
		json_decref(params);
		return (0);
	}
	if (stratum_write_notification(bufferevent_get_output(c->bev), method,
	    params) == -1)
		return (-1);
	return (conn_check_outq(c));
}

static int
conn_send_difficulty(struct conn *c)
{
	return (conn_send_notification(c, "mining.set_difficulty",
	    json_pack("[f]", c->difficulty)));
}

/* ---- connection job table ---- */

static void
conn_job_release(struct conn_job *cj)
{
	pjob_unref(cj->pj);
	cj->pj = NULL;
	dupset_free(&cj->dups);
	cj->stale = false;
}

static void
conn_add_job(struct conn *c, struct pjob *pj, bool clean)
{
	struct conn_job	*cj;
	size_t		 i;

	/* clean_jobs retires every earlier job at once (docs/PROTOCOL.md 6.3);
	 * they stay in the table only so the reject can say "Stale". */
	if (clean) {
		for (i = 0; i < CONN_JOBS_KEPT; i++) {
			if (c->jobs[i].pj == NULL)
				continue;
			c->jobs[i].stale = true;
			dupset_free(&c->jobs[i].dups);
		}
	}
	cj = &c->jobs[c->jobs_next];
	conn_job_release(cj);
	cj->pj = pjob_ref(pj);
	cj->difficulty = c->difficulty;
	memcpy(cj->en1, c->en1, c->en1_len);
	cj->en1_len = c->en1_len;
	c->jobs_next = (c->jobs_next + 1) % CONN_JOBS_KEPT;
}

static struct conn_job *
conn_find_job(struct conn *c, const char *id)
{
	size_t		 i;

	for (i = 0; i < CONN_JOBS_KEPT; i++) {
		if (c->jobs[i].pj != NULL &&
		    strcmp(c->jobs[i].pj->job.id, id) == 0)
			return (&c->jobs[i]);
	}
	return (NULL);
}

static int
conn_notify(struct conn *c, struct pjob *pj, bool clean)
{
	json_t		*params;

	if (pool.silent)
		return (0);
	if ((params = job_to_notify(&pj->job)) == NULL ||
	    json_array_set_new(params, 8, json_boolean(clean)) == -1) {
		json_decref(params);
		return (-1);
	}
	conn_add_job(c, pj, clean);
	return (conn_send_notification(c, "mining.notify", params));
}

/* The same work under a new id, so the connection gets a notify it has
 * not seen (job ids are never reused within a session). */
static int
conn_notify_fresh(struct conn *c, bool clean)
{
	struct pjob	*pj;
	int		 rv;

	if ((pj = pjob_new(pool.current, clean)) == NULL)
		return (-1);
	rv = conn_notify(c, pj, clean);
	pjob_unref(pj);
	return (rv);
}

static void
pool_next_en1(uint8_t *en1, size_t len)
{
	uint64_t	 v = ++pool.en1_counter;
	size_t		 i;

	/* Big-endian counter in the last bytes: unique per connection
	 * while it fits, and easy to read in a log. */
	for (i = 0; i < len; i++) {
		en1[len - 1 - i] = i < 8 ? (uint8_t)(v >> (8 * i)) : 0;
	}
}

/* ---- connections ---- */

static void
conn_close(struct conn *c, const char *reason)
{
	size_t		 i;

	if (c == NULL)
		return;
	TAILQ_REMOVE(&pool.conns, c, entry);
	pool.n_conns--;
	log_info("conn_closed", "{s:I,s:s,s:s,s:I,s:I}", "conn",
	    (json_int_t)c->id, "peer", c->peer, "reason", reason,
	    "accepted", (json_int_t)c->accepted,
	    "rejected", (json_int_t)c->rejected);
	for (i = 0; i < CONN_JOBS_KEPT; i++)
		conn_job_release(&c->jobs[i]);
	if (c->vardiff_ev != NULL)
		event_free(c->vardiff_ev);
	bufferevent_free(c->bev);
	free(c);
}

static void
conn_vardiff_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)ev;
	c->difficulty = pool.opts.vardiff[c->vardiff_step].d;
	c->vardiff_step++;
	log_info("vardiff", "{s:I,s:f}", "conn", (json_int_t)c->id,
	    "difficulty", c->difficulty);
	/* set_difficulty binds to the next notify (docs/PROTOCOL.md
	 * 6.1), so one goes right after; earlier jobs stay valid at their
	 * own difficulty, hence clean=false. */
	if (conn_send_difficulty(c) == -1 || conn_notify_fresh(c, false) == -1 ||
	    c->state == CONN_CLOSING) {
		conn_close(c, c->close_reason ? c->close_reason : "send failed");
		return;
	}
	conn_vardiff_schedule(c);
}

static void
conn_vardiff_schedule(struct conn *c)
{
	struct timeval	 tv;
	double		 age;

	if (c->vardiff_step >= pool.opts.n_vardiff)
		return;
	age = sim_now() - c->t_start;
	tv = sim_tv(pool.opts.vardiff[c->vardiff_step].t - age);
	evtimer_add(c->vardiff_ev, &tv);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	(void)bev;
	if (what & BEV_EVENT_EOF)
		conn_close(c, "eof");
	else if (what & BEV_EVENT_ERROR)
		conn_close(c, evutil_socket_error_to_string(
		    EVUTIL_SOCKET_ERROR()));
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct conn	*c;
	int		 one = 1;
	char		 host[INET6_ADDRSTRLEN];
	uint16_t	 port = 0;

	(void)l;
	(void)salen;
	(void)arg;
	if (pool.n_conns >= POOL_MAX_CONNS) {
		pool.stats.limit_hits++;
		log_warn("conn_limit", "{s:i}", "max", POOL_MAX_CONNS);
		evutil_closesocket(fd);
		return;
	}
	/* Shares are small and latency is what the tests measure. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto err;
	if ((c->bev = bufferevent_socket_new(pool.base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		free(c);
		goto err;
	}
	if ((c->vardiff_ev = evtimer_new(pool.base, conn_vardiff_cb,
	    c)) == NULL) {
		bufferevent_free(c->bev);
		free(c);
		return;
	}
	host[0] = '\0';
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		port = ntohs(sin->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		port = ntohs(sin6->sin6_port);
	}
	snprintf(c->peer, sizeof(c->peer), "%s:%u", host, port);
	c->id = ++pool.conn_ids;
	c->state = CONN_CONNECTED;
	c->t_start = sim_now();
	c->difficulty = pool.opts.difficulty;
	c->en1_len = pool.opts.en1_size;
	TAILQ_INSERT_TAIL(&pool.conns, c, entry);
	pool.n_conns++;
	pool.stats.connections++;
	bufferevent_setcb(c->bev, conn_read_cb, NULL, conn_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	log_info("conn_open", "{s:I,s:s}", "conn", (json_int_t)c->id,
	    "peer", c->peer);
	return;
 err:
	evutil_closesocket(fd);
	log_error("conn_alloc_failed", NULL);
}

/* ---- stats ---- */

static void
stats_worker_add(const char *worker, bool accepted, double diff)
{
	json_t		*w;

	if ((w = json_object_get(pool.stats.workers, worker)) == NULL) {
		if (json_object_size(pool.stats.workers) >= STATS_MAX_WORKERS) {
			pool.stats.limit_hits++;
			return;
		}
		w = json_pack("{s:I,s:f,s:I}", "accepted", (json_int_t)0,
		    "difficulty", 0.0, "rejected", (json_int_t)0);
		if (w == NULL ||
		    json_object_set_new(pool.stats.workers, worker, w) == -1)
			return;
	}
	if (accepted) {
		json_t *a = json_object_get(w, "accepted");
		json_t *d = json_object_get(w, "difficulty");

		json_integer_set(a, json_integer_value(a) + 1);
		json_real_set(d, json_real_value(d) + diff);
	} else {
		json_t *r = json_object_get(w, "rejected");

		json_integer_set(r, json_integer_value(r) + 1);
	}
}

/* obj[key] += 1 */
static void
count_key(json_t *obj, const char *key)
{
	json_t		*n;

	if ((n = json_object_get(obj, key)) == NULL)
		json_object_set_new(obj, key, json_integer(1));
	else
		json_integer_set(n, json_integer_value(n) + 1);
}

static void
stats_reject(struct conn *c, const char *worker, int code, const char *reason)
{
	c->rejected++;
	if (code >= 20 && code <= 25)
		pool.stats.rejected[code - 20]++;
	count_key(pool.stats.by_reason, reason);
	if (worker != NULL)
		stats_worker_add(worker, false, 0);
}

static void
stats_write(void)
{
	json_t		*root, *rej;
	char		 key[8];
	int		 i;

	if (pool.opts.stats_path == NULL)
		return;
	if ((rej = json_object()) == NULL)
		return;
	for (i = 0; i < 6; i++) {
		if (pool.stats.rejected[i] == 0)
			continue;
		snprintf(key, sizeof(key), "%d", 20 + i);
		json_object_set_new(rej, key,
		    json_integer((json_int_t)pool.stats.rejected[i]));
	}
	root = json_pack("{s:s,s:i,s:I,s:f,s:O,s:o,s:O,s:O,s:I,s:I,s:I,s:I,"
	    "s:I,s:I,s:I,s:f}",
	    "name", pool.opts.name, "port", (int)pool.port,
	    "accepted", (json_int_t)pool.stats.accepted,
	    "accepted_difficulty", pool.stats.accepted_diff,
	    "accepted_by_difficulty", pool.stats.by_diff,
	    "rejected", rej,
	    "rejected_by_reason", pool.stats.by_reason,
	    "workers", pool.stats.workers,
	    "connections", (json_int_t)pool.stats.connections,
	    "connections_open", (json_int_t)pool.n_conns,
	    "blocks", (json_int_t)pool.stats.blocks,
	    "jobs", (json_int_t)pool.stats.jobs,
	    "bad_lines", (json_int_t)pool.stats.bad_lines,
	    "limit_hits", (json_int_t)pool.stats.limit_hits,
	    "version_rolled", (json_int_t)pool.stats.rolled,
	    "uptime", sim_now() - pool.t0);
	if (root == NULL)
		return;
	sim_stats_write(root, pool.opts.stats_path);
	json_decref(root);
}

/* ---- method handlers ---- */

static bool
conn_has_worker(struct conn *c, const char *w)
{
	size_t		 i;

	for (i = 0; i < c->n_workers; i++)
		if (strcmp(c->workers[i], w) == 0)
			return (true);
	return (false);
}

/* ckpool answers share rejects with result false and a text; parameter
 * problems with a bare string error (docs/PROTOCOL.md 5). */
static int
conn_reject(struct conn *c, json_t *id, const char *worker, int code,
    const char *text, const char *ck_text)
{
	json_t		*o;

	stats_reject(c, worker, code, text);
	log_debug("share_rejected", "{s:I,s:i,s:s}", "conn", (json_int_t)c->id,
	    "code", code, "reason", text);
	if (!pool.opts.ckpool_style)
		return (conn_send_error(c, id, code, text));
	if (pool.silent || c->state == CONN_CLOSING)
		return (0);
	if (code == STRATUM_ERR_UNAUTHORIZED || code == STRATUM_ERR_NOT_SUBSCRIBED)
		o = json_pack("{s:O,s:n,s:s}", "id", id, "result", "error",
		    ck_text);
	else
		o = json_pack("{s:O,s:b,s:n,s:s}", "id", id, "result", 0,
		    "error", "reject-reason", ck_text);
	if (o == NULL ||
	    stratum_write_json(bufferevent_get_output(c->bev), o) == -1)
		return (-1);
	return (conn_check_outq(c));
}

static int
h_configure(struct conn *c, struct stratum_msg *m)
{
	struct stratum_configure cfg;
	json_t		*res;
	char		 err[128], mask[9];

	if (stratum_parse_configure(m->params, &cfg, err, sizeof(err)) == -1)
		return (conn_send_error(c, m->id, STRATUM_ERR_OTHER, err));
	if ((res = json_object()) == NULL)
		return (-1);
	if (cfg.version_rolling) {
		/* BIP 310: the reply mask is server & miner. */
		c->mask = pool.opts.version_mask & cfg.mask;
		c->rolling = c->mask != 0;
		hex_from_u32(c->mask, mask);
		json_object_set_new(res, "version-rolling",
		    json_boolean(c->rolling));
		json_object_set_new(res, "version-rolling.mask",
		    json_string(mask));
	}
	if (cfg.minimum_difficulty)
		json_object_set_new(res, "minimum-difficulty", json_false());
	if (cfg.subscribe_extranonce) {
		c->xnsub = true;
		json_object_set_new(res, "subscribe-extranonce", json_true());
	}
	return (conn_send_result(c, m->id, res));
}

static int
h_subscribe(struct conn *c, struct stratum_msg *m)
{
	json_t		*res;
	char		 sid[17], en1hex[2 * EN1_MAX + 1];
	size_t		 i;

	if (c->state == CONN_SUBSCRIBED)
		return (conn_send_error(c, m->id, STRATUM_ERR_OTHER,
		    "Already subscribed"));
	pool_next_en1(c->en1, c->en1_len);
	hex_encode(c->en1, c->en1_len, en1hex);
	snprintf(sid, sizeof(sid), "%08llx", (unsigned long long)c->id);
	res = json_pack("[[[s,s],[s,s]],s,i]", "mining.set_difficulty", sid,
	    "mining.notify", sid, en1hex, (int)pool.opts.en2_size);
	if (conn_send_result(c, m->id, res) == -1)
		return (-1);
	conn_set_state(c, CONN_SUBSCRIBED);

	/* Vardiff steps that fell due before the subscribe apply now. */
	for (i = c->vardiff_step; i < pool.opts.n_vardiff; i++) {
		if (pool.opts.vardiff[i].t > sim_now() - c->t_start)
			break;
		c->difficulty = pool.opts.vardiff[i].d;
		c->vardiff_step = i + 1;
	}
	/* ckpool order (docs/PROTOCOL.md 6.2): result, set_difficulty,
	 * notify. */
	if (conn_send_difficulty(c) == -1 ||
	    conn_notify(c, pool.current, true) == -1)
		return (-1);
	conn_vardiff_schedule(c);
	return (0);
}

static int
h_authorize(struct conn *c, struct stratum_msg *m)
{
	const char	*w = json_string_value(json_array_get(m->params, 0));

	if (w == NULL || w[0] == '\0' || strlen(w) > WORKER_NAME_MAX)
		return (conn_send_error(c, m->id, STRATUM_ERR_OTHER,
		    "Invalid worker name"));
	if (!conn_has_worker(c, w)) {
		if (c->n_workers >= CONN_MAX_WORKERS) {
			pool.stats.limit_hits++;
			return (conn_send_error(c, m->id, STRATUM_ERR_OTHER,
			    "Too many workers"));
		}
		snprintf(c->workers[c->n_workers++], WORKER_NAME_MAX + 1,
		    "%s", w);
	}
	log_info("authorized", "{s:I,s:s}", "conn", (json_int_t)c->id,
	    "worker", w);
	return (conn_send_result(c, m->id, json_true()));
}

static int
h_xnsub(struct conn *c, struct stratum_msg *m)
{
	c->xnsub = true;
	return (conn_send_result(c, m->id, json_true()));
}

static int
h_suggest(struct conn *c, struct stratum_msg *m)
{
	double		 d;
	char		 err[128];

	if (stratum_parse_difficulty(m->params, &d, err, sizeof(err)) == -1)
		return (conn_send_error(c, m->id, STRATUM_ERR_OTHER, err));
	if (conn_send_result(c, m->id, json_true()) == -1)
		return (-1);
	if (!pool.opts.honour_suggest)
		return (0);
	c->difficulty = d;
	log_info("suggest_difficulty", "{s:I,s:f}", "conn", (json_int_t)c->id,
	    "difficulty", d);
	if (c->state != CONN_SUBSCRIBED)
		return (0);
	if (conn_send_difficulty(c) == -1)
		return (-1);
	return (conn_notify_fresh(c, false));
}

static int
h_ping(struct conn *c, struct stratum_msg *m)
{
	return (conn_send_result(c, m->id, json_string("pong")));
}

static int
h_submit(struct conn *c, struct stratum_msg *m)
{
	struct stratum_submit s;
	struct share_ctx ctx;
	struct share_submit sub;
	struct share_verdict v;
	struct conn_job	*cj;
	struct dup_key	 key;
	enum share_result r;
	const char	*worker, *jid;
	char		 err[128];
	int		 d;

	/* Order of checks: who, session, job, format, duplicate, then the
	 * share itself, so each fault gets the code a pool would give. */
	worker = json_string_value(json_array_get(m->params, 0));
	if (worker == NULL || !conn_has_worker(c, worker))
		return (conn_reject(c, m->id, NULL, STRATUM_ERR_UNAUTHORIZED,
		    "Unauthorized worker", "Worker mismatch"));
	if (c->state != CONN_SUBSCRIBED)
		return (conn_reject(c, m->id, worker,
		    STRATUM_ERR_NOT_SUBSCRIBED, "Not subscribed",
		    "Not subscribed"));
	jid = json_string_value(json_array_get(m->params, 1));
	if (jid == NULL || (cj = conn_find_job(c, jid)) == NULL)
		return (conn_reject(c, m->id, worker, STRATUM_ERR_STALE,
		    "Job not found", "Invalid JobID"));
	if (cj->stale)
		return (conn_reject(c, m->id, worker, STRATUM_ERR_STALE,
		    "Stale", "Stale"));
	if (stratum_parse_submit(m->params, &s, err, sizeof(err)) == -1)
		return (conn_reject(c, m->id, worker, STRATUM_ERR_OTHER, err,
		    err));

	memset(&ctx, 0, sizeof(ctx));
	ctx.job = &cj->pj->job;
	ctx.en1 = cj->en1;
	ctx.en1_len = cj->en1_len;
	ctx.en2_size = pool.opts.en2_size;
	ctx.difficulty = cj->difficulty;
	ctx.version_mask = c->rolling ? c->mask : 0;
	sub.en2_hex = s.en2;
	sub.ntime_hex = s.ntime;
	sub.nonce_hex = s.nonce;
	sub.vbits_hex = s.vbits;
	r = share_check(&ctx, &sub, &v);
	if (r == SHARE_BAD_LENGTH || r == SHARE_BAD_HEX)
		return (conn_reject(c, m->id, worker, STRATUM_ERR_OTHER,
		    share_result_str(r), share_result_str(r)));

	/* Format is known good here, so the verdict's parsed fields are
	 * set; vbits is parsed again because a version-bits failure
	 * leaves it unset. */
	memset(&key, 0, sizeof(key));
	memcpy(key.en2, v.en2, v.en2_len);
	key.en2_len = (uint8_t)v.en2_len;
	key.ntime = v.ntime;
	key.nonce = v.nonce;
	if (s.vbits != NULL) {
		key.has_vbits = 1;
		(void)hex_u32(s.vbits, strlen(s.vbits), &key.vbits);
	}
	key.used = 1;
	if ((d = dupset_add(&cj->dups, &key)) == 1)
		return (conn_reject(c, m->id, worker, STRATUM_ERR_DUPLICATE,
		    "Duplicate share", "Duplicate"));
	if (d == -1)
		pool.stats.limit_hits++;

	if (r != SHARE_OK)
		return (conn_reject(c, m->id, worker, share_result_code(r),
		    share_result_str(r),
		    r == SHARE_LOW_DIFFICULTY ? "Above target" :
		    r == SHARE_NTIME_OUT_OF_RANGE ? "Ntime out of range" :
		    r == SHARE_BAD_VERSION_BITS ? "Invalid version mask" :
		    share_result_str(r)));

	pool.valid_count++;
	if (pool.opts.reject_every > 0 &&
	    pool.valid_count % pool.opts.reject_every == 0)
		return (conn_reject(c, m->id, worker, STRATUM_ERR_OTHER,
		    "Injected reject", "Injected reject"));

	c->accepted++;
	pool.stats.accepted++;
	/* Credit the job's difficulty, not the share's
	 * (docs/PROTOCOL.md 4). */
	pool.stats.accepted_diff += cj->difficulty;
	{
		char dkey[32];

		snprintf(dkey, sizeof(dkey), "%.9g", cj->difficulty);
		count_key(pool.stats.by_diff, dkey);
	}
	stats_worker_add(worker, true, cj->difficulty);
	if (v.vbits != 0)
		pool.stats.rolled++;
	if (v.block_candidate) {
		pool.stats.blocks++;
		log_info("block_found", "{s:I,s:s,s:s,s:f}", "conn",
		    (json_int_t)c->id, "worker", worker, "job", jid,
		    "share_diff", v.share_diff);
	}
	return (conn_send_result(c, m->id, json_true()));
}

struct method {
	const char	*name;
	int		(*fn)(struct conn *, struct stratum_msg *);
};

static const struct method methods[] = {
	{ "mining.configure",		h_configure },
	{ "mining.subscribe",		h_subscribe },
	{ "mining.authorize",		h_authorize },
	{ "mining.extranonce.subscribe", h_xnsub },
	{ "mining.suggest_difficulty",	h_suggest },
	{ "mining.submit",		h_submit },
	{ "mining.ping",		h_ping },
};

static int
conn_dispatch(struct conn *c, struct stratum_msg *m)
{
	size_t		 i;

	/* Replies to our own requests (there are none but pings) and
	 * anything else without a method carry nothing for us. */
	if (m->kind == STRATUM_RESPONSE)
		return (0);
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (strcmp(methods[i].name, m->method) == 0)
			return (methods[i].fn(c, m));
	}
	log_debug("unknown_method", "{s:I,s:s}", "conn", (json_int_t)c->id,
	    "method", m->method);
	return (conn_send_error(c, m->id, STRATUM_ERR_OTHER, "Unknown method"));
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct stratum_msg msg;
	enum stratum_read r;
	char		 reason[128];

	/* A silent pool is a dead pool that still holds the socket. */
	if (pool.silent) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	for (;;) {
		r = stratum_read(in, STRATUM_MAX_LINE_MINER, &msg, reason,
		    sizeof(reason));
		if (r == STRATUM_READ_AGAIN)
			break;
		if (r == STRATUM_READ_OVERFLOW) {
			pool.stats.limit_hits++;
			conn_close(c, "line too long");
			return;
		}
		if (r == STRATUM_READ_BAD) {
			pool.stats.bad_lines++;
			log_warn("bad_line", "{s:I,s:s}", "conn",
			    (json_int_t)c->id, "reason", reason);
			if (conn_send_error(c, json_null(), STRATUM_ERR_OTHER,
			    reason) == -1)
				conn_fail(c, "send failed");
		} else {
			if (conn_dispatch(c, &msg) == -1)
				conn_fail(c, "send failed");
			stratum_msg_clear(&msg);
		}
		if (c->state == CONN_CLOSING) {
			conn_close(c, c->close_reason ? c->close_reason :
			    "closing");
			return;
		}
	}
}

/* ---- pool-wide events ---- */

static void
pool_broadcast(struct pjob *pj)
{
	struct conn	*c, *next;
	json_t		*params;
	char		*line;
	size_t		 len;

	if (pool.silent)
		return;
	if ((params = job_to_notify(&pj->job)) == NULL ||
	    (line = stratum_encode_notification("mining.notify", params,
	    &len)) == NULL) {
		log_error("notify_encode_failed", NULL);
		return;
	}
	for (c = TAILQ_FIRST(&pool.conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state != CONN_SUBSCRIBED)
			continue;
		conn_add_job(c, pj, pj->job.clean);
		if (conn_send_raw(c, line, len) == -1 ||
		    c->state == CONN_CLOSING)
			conn_close(c, c->close_reason ? c->close_reason :
			    "send failed");
	}
	free(line);
}

static void
pool_new_job(bool clean)
{
	struct pjob	*pj;

	if ((pj = pjob_new(NULL, clean)) == NULL)
		return;
	pjob_unref(pool.current);
	pool.current = pj;
	log_debug("new_job", "{s:s,s:b}", "job", pj->job.id, "clean", clean);
	pool_broadcast(pj);
}

static void
pool_new_block(void)
{
	pool.height++;
	rnd_bytes(pool.prevhash, 32);
	/* Real prevhashes start with zero bytes (in display order, i.e.
	 * the end of the header field); keep the look. */
	memset(pool.prevhash + 24, 0, 8);
}

static void
job_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd; (void)ev; (void)arg;
	pool_new_job(false);
}

static void
block_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd; (void)ev; (void)arg;
	pool_new_block();
	log_info("new_block", "{s:i}", "height", (int)pool.height);
	pool_new_job(true);
}

static void
stats_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd; (void)ev; (void)arg;
	stats_write();
}

static void
xn_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c, *next;
	char		 en1hex[2 * EN1_MAX + 1];

	(void)fd; (void)ev; (void)arg;
	if (pool.silent)
		return;
	for (c = TAILQ_FIRST(&pool.conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state != CONN_SUBSCRIBED || !c->xnsub)
			continue;
		pool_next_en1(c->en1, c->en1_len);
		hex_encode(c->en1, c->en1_len, en1hex);
		log_info("set_extranonce", "{s:I,s:s}", "conn",
		    (json_int_t)c->id, "en1", en1hex);
		/* The new en1 applies from the next notify, and work on the
		 * old one is useless, so that notify is clean (6.6). */
		if (conn_send_notification(c, "mining.set_extranonce",
		    json_pack("[s,i]", en1hex, (int)pool.opts.en2_size)) == -1 ||
		    conn_notify_fresh(c, true) == -1 ||
		    c->state == CONN_CLOSING)
			conn_close(c, c->close_reason ? c->close_reason :
			    "send failed");
	}
}

static void
drop_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd; (void)ev; (void)arg;
	log_info("fault_drop_all", "{s:i}", "connections", (int)pool.n_conns);
	while (!TAILQ_EMPTY(&pool.conns))
		conn_close(TAILQ_FIRST(&pool.conns), "injected drop");
}

static void
silent_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd; (void)ev; (void)arg;
	log_info("fault_silent", NULL);
	pool.silent = true;
}

static void
garbage_cb(evutil_socket_t fd, short ev, void *arg)
{
	static const char *garbage[] = {
		"this is not json at all\n",
		"{\"id\":null,\"method\":\"mining.notify\",\"params\":[\n",
		"[1,2,3]\n",
		"{\"id\":null,\"method\":\"mining.bogus\",\"params\":[]}\n",
		"{\"id\":12345,\"result\":true,\"error\":null}\n",
		"\x01\x02\xff\xfe garbage\n",
	};
	struct conn	*c, *next;
	const char	*g;

	(void)fd; (void)ev; (void)arg;
	g = garbage[pool.garbage_seq++ % (sizeof(garbage) / sizeof(garbage[0]))];
	for (c = TAILQ_FIRST(&pool.conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (conn_send_raw(c, g, strlen(g)) == -1 ||
		    c->state == CONN_CLOSING)
			conn_close(c, c->close_reason ? c->close_reason :
			    "send failed");
	}
}

static void
reconnect_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c, *next;

	(void)fd; (void)ev; (void)arg;
	log_info("client_reconnect", "{s:i}", "connections", (int)pool.n_conns);
	for (c = TAILQ_FIRST(&pool.conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		/* The portable form: empty params, same host and port. */
		if (conn_send_notification(c, "client.reconnect",
		    json_array()) == -1 || c->state == CONN_CLOSING)
			conn_close(c, c->close_reason ? c->close_reason :
			    "send failed");
	}
}

static void
listener_error_cb(struct evconnlistener *l, void *arg)
{
	(void)l;
	(void)arg;
	/* EMFILE and friends: libevent retries on the next readiness. */
	log_warn("accept_failed", "{s:s}", "error",
	    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

static int
pool_listen(void)
{
	pool.listener = evconnlistener_new(pool.base, accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1, pool.lfd);
	if (pool.listener == NULL) {
		log_error("listen_failed", "{s:s}", "error", strerror(errno));
		return (-1);
	}
	evconnlistener_set_error_cb(pool.listener, listener_error_cb);
	log_info("accepting", "{s:i}", "port", (int)pool.port);
	return (0);
}

static void
refuse_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd; (void)ev; (void)arg;
	if (pool_listen() == -1)
		event_base_loopbreak(pool.base);
}

static void
stop_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd; (void)ev; (void)arg;
	event_base_loopbreak(pool.base);
}

/*
 * Bound but not listening: connects are refused (RST) until listen(), which
 * is what --refuse-for needs, and the port is known from the start.
 */
static int
pool_bind(void)
{
	struct addrinfo	 hints, *res = NULL;
	struct sockaddr_storage ss;
	socklen_t	 sslen = sizeof(ss);
	char		 port[8];
	int		 one = 1, rv;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", pool.opts.port);
	if ((rv = getaddrinfo(pool.opts.host, port, &hints, &res)) != 0) {
		log_error("resolve_failed", "{s:s,s:s}", "host", pool.opts.host,
		    "error", gai_strerror(rv));
		return (-1);
	}
	pool.lfd = socket(res->ai_family, SOCK_STREAM, 0);
	if (pool.lfd == -1)
		goto err;
	(void)setsockopt(pool.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(pool.lfd, res->ai_addr, res->ai_addrlen) == -1 ||
	    evutil_make_socket_nonblocking(pool.lfd) == -1 ||
	    evutil_make_socket_closeonexec(pool.lfd) == -1 ||
	    getsockname(pool.lfd, (struct sockaddr *)&ss, &sslen) == -1)
		goto err;
	if (ss.ss_family == AF_INET)
		pool.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else
		pool.port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	freeaddrinfo(res);
	return (0);
 err:
	log_error("bind_failed", "{s:s,s:s,s:i}", "error", strerror(errno),
	    "host", pool.opts.host, "port", (int)pool.opts.port);
	if (pool.lfd != -1)
		close(pool.lfd);
	pool.lfd = -1;
	freeaddrinfo(res);
	return (-1);
}

/* ---- options ---- */

static int
parse_vardiff(const char *s, struct pool_opts *o)
{
	char		 buf[1024], *tok, *save = NULL, *colon;
	struct vardiff_step *st;

	if (strlen(s) >= sizeof(buf))
		return (-1);
	snprintf(buf, sizeof(buf), "%s", s);
	o->n_vardiff = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (o->n_vardiff >= VARDIFF_MAX_STEPS ||
		    (colon = strchr(tok, ':')) == NULL)
			return (-1);
		*colon = '\0';
		st = &o->vardiff[o->n_vardiff];
		if (sim_parse_double(tok, 0, 1e9, &st->t) == -1 ||
		    sim_parse_double(colon + 1, 1e-12, 1e15, &st->d) == -1 ||
		    st->d <= 0)
			return (-1);
		/* Steps must be in time order: each one arms the next. */
		if (o->n_vardiff > 0 && st->t < o->vardiff[o->n_vardiff - 1].t)
			return (-1);
		o->n_vardiff++;
	}
	return (0);
}

static void
usage(void)
{
	fprintf(stderr,
"usage: dpmp-simpool [options]\n"
"  --port N               listen port (0 = any; printed on stdout)\n"
"  --host ADDR            listen address (127.0.0.1)\n"
"  --name NAME            pool name (first character prefixes job ids)\n"
"  --en1-size N           extranonce1 bytes, 0..8 (4)\n"
"  --en2-size N           extranonce2 bytes, 1..16 (8)\n"
"  --difficulty D         share difficulty, fractions allowed (1)\n"
"  --vardiff T:D,...      after T s of a connection switch to D\n"
"  --job-interval S       new job (clean=false) every S s (30)\n"
"  --block-interval S     new prevhash (clean=true) every S s (0 = never)\n"
"  --job-ids STYLE        prefixed | counter (prefixed)\n"
"  --version-mask HEX     version rolling mask (1fffe000)\n"
"  --set-extranonce-interval S  new en1 to xnsub sessions every S s\n"
"  --nbits HEX            network target bits (1705ae3a)\n"
"  --reject-every N       reject every Nth valid share (code 20)\n"
"  --drop-after S         close every connection after S s\n"
"  --refuse-for S         refuse connections for the first S s\n"
"  --silent-after S       stop sending anything after S s\n"
"  --garbage-every S      send a garbage line every S s\n"
"  --reconnect-after S    send client.reconnect to all after S s\n"
"  --no-suggest           ignore mining.suggest_difficulty\n"
"  --ckpool-style         reject as result false + reject-reason\n"
"  --stats FILE           JSON stats, rewritten every second and at exit\n"
"  --duration S           exit after S s\n"
"  --seed N               random seed for job contents\n"
"  --log-level LEVEL      debug | info | warn | error (info)\n");
}

enum {
	OPT_PORT = 256, OPT_HOST, OPT_NAME, OPT_EN1, OPT_EN2, OPT_DIFF,
	OPT_VARDIFF, OPT_JOBINT, OPT_BLOCKINT, OPT_JOBIDS, OPT_MASK, OPT_XNINT,
	OPT_NBITS, OPT_REJECT, OPT_DROP, OPT_REFUSE, OPT_SILENT, OPT_GARBAGE,
	OPT_RECONNECT, OPT_NOSUGGEST, OPT_CKPOOL, OPT_STATS, OPT_DURATION,
	OPT_SEED, OPT_LOGLEVEL, OPT_HELP,
};

static const struct option longopts[] = {
	{ "port",		required_argument, NULL, OPT_PORT },
	{ "host",		required_argument, NULL, OPT_HOST },
	{ "name",		required_argument, NULL, OPT_NAME },
	{ "en1-size",		required_argument, NULL, OPT_EN1 },
	{ "en2-size",		required_argument, NULL, OPT_EN2 },
	{ "difficulty",		required_argument, NULL, OPT_DIFF },
	{ "vardiff",		required_argument, NULL, OPT_VARDIFF },
	{ "job-interval",	required_argument, NULL, OPT_JOBINT },
	{ "block-interval",	required_argument, NULL, OPT_BLOCKINT },
	{ "job-ids",		required_argument, NULL, OPT_JOBIDS },
	{ "version-mask",	required_argument, NULL, OPT_MASK },
	{ "set-extranonce-interval", required_argument, NULL, OPT_XNINT },
	{ "nbits",		required_argument, NULL, OPT_NBITS },
	{ "reject-every",	required_argument, NULL, OPT_REJECT },
	{ "drop-after",		required_argument, NULL, OPT_DROP },
	{ "refuse-for",		required_argument, NULL, OPT_REFUSE },
	{ "silent-after",	required_argument, NULL, OPT_SILENT },
	{ "garbage-every",	required_argument, NULL, OPT_GARBAGE },
	{ "reconnect-after",	required_argument, NULL, OPT_RECONNECT },
	{ "no-suggest",		no_argument,	   NULL, OPT_NOSUGGEST },
	{ "ckpool-style",	no_argument,	   NULL, OPT_CKPOOL },
	{ "stats",		required_argument, NULL, OPT_STATS },
	{ "duration",		required_argument, NULL, OPT_DURATION },
	{ "seed",		required_argument, NULL, OPT_SEED },
	{ "log-level",		required_argument, NULL, OPT_LOGLEVEL },
	{ "help",		no_argument,	   NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static int
parse_opts(int argc, char **argv, struct pool_opts *o)
{
	const struct sim_real_opt reals[] = {
		{ OPT_DIFF,		1e-12,	1e15,	&o->difficulty },
		{ OPT_JOBINT,		0,	1e6,	&o->job_interval },
		{ OPT_BLOCKINT,		0,	1e6,	&o->block_interval },
		{ OPT_XNINT,		0,	1e6,	&o->xn_interval },
		{ OPT_DROP,		0,	1e6,	&o->drop_after },
		{ OPT_REFUSE,		0,	1e6,	&o->refuse_for },
		{ OPT_SILENT,		0,	1e6,	&o->silent_after },
		{ OPT_GARBAGE,		0,	1e6,	&o->garbage_every },
		{ OPT_RECONNECT,	0,	1e6,	&o->reconnect_after },
		{ OPT_DURATION,		0,	1e9,	&o->duration },
	};
	double		 d;
	int		 ch, r, lvl;
	size_t		 len;

	o->host = "127.0.0.1";
	o->port = 0;
	o->name = "simpool";
	o->en1_size = 4;
	o->en2_size = 8;
	o->difficulty = 1;
	o->job_interval = 30;
	o->job_ids = JOB_IDS_PREFIXED;
	o->version_mask = 0x1fffe000;
	o->nbits = 0x1705ae3a;
	o->honour_suggest = true;
	o->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if ((r = sim_real_opt(reals, sizeof(reals) / sizeof(reals[0]),
		    ch, optarg)) == -1)
			goto bad;
		if (r == 1)
			continue;
		switch (ch) {
		case OPT_PORT:
			if (sim_parse_whole(optarg, 0, 65535, &d) == -1)
				goto bad;
			o->port = (uint16_t)d;
			break;
		case OPT_HOST:
			o->host = optarg;
			break;
		case OPT_NAME:
			o->name = optarg;
			break;
		case OPT_EN1:
			if (sim_parse_whole(optarg, 0, EN1_MAX, &d) == -1)
				goto bad;
			o->en1_size = (size_t)d;
			break;
		case OPT_EN2:
			if (sim_parse_whole(optarg, EN2_MIN, EN2_MAX, &d) == -1)
				goto bad;
			o->en2_size = (size_t)d;
			break;
		case OPT_VARDIFF:
			if (parse_vardiff(optarg, o) == -1)
				goto bad;
			break;
		case OPT_JOBIDS:
			if (strcmp(optarg, "prefixed") == 0)
				o->job_ids = JOB_IDS_PREFIXED;
			else if (strcmp(optarg, "counter") == 0)
				o->job_ids = JOB_IDS_COUNTER;
			else
				goto bad;
			break;
		case OPT_MASK:
			len = strlen(optarg);
			if (hex_u32(optarg, len, &o->version_mask) == -1)
				goto bad;
			break;
		case OPT_NBITS:
			if (hex_u32(optarg, strlen(optarg), &o->nbits) == -1)
				goto bad;
			break;
		case OPT_REJECT:
			if (sim_parse_whole(optarg, 0, 1e9, &d) == -1)
				goto bad;
			o->reject_every = (unsigned)d;
			break;
		case OPT_NOSUGGEST:
			o->honour_suggest = false;
			break;
		case OPT_CKPOOL:
			o->ckpool_style = true;
			break;
		case OPT_STATS:
			o->stats_path = optarg;
			break;
		case OPT_SEED:
			if (sim_parse_double(optarg, 0, 1e18, &d) == -1)
				goto bad;
			o->seed = (uint64_t)d;
			break;
		case OPT_LOGLEVEL:
			if ((lvl = log_level_parse(optarg)) == -1)
				goto bad;
			log_set_level((enum log_level)lvl);
			break;
		case OPT_HELP:
		case 'h':
			usage();
			exit(0);
		default:
			usage();
			return (-1);
		}
	}
	if (optind != argc) {
		usage();
		return (-1);
	}
	/* xorshift must not start at zero. */
	o->seed = o->seed * 2654435761ULL + 0x9e3779b97f4a7c15ULL;
	if (o->seed == 0)
		o->seed = 1;
	return (0);
 bad:
	sim_opt_bad("dpmp-simpool", longopts, ch, optarg);
	return (-1);
}

/* ---- main ---- */

static void
pool_free(void)
{
	struct event	**evs[] = {
		&pool.ev_job, &pool.ev_block, &pool.ev_stats, &pool.ev_xn,
		&pool.ev_drop, &pool.ev_refuse, &pool.ev_silent,
		&pool.ev_garbage, &pool.ev_reconnect, &pool.ev_duration,
		&pool.ev_sigterm, &pool.ev_sigint,
	};

	while (!TAILQ_EMPTY(&pool.conns))
		conn_close(TAILQ_FIRST(&pool.conns), "shutdown");
	sim_events_free(evs, sizeof(evs) / sizeof(evs[0]));
	if (pool.listener != NULL)
		evconnlistener_free(pool.listener);
	else if (pool.lfd != -1)
		close(pool.lfd);
	pool.listener = NULL;
	pool.lfd = -1;
	pjob_unref(pool.current);
	pool.current = NULL;
	json_decref(pool.stats.by_reason);
	json_decref(pool.stats.by_diff);
	json_decref(pool.stats.workers);
	if (pool.base != NULL)
		event_base_free(pool.base);
	pool.base = NULL;
}

int
main(int argc, char **argv)
{
	int		 rv = 1;

	log_init("simpool", LOG_LEVEL_INFO);
	memset(&pool, 0, sizeof(pool));
	pool.lfd = -1;
	TAILQ_INIT(&pool.conns);
	if (parse_opts(argc, argv, &pool.opts) == -1)
		return (2);
	pool.rng = pool.opts.seed;
	pool.t0 = sim_now();
	pool.height = 840000;
	(void)signal(SIGPIPE, SIG_IGN);

	if ((pool.stats.by_reason = json_object()) == NULL ||
	    (pool.stats.by_diff = json_object()) == NULL ||
	    (pool.stats.workers = json_object()) == NULL ||
	    (pool.base = event_base_new()) == NULL)
		goto done;
	if (pool_bind() == -1)
		goto done;
	/* The one line on stdout: tests read the port from it. */
	printf("{\"event\":\"listening\",\"port\":%u}\n", pool.port);
	fflush(stdout);
	log_info("listening", "{s:s,s:i,s:s,s:f,s:i,s:i}", "host",
	    pool.opts.host, "port", (int)pool.port, "name", pool.opts.name,
	    "difficulty", pool.opts.difficulty, "en1_size",
	    (int)pool.opts.en1_size, "en2_size", (int)pool.opts.en2_size);

	pool_new_block();
	if ((pool.current = pjob_new(NULL, true)) == NULL)
		goto done;

	if (pool.opts.refuse_for > 0) {
		log_info("fault_refusing", "{s:f}", "seconds",
		    pool.opts.refuse_for);
		if (sim_timer_add(pool.base, &pool.ev_refuse,
		    pool.opts.refuse_for, false, refuse_cb) == -1)
			goto done;
	} else if (pool_listen() == -1)
		goto done;

	if (sim_timer_add(pool.base, &pool.ev_job, pool.opts.job_interval,
	    true, job_cb) == -1 ||
	    sim_timer_add(pool.base, &pool.ev_block, pool.opts.block_interval,
	    true, block_cb) == -1 ||
	    sim_timer_add(pool.base, &pool.ev_stats, 1.0, true,
	    stats_cb) == -1 ||
	    sim_timer_add(pool.base, &pool.ev_xn, pool.opts.xn_interval,
	    true, xn_cb) == -1 ||
	    sim_timer_add(pool.base, &pool.ev_drop, pool.opts.drop_after,
	    false, drop_cb) == -1 ||
	    sim_timer_add(pool.base, &pool.ev_silent, pool.opts.silent_after,
	    false, silent_cb) == -1 ||
	    sim_timer_add(pool.base, &pool.ev_garbage,
	    pool.opts.garbage_every, true, garbage_cb) == -1 ||
	    sim_timer_add(pool.base, &pool.ev_reconnect,
	    pool.opts.reconnect_after, false, reconnect_cb) == -1 ||
	    sim_timer_add(pool.base, &pool.ev_duration, pool.opts.duration,
	    false, stop_cb) == -1)
		goto done;
	if (sim_signals_add(pool.base, stop_cb, &pool.ev_sigterm,
	    &pool.ev_sigint) == -1)
		goto done;

	stats_write();
	if (event_base_dispatch(pool.base) == -1)
		goto done;
	rv = 0;
 done:
	stats_write();
	log_info("exit", "{s:I,s:f,s:I}", "accepted",
	    (json_int_t)pool.stats.accepted, "accepted_difficulty",
	    pool.stats.accepted_diff, "connections",
	    (json_int_t)pool.stats.connections);
	pool_free();
	return (rv);
}
