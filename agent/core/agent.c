#include "agent.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "clock.h"
#include "config_diff.h"
#include "log.h"
#include "syscall_metrics.h"
#include "notify.h"

/*
 * Module timers fire on interval boundaries; the flush follows a little
 * later, so that the collections of the same boundary are in the batch.
 */
#define FLUSH_LAG_MS 25
/* Up to this many sinks, each one carries every sink's agent.sink.* series (README "Transports"). */
#define SINK_STATS_SHARED_MAX 8

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Arm a one-shot timer for the next multiple of interval_ms on the wall clock, plus lag. */
static void arm_aligned(uv_timer_t *timer, uv_timer_cb cb, uint64_t interval_ms, uint64_t lag_ms)
{
	uv_update_time(timer->loop);
	uint64_t now = wall_ms();
	uint64_t delay = interval_ms - now % interval_ms + lag_ms;
	if (delay > interval_ms + lag_ms) /* exactly on a boundary already passed */
		delay -= interval_ms;
	uv_timer_start(timer, cb, delay, 0);
}

void agent_resolve_hostname(const struct config *cfg, char *hostname, size_t hcap, char *fqdn, size_t fcap)
{
	char name[256] = "localhost";
	if (cfg->global.hostname && strcmp(cfg->global.hostname, "auto"))
		snprintf(name, sizeof(name), "%s", cfg->global.hostname);
	else if (gethostname(name, sizeof(name) - 1))
		snprintf(name, sizeof(name), "localhost");
	name[sizeof(name) - 1] = '\0';
	snprintf(fqdn, fcap, "%s", name);
	if (!cfg->global.hostname || !strcmp(cfg->global.hostname, "auto")) {
		/* Resolved once at start: a host's own name does not move under a running agent. */
		struct addrinfo hints = { .ai_flags = AI_CANONNAME }, *res = NULL;
		if (!getaddrinfo(name, NULL, &hints, &res) && res && res->ai_canonname)
			snprintf(fqdn, fcap, "%s", res->ai_canonname);
		if (res)
			freeaddrinfo(res);
	}
	char *dot = strchr(name, '.');
	if (dot && (!cfg->global.hostname || !strcmp(cfg->global.hostname, "auto")))
		*dot = '\0';
	snprintf(hostname, hcap, "%s", name);
}

int agent_check_sinks(const struct config *cfg, FILE *to)
{
	char hostname[256], fqdn[256], why[96];
	int bad = 0;
	agent_resolve_hostname(cfg, hostname, sizeof(hostname), fqdn, sizeof(fqdn));
	struct sink_env env = { .hostname = hostname, .fqdn = fqdn, .global_tags = &cfg->global.tags };
	for (size_t i = 0; i < cfg->nsinks; i++) {
		const struct config_sink *sc = &cfg->sinks[i];
		const char *wrong = sink_check(sc, &env, why, sizeof(why));
		if (wrong && to)
			fprintf(to, "%s:%d: sink %s: %s\n", sc->file ? sc->file : cfg->path, sc->line, sc->name, wrong);
		bad += wrong != NULL;
	}
	return bad;
}

static void collect_module(struct agent *a, struct module *m)
{
	uint64_t t0 = monotonic_ns(), cpu0 = thread_cpu_ns();
	/* Events still in the ring belong to this interval. */
	if (m->ring && ring_buffer__consume(m->ring) < 0)
		log_warn(m->ops->name, "reading its ring buffer failed");
	int rc = m->ops->collect(m, a->store);
	m->collect_us = (monotonic_ns() - t0) / 1000u;
	m->collect_cpu_us = (thread_cpu_ns() - cpu0) / 1000u;
	if (rc)
		log_warn(m->ops->name, "collect failed: %s", strerror(-rc));
}

static void module_timer_cb(uv_timer_t *timer)
{
	struct module *m = timer->data;
	struct agent *a = m->agent;
	collect_module(a, m);
	arm_aligned(timer, module_timer_cb, config_module_interval_ms(a->cfg, m->id), 0);
}

