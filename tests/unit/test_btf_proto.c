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

/* A kernel whose BTF has function NAME (a prototype without arguments), or none. */
static struct btf *kernel_with_func(const char *name)
{
	struct btf *btf = btf__new_empty();
	assert_non_null(btf);
	int proto = btf__add_func_proto(btf, 0);
	assert_true(proto > 0);
	if (name)
		assert_true(btf__add_func(btf, name, BTF_FUNC_STATIC, proto) > 0);
	return btf;
}

/* 5.11 let tracing programs use socket-local storage, and brought the check that allows them. */
static void test_sk_storage_for_tracing_follows_its_check(void **state)
{
	(void)state;
	struct btf *v5_11 = kernel_with_func("bpf_sk_storage_tracing_allowed"), *v5_10 = kernel_with_func(NULL);
	assert_true(btf_tracing_has_sk_storage(v5_11));
	assert_false(btf_tracing_has_sk_storage(v5_10));
	assert_false(btf_tracing_has_sk_storage(NULL)); /* unknown: a program needing it might not load */
	btf__free(v5_11);
	btf__free(v5_10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_record_field_is_found_where_the_kernel_has_it),
		cmocka_unit_test(test_sk_storage_for_tracing_follows_its_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
