#include "attach.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "kernel_btf.h"
#include "kernel_names.h"
#include "log.h"
#include "resident.h"
#include "sock_chain.h"
#include "sock_tier.h"

#define TRACEFS_MOUNT "/sys/kernel/tracing"

static const char *const layer_names[] = { "", "dispatcher", "tracepoints" };

static void reason(char *dst, const char *fmt, ...) LOG_PRINTF(2, 3);
static void reason(char *dst, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(dst, REASON_MAX, fmt, ap);
	va_end(ap);
}

static bool path_exists(const char *path) { return access(path, F_OK) == 0; }

/* A tiny program: r0 = 0; exit. Its fd, or -errno. */
static int load_trivial_fd(enum bpf_prog_type type, enum bpf_attach_type attach, __u32 btf_id)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = attach, .attach_btf_id = btf_id);
	int fd = bpf_prog_load(type, "bpfpush_probe", "GPL", insns, 2, &opts);
	return fd < 0 ? -errno : fd;
}

static int load_trivial(enum bpf_prog_type type, enum bpf_attach_type attach, __u32 btf_id)
{
	int fd = load_trivial_fd(type, attach, btf_id);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/*
 * Does a trivial fentry program attach, not only load? arm64 kernels before
 * 6.4 verify fentry programs but refuse every attach (524, ENOTSUPP: no ftrace
 * direct calls for the trampoline); without this, each fentry way would be
 * verified and then refused before its kprobe way is tried, minutes of
 * start-up on a small machine. Returns -errno when it does not load, errno
 * (positive) when it loads but does not attach, 0 when it attaches.
 */
static int attach_trivial_fentry(__u32 btf_id)
{
	int fd = load_trivial_fd(BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, btf_id);
	if (fd < 0)
		return fd;
	int link = bpf_raw_tracepoint_open(NULL, fd);
	int err = link < 0 ? errno : 0;
	if (link >= 0)
		close(link);
	close(fd);
	return err;
}

static void find_tracefs(struct probe_cache *pc)
{
	static const char *const candidates[] = { TRACEFS_MOUNT, "/sys/kernel/debug/tracing" };
	for (size_t i = 0; i < 2; i++) {
		char events[96];
		snprintf(events, sizeof(events), "%s/events", candidates[i]);
		if (path_exists(events)) {
			snprintf(pc->tracefs, sizeof(pc->tracefs), "%s", candidates[i]);
			return;
		}
	}
	/* Mounting needs CAP_SYS_ADMIN: only root tries; raw_tp and tp_btf need no tracefs. */
	if (geteuid() == 0 && path_exists(TRACEFS_MOUNT) && mount("nodev", TRACEFS_MOUNT, "tracefs", 0, NULL) == 0) {
		log_info("attach", "mounted tracefs at %s for classic tracepoints", TRACEFS_MOUNT);
		snprintf(pc->tracefs, sizeof(pc->tracefs), "%s", TRACEFS_MOUNT);
		return;
	}
	pc->tracefs[0] = '\0';
}

static void read_lockdown(struct probe_cache *pc)
{
	snprintf(pc->lockdown, sizeof(pc->lockdown), "unknown");
	FILE *f = fopen("/sys/kernel/security/lockdown", "r");
	if (!f)
		return;
	char line[128];
	if (fgets(line, sizeof(line), f)) {
		char *open = strchr(line, '['), *close_ = open ? strchr(open, ']') : NULL;
		if (open && close_) {
			*close_ = '\0';
			snprintf(pc->lockdown, sizeof(pc->lockdown), "%s", open + 1);
		}
	}
	fclose(f);
}

static void probe_privilege(struct probe_cache *pc)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "bpfpush_probe", 4, 4, 1, NULL);
	if (fd >= 0) {
		close(fd);
		pc->privileged = true;
		return;
	}
	int err = errno;
	if (err == EPERM || err == EACCES)
		reason(pc->privilege_why, "the bpf() syscall refused us (%s): run as root or with CAP_BPF and CAP_PERFMON",
		       strerror(err));
	else
		reason(pc->privilege_why, "the bpf() syscall is not available (%s)", strerror(err));
}

