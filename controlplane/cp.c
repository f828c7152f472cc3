#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "clock.h"
#include "cp.h"
#include "log.h"
#include "metrics.h"
#include "metrics_render.h"
#include "rpc.h"
#include "state.h"

#ifndef DPMP_VERSION
#define DPMP_VERSION "0.0.0"
#endif

/*
 * What the controlplane knows of one miner beyond the snapshot: how much
 * accepted difficulty it has credited to the scheduler per pool, so that
 * events and snapshots never credit the same share twice.
 *
 * Events (share_result) credit at once, into ev[].  The snapshot's
 * per-pool accepted_difficulty S is the truth; S - ev is then the work
 * whose event is either still in flight (it will come) or was lost (the
 * pub/sub socket drops under load).  Only a gap seen on two polls in a row
 * can be a loss, so the smaller of the last two gaps, beyond what was
 * already made up (rec[]), is credited.
 */
struct cp_miner {
	uint64_t		 id;
	uint64_t		 gen;		/* poll that listed it */
	bool			 in_sched;
	bool			 from_init;	/* from a snapshot */
	const Dpmp__MinerState	*ms;		/* in cp->state */
	/* per pool: credited from events, made up from gaps, and the
	 * last gap seen (NAN: none yet) */
	double			*ev;
	double			*rec;
	double			*gap;
	double			 acct[];
};

struct cp {
	struct config		*cfg;
	json_t			*overlay;	/* = state.json */
	struct sched		*sched;
	uint64_t		 started_ms;
	bool			 pool_up[CONFIG_MAX_POOLS];

	/* the dataplane */
	struct event_base	*base;
	struct rpc_client	*dp;
	struct rpc_client	*probe;		/* short timeout */
	struct rpc_sub		*sub;
	struct event		*ev_poll;
	struct event		*ev_sub;
	uint64_t		 next_poll_ms;
	Dpmp__State		*state;		/* last GetState */
	Dpmp__Counters		*counters;	/* last GetCounters */
	bool			 connected;
	bool			 outage_logged;
	bool			 config_pushed;
	char			 boot_id[128];
	uint64_t		 init_ts_ms;	/* 1st snapshot's now_ms */
	uint64_t		 init_mono_ms;	/* ... and mono_ms */
	int			 newcomer_sent;	/* -2: none yet */

	/* miners by id: open addressing, linear probing */
	struct cp_miner		**mt;
	size_t			 mt_cap;	/* power of two */
	size_t			 mt_len;
	uint64_t		 gen;
	struct sched_move	*moves;
	size_t			 moves_cap;

	/* what the HTTP listeners turned away */
	struct metrics_refusal	 refusals[CP_REFUSAL_SERIES];
	size_t			 n_refusals;
};

static json_t	*json_num(double);

/* ---- miner table ------------------------------------------------------ */

static size_t
mt_slot(uint64_t id, size_t cap)
{
	/* splitmix64 finaliser: dataplane ids are sequential */
	id ^= id >> 30;
	id *= 0xbf58476d1ce4e5b9ULL;
	id ^= id >> 27;
	id *= 0x94d049bb133111ebULL;
	id ^= id >> 31;
	return (size_t)id & (cap - 1);
}

static struct cp_miner *
mt_find(const struct cp *cp, uint64_t id)
{
	size_t i;

	if (cp->mt_cap == 0)
		return NULL;
	for (i = mt_slot(id, cp->mt_cap); cp->mt[i] != NULL;
	    i = (i + 1) & (cp->mt_cap - 1))
		if (cp->mt[i]->id == id)
			return cp->mt[i];
	return NULL;
}

static int
mt_grow(struct cp *cp)
{
	struct cp_miner	**nt, **old = cp->mt;
	size_t		  ncap, i, j, oldcap = cp->mt_cap;

	ncap = oldcap ? oldcap * 2 : 64;
	if ((nt = calloc(ncap, sizeof(*nt))) == NULL)
		return -1;
	for (i = 0; i < oldcap; i++) {
		if (old[i] == NULL)
			continue;
		for (j = mt_slot(old[i]->id, ncap); nt[j] != NULL;
		    j = (j + 1) & (ncap - 1))
			;
		nt[j] = old[i];
	}
	free(old);
	cp->mt = nt;
	cp->mt_cap = ncap;
	return 0;
}

static struct cp_miner *
mt_get(struct cp *cp, uint64_t id)
{
	struct cp_miner	*m;
	size_t		 i, np = cp->cfg->n_pools;

	if ((m = mt_find(cp, id)) != NULL)
		return m;
	if ((cp->mt_len + 1) * 2 > cp->mt_cap && mt_grow(cp) == -1)
		return NULL;
	if ((m = calloc(1, sizeof(*m) + 3 * np * sizeof(double))) == NULL)
		return NULL;
	m->id = id;
	m->gen = cp->gen;
	m->ev = m->acct;
	m->rec = m->acct + np;
	m->gap = m->acct + 2 * np;
	for (i = 0; i < np; i++)
		m->gap[i] = NAN;
	for (i = mt_slot(id, cp->mt_cap); cp->mt[i] != NULL;
	    i = (i + 1) & (cp->mt_cap - 1))
		;
	cp->mt[i] = m;
	cp->mt_len++;
	return m;
}

/* Removal by backward shift keeps probe chains intact without
 * tombstones. */
static void
mt_del_slot(struct cp *cp, size_t i)
{
	size_t mask = cp->mt_cap - 1, j, k;

	free(cp->mt[i]);
	cp->mt[i] = NULL;
	cp->mt_len--;
	for (j = (i + 1) & mask; cp->mt[j] != NULL; j = (j + 1) & mask) {
		k = mt_slot(cp->mt[j]->id, cp->mt_cap);
		/* move j back into the hole at i unless its home slot k lies
		 * cyclically in (i, j] */
		if ((j > i && (k <= i || k > j)) ||
		    (j < i && (k <= i && k > j))) {
			cp->mt[i] = cp->mt[j];
			cp->mt[j] = NULL;
			i = j;
		}
	}
}

static void
mt_clear(struct cp *cp)
{
	size_t i;

	for (i = 0; i < cp->mt_cap; i++) {
		if (cp->mt[i] == NULL)
			continue;
		if (cp->mt[i]->in_sched && cp->sched != NULL)
			sched_miner_remove(cp->sched, cp->mt[i]->id);
		free(cp->mt[i]);
		cp->mt[i] = NULL;
	}
	cp->mt_len = 0;
}

/* ---- config and overlay ----------------------------------------------- */

/* What PUT /api/v1/scheduler may change; config_apply_overlay checks the
 * values like the file's. */
static const char *const sched_edit_keys[] = {
	"slice_seconds", "min_switch_seconds", "window_seconds",
};

