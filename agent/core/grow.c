#include "grow.h"

#include <stdint.h>
#include <stdlib.h>

void *grow_array(void *items, size_t *cap, size_t need, size_t size, size_t first)
{
	if (need <= *cap)
		return items;
	size_t grown = *cap ? *cap : first ? first : 1;
	while (grown < need) {
		if (grown > SIZE_MAX / 2)
			return NULL;
		grown *= 2;
	}
	if (size && grown > SIZE_MAX / size)
		return NULL;
	void *moved = realloc(items, grown * size);
	if (!moved)
		return NULL;
	*cap = grown;
	return moved;
}
