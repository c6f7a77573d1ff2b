/* Shared by probes/cachestat.bpf.c and agent/modules/cachestat.c. */
#ifndef BPFPUSH_CACHESTAT_H
#define BPFPUSH_CACHESTAT_H

struct cachestat_counters {
	unsigned long long accessed; /* pages of folios marked accessed (folio_mark_accessed) */
	unsigned long long added;    /* pages added to the page cache: the misses */
	unsigned long long dirtied;  /* pages dirtied (accounted for writeback) */
};

#endif
