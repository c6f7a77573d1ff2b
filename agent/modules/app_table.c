#include "app_table.h"

#include <stdlib.h>
#include <string.h>

#include "app_group.h"
#include "grow.h"
#include "log.h"

const char *const app_counter_names[APP_COUNTER_COUNT] = {
	[APP_FILE_OPEN] = "apps.file_open",
	[APP_FILE_OPEN_ERRORS] = "apps.file_open_errors",
	[APP_FILE_CLOSED] = "apps.file_closed",
	[APP_FILE_CLOSE_ERRORS] = "apps.file_close_errors",
	[APP_FILE_DELETED] = "apps.file_deleted",
	[APP_VFS_READ_CALL] = "apps.vfs_read_call",
	[APP_VFS_READ_BYTES] = "apps.vfs_read_bytes",
	[APP_VFS_READ_ERRORS] = "apps.vfs_read_errors",
	[APP_VFS_WRITE_CALL] = "apps.vfs_write_call",
	[APP_VFS_WRITE_BYTES] = "apps.vfs_write_bytes",
	[APP_VFS_WRITE_ERRORS] = "apps.vfs_write_errors",
	[APP_PROCESS_CREATE] = "apps.process_create",
	[APP_THREAD_CREATE] = "apps.thread_create",
	[APP_TASK_EXIT] = "apps.task_exit",
	[APP_BANDWIDTH_SENT] = "apps.bandwidth_sent",
	[APP_BANDWIDTH_RECV] = "apps.bandwidth_recv",
	/* The page-cache counters are sent as hits, misses, dirties and ratio: add_cache(). */
	[APP_FSYNC] = "apps.fsync",
	[APP_FDATASYNC] = "apps.fdatasync",
	[APP_FILE_CREATE] = "apps.file_create",
	[APP_SHM_GET] = "apps.shm_get",
	[APP_SHM_AT] = "apps.shm_at",
	[APP_SHM_DT] = "apps.shm_dt",
	[APP_SHM_CTL] = "apps.shm_ctl",
	[APP_TCP_SEND_CALLS] = "apps.tcp_send_calls",
	[APP_TCP_RECV_CALLS] = "apps.tcp_recv_calls",
	[APP_UDP_SEND_CALLS] = "apps.udp_send_calls",
	[APP_UDP_RECV_CALLS] = "apps.udp_recv_calls",
	[APP_TCP_RETRANSMITS] = "apps.tcp_retransmits",
	[APP_TCP_CONNECT_V4] = "apps.tcp_connect_v4",
	[APP_TCP_CONNECT_V6] = "apps.tcp_connect_v6",
	[APP_TCP_ACCEPT] = "apps.tcp_accept",
	[APP_PROCESS_CREATE_ERRORS] = "apps.process_create_errors",
	[APP_THREAD_CREATE_ERRORS] = "apps.thread_create_errors",
	[APP_DCSTAT_REFERENCES] = "apps.dcstat_references",
	[APP_DCSTAT_SLOW] = "apps.dcstat_slow",
	[APP_DCSTAT_MISSES] = "apps.dcstat_misses",
	[APP_SWAP_READ] = "apps.swap_read",
	[APP_SWAP_WRITE] = "apps.swap_write",
};

/* The call counters: a group's activity, by which the busiest are chosen. */
static const enum app_counter call_counters[] = { APP_FILE_OPEN,      APP_FILE_CLOSED,    APP_FILE_DELETED,
						  APP_VFS_READ_CALL,  APP_VFS_WRITE_CALL, APP_PROCESS_CREATE,
						  APP_THREAD_CREATE,  APP_TASK_EXIT };

#define GROUP_NAME_MAX 128
#define PROC_SLOTS_MIN 1024
/* A group with no process and no activity for this many emissions is forgotten (its series expire by series_ttl). */
#define GROUP_IDLE_EMITS_MAX 600

/*
 * The groupings of the same per-process data: apps.* by application, and
 * cgroup.* by unit, container or cgroup. A process's delta is taken once and
 * added to its group in each view that is on.
 */
enum app_view { VIEW_APPS = 0, VIEW_CGROUPS, VIEW_COUNT };

