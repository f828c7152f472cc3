/*
 * upstream: sessions to the pools.  Each pool has a probe session that
 * learns its extranonce sizes, difficulty and liveness (and, in aggregate
 * mode, carries every miner's work); in per_miner mode each miner also has
 * one warm session per pool.  Messages a pool sends about its connection
 * (client.reconnect, set_extranonce) are the proxy's, never the miner's.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/util.h>

#include "clock.h"
#include "dataplane.h"
#include "hex.h"
#include "log.h"
#include "stratum.h"

#define UP_CONNECT_TIMEOUT_MS(dp) ((dp)->cfg.connect_timeout_ms ? \
	(dp)->cfg.connect_timeout_ms : 5000)

static void	up_read_cb(struct bufferevent *, void *);
static void	up_event_cb(struct bufferevent *, short, void *);
static void	up_timer_cb(evutil_socket_t, short, void *);
static void	up_dispatch_job(struct upstream *, struct ujob *);

const char *
up_state_str(enum up_state s)
{
	switch (s) {
	case UP_IDLE:		return "idle";
	case UP_CONNECTING:	return "connecting";
	case UP_HANDSHAKE:	return "handshake";
	case UP_READY:		return "ready";
	case UP_CLOSED:		return "closed";
	}
	return "?";
}

static const char *
up_worker(const struct upstream *up)
{
	return up->miner ? up->miner->worker : "";
}

static void
up_set_state(struct upstream *up, enum up_state st)
{
	if (up->state == st)
		return;
	log_debug("upstream_state", "{s:s,s:s,s:s,s:s}", "pool",
	    up->pool->cfg.key, "worker", up_worker(up), "from",
	    up_state_str(up->state), "to", up_state_str(st));
	up->state = st;
}

bool
upstream_usable(const struct upstream *up)
{
	return up != NULL && up->state == UP_READY && up->newest != NULL;
}

static void
timer_in(struct event *ev, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(ev, &tv);
}

void
upstream_set_user(struct upstream *up)
{
	const char *wallet = up->pool->cfg.wallet;
	const struct miner *m = up->miner;

	/* Pools show each worker: wallet.worker, or the miner's own user
	 * when the pool has no wallet configured. */
	if (m != NULL && wallet[0] != '\0')
		snprintf(up->user, sizeof(up->user), "%s.%s", wallet,
		    m->worker[0] ? m->worker : "dpmp");
	else if (m != NULL)
		snprintf(up->user, sizeof(up->user), "%s", m->user);
	else
		snprintf(up->user, sizeof(up->user), "%s", wallet[0] ?
		    wallet : "dpmp");
}

struct upstream *
upstream_new(struct pool *p, struct miner *m)
{
	struct upstream *up;

	if ((up = calloc(1, sizeof(*up))) == NULL)
		return NULL;
	up->dp = p->dp;
	up->pool = p;
	up->miner = m;
	up->state = UP_IDLE;
	up->difficulty = 1;	/* Stratum default until set_difficulty */
	up->next_id = 1;
	up->backoff_ms = DP_BACKOFF_MIN_MS;
	TAILQ_INIT(&up->jobs);
	TAILQ_INIT(&up->pending);
	up->timer = evtimer_new(p->dp->base, up_timer_cb, up);
	if (up->timer == NULL) {
		free(up);
		return NULL;
	}
	upstream_set_user(up);
	LIST_INSERT_HEAD(&p->sessions, up, entry);
	p->n_sessions++;
	return up;
}

static void
pending_free(struct pending *pd)
{
	json_decref(pd->miner_req_id);
	free(pd);
}

/* Answer every share in flight with an error: a share the pool never
 * answered must not vanish. */
static void
up_fail_pending(struct upstream *up, int reason, const char *text)
{
	struct pending *pd;
	struct dp *dp = up->dp;

	while ((pd = TAILQ_FIRST(&up->pending)) != NULL) {
		TAILQ_REMOVE(&up->pending, pd, entry);
		up->n_pending--;
		if (pd->kind == REQ_SUBMIT)
			miner_share_answer(dp, pd->miner_id, pd->miner_req_id,
			    up->pool, pd->difficulty, false, STRATUM_ERR_OTHER,
			    text, 0, reason);
		pending_free(pd);
	}
}

