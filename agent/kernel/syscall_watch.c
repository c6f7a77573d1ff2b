#include "syscall_watch.h"

#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach_keys.h"
#include "log.h"
#include "app_objects.h"
#include "percpu.h"
#include "syscalls.skel.h"

struct syscall_row {
	const char *name;
	int nr, nr32;
	const char *exit_prog;
	const char *function; /* canonical kernel function: sys_NAME */
	const char *fentry, *fexit, *kprobe, *kretprobe;
};

#define ROW(name, nr, nr32, tp, variant)                                                                            \
	[SYS_##name] = { #name, nr, nr32, "exit_" #name, "sys_" #tp, "fentry_" #name, "fexit_" #name, "kprobe_" #name, \
			 "kretprobe_" #name },
static const struct syscall_row rows[SYS_COUNT] = { SYSCALL_TABLE(ROW) };
#undef ROW

const char *syscall_name(enum syscall_id id)
{
	return id > SYS_NONE && id < SYS_COUNT ? rows[id].name : "?";
}

struct syscall_watch {
	const struct config *cfg;
	const struct probe_cache *probes;
	struct module module; /* the layer, driven by attach.c like any module */
	struct module_ops ops;
	struct event_desc events[SYS_COUNT];
	enum syscall_id event_row[SYS_COUNT];
	char gives[SYS_COUNT][48];
	struct syscalls_bpf *skel;
	bool attached;
	/* The module whose syscalls count per process in the layer's programs (apps), and its rows. */
	struct module *sharer;
	bool shared_rows[SYS_COUNT];
	char share_failure[REASON_MAX]; /* why the layer could not take its maps; its events are refused */
};

struct syscall_watch *syscall_watch_new(const struct config *cfg, const struct probe_cache *pc)
{
	struct syscall_watch *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->cfg = cfg;
	l->probes = pc;
	return l;
}

static struct bpf_object *layer_open(struct module *m)
{
	struct syscall_watch *l = m->priv;
	/* apps' build (agent/kernel/app_objects.h): the layer counts in apps' table and slots. */
	l->skel = syscalls_object_open(l->probes && l->probes->atomics_fetch);
	return l->skel ? l->skel->obj : NULL;
}

static void layer_destroy(struct module *m)
{
	struct syscall_watch *l = m->priv;
	syscalls_bpf__destroy(l->skel);
	l->skel = NULL;
}

/*
 * The sharer's rows count per process too, in its maps. Without a sharer, or
 * when it cannot hand them over, the layer's own copies hold one entry each
 * (preallocated: one entry needs no allocation at run time on any kernel).
 */
static void share_maps(struct syscall_watch *l)
{
	int err = l->sharer ? l->sharer->ops->share_with_layer(l->sharer, l->skel) : 0;
	if (l->sharer && !err) {
		for (int id = 0; id < SYS_COUNT; id++)
			l->skel->rodata->app_rows[id] = l->shared_rows[id];
		return;
	}
	if (err) {
		snprintf(l->share_failure, sizeof(l->share_failure), "the syscall layer cannot use %s's maps: %s",
			 l->sharer->ops->name, strerror(-err));
		log_error("syscalls", "%s", l->share_failure);
	}
	memset((void *)l->skel->rodata->app_rows, 0, sizeof(l->skel->rodata->app_rows));
	bpf_map__set_max_entries(l->skel->maps.app_pids, 1);
	bpf_map__set_map_flags(l->skel->maps.app_pids, bpf_map__map_flags(l->skel->maps.app_pids) & ~(__u32)BPF_F_NO_PREALLOC);
	bpf_map__set_max_entries(l->skel->maps.app_moved, (__u32)sysconf(_SC_PAGESIZE)); /* a ring's least */
}

/* Rows whose chosen way is the dispatcher go into its read-only tables. */
static void layer_prepare(struct module *m)
{
	struct syscall_watch *l = m->priv;
	share_maps(l);
	for (size_t e = 0; e < m->ops->nevents; e++) {
		int w = m->events[e].chosen;
		if (w < 0 || m->ops->events[e].ways[w].layer != SYSCALL_LAYER_DISPATCHER)
			continue;
		const struct syscall_row *row = &rows[l->event_row[e]];
		if (row->nr >= 0 && row->nr < SYSCALL_NR_MAX)
			l->skel->rodata->dispatch_native[row->nr] = (unsigned char)l->event_row[e];
		if (row->nr32 >= 0 && row->nr32 < SYSCALL_NR_MAX)
			l->skel->rodata->dispatch_compat[row->nr32] = (unsigned char)l->event_row[e];
	}
}

static int layer_collect(struct module *m, struct series_store *store)
{
	(void)m;
	(void)store;
	return 0; /* modules read their rows through syscall_watch_read */
}

static int find_event(const struct syscall_watch *l, enum syscall_id id)
{
	for (size_t e = 0; e < l->ops.nevents; e++)
		if (l->event_row[e] == id)
			return (int)e;
	return -1;
}

void syscall_layer_ways(enum syscall_id id, bool return_mode, struct attach_way ways[EVENT_MAX_WAYS])
{
	/*
	 * Cheapest first, as measured by scripts/bench/overhead: a hook on the
	 * syscall's own function costs nothing on other syscalls (entry mode takes
	 * its entry side only: calls and arguments; return mode its exit side,
	 * results too). Then per-syscall tracepoints (+150 ns on a watched read,
	 * +55 ns on every other syscall on 6.18) before the dispatcher (+170 and
	 * +120): most of a host's syscalls are ones nobody watches. The
	 * dispatcher stays as the way without tracefs, and the only one that sees
	 * 32-bit tasks.
	 */
	memset(ways, 0, EVENT_MAX_WAYS * sizeof(*ways));
	bool ret = return_mode;
	const struct syscall_row *row = &rows[id];
	ways[0] = (struct attach_way){ .tier = ATTACH_FENTRY, .progs = { ret ? row->fexit : row->fentry },
				       .targets = { row->function }, .no_result = !ret };
	ways[1] = (struct attach_way){ .tier = ATTACH_KPROBE, .progs = { ret ? row->kretprobe : row->kprobe },
				       .targets = { row->function }, .no_result = !ret };
	ways[2] = (struct attach_way){ .tier = ATTACH_TRACEPOINT, .layer = SYSCALL_LAYER_TRACEPOINTS,
				       .progs = { row->exit_prog } };
	ways[3] = (struct attach_way){ .tier = ATTACH_TP_BTF, .layer = SYSCALL_LAYER_DISPATCHER,
				       .progs = { "dispatch_tp_btf" } };
	ways[4] = (struct attach_way){ .tier = ATTACH_RAW_TP, .layer = SYSCALL_LAYER_DISPATCHER,
				       .progs = { "dispatch_raw_tp" } };
}

static void request(struct syscall_watch *l, enum syscall_id id, struct module *owner)
{
	if (owner->ops->share_with_layer) {
		l->sharer = owner;
		l->shared_rows[id] = true;
	}
	int e = find_event(l, id);
	if (e >= 0) {
		size_t len = strlen(l->gives[e]);
		snprintf(l->gives[e] + len, sizeof(l->gives[e]) - len, ", %s", owner->ops->name);
		return;
	}
	e = (int)l->ops.nevents++;
	l->event_row[e] = id;
	snprintf(l->gives[e], sizeof(l->gives[e]), "%s", owner->ops->name);
	struct event_desc *ev = &l->events[e];
	ev->name = rows[id].name;
	ev->gives = l->gives[e];
	/*
	 * One hook per syscall, so one choice: the attach and syscall_layer a
	 * watching module sets explicitly (the config refuses two that differ),
	 * else the first asker's, which are the global keys (attach_keys.h).
	 */
	int attach_owner = attach_keys_owner(l->cfg, id, ATTACH_KEY_ATTACH);
	int layer_owner = attach_keys_owner(l->cfg, id, ATTACH_KEY_SYSCALL_LAYER);
	ev->config_owner = (attach_owner >= 0 ? attach_owner : (int)owner->id) + 1;
	ev->layer_config_owner = (layer_owner >= 0 ? layer_owner : (int)owner->id) + 1;
	syscall_layer_ways(id, l->cfg->global.load_mode == LOAD_MODE_RETURN, ev->ways);
}

static const struct attach_way *syscall_way(const struct module *m, size_t e)
{
	int w = m->events ? m->events[e].chosen : -1;
	if (w < 0 || !m->ops->events[e].ways[w].syscalls[0])
		return NULL;
	return &m->ops->events[e].ways[w];
}

/* Tell a module's event how its rows were attached, or refuse it. */
static void resolve_event(const struct syscall_watch *l, struct module *m, size_t e, const struct attach_way *way)
{
	char via[64] = "";
	if (m == l->sharer && l->share_failure[0]) {
		attach_refuse_event(m, e, l->share_failure);
		return;
	}
	for (int i = 0; i < WAY_MAX_SYSCALLS && way->syscalls[i]; i++) {
		enum syscall_id id = way->syscalls[i];
		int le = find_event(l, id);
		const struct event_state *st = le >= 0 && l->module.events ? &l->module.events[le] : NULL;
		if (!l->attached || !st || st->chosen < 0) {
			char why[REASON_MAX];
			snprintf(why, sizeof(why), "the syscall layer could not watch %s: %.100s", rows[id].name,
				 l->module.failure[0] ? l->module.failure : "no way on this kernel");
			attach_refuse_event(m, e, why);
			return;
		}
		const struct attach_way *chosen = &l->ops.events[le].ways[st->chosen];
		if (!via[0])
			attach_way_describe(chosen, via, sizeof(via));
		if (chosen->no_result)
			m->events[e].no_result = true;
	}
	snprintf(m->events[e].via, sizeof(m->events[e].via), "syscalls: %s", via);
}

int syscall_watch_attach(struct syscall_watch *l, struct module *modules, size_t nmodules)
{
	for (size_t i = 0; i < nmodules; i++) {
		struct module *m = &modules[i];
		if (!m->ops || !m->attached)
			continue;
		for (size_t e = 0; e < m->ops->nevents; e++) {
			const struct attach_way *way = syscall_way(m, e);
			for (int k = 0; way && k < WAY_MAX_SYSCALLS && way->syscalls[k]; k++)
				request(l, way->syscalls[k], m);
		}
	}
	if (!l->ops.nevents)
		return 0;
	l->ops.name = "syscalls";
	l->ops.events = l->events;
	l->ops.open = layer_open;
	l->ops.destroy = layer_destroy;
	l->ops.prepare = layer_prepare;
	l->ops.collect = layer_collect;
	l->module.ops = &l->ops;
	l->module.cfg = l->cfg;
	l->module.probes = l->probes;
	l->module.priv = l;
	l->attached = attach_module(&l->module) == 0;
	if (!l->attached)
		log_error("syscalls", "the syscall layer cannot run: %s", l->module.failure);
	for (size_t i = 0; i < nmodules; i++) {
		struct module *m = &modules[i];
		if (!m->ops || !m->attached)
			continue;
		m->syscalls = l;
		for (size_t e = 0; e < m->ops->nevents; e++) {
			const struct attach_way *way = syscall_way(m, e);
			if (way)
				resolve_event(l, m, e, way);
		}
	}
	return l->attached ? 0 : -1;
}

void syscall_watch_set_config(struct syscall_watch *l, const struct config *cfg)
{
	l->cfg = cfg;
	l->module.cfg = cfg;
}

int syscall_watch_read(const struct syscall_watch *l, enum syscall_id id, struct syscall_stats *out)
{
	if (!l || !l->attached || !l->skel)
		return -1;
	return percpu_sum_u64(bpf_map__fd(l->skel->maps.syscall_stats), id, sizeof(*out) / sizeof(uint64_t),
			      (uint64_t *)out);
}

const struct module *syscall_watch_module(const struct syscall_watch *l)
{
	return l && l->ops.nevents ? &l->module : NULL;
}

void syscall_watch_free(struct syscall_watch *l)
{
	if (!l)
		return;
	if (l->module.ops)
		module_release(&l->module);
	free(l);
}
