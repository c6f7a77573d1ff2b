/* The series store: counters as deltas, resets, first interval, series_ttl, gauges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "metric.h"

#define SEC_NS 1000000000ull

static const struct metric *find(const struct metric_batch *b, const char *name, const char *tag_value)
{
	for (size_t i = 0; i < b->len; i++)
		if (!strcmp(b->items[i].name, name) &&
		    (!tag_value || (b->items[i].ntags && !strcmp(b->items[i].tags[0].value, tag_value))))
			return &b->items[i];
	return NULL;
}

static void test_first_reading_counts_in_full(void **state)
{
	struct series_store *s = series_store_new(300 * SEC_NS);
	series_counter_observe(s, "process.create", NULL, 0, 42);
	const struct metric_batch *b = series_store_flush(s, 1000, 1 * SEC_NS);
	assert_int_equal(b->len, 1);
	assert_int_equal(b->timestamp, 1000);
	assert_int_equal(b->items[0].type, METRIC_COUNTER);
	assert_int_equal(b->items[0].counter, 42);
	series_store_free(s);
}

static void test_deltas_between_readings(void **state)
{
	struct series_store *s = series_store_new(300 * SEC_NS);
	series_counter_observe(s, "c", NULL, 0, 10);
	series_store_flush(s, 1, 1 * SEC_NS);
	series_counter_observe(s, "c", NULL, 0, 15);
	series_counter_observe(s, "c", NULL, 0, 18); /* two collections in one flush add up */
	assert_int_equal(series_store_flush(s, 2, 2 * SEC_NS)->items[0].counter, 8);
	/* no reading this interval (a module collected less often): 0, still sent */
	const struct metric_batch *b = series_store_flush(s, 3, 3 * SEC_NS);
	assert_int_equal(b->len, 1);
	assert_int_equal(b->items[0].counter, 0);
	series_store_free(s);
}

static void test_counter_reset_counts_from_zero(void **state)
{
	struct series_store *s = series_store_new(300 * SEC_NS);
	series_counter_observe(s, "c", NULL, 0, 1000);
	series_store_flush(s, 1, 1 * SEC_NS);
	series_counter_observe(s, "c", NULL, 0, 7); /* the BPF object was reloaded */
	assert_int_equal(series_store_flush(s, 2, 2 * SEC_NS)->items[0].counter, 7);
	series_counter_observe(s, "c", NULL, 0, 9);
	assert_int_equal(series_store_flush(s, 3, 3 * SEC_NS)->items[0].counter, 2);
	series_store_free(s);
}

static void test_huge_counters_are_exact(void **state)
{
	struct series_store *s = series_store_new(300 * SEC_NS);
	series_counter_observe(s, "c", NULL, 0, UINT64_MAX - 5);
	series_store_flush(s, 1, 1 * SEC_NS);
	series_counter_observe(s, "c", NULL, 0, UINT64_MAX);
	assert_int_equal(series_store_flush(s, 2, 2 * SEC_NS)->items[0].counter, 5);
	series_store_free(s);
}

static void test_tags_make_distinct_series(void **state)
{
	struct series_store *s = series_store_new(300 * SEC_NS);
	struct metric_tag a = { "app", "nginx" }, b = { "app", "" };
	series_counter_add(s, "apps.file_open", &a, 1, 3);
	series_counter_add(s, "apps.file_open", &b, 1, 4);
	series_counter_add(s, "apps.file_open", &a, 1, 1);
	const struct metric_batch *batch = series_store_flush(s, 1, 1 * SEC_NS);
	assert_int_equal(batch->len, 2);
	const struct metric *m = find(batch, "apps.file_open", "nginx");
	assert_non_null(m);
	assert_int_equal(m->counter, 4);
	assert_string_equal(m->tags[0].key, "app");
	assert_int_equal(find(batch, "apps.file_open", "")->counter, 4);
	series_store_free(s);
}

static void test_ttl_stops_idle_series_and_keeps_baseline(void **state)
{
	struct series_store *s = series_store_new(5 * SEC_NS);
	series_counter_observe(s, "c", NULL, 0, 100);
	assert_int_equal(series_store_flush(s, 1, 1 * SEC_NS)->len, 1);
	for (uint64_t t = 2; t <= 5; t++) {
		series_counter_observe(s, "c", NULL, 0, 100);
		assert_int_equal(series_store_flush(s, (int64_t)t, t * SEC_NS)->len, 1);
	}
	series_counter_observe(s, "c", NULL, 0, 100);
	assert_int_equal(series_store_flush(s, 6, 6 * SEC_NS)->len, 0); /* 0 for 5 s: no longer sent */
	series_counter_observe(s, "c", NULL, 0, 103);
	const struct metric_batch *b = series_store_flush(s, 7, 7 * SEC_NS);
	assert_int_equal(b->len, 1);
	assert_int_equal(b->items[0].counter, 3); /* the baseline survived: not 103 */
	series_store_free(s);
}

