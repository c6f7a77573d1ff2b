/*
 * The per-process table and how a syscall counts in it, shared by the apps
 * object (forks, exits, renames, bytes, page cache) and the syscall layer
 * (probes/syscalls.bpf.c), whose programs count a syscall host-wide and per
 * process in one run: a second program on the same hook costs as much again
 * as the first one's body (docs/design.md "The syscall layer"). The layer
 * uses the apps object's maps (agent/modules/apps.c hands them over before
 * the layer loads); without apps its copies hold one entry.
 */
#ifndef BPFPUSH_APP_PROCESS_BPF_H
#define BPFPUSH_APP_PROCESS_BPF_H

#include "apps.h"
#include "bpfpush.bpf.h"
#include "sock.bpf.h"
#include "syscall_table.h"

#define PF_EXITING_FLAG 0x00000004
#define CLONE_THREAD_FLAG 0x00010000

/* Which hierarchy names a cgroup, and whether opens with O_CREAT count: set before load. */
const volatile int cgroup_subsys = APP_CGROUP_UNIFIED;
const volatile bool count_creates = false; /* apps.counters.file_create: the open family's flags */

/*
 * Not preallocated: memory follows the live processes, and an entry deleted
 * here is never handed to another process while a program still holds it.
 * max_entries is global.pid_table_size, set before load. Before 6.1 the map is
 * preallocated instead (agent/kernel/btf_proto.h).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 32768);
	__type(key, __u32);
	__type(value, struct app_process);
} app_pids SEC(".maps");

/* A new entry is built here: it is larger than a program's stack allows comfortably. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct app_process);
} app_scratch SEC(".maps");

PERCPU_COUNTERS(app_health, app_health);

/*
 * Which entries moved since the last collect, so that it reads those and not
 * the whole table (at 10000 processes the batched read of every entry was
 * most of a collect). The collect bumps the generation, then drains the ring;
 * an entry goes on the ring once per generation, after its counts moved.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} app_collect_gen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, APP_MOVED_RING_BYTES);
} app_moved SEC(".maps");

/*
 * A slot per possible CPU in front of the table (struct app_slot): a counted
 * syscall of the slot's owner adds there, with no lookup in the table. Its
 * first read after a syscall costs a third of the table's (docs/design.md
 * "What an access costs"). use_slots: the kernel has BPF atomics with fetch
 * (agent/modules/apps.c probes it); slot_cpus: the possible CPUs. Mmapable:
 * the collect claims slots through the mapping.
 */
const volatile bool use_slots = false;
const volatile __u32 slot_cpus = 1;
/*
 * Programs that cannot be interleaved with another slot user on their CPU
 * may add to their own process's slot without claiming it (slot_hold). The
 * agent sets this where the kernel runs tracepoint programs with preemption
 * off (agent/modules/apps.c); kprobes always run so.
 */
const volatile bool slot_unclaimed_adds = false;
/*
 * apps' sock:sock_{send,recv}_length programs run in the calling process.
 * Where they are also the receive way chosen, no apps program counts into a
 * slot from a softirq (tcp_cleanup_rbuf, the other receive ways, is reached
 * from one), and with slot_unclaimed_adds they may add unclaimed. The agent
 * sets it (agent/modules/apps.c).
 */
const volatile bool sock_length_exclusive = false;

/*
 * 0 in the table-only build (probes/apps_tableonly.bpf.c,
 * probes/syscalls_tableonly.bpf.c) that kernels before 5.12 load: their
 * verifier refuses a program holding any compare-and-exchange, even one
 * use_slots leaves unreached. Maps and knobs stay the same in both builds:
 * the agent opens either through one skeleton (agent/kernel/app_objects.c).
 */
#ifndef APP_SLOTS
#define APP_SLOTS 1
#endif

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct app_slot_table);
} app_slots SEC(".maps");

