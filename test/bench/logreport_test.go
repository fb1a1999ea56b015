package bench

// The report of the log benchmark (TestBenchLogs), _output/bench/issue3.txt.

import (
	"bytes"
	"fmt"
	"time"
)

type logReport struct {
	logParams
	machine            machine
	dockerdPID         int
	started            time.Time
	aggregated         bool // the kube-apiserver paths were measured
	tput               []*tputMode
	follow             followReport
	idle               []idleResult
	loadStart, loadEnd string
	elapsed            time.Duration
}

func (r *logReport) tputOK() bool {
	for _, m := range r.tput {
		d, _, _ := m.rate(0)
		for pi := 1; pi < len(m.paths); pi++ {
			if s, _, _ := m.rate(pi); s/d < targetLogRatio {
				return false
			}
		}
	}
	return len(r.tput) > 0
}

func (r *logReport) followOK() bool {
	res := r.follow.results
	for _, f := range res[1:] {
		if f.lat.P99-res[0].lat.P99 > targetAddedP99 {
			return false
		}
	}
	return len(res) > 1
}

func (r *logReport) idleOK() bool {
	for _, i := range r.idle {
		if _, th, _ := i.perFollow(); th > targetIdleThreads {
			return false
		}
	}
	return true
}

func (r *logReport) passed() bool { return r.tputOK() && r.followOK() && r.idleOK() }

// signedMs is ms with an explicit sign.
func signedMs(d time.Duration) string {
	if d < 0 {
		return "-" + ms(-d)
	}
	return "+" + ms(d)
}

