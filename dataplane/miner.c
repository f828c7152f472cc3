/*
 * miner: downstream Stratum sessions.  A miner gets its own extranonce1
 * and extranonce2 size at subscribe and keeps both for the session; jobs
 * from whichever pool it works for are re-issued under our own job ids
 * with the pool's extranonce folded into coinb1, so moving it between
 * pools costs a set_difficulty and a clean notify, never a reconnect.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <event2/buffer.h>

#include "clock.h"
#include "dataplane.h"
#include "diff.h"
#include "hex.h"
#include "log.h"
#include "metrics.h"
#include "share.h"
#include "stratum.h"

#define MHASH(id)	((size_t)((id) * 0x9e3779b97f4a7c15ULL >> 52) & 4095)

static void	miner_read_cb(struct bufferevent *, void *);
static void	miner_event_cb(struct bufferevent *, short, void *);
static void	miner_write_cb(struct bufferevent *, void *);

static const char *
miner_state_str(enum miner_state s)
{
	switch (s) {
	case M_CONNECTED:	return "connected";
	case M_SUBSCRIBED:	return "subscribed";
	case M_AUTHORIZED:	return "authorized";
	case M_CLOSING:		return "closing";
	case M_GHOST:		return "ghost";
	}
	return "?";
}

static void
miner_set_state(struct miner *m, enum miner_state st)
{
	if (m->state == st)
		return;
	log_debug("miner_state", "{s:I,s:s,s:s,s:s}", "miner",
	    (json_int_t)m->id, "worker", m->worker, "from",
	    miner_state_str(m->state), "to", miner_state_str(st));
	m->state = st;
}

static const char *
pool_key(const struct dp *dp, int idx)
{
	return idx >= 0 && (size_t)idx < dp->n_pools ?
	    dp->pools[idx].cfg.key : "";
}

struct miner *
miner_find(struct dp *dp, uint64_t id)
{
	struct miner *m;

	for (m = dp->mhash[MHASH(id)]; m != NULL; m = m->hnext)
		if (m->id == id)
			return m;
	return NULL;
}

static void
mhash_insert(struct dp *dp, struct miner *m)
{
	size_t s = MHASH(m->id);

	m->hnext = dp->mhash[s];
	dp->mhash[s] = m;
}

static void
mhash_remove(struct dp *dp, struct miner *m)
{
	struct miner **pp;

	for (pp = &dp->mhash[MHASH(m->id)]; *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == m) {
			*pp = m->hnext;
			return;
		}
}

static struct evbuffer *
mout(struct miner *m)
{
	return m->bev ? bufferevent_get_output(m->bev) : NULL;
}

/* Every write to a miner ends here: a miner that does not read its
 * socket is cut off before its queue can grow memory. */
static int
miner_flush_check(struct miner *m)
{
	struct evbuffer *out = mout(m);

	if (out == NULL)
		return -1;
	if (evbuffer_get_length(out) > m->dp->cfg.max_outq) {
		dp_count_limit(m->dp, LIM_OUTQ, m->worker);
		miner_close(m, "output queue limit");
		return -1;
	}
	return 0;
}

static void
reply_result(struct miner *m, json_t *id, json_t *result)
{
	if (mout(m) == NULL) {
		json_decref(result);
		return;
	}
	stratum_write_result(mout(m), id, result);
	m->dp->c.msgs_miner_out++;
}

static void
reply_error(struct miner *m, json_t *id, int code, const char *text)
{
	if (mout(m) == NULL)
		return;
	stratum_write_error(mout(m), id, code, text);
	m->dp->c.msgs_miner_out++;
}

static void
send_notification(struct miner *m, const char *method, json_t *params)
{
	if (mout(m) == NULL) {
		json_decref(params);
		return;
	}
	stratum_write_notification(mout(m), method, params);
	m->dp->c.msgs_miner_out++;
}

/* ---- lifecycle ------------------------------------------------------ */

/* The resume token a miner gets as its subscription id: random, so that
 * nobody takes over another worker's session by counting. */