static __always_inline struct app_slot_table *slot_table(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&app_slots, &zero);
}

static __always_inline void read_identity(struct task_struct *leader, struct app_identity_raw *id)
{
	BPF_CORE_READ_STR_INTO(&id->comm, leader, comm);
	const unsigned char *exe = BPF_CORE_READ(leader, mm, exe_file, f_path.dentry, d_name.name);
	if (exe)
		bpf_probe_read_kernel_str(id->exe, sizeof(id->exe), exe);
	struct css_set *cset = BPF_CORE_READ(leader, cgroups);
	struct kernfs_node *kn = NULL;
	if (cgroup_subsys == APP_CGROUP_UNIFIED) {
		kn = BPF_CORE_READ(cset, dfl_cgrp, kn);
	} else if (cgroup_subsys >= 0 && cgroup_subsys < (int)(sizeof(cset->subsys) / sizeof(cset->subsys[0]))) {
		struct cgroup_subsys_state *css = NULL;
		bpf_core_read(&css, sizeof(css), &cset->subsys[cgroup_subsys]);
		kn = BPF_CORE_READ(css, cgroup, kn);
	}
	const char *name = BPF_CORE_READ(kn, name);
	if (name)
		bpf_probe_read_kernel_str(id->cgroup, sizeof(id->cgroup), name);
}

/*
 * The entry of the current task's process, created at its first event. A task already
 * exiting creates none (except for its own exit, exiting_ok): its process's
 * final counts may have left already.
 */
static __always_inline struct app_process *app_of_current_task(bool exiting_ok)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct app_process *p = bpf_map_lookup_elem(&app_pids, &tgid);
	if (p)
		return p; /* the common case: one helper call and one lookup */
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	if (!exiting_ok && (BPF_CORE_READ(task, flags) & PF_EXITING_FLAG))
		return NULL;
	__u32 zero = 0;
	struct app_process *fresh = bpf_map_lookup_elem(&app_scratch, &zero);
	if (!fresh)
		return NULL;
	__builtin_memset(fresh, 0, sizeof(*fresh));
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);
	fresh->tgid = tgid;
	fresh->start_ns = BPF_CORE_READ(leader, start_time);
	read_identity(leader, &fresh->id);
	/* Another CPU may have created it meanwhile (EEXIST): either way, use what is there. */
	bpf_map_update_elem(&app_pids, &tgid, fresh, BPF_NOEXIST);
	p = bpf_map_lookup_elem(&app_pids, &tgid);
	if (!p) {
		struct app_health *h = percpu_slot(&app_health);
		if (h)
			h->table_full++;
	}
	return p;
}

static __always_inline struct app_process *app_of_current(void)
{
	return app_of_current_task(false);
}

/* Threads of one process update one entry from several CPUs at once. */
static __always_inline void add(struct app_process *p, int counter, __u64 n)
{
	if (counter >= 0 && counter < APP_COUNTER_COUNT)
		__sync_fetch_and_add(&p->counters[counter], n);
}

/*
 * After a program's last add to an entry: its first move in this collect
 * generation names it on app_moved. A run that read the generation just
 * before the collect bumped it is covered by ordering on x86 and by a
 * second read elsewhere (MOVED_READ_TWICE in agent/modules/apps.c).
 */
static __always_inline void moved(struct app_process *p)
{
	__u32 zero = 0;
	__u32 *gen = bpf_map_lookup_elem(&app_collect_gen, &zero);
	if (!gen || p->moved_gen == *gen)
		return;
	p->moved_gen = *gen;
	__u32 tgid = p->tgid;
	if (bpf_ringbuf_output(&app_moved, &tgid, sizeof(tgid), BPF_RB_NO_WAKEUP)) {
		struct app_health *h = percpu_slot(&app_health);
		if (h)
			h->moved_lost++;
	}
}

