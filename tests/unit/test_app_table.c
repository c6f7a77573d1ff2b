/*
 * Per-application accounting: deltas into groups, exits, pid reuse, execs and renames, busiest N and app=other;
 * the same processes grouped again by cgroup (cgroup.*), with totals equal to apps'.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "app_table.h"

#define SEC_NS 1000000000ull

struct fixture {
	struct config cfg;
	struct app_table *table;
	struct series_store *store;
	bool send[APP_COUNTER_COUNT];
	uint64_t flushes;
};

static int setup(void **state)
{
	static struct fixture fx;
	memset(&fx, 0, sizeof(fx));
	fx.cfg.apps.enabled = true;
	fx.cfg.apps.group_by = GROUP_BY_COMM;
	fx.cfg.apps.max_groups = 200;
	fx.table = app_table_new(&fx.cfg);
	fx.store = series_store_new(300 * SEC_NS);
	for (int c = 0; c < APP_COUNTER_COUNT; c++)
		fx.send[c] = true;
	*state = &fx;
	return fx.table && fx.store ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	app_table_free(fx->table);
	series_store_free(fx->store);
	return 0;
}

static struct app_process proc(const char *comm, uint64_t start, uint64_t opens)
{
	struct app_process p;
	memset(&p, 0, sizeof(p));
	snprintf(p.id.comm, sizeof(p.id.comm), "%s", comm);
	p.start_ns = start;
	p.counters[APP_FILE_OPEN] = opens;
	return p;
}

/* Emit, flush, and return the file_open delta of app (UINT64_MAX when the series is absent). */
static uint64_t opens_of(struct fixture *fx, const char *app)
{
	app_table_emit(fx->table, fx->store, fx->send);
	fx->flushes++;
	const struct metric_batch *b = series_store_flush(fx->store, (int64_t)fx->flushes, fx->flushes * SEC_NS);
	for (size_t i = 0; i < b->len; i++)
		if (!strcmp(b->items[i].name, "apps.file_open") && b->items[i].ntags == 1 &&
		    !strcmp(b->items[i].tags[0].value, app))
			return b->items[i].counter;
	return UINT64_MAX;
}

/*
 * Churn past several growths and shrinks of the index and the records: every
 * process's opens arrive once, whether it left by exit, by going unseen, or
 * stayed; a record that moved into a removed one's place keeps its own counts.
 */
static void test_churn_keeps_every_count_once(void **state)
{
	struct fixture *fx = *state;
	enum { PIDS = 6000 };
	static uint64_t opens[PIDS + 1], lives[PIDS + 1]; /* a pid's next life is a process that started later */
	static bool live[PIDS + 1];
	memset(opens, 0, sizeof(opens));
	memset(lives, 0, sizeof(lives));
	memset(live, 0, sizeof(live));
	uint64_t expected = 0, got = 0, rng = 12345;
	for (int round = 0; round < 12; round++) {
		size_t lingering = 0; /* seen this round for the last time: forgotten at the next */
		for (uint32_t pid = 1; pid <= PIDS; pid++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			unsigned r = (unsigned)(rng >> 33) % 8;
			bool wanted = round < 4 ? true : round < 8 ? r < 1 : r < 6; /* grow, shrink, grow again */
			if (live[pid] && !wanted) {
				struct app_process p = proc("churn", pid * 100 + lives[pid], ++opens[pid]);
				expected++;
				if (r & 1) {
					app_table_exited(fx->table, pid, &p);
				} else {
					app_table_observe(fx->table, pid, &p); /* seen one last time, then never again */
					lingering++;
				}
				live[pid] = false;
				continue;
			}
			if (!wanted)
				continue;
			if (!live[pid]) {
				opens[pid] = 0;
				lives[pid]++;
			}
			live[pid] = true;
			opens[pid] += 1 + r;
			expected += 1 + r;
			struct app_process p = proc("churn", pid * 100 + lives[pid], opens[pid]);
			app_table_observe(fx->table, pid, &p);
		}
		uint64_t since = app_table_generation(fx->table);
		uint64_t n = opens_of(fx, "churn");
		got += n == UINT64_MAX ? 0 : n;
		app_table_forget_unseen(fx->table, since);
		size_t held = lingering;
		for (uint32_t pid = 1; pid <= PIDS; pid++)
			held += live[pid];
		assert_int_equal(app_table_processes(fx->table), held);
	}
	assert_int_equal(got, expected);
}

