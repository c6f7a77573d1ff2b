/* Shared by probes/oomkill.bpf.c and agent/modules/oomkill.c. */
#ifndef BPFPUSH_OOMKILL_H
#define BPFPUSH_OOMKILL_H

#define OOM_COMM_LEN 16
#define OOM_NAME_LEN 64

/* One OOM victim, read from the task the kernel passes (not the current task). */
struct oom_victim_event {
	unsigned int pid;      /* the victim's thread-group id */
	unsigned int has_task; /* 0: the classic tracepoint gave only what its format holds */
	char comm[OOM_COMM_LEN];  /* the thread-group leader's comm; "" when unknown */
	char exe[OOM_NAME_LEN];   /* the executable's basename; "" when unknown */
	char cgroup[OOM_NAME_LEN]; /* the leaf of its memory cgroup path; "" when unknown */
};

struct oom_counters {
	unsigned long long kills;        /* every victim, whether or not its event reached userspace */
	unsigned long long ringbuf_lost; /* events the ring buffer had no room for */
};

#endif
