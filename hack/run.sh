#!/usr/bin/env bash
# `make run`: make a Docker engine answer (installing Debian's docker.io and
# starting a private dockerd when none does), build the server and run it
# standalone in the foreground, printing the kubectl command to use.
#
# Env: CA_RUN_DIR (default _output/run) holds certificates, token and kubeconfig;
#      ARGS adds flags, e.g. ARGS="--secure-port 9555 -v 4".
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

DOCKER_HOST=$(hack/ensure-docker.sh | tail -n1)
export DOCKER_HOST
run_dir=${CA_RUN_DIR:-$root/_output/run}
mkdir -p "$run_dir" _output/bin
go build -o _output/bin/containers-apiserver ./cmd/apiserver

kubeconfig=$run_dir/kubeconfig
rm -f "$kubeconfig"
(
	# Print the hint once the server has written its kubeconfig (it does so
	# only when it listens); give up quietly if it never does.
	for _ in $(seq 1 600); do
		if [[ -f $kubeconfig ]]; then
			cat >&2 <<-MSG

			containers-apiserver is serving Docker at $DOCKER_HOST. Try:

			  export KUBECONFIG=$kubeconfig
			  kubectl get containers.containers.rancherdesktop.io
			  kubectl get containers.containers.rancherdesktop.io -w

			MSG
			exit 0
		fi
		sleep 0.1
	done
) &
# shellcheck disable=SC2086 # ARGS is a list of flags
exec _output/bin/containers-apiserver --standalone \
	--cert-dir "$run_dir/certs" --token-file "$run_dir/token" \
	--write-kubeconfig "$kubeconfig" --docker-host "$DOCKER_HOST" ${ARGS:-}
