/*
 * Feature probing and the ordered attach tiers (docs/design.md "Attach tiers").
 *
 * probe_cache_init asks the kernel once per run what it offers; attach_module
 * picks, for every event of a module, the first way that the config allows,
 * the kernel has, and that loads and attaches, remembering why the others
 * were refused.
 */
#ifndef BPFPUSH_ATTACH_H
#define BPFPUSH_ATTACH_H

#include <stdbool.h>
#include <stdint.h>

#include "module.h"

struct btf;

struct module_btfs;

struct probe_cache {
	bool privileged;         /* bpf() accepted a map: root or CAP_BPF */
	char privilege_why[REASON_MAX];
	bool has_btf;            /* the kernel has BTF: probe_cache_btf() gives it */
	struct module_btfs *module_btfs; /* parsed BTF, read when needed, dropped by probe_cache_release_btf */
	bool tier_ok[ATTACH_TIER_COUNT];
	char tier_why[ATTACH_TIER_COUNT][REASON_MAX];
	char tracefs[64];        /* where events/ lives, "" when unreachable */
	char lockdown[32];       /* none | integrity | confidentiality | unknown */
	bool atomics_fetch;      /* the verifier takes BPF atomics with fetch (5.12): apps' per-CPU slots */
	bool iter_sk_storage;    /* iterator programs over a socket storage map load (network's pass) */
	bool iter_tcp;           /* and over TCP sockets: some hosts refuse every map iterator but this one */
};

/* Probe once; never fails (what is missing is recorded with its reason). */
void probe_cache_init(struct probe_cache *pc);
void probe_cache_free(struct probe_cache *pc);
/* The kernel's BTF, parsed on first use after a release; NULL without BTF (or memory). */
struct btf *probe_cache_btf(const struct probe_cache *pc);
/*
 * Drop the parsed BTF (~6 MB on 6.18). Called before each object load, as
 * libbpf parses its own copy then, and after start-up: holding ours would
 * add its size to the agent's peak and resident memory for nothing.
 */
void probe_cache_release_btf(const struct probe_cache *pc);

/*
 * Open, load and attach a module, choosing a way for each wanted event.
 * Returns 0 when at least one event is attached; otherwise -1 with
 * m->failure saying why. Either way m->events say what was chosen and why
 * the other ways were refused.
 */
int attach_module(struct module *m);
/* Destroy links and the BPF object; safe to call twice. Event states stay for reports. */
void detach_module(struct module *m);
/* detach_module, then free the event states. */
void module_release(struct module *m);
/* A chosen way turned out not to work after all (the syscall layer refused it). */
void attach_refuse_event(struct module *m, size_t e, const char *why);
/*
 * For a prepare() callback: the tier of the way event e chose, ATTACH_AUTO
 * when none; or of a pair's (entry mode, return mode: one only is wanted).
 */
enum attach_tier attach_chosen_tier(const struct module *m, size_t e);
enum attach_tier attach_pair_tier(const struct module *m, size_t entry_event, size_t result_event);

/*
 * Events the kernel did not run this module's programs for: a kprobe or
 * classic tracepoint program that fires while another BPF program runs on
 * the same CPU is skipped (recursion protection) and the kernel counts it in
 * the program's recursion_misses where it does (fentry from 5.12, kprobe and
 * classic tracepoint from 6.7; before that those skips are silent).
 */
uint64_t attach_missed_events(const struct module *m);

/* Text for --probe: "tp_btf", "raw_tp + dispatcher", ... */
void attach_way_describe(const struct attach_way *way, char *out, size_t cap);

#endif
