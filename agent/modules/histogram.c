#include "histogram.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"

/* Sum n struct hist values (a per-CPU map's CPUs, or one) into *out. */
static void sum_values(const struct hist *values, int n, uint64_t generation, struct hist_reading *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < n; i++) {
		const struct hist *h = &values[i];
		for (unsigned s = 0; s < HIST_SLOTS; s++)
			out->slots[s] += h->slots[s];
		out->slow += h->slow;
		out->sum_ns += h->sum_ns;
		if (h->max_gen == generation && (!out->has_max || h->max_ns > out->max_ns)) {
			out->has_max = true;
			out->max_ns = h->max_ns;
		}
	}
}

int hist_read_percpu(int map_fd, const void *key, uint64_t generation, struct hist_reading *out)
{
	int ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0)
		return ncpus ? ncpus : -EINVAL;
	struct hist *values = calloc((size_t)ncpus, sizeof(*values));
	if (!values)
		return -ENOMEM;
	int rc = bpf_map_lookup_elem(map_fd, key, values) ? -errno : 0;
	if (!rc)
		sum_values(values, ncpus, generation, out);
	else
		memset(out, 0, sizeof(*out));
	free(values);
	return rc;
}

int hist_read_shared(int map_fd, const void *key, uint64_t generation, struct hist_reading *out)
{
	struct hist value;
	if (bpf_map_lookup_elem(map_fd, key, &value)) {
		memset(out, 0, sizeof(*out));
		return -errno;
	}
	sum_values(&value, 1, generation, out);
	return 0;
}

uint32_t hist_stripes(int possible_cpus, uint32_t max)
{
	uint32_t stripes = 1;
	while (stripes < max && (int)stripes < possible_cpus)
		stripes *= 2;
	return stripes;
}

int hist_read_stripes(int map_fd, uint32_t first, uint32_t stripes, uint64_t generation, struct hist_reading *out)
{
	memset(out, 0, sizeof(*out));
	for (uint32_t key = first; key < first + stripes; key++) {
		struct hist_reading r;
		int rc = hist_read_shared(map_fd, &key, generation, &r);
		if (rc)
			return rc;
		hist_reading_add(out, &r);
	}
	return 0;
}

void hist_reading_add(struct hist_reading *into, const struct hist_reading *r)
{
	for (unsigned s = 0; s < HIST_SLOTS; s++)
		into->slots[s] += r->slots[s];
	into->slow += r->slow;
	into->sum_ns += r->sum_ns;
	if (r->has_max && (!into->has_max || r->max_ns > into->max_ns)) {
		into->has_max = true;
		into->max_ns = r->max_ns;
	}
}

int hist_generation_advance(int gen_map_fd, uint64_t *generation)
{
	uint32_t key = 0;
	uint64_t next = *generation + 1;
	if (bpf_map_update_elem(gen_map_fd, &key, &next, 0))
		return -errno;
	*generation = next;
	return 0;
}

const char *hist_le_label(unsigned slot)
{
	static const char *const labels[HIST_SLOTS] = {
		"1",      "2",      "4",      "8",       "16",      "32",      "64",       "128",
		"256",    "512",    "1024",   "2048",    "4096",    "8192",    "16384",    "32768",
		"65536",  "131072", "262144", "524288",  "1048576", "2097152", "4194304",  "8388608",
		"16777216", "33554432", "67108864", "max",
	};
	return slot < HIST_SLOTS ? labels[slot] : "max";
}

uint64_t hist_slot_bound(unsigned slot) { return (uint64_t)1 << (slot <= HIST_LAST_BOUNDED ? slot : HIST_LAST_BOUNDED); }

int hist_quantile_slot(const uint64_t delta[HIST_SLOTS], double q)
{
	uint64_t total = 0;
	for (unsigned s = 0; s < HIST_SLOTS; s++)
		total += delta[s];
	if (!total)
		return -1;
	uint64_t rank = (uint64_t)ceil(q * (double)total);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned s = 0; s < HIST_SLOTS; s++) {
		seen += delta[s];
		if (seen >= rank)
			return (int)s;
	}
	return HIST_SLOTS - 1;
}

static void set_gauge(struct series_store *store, const char *name, const char *suffix, const struct metric_tag *tags,
		      unsigned ntags, double value)
{
	char full[128];
	snprintf(full, sizeof(full), "%s.%s", name, suffix);
	series_gauge_set(store, full, tags, ntags, value, true);
}

void hist_emit(struct series_store *store, const char *name, const struct metric_tag *tags, unsigned ntags,
	       const struct hist_reading *now, uint64_t prev[HIST_SLOTS])
{
	struct metric_tag with_le[METRIC_MAX_TAGS];
	if (ntags >= METRIC_MAX_TAGS)
		ntags = METRIC_MAX_TAGS - 1;
	if (ntags)
		memcpy(with_le, tags, ntags * sizeof(*tags));
	with_le[ntags].key = "le";
	char bucket[128];
	snprintf(bucket, sizeof(bucket), "%s.bucket", name);

	uint64_t delta[HIST_SLOTS];
	for (unsigned s = 0; s < HIST_SLOTS; s++) {
		/* A restarted BPF object counts from zero again, never negative. */
		delta[s] = now->slots[s] >= prev[s] ? now->slots[s] - prev[s] : now->slots[s];
		if (now->slots[s]) {
			with_le[ntags].value = hist_le_label(s);
			series_counter_observe(store, bucket, with_le, ntags + 1, now->slots[s]);
		}
		prev[s] = now->slots[s];
	}
	if (hist_quantile_slot(delta, 0.5) < 0)
		return;
	double max_us = now->has_max ? (double)now->max_ns / 1000.0 : -1.0;
	static const struct { const char *suffix; double q; } quantiles[] = { { "p50", 0.50 }, { "p95", 0.95 }, { "p99", 0.99 } };
	for (size_t i = 0; i < sizeof(quantiles) / sizeof(quantiles[0]); i++) {
		int slot = hist_quantile_slot(delta, quantiles[i].q);
		double value = (double)hist_slot_bound((unsigned)slot);
		if (slot > HIST_LAST_BOUNDED) {
			if (max_us < 0)
				continue; /* no bound to give */
			value = max_us;
		}
		set_gauge(store, name, quantiles[i].suffix, tags, ntags, value);
	}
	if (max_us >= 0)
		set_gauge(store, name, "max", tags, ntags, max_us);
}

struct hist_history {
	size_t len, cap;
	struct hist_history_entry {
		char *key;
		uint64_t prev[HIST_SLOTS];
	} *entries;
};

uint64_t *hist_history_prev(struct hist_history **history, const char *key)
{
	struct hist_history *h = *history;
	if (!h && !(h = *history = calloc(1, sizeof(*h))))
		return NULL;
	/* A module has tens of keys (handlers, vectors, disks): a linear scan is enough. */
	for (size_t i = 0; i < h->len; i++)
		if (!strcmp(h->entries[i].key, key))
			return h->entries[i].prev;
	struct hist_history_entry *grown = grow_array(h->entries, &h->cap, h->len + 1, sizeof(*grown), 16);
	if (!grown)
		return NULL;
	h->entries = grown;
	struct hist_history_entry *e = &h->entries[h->len];
	memset(e, 0, sizeof(*e));
	if (!(e->key = strdup(key)))
		return NULL;
	h->len++;
	return e->prev;
}

void hist_history_free(struct hist_history *history)
{
	if (!history)
		return;
	for (size_t i = 0; i < history->len; i++)
		free(history->entries[i].key);
	free(history->entries);
	free(history);
}