int
cp_overlay_apply(struct config *cfg, const json_t *overlay, char *err,
    size_t errlen)
{
	json_t	*part;
	int	 rc;

	if (overlay == NULL)
		return 0;
	if (!json_is_object(overlay)) {
		snprintf(err, errlen, "state: must be an object");
		return -1;
	}
	if ((part = state_config_part(overlay)) == NULL) {
		snprintf(err, errlen, "state: out of memory");
		return -1;
	}
	rc = config_apply_overlay(cfg, part, err, errlen);
	json_decref(part);
	return rc;
}

static void
sched_params_from(const struct config *cfg, struct sched_params *p)
{
	p->slice_seconds = cfg->slice_seconds;
	p->min_switch_seconds = cfg->min_switch_seconds;
	p->window_seconds = cfg->window_seconds < 10 ? 10 :
	    cfg->window_seconds;
}

static int
pool_index(const struct cp *cp, const char *key)
{
	if (key == NULL || *key == '\0')
		return -1;
	return config_pool_index(cp->cfg, key);
}

/* ---- life cycle ------------------------------------------------------- */

struct cp *
cp_new(const struct config *cfg, const json_t *overlay)
{
	struct cp		*cp;
	struct sched_params	 sp;
	const char		*keys[CONFIG_MAX_POOLS];
	double			 w[CONFIG_MAX_POOLS];
	const char		*worker;
	json_t			*pool;
	size_t			 i;
	int			 idx;

	if ((cp = calloc(1, sizeof(*cp))) == NULL)
		return NULL;
	if ((cp->cfg = malloc(sizeof(*cp->cfg))) == NULL)
		goto err;
	*cp->cfg = *cfg;
	cp->overlay = overlay != NULL ? json_deep_copy(overlay) : json_object();
	if (cp->overlay == NULL)
		goto err;
	cp->started_ms = clock_mono_ms();
	cp->newcomer_sent = -2;

	sched_params_from(cfg, &sp);
	if ((cp->sched = sched_new(&sp)) == NULL)
		goto err;
	for (i = 0; i < cfg->n_pools; i++) {
		keys[i] = cfg->pools[i].key;
		w[i] = cfg->pools[i].weight;
		/*
		 * Until the dataplane reports, an enabled pool counts as up:
		 * the target shown is then the configured split, and nothing
		 * is scheduled before the first report anyway.
		 */
		cp->pool_up[i] = cfg->pools[i].enabled;
	}
	if (sched_set_pools(cp->sched, cfg->n_pools, keys, w) == -1) {
		log_error("sched_setup_failed", "{s:i}", "pools",
		    (int)cfg->n_pools);
		goto err;
	}
	for (i = 0; i < cfg->n_pools; i++)
		sched_set_pool_up(cp->sched, (int)i, cp->pool_up[i],
		    cp->started_ms);

	/* pins survive restarts; one naming a pool that left the config is
	 * dropped rather than refusing to start */
	json_object_foreach(json_object_get(cp->overlay, "pins"), worker,
	    pool) {
		idx = json_is_string(pool) ?
		    config_pool_index(cfg, json_string_value(pool)) : -1;
		if (idx < 0 || sched_pin(cp->sched, worker, idx) == -1)
			log_warn("pin_ignored", "{s:s,s:O}", "worker", worker,
			    "pool", pool);
	}
	return cp;
err:
	cp_free(cp);
	return NULL;
}

void
cp_free(struct cp *cp)
{
	if (cp == NULL)
		return;
	if (cp->ev_poll != NULL)
		event_free(cp->ev_poll);
	if (cp->ev_sub != NULL)
		event_free(cp->ev_sub);
	rpc_sub_free(cp->sub);
	rpc_client_free(cp->dp);
	rpc_client_free(cp->probe);
	if (cp->state != NULL)
		dpmp__state__free_unpacked(cp->state, NULL);
	if (cp->counters != NULL)
		dpmp__counters__free_unpacked(cp->counters, NULL);
	mt_clear(cp);
	free(cp->mt);
	free(cp->moves);
	sched_free(cp->sched);
	json_decref(cp->overlay);
	free(cp->cfg);
	free(cp);
}

const struct config *
cp_config(const struct cp *cp)
{
	return cp->cfg;
}

bool
cp_dataplane_connected(const struct cp *cp)
{
	return cp->connected;
}

/* ---- dataplane calls --------------------------------------------------- */

static void
poll_at(struct cp *cp, uint64_t delay_ms)
{
	struct timeval	tv;
	uint64_t	when = clock_mono_ms() + delay_ms;

	if (cp->ev_poll == NULL)
		return;
	/* an earlier poll already pending wins */
	if (event_pending(cp->ev_poll, EV_TIMEOUT, NULL) &&
	    cp->next_poll_ms <= when)
		return;
	cp->next_poll_ms = when;
	tv.tv_sec = (time_t)(delay_ms / 1000);
	tv.tv_usec = (suseconds_t)(delay_ms % 1000) * 1000;
	evtimer_add(cp->ev_poll, &tv);
}

static void
push_config(struct cp *cp)
{
	Dpmp__SetConfigRequest	 req = DPMP__SET_CONFIG_REQUEST__INIT;
	Dpmp__PoolConfig	 pc[CONFIG_MAX_POOLS];
	Dpmp__PoolConfig	*pp[CONFIG_MAX_POOLS];
	ProtobufCMessage	*out = NULL;
	const struct config_pool *p;
	char			 err[256];
	size_t			 i;
	int			 rc;

	for (i = 0; i < cp->cfg->n_pools; i++) {
		p = &cp->cfg->pools[i];
		dpmp__pool_config__init(&pc[i]);
		pc[i].key = (char *)p->key;
		pc[i].name = (char *)p->name;
		pc[i].host = (char *)p->host;
		pc[i].port = p->port;
		pc[i].wallet = (char *)p->wallet;
		pc[i].password = (char *)p->password;
		pc[i].chain = (char *)p->chain;
		pc[i].silent_seconds = p->silent_seconds;
		pc[i].enabled = p->enabled;
		pc[i].weight = p->weight;
		pp[i] = &pc[i];
	}
	req.n_pools = cp->cfg->n_pools;
	req.pools = pp;
	rc = rpc_call(cp->dp, &dpmp__dataplane__descriptor, "SetConfig",
	    &req.base, &out, err, sizeof(err));
	if (rc != RPC_OK) {
		log_warn("set_config_failed", "{s:i,s:s}", "code", rc,
		    "error", err);
		return;
	}
	log_info("config_pushed", "{s:i,s:i}", "pools",
	    (int)cp->cfg->n_pools, "pools_changed",
	    (int)((Dpmp__SetConfigReply *)out)->pools_changed);
	protobuf_c_message_free_unpacked(out, NULL);
	cp->config_pushed = true;
}

