#include "metric.h"

#include <stdlib.h>
#include <string.h>

#include "grow.h"

enum series_kind { SERIES_OBSERVED_COUNTER = 0, SERIES_ADDED_COUNTER, SERIES_GAUGE, SERIES_INTERVAL_GAUGE };

/*
 * One series: the name and tags are copied into one allocation (key) so the
 * batch can point into it until the series is dropped.
 */
struct series {
	char *key; /* "name\0k\0v\0k\0v\0" */
	size_t key_len;
	uint64_t hash;
	struct metric metric;
	enum series_kind kind;
	uint64_t last_raw;       /* observed counters: the previous cumulative reading */
	uint64_t pending;        /* counters: delta since the last flush */
	double value;            /* gauges */
	bool fresh;              /* a reading arrived since the last flush */
	bool retired;            /* its owner let it go: sent once more only if it has news, then forgotten */
	bool dead;
	uint64_t last_active_ns; /* last flush with a non-zero delta or a fresh gauge */
};

struct series_store {
	uint64_t ttl_ns;
	struct series **by_order; /* insertion order, so output is stable */
	size_t len, cap;
	struct series **slots; /* open addressing on hash; NULL = empty */
	size_t nslots;
	struct metric *batch_items;
	size_t batch_cap;
	struct metric_batch batch;
};

static uint64_t hash_bytes(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a: short keys, no adversary */
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ull;
	}
	return h;
}

/* Build the lookup key in a caller buffer; returns its length or 0 if it does not fit. */
static size_t build_key(char *buf, size_t cap, const char *name, const struct metric_tag *tags, unsigned ntags)
{
	size_t off = 0;
	const char *parts[1 + 2 * METRIC_MAX_TAGS];
	unsigned nparts = 0;
	parts[nparts++] = name;
	for (unsigned i = 0; i < ntags; i++) {
		parts[nparts++] = tags[i].key;
		parts[nparts++] = tags[i].value ? tags[i].value : "";
	}
	for (unsigned i = 0; i < nparts; i++) {
		size_t n = strlen(parts[i]) + 1;
		if (off + n > cap)
			return 0;
		memcpy(buf + off, parts[i], n);
		off += n;
	}
	return off;
}

struct series_store *series_store_new(uint64_t ttl_ns)
{
	struct series_store *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->ttl_ns = ttl_ns;
	s->nslots = 256;
	s->slots = calloc(s->nslots, sizeof(*s->slots));
	if (!s->slots) {
		free(s);
		return NULL;
	}
	return s;
}

static void series_free(struct series *se)
{
	free(se->key);
	free(se);
}

void series_store_free(struct series_store *store)
{
	if (!store)
		return;
	for (size_t i = 0; i < store->len; i++)
		series_free(store->by_order[i]);
	free(store->by_order);
	free(store->slots);
	free(store->batch_items);
	free(store);
}

static void slots_insert(struct series **slots, size_t nslots, struct series *se)
{
	size_t i = se->hash & (nslots - 1);
	while (slots[i])
		i = (i + 1) & (nslots - 1);
	slots[i] = se;
}

static int rehash(struct series_store *store, size_t nslots)
{
	struct series **slots = calloc(nslots, sizeof(*slots));
	if (!slots)
		return -1;
	for (size_t i = 0; i < store->len; i++)
		slots_insert(slots, nslots, store->by_order[i]);
	free(store->slots);
	store->slots = slots;
	store->nslots = nslots;
	return 0;
}

static struct series *find(struct series_store *store, const char *key, size_t key_len, uint64_t hash)
{
	size_t i = hash & (store->nslots - 1);
	for (struct series *se; (se = store->slots[i]); i = (i + 1) & (store->nslots - 1))
		if (se->hash == hash && se->key_len == key_len && !memcmp(se->key, key, key_len))
			return se;
	return NULL;
}

static struct series *create(struct series_store *store, const char *key, size_t key_len, uint64_t hash,
			     enum metric_type type, unsigned ntags)
{
	if (store->len + 1 > store->nslots / 2 && rehash(store, store->nslots * 2))
		return NULL;
	struct series **v = grow_array(store->by_order, &store->cap, store->len + 1, sizeof(*v), 64);
	if (!v)
		return NULL;
	store->by_order = v;
	struct series *se = calloc(1, sizeof(*se));
	if (!se || !(se->key = malloc(key_len))) {
		free(se);
		return NULL;
	}
	memcpy(se->key, key, key_len);
	se->key_len = key_len;
	se->hash = hash;
	se->metric.type = type;
	se->metric.name = se->key;
	const char *p = se->key + strlen(se->key) + 1;
	for (unsigned i = 0; i < ntags; i++) {
		se->metric.tags[i].key = p;
		p += strlen(p) + 1;
		se->metric.tags[i].value = p;
		p += strlen(p) + 1;
	}
	se->metric.ntags = ntags;
	store->by_order[store->len++] = se;
	slots_insert(store->slots, store->nslots, se);
	return se;
}

static struct series *lookup_or_create(struct series_store *store, const char *name, const struct metric_tag *tags,
				       unsigned ntags, enum metric_type type)
{
	char key[1024];
	if (ntags > METRIC_MAX_TAGS)
		return NULL;
	size_t key_len = build_key(key, sizeof(key), name, tags, ntags);
	if (!key_len)
		return NULL;
	uint64_t hash = hash_bytes(key, key_len);
	struct series *se = find(store, key, key_len, hash);
	if (se)
		return se->metric.type == type ? se : NULL;
	return create(store, key, key_len, hash, type, ntags);
}

