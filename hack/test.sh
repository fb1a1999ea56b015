#!/usr/bin/env bash
# `make test`: every check and test, against a real Docker engine, with the
# race detector. Installs and starts what the tests need, every time.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# kubectl drives the CLI tests; the machine image normally has it.
command -v kubectl >/dev/null || ensure_apt_packages kubectl

echo "== gofmt, go vet"
unformatted=$(gofmt -l cmd pkg test hack)
[[ -z $unformatted ]] || ca_die "gofmt wants changes in: $unformatted"
go vet ./...

echo "== generated code is current"
hack/verify-codegen.sh

echo "== Docker engine and test image"
DOCKER_HOST=$(hack/ensure-docker.sh | tail -n1)
export DOCKER_HOST
hack/build-busybox-image.sh -H "$DOCKER_HOST"

echo "== local registry (image pull and push tests)"
CA_TEST_REGISTRY=$(hack/start-registry.sh | tail -n1)
export CA_TEST_REGISTRY

echo "== go test -race ./..."
# Packages run one after another (-p 1): they share one Docker engine and two cores.
go test -race -count=1 -p 1 -timeout 45m ./... "$@"

echo "== end-to-end (behind kube-apiserver): hack/e2e.sh"
hack/e2e.sh
