#!/bin/bash
# The checks inside the systemd guest (scripts/system-test.sh boots it; its service
# bpfpush-system-test.service runs this once the system is up). Everything it needs is on the
# payload disk, /payload: both packages, Etsy statsd with a JSON backend, the known workload
# and the Ansible role. TAP goes to /payload/result.tap, the commands' output to
# /payload/guest.log, one line per step's duration to /payload/timings.
set -u
P=/payload
exec 3>"$P/result.tap" 4>"$P/timings"
exec >"$P/guest.log" 2>&1
export DEBIAN_FRONTEND=noninteractive PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
read -r V_CUR V_PREV < <(tr '\n' ' ' <"$P/versions")
HOST=$(hostname -s)
PREFIX="bpfpush.$HOST"
JSONL=/run/statsd/flushes.jsonl
n=0
step_t=$(date +%s)

tap() { echo "$*" >&3; echo "TAP: $*" >/dev/ttyS0; echo "== $*"; }
ok() { n=$((n + 1)); tap "ok $n - $*"; }
nok() { n=$((n + 1)); tap "not ok $n - $*"; }
note() { tap "# $*"; }
# check DESCRIPTION COMMAND...: one TAP line from the command's status.
check() { local d=$1; shift; if "$@"; then ok "$d"; else nok "$d"; fi; }
# wait_for SECS COMMAND...: true once the command is, false at the deadline.
wait_for() {
	local deadline=$(($(date +%s) + $1)); shift
	until "$@"; do
		(($(date +%s) >= deadline)) && return 1
		sleep 1
	done
}
step() { local now; now=$(date +%s); echo "$1 $((now - step_t))" >&4; step_t=$now; echo "---- $1"; }
main_pid() { systemctl show -p MainPID --value bpfpush; }
restarts() { systemctl show -p NRestarts --value bpfpush; }

# sum_counter REGEX: the sum over every flush statsd made of the counters whose name matches.
sum_counter() {
	python3 - "$1" "$JSONL" <<'PY'
import json, re, sys
pat, total = re.compile(sys.argv[1]), 0
try:
    for line in open(sys.argv[2]):
        for k, v in json.loads(line)["counters"].items():
            if pat.search(k):
                total += v
except FileNotFoundError:
    pass
print(int(total))
PY
}
# seen REGEX: some flush after the first FROM lines (default 0) has a counter or gauge matching.
seen() {
	python3 - "$1" "$JSONL" "${2:-0}" <<'PY'
import json, re, sys
pat, skip = re.compile(sys.argv[1]), int(sys.argv[3])
try:
    lines = open(sys.argv[2]).readlines()[skip:]
except FileNotFoundError:
    sys.exit(1)
sys.exit(0 if any(pat.search(k) for l in lines for d in json.loads(l).values() if isinstance(d, dict) for k in d) else 1)
PY
}
flushes() { [[ -f $JSONL ]] && wc -l <"$JSONL" || echo 0; }
sum_is() { [[ $(sum_counter "$1") -ge $2 ]]; }

note "guest: $(uname -r), systemd $(systemctl --version | head -1 | cut -d' ' -f2), PID 1 $(cat /proc/1/comm)"
check "systemd is PID 1" test "$(cat /proc/1/comm)" = systemd

# ---------------------------------------------------------------- a StatsD listener: Etsy statsd
mkdir -p /run/statsd
cat >/run/statsd/config.js <<JS
{ port: 8125, address: "127.0.0.1", mgmt_port: 8126, mgmt_address: "127.0.0.1",
  flushInterval: 1000, deleteCounters: true, deleteGauges: true,
  backends: ["$P/statsd_json.js"], jsonFile: "$JSONL" }
JS
systemd-run --unit=statsd --property=WorkingDirectory="$P/statsd/node_modules/statsd" \
	/usr/bin/node stats.js /run/statsd/config.js
check "Etsy statsd listens on 127.0.0.1:8125" wait_for 60 sh -c 'ss -Hlun | grep -q "127.0.0.1:8125"'
step statsd