static void ring_ready_cb(uv_poll_t *poll, int status, int events)
{
	struct module *m = poll->data;
	(void)events;
	if (status < 0 || ring_buffer__consume(m->ring) < 0)
		log_warn(m->ops->name, "reading its ring buffer failed");
}

/* Ring-buffer events join the loop through the ring's epoll fd: no thread. */
static void poll_ring(struct agent *a, struct module *m)
{
	if (!m->ring)
		return;
	m->ring_poll = malloc(sizeof(*m->ring_poll));
	if (!m->ring_poll || uv_poll_init(&a->loop, m->ring_poll, ring_buffer__epoll_fd(m->ring))) {
		free(m->ring_poll);
		m->ring_poll = NULL;
		log_warn(m->ops->name, "cannot poll its ring buffer; events are read at each collect");
		return;
	}
	m->ring_poll->data = m;
	uv_poll_start(m->ring_poll, UV_READABLE, ring_ready_cb);
}

static void free_handle(uv_handle_t *h) { free(h); }

/* Before the ring (and its epoll fd) goes away with the module's object. */
static void unpoll_ring(struct module *m)
{
	if (!m->ring_poll)
		return;
	uv_close((uv_handle_t *)m->ring_poll, free_handle);
	m->ring_poll = NULL;
}

static uint64_t read_rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long long pages = 0, resident = 0;
	if (!f)
		return 0;
	if (fscanf(f, "%llu %llu", &pages, &resident) != 2)
		resident = 0;
	fclose(f);
	return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* agent.*: the agent's own health, fed into the store like any module's metrics. */
static void collect_agent_metrics(struct agent *a)
{
	uint64_t total_us = 0, total_cpu_us = 0;
	for (int id = 0; id < (int)module_registry_count(); id++) {
		if (!a->running[id])
			continue;
		struct metric_tag tag = { "module", a->modules[id].ops->name };
		series_gauge_set(a->store, "agent.module.collect_us", &tag, 1, (double)a->modules[id].collect_us, false);
		series_gauge_set(a->store, "agent.module.collect_cpu_us", &tag, 1, (double)a->modules[id].collect_cpu_us,
				 false);
		if (a->modules[id].obj) /* modules without programs of their own miss nothing */
			series_counter_observe(a->store, "agent.bpf.missed", &tag, 1, attach_missed_events(&a->modules[id]));
		total_us += a->modules[id].collect_us;
		total_cpu_us += a->modules[id].collect_cpu_us;
	}
	const struct module *layer = syscall_watch_module(a->syscalls);
	if (layer && layer->attached) {
		struct metric_tag tag = { "module", "syscalls" };
		series_counter_observe(a->store, "agent.bpf.missed", &tag, 1, attach_missed_events(layer));
	}
	series_gauge_set(a->store, "agent.collect.duration_us", NULL, 0, (double)total_us, false);
	series_gauge_set(a->store, "agent.collect.cpu_us", NULL, 0, (double)total_cpu_us, false);
	series_gauge_set(a->store, "agent.modules.enabled", NULL, 0, a->modules_enabled, false);
	series_gauge_set(a->store, "agent.modules.failed", NULL, 0, a->modules_failed, false);
	series_gauge_set(a->store, "agent.flush.duration_us", NULL, 0, (double)a->flush_us, false);
	for (size_t i = 0; i < a->nsinks; i++) {
		struct series_store *own = a->sink_stores[i];
		struct sink_stats st;
		sink_get_stats(a->sinks[i], &st);
		struct metric_tag tags[2] = { { "sink", sink_name(a->sinks[i]) }, { "reason", NULL } };
		series_counter_observe(own, "agent.sink.sent", tags, 1, st.sent);
		for (int r = 0; r < DROP_REASON_COUNT; r++) {
			tags[1].value = sink_drop_reason_names[r];
			series_counter_observe(own, "agent.sink.dropped", tags, 2, st.dropped[r]);
		}
		series_counter_observe(own, "agent.sink.errors", tags, 1, st.errors);
		series_counter_observe(own, "agent.sink.reconnects", tags, 1, st.reconnects);
		series_gauge_set(own, "agent.sink.buffered", tags, 1, (double)st.buffered, false);
	}
	series_gauge_set(a->store, "agent.rss_bytes", NULL, 0, (double)read_rss_bytes(), false);
	series_counter_observe(a->store, "agent.cpu_ns", NULL, 0, clock_ns(CLOCK_PROCESS_CPUTIME_ID));
}

