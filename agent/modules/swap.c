/* swap: pages read from and written to swap (fentry or kprobes only: no tracepoint marks swap I/O). */
#include <bpf/libbpf.h>
#include <stdlib.h>

#include "module.h"
#include "percpu.h"
#include "swap.h"
#include "swap.skel.h"

static const struct metric_desc swap_metrics[] = {
	{ "swap.read", METRIC_COUNTER, false, "", "pages read from swap" },
	{ "swap.write", METRIC_COUNTER, false, "", "pages written to swap" },
};

static const struct event_desc swap_events[] = {
	{ .name = "read",
	  .gives = "swap.read",
	  .ways = { { .tier = ATTACH_FENTRY, .progs = { "swap_read_fentry" }, .targets = { "swap_read_folio" } },
		    { .tier = ATTACH_KPROBE, .progs = { "swap_read_kprobe" }, .targets = { "swap_read_folio" } } } },
	{ .name = "write",
	  .gives = "swap.write",
	  .ways = { { .tier = ATTACH_FENTRY, .progs = { "swap_write_fentry" }, .targets = { "__swap_writepage" } },
		    { .tier = ATTACH_KPROBE, .progs = { "swap_write_kprobe" }, .targets = { "__swap_writepage" } } } },
};

enum { EVENT_READ = 0, EVENT_WRITE };

static struct bpf_object *swap_open(struct module *m)
{
	struct swap_bpf *skel = swap_bpf__open();
	m->priv = skel;
	return skel ? skel->obj : NULL;
}

static void swap_destroy(struct module *m)
{
	swap_bpf__destroy(m->priv);
	m->priv = NULL;
}

static int swap_collect(struct module *m, struct series_store *store)
{
	struct swap_bpf *skel = m->priv;
	uint64_t v[2];
	int rc = percpu_sum_u64(bpf_map__fd(skel->maps.swap_counters), 0, 2, v);
	if (rc)
		return rc;
	if (m->events[EVENT_READ].chosen >= 0)
		series_counter_observe(store, "swap.read", NULL, 0, v[0]);
	if (m->events[EVENT_WRITE].chosen >= 0)
		series_counter_observe(store, "swap.write", NULL, 0, v[1]);
	return 0;
}

const struct module_ops swap_module = {
	.name = "swap",
	.config_help = "swap.*: pages swapped in and out",
	.enabled_by_default = false,
	.metrics = swap_metrics,
	.nmetrics = sizeof(swap_metrics) / sizeof(swap_metrics[0]),
	.events = swap_events,
	.nevents = sizeof(swap_events) / sizeof(swap_events[0]),
	.open = swap_open,
	.destroy = swap_destroy,
	.collect = swap_collect,
};
