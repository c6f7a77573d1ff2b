/*
 * fd: open-family calls and closes, with their errors.
 * On this generation every way goes through the shared syscall layer, which
 * sees each call and its result in one program run: errors are sent in both
 * load modes. Kernel-function ways (do_sys_openat2, file_close_fd) join the
 * tables when the fentry/kprobe tiers are proven on kernels that have them.
 */
#include "module.h"
#include "syscall_metrics.h"

static const struct metric_desc fd_metrics[] = {
	{ "fd.open", METRIC_COUNTER, false, "", "open-family calls: open, openat, openat2, creat" },
	{ "fd.open_errors", METRIC_COUNTER, true, "", "open-family calls that failed" },
	{ "fd.close", METRIC_COUNTER, false, "", "close calls, and close_range once per call" },
	{ "fd.close_errors", METRIC_COUNTER, true, "", "close and close_range calls that failed" },
};

enum { EVENT_OPEN = 0, EVENT_CLOSE };

static const struct event_desc fd_events[] = {
	[EVENT_OPEN] = { .name = "open", .gives = "fd.open, fd.open_errors",
			 .ways = { { .syscalls = { LEGACY_SYSCALLS(SYS_open, ) SYS_openat,
						   SYS_openat2 LEGACY_SYSCALLS(, SYS_creat) } } } },
	[EVENT_CLOSE] = { .name = "close", .gives = "fd.close, fd.close_errors",
			  .ways = { { .syscalls = { SYS_close, SYS_close_range } } } },
};

#define OPEN_FAMILY(field)                                                                               \
	{ LEGACY_SYSCALLS({ SYS_open, field }, ) { SYS_openat, field }, { SYS_openat2, field }                 \
	  LEGACY_SYSCALLS(, { SYS_creat, field }) }

static const struct syscall_metric fd_sums[] = {
	{ "fd.open", EVENT_OPEN, OPEN_FAMILY(FIELD_CALLS) },
	{ "fd.open_errors", EVENT_OPEN, OPEN_FAMILY(FIELD_ERRORS) },
	{ "fd.close", EVENT_CLOSE, { { SYS_close, FIELD_CALLS }, { SYS_close_range, FIELD_CALLS } } },
	{ "fd.close_errors", EVENT_CLOSE, { { SYS_close, FIELD_ERRORS }, { SYS_close_range, FIELD_ERRORS } } },
};

const struct module_ops fd_module = {
	.name = "fd",
	.config_help = "fd.*: opens and closes",
	.enabled_by_default = true,
	.metrics = fd_metrics,
	.nmetrics = sizeof(fd_metrics) / sizeof(fd_metrics[0]),
	.events = fd_events,
	.nevents = sizeof(fd_events) / sizeof(fd_events[0]),
	.collect = syscall_metrics_collect,
	.syscall_sums = fd_sums,
	.nsyscall_sums = sizeof(fd_sums) / sizeof(fd_sums[0]),
};
