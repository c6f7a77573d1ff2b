#include "probe_report.h"

#include <string.h>
#include <sys/utsname.h>

#include "attach.h"
#include "module.h"
#include "syscall_watch.h"

/* Minimal JSON string escaping: our texts are ASCII we wrote or strerror() gave. */
static void json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		if ((unsigned char)*s < 0x20)
			fprintf(out, "\\u%04x", *s);
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

/* The way an event attached with does not see results (its own, or the syscall layer's). */
static bool sees_no_result(const struct module *m, size_t e)
{
	const struct event_state *st = &m->events[e];
	return st->no_result || (st->chosen >= 0 && m->ops->events[e].ways[st->chosen].no_result);
}

bool probe_metric_sent(const struct module *m, const char *metric)
{
	bool from_events = false;
	for (size_t e = 0; e < m->ops->nevents; e++) {
		from_events |= module_event_gives(&m->ops->events[e], metric);
		if (m->events[e].chosen >= 0 && module_event_gives(&m->ops->events[e], metric) &&
		    !(sees_no_result(m, e) && module_metric_needs_result(m->ops, metric)))
			return true;
	}
	/* What such a module reads from the kernel's own files it sends whenever it runs. */
	return !from_events && m->ops->runs_without_events && m->attached;
}

/* Why the load mode leaves an event unhooked (its twin of the other mode is hooked instead), or NULL. */
static const char *load_mode_why(const struct module *m, size_t e)
{
	if (m->ops->events[e].return_mode_only && m->cfg->global.load_mode != LOAD_MODE_RETURN)
		return "load_mode: entry hooks only where calls begin (return, the default, hooks this)";
	if (m->ops->events[e].entry_mode_only && m->cfg->global.load_mode == LOAD_MODE_RETURN)
		return "load_mode: return hooks its return side instead";
	return NULL;
}

/* Why an event is not hooked: waiting for the other load mode, or switched off in the config. */
static const char *unhooked_why(const struct module *m, size_t e)
{
	const char *why = load_mode_why(m, e);
	if (why)
		return why;
	why = m->ops->unwanted_why ? m->ops->unwanted_why(m, e) : NULL;
	return why ? why : "switched off in the config";
}

/* The events hooked come first: an entry-mode event left for its return twin is no reason when the twin fails. */
const char *probe_metric_missing_why(const struct module *m, const char *metric)
{
	for (size_t e = 0; e < m->ops->nevents; e++) {
		if (!module_event_gives(&m->ops->events[e], metric) || !m->events[e].wanted)
			continue;
		if (m->events[e].chosen < 0)
			return "no way to attach its event on this kernel";
		if (sees_no_result(m, e))
			return "load_mode: entry: the way in use sees calls, not results (return, the default, sees them)";
	}
	/*
	 * An entry-mode event is unhooked in return mode because its twin is
	 * hooked instead; when the twin is unhooked too, the twin's reason (a
	 * switch in the config) is the one that explains the metric.
	 */
	const char *mode_why = NULL;
	for (size_t e = 0; e < m->ops->nevents; e++) {
		if (!module_event_gives(&m->ops->events[e], metric) || m->events[e].wanted)
			continue;
		if (!load_mode_why(m, e))
			return unhooked_why(m, e);
		if (!mode_why)
			mode_why = load_mode_why(m, e);
	}
	if (mode_why)
		return mode_why;
	return m->failure[0] ? m->failure : "not measured";
}

static void print_text_module(FILE *out, const struct module *m)
{
	for (size_t e = 0; e < m->ops->nevents; e++) {
		const struct event_desc *ev = &m->ops->events[e];
		const struct event_state *st = &m->events[e];
		char way[64] = "";
		if (!st->wanted)
			snprintf(way, sizeof(way), "not hooked: %s", unhooked_why(m, e));
		else if (st->chosen >= 0 && st->via[0])
			snprintf(way, sizeof(way), "%s", st->via);
		else if (st->chosen >= 0)
			attach_way_describe(&ev->ways[st->chosen], way, sizeof(way));
		else
			snprintf(way, sizeof(way), "CANNOT ATTACH");
		fprintf(out, "  %-10s %-15s %-40s %s\n", m->ops->name, ev->name, way, ev->gives);
		for (int w = 0; w < EVENT_MAX_WAYS && ev->ways[w].tier; w++) {
			if (!st->refused[w][0])
				continue;
			char desc[64];
			attach_way_describe(&ev->ways[w], desc, sizeof(desc));
			fprintf(out, "  %-10s %-15s   refused %s: %s\n", "", "", desc, st->refused[w]);
		}
	}
	if (!m->ops->nmetrics)
		return;
	fprintf(out, "  %-10s metrics sent: ", m->ops->name);
	for (size_t i = 0; i < m->ops->nmetrics; i++)
		if (probe_metric_sent(m, m->ops->metrics[i].name))
			fprintf(out, "%s ", m->ops->metrics[i].name);
	fputc('\n', out);
	for (size_t i = 0; i < m->ops->nmetrics; i++)
		if (!probe_metric_sent(m, m->ops->metrics[i].name))
			fprintf(out, "  %-10s not sent: %s (%s)\n", "", m->ops->metrics[i].name,
				probe_metric_missing_why(m, m->ops->metrics[i].name));
}

