/* Every module of enum module_id (tests/unit/test_registry.c checks that none is missing). */
#include <string.h>

#include "../module.h"

extern const struct module_ops process_module, fd_module, vfs_module, sync_module, mount_module, shm_module;
extern const struct module_ops hardirq_module, softirq_module, oomkill_module, disk_module, swap_module, dcstat_module;
extern const struct module_ops cachestat_module, filesystem_module, socket_module, network_module, apps_module;

static const struct module_ops *const registry[MODULE_COUNT] = {
	[MODULE_PROCESS] = &process_module, [MODULE_FD] = &fd_module,       [MODULE_VFS] = &vfs_module,
	[MODULE_SYNC] = &sync_module,       [MODULE_MOUNT] = &mount_module, [MODULE_SHM] = &shm_module,
	[MODULE_HARDIRQ] = &hardirq_module, [MODULE_SOFTIRQ] = &softirq_module,
	[MODULE_OOMKILL] = &oomkill_module, [MODULE_DISK] = &disk_module,
	[MODULE_SWAP] = &swap_module,       [MODULE_DCSTAT] = &dcstat_module,
	[MODULE_CACHESTAT] = &cachestat_module, [MODULE_FILESYSTEM] = &filesystem_module,
	[MODULE_SOCKET] = &socket_module, [MODULE_NETWORK] = &network_module, [MODULE_APPS] = &apps_module,
};

bool module_metric_needs_result(const struct module_ops *ops, const char *metric)
{
	for (size_t i = 0; i < ops->nmetrics; i++)
		if (!strcmp(ops->metrics[i].name, metric))
			return ops->metrics[i].needs_result;
	return false;
}

const struct module_ops *module_registry_get(enum module_id id)
{
	return (unsigned)id < MODULE_COUNT ? registry[id] : NULL;
}

const struct metric_desc agent_metrics[] = {
	{ "agent.collect.duration_us", METRIC_GAUGE, false, "", "time the last collection of all modules took" },
	{ "agent.module.collect_us", METRIC_GAUGE, false, "module", "time the module's last collect took" },
	{ "agent.modules.enabled", METRIC_GAUGE, false, "", "modules enabled in the config and built" },
	{ "agent.modules.failed", METRIC_GAUGE, false, "", "enabled modules that could not attach" },
	{ "agent.flush.duration_us", METRIC_GAUGE, false, "", "time the last flush (encode + hand-off to every sink) took" },
	{ "agent.bpf.missed", METRIC_COUNTER, false, "module",
	  "events the kernel skipped the module's programs for (recursion protection), where it counts them" },
	{ "agent.pids.tracked", METRIC_GAUGE, false, "", "processes in the per-process table (apps)" },
	{ "agent.pids.capacity", METRIC_GAUGE, false, "", "entries the per-process table can hold (global.pid_table_size)" },
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
