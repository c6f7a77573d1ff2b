/* The monotonic clock, for intervals the agent measures itself (log back-off, sweeps, timings). */
#ifndef BPFPUSH_CLOCK_H
#define BPFPUSH_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * CPU time of the calling thread (the loop's: modules collect there). Beside
 * a wall-clock duration it tells the agent's own work from the time the host
 * did not run it.
 */
static inline uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
