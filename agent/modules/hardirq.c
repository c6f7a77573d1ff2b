/*
 * hardirq: time per hard IRQ handler (log2 histogram and time sum by handler
 * name; on x86 also per system vector), slow handlers logged and counted.
 */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "grow.h"
#include "histogram.h"
#include "log.h"
#include "module.h"
#include "hardirq.skel.h"
#include "irq.h"
#include "irq_slow.h"
#include "percpu.h"

static const struct metric_desc hardirq_metrics[] = {
	{ "hardirq.latency", METRIC_HISTOGRAM, false, "irq",
	  "µs in each hard IRQ handler (histogram: .bucket with le, .p50/.p95/.p99/.max); irq = the handler name, "
	  "or an x86 system vector's /proc/interrupts row (LOC, RES, CAL, ...)" },
	{ "hardirq.time", METRIC_COUNTER, false, "irq", "µs spent in each hard IRQ handler or x86 system vector" },
	{ "hardirq.slow", METRIC_COUNTER, false, "irq", "handlers slower than modules.hardirq.slow_threshold" },
};

#define HARDIRQ_GIVES "hardirq.latency, hardirq.time, hardirq.slow"

#ifdef IRQ_SYSTEM_VECTORS
/*
 * The irq tag of each system vector row (probes/irq.h): the row of
 * /proc/interrupts that counts the same interrupts, so that the two compare.
 */
static const char *const sysvec_rows[SYSVEC_ROWS] = {
	[SYSVEC_LOC] = "LOC", [SYSVEC_SPU] = "SPU", [SYSVEC_ERR] = "ERR", [SYSVEC_PLT] = "PLT", [SYSVEC_IWI] = "IWI",
	[SYSVEC_RES] = "RES", [SYSVEC_CAL] = "CAL", [SYSVEC_TRM] = "TRM", [SYSVEC_THR] = "THR", [SYSVEC_DFR] = "DFR",
};

/*
 * One event per irq_vectors tracepoint pair, so that a kernel without one
 * (threshold_apic and deferred_error_apic need AMD machine-check support
 * built in) keeps the others.
 */
