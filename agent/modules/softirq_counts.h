/*
 * The kernel's own count of softirqs run (/proc/softirqs), summed per
 * vector over the CPUs. Each CPU's count is 32 bits and wraps (a CPU running
 * 200000 NET_RX softirqs a second wraps in six hours), so the sum is kept
 * from each CPU's difference between two readings, taken modulo 2^32.
 */
#ifndef BPFPUSH_SOFTIRQ_COUNTS_H
#define BPFPUSH_SOFTIRQ_COUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "irq.h"

/* The kernel's softirq_to_name[], in vector order, lower-cased as /proc/softirqs' rows are not. */
extern const char *const softirq_vector_names[SOFTIRQ_VECTORS];

struct softirq_counts {
	uint32_t *last;                   /* [vector * ncpus + cpu]: each CPU's count at the last reading */
	size_t ncpus;                     /* columns kept per vector: the possible CPUs */
	bool started;                     /* last holds a reading */
	uint64_t events[SOFTIRQ_VECTORS]; /* run since the first reading */
};

/* 0, or -ENOMEM. */
int softirq_counts_init(struct softirq_counts *c, size_t ncpus);
void softirq_counts_free(struct softirq_counts *c);

/*
 * Read /proc/softirqs' text from f: the first reading keeps the counts,
 * each later one adds what ran since to events. A row of a vector this
 * build does not know is skipped, columns past ncpus are not read. 0, or
 * -ENODATA when f held no row of a known vector (nothing was read).
 */
int softirq_counts_read(struct softirq_counts *c, FILE *f);

#endif