static void probe_tiers(struct probe_cache *pc)
{
	char(*why)[REASON_MAX] = pc->tier_why;
	if (!pc->privileged) {
		for (int t = ATTACH_FENTRY; t < ATTACH_TIER_COUNT; t++)
			reason(why[t], "unknown: probing needs BPF privileges");
		return;
	}
	int rc = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_RAW_TRACEPOINT, NULL);
	pc->tier_ok[ATTACH_RAW_TP] = rc == 1;
	if (rc != 1)
		reason(why[ATTACH_RAW_TP], "raw tracepoint programs do not load here (%s)", rc < 0 ? strerror(-rc) : "unsupported");

	struct btf *vmlinux = probe_cache_btf(pc);
	if (!vmlinux) {
		reason(why[ATTACH_TP_BTF], "no kernel BTF (/sys/kernel/btf/vmlinux)");
		reason(why[ATTACH_FENTRY], "no kernel BTF (/sys/kernel/btf/vmlinux)");
	} else {
		int id = btf__find_by_name_kind(vmlinux, "btf_trace_sched_switch", BTF_KIND_TYPEDEF);
		rc = id > 0 ? load_trivial(BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP, id) : -ENOENT;
		pc->tier_ok[ATTACH_TP_BTF] = rc == 0;
		if (rc)
			reason(why[ATTACH_TP_BTF], "BTF tracepoint programs do not load here (%s)", strerror(-rc));
		/* bpf_fentry_test1 exists for exactly this kind of check; vfs_read is a fallback. */
		id = btf__find_by_name_kind(vmlinux, "bpf_fentry_test1", BTF_KIND_FUNC);
		if (id <= 0)
			id = btf__find_by_name_kind(vmlinux, "vfs_read", BTF_KIND_FUNC);
		rc = id > 0 ? attach_trivial_fentry((__u32)id) : -ENOENT;
		pc->tier_ok[ATTACH_FENTRY] = rc == 0;
		if (rc < 0)
			reason(why[ATTACH_FENTRY], "fentry programs do not load here (%s)", strerror(-rc));
		else if (rc > 0)
			reason(why[ATTACH_FENTRY], "fentry programs load but do not attach here (%s%s)",
			       rc == 524 ? "error 524, not supported" : strerror(rc),
			       rc == 524 ? ": no BPF trampolines on this kernel, as on arm64 before 6.4" : "");
	}

	if (path_exists("/sys/bus/event_source/devices/kprobe/type") ||
	    (pc->tracefs[0] && path_exists(TRACEFS_MOUNT "/kprobe_events")))
		pc->tier_ok[ATTACH_KPROBE] = true;
	else
		reason(why[ATTACH_KPROBE], "no kprobe PMU and no kprobe_events (kernel built without CONFIG_KPROBES?)");

	rc = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_TRACEPOINT, NULL);
	if (rc != 1)
		reason(why[ATTACH_TRACEPOINT], "tracepoint programs do not load here (%s)", rc < 0 ? strerror(-rc) : "unsupported");
	else if (!pc->tracefs[0])
		reason(why[ATTACH_TRACEPOINT], "tracefs is not mounted and we may not mount it (needs CAP_SYS_ADMIN)");
	else
		pc->tier_ok[ATTACH_TRACEPOINT] = true;
}

struct module_btfs {
	struct btf *vmlinux;
	bool loaded;
	size_t n;
	struct btf **btf;
};

struct btf *probe_cache_btf(const struct probe_cache *pc)
{
	struct module_btfs *mb = pc->module_btfs;
	if (!pc->has_btf || !mb)
		return NULL;
	if (!mb->vmlinux)
		mb->vmlinux = kernel_btf_load();
	return mb->vmlinux;
}

void probe_cache_release_btf(const struct probe_cache *pc)
{
	struct module_btfs *mb = pc->module_btfs;
	if (!mb)
		return;
	/* Split BTF lean on vmlinux's: they go first. */
	for (size_t i = 0; i < mb->n; i++)
		btf__free(mb->btf[i]);
	free(mb->btf);
	mb->btf = NULL;
	mb->n = 0;
	mb->loaded = false;
	btf__free(mb->vmlinux);
	mb->vmlinux = NULL;
}

/*
 * A socket filter with one compare-and-exchange. Kernels before 5.12 refuse
 * any program that holds one, reached or not ("BPF_STX uses reserved fields").
 */
