#!/usr/bin/env bash
# `make test`: every check and test, against a real Docker engine, with the
# race detector. Installs and starts what the tests need, every time.
#
#   hack/test.sh [go test flags...]      e.g. hack/test.sh -run TestLogs -v
#
# The unit tests and the integration tests (files with `//go:build integration`:
# a real dockerd, Chromium, root) run in one `go test -tags integration ./...`;
# `make test-unit` runs only the hermetic part, `make test-integration`
# (hack/test-integration.sh) only the tagged packages.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# kubectl drives the CLI tests; the machine image normally has it.
command -v kubectl >/dev/null || ensure_apt_packages kubectl

echo "== make verify: gofmt, go vet, generated code, golangci-lint, import rules"
hack/verify.sh

ca_integration_env

echo "== go test -race -tags integration ./..."
# Packages run one after another (-p 1): they share one Docker engine and two cores.
go test -race -tags integration -count=1 -p 1 -timeout 45m ./... "$@"

echo "== end-to-end (behind kube-apiserver): hack/e2e.sh"
hack/e2e.sh