struct proc_rec {
	uint32_t tgid;
	uint32_t group[VIEW_COUNT];
	uint64_t start_ns;
	uint64_t id_hash;
	uint32_t id_changes; /* the kernel entry's count of identity changes when id_hash was taken */
	uint64_t prev[APP_COUNTER_COUNT];
	uint64_t seen_gen;  /* the emission during which the kernel entry was last read */
	uint64_t moved_gen; /* the emission during which its counts last moved (or it was first read) */
};

struct group {
	char name[GROUP_NAME_MAX];
	/* unit and container: apps only, where they ride along as tags */
	char unit[APP_CGROUP_LEN];  /* of the first process seen in the group, "" when none */
	char container[16];
	uint64_t delta[APP_COUNTER_COUNT];
	uint32_t procs;
	uint32_t idle_emits;
	bool active;
	bool live;         /* its series are in the store: one of at most max_groups */
	uint64_t sent_gen; /* the emission that last sent it with activity */
};

#define METRIC_NAME_MAX 64
static const char *const cache_series[] = { "cachestat_misses", "cachestat_dirties", "cachestat_hits", "cachestat_ratio" };
#define CACHE_SERIES (sizeof(cache_series) / sizeof(cache_series[0]))
enum { CACHE_MISSES, CACHE_DIRTIES, CACHE_HITS, CACHE_RATIO };

struct view {
	bool on;
	const char *tag; /* "app", "cgroup" */
	/* The catalogue's apps.X under this view's prefix, so a counter added to apps has its cgroup.X. */
	char names[APP_COUNTER_COUNT][METRIC_NAME_MAX];
	char cache_names[CACHE_SERIES][METRIC_NAME_MAX];
	struct group *groups;
	size_t ngroups, gcap;
	size_t *order;
	size_t order_cap;
};

/*
 * A slot of the index: the tgid + 1 of a record (0 when free) and where the
 * record is. Probing reads only these (8 to a cache line, where the records
 * are 368 bytes each): finding 10000 processes a collect was a fifth of the
 * collect's time.
 */
struct proc_slot {
	uint32_t key;
	uint32_t rec;
};

struct app_table {
	const struct config *cfg;
	struct view views[VIEW_COUNT];
	/*
	 * The records, dense: len of them in rec_cap. Kept apart from the index
	 * so that memory follows the processes held, not the index's slots (at
	 * 10000 processes the records in 16384 slots were 6 MiB, the agent's
	 * largest allocation, and a doubling held both copies at once); growing
	 * them is a realloc, which the C library makes a remap at this size.
	 */
	struct proc_rec *recs;
	size_t rec_cap, len;
	struct proc_slot *slots; /* cap of them, a power of two, at most three quarters used */
	size_t cap;
	uint64_t gen;
};

struct app_table *app_table_new(const struct config *cfg)
{
	struct app_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->cfg = cfg;
	t->cap = PROC_SLOTS_MIN;
	t->slots = calloc(t->cap, sizeof(*t->slots));
	if (!t->slots) {
		free(t);
		return NULL;
	}
	t->gen = 1;
	static const char *const prefixes[VIEW_COUNT] = { "apps.", "cgroup." };
	for (int v = 0; v < VIEW_COUNT; v++) {
		struct view *view = &t->views[v];
		view->tag = v == VIEW_APPS ? "app" : "cgroup";
		for (int c = 0; c < APP_COUNTER_COUNT; c++)
			if (app_counter_names[c])
				snprintf(view->names[c], sizeof(view->names[c]), "%s%s", prefixes[v],
					 app_counter_names[c] + strlen(prefixes[VIEW_APPS]));
		for (size_t i = 0; i < CACHE_SERIES; i++)
			snprintf(view->cache_names[i], sizeof(view->cache_names[i]), "%s%s", prefixes[v], cache_series[i]);
	}
	/* apps.* unless only cgroups is on: the module runs for either (agent/core/config.c). */
	t->views[VIEW_APPS].on = cfg->apps.enabled || !cfg->cgroups.enabled;
	t->views[VIEW_CGROUPS].on = cfg->cgroups.enabled;
	return t;
}

void app_table_free(struct app_table *t)
{
	if (!t)
		return;
	free(t->recs);
	free(t->slots);
	for (int v = 0; v < VIEW_COUNT; v++) {
		free(t->views[v].groups);
		free(t->views[v].order);
	}
	free(t);
}

