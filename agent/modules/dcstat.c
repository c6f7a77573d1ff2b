/* dcstat: directory-cache references, slow lookups and misses (fentry or kprobes only: no tracepoint). */
#include <bpf/libbpf.h>
#include <stdlib.h>

#include "module.h"
#include "dcstat.h"
#include "dcstat.skel.h"
#include "percpu.h"

static const struct metric_desc dcstat_metrics[] = {
	{ "dcstat.references", METRIC_COUNTER, false, "", "lookup_fast calls" },
	{ "dcstat.slow", METRIC_COUNTER, false, "", "d_lookup calls" },
	{ "dcstat.miss", METRIC_COUNTER, true, "", "d_lookup returning NULL" },
	{ "dcstat.ratio", METRIC_GAUGE, true, "", "(references - miss) / references x 100 this interval; not sent without references" },
};

static const struct event_desc dcstat_events[] = {
	{ .name = "lookup_fast",
	  .gives = "dcstat.references, dcstat.ratio",
	  .ways = { { .tier = ATTACH_FENTRY, .progs = { "lookup_fast_fentry" } },
		    { .tier = ATTACH_KPROBE, .progs = { "lookup_fast_kprobe" } } } },
	{ .name = "d_lookup",
	  .gives = "dcstat.slow",
	  .entry_mode_only = true,
	  .ways = { { .tier = ATTACH_FENTRY, .progs = { "d_lookup_fentry" }, .no_result = true },
		    { .tier = ATTACH_KPROBE, .progs = { "d_lookup_kprobe" }, .no_result = true } } },
	{ .name = "d_lookup_result",
	  .gives = "dcstat.slow, dcstat.miss, dcstat.ratio",
	  .return_mode_only = true,
	  .ways = { { .tier = ATTACH_FENTRY, .progs = { "d_lookup_fexit" } },
		    { .tier = ATTACH_KPROBE, .progs = { "d_lookup_kretprobe" } } } },
};

enum { EVENT_LOOKUP_FAST = 0, EVENT_D_LOOKUP, EVENT_D_LOOKUP_RESULT };

struct dcstat_state {
	struct dcstat_bpf *skel;
	uint64_t prev_references, prev_miss;
};

static struct bpf_object *dcstat_open(struct module *m)
{
	struct dcstat_state *st = m->priv;
	if (!st && !(st = m->priv = calloc(1, sizeof(*st))))
		return NULL;
	st->skel = dcstat_bpf__open();
	return st->skel ? st->skel->obj : NULL;
}

static void dcstat_destroy(struct module *m)
{
	struct dcstat_state *st = m->priv;
	if (!st)
		return;
	dcstat_bpf__destroy(st->skel);
	free(st);
	m->priv = NULL;
}

static int dcstat_collect(struct module *m, struct series_store *store)
{
	struct dcstat_state *st = m->priv;
	uint64_t v[3];
	int rc = percpu_sum_u64(bpf_map__fd(st->skel->maps.dcstat_counters), 0, 3, v);
	if (rc)
		return rc;
	const struct dcstat_counters *c = (const struct dcstat_counters *)v;
	bool fast = m->events[EVENT_LOOKUP_FAST].chosen >= 0;
	bool results = m->events[EVENT_D_LOOKUP_RESULT].chosen >= 0;
	if (fast)
		series_counter_observe(store, "dcstat.references", NULL, 0, c->references);
	if (results || m->events[EVENT_D_LOOKUP].chosen >= 0)
		series_counter_observe(store, "dcstat.slow", NULL, 0, c->slow);
	if (results)
		series_counter_observe(store, "dcstat.miss", NULL, 0, c->miss);
	if (fast && results) {
		uint64_t refs = c->references - st->prev_references, miss = c->miss - st->prev_miss;
		if (refs)
			series_gauge_set(store, "dcstat.ratio", NULL, 0,
					 refs >= miss ? (double)(refs - miss) * 100.0 / (double)refs : 0.0, true);
	}
	st->prev_references = c->references;
	st->prev_miss = c->miss;
	return 0;
}

const struct module_ops dcstat_module = {
	.name = "dcstat",
	.config_help = "dcstat.*: directory-cache lookups",
	.enabled_by_default = false,
	.metrics = dcstat_metrics,
	.nmetrics = sizeof(dcstat_metrics) / sizeof(dcstat_metrics[0]),
	.events = dcstat_events,
	.nevents = sizeof(dcstat_events) / sizeof(dcstat_events[0]),
	.open = dcstat_open,
	.destroy = dcstat_destroy,
	.collect = dcstat_collect,
};
