#!/usr/bin/env bash
# `make verify`: the static checks, no Docker and no network beyond the Go
# module proxy (for golangci-lint's first build). Stops at the first failure.
#
#   gofmt; go vet, also with the e2e and integration build tags (files behind
#   a tag are invisible to a plain vet); generated code current
#   (hack/verify-codegen.sh); golangci-lint (hack/lint.sh, .golangci.yml).
#   the engine seam's import rules (test/architecture, also part of every
#   `go test ./...`).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

echo "== gofmt"
unformatted=$(gofmt -l cmd pkg test hack)
if [[ -n $unformatted ]]; then
	echo "gofmt wants changes in:" $unformatted >&2
	exit 1
fi

echo "== go vet (no tags; then e2e,integration)"
go vet ./...
go vet -tags e2e,integration ./...

echo "== generated code is current"
hack/verify-codegen.sh

echo "== golangci-lint"
hack/lint.sh

echo "== import rules"
go test -count=1 ./test/architecture/