static void
credit(struct cp *cp, uint64_t id, int pool, double d, uint64_t now)
{
	if (!(d > 0) || !isfinite(d))
		return;
	sched_share_accepted(cp->sched, id, pool, d, now);
}

static void
reconcile(struct cp *cp, struct cp_miner *m, int p, double snap,
    uint64_t now)
{
	double gap = snap - m->ev[p], prev = m->gap[p], est;

	m->gap[p] = gap;
	if (isnan(prev))
		return;
	est = fmin(gap, prev);
	/* float sums differ in the last bits between the two processes */
	if (est - m->rec[p] > 1e-9 * fmax(1.0, snap)) {
		credit(cp, m->id, p, est - m->rec[p], now);
		m->rec[p] = est;
	}
}

/*
 * First snapshot of a dataplane boot: the accepted difficulty its miners
 * did before we came is real history, so it goes to the scheduler's
 * totals.  It is credited before any miner is known to the scheduler, so
 * it lands on the pools only and does not inflate the per-miner hashrate
 * estimates (a day of work at one instant is not a hashrate).
 */
static void
credit_history(struct cp *cp)
{
	const Dpmp__MinerState	*ms;
	const Dpmp__PoolWork	*w;
	struct cp_miner		*m;
	size_t			 i, j;
	int			 idx;

	for (i = 0; i < cp->state->n_miners; i++) {
		ms = cp->state->miners[i];
		if ((m = mt_get(cp, ms->id)) == NULL)
			return;
		m->from_init = true;
		for (j = 0; j < ms->n_work; j++) {
			w = ms->work[j];
			idx = pool_index(cp, w->pool);
			if (idx < 0 || !isfinite(w->accepted_difficulty))
				continue;
			m->ev[idx] = w->accepted_difficulty;
			/* Lifetime totals belong to the cumulative share only:
			 * stamped now they would fill the window and steer
			 * the drift correction with work done days ago. */
			if (w->accepted_difficulty > 0)
				sched_history_accepted(cp->sched, idx,
				    w->accepted_difficulty);
		}
	}
}

static void
feed_scheduler(struct cp *cp, bool init)
{
	const Dpmp__State	*st = cp->state;
	const Dpmp__MinerState	*ms;
	const Dpmp__PoolWork	*w;
	struct cp_miner		*m;
	uint64_t		 now = clock_mono_ms();
	size_t			 i, j;
	bool			 up;
	int			 idx;

	cp->gen++;
	if (init)
		credit_history(cp);
	for (i = 0; i < st->n_pools; i++) {
		idx = pool_index(cp, st->pools[i]->key);
		if (idx < 0)
			continue;
		/* a disabled pool is as good as down for the schedule */
		up = st->pools[i]->up && cp->cfg->pools[idx].enabled;
		if (up != cp->pool_up[idx]) {
			cp->pool_up[idx] = up;
			sched_set_pool_up(cp->sched, idx, up, now);
		}
	}
	for (i = 0; i < st->n_miners; i++) {
		ms = st->miners[i];
		if ((m = mt_get(cp, ms->id)) == NULL) {
			log_error("out_of_memory", "{s:s}", "where", "miners");
			break;
		}
		m->gen = cp->gen;
		m->ms = ms;
		if (ms->connected) {
			sched_miner_upsert(cp->sched, ms->id, ms->worker,
			    pool_index(cp, ms->pool),
			    isfinite(ms->hashrate) && ms->hashrate > 0 ?
			    ms->hashrate : 0, now);
			m->in_sched = true;
		} else if (m->in_sched) {
			/* in its reconnect grace: it works for no one */
			sched_miner_remove(cp->sched, ms->id);
			m->in_sched = false;
		}
		for (j = 0; j < ms->n_work && !init; j++) {
			w = ms->work[j];
			idx = pool_index(cp, w->pool);
			if (idx < 0 || !isfinite(w->accepted_difficulty))
				continue;
			reconcile(cp, m, idx, w->accepted_difficulty, now);
		}
	}
	for (i = 0; i < cp->mt_cap; ) {
		m = cp->mt[i];
		if (m == NULL || m->gen == cp->gen) {
			i++;
			continue;
		}
		if (m->in_sched)
			sched_miner_remove(cp->sched, m->id);
		/* the shift may bring an unvisited entry into slot i */
		mt_del_slot(cp, i);
	}
}

static const char *
pool_key(const struct cp *cp, int idx)
{
	if (idx < 0 || (size_t)idx >= cp->cfg->n_pools)
		return "";
	return cp->cfg->pools[idx].key;
}

static void
send_assign(struct cp *cp, enum sched_reason reason, const char *newcomer,
    size_t nmoves, size_t n)
{
	Dpmp__AssignRequest	  req = DPMP__ASSIGN_REQUEST__INIT;
	Dpmp__Assignment	 *as = NULL;
	Dpmp__Assignment	**ap = NULL;
	Dpmp__AssignReply	 *rep;
	ProtobufCMessage	 *out = NULL;
	struct cp_miner		 *m;
	char			  err[256];
	size_t			  i, k = 0;
	int			  rc;

	if (n > 0 && ((as = calloc(n, sizeof(*as))) == NULL ||
	    (ap = calloc(n, sizeof(*ap))) == NULL)) {
		log_error("out_of_memory", "{s:s}", "where", "assign");
		goto done;
	}
	for (i = 0; i < nmoves && k < n; i++) {
		const struct sched_move *mv = &cp->moves[i];

		if (mv->reason != reason || mv->pool < 0)
			continue;
		dpmp__assignment__init(&as[k]);
		as[k].miner_id = mv->miner_id;
		as[k].pool = (char *)pool_key(cp, mv->pool);
		ap[k] = &as[k];
		k++;
		if (log_enabled(LOG_LEVEL_DEBUG)) {
			m = mt_find(cp, mv->miner_id);
			log_debug("schedule_decision",
			    "{s:I,s:s,s:s,s:s,s:s}", "miner_id",
			    (json_int_t)mv->miner_id, "worker",
			    m != NULL && m->ms != NULL ? m->ms->worker : "",
			    "from", m != NULL && m->ms != NULL ?
			    m->ms->pool : "", "to", pool_key(cp, mv->pool),
			    "reason", sched_reason_str(reason));
		}
	}
	req.n_assignments = k;
	req.assignments = ap;
	req.reason = (char *)sched_reason_str(reason);
	req.newcomer_pool = (char *)newcomer;
	rc = rpc_call(cp->dp, &dpmp__dataplane__descriptor, "Assign",
	    &req.base, &out, err, sizeof(err));
	if (rc != RPC_OK) {
		log_warn("assign_failed", "{s:i,s:s,s:i}", "code", rc,
		    "error", err, "moves", (int)k);
		goto done;
	}
	rep = (Dpmp__AssignReply *)out;
	if (rep->failed > 0)
		log_warn("assign_partial", "{s:i,s:i,s:s}", "applied",
		    (int)rep->applied, "failed", (int)rep->failed, "error",
		    rep->n_errors > 0 ? rep->errors[0] : "");
	protobuf_c_message_free_unpacked(out, NULL);
done:
	free(ap);
	free(as);
}

