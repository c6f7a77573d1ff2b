/*
 * softirq: softirqs run per vector, from the kernel's own counters in
 * /proc/softirqs; with timing on, also the time of each run (log2 histogram
 * and time sum by vector), slow runs logged and counted.
 *
 * Timing is off by default: it takes two clock reads per softirq, the larger
 * part of what its programs add to each softirq (docs/design.md, "What an
 * access costs"), and a host busy with network traffic runs hundreds of
 * thousands of NET_RX softirqs a second. Counting needs no program: the
 * kernel counts every run per CPU and vector just before the tracepoint.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"
#include "log.h"
#include "module.h"
#include "irq.h"
#include "irq_slow.h"
#include "percpu.h"
#include "softirq.skel.h"
#include "softirq_counts.h"

static const struct metric_desc softirq_metrics[] = {
	{ "softirq.events", METRIC_COUNTER, false, "vector",
	  "softirqs run per vector, the kernel's own count (/proc/softirqs, all CPUs)" },
	{ "softirq.latency", METRIC_HISTOGRAM, false, "vector",
	  "µs per softirq vector (histogram: .bucket with le, .p50/.p95/.p99/.max); vector = timer, net_rx, ..." },
	{ "softirq.time", METRIC_COUNTER, false, "vector", "µs spent in each softirq vector" },
	{ "softirq.slow", METRIC_COUNTER, false, "vector", "vector runs slower than modules.softirq.slow_threshold" },
};

static const struct event_desc softirq_events[] = {
	{ .name = "vector",
	  .gives = "softirq.latency, softirq.time, softirq.slow",
	  .ways = { { .tier = ATTACH_TP_BTF, .progs = { "softirq_entry_tp_btf", "softirq_exit_tp_btf" } },
		    { .tier = ATTACH_RAW_TP, .progs = { "softirq_entry_raw_tp", "softirq_exit_raw_tp" } },
		    { .tier = ATTACH_TRACEPOINT, .progs = { "softirq_entry_tracepoint", "softirq_exit_tracepoint" } } } },
};

struct softirq_state {
	struct softirq_bpf *skel;
	struct softirq_counts counts; /* softirq.events; .last NULL until the first reading */
	struct log_complaint unreadable;
	struct hist_history *history;
	struct irq_slow_log slow_log;
	uint64_t threshold_us;
	uint64_t generation; /* of the interval being recorded (probes/hist.bpf.h) */
};

static struct bpf_object *softirq_open(struct module *m)
{
	struct softirq_state *st = m->priv;
	if (!st && !(st = m->priv = calloc(1, sizeof(*st))))
		return NULL;
	st->skel = softirq_bpf__open();
	return st->skel ? st->skel->obj : NULL;
}

struct softirq_opts {
	bool timing;
	uint64_t slow_threshold_us;
};

static const struct cfg_key softirq_keys[] = {
	K_BOOL("timing", offsetof(struct softirq_opts, timing), "false",
	       "also time each softirq run: softirq.latency, .time, .slow (two clock reads per softirq)"),
	K_US("slow_threshold", offsetof(struct softirq_opts, slow_threshold_us), "1ms", 1, CFG_US_PER_MS * CFG_MS_PER_S,
	     "vectors slower than this count in softirq.slow (1us to 1s)"),
};

static bool softirq_wants(const struct module *m, size_t event)
{
	(void)event;
	const struct softirq_opts *opts = module_opts(m);
	return opts->timing;
}

static const char *softirq_unwanted_why(const struct module *m, size_t event)
{
	(void)m;
	(void)event;
	/* Short: --probe prints it after "not hooked: " in 64 characters. */
	return "timing is off: counts from /proc/softirqs";
}

/* Is each softirq run timed (the vector event attached)? */
static bool timing(const struct module *m) { return m->events && m->events[0].chosen >= 0; }

/* Add what ran since the last reading of /proc/softirqs to st->counts (the first only keeps the counts). */
static int read_proc_softirqs(struct softirq_state *st)
{
	if (!st->counts.last) {
		int n = libbpf_num_possible_cpus();
		if (n <= 0)
			return n ? n : -EINVAL;
		int err = softirq_counts_init(&st->counts, (size_t)n);
		if (err)
			return err;
	}
	FILE *f = fopen("/proc/softirqs", "r");
	if (!f)
		return -errno;
	int err = softirq_counts_read(&st->counts, f);
	fclose(f);
	return err;
}

/* The same, said once (then backing off) while it fails, and once when it works again. */
static int read_softirqs(struct softirq_state *st)
{
	int err = read_proc_softirqs(st);
	if (err)
		log_complain(&st->unreadable, LOG_WARNING, "softirq", "cannot read /proc/softirqs (%s): no softirq.events",
			     strerror(-err));
	else
		log_complaint_clear(&st->unreadable, "softirq", "/proc/softirqs readable again");
	return err;
}

