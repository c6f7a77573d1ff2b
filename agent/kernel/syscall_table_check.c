/*
 * The native numbers of probes/syscall_table.h, checked at build time against
 * the compiler's own <asm/unistd.h> for the architecture being built (the
 * cross compiler's for make ARCH=arm64): a wrong number is a build error, not
 * a row that silently never counts. No code: declarations only.
 */
#include <asm/unistd.h>

#include "syscall_table.h"

#define CHECK_ROW(name, nr, nr32, tp, variant) \
	_Static_assert((nr) == __NR_##name, "probes/syscall_table.h: wrong number for " #name);
SYSCALL_TABLE(CHECK_ROW)
#undef CHECK_ROW
