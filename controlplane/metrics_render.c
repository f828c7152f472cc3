#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "metrics_render.h"

/* Output grows here; an allocation failure sticks and fails the render. */
struct buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
	bool	 oom;
};

static void
buf_grow(struct buf *b, size_t need)
{
	size_t	 cap;
	char	*np;

	if (b->oom || b->len + need + 1 <= b->cap)
		return;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + need + 1)
		cap *= 2;
	if ((np = realloc(b->p, cap)) == NULL) {
		b->oom = true;
		return;
	}
	b->p = np;
	b->cap = cap;
}

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	buf_grow(b, n);
	if (b->oom)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* Label values escape backslash, double quote and newline; HELP text
 * escapes only backslash and newline (exposition format 0.0.4). */
static void
buf_escaped(struct buf *b, const char *s, bool quote)
{
	const char *run = s;

	for (; *s != '\0'; s++) {
		const char *rep = NULL;

		if (*s == '\\')
			rep = "\\\\";
		else if (*s == '\n')
			rep = "\\n";
		else if (*s == '"' && quote)
			rep = "\\\"";
		if (rep == NULL)
			continue;
		buf_add(b, run, (size_t)(s - run));
		buf_str(b, rep);
		run = s + 1;
	}
	buf_add(b, run, (size_t)(s - run));
}

