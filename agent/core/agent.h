/*
 * The running agent: one libuv loop, one timer per module, one flush timer
 * aligned to the wall clock, the sinks, and the agent's own health metrics.
 */
#ifndef BPFPUSH_AGENT_H
#define BPFPUSH_AGENT_H

#include <stdbool.h>
#include <uv.h>

#include "attach.h"
#include "config.h"
#include "module.h"
#include "sink/sink.h"
#include "sock_chain.h"
#include "syscall_watch.h"

struct agent {
	uv_loop_t loop;
	struct config *cfg;
	const struct config *sinks_cfg; /* what the sinks were built from (one reference of its own): cfg, or an older one */
	struct probe_cache probes;
	struct syscall_watch *syscalls;
	struct sock_chain *sock_chain; /* for the agent's life: members join and leave it at reloads */
	struct module modules[MODULE_MAX];
	bool running[MODULE_MAX]; /* attached, timer started */
	unsigned modules_enabled, modules_failed;
	struct series_store *store;
	struct sink **sinks;
	struct series_store **sink_stores; /* parallel to sinks: each sink's own agent.sink.* series */
	const struct metric_batch **sink_batches; /* one flush: the shared batch, then each sink's own */
	size_t nsinks;
	size_t sinks_open; /* closes still pending at shutdown */
	struct sink_env sink_env;
	char hostname[256];
	char fqdn[256];
	uv_timer_t flush_timer;
	uv_timer_t duration_timer;
	uv_timer_t watchdog_timer; /* pings the service manager while the loop turns */
	uv_signal_t sig_term, sig_int, sig_quit, sig_hup; /* SIGQUIT is a SIGTERM; SIGUSR1/2 are ignored */
	uint64_t duration_ms; /* 0: run until a signal */
	uint64_t flush_us;    /* how long the last flush took */
	bool stopping;
	int exit_code;
};

/* Take ownership of cfg and run until SIGTERM/SIGINT or --duration; returns the exit code. */
int agent_run(struct config *cfg, uint64_t duration_ms);

/* Fill hostname/fqdn from config (hostname: auto -> the system's). */
/*
 * What the run would refuse that config_load() cannot see: a sink prefix too
 * long once {hostname} is expanded. Prints one FILE:LINE line each to `to`
 * (NULL: prints nothing); returns how many sinks fail.
 */
int agent_check_sinks(const struct config *cfg, FILE *to);
void agent_resolve_hostname(const struct config *cfg, char *hostname, size_t hcap, char *fqdn, size_t fcap);

#endif