static bool probe_atomics_fetch(void)
{
	/* *(u64 *)(r10 - 8) = 0; r0 = 0; r1 = 1; r0 = cmpxchg(r10 - 8, r0, r1); r0 = 0; exit */
	struct bpf_insn prog[] = {
		{ .code = BPF_ST | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_10, .off = -8, .imm = 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1, .imm = 1 },
		{ .code = BPF_STX | BPF_ATOMIC | BPF_DW, .dst_reg = BPF_REG_10, .src_reg = BPF_REG_1, .off = -8,
		  .imm = BPF_CMPXCHG },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, NULL, "GPL", prog, sizeof(prog) / sizeof(prog[0]), NULL);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/*
 * Does the kernel load an iterator program over TARGET ("tcp",
 * "bpf_sk_storage_map")? Some refuse one kind and take another (EPERM for
 * every map iterator on one 6.18 host): a program that does nothing, loaded
 * and closed at once.
 */
static bool probe_iterator(const struct btf *vmlinux, const char *target)
{
	char func[64];
	snprintf(func, sizeof(func), "bpf_iter_%s", target);
	int id = vmlinux ? btf__find_by_name_kind(vmlinux, func, BTF_KIND_FUNC) : -1;
	if (id <= 0)
		return false;
	const struct bpf_insn return_zero[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_ITER, .attach_btf_id = (__u32)id);
	int fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "iter_probe", "GPL", return_zero, 2, &opts);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

void probe_cache_init(struct probe_cache *pc)
{
	memset(pc, 0, sizeof(*pc));
	pc->module_btfs = calloc(1, sizeof(*pc->module_btfs));
	pc->has_btf = true; /* until the first parse says otherwise */
	pc->has_btf = probe_cache_btf(pc) != NULL;
	probe_privilege(pc);
	find_tracefs(pc);
	read_lockdown(pc);
	probe_tiers(pc);
	pc->atomics_fetch = pc->privileged && probe_atomics_fetch();
	pc->iter_sk_storage = pc->privileged && probe_iterator(probe_cache_btf(pc), "bpf_sk_storage_map");
	pc->iter_tcp = pc->privileged && probe_iterator(probe_cache_btf(pc), "tcp");
	if (!strcmp(pc->lockdown, "confidentiality"))
		log_warn("attach", "kernel lockdown is 'confidentiality': BPF may not read kernel memory, "
				   "programs that do will be refused");
}

void probe_cache_free(struct probe_cache *pc)
{
	probe_cache_release_btf(pc);
	free(pc->module_btfs);
	pc->module_btfs = NULL;
}

/*
 * Functions of loadable modules (a filesystem built as a module) are in the
 * module's BTF, split on top of vmlinux's. Read them all once, and only when
 * a function was not found in vmlinux: most hosts never need them.
 */
static void load_module_btfs(const struct probe_cache *pc)
{
	struct module_btfs *mb = pc->module_btfs;
	struct btf *vmlinux = probe_cache_btf(pc);
	if (!mb || mb->loaded || !vmlinux)
		return;
	mb->loaded = true;
	DIR *dir = opendir("/sys/kernel/btf");
	struct dirent *de;
	while (dir && (de = readdir(dir))) {
		if (de->d_name[0] == '.' || !strcmp(de->d_name, "vmlinux"))
			continue;
		char path[300];
		snprintf(path, sizeof(path), "/sys/kernel/btf/%s", de->d_name);
		struct btf *btf = btf__parse_split(path, vmlinux);
		if (!btf)
			continue;
		struct btf **grown = realloc(mb->btf, (mb->n + 1) * sizeof(*grown));
		if (!grown) {
			btf__free(btf);
			break;
		}
		mb->btf = grown;
		mb->btf[mb->n++] = btf;
	}
	if (dir)
		closedir(dir);
}

/* Is `name` a function in the BTF of vmlinux or of a loaded module? */
static bool btf_function_exists(const struct probe_cache *pc, const char *name)
{
	struct btf *vmlinux = probe_cache_btf(pc);
	if (!vmlinux)
		return false;
	if (btf__find_by_name_kind(vmlinux, name, BTF_KIND_FUNC) > 0)
		return true;
	load_module_btfs(pc);
	for (size_t i = 0; pc->module_btfs && i < pc->module_btfs->n; i++)
		if (btf__find_by_name_kind(pc->module_btfs->btf[i], name, BTF_KIND_FUNC) > 0)
			return true;
	return false;
}

void attach_way_describe(const struct attach_way *way, char *out, size_t cap)
{
	if (way->syscalls[0])
		snprintf(out, cap, "syscall layer");
	else if (way->layer != SYSCALL_LAYER_AUTO)
		snprintf(out, cap, "%s (syscall %s)", config_attach_tier_name(way->tier), layer_names[way->layer]);
	else if (way->variant)
		snprintf(out, cap, "%s (%s)", config_attach_tier_name(way->tier), way->variant);
	else
		snprintf(out, cap, "%s", config_attach_tier_name(way->tier));
}

static bool kallsyms_has(const char *sym)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	if (!f)
		return true; /* unknown: let the load decide */
	char line[512];
	size_t n = strlen(sym);
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *name = strchr(line, ' ');
		name = name ? strchr(name + 1, ' ') : NULL;
		if (name && !strncmp(name + 1, sym, n) && (name[1 + n] == '\n' || name[1 + n] == '\t'))
			found = true;
	}
	fclose(f);
	return found;
}