void
metrics_format_value(double v, char *buf, size_t len)
{
	if (isnan(v)) {
		snprintf(buf, len, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	/* %.15g reads well (0.1, not 0.10000000000000001) and is exact for
	 * most values; fall back to 17 digits when it would not round-trip */
	snprintf(buf, len, "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, len, "%.17g", v);
}

static void
buf_value(struct buf *b, double v)
{
	char num[40];

	metrics_format_value(v, num, sizeof(num));
	buf_str(b, num);
}

static bool
label_name_ok(const char *s)
{
	const char *p;

	if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9'))
		return false;
	/* "le" is the histogram's own; "__" names are reserved */
	if (strncmp(s, "__", 2) == 0)
		return false;
	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

/* A fixed label set given as name/value pairs, NULL-terminated. */
struct lbl {
	const char *name;
	const char *value;
};

static void
sample(struct buf *b, const char *name, const char *suffix,
    const struct lbl *fixed, Dpmp__Label *const *dyn, size_t ndyn,
    const char *le, double v)
{
	bool	 open = false;
	size_t	 i;

	buf_str(b, name);
	if (suffix != NULL)
		buf_str(b, suffix);
	for (; fixed != NULL && fixed->name != NULL; fixed++) {
		buf_str(b, open ? "," : "{");
		open = true;
		buf_str(b, fixed->name);
		buf_str(b, "=\"");
		buf_escaped(b, fixed->value ? fixed->value : "", true);
		buf_str(b, "\"");
	}
	for (i = 0; i < ndyn; i++) {
		buf_str(b, open ? "," : "{");
		open = true;
		buf_str(b, dyn[i]->name);
		buf_str(b, "=\"");
		buf_escaped(b, dyn[i]->value ? dyn[i]->value : "", true);
		buf_str(b, "\"");
	}
	if (le != NULL) {
		buf_str(b, open ? ",le=\"" : "{le=\"");
		buf_str(b, le);
		buf_str(b, "\"");
		open = true;
	}
	if (open)
		buf_str(b, "}");
	buf_str(b, " ");
	buf_value(b, v);
	buf_str(b, "\n");
}

/* Labels from the dataplane are checked before they reach the output: a
 * bad name would make the whole scrape unparsable. */
static bool
labels_ok(Dpmp__Label *const *l, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (l[i] == NULL || !label_name_ok(l[i]->name) ||
		    strcmp(l[i]->name, "le") == 0)
			return false;
	return true;
}

static void
pool_sample(struct buf *b, const char *name, const char *pool, double v)
{
	const struct lbl l[] = { { "pool", pool }, { NULL, NULL } };

	sample(b, name, NULL, l, NULL, 0, NULL, v);
}

/* ---- families the controlplane computes ------------------------------ */

static void
gen_build_info(struct buf *b, const struct metrics_input *in)
{
	const struct lbl l[] = { { "version", in->version }, { NULL, NULL } };

	sample(b, M_BUILD_INFO, NULL, l, NULL, 0, NULL, 1);
}

static void
gen_up_seconds(struct buf *b, const struct metrics_input *in)
{
	const Dpmp__State *st = in->state;

	if (st == NULL || st->now_ms < st->started_ms)
		return;
	sample(b, M_UP_SECONDS, NULL, NULL, NULL, 0, NULL,
	    (double)(st->now_ms - st->started_ms) / 1000.0);
}

static void
gen_downstream(struct buf *b, const struct metrics_input *in)
{
	size_t	 i, n = 0;

	if (in->state == NULL)
		return;
	for (i = 0; i < in->state->n_miners; i++)
		if (in->state->miners[i]->connected)
			n++;
	sample(b, M_DOWNSTREAM_CONNS, NULL, NULL, NULL, 0, NULL, (double)n);
}

static void
gen_pool_state(struct buf *b, const struct metrics_input *in,
    const char *name)
{
	const Dpmp__PoolState	*ps;
	double			 v;
	size_t			 i;

	if (in->state == NULL)
		return;
	for (i = 0; i < in->state->n_pools; i++) {
		ps = in->state->pools[i];
		if (strcmp(name, M_POOL_UP) == 0)
			v = ps->up ? 1 : 0;
		else if (strcmp(name, M_UPSTREAM_CONNS) == 0)
			v = ps->upstream_connections;
		else if (strcmp(name, M_MINERS_ASSIGNED) == 0)
			v = ps->miners_assigned;
		else
			v = ps->difficulty;
		pool_sample(b, name, ps->key, v);
	}
}

static void
gen_pool_up(struct buf *b, const struct metrics_input *in)
{
	gen_pool_state(b, in, M_POOL_UP);
}

static void
gen_upstream(struct buf *b, const struct metrics_input *in)
{
	gen_pool_state(b, in, M_UPSTREAM_CONNS);
}

static void
gen_assigned(struct buf *b, const struct metrics_input *in)
{
	gen_pool_state(b, in, M_MINERS_ASSIGNED);
}

static void
gen_difficulty(struct buf *b, const struct metrics_input *in)
{
	gen_pool_state(b, in, M_POOL_DIFFICULTY);
}

static void
gen_pool_info(struct buf *b, const struct metrics_input *in)
{
	size_t i;

	for (i = 0; i < in->n_pools; i++) {
		const struct metrics_pool *p = &in->pools[i];
		const struct lbl l[] = {
			{ "pool", p->key }, { "name", p->name },
			{ "host", p->host }, { "chain", p->chain },
			{ NULL, NULL },
		};

		sample(b, M_POOL_INFO, NULL, l, NULL, 0, NULL, 1);
	}
}

static void
gen_weight(struct buf *b, const struct metrics_input *in)
{
	size_t i;

	for (i = 0; i < in->n_pools; i++)
		pool_sample(b, M_POOL_WEIGHT, in->pools[i].key,
		    in->pools[i].weight);
}

static void
gen_share(struct buf *b, const struct metrics_input *in)
{
	size_t i;

	for (i = 0; i < in->n_pools; i++)
		pool_sample(b, M_SCHED_SHARE, in->pools[i].key,
		    in->pools[i].share);
}

static void
gen_target(struct buf *b, const struct metrics_input *in)
{
	size_t i;

	for (i = 0; i < in->n_pools; i++)
		pool_sample(b, M_SCHED_TARGET, in->pools[i].key,
		    in->pools[i].target);
}

static void
gen_http_refused(struct buf *b, const struct metrics_input *in)
{
	size_t i;

	for (i = 0; i < in->n_refusals; i++) {
		const struct lbl l[] = {
			{ "listener", in->refusals[i].listener },
			{ "reason", in->refusals[i].reason },
			{ NULL, NULL },
		};

		sample(b, M_HTTP_REFUSED, NULL, l, NULL, 0, NULL,
		    (double)in->refusals[i].count);
	}
}

/* Families whose samples the controlplane computes itself; any sample of
 * the same name in the dataplane's counters is ignored so a series is
 * never exposed twice. */
static const struct {
	const char	*name;
	void		(*gen)(struct buf *, const struct metrics_input *);
} generators[] = {
	{ M_BUILD_INFO,		gen_build_info },
	{ M_UP_SECONDS,		gen_up_seconds },
	{ M_DOWNSTREAM_CONNS,	gen_downstream },
	{ M_UPSTREAM_CONNS,	gen_upstream },
	{ M_POOL_UP,		gen_pool_up },
	{ M_POOL_INFO,		gen_pool_info },
	{ M_MINERS_ASSIGNED,	gen_assigned },
	{ M_POOL_DIFFICULTY,	gen_difficulty },
	{ M_POOL_WEIGHT,	gen_weight },
	{ M_SCHED_SHARE,	gen_share },
	{ M_SCHED_TARGET,	gen_target },
	{ M_HTTP_REFUSED,	gen_http_refused },
};

/* ---- families passed through from GetCounters ----------------------- */

static void
pass_metrics(struct buf *b, const struct metrics_input *in, const char *name)
{
	const Dpmp__Metric	*m;
	size_t			 i;

	if (in->counters == NULL)
		return;
	for (i = 0; i < in->counters->n_metrics; i++) {
		m = in->counters->metrics[i];
		if (m == NULL || m->name == NULL || strcmp(m->name, name) != 0)
			continue;
		if (!labels_ok(m->labels, m->n_labels))
			continue;
		sample(b, name, NULL, NULL, m->labels, m->n_labels, NULL,
		    m->value);
	}
}

static void
pass_histograms(struct buf *b, const struct metrics_input *in,
    const char *name)
{
	const Dpmp__Histogram	*h;
	char			 le[40];
	size_t			 i, j;

	if (in->counters == NULL)
		return;
	for (i = 0; i < in->counters->n_histograms; i++) {
		h = in->counters->histograms[i];
		if (h == NULL || h->name == NULL || strcmp(h->name, name) != 0)
			continue;
		/* buckets are cumulative, one per bound; anything else is a
		 * malformed sample and would break the scrape */
		if (h->n_buckets != h->n_bounds ||
		    !labels_ok(h->labels, h->n_labels))
			continue;
		for (j = 0; j < h->n_bounds; j++) {
			metrics_format_value(h->bounds[j], le, sizeof(le));
			sample(b, name, "_bucket", NULL, h->labels,
			    h->n_labels, le, (double)h->buckets[j]);
		}
		sample(b, name, "_bucket", NULL, h->labels, h->n_labels,
		    "+Inf", (double)h->count);
		sample(b, name, "_sum", NULL, h->labels, h->n_labels, NULL,
		    h->sum);
		sample(b, name, "_count", NULL, h->labels, h->n_labels, NULL,
		    (double)h->count);
	}
}

static const char *
type_name(enum metric_type t)
{
	switch (t) {
	case METRIC_COUNTER:
		return "counter";
	case METRIC_GAUGE:
		return "gauge";
	case METRIC_HISTOGRAM:
		return "histogram";
	}
	return "untyped";
}

char *
metrics_render(const struct metrics_input *in, size_t *len)
{
	const struct metric_family	*fam;
	struct buf			 b = { NULL, 0, 0, false };
	size_t				 nfam, i, g;
	bool				 done;

	fam = metric_families(&nfam);
	for (i = 0; i < nfam; i++) {
		buf_str(&b, "# HELP ");
		buf_str(&b, fam[i].name);
		buf_str(&b, " ");
		buf_escaped(&b, fam[i].help, false);
		buf_str(&b, "\n# TYPE ");
		buf_str(&b, fam[i].name);
		buf_str(&b, " ");
		buf_str(&b, type_name(fam[i].type));
		buf_str(&b, "\n");

		done = false;
		for (g = 0; g < sizeof(generators) / sizeof(generators[0]);
		    g++) {
			if (strcmp(generators[g].name, fam[i].name) == 0) {
				generators[g].gen(&b, in);
				done = true;
				break;
			}
		}
		if (done)
			continue;
		if (fam[i].type == METRIC_HISTOGRAM)
			pass_histograms(&b, in, fam[i].name);
		else
			pass_metrics(&b, in, fam[i].name);
	}
	if (b.p == NULL)
		buf_str(&b, "");
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	if (len != NULL)
		*len = b.len;
	return b.p;
}
