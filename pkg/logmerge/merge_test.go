package logmerge

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

// scripted is an engine.Logs whose logs are fixed writes per container.
type scripted map[string][]write

type write struct {
	stderr bool
	data   string
}

func (s scripted) OpenLogs(_ context.Context, id string, opts *containers.ContainerLogOptions) (engine.LogStream, error) {
	if !opts.Timestamps {
		panic("the merge must ask for timestamps")
	}
	w, ok := s[id]
	if !ok {
		return nil, engine.Errorf(engine.NotFound, "no %s", id)
	}
	return scriptedStream(w), nil
}

type scriptedStream []write

func (s scriptedStream) Copy(_ context.Context, stdout, stderr io.Writer) error {
	for _, w := range s {
		out := stdout
		if w.stderr {
			out = stderr
		}
		if _, err := out.Write([]byte(w.data)); err != nil {
			return err
		}
	}
	return nil
}

func (scriptedStream) Close() error { return nil }

func ts(sec int) string {
	return time.Unix(int64(sec), 5).UTC().Format(time.RFC3339Nano)
}

func TestOrdered(t *testing.T) {
	logs := scripted{
		"a": {{data: ts(1) + " a1\n" + ts(4) + " a4\n"}, {stderr: true, data: ts(5) + " a5 err\n"}},
		"b": {{data: ts(2) + " b2\n"}, {data: ts(3) + " b3\n" + ts(6) + " b6"}}, // the last without a newline
		"c": {},
	}
	for _, tc := range []struct {
		name       string
		timestamps bool
		limit      int64
		want, err  string
	}{
		{"plain", false, 0, "a    | a1\nbb   | b2\nbb   | b3\na    | a4\nbb   | b6\n", "a    | a5 err\n"},
		{"timestamps", true, 0, "a    | " + ts(1) + " a1\nbb   | " + ts(2) + " b2\nbb   | " + ts(3) + " b3\na    | " + ts(4) + " a4\nbb   | " + ts(6) + " b6\n",
			"a    | " + ts(5) + " a5 err\n"},
		{"limitBytes", false, 18, "a    | a1\nbb   | b", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := &containers.ContainerNamespaceLogOptions{Timestamps: tc.timestamps}
			if tc.limit > 0 {
				opts.LimitBytes = &tc.limit
			}
			m := &Merge{Logs: logs, Options: opts, Width: 4}
			var stdout, stderr bytes.Buffer
			err := m.Ordered(context.Background(), []Container{{"a", "a"}, {"b", "bb"}, {"c", "c"}, {"gone", "gone"}}, &stdout, &stderr)
			if tc.limit > 0 {
				if !IsLimit(err) {
					t.Fatalf("err %v, want the limit", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if stdout.String() != tc.want || stderr.String() != tc.err {
				t.Errorf("stdout %q stderr %q, want %q and %q", stdout.String(), stderr.String(), tc.want, tc.err)
			}
		})
	}
}

func TestNextLine(t *testing.T) {
	prev := time.Unix(7, 0)
	for _, tc := range []struct {
		in, text, stamp, rest string
		ts                    time.Time
	}{
		{ts(1) + " x\ny", "x\n", ts(1) + " ", "y", time.Unix(1, 5)},
		{"no stamp\n", "no stamp\n", "", "", prev},                          // a TTY message's later line
		{ts(2) + " partial", "partial\n", ts(2) + " ", "", time.Unix(2, 5)}, // ended with a newline
		{"2026-13-45T00:00:00Z x\n", "2026-13-45T00:00:00Z x\n", "", "", prev},
	} {
		l, rest := nextLine([]byte(tc.in), false, prev)
		if string(l.text) != tc.text || string(l.stamp) != tc.stamp || string(rest) != tc.rest || !l.ts.Equal(tc.ts) {
			t.Errorf("nextLine(%q) = %q %q %v rest %q, want %q %q %v rest %q", tc.in, l.text, l.stamp, l.ts, rest, tc.text, tc.stamp, tc.ts, tc.rest)
		}
	}
	// The input is not changed when a newline is added.
	in := []byte(ts(3) + " abc" + "\xff")
	in = in[:len(in)-1]
	_, _ = nextLine(in, false, prev)
	if !strings.HasSuffix(string(in[:len(in)+1]), "\xff") {
		t.Errorf("nextLine wrote past its input")
	}
}
