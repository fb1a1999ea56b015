package docker

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
	"k8s.io/klog/v2"

	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

// Exec runs commands in containers (the exec subresource) with Docker's exec
// API: CreateExec checks the container and creates the exec, Run attaches to
// it over a hijacked connection, which starts the command.
//
// # A terminal's initial size
//
// Before API 1.42 (Docker 20.10 is 1.41) an exec has no size when it starts:
// ConsoleSize does not exist yet, and a resize only works once the command
// runs, so its first output (a prompt, `stty size`) would be laid out for
// the wrong size. A TTY command in a container with /bin/sh therefore starts
// behind a gate:
//
//	/bin/sh -c 'echo $$; read -r ca_gate; exec "$@"' sh COMMAND...
//
// Run reads the shell's PID line, resizes the terminal, and writes a newline
// that releases the gate; the shell then becomes the command (same PID). The
// gate's own output (the PID line and the terminal's echo of the newline) is
// not passed on. The PID, in the container's PID namespace, is kept for the
// hangup below. The shell may add variables such as PWD to the command's
// environment. From API 1.42 the size is also passed as ConsoleSize when the
// exec starts.
//
// A container without /bin/sh gets no gate: on API 1.41 its terminal is
// resized just after the command starts (best effort, its first output may
// still see the old size), and without the PID Run cannot hang the terminal
// up (see Run).
type Exec struct{ d *dockerEngine }

var _ engine.Exec = (*Exec)(nil)

const (
	// gateScript holds a TTY command until its terminal has its size; see
	// Exec.
	gateScript = `echo $$; read -r ca_gate; exec "$@"`
	// shellPath is the shell the gate and the hangup need.
	shellPath = "/bin/sh"

	// execBufferSize is the buffer of each direction of a session (output
	// with a TTY, stdin); stdcopy brings its own for output without one.
	execBufferSize = 32 << 10
	// headSize is how much of a command's first output is kept: when the
	// command could not start, Docker's reason is there.
	headSize = 512
	// maxFileScan bounds what is read of /etc/passwd or /etc/group.
	maxFileScan = 1 << 20

	// gateGrace is how long a client that leaves during the gate waits for
	// its PID line (which comes within milliseconds), so that the gate's
	// shell can be hung up rather than left waiting for its newline.
	gateGrace = 2 * time.Second
	// hangupTimeout bounds the hangup's exec (create and start).
	// Generous: 30 sessions dropped at once on a busy 2-core machine took
	// over 5 s for their hangups' execs, and a missed hangup leaves a shell.
	hangupTimeout = 30 * time.Second
	// The exit code is polled after the output ends: from firstPoll,
	// doubling up to maxPoll; after checkContainerAfter the container's
	// state is checked too, since Docker may never mark an exec of a
	// stopped container as exited.
	firstPoll           = 5 * time.Millisecond
	maxPoll             = time.Second
	checkContainerAfter = time.Second

	// killedExitCode is the exit code of a command killed with its
	// container (SIGKILL).
	killedExitCode = 137
	// notStartedExitCode and notFoundExitCode are those of a command that
	// could not start, or was not found, as a shell reports them.
	notStartedExitCode = 126
	notFoundExitCode   = 127
)