static void flush(struct agent *a, int64_t timestamp)
{
	uint64_t t0 = monotonic_ns();
	collect_agent_metrics(a);
	uint64_t now = monotonic_ns();
	const struct metric_batch **batches = a->sink_batches;
	if (batches == NULL) { /* no sinks: start-up ran out of memory */
		series_store_flush(a->store, timestamp, now);
		return;
	}
	batches[0] = series_store_flush(a->store, timestamp, now);
	for (size_t i = 0; i < a->nsinks; i++)
		batches[1 + i] = series_store_flush(a->sink_stores[i], timestamp, now);
	/*
	 * A few sinks each carry every sink's agent.sink.* series, so one that
	 * fails is seen through the others; beyond that each carries its own, so
	 * the cost of a flush grows with the sink count, not its square.
	 */
	bool shared = a->nsinks <= SINK_STATS_SHARED_MAX;
	for (size_t i = 0; i < a->nsinks; i++) {
		if (shared) {
			sink_send_batch(a->sinks[i], batches, 1 + a->nsinks);
		} else {
			const struct metric_batch *mine[2] = { batches[0], batches[1 + i] };
			sink_send_batch(a->sinks[i], mine, 2);
		}
	}
	a->flush_us = (monotonic_ns() - t0) / 1000u;
}

static void flush_timer_cb(uv_timer_t *timer)
{
	struct agent *a = timer->data;
	uint64_t interval = a->cfg->global.interval_ms;
	/* The boundary this flush follows: the end of the interval the values describe. */
	uint64_t boundary_ms = (wall_ms() - FLUSH_LAG_MS / 2) / interval * interval;
	flush(a, (int64_t)(boundary_ms / 1000u));
	arm_aligned(timer, flush_timer_cb, interval, FLUSH_LAG_MS);
}

static void on_sink_closed(void *arg)
{
	struct agent *a = arg;
	a->sinks_open--;
}