size_t app_table_processes(const struct app_table *t) { return t->len; }
size_t app_table_groups(const struct app_table *t) { return t->views[VIEW_APPS].ngroups; }
size_t app_table_cgroups(const struct app_table *t) { return t->views[VIEW_CGROUPS].ngroups; }

static size_t slot_of(uint32_t tgid, size_t cap)
{
	return (size_t)(tgid * 2654435761u) & (cap - 1);
}

/* The slot holding tgid, or cap when none does. */
static size_t slot_find(const struct app_table *t, uint32_t tgid)
{
	for (size_t i = slot_of(tgid, t->cap);; i = (i + 1) & (t->cap - 1)) {
		if (!t->slots[i].key)
			return t->cap;
		if (t->slots[i].key == tgid + 1)
			return i;
	}
}

static struct proc_rec *proc_find(struct app_table *t, uint32_t tgid)
{
	size_t i = slot_find(t, tgid);
	return i < t->cap ? &t->recs[t->slots[i].rec] : NULL;
}

/*
 * Rebuild the index in cap slots (a power of two, above the records held); the
 * records stay. It walks the old index, not the records: their tgids are a
 * record apart, a cache miss each.
 */
static bool index_resize(struct app_table *t, size_t cap)
{
	struct proc_slot *fresh = calloc(cap, sizeof(*fresh));
	if (!fresh)
		return false;
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->slots[i].key)
			continue;
		size_t j = slot_of(t->slots[i].key - 1, cap);
		while (fresh[j].key)
			j = (j + 1) & (cap - 1);
		fresh[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = fresh;
	t->cap = cap;
	return true;
}

static struct proc_rec *proc_insert(struct app_table *t, uint32_t tgid)
{
	/* At most three quarters full: linear probing stays short. */
	if ((t->len + 1) * 4 > t->cap * 3 && !index_resize(t, t->cap * 2))
		return NULL;
	struct proc_rec *recs = grow_array(t->recs, &t->rec_cap, t->len + 1, sizeof(*recs), PROC_SLOTS_MIN);
	if (!recs)
		return NULL;
	t->recs = recs;
	size_t i = slot_of(tgid, t->cap);
	while (t->slots[i].key)
		i = (i + 1) & (t->cap - 1);
	struct proc_rec *rec = &t->recs[t->len];
	memset(rec, 0, sizeof(*rec));
	rec->tgid = tgid;
	rec->moved_gen = t->gen;
	for (int v = 0; v < VIEW_COUNT; v++)
		rec->group[v] = UINT32_MAX;
	t->slots[i] = (struct proc_slot){ tgid + 1, (uint32_t)t->len };
	t->len++;
	return rec;
}

/*
 * The index is linear probing without tombstones: later members of the
 * cluster move back into the hole. The last record moves into the removed
 * one's place, so the records stay dense: a pointer to a record is good only
 * until the next insert or removal.
 */
static void proc_remove(struct app_table *t, struct proc_rec *rec)
{
	size_t mask = t->cap - 1, hole = slot_find(t, rec->tgid);
	if (hole == t->cap)
		return; /* not a record of this table */
	for (int v = 0; v < VIEW_COUNT; v++)
		if (rec->group[v] < t->views[v].ngroups)
			t->views[v].groups[rec->group[v]].procs--;
	t->slots[hole].key = 0;
	for (size_t j = (hole + 1) & mask; t->slots[j].key; j = (j + 1) & mask) {
		size_t home = slot_of(t->slots[j].key - 1, t->cap);
		bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
		if (stays)
			continue;
		t->slots[hole] = t->slots[j];
		t->slots[j].key = 0;
		hole = j;
	}
	size_t r = (size_t)(rec - t->recs), last = t->len - 1;
	if (r != last) {
		t->recs[r] = t->recs[last];
		t->slots[slot_find(t, t->recs[r].tgid)].rec = (uint32_t)r;
	}
	t->len--;
}

/* The identity as C strings, whatever the kernel side left in the buffers. */
static void identity_strings(const struct app_identity_raw *raw, struct app_identity_raw *out)
{
	memcpy(out, raw, sizeof(*out));
	out->comm[sizeof(out->comm) - 1] = out->exe[sizeof(out->exe) - 1] = out->cgroup[sizeof(out->cgroup) - 1] = '\0';
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return (h ^ 0xff) * 1099511628211u; /* a field separator */
}

