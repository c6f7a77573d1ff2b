/* Shared by probes/swap.bpf.c and agent/modules/swap.c. */
#ifndef BPFPUSH_SWAP_H
#define BPFPUSH_SWAP_H

struct swap_counters {
	unsigned long long reads;  /* pages of swap-ins started: swap_read_folio (swap_readpage before 6.9) */
	unsigned long long writes; /* pages whose swap-out I/O was started: __swap_writepage, where pswpout counts */
};

#endif
