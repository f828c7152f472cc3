/*
 * simcommon: the plumbing dpmp-simpool and dpmp-simminer share around
 * their protocol code: the monotonic clock, timers and signal events,
 * number options and their error message, and the stats file.
 */
#ifndef DPMP_SIMCOMMON_H
#define DPMP_SIMCOMMON_H

#include <sys/time.h>

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>
#include <jansson.h>

/* Seconds on CLOCK_MONOTONIC. */
double		sim_now(void);
/* s seconds as a timeval; a negative s is 0. */
struct timeval	sim_tv(double s);

/* A finite number in [min, max], the whole string; -1 otherwise. */
int		sim_parse_double(const char *s, double min, double max,
		    double *out);
/* The same, and a whole number. */
int		sim_parse_whole(const char *s, double min, double max,
		    double *out);
/* An option taking a real number in [min, max], stored as given. */
struct sim_real_opt {
	int		 val;		/* getopt_long's */
	double		 min;
	double		 max;
	double		*out;
};

/* 1 when ch is one of opts and arg is in its range (then stored), 0 when
 * ch is none of them, -1 when arg is not a number in range. */
int		sim_real_opt(const struct sim_real_opt *opts, size_t n, int ch,
		    const char *arg);
/* "PROG: bad value for --NAME: ARG" on stderr, NAME found by the
 * getopt_long val ch in longopts. */
void		sim_opt_bad(const char *prog, const struct option *longopts,
		    int ch, const char *arg);

/* *ev = a timer calling cb(arg NULL) after s seconds (every s with
 * persist); nothing when s <= 0.  *ev may be set even on failure, so the
 * caller's teardown frees it. */
int		sim_timer_add(struct event_base *base, struct event **ev,
		    double s, bool persist, event_callback_fn cb);
/* SIGTERM and SIGINT both call cb. */
int		sim_signals_add(struct event_base *base, event_callback_fn cb,
		    struct event **ev_term, struct event **ev_int);
/* Free each *evs[i] that is set and clear it. */
void		sim_events_free(struct event **const evs[], size_t n);

/* Write root to path through path.tmp and a rename, so a reader never
 * sees a half-written file; a failure is logged.  root stays the
 * caller's. */
void		sim_stats_write(json_t *root, const char *path);

#endif
