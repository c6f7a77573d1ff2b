#!/usr/bin/env bash
# carbon-cache goes away while a known workload runs and comes back: the agent's TCP graphite
# sink buffers, reconnects with backoff and delivers every point with its own timestamp.
# Whisper must end up with exactly what the agent printed on its stdout sink: no point lost,
# none shifted in time.
#
# Carbon drops what it holds in memory when stopped (docs/design.md, test peers), so before stopping it we wait
# until whisper has every point sent so far and stop it well before the next flush (carbon
# closes its connections at once on SIGTERM): any loss left is the agent's.
#
# The agent flushes every IV = 3 s (not 1 s), so carbon has more than 2 s after a flush to write
# it to whisper before the next one arrives: its writer sleeps up to a second when its cache is
# empty, and later still on a busy machine. Flushes are aligned to multiples of IV on the wall
# clock and stamped with the end of their interval; whisper keeps 1 s slots, the ones between
# two flushes stay empty (None), and every comparison below only looks at non-empty slots.
source "$(dirname "$0")/lib.sh"
e2e_init
HERE=$(cd "$(dirname "$0")" && pwd)
IV=3                  # agent global.interval, seconds
AGENT_INTERVAL=$IV
STOP_BY=2.4           # stop carbon at most this long after a flush (0.6 s before the next one)

carbon_start c1 || bail "carbon-cache starts on 127.0.0.1"
HOST=$(hostname -s | tr -c 'A-Za-z0-9_\n-' '_')
P="e2e.$HOST"
M="$P.process.create"

cfg=$E2E_TMP/agent.yaml
agent_config "$cfg" \
	"- { name: carbon, type: graphite, address: \"tcp://127.0.0.1:${CARBON_PORT[c1]}\", prefix: \"e2e.{hostname}\", reconnect_min: 100ms, reconnect_max: 1s }" \
	"- { name: console, type: stdout, format: graphite, prefix: \"e2e.{hostname}\" }"

NA=20 NB=45 NC=15
p_before=$(procs_created)
agent_start "$cfg" || bail "agent starts and flushes to stdout" "$(tail -5 "$AGENT_ERR")"

# Phase A: carbon up, workload A (agent_start returns just after the first flush, so it falls
# in the next interval), carbon writes at least that flush.
workload_fork $NA

# Stop carbon between two flushes, once whisper holds every series of every flush printed so
# far. carbon's writer sleeps 1 s whenever its cache is empty (more under load), so a flush
# reaches whisper a second or more after it: try a few intervals until one is written early
# enough.
wfile=$(wsp_file c1 "$M")
written_upto() { # TS: whisper has the agent's process.create point at TS
	[[ -f $wfile ]] && whisper-fetch --from=$(($1 - 1)) --until="$1" "$wfile" 2>/dev/null | grep -qv None
}
all_written_upto() { # TS: whisper has every point of every series printed up to TS
	$SYSPY "$HERE/whisper_compare.py" --until "$1" "$AGENT_OUT" "$(carbon_whisper_dir c1)"
}
before() { awk -v n="$(date +%s.%N)" -v t="$1" -v d="${2:-0}" 'BEGIN { exit !(n < t + d) }'; } # TS [DELAY]: now < TS + DELAY
stopped_at=
deadline=$((SECONDS + 18))
while [[ -z $stopped_at && $SECONDS -lt $deadline ]]; do
	sleep_to_boundary 0.02 $IV
	t=$(($(date +%s) / IV * IV))
	# The flush stamped $t is printed and sent 25 ms after t: once whisper has every series of
	# it (carbon writes a flush in one pass; process.create is polled first, it is cheap), stop
	# carbon if that is well before the next flush (t + IV).
	while before "$t" "$STOP_BY"; do
		if written_upto "$t" && all_written_upto "$t" >/dev/null 2>&1; then
			if before "$t" "$STOP_BY"; then
				down_t=$(date +%s.%N)
				carbon_stop c1
				gone_t=$(date +%s.%N)
				stopped_at=$t
			fi
			break
		fi
		sleep 0.05
	done
done
[[ -n $stopped_at ]] || bail "carbon writes a flush to whisper within $STOP_BY s of it (tried for 18 s; needed before stopping it)"
# Everything printed up to the stop is in whisper: what goes missing later is not carbon's loss.
tap_ok "before the outage: whisper holds every point printed up to $stopped_at (carbon stopped $(awk -v a="$down_t" -v t="$stopped_at" 'BEGIN { printf "%.2f", a - t }') s after that flush)" \
	all_written_upto "$stopped_at"
log "carbon stopped at $down_t (exited by $gone_t; next flush at $((stopped_at + IV))), after writing the point stamped $stopped_at"

# Phase B: carbon down for three whole intervals (the flushes stamped stopped_at + IV, + 2 IV,
# + 3 IV); the known workload runs in the second of them; the agent must buffer.
outage_end=$((stopped_at + 3 * IV))
sleep_until "$stopped_at + $IV + 0.5"
workload_fork $NB
sleep_until "$outage_end + 0.5"

