/* The agent's clocks in ns: intervals it measures itself (log back-off, sweeps, timings) and its own CPU time. */
#ifndef BPFPUSH_CLOCK_H
#define BPFPUSH_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t monotonic_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

/*
 * CPU time of the calling thread (the loop's: modules collect there). Beside
 * a wall-clock duration it tells the agent's own work from the time the host
 * did not run it.
 */
static inline uint64_t thread_cpu_ns(void) { return clock_ns(CLOCK_THREAD_CPUTIME_ID); }

#endif