#define SYSVEC_EVENT(TP)                                                                                           \
	{ .name = #TP,                                                                                             \
	  .gives = HARDIRQ_GIVES,                                                                                  \
	  .ways = { { .tier = ATTACH_TP_BTF, .progs = { "sysvec_" #TP "_entry_tp_btf", "sysvec_" #TP "_exit_tp_btf" } }, \
		    { .tier = ATTACH_RAW_TP, .progs = { "sysvec_" #TP "_entry_raw_tp", "sysvec_" #TP "_exit_raw_tp" } }, \
		    { .tier = ATTACH_TRACEPOINT,                                                                   \
		      .progs = { "sysvec_" #TP "_entry_tracepoint", "sysvec_" #TP "_exit_tracepoint" } } } }
#endif

static const struct event_desc hardirq_events[] = {
	{ .name = "handler",
	  .gives = HARDIRQ_GIVES,
	  .ways = { { .tier = ATTACH_TP_BTF, .progs = { "hardirq_entry_tp_btf", "hardirq_exit_tp_btf" } },
		    { .tier = ATTACH_RAW_TP, .progs = { "hardirq_entry_raw_tp", "hardirq_exit_raw_tp" } },
		    { .tier = ATTACH_TRACEPOINT, .progs = { "hardirq_entry_tracepoint", "hardirq_exit_tracepoint" } } } },
#ifdef IRQ_SYSTEM_VECTORS
	SYSVEC_EVENT(local_timer),
	SYSVEC_EVENT(reschedule),
	SYSVEC_EVENT(call_function),
	SYSVEC_EVENT(call_function_single),
	SYSVEC_EVENT(irq_work),
	SYSVEC_EVENT(x86_platform_ipi),
	SYSVEC_EVENT(thermal_apic),
	SYSVEC_EVENT(threshold_apic),
	SYSVEC_EVENT(deferred_error_apic),
	SYSVEC_EVENT(error_apic),
	SYSVEC_EVENT(spurious_apic),
#else
	/* Said once in --probe; the interrupts of other architectures all pass through irq_handler_entry. */
	{ .name = "system_vectors", .gives = HARDIRQ_GIVES },
#endif
};

#ifdef IRQ_SYSTEM_VECTORS
/*
 * Does this kernel have the vector's tracepoints? Some are built only with
 * their feature (threshold_apic, deferred_error_apic: AMD machine checks);
 * those it lacks are left out quietly rather than refused on every tier with
 * a warning at each start, since the metrics come from the others all the
 * same. Unknown (no BTF, no tracefs): tried, and attach decides.
 */
static bool sysvec_tracepoint_exists(const struct module *m, const char *tp)
{
	if (!m->probes)
		return true;
	char name[160];
	struct btf *btf = probe_cache_btf(m->probes);
	if (btf) {
		snprintf(name, sizeof(name), "btf_trace_%s_entry", tp);
		return btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF) > 0;
	}
	if (!m->probes->tracefs[0])
		return true;
	snprintf(name, sizeof(name), "%s/events/irq_vectors/%s_entry", m->probes->tracefs, tp);
	return access(name, F_OK) == 0 || errno != ENOENT;
}
#endif

static bool hardirq_wants(const struct module *m, size_t event)
{
	const char *name = hardirq_events[event].name;
	if (!strcmp(name, "handler"))
		return true;
#ifdef IRQ_SYSTEM_VECTORS
	return sysvec_tracepoint_exists(m, name);
#else
	(void)m;
	return false;
#endif
}

static const char *hardirq_unwanted_why(const struct module *m, size_t event)
{
	(void)m;
	(void)event;
#ifdef IRQ_SYSTEM_VECTORS
	return "tracepoint not in this kernel";
#else
	/* Short: --probe prints it after "not hooked: " in 64 characters. */
	return "x86 only: timer and IPIs are IRQs here";
#endif
}

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
	if (e->system_vector)
		snprintf(what, sizeof(what), "x86 system vector %.*s (vector %#x)", IRQ_NAME_LEN, e->name, e->vector);
	else
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
	struct handler_reading *grown = grow_array(*list, cap, *len + 1, sizeof(*grown), 16);
	if (!grown)
		return -ENOMEM;
	*list = grown;
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
		if (!hist_read_shared(fd, key, generation, &r) && add_reading(&handlers, &nhandlers, &cap, name, &r))
			log_error("hardirq", "out of memory: handler %s not collected this interval", name);
		rc = bpf_map_get_next_key(fd, key, next);
	}
#ifdef IRQ_SYSTEM_VECTORS
	int sysvec_fd = bpf_map__fd(st->skel->maps.hardirq_sysvec_hist);
	for (uint32_t row = 0; row < SYSVEC_ROWS; row++) {
		struct hist_reading r;
		if (hist_read_percpu(sysvec_fd, &row, generation, &r))
			continue;
		uint64_t events = 0;
		for (unsigned s = 0; s < HIST_SLOTS; s++)
			events += r.slots[s];
		/* A row never seen (not attached, or no such interrupt yet) sends nothing, as a handler never run. */
		if (events && add_reading(&handlers, &nhandlers, &cap, sysvec_rows[row], &r))
			log_error("hardirq", "out of memory: system vector %s not collected this interval", sysvec_rows[row]);
	}
#endif
	for (size_t i = 0; i < nhandlers; i++) {
		uint64_t *prev = hist_history_prev(&st->history, handlers[i].name);
		if (!prev)
			continue;
		struct metric_tag tag = { "irq", handlers[i].name };
		hist_emit(store, "hardirq.latency", &tag, 1, &handlers[i].r, prev);
		series_counter_observe(store, "hardirq.time", &tag, 1, hist_time_us(&handlers[i].r));
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
	.config_help = "hardirq.*: time in hard IRQ handlers and x86 system vectors",
	.enabled_by_default = true,
	.keys = hardirq_keys,
	.nkeys = sizeof(hardirq_keys) / sizeof(hardirq_keys[0]),
	.opts_size = sizeof(struct hardirq_opts),
	.metrics = hardirq_metrics,
	.nmetrics = sizeof(hardirq_metrics) / sizeof(hardirq_metrics[0]),
	.events = hardirq_events,
	.nevents = sizeof(hardirq_events) / sizeof(hardirq_events[0]),
	.wants = hardirq_wants,
	.unwanted_why = hardirq_unwanted_why,
	.open = hardirq_open,
	.destroy = hardirq_destroy,
	.prepare = hardirq_prepare,
	.start = hardirq_start,
	.collect = hardirq_collect,
};