static void softirq_prepare(struct module *m)
{
	const struct softirq_opts *opts = module_opts(m);
	struct softirq_state *st = m->priv;
	st->threshold_us = opts->slow_threshold_us;
	st->skel->rodata->slow_threshold_ns = st->threshold_us * 1000u;
}

static void softirq_destroy(struct module *m)
{
	struct softirq_state *st = m->priv;
	if (!st)
		return;
	ring_buffer__free(m->ring);
	m->ring = NULL;
	softirq_bpf__destroy(st->skel);
	hist_history_free(st->history);
	softirq_counts_free(&st->counts);
	free(st);
	m->priv = NULL;
}

static int on_slow_event(void *ctx, void *data, size_t size)
{
	struct module *m = ctx;
	struct softirq_state *st = m->priv;
	const struct irq_slow_event *e = data;
	if (size < sizeof(*e))
		return 0;
	char what[64];
	snprintf(what, sizeof(what), "softirq %s", e->vector < SOFTIRQ_VECTORS ? softirq_vector_names[e->vector] : "?");
	irq_slow_log(&st->slow_log, "softirq", what, e->duration_ns, e->cpu, st->threshold_us);
	return 0;
}

static int softirq_start(struct module *m)
{
	struct softirq_state *st = m->priv;
	int err = read_softirqs(st);
	if (!timing(m))
		return err;
	m->ring = ring_buffer__new(bpf_map__fd(st->skel->maps.softirq_slow), on_slow_event, m, NULL);
	return m->ring ? err : -errno;
}

static void collect_events(struct softirq_state *st, struct series_store *store)
{
	if (read_softirqs(st)) /* unreadable at start: counting starts at the first reading */
		return;
	for (uint32_t v = 0; v < SOFTIRQ_VECTORS; v++) {
		/* As the histograms: a vector that has not run since the start sends nothing. */
		if (!st->counts.events[v])
			continue;
		struct metric_tag tag = { "vector", softirq_vector_names[v] };
		series_counter_observe(store, "softirq.events", &tag, 1, st->counts.events[v]);
	}
}

static int softirq_collect(struct module *m, struct series_store *store)
{
	struct softirq_state *st = m->priv;
	collect_events(st, store);
	if (!timing(m))
		return 0;
	uint64_t generation = st->generation;
	int fd = bpf_map__fd(st->skel->maps.softirq_hist);
	for (uint32_t v = 0; v < SOFTIRQ_VECTORS; v++) {
		struct hist_reading r;
		uint64_t *prev = hist_history_prev(&st->history, softirq_vector_names[v]);
		if (!prev || hist_read_percpu(fd, &v, generation, &r))
			continue;
		uint64_t events = 0;
		for (unsigned s = 0; s < HIST_SLOTS; s++)
			events += r.slots[s];
		if (!events)
			continue; /* a vector that never ran (irq_poll on most hosts) sends nothing */
		struct metric_tag tag = { "vector", softirq_vector_names[v] };
		hist_emit(store, "softirq.latency", &tag, 1, &r, prev);
		series_counter_observe(store, "softirq.time", &tag, 1, hist_time_us(&r));
		series_counter_observe(store, "softirq.slow", &tag, 1, r.slow);
	}
	hist_generation_advance(bpf_map__fd(st->skel->maps.data_hist_gen), &st->generation);

	uint64_t c[sizeof(struct irq_counters) / sizeof(uint64_t)];
	if (!percpu_sum_u64(bpf_map__fd(st->skel->maps.softirq_counters), 0, sizeof(c) / sizeof(c[0]), c)) {
		const struct irq_counters *counters = (const struct irq_counters *)c;
		struct metric_tag module = { "module", "softirq" };
		series_counter_observe(store, "agent.ringbuf.lost", &module, 1, counters->ringbuf_lost);
	}
	return 0;
}

const struct module_ops softirq_module = {
	.name = "softirq",
	.config_help = "softirq.*: softirqs per vector; with timing, their time",
	.enabled_by_default = true,
	.keys = softirq_keys,
	.nkeys = sizeof(softirq_keys) / sizeof(softirq_keys[0]),
	.opts_size = sizeof(struct softirq_opts),
	.metrics = softirq_metrics,
	.nmetrics = sizeof(softirq_metrics) / sizeof(softirq_metrics[0]),
	.events = softirq_events,
	.nevents = sizeof(softirq_events) / sizeof(softirq_events[0]),
	.runs_without_events = true,
	.wants = softirq_wants,
	.unwanted_why = softirq_unwanted_why,
	.open = softirq_open,
	.destroy = softirq_destroy,
	.prepare = softirq_prepare,
	.start = softirq_start,
	.collect = softirq_collect,
};
