package fake

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

// syncBuffer is a bytes.Buffer safe for a writer and a polling reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func newExecEngine(t *testing.T) (*Engine, engine.Exec) {
	t.Helper()
	f := New()
	f.PutContainer(Container{ID: "run", Status: "running"})
	f.PutContainer(Container{ID: "stopped", Status: "exited"})
	f.PutContainer(Container{ID: "frozen", Status: "paused"})
	return f, f.Engine().Exec
}

func TestCreateExecRefusals(t *testing.T) {
	f, x := newExecEngine(t)
	ctx := t.Context()
	cmd := engine.ExecOptions{Command: []string{"echo"}}
	for _, tc := range []struct {
		id   string
		opts engine.ExecOptions
		kind engine.Kind
		msg  string
	}{
		{"nope", cmd, engine.NotFound, "no such container"},
		{"stopped", cmd, engine.Conflict, "not running"},
		{"frozen", cmd, engine.Conflict, "paused; unpause it first"},
		{"run", engine.ExecOptions{}, engine.InvalidArgument, "no command"},
	} {
		_, err := x.CreateExec(ctx, tc.id, tc.opts)
		if engine.KindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("CreateExec(%s): %v (%v), want %v with %q", tc.id, err, engine.KindOf(err), tc.kind, tc.msg)
		}
	}

	f.SetDown(true)
	if _, err := x.CreateExec(ctx, "run", cmd); !engine.IsUnavailable(err) {
		t.Errorf("CreateExec while down: %v, want Unavailable", err)
	}
	f.SetDown(false)
	p, err := x.CreateExec(ctx, "run", cmd)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Calls("CreateExec"); got != 6 {
		t.Errorf("CreateExec calls %d, want 6", got)
	}
	// The engine went down between CreateExec and Run.
	f.SetDown(true)
	if _, err := p.Run(ctx, engine.ExecStreams{}); !engine.IsUnavailable(err) {
		t.Errorf("Run while down: %v, want Unavailable", err)
	}
	f.SetDown(false)
	if _, err := p.Run(ctx, engine.ExecStreams{}); !errors.Is(err, errFakeRunTwice) {
		t.Errorf("second Run: %v, want %v", err, errFakeRunTwice)
	}
}