static void close_handle(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void close_module_handles(struct agent *a)
{
	for (int id = 0; id < (int)module_registry_count(); id++) {
		struct module *m = &a->modules[id];
		if (m->timer_ready)
			close_handle((uv_handle_t *)&m->timer);
		unpoll_ring(m);
	}
}

/* A last collect and flush, then every handle closed; the loop then ends by itself. */
static void agent_stop(struct agent *a)
{
	if (a->stopping)
		return;
	a->stopping = true;
	notify_send("STOPPING=1");
	for (int id = 0; id < (int)module_registry_count(); id++)
		if (a->running[id]) {
			uv_timer_stop(&a->modules[id].timer);
			collect_module(a, &a->modules[id]);
		}
	uint64_t interval = a->cfg->global.interval_ms;
	/* A partial interval is stamped with the boundary that ends it. */
	uint64_t end_ms = (wall_ms() + interval - 1) / interval * interval;
	flush(a, (int64_t)(end_ms / 1000u));
	close_module_handles(a);
	close_handle((uv_handle_t *)&a->flush_timer);
	close_handle((uv_handle_t *)&a->duration_timer);
	close_handle((uv_handle_t *)&a->watchdog_timer);
	close_handle((uv_handle_t *)&a->sig_term);
	close_handle((uv_handle_t *)&a->sig_int);
	close_handle((uv_handle_t *)&a->sig_quit);
	close_handle((uv_handle_t *)&a->sig_hup);
	for (size_t i = 0; i < a->nsinks; i++)
		sink_close(a->sinks[i], on_sink_closed, a);
}

static void duration_cb(uv_timer_t *timer)
{
	struct agent *a = timer->data;
	log_info("agent", "--duration reached: flushing and exiting");
	agent_stop(a);
}

static void log_events(const struct module *m)
{
	const struct module_ops *ops = m->ops;
	for (size_t e = 0; e < ops->nevents; e++) {
		const struct event_state *st = &m->events[e];
		if (!st->wanted)
			continue;
		if (st->chosen < 0) {
			log_warn(ops->name, "event %s cannot attach on this kernel; %s not sent (see --probe)",
				 ops->events[e].name, ops->events[e].gives);
			continue;
		}
		char way[64];
		attach_way_describe(&ops->events[e].ways[st->chosen], way, sizeof(way));
		log_debug(ops->name, "event %s attached via %s", ops->events[e].name, st->via[0] ? st->via : way);
	}
}

/* Does any event of the module go through the shared syscall layer? */
static bool uses_syscall_layer(const struct module_ops *ops)
{
	for (size_t e = 0; e < ops->nevents; e++)
		/* A syscall-layer way names syscalls and no tier. */
		for (int w = 0; w < EVENT_MAX_WAYS && (ops->events[e].ways[w].tier || ops->events[e].ways[w].syscalls[0]); w++)
			if (ops->events[e].ways[w].syscalls[0])
				return true;
	return false;
}

/*
 * Attach the enabled modules marked in `which` (NULL: every enabled one),
 * then, when `with_layer`, the syscall layer for every module at once.
 */
static void attach_modules(struct agent *a, const bool *which, bool with_layer)
{
	for (int id = 0; id < (int)module_registry_count(); id++) {
		if (!a->cfg->modules[id].enabled || (which && !which[id]))
			continue;
		struct module *m = &a->modules[id];
		m->ops = module_registry_get((module_id_t)id);
		m->id = (module_id_t)id;
		m->cfg = a->cfg;
		m->probes = &a->probes;
		m->sock_chain = a->sock_chain;
		m->agent = a;
		attach_module(m);
	}
	if (!with_layer) {
		probe_cache_release_btf(&a->probes); /* not needed until the next reload */
		return;
	}
	a->syscalls = syscall_watch_new(a->cfg, &a->probes);
	if (a->syscalls)
		syscall_watch_attach(a->syscalls, a->modules, module_registry_count());
	probe_cache_release_btf(&a->probes); /* not needed until the next reload */
}

static void watchdog_cb(uv_timer_t *timer)
{
	(void)timer;
	notify_send("WATCHDOG=1");
}

/* Ping at half the period the service manager asked for, from the loop itself: a stuck loop stops pinging. */
static void start_watchdog(struct agent *a)
{
	uv_timer_init(&a->loop, &a->watchdog_timer);
	uint64_t usec = notify_watchdog_usec();
	if (!usec)
		return;
	uint64_t every_ms = usec / 2000 ? usec / 2000 : 1;
	uv_timer_start(&a->watchdog_timer, watchdog_cb, every_ms, every_ms);
}

/* Start the attached modules marked in `which` (NULL: all): baselines, timers, ring polling. */
static void run_modules(struct agent *a, const bool *which)
{
	for (int id = 0; id < (int)module_registry_count(); id++) {
		struct module *m = &a->modules[id];
		if (!m->ops || (which && !which[id]))
			continue;
		if (!m->attached) {
			log_error(m->ops->name, "cannot run: %s (the other modules go on)", m->failure);
			continue;
		}
		log_events(m);
		if (m->ops->start && m->ops->start(m))
			log_warn(m->ops->name, "start-up baseline failed");
		if (!m->timer_ready) {
			uv_timer_init(&a->loop, &m->timer);
			m->timer_ready = true;
		}
		m->timer.data = m;
		a->running[id] = true;
		poll_ring(a, m);
		arm_aligned(&m->timer, module_timer_cb, config_module_interval_ms(a->cfg, (module_id_t)id), 0);
		log_info(m->ops->name, "running");
	}
}

static void count_modules(struct agent *a)
{
	a->modules_enabled = a->modules_failed = 0;
	for (int id = 0; id < (int)module_registry_count(); id++)
		if (a->modules[id].ops) {
			a->modules_enabled++;
			a->modules_failed += !a->modules[id].attached;
		}
}

static void start_modules(struct agent *a)
{
	attach_modules(a, NULL, true);
	run_modules(a, NULL);
	count_modules(a);
}

/* -1 when a sink could not be created (the others run). */
static int start_sinks(struct agent *a)
{
	a->sink_env.hostname = a->hostname;
	a->sink_env.fqdn = a->fqdn;
	a->sink_env.global_tags = &a->sinks_cfg->global.tags;
	int failed = 0;
	a->sink_env.interval_ms = a->cfg->global.interval_ms;
	size_t n = a->sinks_cfg->nsinks;
	a->sinks = calloc(n, sizeof(*a->sinks));
	a->sink_stores = calloc(n, sizeof(*a->sink_stores));
	a->sink_batches = calloc(n + 1, sizeof(*a->sink_batches));
	if (!a->sinks || !a->sink_stores || !a->sink_batches)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct series_store *own = series_store_new(a->cfg->global.series_ttl_ms * 1000000u);
		struct sink *s = own ? sink_create(&a->loop, &a->sinks_cfg->sinks[i], &a->sink_env) : NULL;
		if (!s) {
			log_error("agent", "sink %s could not be created", a->sinks_cfg->sinks[i].name);
			series_store_free(own);
			failed = -1;
			continue;
		}
		a->sink_stores[a->nsinks] = own;
		a->sinks[a->nsinks++] = s;
		a->sinks_open++;
	}
	return failed;
}

