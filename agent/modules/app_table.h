/*
 * Per-application accounting for the apps module: the processes the kernel
 * table reports, what each has already contributed, and the groups their
 * deltas add up to between two emissions. No BPF here: the module feeds it
 * readings and exits, and it turns them into apps.* series and, with
 * cgroups on, the same measurements per cgroup as cgroup.* series (each
 * process's delta is taken once and added to its group in both).
 */
#ifndef BPFPUSH_APP_TABLE_H
#define BPFPUSH_APP_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apps.h"
#include "config.h"
#include "metric.h"

struct app_table;

/* The catalogue names of enum app_counter, in its order; cgroup.X is named after each apps.X. */
extern const char *const app_counter_names[APP_COUNTER_COUNT];

/*
 * cfg (its apps and cgroups sections) must outlive the table: the apps module
 * passes the config it holds. apps.* are sent unless only cgroups is on;
 * cgroup.* when cgroups is on.
 */
struct app_table *app_table_new(const struct config *cfg);
void app_table_free(struct app_table *t);

/*
 * A live process's cumulative counters, as read from the kernel table this
 * collect. false: nothing moved since its last reading (an idle process, or
 * one that died unseen: the caller may check which).
 */
bool app_table_observe(struct app_table *t, uint32_t tgid, const struct app_process *p);
/*
 * A hint that tgid is observed soon: its record is fetched into the cache
 * meanwhile. At 10000 processes, waiting for each record's first cache line
 * was most of the userspace side of a collect.
 */
void app_table_prefetch(const struct app_table *t, uint32_t tgid);
/* A process that is gone, with its final counters: counted, then forgotten. */
void app_table_exited(struct app_table *t, uint32_t tgid, const struct app_process *p);
/*
 * A process whose leader is being renamed, with its counters and identity
 * just before: what it counted so far goes to the group of that identity;
 * the next reading, under the new identity, starts from there.
 */
void app_table_renamed(struct app_table *t, uint32_t tgid, const struct app_process *before);
/*
 * End of a collect: the busiest apps.max_groups groups of this interval are
 * added to the store, the rest under app=other (and the busiest
 * cgroups.max_groups cgroups, the rest under cgroup=other); groups sent before and idle
 * now go out as 0 only in the slots left, the others' series are retired
 * (max_groups bounds every flush, zeros included); counters whose send[] is
 * false (not measured by the ways attached) are left out. Each emission is a
 * generation of the table (app_table_generation).
 */
void app_table_emit(struct app_table *t, struct series_store *store, const bool send[APP_COUNTER_COUNT]);
uint64_t app_table_generation(const struct app_table *t);
/*
 * Processes not observed since generation `since` are forgotten: the caller
 * has read every kernel entry since then, so the kernel table holds none of
 * them (an exit whose snapshot never came).
 */
void app_table_forget_unseen(struct app_table *t, uint64_t since);
/*
 * The sweep's share (agent/modules/apps.c): the `look` records from position
 * *cursor on, starting over at the first after the last (each at most once a
 * call); out[] (room for `look`) gets the tgids of those whose counts last
 * moved before emission `before`. Returns how many. A removal moves the last
 * record into the hole, so a pass may miss a record: the next finds it.
 */
size_t app_table_idle(const struct app_table *t, size_t *cursor, size_t look, uint64_t before, uint32_t *out);
/* A process that is gone with no counts left to add (its kernel entry is gone too): forgotten. */
void app_table_forget(struct app_table *t, uint32_t tgid);
/* Processes remembered, and groups known (for the agent's own metrics and tests). */
size_t app_table_processes(const struct app_table *t);
size_t app_table_groups(const struct app_table *t);
size_t app_table_cgroups(const struct app_table *t);

#endif
