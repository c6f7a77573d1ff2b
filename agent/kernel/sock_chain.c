#include "sock_chain.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sock_chain_slots.h"
#include "sock_chain.skel.h"
#include "sock_fuse.h"

enum { TIER_TP_BTF, TIER_RAW_TP, TIER_TRACEPOINT, TIERS };
/* send, receive and TCP state, each in every tier: hook = kind * TIERS + tier */
enum { KIND_SEND, KIND_RECV, KIND_STATE, KINDS };
#define HOOKS (KINDS * TIERS)
/*
 * Dispatchers load in two groups per tier: the length hooks (6.3+) together,
 * the state hook (4.16+) alone, so that a kernel without the first still
 * loads the second.
 */
enum { GROUP_LENGTH, GROUP_STATE, GROUPS };
static int group_of(int hook) { return hook / TIERS == KIND_STATE ? GROUP_STATE : GROUP_LENGTH; }

/* By hook: the section a member's program has, and the name of its slot table. */
static const struct {
	const char *section, *table;
} hooks[HOOKS] = {
	{ "tp_btf/sock_send_length", "sock_chain_send_tp_btf" },
	{ "raw_tp/sock_send_length", "sock_chain_send_raw_tp" },
	{ "tracepoint/sock/sock_send_length", "sock_chain_send_tracepoint" },
	{ "tp_btf/sock_recv_length", "sock_chain_recv_tp_btf" },
	{ "raw_tp/sock_recv_length", "sock_chain_recv_raw_tp" },
	{ "tracepoint/sock/sock_recv_length", "sock_chain_recv_tracepoint" },
	{ "tp_btf/inet_sock_set_state", "sock_chain_state_tp_btf" },
	{ "raw_tp/inet_sock_set_state", "sock_chain_state_raw_tp" },
	{ "tracepoint/sock/inet_sock_set_state", "sock_chain_state_tracepoint" },
};

struct sock_chain {
	int tables[HOOKS];                     /* held for the agent's life: a table is emptied when its last fd closes */
	struct sock_chain_bpf *dispatch[GROUPS][TIERS]; /* a group's dispatchers in a tier, loaded with its first member */
	struct bpf_link *links[HOOKS];
	unsigned members[HOOKS];                /* bit per slot */
	/* Each member's object and program, by hook and slot: what a fused program is made of and gives back. */
	const struct bpf_object *member_obj[HOOKS][SOCK_CHAIN_SLOTS];
	int member_fd[HOOKS][SOCK_CHAIN_SLOTS];
	bool fused[HOOKS];        /* the fused program is in socket's slot instead of its own */
	bool fuse_refused[HOOKS]; /* said once why a hook's members stay three programs */
	/*
	 * A tier's fused programs, for its send and receive hooks, loaded
	 * together (one load) from the members' objects and kept while a hook of
	 * the tier uses one.
	 */
	struct {
		int fd[2]; /* the send and receive programs, -1 when not loaded */
		const struct bpf_object *members[SOCK_FUSE_MAX_MEMBERS];
		int users;
	} fusion[TIERS];
};

#define ALL_MEMBERS ((1u << SOCK_SLOT_SOCKET) | (1u << SOCK_SLOT_NETWORK) | (1u << SOCK_SLOT_APPS))

static struct bpf_program *dispatcher(struct sock_chain_bpf *skel, int hook)
{
	struct bpf_program *progs[HOOKS] = {
		skel->progs.chain_send_tp_btf, skel->progs.chain_send_raw_tp, skel->progs.chain_send_tracepoint,
		skel->progs.chain_recv_tp_btf, skel->progs.chain_recv_raw_tp, skel->progs.chain_recv_tracepoint,
		skel->progs.chain_state_tp_btf, skel->progs.chain_state_raw_tp, skel->progs.chain_state_tracepoint,
	};
	return progs[hook];
}

struct sock_chain *sock_chain_new(void)
{
	struct sock_chain *chain = calloc(1, sizeof(*chain));
	if (!chain)
		return NULL;
	for (int t = 0; t < TIERS; t++)
		chain->fusion[t].fd[0] = chain->fusion[t].fd[1] = -1;
	for (int h = 0; h < HOOKS; h++) {
		char name[16];
		snprintf(name, sizeof(name), "sock_chain_%d", h);
		chain->tables[h] = bpf_map_create(BPF_MAP_TYPE_PROG_ARRAY, name, sizeof(__u32), sizeof(__u32),
						  SOCK_CHAIN_SLOTS, NULL);
		if (chain->tables[h] < 0) {
			log_info("sock", "no sock chain (%s): socket, network and apps run a program each on the "
					 "sock:* hooks", strerror(errno));
			while (h-- > 0)
				close(chain->tables[h]);
			free(chain);
			return NULL;
		}
	}
	return chain;
}