func TestExecCommands(t *testing.T) {
	_, x := newExecEngine(t)
	for _, tc := range []struct {
		cmd            []string
		tty            bool
		code           int
		stdout, stderr string
	}{
		{[]string{"echo", "hello", "world"}, false, 0, "hello world\n", ""},
		{[]string{"err", "oops"}, false, 0, "", "oops\n"},
		{[]string{"err", "oops"}, true, 0, "oops\n", ""},
		{[]string{"exit", "3"}, false, 3, "", ""},
		{[]string{"exit"}, false, 0, "", ""},
		{[]string{"exit", "x"}, false, 2, "", "fake: exit: bad number: x\n"},
		{[]string{"nosuch", "arg"}, false, 127, "", "fake: command not found\n"},
		{[]string{"nosuch"}, true, 127, "fake: command not found\n", ""},
	} {
		p, err := x.CreateExec(t.Context(), "run", engine.ExecOptions{Command: tc.cmd, Stdout: true, Stderr: !tc.tty, TTY: tc.tty})
		if err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		streams := engine.ExecStreams{Stdout: &stdout}
		if !tc.tty {
			streams.Stderr = &stderr
		}
		code, err := p.Run(t.Context(), streams)
		if err != nil || code != tc.code || stdout.String() != tc.stdout || stderr.String() != tc.stderr {
			t.Errorf("%q (tty %v): code %d, err %v, stdout %q, stderr %q; want %d, nil, %q, %q",
				tc.cmd, tc.tty, code, err, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.stderr)
		}
	}

	// Outputs the client did not ask for are dropped.
	p, err := x.CreateExec(t.Context(), "run", engine.ExecOptions{Command: []string{"echo", "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if code, err := p.Run(t.Context(), engine.ExecStreams{}); code != 0 || err != nil {
		t.Errorf("echo without stdout: %d, %v", code, err)
	}
}

func TestExecCatCopiesStdinAndRunClosesIt(t *testing.T) {
	_, x := newExecEngine(t)
	p, err := x.CreateExec(t.Context(), "run", engine.ExecOptions{Command: []string{"cat"}, Stdin: true, Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	stdinR, stdinW := io.Pipe()
	go func() {
		_, _ = stdinW.Write(data)
		_ = stdinW.Close()
	}()
	var stdout bytes.Buffer
	code, err := p.Run(t.Context(), engine.ExecStreams{Stdin: stdinR, Stdout: &stdout})
	if err != nil || code != 0 {
		t.Fatalf("cat: %d, %v", code, err)
	}
	if !bytes.Equal(stdout.Bytes(), data) {
		t.Fatalf("cat copied %d bytes, not the %d written", stdout.Len(), len(data))
	}

	// A command that does not read stdin: Run closes it when it returns.
	p, err = x.CreateExec(t.Context(), "run", engine.ExecOptions{Command: []string{"echo"}, Stdin: true})
	if err != nil {
		t.Fatal(err)
	}
	stdinR, stdinW = io.Pipe()
	if _, err := p.Run(t.Context(), engine.ExecStreams{Stdin: stdinR}); err != nil {
		t.Fatal(err)
	}
	if _, err := stdinW.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("write to stdin after Run: %v, want %v", err, io.ErrClosedPipe)
	}
}

func TestExecSizeReportsInitialSizeAndResizes(t *testing.T) {
	_, x := newExecEngine(t)
	p, err := x.CreateExec(t.Context(), "run", engine.ExecOptions{Command: []string{"size"}, Stdin: true, Stdout: true, TTY: true})
	if err != nil {
		t.Fatal(err)
	}
	stdinR, stdinW := io.Pipe()
	resize := make(chan engine.TerminalSize, 1)
	var stdout syncBuffer
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := p.Run(t.Context(), engine.ExecStreams{Stdin: stdinR, Stdout: &stdout,
			InitialSize: &engine.TerminalSize{Width: 80, Height: 24}, Resize: resize})
		done <- result{code, err}
	}()
	waitFor(t, "the initial size", func() bool { return stdout.String() == "24 80\n" })
	resize <- engine.TerminalSize{Width: 100, Height: 30}
	waitFor(t, "the first resize", func() bool { return stdout.String() == "24 80\n30 100\n" })
	resize <- engine.TerminalSize{Width: 7, Height: 5}
	waitFor(t, "the second resize", func() bool { return stdout.String() == "24 80\n30 100\n5 7\n" })
	_ = stdinW.Close()
	select {
	case r := <-done:
		if r.code != 0 || r.err != nil {
			t.Fatalf("size: %d, %v", r.code, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("size did not end at stdin's EOF")
	}

	// Without a size and without stdin: "0 0" and the end.
	p, err = x.CreateExec(t.Context(), "run", engine.ExecOptions{Command: []string{"size"}, Stdout: true, TTY: true})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code, err := p.Run(t.Context(), engine.ExecStreams{Stdout: &out}); code != 0 || err != nil || out.String() != "0 0\n" {
		t.Fatalf("size without size or stdin: %d, %v, %q", code, err, out.String())
	}
}

func TestExecContextEndStopsRun(t *testing.T) {
	_, x := newExecEngine(t)
	for _, cmd := range []string{"cat", "size"} {
		p, err := x.CreateExec(t.Context(), "run", engine.ExecOptions{Command: []string{cmd}, Stdin: true, Stdout: true, TTY: true})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		stdinR, stdinW := io.Pipe()
		done := make(chan error, 1)
		go func() {
			_, err := p.Run(ctx, engine.ExecStreams{Stdin: stdinR, Stdout: io.Discard, Resize: make(chan engine.TerminalSize)})
			done <- err
		}()
		if _, err := stdinW.Write([]byte("typed\n")); err != nil {
			t.Fatal(err) // the command is reading
		}
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("%s: Run after cancel: %v, want %v", cmd, err, context.Canceled)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Run did not return after its context ended", cmd)
		}
		if _, err := stdinW.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
			t.Fatalf("%s: stdin still open after Run: %v", cmd, err)
		}
	}

	// A context that ended before Run: nothing runs.
	p, err := x.CreateExec(t.Context(), "run", engine.ExecOptions{Command: []string{"echo", "x"}, Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var out bytes.Buffer
	if _, err := p.Run(ctx, engine.ExecStreams{Stdout: &out}); !errors.Is(err, context.Canceled) || out.Len() != 0 {
		t.Fatalf("Run with an ended context: %v, output %q", err, out.String())
	}
}