void
upstream_fail_pending(struct upstream *up, const char *text)
{
	up_fail_pending(up, REJ_POOL_LOST, text);
}

static void
up_drop_jobs(struct upstream *up)
{
	struct ujob *uj;

	while ((uj = TAILQ_FIRST(&up->jobs)) != NULL) {
		TAILQ_REMOVE(&up->jobs, uj, entry);
		uj->up = NULL;
		ujob_unref(up->dp, uj);
	}
	up->n_jobs = 0;
	up->newest = NULL;
}

static void
up_disconnect(struct upstream *up)
{
	if (up->bev != NULL) {
		bufferevent_free(up->bev);
		up->bev = NULL;
	}
	up_fail_pending(up, REJ_POOL_LOST, "Pool connection lost");
	up_drop_jobs(up);
	up->subscribed = up->authorized = false;
	up->garbage = 0;
}

void
upstream_free(struct upstream *up)
{
	if (up == NULL)
		return;
	up_disconnect(up);
	if (up->timer)
		event_free(up->timer);
	LIST_REMOVE(up, entry);
	up->pool->n_sessions--;
	if (up->pool->probe == up)
		up->pool->probe = NULL;
	free(up);
}

static void
up_schedule_redial(struct upstream *up)
{
	unsigned ms = up->backoff_ms, jitter;

	/* Exponential backoff with jitter so a farm's sessions do not all
	 * hammer a pool that just came back at the same instant. */
	evutil_secure_rng_get_bytes(&jitter, sizeof(jitter));
	ms += jitter % (ms / 2 + 1);
	up->backoff_ms = up->backoff_ms * 2 > DP_BACKOFF_MAX_MS ?
	    DP_BACKOFF_MAX_MS : up->backoff_ms * 2;
	up_set_state(up, UP_IDLE);
	timer_in(up->timer, ms);
}

void
upstream_reset(struct upstream *up, const char *why)
{
	struct pool *p = up->pool;
	bool was_connected = up->state == UP_HANDSHAKE ||
	    up->state == UP_READY;

	if (was_connected || up->miner == NULL)
		log_info("pool_disconnected", "{s:s,s:s,s:s,s:s}", "pool",
		    p->cfg.key, "worker", up_worker(up), "reason", why,
		    "state", up_state_str(up->state));
	up_disconnect(up);
	evtimer_del(up->timer);
	if (up->dp->stopping || !p->cfg.enabled) {
		up_set_state(up, UP_CLOSED);
	} else
		up_schedule_redial(up);
	if (up == p->probe)
		pool_check(p, clock_mono_ms());
	else if (up->miner != NULL && up->miner->pool == p->idx)
		/* the miner's own session died: it may need another pool */
		miner_tick(up->miner, clock_mono_ms());
}

/* A pending entry for a request about to be written; NULL with *rc -1
 * (no connection) or -2 (too many in flight, counted). */
static struct pending *
pending_new(struct upstream *up, enum up_req kind, int *rc)
{
	struct pending *pd;

	*rc = -1;
	if (up->bev == NULL)
		return NULL;
	if (up->n_pending >= up->dp->cfg.pending_shares) {
		dp_count_limit(up->dp, LIM_PENDING, up->pool->cfg.key);
		*rc = -2;
		return NULL;
	}
	if ((pd = calloc(1, sizeof(*pd))) == NULL)
		return NULL;
	pd->req_id = up->next_id++;
	pd->kind = kind;
	pd->sent_us = clock_mono_us();
	pd->deadline_ms = clock_mono_ms() + DP_PENDING_TIMEOUT_MS;
	return pd;
}

static void
pending_add(struct upstream *up, struct pending *pd)
{
	up->dp->c.msgs_pool_out++;
	TAILQ_INSERT_TAIL(&up->pending, pd, entry);
	up->n_pending++;
}

