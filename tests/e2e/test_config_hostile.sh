#!/usr/bin/env bash
# Hostile configs and signals (issue #29): what the run refuses, --check-config refuses too, and
# nothing blocks the loop. A FIFO in conf.d or as ca_file, /dev/zero as ca_file, a prefix too
# long once {hostname} is expanded, files owned by another user; at -t, at start and at SIGHUP
# (the running config stays and the agent keeps flushing). A conf.d of 60 000 keys is loaded
# at SIGHUP while the agent keeps flushing; SIGUSR1/SIGUSR2 are ignored, SIGQUIT flushes and
# exits like SIGTERM. Every wait is a predicate with a deadline.
source "$(dirname "$0")/lib.sh"
e2e_init --no-peers
check_eq() { [[ $1 -eq $2 ]] || { echo "${3:-values}: $1 != $2"; return 1; }; }

DIR=$E2E_TMP/hostile
CFG=$DIR/bpfpush.yaml
CONFD=$DIR/conf.d
mkdir -p "$CONFD"
chmod 0755 "$DIR" "$CONFD"

# hconfig [PREFIX]: process only, apps off, a graphite console; PREFIX for a second sink.
hconfig() {
	{
		echo "global: { interval: 1s, log_level: info }"
		echo "apps: { enabled: false }"
		echo "cgroups: { enabled: false }"
		echo "modules:"
		for m in fd vfs sync mount shm cachestat dcstat swap socket network disk filesystem hardirq softirq oomkill; do
			echo "  $m: { enabled: false }"
		done
		echo "sinks:"
		echo '  - { name: console, type: stdout, format: graphite, prefix: "" }'
		[[ -n ${1:-} ]] && echo "  - { name: dsd, type: dogstatsd, address: \"udp://127.0.0.1:9\", prefix: \"$1\" }"
	} >"$CFG"
	chmod 0600 "$CFG"
}
LONG=$(printf 'x%.0s' $(seq 254))

# check_refuses DESC PATTERN: bpfpush -t exits 1 within 10 s and prints PATTERN.
check_refuses() {
	local desc=$1 pattern=$2
	tap_ok "-t: $desc" bash -c "out=\$(timeout 10 '$BPFPUSH_BIN' -t -c '$CFG' 2>&1); rc=\$?; \
		[[ \$rc -eq 1 && \$out == *'$pattern'* ]] || { echo \"rc \$rc\"; echo \"\$out\" | head -5; exit 1; }"
}
# start_refuses DESC: the agent exits 1 within 10 s, having flushed nothing.
start_refuses() {
	tap_ok "start: $1" bash -c "timeout 10 '$BPFPUSH_BIN' -c '$CFG' --duration 3 >/dev/null 2>&1; [[ \$? -eq 1 ]]"
}

# ------------------------------------------------ -t and start refuse
hconfig
mkfifo "$CONFD/50-fifo.yaml"
check_refuses "a FIFO in conf.d (no hang)" "50-fifo.yaml: refusing to read: a FIFO, not a regular file"
start_refuses "a FIFO in conf.d"
rm -f "$CONFD/50-fifo.yaml"

mkfifo "$DIR/ca.fifo"
printf 'sinks:\n  - { name: tls, type: graphite, address: "tls://127.0.0.1:1", ca_file: %s }\n' "$DIR/ca.fifo" >"$CONFD/60-tls.yaml"
check_refuses "a FIFO as ca_file" "60-tls.yaml:2:73: sinks[0].ca_file: not a regular file"
start_refuses "a FIFO as ca_file"
printf 'sinks:\n  - { name: tls, type: graphite, address: "tls://127.0.0.1:1", ca_file: /dev/zero }\n' >"$CONFD/60-tls.yaml"
check_refuses "/dev/zero as ca_file" "sinks[0].ca_file: not a regular file"
rm -f "$CONFD/60-tls.yaml"

