/* Keeping the agent's resident memory small between BPF object loads. */
#ifndef BPFPUSH_RESIDENT_H
#define BPFPUSH_RESIDENT_H

/* Drop the pages of the binary's read-only data (the embedded BPF objects) from RSS. */
void resident_drop_embedded_objects(void);

#endif
