// Package faults is the fault suite of issue 9 (item 8): a test-owned dockerd
// killed with SIGKILL and restarted while containers churn and log follows
// and watches are open; SIGTERM to the server binary with open follows; a
// burst of containers created at once.
//
// The scenarios live in this package's non-test files so that the benchmark
// (test/bench, `make bench` with CA_BENCH_ONLY=faults) measures the very same
// runs: the tests assert what must hold and the figures the issue sets (the
// mirror equals `docker ps -a` within 5 s of dockerd answering again); the
// benchmark only reports the figures.
//
// Every wait here has a deadline and waits on an event or polls a condition;
// every goroutine started here has an owner that ends it and waits for it.
package faults
