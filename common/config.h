/*
 * config: the one JSON configuration file read by dpmp-dataplane,
 * dpmp-controlplane and dpmpctl.  Accepts every config the Python DPMP v2
 * accepted (listen, metrics, pools.A/B, scheduler.poolX_weight, ...) plus
 * our own optional keys.  Unknown keys are ignored; a bad value fails with
 * a message that names the key ("pools.A.port: must be 1..65535").
 */
#ifndef DPMP_CONFIG_H
#define DPMP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define CONFIG_MAX_POOLS	16
#define CONFIG_KEY_MAX		32
#define CONFIG_STR_MAX		256
#define CONFIG_MAX_HOSTS	16	/* http.allowed_hosts entries */

enum upstream_mode {
	UPSTREAM_PER_MINER = 0,
	UPSTREAM_AGGREGATE,
};

struct config_pool {
	char		 key[CONFIG_KEY_MAX];	/* "A", "B", ... */
	char		 name[CONFIG_STR_MAX];
	char		 host[CONFIG_STR_MAX];
	uint16_t	 port;
	char		 wallet[CONFIG_STR_MAX];	/* "" = use miner's user */
	char		 password[CONFIG_STR_MAX];	/* default "x" */
	char		 chain[CONFIG_KEY_MAX];
	double		 weight;		/* scheduler weight, >= 0 */
	double		 min_diff;		/* downstream_diff.poolX_min */
	unsigned	 silent_seconds;	/* default 120 */
	bool		 enabled;		/* default true */
};

struct config {
	/* miner-facing listener */
	char		 listen_host[CONFIG_STR_MAX];	/* default 0.0.0.0 */
	uint16_t	 listen_port;			/* default 3351 */
	/* Prometheus */
	bool		 metrics_enabled;		/* default true */
	char		 metrics_host[CONFIG_STR_MAX];	/* default 127.0.0.1 */
	uint16_t	 metrics_port;			/* default 9210 */
	bool		 metrics_per_worker;		/* default false */
	/* web UI + JSON API */
	char		 http_host[CONFIG_STR_MAX];	/* default 127.0.0.1 */
	uint16_t	 http_port;			/* default 8855 */
	char		 http_token[CONFIG_STR_MAX];	/* "" = writes refused */
	/* Host names the UI/API answers to besides IP literals and
	 * localhost; "*" turns the check off */
	char		 http_allowed_hosts[CONFIG_MAX_HOSTS][CONFIG_STR_MAX];
	size_t		 n_http_allowed_hosts;
	unsigned	 http_idle_timeout;		/* seconds, default 15 */
	/* nng endpoints */
	char		 state_dir[CONFIG_STR_MAX];	/* default ./state */
	char		 ipc_dataplane[CONFIG_STR_MAX];	/* req/rep, dp listens */
	char		 ipc_events[CONFIG_STR_MAX];	/* pub/sub, dp listens */
	char		 ipc_control[CONFIG_STR_MAX];	/* req/rep, cp listens */
	/* pools, in file order (A before B when keyed A/B) */
	struct config_pool pools[CONFIG_MAX_POOLS];
	size_t		 n_pools;
	/* scheduler */
	char		 sched_mode[CONFIG_KEY_MAX];	/* "ratio" */
	unsigned	 slice_seconds;			/* default 30, >= 1 */
	unsigned	 min_switch_seconds;		/* default 10, >= 1 */
	unsigned	 window_seconds;		/* default 600 */
	double		 default_min_diff;		/* downstream_diff */
	/* upstream */
	enum upstream_mode upstream_mode;		/* default per_miner */
	unsigned	 extranonce2_size;		/* to miners, 2..8, default 4 */
	unsigned	 upstream_sessions;		/* aggregate: per pool, 1 */
	/* limits and grace periods (dataplane) */
	unsigned	 max_miners;			/* default 10000 */
	unsigned	 max_per_address;		/* connections, 1000; 0 = off */
	unsigned	 handshake_timeout_seconds;	/* to authorize, 30; 0 = off */
	size_t		 max_line;			/* miner line, 4096 */
	size_t		 max_outq;			/* bytes queued per miner, 256 KiB */
	unsigned	 jobs_kept;			/* per upstream session, 64 */
	unsigned	 pending_shares;		/* in flight per session, 4096 */
	unsigned	 stale_grace_ms;		/* after clean_jobs, 5000 */
	unsigned	 reconnect_grace_seconds;	/* 60 */
	unsigned	 connect_timeout_ms;		/* 5000 */
	/* logging */
	bool		 log_json;			/* default true */
	char		 log_level[CONFIG_KEY_MAX];	/* default "info" */
	char		 log_file[CONFIG_STR_MAX];	/* "" = stderr */
};

/* Defaults for everything (no pools). */
void	config_defaults(struct config *cfg);
/* Load and validate a file.  0, or -1 with "key: reason" in err. */
int	config_load_file(const char *path, struct config *cfg, char *err,
	    size_t errlen);
/* Same from a parsed JSON object (for live edits and the state overlay). */
int	config_load_json(const json_t *root, struct config *cfg, char *err,
	    size_t errlen);
/* Apply a state overlay ({"weights": {...}, "pools": {...}, ...}) on top
 * of a loaded config, validating like the file.  0 or -1 with err. */
int	config_apply_overlay(struct config *cfg, const json_t *overlay,
	    char *err, size_t errlen);
/* Index of a pool key, or -1. */
int	config_pool_index(const struct config *cfg, const char *key);
/* The running config as JSON (new reference); mask_secrets hides
 * passwords and the http token. */
json_t	*config_to_json(const struct config *cfg, bool mask_secrets);

#endif
