#!/usr/bin/env bash
# docs/metrics.md is the metric contract; `bpfpush --list-metrics` is the catalogue the code sends.
# They must agree in both directions: every listed metric is documented under its module's heading
# with the same type, tags and needs-results mark, and every documented metric is listed.
# No BPF, no peers, no root: the catalogue is printed from the code.
source "$(dirname "$0")/lib.sh"

DOC=$E2E_ROOT/docs/metrics.md
WORK=$(mktemp -d /tmp/bpfpush-docs.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

[[ -x $BPFPUSH_BIN ]] || bail "agent binary $BPFPUSH_BIN exists (run make)"
[[ -r $DOC ]] || bail "docs/metrics.md exists"

# Both sides as "name type tags results module", sorted by name. --list-metrics prints
# NAME TYPE TAGS MODULE MEANING after a header line, TYPE as c, g or h with (R) for results.
"$BPFPUSH_BIN" --list-metrics >"$WORK/list.out" 2>"$WORK/list.err" ||
	bail "bpfpush --list-metrics exits 0" "$(cat "$WORK/list.err")"
awk 'NR > 1 && NF >= 4 {
	type = $2; results = sub(/\(R\)$/, "", type) ? "yes" : "no"
	print $1, type, $3, results, $4
}' "$WORK/list.out" | sort >"$WORK/listed"

# A metric row is a table row whose first cell is a name in backticks:
# | `name` | type | tags | needs results | meaning |, under "### MODULE (...)".
awk -v bad="$WORK/malformed" '
/^### / { module = $2 }
/^\| `/ {
	n = split($0, cell, "|")
	for (i = 1; i <= n; i++) gsub(/^[ \t]+|[ \t]+$/, "", cell[i])
	name = cell[2]; gsub(/`/, "", name)
	if (n != 7 || cell[3] !~ /^[cgh]$/ || cell[4] !~ /^(-|[a-z_]+(,[a-z_]+)*)$/ ||
	    cell[5] !~ /^(yes|no)$/ || cell[6] == "" || name !~ /^[a-z_]+(\.[a-z0-9_]+)+$/) {
		print FNR ": " $0 > bad
		next
	}
	print name, cell[3], cell[4], cell[5], module
}' "$DOC" | sort >"$WORK/documented"

tap_ok "--list-metrics prints the catalogue" test -s "$WORK/listed"
tap_ok "docs/metrics.md has a row per metric" test -s "$WORK/documented"
tap_ok "every metric row of docs/metrics.md is well formed (| \`name\` | c/g/h | tags or - | yes/no | meaning |)" \
	bash -c "[[ ! -s '$WORK/malformed' ]] || { cat '$WORK/malformed'; exit 1; }"
tap_ok "no metric is documented twice" \
	bash -c "dups=\$(cut -d' ' -f1 '$WORK/documented' | uniq -d); [[ -z \$dups ]] || { echo \"\$dups\"; exit 1; }"

# missing LEFT RIGHT: lines of LEFT (whole: name, type, tags, results, module) not in RIGHT,
# each shown next to what RIGHT says of that name.
missing() {
	local line name other rc=0
	while read -r line; do
		name=${line%% *}
		other=$(awk -v n="$name" '$1 == n' "$2")
		echo "$line   <->   ${other:-(absent)}"
		rc=1
	done < <(comm -23 "$1" "$2")
	return $rc
}
tap_ok "every listed metric is documented with its type, tags, needs-results mark and module" \
	missing "$WORK/listed" "$WORK/documented"
tap_ok "every documented metric is listed by --list-metrics" \
	missing "$WORK/documented" "$WORK/listed"
tap_done