/* Does the kernel have what this program's section names? "" when it does (or we cannot tell). */
static bool target_missing(const struct probe_cache *pc, const struct bpf_program *prog, char *why)
{
	const char *sec = bpf_program__section_name(prog);
	const char *slash = strchr(sec, '/');
	if (!slash)
		return false;
	const char *target = slash + 1;
	size_t kind_len = (size_t)(slash - sec);
	char name[160];
	if (!strncmp(sec, "tp_btf", kind_len) || !strncmp(sec, "raw_tp", kind_len)) {
		snprintf(name, sizeof(name), "btf_trace_%s", target);
		struct btf *vmlinux = probe_cache_btf(pc);
		if (vmlinux && btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF) <= 0) {
			reason(why, "no tracepoint %s in this kernel", target);
			return true;
		}
	} else if (!strncmp(sec, "tracepoint", kind_len) || !strncmp(sec, "tp", kind_len)) {
		snprintf(name, sizeof(name), "%s/events/%s", pc->tracefs, target);
		if (pc->tracefs[0] && !path_exists(name) && errno == ENOENT) {
			reason(why, "no tracepoint %s in this kernel", target);
			return true;
		}
	} else if (!strncmp(sec, "fentry", kind_len) || !strncmp(sec, "fexit", kind_len)) {
		if (probe_cache_btf(pc) && !btf_function_exists(pc, target)) {
			reason(why, "no traceable function %s in this kernel's BTF", target);
			return true;
		}
	} else if (!strncmp(sec, "kprobe", kind_len) || !strncmp(sec, "kretprobe", kind_len)) {
		if (!kallsyms_has(target)) {
			reason(why, "no kernel symbol %s", target);
			return true;
		}
	}
	return false;
}

static bool btf_has_function(const char *name, void *arg)
{
	return btf_function_exists(arg, name);
}

/* kprobes need a symbol, not BTF: functions without BTF (SYSCALL_DEFINE0 wrappers) still qualify. */
static bool kernel_has_symbol(const char *name, void *arg)
{
	return btf_has_function(name, arg) || kallsyms_has(name);
}

static bool is_kprobe_tier(enum attach_tier tier) { return tier == ATTACH_KPROBE; }

/* The name this kernel uses for program p's target; false when it has none. */
static bool resolve_target(const struct probe_cache *pc, const struct attach_way *way, int p, char *out, size_t cap)
{
	kernel_has_fn has = is_kprobe_tier(way->tier) ? kernel_has_symbol : btf_has_function;
	return kernel_name_resolve(way->targets[p], has, (void *)pc, out, cap);
}

static bool way_exists(const struct attach_way *way) { return way->tier || way->syscalls[0]; }

/* Are the kernel functions or tracepoints this way hooks present (whatever the tier's support)? */
static bool way_present(const struct module *m, const struct attach_way *way, char *why)
{
	if (way->syscalls[0])
		return true;
	for (int p = 0; p < WAY_MAX_PROGS && way->progs[p]; p++) {
		if (way->targets[p]) {
			char name[128];
			if (!resolve_target(m->probes, way, p, name, sizeof(name))) {
				reason(why, "no %s %s in this kernel", is_kprobe_tier(way->tier) ? "kernel symbol" : "BTF function",
				       name);
				return false;
			}
			continue;
		}
		struct bpf_program *prog = m->obj ? bpf_object__find_program_by_name(m->obj, way->progs[p]) : NULL;
		if (!prog) {
			reason(why, "internal: program %s is not in the object", way->progs[p]);
			return false;
		}
		if (target_missing(m->probes, prog, why))
			return false;
	}
	return true;
}

/* The modules whose attach and syscall_layer keys govern an event (the syscall layer's: attach_keys.h). */
static module_id_t config_owner(const struct module *m, const struct event_desc *ev)
{
	return ev->config_owner ? (module_id_t)(ev->config_owner - 1) : m->id;
}

static module_id_t layer_config_owner(const struct module *m, const struct event_desc *ev)
{
	return ev->layer_config_owner ? (module_id_t)(ev->layer_config_owner - 1) : config_owner(m, ev);
}