static void test_series_without_readings_are_forgotten(void **state)
{
	struct series_store *s = series_store_new(2 * SEC_NS);
	struct metric_tag t = { "app", "gone" };
	series_counter_add(s, "apps.task_exit", &t, 1, 1);
	series_store_flush(s, 1, 1 * SEC_NS);
	series_store_flush(s, 2, 2 * SEC_NS);
	series_store_flush(s, 3, 3 * SEC_NS);
	assert_int_equal(series_store_size(s), 0);
	series_store_free(s);
}

static void test_gauges(void **state)
{
	struct series_store *s = series_store_new(300 * SEC_NS);
	series_gauge_set(s, "process.zombies", NULL, 0, 3, false);
	series_gauge_set(s, "disk.latency.p99", NULL, 0, 512, true);
	const struct metric_batch *b = series_store_flush(s, 1, 1 * SEC_NS);
	assert_int_equal(b->len, 2);
	assert_int_equal(b->items[0].type, METRIC_GAUGE);
	assert_true(b->items[0].gauge == 3.0);
	/* no new reading: a plain gauge repeats its value, an interval gauge is not sent */
	b = series_store_flush(s, 2, 2 * SEC_NS);
	assert_int_equal(b->len, 1);
	assert_string_equal(b->items[0].name, "process.zombies");
	series_store_free(s);
}

static void test_many_series_survive_rehash(void **state)
{
	struct series_store *s = series_store_new(300 * SEC_NS);
	char value[16];
	for (int i = 0; i < 5000; i++) {
		snprintf(value, sizeof(value), "a%d", i);
		struct metric_tag t = { "app", value };
		series_counter_add(s, "apps.file_open", &t, 1, (uint64_t)i);
	}
	const struct metric_batch *b = series_store_flush(s, 1, 1 * SEC_NS);
	assert_int_equal(b->len, 5000);
	assert_int_equal(find(b, "apps.file_open", "a4999")->counter, 4999);
	series_store_free(s);
}

static void test_type_clash_is_refused(void **state)
{
	struct series_store *s = series_store_new(300 * SEC_NS);
	assert_int_equal(series_counter_add(s, "x", NULL, 0, 1), 0);
	assert_int_equal(series_gauge_set(s, "x", NULL, 0, 1, false), -1);
	series_store_free(s);
}

/* A retired series: no zero after it; a pending delta still goes out once; a new reading takes it back. */
static void test_retired_series_end_without_zeros(void **state)
{
	(void)state;
	struct series_store *s = series_store_new(300 * SEC_NS);
	struct metric_tag a = { "app", "a" }, b = { "app", "b" };
	series_counter_add(s, "n", &a, 1, 5);
	series_counter_add(s, "n", &b, 1, 7);
	series_store_flush(s, 1, 1 * SEC_NS);
	series_retire(s, "n", &a, 1); /* idle: gone at once */
	series_counter_add(s, "n", &b, 1, 3);
	series_retire(s, "n", &b, 1); /* with a delta: sent once more */
	const struct metric_batch *batch = series_store_flush(s, 2, 2 * SEC_NS);
	assert_null(find(batch, "n", "a"));
	assert_non_null(find(batch, "n", "b"));
	assert_int_equal(find(batch, "n", "b")->counter, 3);
	assert_int_equal(series_store_size(s), 1); /* b: the batch points into it until the next flush */
	batch = series_store_flush(s, 3, 3 * SEC_NS);
	assert_null(find(batch, "n", "b"));
	assert_int_equal(series_store_size(s), 0);
	series_counter_add(s, "n", &a, 1, 1);
	series_retire(s, "n", &a, 1);
	series_counter_add(s, "n", &a, 1, 1); /* a reading after the retirement keeps it */
	series_retire(s, "n", NULL, 0);       /* unknown: ignored */
	batch = series_store_flush(s, 4, 4 * SEC_NS);
	assert_int_equal(find(batch, "n", "a")->counter, 2);
	batch = series_store_flush(s, 5, 5 * SEC_NS);
	assert_int_equal(find(batch, "n", "a")->counter, 0);
	series_store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_reading_counts_in_full),
		cmocka_unit_test(test_deltas_between_readings),
		cmocka_unit_test(test_counter_reset_counts_from_zero),
		cmocka_unit_test(test_huge_counters_are_exact),
		cmocka_unit_test(test_tags_make_distinct_series),
		cmocka_unit_test(test_ttl_stops_idle_series_and_keeps_baseline),
		cmocka_unit_test(test_series_without_readings_are_forgotten),
		cmocka_unit_test(test_gauges),
		cmocka_unit_test(test_many_series_survive_rehash),
		cmocka_unit_test(test_type_clash_is_refused),
		cmocka_unit_test(test_retired_series_end_without_zeros),
	};
	return cmocka_run_group_tests_name("metric store", tests, NULL, NULL);
}