static void
schedule(struct cp *cp)
{
	size_t		 n, i, count[3] = { 0, 0, 0 };
	enum sched_reason r;
	const char	*newcomer;
	int		 nc;
	bool		 sent = false;

	if (cp->moves_cap < cp->mt_len + 16) {
		struct sched_move *nm;
		size_t cap = (cp->mt_len + 16) * 2;

		if ((nm = realloc(cp->moves, cap * sizeof(*nm))) == NULL) {
			log_error("out_of_memory", "{s:s}", "where", "moves");
			return;
		}
		cp->moves = nm;
		cp->moves_cap = cap;
	}
	n = sched_tick(cp->sched, clock_mono_ms(), cp->moves, cp->moves_cap);
	if (n > cp->moves_cap)
		n = cp->moves_cap;
	for (i = 0; i < n; i++)
		if ((unsigned)cp->moves[i].reason < 3 && cp->moves[i].pool >= 0)
			count[cp->moves[i].reason]++;
		else
			cp->moves[i].pool = -1;

	nc = sched_newcomer_pool(cp->sched);
	newcomer = nc >= 0 ? pool_key(cp, nc) : "";
	/* one Assign per reason, so the dataplane logs each move's cause */
	for (r = SCHED_REASON_SCHEDULE; r <= SCHED_REASON_WEIGHTS_CHANGED;
	    r++) {
		if (count[r] == 0)
			continue;
		send_assign(cp, r, newcomer, n, count[r]);
		sent = true;
	}
	if (!sent && nc >= 0 && nc != cp->newcomer_sent)
		send_assign(cp, SCHED_REASON_SCHEDULE, newcomer, 0, 0);
	if (sent || nc != cp->newcomer_sent)
		cp->newcomer_sent = nc;
}

static void
dataplane_lost(struct cp *cp, int code, const char *err)
{
	size_t i;

	if (!cp->outage_logged) {
		/* once per outage: a dead dataplane must not flood the log */
		log_warn("dataplane_unreachable", "{s:s,s:i,s:s}", "url",
		    cp->cfg->ipc_dataplane, "code", code, "error", err);
		cp->outage_logged = true;
	}
	cp->connected = false;
	/* stale numbers are worse than none: /metrics and the status say
	 * what is known now */
	if (cp->state != NULL) {
		dpmp__state__free_unpacked(cp->state, NULL);
		cp->state = NULL;
	}
	if (cp->counters != NULL) {
		dpmp__counters__free_unpacked(cp->counters, NULL);
		cp->counters = NULL;
	}
	for (i = 0; i < cp->mt_cap; i++)
		if (cp->mt[i] != NULL)
			cp->mt[i]->ms = NULL;
}

void
cp_poll(struct cp *cp)
{
	Dpmp__Empty		 empty = DPMP__EMPTY__INIT;
	ProtobufCMessage	*out = NULL;
	Dpmp__State		*st;
	char			 err[256];
	bool			 init = false, rebooted = false;
	int			 rc;

	if (cp->dp == NULL)
		return;
	if (!cp->connected) {
		/*
		 * A call with nobody listening blocks for its whole timeout,
		 * and this loop also serves HTTP: ask with a short timeout
		 * whether anyone is there before the real call.
		 */
		rc = rpc_call(cp->probe, &dpmp__dataplane__descriptor,
		    "GetCounters", &empty.base, &out, err, sizeof(err));
		if (rc != RPC_OK) {
			dataplane_lost(cp, rc, err);
			poll_at(cp, CP_RETRY_MS);
			return;
		}
		protobuf_c_message_free_unpacked(out, NULL);
		out = NULL;
	}
	rc = rpc_get_state(cp->dp, 0, &st, err, sizeof(err));
	if (rc != RPC_OK) {
		dataplane_lost(cp, rc, err);
		poll_at(cp, CP_RETRY_MS);
		return;
	}
	if (cp->state != NULL)
		dpmp__state__free_unpacked(cp->state, NULL);
	cp->state = st;

	if (strcmp(st->boot_id, cp->boot_id) != 0 || cp->boot_id[0] == '\0') {
		/* first contact, or the dataplane restarted: its miners and
		 * ids are new, and it needs the config again */
		rebooted = cp->boot_id[0] != '\0';
		mt_clear(cp);
		snprintf(cp->boot_id, sizeof(cp->boot_id), "%s", st->boot_id);
		cp->config_pushed = false;
		cp->newcomer_sent = -2;
		cp->init_ts_ms = st->now_ms;
		cp->init_mono_ms = st->mono_ms;
		init = true;
	}
	if (!cp->connected || init) {
		log_info("dataplane_connected", "{s:s,s:s,s:s,s:i,s:b}",
		    "boot_id", st->boot_id, "version", st->version, "url",
		    cp->cfg->ipc_dataplane, "miners", (int)st->n_miners,
		    "dataplane_restarted", rebooted);
		cp->connected = true;
		cp->outage_logged = false;
	}
	if (!cp->config_pushed)
		push_config(cp);

	out = NULL;
	rc = rpc_call(cp->dp, &dpmp__dataplane__descriptor, "GetCounters",
	    &empty.base, &out, err, sizeof(err));
	if (cp->counters != NULL) {
		dpmp__counters__free_unpacked(cp->counters, NULL);
		cp->counters = NULL;
	}
	if (rc == RPC_OK)
		cp->counters = (Dpmp__Counters *)out;
	else
		log_warn("get_counters_failed", "{s:i,s:s}", "code", rc,
		    "error", err);

	feed_scheduler(cp, init);
	schedule(cp);
	poll_at(cp, CP_POLL_MS);
}

/*
 * Whether the dataplane published ev before the snapshot we started from.
 * Its monotonic clock decides: on the wall clock, a step back after that
 * snapshot would drop every event for as long as the step.  A dataplane
 * from before mono_ms sends only ts_ms.
 */
static bool
before_init(const struct cp *cp, const Dpmp__Event *ev)
{
	if (ev->mono_ms != 0 && cp->init_mono_ms != 0)
		return ev->mono_ms <= cp->init_mono_ms;
	return ev->ts_ms != 0 && ev->ts_ms <= cp->init_ts_ms;
}