# attach and syscall_layer that cannot apply, or that two modules watching one syscall contradict
# (agent/kernel/attach_keys.h): one line each, FILE:LINE:COL of the key.
printf 'modules:\n  disk: { syscall_layer: dispatcher }\n' >"$CONFD/70-keys.yaml"
check_refuses "syscall_layer on a module without syscall events" \
	"70-keys.yaml:2:26: modules.disk.syscall_layer: dispatcher cannot apply: disk has no syscall events"
tap_ok "-t: that refusal is one line" bash -c "[[ \$(timeout 10 '$BPFPUSH_BIN' -t -c '$CFG' 2>&1 | wc -l) -eq 1 ]]"
printf 'modules:\n  fd: { enabled: true, attach: tracepoint }\n  vfs: { enabled: true, attach: raw_tp }\n' >"$CONFD/70-keys.yaml"
check_refuses "two modules forcing different tiers on one syscall" \
	"70-keys.yaml:3:33: modules.vfs.attach: raw_tp conflicts with modules.fd.attach: tracepoint ($CONFD/70-keys.yaml:2:32)"
start_refuses "two modules forcing different tiers on one syscall"
rm -f "$CONFD/70-keys.yaml"

hconfig "$LONG.{hostname}"
check_refuses "a prefix longer than 255 bytes once expanded" "sink dsd: prefix: longer than 255 bytes once expanded"
start_refuses "a prefix longer than 255 bytes once expanded"

hconfig
printf 'global: { interval: 2s }\n' >"$CONFD/70-nobody.yaml"
chown 65534 "$CONFD/70-nobody.yaml"
check_refuses "a conf.d file owned by another user" "70-nobody.yaml: refusing to read: owned by uid 65534"
rm -f "$CONFD/70-nobody.yaml"
chmod 0777 "$DIR"
check_refuses "a config directory anyone may write, no sticky bit" "is writable by group or others, without the sticky bit"
chmod 0755 "$DIR"
tap_ok "-t: the clean config passes" "$BPFPUSH_BIN" -t -c "$CFG"

# ------------------------------------------------ SIGHUP refuses, the agent keeps flushing
hconfig
agent_start "$CFG" || bail "the agent starts" "$(tail -5 "$AGENT_ERR")"
flushes() { grep -c '^agent\.cpu_ns ' "$AGENT_OUT"; }
# hup_refused DESC PATTERN: SIGHUP; PATTERN logged; two more flushes follow.
hup_refused() {
	local f
	f=$(flushes)
	kill -HUP "$AGENT_PID"
	wait_until 10 grep -q "$2" "$AGENT_ERR"
	wait_until 10 bash -c "[[ \$(grep -c '^agent\.cpu_ns ' '$AGENT_OUT') -ge $((f + 2)) ]]"
	tap_ok "SIGHUP: $1: refused, the agent keeps flushing" \
		bash -c "grep -q '$2' '$AGENT_ERR' && [[ \$(grep -c '^agent\.cpu_ns ' '$AGENT_OUT') -ge $((f + 2)) ]]"
}
mkfifo "$CONFD/50-fifo.yaml"
hup_refused "a FIFO in conf.d" "50-fifo.yaml: refusing to read: a FIFO"
rm -f "$CONFD/50-fifo.yaml"
hconfig "$LONG.{hostname}"
hup_refused "a prefix too long once expanded" "sink dsd: prefix: longer than 255 bytes"
hconfig
printf 'sinks:\n  - { name: nobody, type: statsd, address: "unix:///dev/log" }\n' >"$CONFD/70-nobody.yaml"
chown 65534 "$CONFD/70-nobody.yaml"
hup_refused "a conf.d file owned by another user" "70-nobody.yaml: refusing to read: owned by uid 65534"
rm -f "$CONFD/70-nobody.yaml"
tap_ok "SIGHUP: no refused reload was applied" bash -c "! grep -q 'INFO config: reloaded' '$AGENT_ERR'"