static void free_sink_stores(struct series_store **stores, size_t n)
{
	for (size_t i = 0; stores && i < n; i++)
		series_store_free(stores[i]);
	free(stores);
}

/* ---- SIGHUP: apply a valid config without losing counts (docs/design.md, reload) ---- */

/* Sinks being replaced: their config lives until the last of them has closed. */
struct retiring_sinks {
	struct agent *agent;
	const struct config *cfg; /* what the retiring sinks were built from: a reference of theirs */
	size_t pending;
};

static void on_sink_retired(void *arg)
{
	struct retiring_sinks *r = arg;
	if (--r->pending)
		return;
	config_free(r->cfg);
	free(r);
}

/* The sinks go out with what they buffered; new ones start from `next`. Returns whether they were replaced. */
static bool replace_sinks(struct agent *a, struct config *next)
{
	if (config_sinks_equal(a->sinks_cfg, next))
		return false;
	struct retiring_sinks *r = calloc(1, sizeof(*r));
	struct sink **old = a->sinks;
	struct series_store **old_stores = a->sink_stores;
	const struct metric_batch **old_batches = a->sink_batches;
	size_t nold = a->nsinks;
	if (!r)
		return false; /* keep the running sinks rather than lose them */
	r->agent = a;
	r->cfg = a->sinks_cfg; /* the sinks' reference passes to their retirement */
	r->pending = nold + 1;
	a->sinks = NULL;
	a->sink_stores = NULL;
	a->sink_batches = NULL;
	a->nsinks = a->sinks_open = 0;
	a->sinks_cfg = config_ref(next);
	agent_resolve_hostname(next, a->hostname, sizeof(a->hostname), a->fqdn, sizeof(a->fqdn));
	if (start_sinks(a))
		log_error("agent", "a new sink could not be created");
	for (size_t i = 0; i < nold; i++)
		sink_close(old[i], on_sink_retired, r);
	free(old);
	free_sink_stores(old_stores, nold);
	free(old_batches);
	on_sink_retired(r);
	return true;
}

/* A last collect, then detach: what the module counted until now is in the store. */
static void stop_module(struct agent *a, struct module *m, int id)
{
	if (a->running[id]) {
		uv_timer_stop(&m->timer);
		collect_module(a, m);
	}
	a->running[id] = false;
	unpoll_ring(m);
	module_release(m);
	m->syscalls = NULL;
}

