/*
 * clock: the two clocks every program reads.  Deadlines, timeouts and
 * intervals use the monotonic clock, which an NTP step or a resumed VM
 * cannot move; the wall clock is only for times shown to people or
 * published as Unix epoch milliseconds.  A time kept for a deadline and
 * also published stays monotonic and is converted on the way out.
 */
#ifndef DPMP_CLOCK_H
#define DPMP_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC, from an arbitrary origin: every deadline and interval. */
uint64_t	clock_mono_ms(void);
uint64_t	clock_mono_us(void);
/* CLOCK_REALTIME, Unix epoch: logs, API and IPC timestamps only. */
uint64_t	clock_wall_ms(void);
/* The wall time a monotonic stamp stands for, judged against the wall
 * clock as it is now (so the age a client computes from it is exact even
 * after a step).  0 ("never") stays 0. */
uint64_t	clock_mono_to_wall_ms(uint64_t mono_ms);

/* Tests: read both clocks from fn instead of clock_gettime(2), to step
 * one without the other; NULL restores the system clocks.  Set it before
 * any other thread reads the clock. */
typedef int	(*clock_source_fn)(clockid_t id, struct timespec *ts);
void		clock_set_source(clock_source_fn fn);

#endif
