/* oomkill: OOM victims by application group, each also logged with pid, comm, exe and cgroup. */
#include <bpf/libbpf.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app_group.h"
#include "attach.h"
#include "btf_proto.h"
#include "grow.h"
#include "log.h"
#include "module.h"
#include "oomkill.h"
#include "oomkill.skel.h"
#include "percpu.h"

static const struct metric_desc oomkill_metrics[] = {
	{ "oomkill.kills", METRIC_COUNTER, false, "app",
	  "OOM kills by the victim's application group (apps.group_by, even with apps off), one per killed process; "
	  "app=unknown for victims whose event was lost" },
};

static const struct event_desc oomkill_events[] = {
	{ .name = "victim",
	  .gives = "oomkill.kills",
	  .ways = { { .tier = ATTACH_TP_BTF, .progs = { "oom_tp_btf" } },
		    { .tier = ATTACH_RAW_TP, .progs = { "oom_raw_tp" } },
		    { .tier = ATTACH_FENTRY, .progs = { "oom_fentry" } },
		    { .tier = ATTACH_KPROBE, .progs = { "oom_kprobe" } },
		    { .tier = ATTACH_TRACEPOINT, .progs = { "oom_tracepoint" } } } },
};

enum { WAY_TP_BTF = 0, WAY_RAW_TP };

struct app_kills {
	char app[OOM_NAME_LEN];
	uint64_t kills;
};

struct oomkill_state {
	struct oomkill_bpf *skel;
	struct app_kills *apps;
	size_t napps, cap;
};

static struct bpf_object *oomkill_open(struct module *m)
{
	struct oomkill_state *st = m->priv;
	if (!st && !(st = m->priv = calloc(1, sizeof(*st))))
		return NULL;
	st->skel = oomkill_bpf__open();
	return st->skel ? st->skel->obj : NULL;
}

static void oomkill_destroy(struct module *m)
{
	struct oomkill_state *st = m->priv;
	if (!st)
		return;
	ring_buffer__free(m->ring);
	m->ring = NULL;
	oomkill_bpf__destroy(st->skel);
	free(st->apps);
	free(st);
	m->priv = NULL;
}

/* Does tracepoint mark_victim pass the victim's task_struct (6.x), or only its pid (older)? */
static bool oomkill_way_fits(const struct module *m, size_t event, int way, char *why)
{
	(void)event;
	if (way != WAY_TP_BTF && way != WAY_RAW_TP)
		return true;
	if (btf_tracepoint_arg_is(probe_cache_btf(m->probes), "mark_victim", 0, "task_struct"))
		return true;
	snprintf(why, REASON_MAX, "tracepoint mark_victim passes the pid, not the victim's task, on this kernel");
	return false;
}

static void read_proc_text(unsigned pid, const char *what, char *out, size_t cap)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%u/%s", pid, what);
	FILE *f = fopen(path, "r");
	out[0] = '\0';
	if (!f)
		return;
	if (!fgets(out, (int)cap, f))
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

/* The classic tracepoint gave only the pid: the victim is usually still there to ask. */
static void fill_from_proc(struct oom_victim_event *e)
{
	if (!e->comm[0])
		read_proc_text(e->pid, "comm", e->comm, sizeof(e->comm));
	char path[64], target[PATH_MAX];
	snprintf(path, sizeof(path), "/proc/%u/exe", e->pid);
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		const char *base = strrchr(target, '/');
		snprintf(e->exe, sizeof(e->exe), "%.*s", OOM_NAME_LEN - 1, base ? base + 1 : target);
	}
	snprintf(path, sizeof(path), "/proc/%u/cgroup", e->pid);
	FILE *f = fopen(path, "r");
	char line[512];
	while (f && fgets(line, sizeof(line), f)) {
		/* v1 "N:memory:/a/b", or v2 "0::/a/b" when there is no memory hierarchy */
		char *ctrl = strchr(line, ':'), *cg = ctrl ? strchr(ctrl + 1, ':') : NULL;
		if (!cg)
			continue;
		bool memory = !strncmp(ctrl + 1, "memory:", 7), unified = ctrl[1] == ':';
		if (!memory && !(unified && !e->cgroup[0]))
			continue;
		cg[strcspn(cg, "\n")] = '\0';
		const char *leaf = strrchr(cg + 1, '/');
		snprintf(e->cgroup, sizeof(e->cgroup), "%.*s", OOM_NAME_LEN - 1, leaf ? leaf + 1 : cg + 1);
		if (memory)
			break;
	}
	if (f)
		fclose(f);
}

