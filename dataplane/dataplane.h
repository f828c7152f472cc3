/*
 * dataplane: the types every dataplane module shares.  One process, one
 * libevent loop: miner sessions (miner.c), upstream pool sessions
 * (upstream.c), the job table (jobs.c), pools, assignment and counters
 * (dp.c) and the nng IPC side (ipc.c).
 *
 * Every *_ms and *_us time in these structs is on the monotonic clock
 * (clock_mono_ms()), deadlines and display times alike: a wall clock step
 * must not fire a deadline.  ipc.c turns the ones it publishes into Unix
 * ms with clock_mono_to_wall_ms().
 */
#ifndef DPMP_DATAPLANE_H
#define DPMP_DATAPLANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/dns.h>
#include <jansson.h>

#include "config.h"
#include "job.h"
#include "xn.h"

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);				\
	    (var) && ((tvar) = TAILQ_NEXT(var, field), 1);		\
	    (var) = (tvar))
#endif

#define DP_MAX_POOLS		CONFIG_MAX_POOLS
#define DP_WORKER_MAX		128	/* bytes of a worker name we keep */
#define DP_AGENT_MAX		64
#define DP_PENDING_TIMEOUT_MS	30000	/* pool must answer a submit */
#define DP_GARBAGE_RESET	10	/* garbage lines before a reset */
#define DP_BACKOFF_MIN_MS	500
#define DP_BACKOFF_MAX_MS	30000
#define DP_KEEPALIVE_MS		60000	/* re-send work to idle miners */
#define DP_EVENT_BATCH_MS	50	/* accepted-share events coalesce */
#define DP_STATE_PAGE		5000	/* miners per GetState reply, at most */
#define DP_DEDUPE_MAX		262144	/* share keys remembered per job */
#define DP_CLOSE_FLUSH_MS	3000	/* a closing miner's last words, at most */
#define DP_ACCEPT_PAUSE_MS	1000	/* listener rest after EMFILE/ENFILE */
#define DP_FD_RESERVE		64	/* descriptors kept for IPC, DNS, logs */
#define DP_TRIM_AFTER		256	/* miners freed before a malloc_trim */
#define DP_ADDR_BUCKETS		1024	/* per-address connection counts */

struct dp;
struct pool;
struct upstream;
struct miner;
struct addr_count;

/* ---- counters ------------------------------------------------------ */

enum reject_reason {
	REJ_OTHER = 0,		/* 20 */
	REJ_STALE,		/* 21 */
	REJ_DUPLICATE,		/* 22 */
	REJ_LOW_DIFFICULTY,	/* 23 */
	REJ_UNAUTHORIZED,	/* 24 */
	REJ_NOT_SUBSCRIBED,	/* 25 */
	REJ_POOL_TIMEOUT,	/* no answer from the pool in time */
	REJ_POOL_LOST,		/* session closed with the share in flight */
	REJ__COUNT
};

/* Who refused a share: DPMP itself, before it left (validation, no
 * session, too many in flight), or the pool (its answer, or no answer:
 * pool_timeout, pool_lost).  Counted apart so an operator can tell a
 * miner or proxy problem from a pool problem. */
enum reject_where {
	REJ_WHERE_LOCAL = 0,
	REJ_WHERE_POOL,
	REJ_WHERE__COUNT
};

enum switch_reason {
	SW_SCHEDULE = 0,
	SW_PIN,
	SW_WEIGHTS_CHANGED,
	SW_FAILOVER,
	SW_OTHER,
	SW__COUNT
};

enum limit_kind {
	LIM_LINE = 0,
	LIM_OUTQ,
	LIM_MINERS,
	LIM_JOBS,
	LIM_PENDING,
	LIM_DEDUPE,
	LIM_GARBAGE,
	LIM_WORK,		/* a job re-issued past its work numbers */
	LIM_HANDSHAKE,		/* no subscribe + authorize in time */
	LIM_PER_ADDRESS,	/* too many connections from one address */
	LIM_DESCRIPTORS,	/* out of file descriptors */
	LIM__COUNT
};

enum fallback_kind {
	FB_SET_EXTRANONCE = 0,
	FB_RECONNECT,
	FB__COUNT
};

#define LATENCY_BUCKETS	16	/* >= metric_latency_nbounds */