static uint64_t identity_hash(const struct app_identity_raw *id)
{
	return fnv_str(fnv_str(fnv_str(14695981039346656037u, id->comm), id->exe), id->cgroup);
}

static uint32_t group_index(struct app_table *t, enum app_view v, const struct app_identity_raw *id)
{
	struct view *view = &t->views[v];
	char name[GROUP_NAME_MAX];
	if (v == VIEW_APPS) {
		struct app_identity ident = { id->comm, id->exe, id->cgroup };
		app_group_name(t->cfg, &ident, name, sizeof(name));
	} else {
		app_cgroup_name(t->cfg, id->cgroup, name, sizeof(name));
	}
	for (size_t g = 0; g < view->ngroups; g++)
		if (!strcmp(view->groups[g].name, name))
			return (uint32_t)g;
	struct group *grown = grow_array(view->groups, &view->gcap, view->ngroups + 1, sizeof(*grown), 64);
	if (!grown)
		return UINT32_MAX;
	view->groups = grown;
	struct group *g = &view->groups[view->ngroups];
	memset(g, 0, sizeof(*g));
	memcpy(g->name, name, sizeof(g->name));
	if (v == VIEW_APPS) {
		app_unit_of(id->cgroup, g->unit, sizeof(g->unit));
		app_container_of(id->cgroup, g->container, sizeof(g->container));
	}
	return (uint32_t)view->ngroups++;
}

/* A view that is on has no group for the record yet (a new record, or out of memory for a group). */
static bool lacks_group(const struct proc_rec *rec)
{
	for (int v = 0; v < VIEW_COUNT; v++)
		if (rec->group[v] == UINT32_MAX)
			return true;
	return false;
}

/* Point the record at the groups of this identity, when it changed (exec, rename, a new process). */
static void assign_group(struct app_table *t, struct proc_rec *rec, const struct app_identity_raw *raw)
{
	struct app_identity_raw id;
	identity_strings(raw, &id);
	uint64_t h = identity_hash(&id);
	if (!lacks_group(rec) && rec->id_hash == h)
		return;
	rec->id_hash = h;
	for (int v = 0; v < VIEW_COUNT; v++) {
		struct view *view = &t->views[v];
		if (rec->group[v] < view->ngroups)
			view->groups[rec->group[v]].procs--;
		/* A view that is off gets an index no group has (nor lacks_group looks for): its deltas go nowhere. */
		rec->group[v] = view->on ? group_index(t, (enum app_view)v, &id) : UINT32_MAX - 1;
		if (rec->group[v] < view->ngroups)
			view->groups[rec->group[v]].procs++;
	}
}

/*
 * What the process counted since its record's last reading goes to its
 * groups; false when nothing. A counter below its last reading started again
 * (an entry made anew), except in a rename's snapshot, which a reading of the
 * live entry may have overtaken: that adds nothing (snapshot).
 */
static bool account(struct app_table *t, struct proc_rec *rec, const struct app_process *p, bool snapshot)
{
	uint64_t delta[APP_COUNTER_COUNT];
	bool moved = false;
	for (int c = 0; c < APP_COUNTER_COUNT; c++) {
		uint64_t now = p->counters[c];
		if (snapshot && now < rec->prev[c]) {
			delta[c] = 0;
			continue;
		}
		delta[c] = now >= rec->prev[c] ? now - rec->prev[c] : now;
		moved |= delta[c] != 0;
		rec->prev[c] = now;
	}
	if (!moved)
		return false;
	for (int v = 0; v < VIEW_COUNT; v++) {
		if (rec->group[v] >= t->views[v].ngroups)
			continue; /* view off, or out of memory for a new group: logged where it failed */
		struct group *g = &t->views[v].groups[rec->group[v]];
		for (int c = 0; c < APP_COUNTER_COUNT; c++)
			g->delta[c] += delta[c];
		g->active = true;
	}
	return true;
}

static struct proc_rec *record_of(struct app_table *t, uint32_t tgid, const struct app_process *p)
{
	struct proc_rec *rec = proc_find(t, tgid);
	/* The common case, every process every collect: the same process, no exec or rename since its groups were found. */
	if (rec && rec->start_ns == p->start_ns && rec->id_changes == p->id_changes && !lacks_group(rec))
		return rec;
	if (rec && rec->start_ns != p->start_ns) {
		/* The pid was reused: the earlier process's last counts went with its exit. */
		memset(rec->prev, 0, sizeof(rec->prev));
		rec->start_ns = p->start_ns;
	}
	if (!rec) {
		rec = proc_insert(t, tgid);
		if (!rec) {
			log_error("apps", "out of memory: process %u is not counted this interval", tgid);
			return NULL;
		}
		rec->start_ns = p->start_ns;
	}
	rec->id_changes = p->id_changes;
	assign_group(t, rec, &p->id);
	return rec;
}

void app_table_prefetch(const struct app_table *t, uint32_t tgid)
{
	/*
	 * The home slot (the index is small enough to stay in cache): with it at
	 * most three quarters full, the record is nearly always named there.
	 */
	const struct proc_slot *slot = &t->slots[slot_of(tgid, t->cap)];
	if (slot->key != tgid + 1)
		return;
	const char *rec = (const char *)&t->recs[slot->rec];
	for (size_t line = 0; line < sizeof(struct proc_rec); line += 64)
		__builtin_prefetch(rec + line);
	__builtin_prefetch(rec + sizeof(struct proc_rec) - 1); /* records do not start on cache lines */
}

bool app_table_observe(struct app_table *t, uint32_t tgid, const struct app_process *p)
{
	struct proc_rec *rec = record_of(t, tgid, p);
	if (!rec)
		return true;
	bool moved = account(t, rec, p, false);
	rec->seen_gen = t->gen;
	if (moved)
		rec->moved_gen = t->gen;
	return moved;
}

size_t app_table_idle(const struct app_table *t, size_t *cursor, size_t look, uint64_t before, uint32_t *out)
{
	size_t n = 0;
	if (look > t->len)
		look = t->len; /* each record at most once a call */
	for (size_t k = 0; k < look; k++) {
		if (*cursor >= t->len)
			*cursor = 0;
		const struct proc_rec *rec = &t->recs[(*cursor)++];
		if (rec->moved_gen < before)
			out[n++] = rec->tgid;
	}
	return n;
}

void app_table_forget(struct app_table *t, uint32_t tgid)
{
	struct proc_rec *rec = proc_find(t, tgid);
	if (rec)
		proc_remove(t, rec);
}

void app_table_exited(struct app_table *t, uint32_t tgid, const struct app_process *p)
{
	struct proc_rec *rec = record_of(t, tgid, p);
	if (!rec)
		return;
	account(t, rec, p, false);
	proc_remove(t, rec);
}

/*
 * Renames of one process arrive in order, each before the entry shows it,
 * but a collect may read the entry between the rename and the drain of the
 * ring: then the counts up to the rename went with that reading, to the new
 * name, and the snapshot is stale.
 */
void app_table_renamed(struct app_table *t, uint32_t tgid, const struct app_process *before)
{
	struct proc_rec *rec = proc_find(t, tgid);
	if (rec && rec->start_ns == before->start_ns && !lacks_group(rec) &&
	    (int32_t)(before->id_changes - rec->id_changes) < 0)
		return;
	rec = record_of(t, tgid, before);
	if (rec)
		account(t, rec, before, true);
}

static uint64_t activity(const struct group *g)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < sizeof(call_counters) / sizeof(call_counters[0]); i++)
		sum += g->delta[call_counters[i]];
	return sum;
}

static int busiest_first(const void *a, const void *b, void *arg)
{
	const struct view *view = arg;
	const struct group *ga = &view->groups[*(const size_t *)a], *gb = &view->groups[*(const size_t *)b];
	uint64_t x = activity(ga), y = activity(gb);
	if (x != y)
		return x > y ? -1 : 1;
	return strcmp(ga->name, gb->name);
}

/*
 * As cachestat does host-wide: misses are pages added to the cache, hits the
 * accesses beyond them (a miss is accessed once read; an interval of writes
 * adds pages nobody accessed, so hits never go below zero).
 */
