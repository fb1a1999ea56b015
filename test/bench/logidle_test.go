package bench

// Idle follows (TestBenchLogs, issue 10): what 300 open, idle follows hold in
// the server: goroutines, OS threads and file descriptors, measured on the
// control plane's server process (its own process, built without -race),
// reached straight at its port and through kube-apiserver.

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

const (
	idleFollows = 300
	// idleConns spreads the follows over this many HTTP/2 connections of
	// the client (kube-apiserver's default limit is 100 streams each).
	idleConns = 6
	// targetIdleThreads is the issue's: at most 2 OS threads per idle follow.
	targetIdleThreads = 2.0
)

// procFigures are a process's resource counts.
type procFigures struct {
	goroutines, threads, fds int
}

func (a procFigures) minus(b procFigures) procFigures {
	return procFigures{a.goroutines - b.goroutines, a.threads - b.threads, a.fds - b.fds}
}

// idleResult is one set of idle follows.
type idleResult struct {
	name          string
	before, open  procFigures
	after         procFigures // once the follows were closed and the figures settled
	firstLineP99  time.Duration
	openedIn      time.Duration
	closedSettled time.Duration
}

func (r idleResult) perFollow() (g, th, fd float64) {
	d := r.open.minus(r.before)
	return float64(d.goroutines) / idleFollows, float64(d.threads) / idleFollows, float64(d.fds) / idleFollows
}

func threadsOf(pid int) (int, error) {
	v, err := procStatus(pid, "Threads")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(v)
}

func fdsOf(pid int) (int, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(fds), err
}

// figures reads the server's counts; goroutines through metricsEP.
func figures(ctx context.Context, t *testing.T, pid int, metricsEP *endpoint) procFigures {
	t.Helper()
	g, err := metricsEP.goroutines(ctx)
	if err != nil {
		t.Fatalf("the server's goroutines: %v", err)
	}
	th, err := threadsOf(pid)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := fdsOf(pid)
	if err != nil {
		t.Fatal(err)
	}
	return procFigures{g, th, fd}
}

// settledFigures reads the figures until two readings 500 ms apart agree.
func settledFigures(ctx context.Context, t *testing.T, pid int, metricsEP *endpoint) procFigures {
	t.Helper()
	prev := figures(ctx, t, pid, metricsEP)
	deadline := time.Now().Add(callTimeout)
	for {
		time.Sleep(500 * time.Millisecond)
		cur := figures(ctx, t, pid, metricsEP)
		// The /metrics request itself is one goroutine either way.
		if cur == prev || time.Now().After(deadline) {
			return cur
		}
		prev = cur
	}
}

// measureIdle opens idleFollows follows of idle containers through e, all at
// once, and reads the server's figures before, while they are open, and once
// they are closed.
func (b *logBench) measureIdle(ctx context.Context, cp *controlPlane, e *endpoint, ids []string) idleResult {
	t := b.t
	t.Helper()
	metricsEP := cp.serverEndpoint(t)
	r := idleResult{name: e.name}
	r.before = settledFigures(ctx, t, cp.serverPID, metricsEP)

	clients := make([]*http.Client, idleConns)
	for i := range clients {
		ce := cp.endpoint(t, e.name, e.base)
		clients[i] = ce.h2
	}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type opened struct {
		d   time.Duration
		err error
	}
	got := make(chan opened, idleFollows)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range idleFollows {
		wg.Go(func() {
			start := time.Now()
			req, err := e.request(fctx, e.logURL(ids[i%len(ids)], map[string][]string{"follow": {"true"}}))
			if err != nil {
				got <- opened{err: err}
				return
			}
			resp, err := clients[i%idleConns].Do(req)
			if err != nil {
				got <- opened{err: err}
				return
			}
			defer resp.Body.Close()
			line, err := bufio.NewReader(resp.Body).ReadString('\n')
			if err == nil && (resp.StatusCode != http.StatusOK || line != "ready\n") {
				err = fmt.Errorf("%d %q", resp.StatusCode, line)
			}
			got <- opened{d: time.Since(start), err: err}
			// Hold the follow open, idle, until the measurement is done.
			<-fctx.Done()
		})
	}
	var firsts []time.Duration
	for range idleFollows {
		select {
		case o := <-got:
			if o.err != nil {
				t.Fatalf("%s: an idle follow: %v", e.name, o.err)
			}
			firsts = append(firsts, o.d)
		case <-time.After(readTimeout):
			t.Fatalf("%s: only %d of %d follows had their first line after %s", e.name, len(firsts), idleFollows, readTimeout)
		}
	}
	r.openedIn = time.Since(t0)
	r.firstLineP99 = summarize(firsts).P99
	r.open = settledFigures(ctx, t, cp.serverPID, metricsEP)

	cancel()
	wg.Wait()
	closed := time.Now()
	r.after = settledFigures(ctx, t, cp.serverPID, metricsEP)
	r.closedSettled = time.Since(closed)
	t.Logf("idle follows, %s: before %+v, open %+v, after %+v", e.name, r.before, r.open, r.after)
	return r
}

// idleContainers starts n containers that print "ready" and sleep.
func (b *logBench) idleContainers(ctx context.Context, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = b.run(ctx, fmt.Sprintf("bench-logs-idle-%d", i), false, "json-file", "sh", "-c", "echo ready; exec sleep 3600")
		b.waitMirrored(ctx, ids[i])
	}
	return ids
}