func (r *logReport) String() string {
	var b bytes.Buffer
	m := r.machine
	fmt.Fprintf(&b, "containers-apiserver log streaming benchmark (hack/bench.sh), %s\n", r.started.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "machine: nproc=%s, %s, kernel %s; Docker %s; %s\n", m.nproc, m.cpu, m.kernel, m.docker, m.goVersion)
	fmt.Fprintf(&b, "setup:   test-owned dockerd, log driver %s", r.driver)
	if r.driver == "json-file" {
		fmt.Fprintf(&b, " (Docker's default, no max-size)")
	}
	fmt.Fprintf(&b, "; in-process standalone server (GET .../containers/ID/log);\n")
	fmt.Fprintf(&b, "         all clients in the same process, over loopback (server: HTTPS), Docker over its unix socket\n")
	if r.aggregated {
		fmt.Fprintf(&b, "         kube-apiserver paths: the e2e control plane (hack/e2e-up.sh: etcd, kube-apiserver v1.37.2) with a\n")
		fmt.Fprintf(&b, "         second server (its own process, no -race) behind its aggregation layer, same dockerd; client: admin\n")
		fmt.Fprintf(&b, "         certificate; kube-apiserver proxies to the server over HTTP/2 whatever the client speaks\n")
	} else {
		fmt.Fprintf(&b, "         (no control plane: CA_BENCH_E2E_ENV unset, the kube-apiserver paths were not measured)\n")
	}
	fmt.Fprintf(&b, "         load average %s at start, %s at end\n", r.loadStart, r.loadEnd)

	n := r.bytes / lineBytes * lineBytes
	fmt.Fprintf(&b, "\nThroughput: the whole log of an exited container that wrote %.1f MB as %d lines of %d bytes\n",
		float64(n)/1e6, n/lineBytes, lineBytes)
	fmt.Fprintf(&b, "(`yes <99 chars> | head -c %d`); median of %d reads per path after 1 warm-up round, the order\n", n, r.reps)
	fmt.Fprintf(&b, "rotated each round; MB = 10^6 bytes of log (payload: no stdcopy headers, framing or channel bytes);\n")
	fmt.Fprintf(&b, "vs Docker = median MB/s over Docker's median MB/s (the target); paired = median over the rounds of\n")
	fmt.Fprintf(&b, "the ratio within a round; dockerd, process = CPU time during one read (median) of dockerd and of\n")
	fmt.Fprintf(&b, "this process (server + client):\n")
	fmt.Fprintf(&b, "  %-8s %-46s %10s %7s %13s %10s %6s %8s %8s\n", "log", "path", "bytes", "MB/s", "(min-max)", "vs Docker", "paired", "dockerd", "process")
	for _, md := range r.tput {
		kind := "non-TTY"
		if md.tty {
			kind = "TTY (-t)"
		}
		d, _, _ := md.rate(0)
		for pi, p := range md.paths {
			med, lo, hi := md.rate(pi)
			name := p.name
			if p.proto != "" {
				name += " " + p.proto
			}
			vs, paired := "", ""
			if pi > 0 {
				vs = fmt.Sprintf("%.2f %s", med/d, passMiss(med/d >= targetLogRatio))
				paired = fmt.Sprintf("%.2f", md.pairedRatio(pi))
			}
			selfc, dc := md.cpu(pi)
			dcs := "?"
			if r.dockerdPID != 0 {
				dcs = fmt.Sprintf("%.2fs", dc.Seconds())
			}
			fmt.Fprintf(&b, "  %-8s %-46s %10d %7.1f %13s %10s %6s %8s %8s\n", kind, name, md.bytes, med,
				fmt.Sprintf("(%.1f-%.1f)", lo, hi), vs, paired, dcs, fmt.Sprintf("%.2fs", selfc.Seconds()))
			kind = ""
		}
		note := ""
		if md.bytes != md.expected {
			note = fmt.Sprintf("; NOTE: the writer wrote %d bytes", md.expected)
		}
		crlf := ""
		if md.tty {
			crlf = " (the TTY turned each \\n into \\r\\n)"
		}
		fmt.Fprintf(&b, "  %-8s every path read the same %d bytes%s%s; the writer ran %s", "", md.bytes, crlf, note, md.written.Round(100*time.Millisecond))
		for _, p := range md.paths {
			if p.msgs > 0 {
				fmt.Fprintf(&b, "; %d WebSocket messages (%.0f bytes each)", p.msgs, float64(md.bytes)/float64(p.msgs))
			}
		}
		fmt.Fprintf(&b, "\n")
	}
	fmt.Fprintf(&b, "  target: server >= %.2f x Docker on every path -> %s\n", targetLogRatio, passMiss(r.tputOK()))

	f := r.follow
	fmt.Fprintf(&b, "\nFollow latency: a running (non-TTY) container writes \"<seq> <sec> <usec>\" every %ss, the time being\n", f.interval)
	fmt.Fprintf(&b, "adjtimex(2)'s clock read just before the write (same host clock as the clients); 4 followers at once\n")
	fmt.Fprintf(&b, "(tail 0); latency = client read - container time over the %d lines after %d warm-up lines;\n", f.lines, f.warm)
	fmt.Fprintf(&b, "added = server figure - Docker's; same line = server read - direct read of each line:\n")
	fmt.Fprintf(&b, "  %-44s %5s %9s %9s %9s %10s %10s %9s %9s\n", "follower", "lines", "p50", "p99", "max", "added p50", "added p99", "same p50", "same p99")
	if len(f.results) > 0 {
		d := f.results[0]
		for i, x := range f.results {
			if i == 0 {
				fmt.Fprintf(&b, "  %-44s %5d %9s %9s %9s %10s %10s %9s %9s\n", x.name, x.lat.N, ms(x.lat.P50), ms(x.lat.P99), ms(x.lat.Max), "", "", "", "")
				continue
			}
			fmt.Fprintf(&b, "  %-44s %5d %9s %9s %9s %10s %10s %9s %9s\n", x.name, x.lat.N, ms(x.lat.P50), ms(x.lat.P99), ms(x.lat.Max),
				signedMs(x.lat.P50-d.lat.P50), signedMs(x.lat.P99-d.lat.P99), signedMs(x.paired.P50), signedMs(x.paired.P99))
		}
	}
	fmt.Fprintf(&b, "  target: added p99 <= %s on every server path -> %s\n", ms(targetAddedP99), passMiss(r.followOK()))
	if len(r.idle) > 0 {
		fmt.Fprintf(&b, "\nIdle follows: %d follows (follow=true) of 10 containers that printed one line and sleep, opened at\n", idleFollows)
		fmt.Fprintf(&b, "once over %d HTTP/2 connections; the control plane's server process (no -race): goroutines (its\n", idleConns)
		fmt.Fprintf(&b, "/metrics go_goroutines), OS threads (/proc/PID/status) and open files (/proc/PID/fd), settled:\n")
		fmt.Fprintf(&b, "  %-36s %-15s %-15s %-15s %9s %9s %9s %12s\n", "through", "before", "300 open", "closed", "g/follow", "thr/follow", "fd/follow", "1st line p99")
		for _, i := range r.idle {
			g, th, fd := i.perFollow()
			f := func(p procFigures) string { return fmt.Sprintf("%d/%d/%d", p.goroutines, p.threads, p.fds) }
			fmt.Fprintf(&b, "  %-36s %-15s %-15s %-15s %9.2f %9.2f %9.2f %12s\n", i.name, f(i.before), f(i.open), f(i.after), g, th, fd, ms(i.firstLineP99))
		}
		fmt.Fprintf(&b, "  (goroutines/threads/fds; threads a follow blocked in recv(2) stay parked in Go's thread pool after it\n")
		fmt.Fprintf(&b, "  ends, for reuse)\n")
		fmt.Fprintf(&b, "  target: <= %.0f OS threads per idle follow -> %s\n", targetIdleThreads, passMiss(r.idleOK()))
	}
	fmt.Fprintf(&b, "\nlog bench (write + read + follow) took %s\n", r.elapsed.Round(time.Second))
	return b.String()
}
