/*
 * The metric model: what modules produce and sinks encode.
 *
 * Modules never build wire lines; they feed a series_store with readings
 * (cumulative counters, deltas, gauges). At each flush the store yields a
 * metric_batch: counters as deltas since the previous flush, gauges as
 * values, following the series rules of docs/metrics.md (a series once sent is
 * sent every flush, 0 when idle, until it has been 0 for series_ttl or its
 * module retires it to stay within its bound).
 */
#ifndef BPFPUSH_METRIC_H
#define BPFPUSH_METRIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* METRIC_HISTOGRAM appears in catalogues only: it is sent as NAME.bucket counters and NAME.p50/p95/p99/max gauges. */
enum metric_type { METRIC_COUNTER = 0, METRIC_GAUGE, METRIC_HISTOGRAM };

/* Enough for the widest contract series: network viewer's five tags plus le. */
#define METRIC_MAX_TAGS 6

struct metric_tag {
	const char *key;
	const char *value; /* may be "" (sent as "none") */
};

struct metric {
	const char *name; /* relative name, e.g. "process.create" */
	enum metric_type type;
	unsigned ntags;
	struct metric_tag tags[METRIC_MAX_TAGS]; /* declared order; "le" last when present */
	uint64_t counter; /* METRIC_COUNTER: delta since the previous flush */
	double gauge;     /* METRIC_GAUGE */
};

struct metric_batch {
	const struct metric *items;
	size_t len;
	int64_t timestamp; /* unix seconds: the end of the interval the values describe */
};

/* One entry of a module's metric catalogue (--list-metrics, --probe). */
struct metric_desc {
	const char *name;
	enum metric_type type;
	bool needs_result; /* (R) in docs/metrics.md: only measured where the result is seen */
	const char *tags;  /* comma-separated declared tag keys, "" for none */
	const char *help;
};

struct series_store;

struct series_store *series_store_new(uint64_t ttl_ns);
void series_store_free(struct series_store *store);
void series_store_set_ttl(struct series_store *store, uint64_t ttl_ns);

/*
 * A counter the kernel keeps cumulatively (BPF maps): the store turns readings
 * into deltas. A reading below the previous one means the counter restarted
 * (a reloaded BPF object): it then counts from zero, never negative.
 * The first reading of a series counts in full, since BPF counters start at
 * zero when the agent attaches.
 */
int series_counter_observe(struct series_store *store, const char *name,
			   const struct metric_tag *tags, unsigned ntags, uint64_t cumulative);
/*
 * The source of the observed counters named `name` restarts from zero (its
 * BPF object was reloaded): their next reading counts in full.
 */
void series_counter_restart(struct series_store *store, const char *name);
/* A counter fed with increments (ring-buffer events). */
int series_counter_add(struct series_store *store, const char *name,
		       const struct metric_tag *tags, unsigned ntags, uint64_t delta);
/*
 * A gauge. interval_only: sent at the next flush only (histogram percentiles,
 * "not sent when there were no events"); otherwise the latest value is sent at
 * every flush until series_ttl passes without a new reading.
 */
int series_gauge_set(struct series_store *store, const char *name,
		     const struct metric_tag *tags, unsigned ntags, double value, bool interval_only);

/*
 * The owner of a series stops it before series_ttl (a module that bounds how
 * many series it keeps, say max_dimensions): it goes out once more only if
 * it has a reading since the last flush, and is forgotten at the first flush
 * without one, so no zero follows. A new reading takes the retirement back.
 * Unknown series are ignored.
 */
void series_retire(struct series_store *store, const char *name, const struct metric_tag *tags, unsigned ntags);

/*
 * Build the batch of one flush. The batch and the strings it points to stay
 * valid until the next call or series_store_free. now_ns is CLOCK_MONOTONIC,
 * used for series_ttl only.
 */
const struct metric_batch *series_store_flush(struct series_store *store, int64_t timestamp,
					      uint64_t now_ns);
size_t series_store_size(const struct series_store *store);

#endif
