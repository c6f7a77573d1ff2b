// SPDX-License-Identifier: GPL-2.0
/*
 * swap: pages read from and written to swap. No tracepoint marks swap I/O,
 * so this needs fentry or kprobes on the functions that start it; their
 * names changed over the years and agent/kernel/kernel_names.c picks the one this
 * kernel has (the sections name no target for that reason). One call moves
 * one folio: a page, or all the pages of a large folio (a THP swapped out
 * whole), which the counters add as pages.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "bpfpush.bpf.h"
#include "folio.bpf.h"
#include "swap.h"

char LICENSE[] SEC("license") = "GPL";

PERCPU_COUNTERS(swap_counters, swap_counters);

static __always_inline void count(bool write, struct folio *folio)
{
	struct swap_counters *c = percpu_slot(&swap_counters);
	if (!c)
		return;
	__u64 pages = folio_pages(folio);
	if (write)
		c->writes += pages;
	else
		c->reads += pages;
}

SEC("fentry")
int BPF_PROG(swap_read_fentry, struct folio *folio) { count(false, folio); return 0; }

SEC("fentry")
int BPF_PROG(swap_write_fentry, struct folio *folio) { count(true, folio); return 0; }

SEC("kprobe")
int BPF_KPROBE(swap_read_kprobe, struct folio *folio) { count(false, folio); return 0; }

SEC("kprobe")
int BPF_KPROBE(swap_write_kprobe, struct folio *folio) { count(true, folio); return 0; }
