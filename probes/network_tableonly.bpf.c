// SPDX-License-Identifier: GPL-2.0
/*
 * network.bpf.c with TCP bytes counted in net_endpoints only, never on the
 * socket: the build kernels before 5.12 load (NET_SOCKET_COUNTS in
 * probes/network.bpf.c), whose verifier refuses a program holding an atomic
 * with fetch even where counts_on_socket leaves it unreached. The agent
 * opens it through network.bpf.c's skeleton (agent/kernel/app_objects.c);
 * the Makefile checks that both builds have the same maps, programs and knobs.
 */
#define NET_SOCKET_COUNTS 0
#include "network.bpf.c"
