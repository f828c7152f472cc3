/*
 * The one place that reads the system clocks.  A daemon that timed its
 * deadlines on CLOCK_REALTIME declared every pool silent (and failed every
 * miner over) when NTP stepped the clock forward, and held ghosts and stale
 * jobs for an extra hour when it stepped back.
 */
#include <stdint.h>
#include <time.h>

#include "clock.h"

static clock_source_fn	clock_source = clock_gettime;

void
clock_set_source(clock_source_fn fn)
{
	clock_source = fn != NULL ? fn : clock_gettime;
}

static void
now(clockid_t id, struct timespec *ts)
{
	/* Both clocks exist on every system we build for; a failing source
	 * (only a test's) reads as the origin rather than as garbage. */
	if (clock_source(id, ts) == -1)
		ts->tv_sec = ts->tv_nsec = 0;
}

/* A clock in units of 1/per_s seconds. */
static uint64_t
read_in(clockid_t id, uint64_t per_s)
{
	struct timespec	 ts;

	now(id, &ts);
	return (uint64_t)ts.tv_sec * per_s +
	    (uint64_t)ts.tv_nsec / (1000000000 / per_s);
}

uint64_t
clock_mono_ms(void)
{
	return read_in(CLOCK_MONOTONIC, 1000);
}

uint64_t
clock_mono_us(void)
{
	return read_in(CLOCK_MONOTONIC, 1000000);
}

uint64_t
clock_wall_ms(void)
{
	return read_in(CLOCK_REALTIME, 1000);
}

uint64_t
clock_mono_to_wall_ms(uint64_t mono_ms)
{
	uint64_t	 wall = clock_wall_ms(), mono = clock_mono_ms();

	if (mono_ms == 0)
		return 0;
	/* a stamp in the past (the usual case) or a deadline ahead */
	if (mono_ms <= mono)
		return mono - mono_ms < wall ? wall - (mono - mono_ms) : 1;
	return wall + (mono_ms - mono);
}
