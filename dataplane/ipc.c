/*
 * ipc: the dataplane's side of the nng IPC.  Serves the Dataplane service
 * (GetState, Assign, SetConfig, GetCounters) on ipc.dataplane and
 * publishes events on ipc.events.  The nng sockets are watched from the
 * libevent loop through their receive descriptors; nng's threads never
 * call into the dataplane.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "dataplane.h"
#include "log.h"
#include "metrics.h"
#include "rpc.h"

/*
 * Replies are built from many small allocations; they all go on one list
 * that out_free releases, so a handler cannot leak half a message.
 */
struct arena {
	void	**ptrs;
	size_t	  n, cap;
};

static struct arena reply_arena;

static void *
aalloc(size_t size)
{
	struct arena *a = &reply_arena;
	void *p;

	if (a->n == a->cap) {
		size_t ncap = a->cap ? a->cap * 2 : 256;
		void **np = realloc(a->ptrs, ncap * sizeof(*np));

		if (np == NULL)
			return NULL;
		a->ptrs = np;
		a->cap = ncap;
	}
	if ((p = calloc(1, size ? size : 1)) == NULL)
		return NULL;
	a->ptrs[a->n++] = p;
	return p;
}

static char *
astr(const char *s)
{
	size_t n = strlen(s);
	char *p = aalloc(n + 1);

	if (p)
		memcpy(p, s, n + 1);
	return p ? p : (char *)"";
}

static void
arena_free(void *ctx, ProtobufCMessage *out)
{
	struct arena *a = &reply_arena;
	size_t i;

	(void)ctx;
	(void)out;
	for (i = 0; i < a->n; i++)
		free(a->ptrs[i]);
	a->n = 0;
}

/* a generated message on the arena, initialised from its descriptor */
static void *
anew(const ProtobufCMessageDescriptor *d)
{
	void *p = aalloc(d->sizeof_message);

	if (p != NULL)
		protobuf_c_message_init(d, p);
	return p;
}
#define ANEW(name)	anew(&dpmp__##name##__descriptor)

/* ---- GetState ------------------------------------------------------- */

static Dpmp__MinerState *
miner_state(struct dp *dp, struct miner *m, uint64_t now)
{
	Dpmp__MinerState *ms = ANEW(miner_state);
	size_t i;

	if (ms == NULL)
		return NULL;
	ms->id = m->id;
	ms->worker = astr(m->worker);
	ms->address = astr(m->addr);
	ms->pool = astr(m->pool >= 0 ? dp->pools[m->pool].cfg.key : "");
	ms->difficulty = m->diff_sent > 0 ? m->diff_sent : 0;
	ms->hashrate = miner_hashrate(m, now);
	/* kept monotonic for the deadlines, published as Unix ms */
	ms->connected_ms = clock_mono_to_wall_ms(m->connected_ms);
	ms->last_share_ms = clock_mono_to_wall_ms(m->last_share_ms);
	ms->assigned_ms = clock_mono_to_wall_ms(m->assigned_ms);
	ms->user_agent = astr(m->agent);
	ms->connected = m->state != M_GHOST;
	ms->work = aalloc(dp->n_pools * sizeof(*ms->work));
	if (ms->work == NULL)
		return ms;
	for (i = 0; i < dp->n_pools; i++) {
		Dpmp__PoolWork *w = ANEW(pool_work);

		if (w == NULL)
			break;
		w->pool = astr(dp->pools[i].cfg.key);
		w->accepted = m->accepted[i];
		w->rejected_local = m->rejected[i][REJ_WHERE_LOCAL];
		w->rejected_pool = m->rejected[i][REJ_WHERE_POOL];
		w->rejected = w->rejected_local + w->rejected_pool;
		w->accepted_difficulty = m->accepted_diff[i];
		ms->work[ms->n_work++] = w;
	}
	return ms;
}