/* A held slot's counts into p (which may be another CPU's process entry), then zeroed. */
static __always_inline void slot_fold(struct app_slot *s, struct app_process *p)
{
	for (int k = 0; k < APP_SLOT_COUNTERS; k++) {
		__u64 n = s->counts[k];
		if (!n)
			continue;
		if (p)
			__sync_fetch_and_add(&p->counters[k], n);
		s->counts[k] = 0;
	}
}

/* A held slot's counts into its owner's entry, returned; counted as lost when the entry is gone. */
static __always_inline struct app_process *slot_fold_entry(struct app_slot *s, __u32 owner)
{
	struct app_process *p = bpf_map_lookup_elem(&app_pids, &owner);
	if (!p) {
		struct app_health *h = percpu_slot(&app_health);
		if (h)
			h->slot_lost += app_slot_calls(s->counts);
	}
	slot_fold(s, p);
	return p;
}

/* The same, and the entry named to the collect. */
static __always_inline void slot_fold_owner(struct app_slot *s, __u32 owner)
{
	struct app_process *p = slot_fold_entry(s, owner);
	if (p)
		moved(p);
}

/*
 * How a program may use its CPU's slot. Exclusive: nothing else adds to or
 * moves this CPU's slot counts while it runs, except from an interrupt,
 * where no program counts a syscall. That holds for a program with
 * preemption off on its CPU: a classic or raw tracepoint's, or a kprobe's
 * (slot_unclaimed_adds says whether the kernel runs tracepoint programs so).
 * An fentry or fexit program may be preempted midway, by another process's
 * program that takes the slot over: it claims the slot.
 */
enum slot_use { SLOT_CLAIM = 0, SLOT_EXCLUSIVE };

/*
 * This CPU's slot for the current process; NULL: count in the table. An
 * exclusive program finding its own process's slot unclaimed adds to it
 * without claiming it (*claimed false): the only other writers then are on
 * other CPUs, and the collect and an exit's fold of its slots leave the
 * counts in place or find the process gone (docs/design.md "What an access
 * costs"). Otherwise the slot is claimed. Another process's slot is claimed
 * under its owner's name while its counts move to that owner's entry, so
 * that an exit of that owner sees it held (slots_fold_all in apps.bpf.c) and leaves its
 * entry to the collect.
 */
static __always_inline struct app_slot *slot_hold(enum slot_use use, bool *claimed)
{
	*claimed = false;
#if !APP_SLOTS
	return NULL;
#else
	if (!use_slots)
		return NULL;
	__u32 cpu = bpf_get_smp_processor_id();
	struct app_slot_table *all = slot_table();
	if (!all || cpu >= APP_SLOT_MAX_CPUS)
		return NULL;
	struct app_slot *s = &all->slot[cpu];
	__u64 me = bpf_get_current_pid_tgid() >> 32;
	__u64 owner = s->owner;
	if (owner == me && use == SLOT_EXCLUSIVE && slot_unclaimed_adds)
		return s;
	*claimed = true;
	if (owner == me)
		return __sync_val_compare_and_swap(&s->owner, me, me | APP_SLOT_CLAIMED) == me ? s : NULL;
	if (owner & APP_SLOT_CLAIMED)
		return NULL;
	if (__sync_val_compare_and_swap(&s->owner, owner, owner | APP_SLOT_CLAIMED) != owner)
		return NULL;
	if (owner)
		slot_fold_owner(s, (__u32)owner);
	/* The current process needs its entry (its identity is read now, from its own task). */
	if (!app_of_current()) {
		__sync_val_compare_and_swap(&s->owner, owner | APP_SLOT_CLAIMED, 0);
		return NULL;
	}
	s->owner = me | APP_SLOT_CLAIMED; /* held: no one else writes it */
	return s;
#endif
}

