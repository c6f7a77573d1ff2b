/* Growable arrays (agent/core/grow.c): room made by doubling, and nothing lost when it cannot be. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "grow.h"

static void test_starts_at_first_and_doubles(void **state)
{
	(void)state;
	size_t cap = 0;
	int *items = grow_array(NULL, &cap, 1, sizeof(int), 8);
	assert_non_null(items);
	assert_int_equal(cap, 8);
	for (int i = 0; i < 8; i++)
		items[i] = i;
	assert_ptr_equal(grow_array(items, &cap, 8, sizeof(int), 8), items); /* room already */
	int *grown = grow_array(items, &cap, 9, sizeof(int), 8);
	assert_non_null(grown);
	assert_int_equal(cap, 16);
	for (int i = 0; i < 8; i++)
		assert_int_equal(grown[i], i); /* kept across the move */
	free(grown);
}

static void test_a_large_need_is_met_in_one_call(void **state)
{
	(void)state;
	size_t cap = 0;
	char *chars = grow_array(NULL, &cap, 10000, 1, 4096);
	assert_non_null(chars);
	assert_int_equal(cap, 16384);
	free(chars);
}

static void test_overflow_leaves_the_array_as_it_was(void **state)
{
	(void)state;
	size_t cap = 4;
	int *items = calloc(cap, sizeof(int));
	assert_non_null(items);
	assert_null(grow_array(items, &cap, SIZE_MAX / 2, sizeof(int), 4));
	assert_int_equal(cap, 4);
	assert_null(grow_array(items, &cap, SIZE_MAX, 1, 4));
	assert_int_equal(cap, 4);
	free(items);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_starts_at_first_and_doubles),
		cmocka_unit_test(test_a_large_need_is_met_in_one_call),
		cmocka_unit_test(test_overflow_leaves_the_array_as_it_was),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