static void add_cache(struct series_store *store, const struct view *view, const struct metric_tag *tags,
		      unsigned ntags, const uint64_t *delta, const bool *send)
{
	uint64_t misses = delta[APP_CACHE_ADDED], accessed = delta[APP_CACHE_ACCESSED];
	if (send[APP_CACHE_ADDED])
		series_counter_add(store, view->cache_names[CACHE_MISSES], tags, ntags, misses);
	if (send[APP_CACHE_DIRTIED])
		series_counter_add(store, view->cache_names[CACHE_DIRTIES], tags, ntags, delta[APP_CACHE_DIRTIED]);
	if (!send[APP_CACHE_ADDED] || !send[APP_CACHE_ACCESSED])
		return;
	uint64_t hits = accessed > misses ? accessed - misses : 0;
	series_counter_add(store, view->cache_names[CACHE_HITS], tags, ntags, hits);
	if (hits + misses)
		series_gauge_set(store, view->cache_names[CACHE_RATIO], tags, ntags,
				 (double)hits * 100.0 / (double)(hits + misses), true);
}

/* unit and container ride along with app where known; plain formats leave them out of the path. */
static unsigned group_tags(const struct view *view, const struct group *g, struct metric_tag tags[3])
{
	unsigned ntags = 0;
	tags[ntags++] = (struct metric_tag){ view->tag, g ? g->name : "other" };
	if (g && g->unit[0])
		tags[ntags++] = (struct metric_tag){ "unit", g->unit };
	if (g && g->container[0])
		tags[ntags++] = (struct metric_tag){ "container", g->container };
	return ntags;
}

static void add_group(struct series_store *store, const struct view *view, const struct group *g,
		      const uint64_t *delta, const bool *send)
{
	struct metric_tag tags[3];
	unsigned ntags = group_tags(view, g, tags);
	for (int c = 0; c < APP_COUNTER_COUNT; c++)
		if (send[c] && app_counter_names[c])
			series_counter_add(store, view->names[c], tags, ntags, delta[c]);
	add_cache(store, view, tags, ntags, delta, send);
}

/* The group's series end now: no zeros follow (series_retire). */
static void retire_group(struct series_store *store, const struct view *view, struct group *g)
{
	struct metric_tag tags[3];
	unsigned ntags = group_tags(view, g, tags);
	for (int c = 0; c < APP_COUNTER_COUNT; c++)
		if (app_counter_names[c])
			series_retire(store, view->names[c], tags, ntags);
	for (size_t i = 0; i < CACHE_SERIES; i++)
		series_retire(store, view->cache_names[i], tags, ntags);
	g->live = false;
}

static int recent_first(const void *a, const void *b, void *arg)
{
	const struct view *view = arg;
	const struct group *ga = &view->groups[*(const size_t *)a], *gb = &view->groups[*(const size_t *)b];
	if (ga->idle_emits != gb->idle_emits)
		return ga->idle_emits < gb->idle_emits ? -1 : 1;
	return strcmp(ga->name, gb->name);
}

/*
 * Groups sent before and idle now keep the slots this emission's busy ones
 * left (the store sends them as 0), most recently active first, until
 * series_ttl; the others are retired. So no flush carries more than
 * max_groups groups besides other, zeros included.
 */
static void bound_idle_groups(const struct app_table *t, struct view *view, struct series_store *store, size_t slots)
{
	uint64_t interval = t->cfg->global.interval_ms ? t->cfg->global.interval_ms : 1;
	uint64_t ttl = t->cfg->global.series_ttl_ms;
	size_t nidle = 0;
	for (size_t g = 0; g < view->ngroups; g++) {
		struct group *gr = &view->groups[g];
		if (!gr->live || gr->sent_gen == t->gen)
			continue;
		if (g < view->order_cap)
			view->order[nidle++] = g;
		else
			retire_group(store, view, gr); /* no room to rank it (out of memory): end it */
	}
	if (nidle)
		qsort_r(view->order, nidle, sizeof(*view->order), recent_first, view);
	for (size_t i = 0; i < nidle; i++) {
		struct group *gr = &view->groups[view->order[i]];
		bool expired = ttl && (uint64_t)gr->idle_emits * interval >= ttl;
		if (i < slots && !expired)
			continue;
		retire_group(store, view, gr);
	}
}

uint64_t app_table_generation(const struct app_table *t) { return t->gen; }

void app_table_forget_unseen(struct app_table *t, uint64_t since)
{
	for (size_t i = 0; i < t->len;) {
		struct proc_rec *rec = &t->recs[i];
		if (rec->seen_gen < since) {
			proc_remove(t, rec); /* the last record moved into place i: look at it again */
			continue;
		}
		i++;
	}
}