// CreateExec checks the container (NotFound; Conflict when it is not
// running, paused or restarting) and what Docker would only refuse once the
// command starts, after the connection is upgraded: a working directory that
// is not an absolute path to a directory of the container, and a user or
// group name its /etc/passwd or /etc/group does not hold (InvalidArgument).
// Then it creates the exec (with the gate for a TTY, see Exec). Nothing runs
// yet.
func (x *Exec) CreateExec(ctx context.Context, id string, opts engine.ExecOptions) (engine.ExecProcess, error) {
	if len(opts.Command) == 0 {
		return nil, engine.Errorf(engine.InvalidArgument, "no command to run in container %s", id)
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	cli := x.d.cli
	in, err := cli.ContainerInspect(ctx, id)
	if err != nil {
		return nil, x.execError(id, err)
	}
	switch {
	case in.ContainerJSONBase == nil || in.State == nil || !in.State.Running:
		return nil, engine.Errorf(engine.Conflict, "container %s is not running", id)
	case in.State.Paused:
		return nil, engine.Errorf(engine.Conflict, "container %s is paused; unpause it first", id)
	case in.State.Restarting:
		return nil, engine.Errorf(engine.Conflict, "container %s is restarting; wait until it runs", id)
	}
	if err := x.checkWorkingDir(ctx, id, opts.WorkingDir); err != nil {
		return nil, err
	}
	if err := x.checkUser(ctx, id, opts.User); err != nil {
		return nil, err
	}
	gate := false
	if opts.TTY {
		_, err := cli.ContainerStatPath(ctx, id, shellPath)
		gate = err == nil
	}
	cmd := opts.Command
	if gate {
		cmd = append([]string{shellPath, "-c", gateScript, "sh"}, opts.Command...)
	}
	resp, err := cli.ContainerExecCreate(ctx, id, container.ExecOptions{
		User:       opts.User,
		Tty:        opts.TTY,
		Env:        opts.Env,
		WorkingDir: opts.WorkingDir,
		Cmd:        cmd,
		// The gate reads its newline from stdin and writes its PID to stdout.
		AttachStdin:  opts.Stdin || gate,
		AttachStdout: opts.Stdout || gate,
		AttachStderr: opts.Stderr,
	})
	if err != nil {
		return nil, x.execError(id, err)
	}
	return &execProcess{d: x.d, containerID: id, execID: resp.ID, opts: opts, gate: gate}, nil
}

// execError words a Docker error of an exec request for the client.
func (x *Exec) execError(id string, err error) error {
	err = x.d.errorOf(err)
	switch engine.KindOf(err) {
	case engine.NotFound:
		return engine.Errorf(engine.NotFound, "container %q no longer exists in the docker engine", id)
	case engine.Conflict, engine.InvalidArgument:
		return engine.Errorf(engine.KindOf(err), "cannot exec in container %s: %s", id, dockerMessage(errors.Unwrap(err)))
	}
	return err
}

// checkWorkingDir refuses a working directory that is not absolute or that
// the container does not have as a directory (a symlink is taken on trust).
// A failure to look is left to Docker.
func (x *Exec) checkWorkingDir(ctx context.Context, id, dir string) error {
	if dir == "" {
		return nil
	}
	if !path.IsAbs(dir) {
		return engine.Errorf(engine.InvalidArgument, "the working directory %q is not an absolute path", dir)
	}
	st, err := x.d.cli.ContainerStatPath(ctx, id, dir)
	switch {
	case cerrdefs.IsNotFound(err):
		return engine.Errorf(engine.InvalidArgument, "the working directory %s does not exist in container %s", dir, id)
	case err == nil && !st.Mode.IsDir() && st.Mode&os.ModeSymlink == 0:
		return engine.Errorf(engine.InvalidArgument, "the working directory %s in container %s is not a directory", dir, id)
	}
	return nil
}

// checkUser refuses a user (or group) name that the container's /etc/passwd
// (or /etc/group) does not hold, in Docker's words; numeric IDs need no
// entry. A file that cannot be read is left to Docker.
func (x *Exec) checkUser(ctx context.Context, id, spec string) error {
	name, group, _ := strings.Cut(spec, ":")
	if name != "" && !isNumeric(name) {
		if found, known := x.hasEntry(ctx, id, "/etc/passwd", name); known && !found {
			return engine.Errorf(engine.InvalidArgument, "unable to find user %s: no matching entries in passwd file", name)
		}
	}
	if group != "" && !isNumeric(group) {
		if found, known := x.hasEntry(ctx, id, "/etc/group", group); known && !found {
			return engine.Errorf(engine.InvalidArgument, "unable to find group %s: no matching entries in group file", group)
		}
	}
	return nil
}

func isNumeric(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// hasEntry tells whether the colon-separated file at file in the container
// has a line whose first field is name; known is false when that cannot be
// told (an odd file, a failed copy). A missing file has no entries.
func (x *Exec) hasEntry(ctx context.Context, id, file, name string) (found, known bool) {
	rc, _, err := x.d.cli.CopyFromContainer(ctx, id, file)
	if cerrdefs.IsNotFound(err) {
		return false, true
	}
	if err != nil {
		return false, false
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	hdr, err := tr.Next()
	if err != nil || hdr.Typeflag != tar.TypeReg {
		return false, false
	}
	sc := bufio.NewScanner(io.LimitReader(tr, maxFileScan))
	for sc.Scan() {
		if first, _, _ := strings.Cut(sc.Text(), ":"); first == name {
			return true, true
		}
	}
	return false, sc.Err() == nil
}

// execProcess is one created Docker exec.
type execProcess struct {
	d                   *dockerEngine
	containerID, execID string
	opts                engine.ExecOptions
	gate                bool // behind the gate (see Exec)
	ran                 atomic.Bool
}

var _ engine.ExecProcess = (*execProcess)(nil)

// Run starts the command by attaching to it and copies its streams: stdin to
// the command (its EOF half-closes the connection, which Docker passes on as
// the command's EOF; with a TTY it hangs the terminal up instead, since
// Docker would stop sending output and leave the command running, or is
// dropped when the PID is unknown: no /bin/sh), output
// from it (demultiplexed with stdcopy, or raw with a TTY), and terminal sizes
// (latest wins, zero sizes ignored). Once the output ends it polls Docker
// for the exit code (a container stopped under the command: its exit code,
// 137 when killed or removed; a command that could not start: 126, 127 when
// it was not found, with Docker's reason in the output).
//
// When ctx ends (the client left), or the client's writer fails, the
// connection is closed at once and, for a TTY command behind the gate, its
// process group gets a SIGHUP from a second, detached exec (`kill -HUP
// -PID`, as root, bounded by hangupTimeout, before Run returns). A command
// without a TTY keeps running until it exits by itself: Docker does not stop
// an exec whose client has gone (moby/moby#9098); nor does a TTY command in
// a container without /bin/sh, whose PID is unknown.
//
// Goroutines: Run's own goroutine copies the output and waits for the exit
// code. It starts up to three more and waits for all of them before it
// returns: the watcher (closes the connection when ctx ends), the stdin
// copier (ends when Run closes Stdin, which must unblock its Read, as an
// io.Pipe, a file or a connection does) and the resizer. No request outlives
// Run.
func (p *execProcess) Run(ctx context.Context, s engine.ExecStreams) (int, error) {
	if s.Stdin != nil {
		defer func() { _ = s.Stdin.Close() }()
	}
	if !p.ran.CompareAndSwap(false, true) {
		return 0, errors.New("docker exec: Run was called twice")
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	size := latestSize(s)
	opts := container.ExecAttachOptions{Tty: p.opts.TTY}
	if p.opts.TTY && size != nil {
		// Dropped by the client before API 1.42.
		opts.ConsoleSize = &[2]uint{uint(size.Height), uint(size.Width)}
	}
	// Output without a TTY is batched as a log's is (see LogStream.Copy):
	// a burst goes out in large messages, and whatever is there goes out
	// before a read would wait. With a TTY every read goes out at once: a
	// keystroke's echo must not wait for readGap.
	var hooks *ReadHooks
	attachCtx := ctx
	if !p.opts.TTY {
		hooks = &ReadHooks{}
		attachCtx = WithReadHooks(ctx, hooks)
	}
	// The upgrade itself does not watch ctx; Docker answers it at once.
	resp, err := p.d.cli.ContainerExecAttach(attachCtx, p.execID, opts)
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, p.attachError(ctx, err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	r := &execRun{
		p: p, s: s, resp: resp, ctx: ctx, runCtx: runCtx, cancel: cancel,
		gatePassed: make(chan struct{}), runDone: make(chan struct{}),
	}
	r.stdout = &clientWriter{r: r, w: s.Stdout}
	r.stderr = &clientWriter{r: r, w: s.Stderr}
	r.hooks = hooks
	defer r.finish()
	return r.run(size)
}

// latestSize is the terminal size to start with: the newest of InitialSize
// and a resize already waiting.
func latestSize(s engine.ExecStreams) *engine.TerminalSize {
	size := s.InitialSize
	if s.Resize != nil {
		select {
		case latest := <-s.Resize:
			if latest.Width != 0 && latest.Height != 0 {
				size = &latest
			}
		default:
		}
	}
	if size != nil && (size.Width == 0 || size.Height == 0) {
		return nil
	}
	return size
}

// attachError explains a failed attach (the hijack's errors carry no kind):
// the container went away or stopped since CreateExec, or Docker failed.
func (p *execProcess) attachError(ctx context.Context, err error) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	in, ierr := p.d.cli.ContainerInspect(ctx, p.containerID)
	switch {
	case cerrdefs.IsNotFound(ierr):
		return engine.Errorf(engine.NotFound, "container %q no longer exists in the docker engine", p.containerID)
	case ierr == nil && (in.State == nil || !in.State.Running):
		return engine.Errorf(engine.Conflict, "container %s is not running", p.containerID)
	case ierr == nil && in.State.Paused:
		return engine.Errorf(engine.Conflict, "container %s is paused; unpause it first", p.containerID)
	}
	return engine.Errorf(engine.KindOf(p.d.errorOf(err)), "starting the exec in container %s failed: %w", p.containerID, p.d.errorOf(err))
}

// execRun is the state of one Run.
type execRun struct {
	p      *execProcess
	s      engine.ExecStreams
	resp   types.HijackedResponse
	ctx    context.Context // Run's
	runCtx context.Context // ends when Run does: the resizer's requests
	cancel context.CancelFunc

	// pid is the gate's PID (0: unknown); set before the goroutines that
	// hang up start.
	pid int
	// stdout and stderr are the client's writers; only Run's goroutine
	// writes, so head, headLen and writeErr need no lock.
	stdout, stderr *clientWriter
	// hooks, without a TTY, flush the output's batch before a read of the
	// connection blocks; only Run's goroutine uses them.
	hooks    *ReadHooks
	head     [headSize]byte
	headLen  int
	writeErr error

	closeOnce, hangupOnce, gateOnce sync.Once
	closed                          atomic.Bool   // the connection was closed by us
	gatePassed                      chan struct{} // closed once the gate's PID line was read, or there is none
	runDone                         chan struct{} // closed when Run is finishing
	wg                              sync.WaitGroup
}

// run copies the session until the command exits or the client leaves.
func (r *execRun) run(size *engine.TerminalSize) (int, error) {
	r.wg.Go(r.watch)
	out := r.resp.Reader
	resizeFirst := size
	if r.p.gate {
		pid, ok := r.readGatePID(out)
		r.pid = pid
		r.passGate()
		if r.ctx.Err() != nil || r.writeErr != nil {
			return r.clientGone(true)
		}
		if ok {
			if size != nil {
				r.p.resize(r.runCtx, *size)
			}
			resizeFirst = nil
			if _, err := r.resp.Conn.Write([]byte{'\n'}); err == nil {
				skipEcho(out)
			}
		}
	} else {
		r.passGate()
	}
	if !r.p.opts.TTY {
		resizeFirst = nil
	}
	if r.s.Stdin != nil {
		r.wg.Go(r.copyStdin)
	}
	if r.p.opts.TTY && (r.s.Resize != nil || resizeFirst != nil) {
		r.wg.Go(func() { r.resizer(resizeFirst) })
	}

	// A read error is a broken connection (or one we closed); the exit
	// code, or Docker's unavailability, comes from waitExit.
	if r.p.opts.TTY {
		buf := make([]byte, execBufferSize)
		_, _ = io.CopyBuffer(r.stdout, onlyReader{out}, buf)
	} else {
		err := r.copyFrames(out)
		var broken engineReadError
		if err != nil && r.writeErr == nil && !errors.As(err, &broken) {
			// Not a frame: Docker's own error (a systemerr frame, from
			// API 1.42), the command's reason for not starting.
			_, _ = r.stderrOrStdout().Write([]byte(err.Error() + "\n"))
		}
	}
	if r.ctx.Err() != nil || r.writeErr != nil {
		// Unless the output ended by itself just before, the command runs.
		return r.clientGone(r.writeErr != nil || r.closed.Load())
	}
	// The output ended (or the connection broke, e.g. dockerd stopped):
	// Docker has the rest.
	code, err := r.p.waitExit(r.ctx, r.head[:r.headLen])
	if r.ctx.Err() != nil {
		return r.clientGone(false)
	}
	return code, err
}

// copyFrames demultiplexes the output of a command without a TTY, in
// batches: stdcopy writes one Docker frame (one write of the command) at a
// time.
func (r *execRun) copyFrames(out io.Reader) error {
	b := &batch{stdout: r.stdout, stderr: r.stderr}
	var body io.Reader = engineReader{out}
	if r.hooks.Attached() {
		r.hooks.BeforeBlock = b.flush
		r.hooks.Arm()
		defer r.hooks.Disarm()
	} else {
		// No connection of ours calls the hooks (a TCP host): flush before
		// every read instead, since any read may block.
		body = flushingReader{body, b}
	}
	if _, err := stdcopy.StdCopy(b.writer(false), b.writer(true), body); err != nil {
		return err
	}
	return b.flush()
}

// finish ends Run: the goroutines are told, the connection and stdin are
// closed (which unblocks them), and Run waits for them.
func (r *execRun) finish() {
	close(r.runDone)
	r.cancel()
	r.closeConn()
	if r.s.Stdin != nil {
		_ = r.s.Stdin.Close()
	}
	r.wg.Wait()
}

func (r *execRun) closeConn() {
	r.closeOnce.Do(func() {
		r.closed.Store(true)
		r.resp.Close()
	})
}

func (r *execRun) passGate() { r.gateOnce.Do(func() { close(r.gatePassed) }) }

// clientGone ends a session whose client left (ctx ended) or whose output
// could no longer be written: the connection is closed and a TTY command
// still running (running) hung up.
func (r *execRun) clientGone(running bool) (int, error) {
	r.closeConn()
	if running {
		r.hangup()
	}
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return 0, r.writeErr
}

// watch closes the connection when ctx ends, which interrupts the copies.
// During the gate it first waits (up to gateGrace) for the PID line, so the
// gate's shell can be hung up.
func (r *execRun) watch() {
	select {
	case <-r.runDone:
		return
	case <-r.ctx.Done():
	}
	t := time.NewTimer(gateGrace)
	defer t.Stop()
	select {
	case <-r.gatePassed:
	case <-t.C:
	case <-r.runDone:
	}
	r.closeConn()
}

// readGatePID reads the gate's PID line. Any other first line (Docker's
// reason when the command could not start) is the command's output.
func (r *execRun) readGatePID(out *bufio.Reader) (int, bool) {
	// Bounded by the reader's buffer.
	line, err := out.ReadSlice('\n')
	if err == nil {
		digits := strings.TrimSuffix(strings.TrimSuffix(string(line), "\n"), "\r")
		if isNumeric(digits) && len(digits) <= 10 {
			if pid, err := strconv.Atoi(digits); err == nil && pid > 0 {
				return pid, true
			}
		}
	}
	if len(line) > 0 {
		_, _ = r.stdout.Write(line)
	}
	return 0, false
}

// skipEcho drops the terminal's echo of the gate's newline, which comes
// before anything the command writes.
func skipEcho(out *bufio.Reader) {
	if b, err := out.Peek(2); err == nil && string(b) == "\r\n" {
		_, _ = out.Discard(2)
	}
}

// copyStdin copies the client's input to the command until its EOF, then
// passes the EOF on: a half-close, or with a TTY a hangup.
func (r *execRun) copyStdin() {
	buf := make([]byte, execBufferSize)
	_, err := io.CopyBuffer(onlyWriter{r.resp.Conn}, onlyReader{r.s.Stdin}, buf)
	select {
	case <-r.runDone:
		return // Run closed stdin
	default:
	}
	if err != nil {
		return // the connection ended, or the client's stdin broke (ctx ends)
	}
	if r.p.opts.TTY {
		r.hangup()
		return
	}
	_ = r.resp.CloseWrite()
}

// resizer applies first (a size not yet applied), then each size from
// Resize, the latest when several wait, until Run ends.
func (r *execRun) resizer(first *engine.TerminalSize) {
	if first != nil {
		r.p.resize(r.runCtx, *first)
	}
	for {
		var size engine.TerminalSize
		select {
		case <-r.runDone:
			return
		case size = <-r.s.Resize:
		}
		for more := true; more; {
			select {
			case newer := <-r.s.Resize:
				size = newer
			default:
				more = false
			}
		}
		if size.Width != 0 && size.Height != 0 {
			r.p.resize(r.runCtx, size)
		}
	}
}

// resize sets the terminal's size, best effort.
func (p *execProcess) resize(ctx context.Context, size engine.TerminalSize) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	err := p.d.cli.ContainerExecResize(ctx, p.execID, container.ResizeOptions{Height: uint(size.Height), Width: uint(size.Width)})
	if err != nil && ctx.Err() == nil {
		klog.FromContext(ctx).V(4).Info("Resizing an exec's terminal failed", "container", p.containerID, "err", err)
	}
}

// hangup sends SIGHUP to the TTY command's process group, once, from a
// detached exec as root (the command's user may not be allowed to).
func (r *execRun) hangup() {
	if !r.p.opts.TTY || r.pid == 0 {
		return
	}
	r.hangupOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), hangupTimeout)
		defer cancel()
		cli := r.p.d.cli
		resp, err := cli.ContainerExecCreate(ctx, r.p.containerID, container.ExecOptions{
			User: "0",
			Cmd:  []string{shellPath, "-c", "kill -HUP -" + strconv.Itoa(r.pid)},
		})
		if err == nil {
			err = cli.ContainerExecStart(ctx, resp.ID, container.ExecStartOptions{Detach: true})
		}
		if err != nil {
			klog.FromContext(ctx).V(2).Info("Hanging up an exec's terminal failed", "container", r.p.containerID, "pid", r.pid, "err", err)
		}
	})
}

