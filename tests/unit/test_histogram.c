/* Histogram maths: BPF bucket slots, quantiles and what one histogram sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* The BPF side's bucket maths, compiled here as plain C. */
typedef uint64_t __u64;
typedef uint32_t __u32;
#define SEC(name) /* a plain global here */
#ifndef __always_inline
#define __always_inline inline
#endif
#include "hist.bpf.h"

#include "histogram.h"

#define SEC_NS 1000000000ull

static void test_slots_follow_le_bounds(void **state)
{
	/* a slot counts (le/2, le]; the first [0, 1] */
	assert_int_equal(hist_slot(0), 0);
	assert_int_equal(hist_slot(1), 0);
	assert_int_equal(hist_slot(2), 1);
	assert_int_equal(hist_slot(3), 2);
	assert_int_equal(hist_slot(4), 2);
	assert_int_equal(hist_slot(5), 3);
	assert_int_equal(hist_slot(1000), 10);
	assert_int_equal(hist_slot(1024), 10);
	assert_int_equal(hist_slot(1025), 11);
	assert_int_equal(hist_slot(1ull << 26), 26);
	assert_int_equal(hist_slot((1ull << 26) + 1), 27);
	assert_int_equal(hist_slot(UINT64_MAX), 27);
	for (unsigned s = 0; s <= HIST_LAST_BOUNDED; s++) {
		assert_int_equal(hist_slot(hist_slot_bound(s)), s);
		if (s > 0)
			assert_int_equal(hist_slot(hist_slot_bound(s) / 2 + 1), s);
	}
	assert_string_equal(hist_le_label(0), "1");
	assert_string_equal(hist_le_label(10), "1024");
	assert_string_equal(hist_le_label(26), "67108864");
	assert_string_equal(hist_le_label(27), "max");
}

static void test_record_keeps_max_per_generation(void **state)
{
	struct hist h = { 0 };
	hist_record(&h, 3500, 7); /* 3 µs: slot 2 */
	hist_record(&h, 900, 7);
	hist_record(&h, 2000000, 7); /* 2 ms: slot 11 */
	assert_int_equal(h.slots[2], 1);
	assert_int_equal(h.slots[0], 1);
	assert_int_equal(h.slots[11], 1);
	assert_int_equal(h.max_ns, 2000000);
	assert_int_equal(h.sum_ns, 3500 + 900 + 2000000);
	hist_record(&h, 1500, 8); /* a new generation starts its own max */
	assert_int_equal(h.max_gen, 8);
	assert_int_equal(h.max_ns, 1500);
}

static void test_quantiles_of_a_known_distribution(void **state)
{
	uint64_t d[HIST_SLOTS] = { 0 };
	assert_int_equal(hist_quantile_slot(d, 0.5), -1);
	d[3] = 50, d[5] = 45, d[7] = 4, d[10] = 1;
	assert_int_equal(hist_quantile_slot(d, 0.50), 3);  /* rank 50 */
	assert_int_equal(hist_quantile_slot(d, 0.95), 5);  /* rank 95 */
	assert_int_equal(hist_quantile_slot(d, 0.99), 7);  /* rank 99 */
	assert_int_equal(hist_quantile_slot(d, 0.999), 10); /* rank ceil(99.9) = 100 */
	uint64_t one[HIST_SLOTS] = { 0 };
	one[4] = 1;
	assert_int_equal(hist_quantile_slot(one, 0.5), 4);
	/* uniform 1..1000 µs: half the values are <= 500, within (256, 512] */
	uint64_t u[HIST_SLOTS] = { 0 };
	for (uint64_t v = 1; v <= 1000; v++)
		u[hist_slot(v)]++;
	assert_int_equal(hist_quantile_slot(u, 0.5), 9);
	assert_int_equal(hist_quantile_slot(u, 0.99), 10);
}