# ---------------------------------------------------------------- install
check "apt-get update reaches Debian's mirror" apt-get update -q
apt-get install -y "$P/bpfpush_prev.deb" >/tmp/apt-install.log 2>&1
rc=$?
cat /tmp/apt-install.log
check "apt install ./bpfpush_${V_PREV}_amd64.deb resolves its dependencies and installs" test $rc -eq 0
note "apt installed with it: $(sed -n '/NEW packages will be installed/,/upgraded/p' /tmp/apt-install.log | sed '1d;$d' | tr -s ' \n' ' ')"
check "the unit is enabled" test "$(systemctl is-enabled bpfpush)" = enabled
# Type=notify: the start job finishes (active) only once the agent sent READY=1.
check "the unit is active: READY=1 arrived" wait_for 180 systemctl is-active --quiet bpfpush
step install
pid=$(main_pid)
check "the agent runs as user bpfpush" test "$(ps -o user= -p "$pid" | tr -d ' ')" = bpfpush
# CAP_DAC_READ_SEARCH (2), CAP_PERFMON (38), CAP_BPF (39): the README's three, and no more.
caps=$(printf '%016x' $(((1 << 2) | (1 << 38) | (1 << 39))))
for f in CapEff CapPrm CapAmb CapBnd; do
	got=$(awk -v f="$f:" '$1 == f { print $2 }' "/proc/$pid/status")
	check "$f is CAP_BPF CAP_PERFMON CAP_DAC_READ_SEARCH only ($got)" test "$got" = "$caps"
done
check "metrics reach statsd (process.create)" wait_for 60 seen "^${PREFIX//./\\.}\\.process\\.create\$"
warnings=$(journalctl -b -q --no-pager -u bpfpush -p warning)
check "journalctl -u bpfpush has no warning at the shipped config" test -z "$warnings"
[[ -n $warnings ]] && note "warnings: $(echo "$warnings" | head -5 | tr '\n' '|')"

# ---------------------------------------------------------------- reload keeps counts
# A static workload opening /dev/null: exactly N opens under app=bpfpush-opener per run. Before
# the reload 1000, after it 500: statsd must have summed exactly 1500 over its flushes.
cp "$P/opener" /usr/local/bin/bpfpush-opener
key="^${PREFIX//./\\.}\\.apps\\.bpfpush-opener\\.file_open\$"
bpfpush-opener 1000
wait_for 30 sum_is "$key" 1000
before=$(sum_counter "$key")
check "apps.file_open for the workload before the reload: 1000 ($before)" test "$before" -eq 1000
mkdir -p /etc/bpfpush/conf.d
printf 'modules:\n  dcstat: { enabled: true }\n' >/etc/bpfpush/conf.d/50-system-test.yaml
mark=$(flushes)
systemctl reload bpfpush
check "systemctl reload applies the conf.d change (dcstat.* arrives)" wait_for 60 seen "^${PREFIX//./\\.}\\.dcstat\\." "$mark"
check "the reload kept the process (MainPID $pid)" test "$(main_pid)" = "$pid"
bpfpush-opener 500
wait_for 30 sum_is "$key" 1500
# Two more flushes: nothing beyond 1500 may arrive late either.
mark=$(flushes); wait_for 10 sh -c "[ \$(wc -l <$JSONL) -ge $((mark + 2)) ]"
after=$(sum_counter "$key")
check "apps.file_open before and after the reload sums exactly to 1500 ($after)" test "$after" -eq 1500
rm -f /etc/bpfpush/conf.d/50-system-test.yaml
systemctl reload bpfpush
step reload

# ---------------------------------------------------------------- security score
sec=$(systemd-analyze security --no-pager bpfpush.service 2>&1 | tail -1)
score=$(echo "$sec" | sed -n 's/.*: \([0-9.]*\) .*/\1/p')
note "systemd-analyze security: $sec"
echo "security $score" >&4
check "systemd-analyze security scores the unit ($score)" test -n "$score"

# ---------------------------------------------------------------- watchdog
# A stopped agent sends no WATCHDOG=1: systemd kills it after WatchdogSec (30 s) and restarts it.
pid=$(main_pid)
r0=$(restarts)
kill -STOP "$pid"
t=$(date +%s)
restarted() { [[ $(restarts) -gt $r0 ]] && systemctl is-active --quiet bpfpush && [[ $(main_pid) != "$pid" && $(main_pid) != 0 ]]; }
check "a stopped agent (SIGSTOP) is killed and restarted by the watchdog" wait_for 180 restarted
note "restarted $(($(date +%s) - t)) s after SIGSTOP (WatchdogSec=30s, RestartSec=5s)"
check "the journal names the watchdog" sh -c 'journalctl -b -q --no-pager -u bpfpush | grep -q "Watchdog timeout"'
step watchdog

# ---------------------------------------------------------------- upgrade
echo "# edited on this host before the upgrade" >>/etc/bpfpush/bpfpush.yaml
pid=$(main_pid)
since=$(date '+%Y-%m-%d %H:%M:%S')
sleep 1 # journal timestamps have second resolution in --since: start the window on a new second
apt-get install -y "$P/bpfpush_cur.deb" >/tmp/apt-upgrade.log 2>&1
rc=$?
cat /tmp/apt-upgrade.log
check "apt upgrades ${V_PREV} to ${V_CUR}" test $rc -eq 0 -a "$(dpkg-query -W -f '${Version}' bpfpush)" = "$V_CUR"
check "the edited conffile keeps its edit" grep -q '^# edited on this host before the upgrade$' /etc/bpfpush/bpfpush.yaml
check "the service is active after the upgrade" wait_for 120 systemctl is-active --quiet bpfpush
starts=$(journalctl -q --no-pager -u bpfpush --since "$since" | grep -c 'Started bpfpush')
check "the upgrade restarted the service once ($starts start, MainPID $pid -> $(main_pid))" \
	test "$starts" -eq 1 -a "$(main_pid)" != "$pid"
