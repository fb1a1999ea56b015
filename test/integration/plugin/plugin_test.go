//go:build integration

// Package plugin drives the kubectl plugin (cmd/kubectl-container) through
// the installed kubectl, against the built server and a real dockerd.
package plugin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

const deadline = 2 * time.Minute

// env is one server, one dockerd and the plugin.
type env struct {
	host, kubeconfig string
	plugin           *testenv.Plugin
}

// result is what one run of the plugin did.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs `kubectl container args...` to its end, stdin from in ("" none).
func (e *env) run(t *testing.T, in string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	cmd := e.plugin.Command(ctx, e.kubeconfig, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if in != "" {
		cmd.Stdin = strings.NewReader(in)
	}
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("kubectl container %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// ok runs args and fails the test unless they exit 0.
func (e *env) ok(t *testing.T, args ...string) string {
	t.Helper()
	r := e.run(t, "", args...)
	if r.code != 0 {
		t.Fatalf("kubectl container %s: %s", strings.Join(args, " "), r)
	}
	return r.stdout
}

// fails runs args and fails the test unless they exit code with stderr
// holding want.
func (e *env) fails(t *testing.T, code int, want string, args ...string) {
	t.Helper()
	r := e.run(t, "", args...)
	if r.code != code || !strings.Contains(r.stderr, want) {
		t.Errorf("kubectl container %s: want exit %d and %q on stderr; got %s", strings.Join(args, " "), code, want, r)
	}
}

func (e *env) docker(t *testing.T, args ...string) string {
	t.Helper()
	return testenv.MustDocker(t, e.host, args...)
}

// container runs a container from the test image with label (for cleanup)
// and returns its name and ID.
func (e *env) container(t *testing.T, prefix string, args ...string) (name, id string) {
	t.Helper()
	name = testenv.UniqueName(t, prefix)
	id = e.docker(t, append([]string{"run", "-d", "--name", name, "--label", "io.rancherdesktop.test.plugin=" + prefix}, args...)...)
	t.Cleanup(func() { _, _ = testenv.Docker(context.Background(), e.host, "rm", "-f", id) })
	return name, id
}

// waitMirrored waits until the server shows name in state ("running",
// "exited", ...).
func (e *env) waitMirrored(t *testing.T, name, state string) {
	t.Helper()
	testenv.Eventually(t, deadline, name+" "+state+" in ps -a", func() error {
		out := e.run(t, "", "ps", "-a").stdout
		for _, l := range strings.Split(out, "\n") {
			if strings.HasSuffix(l, " "+name) && strings.Contains(l, stateWord[state]) {
				return nil
			}
		}
		return fmt.Errorf("ps -a:\n%s", out)
	})
}

var stateWord = map[string]string{"running": " Up ", "exited": " Exited (", "paused": "(Paused)", "created": " Created "}

func TestPlugin(t *testing.T) {
	host := testenv.DockerHost(t)
	e := &env{host: host, kubeconfig: testenv.StartBinary(t, host).Kubeconfig, plugin: testenv.BuildPlugin(t)}

	loop := []string{testenv.BusyboxImage, "sh", "-c", "trap 'exit 0' TERM; i=0; while :; do i=$((i+1)); echo tick$i; sleep 0.2; done"}
	web, webID := e.container(t, "web", loop...)
	// Paced: Docker copies stdout and stderr apart, so lines written at once
	// may be logged in either order.
	done, doneID := e.container(t, "done", testenv.BusyboxImage, "sh", "-c",
		"echo out1; sleep 0.1; echo err1 >&2; sleep 0.1; echo out2; sleep 0.1; echo err2 >&2; exit 4")
	e.waitMirrored(t, web, "running")
	e.waitMirrored(t, done, "exited")

	t.Run("help", func(t *testing.T) {
		out := e.ok(t, "--help")
		for _, sub := range []string{"ps", "logs", "exec", "stats", "start", "stop", "restart", "pause", "unpause", "rm", "--kubeconfig", "--context", "--namespace"} {
			if !strings.Contains(out, sub) {
				t.Errorf("--help lacks %s:\n%s", sub, out)
			}
		}
		for _, sub := range []string{"ps", "logs", "exec", "stats", "start", "stop", "restart", "pause", "unpause", "rm"} {
			if out := e.ok(t, sub, "--help"); !strings.Contains(out, "Examples:") || !strings.Contains(out, "kubectl container "+sub) {
				t.Errorf("%s --help has no examples:\n%s", sub, out)
			}
		}
	})

	t.Run("ps", func(t *testing.T) {
		out := e.ok(t, "ps")
		header := strings.SplitN(out, "\n", 2)[0]
		for _, col := range []string{"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"} {
			if !strings.Contains(header, col) {
				t.Errorf("header lacks %s: %q", col, header)
			}
		}
		if !regexp.MustCompile(`(?m)^` + webID[:12] + ` .* Up .* ` + web + `$`).MatchString(out) {
			t.Errorf("ps does not show %s running:\n%s", web, out)
		}
		if strings.Contains(out, done) {
			t.Errorf("ps shows the exited %s:\n%s", done, out)
		}
		if out := e.ok(t, "ps", "-a"); !regexp.MustCompile(`(?m)^` + doneID[:12] + ` .* Exited \(4\) .* ` + done + `$`).MatchString(out) {
			t.Errorf("ps -a does not show %s exited:\n%s", done, out)
		}
		if out := e.ok(t, "ps", "-a", "-o", "wide"); !strings.Contains(out, webID) {
			t.Errorf("ps -o wide lacks the full ID %s:\n%s", webID, out)
		}
		if out := e.ok(t, "ps", "-a", "-o", "name", "-l", "io.rancherdesktop.test.plugin in (web,done)"); !containsLines(out, web, done) {
			t.Errorf("ps -o name -l: want %s and %s:\n%s", web, done, out)
		}
		var list struct {
			Kind, APIVersion string
			Items            []struct{ Metadata struct{ Name string } }
		}
		if err := json.Unmarshal([]byte(e.ok(t, "ps", "-o", "json", "-l", "io.rancherdesktop.test.plugin=web")), &list); err != nil {
			t.Fatal(err)
		}
		if list.Kind != "ContainerList" || list.APIVersion != "containers.rancherdesktop.io/v1alpha1" || len(list.Items) != 1 || list.Items[0].Metadata.Name != webID {
			t.Errorf("ps -o json: %+v", list)
		}
		if out := e.ok(t, "ps", "-o", "yaml", "-l", "io.rancherdesktop.test.plugin=web"); !strings.Contains(out, "kind: ContainerList") || !strings.Contains(out, "name: "+webID) {
			t.Errorf("ps -o yaml:\n%s", out)
		}
		e.fails(t, 1, `unknown output format "table"`, "ps", "-o", "table")
		e.fails(t, 1, "unable to parse requirement", "ps", "-l", "a b c")
	})

	t.Run("names", func(t *testing.T) {
		for _, n := range []string{web, webID, webID[:12], webID[:5], "/" + web} {
			if out := e.ok(t, "logs", "--tail", "1", n); !strings.HasPrefix(out, "tick") {
				t.Errorf("logs %s: %q", n, out)
			}
		}
		e.fails(t, 1, "no such container: nosuch-"+web, "logs", "nosuch-"+web)
		// Containers until two share the first hex digit of their IDs (at
		// most 17): that digit is an ambiguous prefix.
		byDigit := map[byte]string{}
		for range 17 {
			n := testenv.UniqueName(t, "amb")
			id := e.docker(t, "create", "--name", n, testenv.BusyboxImage, "true")
			t.Cleanup(func() { _, _ = testenv.Docker(context.Background(), host, "rm", "-f", id) })
			if other, ok := byDigit[id[0]]; ok {
				e.waitMirrored(t, n, "created")
				e.waitMirrored(t, other, "created")
				e.fails(t, 1, fmt.Sprintf("%q is ambiguous", id[:1]), "logs", id[:1])
				return
			}
			byDigit[id[0]] = n
		}
		t.Fatal("17 IDs with different first digits")
	})

	t.Run("logs", func(t *testing.T) {
		if out := e.ok(t, "logs", done); out != "out1\nerr1\nout2\nerr2\n" {
			t.Errorf("logs: %q", out)
		}
		if out := e.ok(t, "logs", "--stdout", done); out != "out1\nout2\n" {
			t.Errorf("logs --stdout: %q", out)
		}
		if out := e.ok(t, "logs", "--stderr", done); out != "err1\nerr2\n" {
			t.Errorf("logs --stderr: %q", out)
		}
		if out := e.ok(t, "logs", "--tail", "1", done); out != "err2\n" {
			t.Errorf("logs --tail 1: %q", out)
		}
		ts := e.ok(t, "logs", "--timestamps", "--stdout", done)
		m := regexp.MustCompile(`(?m)^(\S+) out1$`).FindStringSubmatch(ts)
		if m == nil {
			t.Fatalf("logs --timestamps: %q", ts)
		}
		// Resuming at a timestamp with its nanoseconds: that line first.
		if out := e.ok(t, "logs", "--stdout", "--since-time", m[1], done); out != "out1\nout2\n" {
			t.Errorf("logs --since-time %s: %q", m[1], out)
		}
		if out := e.ok(t, "logs", "--until-time", "2000-01-01T00:00:00Z", done); out != "" {
			t.Errorf("logs --until-time before the first line: %q", out)
		}
		if out := e.ok(t, "logs", "--since", "1h", "--stdout", done); out != "out1\nout2\n" {
			t.Errorf("logs --since 1h: %q", out)
		}
		if out := e.ok(t, "logs", "--limit-bytes", "3", "--stdout", done); out != "out" {
			t.Errorf("logs --limit-bytes 3: %q", out)
		}
		// Merged: each line after its container's name.
		out := e.ok(t, "logs", "-l", "io.rancherdesktop.test.plugin in (web,done)", "--tail", "1")
		if !regexp.MustCompile(`(?m)^`+done+` +\| err2$`).MatchString(out) || !regexp.MustCompile(`(?m)^`+web+` +\| tick\d+$`).MatchString(out) {
			t.Errorf("merged logs:\n%s", out)
		}
		e.fails(t, 1, "--since-time \"yesterday\": give an RFC 3339 time", "logs", "--since-time", "yesterday", web)
		e.fails(t, 1, "--until-time works on one container's log", "logs", "-l", "a=b", "--until-time", m[1])
		e.fails(t, 1, "name one container, or give -l SELECTOR", "logs")
		e.fails(t, 1, "none of the others can be", "logs", "--stdout", "--stderr", web)
		e.fails(t, 1, "unable to parse requirement", "logs", "-l", "a b c")
	})

	t.Run("logs -f", func(t *testing.T) {
		// Interrupted: Ctrl-C ends it at once, quietly, with 130.
		s := e.start(t, "logs", "-f", "--tail", "0", web)
		s.waitLine(t, regexp.MustCompile(`^tick\d+$`))
		if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		if code := s.wait(t); code != 130 || s.stderr() != "" {
			t.Errorf("logs -f after Ctrl-C: exit %d, stderr %q; want 130 and nothing", code, s.stderr())
		}

		// Ends with the container's run; --follow-restarts goes on, with the
		// marker, until the container is removed.
		name, _ := e.container(t, "rst", testenv.BusyboxImage, "sh", "-c", "trap 'exit 0' TERM; echo start; while :; do sleep 0.2; done")
		e.waitMirrored(t, name, "running")
		plain := e.start(t, "logs", "-f", name)
		restarts := e.start(t, "logs", "--follow-restarts", name)
		plain.waitLine(t, regexp.MustCompile(`^start$`))
		restarts.waitLine(t, regexp.MustCompile(`^start$`))
		e.docker(t, "restart", "-t", "1", name)
		if code := plain.wait(t); code != 0 {
			t.Errorf("logs -f over a restart: exit %d, stderr %q", code, plain.stderr())
		}
		restarts.waitLine(t, regexp.MustCompile(`^--- containers-apiserver: exited with code 0 .*started again.* ---$`))
		restarts.waitLine(t, regexp.MustCompile(`^start$`))
		e.docker(t, "rm", "-f", name)
		if code := restarts.wait(t); code != 0 {
			t.Errorf("logs --follow-restarts after rm: exit %d, stderr %q", code, restarts.stderr())
		}
	})

	t.Run("exec", func(t *testing.T) {
		r := e.run(t, "", "exec", web, "--", "sh", "-c", "echo out; echo err >&2; exit 3")
		if r.code != 3 || r.stdout != "out\n" || r.stderr != "err\n" {
			t.Errorf("exec with exit 3: %s", r)
		}
		// Without "--", and flags after NAME go to the command.
		if r := e.run(t, "", "exec", "-u", "1234", "-w", "/tmp", "-e", "A=b c", web, "sh", "-c", `echo "$(id -u) $(pwd) $A" -n`); r.code != 0 || r.stdout != "1234 /tmp b c -n\n" {
			t.Errorf("exec -u -w -e: %s", r)
		}
		if r := e.run(t, "hello\nworld\n", "exec", "-i", web, "--", "cat"); r.code != 0 || r.stdout != "hello\nworld\n" {
			t.Errorf("exec -i cat: %s", r)
		}
		// -t with a pipe for input: kubectl's warning, then no terminal.
		if r := e.run(t, "x\n", "exec", "-it", web, "--", "cat"); r.code != 0 || r.stdout != "x\n" || !strings.Contains(r.stderr, "Unable to use a TTY") {
			t.Errorf("exec -it from a pipe: %s", r)
		}
		// -t alone: a terminal for the output (docker's behaviour).
		if r := e.run(t, "", "exec", "-t", web, "--", "sh", "-c", "[ -t 1 ] && echo tty"); r.code != 0 || r.stdout != "tty\r\n" {
			t.Errorf("exec -t: %s", r)
		}
		e.fails(t, 1, "is not running", "exec", done, "--", "true")
		e.fails(t, 1, "no command to run", "exec", web, "--")
	})

	t.Run("exec -it", func(t *testing.T) { e.execTTY(t, web) })

	t.Run("stats", func(t *testing.T) {
		var out string
		testenv.Eventually(t, deadline, "stats --no-stream", func() error {
			out = e.ok(t, "stats", "--no-stream")
			if !regexp.MustCompile(`(?m)^` + webID[:12] + ` +` + web + ` +\d+\.\d\d% +\S+ / \S+ +\d+\.\d\d% +\S+ / \S+ +\S+ / \S+ +\d+$`).MatchString(out) {
				return fmt.Errorf("no row for %s:\n%s", web, out)
			}
			return nil
		})
		for _, col := range []string{"CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"} {
			if !strings.Contains(strings.SplitN(out, "\n", 2)[0], col) {
				t.Errorf("stats header lacks %s:\n%s", col, out)
			}
		}
		// Named, just started: waits for the first sample.
		fresh, _ := e.container(t, "fresh", loop...)
		e.waitMirrored(t, fresh, "running")
		if out := e.ok(t, "stats", "--no-stream", fresh); strings.Count(out, "\n") != 2 || !strings.Contains(out, " "+fresh+" ") {
			t.Errorf("stats --no-stream %s:\n%s", fresh, out)
		}
		e.fails(t, 1, "container "+done+" is not running", "stats", done)

		// Live: a table per interval, until Ctrl-C.
		s := e.start(t, "stats", web)
		header := regexp.MustCompile(`^CONTAINER ID +NAME`)
		row := regexp.MustCompile(`^` + webID[:12] + ` +` + web + ` `)
		for range 2 {
			s.waitLine(t, header)
			s.waitLine(t, row)
		}
		if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		if code := s.wait(t); code != 130 {
			t.Errorf("stats after Ctrl-C: exit %d, stderr %q", code, s.stderr())
		}
	})

	t.Run("lifecycle", func(t *testing.T) {
		name, _ := e.container(t, "life", loop...)
		state := func() string { return e.docker(t, "inspect", "-f", "{{.State.Status}}", name) }
		for _, step := range []struct{ action, want string }{
			{"stop", "exited"}, {"start", "running"}, {"pause", "paused"}, {"unpause", "running"}, {"restart", "running"},
		} {
			if out := e.ok(t, step.action, name); out != name+"\n" {
				t.Errorf("%s: printed %q, want the name", step.action, out)
			}
			// Waited for: Docker is there already.
			if got := state(); got != step.want {
				t.Errorf("after %s: docker says %s, want %s", step.action, got, step.want)
			}
		}
		// Docker's refusal: its message, exit 1.
		bad := testenv.UniqueName(t, "bad")
		badID := e.docker(t, "create", "--name", bad, testenv.BusyboxImage, "/nonexistent")
		t.Cleanup(func() { _, _ = testenv.Docker(context.Background(), host, "rm", "-f", badID) })
		e.waitMirrored(t, bad, "created")
		e.fails(t, 1, "error: "+bad+": ", "start", bad)
		e.fails(t, 1, "/nonexistent", "start", bad)
		// --wait=false returns at once; the stop follows.
		e.ok(t, "stop", "--wait=false", name)
		testenv.Eventually(t, deadline, "stop --wait=false", func() error {
			if s := state(); s != "exited" {
				return fmt.Errorf("docker says %s", s)
			}
			return nil
		})
		e.fails(t, 1, "is not running", "pause", name)
		// Several names: one unknown fails them all before anything is done.
		e.fails(t, 1, "no such container: nosuch-"+name, "start", name, "nosuch-"+name)
		if s := state(); s != "exited" {
			t.Errorf("a start with an unknown name started %s (%s)", name, s)
		}
	})

	t.Run("rm", func(t *testing.T) {
		name, id := e.container(t, "rm", loop...)
		e.waitMirrored(t, name, "running")
		e.fails(t, 1, "stop the container before removing or force remove", "rm", name)
		if out := e.ok(t, "rm", "-f", id[:12]); out != id[:12]+"\n" {
			t.Errorf("rm -f printed %q", out)
		}
		if _, err := testenv.Docker(context.Background(), host, "inspect", id); err == nil {
			t.Errorf("%s is still there after rm -f", name)
		}
		e.ok(t, "rm", done)
		testenv.Eventually(t, deadline, "rm of a removed container", func() error {
			if r := e.run(t, "", "rm", done); r.code != 1 || !strings.Contains(r.stderr, "no such container: "+done) {
				return errors.New(r.String())
			}
			return nil
		})
	})
}

// started is a plugin run left going (a follow), its output read by line.
type started struct {
	cmd    *exec.Cmd
	lines  chan string
	mu     sync.Mutex
	errBuf bytes.Buffer // guarded by mu
	done   chan struct{}
}

func (s *started) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.errBuf.Write(p)
}

func (s *started) stderr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.errBuf.String()
}

// start starts `kubectl container args...`; the test's end kills it.
func (e *env) start(t *testing.T, args ...string) *started {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	s := &started{cmd: e.plugin.Command(ctx, e.kubeconfig, args...), lines: make(chan string, 1024), done: make(chan struct{})}
	s.cmd.Stderr = s
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { // ends at the output's end
		defer close(s.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-s.done
	})
	go func() { // ends with the process
		_ = s.cmd.Wait()
		close(s.done)
	}()
	return s
}

// waitLine reads lines until one matches re.
func (s *started) waitLine(t *testing.T, re *regexp.Regexp) {
	t.Helper()
	timeout := time.After(deadline)
	var seen []string
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				t.Fatalf("output ended before a line matching %s; saw %q; stderr %q", re, seen, s.stderr())
			}
			if re.MatchString(l) {
				return
			}
			seen = append(seen, l)
		case <-timeout:
			t.Fatalf("no line matching %s in %s; saw %q", re, deadline, seen)
		}
	}
}

