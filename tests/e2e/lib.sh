# shellcheck shell=bash
# Helpers for the end-to-end tests: the real agent against real carbon-cache, statsd and
# carbon-c-relay, all on 127.0.0.1, all in one temporary directory, all stopped on exit.
#
#   source "$(dirname "$0")/lib.sh"
#   e2e_init                       # temp dir, traps, checks root and the peers
#   read -r p1 p2 < <(free_ports 2)
#   carbon_start c1                # sets CARBON_PORT[c1], CARBON_DIR[c1]
#   agent_start cfg.yaml           # sets AGENT_PID, AGENT_OUT (its stdout), AGENT_ERR
#   ...
#   tap_ok "description" test-command args...
#   tap_done                       # prints the plan, returns non-zero if any check failed
#
# Every wait is bounded; every process started here is recorded and stopped by the EXIT
# trap (SIGTERM, then SIGKILL after a grace period). Set E2E_KEEP=1 to keep the temp dir.

set -uo pipefail

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BPFPUSH_BIN=${BPFPUSH_BIN:-build/bpfpush}
[[ $BPFPUSH_BIN == /* ]] || BPFPUSH_BIN="$E2E_ROOT/$BPFPUSH_BIN"
PEERS_DIR=${PEERS_DIR:-$E2E_ROOT/build/peers}
[[ $PEERS_DIR == /* ]] || PEERS_DIR="$E2E_ROOT/$PEERS_DIR"
# carbon and whisper are Debian's python3 packages: use Debian's interpreter, not a pyenv shim.
SYSPY=/usr/bin/python3

E2E_TMP=
E2E_PIDS=()          # every process we started, stopped in reverse order on exit
E2E_SHELL=$BASHPID   # the shell that starts (and so parents) every peer
declare -A CARBON_PORT CARBON_DIR CARBON_PID STATSD_PID RELAY_PID
STATSD_PORT= STATSD_MGMT_PORT= RELAY_PORT=
AGENT_PID= AGENT_OUT= AGENT_ERR= AGENT_RC=
TAP_N=0
TAP_FAILED=0
E2E_T0=$SECONDS

log() { printf '# %s\n' "$*" >&2; }

# ---------------------------------------------------------------- TAP
tap_pass() { TAP_N=$((TAP_N + 1)); printf 'ok %d - %s\n' "$TAP_N" "$1"; }
tap_fail() {
	TAP_N=$((TAP_N + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	printf 'not ok %d - %s\n' "$TAP_N" "$1"
	shift
	local arg
	for arg in "$@"; do sed 's/^/#   /' <<<"$arg"; done
}
# tap_ok DESCRIPTION CMD...: runs CMD; its output (e.g. a diff) is shown as diagnostics on failure.
tap_ok() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [[ $rc -eq 0 ]]; then
		tap_pass "$desc"
	else
		tap_fail "$desc"
		[[ -n $out ]] && sed 's/^/#   /' <<<"$out" | head -40
	fi
	return $rc
}
# bail DESCRIPTION [diagnostics...]: a setup step failed; report it and stop the script.
bail() {
	tap_fail "$@"
	tap_done
	exit 1
}
tap_done() {
	printf '1..%d\n' "$TAP_N"
	log "$(basename "$0"): $((TAP_N - TAP_FAILED))/$TAP_N passed in $((SECONDS - E2E_T0)) s"
	[[ $TAP_FAILED -eq 0 && $TAP_N -gt 0 ]]
}

# ---------------------------------------------------------------- set-up and clean-up
# e2e_init [--no-peers]: --no-peers for scripts that bring their own listeners (no carbon, statsd).
e2e_init() {
	if [[ $(id -u) -ne 0 ]]; then
		bail "e2e tests need root (BPF)"
	fi
	if [[ ! -x $BPFPUSH_BIN ]]; then
		bail "agent binary $BPFPUSH_BIN exists (run make)"
	fi
	if [[ ${1:-} != --no-peers ]] && ! bash "$E2E_ROOT/scripts/install-peers.sh" --check; then
		log "peers missing: running scripts/install-peers.sh"
		bash "$E2E_ROOT/scripts/install-peers.sh" >&2 || bail "scripts/install-peers.sh installs carbon, carbon-c-relay and statsd"
	fi
	E2E_TMP=$(mktemp -d /tmp/bpfpush-e2e.XXXXXX)
	trap e2e_cleanup EXIT
	trap 'log "interrupted"; exit 130' INT TERM HUP
	log "temp dir $E2E_TMP"
}

# forget_pid PID: drop PID from the clean-up list (once reaped, the number may be reused).
forget_pid() {
	local i
	for i in "${!E2E_PIDS[@]}"; do
		[[ ${E2E_PIDS[i]} == "$1" ]] && unset 'E2E_PIDS[i]'
	done
	E2E_PIDS=("${E2E_PIDS[@]}")
}

# proc_state PID / proc_ppid PID: from /proc/PID/stat (fields after the parenthesised comm).
proc_state() { sed -n 's/^.*) \([A-Za-z]\) .*$/\1/p' "/proc/$1/stat" 2>/dev/null; }
proc_ppid() { sed -n 's/^.*) [A-Za-z] \([0-9]*\) .*$/\1/p' "/proc/$1/stat" 2>/dev/null; }

# stop_pid PID [GRACE_SECONDS]: SIGTERM, wait, then SIGKILL; only for our own children (the
# ones recorded in E2E_PIDS). Returns the exit status.
stop_pid() {
	local pid=$1 grace=${2:-10} i rc
	[[ -n $pid ]] || return 0
	forget_pid "$pid"
	# Signal it only while it is still our own child (an exited child's number may be reused).
	if [[ $(proc_ppid "$pid") != "$E2E_SHELL" ]]; then
		wait "$pid" 2>/dev/null
		return $?
	fi
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < grace * 10; i++)); do
		[[ $(proc_state "$pid") =~ ^[RSDTt]$ ]] || break
		sleep 0.1
	done
	if [[ $(proc_state "$pid") =~ ^[RSDTt]$ ]]; then
		log "pid $pid did not stop in ${grace}s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	rc=$?
	return $rc
}

e2e_cleanup() {
	local rc=$? i
	trap - EXIT
	local pids=("${E2E_PIDS[@]}")
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		stop_pid "${pids[i]}" 5 >/dev/null 2>&1
	done
	if [[ -n $E2E_TMP && -d $E2E_TMP ]]; then
		if [[ ${E2E_KEEP:-0} == 1 || ( $rc -ne 0 && ${E2E_KEEP_ON_FAIL:-0} == 1 ) ]]; then
			log "kept $E2E_TMP"
		else
			rm -rf "$E2E_TMP"
		fi
	fi
	exit $rc
}

# ---------------------------------------------------------------- ports and waits
# free_ports N: N distinct free TCP/UDP ports on 127.0.0.1, chosen by the kernel (bind port 0).
free_ports() {
	$SYSPY - "$1" <<-'EOF'
	import socket, sys
	n = int(sys.argv[1]); socks = []; ports = []
	while len(ports) < n:
	    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
	    t.bind(("127.0.0.1", 0))
	    p = t.getsockname()[1]
	    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	    try:
	        u.bind(("127.0.0.1", p))      # free for UDP too, so any peer can use it
	    except OSError:
	        t.close(); continue
	    socks += [t, u]; ports.append(p)
	print(" ".join(map(str, ports)))
	EOF
}

# wait_listen PORT [tcp|udp] [TIMEOUT_S] [PID]: poll until something listens on 127.0.0.1:PORT.
# Fails early when PID (the process expected to listen) has exited.
wait_listen() {
	local port=$1 proto=${2:-tcp} timeout=${3:-20} pid=${4:-} flag=-ltn i
	[[ $proto == udp ]] && flag=-lun
	for ((i = 0; i < timeout * 10; i++)); do
		if ss -H $flag "sport = :$port" 2>/dev/null | grep -q .; then
			return 0
		fi
		if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
			log "pid $pid exited before listening on $proto/$port"
			return 1
		fi
		sleep 0.1
	done
	log "nothing listens on $proto/127.0.0.1:$port after ${timeout}s"
	return 1
}

# wait_until TIMEOUT_S CMD...: poll CMD every 0.2 s until it succeeds or TIMEOUT_S have passed
# (then CMD runs once more, so its output explains the failure).
wait_until() {
	local end=$((SECONDS + $1 + 1))
	shift
	while ((SECONDS < end)); do
		"$@" && return 0
		sleep 0.2
	done
	"$@"
}

# quiet CMD...: run CMD with its output discarded (for polling with wait_until).
quiet() { "$@" >/dev/null 2>&1; }

# sleep_to_boundary [OFFSET] [PERIOD]: sleep until OFFSET seconds past the next multiple of PERIOD
# whole seconds on the wall clock (defaults 0.3 and 1: the next whole second), as the agent
# aligns its flushes to multiples of global.interval.
sleep_to_boundary() {
	local off=${1:-0.3} period=${2:-1}
	sleep "$($SYSPY -c "import time; t=time.time(); p=$period; print(max(0.0, (int(t) // p + 1) * p + $off - t))")"
}

# sleep_until TS: sleep until the wall clock reads TS (seconds, may be fractional); at once if past.
sleep_until() {
	sleep "$($SYSPY -c "import time; print(max(0.0, $1 - time.time()))")"
}

# ---------------------------------------------------------------- carbon-cache
# carbon_start NAME [LINE_PORT]: a private carbon-cache listening on 127.0.0.1 (line receiver),
# with pickle and cache-query receivers on other private ports, UDP off, storage under the temp
# dir, 1 s resolution for an hour, sum aggregation with xFilesFactor 0. Tagged series are stored
# under _tagged/ with readable file names (TAG_HASH_FILENAMES = False); ENABLE_TAGS = False keeps
# carbon from calling a graphite-web tag database that is not there (tags are still parsed).
carbon_start() {
	local name=$1 port=${2:-} dir p1 pickle query
	dir=${CARBON_DIR[$name]:-$E2E_TMP/carbon-$name}
	if [[ -z $port ]]; then
		port=${CARBON_PORT[$name]:-}
	fi
	read -r p1 pickle query < <(free_ports 3)
	[[ -n $port ]] || port=$p1
	mkdir -p "$dir/conf" "$dir/storage/whisper" "$dir/log" "$dir/run"
	cat >"$dir/conf/carbon.conf" <<-EOF
	[cache]
	STORAGE_DIR = $dir/storage/
	LOCAL_DATA_DIR = $dir/storage/whisper/
	WHITELISTS_DIR = $dir/storage/lists/
	CONF_DIR = $dir/conf/
	LOG_DIR = $dir/log/
	PID_DIR = $dir/run/
	ENABLE_LOGROTATION = False
	USER =
	DATABASE = whisper
	MAX_CACHE_SIZE = inf
	MAX_UPDATES_PER_SECOND = inf
	MAX_CREATES_PER_MINUTE = inf
	MIN_TIMESTAMP_RESOLUTION = 1
	LINE_RECEIVER_INTERFACE = 127.0.0.1
	LINE_RECEIVER_PORT = $port
	ENABLE_UDP_LISTENER = False
	PICKLE_RECEIVER_INTERFACE = 127.0.0.1
	PICKLE_RECEIVER_PORT = $pickle
	CACHE_QUERY_INTERFACE = 127.0.0.1
	CACHE_QUERY_PORT = $query
	USE_FLOW_CONTROL = True
	LOG_LISTENER_CONNECTIONS = True
	LOG_UPDATES = False
	LOG_CREATES = True
	CACHE_WRITE_STRATEGY = sorted
	WHISPER_AUTOFLUSH = True
	WHISPER_FALLOCATE_CREATE = False
	CARBON_METRIC_INTERVAL = 0
	ENABLE_TAGS = False
	TAG_HASH_FILENAMES = False
	EOF
	cat >"$dir/conf/storage-schemas.conf" <<-'EOF'
	[everything_1s]
	pattern = .*
	retentions = 1s:1h
	EOF
	cat >"$dir/conf/storage-aggregation.conf" <<-'EOF'
	[sum]
	pattern = .*
	xFilesFactor = 0
	aggregationMethod = sum
	EOF
	rm -f "$dir/run/carbon-cache.pid"
	/usr/bin/carbon-cache --config="$dir/conf/carbon.conf" --nodaemon \
		--pidfile="$dir/run/carbon-cache.pid" --logdir="$dir/log" start \
		>>"$dir/log/stdout.log" 2>&1 &
	local pid=$!
	E2E_PIDS+=("$pid")
	CARBON_PID[$name]=$pid
	CARBON_PORT[$name]=$port
	CARBON_DIR[$name]=$dir
	if ! wait_listen "$port" tcp 30 "$pid"; then
		log "carbon-cache $name failed to start; its log:"
		tail -20 "$dir/log/stdout.log" "$dir/log/console.log" 2>/dev/null | sed 's/^/#   /' >&2
		return 1
	fi
	log "carbon-cache $name: pid $pid, line port $port, data $dir/storage/whisper"
}

# carbon_stop NAME: SIGTERM (carbon drops what it still holds in memory: see docs/design.md, test peers).
carbon_stop() {
	local name=$1
	stop_pid "${CARBON_PID[$name]:-}" 15
	CARBON_PID[$name]=
}

carbon_whisper_dir() { printf '%s/storage/whisper\n' "${CARBON_DIR[$1]}"; }

# carbon_series NAME: every series the cache stored, one a line, as the metric name carbon
# received (after its normalisation: tags sorted by name), sorted.
carbon_series() {
	local root
	root=$(carbon_whisper_dir "$1")
	[[ -d $root ]] || return 0
	(cd "$root" && find . -name '*.wsp' -printf '%P\n') | $SYSPY -c '
import sys
for line in sys.stdin:
    p = line.strip()[:-4]
    if p.startswith("_tagged/"):
        print(p.split("/", 3)[3].replace("_DOT_", "."))
    else:
        print(p.replace("/", "."))
' | LC_ALL=C sort
}

# carbon_normalize: metric names on stdin -> the names carbon stores them under (tags sorted).
carbon_normalize() {
	$SYSPY -c '
import sys
from carbon.util import TaggedSeries
for line in sys.stdin:
    m = line.strip()
    if m:
        print(TaggedSeries.parse(m).path if ";" in m else m)
'
}

# wsp_file NAME METRIC: the whisper file carbon uses for METRIC (as sent; tags normalised here).
wsp_file() {
	local root
	root=$(carbon_whisper_dir "$1")
	$SYSPY - "$root" "$2" <<-'EOF'
	import sys, os
	from carbon.util import TaggedSeries
	root, m = sys.argv[1], sys.argv[2]
	if ";" in m:
	    m = TaggedSeries.parse(m).path
	print(os.path.join(root, TaggedSeries.encode(m, os.sep, hash_only=False) + ".wsp"))
	EOF
}

# wsp_points NAME METRIC FROM UNTIL: "TS VALUE" for every non-empty point with FROM <= TS <= UNTIL,
# read with whisper-fetch. Values are printed as integers when they are integral.
wsp_points() {
	local file from=$3 until=$4
	file=$(wsp_file "$1" "$2")
	[[ -f $file ]] || { log "no whisper file for $2 ($file)"; return 1; }
	# whisper-fetch returns the points in (from, until]
	whisper-fetch --from=$((from - 1)) --until="$until" "$file" |
		awk '$2 != "None" { v = $2 + 0; if (v == int(v)) printf "%d %d\n", $1, v; else printf "%d %s\n", $1, $2 }'
}

# wsp_sum NAME METRIC FROM UNTIL: sum of the values of METRIC over [FROM, UNTIL].
wsp_sum() {
	wsp_points "$@" | awk '{ s += $2 } END { printf "%d\n", s }'
}

# ---------------------------------------------------------------- statsd 0.9.0
# statsd_start CARBON_NAME: Etsy statsd (UDP, 127.0.0.1) flushing every second through its graphite
# backend (text protocol, new namespace: counters as stats.counters.NAME.count) into that carbon.
statsd_start() {
	local carbon=$1 dir=$E2E_TMP/statsd
	read -r STATSD_PORT STATSD_MGMT_PORT < <(free_ports 2)
	mkdir -p "$dir"
	cat >"$dir/config.js" <<-EOF
	{
	  port: $STATSD_PORT,
	  address: "127.0.0.1",
	  mgmt_address: "127.0.0.1",
	  mgmt_port: $STATSD_MGMT_PORT,
	  backends: [ "./backends/graphite" ],
	  graphiteHost: "127.0.0.1",
	  graphitePort: ${CARBON_PORT[$carbon]},
	  graphiteProtocol: "text",
	  flushInterval: 1000,
	  deleteIdleStats: true,
	  dumpMessages: false,
	  graphite: { legacyNamespace: false, globalPrefix: "stats" }
	}
	EOF
	(cd "$PEERS_DIR/statsd/node_modules/statsd" && exec node stats.js "$dir/config.js") >"$dir/statsd.log" 2>&1 &
	local pid=$!
	E2E_PIDS+=("$pid")
	STATSD_PID[main]=$pid
	if ! wait_listen "$STATSD_PORT" udp 20 "$pid" || ! wait_listen "$STATSD_MGMT_PORT" tcp 20 "$pid"; then
		log "statsd failed to start; its log:"
		tail -20 "$dir/statsd.log" | sed 's/^/#   /' >&2
		return 1
	fi
	log "statsd: pid $pid, udp $STATSD_PORT, admin $STATSD_MGMT_PORT -> carbon ${CARBON_PORT[$carbon]}"
}

# statsd_admin CMD: send CMD to statsd's management port, print the answer (up to END).
statsd_admin() {
	$SYSPY - "$STATSD_MGMT_PORT" "$1" <<-'EOF'
	import socket, sys
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
	s.sendall(sys.argv[2].encode() + b"\n")
	buf = b""
	while not buf.rstrip().endswith(b"END"):
	    d = s.recv(65536)
	    if not d:
	        break
	    buf += d
	s.sendall(b"quit\n")
	sys.stdout.write(buf.decode())
	EOF
}

statsd_stop() { stop_pid "${STATSD_PID[main]:-}" 10; STATSD_PID[main]=; }

# ---------------------------------------------------------------- carbon-c-relay
# relay_start HASH CARBON_NAME...: carbon-c-relay listening on 127.0.0.1 (TCP, line mode), one
# consistent-hash cluster (carbon_ch or fnv1a_ch) over the given carbon-caches. Submission mode
# (-s): the relay sends no statistics of its own, so the caches hold only what we sent.
# With RELAY_SSL_PEM set (a PEM file holding the server certificate and its key), the listener
# speaks TLS only (`transport plain ssl PEM`).
relay_start() {
	local hash=$1 dir=$E2E_TMP/relay name members="" transport="transport plain"
	shift
	[[ -n ${RELAY_SSL_PEM:-} ]] && transport+=" ssl $RELAY_SSL_PEM"
	read -r RELAY_PORT < <(free_ports 1)
	mkdir -p "$dir"
	for name in "$@"; do
		members+="        127.0.0.1:${CARBON_PORT[$name]}=$name proto tcp type linemode"$'\n'
	done
	cat >"$dir/relay.conf" <<-EOF
	listen type linemode $transport 127.0.0.1:$RELAY_PORT proto tcp ;
	cluster caches $hash
	$members    ;
	match * send to caches stop ;
	EOF
	carbon-c-relay -f "$dir/relay.conf" -s -w 1 >"$dir/relay.log" 2>&1 &
	local pid=$!
	E2E_PIDS+=("$pid")
	RELAY_PID[main]=$pid
	if ! wait_listen "$RELAY_PORT" tcp 20 "$pid"; then
		log "carbon-c-relay failed to start; config and log:"
		sed 's/^/#   /' "$dir/relay.conf" "$dir/relay.log" >&2
		return 1
	fi
	log "carbon-c-relay: pid $pid, port $RELAY_PORT${RELAY_SSL_PEM:+ (TLS)}, $hash over $*"
}

# tls_make_certs DIR: in DIR, with the openssl CLI: ca.pem (a test CA), server.pem (a certificate
# it signed for 127.0.0.1 and localhost) with server.key, relay.pem (both, as carbon-c-relay
# wants them), and other-ca.pem (a CA that signed nothing here).
tls_make_certs() {
	local dir=$1
	mkdir -p "$dir"
	(
		set -e
		cd "$dir"
		key() { openssl req "$@" -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes; }
		key -x509 -days 2 -subj /CN=bpfpush-e2e-ca -keyout ca.key -out ca.pem
		key -x509 -days 2 -subj /CN=bpfpush-e2e-other-ca -keyout other-ca.key -out other-ca.pem
		key -new -subj /CN=localhost -keyout server.key -out server.csr
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
			-extfile server.ext -out server.pem
		cat server.pem server.key >relay.pem
		chmod 600 ./*.key relay.pem
	) >"$dir/openssl.log" 2>&1 || { sed 's/^/#   /' "$dir/openssl.log" >&2; return 1; }
}

# record_proxy LISTEN_PORT TARGET_PORT FILE: a TCP proxy on 127.0.0.1 that appends every byte the
# client sends to FILE (the answers are passed back, not recorded). Sets PROXY_PID.
record_proxy() {
	$SYSPY - "$1" "$2" "$3" <<-'EOF' &
	import socket, sys, threading
	lport, tport, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
	lock = threading.Lock()
	open(path, "wb").close()
	def pump(src, dst, record):
	    try:
	        while True:
	            d = src.recv(65536)
	            if not d:
	                break
	            if record:
	                with lock, open(path, "ab") as f:
	                    f.write(d)
	            dst.sendall(d)
	    except OSError:
	        pass
	    for s in (src, dst):
	        try:
	            s.shutdown(socket.SHUT_RDWR)
	        except OSError:
	            pass
	srv = socket.socket()
	srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	srv.bind(("127.0.0.1", lport))
	srv.listen(16)
	while True:
	    c, _ = srv.accept()
	    try:
	        u = socket.create_connection(("127.0.0.1", tport))
	    except OSError:
	        c.close()
	        continue
	    threading.Thread(target=pump, args=(c, u, True), daemon=True).start()
	    threading.Thread(target=pump, args=(u, c, False), daemon=True).start()
	EOF
	PROXY_PID=$!
	E2E_PIDS+=("$PROXY_PID")
	wait_listen "$1" tcp 10 "$PROXY_PID"
}

relay_stop() { stop_pid "${RELAY_PID[main]:-}" 10; RELAY_PID[main]=; }

# ---------------------------------------------------------------- the agent
# agent_config FILE SINK_YAML_LINES: a config with only the process module, apps off, and a
# global.interval of AGENT_INTERVAL seconds (default 1).
agent_config() {
	local file=$1
	shift
	{
		printf 'global: { interval: %ss, log_level: info }\n' "${AGENT_INTERVAL:-1}"
		cat <<-'EOF'
		modules:
		  process: { enabled: true }
		  fd: { enabled: false }
		  vfs: { enabled: false }
		  sync: { enabled: false }
		  mount: { enabled: false }
		  shm: { enabled: false }
		  socket: { enabled: false }
		  network: { enabled: false }
		  hardirq: { enabled: false }
		  softirq: { enabled: false }
		  oomkill: { enabled: false }
		apps: { enabled: false }
		cgroups: { enabled: false }
		sinks:
		EOF
		printf '  %s\n' "$@"
	} >"$file"
}

# agent_launch NAME COMMAND...: run COMMAND (the agent, or a launcher that execs it) in the
# background, stdout to $E2E_TMP/NAME.out ($AGENT_OUT), stderr to NAME.err ($AGENT_ERR); sets
# AGENT_PID. Returns once the first flush reached stdout (BPF load and attach take a moment),
# non-zero, stderr logged, when none did within 15 s.
agent_launch() {
	local name=$1 i
	shift
	AGENT_OUT=$E2E_TMP/$name.out
	AGENT_ERR=$E2E_TMP/$name.err
	: >"$AGENT_OUT"
	"$@" >"$AGENT_OUT" 2>"$AGENT_ERR" &
	AGENT_PID=$!
	E2E_PIDS+=("$AGENT_PID")
	for ((i = 0; i < 150; i++)); do
		[[ -s $AGENT_OUT ]] && return 0
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.1
	done
	log "agent ($name) did not print a flush within 15 s; stderr:"
	sed 's/^/#   /' "$AGENT_ERR" >&2
	return 1
}

# agent_start CONFIG [ARGS...]: run the agent in the background; stdout to $AGENT_OUT.
agent_start() {
	local cfg=$1
	shift
	agent_launch agent "$BPFPUSH_BIN" -c "$cfg" "$@"
}

# agent_stop: SIGTERM (a last collect and flush), sets AGENT_RC.
agent_stop() {
	stop_pid "$AGENT_PID" 15
	AGENT_RC=$?
	AGENT_PID=
	return 0
}

# agent_points METRIC [FILE]: "TS VALUE" for every graphite line of METRIC (full name) the agent
# printed on its stdout sink.
agent_points() {
	awk -v m="$1" '$1 == m && NF == 3 { print $3, $2 }' "${2:-$AGENT_OUT}"
}

# agent_series [FILE]: the distinct metric names on the agent's graphite stdout.
agent_series() {
	awk 'NF == 3 { print $1 }' "${1:-$AGENT_OUT}" | LC_ALL=C sort -u
}

# ---------------------------------------------------------------- workloads
# procs_created: the kernel's count of task creations so far (/proc/stat "processes").
procs_created() { awk '$1 == "processes" { print $2 }' /proc/stat; }

# workload_fork N: one child process that forks N children, each exiting at once
# (process.create grows by N + 1).
workload_fork() {
	bash -c 'for ((i = 0; i < $1; i++)); do : & done; wait' workload "$1"
}

# wait_next_flush: until the agent's stdout holds one more process.create line than now (the
# flush after a workload burst carries it, whatever the format), at most 10 s.
wait_next_flush() {
	local before
	before=$(grep -c 'process\.create' "$AGENT_OUT")
	flushed_after() { [[ $(grep -c 'process\.create' "$AGENT_OUT") -gt $1 ]]; }
	wait_until 10 flushed_after "$before"
}

# agent_fork_bursts CONFIG FORKS SETTLE: the agent with CONFIG, through two bursts of
# workload_fork FORKS in two flush intervals (the first just after a flush boundary), then
# SETTLE seconds for the last flush to reach the sinks; stopped, and its exit status checked.
agent_fork_bursts() {
	local cfg=$1 forks=$2 settle=$3
	agent_start "$cfg" || bail "agent starts and flushes to stdout" "$(tail -5 "$AGENT_ERR")"
	sleep_to_boundary 0.3
	workload_fork "$forks"
	wait_next_flush
	workload_fork "$forks"
	wait_next_flush
	# The relay's own forwarding interval: what the peer behind it receives is polled later.
	sleep "$settle"
	agent_stop
	tap_ok "agent exits 0 on SIGTERM" test "$AGENT_RC" -eq 0
}

# compare_points EXPECTED_FILE ACTUAL_FILE: both "TS VALUE" lines; identical sets, else a diff.
compare_points() {
	local a b
	a=$(LC_ALL=C sort -n "$1")
	b=$(LC_ALL=C sort -n "$2")
	if [[ $a == "$b" ]]; then
		return 0
	fi
	echo "expected (agent stdout) vs whisper, '<' only in agent, '>' only in whisper:"
	diff <(echo "$a") <(echo "$b") | grep '^[<>]' | head -30
	return 1
}