static void test_processes_of_one_group_add_up(void **state)
{
	struct fixture *fx = *state;
	struct app_process a = proc("nginx", 1, 10), b = proc("nginx", 2, 5);
	app_table_observe(fx->table, 100, &a);
	app_table_observe(fx->table, 101, &b);
	assert_int_equal(opens_of(fx, "nginx"), 15);
	a.counters[APP_FILE_OPEN] = 12;
	app_table_observe(fx->table, 100, &a);
	app_table_observe(fx->table, 101, &b);
	assert_int_equal(opens_of(fx, "nginx"), 2);
	assert_int_equal(app_table_groups(fx->table), 1);
	assert_int_equal(app_table_processes(fx->table), 2);
}

static void test_an_exit_counts_its_last_events_once(void **state)
{
	struct fixture *fx = *state;
	struct app_process a = proc("job", 1, 10);
	app_table_observe(fx->table, 7, &a);
	assert_int_equal(opens_of(fx, "job"), 10);
	a.counters[APP_FILE_OPEN] = 14;
	app_table_exited(fx->table, 7, &a);
	assert_int_equal(app_table_processes(fx->table), 0);
	/* A process born and gone between two collects counts in full. */
	struct app_process brief = proc("job", 9, 3);
	app_table_exited(fx->table, 8, &brief);
	assert_int_equal(opens_of(fx, "job"), 4 + 3);
	assert_int_equal(opens_of(fx, "job"), 0);
}

static void test_a_reused_pid_is_a_new_process(void **state)
{
	struct fixture *fx = *state;
	struct app_process a = proc("old", 1, 50);
	app_table_observe(fx->table, 42, &a);
	assert_int_equal(opens_of(fx, "old"), 50);
	struct app_process b = proc("old", 2, 3); /* another start time under the same pid */
	app_table_observe(fx->table, 42, &b);
	assert_int_equal(opens_of(fx, "old"), 3);
}

static void test_exec_moves_later_counts_to_the_new_group(void **state)
{
	struct fixture *fx = *state;
	struct app_process a = proc("bash", 1, 4);
	app_table_observe(fx->table, 5, &a);
	assert_int_equal(opens_of(fx, "bash"), 4);
	struct app_process renamed = proc("postgres", 1, 10);
	renamed.id_changes = 1; /* the kernel side counts the exec that renamed it */
	app_table_observe(fx->table, 5, &renamed);
	assert_int_equal(opens_of(fx, "postgres"), 6);
}

/* Emit and flush once; the file_open delta of each of n apps (UINT64_MAX when absent). */
static void opens_of_each(struct fixture *fx, const char *const *apps, uint64_t *opens, size_t n)
{
	app_table_emit(fx->table, fx->store, fx->send);
	fx->flushes++;
	const struct metric_batch *b = series_store_flush(fx->store, (int64_t)fx->flushes, fx->flushes * SEC_NS);
	for (size_t a = 0; a < n; a++) {
		opens[a] = UINT64_MAX;
		for (size_t i = 0; i < b->len; i++)
			if (!strcmp(b->items[i].name, "apps.file_open") && !strcmp(b->items[i].tags[0].value, apps[a]))
				opens[a] = b->items[i].counter;
	}
}

/* The kernel side's snapshot at a rename: the counts so far under the identity before. */
static struct app_process renamed_from(const char *comm, uint64_t opens, unsigned id_changes)
{
	struct app_process p = proc(comm, 1, opens);
	p.id_changes = id_changes;
	return p;
}

