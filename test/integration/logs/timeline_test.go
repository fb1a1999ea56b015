//go:build integration

package logs

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// stamped is one line of a log read with timestamps=true.
type stamped struct {
	ts   time.Time
	line string // the whole line, timestamp included
}

func parseStamped(t *testing.T, body string) []stamped {
	t.Helper()
	var out []stamped
	for _, line := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		if line == "" {
			continue
		}
		stamp, _, _ := strings.Cut(line, " ")
		ts, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil {
			t.Fatalf("line %q: timestamp: %v", line, err)
		}
		out = append(out, stamped{ts, line})
	}
	return out
}

func linesOf(s []stamped) []string {
	out := make([]string, len(s))
	for i, l := range s {
		out[i] = l.line
	}
	return out
}

func sameSlices(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d lines, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: line %d is %q, want %q", what, i, got[i], want[i])
		}
	}
}

// TestLogNanosecondResume: a client that saw timestamps resumes at the last
// one it saw with sinceTime (RFC 3339 with nanoseconds): the first line it
// gets is the one it already has, and nothing is lost. Once on a finished
// log, once on a live follow cut off mid-stream.
func TestLogNanosecondResume(t *testing.T) {
	e := newEnv(t, testenv.ServerOptions{})

	t.Run("finished log", func(t *testing.T) {
		id := e.run(nil, "sh", "-c", "seq 1 3000; sleep 3600")
		e.waitLogged(id, "3000")
		full := parseStamped(t, e.logs(id, url.Values{"timestamps": {"true"}}))
		if len(full) != 3000 {
			t.Fatalf("%d lines, want 3000", len(full))
		}
		for _, cut := range []int{1, 1499, 2999} {
			last := full[cut]
			resumed := parseStamped(t, e.logs(id, url.Values{"timestamps": {"true"},
				"sinceTime": {last.ts.Format(time.RFC3339Nano)}}))
			// The one known duplicate: the line at sinceTime itself.
			if len(resumed) == 0 || resumed[0] != last {
				t.Fatalf("cut %d: first resumed line %v, want the last seen %v", cut, resumed[:min(1, len(resumed))], last)
			}
			sameSlices(t, "resumed", linesOf(resumed[1:]), linesOf(full[cut+1:]))
		}
	})

	t.Run("live follow", func(t *testing.T) {
		id := e.run(nil, "sh", "-c", "i=0; while [ $i -lt 600 ]; do i=$((i+1)); echo line $i; sleep 0.005; done")
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		first := e.get(ctx, e.logURL(id, "log", url.Values{"follow": {"true"}, "timestamps": {"true"}}))
		if first.StatusCode != http.StatusOK {
			t.Fatalf("follow: %d", first.StatusCode)
		}
		lr := newLineReader(t, bufio.NewReader(first.Body))
		for !strings.HasSuffix(strings.Join(tailOf(lr.all, 1), ""), " line 100") {
			lr.take()
		}
		// Cut off mid-stream (the container still prints), then resume.
		first.Body.Close()
		seen := parseStamped(t, strings.Join(lr.all, "\n"))
		last := seen[len(seen)-1]
		second := e.get(ctx, e.logURL(id, "log", url.Values{"follow": {"true"}, "timestamps": {"true"},
			"sinceTime": {last.ts.Format(time.RFC3339Nano)}}))
		defer second.Body.Close()
		lr2 := newLineReader(t, bufio.NewReader(second.Body))
		_ = lr2.end() // the container exits after line 600
		resumed := parseStamped(t, strings.Join(lr2.all, "\n"))
		if len(resumed) == 0 || resumed[0] != last {
			t.Fatalf("first resumed line %v, want the last seen %v", resumed[:min(1, len(resumed))], last)
		}
		got := append(linesOf(seen), linesOf(resumed[1:])...)
		want := linesOf(parseStamped(t, e.logs(id, url.Values{"timestamps": {"true"}})))
		sameSlices(t, "seen + resumed", got, want)
		if !strings.HasSuffix(want[len(want)-1], " line 600") {
			t.Fatalf("last line %q", want[len(want)-1])
		}
	})
}

// take takes one line, failing at the deadline or the stream's end.
func (lr *lineReader) take() string {
	lr.t.Helper()
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	select {
	case line, ok := <-lr.lines:
		if !ok {
			lr.t.Fatalf("the stream ended (%v); last lines %q", <-lr.err, tailOf(lr.all, 5))
		}
		lr.all = append(lr.all, line)
		return line
	case <-timer.C:
		lr.t.Fatalf("no line within %s; last lines %q", deadline, tailOf(lr.all, 5))
	}
	return ""
}

// TestLogBackwardPages: pages read backwards from the end with untilTime (the
// oldest timestamp held) and tailLines tile a 100,000-line log exactly: the
// client drops, from the end of each new page, the lines it already holds
// (those stamped with that oldest timestamp, usually one).
func TestLogBackwardPages(t *testing.T) {
	const total, page = 100000, 10000
	e := newEnv(t, testenv.ServerOptions{})
	id := e.run(nil, "sh", "-c", "seq 1 "+strconv.Itoa(total)+"; sleep 3600")
	e.waitLogged(id, strconv.Itoa(total))
	full := parseStamped(t, e.logs(id, url.Values{"timestamps": {"true"}}))
	if len(full) != total {
		t.Fatalf("%d lines, want %d", len(full), total)
	}

	held := parseStamped(t, e.logs(id, url.Values{"timestamps": {"true"}, "tailLines": {strconv.Itoa(page)}}))
	pages := 1
	for {
		oldest := held[0].ts
		got := parseStamped(t, e.logs(id, url.Values{"timestamps": {"true"}, "tailLines": {strconv.Itoa(page)},
			"untilTime": {oldest.Format(time.RFC3339Nano)}}))
		// Drop what is already held: the page's last lines stamped oldest.
		dup := 0
		for _, l := range held {
			if !l.ts.Equal(oldest) {
				break
			}
			dup++
		}
		if len(got) < dup {
			t.Fatalf("page %d: %d lines, fewer than the %d already held at %s", pages+1, len(got), dup, oldest)
		}
		for i := range dup {
			if got[len(got)-dup+i] != held[i] {
				t.Fatalf("page %d: line %q at its end, want the held %q", pages+1, got[len(got)-dup+i].line, held[i].line)
			}
		}
		fresh := got[:len(got)-dup]
		if len(fresh) == 0 {
			break
		}
		if len(got) != page && len(got) != len(full)-len(held)+dup {
			t.Fatalf("page %d: %d lines, want %d (or the rest of the log)", pages+1, len(got), page)
		}
		held = append(append([]stamped(nil), fresh...), held...)
		pages++
	}
	sameSlices(t, "pages", linesOf(held), linesOf(full))
	t.Logf("%d pages of %d lines tiled the log", pages, page)
}
