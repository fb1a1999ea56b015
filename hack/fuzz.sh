#!/usr/bin/env bash
# `make fuzz`: fuzz each Go fuzz target (func FuzzXxx(f *testing.F) in a
# *_test.go file under pkg/ or cmd/) for a while, one after another.
# `go test` (and so `make test`) only replays their seed corpora: the f.Add
# calls and testdata/fuzz/FuzzXxx/.
#
#   hack/fuzz.sh               every target
#   hack/fuzz.sh FuzzLogOptions FuzzWebSocketFraming
#
# Env: FUZZTIME, how long each target runs (default 60s; a count such as
# 20000x works too).
#
# A failing input is written to testdata/fuzz/FuzzXxx/ next to the target, so
# that `go test` replays it from then on: fix the code, keep the file.
#
# Go 1.26's fuzz coordinator can fail a run at the very end of FUZZTIME with
# a bare "context deadline exceeded" although nothing failed
# (go.dev/issue/75804, fixed in Go 1.27). Such a run, which writes no failing
# input, is reported as a warning, not a failure.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

fuzztime=${FUZZTIME:-60s}

# "Name dir" of every target.
mapfile -t all < <(grep -rE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' pkg cmd |
	sed -E 's|^(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*|\2 ./\1|' | sort)
[[ ${#all[@]} -gt 0 ]] || ca_die "no fuzz targets found"

selected=()
if [[ $# -eq 0 ]]; then
	selected=("${all[@]}")
else
	for want in "$@"; do
		found=""
		for t in "${all[@]}"; do
			[[ ${t%% *} == "$want" ]] && found=$t
		done
		[[ -n $found ]] || ca_die "no fuzz target $want; there are: $(printf '%s ' "${all[@]%% *}")"
		selected+=("$found")
	done
fi

# count_files DIR: how many files DIR holds (0 when there is no DIR).
count_files() { if [[ -d $1 ]]; then find "$1" -type f | wc -l; else echo 0; fi; }

failed=()
for t in "${selected[@]}"; do
	name=${t%% *} dir=${t#* }
	corpus=$dir/testdata/fuzz/$name
	before=$(count_files "$corpus")
	ca_log "$name ($dir) for $fuzztime"
	out=$(mktemp)
	if go test -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" "$dir" 2>&1 | tee "$out"; then
		rm -f "$out"
		continue
	fi
	after=$(count_files "$corpus")
	if [[ $after -eq $before ]] && grep -qx '    context deadline exceeded' "$out" &&
		! grep -qE 'Failing input written|failure while testing seed corpus' "$out"; then
		ca_log "warning: $name: the fuzz coordinator's end-of-run race (go.dev/issue/75804), no failing input: not a failure"
	else
		failed+=("$name")
		ca_log "$name FAILED (see above; a new failing input, if any, is in $corpus)"
	fi
	rm -f "$out"
done
[[ ${#failed[@]} -eq 0 ]] || ca_die "fuzz targets failed: ${failed[*]}"
ca_log "all fuzz targets passed: ${selected[*]%% *}"