static void count_kill(struct oomkill_state *st, const char *app)
{
	for (size_t i = 0; i < st->napps; i++)
		if (!strcmp(st->apps[i].app, app)) {
			st->apps[i].kills++;
			return;
		}
	struct app_kills *grown = grow_array(st->apps, &st->cap, st->napps + 1, sizeof(*grown), 8);
	if (!grown) {
		log_error("oomkill", "out of memory: a kill of app %s is not counted", app);
		return;
	}
	st->apps = grown;
	snprintf(st->apps[st->napps].app, sizeof(st->apps[st->napps].app), "%.*s", OOM_NAME_LEN - 1, app);
	st->apps[st->napps++].kills = 1;
}

static int on_victim(void *ctx, void *data, size_t size)
{
	struct module *m = ctx;
	struct oomkill_state *st = m->priv;
	if (size < sizeof(struct oom_victim_event))
		return 0;
	struct oom_victim_event e;
	memcpy(&e, data, sizeof(e));
	e.comm[sizeof(e.comm) - 1] = e.exe[sizeof(e.exe) - 1] = e.cgroup[sizeof(e.cgroup) - 1] = '\0';
	if (!e.has_task)
		fill_from_proc(&e);
	struct app_identity id = { e.comm, e.exe, e.cgroup };
	char app[OOM_NAME_LEN];
	app_group_name(m->cfg, &id, app, sizeof(app));
	count_kill(st, app);
	log_warn("oomkill", "OOM killer chose pid %u (%s), exe %s, cgroup %s: app %s", e.pid, e.comm[0] ? e.comm : "?",
		 e.exe[0] ? e.exe : "?", e.cgroup[0] ? e.cgroup : "?", app[0] ? app : "none");
	return 0;
}

static int oomkill_start(struct module *m)
{
	struct oomkill_state *st = m->priv;
	m->ring = ring_buffer__new(bpf_map__fd(st->skel->maps.oom_events), on_victim, m, NULL);
	return m->ring ? 0 : -errno;
}

static int oomkill_collect(struct module *m, struct series_store *store)
{
	struct oomkill_state *st = m->priv;
	for (size_t i = 0; i < st->napps; i++) {
		struct metric_tag tag = { "app", st->apps[i].app };
		series_counter_observe(store, "oomkill.kills", &tag, 1, st->apps[i].kills);
	}
	uint64_t c[sizeof(struct oom_counters) / sizeof(uint64_t)];
	int rc = percpu_sum_u64(bpf_map__fd(st->skel->maps.oom_counters), 0, sizeof(c) / sizeof(c[0]), c);
	if (rc)
		return rc;
	const struct oom_counters *counters = (const struct oom_counters *)c;
	struct metric_tag module = { "module", "oomkill" };
	series_counter_observe(store, "agent.ringbuf.lost", &module, 1, counters->ringbuf_lost);
	if (counters->ringbuf_lost) {
		/* Victims whose event never arrived still count, without a name. */
		struct metric_tag unknown = { "app", "unknown" };
		series_counter_observe(store, "oomkill.kills", &unknown, 1, counters->ringbuf_lost);
	}
	return 0;
}

const struct module_ops oomkill_module = {
	.name = "oomkill",
	.config_help = "oomkill.kills by victim app",
	.enabled_by_default = true,
	.metrics = oomkill_metrics,
	.nmetrics = sizeof(oomkill_metrics) / sizeof(oomkill_metrics[0]),
	.events = oomkill_events,
	.nevents = sizeof(oomkill_events) / sizeof(oomkill_events[0]),
	.open = oomkill_open,
	.destroy = oomkill_destroy,
	.way_fits = oomkill_way_fits,
	.start = oomkill_start,
	.collect = oomkill_collect,
};
