/* Shared by probes/cachestat.bpf.c and agent/modules/cachestat.c. */
#ifndef BPFPUSH_CACHESTAT_H
#define BPFPUSH_CACHESTAT_H

struct cachestat_counters {
	unsigned long long accessed; /* pages of folios marked accessed (folio_mark_accessed) */
	unsigned long long added;    /* pages added to the page cache: the misses */
	unsigned long long dirtied;  /* pages dirtied (accounted for writeback) */
};

/*
 * Why dirtied pages are not counted on the classic tracepoint tier (cachestat
 * and apps): its writeback_dirty_folio record has no folio, so no size.
 */
#define CLASSIC_DIRTY_FOLIO_WHY                                                                          \
	"the classic writeback_dirty_folio has no folio size: a large folio would count as 1 page"

#endif
