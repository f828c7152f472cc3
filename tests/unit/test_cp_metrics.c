/* Check suite: controlplane/metrics_render.c, Prometheus exposition. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "metrics.h"
#include "metrics_render.h"

/* Check 0.15 has no pointer ordering asserts. */
#define PTR_LT(a, b)	((const char *)(a) < (const char *)(b))
#define PTR_GT(a, b)	((const char *)(a) > (const char *)(b))

/* ---- building dataplane counters ---------------------------------------- */

static Dpmp__Label *
label(const char *name, const char *value)
{
	Dpmp__Label *l = calloc(1, sizeof(*l));

	dpmp__label__init(l);
	l->name = strdup(name);
	l->value = strdup(value);
	return l;
}

static void
add_metric(Dpmp__Counters *c, const char *name, double v, const char *l1,
    const char *v1, const char *l2, const char *v2)
{
	Dpmp__Metric *m = calloc(1, sizeof(*m));

	dpmp__metric__init(m);
	m->name = strdup(name);
	m->value = v;
	m->labels = calloc(3, sizeof(*m->labels));
	if (l1 != NULL)
		m->labels[m->n_labels++] = label(l1, v1);
	if (l2 != NULL)
		m->labels[m->n_labels++] = label(l2, v2);
	c->metrics = realloc(c->metrics, (c->n_metrics + 1) *
	    sizeof(*c->metrics));
	c->metrics[c->n_metrics++] = m;
}

/* A third label on the sample added last. */
static void
add_label(Dpmp__Counters *c, const char *name, const char *value)
{
	Dpmp__Metric *m = c->metrics[c->n_metrics - 1];

	m->labels[m->n_labels++] = label(name, value);
}

static void
add_histogram(Dpmp__Counters *c, const char *pool, const uint64_t *buckets,
    size_t n, double sum, uint64_t count)
{
	Dpmp__Histogram *h = calloc(1, sizeof(*h));
	size_t i;

	dpmp__histogram__init(h);
	h->name = strdup(M_SHARE_LATENCY);
	h->labels = calloc(1, sizeof(*h->labels));
	h->labels[h->n_labels++] = label("pool", pool);
	h->bounds = calloc(n, sizeof(double));
	h->buckets = calloc(n, sizeof(uint64_t));
	for (i = 0; i < n; i++) {
		h->bounds[i] = metric_latency_bounds[i];
		h->buckets[i] = buckets[i];
	}
	h->n_bounds = h->n_buckets = n;
	h->sum = sum;
	h->count = count;
	c->histograms = realloc(c->histograms, (c->n_histograms + 1) *
	    sizeof(*c->histograms));
	c->histograms[c->n_histograms++] = h;
}

static Dpmp__Counters *
counters_new(void)
{
	Dpmp__Counters *c = calloc(1, sizeof(*c));

	dpmp__counters__init(c);
	return c;
}

static void
counters_free(Dpmp__Counters *c)
{
	/* built with malloc throughout, like an unpacked message */
	protobuf_c_message_free_unpacked(&c->base, NULL);
}

static const struct metrics_pool two_pools[] = {
	{ "A", "ocean", "mine.ocean.xyz", "BTC", 70, 0.68, 0.7 },
	{ "B", "bch \"pool\"", "bch.example", "BCH", 30, 0.32, 0.3 },
};

static char *
render(const Dpmp__State *st, const Dpmp__Counters *c, size_t *len)
{
	struct metrics_input in;
	char *text;

	memset(&in, 0, sizeof(in));
	in.version = "1.2.3";
	in.pools = two_pools;
	in.n_pools = 2;
	in.state = st;
	in.counters = c;
	text = metrics_render(&in, len);
	ck_assert_ptr_nonnull(text);
	return text;
}

/* Number of lines of text that start with prefix. */
static int
count_lines(const char *text, const char *prefix)
{
	const char	*p = text;
	int		 n = 0;
	size_t		 len = strlen(prefix);

	while (*p != '\0') {
		if (strncmp(p, prefix, len) == 0)
			n++;
		p = strchr(p, '\n');
		if (p == NULL)
			break;
		p++;
	}
	return n;
}

