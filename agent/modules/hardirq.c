/* hardirq: time per hard IRQ handler (log2 histogram by handler name), slow handlers logged and counted. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"
#include "log.h"
#include "module.h"
#include "hardirq.skel.h"
#include "irq.h"
#include "irq_slow.h"
#include "percpu.h"

static const struct metric_desc hardirq_metrics[] = {
	{ "hardirq.latency", METRIC_HISTOGRAM, false, "irq",
	  "µs in each hard IRQ handler (histogram: .bucket with le, .p50/.p95/.p99/.max); irq = the handler name" },
	{ "hardirq.slow", METRIC_COUNTER, false, "irq", "handlers slower than modules.hardirq.slow_threshold" },
};

static const struct event_desc hardirq_events[] = {
	{ .name = "handler",
	  .gives = "hardirq.latency, hardirq.slow",
	  .ways = { { .tier = ATTACH_TP_BTF, .progs = { "hardirq_entry_tp_btf", "hardirq_exit_tp_btf" } },
		    { .tier = ATTACH_RAW_TP, .progs = { "hardirq_entry_raw_tp", "hardirq_exit_raw_tp" } },
		    { .tier = ATTACH_TRACEPOINT, .progs = { "hardirq_entry_tracepoint", "hardirq_exit_tracepoint" } } } },
};

struct hardirq_state {
	struct hardirq_bpf *skel;
	struct hist_history *history;
	struct irq_slow_log slow_log;
	uint64_t threshold_us;
	uint64_t generation; /* of the interval being recorded (probes/hist.bpf.h) */
};

static struct bpf_object *hardirq_open(struct module *m)
{
	struct hardirq_state *st = m->priv;
	if (!st && !(st = m->priv = calloc(1, sizeof(*st))))
		return NULL;
	st->skel = hardirq_bpf__open();
	return st->skel ? st->skel->obj : NULL;
}

struct hardirq_opts {
	uint64_t slow_threshold_us;
};

static const struct cfg_key hardirq_keys[] = {
	K_US("slow_threshold", offsetof(struct hardirq_opts, slow_threshold_us), "1ms", 1, CFG_US_PER_MS * CFG_MS_PER_S,
	     "handlers slower than this count in hardirq.slow (1us to 1s)"),
};

static void hardirq_prepare(struct module *m)
{
	const struct hardirq_opts *opts = module_opts(m);
	struct hardirq_state *st = m->priv;
	st->threshold_us = opts->slow_threshold_us;
	st->skel->rodata->slow_threshold_ns = st->threshold_us * 1000u;
}

static void hardirq_destroy(struct module *m)
{
	struct hardirq_state *st = m->priv;
	if (!st)
		return;
	ring_buffer__free(m->ring);
	m->ring = NULL;
	hardirq_bpf__destroy(st->skel);
	hist_history_free(st->history);
	free(st);
	m->priv = NULL;
}

static int on_slow_event(void *ctx, void *data, size_t size)
{
	struct module *m = ctx;
	struct hardirq_state *st = m->priv;
	const struct irq_slow_event *e = data;
	if (size < sizeof(*e))
		return 0;
	char what[IRQ_NAME_LEN + 48];
	snprintf(what, sizeof(what), "hard IRQ handler %.*s (irq %u)", IRQ_NAME_LEN, e->name, e->vector);
	irq_slow_log(&st->slow_log, "hardirq", what, e->duration_ns, e->cpu, st->threshold_us);
	return 0;
}

static int hardirq_start(struct module *m)
{
	struct hardirq_state *st = m->priv;
	m->ring = ring_buffer__new(bpf_map__fd(st->skel->maps.hardirq_slow), on_slow_event, m, NULL);
	return m->ring ? 0 : -errno;
}

/* One handler name's histogram, summed over the map keys that decode to it. */
struct handler_reading {
	char name[IRQ_NAME_LEN + 1];
	struct hist_reading r;
};

