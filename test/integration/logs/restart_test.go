//go:build integration

package logs

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// runner counts its runs in a file of the container (it survives restarts)
// and prints numbered lines; run 3 prints 50 lines and fails with code 3.
const runner = `n=$(cat /runs 2>/dev/null || echo 0); n=$((n+1)); echo $n > /runs
trap "echo run $n stopping; exit 0" TERM
echo "run $n start"
if [ $n = 3 ]; then i=0; while [ $i -lt 50 ]; do i=$((i+1)); echo "run $n line $i"; done; echo "run $n failing"; exit 3; fi
i=0; while :; do i=$((i+1)); echo "run $n line $i"; sleep 0.01; done`

var markerRE = regexp.MustCompile(`^--- containers-apiserver: exited with code (\d+) at (\S+), started again at (\S+) ---$`)

// lineReader hands a stream's lines to the test as they come.
type lineReader struct {
	t     *testing.T
	lines chan string
	err   chan error // the read's end: io.EOF or the error
	all   []string   // every line taken so far
}

func newLineReader(t *testing.T, r *bufio.Reader) *lineReader {
	lr := &lineReader{t: t, lines: make(chan string, 1<<16), err: make(chan error, 1)}
	go func() { // ends when the body ends; the test closes it on exit
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				lr.err <- err
				close(lr.lines)
				return
			}
			lr.lines <- strings.TrimSuffix(line, "\n")
		}
	}()
	return lr
}

// until takes lines until one equals want, and fails at the deadline.
func (lr *lineReader) until(want string) {
	lr.t.Helper()
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-lr.lines:
			if !ok {
				lr.t.Fatalf("the stream ended (%v) before %q; last lines %q", <-lr.err, want, tailOf(lr.all, 5))
			}
			lr.all = append(lr.all, line)
			if line == want {
				return
			}
		case <-timer.C:
			lr.t.Fatalf("no %q within %s; last lines %q", want, deadline, tailOf(lr.all, 5))
		}
	}
}

// end takes the rest of the lines until the stream ends.
func (lr *lineReader) end() error {
	lr.t.Helper()
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-lr.lines:
			if !ok {
				return <-lr.err
			}
			lr.all = append(lr.all, line)
		case <-timer.C:
			lr.t.Fatalf("the stream did not end within %s; last lines %q", deadline, tailOf(lr.all, 5))
		}
	}
}

func tailOf(lines []string, n int) []string {
	return lines[max(0, len(lines)-n):]
}

// TestLogFollowRestarts: one follow across `docker restart`, `docker stop` +
// `docker start` and a restart policy (on-failure) carries every line of
// every run exactly once, in order, one marker between runs, and ends when
// the container is removed.
func TestLogFollowRestarts(t *testing.T) {
	e := newEnv(t, testenv.ServerOptions{})
	id := e.run([]string{"--restart", "on-failure:5"}, "sh", "-c", runner)
	ctx, cancel := context.WithTimeout(context.Background(), 5*deadline)
	defer cancel()
	resp := e.get(ctx, e.logURL(id, "log", url.Values{"follow": {"true"}, "followRestarts": {"true"}}))
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("follow: %d", resp.StatusCode)
	}
	lr := newLineReader(t, bufio.NewReader(resp.Body))

	lr.until("run 1 line 20")
	testenv.MustDocker(t, e.host, "restart", "-t", "10", id)
	lr.until("run 2 line 20")
	testenv.MustDocker(t, e.host, "stop", "-t", "10", id)
	lr.until("run 2 stopping")
	testenv.MustDocker(t, e.host, "start", id)
	// Run 3 fails with code 3; the restart policy starts run 4.
	lr.until("run 4 line 20")
	testenv.MustDocker(t, e.host, "stop", "-t", "10", id)
	lr.until("run 4 stopping")

	// Docker's own record of the whole log, before the container goes.
	want := strings.Split(strings.TrimSuffix(e.dockerLog(id), "\n"), "\n")
	testenv.MustDocker(t, e.host, "rm", id)
	if err := lr.end(); !errors.Is(err, io.EOF) {
		t.Fatalf("the stream ended with %v, want its end after the removal", err)
	}

	var got []string
	var codes []string
	for _, line := range lr.all {
		if m := markerRE.FindStringSubmatch(line); m != nil {
			codes = append(codes, m[1])
			for _, ts := range m[2:] {
				if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
					t.Errorf("marker %q: time %q: %v", line, ts, err)
				}
			}
			continue
		}
		if strings.HasPrefix(line, "---") {
			t.Errorf("a marker line in an unexpected format: %q", line)
		}
		got = append(got, line)
	}
	if fmt.Sprint(codes) != "[0 0 3]" {
		t.Errorf("markers' exit codes %v, want [0 0 3] (restart, stop+start, on-failure)", codes)
	}
	if len(got) != len(want) {
		t.Errorf("the stream carried %d lines, Docker's log holds %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("line %d: stream %q, Docker %q (lost or repeated lines around a restart)", i, got[i], want[i])
		}
	}
	// The markers sit between runs: each one right before a run's first line.
	for i, line := range lr.all {
		if markerRE.MatchString(line) && (i+1 >= len(lr.all) || !strings.HasSuffix(lr.all[i+1], " start")) {
			t.Errorf("marker %q is followed by %q, not by a run's first line", line, lr.all[min(i+1, len(lr.all)-1)])
		}
	}
}

