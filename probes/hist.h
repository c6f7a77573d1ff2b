/*
 * Log2 latency histograms, shared by the probes that time things (hardirq,
 * softirq, disk, filesystem) and by agent/modules/histogram.c, which turns them into
 * the bucket counters and percentile gauges of docs/metrics.md.
 */
#ifndef BPFPUSH_HIST_H
#define BPFPUSH_HIST_H

/*
 * Slot k counts values in (2^(k-1), 2^k] of the histogram's unit (slot 0:
 * [0, 1]), for k up to 26; slot 27 counts everything larger (le=max).
 */
#define HIST_SLOTS 28
#define HIST_LAST_BOUNDED 26

/* One histogram, per CPU. Counts are cumulative since attach. */
struct hist {
	unsigned long long slots[HIST_SLOTS];
	unsigned long long slow;    /* events above the module's slow threshold, where it has one */
	unsigned long long sum_ns;  /* the durations recorded, summed: the time spent, for NAME.time counters */
	unsigned long long max_gen; /* the collection generation max_ns belongs to */
	unsigned long long max_ns;  /* the largest duration seen in generation max_gen */
};

#endif
