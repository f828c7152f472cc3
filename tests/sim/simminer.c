/*
 * dpmp-simminer: N Stratum v1 miner sessions in one process, each doing
 * real sha256d work at a target share rate, so every share it submits is
 * genuine, or bad on purpose (--bad-shares) to check what a pool or proxy
 * answers.  One libevent loop; hashing runs in short slices from a timer
 * so the sockets stay responsive and submit latency stays measurable.
 */
/* The per-nonce hash reuses a SHA-256 midstate of the first 64 header
 * bytes, which needs the copyable SHA256_CTX that OpenSSL 3 deprecates;
 * EVP has no cheap way to clone a context (it is ~3x slower here). */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>
#include <jansson.h>
#include <openssl/sha.h>

#include "bytes.h"
#include "diff.h"
#include "hex.h"
#include "job.h"
#include "log.h"
#include "simcommon.h"
#include "stratum.h"

#ifndef DPMP_VERSION
#define DPMP_VERSION		"0"
#endif
#define AGENT			"dpmp-simminer/" DPMP_VERSION

#define MINERS_MAX		100000
#define WORKER_MAX		128
#define PENDING_SLOTS		32	/* request table per miner (power of 2) */
#define PENDING_MAX_OUT		24	/* unanswered requests before pausing */
#define TICK_SECONDS		0.001	/* hashing slice period */
#define HASH_CHUNK		512	/* hashes between clock checks */
#define BACKOFF_SECONDS		1.0
#define RECONNECT_WAIT_MAX	60.0
#define LAT_PER_OCTAVE		32	/* histogram resolution ~2% */
#define LAT_BUCKETS		(40 * LAT_PER_OCTAVE + 2)
#define REJECT_CODES_MAX	16

enum bad_kind {
	BAD_NONE,
	BAD_STALE,
	BAD_DUPLICATE,
	BAD_LOWDIFF,
	BAD_UNAUTH,
	BAD_UNSUBSCRIBED,
	BAD_BADHEX,
	BAD_NTIME,
};

static const struct {
	const char	*name;
	int		 code;	/* what a correct pool answers */
} bad_kinds[] = {
	[BAD_NONE] =		{ "none",		0 },
	[BAD_STALE] =		{ "stale",		21 },
	[BAD_DUPLICATE] =	{ "duplicate",		22 },
	[BAD_LOWDIFF] =		{ "lowdiff",		23 },
	[BAD_UNAUTH] =		{ "unauth",		24 },
	[BAD_UNSUBSCRIBED] =	{ "unsubscribed",	25 },
	[BAD_BADHEX] =		{ "badhex",		20 },
	[BAD_NTIME] =		{ "ntime",		20 },
};

/*
 * Firmware profiles: where a miner's extranonce2 (and with it the nonce
 * and version-roll search) starts when a mining.notify arrives.  This is
 * what decides whether a miner re-finds shares it already sent when a
 * proxy hands it the same work again under a new job id.  Read from the
 * firmware sources, not copied:
 *
 * restart: cpuminer and ESP-Miner start every new job from the beginning.
 *   pooler/cpuminer util.c stratum_notify() zeroes the job's xnonce2
 *   whenever the job id differs from the previous one (clean or not);
 *   cpu-miner.c stratum_gen_work() copies that xnonce2 into the work and
 *   only then increments the job's copy, and miner_thread() starts the
 *   nonce of changed work at 0xffffffff / threads * thread (0 for one
 *   thread).  bitaxeorg/ESP-Miner main/tasks/create_jobs_task.c
 *   create_jobs_task() sets extranonce_2 = 0 for every notify it dequeues
 *   and generate_work() hands each (job, extranonce_2) to the ASIC, which
 *   searches nonce and version bits from their start again (its own
 *   comment there: re-sending the same job "restarts the nonce search
 *   from 0 and produces duplicate shares").  A notify that repeats the
 *   job id in hand is not a restart: stratum_notify() keeps the counter,
 *   and ESP-Miner's stratum_v1_task() drops it as a duplicate notify.
 *
 * counter: one counter per simulated miner, kept across reconnects, that
 *   only ever goes up, so no two jobs share an extranonce2.  What this
 *   simulator always did, and the default.  cgminer's gen_stratum_work()
 *   (ckolivas/cgminer cgminer.c) takes pool->nonce2++ for every work
 *   item, but see cgminer below.
 *
 * cgminer: the counter above, reset to 0 by a notify with clean_jobs
 *   true: ckolivas/cgminer 4.11 util.c parse_notify() does
 *   "if (clean) pool->nonce2 = 0" on the notify's own flag.  So cgminer
 *   based ASIC firmware repeats shares too when the same work comes back
 *   with clean_jobs=true, never with clean_jobs=false.
 *
 * All three fill the extranonce2 little-endian (cgminer htole64,
 * cpuminer's byte-wise increment, ESP-Miner extranonce_2_generate);
 * restart and cgminer default to that, counter keeps the big-endian
 * counter it always had.
 */
enum firmware {
	FW_COUNTER,
	FW_RESTART,
	FW_CGMINER,
};

static const struct {
	const char	*name;
	bool		 en2_le;
} firmwares[] = {
	[FW_COUNTER] =	{ "counter",	false },
	[FW_RESTART] =	{ "restart",	true },
	[FW_CGMINER] =	{ "cgminer",	true },
};

#define MIN_BIT_COUNT_DEFAULT	2	/* BIP 310's own example */

struct sim_opts {
	const char	*host;
	const char	*port;
	size_t		 n_miners;
	const char	*user;
	const char	*worker_prefix;
	const char	*password;
	double		 rate;
	double		 cpu;
	double		 duration;
	double		 drain;
	double		 timeout;
	enum firmware	 firmware;
	bool		 version_rolling;
	int		 min_bit_count;	/* 0: not sent */
	bool		 xnsub;
	bool		 ignore_xn;
	double		 suggest;
	bool		 suggest_after_auth;
	double		 job_delay;
	bool		 clean_immediate;
	bool		 en2_le;
	bool		 en2_le_set;
	enum bad_kind	 bad;
	unsigned	 bad_every;
	const char	*stats_path;
	bool		 quiet;
};

enum req_kind {
	REQ_FREE = 0,
	REQ_CONFIGURE,
	REQ_SUBSCRIBE,
	REQ_AUTHORIZE,
	REQ_XNSUB,
	REQ_SUGGEST,
	REQ_SUBMIT,		/* a genuine share */
	REQ_BAD,		/* a deliberately bad one */
};

/* Kept per request (for a resubmission), so kept small: the worker name
 * is the miner's, or a wrong one when other_worker is set. */
struct share_params {
	bool		 other_worker;
	char		 job_id[JOB_ID_MAX + 1];
	char		 en2[2 * EXTRANONCE_MAX + 1];	/* ours or "zz.." */
	char		 ntime[9];
	char		 nonce[9];
	char		 vbits[9];
	bool		 has_vbits;
};

struct pending {
	int64_t		 id;		/* 0 = free slot */
	enum req_kind	 kind;
	double		 t_sent;
	double		 diff;		/* the job's difficulty (6.1) */
	struct share_params share;
};

enum miner_state {
	MS_IDLE,		/* waiting to (re)connect */
	MS_CONNECTING,
	MS_CONNECTED,
};

static const char *miner_state_names[] = {
	"idle", "connecting", "connected",
};

struct miner {
	size_t		 idx;
	char		 worker[WORKER_MAX + 1];
	struct sockaddr_storage addr;
	socklen_t	 addrlen;
	struct bufferevent *bev;
	struct event	*ev_reconnect;
	enum miner_state state;
	uint64_t	 conn_gen;
	int64_t		 next_id;
	double		 last_rx;

	/* session */
	bool		 subscribed;
	bool		 authorized;
	bool		 rolling;
	uint32_t	 mask;
	uint8_t		 en1[EXTRANONCE_MAX];
	size_t		 en1_len;
	size_t		 en2_size;
	bool		 xn_pending;
	uint8_t		 xn_en1[EXTRANONCE_MAX];
	size_t		 xn_en1_len;
	size_t		 xn_en2_size;
	double		 next_diff;	/* set_difficulty waits for a notify */

	/* current job and the work on it */
	bool		 have_job;
	struct job	 job;
	double		 job_diff;
	uint8_t		 target[32];
	bool		 work_ready;
	uint64_t	 en2_counter;
	uint8_t		 en2[EXTRANONCE_MAX];
	uint32_t	 nonce;
	uint32_t	 vroll;
	uint32_t	 vroll_start;
	uint32_t	 version;
	uint8_t		 header[80];
	SHA256_CTX	 mid;
	double		 next_allowed;