static bool has_layered_ways(const struct event_desc *ev)
{
	for (int i = 0; i < EVENT_MAX_WAYS && way_exists(&ev->ways[i]); i++)
		if (ev->ways[i].layer != SYSCALL_LAYER_AUTO)
			return true;
	return false;
}

/*
 * Forcing (docs/design.md "Attach tiers"): a forced syscall layer narrows a syscall-derived
 * event to that layer's ways; a forced tier then applies among what is left,
 * and only where one of those ways has that tier and its hooks exist on this
 * kernel. Everything else keeps its automatic choice.
 */
static bool way_allowed(const struct module *m, const struct event_desc *ev, int w, char *why)
{
	const struct attach_way *way = &ev->ways[w];
	enum attach_tier forced = config_module_attach(m->cfg, config_owner(m, ev));
	enum syscall_layer layer = config_module_syscall_layer(m->cfg, layer_config_owner(m, ev));
	bool narrowed = layer != SYSCALL_LAYER_AUTO && has_layered_ways(ev);
	if (narrowed && way->layer != layer) {
		reason(why, "not tried: syscall_layer %s is forced", layer_names[layer]);
		return false;
	}
	if (forced == ATTACH_AUTO || way->tier == forced)
		return true;
	for (int i = 0; i < EVENT_MAX_WAYS && way_exists(&ev->ways[i]); i++) {
		char ignored[REASON_MAX];
		if (ev->ways[i].tier == forced && (!narrowed || ev->ways[i].layer == layer) &&
		    way_present(m, &ev->ways[i], ignored)) {
			reason(why, "not tried: attach %s is forced", config_attach_tier_name(forced));
			return false;
		}
	}
	return true;
}

/* Does the kernel offer what a way needs, as far as probing can tell? */
static bool way_usable(const struct module *m, size_t e, int w, char *why)
{
	const struct attach_way *way = &m->ops->events[e].ways[w];
	if (way->syscalls[0]) {
		/* The layer itself picks and reports a tier; its last resorts are these. */
		const bool *ok = m->probes->tier_ok;
		if (ok[ATTACH_TP_BTF] || ok[ATTACH_RAW_TP] || ok[ATTACH_TRACEPOINT] || ok[ATTACH_FENTRY] || ok[ATTACH_KPROBE])
			return true;
		reason(why, "the syscall layer needs a working tier: %s", m->probes->tier_why[ATTACH_RAW_TP]);
		return false;
	}
	if (!m->probes->tier_ok[way->tier]) {
		reason(why, "%s", m->probes->tier_why[way->tier]);
		return false;
	}
	if (!way_present(m, way, why))
		return false;
	return !m->ops->way_fits || m->ops->way_fits(m, e, w, why);
}

/* Pick the first usable way of every wanted event. */
static void choose_ways(struct module *m)
{
	for (size_t e = 0; e < m->ops->nevents; e++) {
		const struct event_desc *ev = &m->ops->events[e];
		struct event_state *st = &m->events[e];
		st->chosen = -1;
		if (!st->wanted)
			continue;
		for (int w = 0; w < EVENT_MAX_WAYS && way_exists(&ev->ways[w]); w++) {
			char *why = st->refused[w];
			if (why[0])
				continue; /* refused in an earlier round */
			if (way_allowed(m, ev, w, why) && way_usable(m, e, w, why)) {
				st->chosen = w;
				break;
			}
		}
	}
}

static const struct attach_way *chosen_way(const struct module *m, size_t e)
{
	int w = m->events[e].chosen;
	return w < 0 ? NULL : &m->ops->events[e].ways[w];
}

static void set_autoload(struct module *m, int only_event)
{
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, m->obj) bpf_program__set_autoload(prog, false);
	for (size_t e = 0; e < m->ops->nevents; e++) {
		const struct attach_way *way = chosen_way(m, e);
		if (!way || (only_event >= 0 && (size_t)only_event != e))
			continue;
		for (int p = 0; p < WAY_MAX_PROGS && way->progs[p]; p++) {
			struct bpf_program *chosen = bpf_object__find_program_by_name(m->obj, way->progs[p]);
			bpf_program__set_autoload(chosen, true);
			char name[128];
			/* fentry/fexit bind to their function at load; kprobes at attach. */
			if (way->targets[p] && !is_kprobe_tier(way->tier) &&
			    resolve_target(m->probes, way, p, name, sizeof(name)))
				bpf_program__set_attach_target(chosen, 0, name);
		}
	}
}

static void close_object(struct module *m)
{
	if (m->obj && m->ops->destroy)
		m->ops->destroy(m);
	m->obj = NULL;
}