static void test_a_rename_keeps_earlier_counts_with_the_old_name(void **state)
{
	struct fixture *fx = *state;
	static const char *const apps[] = { "before", "after" };
	uint64_t opens[2];
	struct app_process p = proc("before", 1, 4);
	app_table_observe(fx->table, 5, &p);
	assert_int_equal(opens_of(fx, "before"), 4);
	struct app_process snap = renamed_from("before", 10, 0);
	app_table_renamed(fx->table, 5, &snap);
	struct app_process now = renamed_from("after", 15, 1);
	app_table_observe(fx->table, 5, &now);
	opens_of_each(fx, apps, opens, 2);
	assert_int_equal(opens[0], 6);
	assert_int_equal(opens[1], 5);
	/* A process renamed before any collect read it: all its counts so far are the old name's. */
	struct app_process fresh = renamed_from("before", 7, 0);
	app_table_renamed(fx->table, 6, &fresh);
	struct app_process fresh_now = renamed_from("after", 9, 1);
	app_table_observe(fx->table, 6, &fresh_now);
	opens_of_each(fx, apps, opens, 2);
	assert_int_equal(opens[0], 7);
	assert_int_equal(opens[1], 2);
}

/* Two renames (or a rename and the exec after it) between collects: each name keeps its own counts. */
static void test_renames_between_two_collects_apply_in_order(void **state)
{
	struct fixture *fx = *state;
	static const char *const apps[] = { "a", "b", "c" };
	uint64_t opens[3];
	struct app_process p = proc("a", 1, 1);
	app_table_observe(fx->table, 9, &p);
	assert_int_equal(opens_of(fx, "a"), 1);
	struct app_process first = renamed_from("a", 5, 0), second = renamed_from("b", 8, 1);
	app_table_renamed(fx->table, 9, &first);
	app_table_renamed(fx->table, 9, &second);
	struct app_process now = renamed_from("c", 10, 3); /* the exec after the second rename counted too */
	app_table_observe(fx->table, 9, &now);
	opens_of_each(fx, apps, opens, 3);
	assert_int_equal(opens[0], 4);
	assert_int_equal(opens[1], 3);
	assert_int_equal(opens[2], 2);
}

/*
 * A collect that read the entry after the rename but before the ring was
 * drained sent everything since its last reading to the new name: the late
 * snapshot changes nothing, and nothing counts twice.
 */
static void test_a_snapshot_a_reading_overtook_adds_nothing(void **state)
{
	struct fixture *fx = *state;
	static const char *const apps[] = { "before", "after" };
	uint64_t opens[2];
	struct app_process p = proc("before", 1, 4);
	app_table_observe(fx->table, 5, &p);
	assert_int_equal(opens_of(fx, "before"), 4);
	struct app_process now = renamed_from("after", 15, 1);
	app_table_observe(fx->table, 5, &now);
	struct app_process late = renamed_from("before", 10, 0);
	app_table_renamed(fx->table, 5, &late);
	opens_of_each(fx, apps, opens, 2);
	assert_int_equal(opens[0], 0); /* sent before: idle now, so 0 */
	assert_int_equal(opens[1], 11);
	/* Read between the snapshot and the count moving (new comm, old count): the old name's, once. */
	struct app_process q = proc("before", 2, 4);
	app_table_observe(fx->table, 7, &q);
	opens_of_each(fx, apps, opens, 2);
	struct app_process midway = renamed_from("after", 12, 0);
	midway.start_ns = 2;
	app_table_observe(fx->table, 7, &midway);
	struct app_process snap = renamed_from("before", 10, 0);
	snap.start_ns = 2;
	app_table_renamed(fx->table, 7, &snap);
	struct app_process later = renamed_from("after", 15, 1);
	later.start_ns = 2;
	app_table_observe(fx->table, 7, &later);
	opens_of_each(fx, apps, opens, 2);
	assert_int_equal(opens[0], 8);
	assert_int_equal(opens[1], 3);
}

static void test_busiest_groups_and_the_rest_under_other(void **state)
{
	struct fixture *fx = *state;
	fx->cfg.apps.max_groups = 2;
	struct app_process a = proc("a", 1, 100), b = proc("b", 1, 50), c = proc("c", 1, 7), d = proc("d", 1, 3);
	app_table_observe(fx->table, 1, &a);
	app_table_observe(fx->table, 2, &b);
	app_table_observe(fx->table, 3, &c);
	app_table_observe(fx->table, 4, &d);
	app_table_emit(fx->table, fx->store, fx->send);
	const struct metric_batch *batch = series_store_flush(fx->store, 1, SEC_NS);
	uint64_t total = 0;
	bool saw_other = false, saw_c = false;
	for (size_t i = 0; i < batch->len; i++) {
		if (strcmp(batch->items[i].name, "apps.file_open"))
			continue;
		total += batch->items[i].counter;
		saw_other |= !strcmp(batch->items[i].tags[0].value, "other") && batch->items[i].counter == 10;
		saw_c |= !strcmp(batch->items[i].tags[0].value, "c");
	}
	assert_int_equal(total, 160); /* nothing lost by folding */
	assert_true(saw_other);
	assert_false(saw_c);
}

