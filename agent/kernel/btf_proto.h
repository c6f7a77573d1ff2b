/* Questions about kernel prototypes, answered from the kernel's BTF. */
#ifndef BPFPUSH_BTF_PROTO_H
#define BPFPUSH_BTF_PROTO_H

#include <stdbool.h>
#include <stddef.h>

struct btf;
struct bpf_map;

/*
 * Is argument ARG (0 = the tracepoint's first) of tracepoint NAME a pointer
 * to struct STRUCT_NAME? Tracepoint prototypes change between kernels (a pid
 * becomes a task, a page becomes a folio), and tp_btf/raw_tp programs read
 * the argument as the type they were written for.
 */
bool btf_tracepoint_arg_is(const struct btf *btf, const char *name, unsigned arg, const char *struct_name);

/* How many arguments tracepoint NAME passes its probes (arguments get added), -1 when it has none. */
int btf_tracepoint_nargs(const struct btf *btf, const char *name);

/*
 * Does tracepoint NAME pass page-cache pages as its first argument: a struct
 * folio, or (before 5.16) a struct page, the head page? probes/folio.bpf.h
 * counts the pages of either.
 */
bool btf_tracepoint_passes_pages(const struct btf *btf, const char *name);

/*
 * Does the classic record of tracepoint NAME (struct trace_event_raw_NAME)
 * have field FIELD? Records lose and regain fields between kernels. True when
 * no BTF was read (nothing to ask).
 */
bool btf_tracepoint_record_has(const struct btf *btf, const char *name, const char *field);

/* How many parameters kernel function NAME takes, -1 when its BTF has no such function. */
int btf_func_nargs(const struct btf *btf, const char *name);
/*
 * Can this kernel load a way's fexit programs on udp_recvmsg/udpv6_recvmsg?
 * Their result is not at one place on every kernel (the functions lost an
 * argument in 5.19): programs named *_fexit6 read it after the six arguments
 * of earlier kernels, the others with bpf_get_func_ret (5.17+). PROGS are the
 * way's program names (NPROGS at most, NULL-terminated); when the answer is
 * no, WHY (CAP bytes) says why.
 */
bool btf_fits_udp_recv_fexit(const struct btf *btf, const char *const *progs, size_t nprogs, char *why, size_t cap);

/*
 * May kprobe, tracepoint and raw_tp programs use hash maps that allocate at
 * run time (BPF_F_NO_PREALLOC)? From 6.1 (bpf_mem_alloc) yes; before, the
 * verifier loads them but prints a kernel WARNING with a stack trace, once
 * per boot, which taints the kernel and alarms whoever reads dmesg. True when
 * the kernel's BTF has struct bpf_mem_alloc (or no BTF was read).
 */
bool btf_tracing_allocates_safely(const struct btf *btf);
/*
 * May tp_btf and fentry/fexit programs use socket-local storage
 * (bpf_sk_storage_get/delete)? From 5.11 yes. False when no BTF was read:
 * a program that needs it would not load.
 */
bool btf_tracing_has_sk_storage(const struct btf *btf);
/*
 * Preallocate MAP (clear BPF_F_NO_PREALLOC) before load on kernels where the
 * above is false: memory for every entry up front, and a deleted entry may be
 * reused while a program on another CPU still holds it (a count can land on
 * the entry's next owner), in exchange for no kernel warning.
 */
void map_prealloc_where_needed(struct bpf_map *map, const struct btf *btf);
#endif