static const struct metric *find(const struct metric_batch *b, const char *name, const char *le)
{
	for (size_t i = 0; i < b->len; i++) {
		const struct metric *m = &b->items[i];
		if (strcmp(m->name, name))
			continue;
		if (!le)
			return m;
		if (m->ntags && !strcmp(m->tags[m->ntags - 1].key, "le") && !strcmp(m->tags[m->ntags - 1].value, le))
			return m;
	}
	return NULL;
}

static void test_emit_sends_buckets_and_interval_gauges(void **state)
{
	struct series_store *s = series_store_new(300 * SEC_NS);
	struct metric_tag disk = { "disk", "vda" };
	uint64_t prev[HIST_SLOTS] = { 0 };
	struct hist_reading r = { .has_max = true, .max_ns = 700123 };
	r.slots[3] = 50, r.slots[5] = 45, r.slots[7] = 4, r.slots[9] = 1;
	hist_emit(s, "disk.latency", &disk, 1, &r, prev);
	const struct metric_batch *b = series_store_flush(s, 10, 1 * SEC_NS);
	const struct metric *m = find(b, "disk.latency.bucket", "8");
	assert_non_null(m);
	assert_int_equal(m->counter, 50);
	assert_int_equal(m->ntags, 2);
	assert_string_equal(m->tags[0].value, "vda");
	assert_int_equal(find(b, "disk.latency.bucket", "32")->counter, 45);
	assert_null(find(b, "disk.latency.bucket", "16")); /* never counted: not sent */
	assert_true(find(b, "disk.latency.p50", NULL)->gauge == 8.0);
	assert_true(find(b, "disk.latency.p95", NULL)->gauge == 32.0);
	assert_true(find(b, "disk.latency.p99", NULL)->gauge == 128.0);
	assert_true(find(b, "disk.latency.max", NULL)->gauge == 700.123);

	/* buckets are non-cumulative deltas; an idle interval sends no gauges */
	r.slots[3] += 10;
	r.has_max = false;
	hist_emit(s, "disk.latency", &disk, 1, &r, prev);
	b = series_store_flush(s, 11, 2 * SEC_NS);
	assert_int_equal(find(b, "disk.latency.bucket", "8")->counter, 10);
	assert_int_equal(find(b, "disk.latency.bucket", "32")->counter, 0);
	assert_true(find(b, "disk.latency.p99", NULL)->gauge == 8.0);
	assert_null(find(b, "disk.latency.max", NULL)); /* not captured: not invented */
	hist_emit(s, "disk.latency", &disk, 1, &r, prev);
	b = series_store_flush(s, 12, 3 * SEC_NS);
	assert_null(find(b, "disk.latency.p50", NULL));
	assert_int_equal(find(b, "disk.latency.bucket", "8")->counter, 0);
	series_store_free(s);
}

/*
 * Two map keys of one handler (hardirq keys are whole 32-byte slots): summed
 * into one reading, the series counts each event once. Fed one after the
 * other, the smaller would look like a restarted counter and count again.
 */
static void test_readings_of_one_histogram_add_up(void **state)
{
	struct series_store *s = series_store_new(300 * SEC_NS);
	struct metric_tag irq = { "irq", "virtio1-req.0" };
	uint64_t prev[HIST_SLOTS] = { 0 };
	struct hist_reading a = { .has_max = true, .max_ns = 5000 }, b = { .has_max = true, .max_ns = 9000 };
	a.slots[3] = 100, a.slow = 2, b.slots[3] = 7, b.slots[4] = 1, b.slow = 1;
	struct hist_reading sum = { 0 };
	hist_reading_add(&sum, &a);
	hist_reading_add(&sum, &b);
	assert_int_equal(sum.slots[3], 107);
	assert_int_equal(sum.slots[4], 1);
	assert_int_equal(sum.slow, 3);
	assert_true(sum.has_max && sum.max_ns == 9000);
	hist_emit(s, "hardirq.latency", &irq, 1, &sum, prev);
	const struct metric_batch *batch = series_store_flush(s, 10, 1 * SEC_NS);
	assert_int_equal(find(batch, "hardirq.latency.bucket", "8")->counter, 107);
	/* the next interval: each key counted 1 more */
	a.slots[3]++, b.slots[3]++;
	memset(&sum, 0, sizeof(sum));
	hist_reading_add(&sum, &a);
	hist_reading_add(&sum, &b);
	hist_emit(s, "hardirq.latency", &irq, 1, &sum, prev);
	batch = series_store_flush(s, 11, 2 * SEC_NS);
	assert_int_equal(find(batch, "hardirq.latency.bucket", "8")->counter, 2);
	series_store_free(s);
}

