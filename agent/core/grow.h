/* Growable arrays: the one way the agent's lists make room. */
#ifndef BPFPUSH_GROW_H
#define BPFPUSH_GROW_H

#include <stddef.h>

/*
 * Room for `need` elements of `size` bytes in `items`, which holds *cap:
 * *cap doubles (from `first` when 0) until need fits, and the array is
 * reallocated. Returns the array to use from now on, `items` itself when
 * it had room; NULL when out of memory or the size would overflow, and then
 * `items` and *cap are as they were.
 */
void *grow_array(void *items, size_t *cap, size_t need, size_t size, size_t first);

#endif