/* Its counters restart from zero with its new BPF object: their next readings count in full. */
static void restart_counters(struct agent *a, const struct module_ops *ops)
{
	for (size_t i = 0; i < ops->nmetrics; i++)
		series_counter_restart(a->store, ops->metrics[i].name);
	for (size_t i = 0; i < ops->nsyscall_sums; i++)
		series_counter_restart(a->store, ops->syscall_sums[i].name);
}

static void apply_config(struct agent *a, struct config *next)
{
	struct config *old = a->cfg;
	bool restart[MODULE_MAX] = { false }, layer = false;
	unsigned restarted = 0;
	for (int id = 0; id < (int)module_registry_count(); id++) {
		const struct module_ops *ops = module_registry_get((module_id_t)id);
		restart[id] = ops && config_module_changed(old, next, (module_id_t)id);
		layer |= restart[id] && uses_syscall_layer(ops);
	}
	/* One BPF object serves every syscall-derived module: reloading it restarts all of them. */
	for (int id = 0; id < (int)module_registry_count() && layer; id++) {
		const struct module_ops *ops = module_registry_get((module_id_t)id);
		restart[id] |= ops && uses_syscall_layer(ops) && (old->modules[id].enabled || next->modules[id].enabled);
	}
	for (int id = 0; id < (int)module_registry_count(); id++) {
		struct module *m = &a->modules[id];
		if (!restart[id] || !m->ops)
			continue;
		stop_module(a, m, id);
		restart_counters(a, m->ops);
		m->ops = NULL;
	}
	if (layer && a->syscalls) {
		syscall_watch_free(a->syscalls);
		a->syscalls = NULL;
	}

	a->cfg = next;
	log_set_level(next->global.log_level);
	series_store_set_ttl(a->store, next->global.series_ttl_ms * 1000000u);
	for (size_t i = 0; i < a->nsinks; i++)
		series_store_set_ttl(a->sink_stores[i], next->global.series_ttl_ms * 1000000u);
	a->sink_env.interval_ms = next->global.interval_ms;
	for (int id = 0; id < (int)module_registry_count(); id++)
		if (a->modules[id].ops)
			a->modules[id].cfg = next;
	if (a->syscalls)
		syscall_watch_set_config(a->syscalls, next);
	attach_modules(a, restart, layer);
	run_modules(a, restart);
	count_modules(a);
	for (int id = 0; id < (int)module_registry_count(); id++)
		restarted += restart[id];

	if (old->global.interval_ms != next->global.interval_ms) {
		uv_timer_stop(&a->flush_timer);
		arm_aligned(&a->flush_timer, flush_timer_cb, next->global.interval_ms, FLUSH_LAG_MS);
		for (int id = 0; id < (int)module_registry_count(); id++)
			if (a->running[id] && !restart[id])
				arm_aligned(&a->modules[id].timer, module_timer_cb,
					    config_module_interval_ms(next, (module_id_t)id), 0);
	}
	bool sinks_replaced = replace_sinks(a, next);
	/* a->cfg's reference: modules and sinks still built from old hold their own. */
	config_free(old);
	log_info("config", "reloaded %s: %u module(s) restarted, %u running, sinks %s", next->path, restarted,
		 a->modules_enabled - a->modules_failed, sinks_replaced ? "replaced" : "kept");
}

static void signal_cb(uv_signal_t *handle, int signum)
{
	struct agent *a = handle->data;
	if (signum == SIGHUP) {
		struct config *next = NULL;
		struct config_errors errs = { 0 };
		if (config_load(a->cfg->path, &next, &errs)) {
			log_error("config", "reload refused, keeping the running config:");
			config_errors_print(&errs, stderr);
		} else if (!config_sinks_equal(a->sinks_cfg, next) && agent_check_sinks(next, NULL)) {
			log_error("config", "reload refused, keeping the running config:");
			agent_check_sinks(next, stderr);
			config_free(next);
		} else if (a->stopping) {
			config_free(next);
		} else {
			apply_config(a, next);
		}
		config_errors_free(&errs);
		return;
	}
	log_info("agent", "received %s: flushing and exiting", strsignal(signum));
	agent_stop(a);
}

