/*
 * metrics_render: Prometheus text exposition (format 0.0.4) of the dpmp_*
 * catalogue in common/metrics.h.  A pure function of its input: the
 * dataplane's counters and state as last fetched, plus the figures only
 * the controlplane knows (weights, scheduler shares, pool info), so it is
 * unit-testable without sockets.
 */
#ifndef DPMP_CP_METRICS_RENDER_H
#define DPMP_CP_METRICS_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "dpmp.pb-c.h"

#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

struct metrics_pool {
	const char	*key;		/* the "pool" label */
	const char	*name;
	const char	*host;
	const char	*chain;
	double		 weight;	/* configured */
	double		 share;		/* measured, 0..1 */
	double		 target;	/* weight share in force, 0..1 */
};

/* One series of dpmp_http_refused_total. */
struct metrics_refusal {
	const char	*listener;	/* "http", "metrics" */
	const char	*reason;	/* "limit", "host" */
	uint64_t	 count;
};

struct metrics_input {
	const char		*version;
	const struct metrics_pool *pools;	/* config order */
	size_t			 n_pools;
	const struct metrics_refusal *refusals;
	size_t			 n_refusals;
	const Dpmp__State	*state;		/* NULL: no dataplane */
	const Dpmp__Counters	*counters;	/* NULL: none yet */
};

/* The exposition as a NUL-terminated malloc'd string (length in *len),
 * or NULL when out of memory. */
char	*metrics_render(const struct metrics_input *in, size_t *len);
/* Shortest decimal that reads back as v; NaN and +-Inf spelled the
 * Prometheus way.  buf of at least 32 bytes. */
void	 metrics_format_value(double v, char *buf, size_t len);

#endif
