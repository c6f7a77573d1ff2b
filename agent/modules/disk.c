/* disk: block request latency, issue -> complete, log2 histogram in µs per disk (named as in /proc/partitions). */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attach.h"
#include "btf_proto.h"
#include "grow.h"
#include "histogram.h"
#include "module.h"
#include "disk.h"
#include "disk.skel.h"
#include "percpu.h"

static const struct metric_desc disk_metrics[] = {
	{ "disk.latency", METRIC_HISTOGRAM, false, "disk",
	  "µs from block request issue to completion (histogram: .bucket with le, .p50/.p95/.p99/.max); "
	  "disk as in /proc/partitions" },
};

static const struct event_desc disk_events[] = {
	{ .name = "request",
	  .gives = "disk.latency",
	  /*
	   * Issue times in request slots first (probes/disk.bpf.c disk_slots): they
	   * need BPF compare-and-swap, which kernels before 5.12 refuse to load, and
	   * BTF (tp_btf); raw_tp and the classic tracepoint keep the hash.
	   */
	  .ways = { { .tier = ATTACH_TP_BTF, .progs = { "disk_issue_tp_btf_slot", "disk_complete_tp_btf_slot" },
		      .variant = "request slots" },
		    { .tier = ATTACH_TP_BTF, .progs = { "disk_issue_tp_btf", "disk_complete_tp_btf" }, .variant = "hash" },
		    { .tier = ATTACH_RAW_TP, .progs = { "disk_issue_raw_tp", "disk_complete_raw_tp" }, .variant = "hash" },
		    { .tier = ATTACH_TRACEPOINT, .progs = { "disk_issue_tracepoint", "disk_complete_tracepoint" } } } },
};

struct disk_name {
	uint32_t dev;
	char name[64];
};

struct disk_state {
	struct disk_bpf *skel;
	struct hist_history *history;
	uint64_t generation;
	struct disk_name *names;
	size_t nnames;
	struct disk_hist_key *keys; /* disk_hist's, at the last collect */
	size_t keys_cap;
};

/* Before 5.11, tracepoint block_rq_issue passed the queue before the request. */
static struct bpf_object *disk_open(struct module *m)
{
	struct disk_state *st = m->priv;
	if (!st && !(st = m->priv = calloc(1, sizeof(*st))))
		return NULL;
	st->skel = disk_bpf__open();
	return st->skel ? st->skel->obj : NULL;
}

static void disk_prepare(struct module *m)
{
	struct disk_state *st = m->priv;
	st->skel->rodata->issue_passes_queue =
		btf_tracepoint_nargs(probe_cache_btf(m->probes), "block_rq_issue") == 2; /* (queue, request) */
	uint32_t stripes = hist_stripes(libbpf_num_possible_cpus(), DISK_HIST_STRIPES_MAX);
	st->skel->rodata->hist_stripe_mask = stripes - 1;
	bpf_map__set_max_entries(st->skel->maps.disk_hist, DISK_HIST_DISKS * stripes);
}

static void disk_destroy(struct module *m)
{
	struct disk_state *st = m->priv;
	if (!st)
		return;
	disk_bpf__destroy(st->skel);
	hist_history_free(st->history);
	free(st->names);
	free(st->keys);
	free(st);
	m->priv = NULL;
}

/* Re-read /proc/partitions: disks come and go (hot-plug, loop devices). */
static void load_names(struct disk_state *st)
{
	FILE *f = fopen("/proc/partitions", "r");
	if (!f)
		return;
	free(st->names);
	st->names = NULL;
	st->nnames = 0;
	size_t cap = 0;
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		unsigned major, minor;
		unsigned long long blocks;
		char name[64];
		if (sscanf(line, "%u %u %llu %63s", &major, &minor, &blocks, name) != 4)
			continue;
		struct disk_name *grown = grow_array(st->names, &cap, st->nnames + 1, sizeof(*grown), 16);
		if (!grown)
			break;
		st->names = grown;
		st->names[st->nnames].dev = major << DISK_MINOR_BITS | minor;
		snprintf(st->names[st->nnames].name, sizeof(st->names[st->nnames].name), "%s", name);
		st->nnames++;
	}
	fclose(f);
}