static bool
has_line(const char *text, const char *line)
{
	const char	*p = text;
	size_t		 len = strlen(line);

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[len] == '\n')
			return true;
		p += len;
	}
	return false;
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(every_family_once_in_catalogue_order)
{
	const struct metric_family *fam;
	char	 help[256], type[256];
	char	*text;
	const char *prev = NULL, *at;
	size_t	 n, i, len;

	text = render(NULL, NULL, &len);
	ck_assert_uint_eq(strlen(text), len);
	fam = metric_families(&n);
	for (i = 0; i < n; i++) {
		snprintf(help, sizeof(help), "# HELP %s ", fam[i].name);
		snprintf(type, sizeof(type), "# TYPE %s ", fam[i].name);
		ck_assert_int_eq(count_lines(text, help), 1);
		ck_assert_int_eq(count_lines(text, type), 1);
		at = strstr(text, help);
		/* HELP then TYPE, families in catalogue order */
		ck_assert(PTR_LT(at, strstr(text, type)));
		if (prev != NULL)
			ck_assert(PTR_GT(at, prev));
		prev = at;
	}
	ck_assert(text[len - 1] == '\n');
	free(text);
}
END_TEST

START_TEST(types_follow_catalogue)
{
	char *text = render(NULL, NULL, NULL);

	ck_assert(has_line(text, "# TYPE dpmp_shares_accepted_total counter"));
	ck_assert(has_line(text, "# TYPE dpmp_pool_weight gauge"));
	ck_assert(has_line(text, "# TYPE dpmp_share_latency_seconds histogram"));
	free(text);
}
END_TEST

START_TEST(no_dataplane_gives_only_controlplane_gauges)
{
	char *text = render(NULL, NULL, NULL);

	ck_assert(has_line(text, "dpmp_build_info{version=\"1.2.3\"} 1"));
	ck_assert(has_line(text, "dpmp_pool_weight{pool=\"A\"} 70"));
	ck_assert(has_line(text, "dpmp_pool_weight{pool=\"B\"} 30"));
	ck_assert(has_line(text, "dpmp_scheduler_target_share{pool=\"A\"} 0.7"));
	ck_assert(has_line(text, "dpmp_scheduler_share{pool=\"B\"} 0.32"));
	/* nothing made up for what only the dataplane knows */
	ck_assert_ptr_null(strstr(text, "dpmp_pool_up{"));
	ck_assert_ptr_null(strstr(text, "\ndpmp_up_seconds "));
	ck_assert_ptr_null(strstr(text, "dpmp_shares_accepted_total{"));
	free(text);
}
END_TEST

START_TEST(label_values_escaped)
{
	Dpmp__Counters	*c = counters_new();
	char		*text;

	add_metric(c, M_SHARES_REJECTED, 3, "pool", "A", "reason",
	    "bad \\ \"quoted\"\nnext line");
	text = render(NULL, c, NULL);
	ck_assert(has_line(text, "dpmp_shares_rejected_total{pool=\"A\","
	    "reason=\"bad \\\\ \\\"quoted\\\"\\nnext line\"} 3"));
	/* pool info carries the config's strings, escaped the same way */
	ck_assert(has_line(text, "dpmp_pool_info{pool=\"B\",name=\"bch "
	    "\\\"pool\\\"\",host=\"bch.example\",chain=\"BCH\"} 1"));
	free(text);
	counters_free(c);
}
END_TEST