/* Groups with no process and idle for long are let go (their series retired). */
static void forget_idle_groups(struct app_table *t, enum app_view v, struct series_store *store)
{
	struct view *view = &t->views[v];
	size_t kept = 0;
	uint32_t *remap = NULL;
	bool any = false;
	for (size_t g = 0; g < view->ngroups; g++)
		any |= !view->groups[g].procs && view->groups[g].idle_emits > GROUP_IDLE_EMITS_MAX;
	if (!any || !(remap = malloc(view->ngroups * sizeof(*remap))))
		return;
	for (size_t g = 0; g < view->ngroups; g++) {
		if (!view->groups[g].procs && view->groups[g].idle_emits > GROUP_IDLE_EMITS_MAX) {
			if (view->groups[g].live)
				retire_group(store, view, &view->groups[g]);
			remap[g] = UINT32_MAX;
			continue;
		}
		remap[g] = (uint32_t)kept;
		view->groups[kept++] = view->groups[g];
	}
	for (size_t i = 0; i < t->len; i++)
		if (t->recs[i].group[v] < view->ngroups)
			t->recs[i].group[v] = remap[t->recs[i].group[v]];
	view->ngroups = kept;
	free(remap);
}

/* The busiest max_groups groups of this interval, the rest under other, then the idle ones' slots. */
static void emit_view(struct app_table *t, struct view *view, size_t max_groups, struct series_store *store,
		      const bool *send)
{
	if (view->order_cap < view->ngroups) {
		size_t *grown = realloc(view->order, view->ngroups * sizeof(*grown));
		if (grown) {
			view->order = grown;
			view->order_cap = view->ngroups;
		}
	}
	size_t nactive = 0;
	for (size_t g = 0; g < view->ngroups && g < view->order_cap; g++) {
		if (view->groups[g].active)
			view->order[nactive++] = g;
		else
			view->groups[g].idle_emits++;
	}
	if (nactive)
		qsort_r(view->order, nactive, sizeof(*view->order), busiest_first, view);
	uint64_t other[APP_COUNTER_COUNT] = { 0 };
	bool any_other = false;
	for (size_t i = 0; i < nactive; i++) {
		struct group *g = &view->groups[view->order[i]];
		if (i < max_groups) {
			add_group(store, view, g, g->delta, send);
			g->live = true;
			g->sent_gen = t->gen;
		} else {
			for (int c = 0; c < APP_COUNTER_COUNT; c++)
				other[c] += g->delta[c];
			any_other = true;
		}
		memset(g->delta, 0, sizeof(g->delta));
		g->active = false;
		g->idle_emits = 0;
	}
	if (any_other)
		add_group(store, view, NULL, other, send);
	size_t sent = nactive < max_groups ? nactive : max_groups;
	bound_idle_groups(t, view, store, max_groups - sent);
}

void app_table_emit(struct app_table *t, struct series_store *store, const bool send[APP_COUNTER_COUNT])
{
	if (t->views[VIEW_APPS].on)
		emit_view(t, &t->views[VIEW_APPS], t->cfg->apps.max_groups, store, send);
	if (t->views[VIEW_CGROUPS].on)
		emit_view(t, &t->views[VIEW_CGROUPS], t->cfg->cgroups.max_groups, store, send);
	for (int v = 0; v < VIEW_COUNT; v++)
		forget_idle_groups(t, (enum app_view)v, store);
	/* After a burst of processes has gone, give the memory back. */
	if (t->cap > PROC_SLOTS_MIN && t->len * 8 < t->cap) {
		size_t cap = PROC_SLOTS_MIN;
		while (cap * 3 < t->len * 8)
			cap *= 2;
		index_resize(t, cap);
	}
	if (t->rec_cap > PROC_SLOTS_MIN && t->len * 4 < t->rec_cap) {
		size_t rec_cap = PROC_SLOTS_MIN;
		while (rec_cap < t->len * 2)
			rec_cap *= 2;
		struct proc_rec *fewer = realloc(t->recs, rec_cap * sizeof(*fewer));
		if (fewer) {
			t->recs = fewer;
			t->rec_cap = rec_cap;
		}
	}
	t->gen++;
}
