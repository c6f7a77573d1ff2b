/*
 * Histograms on the userspace side: reading a struct hist (summing a per-CPU
 * one's CPUs), and turning cumulative buckets into what docs/metrics.md
 * sends: NAME.bucket counters with an `le` tag, and NAME.p50/p95/p99/max
 * gauges for the interval since the previous collection.
 */
#ifndef BPFPUSH_AGENT_HISTOGRAM_H
#define BPFPUSH_AGENT_HISTOGRAM_H

#include <stdbool.h>
#include <stdint.h>

#include "hist.h"
#include "metric.h"

struct hist_reading {
	uint64_t slots[HIST_SLOTS]; /* cumulative, summed over CPUs */
	uint64_t slow;
	uint64_t sum_ns; /* cumulative time recorded, summed over CPUs */
	bool has_max;
	uint64_t max_ns; /* the largest duration of the current generation */
};

/*
 * Read `key` of a per-CPU map whose values are struct hist, summing CPUs;
 * max_ns is taken only from CPUs whose max belongs to `generation`.
 * Returns 0 or -errno (-ENOENT: no such key).
 */
int hist_read_percpu(int map_fd, const void *key, uint64_t generation, struct hist_reading *out);
/* The same for a map shared by every CPU (one struct hist per key). */
int hist_read_shared(int map_fd, const void *key, uint64_t generation, struct hist_reading *out);

/*
 * Histograms kept in stripes that the CPUs share (CPU c records into stripe
 * c & (stripes - 1)): one stripe per possible CPU up to max, a power of two,
 * so that per-CPU memory stops growing past max CPUs. max: a power of two.
 */
uint32_t hist_stripes(int possible_cpus, uint32_t max);
/*
 * Read the stripes of one histogram of a shared array map, keys first ..
 * first + stripes - 1, summed as hist_read_percpu sums CPUs.
 */
int hist_read_stripes(int map_fd, uint32_t first, uint32_t stripes, uint64_t generation, struct hist_reading *out);

/*
 * Add reading r into *into: buckets, slow counts and sums added, the larger
 * maximum kept. For several map keys that stand for one histogram.
 */
void hist_reading_add(struct hist_reading *into, const struct hist_reading *r);

/*
 * The time counter of a histogram (NAME.time, µs): the cumulative sum in
 * whole µs. Flooring the cumulative ns, not each interval's, carries the
 * remainder into the next flush, so no time is lost however often it is read.
 */
static inline uint64_t hist_time_us(const struct hist_reading *r) { return r->sum_ns / 1000u; }

/*
 * Start the next interval's maximum: write generation + 1 into the probe's
 * .data.hist_gen map (probes/hist.bpf.h) and advance *generation.
 */
int hist_generation_advance(int gen_map_fd, uint64_t *generation);

/* The `le` tag of a slot: "1", "2", "4", ... "67108864", "max". */
const char *hist_le_label(unsigned slot);
/* The upper bound of a bounded slot (slot <= HIST_LAST_BOUNDED). */
uint64_t hist_slot_bound(unsigned slot);

/*
 * The slot holding quantile q of these per-interval counts: the smallest
 * slot whose cumulative count reaches ceil(q * total). -1 when total is 0.
 */
int hist_quantile_slot(const uint64_t delta[HIST_SLOTS], double q);

/*
 * Feed one histogram into the store: every bucket that has counted
 * something so far as NAME.bucket;TAGS;le=..., and when the interval since
 * `prev` saw events, NAME.p50/p95/p99 (a quantile in the le=max slot is the
 * exact max) and NAME.max, in µs. `prev` becomes `now`.
 */
void hist_emit(struct series_store *store, const char *name, const struct metric_tag *tags, unsigned ntags,
	       const struct hist_reading *now, uint64_t prev[HIST_SLOTS]);

/*
 * The previous cumulative buckets of each histogram of a module, by key
 * (handler name, vector, disk), for the interval maths of hist_emit.
 */
struct hist_history;
/* The prev array of key, created zeroed on first use; NULL when out of memory. */
uint64_t *hist_history_prev(struct hist_history **history, const char *key);
void hist_history_free(struct hist_history *history);

#endif
