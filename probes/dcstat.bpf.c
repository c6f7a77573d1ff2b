// SPDX-License-Identifier: GPL-2.0
/*
 * dcstat: directory-cache lookups. lookup_fast is the cached path of every
 * path walk, d_lookup the slower hash lookup; a NULL from d_lookup is a
 * miss. Neither has a tracepoint, so this needs fentry or kprobes; misses
 * need the return side (fexit, kretprobe), hooked in load_mode return.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "bpfpush.bpf.h"
#include "dcstat.h"

char LICENSE[] SEC("license") = "GPL";

PERCPU_COUNTERS(dcstat_counters, dcstat_counters);

static __always_inline struct dcstat_counters *counters(void) { return percpu_slot(&dcstat_counters); }

static __always_inline void count_reference(void)
{
	struct dcstat_counters *c = counters();
	if (c)
		c->references++;
}

static __always_inline void count_slow(bool seen_result, void *result)
{
	struct dcstat_counters *c = counters();
	if (!c)
		return;
	c->slow++;
	if (seen_result && !result)
		c->miss++;
}

SEC("fentry/lookup_fast")
int BPF_PROG(lookup_fast_fentry) { count_reference(); return 0; }

SEC("kprobe/lookup_fast")
int BPF_KPROBE(lookup_fast_kprobe) { count_reference(); return 0; }

SEC("fentry/d_lookup")
int BPF_PROG(d_lookup_fentry) { count_slow(false, NULL); return 0; }

SEC("kprobe/d_lookup")
int BPF_KPROBE(d_lookup_kprobe) { count_slow(false, NULL); return 0; }

SEC("fexit/d_lookup")
int BPF_PROG(d_lookup_fexit, const struct dentry *parent, const struct qstr *name, struct dentry *ret)
{
	count_slow(true, ret);
	return 0;
}

SEC("kretprobe/d_lookup")
int BPF_KRETPROBE(d_lookup_kretprobe, struct dentry *ret) { count_slow(true, ret); return 0; }
