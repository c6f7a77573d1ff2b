/* Shared by probes/swap.bpf.c and agent/modules/swap.c. */
#ifndef BPFPUSH_SWAP_H
#define BPFPUSH_SWAP_H

struct swap_counters {
	unsigned long long reads;  /* pages of swap-ins started: swap_read_folio (swap_readpage before 6.9) */
	unsigned long long writes; /* pages of swap-outs started: swap_writeout (swap_writepage before 6.16) */
};

#endif
