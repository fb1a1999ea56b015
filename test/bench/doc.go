// Package bench holds the end-to-end benchmark behind `make bench`
// (hack/bench.sh): LIST latency of 2,000 mirrored containers through the HTTP
// API, and Docker-event-to-watch latency, against a real, test-owned dockerd.
//
// TestBench only runs with CA_BENCH=1, so `go test ./...` skips it. Run it with
// hack/bench.sh, which starts and purges the daemon and prints the report.
package bench
