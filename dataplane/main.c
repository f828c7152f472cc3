/*
 * dpmp-dataplane: owns every socket to miners and pools, relays Stratum,
 * validates shares and keeps the counters.  One thread, one libevent loop.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "clock.h"
#include "dataplane.h"
#include "log.h"
#include "rpc.h"

#define SHUTDOWN_GRACE_MS	4000	/* wait this long for share answers */

static struct dp dp;
static struct event *stop_ev;
static uint64_t stop_deadline;

static void
usage(void)
{
	fprintf(stderr, "usage: dpmp-dataplane -c FILE [--check] [-v]\n"
	    "  -c, --config FILE  JSON configuration (listen, pools, "
	    "upstream, ipc, logging)\n"
	    "      --check        validate the configuration and exit\n"
	    "  -v, --verbose      debug logging\n");
}

/*
 * Descriptor budget: a miner costs one, plus one per pool in per_miner
 * mode (its own upstream sessions, kept through the reconnect grace), and
 * the process needs a few for itself (listeners, IPC, DNS, logs).  Take
 * what the hard limit allows and say at start when that cannot hold
 * limits.max_miners, rather than find out from accept() under load.
 * Returns the soft limit in force (0 = unknown).
 */
static uint64_t
raise_nofile(const struct config *cfg)
{
	struct rlimit rl;
	uint64_t need, per = 1, fit;
	size_t i, pools = 0;

	for (i = 0; i < cfg->n_pools; i++)
		if (cfg->pools[i].enabled)
			pools++;
	if (cfg->upstream_mode == UPSTREAM_PER_MINER)
		per += pools;
	need = (uint64_t)cfg->max_miners * per + pools *
	    (cfg->upstream_sessions + 1) + 2 * DP_FD_RESERVE;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 0;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit want = rl;

		want.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl = want;
	}
	if (rl.rlim_cur == RLIM_INFINITY)
		return 0;
	if (rl.rlim_cur < need) {
		fit = rl.rlim_cur > 2 * DP_FD_RESERVE ?
		    (rl.rlim_cur - 2 * DP_FD_RESERVE) / per : 0;
		log_warn("nofile_limit", "{s:I,s:I,s:i,s:i,s:I,s:s}", "limit",
		    (json_int_t)rl.rlim_cur, "needed", (json_int_t)need,
		    "max_miners", (int)cfg->max_miners, "descriptors_per_miner",
		    (int)per, "miners_that_fit", (json_int_t)fit, "hint",
		    "raise LimitNOFILE (ulimit -n) or lower limits.max_miners; "
		    "new miners are refused when descriptors run short");
	}
	return (uint64_t)rl.rlim_cur;
}

static size_t
pending_submits(void)
{
	size_t i, n = 0;
	struct upstream *up;

	for (i = 0; i < dp.n_pools; i++)
		LIST_FOREACH(up, &dp.pools[i].sessions, entry)
			n += up->n_pending;
	return n;
}

