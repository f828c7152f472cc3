/*
 * simcommon: what the two simulators would otherwise each carry a copy
 * of.  Nothing here knows about pools or miners.
 */
#include <sys/time.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "clock.h"
#include "log.h"
#include "simcommon.h"

double
sim_now(void)
{
	return ((double)clock_mono_us() / 1e6);
}

struct timeval
sim_tv(double s)
{
	struct timeval	 tv;

	if (s < 0)
		s = 0;
	tv.tv_sec = (time_t)s;
	tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
	return (tv);
}

int
sim_parse_double(const char *s, double min, double max, double *out)
{
	char		*end;
	double		 d;

	errno = 0;
	d = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(d) ||
	    d < min || d > max)
		return (-1);
	*out = d;
	return (0);
}

int
sim_parse_whole(const char *s, double min, double max, double *out)
{
	double		 d;

	if (sim_parse_double(s, min, max, &d) == -1 || d != floor(d))
		return (-1);
	*out = d;
	return (0);
}

int
sim_real_opt(const struct sim_real_opt *opts, size_t n, int ch,
    const char *arg)
{
	size_t		 i;

	for (i = 0; i < n; i++) {
		if (opts[i].val != ch)
			continue;
		if (arg == NULL || sim_parse_double(arg, opts[i].min,
		    opts[i].max, opts[i].out) == -1)
			return (-1);
		return (1);
	}
	return (0);
}

void
sim_opt_bad(const char *prog, const struct option *longopts, int ch,
    const char *arg)
{
	const struct option *o;
	const char	*name = "?";

	for (o = longopts; o->name != NULL; o++) {
		if (o->val == ch) {
			name = o->name;
			break;
		}
	}
	fprintf(stderr, "%s: bad value for --%s: %s\n", prog, name,
	    arg != NULL ? arg : "");
}

int
sim_timer_add(struct event_base *base, struct event **ev, double s,
    bool persist, event_callback_fn cb)
{
	struct timeval	 tv;

	if (s <= 0)
		return (0);
	if ((*ev = event_new(base, -1, persist ? EV_PERSIST : 0, cb,
	    NULL)) == NULL)
		return (-1);
	tv = sim_tv(s);
	return (event_add(*ev, &tv));
}

int
sim_signals_add(struct event_base *base, event_callback_fn cb,
    struct event **ev_term, struct event **ev_int)
{
	if ((*ev_term = evsignal_new(base, SIGTERM, cb, NULL)) == NULL ||
	    evsignal_add(*ev_term, NULL) == -1 ||
	    (*ev_int = evsignal_new(base, SIGINT, cb, NULL)) == NULL ||
	    evsignal_add(*ev_int, NULL) == -1)
		return (-1);
	return (0);
}

void
sim_events_free(struct event **const evs[], size_t n)
{
	size_t		 i;

	for (i = 0; i < n; i++) {
		if (*evs[i] != NULL)
			event_free(*evs[i]);
		*evs[i] = NULL;
	}
}

void
sim_stats_write(json_t *root, const char *path)
{
	char		 tmp[4096];

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (json_dump_file(root, tmp, JSON_COMPACT |
	    JSON_REAL_PRECISION(17)) == -1 || rename(tmp, path) == -1)
		log_warn("stats_write_failed", "{s:s}", "path", path);
}