struct pool_counters {
	uint64_t	jobs_forwarded;
	uint64_t	submitted;
	uint64_t	accepted;
	double		accepted_diff;
	uint64_t	rejected[REJ_WHERE__COUNT][REJ__COUNT];
	uint64_t	block_candidates;
	uint64_t	lat_buckets[LATENCY_BUCKETS];
	uint64_t	lat_count;
	double		lat_sum;
};

struct counters {
	uint64_t	switches[SW__COUNT];
	uint64_t	limit_hits[LIM__COUNT];
	uint64_t	fallbacks[FB__COUNT];
	uint64_t	msgs_miner_in, msgs_miner_out;
	uint64_t	msgs_pool_in, msgs_pool_out;
	/* unknown job etc.: no pool, so always local */
	uint64_t	rejected_nopool[REJ__COUNT];
};

/* ---- jobs ----------------------------------------------------------- */

/*
 * One upstream job, as the pool sent it, plus what was in force when it
 * arrived (difficulty, version mask, the session's extranonce).  Shared by
 * every miner it was sent to; refcounted because proxy job ids (several
 * per job: a switch re-issues the newest job under a fresh id) point at it.
 */
struct ujob {
	struct job	 job;
	uint64_t	 serial;	/* never reused, unlike the address */
	struct upstream	*up;		/* NULL once the session is gone */
	double		 difficulty;
	uint32_t	 mask;		/* pool's version mask, 0 = none */
	uint8_t		 en1[EXTRANONCE_MAX];	/* pool en1 at notify time */
	size_t		 en1_len;
	size_t		 en2_size;	/* pool en2 size at notify time */
	uint64_t	 stale_at_ms;	/* 0 = live */
	unsigned	 refs;
	/* Fan-out: every miner with the usual extranonce layout gets the
	 * same notify line under one proxy id, encoded once. */
	uint64_t	 bcast_id;
	char		*bcast_line;
	size_t		 bcast_len;
	size_t		 bcast_plen;	/* coinb1 filler it was built for */
	uint64_t	*ids;		/* proxy ids pointing here */
	size_t		 n_ids, cap_ids;
	/* duplicate detection: first 8 bytes of share hashes seen */
	uint64_t	*seen;
	size_t		 seen_n, seen_cap;
	TAILQ_ENTRY(ujob) entry;	/* upstream's job list, newest last */
};
TAILQ_HEAD(ujob_list, ujob);

/* proxy job id -> ujob, and which work of it (xn.h) */
struct jref {
	uint64_t	 id;
	struct ujob	*uj;
	uint64_t	 work;
	struct jref	*next;		/* hash chain */
};

void	 jobs_init(struct dp *dp);
void	 jobs_free_all(struct dp *dp);
struct ujob *ujob_new(struct upstream *up, struct job *job);
/* The pool extranonce a job was issued under, for xn.h. */
void	 ujob_xn_pool(const struct ujob *uj, struct xn_pool *xp);
void	 ujob_unref(struct dp *dp, struct ujob *uj);
/* Give work number `work` of uj a new proxy id (never reused). */
uint64_t jobs_issue(struct dp *dp, struct ujob *uj, uint64_t work);
/* The job behind a proxy id, and its work number in *work (if not NULL). */
struct ujob *jobs_find(struct dp *dp, uint64_t id, uint64_t *work);
/* Remove every proxy id pointing at uj (it is being retired). */
void	 jobs_forget(struct dp *dp, struct ujob *uj);
/* true if key was already seen on uj (and remembers it otherwise).
 * -1 when the set is full (remembering stops, counted). */
int	 ujob_seen(struct dp *dp, struct ujob *uj, const uint8_t hash[32]);

/* ---- pools and upstream sessions ----------------------------------- */

enum up_state {
	UP_IDLE = 0,		/* waiting to dial (backoff) */
	UP_CONNECTING,
	UP_HANDSHAKE,		/* configure/subscribe/authorize sent */
	UP_READY,		/* authorized and has work */
	UP_CLOSED,
};

enum up_req {
	REQ_CONFIGURE = 1,
	REQ_SUBSCRIBE,
	REQ_AUTHORIZE,
	REQ_SUBMIT,
	REQ_SUGGEST,
};