void
cp_handle_event(struct cp *cp, const Dpmp__Event *ev)
{
	struct cp_miner	*m;
	uint64_t	 now = clock_mono_ms();
	int		 idx;

	if (ev->type == NULL)
		return;
	idx = pool_index(cp, ev->pool);
	if (strcmp(ev->type, "share_result") == 0) {
		/* before the first snapshot: that snapshot will hold it */
		if (cp->boot_id[0] == '\0' || ev->result == NULL ||
		    strcmp(ev->result, "accepted") != 0 || idx < 0 ||
		    !(ev->difficulty > 0) || !isfinite(ev->difficulty))
			return;
		if ((m = mt_get(cp, ev->miner_id)) == NULL)
			return;
		/* already counted in the snapshot we started from */
		if (m->from_init && before_init(cp, ev))
			return;
		m->ev[idx] += ev->difficulty;
		credit(cp, ev->miner_id, idx, ev->difficulty, now);
	} else if (strcmp(ev->type, "switch_done") == 0) {
		if (idx >= 0)
			sched_miner_moved(cp->sched, ev->miner_id, idx, now);
	} else if (strcmp(ev->type, "pool_up") == 0 ||
	    strcmp(ev->type, "pool_down") == 0) {
		if (idx >= 0) {
			bool up = ev->type[5] == 'u' &&
			    cp->cfg->pools[idx].enabled;

			if (up != cp->pool_up[idx]) {
				cp->pool_up[idx] = up;
				sched_set_pool_up(cp->sched, idx, up, now);
			}
		}
		poll_at(cp, CP_SOON_MS);
	} else if (strcmp(ev->type, "miner_connected") == 0 ||
	    strcmp(ev->type, "miner_disconnected") == 0)
		poll_at(cp, CP_SOON_MS);
}

static void
on_poll(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cp_poll(arg);
}

#define CP_EVENTS_PER_WAKEUP	4096

static void
on_sub(evutil_socket_t fd, short what, void *arg)
{
	struct cp	*cp = arg;
	Dpmp__Event	*ev;
	int		 n;

	(void)fd;
	(void)what;
	/* bounded, so a flood of events cannot starve HTTP and the poll */
	for (n = 0; n < CP_EVENTS_PER_WAKEUP; n++) {
		if ((ev = rpc_sub_recv(cp->sub)) == NULL)
			return;
		cp_handle_event(cp, ev);
		dpmp__event__free_unpacked(ev, NULL);
	}
	event_active(cp->ev_sub, EV_READ, 0);
}

int
cp_start(struct cp *cp, struct event_base *base)
{
	cp->base = base;
	cp->dp = rpc_client_new(cp->cfg->ipc_dataplane, CP_RPC_TIMEOUT_MS);
	if (cp->dp == NULL) {
		log_error("dataplane_dial_failed", "{s:s}", "url",
		    cp->cfg->ipc_dataplane);
		return -1;
	}
	cp->probe = rpc_client_new(cp->cfg->ipc_dataplane, CP_PROBE_TIMEOUT_MS);
	if (cp->probe == NULL)
		return -1;
	cp->sub = rpc_sub_new(cp->cfg->ipc_events);
	if (cp->sub == NULL) {
		log_error("events_dial_failed", "{s:s}", "url",
		    cp->cfg->ipc_events);
		return -1;
	}
	cp->ev_sub = event_new(base, rpc_sub_fd(cp->sub), EV_READ | EV_PERSIST,
	    on_sub, cp);
	cp->ev_poll = evtimer_new(base, on_poll, cp);
	if (cp->ev_sub == NULL || cp->ev_poll == NULL ||
	    event_add(cp->ev_sub, NULL) == -1)
		return -1;
	poll_at(cp, 0);
	return 0;
}

/* ---- live changes ------------------------------------------------------ */

/* Validate cand against a copy of the running config, persist it, and
 * make it the running config and overlay.  On success *ncfg is the new
 * config (already installed). */
