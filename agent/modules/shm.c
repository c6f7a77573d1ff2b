/* shm: System V shared memory calls. */
#include "module.h"
#include "syscall_metrics.h"

static const struct metric_desc shm_metrics[] = {
	{ "shm.get", METRIC_COUNTER, false, "", "shmget(2) calls" },
	{ "shm.at", METRIC_COUNTER, false, "", "shmat(2) calls" },
	{ "shm.dt", METRIC_COUNTER, false, "", "shmdt(2) calls" },
	{ "shm.ctl", METRIC_COUNTER, false, "", "shmctl(2) calls" },
};

enum { EVENT_GET = 0, EVENT_AT, EVENT_DT, EVENT_CTL };

static const struct event_desc shm_events[] = {
	[EVENT_GET] = { .name = "shmget", .gives = "shm.get", .ways = { { .syscalls = { SYS_shmget } } } },
	[EVENT_AT] = { .name = "shmat", .gives = "shm.at", .ways = { { .syscalls = { SYS_shmat } } } },
	[EVENT_DT] = { .name = "shmdt", .gives = "shm.dt", .ways = { { .syscalls = { SYS_shmdt } } } },
	[EVENT_CTL] = { .name = "shmctl", .gives = "shm.ctl", .ways = { { .syscalls = { SYS_shmctl } } } },
};

static const struct syscall_metric shm_sums[] = {
	{ "shm.get", EVENT_GET, { { SYS_shmget, FIELD_CALLS } } },
	{ "shm.at", EVENT_AT, { { SYS_shmat, FIELD_CALLS } } },
	{ "shm.dt", EVENT_DT, { { SYS_shmdt, FIELD_CALLS } } },
	{ "shm.ctl", EVENT_CTL, { { SYS_shmctl, FIELD_CALLS } } },
};

const struct module_ops shm_module = {
	.name = "shm",
	.config_help = "shm.*: System V shared memory calls",
	.enabled_by_default = true,
	.metrics = shm_metrics,
	.nmetrics = sizeof(shm_metrics) / sizeof(shm_metrics[0]),
	.events = shm_events,
	.nevents = sizeof(shm_events) / sizeof(shm_events[0]),
	.collect = syscall_metrics_collect,
	.syscall_sums = shm_sums,
	.nsyscall_sums = sizeof(shm_sums) / sizeof(shm_sums[0]),
};
