/*
 * The collect's side of apps' per-CPU slots (probes/app_process.bpf.h,
 * docs/design.md "What an access costs"): it holds every slot while it reads
 * the table, so that no slot's counts move into an entry between the two
 * reads, and adds each process's slot counts to its entry's. A program of
 * the slot's owner may add to a held slot meanwhile: that moves nothing.
 */
#ifndef BPFPUSH_APP_SLOTS_H
#define BPFPUSH_APP_SLOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apps.h"

struct app_slots;

/* The first cpus slots of the map's one struct app_slot_table; NULL (errno set) when it cannot be mapped. */
struct app_slots *app_slots_open(int map_fd, uint32_t cpus);
void app_slots_free(struct app_slots *s);

/*
 * Hold every slot, waiting out a program that holds one; named() is called
 * with each owner, whose entry the collect must read.
 */
void app_slots_hold(struct app_slots *s, void (*named)(void *ctx, uint32_t tgid), void *ctx);

/*
 * Was a slot of tgid held by another (a program, for longer than a collect
 * waits) when the collect held the rest? Then an exited entry of tgid is not
 * final: that slot's counts reach it, or the next collect, later.
 */
bool app_slots_unheld(const struct app_slots *s, uint32_t tgid);

/*
 * tgid's entry p (read while held) with the held slots' counts of tgid added:
 * p itself when no slot names tgid, else scratch. final: p's process exited
 * and the collect folds it for good; its slots are freed on release.
 */
const struct app_process *app_slots_with(struct app_slots *s, uint32_t tgid, const struct app_process *p,
					 bool final, struct app_process *scratch);

/*
 * Release every held slot. A slot whose owner's entry the collect did not
 * take and that pids_fd no longer has is freed; returns the syscalls such slots held.
 */
uint64_t app_slots_release(struct app_slots *s, int pids_fd);

#endif
