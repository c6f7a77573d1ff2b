/*
 * The sock chain's three members as one program (probes/sock_fused.bpf.c),
 * loaded with the members' own maps and knobs: it counts what their three
 * programs would, into the same maps, in one program run.
 */
#ifndef BPFPUSH_SOCK_FUSE_H
#define BPFPUSH_SOCK_FUSE_H

#include <stddef.h>

struct bpf_object;

/* The chain's members: socket, network and apps. */
#define SOCK_FUSE_MAX_MEMBERS 3

/*
 * Load the fused programs for the hooks of these sections (member programs'
 * sections: a tier's send and receive hooks, loaded together), with the maps
 * and knobs of the loaded member objects (socket's, network's and apps'):
 * fds[i] is the program for sections[i], the caller's to close (the object
 * itself is not kept). 0, or -errno with why when the members do not all
 * have what it needs or it does not load.
 */
int sock_fuse_load(const struct bpf_object *const *members, int nmembers, const char *const *sections,
		   int nsections, int *fds, char *why, size_t whylen);

#endif
