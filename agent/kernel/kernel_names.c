#include "kernel_names.h"

#include <stdio.h>
#include <string.h>

#if defined(__x86_64__)
#define SYSCALL_FUNCTION_PREFIX "__x64_"
#elif defined(__aarch64__)
#define SYSCALL_FUNCTION_PREFIX "__arm64_"
#else
#error "add this architecture's syscall function prefix"
#endif

#define MAX_NAMES 5

/* Newest name first. */
static const struct rename {
	const char *names[MAX_NAMES];
} renames[] = {
	{ { "kernel_clone", "_do_fork" } },
	{ { "file_close_fd", "close_fd_get_file", "close_fd", "__close_fd" } },
	{ { "filemap_add_folio", "add_to_page_cache_lru" } },
	{ { "folio_mark_accessed", "mark_page_accessed" } },
	{ { "__folio_mark_dirty", "__set_page_dirty" } },
	{ { "swap_read_folio", "swap_readpage" } },
	{ { "__swap_writepage", "swap_writeout", "swap_writepage" } },
};

bool kernel_name_resolve(const char *canonical, kernel_has_fn has, void *arg, char *out, size_t cap)
{
	if (!strncmp(canonical, "sys_", 4)) {
		snprintf(out, cap, "%s%s", SYSCALL_FUNCTION_PREFIX, canonical);
		return has(out, arg);
	}
	for (size_t i = 0; i < sizeof(renames) / sizeof(renames[0]); i++) {
		if (strcmp(renames[i].names[0], canonical))
			continue;
		for (int n = 0; n < MAX_NAMES && renames[i].names[n]; n++)
			if (has(renames[i].names[n], arg)) {
				snprintf(out, cap, "%s", renames[i].names[n]);
				return true;
			}
		snprintf(out, cap, "%s", canonical);
		return false;
	}
	snprintf(out, cap, "%s", canonical);
	return has(out, arg);
}
