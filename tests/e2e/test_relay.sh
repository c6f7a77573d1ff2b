#!/usr/bin/env bash
# The agent's graphite and graphite-tagged sinks into carbon-c-relay, which spreads series over two
# carbon-caches by consistent hashing: every series the agent printed lands on exactly one cache,
# every point of it, and nothing else lands anywhere.
source "$(dirname "$0")/lib.sh"
e2e_init
HERE=$(cd "$(dirname "$0")" && pwd)
HASH=${RELAY_HASH:-carbon_ch}   # or fnv1a_ch

carbon_start c1 || bail "carbon-cache c1 starts on 127.0.0.1"
carbon_start c2 || bail "carbon-cache c2 starts on 127.0.0.1"
relay_start "$HASH" c1 c2 || bail "carbon-c-relay starts on 127.0.0.1 ($HASH over c1 c2)"

cfg=$E2E_TMP/agent.yaml
agent_config "$cfg" \
	"- { name: carbon, type: graphite, address: \"tcp://127.0.0.1:$RELAY_PORT\", prefix: \"e2e.{hostname}\" }" \
	"- { name: carbon-tagged, type: graphite-tagged, address: \"tcp://127.0.0.1:$RELAY_PORT\", prefix: \"e2et.{hostname}\", tags: { run: e2e } }" \
	"- { name: console, type: stdout, format: graphite, prefix: \"e2e.{hostname}\" }" \
	"- { name: console-tagged, type: stdout, format: graphite-tagged, prefix: \"e2et.{hostname}\", tags: { run: e2e } }"

agent_fork_bursts "$cfg" 30 1.2

agent_series >"$E2E_TMP/series.agent"
carbon_normalize <"$E2E_TMP/series.agent" | LC_ALL=C sort >"$E2E_TMP/series.expected"
nexp=$(wc -l <"$E2E_TMP/series.expected")
log "agent printed $nexp series ($(grep -c ';' "$E2E_TMP/series.expected") tagged)"

# Poll until the union of both caches holds every series (bounded), then let the last points land.
union_complete() {
	{ carbon_series c1; carbon_series c2; } | LC_ALL=C sort -u | comm -23 "$E2E_TMP/series.expected" - | grep -q . && return 1
	return 0
}
wait_until 15 union_complete
wait_until 10 quiet $SYSPY "$HERE/whisper_compare.py" "$AGENT_OUT" "$(carbon_whisper_dir c1)" "$(carbon_whisper_dir c2)"

carbon_series c1 >"$E2E_TMP/series.c1"
carbon_series c2 >"$E2E_TMP/series.c2"
n1=$(wc -l <"$E2E_TMP/series.c1") n2=$(wc -l <"$E2E_TMP/series.c2")
log "c1 holds $n1 series, c2 holds $n2"

check_union() {
	local missing extra
	missing=$(LC_ALL=C sort -u "$E2E_TMP/series.c1" "$E2E_TMP/series.c2" | comm -23 "$E2E_TMP/series.expected" -)
	extra=$(LC_ALL=C sort -u "$E2E_TMP/series.c1" "$E2E_TMP/series.c2" | comm -13 "$E2E_TMP/series.expected" -)
	[[ -z $missing && -z $extra ]] && return 0
	[[ -n $missing ]] && { echo "printed by the agent, in neither cache:"; head -20 <<<"$missing"; }
	[[ -n $extra ]] && { echo "in a cache, never printed by the agent:"; head -20 <<<"$extra"; }
	return 1
}
tap_ok "relay: union of both caches == the $nexp series the agent printed (plain and tagged)" check_union

check_disjoint() {
	local both
	both=$(comm -12 "$E2E_TMP/series.c1" "$E2E_TMP/series.c2")
	[[ -z $both ]] || { echo "series stored on both caches:"; head -20 <<<"$both"; return 1; }
}
tap_ok "relay: no series on both caches (c1 $n1 + c2 $n2 = $((n1 + n2)))" check_disjoint

tap_ok "relay: $HASH spread the series over both caches" test "$n1" -gt 0 -a "$n2" -gt 0

tap_ok "relay: every point of every series == agent stdout (timestamps and values), in exactly one cache" \
	$SYSPY "$HERE/whisper_compare.py" --extra "$AGENT_OUT" "$(carbon_whisper_dir c1)" "$(carbon_whisper_dir c2)"

check_tagged() {
	local t
	t=$(grep -c ';' "$E2E_TMP/series.expected")
	[[ $t -gt 0 ]] || { echo "no tagged series printed"; return 1; }
	local stored
	stored=$( (cd "$(carbon_whisper_dir c1)" && find _tagged -name '*.wsp' 2>/dev/null; cd "$(carbon_whisper_dir c2)" && find _tagged -name '*.wsp' 2>/dev/null) | wc -l)
	[[ $stored -eq $t ]] || { echo "$t tagged series printed, $stored files under _tagged/ in the caches"; return 1; }
}
tap_ok "relay: tagged series pass the relay with their tags (stored under _tagged/)" check_tagged

check_relay_log() {
	! grep -iE 'drop|error|fail' "$E2E_TMP/relay/relay.log" | head -10
}
tap_ok "carbon-c-relay logged no drop or error" check_relay_log

tap_done