struct pending {
	int64_t		 req_id;	/* our id upstream */
	enum up_req	 kind;
	uint64_t	 miner_id;	/* submits: who to answer */
	json_t		*miner_req_id;	/* the miner's own id, echoed */
	uint64_t	 sent_us;
	double		 difficulty;
	uint64_t	 deadline_ms;
	TAILQ_ENTRY(pending) entry;
};
TAILQ_HEAD(pending_list, pending);

struct upstream {
	struct dp	*dp;
	struct pool	*pool;
	struct miner	*miner;		/* per_miner owner, NULL = shared */
	enum up_state	 state;
	struct bufferevent *bev;
	struct event	*timer;		/* backoff / connect timeout */
	unsigned	 backoff_ms;
	char		 user[CONFIG_STR_MAX + DP_WORKER_MAX];
	uint8_t		 en1[EXTRANONCE_MAX];
	size_t		 en1_len;
	size_t		 en2_size;
	bool		 subscribed;
	bool		 authorized;
	double		 difficulty;	/* last set_difficulty */
	uint32_t	 mask;		/* from configure, 0 = none */
	struct ujob_list jobs;
	size_t		 n_jobs;
	struct ujob	*newest;
	struct pending_list pending;
	size_t		 n_pending;
	int64_t		 next_id;
	unsigned	 garbage;
	uint64_t	 last_job_ms;
	uint64_t	 connected_ms;
	LIST_ENTRY(upstream) entry;	/* pool's session list */
};
LIST_HEAD(upstream_list, upstream);

struct pool {
	struct dp	*dp;
	int		 idx;
	struct config_pool cfg;
	bool		 up;
	uint64_t	 up_since_ms;	/* 0 = down; published */
	/* the probe session learns sizes and liveness; in aggregate mode it
	 * is also the session every miner shares */
	struct upstream	*probe;
	struct upstream_list sessions;
	unsigned	 n_sessions;
	unsigned	 n_miners;
	struct pool_counters c;
};

void	 pool_init(struct dp *dp, struct pool *p, int idx,
	    const struct config_pool *cfg);
void	 pool_shutdown(struct pool *p);
void	 pool_set_up(struct pool *p, bool up, const char *why);
/* Recompute up/down from the probe session (and silence). */
void	 pool_check(struct pool *p, uint64_t now_ms);

struct upstream *upstream_new(struct pool *p, struct miner *m);
/* The user a session authorizes as (config wallet + miner worker). */
void	 upstream_set_user(struct upstream *up);
void	 upstream_free(struct upstream *up);
void	 upstream_start(struct upstream *up);
/* Answer every submit in flight with an error (shutdown). */
void	 upstream_fail_pending(struct upstream *up, const char *text);
/* Close the connection (answering submits in flight) and redial later. */
void	 upstream_reset(struct upstream *up, const char *why);
/* Forward a validated share; the miner is answered when the pool is.
 * -1: no connection, -2: too many submits in flight (counted). */
int	 upstream_submit(struct upstream *up, struct miner *m, json_t *req_id,
	    struct ujob *uj, const char *en2_hex, uint32_t ntime,
	    uint32_t nonce, bool has_vbits, uint32_t vbits);
void	 upstream_suggest_difficulty(struct upstream *up, double d);
/* Submits in flight past their deadline get an error answer. */
void	 upstream_expire(struct upstream *up, uint64_t now_ms);
bool	 upstream_usable(const struct upstream *up);
const char *up_state_str(enum up_state s);

/* ---- miners --------------------------------------------------------- */

enum miner_state {
	M_CONNECTED = 0,	/* nothing yet */
	M_SUBSCRIBED,
	M_AUTHORIZED,
	M_CLOSING,		/* flushing a final write */
	M_GHOST,		/* disconnected, inside the reconnect grace */
};

struct miner {
	struct dp	*dp;
	uint64_t	 id;
	enum miner_state state;
	struct bufferevent *bev;
	char		 addr[64];
	char		 host[48];		/* addr without the port */
	char		 agent[DP_AGENT_MAX];
	char		 user[DP_WORKER_MAX];	/* as authorized */
	char		 worker[DP_WORKER_MAX];	/* after the first '.' */
	uint8_t		 en1[EXTRANONCE_MAX];	/* E_m, fixed for the session */
	size_t		 en1_len;
	size_t		 en2_size;		/* n, fixed at subscribe */
	struct xn_view	 cur, prev;
	/* Per pool: the newest job this miner was sent from it and the next
	 * work number of that job (xn.c: never the same work twice). */
	struct {
		uint64_t	 serial;
		uint64_t	 next;
	}		 work[DP_MAX_POOLS];
	bool		 xnsub;			/* accepts set_extranonce */
	bool		 rolling;		/* version rolling negotiated */
	uint32_t	 mask_req;		/* mask the miner asked for */
	uint32_t	 mask_sent;		/* mask in force at the miner */
	double		 diff_sent;		/* last set_difficulty sent */
	double		 suggested;		/* suggest_difficulty, 0 = none */
	int		 pool;			/* pool index working for, -1 */
	struct upstream	*ups[DP_MAX_POOLS];	/* per_miner sessions */
	uint64_t	 last_job_id;		/* newest proxy id sent */
	bool		 need_clean;		/* next job: clean_jobs=true */
	bool		 counted;		/* in pools[pool].n_miners */
	unsigned	 garbage;
	char		 session[17];		/* resume token, random */
	uint64_t	 resume_id;		/* ghost its token named, 0 */
	uint64_t	 accepted_ms;		/* handshake deadline base */
	uint64_t	 closing_until_ms;	/* M_CLOSING: flush deadline */
	const char	*close_why;		/* M_CLOSING: the reason */
	uint64_t	 connected_ms;		/* hashrate age; published */
	uint64_t	 assigned_ms;		/* failover delay; published */
	uint64_t	 last_share_ms;		/* published; 0 = never */
	uint64_t	 last_send_ms;
	uint64_t	 ghost_until_ms;
	/* per-pool work, for the scheduler and hashrate */
	uint64_t	 accepted[DP_MAX_POOLS];
	uint64_t	 rejected[DP_MAX_POOLS][REJ_WHERE__COUNT];
	double		 accepted_diff[DP_MAX_POOLS];
	double		 rate_diff;		/* EWMA of accepted diff / s */
	double		 rate_acc;		/* accepted diff since rate_ms */
	bool		 dead;			/* closed, freed at next tick */
	bool		 en1_set;		/* E_m chosen (or adopted) */
	uint64_t	 rate_ms;
	/* accepted shares not yet published as an event (dp_share_event) */
	double		 ev_diff[DP_MAX_POOLS];
	uint32_t	 ev_count[DP_MAX_POOLS];
	uint64_t	 ev_first_ms;		/* published as ts_ms */
	bool		 ev_queued;
	struct miner	*ev_next;
	TAILQ_ENTRY(miner) entry;
	struct miner	*hnext;			/* id hash chain */
};
TAILQ_HEAD(miner_list, miner);

void	 miner_accept(struct dp *dp, int fd, const char *host,
	    const char *addr);
void	 miner_close(struct miner *m, const char *why);
/* Close once what is queued for the miner has been written (at most
 * DP_CLOSE_FLUSH_MS): errors and client.reconnect must reach it. */
void	 miner_close_after_flush(struct miner *m, const char *why);
void	 miner_free(struct miner *m);
struct miner *miner_find(struct dp *dp, uint64_t id);
/* A new job from a session: send it to the miner if it works there. */
void	 miner_job(struct miner *m, struct upstream *up, struct ujob *uj);
/* Move a miner to pool idx (switch with clean job at once if possible). */
int	 miner_assign(struct miner *m, int idx, enum switch_reason why);
/* The pool answered (or failed) a share. */
/* rej: the reject reason to count, or -1 to derive it from code. */
void	 miner_share_answer(struct dp *dp, uint64_t miner_id, json_t *req_id,
	    struct pool *p, double difficulty, bool accepted, int code,
	    const char *text, uint64_t latency_us, int rej);
double	 miner_hashrate(const struct miner *m, uint64_t now_ms);
void	 miner_tick(struct miner *m, uint64_t now_ms);

/* ---- the process ---------------------------------------------------- */

