/*
 * dp: the dataplane process: pools, the miner listener, failover, the
 * once-a-second housekeeping and the counters.  Policy (who works for
 * which pool) comes from the controlplane through Assign; safety (no
 * miner left on a dead pool) is decided here, with or without it.
 */
#include <arpa/inet.h>
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/util.h>

#include "clock.h"
#include "dataplane.h"
#include "log.h"

static const char *reject_names[REJ__COUNT] = {
	"other", "stale", "duplicate", "low_difficulty", "unauthorized",
	"not_subscribed", "pool_timeout", "pool_lost",
};
static const char *where_names[REJ_WHERE__COUNT] = {
	"local", "pool",
};
static const char *switch_names[SW__COUNT] = {
	"schedule", "pin", "weights_changed", "failover", "other",
};
static const char *limit_names[LIM__COUNT] = {
	"line_length", "output_queue", "max_miners", "jobs", "pending",
	"dedupe", "garbage", "work_space", "handshake_timeout", "per_address",
	"descriptors",
};
static const char *fallback_names[FB__COUNT] = {
	"set_extranonce", "reconnect",
};

const char *reject_reason_str(enum reject_reason r)
{ return r < REJ__COUNT ? reject_names[r] : "other"; }
const char *reject_where_str(enum reject_where w)
{ return w < REJ_WHERE__COUNT ? where_names[w] : "local"; }
const char *switch_reason_str(enum switch_reason r)
{ return r < SW__COUNT ? switch_names[r] : "other"; }
const char *limit_kind_str(enum limit_kind k)
{ return k < LIM__COUNT ? limit_names[k] : "other"; }
const char *fallback_kind_str(enum fallback_kind k)
{ return k < FB__COUNT ? fallback_names[k] : "other"; }

enum switch_reason
switch_reason_parse(const char *s)
{
	int i;

	for (i = 0; i < SW__COUNT; i++)
		if (strcmp(s, switch_names[i]) == 0)
			return (enum switch_reason)i;
	return SW_SCHEDULE;
}

int
reject_from_code(int code)
{
	switch (code) {
	case 21: return REJ_STALE;
	case 22: return REJ_DUPLICATE;
	case 23: return REJ_LOW_DIFFICULTY;
	case 24: return REJ_UNAUTHORIZED;
	case 25: return REJ_NOT_SUBSCRIBED;
	default: return REJ_OTHER;
	}
}

void
dp_count_reject(struct dp *dp, struct miner *m, struct pool *p,
    enum reject_where where, enum reject_reason rej)
{
	if (rej >= REJ__COUNT)
		rej = REJ_OTHER;
	if (where >= REJ_WHERE__COUNT)
		where = REJ_WHERE_LOCAL;
	/* a share the pool refused was sent to one, so it has a pool */
	if (p == NULL) {
		dp->c.rejected_nopool[rej]++;
		return;
	}
	p->c.rejected[where][rej]++;
	if (m != NULL)
		m->rejected[p->idx][where]++;
}

void
dp_count_limit(struct dp *dp, enum limit_kind k, const char *what)
{
	dp->c.limit_hits[k]++;
	log_warn("limit_hit", "{s:s,s:s}", "limit", limit_kind_str(k), "what",
	    what ? what : "");
}

/* ---- choosing pools ------------------------------------------------- */

int
dp_pick_pool(struct dp *dp, int avoid)
{
	size_t i;
	int best = -1;

	for (i = 0; i < dp->n_pools; i++) {
		struct pool *p = &dp->pools[i];

		if ((int)i == avoid || !p->up || !p->cfg.enabled)
			continue;
		if (best < 0 || p->cfg.weight > dp->pools[best].cfg.weight)
			best = (int)i;
	}
	return best;
}

int
dp_newcomer_pool(struct dp *dp)
{
	if (dp->newcomer >= 0 && (size_t)dp->newcomer < dp->n_pools &&
	    dp->pools[dp->newcomer].up)
		return dp->newcomer;
	return dp_pick_pool(dp, -1);
}

void
dp_size_extranonce(struct dp *dp)
{
	size_t i, min_s = 0, m, n;

	/* per_miner: the pool's en1 already separates sessions, so ours is
	 * one byte (never empty: some firmware cannot take a zero-length
	 * en1).  aggregate: two bytes, unique among connected miners. */
	m = dp->cfg.upstream_mode == UPSTREAM_AGGREGATE ? 2 : 1;
	for (i = 0; i < dp->n_pools; i++) {
		struct upstream *pr = dp->pools[i].probe;

		if (pr && pr->subscribed && dp->pools[i].cfg.enabled &&
		    (min_s == 0 || pr->en2_size < min_s))
			min_s = pr->en2_size;
	}
	n = dp->cfg.extranonce2_size;
	/* Size what new miners get so every known pool fits without a
	 * fallback; miners never get fewer than 2 bytes (cgminer). */
	if (min_s > m && min_s - m < n)
		n = min_s - m;
	if (n < 2)
		n = 2;
	if (dp->en1_size != m || dp->en2_size != n)
		log_info("extranonce_sized", "{s:i,s:i,s:i}", "en1_size",
		    (int)m, "en2_size", (int)n, "smallest_pool_en2",
		    (int)min_s);
	dp->en1_size = m;
	dp->en2_size = n;
}

