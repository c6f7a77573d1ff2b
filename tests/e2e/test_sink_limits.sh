#!/usr/bin/env bash
# Sinks under load and against hostile peers (issues 28 and 29):
#  1. a 4000-line flush to a real Etsy statsd 0.9.0 with its default socket buffer arrives whole
#     (statsd's repeater backend forwards every datagram it read to a counter with a large
#     buffer), statsd's socket drops nothing and UdpRcvbufErrors does not move;
#  2. statsd and dogstatsd sinks send no counter whose delta is 0 (send_zeros: false, their
#     default), graphite sinks do;
#  3. a flush larger than buffer_lines reaches a TCP peer that reads everything whole;
#  4. with 200 sinks each carries only its own agent.sink.* series; 257 sinks are refused;
#  5. a TCP peer that floods the agent is no longer read;
#  6. stdout on a pipe nobody reads does not stop a UDP sink, and SIGTERM with that pipe and a
#     TCP peer that never reads (write_timeout: 10m) exits within the close bound, counted;
#  7. a UDP sink to a closed port counts ICMP port unreachable in agent.sink.errors.
# The 4000 lines are apps.* series of 260 groups (processes exec'd through symlinks named
# e2eappNNN to sleep), sent with send_zeros: true so that every flush carries all of them.
source "$(dirname "$0")/lib.sh"
e2e_init
HERE=$(cd "$(dirname "$0")" && pwd)
PEERS="$SYSPY $HERE/sink_peers.py"
GROUPS_N=260

# sconfig FILE APPS(true|false) SINK_YAML...: interval 1 s, process module only, apps as asked.
sconfig() {
	local file=$1 apps=$2
	shift 2
	{
		echo "global: { interval: 1s, log_level: info }"
		echo "modules:"
		for m in fd vfs sync mount shm socket network hardirq softirq oomkill; do
			echo "  $m: { enabled: false }"
		done
		echo "  process: { enabled: true }"
		echo "apps: { enabled: $apps, max_groups: 400 }"
		echo "cgroups: { enabled: false }"
		echo "sinks:"
		printf '  %s\n' "$@"
	} >"$file"
	chmod 600 "$file"
}

# apps_start: GROUPS_N processes with distinct names (sleep through symlinks named e2eappNNN)
# for 120 s, spawned by one python process (its pid in APPS_PID; it waits for them).
APPS_PID=
apps_start() {
	$SYSPY - "$E2E_TMP/apps" "$GROUPS_N" "$(command -v sleep)" <<-'PY' &
	import os, sys
	d, n, sleep = sys.argv[1], int(sys.argv[2]), sys.argv[3]
	os.makedirs(d, exist_ok=True)
	kids = []
	for i in range(n):
	    p = os.path.join(d, "e2eapp%03d" % i)
	    if not os.path.lexists(p):
	        os.symlink(sleep, p)
	    kids.append(os.posix_spawn(p, [p, "120"], os.environ))
	import signal
	signal.signal(signal.SIGTERM, lambda *a: [os.kill(k, 9) for k in kids] and sys.exit(0))
	for k in kids:
	    os.waitpid(k, 0)
	PY
	APPS_PID=$!
	E2E_PIDS+=("$APPS_PID")
}
apps_stop() { stop_pid "$APPS_PID" 5; APPS_PID=; }

# peer_start MODE PORT FILE: a sink_peers.py peer; sets PEER_PID.
peer_start() {
	$PEERS "$1" "$2" "$3" &
	PEER_PID=$!
	E2E_PIDS+=("$PEER_PID")
	wait_listen "$2" "$([[ $1 == udp-* ]] && echo udp || echo tcp)" 10 "$PEER_PID"
}
count_of() { awk '{ print $2 }' "$1" 2>/dev/null; }
first_of() { awk '{ print $1 }' "$1" 2>/dev/null; }
udp_rcvbuf_errors() { awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "RcvbufErrors") c = i; h = 1 } else print $c }' /proc/net/snmp; }
# socket_drops PORT: the drops counter of the UDP socket bound to 127.0.0.1:PORT.
socket_drops() { awk -v a="$(printf '0100007F:%04X' "$1")" '$2 == a { print $NF }' /proc/net/udp; }
# closed_line SINK: "S D" from the sink's closing log line.
closed_counts() { sed -n "s/^.*sink: $1: closed: \([0-9]*\) lines sent, \([0-9]*\) dropped.*$/\1 \2/p" "$AGENT_ERR" | tail -1; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# ------------------------------------------------------------------ 1-3: statsd, zeros, buffer_lines
read -r SPORT MPORT RPORT TPORT < <(free_ports 4)
peer_start udp-count "$RPORT" "$E2E_TMP/repeated" || bail "the repeater's counter listens"
peer_start tcp-count "$TPORT" "$E2E_TMP/tcp_lines" || bail "the TCP counter listens"
mkdir -p "$E2E_TMP/statsd"
cat >"$E2E_TMP/statsd/config.js" <<-JS
{ port: $SPORT, address: "127.0.0.1", mgmt_address: "127.0.0.1", mgmt_port: $MPORT,
  backends: [ "./backends/repeater" ], repeater: [ { host: "127.0.0.1", port: $RPORT } ],
  flushInterval: 1000, deleteIdleStats: true }
JS
(cd "$PEERS_DIR/statsd/node_modules/statsd" && exec node stats.js "$E2E_TMP/statsd/config.js") >"$E2E_TMP/statsd/log" 2>&1 &
E2E_PIDS+=($!)
wait_listen "$SPORT" udp 20 $! || bail "statsd 0.9.0 starts" "$(tail -5 "$E2E_TMP/statsd/log")"

cfg=$E2E_TMP/statsd.yaml
sconfig "$cfg" true \
	"- { name: statsd, type: statsd, address: \"udp://127.0.0.1:$SPORT\", prefix: e2e, send_zeros: true }" \
	"- { name: carbon, type: graphite, address: \"tcp://127.0.0.1:$TPORT\", prefix: e2e, buffer_lines: 2000 }" \
	"- { name: console, type: stdout, format: statsd, prefix: e2e }" \
	"- { name: dsd, type: stdout, format: dogstatsd, prefix: e2ed }"
rcv0=$(udp_rcvbuf_errors) drops0=$(socket_drops "$SPORT")
agent_start "$cfg" || bail "agent starts" "$(tail -5 "$AGENT_ERR")"
apps_start
statsd_flush_max() { awk -F'[:|]' '$1 == "e2e.agent.sink.statsd.sent" && $2 > m { m = $2 } END { print m + 0 }' "$AGENT_OUT"; }
wait_until 60 quiet test "$(statsd_flush_max)" -ge 4000
sleep 3 # three more full flushes into statsd: the window UdpRcvbufErrors is compared over
agent_stop
apps_stop
rcv1=$(udp_rcvbuf_errors) drops1=$(socket_drops "$SPORT")
tap_ok "agent exits 0" test "$AGENT_RC" -eq 0
read -r sent dropped < <(closed_counts statsd)
biggest=$(statsd_flush_max)
log "statsd sink: $sent lines sent, $dropped dropped, largest flush $biggest lines"
tap_ok "a flush carried at least 4000 lines to statsd ($biggest)" test "${biggest:-0}" -ge 4000
repeated_all() { [[ $(count_of "$E2E_TMP/repeated") -ge $sent ]]; }
wait_until 10 repeated_all
got=$(count_of "$E2E_TMP/repeated")
log "statsd repeated $got of $sent lines in $(first_of "$E2E_TMP/repeated") datagrams; statsd socket drops $drops0 -> $drops1; UdpRcvbufErrors $rcv0 -> $rcv1 (host-wide); the counter's socket dropped $(socket_drops "$RPORT")"
tap_ok "statsd read every line the agent sent ($got of $sent)" test "$got" -eq "$sent"
tap_ok "statsd's socket dropped nothing ($drops0 -> $drops1)" test "$drops1" -eq "$drops0"
tap_ok "UdpRcvbufErrors did not move ($rcv0 -> $rcv1)" test "$rcv1" -eq "$rcv0"
zeros=$(grep -cE '^e2e\.[^ ]*:0\|c$' "$AGENT_OUT")
dzeros=$(grep -cE '^e2ed\.[^ ]*:0\|c(\||$)' "$AGENT_OUT")
gauge_zero=$(grep -cE '^e2e\.[^ ]*:0\|g$' "$AGENT_OUT")
tap_ok "statsd and dogstatsd formats send no zero counter ($zeros, $dzeros), gauges at 0 still go ($gauge_zero)" \
	test "$zeros" -eq 0 -a "$dzeros" -eq 0 -a "$gauge_zero" -gt 0
read -r csent cdropped < <(closed_counts carbon)
tcp_all() { [[ $(first_of "$E2E_TMP/tcp_lines") -ge $csent ]]; }
wait_until 10 tcp_all
cgot=$(first_of "$E2E_TMP/tcp_lines")
cbig=$(awk -F'[:|]' '$1 == "e2e.agent.sink.carbon.sent" && $2 > m { m = $2 } END { print m + 0 }' "$AGENT_OUT")
log "carbon (buffer_lines 2000): $csent sent, $cdropped dropped, largest flush $cbig, peer read $cgot"
tap_ok "flushes of $cbig lines (> buffer_lines 2000) reach a TCP peer that reads whole: $cgot of $csent, $cdropped dropped" \
	test "$cbig" -gt 2000 -a "$cdropped" -eq 0 -a "$cgot" -eq "$csent"

# ------------------------------------------------------------------ 4: many sinks
read -r UPORT < <(free_ports 1)
peer_start udp-count "$UPORT" "$E2E_TMP/many" || bail "the UDP counter listens"
many=()
for ((i = 0; i < 199; i++)); do
	many+=("- { name: u$i, type: statsd, address: \"udp://127.0.0.1:$UPORT\", prefix: e2e }")
done
cfg=$E2E_TMP/many.yaml
sconfig "$cfg" false "${many[@]}" "- { name: console, type: stdout, format: graphite, prefix: e2e }"
agent_start "$cfg" || bail "agent starts with 200 sinks" "$(tail -5 "$AGENT_ERR")"
flushes() { grep -c '^e2e\.agent\.flush\.duration_us ' "$AGENT_OUT"; }
wait_until 15 quiet test "$(flushes)" -ge 5
agent_stop
names=$(awk '$1 ~ /^e2e\.agent\.sink\./ { split($1, p, "."); print p[4] }' "$AGENT_OUT" | sort -u | tr '\n' ' ')
dur=$(awk '$1 == "e2e.agent.flush.duration_us" { print $2 }' "$AGENT_OUT" | sort -n | tail -1)
log "200 sinks: $(flushes) flushes, longest flush ${dur} us, agent.sink.* series on the console for: $names"
tap_ok "200 sinks: the console carries only its own agent.sink.* series ($names)" test "$names" = "console "
over=()
for ((i = 0; i < 257; i++)); do over+=("- { name: o$i, type: statsd, address: \"udp://127.0.0.1:9\" }"); done
sconfig "$E2E_TMP/over.yaml" false "${over[@]}"
out=$("$BPFPUSH_BIN" -t -c "$E2E_TMP/over.yaml" 2>&1)
rc=$?
tap_ok "257 sinks are refused with FILE:LINE:COL (rc $rc: $(head -1 <<<"$out"))" \
	bash -c "[[ $rc -ne 0 ]] && grep -qE 'over.yaml:[0-9]+:[0-9]+: .*more than 256 sinks' <<<\"\$1\"" _ "$out"

# ------------------------------------------------------------------ 5: a peer that floods
read -r FPORT < <(free_ports 1)
peer_start tcp-flood "$FPORT" "$E2E_TMP/flood" || bail "the flooding peer listens"
cfg=$E2E_TMP/flood.yaml
sconfig "$cfg" false "- { name: flooded, type: graphite, address: \"tcp://127.0.0.1:$FPORT\", prefix: e2e }" \
	"- { name: console, type: stdout, format: graphite, prefix: e2e }"
agent_start "$cfg" || bail "agent starts" "$(tail -5 "$AGENT_ERR")"
wait_until 10 quiet grep -q 'flooded: reading from' "$AGENT_ERR"
sleep 2 # the agent no longer reads: the socket buffers between fill, then the peer can write nothing
c0=$(cpu_ticks "$AGENT_PID") f0=$(first_of "$E2E_TMP/flood")
sleep 3 # the window in which no more flood may be read, and the agent's CPU is measured
c1=$(cpu_ticks "$AGENT_PID") f1=$(first_of "$E2E_TMP/flood")
agent_stop
log "flooding peer: $f0 -> $f1 bytes accepted; agent CPU $((c1 - c0)) ticks in 3 s"
tap_ok "a flooding peer is no longer read: its bytes stop at $f1 (< 32 MB, none in the last 3 s)" \
	test "$f1" -lt 33554432 -a "$f1" -eq "$f0"
tap_ok "the flood is logged and counted" grep -q 'flooded: reading from 127.0.0.1:[0-9]*: the peer sends data' "$AGENT_ERR"

# ------------------------------------------------------------------ 6: stdout never read, TCP never read
read -r UPORT2 SPORT2 < <(free_ports 2)
peer_start udp-count "$UPORT2" "$E2E_TMP/alive" || bail "the UDP counter listens"
$SYSPY "$HERE/fault_peer.py" stall "$SPORT2" "$E2E_TMP/stall" &
E2E_PIDS+=($!)
wait_listen "$SPORT2" tcp 10 $! || bail "the stalling peer listens"
mkfifo "$E2E_TMP/pipe"
# A reader that opens the pipe, shrinks it to one page and never reads.
$SYSPY -c 'import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.fcntl(fd, 1031, 4096)
time.sleep(600)' "$E2E_TMP/pipe" &
E2E_PIDS+=($!)
cfg=$E2E_TMP/stuck.yaml
sconfig "$cfg" true "- { name: alive, type: statsd, address: \"udp://127.0.0.1:$UPORT2\", prefix: e2e, send_zeros: true }" \
	"- { name: stalled, type: graphite, address: \"tcp://127.0.0.1:$SPORT2\", prefix: e2e, write_timeout: 10m }" \
	"- { name: console, type: stdout, format: graphite, prefix: e2e }"
AGENT_ERR=$E2E_TMP/stuck.err
"$BPFPUSH_BIN" -c "$cfg" >"$E2E_TMP/pipe" 2>"$AGENT_ERR" &
AGENT_PID=$!
E2E_PIDS+=("$AGENT_PID")
wait_until 15 quiet test "$(count_of "$E2E_TMP/alive")" -gt 0
apps_start
sleep 4 # the pipe fills: the stalled sinks are stuck from here on
a0=$(count_of "$E2E_TMP/alive")
sleep 3 # the window the UDP sink must keep sending in
a1=$(count_of "$E2E_TMP/alive")
log "UDP sink beside a stdout pipe nobody reads: $a0 -> $a1 lines"
tap_ok "stdout on a pipe nobody reads does not stop a UDP sink ($a0 -> $a1 lines in 3 s)" test "$a1" -gt "$a0"
t0=$(date +%s%N)
kill -TERM "$AGENT_PID"
gone() { ! kill -0 "$AGENT_PID" 2>/dev/null || [[ $(proc_state "$AGENT_PID") == Z ]]; }
wait_until 20 gone
t1=$(date +%s%N)
gone || kill -KILL "$AGENT_PID" # a stuck agent: fail below, do not hang here
wait "$AGENT_PID"
rc=$?
forget_pid "$AGENT_PID"
apps_stop
ms=$(((t1 - t0) / 1000000))
read -r ssent sdropped < <(closed_counts stalled)
read -r osent odropped < <(closed_counts console)
log "SIGTERM: exit $rc after $ms ms; stalled: $ssent sent $sdropped dropped; console: $osent sent $odropped dropped"
tap_ok "SIGTERM with stdout and a TCP peer never read (write_timeout 10m): exit 0 within 8 s ($ms ms)" \
	test "$rc" -eq 0 -a "$ms" -lt 8000
tap_ok "what could not be written is counted in the closing lines (stalled $sdropped, console $odropped dropped)" \
	test "${sdropped:-0}" -gt 0 -a "${odropped:-0}" -gt 0

# ------------------------------------------------------------------ 7: ICMP port unreachable
read -r DPORT < <(free_ports 1)
cfg=$E2E_TMP/dead.yaml
sconfig "$cfg" false "- { name: dead, type: statsd, address: \"udp://127.0.0.1:$DPORT\", prefix: e2e }" \
	"- { name: console, type: stdout, format: graphite, prefix: e2e }"
agent_start "$cfg" || bail "agent starts" "$(tail -5 "$AGENT_ERR")"
errs() { awk '$1 == "e2e.agent.sink.dead.errors" { s += $2 } END { print s + 0 }' "$AGENT_OUT"; }
wait_until 10 quiet test "$(errs)" -ge 3
agent_stop
logged=$(grep -c 'dead: sending to 127.0.0.1:[0-9]*: connection refused' "$AGENT_ERR")
tap_ok "port unreachable counted in agent.sink.errors ($(errs)) and logged once, with back-off ($logged line)" \
	test "$(errs)" -ge 3 -a "$logged" -eq 1

tap_done