static int
h_get_state(void *ctx, const ProtobufCMessage *in, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	struct dp *dp = ctx;
	const Dpmp__StateRequest *req = (const Dpmp__StateRequest *)in;
	Dpmp__State *st;
	struct miner *m;
	uint64_t now = clock_mono_ms();
	size_t i, n = 0, page = DP_STATE_PAGE;

	if (req->max_miners > 0 && req->max_miners < page)
		page = req->max_miners;
	if ((st = ANEW(state)) == NULL)
		goto oom;
	st->boot_id = astr(dp->boot_id);
	st->version = astr(DPMP_VERSION);
	st->started_ms = clock_mono_to_wall_ms(dp->started_ms);
	st->now_ms = clock_wall_ms();
	st->mono_ms = now;
	st->newcomer_pool = astr(dp->newcomer >= 0 ?
	    dp->pools[dp->newcomer].cfg.key : "");
	st->pools = aalloc(dp->n_pools * sizeof(*st->pools));
	for (i = 0; st->pools && i < dp->n_pools; i++) {
		struct pool *p = &dp->pools[i];
		Dpmp__PoolState *ps = ANEW(pool_state);
		struct upstream *pr = p->probe;

		if (ps == NULL)
			goto oom;
		ps->key = astr(p->cfg.key);
		ps->name = astr(p->cfg.name);
		ps->host = astr(p->cfg.host);
		ps->port = p->cfg.port;
		ps->chain = astr(p->cfg.chain);
		ps->up = p->up;
		ps->enabled = p->cfg.enabled;
		ps->difficulty = pr ? pr->difficulty : 0;
		ps->version_mask = pr ? pr->mask : 0;
		ps->en1_size = pr ? (uint32_t)pr->en1_len : 0;
		ps->en2_size = pr ? (uint32_t)pr->en2_size : 0;
		ps->miners_assigned = p->n_miners;
		ps->upstream_connections = p->n_sessions;
		ps->up_since_ms = clock_mono_to_wall_ms(p->up_since_ms);
		st->pools[st->n_pools++] = ps;
	}
	/* one page of miners, in id order (dp->miners is kept so) */
	TAILQ_FOREACH(m, &dp->miners, entry)
		if (!m->dead && m->worker[0] != '\0' &&
		    m->id > req->after_miner_id && ++n == page)
			break;
	st->miners = aalloc(n * sizeof(*st->miners));
	TAILQ_FOREACH(m, &dp->miners, entry) {
		if (m->dead || m->worker[0] == '\0' || st->miners == NULL ||
		    m->id <= req->after_miner_id)
			continue;
		if (st->n_miners == page) {
			/* more to come: the client asks again from here */
			st->next_after_id = st->miners[page - 1]->id;
			break;
		}
		if ((st->miners[st->n_miners] = miner_state(dp, m, now)) ==
		    NULL)
			goto oom;
		st->n_miners++;
	}
	*out = &st->base;
	return RPC_OK;
oom:
	snprintf(err, errlen, "out of memory");
	return RPC_RESOURCE_EXHAUSTED;
}

/* ---- Assign --------------------------------------------------------- */

static int
pool_by_key(struct dp *dp, const char *key)
{
	size_t i;

	for (i = 0; i < dp->n_pools; i++)
		if (strcmp(dp->pools[i].cfg.key, key) == 0)
			return (int)i;
	return -1;
}

static int
h_assign(void *ctx, const ProtobufCMessage *in, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	struct dp *dp = ctx;
	const Dpmp__AssignRequest *req = (const Dpmp__AssignRequest *)in;
	Dpmp__AssignReply *rep;
	enum switch_reason why = switch_reason_parse(req->reason);
	char msg[160];
	size_t i;

	if ((rep = ANEW(assign_reply)) == NULL)
		goto oom;
	rep->errors = aalloc(req->n_assignments * sizeof(*rep->errors));
	if (req->newcomer_pool[0] != '\0') {
		int idx = pool_by_key(dp, req->newcomer_pool);

		if (idx < 0) {
			snprintf(err, errlen, "newcomer_pool: unknown pool %.40s",
			    req->newcomer_pool);
			return RPC_INVALID_ARGUMENT;
		}
		dp->newcomer = idx;
	}
	for (i = 0; i < req->n_assignments; i++) {
		const Dpmp__Assignment *a = req->assignments[i];
		struct miner *m = miner_find(dp, a->miner_id);
		int idx = pool_by_key(dp, a->pool);

		msg[0] = '\0';
		if (m == NULL || m->dead)
			snprintf(msg, sizeof(msg), "miner %llu: not connected",
			    (unsigned long long)a->miner_id);
		else if (idx < 0)
			snprintf(msg, sizeof(msg), "miner %llu: unknown pool "
			    "%.40s", (unsigned long long)a->miner_id, a->pool);
		else if (!dp->pools[idx].up)
			/* safety is local: never onto a dead pool */
			snprintf(msg, sizeof(msg), "miner %llu: pool %s is "
			    "down", (unsigned long long)a->miner_id,
			    dp->pools[idx].cfg.key);
		else if (m->state == M_GHOST)
			m->pool = idx;	/* resumes there */
		else
			miner_assign(m, idx, why);
		if (msg[0] != '\0') {
			rep->failed++;
			if (rep->errors)
				rep->errors[rep->n_errors++] = astr(msg);
		} else
			rep->applied++;
	}
	*out = &rep->base;
	return RPC_OK;
oom:
	snprintf(err, errlen, "out of memory");
	return RPC_RESOURCE_EXHAUSTED;
}