static int
up_send(struct upstream *up, enum up_req kind, const char *method,
    json_t *params, struct pending **pdp)
{
	struct pending *pd;
	int rc;

	if ((pd = pending_new(up, kind, &rc)) == NULL) {
		json_decref(params);
		return rc;
	}
	if (stratum_write_request(bufferevent_get_output(up->bev), pd->req_id,
	    method, params) == -1) {
		free(pd);
		return -1;
	}
	pending_add(up, pd);
	if (pdp)
		*pdp = pd;
	return 0;
}

void
upstream_start(struct upstream *up)
{
	struct pool *p = up->pool;
	struct dp *dp = up->dp;

	if (up->state != UP_IDLE && up->state != UP_CLOSED)
		return;
	if (!p->cfg.enabled || dp->stopping)
		return;
	up->bev = bufferevent_socket_new(dp->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (up->bev == NULL) {
		up_schedule_redial(up);
		return;
	}
	bufferevent_setcb(up->bev, up_read_cb, NULL, up_event_cb, up);
	bufferevent_enable(up->bev, EV_READ | EV_WRITE);
	up_set_state(up, UP_CONNECTING);
	timer_in(up->timer, UP_CONNECT_TIMEOUT_MS(dp));
	if (bufferevent_socket_connect_hostname(up->bev, dp->dns, AF_UNSPEC,
	    p->cfg.host, p->cfg.port) == -1) {
		upstream_reset(up, "connect failed");
		return;
	}
}

static void
up_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream *up = arg;

	(void)fd;
	(void)what;
	switch (up->state) {
	case UP_IDLE:
	case UP_CLOSED:
		upstream_start(up);
		break;
	case UP_CONNECTING:
		upstream_reset(up, "connect timeout");
		break;
	case UP_HANDSHAKE:
		upstream_reset(up, "handshake timeout");
		break;
	case UP_READY:
		break;
	}
}

static void
up_handshake(struct upstream *up)
{
	json_t *ext;
	int fd = bufferevent_getfd(up->bev), one = 1;

	/* Nagle plus delayed ACKs put 40 ms outliers on share answers. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	up_set_state(up, UP_HANDSHAKE);
	up->connected_ms = clock_mono_ms();
	timer_in(up->timer, UP_CONNECT_TIMEOUT_MS(up->dp) * 2);
	/* BIP 310 first, so the pool's mask is known before work flows. */
	ext = json_pack("[[s]{s:s}]", "version-rolling",
	    "version-rolling.mask", "ffffffff");
	up_send(up, REQ_CONFIGURE, "mining.configure", ext, NULL);
	up_send(up, REQ_SUBSCRIBE, "mining.subscribe",
	    json_pack("[s]", "dpmp/" DPMP_VERSION), NULL);
	up_send(up, REQ_AUTHORIZE, "mining.authorize",
	    json_pack("[ss]", up->user, up->pool->cfg.password), NULL);
}

static void
up_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct upstream *up = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		log_debug("pool_connecting", "{s:s,s:s}", "pool",
		    up->pool->cfg.key, "worker", up_worker(up));
		up_handshake(up);
		return;
	}
	if (what & BEV_EVENT_EOF)
		upstream_reset(up, "closed by pool");
	else if (what & BEV_EVENT_ERROR) {
		int err = EVUTIL_SOCKET_ERROR();
		int dnserr = bufferevent_socket_get_dns_error(up->bev);

		upstream_reset(up, dnserr ? evutil_gai_strerror(dnserr) :
		    evutil_socket_error_to_string(err));
	}
}

/* ---- messages from the pool ------------------------------------------ */

static void
up_became_ready(struct upstream *up)
{
	struct pool *p = up->pool;

	if (up->state == UP_READY || !up->authorized || up->newest == NULL)
		return;
	up_set_state(up, UP_READY);
	evtimer_del(up->timer);
	up->backoff_ms = DP_BACKOFF_MIN_MS;
	log_info("pool_connected", "{s:s,s:s,s:s,s:i,s:i,s:f,s:s}", "pool",
	    p->cfg.key, "worker", up_worker(up), "user", up->user,
	    "en1_size", (int)up->en1_len, "en2_size", (int)up->en2_size,
	    "difficulty", up->difficulty, "role", up->miner ? "miner" :
	    "probe");
	if (up == p->probe) {
		dp_size_extranonce(up->dp);
		pool_check(p, clock_mono_ms());
	}
	/* work that arrived before the authorize answer: miners may be
	 * waiting for it */
	up_dispatch_job(up, up->newest);
}

