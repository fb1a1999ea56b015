//go:build integration

package logs

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// lines prints "out N" on stdout and "err N" on stderr, N = 1..5, then exits.
var lines = []string{"sh", "-c", "for i in 1 2 3 4 5; do echo out $i; echo err $i >&2; done"}

func TestLogOptions(t *testing.T) {
	e := newEnv(t, testenv.ServerOptions{})
	id := e.run(nil, lines...)
	e.waitExited(id)

	count := strings.Count
	all := e.logs(id, nil)
	if count(all, "out ") != 5 || count(all, "err ") != 5 {
		t.Fatalf("default log:\n%s", all)
	}
	// The "logs" alias serves the same bytes.
	if alias := e.logsVia(id, "logs", nil); alias != all {
		t.Fatalf("logs alias differs:\n%s\nvs\n%s", alias, all)
	}

	for _, tc := range []struct {
		name  string
		q     url.Values
		check func(string) bool
	}{
		// Docker orders the two streams as it read them; the tail is the last lines of that order.
		{"tailLines", url.Values{"tailLines": {"2"}}, func(s string) bool { return s == lastLines(all, 2) }},
		{"tailLines=0", url.Values{"tailLines": {"0"}}, func(s string) bool { return s == "" }},
		{"stream=Stdout", url.Values{"stream": {"Stdout"}}, func(s string) bool {
			return s == "out 1\nout 2\nout 3\nout 4\nout 5\n"
		}},
		{"stream=Stderr", url.Values{"stream": {"Stderr"}}, func(s string) bool {
			return s == "err 1\nerr 2\nerr 3\nerr 4\nerr 5\n"
		}},
		{"stream=Stdout+tailLines", url.Values{"stream": {"Stdout"}, "tailLines": {"2"}}, func(s string) bool {
			return s == "out 4\nout 5\n"
		}},
		{"stream=Stderr+tailLines", url.Values{"stream": {"Stderr"}, "tailLines": {"3"}}, func(s string) bool {
			return s == "err 3\nerr 4\nerr 5\n"
		}},
		{"stream=All", url.Values{"stream": {"All"}}, func(s string) bool { return s == all }},
		{"timestamps", url.Values{"timestamps": {"true"}}, func(s string) bool {
			re := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z (out|err) \d\n$`)
			for _, l := range strings.SplitAfter(s, "\n") {
				if l != "" && !re.MatchString(l) {
					return false
				}
			}
			return count(s, "\n") == 10
		}},
		{"timestamps+stream+tailLines", url.Values{"timestamps": {"1"}, "stream": {"Stdout"}, "tailLines": {"1"}}, func(s string) bool {
			return regexp.MustCompile(`^\d{4}-\S+Z out 5\n$`).MatchString(s)
		}},
		{"limitBytes", url.Values{"limitBytes": {"7"}}, func(s string) bool { return s == all[:7] }},
		{"limitBytes+stream", url.Values{"limitBytes": {"8"}, "stream": {"Stderr"}}, func(s string) bool { return s == "err 1\ner" }},
		{"sinceSeconds", url.Values{"sinceSeconds": {"3600"}}, func(s string) bool { return s == all }},
		{"sinceTime future", url.Values{"sinceTime": {time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}}, func(s string) bool { return s == "" }},
		{"untilTime past", url.Values{"untilTime": {time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}}, func(s string) bool { return s == "" }},
		{"sinceTime past+untilTime future", url.Values{
			"sinceTime": {time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)},
			"untilTime": {time.Now().Add(time.Hour).UTC().Format(time.RFC3339)},
		}, func(s string) bool { return s == all }},
		{"follow on an exited container ends", url.Values{"follow": {"true"}, "tailLines": {"1"}, "stream": {"Stdout"}}, func(s string) bool {
			return s == "out 5\n"
		}},
		// A since before 1970, however it is written, is the whole log (kubectl --since=500000h
		// sends sinceSeconds=1800000000); an until before 1970 is an empty log.
		{"sinceSeconds=2000000000", url.Values{"sinceSeconds": {"2000000000"}}, func(s string) bool { return s == all }},
		{"sinceSeconds=9000000000", url.Values{"sinceSeconds": {"9000000000"}}, func(s string) bool { return s == all }},
		{"sinceSeconds=9999999999 (overflows a Duration)", url.Values{"sinceSeconds": {"9999999999"}}, func(s string) bool { return s == all }},
		{"sinceSeconds=max int64", url.Values{"sinceSeconds": {"9223372036854775807"}}, func(s string) bool { return s == all }},
		{"sinceTime=1969-12-31T23:59:59Z", url.Values{"sinceTime": {"1969-12-31T23:59:59Z"}}, func(s string) bool { return s == all }},
		{"sinceTime=0001-01-01T00:00:00Z", url.Values{"sinceTime": {"0001-01-01T00:00:00Z"}}, func(s string) bool { return s == all }},
		{"sinceTime before 1970 + stream + tailLines", url.Values{"sinceTime": {"1900-01-01T00:00:00Z"}, "stream": {"Stderr"}, "tailLines": {"1"}},
			func(s string) bool { return s == "err 5\n" }},
		{"untilTime=1969-12-31T23:59:59Z", url.Values{"untilTime": {"1969-12-31T23:59:59Z"}}, func(s string) bool { return s == "" }},
		{"untilTime=0001-01-01T00:00:00Z + follow", url.Values{"untilTime": {"0001-01-01T00:00:00Z"}, "follow": {"true"}}, func(s string) bool { return s == "" }},
		{"sinceSeconds=1 + untilTime past (since after until)", url.Values{"sinceSeconds": {"1"}, "untilTime": {"2000-01-01T00:00:00Z"}},
			func(s string) bool { return s == "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := e.logs(id, tc.q); !tc.check(got) {
				t.Fatalf("log?%s gave:\n%q", tc.q.Encode(), got)
			}
		})
	}
}

// TestLogTailBeforeUntil: untilTime with tailLines is the last N lines at or
// before untilTime (paging backwards), with and without a stream, to the
// nanosecond; Docker alone would apply its tail first and return nothing.
func TestLogTailBeforeUntil(t *testing.T) {
	e := newEnv(t, testenv.ServerOptions{})
	id := e.run(nil, lines...)
	e.waitExited(id)

	stamped := strings.SplitAfter(e.logs(id, url.Values{"timestamps": {"true"}}), "\n")
	stamped = stamped[:len(stamped)-1]
	if len(stamped) != 10 {
		t.Fatalf("timestamped log: %q", stamped)
	}
	type line struct {
		ts   time.Time
		text string
	}
	parsed := make([]line, len(stamped))
	for i, l := range stamped {
		ts, text, _ := strings.Cut(l, " ")
		tm, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			t.Fatal(err)
		}
		parsed[i] = line{tm, text}
	}
	// expect is the last n lines (of one stream, if given) at or before until, in log order.
	expect := func(until time.Time, n int, prefix string) string {
		var keep []string
		for _, l := range parsed {
			if !l.ts.After(until) && strings.HasPrefix(l.text, prefix) {
				keep = append(keep, l.text)
			}
		}
		return strings.Join(keep[max(0, len(keep)-n):], "")
	}
	for _, i := range []int{0, 4, 7, 9} {
		until := parsed[i].ts
		for _, tc := range []struct {
			stream, prefix string
			n              int
		}{{"", "", 2}, {"", "", 100}, {"Stdout", "out", 2}, {"Stderr", "err", 1}, {"Stderr", "err", 3}} {
			q := url.Values{"untilTime": {until.Format(time.RFC3339Nano)}, "tailLines": {strconv.Itoa(tc.n)}}
			if tc.stream != "" {
				q.Set("stream", tc.stream)
			}
			want := expect(until, tc.n, tc.prefix)
			if got := e.logs(id, q); got != want {
				t.Errorf("log?%s = %q, want %q", q.Encode(), got, want)
			}
		}
	}
}

// TestLogStreamTailRareLines: the last lines of a stream that is rare in a
// long log are found (the counted window grows until it holds them), and a
// follow after such a tail neither repeats nor loses a line.
func TestLogStreamTailRareLines(t *testing.T) {
	e := newEnv(t, testenv.ServerOptions{})
	// Three stderr lines, then 5,000 stdout lines, then wait for a marker file.
	id := e.run(nil, "sh", "-c", `for i in 1 2 3; do echo rare $i >&2; done; i=0; while [ $i -lt 5000 ]; do echo busy $i; i=$((i+1)); done; `+
		`while [ ! -e /tmp/go ]; do sleep 0.05; done; echo rare 4 >&2; echo busy end; sleep 1000`)
	e.waitLogged(id, "busy 4999")
	if got := e.logs(id, url.Values{"stream": {"Stderr"}, "tailLines": {"2"}}); got != "rare 2\nrare 3\n" {
		t.Fatalf("stream=Stderr&tailLines=2: %q", got)
	}
	if got := e.logs(id, url.Values{"stream": {"Stderr"}, "tailLines": {"100000000"}}); got != "rare 1\nrare 2\nrare 3\n" {
		t.Fatalf("stream=Stderr&tailLines=100000000: %q", got)
	}
	if got := e.logs(id, url.Values{"stream": {"Stdout"}, "tailLines": {"3"}}); got != "busy 4997\nbusy 4998\nbusy 4999\n" {
		t.Fatalf("stream=Stdout&tailLines=3: %q", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	resp := e.get(ctx, e.logURL(id, "log", url.Values{"stream": {"Stderr"}, "tailLines": {"1"}, "follow": {"true"}}))
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("follow: %s", resp.Status)
	}
	r := bufio.NewReader(resp.Body)
	if l, err := r.ReadString('\n'); err != nil || l != "rare 3\n" {
		t.Fatalf("follow first line %q, %v", l, err)
	}
	testenv.MustDocker(t, e.host, "exec", id, "touch", "/tmp/go")
	if l, err := r.ReadString('\n'); err != nil || l != "rare 4\n" {
		t.Fatalf("follow next line %q, %v (want rare 4, once)", l, err)
	}
}

// TestLogTTY: a TTY container's output is one stream with CRLF line ends, kept as they are.
func TestLogTTY(t *testing.T) {
	e := newEnv(t, testenv.ServerOptions{})
	id := e.run([]string{"-t"}, "sh", "-c", "echo one; echo two >&2")
	e.waitExited(id)
	if got := e.logs(id, nil); got != "one\r\ntwo\r\n" {
		t.Fatalf("TTY log: %q", got)
	}
	if got := e.logs(id, url.Values{"tailLines": {"1"}}); got != "two\r\n" {
		t.Fatalf("TTY log tailLines=1: %q", got)
	}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	l := strings.SplitAfter(s, "\n")
	if l[len(l)-1] == "" {
		l = l[:len(l)-1]
	}
	return strings.Join(l[max(0, len(l)-n):], "")
}

// TestLogStreamTailGrowingLog: a windowed tail of a log that grows while it
// is read still gives N consecutive lines of the stream, ending no earlier
// than what the log held when the request was sent.
func TestLogStreamTailGrowingLog(t *testing.T) {
	e := newEnv(t, testenv.ServerOptions{})
	// 20,000 lines at full speed, then about 5,000 a second: the log grows
	// while each request reads it, and stays small.
	id := e.run(nil, "sh", "-c", `i=0; while true; do echo busy $i; if [ $((i % 50)) = 0 ]; then echo err $((i / 50)) >&2; fi; `+
		`if [ $i -gt 20000 ]; then usleep 200; fi; i=$((i+1)); done`)
	num := func(l string) int {
		n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(l, "err ")))
		if err != nil {
			t.Fatalf("line %q", l)
		}
		return n
	}
	until := time.Now().Add(deadline)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	latest := func() int {
		if l := e.logs(id, url.Values{"stream": {"Stderr"}, "tailLines": {"1"}}); l != "" {
			return num(l)
		}
		return -1
	}
	for latest() < 400 {
		if time.Now().After(until) {
			t.Fatal("the container never logged err 400")
		}
		<-tick.C
	}
	for round := range 5 {
		before := strings.Split(strings.TrimSpace(e.logs(id, url.Values{"stream": {"Stderr"}, "tailLines": {"1"}})), "\n")
		got := strings.Split(strings.TrimSpace(e.logs(id, url.Values{"stream": {"Stderr"}, "tailLines": {"7"}})), "\n")
		if len(got) != 7 {
			t.Fatalf("round %d: %d lines: %q", round, len(got), got)
		}
		for i := 1; i < len(got); i++ {
			if num(got[i]) != num(got[i-1])+1 {
				t.Fatalf("round %d: lines not consecutive: %q", round, got)
			}
		}
		if num(got[len(got)-1]) < num(before[0]) {
			t.Fatalf("round %d: tail %q ends before the line seen earlier, %q", round, got, before)
		}
	}
}
