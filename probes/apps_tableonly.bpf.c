// SPDX-License-Identifier: GPL-2.0
/*
 * apps.bpf.c counting in the table only, with no per-CPU slot: the build
 * kernels before 5.12 load (APP_SLOTS in probes/app_process.bpf.h). The
 * agent opens it through apps.bpf.c's skeleton (agent/kernel/app_objects.c);
 * the Makefile checks that both builds have the same maps, programs and knobs.
 */
#define APP_SLOTS 0
#include "apps.bpf.c"
