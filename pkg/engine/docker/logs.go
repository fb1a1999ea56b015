package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

// Logs opens container logs in a Docker engine for the log subresource.
type Logs struct{ d *dockerEngine }

var _ engine.Logs = (*Logs)(nil)

// OpenLogs checks the container in the engine and opens its log. Errors are
// engine errors: InvalidArgument for options the container cannot honour,
// NotFound when the engine no longer has it, NotImplemented when its log
// driver cannot be read, Unavailable while the engine is unreachable.
func (l *Logs) OpenLogs(ctx context.Context, id string, opts *containers.ContainerLogOptions) (engine.LogStream, error) {
	in, err := l.d.cli.ContainerInspect(ctx, id)
	if err != nil {
		return nil, l.logError(id, err)
	}
	stream := opts.Stream
	if stream == "" {
		stream = containers.LogStreamAll
	}
	tty := in.Config != nil && in.Config.Tty
	if tty && stream != containers.LogStreamAll {
		return nil, engine.Errorf(engine.InvalidArgument, "invalid log options: container %s has a TTY, so its stdout "+
			"and stderr are one merged stream; leave stream out or use stream=All", id)
	}
	s := &LogStream{
		l: l, id: id, tty: tty, opts: opts, stream: stream,
		window: windowOf(opts, time.Now()),
		limit:  -1,
		hooks:  &ReadHooks{},
	}
	// A follow whose untilTime has passed has nothing to wait for.
	s.follow = opts.Follow && (s.window.until.IsZero() || s.window.until.After(time.Now()))
	if s.follow && opts.FollowRestarts && !s.window.empty {
		// Before the log is opened, so that no run is missed; without the
		// hooks, which only Copy's goroutine may run.
		s.runs = l.watchRuns(ctx, id, &in)
	}
	// Every Docker request of the stream dials a connection that calls the
	// hooks: the copier flushes its batch there (see Copy).
	ctx = WithReadHooks(ctx, s.hooks)
	if opts.LimitBytes != nil {
		s.limit = *opts.LimitBytes
	}
	switch {
	case s.window.empty:
		// Nothing is that old (or since is after until): an empty log.
		return s, nil
	case useWindowedTail(tty, stream, opts):
		s.windowedTail = true
		return s, nil
	}
	o := s.dockerOptions(s.follow, tailOf(opts.TailLines), unixOrEmpty(s.window.since), opts.Timestamps)
	body, err := l.d.cli.ContainerLogs(ctx, id, o)
	if err != nil {
		_ = s.Close()
		return nil, l.logError(id, err)
	}
	s.setBody(body)
	return s, nil
}

// logError words a Docker error of a log request for the client.
func (l *Logs) logError(id string, err error) error {
	err = l.d.errorOf(err)
	switch engine.KindOf(err) {
	case engine.NotFound:
		return engine.Errorf(engine.NotFound, "container %q no longer exists in the docker engine", id)
	case engine.NotImplemented:
		return engine.Errorf(engine.NotImplemented, "the logs of container %s cannot be read: %s", id, dockerMessage(errors.Unwrap(err)))
	case engine.InvalidArgument:
		return engine.Errorf(engine.InvalidArgument, "invalid log options for container %s: %s", id, dockerMessage(errors.Unwrap(err)))
	}
	return err
}

func tailOf(n *int64) string {
	if n == nil {
		return "all"
	}
	return strconv.FormatInt(*n, 10)
}

func unixString(t time.Time) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

