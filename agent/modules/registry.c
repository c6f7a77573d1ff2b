/*
 * The one list of modules. Adding a module is one MODULE(name) line here:
 * its index is its id, its name its config section, and its keys come with
 * its module_ops.
 */
#include <string.h>

#include "module.h"

/* In docs/metrics.md order, which is also the order of --probe and of the schema. */
#define REGISTRY(MODULE) \
	MODULE(process)    \
	MODULE(fd)         \
	MODULE(vfs)        \
	MODULE(sync)       \
	MODULE(mount)      \
	MODULE(shm)        \
	MODULE(cachestat)  \
	MODULE(dcstat)     \
	MODULE(swap)       \
	MODULE(socket)     \
	MODULE(network)    \
	MODULE(disk)       \
	MODULE(mdflush)    \
	MODULE(filesystem) \
	MODULE(hardirq)    \
	MODULE(softirq)    \
	MODULE(oomkill)    \
	MODULE(apps)

/* Each module file defines NAME_module. */
#define DECLARE(name) extern const struct module_ops name##_module;
REGISTRY(DECLARE)

#define ENTRY(name) &name##_module,
static const struct module_ops *const registry[] = { REGISTRY(ENTRY) };

#define REGISTRY_COUNT (sizeof(registry) / sizeof(registry[0]))
_Static_assert(REGISTRY_COUNT <= MODULE_MAX, "raise MODULE_MAX in agent/core/config.h");

size_t module_registry_count(void) { return REGISTRY_COUNT; }

const struct module_ops *module_registry_get(module_id_t id) { return id < REGISTRY_COUNT ? registry[id] : NULL; }

int module_registry_find(const char *name)
{
	for (size_t i = 0; i < REGISTRY_COUNT; i++)
		if (strcmp(registry[i]->name, name) == 0)
			return (int)i;
	return -1;
}

bool module_metric_needs_result(const struct module_ops *ops, const char *metric)
{
	for (size_t i = 0; i < ops->nmetrics; i++)
		if (!strcmp(ops->metrics[i].name, metric))
			return ops->metrics[i].needs_result;
	return false;
}

bool module_event_gives(const struct event_desc *ev, const char *metric)
{
	size_t want = strlen(metric);
	for (const char *p = ev->gives ? ev->gives : ""; *p;) {
		p += strspn(p, ", ");
		size_t n = strcspn(p, ", ");
		if (n == want && !strncmp(p, metric, n))
			return true;
		p += n;
	}
	return false;
}

const struct metric_desc agent_metrics[] = {
	{ "agent.collect.duration_us", METRIC_GAUGE, false, "", "time the last collection of all modules took" },
	{ "agent.module.collect_us", METRIC_GAUGE, false, "module", "time the module's last collect took" },
	{ "agent.collect.cpu_us", METRIC_GAUGE, false, "",
	  "CPU time the agent spent in the last collection of all modules (its duration less waits and preemption)" },
	{ "agent.module.collect_cpu_us", METRIC_GAUGE, false, "module",
	  "CPU time the agent spent in the module's last collect" },
	{ "agent.modules.enabled", METRIC_GAUGE, false, "", "modules enabled in the config and built" },
	{ "agent.modules.failed", METRIC_GAUGE, false, "", "enabled modules that could not attach" },
	{ "agent.flush.duration_us", METRIC_GAUGE, false, "", "time the last flush (encode + hand-off to every sink) took" },
	{ "agent.bpf.missed", METRIC_COUNTER, false, "module",
	  "events the kernel skipped the module's programs for (recursion protection; a kretprobe out of instances), where it counts them" },
	{ "agent.pids.tracked", METRIC_GAUGE, false, "", "processes in the per-process table (apps)" },
	{ "agent.pids.capacity", METRIC_GAUGE, false, "", "entries the per-process table can hold (global.pid_table_size)" },
	{ "agent.pids.full_reads", METRIC_COUNTER, false, "",
	  "collects that read the whole per-process table: the first, and each after more processes moved than its ring holds" },
	{ "agent.bpf.map_full", METRIC_COUNTER, false, "map", "updates refused because a map was full (the event was not counted)" },
	{ "agent.ringbuf.lost", METRIC_COUNTER, false, "module", "ring-buffer events the kernel side could not reserve" },
	{ "agent.sink.sent", METRIC_COUNTER, false, "sink", "lines handed to the transport" },
	{ "agent.sink.dropped", METRIC_COUNTER, false, "sink,reason", "lines dropped: overflow, too_long, invalid, send_error" },
	{ "agent.sink.errors", METRIC_COUNTER, false, "sink", "send/connect errors" },
	{ "agent.sink.reconnects", METRIC_COUNTER, false, "sink", "reconnections after the first connect" },
	{ "agent.sink.buffered", METRIC_GAUGE, false, "sink", "lines waiting in the sink's buffer" },
	{ "agent.rss_bytes", METRIC_GAUGE, false, "", "the agent's resident memory" },
	{ "agent.cpu_ns", METRIC_COUNTER, false, "", "the agent's own CPU time" },
};
const size_t agent_metrics_count = sizeof(agent_metrics) / sizeof(agent_metrics[0]);