// wait waits for the process's end and returns its exit code.
func (s *started) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(deadline):
		t.Fatalf("still running after %s", deadline)
	}
	for range s.lines { // drain
	}
	return s.cmd.ProcessState.ExitCode()
}

func containsLines(out string, want ...string) bool {
	lines := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		lines[strings.TrimSpace(l)] = true
	}
	for _, w := range want {
		if !lines[w] {
			return false
		}
	}
	return true
}

var _ io.Writer = (*started)(nil)

// execTTY runs `exec -it NAME -- sh` under a pseudo-terminal of 40x120: the
// shell sees that size at once and the new one after a resize, and its exit
// code is the plugin's.
func (e *env) execTTY(t *testing.T, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	cmd := e.plugin.Command(ctx, e.kubeconfig, "exec", "-it", name, "--", "sh")
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ptmx.Close() }()
	var mu sync.Mutex
	var screen bytes.Buffer // guarded by mu
	readDone := make(chan struct{})
	go func() { // ends when the terminal closes
		defer close(readDone)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	// expect types line until the screen shows want (typing again, as a
	// resize reaches the shell a moment after the window's change).
	expect := func(line, want string) {
		t.Helper()
		testenv.Eventually(t, deadline, "the terminal shows "+want, func() error {
			if _, err := io.WriteString(ptmx, line+"\r"); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if !strings.Contains(screen.String(), want) {
				return fmt.Errorf("screen so far: %q", screen.String())
			}
			return nil
		})
	}
	expect("stty size", "40 120")
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 50, Cols: 132}); err != nil {
		t.Fatal(err)
	}
	expect("stty size", "50 132")
	if _, err := io.WriteString(ptmx, "exit 7\r"); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		mu.Lock()
		defer mu.Unlock()
		t.Errorf("exec -it ... exit 7: %v; screen %q", err, screen.String())
	}
	_ = ptmx.Close()
	<-readDone
}