/* ---- SetConfig ------------------------------------------------------ */

static int
h_set_config(void *ctx, const ProtobufCMessage *in, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	struct dp *dp = ctx;
	const Dpmp__SetConfigRequest *req = (const Dpmp__SetConfigRequest *)in;
	Dpmp__SetConfigReply *rep;
	size_t i;

	/* validate everything before changing anything */
	for (i = 0; i < req->n_pools; i++) {
		const Dpmp__PoolConfig *pc = req->pools[i];

		if (pc->key[0] == '\0' || strlen(pc->key) >= CONFIG_KEY_MAX) {
			snprintf(err, errlen, "pools[%zu].key: invalid", i);
			return RPC_INVALID_ARGUMENT;
		}
		if (pc->port == 0 || pc->port > 65535 || pc->host[0] == '\0' ||
		    strlen(pc->host) >= CONFIG_STR_MAX ||
		    strlen(pc->name) >= CONFIG_STR_MAX ||
		    strlen(pc->wallet) >= CONFIG_STR_MAX ||
		    strlen(pc->password) >= CONFIG_STR_MAX ||
		    strlen(pc->chain) >= CONFIG_KEY_MAX ||
		    !(pc->weight >= 0)) {
			snprintf(err, errlen, "pools.%s: invalid host, port, "
			    "string length or weight", pc->key);
			return RPC_INVALID_ARGUMENT;
		}
		if (pool_by_key(dp, pc->key) < 0 &&
		    dp->n_pools + 1 > DP_MAX_POOLS) {
			snprintf(err, errlen, "pools: at most %d", DP_MAX_POOLS);
			return RPC_INVALID_ARGUMENT;
		}
	}
	if ((rep = ANEW(set_config_reply))
	    == NULL) {
		snprintf(err, errlen, "out of memory");
		return RPC_RESOURCE_EXHAUSTED;
	}
	for (i = 0; i < req->n_pools; i++) {
		const Dpmp__PoolConfig *pc = req->pools[i];
		int idx = pool_by_key(dp, pc->key);
		struct config_pool c;
		struct pool *p;
		bool redial;

		memset(&c, 0, sizeof(c));
		snprintf(c.key, sizeof(c.key), "%s", pc->key);
		snprintf(c.name, sizeof(c.name), "%s", pc->name);
		snprintf(c.host, sizeof(c.host), "%s", pc->host);
		c.port = (uint16_t)pc->port;
		snprintf(c.wallet, sizeof(c.wallet), "%s", pc->wallet);
		snprintf(c.password, sizeof(c.password), "%s", pc->password);
		snprintf(c.chain, sizeof(c.chain), "%s", pc->chain);
		c.silent_seconds = pc->silent_seconds ? pc->silent_seconds : 120;
		c.enabled = pc->enabled;
		c.weight = pc->weight;
		if (idx < 0) {
			idx = (int)dp->n_pools++;
			pool_init(dp, &dp->pools[idx], idx, &c);
			rep->pools_changed++;
			log_info("pool_added", "{s:s,s:s,s:i}", "pool", c.key,
			    "host", c.host, "port", c.port);
			continue;
		}
		p = &dp->pools[idx];
		redial = strcmp(c.host, p->cfg.host) || c.port != p->cfg.port ||
		    strcmp(c.wallet, p->cfg.wallet) ||
		    strcmp(c.password, p->cfg.password) ||
		    c.enabled != p->cfg.enabled;
		if (!redial && c.weight == p->cfg.weight &&
		    c.silent_seconds == p->cfg.silent_seconds &&
		    strcmp(c.name, p->cfg.name) == 0 &&
		    strcmp(c.chain, p->cfg.chain) == 0)
			continue;
		rep->pools_changed++;
		log_info("pool_config_changed", "{s:s,s:s,s:i,s:b,s:b}",
		    "pool", c.key, "host", c.host, "port", c.port, "enabled",
		    c.enabled, "redial", redial);
		if (redial) {
			struct upstream *up;

			/* miners fail over first, then every session of the
			 * pool is dialled again with the new settings */
			p->cfg = c;
			p->up = true;
			pool_set_up(p, false, "reconfigured");
			LIST_FOREACH(up, &p->sessions, entry)
				upstream_set_user(up);
			for (up = LIST_FIRST(&p->sessions); up != NULL;
			    up = LIST_NEXT(up, entry)) {
				upstream_reset(up, "reconfigured");
				if (c.enabled) {
					up->backoff_ms = DP_BACKOFF_MIN_MS;
					upstream_start(up);
				}
			}
		} else
			p->cfg = c;
	}
	*out = &rep->base;
	return RPC_OK;
}

/* ---- GetCounters ---------------------------------------------------- */

struct mlist {
	Dpmp__Metric	**v;
	size_t		  n, cap;
};

static void
mlabel(Dpmp__Metric *m, const char *name, const char *value)
{
	Dpmp__Label *a;

	if (m == NULL || m->labels == NULL || name == NULL ||
	    (a = ANEW(label)) == NULL)
		return;
	a->name = (char *)name;
	a->value = astr(value);
	m->labels[m->n_labels++] = a;
}

/* A sample with up to two labels; the caller may add one more with
 * mlabel on what it returns (NULL when out of memory). */
static Dpmp__Metric *
madd(struct mlist *l, const char *name, double value, const char *l1,
    const char *v1, const char *l2, const char *v2)
{
	Dpmp__Metric *m;

	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 128;
		Dpmp__Metric **nv = aalloc(ncap * sizeof(*nv));

		if (nv == NULL)
			return NULL;
		if (l->n)
			memcpy(nv, l->v, l->n * sizeof(*nv));
		l->v = nv;
		l->cap = ncap;
	}
	if ((m = ANEW(metric)) == NULL)
		return NULL;
	m->name = (char *)name;
	m->value = value;
	m->labels = aalloc(3 * sizeof(*m->labels));
	mlabel(m, l1, v1);
	mlabel(m, l2, v2);
	l->v[l->n++] = m;
	return m;
}

/* pool_timeout and pool_lost are the pool's failures by definition: a
 * local series of them would always read 0. */
static bool
reject_possible(enum reject_where w, enum reject_reason r)
{
	return w == REJ_WHERE_POOL ||
	    (r != REJ_POOL_TIMEOUT && r != REJ_POOL_LOST);
}

static void
madd_rejects(struct mlist *l, const char *pool,
    const uint64_t *counts, enum reject_where w)
{
	size_t r;

	for (r = 0; r < REJ__COUNT; r++)
		if (reject_possible(w, r))
			mlabel(madd(l, M_SHARES_REJECTED, (double)counts[r],
			    "pool", pool, "reason", reject_reason_str(r)),
			    "where", reject_where_str(w));
}

