#!/usr/bin/env bash
# Install the real peers the end-to-end tests talk to, idempotently:
#   - Debian graphite-carbon (carbon-cache) and python3-whisper (whisper-fetch)
#   - Debian carbon-c-relay (built with OpenSSL: the TLS test gives it a TLS listener)
#   - the openssl CLI (certificates for the TLS test)
#   - Etsy statsd 0.9.0 from npm, into build/peers/statsd (node and npm from Debian if missing)
# Nothing is left running: package maintainer scripts are stopped from starting services
# with a policy-rc.d (exit 101) for the duration of the install, and any carbon-cache or
# carbon-c-relay daemon a postinst started anyway is stopped again.
# Usage: scripts/install-peers.sh [--check]   (--check: exit 0 if everything is there, 1 if not)
set -euo pipefail

cd "$(dirname "$0")/.."
PEERS=${PEERS_DIR:-build/peers}
STATSD_VERSION=0.9.0

log() { printf 'install-peers: %s\n' "$*" >&2; }

have_carbon() { [[ -x /usr/bin/carbon-cache ]] && command -v whisper-fetch >/dev/null 2>&1; }
have_relay() { command -v carbon-c-relay >/dev/null 2>&1; }
have_openssl() { command -v openssl >/dev/null 2>&1; }
have_node() { command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; }
have_statsd() {
	[[ -f "$PEERS/statsd/node_modules/statsd/stats.js" ]] &&
		[[ "$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$PEERS/statsd/node_modules/statsd/package.json" | head -1)" == "$STATSD_VERSION" ]]
}

if [[ ${1:-} == --check ]]; then
	have_carbon && have_relay && have_openssl && have_node && have_statsd
	exit
fi

if [[ $(id -u) -ne 0 ]]; then
	log "must run as root (apt-get install)"
	exit 1
fi

apt_pkgs=()
have_carbon || apt_pkgs+=(graphite-carbon python3-whisper)
have_relay || apt_pkgs+=(carbon-c-relay)
have_openssl || apt_pkgs+=(openssl)
have_node || apt_pkgs+=(nodejs npm)

if [[ ${#apt_pkgs[@]} -gt 0 ]]; then
	export DEBIAN_FRONTEND=noninteractive
	# Package lists: update once when there are none.
	if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
		log "apt-get update"
		apt-get update -qq
	fi
	# Keep maintainer scripts from starting services (invoke-rc.d honours policy-rc.d).
	made_policy=0
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	log "apt-get install ${apt_pkgs[*]}"
	rc=0
	apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}" >/dev/null || rc=$?
	if [[ $rc -ne 0 ]]; then
		# A stale package list may 404: refresh once and retry.
		apt-get update -qq
		rc=0
		apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}" >/dev/null || rc=$?
	fi
	[[ $made_policy -eq 1 ]] && rm -f /usr/sbin/policy-rc.d
	[[ $rc -eq 0 ]] || { log "apt-get install failed ($rc)"; exit "$rc"; }
fi

# Whatever a postinst may have started despite the policy: stop the system daemons
# (only those running the packaged binaries with the system config, never ours).
for pidfile in /var/run/carbon-cache.pid /run/carbon-cache.pid /var/run/carbon-c-relay.pid /run/carbon-c-relay.pid; do
	if [[ -s $pidfile ]]; then
		pid=$(cat "$pidfile")
		if [[ -d /proc/$pid ]] && grep -qE 'carbon' "/proc/$pid/cmdline" 2>/dev/null; then
			log "stopping service started by the package (pid $pid)"
			kill "$pid" 2>/dev/null || true
		fi
	fi
done

if ! have_statsd; then
	mkdir -p "$PEERS/statsd"
	[[ -f "$PEERS/statsd/package.json" ]] ||
		printf '{ "name": "bpfpush-e2e-peers", "private": true }\n' >"$PEERS/statsd/package.json"
	log "npm install statsd@$STATSD_VERSION into $PEERS/statsd"
	(cd "$PEERS/statsd" && npm install --no-audit --no-fund --no-save --loglevel=error "statsd@$STATSD_VERSION" >/dev/null)
	have_statsd || { log "statsd $STATSD_VERSION not found after npm install"; exit 1; }
fi

log "peers ready: $(carbon-c-relay -v 2>&1 | head -1 | tr -d '\n'); carbon-cache $(dpkg-query -W -f '${Version}' graphite-carbon); statsd $STATSD_VERSION in $PEERS/statsd"
