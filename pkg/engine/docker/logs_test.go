package docker

import (
	"bytes"
	"io"
	"testing"
	"time"

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

// stampedReader returns one byte per read and records when each read began.
type stampedReader struct{ starts []time.Time }

func (r *stampedReader) Read(p []byte) (int, error) {
	r.starts = append(r.starts, time.Now())
	p[0] = 'x'
	return 1, nil
}

// TestPacedReaderSpacesBusyReads: after a read that returned data, the next
// read starts no sooner than the gap.
func TestPacedReaderSpacesBusyReads(t *testing.T) {
	const gap = 20 * time.Millisecond
	src := &stampedReader{}
	p := &pacedReader{r: src, gap: gap}
	buf := make([]byte, 8)
	var ends []time.Time
	for range 4 {
		if n, err := p.Read(buf); n != 1 || err != nil {
			t.Fatalf("Read: %d, %v", n, err)
		}
		ends = append(ends, time.Now())
	}
	for i := 1; i < len(src.starts); i++ {
		if d := src.starts[i].Sub(ends[i-1]); d < gap-time.Millisecond {
			t.Errorf("read %d began %v after the previous one returned data, want at least %v", i, d, gap)
		}
	}
}

// TestPacedReaderFirstReadAtOnce: the first read is not delayed (it returns
// long before a 10 s gap could have passed).
func TestPacedReaderFirstReadAtOnce(t *testing.T) {
	const gap = 10 * time.Second
	done := make(chan struct{})
	go func() {
		defer close(done)
		src := &stampedReader{}
		p := &pacedReader{r: src, gap: gap}
		buf := make([]byte, 8)
		if n, err := p.Read(buf); n != 1 || err != nil {
			t.Errorf("Read: %d, %v", n, err)
		}
	}()
	select {
	case <-done:
	case <-time.After(gap / 2):
		t.Fatalf("the first read waited (gap %v)", gap)
	}
}
