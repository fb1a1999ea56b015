#!/usr/bin/env bash
# Make a Docker engine answer and print the DOCKER_HOST to use (last stdout line).
#
#   DOCKER_HOST=$(hack/ensure-docker.sh | tail -n1)
#
# Order of preference:
#   1. $DOCKER_HOST, if set and `docker version` answers on it;
#   2. the default unix:///var/run/docker.sock, if it answers;
#   3. the project's private dockerd (started if not running, reused if it is):
#        state  ${CA_STATE_DIR:-/tmp/containers-apiserver}/dockerd/
#        socket .../dockerd/docker.sock   pidfile .../dockerd/docker.pid
#        log    .../dockerd/dockerd.log   data-root .../dockerd/data  exec-root .../dockerd/exec
#        bridge cadocker0 with a free 10.213-219.x.0/24, --iptables=false
#      docker.io (+ containerd, runc, iptables) is apt-installed if dockerd is missing.
#
# Env: DOCKER_HOST, CA_STATE_DIR, CA_DOCKERD_START_TIMEOUT (default 60s), CA_DOCKERD_EXTRA_ARGS.
# The checks and the daemon are catool's (hack/tools/catool); this script adds
# the apt bootstrap and the wait for a freshly installed system service.
# Exit status non-zero (with the daemon log tail on stderr) if no engine answers.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

[[ $# -eq 0 ]] || ca_die "usage: ${0##*/} (no arguments)"

# $DOCKER_HOST, the default socket or the project's running dockerd,
# whichever answers first (catool docker-host; test/testenv asks the same).
if catool_host=$(ca_tool docker-host); then
	echo "$catool_host"
	exit 0
fi

default_host=unix:///var/run/docker.sock
had_dockerd=$(command -v dockerd || true)
ca_ensure_docker_binaries
if [[ -z $had_dockerd && -S /var/run/docker.sock ]] && ca_wait_until 20 ca_docker_answers "$default_host"; then
	# The package's own service came up (systemd hosts): use it.
	echo "$default_host"
	exit 0
fi

ca_tool dockerd start --main
