/* The rename table and the syscall-function names, against a made-up kernel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "kernel_names.h"

static bool in_list(const char *name, void *arg)
{
	for (const char *const *p = arg; *p; p++)
		if (!strcmp(*p, name))
			return true;
	return false;
}

static void test_newest_name_wins(void **state)
{
	const char *kernel[] = { "close_fd", "file_close_fd", NULL };
	char out[64];
	assert_true(kernel_name_resolve("file_close_fd", in_list, kernel, out, sizeof(out)));
	assert_string_equal(out, "file_close_fd");
}

static void test_older_names_are_found(void **state)
{
	const char *k61[] = { "close_fd", "_do_fork", "add_to_page_cache_lru", "swap_readpage", NULL };
	char out[64];
	assert_true(kernel_name_resolve("file_close_fd", in_list, k61, out, sizeof(out)));
	assert_string_equal(out, "close_fd");
	assert_true(kernel_name_resolve("kernel_clone", in_list, k61, out, sizeof(out)));
	assert_string_equal(out, "_do_fork");
	assert_true(kernel_name_resolve("filemap_add_folio", in_list, k61, out, sizeof(out)));
	assert_string_equal(out, "add_to_page_cache_lru");
	assert_true(kernel_name_resolve("swap_read_folio", in_list, k61, out, sizeof(out)));
	assert_string_equal(out, "swap_readpage");
}

static void test_missing_everywhere(void **state)
{
	const char *none[] = { NULL };
	char out[64];
	assert_false(kernel_name_resolve("__swap_writepage", in_list, none, out, sizeof(out)));
	assert_string_equal(out, "__swap_writepage");
	assert_false(kernel_name_resolve("vfs_read", in_list, none, out, sizeof(out)));
	assert_string_equal(out, "vfs_read");
}

/* The prefix agent/kernel/kernel_names.c gives this build's architecture. */
#if defined(__x86_64__)
#define ARCH_PREFIX "__x64_"
#elif defined(__aarch64__)
#define ARCH_PREFIX "__arm64_"
#endif

static void test_syscall_functions_get_the_arch_prefix(void **state)
{
	const char *kernel[] = { ARCH_PREFIX "sys_read", NULL };
	char out[64];
	assert_true(kernel_name_resolve("sys_read", in_list, kernel, out, sizeof(out)));
	assert_string_equal(out, ARCH_PREFIX "sys_read");
	/* SYSCALL_DEFINE0 functions are often missing from BTF: the caller then falls back */
	assert_false(kernel_name_resolve("sys_sync", in_list, kernel, out, sizeof(out)));
	assert_string_equal(out, ARCH_PREFIX "sys_sync");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_newest_name_wins),
		cmocka_unit_test(test_older_names_are_found),
		cmocka_unit_test(test_missing_everywhere),
		cmocka_unit_test(test_syscall_functions_get_the_arch_prefix),
	};
	return cmocka_run_group_tests_name("kernel names", tests, NULL, NULL);
}