// waitExit polls Docker until the exec has exited and returns its exit code.
// head is the start of the command's output.
func (p *execProcess) waitExit(ctx context.Context, head []byte) (int, error) {
	start := time.Now()
	delay := firstPoll
	for {
		in, err := p.inspectExec(ctx)
		switch {
		case err == nil && !in.Running:
			return exitCodeOf(in, head), nil
		case engine.IsNotFound(err):
			// The container was removed under the command, its execs with it.
			return killedExitCode, nil
		case err != nil:
			return 0, err
		}
		if time.Since(start) >= checkContainerAfter {
			if code, stopped, err := p.containerStopped(ctx); err != nil || stopped {
				return code, err
			}
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, maxPoll)
	}
}

func (p *execProcess) inspectExec(ctx context.Context) (container.ExecInspect, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	in, err := p.d.cli.ContainerExecInspect(ctx, p.execID)
	return in, p.d.errorOf(err)
}

// containerStopped tells whether the container stopped (or went away) under
// a command Docker still shows as running, with the exit code to report.
func (p *execProcess) containerStopped(ctx context.Context) (int, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	in, err := p.d.cli.ContainerInspect(ctx, p.containerID)
	switch {
	case cerrdefs.IsNotFound(err):
		return killedExitCode, true, nil
	case err != nil:
		return 0, false, p.d.errorOf(err)
	case in.State != nil && in.State.Running:
		return 0, false, nil
	case in.State != nil && in.State.ExitCode != 0:
		return in.State.ExitCode, true, nil
	}
	// It stopped by itself; the command was killed with it.
	return killedExitCode, true, nil
}