static int
h_get_counters(void *ctx, const ProtobufCMessage *in, ProtobufCMessage **out,
    char *err, size_t errlen)
{
	struct dp *dp = ctx;
	Dpmp__Counters *c;
	struct mlist l = { NULL, 0, 0 };
	struct miner *m;
	size_t i, j, r;

	(void)in;
	if ((c = ANEW(counters)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return RPC_RESOURCE_EXHAUSTED;
	}
	c->now_ms = clock_wall_ms();
	c->histograms = aalloc(dp->n_pools * sizeof(*c->histograms));
	for (i = 0; i < dp->n_pools; i++) {
		struct pool *p = &dp->pools[i];
		const char *k = p->cfg.key;
		Dpmp__Histogram *h;

		madd(&l, M_JOBS_FORWARDED, (double)p->c.jobs_forwarded,
		    "pool", k, NULL, NULL);
		madd(&l, M_SHARES_SUBMITTED, (double)p->c.submitted, "pool",
		    k, NULL, NULL);
		madd(&l, M_SHARES_ACCEPTED, (double)p->c.accepted, "pool", k,
		    NULL, NULL);
		madd(&l, M_ACCEPTED_DIFF, p->c.accepted_diff, "pool", k, NULL,
		    NULL);
		for (r = 0; r < REJ_WHERE__COUNT; r++)
			madd_rejects(&l, k, p->c.rejected[r], r);
		madd(&l, M_BLOCK_CANDIDATES, (double)p->c.block_candidates,
		    "pool", k, NULL, NULL);
		if (c->histograms == NULL ||
		    (h = ANEW(histogram)) == NULL)
			continue;
		h->name = (char *)M_SHARE_LATENCY;
		h->labels = aalloc(sizeof(*h->labels));
		if (h->labels && (h->labels[0] = ANEW(label)) != NULL) {
			h->labels[0]->name = (char *)"pool";
			h->labels[0]->value = astr(k);
			h->n_labels = 1;
		}
		h->bounds = (double *)metric_latency_bounds;
		h->n_bounds = metric_latency_nbounds;
		h->buckets = aalloc(metric_latency_nbounds *
		    sizeof(*h->buckets));
		if (h->buckets) {
			for (j = 0; j < metric_latency_nbounds &&
			    j < LATENCY_BUCKETS; j++)
				h->buckets[j] = p->c.lat_buckets[j];
			h->n_buckets = j;
		}
		h->sum = p->c.lat_sum;
		h->count = p->c.lat_count;
		c->histograms[c->n_histograms++] = h;
	}
	madd_rejects(&l, "none", dp->c.rejected_nopool, REJ_WHERE_LOCAL);
	for (r = 0; r < SW__COUNT; r++)
		madd(&l, M_POOL_SWITCHES, (double)dp->c.switches[r], "reason",
		    switch_reason_str(r), NULL, NULL);
	for (r = 0; r < FB__COUNT; r++)
		madd(&l, M_EXTRANONCE_FALLBACKS, (double)dp->c.fallbacks[r],
		    "kind", fallback_kind_str(r), NULL, NULL);
	for (r = 0; r < LIM__COUNT; r++)
		madd(&l, M_LIMIT_HITS, (double)dp->c.limit_hits[r], "limit",
		    limit_kind_str(r), NULL, NULL);
	madd(&l, M_MESSAGES, (double)dp->c.msgs_miner_in, "side", "miner",
	    "direction", "in");
	madd(&l, M_IPC_RESTARTS, dp->rpc ? (double)rpc_server_restarts(dp->rpc)
	    : 0, "service", "rpc", NULL, NULL);
	madd(&l, M_IPC_RESTARTS, dp->pub ? (double)rpc_pub_restarts(dp->pub)
	    : 0, "service", "events", NULL, NULL);
	madd(&l, M_MESSAGES, (double)dp->c.msgs_miner_out, "side", "miner",
	    "direction", "out");
	madd(&l, M_MESSAGES, (double)dp->c.msgs_pool_in, "side", "pool",
	    "direction", "in");
	madd(&l, M_MESSAGES, (double)dp->c.msgs_pool_out, "side", "pool",
	    "direction", "out");
	if (dp->cfg.metrics_per_worker) {
		TAILQ_FOREACH(m, &dp->miners, entry) {
			if (m->dead || m->worker[0] == '\0')
				continue;
			for (i = 0; i < dp->n_pools; i++) {
				madd(&l, M_WORKER_ACCEPTED,
				    (double)m->accepted[i], "worker",
				    m->worker, "pool", dp->pools[i].cfg.key);
				madd(&l, M_WORKER_ACCEPTED_DIFF,
				    m->accepted_diff[i], "worker", m->worker,
				    "pool", dp->pools[i].cfg.key);
			}
		}
	}
	c->metrics = l.v;
	c->n_metrics = l.n;
	*out = &c->base;
	return RPC_OK;
}

/* ---- events --------------------------------------------------------- */

static void
publish(struct dp *dp, const char *type, const struct miner *m,
    const char *pool, const char *from, const char *result,
    const char *reason, const char *where, double difficulty,
    uint64_t mono_ms, uint32_t count)
{
	Dpmp__Event ev = DPMP__EVENT__INIT;

	if (dp->pub == NULL)
		return;
	ev.type = (char *)type;
	ev.ts_ms = clock_mono_to_wall_ms(mono_ms);
	ev.mono_ms = mono_ms;
	ev.count = count;
	ev.miner_id = m ? m->id : 0;
	ev.worker = (char *)(m ? m->worker : "");
	ev.pool = (char *)(pool ? pool : "");
	ev.from_pool = (char *)(from ? from : "");
	ev.result = (char *)(result ? result : "");
	ev.reason = (char *)(reason ? reason : "");
	ev.where = (char *)(where ? where : "");
	ev.difficulty = difficulty;
	rpc_pub_send(dp->pub, &ev);
}

void
dp_event(struct dp *dp, const char *type, const struct miner *m,
    const char *pool, const char *from, const char *result,
    const char *reason, double difficulty)
{
	publish(dp, type, m, pool, from, result, reason, NULL, difficulty,
	    clock_mono_ms(), 0);
}

void
dp_reject_event(struct dp *dp, const struct miner *m, const char *pool,
    enum reject_where where, enum reject_reason rej, double difficulty)
{
	publish(dp, "share_result", m, pool, NULL, "rejected",
	    reject_reason_str(rej), reject_where_str(where), difficulty,
	    clock_mono_ms(), 0);
}

void
dp_events_flush(struct dp *dp)
{
	struct miner *m;
	size_t i;

	while ((m = dp->ev_head) != NULL) {
		dp->ev_head = m->ev_next;
		m->ev_next = NULL;
		m->ev_queued = false;
		for (i = 0; i < dp->n_pools; i++) {
			if (m->ev_count[i] == 0)
				continue;
			publish(dp, "share_result", m, dp->pools[i].cfg.key,
			    NULL, "accepted", "", NULL, m->ev_diff[i],
			    m->ev_first_ms, m->ev_count[i]);
			m->ev_count[i] = 0;
			m->ev_diff[i] = 0;
		}
	}
}

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	dp_events_flush(arg);
}

