#!/usr/bin/env bash
# scripts/soak.sh [--minutes N] [--flap SECONDS] [--bin PATH]: a bounded soak of the agent (as root).
#
# Runs build/bpfpush with every module switched on (those this kernel cannot attach count in
# agent.modules.failed) and apps on, for N minutes (default 10), with:
#   - a TCP graphite sink to a local listener that flaps: up for FLAP seconds (default 20), then
#     down (listener and connections closed) for FLAP seconds, and so on;
#   - a stdout sink (graphite) into a file: the lines offered to every sink;
#   - process churn (a fork/exec loop) and network churn (short TCP connections over loopback).
# Prints the agent's RSS and open fds at the start, every minute and at the end, then accounts
# for every line offered to the TCP sink: offered = sent + dropped (by reason), from the line
# each sink logs when it closes; received (whole lines at the listener) <= sent, the difference
# being lines the kernel accepted on a connection the listener then closed (TCP gives no
# acknowledgement to resend from). Exits non-zero when a line is unaccounted for, a connection
# carried half a line, the agent died or did not exit 0, or RSS/fds grew beyond the tolerances.
set -uo pipefail
cd "$(dirname "$0")/.."
minutes=10
flap=20
bin=build/bpfpush
while [[ $# -gt 0 ]]; do
	case $1 in
	--minutes) minutes=$2; shift 2 ;;
	--flap) flap=$2; shift 2 ;;
	--bin) bin=$2; shift 2 ;;
	*) echo "usage: $0 [--minutes N] [--flap SECONDS] [--bin PATH]" >&2; exit 3 ;;
	esac
done
[[ $(id -u) -eq 0 ]] || { echo "soak: needs root (BPF)" >&2; exit 3; }
[[ -x $bin ]] || { echo "soak: $bin not built (run make)" >&2; exit 3; }
[[ $minutes =~ ^[0-9]+$ && $minutes -ge 1 ]] || { echo "soak: --minutes wants a whole number >= 1" >&2; exit 3; }

tmp=$(mktemp -d /tmp/bpfpush-soak.XXXXXX)
pids=()
cleanup() {
	local i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null
	done
	wait 2>/dev/null
	[[ ${SOAK_KEEP:-0} == 1 ]] && echo "soak: kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# The flapping listener: each connection's bytes in $tmp/peer/conn.N. Going down, it stops
# accepting, reads what each connection still has until it is quiet for 0.2 s, then closes it.
mkdir -p "$tmp/peer"
python3 - "$port" "$tmp/peer" "$flap" <<'EOF' &
import os, select, socket, sys, time
port, out, flap = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
n = 0
while True:
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(8)
    conns = {}
    end = time.time() + flap
    while time.time() < end:
        r, _, _ = select.select([srv] + list(conns), [], [], max(0.0, end - time.time()))
        for s in r:
            if s is srv:
                c, _ = srv.accept()
                n += 1
                conns[c] = open(os.path.join(out, "conn.%d" % n), "wb", buffering=0)
                continue
            data = s.recv(1 << 16)
            if data:
                conns[s].write(data)
            else:
                conns.pop(s).close()
                s.close()
    srv.close()
    for c, f in conns.items():
        c.setblocking(False)
        quiet = time.time()
        while time.time() - quiet < 0.2:
            try:
                data = c.recv(1 << 16)
            except BlockingIOError:
                time.sleep(0.02)
                continue
            if not data:
                break
            f.write(data)
            quiet = time.time()
        f.close()
        c.close()
    open(os.path.join(out, "down"), "a").write("%d\n" % int(time.time()))
    time.sleep(flap)
EOF
pids+=($!)

# Network churn: a loopback echo server and a client making short connections (~100 a second).
python3 - "$echo_port" <<'EOF' &
import socket, sys, threading, time
port = int(sys.argv[1])
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port)); srv.listen(64)
def serve():
    while True:
        c, _ = srv.accept()
        d = c.recv(4096)
        if d:
            c.sendall(d)
        c.close()
threading.Thread(target=serve, daemon=True).start()
while True:
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=2)
        c.sendall(b"x" * 512); c.recv(4096); c.close()
    except OSError:
        pass
    time.sleep(0.01)
EOF
pids+=($!)

# Process churn: fork and exec in a loop (~100 a second).
bash -c 'while :; do /bin/true; sleep 0.01; done' &
pids+=($!)

cfg=$tmp/soak.yaml
{
	echo "global: { interval: 1s, log_level: info }"
	echo "apps: { enabled: true }"
	echo "modules:"
	for m in process fd vfs sync mount shm socket network hardirq softirq oomkill disk mdflush filesystem swap cachestat dcstat; do
		if [ "$m" = softirq ]; then echo "  $m: { enabled: true, timing: true }"; else echo "  $m: { enabled: true }"; fi
	done
	echo "sinks:"
	echo "  - { name: carbon, type: graphite, address: \"tcp://127.0.0.1:$port\", reconnect_min: 100ms, reconnect_max: 2s, write_timeout: 5s }"
	echo "  - { name: console, type: stdout, format: graphite }"
} >"$cfg"
chmod 600 "$cfg"