// exitCodeOf is the exit code of an exec that is no longer running. One that
// never started (no PID) failed in Docker or the runtime, whose reason is
// the output; Docker 20.10 reports 126 even for a command that does not
// exist, where a shell (and newer Docker) says 127.
func exitCodeOf(in container.ExecInspect, head []byte) int {
	if in.Pid != 0 {
		return in.ExitCode
	}
	code := in.ExitCode
	if code == 0 {
		code = notStartedExitCode
	}
	if code == notStartedExitCode && notFound(head) {
		code = notFoundExitCode
	}
	return code
}

// notFound tells whether Docker's reason for a command that could not start
// is that the executable does not exist (not a missing working directory).
func notFound(reason []byte) bool {
	return bytes.Contains(reason, []byte("executable file not found")) ||
		(bytes.Contains(reason, []byte("no such file or directory")) && !bytes.Contains(reason, []byte("chdir")))
}

func (r *execRun) stderrOrStdout() io.Writer {
	if r.s.Stderr != nil {
		return r.stderr
	}
	return r.stdout
}

// clientWriter is one of the client's outputs: nil discards. It keeps the
// start of the output and the first write error for Run.
type clientWriter struct {
	r *execRun
	w io.Writer
}

func (c *clientWriter) Write(p []byte) (int, error) {
	r := c.r
	r.headLen += copy(r.head[r.headLen:], p)
	if c.w == nil {
		return len(p), nil
	}
	n, err := c.w.Write(p)
	if err != nil && r.writeErr == nil {
		r.writeErr = err
	}
	return n, err
}

// onlyReader and onlyWriter hide ReaderFrom and WriterTo, so that
// io.CopyBuffer uses the buffer it is given.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }
