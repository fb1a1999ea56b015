#!/usr/bin/env bash
# Stop the end-to-end control plane started by hack/e2e-up.sh:
# containers-apiserver, kube-apiserver and etcd, in that order (SIGTERM, then
# SIGKILL after CA_E2E_STOP_TIMEOUT, default 20s). Safe to run when nothing runs.
#
#   hack/e2e-down.sh [--purge]     # --purge also deletes the state dir
#
# Only processes recorded in ${CA_STATE_DIR:-/tmp/containers-apiserver}/e2e/*.pid
# whose command line still mentions that dir (or the cached kube-apiserver) are
# signalled: pids get reused.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

purge=""
case ${1:-} in
"") ;;
--purge) purge=1 ;;
*) ca_die "usage: ${0##*/} [--purge]" ;;
esac
dir=$CA_STATE_BASE/e2e
timeout=${CA_E2E_STOP_TIMEOUT:-20}

# stop NAME MARKER : stop the process in $dir/NAME.pid if its command line
# contains MARKER (catool stop-pidfile), and remove the pidfile.
stop() {
	ca_tool stop-pidfile --mentions "$2" --grace "$timeout" --name "$1" "$dir/$1.pid"
}

if [[ -d $dir ]]; then
	stop containers-apiserver "$dir/"
	stop kube-apiserver "$dir/pki/"
	stop etcd "$dir/etcd"
	if [[ -n $purge ]]; then
		rm -rf "$dir" || ca_die "cannot remove $dir"
	else
		# The next `up` starts from scratch; logs stay for a look.
		rm -rf "$dir/etcd" "$dir/pki" "$dir/server-certs"
	fi
fi