/* A group's unit and container come from its cgroup, as tags beside app. */
static void test_unit_and_container_tags_where_known(void **state)
{
	struct fixture *fx = *state;
	struct app_process p = proc("nginx", 1, 4);
	snprintf(p.id.cgroup, sizeof(p.id.cgroup), "nginx.service");
	app_table_observe(fx->table, 10, &p);
	app_table_emit(fx->table, fx->store, fx->send);
	const struct metric_batch *b = series_store_flush(fx->store, 1, SEC_NS);
	bool found = false;
	for (size_t i = 0; i < b->len; i++)
		if (!strcmp(b->items[i].name, "apps.file_open")) {
			assert_int_equal(b->items[i].ntags, 2);
			assert_string_equal(b->items[i].tags[1].key, "unit");
			assert_string_equal(b->items[i].tags[1].value, "nginx.service");
			found = true;
		}
	assert_true(found);
}

/*
 * A collect reads only the entries that moved (agent/modules/apps.c): a
 * process idle for many collects keeps its record, so its next reading adds
 * only what it counted since, never its whole history again.
 */
static void test_idle_processes_are_remembered(void **state)
{
	struct fixture *fx = *state;
	struct app_process a = proc("idle", 1, 5);
	app_table_observe(fx->table, 77, &a);
	assert_int_equal(opens_of(fx, "idle"), 5);
	for (int i = 0; i < 10; i++)
		app_table_emit(fx->table, fx->store, fx->send);
	assert_int_equal(app_table_processes(fx->table), 1);
	a.counters[APP_FILE_OPEN] = 7;
	app_table_observe(fx->table, 77, &a);
	assert_int_equal(opens_of(fx, "idle"), 2);
}

/* What every kernel entry has been read since no longer holds: forgotten, the rest kept. */
static void test_processes_unseen_since_are_forgotten(void **state)
{
	struct fixture *fx = *state;
	struct app_process gone = proc("gone", 1, 1), stays = proc("stays", 2, 1);
	app_table_observe(fx->table, 77, &gone);
	app_table_observe(fx->table, 78, &stays);
	assert_int_equal(opens_of(fx, "stays"), 1);
	uint64_t since = app_table_generation(fx->table);
	app_table_observe(fx->table, 78, &stays);
	assert_int_equal(opens_of(fx, "stays"), 0);
	app_table_forget_unseen(fx->table, since);
	assert_int_equal(app_table_processes(fx->table), 1);
	stays.counters[APP_FILE_OPEN] = 3;
	app_table_observe(fx->table, 78, &stays);
	assert_int_equal(opens_of(fx, "stays"), 2);
}

/*
 * The sweep's share (agent/modules/apps.c): over a pass of calls, every
 * process whose counts have not moved since the emission named, each once;
 * the busy ones never; one forgotten is gone from the next pass.
 */
static void test_sweep_names_idle_processes_once_a_pass(void **state)
{
	struct fixture *fx = *state;
	enum { PIDS = 10 };
	for (uint32_t pid = 1; pid <= PIDS; pid++) {
		struct app_process p = proc("sweep", pid, 1);
		app_table_observe(fx->table, pid, &p);
	}
	opens_of(fx, "sweep");
	uint64_t before = app_table_generation(fx->table);
	for (uint64_t opens = 2; opens < 5; opens++) {
		for (uint32_t pid = 1; pid <= PIDS / 2; pid++) { /* 1-5 busy, 6-10 idle */
			struct app_process p = proc("sweep", pid, opens);
			app_table_observe(fx->table, pid, &p);
		}
		opens_of(fx, "sweep");
	}
	for (int pass = 0; pass < 2; pass++) {
		uint32_t named[PIDS + 1] = { 0 }, out[3];
		size_t cursor = 0, calls = (app_table_processes(fx->table) + 2) / 3;
		for (size_t c = 0; c < calls; c++) {
			size_t n = app_table_idle(fx->table, &cursor, 3, before, out);
			assert_true(n <= 3);
			for (size_t i = 0; i < n; i++) {
				assert_true(out[i] > PIDS / 2 && out[i] <= PIDS);
				named[out[i]]++;
			}
		}
		for (uint32_t pid = PIDS / 2 + 1; pid <= PIDS; pid++)
			assert_int_equal(named[pid], pass && pid == 7 ? 0 : 1);
		app_table_forget(fx->table, 7);
	}
	assert_int_equal(app_table_processes(fx->table), PIDS - 1);
	/* A call never names one record twice, however much it is asked to look at. */
	uint32_t out[PIDS];
	size_t cursor = 4;
	assert_int_equal(app_table_idle(fx->table, &cursor, 100, before, out), PIDS / 2 - 1);
}