static void
session_token(char out[17])
{
	uint8_t b[8];
	size_t i;

	if (getrandom(b, sizeof(b), GRND_NONBLOCK) != (ssize_t)sizeof(b))
		evutil_secure_rng_get_bytes(b, sizeof(b));
	for (i = 0; i < sizeof(b); i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

void
miner_accept(struct dp *dp, int fd, const char *host, const char *addr)
{
	struct miner *m;
	int one = 1;

	/* Ghosts hold their pool sessions (descriptors, memory) through
	 * the reconnect grace: they take a place like a connection. */
	if (dp->n_miners + dp->n_ghosts >= dp->cfg.max_miners ||
	    dp->stopping) {
		dp_count_limit(dp, LIM_MINERS, addr);
		evutil_closesocket(fd);
		return;
	}
	if (!dp_fd_room(dp, fd)) {
		dp_count_limit(dp, LIM_DESCRIPTORS, addr);
		evutil_closesocket(fd);
		return;
	}
	if (dp_addr_acquire(dp, host) == -1) {
		dp_count_limit(dp, LIM_PER_ADDRESS, addr);
		evutil_closesocket(fd);
		return;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		dp_addr_release(dp, host);
		evutil_closesocket(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	m->dp = dp;
	m->id = dp->next_miner_id++;
	m->pool = -1;
	m->diff_sent = -1;
	m->connected_ms = m->last_send_ms = clock_mono_ms();
	m->accepted_ms = m->connected_ms;
	snprintf(m->addr, sizeof(m->addr), "%s", addr);
	snprintf(m->host, sizeof(m->host), "%s", host);
	session_token(m->session);
	m->bev = bufferevent_socket_new(dp->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (m->bev == NULL) {
		dp_addr_release(dp, host);
		evutil_closesocket(fd);
		free(m);
		return;
	}
	bufferevent_setcb(m->bev, miner_read_cb, miner_write_cb,
	    miner_event_cb, m);
	bufferevent_enable(m->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&dp->miners, m, entry);
	mhash_insert(dp, m);
	dp->n_miners++;
	log_info("miner_connected", "{s:I,s:s}", "miner", (json_int_t)m->id,
	    "address", m->addr);
}

static void
en1_release(struct miner *m)
{
	struct dp *dp = m->dp;
	uint32_t v = 0;
	size_t i;

	if (dp->en1_used == NULL || m->en1_len != dp->en1_size ||
	    m->en1_len == 0 || m->en1_len > 2)
		return;
	for (i = 0; i < m->en1_len; i++)
		v = v << 8 | m->en1[i];
	dp->en1_used[v >> 3] &= (uint8_t)~(1u << (v & 7));
}

/* The socket goes, and with it the miner's place in the connection
 * counts (a ghost keeps only its max_miners place). */
static void
miner_drop_conn(struct miner *m)
{
	struct dp *dp = m->dp;

	if (m->bev == NULL)
		return;
	bufferevent_free(m->bev);
	m->bev = NULL;
	dp->n_miners--;
	dp_addr_release(dp, m->host);
}

static void
miner_uncount(struct miner *m)
{
	if (m->counted && m->pool >= 0)
		m->dp->pools[m->pool].n_miners--;
	m->counted = false;
}

void
miner_free(struct miner *m)
{
	struct dp *dp;
	size_t i;

	if (m == NULL)
		return;
	dp = m->dp;
	if (m->ev_queued)
		dp_events_flush(dp);	/* m leaves the batch list */
	if (m->state == M_GHOST && !m->dead)
		dp->n_ghosts--;
	miner_uncount(m);
	for (i = 0; i < dp->n_pools; i++) {
		upstream_free(m->ups[i]);
		m->ups[i] = NULL;
	}
	miner_drop_conn(m);
	en1_release(m);
	mhash_remove(dp, m);
	TAILQ_REMOVE(&dp->miners, m, entry);
	free(m);
	dp->n_freed++;
}

/*
 * The one way a miner connection ends.  An authorized miner becomes a
 * ghost for the reconnect grace: power-cycling ASICs come back within
 * seconds, and they should find their pool, sessions and stats as they
 * left them.
 */
void
miner_close(struct miner *m, const char *why)
{
	struct dp *dp = m->dp;

	if (m->state == M_GHOST)
		return;
	log_info("miner_disconnected", "{s:I,s:s,s:s,s:s,s:s}", "miner",
	    (json_int_t)m->id, "worker", m->worker, "address", m->addr,
	    "pool", pool_key(dp, m->pool), "reason", why);
	if (m->ev_queued)
		dp_events_flush(dp);	/* its shares before its end */
	dp_event(dp, "miner_disconnected", m, pool_key(dp, m->pool), NULL,
	    NULL, why, 0);
	miner_drop_conn(m);
	miner_uncount(m);
	if (m->worker[0] != '\0' && dp->cfg.reconnect_grace_seconds > 0 &&
	    !dp->stopping) {
		miner_set_state(m, M_GHOST);
		dp->n_ghosts++;
		m->ghost_until_ms = clock_mono_ms() +
		    (uint64_t)dp->cfg.reconnect_grace_seconds * 1000;
		return;
	}
	/* Freed at the next tick, never here: the caller may be deep in a
	 * callback that still holds m. */
	m->dead = true;
	miner_set_state(m, M_GHOST);
	m->ghost_until_ms = 0;
}

void
miner_close_after_flush(struct miner *m, const char *why)
{
	if (m->bev == NULL || m->state == M_GHOST)
		return;
	if (evbuffer_get_length(bufferevent_get_output(m->bev)) == 0) {
		miner_close(m, why);
		return;
	}
	/* the write callback closes once the output is gone, the tick
	 * if the miner does not read it */
	m->close_why = why;
	m->closing_until_ms = clock_mono_ms() + DP_CLOSE_FLUSH_MS;
	miner_set_state(m, M_CLOSING);
}

static void
miner_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct miner *m = arg;

	(void)bev;
	if (what & BEV_EVENT_EOF)
		miner_close(m, "closed by miner");
	else if (what & BEV_EVENT_ERROR)
		miner_close(m, evutil_socket_error_to_string(
		    EVUTIL_SOCKET_ERROR()));
}

static void
miner_write_cb(struct bufferevent *bev, void *arg)
{
	struct miner *m = arg;

	(void)bev;
	/* the last words (client.reconnect, errors) have left: close */
	if (m->state == M_CLOSING &&
	    evbuffer_get_length(bufferevent_get_output(m->bev)) == 0)
		miner_close(m, m->close_why ? m->close_why :
		    "reconnect requested");
}

/* ---- work ----------------------------------------------------------- */

static struct upstream *
miner_session(struct miner *m, int idx)
{
	struct dp *dp = m->dp;
	struct pool *p;

	if (idx < 0 || (size_t)idx >= dp->n_pools)
		return NULL;
	p = &dp->pools[idx];
	if (dp->cfg.upstream_mode == UPSTREAM_AGGREGATE)
		return p->probe;
	if (m->ups[idx] == NULL && m->worker[0] != '\0' && p->cfg.enabled) {
		m->ups[idx] = upstream_new(p, m);
		if (m->ups[idx])
			upstream_start(m->ups[idx]);
	}
	return m->ups[idx];
}

static bool
view_eq(const struct xn_view *a, const struct xn_view *b)
{
	return a->en1_len == b->en1_len && a->en2_size == b->en2_size &&
	    memcmp(a->en1, b->en1, a->en1_len) == 0;
}

static void
write_difficulty(struct miner *m, double d)
{
	json_t *v;

	/* Forward the pool's value unchanged (never round: a pool at
	 * 0.00001 must not become 1); whole numbers go out as integers
	 * for firmware that reads an int. */
	if (d == floor(d) && d < 9e15)
		v = json_integer((json_int_t)d);
	else
		v = json_real(d);
	send_notification(m, "mining.set_difficulty", json_pack("[o]", v));
	m->diff_sent = d;
	log_debug("difficulty_forwarded", "{s:I,s:s,s:f}", "miner",
	    (json_int_t)m->id, "worker", m->worker, "difficulty", d);
}

/*
 * The work number for the next issue of uj to m (xn.c): 0 the first time
 * the miner gets this job, then one more at every re-issue (a switch back
 * inside one pool job, a keepalive re-send, a resume), so firmware that
 * restarts its search on every notify never searches the same space
 * twice.  Jobs from a pool only ever get newer, so remembering the newest
 * one per pool is enough.
 */
static uint64_t
miner_next_work(struct miner *m, const struct ujob *uj, uint64_t count)
{
	int idx = uj->up->pool->idx;
	uint64_t w;

	if (m->work[idx].serial != uj->serial) {
		m->work[idx].serial = uj->serial;
		m->work[idx].next = 0;
	}
	w = m->work[idx].next;
	if (w >= count) {
		/* Hundreds of re-issues of one job: the pool has stopped
		 * sending jobs.  The same work again is all that is left;
		 * the duplicates it may bring are caught and counted. */
		dp_count_limit(m->dp, LIM_WORK, m->worker);
		return count - 1;
	}
	m->work[idx].next = w + 1;
	return w;
}

/* Send uj to the miner under a fresh job id; every control message it
 * needs goes first, in one write (set_extranonce / set_version_mask,
 * set_difficulty, notify). */
static void
miner_send_job(struct miner *m, struct ujob *uj, bool clean)
{
	struct dp *dp = m->dp;
	struct xn_view want;
	struct xn_pool xp;
	struct xn_prefix pre;
	struct job view;
	uint8_t *cb1 = NULL;
	uint64_t id, work, count;
	json_t *params;
	bool view_clean;
	struct pool *p = uj->up ? uj->up->pool : NULL;

	if (m->bev == NULL || m->state != M_AUTHORIZED || p == NULL)
		return;
	ujob_xn_pool(uj, &xp);
	if (xn_desired_view(m->en1, m->en1_len, m->en2_size, &xp,
	    &want) == -1) {
		int other = dp_pick_pool(dp, p->idx);

		/* no extranonce layout fits: this pool cannot take the
		 * miner, so it works elsewhere rather than idle */
		log_warn("extranonce_unusable", "{s:I,s:s,s:s,s:i,s:i}",
		    "miner", (json_int_t)m->id, "worker", m->worker, "pool",
		    p->cfg.key, "pool_en2_size", (int)uj->en2_size,
		    "miner_en1_size", (int)m->en1_len);
		if (other >= 0 && m->pool == p->idx)
			miner_assign(m, other, SW_FAILOVER);
		return;
	}
	if (!view_eq(&want, &m->cur)) {
		char en1hex[2 * EXTRANONCE_MAX + 1];

		/* Fallback: the pool's extranonce2 space cannot hold the
		 * miner's.  Only miners that said they take set_extranonce
		 * get it (cgminer 4.11 ignores it and every later share
		 * would be rejected); the others are asked to reconnect
		 * and get sizes that fit at the next subscribe. */
		if (!m->xnsub) {
			dp->c.fallbacks[FB_RECONNECT]++;
			log_info("extranonce_fallback", "{s:I,s:s,s:s,s:s}",
			    "miner", (json_int_t)m->id, "worker", m->worker,
			    "pool", p->cfg.key, "kind", "reconnect");
			send_notification(m, "client.reconnect", json_array());
			miner_close_after_flush(m, "reconnect requested");
			return;
		}
		dp->c.fallbacks[FB_SET_EXTRANONCE]++;
		log_info("extranonce_fallback", "{s:I,s:s,s:s,s:s,s:i}",
		    "miner", (json_int_t)m->id, "worker", m->worker, "pool",
		    p->cfg.key, "kind", "set_extranonce", "en2_size",
		    (int)want.en2_size);
		hex_encode(want.en1, want.en1_len, en1hex);
		send_notification(m, "mining.set_extranonce",
		    json_pack("[si]", en1hex, (int)want.en2_size));
		m->prev = m->cur;
		m->cur = want;
		m->cur.from_job = dp->next_job_id;
		clean = true;	/* applies from the next notify */
	}
	if ((count = xn_work_count(&xp, &m->cur)) == 0)
		return;
	work = miner_next_work(m, uj, count);
	if (xn_prefix(&xp, &m->cur, work, &pre) == -1)
		return;
	if (m->rolling) {
		uint32_t mask = m->mask_req & uj->mask;
		char mh[9];

		/* set_version_mask is valid at once (BIP 310) */
		if (mask != m->mask_sent) {
			hex_from_u32(mask, mh);
			send_notification(m, "mining.set_version_mask",
			    json_pack("[s]", mh));
			m->mask_sent = mask;
		}
	}
	if (uj->difficulty != m->diff_sent)
		write_difficulty(m, uj->difficulty);

	view_clean = clean || m->need_clean || uj->job.clean;
	if (!clean && !m->need_clean && work == 0 && uj->bcast_line != NULL &&
	    uj->bcast_plen == pre.plen) {
		/* the common case of a fan-out: one line for everyone */
		evbuffer_add(mout(m), uj->bcast_line, uj->bcast_len);
		dp->c.msgs_miner_out++;
		id = uj->bcast_id;
		goto sent;
	}
	view = uj->job;
	view.ntime = uj->job.ntime + pre.ntime_off;
	if (pre.plen > 0) {
		if ((cb1 = malloc(uj->job.coinb1_len + pre.plen)) == NULL)
			return;
		memcpy(cb1, uj->job.coinb1, uj->job.coinb1_len);
		memcpy(cb1 + uj->job.coinb1_len, pre.bytes, pre.plen);
		view.coinb1 = cb1;
		view.coinb1_len = uj->job.coinb1_len + pre.plen;
	}
	if ((id = jobs_issue(dp, uj, work)) == 0) {
		free(cb1);
		return;
	}
	snprintf(view.id, sizeof(view.id), "%" PRIx64, id);
	view.clean = view_clean;
	params = job_to_notify(&view);
	free(cb1);
	if (params == NULL)
		return;
	if (!clean && !m->need_clean && work == 0 && uj->bcast_line == NULL) {
		/* first miner of this job with the usual layout: keep the
		 * encoded line for the others */
		uj->bcast_line = stratum_encode_notification("mining.notify",
		    params, &uj->bcast_len);
		if (uj->bcast_line != NULL) {
			uj->bcast_id = id;
			uj->bcast_plen = pre.plen;
			evbuffer_add(mout(m), uj->bcast_line, uj->bcast_len);
			dp->c.msgs_miner_out++;
			goto sent;
		}
		params = job_to_notify(&view);	/* stolen above: rebuild */
		if (params == NULL)
			return;
	}
	send_notification(m, "mining.notify", params);
sent:
	m->need_clean = false;
	m->last_job_id = id;
	m->last_send_ms = clock_mono_ms();
	p->c.jobs_forwarded++;
	log_debug("job_forwarded",
	    "{s:I,s:s,s:s,s:I,s:s,s:b,s:f,s:I}", "miner",
	    (json_int_t)m->id, "worker", m->worker, "pool", p->cfg.key,
	    "job", (json_int_t)id, "pool_job", uj->job.id, "clean",
	    view_clean, "difficulty", uj->difficulty, "work",
	    (json_int_t)work);
	miner_flush_check(m);
}

void
miner_job(struct miner *m, struct upstream *up, struct ujob *uj)
{
	if (m->pool != up->pool->idx)
		return;
	miner_send_job(m, uj, false);
}

int
miner_assign(struct miner *m, int idx, enum switch_reason why)
{
	struct dp *dp = m->dp;
	struct upstream *up;
	int from = m->pool;

	if (idx < 0 || (size_t)idx >= dp->n_pools)
		return -1;
	if (idx == m->pool)
		return 0;
	miner_uncount(m);
	m->pool = idx;
	m->assigned_ms = clock_mono_ms();
	if (m->state != M_GHOST) {
		dp->pools[idx].n_miners++;
		m->counted = true;
	}
	if (from >= 0) {
		dp->c.switches[why]++;
		log_info("pool_switched", "{s:I,s:s,s:s,s:s,s:s}", "miner",
		    (json_int_t)m->id, "worker", m->worker, "from",
		    pool_key(dp, from), "to", pool_key(dp, idx), "reason",
		    switch_reason_str(why));
		dp_event(dp, "switch_done", m, pool_key(dp, idx),
		    pool_key(dp, from), NULL, switch_reason_str(why), 0);
	}
	/* Jobs of the old pool stay routable: shares in flight still go
	 * to the pool that issued them. */
	m->need_clean = true;
	up = miner_session(m, idx);
	if (upstream_usable(up))
		miner_send_job(m, up->newest, true);
	return 0;
}

/* ---- shares --------------------------------------------------------- */

void
miner_share_answer(struct dp *dp, uint64_t miner_id, json_t *req_id,
    struct pool *p, double difficulty, bool accepted, int code,
    const char *text, uint64_t latency_us, int rej)
{
	struct miner *m = miner_find(dp, miner_id);
	struct pool_counters *c = &p->c;
	double lat = latency_us / 1e6;
	size_t i;

	if (accepted) {
		c->accepted++;
		c->accepted_diff += difficulty;
	} else {
		if (rej < 0)
			rej = reject_from_code(code);
		dp_count_reject(dp, m, p, REJ_WHERE_POOL,
		    (enum reject_reason)rej);
	}
	if (latency_us > 0) {
		for (i = 0; i < metric_latency_nbounds &&
		    i < LATENCY_BUCKETS; i++)
			if (lat <= metric_latency_bounds[i])
				c->lat_buckets[i]++;
		c->lat_count++;
		c->lat_sum += lat;
	}
	if (m != NULL) {
		if (accepted) {
			m->accepted[p->idx]++;
			m->accepted_diff[p->idx] += difficulty;
			m->rate_acc += difficulty;
		}
		m->last_share_ms = clock_mono_ms();
		if (m->bev != NULL) {
			if (accepted) {
				stratum_write_true(mout(m), req_id);
				dp->c.msgs_miner_out++;
			}
			else
				reply_error(m, req_id, code ? code :
				    STRATUM_ERR_OTHER, text ? text : "Rejected");
		}
	}
	log_event(accepted ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, "share_result",
	    "{s:I,s:s,s:s,s:f,s:s,s:i,s:s,s:s,s:f}", "miner",
	    (json_int_t)miner_id, "worker", m ? m->worker : "", "pool",
	    p->cfg.key, "difficulty", difficulty, "result", accepted ?
	    "accepted" : "rejected", "code", code, "reason", accepted ? "" :
	    (text ? text : reject_reason_str(rej)), "where",
	    reject_where_str(REJ_WHERE_POOL), "latency_ms",
	    latency_us / 1000.0);
	if (accepted && m != NULL)
		dp_share_event(dp, m, p->idx, difficulty);
	else if (accepted)
		dp_event(dp, "share_result", NULL, p->cfg.key, NULL,
		    "accepted", "", difficulty);
	else
		dp_reject_event(dp, m, p->cfg.key, REJ_WHERE_POOL,
		    (enum reject_reason)rej, difficulty);
}

/* A share refused here, before the pool: answered and counted. */
static void
local_reject(struct miner *m, json_t *id, struct pool *p, int code,
    const char *text)
{
	struct dp *dp = m->dp;
	enum reject_reason rej = (enum reject_reason)reject_from_code(code);

	dp_count_reject(dp, m, p, REJ_WHERE_LOCAL, rej);
	reply_error(m, id, code, text);
	log_info("share_result", "{s:I,s:s,s:s,s:s,s:i,s:s,s:s}", "miner",
	    (json_int_t)m->id, "worker", m->worker, "pool", p ? p->cfg.key :
	    "", "result", "rejected", "code", code, "reason", text, "where",
	    reject_where_str(REJ_WHERE_LOCAL));
	if (p != NULL)
		dp_reject_event(dp, m, p->cfg.key, REJ_WHERE_LOCAL, rej, 0);
}

static int
parse_job_id(const char *s, uint64_t *id)
{
	size_t n = strlen(s), i;
	uint64_t v = 0;

	if (n == 0 || n > 16)
		return -1;
	for (i = 0; i < n; i++) {
		int c = s[i], d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			return -1;
		v = v << 4 | (uint64_t)d;
	}
	*id = v;
	return 0;
}

static int
m_submit(struct miner *m, struct stratum_msg *msg)
{
	struct dp *dp = m->dp;
	struct stratum_submit s;
	struct share_submit sub;
	struct share_ctx ctx;
	struct share_verdict v;
	const struct xn_view *view;
	struct ujob *uj;
	struct upstream *up;
	struct pool *p;
	struct xn_pool xp;
	struct xn_prefix pre;
	uint8_t full[3 * EXTRANONCE_MAX];
	size_t fulllen;
	char err[128], en2up[2 * 3 * EXTRANONCE_MAX + 1];
	uint64_t jid, work, now = clock_mono_ms();
	bool stale;
	int seen;

	if (m->state == M_CONNECTED) {
		local_reject(m, msg->id, NULL, STRATUM_ERR_NOT_SUBSCRIBED,
		    "Not subscribed");
		return 0;
	}
	if (m->state != M_AUTHORIZED) {
		local_reject(m, msg->id, NULL, STRATUM_ERR_UNAUTHORIZED,
		    "Unauthorized worker");
		return 0;
	}
	if (stratum_parse_submit(msg->params, &s, err, sizeof(err)) == -1) {
		local_reject(m, msg->id, NULL, STRATUM_ERR_OTHER, err);
		return 0;
	}
	if (strcmp(s.worker, m->user) != 0) {
		local_reject(m, msg->id, NULL, STRATUM_ERR_UNAUTHORIZED,
		    "Worker mismatch");
		return 0;
	}
	if (parse_job_id(s.job_id, &jid) == -1 || jid > m->last_job_id ||
	    (uj = jobs_find(dp, jid, &work)) == NULL ||
	    (up = uj->up) == NULL) {
		local_reject(m, msg->id, NULL, STRATUM_ERR_STALE,
		    "Job not found");
		return 0;
	}
	p = up->pool;
	/* A job belongs to the session that issued it: this miner's own
	 * session (per_miner) or the pool's shared one (aggregate). */
	if (up->miner != NULL ? up->miner != m : up != p->probe) {
		local_reject(m, msg->id, p, STRATUM_ERR_STALE,
		    "Job not found");
		return 0;
	}
	stale = uj->stale_at_ms != 0 && now > uj->stale_at_ms;
	view = jid >= m->cur.from_job ? &m->cur : &m->prev;
	ujob_xn_pool(uj, &xp);
	if (xn_prefix(&xp, view, work, &pre) == -1) {
		local_reject(m, msg->id, p, STRATUM_ERR_STALE,
		    "Job not found");
		return 0;
	}
	sub.en2_hex = s.en2;
	sub.ntime_hex = s.ntime;
	sub.nonce_hex = s.nonce;
	/* Miners that never negotiated rolling may still send 6 params
	 * with zero bits; that is harmless. */
	sub.vbits_hex = s.vbits;
	if (!m->rolling && s.vbits && strcmp(s.vbits, "00000000") == 0)
		sub.vbits_hex = NULL;
	ctx.job = &uj->job;
	ctx.en1 = pre.bytes;
	ctx.en1_len = pre.len;
	ctx.en2_size = view->en2_size;
	ctx.difficulty = uj->difficulty;
	ctx.version_mask = m->rolling ? (m->mask_req & uj->mask) : 0;
	share_check(&ctx, &sub, &v);
	if (v.block_candidate) {
		p->c.block_candidates++;
		log_warn("block_candidate", "{s:I,s:s,s:s,s:s,s:f}", "miner",
		    (json_int_t)m->id, "worker", m->worker, "pool",
		    p->cfg.key, "job", uj->job.id, "share_difficulty",
		    v.share_diff);
	}
	if (!v.block_candidate) {
		if (stale) {
			local_reject(m, msg->id, p, STRATUM_ERR_STALE,
			    "Stale job");
			return 0;
		}
		if (v.result != SHARE_OK) {
			local_reject(m, msg->id, p, share_result_code(v.result),
			    share_result_str(v.result));
			return 0;
		}
	} else if (v.result != SHARE_OK && v.result != SHARE_LOW_DIFFICULTY) {
		local_reject(m, msg->id, p, share_result_code(v.result),
		    share_result_str(v.result));
		return 0;
	}
	if ((seen = ujob_seen(dp, uj, v.hash)) == 1) {
		local_reject(m, msg->id, p, STRATUM_ERR_DUPLICATE,
		    "Duplicate share");
		return 0;
	}
	/* upstream en2 = everything the pool did not give itself */
	if ((fulllen = xn_upstream_en2(&xp, &pre, v.en2, v.en2_len, full,
	    sizeof(full))) == 0) {
		local_reject(m, msg->id, p, STRATUM_ERR_OTHER,
		    "Invalid extranonce2 length");
		return 0;
	}
	hex_encode(full, fulllen, en2up);
	switch (upstream_submit(up, m, msg->id, uj, en2up, v.ntime, v.nonce,
	    sub.vbits_hex != NULL, v.vbits)) {
	case 0:
		break;
	case -2:
		/* the pool is slower than the miners: say so, honestly */
		local_reject(m, msg->id, p, STRATUM_ERR_OTHER,
		    "Too many shares in flight to the pool");
		break;
	default:
		local_reject(m, msg->id, p, STRATUM_ERR_OTHER,
		    "Pool not connected");
		break;
	}
	return 0;
}

/* ---- setup methods -------------------------------------------------- */

static uint32_t
offered_mask(struct miner *m)
{
	struct dp *dp = m->dp;
	int idx = m->pool >= 0 ? m->pool : dp_newcomer_pool(dp);
	struct upstream *pr;

	if (idx >= 0 && (pr = dp->pools[idx].probe) != NULL && pr->subscribed)
		return m->mask_req & pr->mask;
	return m->mask_req & 0x1fffe000;	/* BIP 320 bits */
}

static int
m_configure(struct miner *m, struct stratum_msg *msg)
{
	struct stratum_configure c;
	char err[128], mh[9];
	json_t *res;

	if (stratum_parse_configure(msg->params, &c, err, sizeof(err)) == -1) {
		reply_error(m, msg->id, STRATUM_ERR_OTHER, err);
		return 0;
	}
	res = json_object();
	if (c.version_rolling) {
		m->mask_req = c.mask;
		m->rolling = true;
		m->mask_sent = offered_mask(m);
		hex_from_u32(m->mask_sent, mh);
		json_object_set_new(res, "version-rolling", json_true());
		json_object_set_new(res, "version-rolling.mask",
		    json_string(mh));
	}
	if (c.minimum_difficulty)
		/* the pool sets difficulty; we do not raise it */
		json_object_set_new(res, "minimum-difficulty", json_false());
	if (c.subscribe_extranonce) {
		m->xnsub = true;
		json_object_set_new(res, "subscribe-extranonce", json_true());
	}
	reply_result(m, msg->id, res);
	return 0;
}

static void
miner_adopt(struct miner *m, struct miner *g, bool take_en1)
{
	struct dp *dp = m->dp;
	size_t i;

	/* The returning miner takes over the ghost's identity, pool,
	 * sessions and statistics: the scheduler sees one miner. */
	log_info("miner_resumed", "{s:I,s:I,s:s,s:s}", "miner",
	    (json_int_t)g->id, "connection", (json_int_t)m->id, "worker",
	    g->worker, "pool", pool_key(dp, g->pool));
	mhash_remove(dp, m);
	if (!take_en1)
		en1_release(g);
	else
		en1_release(m);
	/* m keeps the token it was given at this subscribe: the one the
	 * firmware now holds, and one a thief of the old one cannot use */
	m->id = g->id;
	if (take_en1) {
		memcpy(m->en1, g->en1, g->en1_len);
		m->en1_len = g->en1_len;
		m->en1_set = true;
	}
	for (i = 0; i < dp->n_pools; i++) {
		m->ups[i] = g->ups[i];
		g->ups[i] = NULL;
		if (m->ups[i])
			m->ups[i]->miner = m;
		m->accepted[i] = g->accepted[i];
		memcpy(m->rejected[i], g->rejected[i],
		    sizeof(m->rejected[i]));
		m->accepted_diff[i] = g->accepted_diff[i];
	}
	/* the firmware restarts its search on the job it gets now: the
	 * work numbers go on from where the ghost left them */
	memcpy(m->work, g->work, sizeof(m->work));
	m->pool = g->pool;
	m->counted = false;
	m->assigned_ms = g->assigned_ms;
	m->connected_ms = g->connected_ms;
	m->rate_diff = g->rate_diff;
	m->rate_ms = g->rate_ms;
	g->pool = -1;
	g->en1_len = 0;		/* released or taken over above */
	/* it takes the ghost's place too: dp->miners stays in id order,
	 * which GetState's paging relies on */
	TAILQ_REMOVE(&dp->miners, m, entry);
	TAILQ_INSERT_BEFORE(g, m, entry);
	miner_free(g);
	mhash_insert(dp, m);
}

static struct miner *
find_ghost(struct dp *dp, const char *session, const char *user)
{
	struct miner *g;

	/* a fleet connecting has no ghosts: do not scan it per authorize */
	if (dp->n_ghosts == 0)
		return NULL;
	TAILQ_FOREACH(g, &dp->miners, entry) {
		if (g->state != M_GHOST || g->dead)
			continue;
		if (session && strcmp(g->session, session) == 0)
			return g;
		if (user && strcmp(g->user, user) == 0)
			return g;
	}
	return NULL;
}

/* The ghost a resume token named at subscribe, if it is still there and
 * belongs to the worker now authorizing: a token alone proves nothing
 * (it crossed the network in clear), so it only picks among the ghosts
 * the worker could resume by name anyway. */
static struct miner *
token_ghost(struct miner *m)
{
	struct miner *g;
	uint64_t id = m->resume_id;

	m->resume_id = 0;
	if (id == 0 || (g = miner_find(m->dp, id)) == NULL ||
	    g->state != M_GHOST || g->dead)
		return NULL;
	if (strcmp(g->user, m->user) != 0) {
		log_warn("miner_resume_refused", "{s:I,s:s,s:s,s:s}", "miner",
		    (json_int_t)m->id, "address", m->addr, "user", m->user,
		    "reason", "session id of another worker");
		return NULL;
	}
	return g;
}

static int
en1_assign(struct miner *m)
{
	struct dp *dp = m->dp;
	uint32_t v, tries, space;
	size_t i;

	m->en1_len = dp->en1_size;
	if (m->en1_len == 0)
		return 0;
	if (dp->en1_used == NULL) {
		/* per_miner: the pool's own en1 keeps sessions apart; ours
		 * only needs to exist (empty en1 upsets some firmware) */
		v = dp->next_en1++;
		for (i = 0; i < m->en1_len; i++)
			m->en1[m->en1_len - 1 - i] = (uint8_t)(v >> (8 * i));
		return 0;
	}
	space = 1u << (8 * m->en1_len);
	for (tries = 0; tries < space; tries++) {
		v = dp->next_en1++ & (space - 1);
		if (!(dp->en1_used[v >> 3] & (1u << (v & 7))))
			break;
	}
	if (tries == space)
		return -1;
	dp->en1_used[v >> 3] |= (uint8_t)(1u << (v & 7));
	for (i = 0; i < m->en1_len; i++)
		m->en1[m->en1_len - 1 - i] = (uint8_t)(v >> (8 * i));
	return 0;
}

static void
miner_start_work(struct miner *m)
{
	struct dp *dp = m->dp;
	struct upstream *up;
	int idx = m->pool;
	size_t i;

	miner_set_state(m, M_AUTHORIZED);
	if (dp->cfg.upstream_mode == UPSTREAM_PER_MINER)
		for (i = 0; i < dp->n_pools; i++)
			miner_session(m, (int)i);
	if (idx < 0 || !dp->pools[idx].up)
		idx = dp_newcomer_pool(dp);
	if (idx < 0)
		idx = dp_pick_pool(dp, -1);
	if (idx < 0) {
		log_warn("miner_no_pool", "{s:I,s:s}", "miner",
		    (json_int_t)m->id, "worker", m->worker);
		return;
	}
	if (m->pool == idx) {
		/* resumed: count it and give it work again */
		if (!m->counted) {
			dp->pools[idx].n_miners++;
			m->counted = true;
		}
		m->need_clean = true;
		up = miner_session(m, idx);
		if (upstream_usable(up))
			miner_send_job(m, up->newest, true);
		return;
	}
	miner_assign(m, idx, SW_OTHER);
}

static int
m_subscribe(struct miner *m, struct stratum_msg *msg)
{
	struct dp *dp = m->dp;
	json_t *agent = json_array_get(msg->params, 0);
	json_t *sess = json_array_get(msg->params, 1);
	struct miner *g = NULL;
	char en1hex[2 * EXTRANONCE_MAX + 1];
	json_t *res;

	if (m->state == M_CONNECTED) {
		if (json_is_string(agent))
			snprintf(m->agent, sizeof(m->agent), "%s",
			    json_string_value(agent));
		/* A resume token is only remembered here: the session is
		 * taken over at authorize, if the worker is the ghost's. */
		if (json_is_string(sess) && m->user[0] == '\0' &&
		    (g = find_ghost(dp, json_string_value(sess), NULL)) != NULL)
			m->resume_id = g->id;
		if (!m->en1_set) {
			if (en1_assign(m) == -1) {
				dp_count_limit(dp, LIM_MINERS, "extranonce1");
				reply_error(m, msg->id, STRATUM_ERR_OTHER,
				    "No extranonce space left");
				return 0;
			}
			m->en1_set = true;
			m->en2_size = dp->en2_size;
		} else
			m->en2_size = dp->en2_size;
		memcpy(m->cur.en1, m->en1, m->en1_len);
		m->cur.en1_len = m->en1_len;
		m->cur.en2_size = m->en2_size;
		m->cur.from_job = 0;
		m->prev = m->cur;
		miner_set_state(m, M_SUBSCRIBED);
	}
	/* a repeated subscribe gets the same answer: values are fixed */
	hex_encode(m->en1, m->en1_len, en1hex);
	res = json_pack("[[[ss][ss]]si]", "mining.set_difficulty", m->session,
	    "mining.notify", m->session, en1hex, (int)m->en2_size);
	reply_result(m, msg->id, res);
	if (m->user[0] != '\0' && m->state == M_SUBSCRIBED)
		miner_start_work(m);	/* authorize came first */
	return 0;
}

static int
m_extranonce_subscribe(struct miner *m, struct stratum_msg *msg)
{
	m->xnsub = true;
	reply_result(m, msg->id, json_true());
	return 0;
}

static int
m_authorize(struct miner *m, struct stratum_msg *msg)
{
	struct dp *dp = m->dp;
	json_t *u = json_array_get(msg->params, 0);
	const char *user, *dot;
	struct miner *g;

	if (!json_is_string(u) || json_string_length(u) == 0 ||
	    json_string_length(u) >= sizeof(m->user)) {
		reply_error(m, msg->id, STRATUM_ERR_UNAUTHORIZED,
		    "Invalid worker name");
		return 0;
	}
	user = json_string_value(u);
	if (m->user[0] != '\0') {
		/* one worker per connection, like the pools */
		if (strcmp(user, m->user) == 0)
			reply_result(m, msg->id, json_true());
		else
			reply_error(m, msg->id, STRATUM_ERR_UNAUTHORIZED,
			    "Already authorized as another worker");
		return 0;
	}
	snprintf(m->user, sizeof(m->user), "%s", user);
	dot = strchr(user, '.');
	snprintf(m->worker, sizeof(m->worker), "%s", dot && dot[1] ?
	    dot + 1 : user);
	/* the ghost the token named, else any of this user's (a
	 * power-cycled ASIC rarely sends its session id) */
	if ((g = token_ghost(m)) != NULL ||
	    (g = find_ghost(dp, NULL, m->user)) != NULL)
		/* not subscribed yet: the ghost's en1 can still be its own */
		miner_adopt(m, g, m->state == M_CONNECTED && !m->en1_set &&
		    g->en1_len == dp->en1_size);
	reply_result(m, msg->id, json_true());
	log_info("miner_authorized", "{s:I,s:s,s:s,s:s}", "miner",
	    (json_int_t)m->id, "worker", m->worker, "user", m->user, "agent",
	    m->agent);
	dp_event(dp, "miner_connected", m, "", NULL, NULL, NULL, 0);
	if (m->state == M_SUBSCRIBED)
		miner_start_work(m);
	return 0;
}

static int
m_suggest_difficulty(struct miner *m, struct stratum_msg *msg)
{
	double d;
	char err[128];
	size_t i;

	if (stratum_parse_difficulty(msg->params, &d, err, sizeof(err))) {
		reply_error(m, msg->id, STRATUM_ERR_OTHER, err);
		return 0;
	}
	m->suggested = d;
	for (i = 0; i < m->dp->n_pools; i++)
		if (m->ups[i])
			upstream_suggest_difficulty(m->ups[i], d);
	/* ESP-Miner takes any reply as a setup reply: true is safe */
	reply_result(m, msg->id, json_true());
	return 0;
}

static int
m_ignore(struct miner *m, struct stratum_msg *msg)
{
	if (msg->kind == STRATUM_REQUEST)
		reply_result(m, msg->id, json_true());
	return 0;
}

static const struct {
	const char *method;
	int (*fn)(struct miner *, struct stratum_msg *);
} miner_methods[] = {
	{ "mining.submit",		m_submit },
	{ "mining.configure",		m_configure },
	{ "mining.subscribe",		m_subscribe },
	{ "mining.authorize",		m_authorize },
	{ "mining.extranonce.subscribe", m_extranonce_subscribe },
	{ "mining.suggest_difficulty",	m_suggest_difficulty },
	{ "mining.multi_version",	m_ignore },
};

static void
miner_read_cb(struct bufferevent *bev, void *arg)
{
	struct miner *m = arg;
	struct dp *dp = m->dp;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct stratum_msg msg;
	char reason[128], text[160];
	size_t i;

	while (m->bev != NULL) {
		if (m->state == M_CLOSING) {
			/* only our last words matter now; what it still
			 * sends is dropped, not kept */
			evbuffer_drain(in, evbuffer_get_length(in));
			return;
		}
		switch (stratum_read(in, dp->cfg.max_line, &msg, reason,
		    sizeof(reason))) {
		case STRATUM_READ_AGAIN:
			return;
		case STRATUM_READ_OVERFLOW:
			dp_count_limit(dp, LIM_LINE, m->addr);
			snprintf(text, sizeof(text), "Line too long (over %zu "
			    "bytes)", dp->cfg.max_line);
			reply_error(m, json_null(), STRATUM_ERR_OTHER, text);
			miner_close_after_flush(m, "line too long");
			continue;
		case STRATUM_READ_BAD:
			snprintf(text, sizeof(text), "Malformed message: %s",
			    reason);
			log_warn("miner_bad_message", "{s:I,s:s,s:s}",
			    "miner", (json_int_t)m->id, "address", m->addr,
			    "reason", reason);
			reply_error(m, json_null(), STRATUM_ERR_OTHER, text);
			if (++m->garbage >= DP_GARBAGE_RESET) {
				dp_count_limit(dp, LIM_GARBAGE, m->addr);
				miner_close_after_flush(m, "repeated garbage");
			}
			continue;
		case STRATUM_READ_MSG:
			break;
		}
		dp->c.msgs_miner_in++;
		m->garbage = 0;
		if (msg.kind == STRATUM_RESPONSE) {
			/* answers to our pings and get_version: nothing to
			 * do, any line is a sign of life */
			stratum_msg_clear(&msg);
			continue;
		}
		for (i = 0; i < sizeof(miner_methods) /
		    sizeof(miner_methods[0]); i++)
			if (strcmp(msg.method, miner_methods[i].method) == 0)
				break;
		if (i < sizeof(miner_methods) / sizeof(miner_methods[0]))
			miner_methods[i].fn(m, &msg);
		else if (msg.kind == STRATUM_REQUEST) {
			snprintf(text, sizeof(text), "Unknown method %.100s",
			    msg.method);
			reply_error(m, msg.id, STRATUM_ERR_OTHER, text);
		}
		stratum_msg_clear(&msg);
		/* a handler may have closed the miner (never freed here) */
		if (m->bev == NULL || miner_flush_check(m) == -1)
			return;
	}
}

/* ---- periodic ------------------------------------------------------- */

double
miner_hashrate(const struct miner *m, uint64_t now_ms)
{
	(void)now_ms;
	/* difficulty-1 share = 2^32 hashes (docs/PROTOCOL.md 4) */
	return m->rate_diff * 4294967296.0;
}

void
miner_tick(struct miner *m, uint64_t now_ms)
{
	struct dp *dp = m->dp;
	struct upstream *up;
	double age, alpha;

	if (m->state == M_GHOST) {
		if (now_ms >= m->ghost_until_ms) {
			if (!m->dead)
				log_info("miner_expired", "{s:I,s:s}", "miner",
				    (json_int_t)m->id, "worker", m->worker);
			miner_free(m);
		}
		return;
	}
	if (m->state == M_CLOSING) {
		if (now_ms >= m->closing_until_ms)
			miner_close(m, m->close_why ? m->close_why :
			    "reconnect requested");
		return;
	}
	/* a connection that never gets to work holds a max_miners place
	 * for nothing */
	if (m->state != M_AUTHORIZED && dp->cfg.handshake_timeout_seconds > 0 &&
	    now_ms - m->accepted_ms >=
	    (uint64_t)dp->cfg.handshake_timeout_seconds * 1000) {
		dp_count_limit(dp, LIM_HANDSHAKE, m->addr);
		miner_close(m, "no subscribe and authorize in time");
		return;
	}
	/* hashrate: accepted difficulty per second, averaged over about a
	 * minute, and over the whole session while it is younger */
	if (m->rate_ms == 0)
		m->rate_ms = now_ms;
	if (now_ms - m->rate_ms >= 1000) {
		double secs = (now_ms - m->rate_ms) / 1000.0;

		age = (now_ms - m->connected_ms) / 1000.0;
		alpha = age < 60 ? secs / (age > secs ? age : secs) : secs / 60;
		if (alpha > 1)
			alpha = 1;
		m->rate_diff += alpha * (m->rate_acc / secs - m->rate_diff);
		m->rate_acc = 0;
		m->rate_ms = now_ms;
	}
	if (m->state != M_AUTHORIZED)
		return;
	if (m->pool < 0 || !dp->pools[m->pool].up) {
		int idx = dp_pick_pool(dp, m->pool);

		if (idx >= 0)
			miner_assign(m, idx, SW_FAILOVER);
		return;
	}
	up = miner_session(m, m->pool);
	/* Miners give up on a connection silent for ~90-120 s: keep
	 * sending work even when the pool has nothing new. */
	if (upstream_usable(up) && now_ms - m->last_send_ms > DP_KEEPALIVE_MS)
		miner_send_job(m, up->newest, false);
	else if (!upstream_usable(up) && dp->cfg.upstream_mode ==
	    UPSTREAM_PER_MINER && now_ms - m->assigned_ms > 5000) {
		/* its own session on this pool is gone: use another */
		int idx = dp_pick_pool(dp, m->pool);

		if (idx >= 0 && idx != m->pool &&
		    upstream_usable(miner_session(m, idx)))
			miner_assign(m, idx, SW_FAILOVER);
	}
}
