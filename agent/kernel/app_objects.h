/*
 * apps' object and the syscall layer's, opened in the build this kernel
 * loads: with the per-CPU slots in front of apps' table where the verifier
 * takes compare-and-exchange (probe_cache.atomics_fetch), else table-only
 * (probes/app_process.bpf.h, APP_SLOTS). Either build is reached through
 * the full build's skeleton, whose maps, programs and knobs both have
 * (scripts/check-tableonly). network's object likewise: its full build
 * counts TCP bytes on the socket, which takes atomics with fetch too
 * (probes/network_tableonly.bpf.c).
 */
#ifndef BPFPUSH_APP_OBJECTS_H
#define BPFPUSH_APP_OBJECTS_H

#include <stdbool.h>

struct apps_bpf;
struct syscalls_bpf;
struct network_bpf;

/* NULL with errno set, as a skeleton's __open(). */
struct apps_bpf *apps_object_open(bool slots);
struct syscalls_bpf *syscalls_object_open(bool slots);
struct network_bpf *network_object_open(bool slots);

#endif
