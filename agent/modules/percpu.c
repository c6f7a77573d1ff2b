#include "percpu.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int percpu_sum_u64(int map_fd, uint32_t key, size_t nfields, uint64_t *out)
{
	int ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0)
		return ncpus ? ncpus : -EINVAL;
	/* The kernel rounds each CPU's value up to 8 bytes; u64 fields already are. */
	uint64_t stack[8 * 64];
	uint64_t *values = (size_t)ncpus * nfields <= sizeof(stack) / sizeof(stack[0])
				   ? stack
				   : calloc((size_t)ncpus * nfields, sizeof(uint64_t));
	if (!values)
		return -ENOMEM;
	/* Zeroed first: valgrind cannot see the kernel fill the buffer through bpf(). */
	memset(values, 0, (size_t)ncpus * nfields * sizeof(uint64_t));
	int rc = 0;
	if (bpf_map_lookup_elem(map_fd, &key, values)) {
		rc = -errno;
	} else {
		memset(out, 0, nfields * sizeof(*out));
		for (int cpu = 0; cpu < ncpus; cpu++)
			for (size_t f = 0; f < nfields; f++)
				out[f] += values[(size_t)cpu * nfields + f];
	}
	if (values != stack)
		free(values);
	return rc;
}
