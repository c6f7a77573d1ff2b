#!/usr/bin/env bash
# The agent's statsd and dogstatsd sinks (UDP) into Etsy statsd 0.9.0, whose graphite backend
# writes into a real carbon-cache: no bad line, every counter total and gauge arrives, and
# DogStatsD tags arrive as Graphite tagged series. The dsd sink sends zero counters (send_zeros:
# true) so that agent.sink.dropped, always 0 here, is the series with several tags.
source "$(dirname "$0")/lib.sh"
e2e_init
HERE=$(cd "$(dirname "$0")" && pwd)

carbon_start c1 || bail "carbon-cache starts on 127.0.0.1"
statsd_start c1 || bail "statsd 0.9.0 starts on 127.0.0.1"
HOST=$(hostname -s | tr -c 'A-Za-z0-9_\n-' '_')
P="e2e.$HOST"

cfg=$E2E_TMP/agent.yaml
agent_config "$cfg" \
	"- { name: statsd, type: statsd, address: \"udp://127.0.0.1:$STATSD_PORT\", prefix: \"e2e.{hostname}\" }" \
	"- { name: dsd, type: dogstatsd, address: \"udp://127.0.0.1:$STATSD_PORT\", prefix: \"e2ed\", tags: { run: e2e }, send_zeros: true }" \
	"- { name: console, type: stdout, format: statsd, prefix: \"e2e.{hostname}\" }" \
	"- { name: console-dsd, type: stdout, format: dogstatsd, prefix: \"e2ed\", tags: { run: e2e }, send_zeros: true }"

N=40
p_before=$(procs_created)
agent_start "$cfg" || bail "agent starts and flushes to stdout" "$(tail -5 "$AGENT_ERR")"
sleep_to_boundary 0.3
workload_fork $N
wait_next_flush
workload_fork $N
wait_next_flush
agent_stop
p_after=$(procs_created)
tap_ok "agent exits 0 on SIGTERM" test "$AGENT_RC" -eq 0

statsd_lines=$(grep -cE '^e2e\.[^ ]+:[^ ]+\|(c|g)$' "$AGENT_OUT")
dsd_lines=$(grep -cE '^e2ed\.[^ ]+:[^ ]+\|(c|g)\|#' "$AGENT_OUT")
created=$(awk -F'[:|]' -v m="$P.process.create" '$1 == m { s += $2 } END { print s + 0 }' "$AGENT_OUT")
log "agent printed $statsd_lines statsd and $dsd_lines dogstatsd lines; process.create total $created"

check_format() {
	[[ $statsd_lines -gt 0 && $dsd_lines -gt 0 ]] || { echo "stdout: $statsd_lines statsd lines, $dsd_lines dogstatsd lines"; return 1; }
	grep -m1 -E "^$P\.process\.create:[0-9]+\|c$" "$AGENT_OUT" >/dev/null || { echo "no '$P.process.create:N|c' line"; return 1; }
	grep -m1 -E "^e2ed\.process\.create:[0-9]+\|c\|#run:e2e$" "$AGENT_OUT" >/dev/null || { echo "no 'e2ed.process.create:N|c|#run:e2e' line"; return 1; }
}
tap_ok "stdout mirrors: statsd 'name:v|c' and dogstatsd 'name:v|c|#run:e2e' lines" check_format
# Two-sided: at least the workload's 2N + 2 creations, at most every task the kernel created
# (threads included) while the agent ran.
lo=$((2 * N + 2)) hi=$((p_after - p_before))
tap_ok "workload counted on stdout: process.create total $created in [$lo, $hi]" \
	test "$created" -ge "$lo" -a "$created" -le "$hi"

# statsd flushes once a second: poll carbon until the last totals are in (bounded).
statsd_ok() { $SYSPY "$HERE/statsd_compare.py" "$AGENT_OUT" "$(carbon_whisper_dir c1)" >/dev/null 2>&1; }
wait_until 10 statsd_ok

stats=$(statsd_admin stats 2>&1)
log "statsd admin 'stats': $(tr '\n' ' ' <<<"$stats")"
bad_admin=$(sed -n 's/^messages\.bad_lines_seen: \([0-9]*\)$/\1/p' <<<"$stats")
tap_ok "statsd admin: messages.bad_lines_seen = ${bad_admin:-?} (must be 0)" test "${bad_admin:-x}" = 0

