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
# Env: CA_STATE_DIR, CA_DOCKERD_START_TIMEOUT (default 60s), CA_DOCKERD_EXTRA_ARGS.
# The work is catool's (hack/tools/catool, test/testenv/hostenv: the same
# code test/testenv.StartDockerd calls); this script adds the apt bootstrap.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

[[ $# -eq 1 ]] || ca_die "usage: ${0##*/} NAME"

# Checks NAME too. A running daemon needs nothing installed.
state=$(ca_tool dockerd status --test "$1")
[[ $state == running* ]] || ca_ensure_docker_binaries
ca_tool dockerd start --test "$1"
