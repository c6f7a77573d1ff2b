/*
 * Kernel functions renamed across the kernels we run on, in one table, and
 * the arch's syscall-function names. A way names a function by its
 * canonical (newest) name; kernel_name_resolve finds what this kernel calls it.
 */
#ifndef BPFPUSH_KERNEL_NAMES_H
#define BPFPUSH_KERNEL_NAMES_H

#include <stdbool.h>
#include <stddef.h>

/* Does the running kernel have a function of this exact name? */
typedef bool (*kernel_has_fn)(const char *name, void *arg);

/*
 * Write into out the name this kernel uses for `canonical`: "sys_NAME" maps
 * to the arch's syscall function (__x64_sys_NAME on x86_64); a renamed
 * function maps to the first of its names, newest first, that has(name)
 * confirms. Returns false (out = the newest name) when none is there.
 */
bool kernel_name_resolve(const char *canonical, kernel_has_fn has, void *arg, char *out, size_t cap);

#endif
