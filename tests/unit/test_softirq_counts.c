/* The softirq counts of /proc/softirqs (agent/modules/softirq_counts.c): per vector over CPUs, across 32-bit wraps. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "softirq_counts.h"

static int read_text(struct softirq_counts *c, const char *text)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	assert_non_null(f);
	int err = softirq_counts_read(c, f);
	fclose(f);
	return err;
}

static const char first[] = "                    CPU0       CPU1\n"
			    "          HI:          1          0\n"
			    "       TIMER:        100        200\n"
			    "      NET_RX: 4294967290         10\n"
			    "         RCU:          5          5\n";

static void test_first_reading_counts_nothing(void **state)
{
	(void)state;
	struct softirq_counts c;
	assert_int_equal(softirq_counts_init(&c, 2), 0);
	assert_int_equal(read_text(&c, first), 0);
	for (int v = 0; v < SOFTIRQ_VECTORS; v++)
		assert_int_equal(c.events[v], 0); /* what ran before the start is not the agent's */
	softirq_counts_free(&c);
}

static void test_later_readings_add_per_cpu_across_a_wrap(void **state)
{
	(void)state;
	struct softirq_counts c;
	assert_int_equal(softirq_counts_init(&c, 2), 0);
	assert_int_equal(read_text(&c, first), 0);
	/* CPU0's NET_RX wraps: 4294967290 -> 4 is 10 runs, not a drop of four billion. */
	assert_int_equal(read_text(&c, "                    CPU0       CPU1\n"
				       "          HI:          1          0\n"
				       "       TIMER:        103        210\n"
				       "      NET_RX:          4         15\n"
				       "         RCU:          5          5\n"),
			 0);
	assert_int_equal(c.events[1], 13); /* timer: 3 + 10 */
	assert_int_equal(c.events[3], 15); /* net_rx: 10 + 5 */
	assert_int_equal(c.events[0], 0);
	assert_int_equal(c.events[9], 0);
	assert_int_equal(read_text(&c, "CPU0 CPU1\n  NET_RX: 5 15\n"), 0);
	assert_int_equal(c.events[3], 16); /* summed since the first reading */
	softirq_counts_free(&c);
}

static void test_unknown_rows_and_extra_columns_are_skipped(void **state)
{
	(void)state;
	struct softirq_counts c;
	assert_int_equal(softirq_counts_init(&c, 1), 0);
	assert_int_equal(read_text(&c, "CPU0 CPU1\n NEW_VEC: 1 1\n BLOCK: 7 100\n"), 0);
	assert_int_equal(read_text(&c, "CPU0 CPU1\n NEW_VEC: 9 9\n BLOCK: 9 900\n"), 0);
	assert_int_equal(c.events[4], 2); /* CPU0 only: one CPU kept */
	softirq_counts_free(&c);
}

static void test_a_row_of_many_cpus_is_read_whole(void **state)
{
	(void)state;
	enum { CPUS = 1000 }; /* 11 KB a row: longer than any fixed line buffer would be */
	struct softirq_counts c;
	assert_int_equal(softirq_counts_init(&c, CPUS), 0);
	char *text = malloc(2 * 12 * CPUS + 64);
	assert_non_null(text);
	for (unsigned round = 0; round < 2; round++) {
		size_t n = (size_t)sprintf(text, "CPU0\n  NET_RX:");
		for (unsigned cpu = 0; cpu < CPUS; cpu++)
			n += (size_t)sprintf(text + n, " %10u", 1000u + round * cpu);
		sprintf(text + n, "\n");
		assert_int_equal(read_text(&c, text), 0);
	}
	assert_int_equal(c.events[3], (uint64_t)CPUS * (CPUS - 1) / 2); /* every column, the last among them */
	free(text);
	softirq_counts_free(&c);
}

static void test_no_rows_is_no_reading(void **state)
{
	(void)state;
	struct softirq_counts c;
	assert_int_equal(softirq_counts_init(&c, 2), 0);
	assert_int_equal(read_text(&c, ""), -ENODATA);
	assert_int_equal(read_text(&c, "CPU0 CPU1\n"), -ENODATA);
	assert_false(c.started);
	assert_int_equal(read_text(&c, first), 0); /* the first reading is still the baseline */
	assert_int_equal(c.events[1], 0);
	softirq_counts_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_reading_counts_nothing),
		cmocka_unit_test(test_later_readings_add_per_cpu_across_a_wrap),
		cmocka_unit_test(test_unknown_rows_and_extra_columns_are_skipped),
		cmocka_unit_test(test_a_row_of_many_cpus_is_read_whole),
		cmocka_unit_test(test_no_rows_is_no_reading),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
