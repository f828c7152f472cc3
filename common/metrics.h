/*
 * metrics: the catalogue of dpmp_* metric families.  The dataplane counts
 * under these names and ships samples over IPC (GetCounters); the
 * controlplane renders them for Prometheus with the HELP and TYPE given
 * here, so a name is spelled in exactly one place.
 */
#ifndef DPMP_METRICS_H
#define DPMP_METRICS_H

#include <stddef.h>

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
};

struct metric_family {
	const char	*name;
	enum metric_type type;
	const char	*help;
};

#define M_BUILD_INFO		"dpmp_build_info"
#define M_UP_SECONDS		"dpmp_up_seconds"
#define M_DOWNSTREAM_CONNS	"dpmp_downstream_connections"
#define M_UPSTREAM_CONNS	"dpmp_upstream_connections"
#define M_POOL_UP		"dpmp_pool_up"
#define M_POOL_INFO		"dpmp_pool_info"
#define M_MINERS_ASSIGNED	"dpmp_miners_assigned"
#define M_POOL_DIFFICULTY	"dpmp_pool_difficulty"
#define M_POOL_WEIGHT		"dpmp_pool_weight"
#define M_SCHED_SHARE		"dpmp_scheduler_share"
#define M_SCHED_TARGET		"dpmp_scheduler_target_share"
#define M_JOBS_FORWARDED	"dpmp_jobs_forwarded_total"
#define M_SHARES_SUBMITTED	"dpmp_shares_submitted_total"
#define M_SHARES_ACCEPTED	"dpmp_shares_accepted_total"
#define M_SHARES_REJECTED	"dpmp_shares_rejected_total"
#define M_ACCEPTED_DIFF		"dpmp_accepted_difficulty_total"
#define M_POOL_SWITCHES		"dpmp_pool_switches_total"
#define M_SHARE_LATENCY		"dpmp_share_latency_seconds"
#define M_EXTRANONCE_FALLBACKS	"dpmp_extranonce_fallbacks_total"
#define M_BLOCK_CANDIDATES	"dpmp_block_candidates_total"
#define M_LIMIT_HITS		"dpmp_limit_hits_total"
#define M_MESSAGES		"dpmp_messages_total"
#define M_IPC_RESTARTS		"dpmp_ipc_listener_restarts_total"
#define M_HTTP_REFUSED		"dpmp_http_refused_total"
#define M_WORKER_ACCEPTED	"dpmp_worker_shares_accepted_total"
#define M_WORKER_ACCEPTED_DIFF	"dpmp_worker_accepted_difficulty_total"

/* Upper bounds of dpmp_share_latency_seconds buckets (without +Inf). */
extern const double metric_latency_bounds[];
extern const size_t metric_latency_nbounds;

const struct metric_family *metric_family_find(const char *name);
/* All families, in the order they should be exposed. */
const struct metric_family *metric_families(size_t *n);

#endif
