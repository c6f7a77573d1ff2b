// SPDX-License-Identifier: GPL-2.0
/*
 * Copies the entries of apps' process table (probes/app_process.bpf.h) that
 * the agent names into memory it maps, APP_COPY_BATCH of them in one run:
 * agent/modules/apps.c runs this program through BPF_PROG_TEST_RUN (never
 * attached) instead of one bpf() lookup per process that moved, which had
 * cost most of a collect at 10000 processes (docs/design.md "Per-application
 * accounting"). The table is apps' own (the agent hands it over before load).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "apps.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct app_process);
} app_pids SEC(".maps");

/* The request and the answer, in this object's .bss, which the agent maps: written by one side at a time. */
__u32 copy_count;                         /* in: how many of copy_tgid */
__u32 copy_tgid[APP_COPY_BATCH];          /* in: the processes */
__u8 copy_found[APP_COPY_BATCH];          /* out: 1 when the process had an entry */
struct app_process copy_out[APP_COPY_BATCH]; /* out: its entry, where found */

SEC("raw_tp")
int app_copy_entries(void *ctx)
{
	for (__u32 i = 0; i < APP_COPY_BATCH; i++) {
		if (i >= copy_count)
			break;
		__u32 tgid = copy_tgid[i];
		struct app_process *p = bpf_map_lookup_elem(&app_pids, &tgid);
		copy_found[i] = p != NULL;
		if (p)
			__builtin_memcpy(&copy_out[i], p, sizeof(*p));
	}
	return 0;
}
