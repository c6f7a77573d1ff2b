#!/usr/bin/env bash
# The agent's dogstatsd sink over unix:// into a Unix datagram listener owned by this test (the
# Datadog agent's dsd.socket convention). Mid-run the listener goes away and its socket file is
# removed; a second listener creates it again. Together they receive exactly the lines the agent
# printed on its console (a multiset: DogStatsD lines carry no timestamp), each datagram whole
# lines within max_packet, and the outage is counted in agent.sink.errors.
source "$(dirname "$0")/lib.sh"
e2e_init
MAX_PACKET=512
SOCK=$E2E_TMP/dsd.socket

# dsd_listen OUT: a listener at $SOCK appending each datagram to OUT and its size to OUT.sizes.
dsd_listen() {
	$SYSPY - "$SOCK" "$1" <<-'EOF' &
	import os, socket, sys
	path, out = sys.argv[1], sys.argv[2]
	s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
	s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
	s.bind(path)
	with open(out, "ab", buffering=0) as f, open(out + ".sizes", "a", buffering=1) as z:
	    while True:
	        d = s.recv(65536)
	        f.write(d)
	        z.write("%d\n" % len(d))
	EOF
	DSD_PID=$!
	E2E_PIDS+=("$DSD_PID")
	local i
	for ((i = 0; i < 100; i++)); do
		[[ -S $SOCK ]] && return 0
		sleep 0.05
	done
	return 1
}

dsd_listen "$E2E_TMP/rx1" || bail "the first Unix datagram listener binds $SOCK"

cfg=$E2E_TMP/agent.yaml
agent_config "$cfg" \
	"- { name: dsd, type: dogstatsd, address: \"unix://$SOCK\", prefix: e2eu, tags: { run: e2e }, max_packet: $MAX_PACKET, reconnect_min: 50ms, reconnect_max: 200ms }" \
	"- { name: console, type: stdout, format: dogstatsd, prefix: e2eu, tags: { run: e2e } }"
agent_start "$cfg" || bail "agent starts and flushes to stdout" "$(tail -5 "$AGENT_ERR")"
workload_fork 20
sleep 1.5

# The receiver goes away with its socket file, for more than one flush, then comes back.
stop_pid "$DSD_PID" 5
rm -f "$SOCK"
workload_fork 20
sleep 2.2
dsd_listen "$E2E_TMP/rx2" || bail "the second listener binds $SOCK again"
workload_fork 20
sleep 2.2
agent_stop
tap_ok "agent exits 0 on SIGTERM" test "$AGENT_RC" -eq 0
sleep 0.3
stop_pid "$DSD_PID" 5

cat "$E2E_TMP/rx1" "$E2E_TMP/rx2" >"$E2E_TMP/rx"
LC_ALL=C sort "$E2E_TMP/rx" >"$E2E_TMP/rx.sorted"
grep '^e2eu\.' "$AGENT_OUT" | LC_ALL=C sort >"$E2E_TMP/printed.sorted"
log "printed $(wc -l <"$E2E_TMP/printed.sorted") lines; received $(wc -l <"$E2E_TMP/rx1") before and $(wc -l <"$E2E_TMP/rx2") after the socket was replaced"

check_same_lines() {
	cmp -s "$E2E_TMP/printed.sorted" "$E2E_TMP/rx.sorted" && return 0
	echo "'<' printed, never received; '>' received, never printed:"
	diff "$E2E_TMP/printed.sorted" "$E2E_TMP/rx.sorted" | grep '^[<>]' | head -20
	return 1
}
tap_ok "unix://: the listeners received exactly the lines the agent printed, across the replaced socket" check_same_lines

check_both_halves() { [[ -s $E2E_TMP/rx1 && -s $E2E_TMP/rx2 ]]; }
tap_ok "unix://: lines reached both the first and the recreated socket" check_both_halves

check_datagrams() {
	local bad
	bad=$(awk -v m=$MAX_PACKET '$1 > m || $1 == 0' "$E2E_TMP/rx1.sizes" "$E2E_TMP/rx2.sizes" | head -3)
	[[ -z $bad ]] || { echo "datagrams larger than $MAX_PACKET: $bad"; return 1; }
	# whole lines: every datagram ends with a newline, so the concatenation splits back into the lines
	$SYSPY - "$E2E_TMP/rx1" "$E2E_TMP/rx2" <<-'EOF'
	import sys
	for path in sys.argv[1:]:
	    data = open(path, "rb").read()
	    sizes = [int(x) for x in open(path + ".sizes")]
	    off = 0
	    for n in sizes:
	        d = data[off:off + n]
	        if not d.endswith(b"\n"):
	            sys.exit("%s: a datagram at byte %d does not end with a whole line" % (path, off))
	        off += n
	    if off != len(data):
	        sys.exit("%s: sizes do not add up" % path)
	    if sizes and max(sizes) < 256:
	        sys.exit("%s: datagrams were not packed (largest %d bytes)" % (path, max(sizes)))
	EOF
}
tap_ok "unix://: every datagram is whole lines within max_packet $MAX_PACKET, packed" check_datagrams

# agent.sink.* of the dsd sink summed over the run, from the console: e2eu.agent.sink.WHAT:N|c|#run:e2e,sink:dsd
sink_sum() {
	awk -F'[:|]' -v m="e2eu.agent.sink.$1" '$1 == m && /sink:dsd/ { s += $2 } END { printf "%d\n", s }' "$AGENT_OUT"
}
errors=$(sink_sum errors) reconnects=$(sink_sum reconnects) dropped=$(sink_sum dropped)
log "agent.sink dsd: errors $errors, reconnects $reconnects, dropped $dropped"
tap_ok "unix://: the outage is counted (errors $errors > 0, reconnects $reconnects >= 1, dropped $dropped == 0)" \
	test "$errors" -gt 0 -a "$reconnects" -ge 1 -a "$dropped" -eq 0
tap_ok "unix://: the missing socket was logged, not fatal" grep -q "dsd: .*unix://$SOCK" "$AGENT_ERR"

tap_done
