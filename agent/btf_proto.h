/* Questions about kernel prototypes, answered from the kernel's BTF. */
#ifndef BPFPUSH_BTF_PROTO_H
#define BPFPUSH_BTF_PROTO_H

#include <stdbool.h>
#include <stddef.h>

struct btf;

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

/* How many parameters kernel function NAME takes, -1 when its BTF has no such function. */
int btf_func_nargs(const struct btf *btf, const char *name);
/*
 * Can this kernel load the fexit programs that read udp_recvmsg's result with
 * bpf_get_func_ret (5.17+; the function's arguments changed in between, so the
 * result is not at a fixed place)? When not, WHY (REASON_MAX) says so.
 */
bool btf_fits_get_func_ret(const struct btf *btf, char *why, size_t cap);

#endif
