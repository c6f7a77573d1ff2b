#include "app_table.h"

#include <stdlib.h>
#include <string.h>

#include "app_group.h"
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
/* A process the kernel table stopped reporting, with no exit seen, is forgotten after this many collects. */
#define UNSEEN_COLLECTS_MAX 3
/* A group with no process and no activity for this many emissions is forgotten (its series expire by series_ttl). */
#define GROUP_IDLE_EMITS_MAX 600

struct proc_rec {
	uint32_t tgid;
	uint32_t group;
	uint64_t start_ns;
	uint64_t id_hash;
	uint32_t execs; /* the kernel entry's exec count when id_hash was taken */
	uint64_t prev[APP_COUNTER_COUNT];
	uint64_t seen_gen;
	uint32_t unseen;
};

struct group {
	char name[GROUP_NAME_MAX];
	char unit[APP_CGROUP_LEN];  /* of the first process seen in the group, "" when none */
	char container[16];
	uint64_t delta[APP_COUNTER_COUNT];
	uint32_t procs;
	uint32_t idle_emits;
	bool active;
	bool live;         /* its series are in the store: one of at most max_groups */
	uint64_t sent_gen; /* the emission that last sent it with activity */
};

struct app_table {
	const struct config *cfg;
	struct proc_rec *procs;
	/*
	 * Per slot, the tgid + 1 of its record, 0 when free. Probing reads only
	 * these (16 to a cache line, where the records are 200 bytes each):
	 * finding 10000 processes a collect was a fifth of the collect's time.
	 */
	uint32_t *keys;
	size_t cap, len;
	struct group *groups;
	size_t ngroups, gcap;
	size_t *order;
	size_t order_cap;
	uint64_t gen;
};

struct app_table *app_table_new(const struct config *cfg)
{
	struct app_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->cfg = cfg;
	t->cap = PROC_SLOTS_MIN;
	t->procs = calloc(t->cap, sizeof(*t->procs));
	t->keys = calloc(t->cap, sizeof(*t->keys));
	if (!t->procs || !t->keys) {
		free(t->procs);
		free(t->keys);
		free(t);
		return NULL;
	}
	t->gen = 1;
	return t;
}

void app_table_free(struct app_table *t)
{
	if (!t)
		return;
	free(t->procs);
	free(t->keys);
	free(t->groups);
	free(t->order);
	free(t);
}

size_t app_table_processes(const struct app_table *t) { return t->len; }
size_t app_table_groups(const struct app_table *t) { return t->ngroups; }

static size_t slot_of(uint32_t tgid, size_t cap)
{
	return (size_t)(tgid * 2654435761u) & (cap - 1);
}

static struct proc_rec *proc_find(struct app_table *t, uint32_t tgid)
{
	for (size_t i = slot_of(tgid, t->cap);; i = (i + 1) & (t->cap - 1)) {
		if (!t->keys[i])
			return NULL;
		if (t->keys[i] == tgid + 1)
			return &t->procs[i];
	}
}

/* Rehash into cap slots (a power of two, above the records held). */
static bool proc_resize(struct app_table *t, size_t cap)
{
	struct proc_rec *fresh = calloc(cap, sizeof(*fresh));
	uint32_t *fresh_keys = calloc(cap, sizeof(*fresh_keys));
	if (!fresh || !fresh_keys) {
		free(fresh);
		free(fresh_keys);
		return false;
	}
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->keys[i])
			continue;
		size_t j = slot_of(t->procs[i].tgid, cap);
		while (fresh_keys[j])
			j = (j + 1) & (cap - 1);
		fresh[j] = t->procs[i];
		fresh_keys[j] = t->keys[i];
	}
	free(t->procs);
	free(t->keys);
	t->procs = fresh;
	t->keys = fresh_keys;
	t->cap = cap;
	return true;
}

