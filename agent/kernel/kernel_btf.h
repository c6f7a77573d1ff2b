/* The running kernel's BTF, parsed for the agent's own questions (prototypes, enums). */
#ifndef BPFPUSH_KERNEL_BTF_H
#define BPFPUSH_KERNEL_BTF_H

struct btf;

/* NULL with errno set when the kernel has no BTF; free with btf__free(). */
struct btf *kernel_btf_load(void);

#endif