static void test_many_processes_grow_the_table(void **state)
{
	struct fixture *fx = *state;
	for (uint32_t pid = 1; pid <= 10000; pid++) {
		struct app_process p = proc(pid % 2 ? "odd" : "even", pid, 1);
		app_table_observe(fx->table, pid, &p);
	}
	assert_int_equal(app_table_processes(fx->table), 10000);
	assert_int_equal(opens_of(fx, "odd"), 5000);
	for (uint32_t pid = 1; pid <= 10000; pid += 2) {
		struct app_process p = proc("odd", pid, 2);
		app_table_exited(fx->table, pid, &p);
	}
	assert_int_equal(app_table_processes(fx->table), 5000);
	assert_int_equal(opens_of(fx, "odd"), 5000);
	/* Every survivor is still found after the removals shifted them. */
	for (uint32_t pid = 2; pid <= 10000; pid += 2) {
		struct app_process p = proc("even", pid, 3);
		app_table_observe(fx->table, pid, &p);
	}
	assert_int_equal(app_table_processes(fx->table), 5000);
	assert_int_equal(opens_of(fx, "even"), 5000 * 2);
}

/* Distinct app tags of apps.file_open in one flush, other left out; adds its counts to *total. */
static size_t groups_in_flush(struct fixture *fx, uint64_t *total, bool *other)
{
	app_table_emit(fx->table, fx->store, fx->send);
	fx->flushes++;
	const struct metric_batch *b = series_store_flush(fx->store, (int64_t)fx->flushes, fx->flushes * SEC_NS);
	size_t n = 0;
	*other = false;
	for (size_t i = 0; i < b->len; i++) {
		if (strcmp(b->items[i].name, "apps.file_open"))
			continue;
		*total += b->items[i].counter;
		if (!strcmp(b->items[i].tags[0].value, "other"))
			*other = true;
		else
			n++;
	}
	return n;
}

/*
 * Seven new groups a collect for ten collects, then quiet, with max_groups 5:
 * groups sent before keep going out as 0 only in the slots the busy ones
 * leave, so no flush has more than five groups besides other, and every
 * count is in a group or in other.
 */
static void test_max_groups_bounds_every_flush_zeros_included(void **state)
{
	struct fixture *fx = *state;
	fx->cfg.apps.max_groups = 5;
	uint64_t total = 0, expected = 0;
	size_t most = 0;
	uint32_t tgid = 1000;
	for (int round = 0; round < 15; round++) {
		for (int k = 0; round < 10 && k < 7; k++) {
			char comm[16];
			snprintf(comm, sizeof(comm), "burst%d_%d", round, k);
			struct app_process p = proc(comm, tgid, (uint64_t)(k + 1));
			app_table_exited(fx->table, tgid++, &p);
			expected += (uint64_t)(k + 1);
		}
		bool other;
		size_t n = groups_in_flush(fx, &total, &other);
		print_message("  flush %2d: %zu groups%s\n", round, n, other ? " + other" : "");
		if (n > most)
			most = n;
	}
	assert_int_equal(most, 5);
	assert_int_equal(total, expected);
}

/* The table again, now with cgroups as the fixture's config says. */
static void renew_table(struct fixture *fx)
{
	app_table_free(fx->table);
	fx->table = app_table_new(&fx->cfg);
	assert_non_null(fx->table);
}

