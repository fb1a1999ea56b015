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
if [[ -s $pidfile ]]; then
	pid=$(<"$pidfile")
	# Only our registry: its command line names our config (pids get reused).
	if [[ $pid =~ ^[0-9]+$ ]] && tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline" | grep -qxF -- "$dir/config.yml"; then
		kill -TERM "$pid" 2>/dev/null || true
		if ! ca_wait_until 15 ca_pid_gone "$pid"; then
			kill -KILL "$pid" 2>/dev/null || true
			ca_wait_until 10 ca_pid_gone "$pid" || ca_die "registry $pid survived SIGKILL"
		fi
	fi
	rm -f "$pidfile"
fi
exec {lockfd}>&-
if [[ -n $purge ]]; then
	rm -rf "$dir" || ca_die "cannot remove $dir"
fi