static void print_json_module(FILE *out, const struct module *m, bool enabled, bool first)
{
	fprintf(out, "%s\n    {\"module\": ", first ? "" : ",");
	json_str(out, m->ops->name);
	fprintf(out, ", \"built\": true, \"enabled\": %s, \"runs\": %s, \"failure\": ", enabled ? "true" : "false",
		m->attached ? "true" : "false");
	json_str(out, m->failure);
	fprintf(out, ", \"events\": [");
	for (size_t e = 0; e < m->ops->nevents; e++) {
		const struct event_desc *ev = &m->ops->events[e];
		const struct event_state *st = &m->events[e];
		char way[64] = "";
		if (st->chosen >= 0 && st->via[0])
			snprintf(way, sizeof(way), "%s", st->via);
		else if (st->chosen >= 0)
			attach_way_describe(&ev->ways[st->chosen], way, sizeof(way));
		fprintf(out, "%s{\"event\": ", e ? ", " : "");
		json_str(out, ev->name);
		fprintf(out, ", \"hooked\": %s, \"way\": ", st->wanted ? "true" : "false");
		json_str(out, way);
		fprintf(out, ", \"refused\": [");
		bool any = false;
		for (int w = 0; w < EVENT_MAX_WAYS && ev->ways[w].tier; w++) {
			if (!st->refused[w][0])
				continue;
			char desc[64];
			attach_way_describe(&ev->ways[w], desc, sizeof(desc));
			fprintf(out, "%s{\"way\": ", any ? ", " : "");
			json_str(out, desc);
			fprintf(out, ", \"reason\": ");
			json_str(out, st->refused[w]);
			fputc('}', out);
			any = true;
		}
		fprintf(out, "]}");
	}
	fprintf(out, "], \"metrics_sent\": [");
	bool any = false;
	for (size_t i = 0; i < m->ops->nmetrics; i++)
		if (probe_metric_sent(m, m->ops->metrics[i].name)) {
			fprintf(out, "%s", any ? ", " : "");
			json_str(out, m->ops->metrics[i].name);
			any = true;
		}
	fprintf(out, "], \"metrics_missing\": {");
	any = false;
	for (size_t i = 0; i < m->ops->nmetrics; i++)
		if (!probe_metric_sent(m, m->ops->metrics[i].name)) {
			fprintf(out, "%s", any ? ", " : "");
			json_str(out, m->ops->metrics[i].name);
			fprintf(out, ": ");
			json_str(out, probe_metric_missing_why(m, m->ops->metrics[i].name));
			any = true;
		}
	fprintf(out, "}}");
}