static void
up_dispatch_job(struct upstream *up, struct ujob *uj)
{
	struct dp *dp = up->dp;
	struct miner *m, *next;

	if (up->miner != NULL) {
		if (up->miner->pool == up->pool->idx)
			miner_job(up->miner, up, uj);
		return;
	}
	if (dp->cfg.upstream_mode != UPSTREAM_AGGREGATE)
		return;
	TAILQ_FOREACH_SAFE(m, &dp->miners, entry, next)
		if (m->pool == up->pool->idx && m->state == M_AUTHORIZED)
			miner_job(m, up, uj);
}

static int
on_notify(struct upstream *up, struct stratum_msg *msg)
{
	struct job job;
	struct ujob *uj, *old;
	char err[128];
	uint64_t now = clock_mono_ms();

	if (job_from_notify(msg->params, &job, err, sizeof(err)) == -1) {
		log_warn("pool_bad_message", "{s:s,s:s,s:s}", "pool",
		    up->pool->cfg.key, "method", "mining.notify", "reason",
		    err);
		return -1;
	}
	if ((uj = ujob_new(up, &job)) == NULL) {
		job_clear(&job);
		return 0;
	}
	if (uj->job.clean) {
		/* Retired jobs stay routable for the grace period: shares
		 * are in flight (docs/PROTOCOL.md 6.3). */
		TAILQ_FOREACH(old, &up->jobs, entry)
			if (old->stale_at_ms == 0)
				old->stale_at_ms = now +
				    up->dp->cfg.stale_grace_ms;
	}
	TAILQ_INSERT_TAIL(&up->jobs, uj, entry);
	up->n_jobs++;
	up->newest = uj;
	while (up->n_jobs > up->dp->cfg.jobs_kept) {
		old = TAILQ_FIRST(&up->jobs);
		TAILQ_REMOVE(&up->jobs, old, entry);
		up->n_jobs--;
		old->up = NULL;
		ujob_unref(up->dp, old);
	}
	up->last_job_ms = now;
	if (up->state != UP_READY) {
		up_became_ready(up);	/* dispatches uj once ready */
		return 0;
	}
	if (up == up->pool->probe && !up->pool->up)
		pool_check(up->pool, now);
	up_dispatch_job(up, uj);
	return 0;
}

static int
on_set_difficulty(struct upstream *up, struct stratum_msg *msg)
{
	double d;
	char err[128];

	if (stratum_parse_difficulty(msg->params, &d, err, sizeof(err))) {
		log_warn("pool_bad_message", "{s:s,s:s,s:s}", "pool",
		    up->pool->cfg.key, "method", "mining.set_difficulty",
		    "reason", err);
		return -1;
	}
	/* Applies from the next notify; each job keeps its own value, and
	 * the miner is told only when a job of this session reaches it. */
	up->difficulty = d;
	log_debug("pool_difficulty", "{s:s,s:s,s:f}", "pool",
	    up->pool->cfg.key, "worker", up_worker(up), "difficulty", d);
	return 0;
}

static int
on_set_version_mask(struct upstream *up, struct stratum_msg *msg)
{
	json_t *v = json_array_get(msg->params, 0);
	uint32_t mask;

	if (!json_is_string(v) || hex_u32(json_string_value(v),
	    json_string_length(v), &mask) == -1) {
		log_warn("pool_bad_message", "{s:s,s:s,s:s}", "pool",
		    up->pool->cfg.key, "method", "mining.set_version_mask",
		    "reason", "mask must be 8 hex digits");
		return -1;
	}
	up->mask = mask;
	return 0;
}