static int open_object(struct module *m)
{
	if (!m->ops->open)
		return 0;
	m->obj = m->ops->open(m);
	resident_drop_embedded_objects(); /* libbpf has copied what it needs from them */
	if (!m->obj) {
		snprintf(m->failure, sizeof(m->failure), "cannot open its BPF object (%s)", strerror(errno));
		return -1;
	}
	return 0;
}

/* Does the module run its sock:* programs in the agent's sock chain? */
static bool chain_member(const struct module *m)
{
	return m->sock_chain && m->ops->sock_chain_slot;
}

static int load_object(struct module *m, int only_event)
{
	if (!m->obj)
		return 0;
	set_autoload(m, only_event);
	if (m->ops->prepare)
		m->ops->prepare(m);
	probe_cache_release_btf(m->probes);
	int err = chain_member(m) ? sock_chain_share(m->sock_chain, m->obj) : 0;
	if (err)
		return err;
	err = bpf_object__load(m->obj);
	resident_drop_embedded_objects();
	return err;
}

/*
 * The object failed to load: find which events' programs fail on their own,
 * so that only they fall back to their next way.
 */
static int blame_load_failure(struct module *m, int load_err)
{
	int blamed = 0;
	int *chosen = calloc(m->ops->nevents, sizeof(*chosen));
	if (!chosen)
		return -1;
	for (size_t e = 0; e < m->ops->nevents; e++)
		chosen[e] = m->events[e].chosen;
	for (size_t e = 0; e < m->ops->nevents; e++) {
		if (chosen[e] < 0 || m->ops->events[e].ways[chosen[e]].syscalls[0])
			continue;
		close_object(m);
		if (open_object(m)) {
			free(chosen);
			return -1;
		}
		for (size_t k = 0; k < m->ops->nevents; k++)
			m->events[k].chosen = chosen[k];
		int err = load_object(m, (int)e);
		if (err) {
			reason(m->events[e].refused[chosen[e]], "load failed: %s", strerror(-err));
			blamed++;
		}
	}
	free(chosen);
	close_object(m);
	if (!blamed) {
		snprintf(m->failure, sizeof(m->failure), "its BPF object does not load: %s", strerror(-load_err));
		return -1;
	}
	return 0;
}

static void unlink_all(struct module *m)
{
	if (!m->events)
		return;
	for (size_t e = 0; e < m->ops->nevents; e++)
		for (int p = 0; p < WAY_MAX_PROGS; p++) {
			bpf_link__destroy(m->events[e].links[p]);
			m->events[e].links[p] = NULL;
			/* Out of the chain before the object goes: a slot would keep the program running. */
			if (m->events[e].chain_hook[p])
				sock_chain_leave(m->sock_chain, m->events[e].chain_hook[p] - 1, m->ops->sock_chain_slot);
			m->events[e].chain_hook[p] = 0;
		}
}

/* Was this program attached already for an earlier event (a shared dispatcher)? */
static bool attached_before(const struct module *m, size_t upto, const char *prog)
{
	for (size_t e = 0; e < upto; e++) {
		const struct attach_way *way = chosen_way(m, e);
		for (int p = 0; way && p < WAY_MAX_PROGS && way->progs[p]; p++)
			if (!strcmp(way->progs[p], prog))
				return true;
	}
	return false;
}

/*
 * Program p of event e's chosen way is attached (and accounted) there only at
 * its first use: events share programs (a dispatcher, the sock:* programs of
 * both protocols), and a way shorter than its slots repeats one.
 */
static bool first_use(const struct module *m, size_t e, const struct attach_way *way, int p)
{
	if (attached_before(m, e, way->progs[p]))
		return false;
	for (int q = 0; q < p; q++)
		if (!strcmp(way->progs[q], way->progs[p]))
			return false;
	return true;
}

/* Attach every chosen way; the first failure is recorded against its way. */
static int attach_chosen(struct module *m)
{
	for (size_t e = 0; e < m->ops->nevents; e++) {
		struct event_state *st = &m->events[e];
		const struct attach_way *way = chosen_way(m, e);
		for (int p = 0; way && p < WAY_MAX_PROGS && way->progs[p]; p++) {
			if (!first_use(m, e, way, p))
				continue;
			struct bpf_program *prog = bpf_object__find_program_by_name(m->obj, way->progs[p]);
			int hook = chain_member(m) ? sock_chain_hook_of(prog) : -1;
			if (hook >= 0) {
				int err = sock_chain_join(m->sock_chain, hook, m->ops->sock_chain_slot, prog, m->obj);
				if (err) {
					reason(st->refused[st->chosen], "attach failed: the sock chain: %s", strerror(-err));
					return -1;
				}
				st->chain_hook[p] = hook + 1;
				continue;
			}
			struct bpf_link *link;
			char name[128];
			if (way->targets[p] && is_kprobe_tier(way->tier) && resolve_target(m->probes, way, p, name, sizeof(name)))
				link = bpf_program__attach_kprobe(prog, !strncmp(bpf_program__section_name(prog), "kretprobe", 9),
								  name);
			else
				link = bpf_program__attach(prog);
			if (!link) {
				int err = errno;
				reason(st->refused[st->chosen], "attach failed: %s", strerror(err));
				return -1;
			}
			st->links[p] = link;
		}
	}
	return 0;
}