	/* The newest notify, waiting while --job-delay keeps the miner on
	 * the work in hand; its difficulty and extranonce were bound when
	 * it arrived (6.1, 6.6). */
	bool		 have_queued;
	struct job	 queued;
	double		 queued_diff;
	bool		 queued_xn;
	uint8_t		 queued_en1[EXTRANONCE_MAX];
	size_t		 queued_en1_len;
	size_t		 queued_en2_size;
	struct event	*ev_switch;

	struct pending	 pend[PENDING_SLOTS];
	size_t		 n_pending;	/* every request */
	size_t		 n_inflight;	/* submits only */
	struct share_params last_ok;
	bool		 have_last_ok;
	uint64_t	 ok_since_bad;
	uint64_t	 bad_seq;

	/* counters */
	uint64_t	 submitted;
	uint64_t	 accepted;
	uint64_t	 rejected;
	uint64_t	 duplicates;	/* genuine shares answered 22 */
	double		 accepted_diff;
	uint64_t	 hashes;
	uint64_t	 connects;
	uint64_t	 disconnects;
};

struct reject_count {
	int		 code;
	uint64_t	 n;
};

struct sim {
	struct sim_opts	 opts;
	struct event_base *base;
	struct miner	*miners;
	struct sockaddr_storage addr;
	socklen_t	 addrlen;
	struct event	*ev_tick, *ev_stats, *ev_stop, *ev_drain;
	struct event	*ev_sigterm, *ev_sigint;
	bool		 stopping;
	double		 stop_at;
	double		 t0;
	size_t		 rr;

	struct reject_count rejects[REJECT_CODES_MAX];
	uint64_t	 rejects_other;
	uint64_t	 good_rejected;
	uint64_t	 answered;
	uint64_t	 lost;		/* pending when a connection dropped */
	uint64_t	 unexpected;	/* responses to no request of ours */
	uint64_t	 bad_lines;
	uint64_t	 bad_submitted;
	uint64_t	 bad_accepted;
	uint64_t	 bad_skipped;
	uint64_t	 verify_failed;
	uint64_t	 duplicates;	/* every answer with code 22 */
	uint64_t	 good_duplicates;
	uint64_t	 work_restarts;
	uint64_t	 delayed_shares;
	uint64_t	 reconnects;
	uint64_t	 connect_failures;
	uint64_t	 timeouts;
	uint64_t	 lat_hist[LAT_BUCKETS];
	uint64_t	 lat_count;
	double		 lat_max;
};

static struct sim	 sim;

static void	miner_connect(struct miner *);
static void	miner_disconnect(struct miner *, const char *, double);
static void	miner_submit_bad(struct miner *, const struct share_params *);

/* ---- latency histogram ---- */

static void
lat_record(double seconds)
{
	double		 us = seconds * 1e6;
	size_t		 i;

	if (us < 1)
		i = 0;
	else {
		i = (size_t)(log2(us) * LAT_PER_OCTAVE) + 1;
		if (i >= LAT_BUCKETS)
			i = LAT_BUCKETS - 1;
	}
	sim.lat_hist[i]++;
	sim.lat_count++;
	if (seconds * 1e3 > sim.lat_max)
		sim.lat_max = seconds * 1e3;
}

/* Upper bound of the bucket holding quantile q, in ms (never above the
 * largest latency seen). */
static double
lat_quantile(double q)
{
	uint64_t	 want, seen = 0;
	double		 ms;
	size_t		 i;

	if (sim.lat_count == 0)
		return (0);
	want = (uint64_t)ceil(q * (double)sim.lat_count);
	if (want == 0)
		want = 1;
	for (i = 0; i < LAT_BUCKETS; i++) {
		seen += sim.lat_hist[i];
		if (seen >= want)
			break;
	}
	ms = i == 0 ? 0.001 : pow(2.0, (double)i / LAT_PER_OCTAVE) / 1e3;
	return (ms < sim.lat_max ? ms : sim.lat_max);
}

/* ---- stats ---- */

static void
count_reject(int code)
{
	size_t		 i;

	for (i = 0; i < REJECT_CODES_MAX; i++) {
		if (sim.rejects[i].n == 0 || sim.rejects[i].code == code) {
			sim.rejects[i].code = code;
			sim.rejects[i].n++;
			return;
		}
	}
	sim.rejects_other++;
}

static json_t *
stats_json(void)
{
	json_t		*root, *rej, *miners, *lat;
	struct miner	*m;
	uint64_t	 submitted = 0, accepted = 0, rejected = 0, hashes = 0;
	uint64_t	 disconnects = 0, pending = 0;
	double		 acc_diff = 0, elapsed = sim_now() - sim.t0;
	char		 key[16];
	size_t		 i;

	rej = json_object();
	miners = json_array();
	if (rej == NULL || miners == NULL)
		goto err;
	for (i = 0; i < REJECT_CODES_MAX && sim.rejects[i].n > 0; i++) {
		snprintf(key, sizeof(key), "%d", sim.rejects[i].code);
		json_object_set_new(rej, key,
		    json_integer((json_int_t)sim.rejects[i].n));
	}
	if (sim.rejects_other > 0)
		json_object_set_new(rej, "other",
		    json_integer((json_int_t)sim.rejects_other));
	for (i = 0; i < sim.opts.n_miners; i++) {
		m = &sim.miners[i];
		submitted += m->submitted;
		accepted += m->accepted;
		rejected += m->rejected;
		acc_diff += m->accepted_diff;
		hashes += m->hashes;
		disconnects += m->disconnects;
		pending += m->n_inflight;
		json_array_append_new(miners, json_pack(
		    "{s:s,s:I,s:I,s:I,s:I,s:f,s:I,s:f,s:b}",
		    "worker", m->worker,
		    "submitted", (json_int_t)m->submitted,
		    "accepted", (json_int_t)m->accepted,
		    "rejected", (json_int_t)m->rejected,
		    "duplicates", (json_int_t)m->duplicates,
		    "accepted_difficulty", m->accepted_diff,
		    "disconnects", (json_int_t)m->disconnects,
		    "difficulty", m->job_diff,
		    "connected", m->state == MS_CONNECTED));
	}
	lat = json_pack("{s:f,s:f,s:f,s:f,s:I}",
	    "p50", lat_quantile(0.50), "p99", lat_quantile(0.99),
	    "p999", lat_quantile(0.999), "max", sim.lat_max,
	    "count", (json_int_t)sim.lat_count);
	root = json_pack("{s:I,s:I,s:o,s:I,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:I,"
	    "s:I,s:o,s:{s:s,s:i,s:I,s:I,s:I},s:I,s:I,s:I,s:I,s:f,s:f,s:o}",
	    "submitted", (json_int_t)submitted,
	    "accepted", (json_int_t)accepted,
	    "rejected", rej,
	    "good_rejected", (json_int_t)sim.good_rejected,
	    "accepted_difficulty", acc_diff,
	    "answered", (json_int_t)sim.answered,
	    "unanswered", (json_int_t)(pending + sim.lost),
	    "lost_on_disconnect", (json_int_t)sim.lost,
	    "disconnects", (json_int_t)disconnects,
	    "reconnects", (json_int_t)sim.reconnects,
	    "connect_failures", (json_int_t)sim.connect_failures,
	    "timeouts", (json_int_t)sim.timeouts,
	    "unexpected_responses", (json_int_t)sim.unexpected,
	    "latency_ms", lat,
	    "bad", "kind", bad_kinds[sim.opts.bad].name,
	    "expected_code", bad_kinds[sim.opts.bad].code,
	    "submitted", (json_int_t)sim.bad_submitted,
	    "accepted", (json_int_t)sim.bad_accepted,
	    "skipped", (json_int_t)sim.bad_skipped,
	    "bad_lines", (json_int_t)sim.bad_lines,
	    "verify_failed", (json_int_t)sim.verify_failed,
	    "hashes", (json_int_t)hashes,
	    "rejected_total", (json_int_t)rejected,
	    "hashrate", elapsed > 0 ? (double)hashes / elapsed : 0.0,
	    "elapsed", elapsed,
	    "miners", miners);
	if (root == NULL)
		return (NULL);
	/* What the firmware profile did, for tests to assert on: code 22
	 * answers (all, and to genuine shares only), searches restarted
	 * from the first extranonce2, shares sent for an old job while
	 * --job-delay held a newer one back. */
	json_object_set_new(root, "firmware",
	    json_string(firmwares[sim.opts.firmware].name));
	json_object_set_new(root, "duplicates",
	    json_integer((json_int_t)sim.duplicates));
	json_object_set_new(root, "good_duplicates",
	    json_integer((json_int_t)sim.good_duplicates));
	json_object_set_new(root, "work_restarts",
	    json_integer((json_int_t)sim.work_restarts));
	json_object_set_new(root, "delayed_shares",
	    json_integer((json_int_t)sim.delayed_shares));
	return (root);
 err:
	json_decref(rej);
	json_decref(miners);
	return (NULL);
}