void
dp_failover(struct dp *dp, struct pool *p)
{
	struct miner *m, *next;
	int to;

	if (p->up) {
		/* a pool is back: miners with no pool get one */
		TAILQ_FOREACH_SAFE(m, &dp->miners, entry, next)
			if (m->state == M_AUTHORIZED && (m->pool < 0 ||
			    !dp->pools[m->pool].up))
				miner_assign(m, p->idx, SW_FAILOVER);
		return;
	}
	/* Move everyone off a dead pool now, whatever the controlplane
	 * thinks: safety is local. */
	to = dp_pick_pool(dp, p->idx);
	if (to < 0)
		return;
	TAILQ_FOREACH_SAFE(m, &dp->miners, entry, next)
		if (m->pool == p->idx && m->state == M_AUTHORIZED)
			miner_assign(m, to, SW_FAILOVER);
}

/* ---- connection budget -------------------------------------------- */

struct addr_count {
	struct addr_count *next;
	unsigned	 n;
	char		 host[48];
};

static size_t
addr_bucket(const char *host)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (; *host; host++)
		h = (h ^ (uint8_t)*host) * 16777619u;
	return h % DP_ADDR_BUCKETS;
}

int
dp_addr_acquire(struct dp *dp, const char *host)
{
	struct addr_count **pp = &dp->ahash[addr_bucket(host)], *a;

	for (a = *pp; a != NULL; a = a->next)
		if (strcmp(a->host, host) == 0)
			break;
	if (a != NULL && dp->cfg.max_per_address > 0 &&
	    a->n >= dp->cfg.max_per_address)
		return -1;
	if (a == NULL) {
		if ((a = calloc(1, sizeof(*a))) == NULL)
			return -1;
		snprintf(a->host, sizeof(a->host), "%s", host);
		a->next = *pp;
		*pp = a;
	}
	a->n++;
	return 0;
}

void
dp_addr_release(struct dp *dp, const char *host)
{
	struct addr_count **pp, *a;

	for (pp = &dp->ahash[addr_bucket(host)]; (a = *pp) != NULL;
	    pp = &a->next)
		if (strcmp(a->host, host) == 0) {
			if (--a->n == 0) {
				*pp = a->next;
				free(a);
			}
			return;
		}
}

bool
dp_fd_room(struct dp *dp, int fd)
{
	uint64_t used, cost = 1;
	size_t i;

	if (dp->nofile == 0)
		return true;
	/* descriptors come lowest first, so every one below fd is taken;
	 * the sockets we know of may say more when there are holes */
	used = (uint64_t)fd + 1;
	if (dp->cfg.upstream_mode == UPSTREAM_PER_MINER)
		cost += dp->n_pools;
	{
		uint64_t known = dp->n_miners + 16;

		for (i = 0; i < dp->n_pools; i++)
			known += dp->pools[i].n_sessions;
		if (known > used)
			used = known;
	}
	return used + cost + DP_FD_RESERVE <= dp->nofile;
}

/* ---- housekeeping --------------------------------------------------- */

void
dp_tick(struct dp *dp)
{
	struct miner *m, *next;
	struct upstream *up, *unext;
	uint64_t now = clock_mono_ms();
	size_t i;

	for (i = 0; i < dp->n_pools; i++) {
		struct pool *p = &dp->pools[i];

		for (up = LIST_FIRST(&p->sessions); up != NULL; up = unext) {
			unext = LIST_NEXT(up, entry);
			upstream_expire(up, now);
		}
		if (p->probe && p->probe->state == UP_READY)
			pool_check(p, now);
	}
	TAILQ_FOREACH_SAFE(m, &dp->miners, entry, next)
		miner_tick(m, now);
	ipc_tick(dp);
#ifdef __GLIBC__
	/* After a flood, glibc keeps the freed sessions' memory in its
	 * arenas for good: give it back. */
	if (dp->n_freed >= DP_TRIM_AFTER) {
		dp->n_freed = 0;
		malloc_trim(0);
	}
#endif
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	dp_tick(arg);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int len, void *arg)
{
	struct dp *dp = arg;
	char host[INET6_ADDRSTRLEN] = "?", addr[64];
	int port = 0;

	(void)l;
	(void)len;
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
	}
	snprintf(addr, sizeof(addr), "%s:%d", host, port);
	evutil_make_socket_nonblocking(fd);
	miner_accept(dp, fd, host, addr);
}

static void
accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dp *dp = arg;

	(void)fd;
	(void)what;
	if (dp->listener == NULL || !dp->accept_paused)
		return;
	dp->accept_paused = false;
	evconnlistener_enable(dp->listener);
	log_info("accept_resumed", NULL);
}