static const char *name_of(struct disk_state *st, uint32_t dev, char *fallback, size_t cap)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < st->nnames; i++)
			if (st->names[i].dev == dev)
				return st->names[i].name;
		if (pass == 0)
			load_names(st);
	}
	/* gone already (a detached loop device): its numbers still tell it apart */
	snprintf(fallback, cap, "%u_%u", dev >> DISK_MINOR_BITS, dev & ((1u << DISK_MINOR_BITS) - 1));
	return fallback;
}

static int by_dev(const void *a, const void *b)
{
	const struct disk_hist_key *x = a, *y = b;
	return x->dev != y->dev ? (x->dev > y->dev) - (x->dev < y->dev) : (x->stripe > y->stripe) - (x->stripe < y->stripe);
}

/* The keys of disk_hist, sorted by disk: a disk's stripes side by side. -1: out of memory. */
static long read_keys(struct disk_state *st, int fd)
{
	long n = 0;
	struct disk_hist_key key, next;
	int rc = bpf_map_get_next_key(fd, NULL, &next);
	while (!rc) {
		key = next;
		struct disk_hist_key *grown = grow_array(st->keys, &st->keys_cap, (size_t)n + 1, sizeof(*grown), 16);
		if (!grown)
			return -1; /* a disk with some of its stripes would go backwards: none this time */
		st->keys = grown;
		st->keys[n++] = key;
		rc = bpf_map_get_next_key(fd, &key, &next);
	}
	qsort(st->keys, (size_t)n, sizeof(st->keys[0]), by_dev);
	return n;
}

static int disk_collect(struct module *m, struct series_store *store)
{
	struct disk_state *st = m->priv;
	int fd = bpf_map__fd(st->skel->maps.disk_hist);
	long n = read_keys(st, fd);
	if (n < 0)
		return -ENOMEM;
	for (long i = 0, end; i < n; i = end) {
		uint32_t dev = st->keys[i].dev;
		struct hist_reading sum = { 0 }, r;
		bool read = true;
		for (end = i; end < n && st->keys[end].dev == dev; end++) {
			if (hist_read_shared(fd, &st->keys[end], st->generation, &r))
				read = false; /* stripes are never deleted: a failed read would only make the sums dip */
			else
				hist_reading_add(&sum, &r);
		}
		char fallback[32];
		const char *name = name_of(st, dev, fallback, sizeof(fallback));
		uint64_t *prev = hist_history_prev(&st->history, name);
		if (read && prev) {
			struct metric_tag tag = { "disk", name };
			hist_emit(store, "disk.latency", &tag, 1, &sum, prev);
		}
	}
	hist_generation_advance(bpf_map__fd(st->skel->maps.data_hist_gen), &st->generation);
	uint64_t c[sizeof(struct disk_counters) / sizeof(uint64_t)];
	if (!percpu_sum_u64(bpf_map__fd(st->skel->maps.disk_counters), 0, sizeof(c) / sizeof(c[0]), c)) {
		struct metric_tag start = { "map", "disk_start" }, hist = { "map", "disk_hist" };
		series_counter_observe(store, "agent.bpf.map_full", &start, 1, c[0]);
		series_counter_observe(store, "agent.bpf.map_full", &hist, 1, c[1]);
	}
	return 0;
}

const struct module_ops disk_module = {
	.name = "disk",
	.config_help = "disk.latency per block device",
	.enabled_by_default = false,
	.metrics = disk_metrics,
	.nmetrics = sizeof(disk_metrics) / sizeof(disk_metrics[0]),
	.events = disk_events,
	.nevents = sizeof(disk_events) / sizeof(disk_events[0]),
	.open = disk_open,
	.destroy = disk_destroy,
	.prepare = disk_prepare,
	.collect = disk_collect,
};
