/*
 * The module interface. A module is one probes/NAME.bpf.c plus one
 * agent/modules/NAME.c that fills a const struct module_ops: its metric
 * catalogue, its config keys, the kernel events it hooks with their ordered
 * ways of attaching, and callbacks to open its skeleton and collect its
 * maps; and one MODULE(NAME) line in agent/modules/registry.c. attach.c does
 * the rest (choosing ways, loading, attaching, falling back), so a module
 * never repeats that logic; agent/core/config.c fills its options from its keys.
 */
#ifndef BPFPUSH_MODULE_H
#define BPFPUSH_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "config.h"
#include "config_keys.h"
#include "metric.h"

struct bpf_object;
struct bpf_link;
struct ring_buffer;
struct syscall_metric;
struct syscalls_bpf;
struct probe_cache;

#define WAY_MAX_PROGS 5
#define WAY_MAX_SYSCALLS 6
#define REASON_MAX 160

/*
 * One way of observing an event: programs of one tier, attached together;
 * or, when syscalls[0] is set, the shared syscall layer watching those rows
 * of probes/syscall_table.h (it then picks dispatcher or tracepoints itself).
 */
struct attach_way {
	enum attach_tier tier;
	enum syscall_layer layer; /* SYSCALL_LAYER_AUTO: not a syscall-layer way */
	const char *progs[WAY_MAX_PROGS]; /* program names in the BPF object; NULL-terminated */
	unsigned char syscalls[WAY_MAX_SYSCALLS]; /* enum syscall_id rows; 0-terminated */
	/*
	 * For programs whose section names no target (SEC("fentry"), SEC("kprobe")):
	 * the kernel function, by its canonical name (agent/kernel/kernel_names.c).
	 */
	const char *targets[WAY_MAX_PROGS];
	bool no_result; /* sees the call, not its result: (R) metrics are not sent */
	const char *variant; /* tells two ways of one tier apart in --probe ("request slots"); NULL if one */
};

#define EVENT_MAX_WAYS 6

struct event_desc {
	const char *name;
	const char *gives;       /* the metrics this event feeds, for --probe */
	bool return_mode_only;   /* hooked only in load_mode: return */
	bool entry_mode_only;    /* in load_mode: return its return-side twin (another event) is hooked instead */
	int config_owner;        /* registry index + 1 of the module whose attach key applies; 0: the module's own */
	int layer_config_owner;  /* likewise for syscall_layer; 0: config_owner's */
	struct attach_way ways[EVENT_MAX_WAYS]; /* cheapest first; tier 0 ends the list */
};

struct event_state {
	bool wanted;
	int chosen; /* index into ways, -1 when none attached */
	char refused[EVENT_MAX_WAYS][REASON_MAX]; /* "" when not tried */
	char via[64]; /* a syscall-layer way: how the layer attached it */
	bool no_result; /* the way attached does not see results */
	struct bpf_link *links[WAY_MAX_PROGS];
	int chain_hook[WAY_MAX_PROGS]; /* 1 + the sock chain hook the program joined instead of a link, 0 when none */
};

struct module;

