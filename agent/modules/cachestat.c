/*
 * cachestat: page-cache hits, misses and dirtied pages. Misses (pages added
 * to the cache) and dirtied pages come from tracepoints and are exact on
 * every tier; hits are accesses (folio_mark_accessed, fentry or kprobe only)
 * minus misses, as in Brendan Gregg's cachestat, so a kernel without either
 * sends no hits and no ratio, and --probe says why.
 */
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>

#include "attach.h"
#include "btf_proto.h"
#include "module.h"
#include "cachestat.h"
#include "cachestat.skel.h"
#include "percpu.h"

static const struct metric_desc cachestat_metrics[] = {
	{ "cachestat.hits", METRIC_COUNTER, false, "",
	  "page-cache accesses served from memory (pages): accessed pages minus misses, per interval, never below 0" },
	{ "cachestat.misses", METRIC_COUNTER, false, "", "pages added to the page cache" },
	{ "cachestat.dirties", METRIC_COUNTER, false, "", "pages dirtied" },
	{ "cachestat.ratio", METRIC_GAUGE, false, "", "hits / (hits + misses) x 100 this interval; not sent without accesses" },
};

static const struct event_desc cachestat_events[] = {
	{ .name = "added",
	  .gives = "cachestat.misses",
	  .ways = { { .tier = ATTACH_TP_BTF, .progs = { "added_tp_btf" } },
		    { .tier = ATTACH_RAW_TP, .progs = { "added_raw_tp" } },
		    { .tier = ATTACH_TRACEPOINT, .progs = { "added_tracepoint" } } } },
	{ .name = "dirtied",
	  .gives = "cachestat.dirties",
	  /* writeback_dirty_folio from 5.16, writeback_dirty_page before: a kernel has one. */
	  .ways = { { .tier = ATTACH_TP_BTF, .progs = { "dirtied_tp_btf" } },
		    { .tier = ATTACH_TP_BTF, .progs = { "dirtied_page_tp_btf" } },
		    { .tier = ATTACH_RAW_TP, .progs = { "dirtied_raw_tp" } },
		    { .tier = ATTACH_RAW_TP, .progs = { "dirtied_page_raw_tp" } },
		    /* The folio's: no program, refused by cachestat_way_fits so --probe says why. */
		    { .tier = ATTACH_TRACEPOINT },
		    { .tier = ATTACH_TRACEPOINT, .progs = { "dirtied_page_tracepoint" } } } },
	{ .name = "accessed",
	  .gives = "cachestat.hits, cachestat.ratio",
	  .ways = { { .tier = ATTACH_FENTRY, .progs = { "accessed_fentry" }, .targets = { "folio_mark_accessed" } },
		    { .tier = ATTACH_KPROBE, .progs = { "accessed_kprobe" }, .targets = { "folio_mark_accessed" } } } },
};

enum { EVENT_ADDED = 0, EVENT_DIRTIED, EVENT_ACCESSED };

struct cachestat_state {
	struct cachestat_bpf *skel;
	uint64_t prev_accessed, prev_added;
	uint64_t hits; /* the running total sent as cachestat.hits */
};

static struct bpf_object *cachestat_open(struct module *m)
{
	struct cachestat_state *st = m->priv;
	if (!st && !(st = m->priv = calloc(1, sizeof(*st))))
		return NULL;
	st->skel = cachestat_bpf__open();
	return st->skel ? st->skel->obj : NULL;
}

static void cachestat_destroy(struct module *m)
{
	struct cachestat_state *st = m->priv;
	if (!st)
		return;
	cachestat_bpf__destroy(st->skel);
	free(st);
	m->priv = NULL;
}

/*
 * The BTF-typed ways read a folio, or before 5.16 a head page (folio_pages()
 * takes either); the tracepoint must pass one of them first. The classic
 * writeback_dirty_folio records no folio, only the inode and index: a large
 * folio (ext4 from 6.16, xfs, tmpfs huge pages) would count as one page
 * where nr_dirtied counts hundreds, so that way sends nothing. The classic
 * writeback_dirty_page (before 5.16) fires once per page nr_dirtied counts.
 */
static bool cachestat_way_fits(const struct module *m, size_t event, int way, char *why)
{
	const struct attach_way *w = &m->ops->events[event].ways[way];
	enum attach_tier tier = w->tier;
	if (event == EVENT_DIRTIED && tier == ATTACH_TRACEPOINT && !w->progs[0]) {
		snprintf(why, REASON_MAX, "%s", CLASSIC_DIRTY_FOLIO_WHY);
		return false;
	}
	if (event != EVENT_ADDED || (tier != ATTACH_TP_BTF && tier != ATTACH_RAW_TP))
		return true;
	const char *tracepoint = "mm_filemap_add_to_page_cache";
	if (btf_tracepoint_passes_pages(probe_cache_btf(m->probes), tracepoint))
		return true;
	snprintf(why, REASON_MAX, "tracepoint %s passes neither a struct folio nor a struct page on this kernel", tracepoint);
	return false;
}

static int cachestat_collect(struct module *m, struct series_store *store)
{
	struct cachestat_state *st = m->priv;
	uint64_t v[3];
	int rc = percpu_sum_u64(bpf_map__fd(st->skel->maps.cachestat_counters), 0, 3, v);
	if (rc)
		return rc;
	const struct cachestat_counters *c = (const struct cachestat_counters *)v;
	bool added = m->events[EVENT_ADDED].chosen >= 0;
	bool accessed = m->events[EVENT_ACCESSED].chosen >= 0;
	if (added)
		series_counter_observe(store, "cachestat.misses", NULL, 0, c->added);
	if (m->events[EVENT_DIRTIED].chosen >= 0)
		series_counter_observe(store, "cachestat.dirties", NULL, 0, c->dirtied);
	if (added && accessed) {
		/*
		 * A miss is also marked accessed once it is read, and a page
		 * written into the cache is added without being accessed, so
		 * accesses minus additions can go below zero in an interval of
		 * writes: such an interval has no hits.
		 */
		uint64_t accesses = c->accessed - st->prev_accessed, misses = c->added - st->prev_added;
		uint64_t hits = accesses > misses ? accesses - misses : 0;
		st->hits += hits;
		series_counter_observe(store, "cachestat.hits", NULL, 0, st->hits);
		if (hits + misses)
			series_gauge_set(store, "cachestat.ratio", NULL, 0, (double)hits * 100.0 / (double)(hits + misses), true);
	}
	st->prev_accessed = c->accessed;
	st->prev_added = c->added;
	return 0;
}

const struct module_ops cachestat_module = {
	.name = "cachestat",
	.config_help = "cachestat.*: page-cache hits and misses (costly)",
	.enabled_by_default = false,
	.metrics = cachestat_metrics,
	.nmetrics = sizeof(cachestat_metrics) / sizeof(cachestat_metrics[0]),
	.events = cachestat_events,
	.nevents = sizeof(cachestat_events) / sizeof(cachestat_events[0]),
	.open = cachestat_open,
	.destroy = cachestat_destroy,
	.way_fits = cachestat_way_fits,
	.collect = cachestat_collect,
};