// LogStream is one open container log.
type LogStream struct {
	l      *Logs
	id     string
	tty    bool
	opts   *containers.ContainerLogOptions
	stream string
	window timeWindow
	follow bool // opts.Follow, unless untilTime has passed
	// until ends a follow with an untilTime; set by Copy, used by copyBody.
	until *untilWatch
	// limit is the number of bytes still allowed; -1 for no limit. Only the
	// goroutine in Copy uses it.
	limit        int64
	windowedTail bool // see logwindow.go
	// runs follows the container's runs with followRestarts (logrestart.go);
	// nil otherwise. onRunChange is set before Copy.
	runs        *runWatch
	onRunChange func(engine.RunChange) error
	// hooks flush batch before a read of Docker's stream blocks; batch holds
	// the output of the reads since. Set up by Copy; only its goroutine
	// uses batch.
	hooks *ReadHooks
	batch *batch

	// mu guards body and closed: Close may come from another goroutine to
	// interrupt a blocked read.
	mu     sync.Mutex
	body   io.ReadCloser
	closed bool
}

func (s *LogStream) dockerOptions(follow bool, tail, since string, timestamps bool) container.LogsOptions {
	o := container.LogsOptions{
		ShowStdout: s.stream != containers.LogStreamStderr,
		ShowStderr: s.stream != containers.LogStreamStdout,
		Follow:     follow,
		Tail:       tail,
		Since:      since,
		Timestamps: timestamps,
	}
	o.Until = unixOrEmpty(s.window.until)
	return o
}

// setBody installs the engine's response body, or closes it at once when the
// stream was closed meanwhile.
func (s *LogStream) setBody(body io.ReadCloser) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = body.Close()
		return false
	}
	if s.body != nil {
		_ = s.body.Close()
	}
	s.body = body
	return true
}

// Close ends the stream; a Copy blocked on a read returns.
func (s *LogStream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed && s.runs != nil {
		s.runs.cancel() // Copy's wait for the next run returns
	}
	s.closed = true
	if s.body != nil {
		return s.body.Close()
	}
	return nil
}

// OnRunChange sets what Copy calls between two runs (engine.RunNotifier).
func (s *LogStream) OnRunChange(f func(engine.RunChange) error) { s.onRunChange = f }

// errLimitReached ends a copy once limitBytes have been written.
var errLimitReached = errors.New("limitBytes reached")

// limitWriter passes at most s.limit bytes in total (shared by stdout and stderr).
type limitWriter struct {
	s *LogStream
	w io.Writer
}

func (lw limitWriter) Write(p []byte) (int, error) {
	if lw.s.limit < 0 {
		return lw.w.Write(p)
	}
	if lw.s.limit == 0 {
		return 0, errLimitReached
	}
	short := false
	if int64(len(p)) > lw.s.limit {
		p = p[:lw.s.limit]
		short = true
	}
	n, err := lw.w.Write(p)
	lw.s.limit -= int64(n)
	if err == nil && (short || lw.s.limit == 0) {
		err = errLimitReached
	}
	return n, err
}

// Copy writes the log until it ends (or, following, until the container
// stops), the byte limit is reached, or ctx is done.
//
// Output is batched: what Docker sends while the log is busy goes out in
// writes of up to maxBatch, and the batch is flushed whenever no more data is
// waiting (ReadHooks.BeforeBlock), so a quiet line is passed on at once.
func (s *LogStream) Copy(ctx context.Context, stdout, stderr io.Writer) error {
	s.batch = &batch{stdout: limitWriter{s, stdout}, stderr: limitWriter{s, stderr}}
	if s.follow && !s.window.until.IsZero() {
		s.until = newUntilWatch(s.window.until, func() { _ = s.Close() })
		defer s.until.stop()
	}
	s.hooks.BeforeBlock = func() error {
		err := s.batch.flush()
		if s.until != nil {
			// A slow client's flush is not Docker being idle.
			s.until.restartWait()
		}
		return err
	}
	s.hooks.Arm()
	defer s.hooks.Disarm()
	if s.runs != nil {
		defer s.runs.stop()
	}
	var err error
	if s.windowedTail {
		err = s.copyWindowedTail(ctx)
	} else {
		err = s.copyBody()
	}
	if err == nil && s.runs != nil {
		err = s.followRuns(ctx)
	}
	switch {
	case errors.Is(err, errLimitReached):
		return nil
	case ctx.Err() != nil:
		// The client left; the read failed because the body was closed.
		return nil
	case s.until != nil && s.until.reached():
		// untilTime passed and Docker had nothing more: the body was closed.
		return nil
	}
	var broken engineReadError
	if errors.As(err, &broken) {
		// Usually the engine went away (dockerd stopped or restarted); a
		// client may follow again once it is back.
		return engine.Errorf(engine.Unavailable, "the docker engine's log stream of container %s broke: %v", s.id, broken.err)
	}
	return err
}

