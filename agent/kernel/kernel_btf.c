/*
 * The running kernel's BTF, parsed with one copy in memory. libbpf 1.1's
 * btf__load_vmlinux_btf() reads the 5+ MB file into a buffer and copies it
 * into the parsed object, so two copies are resident at once: the largest
 * part of the agent's peak RSS. Kernels from 6.16 let /sys/kernel/btf/vmlinux
 * be mapped (kernel pages, not counted in the process's RSS): btf__new() then
 * makes the only copy. Elsewhere, libbpf's own reader.
 */
#include "kernel_btf.h"

#include <bpf/btf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define KERNEL_BTF_PATH "/sys/kernel/btf/vmlinux"

static struct btf *parse_mapped(void)
{
	int fd = open(KERNEL_BTF_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	struct btf *btf = NULL;
	if (!fstat(fd, &st) && st.st_size > 0) {
		void *raw = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (raw != MAP_FAILED) {
			btf = btf__new(raw, (__u32)st.st_size);
			munmap(raw, (size_t)st.st_size);
		}
	}
	close(fd);
	return btf;
}

struct btf *kernel_btf_load(void)
{
	struct btf *btf = parse_mapped();
	return btf ? btf : btf__load_vmlinux_btf();
}
