// SPDX-License-Identifier: GPL-2.0
/*
 * swap: pages read from and written to swap. No tracepoint marks swap I/O,
 * so this needs fentry or kprobes on the functions that start it; their
 * names changed over the years and agent/kernel_names.c picks the one this
 * kernel has (the sections name no target for that reason). One call moves
 * one folio: a page, or all the pages of a large folio (a THP swapped out
 * whole), which the counters add as pages.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "bpfpush.bpf.h"
#include "swap.h"

char LICENSE[] SEC("license") = "GPL";

PERCPU_COUNTERS(swap_counters, swap_counters);

/* The flags word of a folio: memdesc_flags_t from 6.17, a plain unsigned long before. */
struct folio___flags_ulong {
	unsigned long flags;
} __attribute__((preserve_access_index));

/* 6.1 to 6.5 kept a large folio's order in a byte of its own. */
struct folio___folio_order {
	unsigned char _folio_order;
} __attribute__((preserve_access_index));

/*
 * Pages in a folio. Every function hooked here is given the head page or
 * the folio itself (the same address). A large folio (a THP swapped out
 * whole) moves 1 << order pages in one call.
 */
static __always_inline __u64 folio_pages(struct folio *folio)
{
	struct folio___flags_ulong *old = (void *)folio;
	unsigned long flags;
	if (bpf_core_field_exists(old->flags))
		flags = BPF_CORE_READ(old, flags);
	else
		flags = BPF_CORE_READ(folio, flags.f);
	int head = bpf_core_enum_value(enum pageflags, PG_head);
	if (head < 0 || head > 63 || !(flags & (1UL << head)))
		return 1;
	struct folio___folio_order *order_byte = (void *)folio;
	unsigned int order;
	if (bpf_core_field_exists(order_byte->_folio_order))
		order = BPF_CORE_READ(order_byte, _folio_order);
	else
		order = BPF_CORE_READ(folio, _flags_1) & 0xff;
	return order < 20 ? 1ULL << order : 1;
}

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
