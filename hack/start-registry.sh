#!/usr/bin/env bash
# Start (or reuse) a local Docker registry for the image pull and push tests:
# Debian's docker-registry (distribution 2.8), installed with apt if missing,
# on 127.0.0.1 over plain HTTP, without authentication. Docker treats
# 127.0.0.0/8 as an insecure registry by default, so no dockerd flag is needed.
#
#   CA_TEST_REGISTRY=$(hack/start-registry.sh | tail -n1)     # e.g. 127.0.0.1:5055
#
# stdout: the registry's address (host:port), on the last line.
# State in ${CA_STATE_DIR:-/tmp/containers-apiserver}/registry/: config.yml,
# data/ (the filesystem storage root), registry.pid, registry.log.
# If our registry is already running it is reused and nothing is started.
# Stop it with hack/stop-registry.sh [--purge].
# Env: CA_STATE_DIR, CA_REGISTRY_PORT (default 5055), CA_REGISTRY_START_TIMEOUT (default 30s).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

[[ $# -eq 0 ]] || ca_die "usage: ${0##*/} (no arguments)"
port=${CA_REGISTRY_PORT:-5055}
if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
	ca_die "CA_REGISTRY_PORT must be a TCP port, got '$port'"
fi
addr=127.0.0.1:$port
dir=$CA_STATE_BASE/registry
config=$dir/config.yml pidfile=$dir/registry.pid log=$dir/registry.log
timeout=${CA_REGISTRY_START_TIMEOUT:-30}

command -v docker-registry >/dev/null || ensure_apt_packages docker-registry
command -v curl >/dev/null || ensure_apt_packages curl

# A registry answers GET /v2/ with 200 (no auth configured).
registry_answers() { curl -fsS -o /dev/null --max-time 2 "http://$addr/v2/" 2>/dev/null; }

# registry_pid : the pid of our registry, if it runs (checked against its
# command line: pids get reused).
registry_pid() { ca_tool pidfile-pid --arg "$config" "$pidfile"; }

ca_prepare_state_base
mkdir -p "$dir/data"
exec {lockfd}>"$dir/.lock"
flock -w $((timeout + 30)) "$lockfd" || ca_die "timed out waiting for $dir/.lock"

if pid=$(registry_pid); then
	if ca_wait_until "$timeout" registry_answers; then
		grep -qF "addr: $addr" "$config" || ca_die "the registry (pid $pid) listens elsewhere than $addr; stop it with hack/stop-registry.sh"
		echo "$addr"
		exit 0
	fi
	ca_die "registry (pid $pid) is running but does not answer on $addr; see $log"
fi
if registry_answers; then
	ca_die "something else already answers on $addr; set CA_REGISTRY_PORT to a free port"
fi

cat >"$config" <<CONFIG
# Written by hack/start-registry.sh: a throw-away test registry.
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: $addr
  # Fixed, so the registry does not warn about a random one; nothing secret here.
  secret: containers-apiserver-test-registry
CONFIG

printf '=== %s starting docker-registry on %s\n' "$(date -Is)" "$addr" >>"$log"
# setsid and no fds shared with the caller: the registry outlives this script
# and a `go test` reading our stdout sees EOF.
setsid docker-registry serve "$config" </dev/null >>"$log" 2>&1 {lockfd}>&- &
launched=$!
echo "$launched" >"$pidfile"

deadline=$((SECONDS + timeout))
until registry_answers; do
	if ! kill -0 "$launched" 2>/dev/null; then
		tail -n 20 "$log" >&2 || true
		rm -f "$pidfile"
		ca_die "docker-registry exited during startup (see $log)"
	fi
	if ((SECONDS >= deadline)); then
		tail -n 20 "$log" >&2 || true
		ca_die "docker-registry did not answer on $addr within ${timeout}s (pid $launched still running)"
	fi
	sleep 0.25
done
exec {lockfd}>&-
echo "$addr"