mark=$(flushes)
check "the upgraded agent sends" wait_for 60 seen "^${PREFIX//./\\.}\\.agent\\.rss_bytes\$" "$mark"
step upgrade

# ---------------------------------------------------------------- purge
apt-get purge -y bpfpush
check "apt purge succeeds" test $? -eq 0
check "purge removes the unit" test ! -e /lib/systemd/system/bpfpush.service -a ! -e /etc/systemd/system/multi-user.target.wants/bpfpush.service
check "purge removes the binary" test ! -e /usr/sbin/bpfpush
check "purge removes the conffiles" test ! -e /etc/bpfpush -a ! -e /etc/default/bpfpush
check "purge removes the user and group bpfpush" sh -c '! getent passwd bpfpush && ! getent group bpfpush'
check "no bpfpush process is left" sh -c '! pgrep -x bpfpush'
step purge

# ---------------------------------------------------------------- Ansible
# recap FILE FIELD: the number after FIELD= in the play recap.
recap() { sed -n "s/.*localhost.*$2=\([0-9]*\).*/\1/p" "$1" | tail -1; }
play() {
	local log=$1; shift
	ANSIBLE_ROLES_PATH="$P/roles" ANSIBLE_NOCOLOR=1 ansible-playbook -i localhost, -c local \
		-e bpfpush_deb="$P/bpfpush_cur.deb" "$@" "$P/playbook.yml" >"$log" 2>&1
	local rc=$?
	cat "$log"
	return $rc
}
play /tmp/play1.log
rc=$?
check "role, first run: succeeds and changes the host (changed=$(recap /tmp/play1.log changed))" \
	test $rc -eq 0 -a "$(recap /tmp/play1.log changed)" -gt 0
check "role: the service is active" wait_for 120 systemctl is-active --quiet bpfpush
check "role: the written config is the one in use (-t passes)" bpfpush -t -c /etc/bpfpush/bpfpush.yaml
mark=$(flushes)
check "role: the agent sends to statsd" wait_for 60 seen "^${PREFIX//./\\.}\\.agent\\.rss_bytes\$" "$mark"
step ansible-first
play /tmp/play2.log
rc=$?
check "role, second run: 0 changed (changed=$(recap /tmp/play2.log changed))" test $rc -eq 0 -a "$(recap /tmp/play2.log changed)" = 0
step ansible-second
pid=$(main_pid); r0=$(restarts)
mark=$(flushes)
play /tmp/play3.log -e '{"bpfpush_dropins": {"50-dcstat": {"modules": {"dcstat": {"enabled": true}}}}}'
rc=$?
check "role, a config change: succeeds and changes (changed=$(recap /tmp/play3.log changed))" test $rc -eq 0 -a "$(recap /tmp/play3.log changed)" -gt 0
check "role, a config change: the handler reloads the service" grep -q 'RUNNING HANDLER \[bpfpush : reload bpfpush\]' /tmp/play3.log
check "role, a config change: applied (dcstat.* arrives)" wait_for 60 seen "^${PREFIX//./\\.}\\.dcstat\\." "$mark"
check "role, a config change: reloaded, not restarted (MainPID $pid)" test "$(main_pid)" = "$pid" -a "$(restarts)" = "$r0"
step ansible-change
sum_before=$(sha256sum /etc/bpfpush/bpfpush.yaml)
play /tmp/play4.log -e '{"bpfpush_global": {"interval": "soon"}}'
rc=$?
check "role, an invalid config: the run fails" test $rc -ne 0
check "role, an invalid config: refused by validate (bpfpush -t names the key)" grep -q 'global.interval' /tmp/play4.log
check "role, an invalid config: the file on disk is unchanged" test "$(sha256sum /etc/bpfpush/bpfpush.yaml)" = "$sum_before"
check "role, an invalid config: the service kept its process (MainPID $pid)" test "$(main_pid)" = "$pid"
mark=$(flushes)
check "role, an invalid config: the agent keeps sending" wait_for 60 seen "^${PREFIX//./\\.}\\.agent\\.rss_bytes\$" "$mark"
step ansible-invalid

echo "1..$n" >&3