static void
stats_write(void)
{
	json_t		*root;

	if (sim.opts.stats_path == NULL)
		return;
	if ((root = stats_json()) == NULL)
		return;
	sim_stats_write(root, sim.opts.stats_path);
	json_decref(root);
}

/* ---- work ---- */

/* Spread the low bits of counter over the set bits of mask (pdep). */
static uint32_t
roll_bits(uint32_t mask, uint32_t counter)
{
	uint32_t	 out = 0, bit;

	for (bit = 1; mask != 0 && bit != 0; bit <<= 1) {
		if ((mask & bit) == 0)
			continue;
		if (counter & 1)
			out |= bit;
		counter >>= 1;
	}
	return (out);
}

static void
work_set_version(struct miner *m)
{
	if (m->rolling)
		m->version = (m->job.version & ~m->mask) |
		    (roll_bits(m->mask, m->vroll) & m->mask);
	else
		m->version = m->job.version;
	bytes_put_le32(m->header, m->version);
	SHA256_Init(&m->mid);
	SHA256_Update(&m->mid, m->header, 64);
}

/* New extranonce2, so a new coinbase and merkle root. */
static void
work_new_en2(struct miner *m)
{
	uint8_t		 root[32];
	uint64_t	 v = m->en2_counter;
	size_t		 i, n = m->en2_size < 8 ? m->en2_size : 8;

	memset(m->en2, 0, m->en2_size);
	/* Firmware fills en2 with a little-endian counter; the counter
	 * profile's default reads as a number in the hex instead. */
	for (i = 0; i < n; i++) {
		if (sim.opts.en2_le)
			m->en2[i] = (uint8_t)(v >> (8 * i));
		else
			m->en2[m->en2_size - 1 - i] = (uint8_t)(v >> (8 * i));
	}
	job_merkle_root(&m->job, m->en1, m->en1_len, m->en2, m->en2_size,
	    root);
	job_header(&m->job, root, m->job.version, m->job.ntime, 0, m->header);
	work_set_version(m);
	m->nonce = 0;
	m->work_ready = true;
}

static void
work_start(struct miner *m)
{
	m->work_ready = false;
	if (!m->subscribed || !m->have_job)
		return;
	/* A difficulty with no target: nothing meets it, so no share is
	 * ever sent that could not be checked. */
	if (diff_to_target(m->job_diff, m->target) == -1)
		memset(m->target, 0, sizeof(m->target));
	work_new_en2(m);
}

/* The first extranonce2 of a job the miner switches to: the one thing
 * the firmware profiles (top of file) do differently.  A restart takes
 * the version roll back to its start too, so the same work gives the
 * same shares in the same order. */
static void
work_first_en2(struct miner *m, bool clean, bool same_id)
{
	bool		 restart;

	switch (sim.opts.firmware) {
	case FW_RESTART:
		restart = !same_id;
		break;
	case FW_CGMINER:
		restart = clean;
		break;
	default:
		restart = false;
		break;
	}
	if (!restart) {
		m->en2_counter++;
		return;
	}
	m->en2_counter = 0;
	m->vroll = m->vroll_start;
	sim.work_restarts++;
}

/* Take the queued notify as the work to do. */
static void
job_switch(struct miner *m)
{
	bool		 same_id;

	if (!m->have_queued)
		return;
	evtimer_del(m->ev_switch);
	if (m->queued_xn) {
		memcpy(m->en1, m->queued_en1, m->queued_en1_len);
		m->en1_len = m->queued_en1_len;
		m->en2_size = m->queued_en2_size;
		m->queued_xn = false;
	}
	same_id = m->have_job && strcmp(m->job.id, m->queued.id) == 0;
	job_clear(&m->job);
	m->job = m->queued;
	/* Ownership of the coinbase buffers moved with the copy. */
	memset(&m->queued, 0, sizeof(m->queued));
	m->have_queued = false;
	m->have_job = true;
	m->job_diff = m->queued_diff;
	work_first_en2(m, m->job.clean, same_id);
	work_start(m);
}

static void
switch_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	job_switch(arg);
}

static void
share_fill(struct miner *m, uint32_t nonce, struct share_params *sh)
{
	sh->other_worker = false;
	snprintf(sh->job_id, sizeof(sh->job_id), "%s", m->job.id);
	hex_encode(m->en2, m->en2_size, sh->en2);
	hex_from_u32(m->job.ntime, sh->ntime);
	hex_from_u32(nonce, sh->nonce);
	sh->has_vbits = m->rolling;
	/* cgminer's form, V & mask: right under both BIP 310 and ckpool. */
	if (m->rolling)
		hex_from_u32(m->version & m->mask, sh->vbits);
	else
		sh->vbits[0] = '\0';
}

/* ---- requests ---- */

static int
miner_request(struct miner *m, enum req_kind kind, const char *method,
    json_t *params, const struct share_params *sh, double diff)
{
	struct pending	*p;
	int64_t		 id;

	if (m->bev == NULL) {
		json_decref(params);
		return (-1);
	}
	id = ++m->next_id;
	p = &m->pend[id % PENDING_SLOTS];
	if (p->id != 0) {
		/* Only reachable past PENDING_MAX_OUT, which the hashing
		 * loop never exceeds; setup requests are few. */
		log_warn("pending_full", "{s:s}", "worker", m->worker);
		json_decref(params);
		return (-1);
	}
	p->id = id;
	p->kind = kind;
	p->t_sent = sim_now();
	p->diff = diff;
	if (sh != NULL)
		p->share = *sh;
	m->n_pending++;
	return (stratum_write_request(bufferevent_get_output(m->bev), id,
	    method, params));
}

static json_t *
submit_params(const struct miner *m, const struct share_params *sh)
{
	char		 worker[WORKER_MAX + 8];

	snprintf(worker, sizeof(worker), "%s%s", m->worker,
	    sh->other_worker ? "-other" : "");
	if (sh->has_vbits)
		return (json_pack("[s,s,s,s,s,s]", worker, sh->job_id,
		    sh->en2, sh->ntime, sh->nonce, sh->vbits));
	return (json_pack("[s,s,s,s,s]", worker, sh->job_id, sh->en2,
	    sh->ntime, sh->nonce));
}

static void
miner_submit(struct miner *m, enum req_kind kind,
    const struct share_params *sh, double diff)
{
	if (miner_request(m, kind, "mining.submit", submit_params(m, sh), sh,
	    diff) == -1)
		return;
	m->submitted++;
	m->n_inflight++;
	/* Out now rather than when the hashing slice ends: the latency
	 * measured is the network's and the pool's, not ours.  Whatever
	 * does not fit goes the usual way. */
	(void)evbuffer_write(bufferevent_get_output(m->bev),
	    bufferevent_getfd(m->bev));
	if (kind == REQ_BAD)
		sim.bad_submitted++;
}

static void
miner_found(struct miner *m, uint32_t nonce, const uint8_t hash[32])
{
	struct share_params sh;
	uint8_t		 check[32];
	double		 now, step;

	/* The library's own header assembly must agree with the fast
	 * midstate loop, or the miner would be testing itself. */
	job_share_hash(&m->job, m->en1, m->en1_len, m->en2, m->en2_size,
	    m->version, m->job.ntime, nonce, check);
	if (memcmp(check, hash, 32) != 0) {
		sim.verify_failed++;
		log_error("share_verify_failed", "{s:s,s:s}", "worker",
		    m->worker, "job", m->job.id);
		return;
	}
	share_fill(m, nonce, &sh);
	/* Enough to tell a share found again (restart firmware given the
	 * same work twice) from a new one. */
	log_debug("share_found", "{s:s,s:s,s:s,s:s,s:s,s:s}", "worker",
	    m->worker, "job", sh.job_id, "en2", sh.en2, "ntime", sh.ntime,
	    "nonce", sh.nonce, "vbits", sh.vbits);
	if (m->have_queued)
		sim.delayed_shares++;
	miner_submit(m, REQ_SUBMIT, &sh, m->job_diff);

	if (sim.opts.rate > 0) {
		/* Pace to the target rate without carrying credit: a miner
		 * that fell behind hashes on, it does not burst. */
		now = sim_now();
		step = 1.0 / sim.opts.rate;
		m->next_allowed += step;
		if (m->next_allowed < now)
			m->next_allowed = now;
	}
	if (m->rolling) {
		m->vroll++;
		work_set_version(m);
	}
}

