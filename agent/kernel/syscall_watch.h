/*
 * The shared syscall layer: one BPF object (probes/syscalls.bpf.c) that
 * watches, for every module, the syscalls its metrics are defined by, so that
 * six modules cost one program run per syscall, not six.
 *
 * Modules name the rows they need in a way of their events (attach_way
 * .syscalls); once every module has chosen its ways, the layer loads with the
 * union of those rows, picking dispatcher or per-syscall tracepoints per row
 * from the attach / syscall_layer keys that govern it (attach_keys.h).
 */
#ifndef BPFPUSH_SYSCALL_WATCH_H
#define BPFPUSH_SYSCALL_WATCH_H

#include "attach.h"
#include "module.h"
#include "syscall_table.h"

struct syscall_watch;

struct syscall_watch *syscall_watch_new(const struct config *cfg, const struct probe_cache *pc);
/*
 * Gather the rows requested by the chosen ways of these modules, load and
 * attach, then tell each module's events how they were attached (or refuse
 * them, with the reason). Modules without syscall-layer ways are untouched.
 */
int syscall_watch_attach(struct syscall_watch *layer, struct module *modules, size_t nmodules);
/* The per-CPU counters of one row, summed. */
int syscall_watch_read(const struct syscall_watch *layer, enum syscall_id id, struct syscall_stats *out);
/* The layer as a module, for --probe (NULL before attach or when nothing was requested). */
const struct module *syscall_watch_module(const struct syscall_watch *layer);
void syscall_watch_free(struct syscall_watch *layer);
/* A reload that keeps the layer: it reads the new config from now on. */
void syscall_watch_set_config(struct syscall_watch *layer, const struct config *cfg);

const char *syscall_name(enum syscall_id id);
/* The layer's ways of watching one syscall, cheapest first (also what attach_keys.c checks keys against). */
void syscall_layer_ways(enum syscall_id id, bool return_mode, struct attach_way ways[EVENT_MAX_WAYS]);

#endif
