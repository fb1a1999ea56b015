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
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

purge=""
args=()
for a in "$@"; do
	case $a in
	--purge) purge=purge ;;
	-*) ca_die "unknown option $a; usage: ${0##*/} NAME [--purge]" ;;
	*) args+=("$a") ;;
	esac
done
[[ ${#args[@]} -eq 1 ]] || ca_die "usage: ${0##*/} NAME [--purge]"
name=${args[0]}
[[ $name =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$ ]] || ca_die "NAME must match [A-Za-z0-9][A-Za-z0-9_.-]{0,39}, got '$name'"

ca_dockerd_stop "$CA_STATE_BASE/test-dockerd-$name" "$(test_dockerd_bridge "$name")" "$purge"