/* A share that fails the job's target: hash on from the current nonce
 * until one does not meet it (almost always the first). */
static int
miner_lowdiff_share(struct miner *m, struct share_params *sh)
{
	uint8_t		 h[32];
	int		 tries;

	for (tries = 0; tries < 1000; tries++) {
		uint32_t nonce = m->nonce++;

		job_share_hash(&m->job, m->en1, m->en1_len, m->en2,
		    m->en2_size, m->version, m->job.ntime, nonce, h);
		if (!diff_meets(h, m->target)) {
			share_fill(m, nonce, sh);
			return (0);
		}
	}
	return (-1);
}

static void
miner_submit_bad(struct miner *m, const struct share_params *ok)
{
	struct share_params sh;
	size_t		 i;

	if (!m->subscribed || !m->have_job || !m->work_ready)
		return;
	switch (sim.opts.bad) {
	case BAD_STALE:
		sh = *ok;
		snprintf(sh.job_id, sizeof(sh.job_id), "nojob-%llx",
		    (unsigned long long)++m->bad_seq);
		break;
	case BAD_DUPLICATE:
		sh = *ok;
		break;
	case BAD_UNAUTH:
		sh = *ok;
		sh.other_worker = true;
		break;
	case BAD_BADHEX:
		share_fill(m, m->nonce++, &sh);
		for (i = 0; i < 2 * m->en2_size; i++)
			sh.en2[i] = 'z';
		break;
	case BAD_NTIME:
		share_fill(m, m->nonce++, &sh);
		hex_from_u32(m->job.ntime - 1, sh.ntime);
		break;
	case BAD_LOWDIFF:
		if (miner_lowdiff_share(m, &sh) == -1) {
			/* A difficulty so low that every hash meets it. */
			sim.bad_skipped++;
			return;
		}
		break;
	default:
		return;
	}
	miner_submit(m, REQ_BAD, &sh, m->job_diff);
}

static void
miner_suggest(struct miner *m)
{
	double		 d = sim.opts.suggest;

	if (d <= 0)
		return;
	/* cgminer ("%d") and ESP-Miner ("%" PRIu32) send an integer; a
	 * fraction (test pools) can only go as a real. */
	miner_request(m, REQ_SUGGEST, "mining.suggest_difficulty",
	    d == floor(d) && d <= 9007199254740992.0 ?
	    json_pack("[I]", (json_int_t)d) : json_pack("[f]", d), NULL, 0);
}

/*
 * configure (BIP 310: the first message), subscribe, suggest_difficulty,
 * authorize, extranonce.subscribe, all without waiting for answers.
 * suggest_difficulty before authorize is ESP-Miner v2.0.6 to v2.2.2
 * (main/tasks/stratum_task.c stratum_task(): "so the first job is sent
 * with the proper difficulty set"), the harder case for a proxy, which
 * does not know the worker yet.  --suggest-after-authorize sends it once
 * authorize was answered true instead, as cgminer 4.11 auth_stratum()
 * and ESP-Miner since v2.9.0 stratum_v1_task() do (moved for ckpool,
 * which honours it from authorized clients only).
 */
static void
miner_handshake(struct miner *m)
{
	struct share_params sh;
	json_t		*vr;

	if (sim.opts.version_rolling) {
		/* ESP-Miner's STRATUM_V1_configure_version_rolling() and
		 * cgminer's configure_stratum_mining() send the mask alone;
		 * BIP 310 asks for min-bit-count too (--min-bit-count 0
		 * leaves it out). */
		vr = json_pack("{s:s}", "version-rolling.mask", "ffffffff");
		if (vr != NULL && sim.opts.min_bit_count > 0)
			json_object_set_new(vr, "version-rolling.min-bit-count",
			    json_integer(sim.opts.min_bit_count));
		miner_request(m, REQ_CONFIGURE, "mining.configure",
		    json_pack("[[s],o]", "version-rolling", vr), NULL, 0);
	}
	if (sim.opts.bad == BAD_UNSUBSCRIBED) {
		/* Authorized but not yet subscribed: the pool must say 25
		 * whatever else is wrong with the share. */
		miner_request(m, REQ_AUTHORIZE, "mining.authorize",
		    json_pack("[s,s]", m->worker, sim.opts.password), NULL, 0);
		memset(&sh, 0, sizeof(sh));
		snprintf(sh.job_id, sizeof(sh.job_id), "nojob");
		snprintf(sh.en2, sizeof(sh.en2), "00000000");
		snprintf(sh.ntime, sizeof(sh.ntime), "00000000");
		snprintf(sh.nonce, sizeof(sh.nonce), "00000000");
		miner_submit(m, REQ_BAD, &sh, 0);
		miner_request(m, REQ_SUBSCRIBE, "mining.subscribe",
		    json_pack("[s]", AGENT), NULL, 0);
		if (!sim.opts.suggest_after_auth)
			miner_suggest(m);
	} else {
		miner_request(m, REQ_SUBSCRIBE, "mining.subscribe",
		    json_pack("[s]", AGENT), NULL, 0);
		if (!sim.opts.suggest_after_auth)
			miner_suggest(m);
		miner_request(m, REQ_AUTHORIZE, "mining.authorize",
		    json_pack("[s,s]", m->worker, sim.opts.password), NULL, 0);
	}
	if (sim.opts.xnsub)
		miner_request(m, REQ_XNSUB, "mining.extranonce.subscribe",
		    json_array(), NULL, 0);
}

/* ---- responses ---- */

static void
on_configure(struct miner *m, struct stratum_msg *msg)
{
	const char	*mask;
	uint32_t	 v;

	if (msg->error != NULL || !json_is_object(msg->result)) {
		log_info("configure_refused", "{s:s}", "worker", m->worker);
		return;
	}
	/* BIP 310: roll only on "true" with a non-zero mask (cgminer,
	 * ESP-Miner). */
	mask = json_string_value(json_object_get(msg->result,
	    "version-rolling.mask"));
	if (!json_is_true(json_object_get(msg->result, "version-rolling")) ||
	    mask == NULL || hex_u32(mask, strlen(mask), &v) == -1 || v == 0)
		return;
	m->mask = v;
	m->rolling = true;
	m->vroll = m->vroll_start = (uint32_t)m->idx + 1;
	if (m->work_ready)
		work_set_version(m);
}

static void
on_subscribe(struct miner *m, struct stratum_msg *msg)
{
	struct stratum_subscribe_result r;
	char		 err[128];

	if (msg->error != NULL || stratum_parse_subscribe_result(msg->result,
	    &r, err, sizeof(err)) == -1) {
		log_warn("subscribe_failed", "{s:s,s:s}", "worker", m->worker,
		    "error", msg->error != NULL ? "error reply" : err);
		miner_disconnect(m, "subscribe failed", BACKOFF_SECONDS);
		return;
	}
	if (r.en2_size == 0 || r.en2_size > EXTRANONCE_MAX) {
		miner_disconnect(m, "bad en2 size", BACKOFF_SECONDS);
		return;
	}
	memcpy(m->en1, r.en1, r.en1_len);
	m->en1_len = r.en1_len;
	m->en2_size = r.en2_size;
	m->subscribed = true;
	/* A notify may have come before the result (cgminer allows it). */
	work_start(m);
}

