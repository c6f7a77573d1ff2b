/*
 * apps' programs that visit every CPU's slot (an exit's fold, a rename's
 * snapshot: probes/app_process.bpf.h) cost the verifier more with every
 * possible CPU. At 240 possible CPUs the exit's inlined fold once went past
 * the verifier's million instructions (E2BIG) and apps ran without
 * apps.task_exit. Here they load with slots for as many CPUs as get one
 * (APP_SLOT_MAX_CPUS), on every tracepoint tier this kernel has, and must
 * stay within a quarter of that limit: older verifiers prune less. Needs
 * root and the atomics the slots take; skipped otherwise.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "app_objects.h"
#include "apps.h"
#include "apps.skel.h"

#define VERIFIER_LIMIT 1000000u
#define BUDGET (VERIFIER_LIMIT / 4)

static const char *const tiers[] = { "tp_btf", "raw_tp", "tracepoint" };
static const char *const events[] = { "exit", "rename" };

static int quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level;
	(void)fmt;
	(void)args;
	return 0;
}

/* "exit_tp_btf", "rename_tracepoint": the program of event on tier. */
static bool program_is(const struct bpf_program *prog, const char *event, const char *tier)
{
	char want[64];
	snprintf(want, sizeof(want), "%s_%s", event, tier);
	return strcmp(bpf_program__name(prog), want) == 0;
}

/* 1: loaded and held to the budget; 0: this kernel does not take the tier (or the slots) for another reason. */
static int load_tier(const char *tier, unsigned cpus)
{
	struct apps_bpf *skel = apps_object_open(true);
	assert_non_null(skel);
	skel->rodata->use_slots = true;
	skel->rodata->slot_cpus = cpus;
	skel->rodata->slot_unclaimed_adds = true;
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, skel->obj) {
		bool on = false;
		for (size_t e = 0; e < sizeof(events) / sizeof(events[0]); e++)
			on |= program_is(prog, events[e], tier);
		bpf_program__set_autoload(prog, on);
	}
	int err = apps_bpf__load(skel);
	if (err == -E2BIG)
		fail_msg("apps' %s programs at %u slot CPUs: the verifier's limit (E2BIG)", tier, cpus);
	if (err) {
		print_message("apps' %s programs do not load here (%s): not this test's question\n", tier,
			      strerror(-err));
		apps_bpf__destroy(skel);
		return 0;
	}
	bpf_object__for_each_program(prog, skel->obj) {
		if (!bpf_program__autoload(prog))
			continue;
		struct bpf_prog_info info;
		memset(&info, 0, sizeof(info));
		__u32 len = sizeof(info);
		assert_int_equal(bpf_prog_get_info_by_fd(bpf_program__fd(prog), &info, &len), 0);
		print_message("%s at %u slot CPUs: %u instructions verified (budget %u)\n", bpf_program__name(prog),
			      cpus, info.verified_insns, BUDGET);
		/* 0: a kernel before 5.16 does not report it; loading was the check. */
		assert_true(info.verified_insns <= BUDGET);
	}
	apps_bpf__destroy(skel);
	return 1;
}

static void test_slot_visiting_programs_verify_within_budget_at_most_cpus(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	libbpf_print_fn_t before = libbpf_set_print(quiet);
	int loaded = 0;
	for (size_t t = 0; t < sizeof(tiers) / sizeof(tiers[0]); t++)
		loaded += load_tier(tiers[t], APP_SLOT_MAX_CPUS);
	libbpf_set_print(before);
	if (!loaded)
		skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slot_visiting_programs_verify_within_budget_at_most_cpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