static size_t
queued_output(void)
{
	struct miner *m;
	size_t n = 0;

	TAILQ_FOREACH(m, &dp.miners, entry)
		if (m->bev)
			n += evbuffer_get_length(bufferevent_get_output(m->bev));
	return n;
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t now = clock_mono_ms();

	(void)fd;
	(void)what;
	(void)arg;
	/* Answer every share in flight before closing: the pool's answer
	 * if it comes in time, an error otherwise, never silence. */
	if (pending_submits() > 0 && now < stop_deadline)
		return;
	if (pending_submits() > 0) {
		size_t i;
		struct upstream *up;

		for (i = 0; i < dp.n_pools; i++)
			LIST_FOREACH(up, &dp.pools[i].sessions, entry)
				upstream_fail_pending(up, "Proxy shutting down");
	}
	/* let the answers reach the miners before the sockets close */
	if (queued_output() > 0 && now < stop_deadline + 500)
		return;
	event_base_loopexit(dp.base, NULL);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct timeval tv = { 0, 50000 };

	(void)what;
	(void)arg;
	if (sig == SIGHUP) {
		if (log_reopen() == 0)
			log_info("log_reopened", NULL);
		return;
	}
	if (dp.stopping)
		return;
	log_info("dataplane_stopping", "{s:i,s:I}", "signal", (int)sig,
	    "pending_shares", (json_int_t)pending_submits());
	dp.stopping = true;
	if (dp.listener) {
		evconnlistener_free(dp.listener);
		dp.listener = NULL;
	}
	/* no new shares from here on: only answers go out */
	{
		struct miner *m;

		TAILQ_FOREACH(m, &dp.miners, entry)
			if (m->bev)
				bufferevent_disable(m->bev, EV_READ);
	}
	stop_deadline = clock_mono_ms() + SHUTDOWN_GRACE_MS;
	stop_ev = event_new(dp.base, -1, EV_PERSIST, stop_cb, NULL);
	event_add(stop_ev, &tv);
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	struct config cfg;
	struct event_base *base;
	char err[512];
	bool check = false, verbose = false, ok;
	uint64_t nofile;
	int ch, lvl, sigs[] = { SIGTERM, SIGINT, SIGHUP };
	size_t i;

	while ((ch = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'C': check = true; break;
		case 'v': verbose = true; break;
		case 'h': usage(); return 0;
		default: usage(); return 2;
		}
	}
	if (path == NULL) {
		usage();
		return 2;
	}
	log_init("dataplane", LOG_LEVEL_INFO);
	if (config_load_file(path, &cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "dpmp-dataplane: %s\n", err);
		log_error("config_invalid", "{s:s,s:s}", "path", path,
		    "reason", err);
		return 1;
	}
	if (check) {
		printf("dpmp-dataplane: %s: configuration ok (%zu pools)\n",
		    path, cfg.n_pools);
		return 0;
	}
	lvl = log_level_parse(cfg.log_level);
	log_set_level(verbose ? LOG_LEVEL_DEBUG : (lvl < 0 ?
	    LOG_LEVEL_INFO : (enum log_level)lvl));
	log_set_rate_limit(50);
	log_set_json(cfg.log_json);
	if (cfg.log_file[0] && log_open_file(cfg.log_file) == -1) {
		fprintf(stderr, "dpmp-dataplane: logging.file: cannot open "
		    "%s\n", cfg.log_file);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	nofile = raise_nofile(&cfg);
	if (cfg.state_dir[0])
		mkdir(cfg.state_dir, 0750);

	if ((base = event_base_new()) == NULL)
		return 1;
	ok = dp_init(&dp, base, &cfg) == 0;
	if (ok) {
		dp.nofile = nofile;	/* dp_init cleared it */
		ok = dp_listen(&dp) == 0 && ipc_init(&dp) == 0;
	}
	if (!ok) {
		log_error("dataplane_failed", "{s:s}", "reason",
		    "start-up failed (see above)");
		return 1;
	}
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		dp.sig_ev[i] = evsignal_new(base, sigs[i], signal_cb, NULL);
		event_add(dp.sig_ev[i], NULL);
	}
	log_info("dataplane_started", "{s:s,s:s,s:i,s:i,s:s}", "version",
	    DPMP_VERSION, "boot_id", dp.boot_id, "port", cfg.listen_port,
	    "pools", (int)cfg.n_pools, "mode", cfg.upstream_mode ==
	    UPSTREAM_AGGREGATE ? "aggregate" : "per_miner");

	event_base_dispatch(base);

	dp.stopping = true;
	if (stop_ev)
		event_free(stop_ev);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (dp.sig_ev[i])
			event_free(dp.sig_ev[i]);
	ipc_shutdown(&dp);
	dp_shutdown(&dp);
	event_base_free(base);
	log_info("dataplane_stopped", NULL);
	return 0;
}