# Phase C: carbon back on the same port; the agent reconnects (reconnect_max 1s) and catches up.
carbon_start c1 "${CARBON_PORT[c1]}" || bail "carbon-cache restarts on its port"
up_t=$(date +%s.%N)
log "carbon back at $up_t (down $(awk -v a="$down_t" -v b="$up_t" 'BEGIN { printf "%.1f", b - a }') s)"
workload_fork $NC
# Stop mid-interval, well away from a flush: the last, partial interval is stamped with the
# boundary that ends it, the next in the sequence.
sleep_to_boundary 1.5 $IV
agent_stop
p_after=$(procs_created)
tap_ok "agent exits 0 on SIGTERM" test "$AGENT_RC" -eq 0

agent_points "$M" >"$E2E_TMP/create.agent"
first=$(sort -n "$E2E_TMP/create.agent" | head -1 | cut -d' ' -f1)
last=$(sort -n "$E2E_TMP/create.agent" | tail -1 | cut -d' ' -f1)
outage_pts=$(awk -v a="$stopped_at" -v b="$outage_end" '$1 > a && $1 <= b' "$E2E_TMP/create.agent" | wc -l)
outage_sum=$(awk -v a="$stopped_at" -v b="$outage_end" '$1 > a && $1 <= b { s += $2 } END { print s + 0 }' "$E2E_TMP/create.agent")
total=$(awk '{ s += $2 } END { print s + 0 }' "$E2E_TMP/create.agent")
log "agent printed $(wc -l <"$E2E_TMP/create.agent") points $first..$last; $outage_pts while carbon was down (sum $outage_sum)"

check_intervals() {
	awk '{ print $1 }' "$E2E_TMP/create.agent" | awk -v iv=$IV 'NR > 1 && $1 != prev + iv { print "timestamps not consecutive: " prev " then " $1; bad = 1 } { prev = $1 } END { exit bad }'
}
tap_ok "stdout sink: one point per interval ($IV s) through the outage, consecutive timestamps" check_intervals

lo=$((NA + NB + NC + 3)) hi=$((p_after - p_before))
tap_ok "workload counted: sum(process.create) = $total in [$lo, $hi]" test "$total" -ge "$lo" -a "$total" -le "$hi"
tap_ok "outage window: $outage_pts intervals while carbon was down, workload B ($NB) among them: sum $outage_sum >= $((NB + 1))" \
	test "$outage_pts" -ge 3 -a "$outage_sum" -ge $((NB + 1))

# Wait until whisper has the agent's last point (bounded), then compare every interval.
wait_until 15 written_upto "$last"
wait_until 10 quiet $SYSPY "$HERE/whisper_compare.py" "$AGENT_OUT" "$(carbon_whisper_dir c1)"
wsp_points c1 "$M" $((first - 30)) $((last + 1)) >"$E2E_TMP/create.wsp"
tap_ok "whisper-fetch process.create == agent stdout for every interval, before, during and after the outage" \
	compare_points "$E2E_TMP/create.agent" "$E2E_TMP/create.wsp"
awk -v a="$stopped_at" -v b="$outage_end" '$1 > a && $1 <= b' "$E2E_TMP/create.agent" >"$E2E_TMP/outage.agent"
awk -v a="$stopped_at" -v b="$outage_end" '$1 > a && $1 <= b' "$E2E_TMP/create.wsp" >"$E2E_TMP/outage.wsp"
tap_ok "the outage's $outage_pts points arrive late with their own timestamps (none lost, none shifted)" \
	compare_points "$E2E_TMP/outage.agent" "$E2E_TMP/outage.wsp"

tap_ok "every series: whisper == agent stdout, point for point, nothing extra" \
	$SYSPY "$HERE/whisper_compare.py" --extra "$AGENT_OUT" "$(carbon_whisper_dir c1)"

sum_of() { agent_points "$P.agent.sink.carbon.$1" | awk '{ s += $2 } END { print s + 0 }'; }
max_of() { agent_points "$P.agent.sink.carbon.$1" | awk '$2 > m { m = $2 } END { print m + 0 }'; }
reconnects=$(sum_of reconnects) errors=$(sum_of errors) buffered=$(max_of buffered)
dropped=$(($(sum_of overflow.dropped) + $(sum_of too_long.dropped) + $(sum_of invalid.dropped) + $(sum_of send_error.dropped)))
log "agent.sink.carbon: reconnects $reconnects, errors $errors, max buffered $buffered, dropped $dropped"
tap_ok "agent.sink.carbon.reconnects = $reconnects (>= 1)" test "$reconnects" -ge 1
tap_ok "agent.sink.carbon.buffered peaked at $buffered lines during the outage (> 0)" test "$buffered" -gt 0
tap_ok "agent.sink.carbon.dropped = $dropped (must be 0)" test "$dropped" -eq 0

tap_done
