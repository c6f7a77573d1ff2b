/*
 * The module registry and every built module's tables: names match the
 * config, each event's ways are ordered by cost and name programs that exist
 * in the module's BPF object, and every metric is fed by some event.
 * Opening an object needs no privileges, so this runs anywhere.
 */
#include <bpf/libbpf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "module.h"
#include "syscall_table.h"
#include "syscall_watch.h"
#include "syscall_metrics.h"
#include "syscalls.skel.h"

#define MODULE_COUNT ((int)module_registry_count())

/*
 * Every registry entry is a whole module: a config name that finds it again
 * (one module per name), help for its section, metrics, events and a
 * collect; a table of keys comes with options to fill. The count is the
 * registry's own, so an entry left without a module fails here.
 */
static void test_names_match_config(void **state)
{
	int built = 0;
	for (int id = 0; id < MODULE_COUNT; id++) {
		const struct module_ops *ops = module_registry_get((module_id_t)id);
		if (!ops)
			print_message("  registry entry %d has no module\n", id);
		assert_non_null(ops);
		built++;
		assert_non_null(ops->name);
		assert_true(ops->name[0] != '\0');
		assert_int_equal(module_registry_find(ops->name), id);
		assert_non_null(ops->config_help);
		assert_true(ops->nkeys == 0 || ops->opts_size > 0);
		assert_true(ops->nmetrics > 0);
		assert_non_null(ops->metrics);
		assert_true(ops->nevents > 0);
		assert_non_null(ops->events);
		assert_non_null(ops->collect);
		for (size_t i = 0; i < ops->nmetrics; i++) {
			assert_non_null(ops->metrics[i].name);
			assert_true(ops->metrics[i].name[0] != '\0');
		}
	}
	assert_int_equal(built, MODULE_COUNT);
	assert_true(MODULE_COUNT > 0 && MODULE_COUNT <= MODULE_MAX);
	assert_null(module_registry_get((module_id_t)MODULE_COUNT));
	assert_int_equal(module_registry_find("nosuch"), -1);
}

static bool listed(const char *gives, const char *metric)
{
	size_t n = strlen(metric);
	for (const char *p = strstr(gives, metric); p; p = strstr(p + 1, metric))
		if ((p == gives || p[-1] == ' ') && (p[n] == '\0' || p[n] == ','))
			return true;
	return false;
}

static void test_events_and_metrics_agree(void **state)
{
	for (int id = 0; id < MODULE_COUNT; id++) {
		const struct module_ops *ops = module_registry_get((module_id_t)id);
		if (!ops)
			continue;
		for (size_t i = 0; i < ops->nmetrics; i++) {
			const struct metric_desc *md = &ops->metrics[i];
			bool fed = false, fed_in_entry = false;
			for (size_t e = 0; e < ops->nevents; e++)
				if (listed(ops->events[e].gives, md->name)) {
					fed = true;
					fed_in_entry |= !ops->events[e].return_mode_only;
				}
			/* Or read from the kernel's own file by a module that runs without events (softirq.events). */
			bool from_file = !fed && ops->runs_without_events;
			print_message("  %s: %s\n", md->name, fed ? "fed" : from_file ? "read from /proc" : "NOT FED");
			assert_true(fed || from_file);
			/* A metric that needs the result must not claim to come from an entry-only hook. */
			if (fed && !md->needs_result)
				assert_true(fed_in_entry);
		}
	}
}

