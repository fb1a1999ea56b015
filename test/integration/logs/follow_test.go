//go:build integration

package logs

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// waiter prints "start", then "later" when sent SIGUSR1, then exits on SIGTERM;
// output after the request starts is driven by the test, not by timing.
var waiter = []string{"sh", "-c", "trap 'echo later' USR1; trap 'echo bye; exit 0' TERM; echo start; while :; do sleep 0.1; done"}

// TestLogFollow: follow delivers lines written after the request and ends
// when the container exits.
func TestLogFollow(t *testing.T) {
	e := newEnv(t, testenv.ServerOptions{})
	id := e.run(nil, waiter...)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	resp := e.get(ctx, e.logURL(id, "log", url.Values{"follow": {"true"}}))
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("follow: %d", resp.StatusCode)
	}
	if len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		if resp.ProtoMajor == 1 {
			t.Errorf("follow response is not chunked: %v", resp.TransferEncoding)
		}
	}
	r := bufio.NewReader(resp.Body)
	expect := func(want string) {
		t.Helper()
		line, err := r.ReadString('\n')
		if err != nil || line != want+"\n" {
			t.Fatalf("want %q, got %q (%v)", want, line, err)
		}
	}
	expect("start")
	testenv.MustDocker(t, e.host, "kill", "-s", "USR1", id)
	expect("later")
	testenv.MustDocker(t, e.host, "stop", id)
	expect("bye")
	if rest, err := r.ReadString('\n'); err == nil || rest != "" {
		t.Fatalf("stream went on after the container stopped: %q %v", rest, err)
	}
}

// TestLogFollowClientLeaves: a client that goes away during an idle follow
// (no output) has its Docker request cancelled; no goroutine stays behind.
func TestLogFollowClientLeaves(t *testing.T) {
	e := newEnv(t, testenv.ServerOptions{})
	id := e.run(nil, waiter...)
	// Warm up connections and caches so the baseline is stable.
	_ = e.logs(id, url.Values{"tailLines": {"1"}})
	e.hc.CloseIdleConnections()
	baseline := settledGoroutines()
	baseFDs := openFDs(t)

	for range 5 {
		ctx, cancel := context.WithCancel(context.Background())
		resp := e.get(ctx, e.logURL(id, "log", url.Values{"follow": {"true"}, "tailLines": {"1"}}))
		r := bufio.NewReader(resp.Body)
		if line, err := r.ReadString('\n'); err != nil || line != "start\n" {
			t.Fatalf("first line %q %v", line, err)
		}
		// Idle now: the container writes nothing more.
		cancel()
		resp.Body.Close()
	}
	e.hc.CloseIdleConnections()
	waitGoroutines(t, baseline)
	// Each follow held a connection to Docker; all are closed again.
	waitUntilTrue(t, "file descriptors back to baseline", func() bool { return openFDs(t) <= baseFDs })
}

// openFDs counts this process's open file descriptors (sockets to Docker among them).
func openFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

func waitUntilTrue(t *testing.T, what string, ok func() bool) {
	t.Helper()
	until := time.Now().Add(deadline)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !ok() {
		if time.Now().After(until) {
			t.Fatalf("%s: not within %s", what, deadline)
		}
		<-tick.C
	}
}

// settledGoroutines counts goroutines once the count stops moving.
func settledGoroutines() int {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	n := runtime.NumGoroutine()
	for range 20 {
		<-tick.C
		m := runtime.NumGoroutine()
		if m == n {
			return n
		}
		n = m
	}
	return n
}

// waitGoroutines waits until the goroutine count is back to baseline.
func waitGoroutines(t *testing.T, baseline int) {
	t.Helper()
	until := time.Now().Add(deadline)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(until) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("goroutines: %d, baseline %d\n%s", runtime.NumGoroutine(), baseline, tail(string(buf[:n]), 20000))
		}
		<-tick.C
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestLogFollowUntil: a follow with an untilTime ends once that time has
// passed (Docker alone would keep it open, silent, for ever), after every line
// up to it; with an untilTime already past it ends at once, and with a
// windowed tail too.
func TestLogFollowUntil(t *testing.T) {
	e := newEnv(t, testenv.ServerOptions{})
	id := e.run(nil, waiter...)
	e.waitLogged(id, "start")
	read := func(q url.Values) (string, time.Duration) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		t0 := time.Now()
		resp := e.get(ctx, e.logURL(id, "log", q))
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("log?%s: %d %v %q", q.Encode(), resp.StatusCode, err, body)
		}
		return string(body), time.Since(t0)
	}
	past := time.Now().Add(-time.Millisecond).UTC().Format(time.RFC3339Nano)
	for _, q := range []url.Values{
		{"follow": {"true"}, "untilTime": {past}},
		{"follow": {"true"}, "untilTime": {past}, "tailLines": {"1"}},
		{"follow": {"true"}, "untilTime": {past}, "tailLines": {"1"}, "stream": {"Stdout"}},
	} {
		if got, _ := read(q); got != "start\n" {
			t.Errorf("log?%s = %q, want start", q.Encode(), got)
		}
	}

	// A line before untilTime arrives, and the stream ends after untilTime.
	until := time.Now().Add(3 * time.Second)
	q := url.Values{"follow": {"true"}, "untilTime": {until.UTC().Format(time.RFC3339Nano)}}
	done := make(chan string, 1)
	go func() {
		got, _ := read(q)
		done <- got
	}()
	testenv.MustDocker(t, e.host, "kill", "-s", "USR1", id)
	e.waitLogged(id, "later")
	var got string
	select {
	case got = <-done:
	case <-time.After(deadline):
		t.Fatal("the follow did not end after untilTime")
	}
	if time.Now().Before(until) {
		t.Fatalf("the follow ended before untilTime: %q", got)
	}
	if got != "start\nlater\n" {
		t.Fatalf("follow until %s = %q, want start and later", until, got)
	}
}
