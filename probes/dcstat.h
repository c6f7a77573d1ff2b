/* Shared by probes/dcstat.bpf.c and agent/modules/dcstat.c. */
#ifndef BPFPUSH_DCSTAT_H
#define BPFPUSH_DCSTAT_H

struct dcstat_counters {
	unsigned long long references; /* lookup_fast calls */
	unsigned long long slow;       /* d_lookup calls */
	unsigned long long miss;       /* d_lookup returning NULL (return mode) */
};

#endif