# ------------------------------------------------ a conf.d of 60 000 keys at SIGHUP
# 30 000 apps groups of two keys each: the loader must read them in linear time (its duplicate-key
# check took 17-20 s without a flush when quadratic).
awk 'BEGIN { print "apps:"; print "  groups:"; for (i = 0; i < 30000; i++) printf "    - { match: \"m%d\", name: n%d }\n", i, i }' >"$CONFD/80-big.yaml"
f=$(flushes)
t0=$SECONDS
kill -HUP "$AGENT_PID"
wait_until 60 grep -q 'INFO config: reloaded\|reload refused' "$AGENT_ERR"
wait_until 10 bash -c "[[ \$(grep -c '^agent\.cpu_ns ' '$AGENT_OUT') -ge $((f + 2)) ]]"
tap_ok "SIGHUP: 60 000 keys in conf.d are loaded and the agent keeps flushing" \
	bash -c "grep -q 'INFO config: reloaded' '$AGENT_ERR' && [[ \$(grep -c '^agent\.cpu_ns ' '$AGENT_OUT') -ge $((f + 2)) ]]"
log "the 60 000-key reload and two flushes took about $((SECONDS - t0)) s"
rm -f "$CONFD/80-big.yaml"

# 200 000 unknown keys in one map, then flow nesting 100 000 deep: refused (the first errors and a
# count; the depth limit at its line) while the agent keeps flushing. Quadratic, these took over
# a minute and 17-20 s of a stopped loop.
big_refused() {
	local desc=$1 pattern=$2 before f
	before=$(grep -c 'reload refused' "$AGENT_ERR")
	f=$(flushes)
	kill -HUP "$AGENT_PID"
	wait_until 60 bash -c "[[ \$(grep -c 'reload refused' '$AGENT_ERR') -gt $before ]]"
	wait_until 10 bash -c "[[ \$(grep -c '^agent\.cpu_ns ' '$AGENT_OUT') -ge $((f + 2)) ]]"
	tap_ok "SIGHUP: $desc: refused, the agent keeps flushing" \
		bash -c "grep -q '$pattern' '$AGENT_ERR' && [[ \$(grep -c '^agent\.cpu_ns ' '$AGENT_OUT') -ge $((f + 2)) ]]"
}
awk 'BEGIN { print "global:"; for (i = 0; i < 200000; i++) printf "  u%d: v\n", i }' >"$CONFD/80-big.yaml"
big_refused "200 000 unknown keys" "and 199900 more error(s) not shown"
awk 'BEGIN { printf "global: { tags: { a: "; for (i = 0; i < 100000; i++) printf "["; for (i = 0; i < 100000; i++) printf "]"; print " } }" }' >"$CONFD/80-big.yaml"
big_refused "flow nesting 100 000 deep" "80-big.yaml:1:51: nested deeper than 32 levels"
rm -f "$CONFD/80-big.yaml"

# ------------------------------------------------ signals
f=$(flushes)
kill -USR1 "$AGENT_PID"
kill -USR2 "$AGENT_PID"
wait_until 10 bash -c "[[ \$(grep -c '^agent\.cpu_ns ' '$AGENT_OUT') -ge $((f + 2)) ]]"
tap_ok "SIGUSR1 and SIGUSR2 are ignored: the agent keeps flushing" \
	bash -c "kill -0 $AGENT_PID && [[ \$(grep -c '^agent\.cpu_ns ' '$AGENT_OUT') -ge $((f + 2)) ]]"
kill -QUIT "$AGENT_PID"
wait_until 10 bash -c "! kill -0 $AGENT_PID 2>/dev/null"
wait "$AGENT_PID"
rc=$?
forget_pid "$AGENT_PID"
tap_ok "SIGQUIT: exit 0 after a final flush, like SIGTERM" \
	bash -c "[[ $rc -eq 0 ]] && grep -q 'received Quit: flushing and exiting' '$AGENT_ERR' && grep -q 'console: closed:' '$AGENT_ERR'"
tap_done