static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct dp *dp = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = { DP_ACCEPT_PAUSE_MS / 1000,
	    (DP_ACCEPT_PAUSE_MS % 1000) * 1000 };

	/* Out of descriptors, the connection stays in the backlog and the
	 * listener stays readable: retrying at once only spins.  Rest,
	 * and let closing sessions give descriptors back. */
	if ((err == EMFILE || err == ENFILE) && dp->accept_ev != NULL) {
		if (dp->accept_paused)
			return;
		dp->accept_paused = true;
		evconnlistener_disable(l);
		event_add(dp->accept_ev, &tv);
		dp_count_limit(dp, LIM_DESCRIPTORS, "accept");
		log_warn("accept_paused", "{s:s,s:i,s:I,s:I}", "reason",
		    evutil_socket_error_to_string(err), "pause_ms",
		    DP_ACCEPT_PAUSE_MS, "miners", (json_int_t)dp->n_miners,
		    "ghosts", (json_int_t)dp->n_ghosts);
		return;
	}
	log_error("accept_failed", "{s:s}", "reason",
	    evutil_socket_error_to_string(err));
}

int
dp_listen(struct dp *dp)
{
	struct evutil_addrinfo hints, *res = NULL;
	char port[8];
	int err;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = EVUTIL_AI_PASSIVE;
	snprintf(port, sizeof(port), "%u", dp->cfg.listen_port);
	if ((err = evutil_getaddrinfo(dp->cfg.listen_host, port, &hints,
	    &res)) != 0) {
		log_error("listen_failed", "{s:s,s:s}", "host",
		    dp->cfg.listen_host, "reason", evutil_gai_strerror(err));
		return -1;
	}
	dp->listener = evconnlistener_new_bind(dp->base, accept_cb, dp,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 512, res->ai_addr,
	    (int)res->ai_addrlen);
	evutil_freeaddrinfo(res);
	if (dp->listener == NULL) {
		log_error("listen_failed", "{s:s,s:i,s:s}", "host",
		    dp->cfg.listen_host, "port", dp->cfg.listen_port,
		    "reason", evutil_socket_error_to_string(
		    EVUTIL_SOCKET_ERROR()));
		return -1;
	}
	evconnlistener_set_error_cb(dp->listener, accept_error_cb);
	if (dp->accept_ev == NULL)
		dp->accept_ev = evtimer_new(dp->base, accept_resume_cb, dp);
	log_info("listening", "{s:s,s:i}", "host", dp->cfg.listen_host,
	    "port", dp->cfg.listen_port);
	return 0;
}

int
dp_init(struct dp *dp, struct event_base *base, const struct config *cfg)
{
	struct timeval one = { 1, 0 };
	uint8_t rnd[16];
	size_t i;

	memset(dp, 0, sizeof(*dp));
	dp->base = base;
	dp->cfg = *cfg;
	dp->newcomer = -1;
	dp->next_miner_id = 1;
	dp->started_ms = clock_mono_ms();
	TAILQ_INIT(&dp->miners);
	evutil_secure_rng_get_bytes(rnd, sizeof(rnd));
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(dp->boot_id + 2 * i, 3, "%02x", rnd[i]);
	jobs_init(dp);
	if (dp->cfg.upstream_mode == UPSTREAM_AGGREGATE &&
	    (dp->en1_used = calloc(65536 / 8, 1)) == NULL)
		return -1;
	dp_size_extranonce(dp);
	if ((dp->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS))
	    == NULL)
		dp->dns = evdns_base_new(base, 0);
	dp->n_pools = cfg->n_pools;
	for (i = 0; i < cfg->n_pools; i++)
		pool_init(dp, &dp->pools[i], (int)i, &cfg->pools[i]);
	dp->tick_ev = event_new(base, -1, EV_PERSIST, tick_cb, dp);
	event_add(dp->tick_ev, &one);
	return 0;
}

void
dp_shutdown(struct dp *dp)
{
	struct miner *m;
	size_t i;

	dp->stopping = true;
	if (dp->listener) {
		evconnlistener_free(dp->listener);
		dp->listener = NULL;
	}
	while ((m = TAILQ_FIRST(&dp->miners)) != NULL)
		miner_free(m);
	for (i = 0; i < dp->n_pools; i++)
		pool_shutdown(&dp->pools[i]);
	if (dp->tick_ev)
		event_free(dp->tick_ev);
	dp->tick_ev = NULL;
	if (dp->accept_ev)
		event_free(dp->accept_ev);
	dp->accept_ev = NULL;
	for (i = 0; i < DP_ADDR_BUCKETS; i++)
		while (dp->ahash[i] != NULL) {
			struct addr_count *a = dp->ahash[i];

			dp->ahash[i] = a->next;
			free(a);
		}
	if (dp->dns)
		evdns_base_free(dp->dns, 0);
	dp->dns = NULL;
	jobs_free_all(dp);
	free(dp->en1_used);
	dp->en1_used = NULL;
}
