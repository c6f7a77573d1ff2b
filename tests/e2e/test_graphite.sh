#!/usr/bin/env bash
# The agent's graphite and graphite-tagged sinks (TCP) into a real carbon-cache: what whisper
# stores must be exactly what the agent printed on its stdout sinks, point for point.
source "$(dirname "$0")/lib.sh"
e2e_init
HERE=$(cd "$(dirname "$0")" && pwd)

carbon_start c1 || bail "carbon-cache starts on 127.0.0.1"
port=${CARBON_PORT[c1]}
HOST=$(hostname -s | tr -c 'A-Za-z0-9_\n-' '_')
P="e2e.$HOST"      # plain prefix
T="e2et.$HOST"     # tagged prefix (own tree, so plain and tagged series stay apart)

cfg=$E2E_TMP/agent.yaml
agent_config "$cfg" \
	"- { name: carbon, type: graphite, address: \"tcp://127.0.0.1:$port\", prefix: \"e2e.{hostname}\", reconnect_min: 100ms, reconnect_max: 1s }" \
	"- { name: carbon-tagged, type: graphite-tagged, address: \"tcp://127.0.0.1:$port\", prefix: \"e2et.{hostname}\", tags: { run: e2e } }" \
	"- { name: console, type: stdout, format: graphite, prefix: \"e2e.{hostname}\" }" \
	"- { name: console-tagged, type: stdout, format: graphite-tagged, prefix: \"e2et.{hostname}\", tags: { run: e2e } }"

N1=60 N2=25
p_before=$(procs_created)
agent_start "$cfg" || bail "agent starts and flushes to stdout" "$(tail -5 "$AGENT_ERR")"
sleep_to_boundary 0.3
wait_next_flush
workload_fork $N1
wait_next_flush
workload_fork $N2
wait_next_flush
agent_stop
p_after=$(procs_created)

tap_ok "agent exits 0 on SIGTERM" test "$AGENT_RC" -eq 0
if [[ $AGENT_RC -ne 0 ]]; then sed 's/^/#   /' "$AGENT_ERR" | tail -10; fi

agent_points "$P.process.create" >"$E2E_TMP/create.agent"
first=$(sort -n "$E2E_TMP/create.agent" | head -1 | cut -d' ' -f1)
last=$(sort -n "$E2E_TMP/create.agent" | tail -1 | cut -d' ' -f1)
npts=$(wc -l <"$E2E_TMP/create.agent")
log "agent printed $npts points of $P.process.create, $first..$last"

check_intervals() {
	[[ $npts -ge 4 ]] || { echo "only $npts flushes of process.create on stdout"; return 1; }
	# one point per whole second, no gaps, no repeats (interval 1s, wall-clock aligned)
	awk '{ print $1 }' "$E2E_TMP/create.agent" | awk 'NR > 1 && $1 != prev + 1 { print "timestamps not consecutive: " prev " then " $1; bad = 1 } { prev = $1 } END { exit bad }'
}
tap_ok "stdout sink: one process.create point per 1 s interval, consecutive timestamps" check_intervals

# Workload: N1 + N2 children plus the two forking shells; the kernel's count of all task
# creations over the agent's life (threads included) is the upper bound.
total=$(awk '{ s += $2 } END { print s + 0 }' "$E2E_TMP/create.agent")
lo=$((N1 + N2 + 2)) hi=$((p_after - p_before))
check_total() {
	[[ $total -ge $lo && $total -le $hi ]] || { echo "sum of process.create on stdout = $total, want [$lo, $hi] (/proc/stat processes delta)"; return 1; }
}
tap_ok "workload counted: sum(process.create) = $total in [$lo, $hi]" check_total

# Let carbon write: poll until whisper has the agent's last point (bounded).
has_last_point() { wsp_points c1 "$P.process.create" "$last" "$last" 2>/dev/null | grep -q .; }
wait_until 10 has_last_point
root=$(carbon_whisper_dir c1)
wait_until 10 quiet $SYSPY "$HERE/whisper_compare.py" "$AGENT_OUT" "$root"

# process.create through whisper-fetch: same timestamps, same values, nothing else.
wsp_points c1 "$P.process.create" $((first - 30)) $((last + 1)) >"$E2E_TMP/create.wsp"
tap_ok "graphite: whisper-fetch process.create == agent stdout, every interval ($npts points, sum $total)" \
	compare_points "$E2E_TMP/create.agent" "$E2E_TMP/create.wsp"

agent_points "$T.process.create;run=e2e" >"$E2E_TMP/tcreate.agent"
tfile=$(wsp_file c1 "$T.process.create;run=e2e")
check_tagged_file() {
	[[ $tfile == */whisper/_tagged/* && -f $tfile ]] || { echo "no whisper file $tfile"; return 1; }
}
tap_ok "graphite-tagged: process.create;run=e2e stored as a tagged series (${tfile#"${CARBON_DIR[c1]}"/storage/whisper/})" check_tagged_file
wsp_points c1 "$T.process.create;run=e2e" $((first - 30)) $((last + 1)) >"$E2E_TMP/tcreate.wsp" 2>/dev/null
tap_ok "graphite-tagged: whisper-fetch process.create;run=e2e == agent stdout, every interval" \
	compare_points "$E2E_TMP/tcreate.agent" "$E2E_TMP/tcreate.wsp"

# Every series of both sinks: the set carbon stored equals the set printed, point for point.
tap_ok "graphite: every plain series and point printed is in whisper, nothing extra" \
	$SYSPY "$HERE/whisper_compare.py" --match "^e2e\\." --extra "$AGENT_OUT" "$root"
tap_ok "graphite-tagged: every tagged series and point printed is in whisper (under _tagged), nothing extra" \
	$SYSPY "$HERE/whisper_compare.py" --match "^e2et\\." --extra "$AGENT_OUT" "$root"

check_tagged_tree() {
	local bad
	bad=$(cd "$root" && find . -name '*.wsp' -path './e2et/*' | head -5)
	[[ -z $bad ]] || { echo "tagged series stored as plain paths: $bad"; return 1; }
	[[ -n $(cd "$root" && find _tagged -name 'e2et_DOT_*;*run=e2e*.wsp' 2>/dev/null | head -1) ]] || { echo "no tagged e2et series under _tagged"; return 1; }
}
tap_ok "graphite-tagged: all tagged series live under _tagged/, none as plain paths" check_tagged_tree

# The agent's own view: nothing dropped, no errors on either TCP sink.
check_sink_health() {
	local s bad=0 v
	for s in carbon carbon-tagged; do
		for m in overflow.dropped too_long.dropped invalid.dropped send_error.dropped errors; do
			v=$(agent_points "$P.agent.sink.$s.$m" | awk '{ s += $2 } END { print s + 0 }')
			[[ $v -eq 0 ]] || { echo "agent.sink.$s.$m = $v"; bad=1; }
		done
		v=$(agent_points "$P.agent.sink.$s.sent" | awk '{ s += $2 } END { print s + 0 }')
		[[ $v -gt 0 ]] || { echo "agent.sink.$s.sent = 0"; bad=1; }
	done
	return $bad
}
tap_ok "agent.sink.* for both TCP sinks: lines sent, none dropped, no errors" check_sink_health

check_carbon_log() {
	! grep -h -iE 'invalid line|error parsing metric|error writing|error creating' "${CARBON_DIR[c1]}"/log/*.log | head -10
}
tap_ok "carbon-cache logged no invalid line and no parse/write error" check_carbon_log

tap_done