START_TEST(passthrough_counters)
{
	Dpmp__Counters	*c = counters_new();
	char		*text;

	add_metric(c, M_SHARES_ACCEPTED, 12, "pool", "A", NULL, NULL);
	add_metric(c, M_SHARES_ACCEPTED, 5, "pool", "B", NULL, NULL);
	add_metric(c, M_ACCEPTED_DIFF, 0.1, "pool", "A", NULL, NULL);
	add_metric(c, M_MESSAGES, 1e6, "side", "miner", "direction", "in");
	add_metric(c, M_POOL_SWITCHES, 7, "reason", "schedule", NULL, NULL);
	text = render(NULL, c, NULL);
	ck_assert(has_line(text, "dpmp_shares_accepted_total{pool=\"A\"} 12"));
	ck_assert(has_line(text, "dpmp_shares_accepted_total{pool=\"B\"} 5"));
	ck_assert(has_line(text, "dpmp_accepted_difficulty_total{pool=\"A\"} 0.1"));
	ck_assert(has_line(text, "dpmp_messages_total{side=\"miner\","
	    "direction=\"in\"} 1000000"));
	ck_assert(has_line(text, "dpmp_pool_switches_total{reason=\"schedule\"} 7"));
	/* samples sit under their own family's TYPE line */
	ck_assert(PTR_LT(strstr(text, "# TYPE dpmp_shares_accepted_total"),
	    strstr(text, "dpmp_shares_accepted_total{pool=\"A\"}")));
	ck_assert(PTR_GT(strstr(text, "# TYPE dpmp_shares_rejected_total"),
	    strstr(text, "dpmp_shares_accepted_total{pool=\"B\"}")));
	free(text);
	counters_free(c);
}
END_TEST

START_TEST(rejects_local_and_pool_apart)
{
	Dpmp__Counters	*c = counters_new();
	char		*text;

	add_metric(c, M_SHARES_REJECTED, 4, "pool", "A", "reason",
	    "duplicate");
	add_label(c, "where", "local");
	add_metric(c, M_SHARES_REJECTED, 1, "pool", "A", "reason", "stale");
	add_label(c, "where", "pool");
	add_metric(c, M_SHARES_REJECTED, 2, "pool", "none", "reason",
	    "stale");
	add_label(c, "where", "local");
	text = render(NULL, c, NULL);
	ck_assert(has_line(text, "dpmp_shares_rejected_total{pool=\"A\","
	    "reason=\"duplicate\",where=\"local\"} 4"));
	ck_assert(has_line(text, "dpmp_shares_rejected_total{pool=\"A\","
	    "reason=\"stale\",where=\"pool\"} 1"));
	ck_assert(has_line(text, "dpmp_shares_rejected_total{pool=\"none\","
	    "reason=\"stale\",where=\"local\"} 2"));
	/* the HELP line says what the label means */
	ck_assert(has_line(text, "# HELP dpmp_shares_rejected_total Shares "
	    "rejected by reason; where=local: by DPMP before the pool, "
	    "where=pool: by the pool or unanswered"));
	free(text);
	counters_free(c);
}
END_TEST

START_TEST(unknown_and_malformed_samples_dropped)
{
	Dpmp__Counters	*c = counters_new();
	char		*text;

	add_metric(c, "dpmp_not_in_catalogue_total", 1, NULL, NULL, NULL,
	    NULL);
	add_metric(c, M_LIMIT_HITS, 1, "bad-name", "x", NULL, NULL);
	add_metric(c, M_LIMIT_HITS, 2, "le", "x", NULL, NULL);
	add_metric(c, M_LIMIT_HITS, 3, "__reserved", "x", NULL, NULL);
	add_metric(c, M_LIMIT_HITS, 4, "limit", "max_line", NULL, NULL);
	text = render(NULL, c, NULL);
	ck_assert_ptr_null(strstr(text, "dpmp_not_in_catalogue_total"));
	ck_assert_ptr_null(strstr(text, "bad-name"));
	ck_assert_int_eq(count_lines(text, "dpmp_limit_hits_total{"), 1);
	ck_assert(has_line(text, "dpmp_limit_hits_total{limit=\"max_line\"} 4"));
	free(text);
	counters_free(c);
}
END_TEST

