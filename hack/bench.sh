#!/usr/bin/env bash
# Benchmark behind `make bench` (test/bench): TestBench, LIST latency of 2,000
# mirrored containers through the HTTP API and Docker-event-to-watch latency;
# TestBenchLogs, log streaming throughput, follow latency and idle follows,
# straight from Docker and through the server (HTTP/1.1, HTTP/2, WebSocket),
# directly and through kube-apiserver (the e2e control plane, hack/e2e-up.sh,
# started here with a server built without -race); TestBenchFaults,
# the fault suite's figures (dockerd killed and restarted 20 times: time from
# dockerd answering to the mirror equal to docker ps -a; a burst of 500
# containers), on test-owned daemons of its own (benchfaults, benchburst);
# TestBenchTailMemory, the server's peak RSS while it serves a 40 MB log with
# the options that once held lines (stream or untilTime with tailLines);
# TestBenchReconciler, the mirror's initial sync of 1,000 containers (on a
# test-owned daemon of its own, benchrec), memory per mirrored container and a
# consistent list of 10,000 (filled from the fake engine); TestBenchExec,
# exec sessions of `cat` in one busybox container, straight through Docker's
# exec API and through the server's containers/exec (WebSocket), directly and
# through kube-apiserver (the same control plane): keystroke round trips on a
# terminal, and bulk stdin/stdout throughput. TestBench's last watch phase
# paces 50 changes a second.
#
#   hack/bench.sh
#
# Runs against a fresh, test-owned dockerd "bench" (hack/start-test-dockerd.sh
# bench), which is purged at the end, on success, failure or interrupt
# (hack/stop-test-dockerd.sh bench --purge removes the 2,000 containers).
# Needs root (for the private dockerd), like the integration tests.
#
# Prints a short report per part, also written to _output/bench/issue2.txt
# (mirror), _output/bench/issue3.txt (logs), _output/bench/issue9-faults.txt
# (faults), _output/bench/issue9-memory.txt (memory),
# _output/bench/issue11.txt (reconciler), _output/bench/issue12.txt (exec) and
# _output/bench/issue13.txt (merged logs), _output/bench/issue13-paging.txt,
# _output/bench/issue14.txt (the stats collector);
# the full test log is _output/bench/bench.log.
#
# Env (defaults in brackets):
#   CA_BENCH_ONLY [all]         all, mirror (TestBench), logs (TestBenchLogs),
#                               faults (TestBenchFaults), memory (TestBenchTailMemory),
#                               reconciler (TestBenchReconciler), exec (TestBenchExec) or
#                               merged (TestBenchMergedFollow: a merged follow of 50 printers)
#                               or paging (TestBenchBackwardPaging: pages of a 1 GB log)
#                               or stats (TestBenchStatsCollector: 50 containers, collector on/off)
#   CA_BENCH_TAIL_MB [40]       size of the tail memory benchmark's log, 10^6 bytes
#   CA_BENCH_AGGREGATED [1]     0: no control plane, so no kube-apiserver log or exec paths
#   CA_BENCH_EXEC_KEYS [300]    keystrokes timed per exec path (after 20 warm-up)
#   CA_BENCH_EXEC_MB [64]       size of the exec bulk transfer through cat, MiB
#   CA_BENCH_MERGED_CONTAINERS [50]  CA_BENCH_MERGED_SECONDS [20]  printers and measuring window
#   CA_BENCH_PAGING_MB [1000]   size of the paging benchmark's log, 10^6 bytes
#   CA_BENCH_STATS_CONTAINERS [50]  CA_BENCH_STATS_SECONDS [60]  running containers and measuring window
#   CA_BENCH_STATS_PAIRS [3]    off/on pairs of server runs (the report gives their median cost)
#   CA_BENCH_CONTAINERS [2000]  CA_BENCH_CREATE_PARALLEL [16]
#   CA_BENCH_LIST_WARMUP [5]    CA_BENCH_LIST_ITERATIONS [50]
#   CA_BENCH_OPS [200]          CA_BENCH_PAUSERS [4]
#   CA_BENCH_LOG_MB [12]        size of each throughput log, 10^6 bytes
#   CA_BENCH_LOG_REPS [7]       timed reads per path (after 1 warm-up round)
#   CA_BENCH_LOG_DRIVER [json-file]  Docker log driver (json-file or local)
#   CA_BENCH_LOG_FOLLOW_LINES [300]  CA_BENCH_LOG_FOLLOW_WARMUP [20]
#   CA_BENCH_LOG_FOLLOW_INTERVAL [0.05]  seconds between the followed lines
#   CA_BENCH_STRICT=1           fail when a target is missed (default: report only)
#   CA_BENCH_TIMEOUT [90m]      go test -timeout for the benchmark itself
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
hack=$root/hack
out=$root/_output/bench
daemon=bench
log=$out/bench.log
bin=$out/bench.test

