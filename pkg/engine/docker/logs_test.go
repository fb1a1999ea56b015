package docker

import (
	"bytes"
	"io"
	"testing"

	"github.com/docker/docker/pkg/stdcopy"
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