/*
 * Add the reading of one map key to the handler it names. A key is the
 * whole 32-byte slot, so two keys can hold one name followed by different
 * bytes (a probe that left them there, or another build's): both are that
 * handler's counts, and one series must carry their sum, or the store would
 * take the smaller for a restarted counter and count everything again.
 */
static int add_reading(struct handler_reading **list, size_t *len, size_t *cap, const char *name,
		       const struct hist_reading *r)
{
	for (size_t i = 0; i < *len; i++)
		if (!strcmp((*list)[i].name, name)) {
			hist_reading_add(&(*list)[i].r, r);
			return 0;
		}
	if (*len == *cap) {
		size_t grown_cap = *cap ? *cap * 2 : 16;
		struct handler_reading *grown = realloc(*list, grown_cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		*list = grown;
		*cap = grown_cap;
	}
	struct handler_reading *h = &(*list)[(*len)++];
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->r = *r;
	return 0;
}

static int hardirq_collect(struct module *m, struct series_store *store)
{
	struct hardirq_state *st = m->priv;
	uint64_t generation = st->generation;
	int fd = bpf_map__fd(st->skel->maps.hardirq_hist);
	struct handler_reading *handlers = NULL;
	size_t nhandlers = 0, cap = 0;
	char key[IRQ_NAME_LEN], next[IRQ_NAME_LEN];
	int rc = bpf_map_get_next_key(fd, NULL, next);
	while (!rc) {
		memcpy(key, next, sizeof(key));
		struct hist_reading r;
		char name[IRQ_NAME_LEN + 1];
		memcpy(name, key, IRQ_NAME_LEN);
		name[IRQ_NAME_LEN] = '\0';
		if (!hist_read_percpu(fd, key, generation, &r) && add_reading(&handlers, &nhandlers, &cap, name, &r))
			log_error("hardirq", "out of memory: handler %s not collected this interval", name);
		rc = bpf_map_get_next_key(fd, key, next);
	}
	for (size_t i = 0; i < nhandlers; i++) {
		uint64_t *prev = hist_history_prev(&st->history, handlers[i].name);
		if (!prev)
			continue;
		struct metric_tag tag = { "irq", handlers[i].name };
		hist_emit(store, "hardirq.latency", &tag, 1, &handlers[i].r, prev);
		series_counter_observe(store, "hardirq.slow", &tag, 1, handlers[i].r.slow);
	}
	free(handlers);
	hist_generation_advance(bpf_map__fd(st->skel->maps.data_hist_gen), &st->generation);

	uint64_t c[sizeof(struct irq_counters) / sizeof(uint64_t)];
	if (!percpu_sum_u64(bpf_map__fd(st->skel->maps.hardirq_counters), 0, sizeof(c) / sizeof(c[0]), c)) {
		const struct irq_counters *counters = (const struct irq_counters *)c;
		struct metric_tag module = { "module", "hardirq" }, map = { "map", "hardirq_hist" };
		series_counter_observe(store, "agent.ringbuf.lost", &module, 1, counters->ringbuf_lost);
		series_counter_observe(store, "agent.bpf.map_full", &map, 1, counters->map_full);
	}
	return 0;
}

const struct module_ops hardirq_module = {
	.name = "hardirq",
	.config_help = "hardirq.*: time in hard IRQ handlers",
	.enabled_by_default = true,
	.keys = hardirq_keys,
	.nkeys = sizeof(hardirq_keys) / sizeof(hardirq_keys[0]),
	.opts_size = sizeof(struct hardirq_opts),
	.metrics = hardirq_metrics,
	.nmetrics = sizeof(hardirq_metrics) / sizeof(hardirq_metrics[0]),
	.events = hardirq_events,
	.nevents = sizeof(hardirq_events) / sizeof(hardirq_events[0]),
	.open = hardirq_open,
	.destroy = hardirq_destroy,
	.prepare = hardirq_prepare,
	.start = hardirq_start,
	.collect = hardirq_collect,
};