static struct proc_rec *proc_insert(struct app_table *t, uint32_t tgid)
{
	/* At most three quarters full: linear probing stays short, memory stays near what is held. */
	if ((t->len + 1) * 4 > t->cap * 3 && !proc_resize(t, t->cap * 2))
		return NULL;
	size_t i = slot_of(tgid, t->cap);
	while (t->keys[i])
		i = (i + 1) & (t->cap - 1);
	memset(&t->procs[i], 0, sizeof(t->procs[i]));
	t->keys[i] = tgid + 1;
	t->procs[i].tgid = tgid;
	t->procs[i].group = UINT32_MAX;
	t->len++;
	return &t->procs[i];
}

/* Linear probing without tombstones: later members of the cluster move back into the hole. */
static void proc_remove(struct app_table *t, struct proc_rec *rec)
{
	if (rec->group < t->ngroups)
		t->groups[rec->group].procs--;
	size_t mask = t->cap - 1, hole = (size_t)(rec - t->procs);
	t->keys[hole] = 0;
	t->len--;
	for (size_t j = (hole + 1) & mask; t->keys[j]; j = (j + 1) & mask) {
		size_t home = slot_of(t->procs[j].tgid, t->cap);
		bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
		if (stays)
			continue;
		t->procs[hole] = t->procs[j];
		t->keys[hole] = t->keys[j];
		t->keys[j] = 0;
		hole = j;
	}
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

static uint32_t group_index(struct app_table *t, const struct app_identity_raw *id)
{
	char name[GROUP_NAME_MAX];
	struct app_identity ident = { id->comm, id->exe, id->cgroup };
	app_group_name(t->cfg, &ident, name, sizeof(name));
	for (size_t g = 0; g < t->ngroups; g++)
		if (!strcmp(t->groups[g].name, name))
			return (uint32_t)g;
	if (t->ngroups == t->gcap) {
		size_t cap = t->gcap ? t->gcap * 2 : 64;
		struct group *grown = realloc(t->groups, cap * sizeof(*grown));
		if (!grown)
			return UINT32_MAX;
		t->groups = grown;
		t->gcap = cap;
	}
	struct group *g = &t->groups[t->ngroups];
	memset(g, 0, sizeof(*g));
	memcpy(g->name, name, sizeof(g->name));
	app_unit_of(id->cgroup, g->unit, sizeof(g->unit));
	app_container_of(id->cgroup, g->container, sizeof(g->container));
	return (uint32_t)t->ngroups++;
}

/* Point the record at the group of this identity, when it changed (exec, a new process). */
static void assign_group(struct app_table *t, struct proc_rec *rec, const struct app_identity_raw *raw)
{
	struct app_identity_raw id;
	identity_strings(raw, &id);
	uint64_t h = identity_hash(&id);
	if (rec->group != UINT32_MAX && rec->id_hash == h)
		return;
	if (rec->group < t->ngroups)
		t->groups[rec->group].procs--;
	rec->id_hash = h;
	rec->group = group_index(t, &id);
	if (rec->group < t->ngroups)
		t->groups[rec->group].procs++;
}

/* What the process counted since its record's last reading goes to its group; false when nothing. */
static bool account(struct app_table *t, struct proc_rec *rec, const struct app_process *p)
{
	if (rec->group >= t->ngroups)
		return true; /* out of memory for a new group: logged where it failed */
	struct group *g = &t->groups[rec->group];
	bool moved = false;
	for (int c = 0; c < APP_COUNTER_COUNT; c++) {
		uint64_t now = p->counters[c];
		uint64_t delta = now >= rec->prev[c] ? now - rec->prev[c] : now;
		g->delta[c] += delta;
		moved |= delta != 0;
		rec->prev[c] = now;
	}
	g->active |= moved;
	return moved;
}

static struct proc_rec *record_of(struct app_table *t, uint32_t tgid, const struct app_process *p)
{
	struct proc_rec *rec = proc_find(t, tgid);
	/* The common case, every process every collect: the same process, no exec since its group was found. */
	if (rec && rec->start_ns == p->start_ns && rec->execs == p->execs && rec->group != UINT32_MAX)
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
	rec->execs = p->execs;
	assign_group(t, rec, &p->id);
	return rec;
}

bool app_table_observe(struct app_table *t, uint32_t tgid, const struct app_process *p)
{
	struct proc_rec *rec = record_of(t, tgid, p);
	if (!rec)
		return true;
	bool moved = account(t, rec, p);
	rec->seen_gen = t->gen;
	rec->unseen = 0;
	return moved;
}

void app_table_exited(struct app_table *t, uint32_t tgid, const struct app_process *p)
{
	struct proc_rec *rec = record_of(t, tgid, p);
	if (!rec)
		return;
	account(t, rec, p);
	proc_remove(t, rec);
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
	const struct app_table *t = arg;
	const struct group *ga = &t->groups[*(const size_t *)a], *gb = &t->groups[*(const size_t *)b];
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
static void add_cache(struct series_store *store, const struct metric_tag *tags, unsigned ntags, const uint64_t *delta,
		      const bool *send)
{
	uint64_t misses = delta[APP_CACHE_ADDED], accessed = delta[APP_CACHE_ACCESSED];
	if (send[APP_CACHE_ADDED])
		series_counter_add(store, "apps.cachestat_misses", tags, ntags, misses);
	if (send[APP_CACHE_DIRTIED])
		series_counter_add(store, "apps.cachestat_dirties", tags, ntags, delta[APP_CACHE_DIRTIED]);
	if (!send[APP_CACHE_ADDED] || !send[APP_CACHE_ACCESSED])
		return;
	uint64_t hits = accessed > misses ? accessed - misses : 0;
	series_counter_add(store, "apps.cachestat_hits", tags, ntags, hits);
	if (hits + misses)
		series_gauge_set(store, "apps.cachestat_ratio", tags, ntags, (double)hits * 100.0 / (double)(hits + misses),
				 true);
}

/* unit and container ride along where known; plain formats leave them out of the path. */
static unsigned group_tags(const struct group *g, struct metric_tag tags[3])
{
	unsigned ntags = 0;
	tags[ntags++] = (struct metric_tag){ "app", g ? g->name : "other" };
	if (g && g->unit[0])
		tags[ntags++] = (struct metric_tag){ "unit", g->unit };
	if (g && g->container[0])
		tags[ntags++] = (struct metric_tag){ "container", g->container };
	return ntags;
}

static void add_group(struct series_store *store, const struct group *g, const uint64_t *delta, const bool *send)
{
	struct metric_tag tags[3];
	unsigned ntags = group_tags(g, tags);
	for (int c = 0; c < APP_COUNTER_COUNT; c++)
		if (send[c] && app_counter_names[c])
			series_counter_add(store, app_counter_names[c], tags, ntags, delta[c]);
	add_cache(store, tags, ntags, delta, send);
}

/* The group's series end now: no zeros follow (series_retire). */
static void retire_group(struct series_store *store, struct group *g)
{
	static const char *const cache_series[] = { "apps.cachestat_misses", "apps.cachestat_dirties",
						    "apps.cachestat_hits", "apps.cachestat_ratio" };
	struct metric_tag tags[3];
	unsigned ntags = group_tags(g, tags);
	for (int c = 0; c < APP_COUNTER_COUNT; c++)
		if (app_counter_names[c])
			series_retire(store, app_counter_names[c], tags, ntags);
	for (size_t i = 0; i < sizeof(cache_series) / sizeof(cache_series[0]); i++)
		series_retire(store, cache_series[i], tags, ntags);
	g->live = false;
}

static int recent_first(const void *a, const void *b, void *arg)
{
	const struct app_table *t = arg;
	const struct group *ga = &t->groups[*(const size_t *)a], *gb = &t->groups[*(const size_t *)b];
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
static void bound_idle_groups(struct app_table *t, struct series_store *store, size_t slots)
{
	uint64_t interval = t->cfg->global.interval_ms ? t->cfg->global.interval_ms : 1;
	uint64_t ttl = t->cfg->global.series_ttl_ms;
	size_t nidle = 0;
	for (size_t g = 0; g < t->ngroups; g++) {
		struct group *gr = &t->groups[g];
		if (!gr->live || gr->sent_gen == t->gen)
			continue;
		if (g < t->order_cap)
			t->order[nidle++] = g;
		else
			retire_group(store, gr); /* no room to rank it (out of memory): end it */
	}
	if (nidle)
		qsort_r(t->order, nidle, sizeof(*t->order), recent_first, t);
	for (size_t i = 0; i < nidle; i++) {
		struct group *gr = &t->groups[t->order[i]];
		bool expired = ttl && (uint64_t)gr->idle_emits * interval >= ttl;
		if (i < slots && !expired)
			continue;
		retire_group(store, gr);
	}
}

/* Records the kernel table no longer reports, and groups idle for long, are let go. */
static void forget_stale(struct app_table *t, struct series_store *store)
{
	for (size_t i = 0; i < t->cap;) {
		struct proc_rec *rec = &t->procs[i];
		if (t->keys[i] && rec->seen_gen != t->gen && ++rec->unseen >= UNSEEN_COLLECTS_MAX) {
			proc_remove(t, rec); /* a later record may have moved into slot i: look at it again */
			continue;
		}
		i++;
	}
	size_t kept = 0;
	uint32_t *remap = NULL;
	bool any = false;
	for (size_t g = 0; g < t->ngroups; g++)
		any |= !t->groups[g].procs && t->groups[g].idle_emits > GROUP_IDLE_EMITS_MAX;
	if (!any || !(remap = malloc(t->ngroups * sizeof(*remap))))
		return;
	for (size_t g = 0; g < t->ngroups; g++) {
		if (!t->groups[g].procs && t->groups[g].idle_emits > GROUP_IDLE_EMITS_MAX) {
			if (t->groups[g].live)
				retire_group(store, &t->groups[g]);
			remap[g] = UINT32_MAX;
			continue;
		}
		remap[g] = (uint32_t)kept;
		t->groups[kept++] = t->groups[g];
	}
	for (size_t i = 0; i < t->cap; i++)
		if (t->keys[i] && t->procs[i].group != UINT32_MAX)
			t->procs[i].group = remap[t->procs[i].group];
	t->ngroups = kept;
	free(remap);
}

void app_table_emit(struct app_table *t, struct series_store *store, const bool send[APP_COUNTER_COUNT])
{
	if (t->order_cap < t->ngroups) {
		size_t *grown = realloc(t->order, t->ngroups * sizeof(*grown));
		if (grown) {
			t->order = grown;
			t->order_cap = t->ngroups;
		}
	}
	size_t nactive = 0;
	for (size_t g = 0; g < t->ngroups && g < t->order_cap; g++) {
		if (t->groups[g].active)
			t->order[nactive++] = g;
		else
			t->groups[g].idle_emits++;
	}
	if (nactive)
		qsort_r(t->order, nactive, sizeof(*t->order), busiest_first, t);
	uint64_t other[APP_COUNTER_COUNT] = { 0 };
	bool any_other = false;
	for (size_t i = 0; i < nactive; i++) {
		struct group *g = &t->groups[t->order[i]];
		if (i < t->cfg->apps.max_groups) {
			add_group(store, g, g->delta, send);
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
		add_group(store, NULL, other, send);
	size_t sent = nactive < t->cfg->apps.max_groups ? nactive : t->cfg->apps.max_groups;
	bound_idle_groups(t, store, t->cfg->apps.max_groups - sent);
	forget_stale(t, store);
	/* After a burst of processes has gone, give the memory back. */
	if (t->cap > PROC_SLOTS_MIN && t->len * 8 < t->cap) {
		size_t cap = PROC_SLOTS_MIN;
		while (cap * 3 < t->len * 8)
			cap *= 2;
		proc_resize(t, cap);
	}
	t->gen++;
}
