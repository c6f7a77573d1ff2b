/*
 * mount: mount(2) and move_mount(2) (the step of the new mount API that
 * attaches a mount; fsmount is not counted), umount2(2), with errors.
 */
#include "module.h"
#include "syscall_metrics.h"

static const struct metric_desc mount_metrics[] = {
	{ "mount.mount", METRIC_COUNTER, false, "", "mount(2) and move_mount(2) calls" },
	{ "mount.mount_errors", METRIC_COUNTER, true, "", "those mounts that failed" },
	{ "mount.umount", METRIC_COUNTER, false, "", "umount2(2) calls" },
	{ "mount.umount_errors", METRIC_COUNTER, true, "", "those umounts that failed" },
};

enum { EVENT_MOUNT = 0, EVENT_UMOUNT };

static const struct event_desc mount_events[] = {
	[EVENT_MOUNT] = { .name = "mount", .gives = "mount.mount, mount.mount_errors",
			  .ways = { { .syscalls = { SYS_mount, SYS_move_mount } } } },
	[EVENT_UMOUNT] = { .name = "umount", .gives = "mount.umount, mount.umount_errors",
			   .ways = { { .syscalls = { SYS_umount2 } } } },
};

static const struct syscall_metric mount_sums[] = {
	{ "mount.mount", EVENT_MOUNT, { { SYS_mount, FIELD_CALLS }, { SYS_move_mount, FIELD_CALLS } } },
	{ "mount.mount_errors", EVENT_MOUNT, { { SYS_mount, FIELD_ERRORS }, { SYS_move_mount, FIELD_ERRORS } } },
	{ "mount.umount", EVENT_UMOUNT, { { SYS_umount2, FIELD_CALLS } } },
	{ "mount.umount_errors", EVENT_UMOUNT, { { SYS_umount2, FIELD_ERRORS } } },
};

const struct module_ops mount_module = {
	.name = "mount",
	.config_help = "mount.*: mount and umount",
	.enabled_by_default = true,
	.metrics = mount_metrics,
	.nmetrics = sizeof(mount_metrics) / sizeof(mount_metrics[0]),
	.events = mount_events,
	.nevents = sizeof(mount_events) / sizeof(mount_events[0]),
	.collect = syscall_metrics_collect,
	.syscall_sums = mount_sums,
	.nsyscall_sums = sizeof(mount_sums) / sizeof(mount_sums[0]),
};