// dockerLog reads the container's whole log straight from Docker.
func (e *env) dockerLog(id string) string {
	e.t.Helper()
	rc, err := testenv.DockerClient(e.t, e.host).ContainerLogs(context.Background(), id, dockerLogsOptions(true, true))
	if err != nil {
		e.t.Fatal(err)
	}
	defer rc.Close()
	var b strings.Builder
	if _, err := stdcopyStd(&b, &b, rc); err != nil {
		e.t.Fatal(err)
	}
	return b.String()
}

// TestLogFollowRestartsWebSocket: on v5.channel.k8s.io the change between
// runs also comes as a JSON event on channel 5, the marker on channel 1, and
// the removal ends the stream with 1000.
func TestLogFollowRestartsWebSocket(t *testing.T) {
	e := newEnv(t, testenv.ServerOptions{})
	id := e.run(nil, waiter...)
	conn, proto := e.dial(id, url.Values{"follow": {"true"}, "followRestarts": {"true"}, "timestamps": {"true"}}, "v5.channel.k8s.io")
	if proto != "v5.channel.k8s.io" {
		t.Fatalf("subprotocol %q", proto)
	}
	_ = conn.SetReadDeadline(time.Now().Add(deadline))
	read := func() (byte, []byte) {
		t.Helper()
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if len(data) > 1 { // skip the empty first messages
				return data[0], data[1:]
			}
		}
	}
	expectOut := func(suffix string) {
		t.Helper()
		ch, data := read()
		if ch != 1 || !strings.HasSuffix(string(data), suffix) {
			t.Fatalf("channel %d %q, want stdout ending %q", ch, data, suffix)
		}
	}
	expectOut(" start\n")
	testenv.MustDocker(t, e.host, "stop", "-t", "10", id)
	expectOut(" bye\n")
	testenv.MustDocker(t, e.host, "start", id)
	ch, data := read()
	if ch != 5 {
		t.Fatalf("channel %d %q, want the event on channel 5", ch, data)
	}
	var ev struct {
		Type                  string
		ExitCode              int
		FinishedAt, StartedAt time.Time
	}
	if err := json.Unmarshal(data, &ev); err != nil || ev.Type != "Restarted" || ev.ExitCode != 0 ||
		ev.FinishedAt.IsZero() || !ev.StartedAt.After(ev.FinishedAt) {
		t.Fatalf("event %s (%v): want Restarted, exit code 0, finishedAt before startedAt", data, err)
	}
	ch, data = read()
	stamp, marker, _ := strings.Cut(strings.TrimSuffix(string(data), "\n"), " ")
	if ch != 1 || !markerRE.MatchString(marker) || stamp != ev.StartedAt.UTC().Format(time.RFC3339Nano) {
		t.Fatalf("channel %d %q, want the marker stamped with the start time %s", ch, data, ev.StartedAt)
	}
	expectOut(" start\n")
	testenv.MustDocker(t, e.host, "rm", "-f", id)
	rest, err := readAll(t, conn, true)
	expectClose(t, err, websocket.CloseNormalClosure)
	if len(rest[3]) > 0 {
		t.Errorf("status channel %q, want none: a log that ends well closes with 1000 alone", rest[3])
	}
}

// TestLogFollowRestartsRefused: followRestarts needs follow, and cannot end
// at an untilTime.
func TestLogFollowRestartsRefused(t *testing.T) {
	e := newEnv(t, testenv.ServerOptions{})
	id := e.run(nil, waiter...)
	for _, q := range []url.Values{
		{"followRestarts": {"true"}},
		{"follow": {"true"}, "followRestarts": {"true"}, "untilTime": {time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}},
		{"follow": {"true"}, "followRestarts": {"yes"}},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		resp := e.get(ctx, e.logURL(id, "log", q))
		var st struct{ Code int }
		_ = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		cancel()
		if resp.StatusCode != http.StatusBadRequest || st.Code != http.StatusBadRequest {
			t.Errorf("%v: %d (Status code %d), want 400", q, resp.StatusCode, st.Code)
		}
	}
}

// TestLogFollowRestartsClientLeaves: clients that leave a followRestarts
// stream, while it follows a run and while it waits for the next one (a TTY
// container, stopped), leave no goroutine or connection behind.
func TestLogFollowRestartsClientLeaves(t *testing.T) {
	e := newEnv(t, testenv.ServerOptions{})
	id := e.run([]string{"-t"}, waiter...)
	_ = e.logs(id, url.Values{"tailLines": {"1"}})
	e.hc.CloseIdleConnections()
	baseline := settledGoroutines()
	baseFDs := openFDs(t)

	open := func() (*lineReader, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		resp := e.get(ctx, e.logURL(id, "log", url.Values{"follow": {"true"}, "followRestarts": {"true"}, "tailLines": {"1"}}))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("follow: %d", resp.StatusCode)
		}
		return newLineReader(t, bufio.NewReader(resp.Body)), func() { cancel(); resp.Body.Close() }
	}
	for range 3 { // following a run
		lr, leave := open()
		lr.until("start\r")
		leave()
	}
	testenv.MustDocker(t, e.host, "stop", "-t", "10", id)
	for range 3 { // waiting for the next run
		lr, leave := open()
		lr.until("bye\r")
		leave()
	}
	e.hc.CloseIdleConnections()
	waitGoroutines(t, baseline)
	waitUntilTrue(t, "file descriptors back to baseline", func() bool { return openFDs(t) <= baseFDs })
}
