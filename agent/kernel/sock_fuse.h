/*
 * The sock chain's three members as one program (probes/sock_fused.bpf.c),
 * loaded with the members' own maps and knobs: it counts what their three
 * programs would, into the same maps, in one program run.
 */
#ifndef BPFPUSH_SOCK_FUSE_H
#define BPFPUSH_SOCK_FUSE_H

#include <stddef.h>

struct bpf_object;
struct sock_fused_bpf;

/*
 * The fused program for the hook of this section (a member program's), with
 * the maps and knobs of the loaded member objects (socket's, network's and
 * apps'). NULL, with why, when they do not all have what it needs or it does
 * not load.
 */
struct sock_fused_bpf *sock_fuse_load(const struct bpf_object *const *members, int nmembers, const char *section,
				      char *why, size_t whylen);
/* Its program's fd. */
int sock_fuse_fd(const struct sock_fused_bpf *fused);
void sock_fuse_free(struct sock_fused_bpf *fused);

#endif
