#!/usr/bin/env bash
# `make lint`: golangci-lint with the repository's .golangci.yml, at the
# version pinned below, without a global install.
#
#   hack/lint.sh                  lint every package (./...)
#   hack/lint.sh ./pkg/stream/... lint some; any golangci-lint run flags work too
#
# The binary is built once from the Go module proxy (`go install`, checked
# against the Go checksum database like any module) into
# _output/bin/golangci-lint-<version>, so later runs start at once and a
# version bump here rebuilds it. The first build takes 1-2 minutes.
set -euo pipefail

# v2.15.0 supports Go 1.26 (it is built here with the Go in PATH, which it
# needs to be at least as new as the code it analyses).
GOLANGCI_LINT_VERSION=v2.15.0

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin="$root/_output/bin/golangci-lint-$GOLANGCI_LINT_VERSION"

if [[ ! -x $bin ]]; then
	echo "building golangci-lint $GOLANGCI_LINT_VERSION into ${bin#"$root"/}" >&2
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	# Outside the module (cd "$tmp"), so that go.mod is neither read nor changed.
	(cd "$tmp" && GOBIN="$tmp" go install \
		"github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION")
	mkdir -p "$(dirname "$bin")"
	mv "$tmp/golangci-lint" "$bin"
fi

# A binary left by an interrupted or hand-made build must not pass for the pin.
version=$("$bin" version --short 2>/dev/null || true)
if [[ v${version#v} != "$GOLANGCI_LINT_VERSION" ]]; then
	echo "$bin reports version '$version', not $GOLANGCI_LINT_VERSION; remove it and run again" >&2
	exit 1
fi

cd "$root"
# With no package arguments golangci-lint lints ./...
exec "$bin" run "$@"