/* A tier's fused programs close: the kernel frees them once no slot holds them. */
static void drop_fusion(struct sock_chain *chain, int tier)
{
	for (int i = 0; i < 2; i++) {
		if (chain->fusion[tier].fd[i] >= 0)
			close(chain->fusion[tier].fd[i]);
		chain->fusion[tier].fd[i] = -1;
	}
}

void sock_chain_free(struct sock_chain *chain)
{
	if (!chain)
		return;
	for (int h = 0; h < HOOKS; h++) {
		bpf_link__destroy(chain->links[h]);
		close(chain->tables[h]);
	}
	for (int t = 0; t < TIERS; t++)
		drop_fusion(chain, t);
	for (int g = 0; g < GROUPS; g++)
		for (int t = 0; t < TIERS; t++)
			sock_chain_bpf__destroy(chain->dispatch[g][t]);
	free(chain);
}

static int share_tables(const struct sock_chain *chain, struct bpf_object *obj)
{
	struct bpf_map *map;
	bpf_object__for_each_map(map, obj) {
		for (int h = 0; h < HOOKS; h++) {
			if (strcmp(bpf_map__name(map), hooks[h].table))
				continue;
			int err = bpf_map__reuse_fd(map, chain->tables[h]);
			if (err)
				return err;
			break;
		}
	}
	return 0;
}

int sock_chain_share(struct sock_chain *chain, struct bpf_object *obj)
{
	return chain ? share_tables(chain, obj) : 0;
}

int sock_chain_hook_of(const struct bpf_program *prog)
{
	const char *section = bpf_program__section_name(prog);
	for (int h = 0; h < HOOKS; h++)
		if (!strcmp(section, hooks[h].section))
			return h;
	return -1;
}

/* The dispatchers of a hook's group and tier, in one object: one load (and one parse of the kernel's BTF) each. */
static struct sock_chain_bpf *load_dispatchers(struct sock_chain *chain, int hook, int *err)
{
	struct sock_chain_bpf **slot = &chain->dispatch[group_of(hook)][hook % TIERS];
	*err = 0;
	if (*slot)
		return *slot;
	struct sock_chain_bpf *skel = sock_chain_bpf__open();
	if (!skel) {
		*err = -errno;
		return NULL;
	}
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, skel->obj) bpf_program__set_autoload(prog, false);
	for (int h = hook % TIERS; h < HOOKS; h += TIERS)
		if (group_of(h) == group_of(hook))
			bpf_program__set_autoload(dispatcher(skel, h), true);
	*err = share_tables(chain, skel->obj);
	if (!*err)
		*err = sock_chain_bpf__load(skel);
	if (*err) {
		sock_chain_bpf__destroy(skel);
		return NULL;
	}
	*slot = skel;
	return skel;
}

/*
 * All three members on a send or receive hook: one program does their work
 * (probes/sock_fused.bpf.c), in socket's slot. It jumps to no slot after it,
 * so from the update on every event runs it alone, and the members' own
 * programs, still in their slots, are not reached. Where it cannot be made,
 * the three programs run as before.
 */