int series_counter_observe(struct series_store *store, const char *name, const struct metric_tag *tags,
			   unsigned ntags, uint64_t cumulative)
{
	struct series *se = lookup_or_create(store, name, tags, ntags, METRIC_COUNTER);
	if (!se)
		return -1;
	se->kind = SERIES_OBSERVED_COUNTER;
	se->retired = false;
	se->pending += cumulative >= se->last_raw ? cumulative - se->last_raw : cumulative;
	se->last_raw = cumulative;
	se->fresh = true;
	return 0;
}

void series_store_set_ttl(struct series_store *store, uint64_t ttl_ns) { store->ttl_ns = ttl_ns; }

void series_counter_restart(struct series_store *store, const char *name)
{
	for (size_t i = 0; i < store->len; i++) {
		struct series *se = store->by_order[i];
		if (se->kind == SERIES_OBSERVED_COUNTER && !strcmp(se->metric.name, name))
			se->last_raw = 0;
	}
}

int series_counter_add(struct series_store *store, const char *name, const struct metric_tag *tags, unsigned ntags,
		       uint64_t delta)
{
	struct series *se = lookup_or_create(store, name, tags, ntags, METRIC_COUNTER);
	if (!se)
		return -1;
	se->kind = SERIES_ADDED_COUNTER;
	se->retired = false;
	se->pending += delta;
	se->fresh = true;
	return 0;
}

int series_gauge_set(struct series_store *store, const char *name, const struct metric_tag *tags, unsigned ntags,
		     double value, bool interval_only)
{
	struct series *se = lookup_or_create(store, name, tags, ntags, METRIC_GAUGE);
	if (!se)
		return -1;
	se->kind = interval_only ? SERIES_INTERVAL_GAUGE : SERIES_GAUGE;
	se->retired = false;
	se->value = value;
	se->fresh = true;
	return 0;
}

void series_retire(struct series_store *store, const char *name, const struct metric_tag *tags, unsigned ntags)
{
	char key[1024];
	size_t key_len = ntags <= METRIC_MAX_TAGS ? build_key(key, sizeof(key), name, tags, ntags) : 0;
	if (!key_len)
		return;
	struct series *se = find(store, key, key_len, hash_bytes(key, key_len));
	if (se)
		se->retired = true;
}

/* Should this series go out in this flush? Also decides when it is forgotten. */
static bool series_due(struct series_store *store, struct series *se, uint64_t now_ns)
{
	bool active = se->kind == SERIES_GAUGE || se->kind == SERIES_INTERVAL_GAUGE ? se->fresh : se->pending > 0;
	if (se->retired) {
		/* The batch points into the series: one sent now is forgotten at the next flush. */
		se->dead = !active;
		return active;
	}
	if (active || !se->last_active_ns)
		se->last_active_ns = now_ns;
	bool expired = now_ns - se->last_active_ns >= store->ttl_ns && store->ttl_ns;
	switch (se->kind) {
	case SERIES_INTERVAL_GAUGE:
		if (!se->fresh)
			se->dead = expired;
		return se->fresh;
	case SERIES_GAUGE:
		se->dead = expired;
		return !expired;
	case SERIES_ADDED_COUNTER:
		se->dead = expired;
		return !expired;
	case SERIES_OBSERVED_COUNTER:
	default:
		/*
		 * The baseline must survive quiet periods, or the next reading would
		 * count the whole cumulative value again: stop sending after ttl,
		 * forget only once the source itself has gone (no readings for ttl).
		 */
		if (expired && !se->fresh)
			se->dead = true;
		return !expired;
	}
}

const struct metric_batch *series_store_flush(struct series_store *store, int64_t timestamp, uint64_t now_ns)
{
	if (store->batch_cap < store->len) {
		struct metric *items = realloc(store->batch_items, store->len * sizeof(*items));
		if (items) {
			store->batch_items = items;
			store->batch_cap = store->len;
		}
	}
	size_t n = 0, kept = 0;
	for (size_t i = 0; i < store->len; i++) {
		struct series *se = store->by_order[i];
		if (series_due(store, se, now_ns) && n < store->batch_cap) {
			struct metric *m = &store->batch_items[n++];
			*m = se->metric;
			if (m->type == METRIC_COUNTER)
				m->counter = se->pending;
			else
				m->gauge = se->value;
		}
		se->pending = 0;
		se->fresh = false;
		if (se->dead)
			series_free(se);
		else
			store->by_order[kept++] = se;
	}
	if (kept != store->len) {
		store->len = kept;
		/* Rebuild the index in place: no allocation, so it cannot fail. */
		memset(store->slots, 0, store->nslots * sizeof(*store->slots));
		for (size_t i = 0; i < store->len; i++)
			slots_insert(store->slots, store->nslots, store->by_order[i]);
	}
	store->batch.items = store->batch_items;
	store->batch.len = n;
	store->batch.timestamp = timestamp;
	return &store->batch;
}

size_t series_store_size(const struct series_store *store) { return store->len; }
