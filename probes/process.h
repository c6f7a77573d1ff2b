/* Shared by probes/process.bpf.c and agent/modules/process.c. */
#ifndef BPFPUSH_PROCESS_H
#define BPFPUSH_PROCESS_H

/* One per-CPU slot of host-wide counters; userspace sums the CPUs. */
struct process_counters {
	unsigned long long create;
	unsigned long long thread_create;
	unsigned long long exit;
	unsigned long long release;
};

#endif
