/* Questions about kernel prototypes, asked of small BTFs built here: tracepoint records with and without a field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <bpf/btf.h>
#include <cmocka.h>

#include "btf_proto.h"

/* A kernel's struct trace_event_raw_task_rename, with its pid (before 6.13, and after the revert in 7.0) or without. */
static struct btf *task_rename_record(bool with_pid)
{
	struct btf *btf = btf__new_empty();
	assert_non_null(btf);
	int int_id = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
	int char_id = btf__add_int(btf, "char", 1, BTF_INT_SIGNED);
	int comm_id = btf__add_array(btf, int_id, char_id, 16);
	assert_true(int_id > 0 && char_id > 0 && comm_id > 0);
	assert_true(btf__add_struct(btf, "trace_event_raw_task_rename", with_pid ? 48 : 44) > 0);
	unsigned off = 64; /* after struct trace_entry, in bits */
	if (with_pid) {
		assert_int_equal(btf__add_field(btf, "pid", int_id, off, 0), 0);
		off += 32;
	}
	assert_int_equal(btf__add_field(btf, "oldcomm", comm_id, off, 0), 0);
	assert_int_equal(btf__add_field(btf, "newcomm", comm_id, off + 128, 0), 0);
	return btf;
}

static void test_a_record_field_is_found_where_the_kernel_has_it(void **state)
{
	(void)state;
	struct btf *with = task_rename_record(true), *without = task_rename_record(false);
	assert_true(btf_tracepoint_record_has(with, "task_rename", "pid"));
	assert_true(btf_tracepoint_record_has(with, "task_rename", "newcomm"));
	assert_false(btf_tracepoint_record_has(without, "task_rename", "pid"));
	assert_true(btf_tracepoint_record_has(without, "task_rename", "newcomm"));
	/* No such tracepoint: no such field. No BTF at all: nothing to ask, so yes. */
	assert_false(btf_tracepoint_record_has(with, "task_newtask", "pid"));
	assert_true(btf_tracepoint_record_has(NULL, "task_rename", "pid"));
	btf__free(with);
	btf__free(without);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_record_field_is_found_where_the_kernel_has_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
