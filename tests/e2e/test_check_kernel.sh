#!/usr/bin/env bash
# scripts/check-kernel.sh judges the tiers as the agent does: its fentry and kprobe lines and its
# verdict come from `bpfpush --probe`, not from the build config alone (a kernel built with BPF
# trampolines can still refuse fentry programs with EPERM). Checked against the real agent on this
# host, and against stand-in agents that report fentry refused and fentry working, so both answers
# are exercised whatever this kernel allows. Needs root (the script probes only as root).
source "$(dirname "$0")/lib.sh"
e2e_init --no-peers

CHECK=$E2E_ROOT/scripts/check-kernel.sh

# The real agent's answer for one tier: "true" or "false".
"$BPFPUSH_BIN" --list-metrics | awk 'NR > 1 { print $4 }' | sort -u | grep -vx -e agent -e apps |
	sed 's/.*/  &: { enabled: false }/' >"$E2E_TMP/modules"
{
	echo "sinks: [ { name: out, type: stdout } ]"
	echo "apps: { enabled: false }"
	echo "modules:"
	cat "$E2E_TMP/modules"
} >"$E2E_TMP/probe.yaml"
chmod 600 "$E2E_TMP/probe.yaml"
"$BPFPUSH_BIN" --probe --json -c "$E2E_TMP/probe.yaml" >"$E2E_TMP/probe.json" 2>"$E2E_TMP/probe.err"
tier_ok() { sed -n "s/.*\"$1\": {\"ok\": \([a-z]*\).*/\1/p" "$E2E_TMP/probe.json" | head -n 1; }
fentry_ok=$(tier_ok fentry)
kprobe_ok=$(tier_ok kprobe)
[[ $fentry_ok == true || $fentry_ok == false ]] ||
	bail "bpfpush --probe --json reports the fentry tier" "$(cat "$E2E_TMP/probe.json" "$E2E_TMP/probe.err")"
log "bpfpush --probe: fentry ok=$fentry_ok, kprobe ok=$kprobe_ok"

bash "$CHECK" --bpfpush "$BPFPUSH_BIN" >"$E2E_TMP/real.out" 2>&1
tap_ok "check-kernel.sh exits 0 on this host" test $? -eq 0
# agrees FILE FENTRY_OK KPROBE_OK: the report's tier lines and verdict say what the probe found.
agrees() {
	local out=$1 fentry=$2 kprobe=$3
	if [[ $fentry == true ]]; then
		grep -q '^  yes  fentry/fexit' "$out" || { echo "no 'yes fentry/fexit' line"; cat "$out"; return 1; }
		grep -q '^  Kernel-function events .*attach via fentry/fexit' "$out" || { echo "verdict does not name fentry"; cat "$out"; return 1; }
	else
		grep -q '^  no   fentry/fexit' "$out" || { echo "no 'no fentry/fexit' line"; cat "$out"; return 1; }
		! grep -q 'attach via fentry' "$out" || { echo "verdict claims fentry"; cat "$out"; return 1; }
	fi
	if [[ $kprobe == true ]]; then
		grep -q '^  yes  kprobes' "$out" || { echo "no 'yes kprobes' line"; cat "$out"; return 1; }
	else
		grep -q '^  no   kprobes' "$out" || { echo "no 'no kprobes' line"; cat "$out"; return 1; }
		! grep -q 'attach via .*kprobes' "$out" || { echo "verdict claims kprobes"; cat "$out"; return 1; }
	fi
}
tap_ok "fentry and kprobe verdicts match bpfpush --probe on this host" agrees "$E2E_TMP/real.out" "$fentry_ok" "$kprobe_ok"

# stand_in NAME FENTRY_OK KPROBE_OK: an executable that answers --list-metrics and --probe --json as the agent would.
stand_in() {
	local path=$E2E_TMP/$1
	cat >"$path" <<EOF
#!/bin/sh
case "\$1" in
--list-metrics) echo "NAME TYPE TAGS MODULE MEANING"; echo "process.create c - process new processes" ;;
--probe) printf '%s\n' '{"kernel": "x", "btf": true, "privileged": true, "tracefs": "", "lockdown": "none", "load_mode": "return", "tiers": {"fentry": {"ok": $2, "reason": "$( [[ $2 == true ]] || echo 'fentry refused by the stand-in (Operation not permitted)')"}, "kprobe": {"ok": $3, "reason": "$( [[ $3 == true ]] || echo 'no kprobes in the stand-in')"}, "tp_btf": {"ok": true, "reason": ""}, "raw_tp": {"ok": true, "reason": ""}, "tracepoint": {"ok": true, "reason": ""}},' '  "modules": []}' ;;
*) exit 3 ;;
esac
EOF
	chmod 755 "$path"
	printf '%s\n' "$path"
}

refused=$(stand_in refused false false)
bash "$CHECK" --bpfpush "$refused" >"$E2E_TMP/refused.out" 2>&1
tap_ok "an agent that cannot load fentry: the report says no fentry" agrees "$E2E_TMP/refused.out" false false
tap_ok "the refusal gives the agent's reason" grep -q 'fentry/fexit: fentry refused by the stand-in (Operation not permitted)' "$E2E_TMP/refused.out"

works=$(stand_in works true true)
bash "$CHECK" --bpfpush "$works" >"$E2E_TMP/works.out" 2>&1
tap_ok "an agent that loads fentry and kprobes: the report says so" agrees "$E2E_TMP/works.out" true true

bash "$CHECK" --no-probe >"$E2E_TMP/noprobe.out" 2>&1
tap_ok "--no-probe does not claim fentry works without trying" bash -c "! grep -q 'attach via fentry/fexit\.$' '$E2E_TMP/noprobe.out'"

tap_done