static int
on_set_extranonce(struct upstream *up, struct stratum_msg *msg)
{
	uint8_t en1[EXTRANONCE_MAX];
	size_t en1_len, en2_size;
	char err[128];

	if (stratum_parse_set_extranonce(msg->params, en1, &en1_len,
	    &en2_size, err, sizeof(err)) == -1) {
		log_warn("pool_bad_message", "{s:s,s:s,s:s}", "pool",
		    up->pool->cfg.key, "method", "mining.set_extranonce",
		    "reason", err);
		return -1;
	}
	/* Absorbed here: new jobs carry the new en1 folded into coinb1; a
	 * miner hears of it only when the space no longer fits its own. */
	memcpy(up->en1, en1, en1_len);
	up->en1_len = en1_len;
	up->en2_size = en2_size;
	log_info("pool_set_extranonce", "{s:s,s:s,s:i,s:i}", "pool",
	    up->pool->cfg.key, "worker", up_worker(up), "en1_size",
	    (int)en1_len, "en2_size", (int)en2_size);
	return 0;
}

static int
on_reconnect(struct upstream *up, struct stratum_msg *msg)
{
	(void)msg;
	/* Never passed on: a miner following it would leave the proxy. */
	upstream_reset(up, "client.reconnect from pool");
	up->backoff_ms = DP_BACKOFF_MIN_MS;
	return 1;
}

static int
on_show_message(struct upstream *up, struct stratum_msg *msg)
{
	json_t *v = json_array_get(msg->params, 0);

	log_info("pool_message", "{s:s,s:s}", "pool", up->pool->cfg.key,
	    "text", json_is_string(v) ? json_string_value(v) : "");
	return 0;
}

static int
on_ping(struct upstream *up, struct stratum_msg *msg)
{
	if (msg->kind == STRATUM_REQUEST && up->bev)
		stratum_write_result(bufferevent_get_output(up->bev), msg->id,
		    json_string("pong"));
	return 0;
}

static int
on_get_version(struct upstream *up, struct stratum_msg *msg)
{
	if (msg->kind == STRATUM_REQUEST && up->bev)
		stratum_write_result(bufferevent_get_output(up->bev), msg->id,
		    json_string("dpmp/" DPMP_VERSION));
	return 0;
}

static const struct {
	const char *method;
	int (*fn)(struct upstream *, struct stratum_msg *);
} pool_methods[] = {
	{ "mining.notify",		on_notify },
	{ "mining.set_difficulty",	on_set_difficulty },
	{ "mining.set_version_mask",	on_set_version_mask },
	{ "mining.set_extranonce",	on_set_extranonce },
	{ "client.reconnect",		on_reconnect },
	{ "client.show_message",	on_show_message },
	{ "mining.ping",		on_ping },
	{ "client.get_version",		on_get_version },
};

static int
on_response(struct upstream *up, struct stratum_msg *msg)
{
	struct pending *pd;
	json_int_t id;
	char err[128];

	if (!json_is_integer(msg->id))
		return -1;
	id = json_integer_value(msg->id);
	TAILQ_FOREACH(pd, &up->pending, entry)
		if (pd->req_id == id)
			break;
	if (pd == NULL) {
		log_debug("pool_unexpected_response", "{s:s,s:I}", "pool",
		    up->pool->cfg.key, "id", (json_int_t)id);
		return 0;
	}
	TAILQ_REMOVE(&up->pending, pd, entry);
	up->n_pending--;

	switch (pd->kind) {
	case REQ_CONFIGURE:
		if (json_is_object(msg->result) && json_is_true(
		    json_object_get(msg->result, "version-rolling"))) {
			json_t *mv = json_object_get(msg->result,
			    "version-rolling.mask");
			uint32_t mask;

			if (json_is_string(mv) && hex_u32(json_string_value(mv),
			    json_string_length(mv), &mask) == 0)
				up->mask = mask;
		}
		break;
	case REQ_SUBSCRIBE: {
		struct stratum_subscribe_result r;

		if (msg->error != NULL || stratum_parse_subscribe_result(
		    msg->result, &r, err, sizeof(err)) == -1) {
			log_warn("pool_subscribe_failed", "{s:s,s:s}", "pool",
			    up->pool->cfg.key, "reason", msg->error ?
			    "error answer" : err);
			pending_free(pd);
			upstream_reset(up, "subscribe failed");
			return 1;
		}
		memcpy(up->en1, r.en1, r.en1_len);
		up->en1_len = r.en1_len;
		up->en2_size = r.en2_size;
		up->subscribed = true;
		break;
	}
	case REQ_AUTHORIZE:
		if (!json_is_true(msg->result)) {
			const char *text = NULL;

			stratum_error_code(msg, &text);
			log_warn("pool_authorize_failed", "{s:s,s:s,s:s}",
			    "pool", up->pool->cfg.key, "user", up->user,
			    "reason", text ? text : "refused");
			pending_free(pd);
			upstream_reset(up, "authorize refused");
			return 1;
		}
		up->authorized = true;
		up_became_ready(up);
		break;
	case REQ_SUBMIT: {
		bool ok = json_is_true(msg->result) && msg->error == NULL;
		const char *text = NULL;
		int code = ok ? 0 : stratum_error_code(msg, &text);
		uint64_t lat = clock_mono_us() - pd->sent_us;

		miner_share_answer(up->dp, pd->miner_id, pd->miner_req_id,
		    up->pool, pd->difficulty, ok, code, text, lat, -1);
		break;
	}
	case REQ_SUGGEST:
		break;
	}
	pending_free(pd);
	return 0;
}

