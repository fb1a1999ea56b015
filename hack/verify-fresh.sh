#!/usr/bin/env bash
# `make verify-fresh`: run CI's command (.ci/run, i.e. `make test`) the way a
# fresh machine would: on a clone of HEAD in a temporary folder, with empty Go
# module and build caches, so nothing is found only because an earlier run left
# it in a warm cache.
#
# Only committed work is tested (the clone is of HEAD); uncommitted changes in
# this checkout are ignored, and the script says so.
#
# The kube-apiserver binary that the end-to-end tests build is cached outside
# the Go caches (~/.cache/containers-apiserver); a fresh machine has none, so by
# default this run builds it again into an empty cache too (10-14 minutes more
# on 2 cores). CA_FRESH_KEEP_KUBE_APISERVER=1 reuses the cached binary.
# CA_FRESH_KEEP=1 keeps the temporary folder for inspection.
#
# The Docker engine, etcd and apt packages are machine services, not caches:
# `make test` installs and starts them itself when missing.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

[[ $# -eq 0 ]] || ca_die "usage: ${0##*/} (no arguments)"

if [[ -n $(git -C "$root" status --porcelain --untracked-files=no) ]]; then
	ca_log "note: uncommitted changes are not tested; the clone is of HEAD $(git -C "$root" rev-parse --short HEAD)"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ca-verify-fresh.XXXXXX")
cleanup() {
	if [[ -n ${CA_FRESH_KEEP:-} ]]; then
		ca_log "kept $tmp"
		return
	fi
	# The module cache is read-only by design; make it removable.
	chmod -R u+w "$tmp" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

git clone --quiet --no-local "$root" "$tmp/src"
mkdir -p "$tmp/gomodcache" "$tmp/gocache" "$tmp/gopath"

env_args=(
	GOMODCACHE="$tmp/gomodcache"
	GOCACHE="$tmp/gocache"
	GOPATH="$tmp/gopath"
)
if [[ -z ${CA_FRESH_KEEP_KUBE_APISERVER:-} ]]; then
	env_args+=(XDG_CACHE_HOME="$tmp/xdg-cache")
fi

ca_log "fresh clone of $(git -C "$tmp/src" rev-parse --short HEAD) in $tmp/src, empty Go caches; running .ci/run"
start=$SECONDS
rc=0
env "${env_args[@]}" "$tmp/src/.ci/run" || rc=$?
elapsed=$((SECONDS - start))
if ((rc == 0)); then
	ca_log "PASSED in $((elapsed / 60))m$((elapsed % 60))s"
else
	ca_log "FAILED (exit $rc) after $((elapsed / 60))m$((elapsed % 60))s"
fi
exit "$rc"
