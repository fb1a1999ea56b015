// Package bench holds the end-to-end benchmark behind `make bench`
// (hack/bench.sh), against a real, test-owned dockerd:
//
//   - TestBench: LIST latency of 2,000 mirrored containers through the HTTP
//     API, and Docker-event-to-watch latency (_output/bench/issue2.txt);
//   - TestBenchLogs: log streaming, the same logs read straight from Docker
//     and through the server's containers/log (HTTP/1.1, HTTP/2, WebSocket):
//     whole-log throughput and follow latency (_output/bench/issue3.txt);
//   - TestBenchExec: exec sessions of `cat`, through Docker's exec API and
//     through the server's containers/exec (WebSocket): keystroke round trips
//     on a terminal and bulk stdin/stdout throughput (_output/bench/issue12.txt).
//
// They only run with CA_BENCH=1, so `go test ./...` skips them. Run them with
// hack/bench.sh (CA_BENCH_ONLY=mirror, logs or exec for one), which starts and
// purges the daemon and prints the reports.
package bench