[[ $# -eq 0 ]] || ca_die "usage: ${0##*/} (no arguments; see the header for the environment)"
case ${CA_BENCH_ONLY:-all} in
all) tests='^TestBench(Logs|Faults|TailMemory|Reconciler|Exec|MergedFollow|BackwardPaging|StatsCollector)?$' reports=("$out/issue2.txt" "$out/issue3.txt" "$out/issue9-faults.txt" "$out/issue9-memory.txt" "$out/issue11.txt" "$out/issue12.txt" "$out/issue13.txt" "$out/issue13-paging.txt" "$out/issue14.txt") ;;
mirror) tests='^TestBench$' reports=("$out/issue2.txt") ;;
logs) tests='^TestBenchLogs$' reports=("$out/issue3.txt") ;;
faults) tests='^TestBenchFaults$' reports=("$out/issue9-faults.txt") ;;
memory) tests='^TestBenchTailMemory$' reports=("$out/issue9-memory.txt") ;;
reconciler) tests='^TestBenchReconciler$' reports=("$out/issue11.txt") ;;
exec) tests='^TestBenchExec$' reports=("$out/issue12.txt") ;;
merged) tests='^TestBenchMergedFollow$' reports=("$out/issue13.txt") ;;
paging) tests='^TestBenchBackwardPaging$' reports=("$out/issue13-paging.txt") ;;
stats) tests='^TestBenchStatsCollector$' reports=("$out/issue14.txt") ;;
*) ca_die "CA_BENCH_ONLY must be all, mirror, logs, faults, memory, reconciler, exec, merged, paging or stats, got '$CA_BENCH_ONLY'" ;;
esac
ca_require_root "the benchmark's private dockerd"
command -v go >/dev/null || ca_die "go not found"
mkdir -p "$out"
: >"$log"

# One benchmark at a time: they would share the daemon and the machine.
exec {lockfd}>"$out/.lock"
flock -n "$lockfd" || ca_die "another hack/bench.sh is running (lock $out/.lock)"

start=$SECONDS
purged=""
e2e_env=""
purge() {
	[[ -z $purged ]] || return 0
	purged=1
	ca_log "stopping and purging dockerd '$daemon' (removes the containers)"
	"$hack/stop-test-dockerd.sh" "$daemon" --purge ||
		ca_log "WARNING: purge failed; run: hack/stop-test-dockerd.sh $daemon --purge"
	if [[ -n $e2e_env ]]; then
		"$hack/e2e-down.sh" || ca_log "WARNING: stopping the control plane failed; run: hack/e2e-down.sh"
	fi
	# TestBenchFaults's and TestBenchReconciler's own daemons, left behind
	# when they were interrupted.
	local d
	for d in benchfaults benchburst benchrec; do
		"$hack/stop-test-dockerd.sh" "$d" --purge ||
			ca_log "WARNING: purge failed; run: hack/stop-test-dockerd.sh $d --purge"
	done
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

# The log and exec benchmarks' kube-apiserver paths: the e2e control plane,
# its server built without -race and reading the same daemon.
if [[ ($tests == *Logs* || $tests == *Exec*) && ${CA_BENCH_AGGREGATED:-1} != 0 ]]; then
	ca_log "starting the control plane (etcd, kube-apiserver, a second server) for the aggregated log and exec paths"
	e2e_env=$(CA_E2E_RACE=0 CA_E2E_REQUEST_TIMEOUT=60s DOCKER_HOST=$host "$hack/e2e-up.sh" {lockfd}>&- | tail -n 1)
	[[ -s $e2e_env ]] || ca_die "hack/e2e-up.sh gave no env file (got '$e2e_env')"
fi

rm -f "${reports[@]}"
ca_log "running the benchmark ${CA_BENCH_ONLY:-all} (log: $log)"
(
	cd "$root/test/bench"
	CA_BENCH=1 CA_BENCH_DOCKER_HOST=$host \
		CA_BENCH_REPORT=$out/issue2.txt CA_BENCH_LOGS_REPORT=$out/issue3.txt \
		CA_BENCH_FAULTS_REPORT=$out/issue9-faults.txt CA_BENCH_TAILMEM_REPORT=$out/issue9-memory.txt \
		CA_BENCH_RECONCILER_REPORT=$out/issue11.txt CA_BENCH_EXEC_REPORT=$out/issue12.txt \
		CA_BENCH_MERGED_REPORT=$out/issue13.txt CA_BENCH_PAGING_REPORT=$out/issue13-paging.txt \
		CA_BENCH_STATS_REPORT=$out/issue14.txt \
		CA_BENCH_E2E_ENV=$e2e_env \
		exec "$bin" -test.run "$tests" -test.v -test.count=1 -test.timeout "${CA_BENCH_TIMEOUT:-90m}"
) >"$log" 2>&1 {lockfd}>&- &
child=$!
rc=0
wait "$child" || rc=$?
child=""
no_report=""
for r in "${reports[@]}"; do
	[[ -s $r ]] || no_report+=" ${r##*/}"
done
if ((rc != 0)) || [[ -n $no_report ]]; then
	{
		echo "---- last lines of $log ----"
		grep -E -- '^(=== RUN|--- |\s+\S+_test\.go:[0-9]+:|panic|FAIL|ok )' "$log" | tail -n 40
	} >&2
	ca_die "benchmark failed (exit $rc${no_report:+; no report:$no_report}); full log: $log"
fi

purge
trap - EXIT
rm -f "$bin"
total_s=$((SECONDS - start))
for r in "${reports[@]}"; do
	printf 'hack/bench.sh total (%s): %ds (compile %ds, daemon start/purge, create, sync, measure)\n' \
		"${CA_BENCH_ONLY:-all}" "$total_s" "$build_s" >>"$r"
	echo
	cat "$r"
done
