#!/usr/bin/env bash
# Benchmark behind `make bench` (test/bench, TestBench): LIST latency of 2,000
# mirrored containers through the HTTP API, and Docker-event-to-watch latency.
#
#   hack/bench.sh
#
# Runs against a fresh, test-owned dockerd "bench" (hack/start-test-dockerd.sh
# bench), which is purged at the end, on success, failure or interrupt
# (hack/stop-test-dockerd.sh bench --purge removes the 2,000 containers).
# Needs root (for the private dockerd), like the integration tests.
#
# Prints a short report, also written to _output/bench/issue2.txt; the full
# test log is _output/bench/bench.log.
#
# Env (defaults in brackets):
#   CA_BENCH_CONTAINERS [2000]  CA_BENCH_CREATE_PARALLEL [16]
#   CA_BENCH_LIST_WARMUP [5]    CA_BENCH_LIST_ITERATIONS [50]
#   CA_BENCH_OPS [200]          CA_BENCH_PAUSERS [4]
#   CA_BENCH_STRICT=1           fail when a target is missed (default: report only)
#   CA_BENCH_TIMEOUT [30m]      go test -timeout for the benchmark itself
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
hack=$root/hack
out=$root/_output/bench
daemon=bench
report=$out/issue2.txt
log=$out/bench.log
bin=$out/bench.test

[[ $# -eq 0 ]] || ca_die "usage: ${0##*/} (no arguments; see the header for the environment)"
ca_require_root "the benchmark's private dockerd"
command -v go >/dev/null || ca_die "go not found"
mkdir -p "$out"
: >"$log"

# One benchmark at a time: they would share the daemon and the machine.
exec {lockfd}>"$out/.lock"
flock -n "$lockfd" || ca_die "another hack/bench.sh is running (lock $out/.lock)"

start=$SECONDS
purged=""
purge() {
	[[ -z $purged ]] || return 0
	purged=1
	ca_log "stopping and purging dockerd '$daemon' (removes the containers)"
	"$hack/stop-test-dockerd.sh" "$daemon" --purge ||
		ca_log "WARNING: purge failed; run: hack/stop-test-dockerd.sh $daemon --purge"
}
child=""
on_signal() {
	# The benchmark runs in the background so that a signal is handled at once:
	# stop it (the daemon's purge then removes its containers) and leave.
	if [[ -n $child ]]; then
		kill -TERM "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
	fi
	exit $((128 + $1))
}
trap purge EXIT
trap 'on_signal 2' INT
trap 'on_signal 15' TERM

# The test binary first (lean: one package, no -race), so a compile error
# costs no daemon.
ca_log "building the benchmark"
t0=$SECONDS
go test -c -o "$bin" ./test/bench || ca_die "building test/bench failed"
build_s=$((SECONDS - t0))

# A fresh daemon: leftovers of an interrupted run would skew the counts.
"$hack/stop-test-dockerd.sh" "$daemon" --purge
ca_log "starting dockerd '$daemon'"
host=$("$hack/start-test-dockerd.sh" "$daemon" {lockfd}>&- | tail -n 1)
[[ $host == unix://* ]] || ca_die "start-test-dockerd.sh gave no socket (got '$host')"
"$hack/build-busybox-image.sh" -H "$host"

rm -f "$report"
ca_log "running the benchmark (log: $log)"
(
	cd "$root/test/bench"
	CA_BENCH=1 CA_BENCH_DOCKER_HOST=$host CA_BENCH_REPORT=$report \
		exec "$bin" -test.run '^TestBench$' -test.v -test.count=1 -test.timeout "${CA_BENCH_TIMEOUT:-30m}"
) >"$log" 2>&1 {lockfd}>&- &
child=$!
rc=0
wait "$child" || rc=$?
child=""
if ((rc != 0)) || [[ ! -s $report ]]; then
	{
		echo "---- last lines of $log ----"
		grep -E -- '^(=== RUN|--- |\s+\S+_test\.go:[0-9]+:|panic|FAIL|ok )' "$log" | tail -n 40
	} >&2
	ca_die "benchmark failed (exit $rc); full log: $log"
fi

purge
trap - EXIT
rm -f "$bin"
total_s=$((SECONDS - start))
printf 'hack/bench.sh total: %ds (compile %ds, daemon start/purge, create, sync, measure)\n' "$total_s" "$build_s" >>"$report"
echo
cat "$report"
