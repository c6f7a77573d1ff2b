/* Reading per-CPU counter maps: the one place that sums CPUs. */
#ifndef BPFPUSH_PERCPU_H
#define BPFPUSH_PERCPU_H

#include <stddef.h>
#include <stdint.h>

/*
 * Sum slot `key` of a per-CPU array whose value is nfields u64 counters,
 * across every possible CPU, into out[nfields]. Returns 0 or -errno.
 */
int percpu_sum_u64(int map_fd, uint32_t key, size_t nfields, uint64_t *out);

#endif
