package fake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

// --- exec ---

// execer runs a handful of scripted commands "in" fake containers, for tests
// of the layers above engine.Exec (the exec stream, the registry). Run reads
// Command[0]:
//
//	echo ARGS...  writes the args joined by spaces and "\n" to stdout; exit 0
//	err ARGS...   the same to stderr (to stdout with a TTY); exit 0
//	exit [N]      exits with N (0 without one; 2 and a message when N is no number)
//	cat           copies stdin to stdout until stdin's EOF; exit 0
//	size          writes "H W\n" of InitialSize ("0 0" without one), then one
//	              such line per size received on Resize, until stdin's EOF
//	              (at once without stdin); exit 0
//	anything else writes "fake: command not found" to stderr (stdout with a
//	              TTY) and exits 127
//
// An output the client did not ask for is discarded. When ctx ends, Run
// closes stdin, waits for the command and returns ctx's error; a command
// blocked writing to a client that does not read is not interrupted.
type execer struct{ f *Engine }

var _ engine.Exec = execer{}

// CreateExec checks the container as Docker would: NotFound when the fake
// has no such container, Conflict unless it is running (paused included),
// Unavailable while the engine is down, InvalidArgument without a command.
func (x execer) CreateExec(_ context.Context, id string, opts engine.ExecOptions) (engine.ExecProcess, error) {
	f := x.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkLocked("CreateExec"); err != nil {
		return nil, err
	}
	if err := f.execableLocked(id); err != nil {
		return nil, err
	}
	if len(opts.Command) == 0 {
		return nil, engine.Errorf(engine.InvalidArgument, "no command to run in container %s", id)
	}
	opts.Command = append([]string(nil), opts.Command...)
	return &execProcess{f: f, id: id, opts: opts}, nil
}

// execableLocked tells why container id cannot run a command, if it cannot.
func (f *Engine) execableLocked(id string) error {
	c, ok := f.containers[id]
	switch {
	case !ok:
		return engine.Errorf(engine.NotFound, "no such container: %s", id)
	case c.Status == "paused":
		return engine.Errorf(engine.Conflict, "container %s is paused; unpause it first", id)
	case c.Status != "running":
		return engine.Errorf(engine.Conflict, "container %s is not running", id)
	}
	return nil
}

// execProcess is one prepared fake command.
type execProcess struct {
	f    *Engine
	id   string
	opts engine.ExecOptions

	mu  sync.Mutex
	ran bool
}

var _ engine.ExecProcess = (*execProcess)(nil)

// errFakeRunTwice: Run is called once.
var errFakeRunTwice = errors.New("fake: an exec process runs once")

// Run runs the command (see execer). The engine going down or the container
// leaving the running state between CreateExec and Run fails Run as
// CreateExec would have. The goroutine that runs the command ends before Run
// returns.
func (p *execProcess) Run(ctx context.Context, streams engine.ExecStreams) (int, error) {
	if streams.Stdin != nil {
		defer func() { _ = streams.Stdin.Close() }()
	}
	p.mu.Lock()
	ran := p.ran
	p.ran = true
	p.mu.Unlock()
	if ran {
		return 0, errFakeRunTwice
	}
	f := p.f
	f.mu.Lock()
	err := f.checkLocked("RunExec")
	if err == nil {
		err = f.execableLocked(p.id)
	}
	f.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}

	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	cmdCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		code, err := p.command(cmdCtx, streams)
		done <- result{code, err}
	}()
	select {
	case r := <-done:
		return r.code, r.err
	case <-ctx.Done():
		// The client left: unblock a command reading stdin, and wait for it.
		if streams.Stdin != nil {
			_ = streams.Stdin.Close()
		}
		<-done
		return 0, ctx.Err()
	}
}

// command carries out Command in the goroutine Run starts.
func (p *execProcess) command(ctx context.Context, s engine.ExecStreams) (int, error) {
	stdout, stderr := s.Stdout, s.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if p.opts.TTY {
		// A terminal has one output.
		stderr = stdout
	} else if stderr == nil {
		stderr = io.Discard
	}
	args := p.opts.Command[1:]
	switch p.opts.Command[0] {
	case "echo":
		return 0, writeLine(stdout, strings.Join(args, " "))
	case "err":
		return 0, writeLine(stderr, strings.Join(args, " "))
	case "exit":
		if len(args) == 0 {
			return 0, nil
		}
		n, err := strconv.Atoi(args[0])
		if err != nil {
			return 2, writeLine(stderr, "fake: exit: bad number: "+args[0])
		}
		return n, nil
	case "cat":
		if s.Stdin == nil {
			return 0, nil
		}
		buf := make([]byte, 32<<10)
		_, err := io.CopyBuffer(onlyWriter{stdout}, onlyReader{s.Stdin}, buf)
		if err != nil && ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, err
	case "size":
		return p.size(ctx, s, stdout)
	}
	return 127, writeLine(stderr, "fake: command not found")
}

// size writes the initial size and then each resize until stdin's EOF.
func (p *execProcess) size(ctx context.Context, s engine.ExecStreams, stdout io.Writer) (int, error) {
	initial := engine.TerminalSize{}
	if s.InitialSize != nil {
		initial = *s.InitialSize
	}
	if err := writeSize(stdout, initial); err != nil {
		return 0, err
	}
	if s.Stdin == nil {
		return 0, nil
	}
	// A second goroutine waits for stdin's EOF; it ends when stdin does or
	// when Run closes stdin, and this one waits for it.
	eof := make(chan struct{})
	go func() {
		defer close(eof)
		_, _ = io.CopyBuffer(io.Discard, onlyReader{s.Stdin}, make([]byte, 4<<10))
	}()
	defer func() { <-eof }()
	for {
		select {
		case size := <-s.Resize: // a nil Resize never delivers
			if err := writeSize(stdout, size); err != nil {
				_ = s.Stdin.Close()
				return 0, err
			}
		case <-eof:
			return 0, nil
		case <-ctx.Done():
			_ = s.Stdin.Close()
			return 0, ctx.Err()
		}
	}
}

func writeSize(w io.Writer, size engine.TerminalSize) error {
	return writeLine(w, fmt.Sprintf("%d %d", size.Height, size.Width))
}

func writeLine(w io.Writer, s string) error {
	_, err := io.WriteString(w, s+"\n")
	return err
}

// onlyReader and onlyWriter hide ReaderFrom and WriterTo, so io.CopyBuffer
// uses its buffer.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }
