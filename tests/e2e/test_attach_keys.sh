#!/usr/bin/env bash
# The syscall layer hooks each syscall once for every module that watches it, and an explicit
# syscall_layer of one module governs the syscalls it shares with others (agent/kernel/attach_keys.h).
# fd asks the layer for open(2) before vfs does (registry order) and leaves syscall_layer auto;
# vfs sets dispatcher: `bpfpush --probe --json` must show fd's open event on the dispatcher, and
# fd's close (which vfs does not watch) on its own automatic choice. Needs root (BPF).
source "$(dirname "$0")/lib.sh"
e2e_init --no-peers

# probe_way YAML MODULE EVENT: the way --probe reports for one event of one module.
probe_way() {
	local cfg=$E2E_TMP/probe.yaml
	printf '%s\n' "$1" >"$cfg"
	chmod 600 "$cfg"
	"$BPFPUSH_BIN" --probe --json -c "$cfg" 2>"$E2E_TMP/probe.err" >"$E2E_TMP/probe.json"
	/usr/bin/python3 - "$E2E_TMP/probe.json" "$2" "$3" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
for m in report["modules"]:
    if m["module"] == sys.argv[2]:
        for e in m["events"]:
            if e["event"] == sys.argv[3]:
                print(e["way"])
EOF
}

BASE='sinks: [ { name: out, type: stdout } ]
apps: { enabled: false }
modules:'
for m in process sync mount shm socket network hardirq softirq oomkill; do BASE+=$'\n'"  $m: { enabled: false }"; done

way=$(probe_way "$BASE"$'\n  fd: { enabled: true }\n  vfs: { enabled: true, syscall_layer: dispatcher }' fd open)
tap_ok "fd's open(2), shared with vfs, takes vfs's syscall_layer: dispatcher (got '$way')" \
	bash -c "[[ '$way' == *'syscall dispatcher'* ]]"
close_way=$(probe_way "$BASE"$'\n  fd: { enabled: true }\n  vfs: { enabled: true, syscall_layer: dispatcher }' fd close)
tap_ok "fd's close(2), which vfs does not watch, keeps fd's automatic choice (got '$close_way')" \
	bash -c "[[ -n '$close_way' && '$close_way' != *'syscall dispatcher'* ]] || ! grep -q '\"tracepoint\": {\"ok\": true' '$E2E_TMP/probe.json'"

tap_done