static enum cp_result
commit_overlay(struct cp *cp, json_t *cand, char *err, size_t errlen)
{
	struct config *ncfg;

	if ((ncfg = malloc(sizeof(*ncfg))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return CP_EIO;
	}
	*ncfg = *cp->cfg;
	if (cp_overlay_apply(ncfg, cand, err, errlen) == -1) {
		free(ncfg);
		return CP_EINVAL;
	}
	if (state_save(cp->cfg->state_dir, cand, err, errlen) == -1) {
		log_error("state_save_failed", "{s:s}", "error", err);
		free(ncfg);
		return CP_EIO;
	}
	free(cp->cfg);
	cp->cfg = ncfg;
	json_decref(cp->overlay);
	cp->overlay = json_incref(cand);
	return CP_OK;
}

static json_t *
overlay_section(json_t *ov, const char *key)
{
	json_t *sec = json_object_get(ov, key);

	if (json_is_object(sec))
		return sec;
	sec = json_object();
	if (sec == NULL || json_object_set_new(ov, key, sec) == -1)
		return NULL;
	return sec;
}

enum cp_result
cp_set_weights(struct cp *cp, const char *const *keys, const double *weights,
    size_t n, const char *source, char *err, size_t errlen)
{
	double		 w[CONFIG_MAX_POOLS], sum = 0;
	bool		 given[CONFIG_MAX_POOLS] = { false };
	json_t		*cand = NULL, *sec, *logged = NULL;
	enum cp_result	 rc;
	size_t		 i, np = cp->cfg->n_pools;
	int		 idx;

	if (n == 0) {
		snprintf(err, errlen, "weights: none given");
		return CP_EINVAL;
	}
	for (i = 0; i < np; i++)
		w[i] = cp->cfg->pools[i].weight;
	for (i = 0; i < n; i++) {
		if ((idx = pool_index(cp, keys[i])) < 0) {
			snprintf(err, errlen, "weights.%s: unknown pool",
			    keys[i] ? keys[i] : "");
			return CP_EINVAL;
		}
		if (given[idx]) {
			snprintf(err, errlen, "weights.%s: given twice",
			    keys[i]);
			return CP_EINVAL;
		}
		if (!isfinite(weights[i]) || weights[i] < 0) {
			snprintf(err, errlen, "weights.%s: must be a number "
			    ">= 0", keys[i]);
			return CP_EINVAL;
		}
		if (weights[i] > CP_MAX_WEIGHT) {
			snprintf(err, errlen, "weights.%s: must be at most "
			    "%.0f", keys[i], CP_MAX_WEIGHT);
			return CP_EINVAL;
		}
		given[idx] = true;
		w[idx] = weights[i];
	}
	for (i = 0; i < np; i++)
		sum += w[i];
	if (!(sum > 0)) {
		snprintf(err, errlen,
		    "weights: at least one pool needs a weight above 0");
		return CP_EINVAL;
	}

	/* all pools, so the file says what is in force */
	if ((cand = json_deep_copy(cp->overlay)) == NULL ||
	    (sec = json_object()) == NULL ||
	    json_object_set_new(cand, "weights", sec) == -1)
		goto oom;
	for (i = 0; i < np; i++)
		if (json_object_set_new(sec, cp->cfg->pools[i].key,
		    json_num(w[i])) == -1)
			goto oom;
	if ((rc = commit_overlay(cp, cand, err, errlen)) != CP_OK) {
		json_decref(cand);
		return rc;
	}
	json_decref(cand);
	if (sched_set_weights(cp->sched, w, np, clock_mono_ms()) == -1)
		log_error("sched_set_weights_failed", NULL);
	logged = cp_weights_json(cp);
	log_info("weights_changed", "{s:O,s:s}", "weights", logged, "source",
	    source);
	json_decref(logged);
	if (cp->connected)
		push_config(cp);
	poll_at(cp, 0);
	return CP_OK;
oom:
	json_decref(cand);
	snprintf(err, errlen, "out of memory");
	return CP_EIO;
}

enum cp_result
cp_pin(struct cp *cp, const char *worker, const char *pool,
    const char *source, char *err, size_t errlen)
{
	json_t		*cand = NULL, *pins;
	enum cp_result	 rc;
	size_t		 len;
	int		 idx = -1;

	len = worker != NULL ? strlen(worker) : 0;
	if (len == 0 || len >= CP_WORKER_MAX) {
		snprintf(err, errlen, "worker: must be 1..%d characters",
		    CP_WORKER_MAX - 1);
		return CP_EINVAL;
	}
	if (pool != NULL && *pool != '\0' && (idx = pool_index(cp, pool)) < 0) {
		snprintf(err, errlen, "pool: unknown pool \"%s\"", pool);
		return CP_EINVAL;
	}
	pins = json_object_get(cp->overlay, "pins");
	if (idx < 0 && json_object_get(pins, worker) == NULL) {
		snprintf(err, errlen, "worker \"%s\" is not pinned", worker);
		return CP_ENOENT;
	}
	if (idx >= 0 && json_object_get(pins, worker) == NULL &&
	    json_object_size(pins) >= CP_MAX_PINS) {
		snprintf(err, errlen, "pins: at most %d", CP_MAX_PINS);
		return CP_EINVAL;
	}
	if ((cand = json_deep_copy(cp->overlay)) == NULL ||
	    (pins = overlay_section(cand, "pins")) == NULL)
		goto oom;
	if (idx >= 0) {
		if (json_object_set_new(pins, worker,
		    json_string(cp->cfg->pools[idx].key)) == -1)
			goto oom;
	} else
		json_object_del(pins, worker);
	if ((rc = commit_overlay(cp, cand, err, errlen)) != CP_OK) {
		json_decref(cand);
		return rc;
	}
	json_decref(cand);
	if (sched_pin(cp->sched, worker, idx) == -1)
		log_error("sched_pin_failed", "{s:s}", "worker", worker);
	if (idx >= 0)
		log_info("pin_changed", "{s:s,s:s,s:s}", "worker", worker,
		    "pool", cp->cfg->pools[idx].key, "source", source);
	else
		log_info("pin_changed", "{s:s,s:n,s:s}", "worker", worker,
		    "pool", "source", source);
	poll_at(cp, 0);
	return CP_OK;
oom:
	json_decref(cand);
	snprintf(err, errlen, "out of memory");
	return CP_EIO;
}

/* What an operator may change in a pool while it runs; the key and the
 * weight (see weights) may not. */
static const char *const pool_edit_keys[] = {
	"name", "host", "port", "wallet", "password", "chain",
	"silent_seconds", "enabled",
};

enum cp_result
cp_edit_pool(struct cp *cp, const char *key, const json_t *fields,
    const char *source, char *err, size_t errlen)
{
	json_t		*cand = NULL, *pools, *pool, *names = NULL;
	const char	*k;
	json_t		*v;
	enum cp_result	 rc;
	size_t		 i;
	int		 idx;
	bool		 ok;

	if ((idx = pool_index(cp, key)) < 0) {
		snprintf(err, errlen, "pools.%s: unknown pool", key ? key : "");
		return CP_ENOENT;
	}
	if (!json_is_object(fields) || json_object_size(fields) == 0) {
		snprintf(err, errlen, "pools.%s: expected an object of fields",
		    key);
		return CP_EINVAL;
	}
	json_object_foreach((json_t *)fields, k, v) {
		ok = false;
		for (i = 0; i < sizeof(pool_edit_keys) /
		    sizeof(pool_edit_keys[0]); i++)
			if (strcmp(k, pool_edit_keys[i]) == 0)
				ok = true;
		if (!ok) {
			snprintf(err, errlen, "pools.%s.%s: cannot be changed "
			    "here", key, k);
			return CP_EINVAL;
		}
	}
	if ((cand = json_deep_copy(cp->overlay)) == NULL ||
	    (pools = overlay_section(cand, "pools")) == NULL ||
	    (pool = overlay_section(pools, cp->cfg->pools[idx].key)) == NULL ||
	    json_object_update(pool, (json_t *)fields) == -1)
		goto oom;
	if ((rc = commit_overlay(cp, cand, err, errlen)) != CP_OK) {
		json_decref(cand);
		return rc;
	}
	json_decref(cand);
	/* field names only: values may be secrets */
	if ((names = json_array()) != NULL)
		json_object_foreach((json_t *)fields, k, v)
			json_array_append_new(names, json_string(k));
	log_info("pool_changed", "{s:s,s:O,s:s}", "pool",
	    cp->cfg->pools[idx].key, "fields", names, "source", source);
	json_decref(names);
	if (!cp->cfg->pools[idx].enabled && cp->pool_up[idx]) {
		cp->pool_up[idx] = false;
		sched_set_pool_up(cp->sched, idx, false, clock_mono_ms());
	}
	/* the dataplane redials a changed pool; re-enabling waits for it to
	 * report the pool up again */
	if (cp->connected)
		push_config(cp);
	poll_at(cp, 0);
	return CP_OK;
oom:
	json_decref(cand);
	snprintf(err, errlen, "out of memory");
	return CP_EIO;
}

enum cp_result
cp_edit_scheduler(struct cp *cp, const json_t *fields, const char *source,
    char *err, size_t errlen)
{
	json_t			*cand = NULL, *sec, *names;
	struct sched_params	 sp;
	const char		*k;
	json_t			*v;
	enum cp_result		 rc;
	size_t			 i;
	bool			 ok;

	if (!json_is_object(fields) || json_object_size(fields) == 0) {
		snprintf(err, errlen, "scheduler: expected an object of "
		    "fields");
		return CP_EINVAL;
	}
	json_object_foreach((json_t *)fields, k, v) {
		ok = false;
		for (i = 0; i < sizeof(sched_edit_keys) /
		    sizeof(sched_edit_keys[0]); i++)
			if (strcmp(k, sched_edit_keys[i]) == 0)
				ok = true;
		if (!ok) {
			snprintf(err, errlen, "scheduler.%s: cannot be "
			    "changed here", k);
			return CP_EINVAL;
		}
	}
	if ((cand = json_deep_copy(cp->overlay)) == NULL ||
	    (sec = overlay_section(cand, "scheduler")) == NULL ||
	    json_object_update(sec, (json_t *)fields) == -1) {
		json_decref(cand);
		snprintf(err, errlen, "out of memory");
		return CP_EIO;
	}
	if ((rc = commit_overlay(cp, cand, err, errlen)) != CP_OK) {
		json_decref(cand);
		return rc;
	}
	json_decref(cand);
	sched_params_from(cp->cfg, &sp);
	sched_set_params(cp->sched, &sp);
	names = cp_scheduler_json(cp);
	log_info("scheduler_changed", "{s:O,s:s}", "scheduler", names,
	    "source", source);
	json_decref(names);
	poll_at(cp, 0);
	return CP_OK;
}

/* ---- views -------------------------------------------------------------- */

/* Whole numbers as integers, so weights read back as 70, not 70.0, the
 * way config_to_json and dpmpctl --json print them. */
static json_t *
json_num(double d)
{
	if (d == floor(d) && fabs(d) < 9e15)
		return json_integer((json_int_t)d);
	return json_real(d);
}

json_t *
cp_weights_json(const struct cp *cp)
{
	json_t	*o;
	size_t	 i;

	if ((o = json_object()) == NULL)
		return NULL;
	for (i = 0; i < cp->cfg->n_pools; i++)
		json_object_set_new(o, cp->cfg->pools[i].key,
		    json_num(cp->cfg->pools[i].weight));
	return o;
}

json_t *
cp_scheduler_json(const struct cp *cp)
{
	return json_pack("{s:s,s:i,s:i,s:i,s:I}", "mode", cp->cfg->sched_mode,
	    "slice_seconds", (int)cp->cfg->slice_seconds,
	    "min_switch_seconds", (int)cp->cfg->min_switch_seconds,
	    "window_seconds", (int)cp->cfg->window_seconds,
	    "switches", (json_int_t)sched_switches(cp->sched));
}

/* The value of m's label name, or NULL when it has none. */
static const char *
metric_label(const Dpmp__Metric *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->n_labels; i++)
		if (m->labels[i]->name != NULL &&
		    strcmp(m->labels[i]->name, name) == 0)
			return m->labels[i]->value != NULL ?
			    m->labels[i]->value : "";
	return NULL;
}