/*
 * NAME.time is the cumulative sum floored to µs: the part of a µs one
 * interval leaves is counted in the next, and the total sent is exact.
 */
static void test_time_counter_carries_the_remainder(void **state)
{
	struct series_store *s = series_store_new(300 * SEC_NS);
	struct metric_tag vector = { "vector", "net_rx" };
	struct hist_reading r = { 0 }, a = { .sum_ns = 1700 }, b = { .sum_ns = 600 };
	uint64_t sent = 0;
	for (uint64_t i = 0; i < 10; i++) {
		hist_reading_add(&r, &a); /* 1.7 µs an interval */
		series_counter_observe(s, "softirq.time", &vector, 1, hist_time_us(&r));
		const struct metric_batch *batch = series_store_flush(s, 10 + i, (i + 1) * SEC_NS);
		const struct metric *m = find(batch, "softirq.time", NULL);
		sent += m ? m->counter : 0;
	}
	assert_int_equal(sent, 17); /* 10 x 1.7 µs: per-interval flooring would send 10 */
	hist_reading_add(&r, &b);
	assert_int_equal(hist_time_us(&r), 17); /* 17.6 µs */
	series_store_free(s);
}

static void test_quantile_in_the_open_slot_is_the_max(void **state)
{
	struct series_store *s = series_store_new(300 * SEC_NS);
	uint64_t prev[HIST_SLOTS] = { 0 };
	struct hist_reading r = { .has_max = true, .max_ns = 90000000000ull }; /* 90 s */
	r.slots[0] = 1, r.slots[HIST_SLOTS - 1] = 3;
	hist_emit(s, "softirq.latency", NULL, 0, &r, prev);
	const struct metric_batch *b = series_store_flush(s, 10, 1 * SEC_NS);
	assert_int_equal(find(b, "softirq.latency.bucket", "max")->counter, 3);
	assert_true(find(b, "softirq.latency.p50", NULL)->gauge == 90000000.0);
	assert_true(find(b, "softirq.latency.max", NULL)->gauge == 90000000.0);
	series_store_free(s);
}

/* One stripe per possible CPU, a power of two, up to the cap: at most the cap's copies on any machine. */
static void test_stripes_follow_cpus_up_to_the_cap(void **state)
{
	(void)state;
	assert_int_equal(hist_stripes(-1, 8), 1); /* possible CPUs unknown */
	assert_int_equal(hist_stripes(1, 8), 1);
	assert_int_equal(hist_stripes(2, 8), 2);
	assert_int_equal(hist_stripes(3, 8), 4);
	assert_int_equal(hist_stripes(8, 8), 8);
	assert_int_equal(hist_stripes(240, 8), 8);
	assert_int_equal(hist_stripes(48, 64), 64);
	assert_int_equal(hist_stripes(240, 64), 64);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots_follow_le_bounds),
		cmocka_unit_test(test_record_keeps_max_per_generation),
		cmocka_unit_test(test_quantiles_of_a_known_distribution),
		cmocka_unit_test(test_emit_sends_buckets_and_interval_gauges),
		cmocka_unit_test(test_time_counter_carries_the_remainder),
		cmocka_unit_test(test_quantile_in_the_open_slot_is_the_max),
		cmocka_unit_test(test_readings_of_one_histogram_add_up),
		cmocka_unit_test(test_stripes_follow_cpus_up_to_the_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