static size_t count_chosen(const struct module *m)
{
	size_t n = 0;
	for (size_t e = 0; e < m->ops->nevents; e++)
		n += m->events[e].chosen >= 0;
	return n;
}

static size_t count_wanted(const struct module *m)
{
	size_t n = 0;
	for (size_t e = 0; e < m->ops->nevents; e++)
		n += m->events[e].wanted;
	return n;
}

/*
 * "no way to attach ..." alone leaves the operator to run --probe to learn
 * why; the first wanted event's refusals (the cheapest way first) usually
 * tell it in one line: "lookup_fast: fentry: fentry programs do not load here".
 */
static void fail_no_way(struct module *m)
{
	size_t cap = sizeof(m->failure), n;
	n = (size_t)snprintf(m->failure, cap, "no way to attach any of its events on this kernel");
	for (size_t e = 0; e < m->ops->nevents; e++) {
		const struct event_desc *ev = &m->ops->events[e];
		const struct event_state *st = &m->events[e];
		if (!st->wanted)
			continue;
		bool first = true;
		for (int w = 0; w < EVENT_MAX_WAYS && ev->ways[w].tier && n < cap; w++) {
			if (!st->refused[w][0])
				continue;
			char desc[64];
			attach_way_describe(&ev->ways[w], desc, sizeof(desc));
			if (first)
				n += (size_t)snprintf(m->failure + n, cap - n, " (%s: ", ev->name);
			else
				n += (size_t)snprintf(m->failure + n, cap - n, "; ");
			if (n < cap)
				n += (size_t)snprintf(m->failure + n, cap - n, "%s: %s", desc, st->refused[w]);
			first = false;
		}
		if (!first && n < cap)
			snprintf(m->failure + n, cap - n, ")");
		break;
	}
}

int attach_module(struct module *m)
{
	m->failure[0] = '\0';
	if (m->attached_cfg != m->cfg) {
		config_free(m->attached_cfg);
		m->attached_cfg = config_ref(m->cfg);
	}
	free(m->events);
	m->events = calloc(m->ops->nevents ? m->ops->nevents : 1, sizeof(*m->events));
	if (!m->events) {
		snprintf(m->failure, sizeof(m->failure), "out of memory");
		return -1;
	}
	for (size_t e = 0; e < m->ops->nevents; e++) {
		m->events[e].chosen = -1;
		bool ret = m->cfg->global.load_mode == LOAD_MODE_RETURN;
		const struct event_desc *ev = &m->ops->events[e];
		m->events[e].wanted = (!ev->return_mode_only || ret) && (!ev->entry_mode_only || !ret) &&
				      (!m->ops->wants || m->ops->wants(m, e));
	}
	if (!m->probes->privileged) {
		snprintf(m->failure, sizeof(m->failure), "%s", m->probes->privilege_why);
		return -1;
	}
	if (m->ops->runs_without_events && !count_wanted(m)) {
		if (open_object(m)) /* its state; nothing is loaded */
			return -1;
		m->attached = true;
		return 0;
	}
	/* Each round refuses at least one more way, so this ends. */
	for (int round = 0; round < EVENT_MAX_WAYS * 8; round++) {
		if (open_object(m))
			return -1;
		choose_ways(m);
		if (!count_chosen(m)) {
			close_object(m);
			fail_no_way(m);
			return -1;
		}
		int err = load_object(m, -1);
		if (err) {
			if (blame_load_failure(m, err))
				return -1;
			continue;
		}
		if (m->obj && attach_chosen(m)) {
			unlink_all(m);
			close_object(m);
			continue;
		}
		m->attached = true;
		return 0;
	}
	snprintf(m->failure, sizeof(m->failure), "gave up after too many load attempts");
	return -1;
}