struct dp {
	struct event_base *base;
	struct evdns_base *dns;
	struct evconnlistener *listener;
	struct config	 cfg;
	char		 boot_id[33];
	uint64_t	 started_ms;		/* published, and uptime */
	struct pool	 pools[DP_MAX_POOLS];
	size_t		 n_pools;
	int		 newcomer;		/* pool for new miners, -1 */
	/* miners */
	struct miner_list miners;		/* connected and ghosts */
	struct miner	*mhash[4096];
	size_t		 n_miners;		/* connected (not ghosts) */
	size_t		 n_ghosts;		/* inside the reconnect grace */
	struct addr_count *ahash[DP_ADDR_BUCKETS];	/* per source address */
	size_t		 n_freed;		/* miners freed since a trim */
	uint64_t	 nofile;		/* RLIMIT_NOFILE in force, 0 = ? */
	struct event	*accept_ev;		/* re-enables a paused listener */
	bool		 accept_paused;	uint64_t	 next_miner_id;
	size_t		 en1_size;		/* |E_m| */
	size_t		 en2_size;		/* n given to miners */
	uint32_t	 next_en1;
	uint8_t		*en1_used;		/* aggregate: bitmap of E_m */
	/* jobs */
	struct jref	**jhash;
	size_t		 jhash_size;
	size_t		 n_jrefs;
	uint64_t	 next_job_id;
	uint64_t	 next_ujob_serial;
	/* ipc */
	struct rpc_server *rpc;
	struct rpc_pub	*pub;
	struct miner	*ev_head;		/* miners with batched shares */
	struct event	*ev_flush;
	struct event	*rpc_ev;
	struct event	*tick_ev;
	struct event	*sig_ev[3];
	bool		 stopping;
	struct counters	 c;
};

int	 dp_init(struct dp *dp, struct event_base *base,
	    const struct config *cfg);
int	 dp_listen(struct dp *dp);
/* Count a connection from host against limits.max_per_address: -1 when
 * it is over the cap (nothing counted). */
int	 dp_addr_acquire(struct dp *dp, const char *host);
void	 dp_addr_release(struct dp *dp, const char *host);
/* Descriptors one more miner may cost (itself and, per_miner, one per
 * pool); false when that would eat into DP_FD_RESERVE. */
bool	 dp_fd_room(struct dp *dp, int fd);
void	 dp_shutdown(struct dp *dp);
/* Once a second: every deadline (submits, stale jobs, pool silence,
 * ghosts, keepalive), judged on the monotonic clock (clock.h). */
void	 dp_tick(struct dp *dp);
/* The up pool to fail over to (largest weight), -1 if none. */
int	 dp_pick_pool(struct dp *dp, int avoid);
/* Pool for a newcomer. */
int	 dp_newcomer_pool(struct dp *dp);
/* Size the miner extranonce from what the pools offer. */
void	 dp_size_extranonce(struct dp *dp);
/* A pool went down or came up: move miners as needed. */
void	 dp_failover(struct dp *dp, struct pool *p);
/* The one place a rejected share is counted: per pool (pool "none" when
 * p is NULL; local only) and per miner (m may be NULL: gone). */
void	 dp_count_reject(struct dp *dp, struct miner *m, struct pool *p,
	    enum reject_where where, enum reject_reason rej);
void	 dp_count_limit(struct dp *dp, enum limit_kind k, const char *what);
const char *reject_reason_str(enum reject_reason r);
const char *reject_where_str(enum reject_where w);
const char *switch_reason_str(enum switch_reason r);
enum switch_reason switch_reason_parse(const char *s);
const char *limit_kind_str(enum limit_kind k);
const char *fallback_kind_str(enum fallback_kind k);
int	 reject_from_code(int code);

/* events (ipc.c) */
void	 dp_event(struct dp *dp, const char *type, const struct miner *m,
	    const char *pool, const char *from, const char *result,
	    const char *reason, double difficulty);
/* An accepted share, published with the miner's others for this pool in
 * one share_result event at most DP_EVENT_BATCH_MS later (one nng message
 * per share cost the share path more than validating it). */
void	 dp_share_event(struct dp *dp, struct miner *m, int pool,
	    double difficulty);
/* A rejected share, with where it was refused (share_result event). */
void	 dp_reject_event(struct dp *dp, const struct miner *m,
	    const char *pool, enum reject_where where,
	    enum reject_reason rej, double difficulty);
/* Publish every batched share now (before an event that must follow
 * them, a miner's end, shutdown). */
void	 dp_events_flush(struct dp *dp);
int	 ipc_init(struct dp *dp);
void	 ipc_tick(struct dp *dp);
void	 ipc_shutdown(struct dp *dp);

#endif