static void
up_read_cb(struct bufferevent *bev, void *arg)
{
	struct upstream *up = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct stratum_msg msg;
	char reason[128];
	size_t i;
	int rc;

	for (;;) {
		switch (stratum_read(in, STRATUM_MAX_LINE_POOL, &msg, reason,
		    sizeof(reason))) {
		case STRATUM_READ_AGAIN:
			return;
		case STRATUM_READ_OVERFLOW:
			dp_count_limit(up->dp, LIM_LINE, up->pool->cfg.key);
			upstream_reset(up, "line too long");
			return;
		case STRATUM_READ_BAD:
			log_warn("pool_garbage", "{s:s,s:s}", "pool",
			    up->pool->cfg.key, "reason", reason);
			if (++up->garbage >= DP_GARBAGE_RESET) {
				dp_count_limit(up->dp, LIM_GARBAGE,
				    up->pool->cfg.key);
				upstream_reset(up, "repeated garbage");
				return;
			}
			continue;
		case STRATUM_READ_MSG:
			break;
		}
		up->dp->c.msgs_pool_in++;
		rc = 0;
		if (msg.kind == STRATUM_RESPONSE)
			rc = on_response(up, &msg);
		else {
			for (i = 0; i < sizeof(pool_methods) /
			    sizeof(pool_methods[0]); i++)
				if (strcmp(msg.method, pool_methods[i].method)
				    == 0)
					break;
			if (i < sizeof(pool_methods) / sizeof(pool_methods[0]))
				rc = pool_methods[i].fn(up, &msg);
			else if (msg.kind == STRATUM_REQUEST && up->bev)
				stratum_write_error(bufferevent_get_output(
				    up->bev), msg.id,
				    STRATUM_ERR_METHOD_NOT_FOUND,
				    "Method not found");
		}
		stratum_msg_clear(&msg);
		if (rc == 1)		/* session was reset: bev is gone */
			return;
		if (rc == -1 && ++up->garbage >= DP_GARBAGE_RESET) {
			dp_count_limit(up->dp, LIM_GARBAGE, up->pool->cfg.key);
			upstream_reset(up, "repeated bad messages");
			return;
		}
		if (rc == 0)
			up->garbage = 0;
	}
}

/* ---- shares -------------------------------------------------------- */

int
upstream_submit(struct upstream *up, struct miner *m, json_t *req_id,
    struct ujob *uj, const char *en2_hex, uint32_t ntime, uint32_t nonce,
    bool has_vbits, uint32_t vbits)
{
	struct pending *pd;
	char nt[9], nn[9], vb[9];
	int rc;

	if ((pd = pending_new(up, REQ_SUBMIT, &rc)) == NULL)
		return rc;
	hex_from_u32(ntime, nt);
	hex_from_u32(nonce, nn);
	/* V & upstream mask is right under both the BIP 310 and the ckpool
	 * header formula (docs/PROTOCOL.md section 2, mining.submit). */
	if (has_vbits)
		hex_from_u32(vbits & uj->mask, vb);
	if (stratum_write_submit(bufferevent_get_output(up->bev), pd->req_id,
	    up->user, uj->job.id, en2_hex, nt, nn, has_vbits ? vb : NULL)
	    == -1) {
		free(pd);
		return -1;
	}
	pending_add(up, pd);
	pd->miner_id = m->id;
	pd->miner_req_id = json_incref(req_id);
	pd->difficulty = uj->difficulty;
	up->pool->c.submitted++;
	return 0;
}

