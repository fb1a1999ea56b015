#!/usr/bin/env bash
# Stop a dockerd started by hack/start-test-dockerd.sh NAME.
#
#   hack/stop-test-dockerd.sh NAME [--purge]
#
# SIGTERM, wait up to CA_DOCKERD_STOP_TIMEOUT (default 45s), then SIGKILL;
# then kills what an unclean exit left behind (managed containerd, shims,
# container processes), unmounts leftover mounts and deletes the daemon's
# bridge. The state dir (images, containers) is kept unless --purge is given.
# Prints nothing; succeeds if the daemon was not running.
# The work is catool's (hack/tools/catool dockerd stop).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

purge=()
args=()
for a in "$@"; do
	case $a in
	--purge) purge=(--purge) ;;
	-*) ca_die "unknown option $a; usage: ${0##*/} NAME [--purge]" ;;
	*) args+=("$a") ;;
	esac
done
[[ ${#args[@]} -eq 1 ]] || ca_die "usage: ${0##*/} NAME [--purge]"

ca_tool dockerd stop "${purge[@]}" --test "${args[0]}"