/* A counter's value as a count; what no counter can hold reads 0. */
static uint64_t
as_count(double v)
{
	if (!(v > 0))
		return 0;
	return v < 0x1p64 ? (uint64_t)v : UINT64_MAX;
}

/* Sum of a dataplane counter over the samples labelled pool=key and,
 * unless where is NULL, where=where (dpmp_shares_rejected_total). */
static double
counter_sum(const Dpmp__Counters *c, const char *name, const char *key,
    const char *where, bool *found)
{
	const Dpmp__Metric	*m;
	const char		*v;
	double			 sum = 0;
	size_t			 i;

	for (i = 0; c != NULL && i < c->n_metrics; i++) {
		m = c->metrics[i];
		if (m->name == NULL || strcmp(m->name, name) != 0)
			continue;
		if ((v = metric_label(m, "pool")) == NULL ||
		    strcmp(v, key) != 0)
			continue;
		if (where != NULL && ((v = metric_label(m, "where")) == NULL ||
		    strcmp(v, where) != 0))
			continue;
		sum += m->value;
		*found = true;
	}
	return sum;
}

static const Dpmp__PoolState *
state_pool(const struct cp *cp, const char *key)
{
	size_t i;

	for (i = 0; cp->state != NULL && i < cp->state->n_pools; i++)
		if (strcmp(cp->state->pools[i]->key, key) == 0)
			return cp->state->pools[i];
	return NULL;
}

static void
pool_work(const struct cp *cp, const char *key, Dpmp__PoolStatus *ps)
{
	const Dpmp__MinerState	*ms;
	const Dpmp__PoolWork	*w;
	bool			 fa = false, fr = false, fd = false;
	bool			 fl = false, fp = false;
	double			 acc, rej, diff, rloc, rpool;
	double			 macc = 0, mrej = 0, mdiff = 0;
	double			 mrloc = 0, mrpool = 0;
	size_t			 i, j;

	/* the dataplane's counters include miners long gone; the miners'
	 * own work stands in for a counter it did not send */
	acc = counter_sum(cp->counters, M_SHARES_ACCEPTED, key, NULL, &fa);
	rej = counter_sum(cp->counters, M_SHARES_REJECTED, key, NULL, &fr);
	rloc = counter_sum(cp->counters, M_SHARES_REJECTED, key, "local",
	    &fl);
	rpool = counter_sum(cp->counters, M_SHARES_REJECTED, key, "pool",
	    &fp);
	diff = counter_sum(cp->counters, M_ACCEPTED_DIFF, key, NULL, &fd);
	for (i = 0; cp->state != NULL && i < cp->state->n_miners; i++) {
		ms = cp->state->miners[i];
		for (j = 0; j < ms->n_work; j++) {
			w = ms->work[j];
			if (strcmp(w->pool, key) != 0)
				continue;
			macc += (double)w->accepted;
			mrej += (double)w->rejected;
			mrloc += (double)w->rejected_local;
			mrpool += (double)w->rejected_pool;
			mdiff += w->accepted_difficulty;
		}
	}
	ps->accepted = as_count(fa ? acc : macc);
	ps->rejected = as_count(fr ? rej : mrej);
	/* a dataplane without the where label leaves both at 0 */
	ps->rejected_local = as_count(fl || fp ? rloc : mrloc);
	ps->rejected_pool = as_count(fl || fp ? rpool : mrpool);
	ps->accepted_difficulty = fd ? diff : mdiff;
}

/* The pool's non-zero reject counters by where and reason, borrowed from
 * cp->counters into st's arrays (sized for every sample there). */
static void
pool_rejects(const struct cp *cp, const char *key, Dpmp__PoolStatus *ps,
    struct cp_status *st)
{
	const Dpmp__Counters	*c = cp->counters;
	const Dpmp__Metric	*m;
	Dpmp__RejectCount	*rc;
	const char		*v;
	size_t			 i;

	ps->rejected_by_reason = st->reject_ptrs + st->n_rejects;
	for (i = 0; c != NULL && i < c->n_metrics; i++) {
		m = c->metrics[i];
		if (st->n_rejects >= st->cap_rejects)
			break;
		if (m->name == NULL || strcmp(m->name, M_SHARES_REJECTED) != 0 ||
		    as_count(m->value) == 0)
			continue;
		if ((v = metric_label(m, "pool")) == NULL || strcmp(v, key) != 0)
			continue;
		rc = &st->rejects[st->n_rejects];
		dpmp__reject_count__init(rc);
		v = metric_label(m, "where");
		rc->where = (char *)(v != NULL ? v : "");
		v = metric_label(m, "reason");
		rc->reason = (char *)(v != NULL ? v : "");
		rc->count = as_count(m->value);
		st->reject_ptrs[st->n_rejects++] = rc;
		ps->n_rejected_by_reason++;
	}
}