void attach_refuse_event(struct module *m, size_t e, const char *why)
{
	struct event_state *st = &m->events[e];
	if (st->chosen < 0)
		return;
	reason(st->refused[st->chosen], "%s", why);
	st->chosen = -1;
	if (!count_chosen(m)) {
		fail_no_way(m);
		m->attached = false;
	}
}

/* The sock:* programs compare the tier a prepare() gives them with their own: one numbering. */
_Static_assert(SOCK_TIER_TP_BTF == ATTACH_TP_BTF && SOCK_TIER_RAW_TP == ATTACH_RAW_TP &&
		       SOCK_TIER_TRACEPOINT == ATTACH_TRACEPOINT,
	       "probes/sock_tier.h numbers tiers as enum attach_tier does");

enum attach_tier attach_chosen_tier(const struct module *m, size_t e)
{
	const struct attach_way *way = chosen_way(m, e);
	return way ? way->tier : ATTACH_AUTO;
}

enum attach_tier attach_pair_tier(const struct module *m, size_t entry_event, size_t result_event)
{
	enum attach_tier tier = attach_chosen_tier(m, entry_event);
	return tier != ATTACH_AUTO ? tier : attach_chosen_tier(m, result_event);
}

/*
 * struct bpf_link_info as kernels from 6.7 fill it for a kprobe's perf-event
 * link, up to the probe's own missed count (UAPI, so stable; the build's
 * headers may predate it). Older kernels leave missed 0 or refuse the call.
 */
struct kprobe_link_info {
	uint32_t type;          /* BPF_LINK_TYPE_PERF_EVENT */
	uint32_t id;
	uint32_t prog_id;
	uint32_t unused;        /* the union's 8-byte alignment */
	uint32_t perf_event_type; /* KPROBE_PERF_EVENT or KRETPROBE_PERF_EVENT */
	uint32_t unused2;
	uint64_t func_name;     /* 0: the name is not wanted */
	uint32_t name_len;
	uint32_t offset;
	uint64_t addr;
	uint64_t missed;
};

#define PERF_EVENT_LINK 7 /* BPF_LINK_TYPE_PERF_EVENT */
#define KPROBE_PERF_EVENT 3    /* BPF_PERF_EVENT_KPROBE */
#define KRETPROBE_PERF_EVENT 4 /* BPF_PERF_EVENT_KRETPROBE */

/*
 * Hits a kprobe or kretprobe could not run its program for. A kretprobe has
 * max(10, 2 x possible CPUs) instances: while more tasks than that are inside
 * the probed function (threads blocked in read(2)), the others' returns are
 * missed, and the kernel counts them only here.
 */
static uint64_t kprobe_link_missed(const struct bpf_link *link)
{
	struct kprobe_link_info info;
	__u32 len = sizeof(info);
	memset(&info, 0, sizeof(info));
	int fd = link ? bpf_link__fd(link) : -1;
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) || len < sizeof(info) || info.type != PERF_EVENT_LINK)
		return 0;
	if (info.perf_event_type != KPROBE_PERF_EVENT && info.perf_event_type != KRETPROBE_PERF_EVENT)
		return 0;
	return info.missed;
}

uint64_t attach_missed_events(const struct module *m)
{
	uint64_t missed = 0;
	if (!m->obj || !m->events)
		return 0;
	for (size_t e = 0; e < m->ops->nevents; e++) {
		const struct attach_way *way = chosen_way(m, e);
		for (int p = 0; way && p < WAY_MAX_PROGS && way->progs[p]; p++) {
			if (!first_use(m, e, way, p))
				continue;
			/* A chained program runs from its hook's dispatcher: the kernel's misses are the dispatcher's. */
			int hook = m->events[e].chain_hook[p] - 1;
			struct bpf_program *prog = bpf_object__find_program_by_name(m->obj, way->progs[p]);
			int fd = hook >= 0 ? sock_chain_dispatcher_fd(m->sock_chain, hook) : prog ? bpf_program__fd(prog) : -1;
			struct bpf_prog_info info;
			__u32 len = sizeof(info);
			memset(&info, 0, sizeof(info));
			if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
				missed += info.recursion_misses;
			if (way->tier == ATTACH_KPROBE)
				missed += kprobe_link_missed(m->events[e].links[p]);
		}
	}
	return missed;
}

void detach_module(struct module *m)
{
	unlink_all(m);
	close_object(m);
	m->attached = false;
}

void module_release(struct module *m)
{
	detach_module(m);
	free(m->events);
	m->events = NULL;
	/* Last: the module's own state (freed by detach) pointed into it. */
	config_free(m->attached_cfg);
	m->attached_cfg = NULL;
}