static void test_ways_are_ordered_and_exist(void **state)
{
	for (int id = 0; id < MODULE_COUNT; id++) {
		const struct module_ops *ops = module_registry_get((module_id_t)id);
		if (!ops)
			continue;
		struct module m = { .ops = ops };
		struct bpf_object *obj = ops->open ? ops->open(&m) : NULL;
		if (ops->open)
			assert_non_null(obj);
		for (size_t e = 0; e < ops->nevents; e++) {
			const struct event_desc *ev = &ops->events[e];
			/* An event this build's architecture lacks (hardirq's x86 vectors) has no ways: it is never wanted. */
			if (!ev->ways[0].tier && !ev->ways[0].syscalls[0]) {
				assert_true(ops->wants && !ops->wants(&m, e) && ops->unwanted_why);
				continue;
			}
			assert_true(ev->ways[0].progs[0] || ev->ways[0].syscalls[0]);
			for (int w = 0; w < EVENT_MAX_WAYS && (ev->ways[w].tier || ev->ways[w].syscalls[0]); w++) {
				const struct attach_way *way = &ev->ways[w];
				if (way->syscalls[0]) {
					/* the syscall layer is the last resort: nothing after it */
					assert_true(w + 1 == EVENT_MAX_WAYS || (!ev->ways[w + 1].tier && !ev->ways[w + 1].syscalls[0]));
					for (int k = 0; k < WAY_MAX_SYSCALLS && way->syscalls[k]; k++)
						assert_true(way->syscalls[k] < SYS_COUNT);
					continue;
				}
				/*
				 * Cheapest first: kernel-function tiers, then tracepoint tiers. An
				 * event read from its tracepoint by preference (oomkill: it passes
				 * the victim) may fall back to kernel functions once, then to the
				 * classic tracepoint.
				 */
				bool fallback_to_functions = w && ev->ways[w - 1].tier >= ATTACH_TP_BTF && way->tier <= ATTACH_KPROBE;
				/* Only the syscall layer's own ways name a layer (agent/kernel/syscall_watch.c). */
				assert_int_equal(way->layer, SYSCALL_LAYER_AUTO);
				/*
				 * Ways with a variant (disk: request slots, which older kernels
				 * refuse to load) run through the tiers once per variant.
				 */
				bool next_variant = w && ev->ways[w - 1].variant &&
						    (!way->variant || strcmp(ev->ways[w - 1].variant, way->variant));
				if (w && !fallback_to_functions && !next_variant)
					assert_true(ev->ways[w - 1].tier <= way->tier);
				for (int p = 0; p < WAY_MAX_PROGS && way->progs[p]; p++) {
					assert_non_null(obj);
					struct bpf_program *prog = bpf_object__find_program_by_name(obj, way->progs[p]);
					if (!prog)
						print_message("  missing program %s\n", way->progs[p]);
					assert_non_null(prog);
					/* the section kind must be the tier the table claims */
					const char *sec = bpf_program__section_name(prog);
					const char *tier = config_attach_tier_name(way->tier);
					if (!strcmp(tier, "tracepoint"))
						assert_true(!strncmp(sec, "tracepoint/", 11) || !strncmp(sec, "tp/", 3));
					else if (!strcmp(tier, "fentry"))
						assert_true(!strncmp(sec, "fentry", 6) || !strncmp(sec, "fexit", 5));
					else if (!strcmp(tier, "kprobe"))
						assert_true(!strncmp(sec, "kprobe", 6) || !strncmp(sec, "kretprobe", 9));
					else
						assert_true(!strncmp(sec, tier, strlen(tier)));
				}
			}
		}
		if (ops->destroy)
			ops->destroy(&m);
	}
}

/* Every row of the syscall table has its per-syscall tracepoint program. */
static void test_syscall_layer_has_every_row(void **state)
{
	struct syscalls_bpf *skel = syscalls_bpf__open();
	assert_non_null(skel);
	for (int id = SYS_NONE + 1; id < SYS_COUNT; id++) {
		char prog[64];
		snprintf(prog, sizeof(prog), "exit_%s", syscall_name((enum syscall_id)id));
		assert_non_null(bpf_object__find_program_by_name(skel->obj, prog));
	}
	assert_non_null(bpf_object__find_program_by_name(skel->obj, "dispatch_tp_btf"));
	assert_non_null(bpf_object__find_program_by_name(skel->obj, "dispatch_raw_tp"));
	syscalls_bpf__destroy(skel);
}

/* Every syscall sum names a metric of the module's catalogue and one of its events, and back. */
static void test_syscall_sums_match_catalogue(void **state)
{
	for (int id = 0; id < MODULE_COUNT; id++) {
		const struct module_ops *ops = module_registry_get((module_id_t)id);
		if (!ops || !ops->syscall_sums)
			continue;
		assert_true(ops->nsyscall_sums <= ops->nmetrics);
		for (size_t i = 0; i < ops->nsyscall_sums; i++) {
			const struct syscall_metric *sum = &ops->syscall_sums[i];
			assert_true(sum->event >= 0 && (size_t)sum->event < ops->nevents);
			assert_true(listed(ops->events[sum->event].gives, sum->name));
			bool in_catalogue = false;
			for (size_t k = 0; k < ops->nmetrics; k++)
				in_catalogue |= !strcmp(ops->metrics[k].name, sum->name);
			assert_true(in_catalogue);
			assert_true(sum->terms[0].id > SYS_NONE && sum->terms[0].id < SYS_COUNT);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_match_config),
		cmocka_unit_test(test_events_and_metrics_agree),
		cmocka_unit_test(test_ways_are_ordered_and_exist),
		cmocka_unit_test(test_syscall_layer_has_every_row),
		cmocka_unit_test(test_syscall_sums_match_catalogue),
	};
	return cmocka_run_group_tests_name("module registry", tests, NULL, NULL);
}
