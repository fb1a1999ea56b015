package docker

import (
	"bytes"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/pkg/stdcopy"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
)

// recorder remembers each Write as one piece.
type recorder struct{ pieces []string }

func (r *recorder) Write(p []byte) (int, error) {
	r.pieces = append(r.pieces, string(p))
	return len(p), nil
}

// TestBatchCoalescesFramesPerRead: frames that arrive in one read become one
// write per run of a stream, in order; frames split over reads are flushed
// before each read.
func TestBatchCoalescesFramesPerRead(t *testing.T) {
	var mux bytes.Buffer
	out := stdcopy.NewStdWriter(&mux, stdcopy.Stdout)
	errw := stdcopy.NewStdWriter(&mux, stdcopy.Stderr)
	for _, l := range []string{"a\n", "b\n"} {
		_, _ = out.Write([]byte(l))
	}
	_, _ = errw.Write([]byte("E\n"))
	_, _ = out.Write([]byte("c\n"))

	var merged recorder
	b := &batch{stdout: &merged, stderr: &merged}
	if _, err := stdcopy.StdCopy(b.writer(false), b.writer(true), flushingReader{&mux, b}); err != nil {
		t.Fatal(err)
	}
	if err := b.flush(); err != nil {
		t.Fatal(err)
	}
	want := []string{"a\nb\n", "E\n", "c\n"}
	if len(merged.pieces) != len(want) {
		t.Fatalf("pieces %q, want %q", merged.pieces, want)
	}
	for i := range want {
		if merged.pieces[i] != want[i] {
			t.Fatalf("pieces %q, want %q", merged.pieces, want)
		}
	}

	// One byte per read: every frame is passed on before the next read.
	mux.Reset()
	_, _ = out.Write([]byte("x\n"))
	_, _ = out.Write([]byte("y\n"))
	var one recorder
	b = &batch{stdout: &one, stderr: &one}
	if _, err := stdcopy.StdCopy(b.writer(false), b.writer(true), flushingReader{io.LimitReader(&oneByte{&mux}, 1<<20), b}); err != nil {
		t.Fatal(err)
	}
	_ = b.flush()
	if got := len(one.pieces); got != 2 {
		t.Fatalf("frames split over reads: %q", one.pieces)
	}
}

// oneByte returns at most one byte per Read.
type oneByte struct{ r io.Reader }

func (o *oneByte) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}

// TestWindowOf: times before 1970 and sinceSeconds of any size never reach
// Docker as negative Unix times; since after until is an empty window.
func TestWindowOf(t *testing.T) {
	now := time.Date(2026, 12, 1, 6, 0, 0, 500, time.UTC)
	secs := func(n int64) *int64 { return &n }
	at := func(s string) *metav1.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return &metav1.Time{Time: tm}
	}
	for _, tc := range []struct {
		name         string
		opts         containers.ContainerLogOptions
		since, until time.Time
		empty        bool
	}{
		{name: "nothing"},
		{name: "sinceSeconds=60", opts: containers.ContainerLogOptions{SinceSeconds: secs(60)}, since: now.Add(-time.Minute)},
		{name: "sinceSeconds reaching before 1970", opts: containers.ContainerLogOptions{SinceSeconds: secs(2000000000)}},
		{name: "sinceSeconds that overflows a Duration", opts: containers.ContainerLogOptions{SinceSeconds: secs(9999999999)}},
		{name: "sinceSeconds max", opts: containers.ContainerLogOptions{SinceSeconds: secs(math.MaxInt64)}},
		{name: "sinceSeconds to exactly 1970", opts: containers.ContainerLogOptions{SinceSeconds: secs(now.Unix())}},
		{name: "sinceTime 1969", opts: containers.ContainerLogOptions{SinceTime: at("1969-12-31T23:59:59Z")}},
		{name: "sinceTime year 1", opts: containers.ContainerLogOptions{SinceTime: at("0001-01-01T00:00:00Z")}},
		{name: "sinceTime nanoseconds", opts: containers.ContainerLogOptions{SinceTime: at("2026-01-02T03:04:05.123456789Z")},
			since: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)},
		{name: "untilTime 1969", opts: containers.ContainerLogOptions{UntilTime: at("1969-12-31T23:59:59Z")},
			until: time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC), empty: true},
		{name: "untilTime exactly 1970", opts: containers.ContainerLogOptions{UntilTime: at("1970-01-01T00:00:00Z")},
			until: time.Unix(0, 0), empty: true},
		{name: "since after until", opts: containers.ContainerLogOptions{SinceSeconds: secs(1), UntilTime: at("2020-01-01T00:00:00Z")},
			since: now.Add(-time.Second), until: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), empty: true},
		{name: "since before 1970, until after", opts: containers.ContainerLogOptions{SinceTime: at("1900-01-01T00:00:00Z"), UntilTime: at("2020-01-01T00:00:00Z")},
			until: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := windowOf(&tc.opts, now)
			if !w.since.Equal(tc.since) || !w.until.Equal(tc.until) || w.empty != tc.empty {
				t.Fatalf("windowOf = since %v until %v empty %v; want %v, %v, %v", w.since, w.until, w.empty, tc.since, tc.until, tc.empty)
			}
			// An empty window never reaches Docker.
			for _, s := range []string{unixOrEmpty(w.since), unixOrEmpty(w.until)} {
				if strings.HasPrefix(s, "-") && !w.empty {
					t.Fatalf("negative Unix time %q would reach Docker", s)
				}
			}
		})
	}
}