struct module_ops {
	const char *name; /* also its config section, modules.NAME */
	/*
	 * Its config: help for the modules.NAME section, the default of its
	 * enabled key, and its own keys (agent/core/config_keys.h), which fill an
	 * options struct of opts_size bytes at offsets the keys give
	 * (config_module_opts()). The keys every module takes are the engine's.
	 */
	const char *config_help;
	bool enabled_by_default;
	const struct cfg_key *keys;
	size_t nkeys;
	size_t opts_size;
	/* Its switch and keys are the engine's top-level section of its name (apps), not under modules. */
	bool top_level_section;
	const struct metric_desc *metrics;
	size_t nmetrics;
	const struct event_desc *events;
	size_t nevents;
	/*
	 * Open (not load) the skeleton and set its read-only knobs; keep it in
	 * m->priv. NULL for a module whose events all go through the syscall layer.
	 */
	struct bpf_object *(*open)(struct module *m);
	/* Optional: is this event wanted with this config (e.g. one switched off)? Default: yes. */
	bool (*wants)(const struct module *m, size_t event);
	/* Optional: why wants() said no, for --probe; NULL or unset: "switched off in the config". */
	const char *(*unwanted_why)(const struct module *m, size_t event);
	/*
	 * Optional: does a way whose hooks exist really fit this kernel (a
	 * tracepoint whose BTF prototype changed between versions)? false with
	 * a reason refuses it.
	 */
	bool (*way_fits)(const struct module *m, size_t event, int way, char *why);
	/* Optional: the ways are chosen, the object is not loaded yet (knobs that depend on them). */
	void (*prepare)(struct module *m);
	/* Destroy the skeleton (links are attach.c's and are gone already). */
	void (*destroy)(struct module *m);
	/*
	 * Optional: after attach, before the first collect (baselines from /proc;
	 * m->ring for modules with ring-buffer events, freed by destroy).
	 */
	int (*start)(struct module *m);
	/* Read the maps into the store. */
	int (*collect)(struct module *m, struct series_store *store);
	/* Metrics that are sums of syscall-layer counters (agent/modules/syscall_metrics.h). */
	const struct syscall_metric *syscall_sums;
	size_t nsyscall_sums;
	/*
	 * Optional, for a module whose syscall events count in the syscall
	 * layer's own programs, in the module's maps (apps, per process): hand
	 * the layer's object those maps and knobs before it loads. 0 or -errno.
	 */
	int (*share_with_layer)(struct module *m, struct syscalls_bpf *layer);
	/*
	 * Its slot in the sock chain (probes/sock_chain_slots.h), 0 when it is no
	 * member: its programs on sock:sock_{send,recv}_length and
	 * sock:inet_sock_set_state run there, as tail calls from one dispatcher
	 * per hook, instead of being attached.
	 */
	int sock_chain_slot;
	/*
	 * Its collect has a source of its own besides its events (a /proc file
	 * the kernel keeps): when the config wants none of its events, it runs
	 * with its object opened but nothing loaded or attached, instead of
	 * failing for want of a way.
	 */
	bool runs_without_events;
};

struct syscall_watch;
struct sock_chain;

struct module {
	const struct module_ops *ops;
	module_id_t id; /* its registry index: its config is cfg->modules[id] */
	const struct config *cfg; /* the running config: re-pointed at each reload */
	/*
	 * The config attach_module() ran with, held (config_ref) until
	 * module_release(): state built at attach or start (the apps table's
	 * groups) points into it and outlives the reloads that leave the module be.
	 */
	const struct config *attached_cfg;
	const struct probe_cache *probes;
	const struct syscall_watch *syscalls; /* for modules with syscall-layer ways */
	struct sock_chain *sock_chain; /* the agent's, for members (NULL: they attach their programs themselves) */
	void *priv;
	struct bpf_object *obj;
	struct event_state *events; /* ops->nevents of them, owned by attach.c */
	bool attached;
	char failure[256]; /* why the module does not run, "" when it does */
	uv_timer_t timer;
	struct ring_buffer *ring; /* consumed from the loop: polled, and drained before each collect */
	uv_poll_t *ring_poll; /* owned by the loop once closed: freed in its close callback */
	bool timer_ready;      /* timer initialised: kept across reloads, closed at exit */
	uint64_t collect_us;     /* wall time of the last collect */
	uint64_t collect_cpu_us; /* the agent's CPU time in it: the wall time less waits and preemption */
	void *agent; /* back-pointer for the timer callback */
};

/* The module's options struct, filled from module_ops.keys by agent/core/config.c. */
static inline const void *module_opts(const struct module *m) { return config_module_opts(m->cfg, m->id); }

/* Does the module's catalogue mark this metric (R): measured only where results are seen? */
bool module_metric_needs_result(const struct module_ops *ops, const char *metric);

/*
 * Does the event feed this metric? Its gives text lists whole names
 * separated by commas: sync.sync is not sync.sync_file_range.
 */
bool module_event_gives(const struct event_desc *ev, const char *metric);

/*
 * The registry (agent/modules/registry.c), the one list of modules: by
 * index, NULL past the end; and an index by name (-1 when none).
 */
size_t module_registry_count(void);
const struct module_ops *module_registry_get(module_id_t id);
int module_registry_find(const char *name);
/* The agent's own metric catalogue (agent.*). */
extern const struct metric_desc agent_metrics[];
extern const size_t agent_metrics_count;

#endif
