/* Pages in a folio, for probes that are handed one (swap, cachestat). */
#ifndef BPFPUSH_FOLIO_BPF_H
#define BPFPUSH_FOLIO_BPF_H

/*
 * The flags word of a folio: memdesc_flags_t from 6.17, a plain unsigned long
 * before. Both shapes are flavors, so that a vmlinux.h of either age compiles
 * (the committed probes/vmlinux/vmlinux_arm64.h.gz is 6.1's).
 */
struct folio___flags_ulong {
	unsigned long flags;
} __attribute__((preserve_access_index));

struct folio___flags_memdesc {
	struct {
		unsigned long f;
	} flags;
} __attribute__((preserve_access_index));

/* 6.1 to 6.5 kept a large folio's order in a byte of its own. */
struct folio___folio_order {
	unsigned char _folio_order;
} __attribute__((preserve_access_index));

/*
 * Before folios (5.16) the same functions and tracepoints passed a struct
 * page: the head page of a compound page, whose order the first tail page
 * keeps in compound_order (inside an anonymous union, which CO-RE finds).
 */
struct page___compound {
	unsigned long flags;
	unsigned char compound_order;
} __attribute__((preserve_access_index));

static __always_inline __u64 head_page_pages(void *page)
{
	struct page___compound *head = page;
	unsigned long flags = BPF_CORE_READ(head, flags);
	int bit = bpf_core_enum_value(enum pageflags, PG_head);
	if (bit < 0 || bit > 63 || !(flags & (1UL << bit)))
		return 1;
	struct page___compound *tail = (void *)((unsigned long)page + bpf_core_type_size(struct page___compound));
	unsigned int order = BPF_CORE_READ(tail, compound_order);
	return order < 20 ? 1ULL << order : 1;
}

/*
 * A large folio (a THP, or a large page-cache folio) stands for 1 << order
 * pages in one call; the order lives in the second page's flags. Functions
 * given a struct page * (older kernels) pass the head page, which has the
 * same layout for these fields.
 */
static __always_inline __u64 folio_pages(struct folio *folio)
{
	if (!bpf_core_type_exists(struct folio))
		return head_page_pages(folio);
	struct folio___flags_ulong *old = (void *)folio;
	unsigned long flags;
	if (bpf_core_field_exists(old->flags))
		flags = BPF_CORE_READ(old, flags);
	else
		flags = BPF_CORE_READ((struct folio___flags_memdesc *)folio, flags.f);
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

#endif
