//go:build integration

package docker

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv/hostenv"
)

// These tests run commands in containers of a real dockerd: the one that
// answers (hack/ensure-docker.sh starts the project's private one if none
// does), with the offline busybox test image. They use hostenv rather than
// test/testenv, which would pull the API server into pkg/engine's tests.

const execTestImage = "containers-apiserver/busybox:test"

// eventWait bounds the wait for any one event; the machine may be busy.
const eventWait = 30 * time.Second

var (
	execHostOnce sync.Once
	execHost     string
	execHostErr  error
)

// execDockerHost makes a Docker engine answer and the test image exist, once
// per test binary, as test/testenv.DockerHost does.
func execDockerHost(t *testing.T) string {
	t.Helper()
	execHostOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		hack := filepath.Join(filepath.Dir(file), "..", "..", "..", "hack")
		script := func(name string, args ...string) error {
			cmd := exec.Command(filepath.Join(hack, name), args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("hack/%s: %w\n%s", name, err, stderr.String())
			}
			return nil
		}
		host, ok := hostenv.FindDocker(context.Background(), nil)
		if !ok {
			if execHostErr = script("ensure-docker.sh"); execHostErr != nil {
				return
			}
			if host, ok = hostenv.FindDocker(context.Background(), nil); !ok {
				execHostErr = errors.New("hack/ensure-docker.sh succeeded, yet no Docker engine answers")
				return
			}
		}
		execHost = host
		execHostErr = script("build-busybox-image.sh", "-H", host)
	})
	if execHostErr != nil {
		t.Fatalf("no Docker engine for the tests: %v", execHostErr)
	}
	return execHost
}

// execEnv is the engine under test and a plain client for the setup.
type execEnv struct {
	t    *testing.T
	exec engine.Exec
	cli  *client.Client
}

func newExecEnv(t *testing.T) *execEnv {
	t.Helper()
	host := execDockerHost(t)
	e, err := New(host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	cli, err := NewClient(host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return &execEnv{t: t, exec: e.Exec, cli: cli}
}

var execSeq atomic.Int64

// container starts a container that sleeps, removed when the test ends.
func (env *execEnv) container() string {
	t := env.t
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("ca-exec-%s-%d-%d", strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), os.Getpid(), execSeq.Add(1))
	resp, err := env.cli.ContainerCreate(ctx, &container.Config{Image: execTestImage, Cmd: []string{"sleep", "3600"}},
		&container.HostConfig{}, nil, nil, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.cli.ContainerRemove(context.Background(), resp.ID, container.RemoveOptions{Force: true})
	})
	if err := env.cli.ContainerStart(ctx, resp.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	return resp.ID
}

// syncBuffer is a bytes.Buffer for one writer and polling readers.
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

type runResult struct {
	code int
	err  error
}

// start creates the exec and runs it in a goroutine; the result arrives on
// the returned channel.
func (env *execEnv) start(ctx context.Context, id string, opts engine.ExecOptions, s engine.ExecStreams) <-chan runResult {
	t := env.t
	t.Helper()
	p, err := env.exec.CreateExec(ctx, id, opts)
	if err != nil {
		t.Fatalf("CreateExec %q: %v", opts.Command, err)
	}
	done := make(chan runResult, 1)
	go func() {
		code, err := p.Run(ctx, s)
		done <- runResult{code, err}
	}()
	return done
}

// run runs a command to its end and returns its exit code and outputs.
func (env *execEnv) run(id string, opts engine.ExecOptions, stdin io.ReadCloser) (int, string, string) {
	t := env.t
	t.Helper()
	var stdout, stderr syncBuffer
	s := engine.ExecStreams{Stdin: stdin}
	if opts.Stdout {
		s.Stdout = &stdout
	}
	if opts.Stderr && !opts.TTY {
		s.Stderr = &stderr
	}
	r := env.wait(env.start(t.Context(), id, opts, s), fmt.Sprintf("%q to end", opts.Command))
	if r.err != nil {
		t.Fatalf("Run %q: %v (stdout %q, stderr %q)", opts.Command, r.err, stdout.String(), stderr.String())
	}
	return r.code, stdout.String(), stderr.String()
}

func (env *execEnv) wait(done <-chan runResult, what string) runResult {
	env.t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(eventWait):
		env.t.Fatalf("timed out waiting for %s", what)
	}
	panic("unreachable")
}