int probe_report(const struct config *cfg, bool json, FILE *out)
{
	struct probe_cache pc;
	probe_cache_init(&pc);
	struct utsname uts;
	uname(&uts);
	if (json) {
		fprintf(out, "{\"kernel\": ");
		json_str(out, uts.release);
		fprintf(out, ", \"btf\": %s, \"privileged\": %s, \"tracefs\": ", pc.has_btf ? "true" : "false",
			pc.privileged ? "true" : "false");
		json_str(out, pc.tracefs);
		fprintf(out, ", \"lockdown\": ");
		json_str(out, pc.lockdown);
		fprintf(out, ", \"load_mode\": \"%s\"", cfg->global.load_mode == LOAD_MODE_RETURN ? "return" : "entry");
		fprintf(out, ", \"tiers\": {");
		for (int t = ATTACH_FENTRY; t < ATTACH_TIER_COUNT; t++) {
			fprintf(out, "%s", t > ATTACH_FENTRY ? ", " : "");
			json_str(out, config_attach_tier_name((enum attach_tier)t));
			fprintf(out, ": {\"ok\": %s, \"reason\": ", pc.tier_ok[t] ? "true" : "false");
			json_str(out, pc.tier_why[t]);
			fputc('}', out);
		}
		fprintf(out, "},\n  \"modules\": [");
	} else {
		fprintf(out, "kernel %s: BTF %s, BPF %s, tracefs %s, lockdown %s\n", uts.release,
			pc.has_btf ? "yes" : "no", pc.privileged ? "allowed" : "REFUSED",
			pc.tracefs[0] ? pc.tracefs : "unavailable", pc.lockdown);
		if (!pc.privileged)
			fprintf(out, "  %s\n", pc.privilege_why);
		for (int t = ATTACH_FENTRY; t < ATTACH_TIER_COUNT; t++)
			fprintf(out, "tier %-10s %s%s\n", config_attach_tier_name((enum attach_tier)t),
				pc.tier_ok[t] ? "yes" : "no: ", pc.tier_ok[t] ? "" : pc.tier_why[t]);
		fprintf(out, "load_mode %s\n\n  %-10s %-15s %-40s %s\n",
			cfg->global.load_mode == LOAD_MODE_RETURN
				? "return: hooks where calls return too, so results (bytes, errors) are sent"
				: "entry: hooks only where calls begin; fentry/kprobe hooks send no results (bytes, errors)",
			"MODULE", "EVENT", "WAY", "GIVES");
	}
	/* Every built module attaches for real (enabled or not: the report says what it would get). */
	struct module mods[MODULE_MAX] = { 0 };
	for (int id = 0; id < (int)module_registry_count(); id++) {
		const struct module_ops *ops = module_registry_get((module_id_t)id);
		mods[id] = (struct module){ .ops = ops, .id = (module_id_t)id, .cfg = cfg, .probes = &pc };
		attach_module(&mods[id]);
	}
	struct syscall_watch *layer = syscall_watch_new(cfg, &pc);
	if (layer)
		syscall_watch_attach(layer, mods, module_registry_count());
	int runnable = 0;
	for (int id = 0; id < (int)module_registry_count(); id++) {
		bool enabled = cfg->modules[id].enabled;
		const struct module *m = &mods[id];
		if (m->attached && enabled)
			runnable++;
		if (json) {
			print_json_module(out, m, enabled, id == 0);
			continue;
		}
		if (!m->attached)
			fprintf(out, "  %-10s %-15s CANNOT RUN: %s%s\n", m->ops->name, "-", m->failure, enabled ? "" : " (disabled)");
		print_text_module(out, m);
		if (!enabled)
			fprintf(out, "  %-10s (disabled in the config)\n", m->ops->name);
	}
	const struct module *lm = syscall_watch_module(layer);
	if (lm && json)
		print_json_module(out, lm, true, false);
	else if (lm)
		print_text_module(out, lm);
	for (int id = 0; id < (int)module_registry_count(); id++)
		if (mods[id].ops)
			module_release(&mods[id]);
	syscall_watch_free(layer);
	if (json)
		fprintf(out, "\n  ],\n  \"runnable_modules\": %d}\n", runnable);
	else
		fprintf(out, "\n%d enabled module(s) can run\n", runnable);
	probe_cache_free(&pc);
	return runnable ? 0 : 2;
}

static void list_catalogue(FILE *out, const char *module, const struct metric_desc *md, size_t n)
{
	static const char *const types[] = { "c", "g", "h" }, *const types_r[] = { "c(R)", "g(R)", "h(R)" };
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%-28s %-4s %-12s %-10s %s\n", md[i].name, (md[i].needs_result ? types_r : types)[md[i].type],
			md[i].tags[0] ? md[i].tags : "-", module, md[i].help);
}

void list_metrics(FILE *out)
{
	fprintf(out, "%-28s %-4s %-12s %-10s %s\n", "NAME", "TYPE", "TAGS", "MODULE", "MEANING");
	for (int id = 0; id < (int)module_registry_count(); id++) {
		const struct module_ops *ops = module_registry_get((module_id_t)id);
		if (ops)
			list_catalogue(out, ops->name, ops->metrics, ops->nmetrics);
	}
	list_catalogue(out, "agent", agent_metrics, agent_metrics_count);
}
