#!/usr/bin/env bash
# Stop the registry started by hack/start-registry.sh.
#
#   hack/stop-registry.sh [--purge]
#
# SIGTERM, wait up to 15s, then SIGKILL. The pushed images (data/) are kept
# unless --purge is given. Prints nothing; succeeds if it was not running.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

purge=""
for a in "$@"; do
	case $a in
	--purge) purge=1 ;;
	*) ca_die "unknown argument $a; usage: ${0##*/} [--purge]" ;;
	esac
done
dir=$CA_STATE_BASE/registry
pidfile=$dir/registry.pid
[[ -d $dir ]] || exit 0

exec {lockfd}>"$dir/.lock"
flock -w 60 "$lockfd" || ca_die "timed out waiting for $dir/.lock"
# Only our registry: its command line names our config (pids get reused).
ca_tool stop-pidfile --arg "$dir/config.yml" --grace 15 --name registry "$pidfile"
exec {lockfd}>&-
if [[ -n $purge ]]; then
	rm -rf "$dir" || ca_die "cannot remove $dir"
fi
