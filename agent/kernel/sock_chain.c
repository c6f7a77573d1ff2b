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

enum { TIER_TP_BTF, TIER_RAW_TP, TIER_TRACEPOINT, TIERS };
#define HOOKS (2 * TIERS) /* send, then receive, each in every tier */

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
};

struct sock_chain {
	int tables[HOOKS];                     /* held for the agent's life: a table is emptied when its last fd closes */
	struct sock_chain_bpf *dispatch[TIERS]; /* a tier's two dispatchers, loaded with its first member */
	struct bpf_link *links[HOOKS];
	unsigned members[HOOKS];                /* bit per slot */
};

static struct bpf_program *dispatcher(struct sock_chain_bpf *skel, int hook)
{
	struct bpf_program *progs[HOOKS] = {
		skel->progs.chain_send_tp_btf, skel->progs.chain_send_raw_tp, skel->progs.chain_send_tracepoint,
		skel->progs.chain_recv_tp_btf, skel->progs.chain_recv_raw_tp, skel->progs.chain_recv_tracepoint,
	};
	return progs[hook];
}

struct sock_chain *sock_chain_new(void)
{
	struct sock_chain *chain = calloc(1, sizeof(*chain));
	if (!chain)
		return NULL;
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

void sock_chain_free(struct sock_chain *chain)
{
	if (!chain)
		return;
	for (int h = 0; h < HOOKS; h++) {
		bpf_link__destroy(chain->links[h]);
		close(chain->tables[h]);
	}
	for (int t = 0; t < TIERS; t++)
		sock_chain_bpf__destroy(chain->dispatch[t]);
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

/* A tier's dispatchers, both hooks in one object: one load (and one parse of the kernel's BTF) per tier. */
static int load_tier(struct sock_chain *chain, int tier)
{
	if (chain->dispatch[tier])
		return 0;
	struct sock_chain_bpf *skel = sock_chain_bpf__open();
	if (!skel)
		return -errno;
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, skel->obj) bpf_program__set_autoload(prog, false);
	bpf_program__set_autoload(dispatcher(skel, tier), true);
	bpf_program__set_autoload(dispatcher(skel, TIERS + tier), true);
	int err = share_tables(chain, skel->obj);
	if (!err)
		err = sock_chain_bpf__load(skel);
	if (err) {
		sock_chain_bpf__destroy(skel);
		return err;
	}
	chain->dispatch[tier] = skel;
	return 0;
}

int sock_chain_join(struct sock_chain *chain, int hook, int slot, const struct bpf_program *prog)
{
	if (!chain || hook < 0 || hook >= HOOKS || slot <= 0 || slot >= SOCK_CHAIN_SLOTS)
		return -EINVAL;
	__u32 key = (__u32)slot;
	int fd = bpf_program__fd(prog);
	if (bpf_map_update_elem(chain->tables[hook], &key, &fd, BPF_ANY))
		return -errno;
	int err = 0;
	if (!chain->links[hook]) {
		err = load_tier(chain, hook % TIERS);
		if (!err) {
			chain->links[hook] = bpf_program__attach(dispatcher(chain->dispatch[hook % TIERS], hook));
			if (!chain->links[hook])
				err = -errno;
		}
	}
	if (err) {
		bpf_map_delete_elem(chain->tables[hook], &key);
		return err;
	}
	chain->members[hook] |= 1u << slot;
	return 0;
}

void sock_chain_leave(struct sock_chain *chain, int hook, int slot)
{
	if (!chain || hook < 0 || hook >= HOOKS || slot <= 0 || slot >= SOCK_CHAIN_SLOTS)
		return;
	__u32 key = (__u32)slot;
	bpf_map_delete_elem(chain->tables[hook], &key);
	chain->members[hook] &= ~(1u << slot);
	if (chain->members[hook])
		return;
	/* The last member gone: the hook costs nothing again. The tier's object stays for the next member. */
	bpf_link__destroy(chain->links[hook]);
	chain->links[hook] = NULL;
}

int sock_chain_dispatcher_fd(const struct sock_chain *chain, int hook)
{
	if (!chain || hook < 0 || hook >= HOOKS || !chain->dispatch[hook % TIERS])
		return -1;
	return bpf_program__fd(dispatcher(chain->dispatch[hook % TIERS], hook));
}
