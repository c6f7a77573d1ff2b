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

static void test_names_match_config(void **state)
{
	int built = 0;
	for (int id = 0; id < MODULE_COUNT; id++) {
		const struct module_ops *ops = module_registry_get((enum module_id)id);
		if (!ops)
			continue;
		built++;
		assert_int_equal(ops->id, id);
		assert_string_equal(ops->name, config_module_names[id]);
	}
	assert_true(built >= 1);
	assert_null(module_registry_get(MODULE_COUNT));
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
		const struct module_ops *ops = module_registry_get((enum module_id)id);
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
			print_message("  %s: %s\n", md->name, fed ? "fed" : "NOT FED");
			assert_true(fed);
			/* A metric that needs the result must not claim to come from an entry-only hook. */
			if (!md->needs_result)
				assert_true(fed_in_entry);
		}
	}
}

static void test_ways_are_ordered_and_exist(void **state)
{
	for (int id = 0; id < MODULE_COUNT; id++) {
		const struct module_ops *ops = module_registry_get((enum module_id)id);
		if (!ops)
			continue;
		struct module m = { .ops = ops };
		struct bpf_object *obj = ops->open(&m);
		assert_non_null(obj);
		for (size_t e = 0; e < ops->nevents; e++) {
			const struct event_desc *ev = &ops->events[e];
			assert_non_null(ev->ways[0].progs[0]);
			for (int w = 0; w < EVENT_MAX_WAYS && ev->ways[w].tier; w++) {
				if (w)
					assert_true(ev->ways[w - 1].tier <= ev->ways[w].tier);
				for (int p = 0; p < WAY_MAX_PROGS && ev->ways[w].progs[p]; p++) {
					struct bpf_program *prog = bpf_object__find_program_by_name(obj, ev->ways[w].progs[p]);
					if (!prog)
						print_message("  missing program %s\n", ev->ways[w].progs[p]);
					assert_non_null(prog);
					/* the section kind must be the tier the table claims */
					const char *sec = bpf_program__section_name(prog);
					const char *tier = config_attach_tier_name(ev->ways[w].tier);
					if (!strcmp(tier, "tracepoint"))
						assert_true(!strncmp(sec, "tracepoint/", 11) || !strncmp(sec, "tp/", 3));
					else
						assert_true(!strncmp(sec, tier, strlen(tier)));
				}
			}
		}
		ops->destroy(&m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_match_config),
		cmocka_unit_test(test_events_and_metrics_agree),
		cmocka_unit_test(test_ways_are_ordered_and_exist),
	};
	return cmocka_run_group_tests_name("module registry", tests, NULL, NULL);
}
