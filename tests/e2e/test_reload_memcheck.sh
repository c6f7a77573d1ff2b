#!/usr/bin/env bash
# Every kind of SIGHUP under valgrind: sinks only (a prefix), one module, the syscall layer,
# apps groups, global tags, and one that changes nothing. The agent keeps state built from a
# config (the apps table's groups, the sinks, the syscall layer) across reloads that leave it
# be: no read may reach a config freed by a reload. Processes are started and stopped all
# along, so the apps table groups new and exiting tasks after each reload. Zero valgrind errors,
# every reload applied, a flush after the last one, exit 0.
source "$(dirname "$0")/lib.sh"
check_eq() { [[ $1 -eq $2 ]] || { echo "${3:-values}: $1 != $2"; return 1; }; }
e2e_init --no-peers
command -v valgrind >/dev/null || bail "valgrind is installed (scripts/install-deps.sh --sanitizers)"

DIR=$E2E_TMP/memcheck
CFG=$DIR/bpfpush.yaml
mkdir -p "$DIR"

# mconfig PREFIX FD_ON LAYER GROUP TAG: the knobs each reload turns.
mconfig() {
	local m fd=$2
	{
		echo "global: { interval: 1s, log_level: info, syscall_layer: $3, tags: { env: $5 } }"
		echo "apps: { enabled: true, groups: [ { match: \"sleep*\", name: $4 }, { match: \"sh*\", name: shells } ] }"
		echo "modules:"
		echo "  process: { enabled: true }"
		echo "  oomkill: { enabled: true }"
		echo "  fd: { enabled: $fd }"
		for m in vfs sync mount shm socket network hardirq softirq cachestat dcstat swap disk filesystem; do
			echo "  $m: { enabled: false }"
		done
		echo "sinks:"
		echo "  - { name: console, type: stdout, format: graphite, prefix: \"$1\" }"
		echo "  - { name: dsd, type: dogstatsd, address: \"udp://127.0.0.1:9\", prefix: \"p$1\" }"
	} >"$CFG"
	chmod 600 "$CFG"
}

# A steady trickle of short-lived processes for the apps table (new groups after every reload).
churn() { while :; do sleep 0.2; sh -c 'true'; done; }
churn &
E2E_PIDS+=("$!")

mconfig one false auto g1 t1
AGENT_OUT=$DIR/agent.out
AGENT_ERR=$DIR/agent.err
valgrind --error-exitcode=9 --suppressions="$E2E_ROOT/tests/valgrind.supp" \
	"$BPFPUSH_BIN" -c "$CFG" >"$AGENT_OUT" 2>"$AGENT_ERR" &
AGENT_PID=$!
E2E_PIDS+=("$AGENT_PID")
wait_until 180 grep -q 'agent\.cpu_ns ' "$AGENT_OUT" || bail "the agent under valgrind flushes" "$(tail -20 "$AGENT_ERR")"

reloads() { grep -c 'INFO config: reloaded' "$AGENT_ERR"; }
flushes() { grep -c 'agent\.cpu_ns ' "$AGENT_OUT"; }
# reload WHAT ARGS...: rewrite, SIGHUP, wait for the reload and two more flushes.
reload() {
	local what=$1 before after f
	shift
	before=$(reloads)
	mconfig "$@"
	kill -HUP "$AGENT_PID"
	wait_until 240 bash -c "[[ \$(grep -c 'INFO config: reloaded' '$AGENT_ERR') -gt $before ]]"
	after=$(reloads)
	f=$(flushes)
	wait_until 240 bash -c "[[ \$(grep -c 'agent\.cpu_ns ' '$AGENT_OUT') -ge $((f + 2)) ]]"
	tap_ok "reload ($what) applied and the agent keeps flushing" \
		bash -c "[[ $after -gt $before && \$(grep -c 'agent\.cpu_ns ' '$AGENT_OUT') -ge $((f + 2)) ]]"
}

reload "a sink's prefix only" two false auto g1 t1
reload "one module (fd on)" two true auto g1 t1
reload "the syscall layer" two true tracepoints g1 t1
reload "apps groups" two true tracepoints g2 t1
reload "global tags" two true tracepoints g2 t2
reload "nothing changed" two true tracepoints g2 t2
reload "a sink again, modules kept since two reloads" three true tracepoints g2 t2

stop_pid "$AGENT_PID" 60
rc=$?
AGENT_PID=
tap_ok "exit status 0 under valgrind (9 would be valgrind errors)" check_eq "$rc" 0 "exit status"
tap_ok "valgrind: zero errors over every kind of reload" \
	bash -c "grep -q 'ERROR SUMMARY: 0 errors' '$AGENT_ERR' || { grep -m1 -A12 'Invalid\|uninitialised' '$AGENT_ERR'; grep 'ERROR SUMMARY' '$AGENT_ERR'; exit 1; }"
tap_done
