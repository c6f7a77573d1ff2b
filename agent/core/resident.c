/*
 * The agent's binary holds every module's BPF object (about 1.5 MB of
 * read-only data): libbpf reads one object's bytes while it loads it, then
 * never again until a reload. Dropping those pages from the process after
 * each load keeps them out of RSS, and out of the peak that libbpf's own
 * copies of the kernel's BTF (two of 5+ MB during every load) stack on top
 * of. The pages stay in the page cache: touching them again is a minor fault.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "resident.h"

#include <link.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

/* Smaller read-only segments (headers, symbol tables) are not worth a system call. */
#define SEGMENT_MIN_BYTES (256u << 10)

static int drop_segments(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || ph->p_flags != PF_R || ph->p_memsz < SEGMENT_MIN_BYTES)
			continue;
		uintptr_t start = (info->dlpi_addr + ph->p_vaddr + page - 1) & ~(page - 1);
		uintptr_t end = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz) & ~(page - 1);
		if (end > start)
			madvise((void *)start, end - start, MADV_DONTNEED);
	}
	return 1; /* the first object listed is the program itself: the libraries are not ours to drop */
}

void resident_drop_embedded_objects(void)
{
	dl_iterate_phdr(drop_segments, NULL);
}