static void
on_submit_answer(struct miner *m, struct stratum_msg *msg,
    const struct pending *p)
{
	const char	*text = NULL;
	int		 code;
	bool		 ok;

	lat_record(sim_now() - p->t_sent);
	sim.answered++;
	ok = msg->error == NULL && json_is_true(msg->result);
	if (ok) {
		m->accepted++;
		m->accepted_diff += p->diff;
		if (p->kind == REQ_BAD) {
			sim.bad_accepted++;
			log_warn("bad_share_accepted", "{s:s,s:s}", "worker",
			    m->worker, "kind", bad_kinds[sim.opts.bad].name);
			return;
		}
		m->last_ok = p->share;
		m->have_last_ok = true;
		if (sim.opts.bad != BAD_NONE &&
		    sim.opts.bad != BAD_UNSUBSCRIBED && !sim.stopping &&
		    ++m->ok_since_bad >= sim.opts.bad_every) {
			m->ok_since_bad = 0;
			miner_submit_bad(m, &p->share);
		}
		return;
	}
	code = stratum_error_code(msg, &text);
	m->rejected++;
	count_reject(code);
	if (code == STRATUM_ERR_DUPLICATE) {
		sim.duplicates++;
		if (p->kind == REQ_SUBMIT) {
			sim.good_duplicates++;
			m->duplicates++;
		}
	}
	if (p->kind == REQ_SUBMIT) {
		sim.good_rejected++;
		log_warn("share_rejected", "{s:s,s:s,s:i,s:s}", "worker",
		    m->worker, "job", p->share.job_id, "code", code,
		    "reason", text != NULL ? text : "");
	} else
		log_debug("bad_share_rejected", "{s:s,s:i,s:s}", "worker",
		    m->worker, "code", code, "reason", text != NULL ? text : "");
}

static void
miner_response(struct miner *m, struct stratum_msg *msg)
{
	struct pending	 p, *slot;
	json_int_t	 id;

	if (!json_is_integer(msg->id) ||
	    (id = json_integer_value(msg->id)) <= 0 ||
	    (slot = &m->pend[id % PENDING_SLOTS])->id != id) {
		sim.unexpected++;
		return;
	}
	p = *slot;
	slot->id = 0;
	slot->kind = REQ_FREE;
	m->n_pending--;

	switch (p.kind) {
	case REQ_CONFIGURE:
		on_configure(m, msg);
		break;
	case REQ_SUBSCRIBE:
		on_subscribe(m, msg);
		break;
	case REQ_AUTHORIZE:
		if (msg->error == NULL && json_is_true(msg->result)) {
			m->authorized = true;
			if (sim.opts.suggest_after_auth)
				miner_suggest(m);
			break;
		}
		log_warn("authorize_failed", "{s:s}", "worker", m->worker);
		miner_disconnect(m, "authorize failed", BACKOFF_SECONDS);
		break;
	case REQ_SUBMIT:
	case REQ_BAD:
		m->n_inflight--;
		on_submit_answer(m, msg, &p);
		break;
	default:
		/* xnsub and suggest_difficulty: pools answer true, false,
		 * an error or nothing (docs/PROTOCOL.md 2); none matters. */
		break;
	}
}

/* ---- notifications and pool requests ---- */

static void
n_set_difficulty(struct miner *m, struct stratum_msg *msg)
{
	double		 d;
	char		 err[128];

	if (stratum_parse_difficulty(msg->params, &d, err, sizeof(err)) == -1) {
		log_warn("bad_set_difficulty", "{s:s}", "error", err);
		return;
	}
	/* Binds to the next notify, not to the work in hand (6.1). */
	m->next_diff = d;
}

static void
n_notify(struct miner *m, struct stratum_msg *msg)
{
	struct job	 j;
	struct timeval	 tv;
	char		 err[128];

	if (job_from_notify(msg->params, &j, err, sizeof(err)) == -1) {
		log_warn("bad_notify", "{s:s,s:s}", "worker", m->worker,
		    "error", err);
		return;
	}
	/* A notify still waiting is overtaken: the miner only ever moves
	 * to the newest job.  Difficulty and a set_extranonce bind to the
	 * job now (6.1, 6.6), however late the miner takes it; an
	 * extranonce bound to the overtaken one carries over. */
	job_clear(&m->queued);
	m->queued = j;
	m->have_queued = true;
	m->queued_diff = m->next_diff;
	if (m->xn_pending) {
		memcpy(m->queued_en1, m->xn_en1, m->xn_en1_len);
		m->queued_en1_len = m->xn_en1_len;
		m->queued_en2_size = m->xn_en2_size;
		m->queued_xn = true;
		m->xn_pending = false;
	}
	/*
	 * --job-delay: slow firmware finishes the work it has in hand and
	 * submits it under the old job id before it moves on.  cpuminer
	 * moves at once only for clean_jobs (cpu-miner.c stratum_thread()
	 * calls restart_threads() then; otherwise each thread ends its scan
	 * first, up to LP_SCANTIME 60 s of hashing), ESP-Miner likewise
	 * (create_jobs_task() only "continue"s on a clean_jobs=false notify
	 * and leaves the ASIC on its job until the next job interval).
	 * --clean-immediate does that; by default every notify waits.
	 */
	if (sim.opts.job_delay > 0 && m->work_ready &&
	    !(j.clean && sim.opts.clean_immediate)) {
		if (!evtimer_pending(m->ev_switch, NULL)) {
			tv = sim_tv(sim.opts.job_delay);
			evtimer_add(m->ev_switch, &tv);
		}
		return;
	}
	job_switch(m);
}

static void
n_set_version_mask(struct miner *m, struct stratum_msg *msg)
{
	const char	*s = json_string_value(json_array_get(msg->params, 0));
	uint32_t	 v;

	if (s == NULL || hex_u32(s, strlen(s), &v) == -1) {
		log_warn("bad_set_version_mask", "{s:s}", "worker", m->worker);
		return;
	}
	if (!sim.opts.version_rolling)
		return;
	/* Immediate, unlike difficulty (BIP 310). */
	m->mask = v;
	m->rolling = v != 0;
	if (m->work_ready)
		work_set_version(m);
}

static void
n_set_extranonce(struct miner *m, struct stratum_msg *msg)
{
	char		 err[128];

	if (!sim.opts.xnsub || sim.opts.ignore_xn) {
		/* cgminer 4.11 has no handler at all (util.c
		 * parse_method(); docs/PROTOCOL.md 2): it mines on with the
		 * old extranonce1, and every later share is invalid.
		 * ESP-Miner and bmminer apply it. */
		log_info("set_extranonce_ignored", "{s:s,s:s}", "worker",
		    m->worker, "why", sim.opts.ignore_xn ?
		    "--ignore-set-extranonce" : "not subscribed");
		return;
	}
	if (stratum_parse_set_extranonce(msg->params, m->xn_en1,
	    &m->xn_en1_len, &m->xn_en2_size, err, sizeof(err)) == -1 ||
	    m->xn_en2_size == 0 || m->xn_en2_size > EXTRANONCE_MAX) {
		log_warn("bad_set_extranonce", "{s:s}", "error", err);
		return;
	}
	m->xn_pending = true;
}

static void
n_reconnect(struct miner *m, struct stratum_msg *msg)
{
	json_t		*p = msg->params, *host, *port, *wait;
	struct addrinfo	 hints, *res = NULL;
	char		 portbuf[16];
	double		 w = 0;

	host = json_array_get(p, 0);
	port = json_array_get(p, 1);
	wait = json_array_get(p, 2);
	if (json_is_number(wait))
		w = json_number_value(wait);
	if (w < 0 || !isfinite(w))
		w = 0;
	if (w > RECONNECT_WAIT_MAX)
		w = RECONNECT_WAIT_MAX;
	/* A new numeric host:port is honoured; names are not resolved
	 * inside the event loop.  Empty params mean "come back here". */
	if (json_is_string(host) && (json_is_string(port) ||
	    json_is_integer(port))) {
		if (json_is_integer(port))
			snprintf(portbuf, sizeof(portbuf), "%lld",
			    (long long)json_integer_value(port));
		else
			snprintf(portbuf, sizeof(portbuf), "%s",
			    json_string_value(port));
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
		if (getaddrinfo(json_string_value(host), portbuf, &hints,
		    &res) == 0 && res->ai_addrlen <= sizeof(m->addr)) {
			memcpy(&m->addr, res->ai_addr, res->ai_addrlen);
			m->addrlen = (socklen_t)res->ai_addrlen;
		}
		if (res != NULL)
			freeaddrinfo(res);
	}
	log_info("client_reconnect", "{s:s,s:f}", "worker", m->worker,
	    "wait", w);
	miner_disconnect(m, "client.reconnect", w);
}

static void
n_ping(struct miner *m, struct stratum_msg *msg)
{
	if (m->bev != NULL && msg->kind == STRATUM_REQUEST)
		stratum_write_result(bufferevent_get_output(m->bev), msg->id,
		    json_string("pong"));
}

static void
n_get_version(struct miner *m, struct stratum_msg *msg)
{
	if (m->bev != NULL && msg->kind == STRATUM_REQUEST)
		stratum_write_result(bufferevent_get_output(m->bev), msg->id,
		    json_string(AGENT));
}