START_TEST(controlplane_families_not_duplicated)
{
	Dpmp__Counters	*c = counters_new();
	char		*text;

	/* the dataplane may send these too; they are exposed once */
	add_metric(c, M_POOL_WEIGHT, 99, "pool", "A", NULL, NULL);
	add_metric(c, M_BUILD_INFO, 1, "version", "dp", NULL, NULL);
	text = render(NULL, c, NULL);
	ck_assert_int_eq(count_lines(text, "dpmp_pool_weight{pool=\"A\"}"), 1);
	ck_assert(has_line(text, "dpmp_pool_weight{pool=\"A\"} 70"));
	ck_assert_int_eq(count_lines(text, "dpmp_build_info{"), 1);
	free(text);
	counters_free(c);
}
END_TEST

START_TEST(histogram_buckets)
{
	Dpmp__Counters	*c = counters_new();
	uint64_t	 b[14] = { 0, 1, 2, 5, 9, 9, 9, 9, 9, 9, 9, 9, 10, 10 };
	char		*text;

	add_histogram(c, "A", b, 14, 0.125, 11);
	text = render(NULL, c, NULL);
	ck_assert(has_line(text,
	    "dpmp_share_latency_seconds_bucket{pool=\"A\",le=\"0.0005\"} 0"));
	ck_assert(has_line(text,
	    "dpmp_share_latency_seconds_bucket{pool=\"A\",le=\"0.001\"} 1"));
	ck_assert(has_line(text,
	    "dpmp_share_latency_seconds_bucket{pool=\"A\",le=\"2.5\"} 9"));
	ck_assert(has_line(text,
	    "dpmp_share_latency_seconds_bucket{pool=\"A\",le=\"10\"} 10"));
	ck_assert(has_line(text,
	    "dpmp_share_latency_seconds_bucket{pool=\"A\",le=\"+Inf\"} 11"));
	ck_assert(has_line(text, "dpmp_share_latency_seconds_sum{pool=\"A\"} 0.125"));
	ck_assert(has_line(text, "dpmp_share_latency_seconds_count{pool=\"A\"} 11"));
	ck_assert_int_eq(count_lines(text, "dpmp_share_latency_seconds_bucket"),
	    15);
	/* +Inf comes after the finite buckets */
	ck_assert(PTR_LT(strstr(text, "le=\"10\""), strstr(text, "le=\"+Inf\"")));
	free(text);
	counters_free(c);
}
END_TEST

START_TEST(histogram_with_mismatched_buckets_dropped)
{
	Dpmp__Counters	*c = counters_new();
	uint64_t	 b[3] = { 1, 2, 3 };
	char		*text;

	add_histogram(c, "A", b, 3, 1, 3);
	c->histograms[0]->n_buckets = 2;	/* one short */
	text = render(NULL, c, NULL);
	ck_assert_ptr_null(strstr(text, "dpmp_share_latency_seconds_bucket"));
	c->histograms[0]->n_buckets = 3;
	free(text);
	counters_free(c);
}
END_TEST

START_TEST(state_gauges)
{
	Dpmp__State	 st = DPMP__STATE__INIT;
	Dpmp__PoolState	 pa = DPMP__POOL_STATE__INIT, pb = DPMP__POOL_STATE__INIT;
	Dpmp__PoolState	*pools[2] = { &pa, &pb };
	Dpmp__MinerState m1 = DPMP__MINER_STATE__INIT, m2 = DPMP__MINER_STATE__INIT;
	Dpmp__MinerState *miners[2] = { &m1, &m2 };
	char		*text;

	st.started_ms = 1000;
	st.now_ms = 62500;
	pa.key = "A";
	pa.up = true;
	pa.difficulty = 0.00001;
	pa.miners_assigned = 1;
	pa.upstream_connections = 2;
	pb.key = "B";
	pb.up = false;
	pb.difficulty = 65536;
	st.pools = pools;
	st.n_pools = 2;
	m1.connected = true;
	m2.connected = false;	/* in its reconnect grace */
	st.miners = miners;
	st.n_miners = 2;
	text = render(&st, NULL, NULL);
	ck_assert(has_line(text, "dpmp_up_seconds 61.5"));
	ck_assert(has_line(text, "dpmp_downstream_connections 1"));
	ck_assert(has_line(text, "dpmp_pool_up{pool=\"A\"} 1"));
	ck_assert(has_line(text, "dpmp_pool_up{pool=\"B\"} 0"));
	/* the pool's own value, not rounded to a whole number */
	ck_assert(has_line(text, "dpmp_pool_difficulty{pool=\"A\"} 1e-05"));
	ck_assert(has_line(text, "dpmp_pool_difficulty{pool=\"B\"} 65536"));
	ck_assert(has_line(text, "dpmp_miners_assigned{pool=\"A\"} 1"));
	ck_assert(has_line(text, "dpmp_upstream_connections{pool=\"A\"} 2"));
	free(text);
}
END_TEST