/*
 * A held slot is written by its holder alone, so its release needs no
 * compare-and-exchange, only to be seen after the counts. x86 keeps stores in
 * program order, and the barrier keeps the compiler from moving the counts'
 * stores past it: a plain store does it there, without the locked
 * instruction. Elsewhere stores may be seen out of order, and BPF's
 * store-release is too recent for the kernels this loads on, so the
 * exchange stays. A slot used unclaimed has nothing to release.
 */
static __always_inline void slot_release(struct app_slot *s, bool claimed)
{
#if APP_SLOTS
	if (!claimed)
		return;
	__u64 held = s->owner;
#if defined(__TARGET_ARCH_x86)
	barrier();
	s->owner = held & ~APP_SLOT_CLAIMED;
#else
	__sync_val_compare_and_swap(&s->owner, held, held & ~APP_SLOT_CLAIMED);
#endif
#else
	(void)s;
	(void)claimed;
#endif
}

/*
 * Every CPU's slot counts of tgid added to counters (a rename's snapshot),
 * left where they are: its threads may be adding to them unclaimed on their
 * CPUs, and a count moved away under such an add would come back. A slot
 * held by another now (the collect, or its CPU moving it out), or moved into
 * the entry since the caller copied it, is left out: its counts go to the
 * name after (userspace takes a snapshot below what it saw as nothing).
 */
static __always_inline void slots_add_all(__u32 tgid, unsigned long long *counters)
{
#if APP_SLOTS
	if (!use_slots)
		return;
	struct app_slot_table *table = slot_table();
	if (!table)
		return;
	for (__u32 cpu = 0; cpu < APP_SLOT_MAX_CPUS && cpu < slot_cpus; cpu++) {
		struct app_slot *s = &table->slot[cpu];
		__u64 owner = s->owner;
		if (owner != tgid || __sync_val_compare_and_swap(&s->owner, owner, owner | APP_SLOT_CLAIMED) != owner)
			continue;
		for (int k = 0; k < APP_SLOT_COUNTERS; k++)
			counters[k] += s->counts[k];
		__sync_val_compare_and_swap(&s->owner, owner | APP_SLOT_CLAIMED, owner);
	}
#else
	(void)tgid;
	(void)counters;
#endif
}

/* Named on app_moved even if it was in this generation already: the collect may have read it since. */
static __always_inline void moved_again(struct app_process *p)
{
	__u32 zero = 0;
	__u32 *gen = bpf_map_lookup_elem(&app_collect_gen, &zero);
	if (gen)
		p->moved_gen = *gen + 1;
	moved(p);
}

/* unlinkat's flags (its third argument), from the registers saved at entry. */
static __always_inline bool removes_dir(struct pt_regs *regs)
{
	if (!regs)
		return false;
#if defined(__TARGET_ARCH_x86)
	return BPF_CORE_READ(regs, dx) & AT_REMOVEDIR_FLAG;
#else
	return PT_REGS_PARM3_CORE_SYSCALL(regs) & AT_REMOVEDIR_FLAG;
#endif
}

/* Argument n (0-based, n < 3) of a native syscall, from the registers saved at entry. */
static __always_inline unsigned long native_arg(struct pt_regs *regs, int n)
{
#if defined(__TARGET_ARCH_x86)
	return n == 0 ? BPF_CORE_READ(regs, di) : n == 1 ? BPF_CORE_READ(regs, si) : BPF_CORE_READ(regs, dx);
#else
	return n == 0 ? PT_REGS_PARM1_CORE_SYSCALL(regs)
		      : n == 1 ? PT_REGS_PARM2_CORE_SYSCALL(regs) : PT_REGS_PARM3_CORE_SYSCALL(regs);
#endif
}

/*
 * An open-family call with O_CREAT, or creat (as vfs.create counts them).
 * Without registers (a 32-bit task through the dispatcher) only creat is known.
 */
