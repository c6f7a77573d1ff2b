/*
 * The sock chain: socket, network and apps each count on
 * sock:sock_send_length, sock:sock_recv_length and sock:inet_sock_set_state,
 * and a program run costs
 * its hook's call into it on top of its work (~105 ns on 6.18: docs/design.md
 * "The sock chain"). So one dispatcher program sits on each hook, and each
 * module's program runs as a tail call: the dispatcher jumps to the first
 * slot filled, each member to the next one. A module keeps its own object and
 * maps, and reloads alone by replacing its slot.
 */
#ifndef BPFPUSH_SOCK_CHAIN_SLOTS_H
#define BPFPUSH_SOCK_CHAIN_SLOTS_H

/* A member's slot, in the order its program runs; 0 is no slot (a module that is no member). */
#define SOCK_SLOT_SOCKET 1
#define SOCK_SLOT_NETWORK 2
#define SOCK_SLOT_APPS 3
#define SOCK_CHAIN_SLOTS 4

#endif
