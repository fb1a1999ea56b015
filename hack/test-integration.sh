#!/usr/bin/env bash
# `make test-integration`: only the tests behind the `integration` build tag
# (a real dockerd, Chromium, root), with the race detector, after starting
# what they need: a Docker engine, the busybox test image, the local registry.
#
#   hack/test-integration.sh [go test flags...]   e.g. hack/test-integration.sh -run TestFaults -v
#
# `make test` (hack/test.sh) runs these together with the unit tests.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

command -v kubectl >/dev/null || ensure_apt_packages kubectl

# The packages that hold a tagged file; the others have nothing more to run
# with the tag than `make test-unit` runs without it.
mapfile -t pkgs < <(grep -rlE --include='*.go' '^//go:build .*\<integration\>' cmd pkg test |
	xargs -r -n1 dirname | sort -u | sed 's|^|./|')
((${#pkgs[@]})) || ca_die "no Go file has //go:build integration"

ca_integration_env

echo "== go test -race -tags integration (${#pkgs[@]} packages)"
# One package at a time (-p 1): they share one Docker engine and two cores.
go test -race -tags integration -count=1 -p 1 -timeout 45m "${pkgs[@]}" "$@"
