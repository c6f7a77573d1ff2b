/* The collect's side of apps' per-CPU slots (app_slots.h). */
#include "app_slots.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* A program holds a slot for a few hundred ns; this bounds a wait that would otherwise never end. */
#define HOLD_TRIES 1000000

struct app_slots {
	struct app_slot *slot; /* the map's values, mapped */
	size_t bytes;
	uint32_t cpus;
	bool *held;     /* the collect holds it */
	bool *taken;    /* its counts went into an entry this collect */
	bool *freeing;  /* its owner exited: freed on release */
	uint32_t *owner;  /* its owner when held (0: free) */
	uint32_t *by_owner; /* held slots' indices, sorted by owner (app_slots_hold) */
	uint32_t nby;
};

struct app_slots *app_slots_open(int map_fd, uint32_t cpus)
{
	struct app_slots *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	long page = sysconf(_SC_PAGESIZE);
	s->cpus = cpus;
	s->bytes = (sizeof(struct app_slot_table) + (size_t)page - 1) / (size_t)page * (size_t)page;
	s->slot = mmap(NULL, s->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
	s->held = calloc(cpus, sizeof(*s->held));
	s->taken = calloc(cpus, sizeof(*s->taken));
	s->freeing = calloc(cpus, sizeof(*s->freeing));
	s->owner = calloc(cpus, sizeof(*s->owner));
	s->by_owner = calloc(cpus, sizeof(*s->by_owner));
	if (s->slot == MAP_FAILED || !s->held || !s->taken || !s->freeing || !s->owner || !s->by_owner) {
		int err = s->slot == MAP_FAILED ? errno : ENOMEM;
		if (s->slot == MAP_FAILED)
			s->slot = NULL;
		app_slots_free(s);
		errno = err;
		return NULL;
	}
	return s;
}

void app_slots_free(struct app_slots *s)
{
	if (!s)
		return;
	if (s->slot)
		munmap(s->slot, s->bytes);
	free(s->held);
	free(s->taken);
	free(s->freeing);
	free(s->owner);
	free(s->by_owner);
	free(s);
}

/*
 * Hold slot i: false when another held it for all of HOLD_TRIES, and then
 * s->owner[i] is the owner it was held for (app_slots_unheld).
 */
static bool hold_one(struct app_slots *s, uint32_t i)
{
	unsigned long long *word = &s->slot[i].owner;
	for (int tries = 0; tries < HOLD_TRIES; tries++) {
		unsigned long long owner = __atomic_load_n(word, __ATOMIC_ACQUIRE);
		s->owner[i] = (uint32_t)owner;
		if (owner & APP_SLOT_CLAIMED) {
			if (tries % 1000 == 999)
				sched_yield();
			continue;
		}
		if (__atomic_compare_exchange_n(word, &owner, owner | APP_SLOT_CLAIMED, false, __ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST))
			return true; /* s->owner[i] is the owner it now holds for */
	}
	return false;
}

void app_slots_hold(struct app_slots *s, void (*named)(void *ctx, uint32_t tgid), void *ctx)
{
	s->nby = 0;
	for (uint32_t i = 0; i < s->cpus; i++) {
		s->taken[i] = s->freeing[i] = false;
		s->held[i] = hold_one(s, i);
		if (!s->held[i] || !s->owner[i])
			continue;
		/* Kept sorted by owner as it grows: one slot per CPU, so a few hundred at most. */
		uint32_t k = s->nby++;
		for (; k > 0 && s->owner[s->by_owner[k - 1]] > s->owner[i]; k--)
			s->by_owner[k] = s->by_owner[k - 1];
		s->by_owner[k] = i;
		named(ctx, s->owner[i]);
	}
}

bool app_slots_unheld(const struct app_slots *s, uint32_t tgid)
{
	for (uint32_t i = 0; i < s->cpus; i++)
		if (!s->held[i] && s->owner[i] == tgid)
			return true;
	return false;
}

const struct app_process *app_slots_with(struct app_slots *s, uint32_t tgid, const struct app_process *p,
					 bool final, struct app_process *scratch)
{
	/* The first held slot of tgid, then the ones after it. */
	uint32_t lo = 0, hi = s->nby;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (s->owner[s->by_owner[mid]] < tgid)
			lo = mid + 1;
		else
			hi = mid;
	}
	const struct app_process *out = p;
	for (uint32_t k = lo; k < s->nby && s->owner[s->by_owner[k]] == tgid; k++) {
		uint32_t i = s->by_owner[k];
		if (s->taken[i])
			continue; /* read twice in one collect (a moved list with repeats): once only */
		if (out == p) {
			*scratch = *p;
			out = scratch;
		}
		/* Programs may be adding to it unclaimed meanwhile (probes/app_process.bpf.h slot_hold). */
		for (int c = 0; c < APP_SLOT_COUNTERS; c++)
			scratch->counters[c] += __atomic_load_n(&s->slot[i].counts[c], __ATOMIC_RELAXED);
		s->taken[i] = true;
		s->freeing[i] = final;
	}
	return out;
}

uint64_t app_slots_release(struct app_slots *s, int pids_fd)
{
	uint64_t lost = 0;
	struct app_process scratch;
	for (uint32_t i = 0; i < s->cpus; i++) {
		if (!s->held[i])
			continue;
		uint32_t owner = s->owner[i];
		bool gone = owner && !s->taken[i] && bpf_map_lookup_elem(pids_fd, &owner, &scratch) && errno == ENOENT;
		if (s->freeing[i] || gone) {
			if (gone)
				lost += app_slot_calls(s->slot[i].counts);
			memset(s->slot[i].counts, 0, sizeof(s->slot[i].counts));
			owner = 0;
		}
		s->held[i] = false;
		__atomic_store_n(&s->slot[i].owner, (unsigned long long)owner, __ATOMIC_RELEASE);
	}
	return lost;
}
