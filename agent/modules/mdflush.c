/* mdflush: flush requests per md (software RAID) device (fentry or kprobes only: no tracepoint). */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdlib.h>
#include <string.h>

#include "mdflush.h"
#include "mdflush.skel.h"
#include "module.h"
#include "percpu.h"

static const struct metric_desc mdflush_metrics[] = {
	{ "mdflush.flushes", METRIC_COUNTER, false, "disk",
	  "flush requests md received for the device (md_flush_request); disk as in /proc/partitions (md0, md127, md_name)" },
};

static const struct event_desc mdflush_events[] = {
	{ .name = "flush",
	  .gives = "mdflush.flushes",
	  .ways = { { .tier = ATTACH_FENTRY, .progs = { "mdflush_fentry" } },
		    { .tier = ATTACH_KPROBE, .progs = { "mdflush_kprobe" } } } },
};

static struct bpf_object *mdflush_open(struct module *m)
{
	struct mdflush_bpf *skel = mdflush_bpf__open();
	m->priv = skel;
	return skel ? skel->obj : NULL;
}

static void mdflush_destroy(struct module *m)
{
	mdflush_bpf__destroy(m->priv);
	m->priv = NULL;
}

/*
 * One series per device the kernel side has seen flush, by the name it read
 * there: an array stopped since still reports its last count (0 per
 * interval until series_ttl), under the same name.
 */
static int mdflush_collect(struct module *m, struct series_store *store)
{
	struct mdflush_bpf *skel = m->priv;
	int fd = bpf_map__fd(skel->maps.mdflush_count);
	struct mdflush_key key, next;
	int rc = bpf_map_get_next_key(fd, NULL, &next);
	while (!rc) {
		key = next;
		uint64_t flushes;
		if (!bpf_map_lookup_elem(fd, &key, &flushes)) {
			char name[MDFLUSH_DISK_NAME_LEN + 1];
			memcpy(name, key.disk, MDFLUSH_DISK_NAME_LEN);
			name[MDFLUSH_DISK_NAME_LEN] = '\0';
			struct metric_tag tag = { "disk", name };
			series_counter_observe(store, "mdflush.flushes", &tag, 1, flushes);
		}
		rc = bpf_map_get_next_key(fd, &key, &next);
	}
	uint64_t c[sizeof(struct mdflush_counters) / sizeof(uint64_t)];
	if (!percpu_sum_u64(bpf_map__fd(skel->maps.mdflush_counters), 0, 1, c)) {
		struct metric_tag map = { "map", "mdflush_count" };
		series_counter_observe(store, "agent.bpf.map_full", &map, 1, c[0]);
	}
	return 0;
}

const struct module_ops mdflush_module = {
	.name = "mdflush",
	.config_help = "mdflush.flushes per md device (needs fentry or kprobes, and md_mod loaded)",
	.enabled_by_default = false,
	.metrics = mdflush_metrics,
	.nmetrics = sizeof(mdflush_metrics) / sizeof(mdflush_metrics[0]),
	.events = mdflush_events,
	.nevents = sizeof(mdflush_events) / sizeof(mdflush_events[0]),
	.open = mdflush_open,
	.destroy = mdflush_destroy,
	.collect = mdflush_collect,
};
