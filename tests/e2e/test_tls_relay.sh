#!/usr/bin/env bash
# The agent's graphite and graphite-tagged sinks over tls:// into carbon-c-relay (Debian's, built
# with OpenSSL) listening with TLS only, in front of a carbon-cache. The CA and the relay's
# certificate are made here with the openssl CLI. Every series the agent printed lands, every
# point of it. A third sink trusts another CA: it is refused at every handshake, counts errors,
# delivers nothing, and a recording proxy in front of the relay shows it never sent a byte in clear.
source "$(dirname "$0")/lib.sh"
e2e_init
HERE=$(cd "$(dirname "$0")" && pwd)
command -v openssl >/dev/null || bail "the openssl CLI is installed (scripts/install-peers.sh)"

PKI=$E2E_TMP/pki
tls_make_certs "$PKI" || bail "openssl makes a CA and a server certificate"
carbon_start c1 || bail "carbon-cache c1 starts on 127.0.0.1"
RELAY_SSL_PEM=$PKI/relay.pem relay_start carbon_ch c1 || bail "carbon-c-relay starts with a TLS listener"
read -r PROXY_PORT < <(free_ports 1)
record_proxy "$PROXY_PORT" "$RELAY_PORT" "$E2E_TMP/badca.bytes" || bail "the recording proxy listens"

# The relay refuses plain text on its TLS port: what a sink without TLS would have sent is lost.
check_relay_wants_tls() {
	echo | timeout 5 openssl s_client -connect "127.0.0.1:$RELAY_PORT" -CAfile "$PKI/ca.pem" \
		-verify_return_error -verify_ip 127.0.0.1 >"$E2E_TMP/s_client.log" 2>&1 ||
		{ cat "$E2E_TMP/s_client.log"; return 1; }
	grep -q 'Verify return code: 0 (ok)' "$E2E_TMP/s_client.log" || { cat "$E2E_TMP/s_client.log"; return 1; }
}
tap_ok "carbon-c-relay's listener speaks TLS with the test CA's certificate (openssl s_client verifies it)" \
	check_relay_wants_tls

cfg=$E2E_TMP/agent.yaml
agent_config "$cfg" \
	"- { name: carbon, type: graphite, address: \"tls://127.0.0.1:$RELAY_PORT\", ca_file: \"$PKI/ca.pem\", prefix: \"e2e.{hostname}\" }" \
	"- { name: carbon-tagged, type: graphite-tagged, address: \"tls://127.0.0.1:$RELAY_PORT\", ca_file: \"$PKI/ca.pem\", server_name: localhost, prefix: \"e2et.{hostname}\", tags: { run: e2e } }" \
	"- { name: badca, type: graphite, address: \"tls://127.0.0.1:$PROXY_PORT\", ca_file: \"$PKI/other-ca.pem\", prefix: \"e2ebad.{hostname}\", reconnect_min: 100ms, reconnect_max: 500ms }" \
	"- { name: console, type: stdout, format: graphite, prefix: \"e2e.{hostname}\" }" \
	"- { name: console-tagged, type: stdout, format: graphite-tagged, prefix: \"e2et.{hostname}\", tags: { run: e2e } }"

agent_fork_bursts "$cfg" 30 2.2

# What the agent printed for the two good sinks (the badca sink's prefix is its own).
agent_series | grep -v '^e2ebad' >"$E2E_TMP/series.agent"
carbon_normalize <"$E2E_TMP/series.agent" | LC_ALL=C sort >"$E2E_TMP/series.expected"
nexp=$(wc -l <"$E2E_TMP/series.expected")
log "agent printed $nexp series ($(grep -c ';' "$E2E_TMP/series.expected") tagged)"

all_landed() { carbon_series c1 | comm -23 "$E2E_TMP/series.expected" - | grep -q . && return 1; return 0; }
wait_until 15 all_landed
wait_until 10 quiet $SYSPY "$HERE/whisper_compare.py" "$AGENT_OUT" "$(carbon_whisper_dir c1)"

check_series() {
	local missing extra
	missing=$(carbon_series c1 | comm -23 "$E2E_TMP/series.expected" -)
	extra=$(carbon_series c1 | comm -13 "$E2E_TMP/series.expected" -)
	[[ -z $missing && -z $extra ]] && return 0
	[[ -n $missing ]] && { echo "printed by the agent, not in carbon:"; head -20 <<<"$missing"; }
	[[ -n $extra ]] && { echo "in carbon, never printed by the agent (or from the badca sink):"; head -20 <<<"$extra"; }
	return 1
}
tap_ok "tls://: carbon holds exactly the $nexp series the agent printed (plain and tagged, through the TLS relay)" \
	check_series
tap_ok "tls://: every point of every series == agent stdout (timestamps and values)" \
	$SYSPY "$HERE/whisper_compare.py" --extra "$AGENT_OUT" "$(carbon_whisper_dir c1)"

# agent.sink.* of a sink, summed over the run, from the plain console: agent.sink.NAME.WHAT
sink_sum() {
	awk -v re="^e2e\\.[^.]*\\.agent\\.sink\\.$1\\.$2\$" '$1 ~ re { s += $2 } END { printf "%d\n", s }' "$AGENT_OUT"
}
good_sent=$(sink_sum carbon sent) good_errors=$(sink_sum carbon errors)
bad_sent=$(sink_sum badca sent) bad_errors=$(sink_sum badca errors) bad_buffered=$(awk '$1 ~ /agent\.sink\.badca\.buffered$/ { v = $2 } END { print v + 0 }' "$AGENT_OUT")
log "carbon: sent $good_sent, errors $good_errors; badca: sent $bad_sent, errors $bad_errors, buffered $bad_buffered"
tap_ok "tls://: the good sink counted lines sent and no error (sent $good_sent, errors $good_errors)" \
	test "$good_sent" -gt 0 -a "$good_errors" -eq 0

tap_ok "wrong CA: refused and counted (agent.sink.badca: errors $bad_errors > 1, sent $bad_sent == 0, buffered $bad_buffered > 0)" \
	test "$bad_errors" -gt 1 -a "$bad_sent" -eq 0 -a "$bad_buffered" -gt 0

check_bad_not_stored() {
	local found
	found=$(cd "$(carbon_whisper_dir c1)" && find . -path '*e2ebad*' | head -5)
	[[ -z $found ]] || { echo "series of the refused sink in carbon:"; echo "$found"; return 1; }
}
tap_ok "wrong CA: nothing of the refused sink reached carbon" check_bad_not_stored

check_never_clear() {
	local f=$E2E_TMP/badca.bytes first n
	n=$(stat -c %s "$f")
	[[ $n -gt 0 ]] || { echo "the refused sink never connected through the proxy"; return 1; }
	first=$(head -c 1 "$f" | od -An -tx1 | tr -d ' ')
	[[ $first == 16 ]] || { echo "first byte 0x$first, not a TLS handshake record (0x16)"; return 1; }
	if grep -aq -e 'e2ebad' -e 'agent\.sink' -e 'process\.' "$f"; then
		echo "metric text in clear in what the refused sink sent:"
		grep -ao -e 'e2ebad[^ ]*' -e 'process\.[a-z_]*' "$f" | head -5
		return 1
	fi
	echo "$n bytes, TLS records only"
}
tap_ok "wrong CA: the proxy saw only TLS records, no metric text in clear" check_never_clear

check_logged_once() {
	local n
	n=$(grep -c 'badca: TLS handshake with .*certificate verification failed' "$AGENT_ERR")
	[[ $n -ge 1 && $n -le 2 ]] && return 0
	echo "$n log lines about the refused certificate (want 1, rate-limited):"
	grep 'badca' "$AGENT_ERR" | head -10
	return 1
}
tap_ok "wrong CA: the verification failure is logged once, rate-limited, with the reason" check_logged_once

tap_done