void
dp_share_event(struct dp *dp, struct miner *m, int pool, double difficulty)
{
	const struct timeval batch = { 0, DP_EVENT_BATCH_MS * 1000 };

	if (dp->pub == NULL || pool < 0 || (size_t)pool >= dp->n_pools)
		return;
	if (!m->ev_queued) {
		m->ev_queued = true;
		m->ev_first_ms = clock_mono_ms();
		m->ev_next = dp->ev_head;
		dp->ev_head = m;
	}
	m->ev_count[pool]++;
	m->ev_diff[pool] += difficulty;
	if (dp->ev_flush != NULL && !evtimer_pending(dp->ev_flush, NULL))
		evtimer_add(dp->ev_flush, &batch);
}

static const rpc_handler dataplane_handlers[] = {
	h_get_state,		/* GetState */
	h_assign,		/* Assign */
	h_set_config,		/* SetConfig */
	h_get_counters,		/* GetCounters */
};

static void
rpc_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dp *dp = arg;

	(void)fd;
	(void)what;
	rpc_server_poll(dp->rpc);
}

int
ipc_init(struct dp *dp)
{
	int fd;

	dp->rpc = rpc_server_new(dp->cfg.ipc_dataplane,
	    &dpmp__dataplane__descriptor, dataplane_handlers, arena_free, dp);
	if (dp->rpc == NULL) {
		log_error("ipc_failed", "{s:s}", "url", dp->cfg.ipc_dataplane);
		return -1;
	}
	if ((fd = rpc_server_fd(dp->rpc)) < 0)
		return -1;
	dp->rpc_ev = event_new(dp->base, fd, EV_READ | EV_PERSIST, rpc_cb, dp);
	event_add(dp->rpc_ev, NULL);
	dp->pub = rpc_pub_new(dp->cfg.ipc_events);
	if (dp->pub == NULL) {
		log_error("ipc_failed", "{s:s}", "url", dp->cfg.ipc_events);
		return -1;
	}
	if ((dp->ev_flush = evtimer_new(dp->base, flush_cb, dp)) == NULL)
		return -1;
	log_info("ipc_listening", "{s:s,s:s}", "rpc", dp->cfg.ipc_dataplane,
	    "events", dp->cfg.ipc_events);
	/* requests may have queued before the event was armed */
	rpc_server_poll(dp->rpc);
	return 0;
}

/* Once a second: keep both listeners accepting (see rpc_server_guard). */
void
ipc_tick(struct dp *dp)
{
	if (dp->rpc != NULL)
		rpc_server_guard(dp->rpc);
	if (dp->pub != NULL)
		rpc_pub_guard(dp->pub);
}

void
ipc_shutdown(struct dp *dp)
{
	dp_events_flush(dp);
	if (dp->ev_flush)
		event_free(dp->ev_flush);
	dp->ev_flush = NULL;
	if (dp->rpc_ev)
		event_free(dp->rpc_ev);
	dp->rpc_ev = NULL;
	rpc_server_free(dp->rpc);
	dp->rpc = NULL;
	rpc_pub_free(dp->pub);
	dp->pub = NULL;
	free(reply_arena.ptrs);
	reply_arena.ptrs = NULL;
	reply_arena.n = reply_arena.cap = 0;
}