int
cp_status_build(struct cp *cp, struct cp_status *st)
{
	const struct config_pool *cfgp;
	const Dpmp__PoolState	*dps;
	const char		*worker;
	json_t			*pins, *pool;
	uint64_t		 now = clock_mono_ms();
	size_t			 np = cp->cfg->n_pools, npins, i;

	memset(st, 0, sizeof(*st));
	dpmp__status_reply__init(&st->reply);
	pins = json_object_get(cp->overlay, "pins");
	npins = json_object_size(pins);
	st->pools = calloc(np ? np : 1, sizeof(*st->pools));
	st->pool_ptrs = calloc(np ? np : 1, sizeof(*st->pool_ptrs));
	st->cfg_states = calloc(np ? np : 1, sizeof(*st->cfg_states));
	st->pins = calloc(npins ? npins : 1, sizeof(*st->pins));
	st->pin_ptrs = calloc(npins ? npins : 1, sizeof(*st->pin_ptrs));
	st->cap_rejects = cp->counters != NULL ? cp->counters->n_metrics : 0;
	st->rejects = calloc(st->cap_rejects ? st->cap_rejects : 1,
	    sizeof(*st->rejects));
	st->reject_ptrs = calloc(st->cap_rejects ? st->cap_rejects : 1,
	    sizeof(*st->reject_ptrs));
	if (st->pools == NULL || st->pool_ptrs == NULL ||
	    st->cfg_states == NULL || st->pins == NULL ||
	    st->pin_ptrs == NULL || st->rejects == NULL ||
	    st->reject_ptrs == NULL) {
		cp_status_release(st);
		return -1;
	}
	for (i = 0; i < np; i++) {
		cfgp = &cp->cfg->pools[i];
		dpmp__pool_status__init(&st->pools[i]);
		if ((dps = state_pool(cp, cfgp->key)) == NULL) {
			/* not reported (dataplane away): what the config
			 * says, and not up */
			Dpmp__PoolState *cs = &st->cfg_states[i];

			dpmp__pool_state__init(cs);
			cs->key = (char *)cfgp->key;
			cs->name = (char *)cfgp->name;
			cs->host = (char *)cfgp->host;
			cs->port = cfgp->port;
			cs->chain = (char *)cfgp->chain;
			cs->enabled = cfgp->enabled;
			dps = cs;
		}
		st->pools[i].state = (Dpmp__PoolState *)dps;
		st->pools[i].weight = cfgp->weight;
		st->pools[i].target_share = sched_target_share(cp->sched,
		    (int)i);
		st->pools[i].actual_share = sched_window_share(cp->sched,
		    (int)i, now);
		st->pools[i].total_share = sched_total_share(cp->sched, (int)i);
		pool_work(cp, cfgp->key, &st->pools[i]);
		pool_rejects(cp, cfgp->key, &st->pools[i], st);
		st->pool_ptrs[i] = &st->pools[i];
	}
	i = 0;
	json_object_foreach(pins, worker, pool) {
		if (i >= npins || !json_is_string(pool))
			continue;
		dpmp__pin__init(&st->pins[i]);
		st->pins[i].worker = (char *)worker;
		st->pins[i].pool = (char *)json_string_value(pool);
		st->pin_ptrs[i] = &st->pins[i];
		i++;
	}
	st->reply.version = (char *)DPMP_VERSION;
	st->reply.uptime_s = (now - cp->started_ms) / 1000;
	if (cp->state != NULL && cp->state->now_ms >= cp->state->started_ms)
		st->reply.dataplane_uptime_s =
		    (cp->state->now_ms - cp->state->started_ms) / 1000;
	st->reply.dataplane_connected = cp->connected;
	st->reply.n_pools = np;
	st->reply.pools = st->pool_ptrs;
	if (cp->state != NULL) {
		st->reply.n_miners = cp->state->n_miners;
		st->reply.miners = cp->state->miners;
	}
	st->reply.n_pins = i;
	st->reply.pins = st->pin_ptrs;
	st->reply.switches = sched_switches(cp->sched);
	st->reply.now_ms = clock_wall_ms();
	st->reply.window_s = cp->cfg->window_seconds;
	return 0;
}

void
cp_status_release(struct cp_status *st)
{
	free(st->pools);
	free(st->pool_ptrs);
	free(st->cfg_states);
	free(st->pins);
	free(st->pin_ptrs);
	free(st->rejects);
	free(st->reject_ptrs);
	memset(st, 0, sizeof(*st));
}

char *
cp_metrics(struct cp *cp, size_t *len)
{
	struct metrics_pool	 mp[CONFIG_MAX_POOLS];
	struct metrics_input	 in;
	const struct config_pool *p;
	uint64_t		 now = clock_mono_ms();
	size_t			 i;

	for (i = 0; i < cp->cfg->n_pools; i++) {
		p = &cp->cfg->pools[i];
		mp[i].key = p->key;
		mp[i].name = p->name;
		mp[i].host = p->host;
		mp[i].chain = p->chain;
		mp[i].weight = p->weight;
		mp[i].share = sched_window_share(cp->sched, (int)i, now);
		mp[i].target = sched_target_share(cp->sched, (int)i);
	}
	memset(&in, 0, sizeof(in));
	in.version = DPMP_VERSION;
	in.pools = mp;
	in.n_pools = cp->cfg->n_pools;
	in.state = cp->state;
	in.counters = cp->counters;
	in.refusals = cp->refusals;
	in.n_refusals = cp->n_refusals;
	return metrics_render(&in, len);
}

void
cp_http_refused(struct cp *cp, const char *listener, const char *reason,
    uint64_t n)
{
	struct metrics_refusal	*r;
	size_t			 i;

	for (i = 0; i < cp->n_refusals; i++) {
		r = &cp->refusals[i];
		if (strcmp(r->listener, listener) == 0 &&
		    strcmp(r->reason, reason) == 0) {
			r->count += n;
			return;
		}
	}
	if (cp->n_refusals == CP_REFUSAL_SERIES) {
		/* a new listener or reason without a bigger table */
		log_warn("metric_series_dropped", "{s:s,s:s,s:s}", "metric",
		    M_HTTP_REFUSED, "listener", listener, "reason", reason);
		return;
	}
	r = &cp->refusals[cp->n_refusals++];
	r->listener = listener;
	r->reason = reason;
	r->count = n;
}