"$bin" -c "$cfg" >"$tmp/agent.out" 2>"$tmp/agent.err" &
agent=$!
pids+=("$agent")
for ((i = 0; i < 150; i++)); do
	[[ -s $tmp/agent.out ]] && break
	kill -0 "$agent" 2>/dev/null || break
	sleep 0.1
done
if [[ ! -s $tmp/agent.out ]]; then
	echo "soak: the agent did not start:"; tail -20 "$tmp/agent.err"; exit 1
fi

sample() { # LABEL: RSS and fds of the agent
	local rss fds
	rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$agent/status" 2>/dev/null)
	fds=$(ls "/proc/$agent/fd" 2>/dev/null | wc -l)
	printf 'soak: %-8s %s  RSS %6s kB  fds %3s  lines offered %s\n' "$1" "$(date -u +%H:%M:%S)" "${rss:-?}" "$fds" \
		"$(wc -l <"$tmp/agent.out")"
	last_rss=${rss:-0} last_fds=$fds
}
echo "soak: $minutes min, listener flapping every $flap s on 127.0.0.1:$port, agent pid $agent"
sleep 5 # past start-up: maps, rings and the first connection exist
sample start
rss_start=$last_rss fds0=$last_fds
# RSS grows while series, apps and buffers first appear (a flat run went 6.8 -> 8.2 MiB in its
# first minutes): growth is judged from the end of a warm-up, half the run but at most 5 minutes.
warm=$((minutes / 2 < 5 ? minutes / 2 : 5))
rss0=$rss_start
failed=0
for ((m = 1; m <= minutes; m++)); do
	sleep 60
	if ! kill -0 "$agent" 2>/dev/null; then
		echo "soak: the agent died"; tail -20 "$tmp/agent.err"; failed=1; break
	fi
	sample "min $m"
	((m == warm)) && rss0=$last_rss
done
rss1=$last_rss fds1=$last_fds

kill -TERM "$agent"
wait "$agent"
rc=$?
sleep 0.5 # the listener reads what is left
echo "soak: agent exited $rc"
[[ $rc -eq 0 ]] || failed=1

closed() { sed -n "s/^INFO sink: $1: closed: //p" "$tmp/agent.err" | tail -n 1; }
echo "soak: carbon: $(closed carbon)"
echo "soak: console: $(closed console)"
read -r sent dropped < <(closed carbon | sed -n 's/^\([0-9]*\) lines sent, \([0-9]*\) dropped.*/\1 \2/p')
read -r offered < <(closed console | sed -n 's/^\([0-9]*\) lines sent.*/\1/p')
received=$(cat "$tmp"/peer/conn.* 2>/dev/null | grep -c '^[^ ]* [^ ]* [0-9]*$')
half=0
for f in "$tmp"/peer/conn.*; do
	[[ -s $f && $(tail -c 1 "$f" | od -An -c | tr -d ' ') != '\n' ]] && half=$((half + 1))
done
conns=$(ls "$tmp"/peer/conn.* 2>/dev/null | wc -l)
downs=$(wc -l <"$tmp/peer/down" 2>/dev/null || echo 0)
reconnects=$(awk '$1 ~ /^bpfpush\..*\.agent\.sink\.carbon\.reconnects$/ { s += $2 } END { print s + 0 }' "$tmp/agent.out")
echo "soak: listener: $downs outages, $conns connections, $received whole lines received, $half connections ended in half a line"
echo "soak: offered $offered = sent $sent + dropped $dropped ? $([[ $((sent + dropped)) -eq ${offered:--1} ]] && echo yes || echo NO)"
echo "soak: received $received <= sent $sent ? $([[ $received -le $sent ]] && echo yes || echo NO)" \
	"($((sent - received)) accepted by the kernel on connections the listener closed); agent counted $reconnects reconnects"
[[ -n $sent && -n $offered && $((sent + dropped)) -eq $offered && $received -le $sent && $half -eq 0 ]] || failed=1
echo "soak: RSS ${rss_start} kB at start, ${rss0} kB after a ${warm}-minute warm-up -> ${rss1} kB, fds ${fds0} -> ${fds1}"
# The sink may be connected at one sample and not at the other: one fd either way. After the
# warm-up, more than 20% of RSS growth over the rest of the soak is a leak to look at.
if [[ $fds1 -gt $((fds0 + 1)) || $rss1 -gt $((rss0 + rss0 / 5)) ]]; then
	echo "soak: RSS or fds grew beyond the tolerance (fds +1, RSS +20% after the warm-up)"
	failed=1
fi
[[ $failed -eq 0 ]] && echo "soak: passed" || echo "soak: FAILED"
exit $failed