/* Per catalogue counter, the sum over every tag of PREFIX.COUNTER in b. */
static void sums_of(const struct metric_batch *b, const char *prefix, uint64_t sums[APP_COUNTER_COUNT])
{
	size_t np = strlen(prefix);
	for (size_t i = 0; i < b->len; i++)
		for (int c = 0; c < APP_COUNTER_COUNT; c++)
			if (app_counter_names[c] && !strncmp(b->items[i].name, prefix, np) &&
			    !strcmp(b->items[i].name + np, strchr(app_counter_names[c], '.') + 1))
				sums[c] += b->items[i].counter;
}

/* The tag of name's series in b with that tag key and value, its counter; UINT64_MAX when absent. */
static uint64_t counter_of(const struct metric_batch *b, const char *name, const char *key, const char *value)
{
	for (size_t i = 0; i < b->len; i++)
		if (!strcmp(b->items[i].name, name) && b->items[i].ntags >= 1 && !strcmp(b->items[i].tags[0].key, key) &&
		    !strcmp(b->items[i].tags[0].value, value))
			return b->items[i].counter;
	return UINT64_MAX;
}

/*
 * Many processes in a few units and containers, with exits, exec and pid
 * reuse, both views bounded so both have an other: for every counter, the
 * sum over all cgroup tags equals the sum over all app tags equals what the
 * processes counted.
 */
static void test_cgroups_sum_to_the_apps_totals(void **state)
{
	struct fixture *fx = *state;
	fx->cfg.apps.max_groups = 3;
	fx->cfg.cgroups.enabled = true;
	fx->cfg.cgroups.group_by = CGROUP_BY_UNIT;
	fx->cfg.cgroups.max_groups = 2;
	renew_table(fx);
	static const char *const leaves[] = { "a.service", "b.service", "c.scope", "",
					      "docker-4f6c1c2b9a0e5d7f8c3b2a1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f.scope" };
	uint64_t expected[APP_COUNTER_COUNT] = { 0 }, by_app[APP_COUNTER_COUNT] = { 0 }, by_cgroup[APP_COUNTER_COUNT] = { 0 };
	struct app_process procs[40];
	for (uint32_t i = 0; i < 40; i++) {
		memset(&procs[i], 0, sizeof(procs[i]));
		snprintf(procs[i].id.comm, sizeof(procs[i].id.comm), "comm%u", i % 7);
		snprintf(procs[i].id.cgroup, sizeof(procs[i].id.cgroup), "%s", leaves[i % 5]);
		procs[i].start_ns = i + 1;
	}
	for (int round = 0; round < 6; round++) {
		for (uint32_t i = 0; i < 40; i++) {
			for (int c = 0; c < APP_COUNTER_COUNT; c++) {
				uint64_t step = (i * 7 + (uint32_t)round) % 5 + (uint32_t)c;
				procs[i].counters[c] += step;
				expected[c] += step;
			}
			if (round == 2 && i % 9 == 0) { /* exec: later counts go to the new comm, the cgroup stays */
				snprintf(procs[i].id.comm, sizeof(procs[i].id.comm), "exec%u", i);
				procs[i].id_changes++;
			}
			if (round == 4 && i % 4 == 0) { /* exits, and the pid reused by a newcomer elsewhere */
				app_table_exited(fx->table, 100 + i, &procs[i]);
				memset(procs[i].counters, 0, sizeof(procs[i].counters));
				procs[i].start_ns += 1000;
				snprintf(procs[i].id.cgroup, sizeof(procs[i].id.cgroup), "new%u.service", i);
				continue;
			}
			app_table_observe(fx->table, 100 + i, &procs[i]);
		}
		app_table_emit(fx->table, fx->store, fx->send);
		fx->flushes++;
		const struct metric_batch *b = series_store_flush(fx->store, (int64_t)fx->flushes, fx->flushes * SEC_NS);
		sums_of(b, "apps.", by_app);
		sums_of(b, "cgroup.", by_cgroup);
		if (round == 0) {
			assert_int_not_equal(counter_of(b, "cgroup.file_open", "cgroup", "other"), UINT64_MAX);
			assert_int_not_equal(counter_of(b, "apps.file_open", "app", "other"), UINT64_MAX);
		}
	}
	for (int c = 0; c < APP_COUNTER_COUNT; c++) {
		const char *name = app_counter_names[c];
		if (!name)
			continue; /* page-cache pages: sent as the cachestat_* series */
		print_message("  %-24s processes %6llu, apps %6llu, cgroup %6llu\n", name, (unsigned long long)expected[c],
			      (unsigned long long)by_app[c], (unsigned long long)by_cgroup[c]);
		assert_int_equal(by_app[c], expected[c]);
		assert_int_equal(by_cgroup[c], expected[c]);
	}
	assert_true(app_table_cgroups(fx->table) >= 5);
}

