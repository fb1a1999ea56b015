#!/usr/bin/env bash
# `make e2e`: bring up the end-to-end control plane (hack/e2e-up.sh: etcd,
# kube-apiserver v1.37.2, this server delegated behind it through an
# APIService), run the e2e suite (go test -race -tags e2e ./test/e2e/...)
# against it, and tear it down on exit: success, failure or interrupt.
#
#   hack/e2e.sh [go test flags...]     e.g. hack/e2e.sh -run TestAuthz -v
#
# Env: everything hack/e2e-up.sh understands; CA_E2E_KEEP=1 leaves the control
# plane running afterwards (stop it with hack/e2e-down.sh).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

start=$SECONDS
down() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n ${CA_E2E_KEEP:-} ]]; then
		ca_log "CA_E2E_KEEP is set: the control plane keeps running (hack/e2e-down.sh stops it)"
	else
		hack/e2e-down.sh || rc=1
	fi
	ca_log "e2e took $((SECONDS - start))s"
	exit "$rc"
}
trap down EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== e2e: go vet -tags e2e"
go vet -tags e2e ./test/e2e/...

echo "== e2e: control plane (etcd, kube-apiserver, containers-apiserver)"
CA_E2E_ENV=$(hack/e2e-up.sh | tail -n1)
export CA_E2E_ENV
ca_log "control plane up after $((SECONDS - start))s"

echo "== e2e: go test -race -tags e2e ./test/e2e/..."
go test -race -tags e2e -count=1 -p 1 -timeout 20m ./test/e2e/... "$@"
