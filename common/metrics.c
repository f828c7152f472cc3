#include <string.h>

#include "metrics.h"

const double metric_latency_bounds[] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10,
};
const size_t metric_latency_nbounds =
    sizeof(metric_latency_bounds) / sizeof(metric_latency_bounds[0]);

static const struct metric_family families[] = {
	{ M_BUILD_INFO, METRIC_GAUGE, "DPMP build, value 1" },
	{ M_UP_SECONDS, METRIC_GAUGE, "Seconds since the dataplane started" },
	{ M_DOWNSTREAM_CONNS, METRIC_GAUGE, "Connected miners" },
	{ M_UPSTREAM_CONNS, METRIC_GAUGE, "Open upstream sessions per pool" },
	{ M_POOL_UP, METRIC_GAUGE, "1 when the pool is up" },
	{ M_POOL_INFO, METRIC_GAUGE, "Pool name, host and chain, value 1" },
	{ M_MINERS_ASSIGNED, METRIC_GAUGE, "Miners working for the pool" },
	{ M_POOL_DIFFICULTY, METRIC_GAUGE, "Current pool difficulty" },
	{ M_POOL_WEIGHT, METRIC_GAUGE, "Configured scheduler weight" },
	{ M_SCHED_SHARE, METRIC_GAUGE,
	  "Measured share of accepted difficulty in the scheduler window" },
	{ M_SCHED_TARGET, METRIC_GAUGE,
	  "Target share of accepted difficulty (weights, down pools zeroed)" },
	{ M_JOBS_FORWARDED, METRIC_COUNTER, "Jobs sent to miners" },
	{ M_SHARES_SUBMITTED, METRIC_COUNTER, "Shares forwarded to the pool" },
	{ M_SHARES_ACCEPTED, METRIC_COUNTER, "Shares the pool accepted" },
	{ M_SHARES_REJECTED, METRIC_COUNTER,
	  "Shares rejected by reason; where=local: by DPMP before the pool, "
	  "where=pool: by the pool or unanswered" },
	{ M_ACCEPTED_DIFF, METRIC_COUNTER,
	  "Sum of the job difficulty of accepted shares" },
	{ M_POOL_SWITCHES, METRIC_COUNTER, "Miner moves between pools" },
	{ M_SHARE_LATENCY, METRIC_HISTOGRAM,
	  "Seconds from a miner's submit to the pool's answer" },
	{ M_EXTRANONCE_FALLBACKS, METRIC_COUNTER,
	  "Switches that needed set_extranonce or a reconnect" },
	{ M_BLOCK_CANDIDATES, METRIC_COUNTER,
	  "Shares meeting the network target" },
	{ M_LIMIT_HITS, METRIC_COUNTER, "Times a configured limit was hit" },
	{ M_MESSAGES, METRIC_COUNTER, "Stratum messages by side and direction" },
	{ M_IPC_RESTARTS, METRIC_COUNTER,
	  "Dataplane IPC listeners opened again after nng stopped accepting" },
	{ M_HTTP_REFUSED, METRIC_COUNTER,
	  "Controlplane HTTP refusals: limit = at the connection cap (503), "
	  "host = Host not allowed (421)" },
	{ M_WORKER_ACCEPTED, METRIC_COUNTER,
	  "Accepted shares per worker (metrics.per_worker)" },
	{ M_WORKER_ACCEPTED_DIFF, METRIC_COUNTER,
	  "Accepted difficulty per worker (metrics.per_worker)" },
};

const struct metric_family *
metric_families(size_t *n)
{
	*n = sizeof(families) / sizeof(families[0]);
	return families;
}

const struct metric_family *
metric_family_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		if (strcmp(families[i].name, name) == 0)
			return &families[i];
	return NULL;
}