static __always_inline bool creates(__u32 row, struct pt_regs *regs)
{
#if HAVE_LEGACY_SYSCALLS
	if (row == SYS_creat)
		return true;
	if (!regs)
		return false;
	if (row == SYS_open)
		return native_arg(regs, 1) & O_CREAT_FLAG;
#else
	if (!regs)
		return false;
#endif
	if (row == SYS_openat)
		return native_arg(regs, 2) & O_CREAT_FLAG;
	__u64 flags = 0; /* openat2: struct open_how's first field, in the caller's memory */
	bpf_probe_read_user(&flags, sizeof(flags), (void *)native_arg(regs, 2));
	return flags & O_CREAT_FLAG;
}

/* A failed clone/clone3 asked for a thread (CLONE_THREAD); fork and vfork make processes. */
static __always_inline bool thread_wanted(__u32 row, struct pt_regs *regs)
{
	if (!regs || (row != SYS_clone && row != SYS_clone3))
		return false;
	__u64 flags = native_arg(regs, 0);
	if (row == SYS_clone3) { /* struct clone_args's first field */
		__u64 uflags = 0;
		bpf_probe_read_user(&uflags, sizeof(uflags), (void *)flags);
		flags = uflags;
	}
	return flags & CLONE_THREAD_FLAG;
}

/* Is descriptor fd of the current task a TCP socket (IPv4 or IPv6)? */
static __always_inline bool fd_is_tcp(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || (unsigned long)fd >= BPF_CORE_READ(fdt, max_fds))
		return false;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	struct socket *sock = f ? BPF_CORE_READ(f, private_data) : NULL;
	struct sock *sk = sock ? BPF_CORE_READ(sock, sk) : NULL;
	return sk && family_is_inet(sock_family(sk, false)) && sock_protocol(sk, false) == SOCK_IPPROTO_TCP;
}

/* Into the held slot s (plain: no one else writes it), else into p's entry (add). */
static __always_inline void bump(struct app_process *p, struct app_slot *s, int counter, __u64 n)
{
	if (!s)
		add(p, counter, n);
	else if (counter >= 0 && counter < APP_SLOT_COUNTERS)
		s->counts[counter] += n;
}

/*
 * What one syscall adds to a process's counters: in its held slot s, else in its entry p.
 * variant: the row's variant as the syscall layer read it (an open's O_CREAT, unlinkat's
 * AT_REMOVEDIR: the flags apps asks about too), or -1 where apps reads them from regs.
 */
static __always_inline void tally(struct app_process *p, struct app_slot *s, enum app_syscall_kind kind, __u32 row,
				  long ret, bool known, struct pt_regs *regs, int variant)
{
	bool failed = known && ret < 0;
	switch (kind) {
	case APP_SYSCALL_OPEN:
		bump(p, s, APP_FILE_OPEN, 1);
		if (failed)
			bump(p, s, APP_FILE_OPEN_ERRORS, 1);
		if (count_creates && (variant >= 0 ? variant : creates(row, regs)))
			bump(p, s, APP_FILE_CREATE, 1);
		break;
	case APP_SYSCALL_CLOSE:
		bump(p, s, APP_FILE_CLOSED, 1);
		if (failed)
			bump(p, s, APP_FILE_CLOSE_ERRORS, 1);
		break;
	case APP_SYSCALL_UNLINK:
		bump(p, s, APP_FILE_DELETED, 1);
		break;
	case APP_SYSCALL_READ:
		bump(p, s, APP_VFS_READ_CALL, 1);
		if (failed)
			bump(p, s, APP_VFS_READ_ERRORS, 1);
		else if (known && ret > 0)
			bump(p, s, APP_VFS_READ_BYTES, ret);
		break;
	case APP_SYSCALL_WRITE:
		bump(p, s, APP_VFS_WRITE_CALL, 1);
		if (failed)
			bump(p, s, APP_VFS_WRITE_ERRORS, 1);
		else if (known && ret > 0)
			bump(p, s, APP_VFS_WRITE_BYTES, ret);
		break;
	case APP_SYSCALL_FSYNC:
		bump(p, s, APP_FSYNC, 1);
		break;
	case APP_SYSCALL_FDATASYNC:
		bump(p, s, APP_FDATASYNC, 1);
		break;
	case APP_SYSCALL_SHMGET:
		bump(p, s, APP_SHM_GET, 1);
		break;
	case APP_SYSCALL_SHMAT:
		bump(p, s, APP_SHM_AT, 1);
		break;
	case APP_SYSCALL_SHMDT:
		bump(p, s, APP_SHM_DT, 1);
		break;
	case APP_SYSCALL_SHMCTL:
		bump(p, s, APP_SHM_CTL, 1);
		break;
	case APP_SYSCALL_ACCEPT:
		bump(p, s, APP_TCP_ACCEPT, 1);
		break;
	case APP_SYSCALL_FORK:
		bump(p, s, thread_wanted(row, regs) ? APP_THREAD_CREATE_ERRORS : APP_PROCESS_CREATE_ERRORS, 1);
		break;
	default:
		break;
	}
}

