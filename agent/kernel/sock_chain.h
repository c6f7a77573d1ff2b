/*
 * The sock chain (probes/sock_chain_slots.h): one dispatcher program on each
 * sock:sock_{send,recv}_length and sock:inet_sock_set_state hook and tier, which runs the members' programs
 * (socket, network, apps) as tail calls, one program run per event for all
 * of them. The agent owns the chain for its lifetime; attach.c puts a member
 * module's programs for those hooks in its slot instead of attaching them.
 */
#ifndef BPFPUSH_SOCK_CHAIN_H
#define BPFPUSH_SOCK_CHAIN_H

struct bpf_object;
struct bpf_program;
struct sock_chain;

/* The slot tables; NULL when the kernel refuses them (members then attach their programs one by one). */
struct sock_chain *sock_chain_new(void);
/* Members must have left. */
void sock_chain_free(struct sock_chain *chain);
/* Before a member's object loads: its slot tables become the chain's. 0 or -errno. */
int sock_chain_share(struct sock_chain *chain, struct bpf_object *obj);
/* The chain hook a program is for (by its section), -1 for none. */
int sock_chain_hook_of(const struct bpf_program *prog);
/*
 * A loaded member program (of obj) takes its slot on its hook; the hook's
 * dispatcher is attached with the first. With all three members on a send
 * or receive hook, one program does their work (agent/kernel/sock_fuse.h).
 * 0 or -errno.
 */
int sock_chain_join(struct sock_chain *chain, int hook, int slot, const struct bpf_program *prog,
		    const struct bpf_object *obj);
void sock_chain_leave(struct sock_chain *chain, int hook, int slot);
/* The hook's dispatcher (-1 before it loaded): the kernel's recursion misses there are every member's. */
int sock_chain_dispatcher_fd(const struct sock_chain *chain, int hook);

#endif