// engineReadError is a failed read of Docker's log stream (not io.EOF, its
// end), as opposed to a failed write to the client.
type engineReadError struct{ err error }

func (e engineReadError) Error() string { return e.err.Error() }
func (e engineReadError) Unwrap() error { return e.err }

// engineReader marks the errors of reads from Docker.
type engineReader struct{ r io.Reader }

func (e engineReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	var hookErr *hookError
	if err != nil && err != io.EOF && !errors.As(err, &hookErr) {
		err = engineReadError{err}
	}
	return n, err
}

func (s *LogStream) currentBody() io.ReadCloser {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.body
}

// copyBody copies the engine's body: raw with a TTY, else demultiplexed.
func (s *LogStream) copyBody() error {
	src := s.currentBody()
	if src == nil {
		return nil
	}
	var body io.Reader = engineReader{src}
	if s.until != nil {
		body = s.until.reader(body)
	}
	if err := s.copyInto(body); err != nil {
		return err
	}
	return s.batch.flush()
}

// copyInto demultiplexes a Docker stream (raw with a TTY) into the batch.
func (s *LogStream) copyInto(body io.Reader) error {
	if !s.hooks.Attached() {
		// No connection of ours calls the hooks (a TCP host): flush before
		// every read instead, since any read may block.
		body = flushingReader{body, s.batch}
	}
	if s.tty {
		_, err := io.Copy(s.batch.writer(false), body)
		return err
	}
	// stdcopy writes one Docker frame (usually one line) at a time.
	_, err := stdcopy.StdCopy(s.batch.writer(false), s.batch.writer(true), body)
	return err
}

// maxBatch bounds what a batch holds before it is passed on.
const maxBatch = 32 << 10

// batch collects the frames stdcopy demultiplexes from Docker's stream, in
// order, and passes them on when it holds maxBatch or before a read that
// would block: bursts are coalesced, and nothing waits while the stream is
// idle. Only the goroutine running Copy uses it.
type batch struct {
	stdout, stderr io.Writer
	data           []byte
	// segs marks where each run of one stream ends in data.
	segs []segment
}

type segment struct {
	toStderr bool
	end      int
}

type batchWriter struct {
	b        *batch
	toStderr bool
}

func (b *batch) writer(toStderr bool) io.Writer { return batchWriter{b, toStderr} }

func (w batchWriter) Write(p []byte) (int, error) {
	b := w.b
	b.data = append(b.data, p...)
	if n := len(b.segs); n > 0 && b.segs[n-1].toStderr == w.toStderr {
		b.segs[n-1].end = len(b.data)
	} else {
		b.segs = append(b.segs, segment{w.toStderr, len(b.data)})
	}
	if len(b.data) >= maxBatch {
		if err := b.flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// flush passes on what the batch holds, in order.
func (b *batch) flush() error {
	start := 0
	for _, seg := range b.segs {
		w := b.stdout
		if seg.toStderr {
			w = b.stderr
		}
		if _, err := w.Write(b.data[start:seg.end]); err != nil {
			b.data, b.segs = b.data[:0], b.segs[:0]
			return err
		}
		start = seg.end
	}
	b.data, b.segs = b.data[:0], b.segs[:0]
	return nil
}

// flushingReader flushes the batch before every read of the Docker stream.
type flushingReader struct {
	r io.Reader
	b *batch
}

func (f flushingReader) Read(p []byte) (int, error) {
	if err := f.b.flush(); err != nil {
		return 0, err
	}
	return f.r.Read(p)
}