# The "stats" command prints last_* entries as "now - value": a last_exception of 0 (never)
# shows as the current epoch time.
exc=$(sed -n 's/^graphite\.last_exception: \([0-9]*\)$/\1/p' <<<"$stats")
tap_ok "statsd's graphite backend had no exception sending to carbon" test "${exc:-0}" -gt 1000000000

root=$(carbon_whisper_dir c1)
bad_carbon=$(wsp_sum c1 stats.counters.statsd.bad_lines_seen.count 0 "$(date +%s)" 2>/dev/null)
tap_ok "carbon: stats.counters.statsd.bad_lines_seen.count sums to ${bad_carbon:-?} (must be 0)" test "${bad_carbon:-x}" = 0

received=$(wsp_sum c1 stats.counters.statsd.metrics_received.count 0 "$(date +%s)" 2>/dev/null)
tap_ok "carbon: statsd.metrics_received = ${received:-?} = lines the agent sent ($statsd_lines + $dsd_lines)" \
	test "${received:-x}" = $((statsd_lines + dsd_lines))

create_carbon=$(wsp_sum c1 "stats.counters.$P.process.create.count" 0 "$(date +%s)" 2>/dev/null)
tap_ok "statsd sink: process.create total in carbon (${create_carbon:-none}) == agent's ($created)" \
	test "${create_carbon:-x}" = "$created"

tap_ok "statsd sink: every counter total and last gauge value arrives in carbon" \
	$SYSPY "$HERE/statsd_compare.py" --match "^e2e\\." "$AGENT_OUT" "$root"

dsd_create=$(awk -F'[:|]' '$1 == "e2ed.process.create" { s += $2 } END { print s + 0 }' "$AGENT_OUT")
tfile=$(wsp_file c1 "stats.counters.e2ed.process.create.count;run=e2e")
check_dsd_tagged() {
	[[ $tfile == */whisper/_tagged/* && -f $tfile ]] || {
		echo "no tagged whisper file $tfile; e2ed series carbon has:"
		carbon_series c1 | grep e2ed | head -10
		return 1
	}
	local got
	got=$(wsp_sum c1 "stats.counters.e2ed.process.create.count;run=e2e" 0 "$(date +%s)")
	[[ $got == "$dsd_create" ]] || { echo "tagged total $got, agent printed $dsd_create"; return 1; }
}
tap_ok "dogstatsd sink: e2ed.process.create|#run:e2e lands as tagged series stats.counters.e2ed.process.create.count;run=e2e (total $dsd_create)" \
	check_dsd_tagged

check_multi_tag() {
	local f
	f=$(wsp_file c1 "stats.counters.e2ed.agent.sink.dropped.count;run=e2e;sink=dsd;reason=overflow")
	[[ -f $f ]] || { echo "no whisper file $f"; carbon_series c1 | grep 'e2ed.agent.sink.dropped' | head -5; return 1; }
}
tap_ok "dogstatsd sink: several tags (|#run:e2e,sink:dsd,reason:overflow) land as one tagged series" check_multi_tag

tap_ok "dogstatsd sink: every tagged counter total and last gauge value arrives in carbon" \
	$SYSPY "$HERE/statsd_compare.py" --match "^e2ed\\." "$AGENT_OUT" "$root"

check_no_untagged_dsd() {
	local plain
	plain=$(carbon_series c1 | grep -E '^stats\.(counters|gauges)\.e2ed\.' | grep -v ';' | head -5)
	[[ -z $plain ]] || { echo "dogstatsd series stored without tags: $plain"; return 1; }
}
tap_ok "dogstatsd sink: no e2ed series stored without its tags" check_no_untagged_dsd

check_sink_health() {
	local s m v bad=0
	for s in statsd dsd; do
		for m in overflow.dropped too_long.dropped invalid.dropped send_error.dropped errors; do
			v=$(awk -F'[:|]' -v n="$P.agent.sink.$s.$m" '$1 == n { s += $2 } END { print s + 0 }' "$AGENT_OUT")
			[[ $v -eq 0 ]] || { echo "agent.sink.$s.$m = $v"; bad=1; }
		done
	done
	return $bad
}
tap_ok "agent.sink.* for both UDP sinks: nothing dropped, no errors" check_sink_health

tap_done