/* A process's counts under its app and its unit alike; cgroup.* carries the one tag, for every apps.* counter. */
static void test_every_apps_counter_has_its_cgroup_twin(void **state)
{
	struct fixture *fx = *state;
	fx->cfg.cgroups.enabled = true;
	fx->cfg.cgroups.group_by = CGROUP_BY_UNIT;
	fx->cfg.cgroups.max_groups = 50;
	renew_table(fx);
	struct app_process p = proc("nginx", 1, 0);
	snprintf(p.id.cgroup, sizeof(p.id.cgroup), "nginx.service");
	for (int c = 0; c < APP_COUNTER_COUNT; c++)
		p.counters[c] = 10 + (uint64_t)c;
	app_table_observe(fx->table, 10, &p);
	app_table_emit(fx->table, fx->store, fx->send);
	const struct metric_batch *b = series_store_flush(fx->store, 1, SEC_NS);
	size_t twins = 0;
	for (int c = 0; c < APP_COUNTER_COUNT; c++) {
		if (!app_counter_names[c])
			continue;
		char twin[64];
		snprintf(twin, sizeof(twin), "cgroup.%s", strchr(app_counter_names[c], '.') + 1);
		assert_int_equal(counter_of(b, app_counter_names[c], "app", "nginx"), 10 + (uint64_t)c);
		assert_int_equal(counter_of(b, twin, "cgroup", "nginx.service"), 10 + (uint64_t)c);
		twins++;
	}
	assert_true(twins > 0);
	bool cache_twins = false;
	for (size_t i = 0; i < b->len; i++) {
		if (strncmp(b->items[i].name, "cgroup.", 7))
			continue;
		assert_int_equal(b->items[i].ntags, 1); /* the tag is the unit itself: no unit/container beside it */
		cache_twins |= !strcmp(b->items[i].name, "cgroup.cachestat_hits");
	}
	assert_true(cache_twins);
}

/* cgroups alone (apps off): cgroup.* only. */
static void test_cgroups_alone_send_no_apps(void **state)
{
	struct fixture *fx = *state;
	fx->cfg.apps.enabled = false;
	fx->cfg.cgroups.enabled = true;
	fx->cfg.cgroups.group_by = CGROUP_BY_CGROUP;
	fx->cfg.cgroups.max_groups = 50;
	renew_table(fx);
	struct app_process p = proc("job", 1, 6);
	snprintf(p.id.cgroup, sizeof(p.id.cgroup), "batch-7");
	app_table_exited(fx->table, 3, &p);
	app_table_emit(fx->table, fx->store, fx->send);
	const struct metric_batch *b = series_store_flush(fx->store, 1, SEC_NS);
	for (size_t i = 0; i < b->len; i++)
		assert_true(strncmp(b->items[i].name, "apps.", 5));
	assert_int_equal(counter_of(b, "cgroup.file_open", "cgroup", "batch-7"), 6);
	assert_int_equal(app_table_groups(fx->table), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_processes_of_one_group_add_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_an_exit_counts_its_last_events_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_reused_pid_is_a_new_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_moves_later_counts_to_the_new_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_rename_keeps_earlier_counts_with_the_old_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_renames_between_two_collects_apply_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_snapshot_a_reading_overtook_adds_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busiest_groups_and_the_rest_under_other, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unit_and_container_tags_where_known, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_processes_are_remembered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_processes_unseen_since_are_forgotten, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep_names_idle_processes_once_a_pass, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_processes_grow_the_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_groups_bounds_every_flush_zeros_included, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cgroups_sum_to_the_apps_totals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_apps_counter_has_its_cgroup_twin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cgroups_alone_send_no_apps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_churn_keeps_every_count_once, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
