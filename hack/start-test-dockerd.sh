#!/usr/bin/env bash
# Start (or reuse) an additional, test-owned private dockerd called NAME.
#
#   hack/start-test-dockerd.sh NAME
#
# stdout (exactly two lines):
#   PIDFILE=<state>/docker.pid
#   unix://<state>/docker.sock        <- last line: the DOCKER_HOST to use
# where <state> = ${CA_STATE_DIR:-/tmp/containers-apiserver}/test-dockerd-NAME
# (also holds dockerd.log, data/ = --data-root, exec/ = --exec-root).
#
# The daemon gets its own bridge (cat-NAME, or cat-<4 chars><hash> for long
# names; see `bridge` file in <state>) on a free 10.213-219.x.0/24, its own
# containerd namespace (ca-test-NAME) and --iptables=false.
#
# Restart after a crash: `kill -9 $(cat <state>/docker.pid)` and run this
# script again; it starts a new dockerd on the same data-root, so containers
# (and images) are still listed by `docker ps -a`. If the daemon is already
# running it is reused and nothing is started.
#
# Stop with hack/stop-test-dockerd.sh NAME [--purge].
# Env: CA_STATE_DIR, CA_DOCKERD_START_TIMEOUT (default 60s).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

[[ $# -eq 1 ]] || ca_die "usage: ${0##*/} NAME"
name=$1
[[ $name =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$ ]] || ca_die "NAME must match [A-Za-z0-9][A-Za-z0-9_.-]{0,39}, got '$name'"

dir=$CA_STATE_BASE/test-dockerd-$name
bridge=$(test_dockerd_bridge "$name")

if ! ca_dockerd_pid "$dir" >/dev/null; then
	ca_ensure_docker_binaries
fi
sock=$(ca_dockerd_ensure "$dir" "$bridge" "ca-test-$name")
echo "$bridge" >"$dir/bridge"
echo "PIDFILE=$dir/docker.pid"
echo "$sock"