/* The kinds whose counters all sit below APP_SLOT_COUNTERS: they may count in the CPU's slot. */
static __always_inline bool slot_counts(enum app_syscall_kind kind)
{
	return kind == APP_SYSCALL_OPEN || kind == APP_SYSCALL_CLOSE || kind == APP_SYSCALL_UNLINK ||
	       kind == APP_SYSCALL_READ || kind == APP_SYSCALL_WRITE || kind == APP_SYSCALL_FSYNC ||
	       kind == APP_SYSCALL_FDATASYNC;
}

/*
 * known: the way sees the result (errors and bytes); otherwise calls only. variant: as
 * for tally(); regs may then be NULL for the open family and unlinkat. use: as for
 * slot_hold(), from the way's kind of program.
 */
static __always_inline void app_count_syscall(enum app_syscall_kind kind, __u32 row, long ret, bool known,
					  struct pt_regs *regs, int variant, enum slot_use use)
{
	if (kind == APP_SYSCALL_NONE)
		return;
	if (kind == APP_SYSCALL_UNLINK && row == SYS_unlinkat && (variant >= 0 ? variant : removes_dir(regs)))
		return;
	/* Only failed forks and accepted TCP connections count: the rest skip the table. */
	if (kind == APP_SYSCALL_FORK && !(known && ret < 0))
		return;
	if (kind == APP_SYSCALL_ACCEPT && !(known && ret >= 0 && fd_is_tcp(ret)))
		return;
	if (slot_counts(kind)) {
		bool claimed;
		struct app_slot *s = slot_hold(use, &claimed);
		if (s) {
			tally(NULL, s, kind, row, ret, known, regs, variant);
			slot_release(s, claimed);
			return;
		}
	}
	struct app_process *p = app_of_current();
	if (!p)
		return;
	tally(p, NULL, kind, row, ret, known, regs, variant);
	moved(p);
}

#define KIND_CASE(name, kind)                                                                            \
	case SYS_##name:                                                                                 \
		return kind;
static __always_inline enum app_syscall_kind app_kind_of_row(__u32 row)
{
	switch (row) {
		APP_SYSCALLS(KIND_CASE)
	default:
		return APP_SYSCALL_NONE;
	}
}

/*
 * The registers of the current task, for the rows whose flags apps reads itself: clones'.
 * An open's O_CREAT and unlinkat's AT_REMOVEDIR are the row's variant, which the syscall
 * layer has read already and hands over (app_count_syscall's variant): reading them
 * again took two helper calls and a probe read, 4-5 ns of exit_openat's run
 * (kernel.bpf_stats_enabled on 6.18), the whole cost of apps.counters.file_create.
 */
static __always_inline struct pt_regs *app_regs(__u32 row)
{
	return row == SYS_clone || row == SYS_clone3 ? current_task_regs() : NULL;
}

#endif
