#!/usr/bin/env bash
# The dashboards under dashboards/ are generated from `bpfpush --list-metrics`: every metric a
# dashboard names exists, every metric is on a panel of each set, and the committed JSON is what
# the generator writes now (scripts/check-dashboards.py). No BPF, no peers, no root.
source "$(dirname "$0")/lib.sh"

[[ -x $BPFPUSH_BIN ]] || bail "agent binary $BPFPUSH_BIN exists (run make)"
out=$($SYSPY "$E2E_ROOT/scripts/check-dashboards.py" --agent "$BPFPUSH_BIN" 2>&1)
rc=$?
log "$out"
tap_ok "dashboards agree with --list-metrics and with their generator (make dashboards rewrites them)" test "$rc" -eq 0
tap_done