START_TEST(http_refusals)
{
	static const struct metrics_refusal r[] = {
		{ "http", "limit", 36 },
		{ "http", "host", 0 },
		{ "metrics", "limit", 2 },
	};
	struct metrics_input	 in;
	char			*text;

	memset(&in, 0, sizeof(in));
	in.version = "1.2.3";
	in.refusals = r;
	in.n_refusals = 3;
	text = metrics_render(&in, NULL);
	ck_assert_ptr_nonnull(text);
	ck_assert(has_line(text, "# TYPE dpmp_http_refused_total counter"));
	ck_assert(has_line(text,
	    "dpmp_http_refused_total{listener=\"http\",reason=\"limit\"} 36"));
	/* declared series are there at 0, before anything was refused */
	ck_assert(has_line(text,
	    "dpmp_http_refused_total{listener=\"http\",reason=\"host\"} 0"));
	ck_assert(has_line(text, "dpmp_http_refused_total{listener="
	    "\"metrics\",reason=\"limit\"} 2"));
	ck_assert_int_eq(count_lines(text, "dpmp_http_refused_total{"), 3);
	free(text);
}
END_TEST

START_TEST(value_format)
{
	char buf[40];

	metrics_format_value(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0");
	metrics_format_value(0.1, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0.1");
	metrics_format_value(1e21, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1e+21");
	metrics_format_value(NAN, buf, sizeof(buf));
	ck_assert_str_eq(buf, "NaN");
	metrics_format_value(INFINITY, buf, sizeof(buf));
	ck_assert_str_eq(buf, "+Inf");
	metrics_format_value(-INFINITY, buf, sizeof(buf));
	ck_assert_str_eq(buf, "-Inf");
	/* needs all 17 digits to read back */
	metrics_format_value(0.1 + 0.2, buf, sizeof(buf));
	ck_assert(strtod(buf, NULL) == 0.1 + 0.2);
	metrics_format_value(12345678901234567.0, buf, sizeof(buf));
	ck_assert(strtod(buf, NULL) == 12345678901234567.0);
}
END_TEST

static Suite *
cp_metrics_suite(void)
{
	Suite	*s = suite_create("cp_metrics");
	TCase	*tc = tcase_create("render");

	tcase_add_test(tc, every_family_once_in_catalogue_order);
	tcase_add_test(tc, types_follow_catalogue);
	tcase_add_test(tc, no_dataplane_gives_only_controlplane_gauges);
	tcase_add_test(tc, label_values_escaped);
	tcase_add_test(tc, passthrough_counters);
	tcase_add_test(tc, rejects_local_and_pool_apart);
	tcase_add_test(tc, unknown_and_malformed_samples_dropped);
	tcase_add_test(tc, controlplane_families_not_duplicated);
	tcase_add_test(tc, histogram_buckets);
	tcase_add_test(tc, histogram_with_mismatched_buckets_dropped);
	tcase_add_test(tc, state_gauges);
	tcase_add_test(tc, http_refusals);
	tcase_add_test(tc, value_format);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(cp_metrics_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