static void
n_show_message(struct miner *m, struct stratum_msg *msg)
{
	const char	*s = json_string_value(json_array_get(msg->params, 0));

	log_info("pool_message", "{s:s,s:s}", "worker", m->worker, "text",
	    s != NULL ? s : "");
}

struct method {
	const char	*name;
	void		(*fn)(struct miner *, struct stratum_msg *);
};

static const struct method methods[] = {
	{ "mining.set_difficulty",	n_set_difficulty },
	{ "mining.notify",		n_notify },
	{ "mining.set_version_mask",	n_set_version_mask },
	{ "mining.set_extranonce",	n_set_extranonce },
	{ "client.reconnect",		n_reconnect },
	{ "mining.ping",		n_ping },
	{ "client.get_version",		n_get_version },
	{ "client.show_message",	n_show_message },
};

static void
miner_dispatch(struct miner *m, struct stratum_msg *msg)
{
	size_t		 i;

	if (msg->kind == STRATUM_RESPONSE) {
		miner_response(m, msg);
		return;
	}
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (strcmp(methods[i].name, msg->method) == 0) {
			methods[i].fn(m, msg);
			return;
		}
	}
	log_debug("unknown_method", "{s:s,s:s}", "worker", m->worker,
	    "method", msg->method);
	if (msg->kind == STRATUM_REQUEST && m->bev != NULL)
		stratum_write_error(bufferevent_get_output(m->bev), msg->id,
		    STRATUM_ERR_OTHER, "Unknown method");
}

/* ---- connection ---- */

static void
miner_read_cb(struct bufferevent *bev, void *arg)
{
	struct miner	*m = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct stratum_msg msg;
	enum stratum_read r;
	uint64_t	 gen = m->conn_gen;
	char		 reason[128];

	m->last_rx = sim_now();
	for (;;) {
		r = stratum_read(in, STRATUM_MAX_LINE_POOL, &msg, reason,
		    sizeof(reason));
		if (r == STRATUM_READ_AGAIN)
			return;
		if (r == STRATUM_READ_OVERFLOW) {
			miner_disconnect(m, "line too long", BACKOFF_SECONDS);
			return;
		}
		if (r == STRATUM_READ_BAD) {
			/* Garbage from a pool is logged and skipped, as
			 * cgminer does; it is not a reason to drop. */
			sim.bad_lines++;
			log_debug("bad_line", "{s:s,s:s}", "worker", m->worker,
			    "reason", reason);
			continue;
		}
		miner_dispatch(m, &msg);
		stratum_msg_clear(&msg);
		/* A handler may have dropped the connection. */
		if (m->bev == NULL || m->conn_gen != gen)
			return;
	}
}

static void
miner_session_reset(struct miner *m)
{
	size_t		 i;

	for (i = 0; i < PENDING_SLOTS; i++) {
		if (m->pend[i].id == 0)
			continue;
		if (m->pend[i].kind == REQ_SUBMIT || m->pend[i].kind == REQ_BAD)
			sim.lost++;
		m->pend[i].id = 0;
		m->pend[i].kind = REQ_FREE;
	}
	m->n_pending = 0;
	m->n_inflight = 0;
	m->subscribed = m->authorized = m->rolling = false;
	m->mask = 0;
	m->xn_pending = false;
	m->have_job = m->work_ready = false;
	job_clear(&m->job);
	m->have_queued = m->queued_xn = false;
	job_clear(&m->queued);
	if (m->ev_switch != NULL)
		evtimer_del(m->ev_switch);
	m->next_diff = 1;	/* the default until set_difficulty (2) */
	m->have_last_ok = false;
}

static void
miner_set_state(struct miner *m, enum miner_state st)
{
	log_debug("miner_state", "{s:s,s:s,s:s}", "worker", m->worker,
	    "from", miner_state_names[m->state], "to", miner_state_names[st]);
	m->state = st;
}

static void
reconnect_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	miner_connect(arg);
}

/* The one way a session ends: counts, frees and (unless stopping)
 * schedules the next connect after wait seconds. */
static void
miner_disconnect(struct miner *m, const char *reason, double wait)
{
	struct timeval	 tv;

	if (m->state == MS_CONNECTED) {
		m->disconnects++;
		log_info("disconnected", "{s:s,s:s}", "worker", m->worker,
		    "reason", reason);
	} else if (m->state == MS_CONNECTING) {
		sim.connect_failures++;
		log_debug("connect_failed", "{s:s,s:s}", "worker", m->worker,
		    "reason", reason);
	}
	if (m->bev != NULL)
		bufferevent_free(m->bev);
	m->bev = NULL;
	miner_set_state(m, MS_IDLE);
	m->conn_gen++;
	miner_session_reset(m);
	if (sim.stopping)
		return;
	tv = sim_tv(wait);
	evtimer_add(m->ev_reconnect, &tv);
}

static void
miner_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct miner	*m = arg;
	int		 one = 1;

	if (what & BEV_EVENT_CONNECTED) {
		(void)setsockopt(bufferevent_getfd(bev), IPPROTO_TCP,
		    TCP_NODELAY, &one, sizeof(one));
		miner_set_state(m, MS_CONNECTED);
		m->connects++;
		if (m->connects > 1)
			sim.reconnects++;
		m->last_rx = sim_now();
		m->next_allowed = sim_now();
		log_debug("connected", "{s:s}", "worker", m->worker);
		miner_handshake(m);
		return;
	}
	if (what & BEV_EVENT_EOF)
		miner_disconnect(m, "eof", BACKOFF_SECONDS);
	else if (what & BEV_EVENT_ERROR)
		miner_disconnect(m, evutil_socket_error_to_string(
		    EVUTIL_SOCKET_ERROR()), BACKOFF_SECONDS);
}

static void
miner_connect(struct miner *m)
{
	if (sim.stopping || m->bev != NULL)
		return;
	m->bev = bufferevent_socket_new(sim.base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (m->bev == NULL) {
		log_error("bufferevent_failed", NULL);
		miner_disconnect(m, "no memory", BACKOFF_SECONDS);
		return;
	}
	bufferevent_setcb(m->bev, miner_read_cb, NULL, miner_event_cb, m);
	bufferevent_enable(m->bev, EV_READ | EV_WRITE);
	miner_set_state(m, MS_CONNECTING);
	/* An immediate failure runs the event callback from inside the
	 * connect call, which has then already disconnected. */
	if (bufferevent_socket_connect(m->bev, (struct sockaddr *)&m->addr,
	    (int)m->addrlen) == -1 && m->bev != NULL)
		miner_disconnect(m, "connect failed", BACKOFF_SECONDS);
}

/* ---- hashing ---- */

static bool
miner_hungry(const struct miner *m, double now)
{
	if (m->state != MS_CONNECTED || !m->authorized || !m->work_ready ||
	    m->n_pending >= PENDING_MAX_OUT)
		return (false);
	return (sim.opts.rate <= 0 || now >= m->next_allowed);
}

static void
miner_hash(struct miner *m, unsigned n)
{
	SHA256_CTX	 c;
	uint8_t		 tail[16], h1[32], h2[32];
	uint32_t	 nonce;
	unsigned	 i;

	memcpy(tail, m->header + 64, 16);
	for (i = 0; i < n; i++) {
		nonce = m->nonce++;
		bytes_put_le32(tail + 12, nonce);
		c = m->mid;
		SHA256_Update(&c, tail, sizeof(tail));
		SHA256_Final(h1, &c);
		SHA256_Init(&c);
		SHA256_Update(&c, h1, sizeof(h1));
		SHA256_Final(h2, &c);
		/* Byte 31 is the most significant: almost every hash is
		 * decided there. */
		if (h2[31] <= m->target[31] && diff_meets(h2, m->target)) {
			m->hashes += i + 1;
			miner_found(m, nonce, h2);
			return;
		}
		if (m->nonce == 0) {
			m->hashes += i + 1;
			m->en2_counter++;
			work_new_en2(m);
			return;
		}
	}
	m->hashes += n;
}

static void
tick_cb(evutil_socket_t fd, short ev, void *arg)
{
	double		 now, deadline;
	size_t		 k, i, n = sim.opts.n_miners;
	bool		 progress;

	(void)fd;
	(void)ev;
	(void)arg;
	if (sim.stopping)
		return;
	now = sim_now();
	deadline = now + sim.opts.cpu * TICK_SECONDS;
	/* Round robin in small chunks, until this slice's CPU allowance is
	 * spent or nobody wants to hash; the next slice goes on from the
	 * miner after the last one served, so none starves. */
	do {
		progress = false;
		for (k = 0; k < n; k++) {
			i = (sim.rr + k) % n;
			if (!miner_hungry(&sim.miners[i], now))
				continue;
			miner_hash(&sim.miners[i], HASH_CHUNK);
			progress = true;
			if ((now = sim_now()) >= deadline) {
				sim.rr = (i + 1) % n;
				return;
			}
		}
	} while (progress);
}

/* ---- process ---- */

static void
stats_cb(evutil_socket_t fd, short ev, void *arg)
{
	double		 now = sim_now();
	size_t		 i;

	(void)fd;
	(void)ev;
	(void)arg;
	/* cgminer gives up on a pool that sent nothing for 90 s. */
	if (sim.opts.timeout > 0 && !sim.stopping) {
		for (i = 0; i < sim.opts.n_miners; i++) {
			struct miner *m = &sim.miners[i];

			if (m->state == MS_CONNECTED &&
			    now - m->last_rx > sim.opts.timeout) {
				sim.timeouts++;
				miner_disconnect(m, "pool silent",
				    BACKOFF_SECONDS);
			}
		}
	}
	stats_write();
}

static void
drain_cb(evutil_socket_t fd, short ev, void *arg)
{
	size_t		 i, pending = 0;

	(void)fd;
	(void)ev;
	(void)arg;
	for (i = 0; i < sim.opts.n_miners; i++)
		pending += sim.miners[i].n_inflight;
	if (pending == 0 || sim_now() >= sim.stop_at + sim.opts.drain)
		event_base_loopbreak(sim.base);
}

/* Stop hashing, let the answers to shares in flight arrive (so the
 * counts can be compared with the pool's), then leave. */
static void
stop_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	if (sim.stopping) {
		event_base_loopbreak(sim.base);
		return;
	}
	sim.stopping = true;
	sim.stop_at = sim_now();
	log_info("stopping", NULL);
	if (sim_timer_add(sim.base, &sim.ev_drain, 0.02, true,
	    drain_cb) == -1)
		event_base_loopbreak(sim.base);
}

static int
resolve(const char *host, const char *port)
{
	struct addrinfo	 hints, *res = NULL;
	int		 rv;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rv = getaddrinfo(host, port, &hints, &res)) != 0) {
		log_error("resolve_failed", "{s:s,s:s,s:s}", "host", host,
		    "port", port, "error", gai_strerror(rv));
		return (-1);
	}
	memcpy(&sim.addr, res->ai_addr, res->ai_addrlen);
	sim.addrlen = (socklen_t)res->ai_addrlen;
	freeaddrinfo(res);
	return (0);
}

static void
usage(void)
{
	fprintf(stderr,
"usage: dpmp-simminer --port N [options]\n"
"  --host ADDR            pool or proxy address (127.0.0.1)\n"
"  --port N               its port\n"
"  --miners N             concurrent miner sessions (1)\n"
"  --user NAME            wallet; miner i authorizes as NAME.w<i> (wallet)\n"
"  --worker-prefix P      authorize as P<i> instead\n"
"  --password X           authorize password (x)\n"
"  --rate R               shares per second per miner, 0 = flat out (1)\n"
"  --cpu F                fraction of one core to hash with (0.5)\n"
"  --duration S           run S seconds, then drain and exit (0 = until\n"
"                         SIGTERM)\n"
"  --drain S              wait this long for answers at exit (3)\n"
"  --timeout S            reconnect if the pool is silent S s (90; 0 off)\n"
"  --firmware PROFILE     where extranonce2, nonce and version roll start\n"
"                         on a new job (counter):\n"
"                         counter  one counter, up across jobs, never reset\n"
"                         restart  from 0 on every new job id, clean or not\n"
"                                  (cpuminer util.c stratum_notify, ESP-Miner\n"
"                                  create_jobs_task): same work, same shares\n"
"                         cgminer  the counter, back to 0 on clean_jobs=true\n"
"                                  (cgminer 4.11 util.c parse_notify)\n"
"  --job-delay S          stay on the old job S s after a notify, sending its\n"
"                         shares under the old job id (slow firmware)\n"
"  --clean-immediate      with --job-delay, take a clean_jobs=true notify at\n"
"                         once (cpuminer and ESP-Miner do)\n"
"  --version-rolling      mining.configure with mask ffffffff and roll\n"
"  --min-bit-count N      version-rolling.min-bit-count to send (2, BIP 310;\n"
"                         0 = leave out, as ESP-Miner and cgminer do)\n"
"  --xnsub                mining.extranonce.subscribe; apply set_extranonce\n"
"  --ignore-set-extranonce  never apply mining.set_extranonce, even with\n"
"                         --xnsub (without --xnsub it is always ignored,\n"
"                         like cgminer 4.11, which has no handler)\n"
"  --suggest-difficulty D send mining.suggest_difficulty D after subscribe,\n"
"                         before authorize (ESP-Miner 2.0.6-2.2.2)\n"
"  --suggest-after-authorize  send it once authorize is answered true\n"
"                         (cgminer auth_stratum, ESP-Miner >= 2.9.0)\n"
"  --en2-endian[=le|be]   extranonce2 counter byte order (be for counter,\n"
"                         le for restart and cgminer; bare = le)\n"
"  --bad-shares KIND      also submit bad shares: stale duplicate lowdiff\n"
"                         unauth unsubscribed badhex ntime\n"
"  --bad-every N          one bad share per N accepted good ones (1)\n"
"  --stats FILE           JSON stats, rewritten every second and at exit;\n"
"                         firmware, duplicates (code 22 answers),\n"
"                         good_duplicates, work_restarts, delayed_shares\n"
"  --quiet                log warnings and errors only\n"
"  --log-level LEVEL      debug | info | warn | error\n");
}

enum {
	OPT_HOST = 256, OPT_PORT, OPT_MINERS, OPT_USER, OPT_PREFIX, OPT_PASS,
	OPT_RATE, OPT_CPU, OPT_DURATION, OPT_DRAIN, OPT_TIMEOUT, OPT_VROLL,
	OPT_XNSUB, OPT_SUGGEST, OPT_EN2END, OPT_BAD, OPT_BADEVERY, OPT_STATS,
	OPT_QUIET, OPT_LOGLEVEL, OPT_HELP, OPT_FIRMWARE, OPT_JOBDELAY,
	OPT_CLEANNOW, OPT_MINBITS, OPT_IGNOREXN, OPT_SUGGESTAFTER,
};

static const struct option longopts[] = {
	{ "host",		required_argument, NULL, OPT_HOST },
	{ "port",		required_argument, NULL, OPT_PORT },
	{ "miners",		required_argument, NULL, OPT_MINERS },
	{ "user",		required_argument, NULL, OPT_USER },
	{ "worker-prefix",	required_argument, NULL, OPT_PREFIX },
	{ "password",		required_argument, NULL, OPT_PASS },
	{ "rate",		required_argument, NULL, OPT_RATE },
	{ "cpu",		required_argument, NULL, OPT_CPU },
	{ "duration",		required_argument, NULL, OPT_DURATION },
	{ "drain",		required_argument, NULL, OPT_DRAIN },
	{ "timeout",		required_argument, NULL, OPT_TIMEOUT },
	{ "version-rolling",	no_argument,	   NULL, OPT_VROLL },
	{ "xnsub",		no_argument,	   NULL, OPT_XNSUB },
	{ "suggest-difficulty",	required_argument, NULL, OPT_SUGGEST },
	{ "en2-endian",		optional_argument, NULL, OPT_EN2END },
	{ "bad-shares",		required_argument, NULL, OPT_BAD },
	{ "bad-every",		required_argument, NULL, OPT_BADEVERY },
	{ "stats",		required_argument, NULL, OPT_STATS },
	{ "quiet",		no_argument,	   NULL, OPT_QUIET },
	{ "log-level",		required_argument, NULL, OPT_LOGLEVEL },
	{ "help",		no_argument,	   NULL, OPT_HELP },
	{ "firmware",		required_argument, NULL, OPT_FIRMWARE },
	{ "job-delay",		required_argument, NULL, OPT_JOBDELAY },
	{ "clean-immediate",	no_argument,	   NULL, OPT_CLEANNOW },
	{ "min-bit-count",	required_argument, NULL, OPT_MINBITS },
	{ "ignore-set-extranonce", no_argument,   NULL, OPT_IGNOREXN },
	{ "suggest-after-authorize", no_argument, NULL, OPT_SUGGESTAFTER },
	{ NULL, 0, NULL, 0 },
};

static int
parse_opts(int argc, char **argv, struct sim_opts *o)
{
	const struct sim_real_opt reals[] = {
		{ OPT_RATE,		0,	1e6,	&o->rate },
		{ OPT_CPU,		0.01,	1,	&o->cpu },
		{ OPT_DURATION,		0,	1e9,	&o->duration },
		{ OPT_DRAIN,		0,	3600,	&o->drain },
		{ OPT_TIMEOUT,		0,	1e6,	&o->timeout },
		{ OPT_SUGGEST,		1e-12,	1e15,	&o->suggest },
		{ OPT_JOBDELAY,		0,	3600,	&o->job_delay },
	};
	double		 d;
	size_t		 i;
	int		 ch, r, lvl = -1;

	o->host = "127.0.0.1";
	o->n_miners = 1;
	o->user = "wallet";
	o->password = "x";
	o->rate = 1;
	o->cpu = 0.5;
	o->drain = 3;
	o->timeout = 90;
	o->bad_every = 1;
	o->firmware = FW_COUNTER;
	o->min_bit_count = MIN_BIT_COUNT_DEFAULT;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if ((r = sim_real_opt(reals, sizeof(reals) / sizeof(reals[0]),
		    ch, optarg)) == -1)
			goto bad;
		if (r == 1)
			continue;
		switch (ch) {
		case OPT_HOST:
			o->host = optarg;
			break;
		case OPT_PORT:
			if (sim_parse_whole(optarg, 1, 65535, &d) == -1)
				goto bad;
			o->port = optarg;
			break;
		case OPT_MINERS:
			if (sim_parse_whole(optarg, 1, MINERS_MAX, &d) == -1)
				goto bad;
			o->n_miners = (size_t)d;
			break;
		case OPT_USER:
			o->user = optarg;
			break;
		case OPT_PREFIX:
			o->worker_prefix = optarg;
			break;
		case OPT_PASS:
			o->password = optarg;
			break;
		case OPT_VROLL:
			o->version_rolling = true;
			break;
		case OPT_XNSUB:
			o->xnsub = true;
			break;
		case OPT_EN2END:
			if (optarg == NULL || strcmp(optarg, "le") == 0)
				o->en2_le = true;
			else if (strcmp(optarg, "be") == 0)
				o->en2_le = false;
			else
				goto bad;
			o->en2_le_set = true;
			break;
		case OPT_FIRMWARE:
			for (i = 0; i < sizeof(firmwares) / sizeof(firmwares[0]);
			    i++)
				if (strcmp(optarg, firmwares[i].name) == 0)
					break;
			if (i == sizeof(firmwares) / sizeof(firmwares[0]))
				goto bad;
			o->firmware = (enum firmware)i;
			break;
		case OPT_CLEANNOW:
			o->clean_immediate = true;
			break;
		case OPT_MINBITS:
			if (sim_parse_whole(optarg, 0, 32, &d) == -1)
				goto bad;
			o->min_bit_count = (int)d;
			break;
		case OPT_IGNOREXN:
			o->ignore_xn = true;
			break;
		case OPT_SUGGESTAFTER:
			o->suggest_after_auth = true;
			break;
		case OPT_BAD:
			for (i = 1; i < sizeof(bad_kinds) / sizeof(bad_kinds[0]);
			    i++)
				if (strcmp(optarg, bad_kinds[i].name) == 0)
					break;
			if (i == sizeof(bad_kinds) / sizeof(bad_kinds[0]))
				goto bad;
			o->bad = (enum bad_kind)i;
			break;
		case OPT_BADEVERY:
			if (sim_parse_whole(optarg, 1, 1e9, &d) == -1)
				goto bad;
			o->bad_every = (unsigned)d;
			break;
		case OPT_STATS:
			o->stats_path = optarg;
			break;
		case OPT_QUIET:
			o->quiet = true;
			break;
		case OPT_LOGLEVEL:
			if ((lvl = log_level_parse(optarg)) == -1)
				goto bad;
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
	if (optind != argc || o->port == NULL) {
		usage();
		return (-1);
	}
	if (!o->en2_le_set)
		o->en2_le = firmwares[o->firmware].en2_le;
	if (lvl != -1)
		log_set_level((enum log_level)lvl);
	else if (o->quiet)
		log_set_level(LOG_LEVEL_WARN);
	return (0);
 bad:
	sim_opt_bad("dpmp-simminer", longopts, ch, optarg);
	return (-1);
}

static void
sim_free(void)
{
	struct event	**evs[] = {
		&sim.ev_tick, &sim.ev_stats, &sim.ev_stop, &sim.ev_drain,
		&sim.ev_sigterm, &sim.ev_sigint,
	};
	size_t		 i;

	for (i = 0; sim.miners != NULL && i < sim.opts.n_miners; i++) {
		struct miner *m = &sim.miners[i];

		if (m->bev != NULL)
			bufferevent_free(m->bev);
		m->bev = NULL;
		job_clear(&m->job);
		job_clear(&m->queued);
		if (m->ev_reconnect != NULL)
			event_free(m->ev_reconnect);
		if (m->ev_switch != NULL)
			event_free(m->ev_switch);
	}
	free(sim.miners);
	sim.miners = NULL;
	sim_events_free(evs, sizeof(evs) / sizeof(evs[0]));
	if (sim.base != NULL)
		event_base_free(sim.base);
	sim.base = NULL;
}

int
main(int argc, char **argv)
{
	json_t		*summary;
	char		*line;
	size_t		 i, pending = 0;
	int		 rv = 1;

	log_init("simminer", LOG_LEVEL_INFO);
	memset(&sim, 0, sizeof(sim));
	if (parse_opts(argc, argv, &sim.opts) == -1)
		return (2);
	(void)signal(SIGPIPE, SIG_IGN);
	sim.t0 = sim_now();
	if ((sim.base = event_base_new()) == NULL)
		goto done;
	if (resolve(sim.opts.host, sim.opts.port) == -1)
		goto done;
	if ((sim.miners = calloc(sim.opts.n_miners,
	    sizeof(*sim.miners))) == NULL)
		goto done;
	for (i = 0; i < sim.opts.n_miners; i++) {
		struct miner *m = &sim.miners[i];

		m->idx = i;
		if (sim.opts.worker_prefix != NULL)
			snprintf(m->worker, sizeof(m->worker), "%s%zu",
			    sim.opts.worker_prefix, i);
		else
			snprintf(m->worker, sizeof(m->worker), "%s.w%zu",
			    sim.opts.user, i);
		m->addr = sim.addr;
		m->addrlen = sim.addrlen;
		m->next_diff = 1;
		if ((m->ev_reconnect = evtimer_new(sim.base, reconnect_cb,
		    m)) == NULL ||
		    (m->ev_switch = evtimer_new(sim.base, switch_cb, m)) == NULL)
			goto done;
	}

	if (sim_timer_add(sim.base, &sim.ev_tick, TICK_SECONDS, true,
	    tick_cb) == -1 ||
	    sim_timer_add(sim.base, &sim.ev_stats, 1.0, true, stats_cb) == -1 ||
	    sim_signals_add(sim.base, stop_cb, &sim.ev_sigterm,
	    &sim.ev_sigint) == -1 ||
	    sim_timer_add(sim.base, &sim.ev_stop, sim.opts.duration, false,
	    stop_cb) == -1)
		goto done;
	log_info("starting", "{s:s,s:s,s:i,s:f,s:s,s:s}", "host",
	    sim.opts.host, "port", sim.opts.port, "miners",
	    (int)sim.opts.n_miners, "rate", sim.opts.rate, "bad",
	    bad_kinds[sim.opts.bad].name, "firmware",
	    firmwares[sim.opts.firmware].name);
	for (i = 0; i < sim.opts.n_miners; i++)
		miner_connect(&sim.miners[i]);

	if (event_base_dispatch(sim.base) == -1)
		goto done;
	rv = sim.verify_failed > 0 ? 1 : 0;
 done:
	if (sim.miners != NULL) {
		for (i = 0; i < sim.opts.n_miners; i++)
			pending += sim.miners[i].n_inflight;
		if (pending > 0)
			log_warn("unanswered", "{s:I}", "shares",
			    (json_int_t)pending);
		stats_write();
		/* One summary line on stdout for humans and the demo. */
		if ((summary = stats_json()) != NULL) {
			json_object_del(summary, "miners");
			if ((line = json_dumps(summary, JSON_COMPACT |
			    JSON_REAL_PRECISION(10))) != NULL) {
				printf("%s\n", line);
				free(line);
			}
			json_decref(summary);
		}
	}
	sim_free();
	return (rv);
}