// waitOutput waits until out matches re and returns the match's groups.
func waitOutput(t *testing.T, out *syncBuffer, re *regexp.Regexp, what string) []string {
	t.Helper()
	deadline := time.Now().Add(eventWait)
	for {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; output so far %q", what, out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkRunGoroutinesGone fails the test if a goroutine of a Run is still
// there: Run waits for all it starts before it returns.
func checkRunGoroutinesGone(t *testing.T) {
	t.Helper()
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for g := range bytes.SplitSeq(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("(*execRun)")) {
			t.Errorf("a goroutine of a Run outlived it:\n%s", g)
		}
	}
}

func TestExecOutputsAndExitCodes(t *testing.T) {
	env := newExecEnv(t)
	id := env.container()
	for _, tc := range []struct {
		cmd            []string
		tty            bool
		code           int
		stdout, stderr string // stderr "*": anything
	}{
		{[]string{"sh", "-c", "echo out; echo err >&2; exit 3"}, false, 3, "out\n", "err\n"},
		{[]string{"true"}, false, 0, "", ""},
		{[]string{"nosuchcommand"}, false, 127, "*", ""},
		{[]string{"sh", "-c", "echo out; echo err >&2"}, true, 0, "out\r\nerr\r\n", ""},
		{[]string{"sh", "-c", "exit 3"}, true, 3, "", ""},
		{[]string{"nosuchcommand"}, true, 127, "*", ""},
	} {
		code, stdout, stderr := env.run(id, engine.ExecOptions{Command: tc.cmd, Stdout: true, Stderr: true, TTY: tc.tty}, nil)
		if code != tc.code || (tc.stdout != "*" && stdout != tc.stdout) || stderr != tc.stderr {
			t.Errorf("%q (tty %v): code %d, stdout %q, stderr %q; want %d, %q, %q",
				tc.cmd, tc.tty, code, stdout, stderr, tc.code, tc.stdout, tc.stderr)
		}
		if tc.code == 127 && !strings.Contains(stdout, "nosuchcommand") {
			t.Errorf("%q (tty %v): the reason %q does not name the command", tc.cmd, tc.tty, stdout)
		}
	}

	// User, working directory and environment reach the command.
	code, stdout, _ := env.run(id, engine.ExecOptions{Command: []string{"sh", "-c", `echo "$FOO $(id -u):$(id -g) $(pwd)"`},
		Stdout: true, User: "1234:5678", WorkingDir: "/tmp", Env: []string{"FOO=bar"}}, nil)
	if code != 0 || stdout != "bar 1234:5678 /tmp\n" {
		t.Errorf("user, dir and env: code %d, stdout %q", code, stdout)
	}
	code, stdout, _ = env.run(id, engine.ExecOptions{Command: []string{"id", "-un"}, Stdout: true, User: "nobody:nogroup"}, nil)
	if code != 0 || stdout != "nobody\n" {
		t.Errorf("named user: code %d, stdout %q", code, stdout)
	}
}

func TestExecCatMiBAndStdinEOF(t *testing.T) {
	env := newExecEnv(t)
	id := env.container()
	data := make([]byte, 1<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	stdinR, stdinW := io.Pipe()
	go func() {
		_, _ = stdinW.Write(data)
		_ = stdinW.Close() // EOF: cat must end
	}()
	var stdout, stderr syncBuffer
	done := env.start(t.Context(), id, engine.ExecOptions{Command: []string{"cat"}, Stdin: true, Stdout: true, Stderr: true},
		engine.ExecStreams{Stdin: stdinR, Stdout: &stdout, Stderr: &stderr})
	r := env.wait(done, "cat to end at stdin's EOF")
	if r.err != nil || r.code != 0 {
		t.Fatalf("cat: %d, %v, stderr %q", r.code, r.err, stderr.String())
	}
	if got := stdout.String(); got != string(data) {
		t.Fatalf("cat returned %d bytes, not the %d sent (or not the same)", len(got), len(data))
	}
}

func TestExecTTYSizes(t *testing.T) {
	env := newExecEnv(t)
	id := env.container()
	stdinR, stdinW := io.Pipe()
	resize := make(chan engine.TerminalSize, 1)
	var stdout syncBuffer
	done := env.start(t.Context(), id,
		engine.ExecOptions{Command: []string{"sh", "-c", "stty size; while read -r x; do stty size; done"}, Stdin: true, Stdout: true, TTY: true},
		engine.ExecStreams{Stdin: stdinR, Stdout: &stdout, InitialSize: &engine.TerminalSize{Width: 123, Height: 45}, Resize: resize})

	// The first output is the command's, at the client's size.
	waitOutput(t, &stdout, regexp.MustCompile(`\n`), "the first line")
	if first, _, _ := strings.Cut(stdout.String(), "\n"); first != "45 123\r" {
		t.Fatalf("first line %q, want %q (the initial size, and nothing of the gate)", first, "45 123\r")
	}

	// A resize reaches the terminal: ask for the size until it shows.
	resize <- engine.TerminalSize{Width: 0, Height: 10} // ignored
	resize <- engine.TerminalSize{Width: 77, Height: 22}
	deadline := time.Now().Add(eventWait)
	for !strings.Contains(stdout.String(), "22 77\r\n") {
		if time.Now().After(deadline) {
			t.Fatalf("the resize never showed; output %q", stdout.String())
		}
		if _, err := stdinW.Write([]byte("\n")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Stdin's EOF hangs the terminal up: the shell ends (SIGHUP: 129).
	_ = stdinW.Close()
	r := env.wait(done, "the TTY command to end after stdin's EOF")
	if r.err != nil || r.code != 129 {
		t.Fatalf("after stdin's EOF: %d, %v; want 129 (SIGHUP)", r.code, r.err)
	}
	checkRunGoroutinesGone(t)
}

func TestExecTTYWithoutShell(t *testing.T) {
	env := newExecEnv(t)
	id := env.container()
	if code, _, _ := env.run(id, engine.ExecOptions{Command: []string{"rm", "/bin/sh"}}, nil); code != 0 {
		t.Fatalf("rm /bin/sh: %d", code)
	}
	// No gate: the output is the command's alone.
	code, stdout, _ := env.run(id, engine.ExecOptions{Command: []string{"echo", "hi"}, Stdout: true, TTY: true}, nil)
	if code != 0 || stdout != "hi\r\n" {
		t.Fatalf("echo without /bin/sh: %d, %q", code, stdout)
	}
	// The size comes right after the start, best effort: a later question
	// sees it.
	var out syncBuffer
	done := env.start(t.Context(), id, engine.ExecOptions{Command: []string{"/bin/busybox", "sh", "-c", "sleep 1; stty size"}, Stdout: true, TTY: true},
		engine.ExecStreams{Stdout: &out, InitialSize: &engine.TerminalSize{Width: 99, Height: 33}})
	if r := env.wait(done, "stty size"); r.err != nil || r.code != 0 || out.String() != "33 99\r\n" {
		t.Fatalf("stty size without /bin/sh: %d, %v, %q", r.code, r.err, out.String())
	}
}

func TestExecCancel(t *testing.T) {
	env := newExecEnv(t)
	id := env.container()

	// A TTY shell: the client leaves, Run returns at once, the shell gets
	// a hangup.
	ctx, cancel := context.WithCancel(t.Context())
	stdinR, stdinW := io.Pipe()
	t.Cleanup(func() { _ = stdinW.Close() })
	var stdout syncBuffer
	done := env.start(ctx, id, engine.ExecOptions{Command: []string{"sh", "-c", "echo pid=$$; exec sh -i"}, Stdin: true, Stdout: true, TTY: true},
		engine.ExecStreams{Stdin: stdinR, Stdout: &stdout, Resize: make(chan engine.TerminalSize)})
	pid := waitOutput(t, &stdout, regexp.MustCompile(`pid=(\d+)\r\n`), "the shell's PID")[1]
	waitOutput(t, &stdout, regexp.MustCompile(`/ # `), "the prompt") // then a cursor position query
	cancelled := time.Now()
	cancel()
	r := env.wait(done, "Run to return after cancel")
	if !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Run after cancel: %d, %v; want %v", r.code, r.err, context.Canceled)
	}
	if took := time.Since(cancelled); took > hangupTimeout+time.Second {
		t.Errorf("Run took %v to return after cancel", took)
	}
	checkRunGoroutinesGone(t)
	if _, err := stdinW.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("stdin still open after Run: %v", err)
	}
	deadline := time.Now().Add(eventWait)
	for {
		code, _, _ := env.run(id, engine.ExecOptions{Command: []string{"kill", "-0", pid}}, nil)
		if code != 0 {
			break // gone
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shell (pid %s) is still running after the hangup", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Without a TTY: Run returns at once (Docker keeps the command).
	ctx, cancel = context.WithCancel(t.Context())
	stdinR2, stdinW2 := io.Pipe()
	t.Cleanup(func() { _ = stdinW2.Close() })
	var out syncBuffer
	done = env.start(ctx, id, engine.ExecOptions{Command: []string{"sh", "-c", "echo ready; exec cat"}, Stdin: true, Stdout: true},
		engine.ExecStreams{Stdin: stdinR2, Stdout: &out})
	waitOutput(t, &out, regexp.MustCompile(`ready\n`), "the command to start")
	cancelled = time.Now()
	cancel()
	if r := env.wait(done, "Run to return after cancel"); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Run after cancel (no TTY): %d, %v", r.code, r.err)
	}
	if took := time.Since(cancelled); took > time.Second {
		t.Errorf("Run (no TTY) took %v to return after cancel", took)
	}
	checkRunGoroutinesGone(t)
}

func TestExecContainerKilled(t *testing.T) {
	env := newExecEnv(t)
	for _, tty := range []bool{false, true} {
		id := env.container()
		stdinR, stdinW := io.Pipe()
		t.Cleanup(func() { _ = stdinW.Close() })
		var out syncBuffer
		done := env.start(t.Context(), id, engine.ExecOptions{Command: []string{"sh", "-c", "echo ready; exec cat"}, Stdin: true, Stdout: true, TTY: tty},
			engine.ExecStreams{Stdin: stdinR, Stdout: &out})
		waitOutput(t, &out, regexp.MustCompile(`ready\r?\n`), "the command to start")
		if err := env.cli.ContainerKill(t.Context(), id, "KILL"); err != nil {
			t.Fatal(err)
		}
		r := env.wait(done, "Run to return after the container was killed")
		if r.err != nil || r.code != 137 {
			t.Fatalf("tty %v: Run after kill: %d, %v; want 137", tty, r.code, r.err)
		}
		checkRunGoroutinesGone(t)
	}
}

func TestCreateExecRefusals(t *testing.T) {
	env := newExecEnv(t)
	running := env.container()
	stopped := env.container()
	if err := env.cli.ContainerKill(t.Context(), stopped, "KILL"); err != nil {
		t.Fatal(err)
	}
	paused := env.container()
	if err := env.cli.ContainerPause(t.Context(), paused); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.cli.ContainerUnpause(context.Background(), paused) })
	// Docker's state after the kill.
	deadline := time.Now().Add(eventWait)
	for {
		in, err := env.cli.ContainerInspect(t.Context(), stopped)
		if err == nil && !in.State.Running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the killed container still runs")
		}
		time.Sleep(10 * time.Millisecond)
	}

	cmd := []string{"true"}
	for _, tc := range []struct {
		name, id string
		opts     engine.ExecOptions
		kind     engine.Kind
		msg      string
	}{
		{"unknown", "ca-exec-no-such-container-" + strconv.Itoa(os.Getpid()), engine.ExecOptions{Command: cmd}, engine.NotFound, "no longer exists"},
		{"stopped", stopped, engine.ExecOptions{Command: cmd}, engine.Conflict, "is not running"},
		{"paused", paused, engine.ExecOptions{Command: cmd}, engine.Conflict, "is paused; unpause it first"},
		{"no command", running, engine.ExecOptions{}, engine.InvalidArgument, "no command"},
		{"bad user", running, engine.ExecOptions{Command: cmd, User: "nosuchuser"}, engine.InvalidArgument, "unable to find user nosuchuser"},
		{"bad group", running, engine.ExecOptions{Command: cmd, User: "0:nosuchgroup"}, engine.InvalidArgument, "unable to find group nosuchgroup"},
		{"missing dir", running, engine.ExecOptions{Command: cmd, WorkingDir: "/nonexistent"}, engine.InvalidArgument, "does not exist"},
		{"file as dir", running, engine.ExecOptions{Command: cmd, WorkingDir: "/etc/passwd"}, engine.InvalidArgument, "is not a directory"},
		{"relative dir", running, engine.ExecOptions{Command: cmd, WorkingDir: "tmp"}, engine.InvalidArgument, "not an absolute path"},
	} {
		_, err := env.exec.CreateExec(t.Context(), tc.id, tc.opts)
		var ee *engine.Error
		if !errors.As(err, &ee) || ee.Kind != tc.kind || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v (%v), want a %v *engine.Error with %q", tc.name, err, engine.KindOf(err), tc.kind, tc.msg)
		}
	}
}
