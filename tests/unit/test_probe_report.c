/*
 * --probe's "metrics sent": a metric is sent when an event that gives it by
 * its exact name is attached, so a metric whose name starts another's
 * (sync.sync, sync.sync_file_range) is judged by its own event alone. The
 * modules are the registry's real ones with made-up attach results.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "module.h"
#include "probe_report.h"

static void test_gives_matches_whole_names(void **state)
{
	const struct event_desc ev = { .name = "e", .gives = "process.create, process.thread_create" };
	assert_true(module_event_gives(&ev, "process.create"));
	assert_true(module_event_gives(&ev, "process.thread_create"));
	assert_false(module_event_gives(&ev, "process.create_errors"));
	assert_false(module_event_gives(&ev, "process.creat"));
	assert_false(module_event_gives(&ev, "create"));
	assert_false(module_event_gives(&ev, ""));
	const struct event_desc longer = { .name = "e", .gives = "sync.sync_file_range" };
	assert_false(module_event_gives(&longer, "sync.sync"));
	assert_true(module_event_gives(&longer, "sync.sync_file_range"));
	const struct event_desc none = { .name = "e" };
	assert_false(module_event_gives(&none, "sync.sync"));
}

/* A module as attach.c leaves it: every event attached by its first way but those in `off`. */
struct fake {
	struct config cfg;
	struct module m;
	struct event_state *events;
};

static struct fake *fake_module(const char *name, const char *const *off)
{
	struct fake *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	int id = module_registry_find(name);
	assert_true(id >= 0);
	f->cfg.global.load_mode = LOAD_MODE_RETURN;
	f->m.ops = module_registry_get((module_id_t)id);
	f->m.id = (module_id_t)id;
	f->m.cfg = &f->cfg;
	f->m.attached = true;
	f->events = calloc(f->m.ops->nevents, sizeof(*f->events));
	assert_non_null(f->events);
	f->m.events = f->events;
	for (size_t e = 0; e < f->m.ops->nevents; e++) {
		f->events[e].wanted = true;
		for (const char *const *o = off; *o; o++)
			if (!strcmp(*o, f->m.ops->events[e].name))
				f->events[e].wanted = false;
		f->events[e].chosen = f->events[e].wanted ? 0 : -1;
	}
	return f;
}

static void fake_free(struct fake *f)
{
	free(f->events);
	free(f);
}

/* modules.sync.syscalls.sync: false leaves its event unhooked; sync_file_range's name must not stand in for it. */
static void test_sync_off_is_not_sent(void **state)
{
	static const char *const off[] = { "sync", NULL };
	struct fake *f = fake_module("sync", off);
	assert_false(probe_metric_sent(&f->m, "sync.sync"));
	assert_string_equal(probe_metric_missing_why(&f->m, "sync.sync"), "switched off in the config");
	assert_true(probe_metric_sent(&f->m, "sync.sync_file_range"));
	assert_true(probe_metric_sent(&f->m, "sync.syncfs"));
	fake_free(f);
}

/* The fork event gives process.create; create_errors' event alone must not make it sent, nor the reverse. */
static void test_process_create_and_create_errors(void **state)
{
	static const char *const no_fork[] = { "fork", NULL };
	struct fake *f = fake_module("process", no_fork);
	f->events[0].wanted = true; /* wanted but no way attached: "CANNOT ATTACH" */
	assert_false(probe_metric_sent(&f->m, "process.create"));
	assert_string_equal(probe_metric_missing_why(&f->m, "process.create"), "no way to attach its event on this kernel");
	assert_true(probe_metric_sent(&f->m, "process.create_errors"));
	fake_free(f);

	static const char *const no_errors[] = { "create_errors", NULL };
	f = fake_module("process", no_errors);
	assert_true(probe_metric_sent(&f->m, "process.create"));
	assert_false(probe_metric_sent(&f->m, "process.create_errors"));
	fake_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gives_matches_whole_names),
		cmocka_unit_test(test_sync_off_is_not_sent),
		cmocka_unit_test(test_process_create_and_create_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
