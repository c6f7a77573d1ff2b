// SPDX-License-Identifier: GPL-2.0
/*
 * cachestat: page-cache accesses, additions (misses) and dirtied pages, in
 * pages. Additions and dirtying have tracepoints in the functions that do
 * them (__filemap_add_folio, folio_account_dirtied), so they are exact on
 * every tier; accesses have none, and need fentry or a kprobe on
 * folio_mark_accessed (mark_page_accessed before folios). Before 5.16 the
 * same hooks pass a struct page, which folio_pages() reads. The pre-folio
 * names that libbpf-tools hooks became rarely called wrappers in 5.19+.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "bpfpush.bpf.h"
#include "cachestat.h"
#include "folio.bpf.h"

char LICENSE[] SEC("license") = "GPL";

PERCPU_COUNTERS(cachestat_counters, cachestat_counters);

enum cachestat_kind { ACCESSED, ADDED, DIRTIED };

static __always_inline void count(enum cachestat_kind kind, __u64 pages)
{
	struct cachestat_counters *c = percpu_slot(&cachestat_counters);
	if (!c)
		return;
	if (kind == ACCESSED)
		c->accessed += pages;
	else if (kind == ADDED)
		c->added += pages;
	else
		c->dirtied += pages;
}

SEC("fentry")
int BPF_PROG(accessed_fentry, struct folio *folio) { count(ACCESSED, folio_pages(folio)); return 0; }

SEC("kprobe")
int BPF_KPROBE(accessed_kprobe, struct folio *folio) { count(ACCESSED, folio_pages(folio)); return 0; }

SEC("tp_btf/mm_filemap_add_to_page_cache")
int BPF_PROG(added_tp_btf, struct folio *folio) { count(ADDED, folio_pages(folio)); return 0; }

SEC("raw_tp/mm_filemap_add_to_page_cache")
int BPF_PROG(added_raw_tp, struct folio *folio) { count(ADDED, folio_pages(folio)); return 0; }

/* The classic format carries the order from 6.6; before, a large folio counts as one page. */
SEC("tracepoint/filemap/mm_filemap_add_to_page_cache")
int added_tracepoint(struct trace_event_raw_mm_filemap_op_page_cache *ctx)
{
	__u64 pages = 1;
	if (bpf_core_field_exists(ctx->order)) {
		unsigned int order = ctx->order;
		pages = order < 20 ? 1ULL << order : 1;
	}
	count(ADDED, pages);
	return 0;
}

SEC("tp_btf/writeback_dirty_folio")
int BPF_PROG(dirtied_tp_btf, struct folio *folio) { count(DIRTIED, folio_pages(folio)); return 0; }

SEC("raw_tp/writeback_dirty_folio")
int BPF_PROG(dirtied_raw_tp, struct folio *folio) { count(DIRTIED, folio_pages(folio)); return 0; }

/*
 * No classic writeback_dirty_folio program: its record has no folio, so no
 * size (agent/modules/cachestat.c refuses that way for dirtied pages).
 */

/* Before folios (5.16), account_page_dirtied fired writeback_dirty_page with the head page. */
SEC("tp_btf/writeback_dirty_page")
int BPF_PROG(dirtied_page_tp_btf, struct page *page) { count(DIRTIED, folio_pages((void *)page)); return 0; }

SEC("raw_tp/writeback_dirty_page")
int BPF_PROG(dirtied_page_raw_tp, struct page *page) { count(DIRTIED, folio_pages((void *)page)); return 0; }

/* One record per page nr_dirtied counts (5.10 has no large folios in the page cache of ext4). */
SEC("tracepoint/writeback/writeback_dirty_page")
int dirtied_page_tracepoint(void *ctx) { count(DIRTIED, 1); return 0; }