static void fuse(struct sock_chain *chain, int hook)
{
	int kind = hook / TIERS, tier = hook % TIERS;
	if (chain->fused[hook] || chain->members[hook] != ALL_MEMBERS || kind == KIND_STATE)
		return;
	const struct bpf_object *members[SOCK_FUSE_MAX_MEMBERS] = { chain->member_obj[hook][SOCK_SLOT_SOCKET],
								    chain->member_obj[hook][SOCK_SLOT_NETWORK],
								    chain->member_obj[hook][SOCK_SLOT_APPS] };
	char why[160] = "";
	bool loaded = chain->fusion[tier].fd[kind] >= 0;
	if (loaded && memcmp(chain->fusion[tier].members, members, sizeof(members)))
		snprintf(why, sizeof(why), "the tier's other hook runs one made from other members");
	if (!loaded) {
		const char *sections[] = { hooks[KIND_SEND * TIERS + tier].section, hooks[KIND_RECV * TIERS + tier].section };
		if (!sock_fuse_load(members, SOCK_FUSE_MAX_MEMBERS, sections, 2, chain->fusion[tier].fd, why, sizeof(why)))
			memcpy(chain->fusion[tier].members, members, sizeof(members));
	}
	int fd = why[0] ? -1 : chain->fusion[tier].fd[kind];
	__u32 key = SOCK_SLOT_SOCKET;
	if (fd >= 0 && bpf_map_update_elem(chain->tables[hook], &key, &fd, BPF_ANY)) {
		snprintf(why, sizeof(why), "its slot: %s", strerror(errno));
		fd = -1;
	}
	if (fd < 0) {
		if (!chain->fusion[tier].users)
			drop_fusion(chain, tier);
		if (!chain->fuse_refused[hook])
			log_info("sock", "socket, network and apps stay three programs on %s: %s", hooks[hook].section,
				 why[0] ? why : "no program");
		chain->fuse_refused[hook] = true;
		return;
	}
	chain->fused[hook] = true;
	chain->fusion[tier].users++;
	log_info("sock", "socket, network and apps run as one program on %s", hooks[hook].section);
}

/* Before a member leaves: socket's own program back in its slot, or, socket leaving, its slot emptied. */
static void unfuse(struct sock_chain *chain, int hook, int leaving)
{
	if (!chain->fused[hook])
		return;
	__u32 key = SOCK_SLOT_SOCKET;
	int fd = chain->member_fd[hook][SOCK_SLOT_SOCKET];
	if (leaving == SOCK_SLOT_SOCKET)
		bpf_map_delete_elem(chain->tables[hook], &key);
	else if (bpf_map_update_elem(chain->tables[hook], &key, &fd, BPF_ANY))
		log_warn("sock", "socket's program back on %s: %s", hooks[hook].section, strerror(errno));
	chain->fused[hook] = false;
	int tier = hook % TIERS;
	if (--chain->fusion[tier].users == 0)
		drop_fusion(chain, tier);
}

int sock_chain_join(struct sock_chain *chain, int hook, int slot, const struct bpf_program *prog,
		    const struct bpf_object *obj)
{
	if (!chain || hook < 0 || hook >= HOOKS || slot <= 0 || slot >= SOCK_CHAIN_SLOTS)
		return -EINVAL;
	unfuse(chain, hook, -1); /* a member joining again: its program first goes where the fused one is made from */
	__u32 key = (__u32)slot;
	int fd = bpf_program__fd(prog);
	if (bpf_map_update_elem(chain->tables[hook], &key, &fd, BPF_ANY))
		return -errno;
	int err = 0;
	if (!chain->links[hook]) {
		struct sock_chain_bpf *skel = load_dispatchers(chain, hook, &err);
		if (skel) {
			chain->links[hook] = bpf_program__attach(dispatcher(skel, hook));
			if (!chain->links[hook])
				err = -errno;
		}
	}
	if (err) {
		bpf_map_delete_elem(chain->tables[hook], &key);
		return err;
	}
	chain->members[hook] |= 1u << slot;
	chain->member_obj[hook][slot] = obj;
	chain->member_fd[hook][slot] = fd;
	fuse(chain, hook);
	return 0;
}

void sock_chain_leave(struct sock_chain *chain, int hook, int slot)
{
	if (!chain || hook < 0 || hook >= HOOKS || slot <= 0 || slot >= SOCK_CHAIN_SLOTS)
		return;
	unfuse(chain, hook, slot);
	__u32 key = (__u32)slot;
	bpf_map_delete_elem(chain->tables[hook], &key);
	chain->members[hook] &= ~(1u << slot);
	chain->member_obj[hook][slot] = NULL;
	if (chain->members[hook])
		return;
	/* The last member gone: the hook costs nothing again. The dispatchers' object stays for the next member. */
	bpf_link__destroy(chain->links[hook]);
	chain->links[hook] = NULL;
}

int sock_chain_dispatcher_fd(const struct sock_chain *chain, int hook)
{
	struct sock_chain_bpf *skel = chain && hook >= 0 && hook < HOOKS ? chain->dispatch[group_of(hook)][hook % TIERS] : NULL;
	return skel ? bpf_program__fd(dispatcher(skel, hook)) : -1;
}