static void stop_modules(struct agent *a)
{
	for (int id = 0; id < (int)module_registry_count(); id++)
		if (a->modules[id].ops)
			module_release(&a->modules[id]);
	syscall_watch_free(a->syscalls);
	a->syscalls = NULL;
}

int agent_run(struct config *cfg, uint64_t duration_ms)
{
	struct agent *a = calloc(1, sizeof(*a));
	if (!a) {
		config_free(cfg);
		return 1;
	}
	a->cfg = cfg;
	a->sinks_cfg = config_ref(cfg);
	a->duration_ms = duration_ms;
	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&a->loop);
	agent_resolve_hostname(cfg, a->hostname, sizeof(a->hostname), a->fqdn, sizeof(a->fqdn));
	a->store = series_store_new(cfg->global.series_ttl_ms * 1000000u);
	probe_cache_init(&a->probes);
	if (a->probes.privileged)
		a->sock_chain = sock_chain_new();
	start_modules(a);
	int rc = 0;
	if (!a->modules_enabled || a->modules_failed == a->modules_enabled) {
		log_error("agent", "no module can run%s%s", a->probes.privileged ? "" : ": ",
			  a->probes.privileged ? " (see bpfpush --probe)" : a->probes.privilege_why);
		rc = 2;
	} else if (!a->store) {
		log_error("agent", "out of memory at start-up");
		rc = 1;
	} else if (start_sinks(a)) {
		log_error("agent", "a sink could not be created: not starting");
		rc = 1;
	}
	if (rc) {
		close_module_handles(a);
		for (size_t i = 0; i < a->nsinks; i++)
			sink_close(a->sinks[i], on_sink_closed, a);
		uv_run(&a->loop, UV_RUN_DEFAULT);
	} else {
		uv_timer_init(&a->loop, &a->flush_timer);
		a->flush_timer.data = a;
		arm_aligned(&a->flush_timer, flush_timer_cb, cfg->global.interval_ms, FLUSH_LAG_MS);
		uv_timer_init(&a->loop, &a->duration_timer);
		a->duration_timer.data = a;
		if (duration_ms)
			uv_timer_start(&a->duration_timer, duration_cb, duration_ms, 0);
		/*
		 * SIGQUIT flushes and exits like SIGTERM; SIGUSR1 and SIGUSR2 mean nothing
		 * here and are ignored (their default would kill the agent unflushed).
		 */
		uv_signal_t *sigs[] = { &a->sig_term, &a->sig_int, &a->sig_quit, &a->sig_hup };
		int signums[] = { SIGTERM, SIGINT, SIGQUIT, SIGHUP };
		signal(SIGUSR1, SIG_IGN);
		signal(SIGUSR2, SIG_IGN);
		for (int i = 0; i < 4; i++) {
			uv_signal_init(&a->loop, sigs[i]);
			sigs[i]->data = a;
			uv_signal_start(sigs[i], signal_cb, signums[i]);
		}
		start_watchdog(a);
		log_info("agent", "bpfpush %s started: %u module(s) running, %zu sink(s), interval %llu ms", BPFPUSH_VERSION,
			 a->modules_enabled - a->modules_failed, a->nsinks, (unsigned long long)cfg->global.interval_ms);
		/* Ready means attached: a unit ordered after us starts with metrics flowing. */
		notify_send("READY=1");
		uv_run(&a->loop, UV_RUN_DEFAULT);
		rc = a->exit_code;
	}
	stop_modules(a);
	sock_chain_free(a->sock_chain); /* after every member left it */
	if (uv_loop_close(&a->loop) == UV_EBUSY)
		log_error("agent", "internal: a libuv handle was left open at exit");
	probe_cache_free(&a->probes);
	series_store_free(a->store);
	free_sink_stores(a->sink_stores, a->nsinks);
	free(a->sink_batches);
	free(a->sinks);
	config_free(a->sinks_cfg);
	config_free(a->cfg);
	free(a);
	return rc;
}