void
upstream_suggest_difficulty(struct upstream *up, double d)
{
	if (up->bev == NULL || up->state == UP_CONNECTING)
		return;
	/* ckpool never answers it: do not keep a pending entry waiting. */
	stratum_write_request(bufferevent_get_output(up->bev), up->next_id++,
	    "mining.suggest_difficulty", json_pack("[f]", d));
}

void
upstream_expire(struct upstream *up, uint64_t now_ms)
{
	struct pending *pd, *next;

	for (pd = TAILQ_FIRST(&up->pending); pd != NULL; pd = next) {
		next = TAILQ_NEXT(pd, entry);
		if (pd->deadline_ms > now_ms)
			continue;
		TAILQ_REMOVE(&up->pending, pd, entry);
		up->n_pending--;
		if (pd->kind == REQ_SUBMIT)
			miner_share_answer(up->dp, pd->miner_id,
			    pd->miner_req_id, up->pool, pd->difficulty, false,
			    STRATUM_ERR_OTHER, "Pool did not answer", 0,
			    REJ_POOL_TIMEOUT);
		pending_free(pd);
	}
	/* retire jobs past their grace so the table stays small */
	while (up->n_jobs > 1) {
		struct ujob *uj = TAILQ_FIRST(&up->jobs);

		if (uj->stale_at_ms == 0 || uj->stale_at_ms > now_ms)
			break;
		TAILQ_REMOVE(&up->jobs, uj, entry);
		up->n_jobs--;
		uj->up = NULL;
		ujob_unref(up->dp, uj);
	}
}

/* ---- pools ---------------------------------------------------------- */

void
pool_init(struct dp *dp, struct pool *p, int idx, const struct config_pool *cfg)
{
	memset(p, 0, sizeof(*p));
	p->dp = dp;
	p->idx = idx;
	p->cfg = *cfg;
	LIST_INIT(&p->sessions);
	p->probe = upstream_new(p, NULL);
	if (p->probe && p->cfg.enabled)
		upstream_start(p->probe);
}

void
pool_shutdown(struct pool *p)
{
	struct upstream *up;

	while ((up = LIST_FIRST(&p->sessions)) != NULL) {
		if (up->miner)
			up->miner->ups[p->idx] = NULL;
		upstream_free(up);
	}
	p->probe = NULL;
}

void
pool_set_up(struct pool *p, bool up, const char *why)
{
	if (p->up == up)
		return;
	p->up = up;
	p->up_since_ms = up ? clock_mono_ms() : 0;
	log_info(up ? "pool_up" : "pool_down", "{s:s,s:s,s:s}", "pool",
	    p->cfg.key, "name", p->cfg.name, "reason", why);
	dp_event(p->dp, up ? "pool_up" : "pool_down", NULL, p->cfg.key, NULL,
	    NULL, why, 0);
	dp_failover(p->dp, p);
}

void
pool_check(struct pool *p, uint64_t now_ms)
{
	struct upstream *pr = p->probe;
	uint64_t silent = (uint64_t)p->cfg.silent_seconds * 1000;

	if (!p->cfg.enabled) {
		pool_set_up(p, false, "disabled");
		return;
	}
	if (pr == NULL || pr->state != UP_READY) {
		pool_set_up(p, false, "no session");
		return;
	}
	if (silent && now_ms - pr->last_job_ms > silent) {
		/* A pool that stops sending work is as good as gone; a
		 * fresh session is the only cure we have. */
		pool_set_up(p, false, "silent");
		upstream_reset(pr, "no job within silent_seconds");
		return;
	}
	pool_set_up(p, true, "ready");
}
