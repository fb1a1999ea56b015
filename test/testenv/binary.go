package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Binary is containers-apiserver running as its own process, built from
// cmd/apiserver with the race detector, standalone.
type Binary struct {
	URL        string
	Token      string
	Kubeconfig string
	// Log is the file holding the process's stdout and stderr.
	Log string

	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has been waited for
	err    error         // what Wait returned; set before exited is closed
}

// StartBinary builds the server with the race detector and runs it
// standalone against dockerHost on a free port, with extra flags appended,
// and waits until /readyz answers 200. Whatever is still running when the
// test ends is sent SIGTERM, then SIGKILL after a minute.
func StartBinary(t testing.TB, dockerHost string, extra ...string) *Binary {
	t.Helper()
	return StartBinaryWith(t, dockerHost, BinaryOptions{Race: true}, extra...)
}

// BinaryOptions adjust StartBinaryWith.
type BinaryOptions struct {
	// Race builds with the race detector (which multiplies memory use: off
	// for measurements of the server's own memory).
	Race bool
}

// StartBinaryWith is StartBinary with options.
func StartBinaryWith(t testing.TB, dockerHost string, o BinaryOptions, extra ...string) *Binary {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "containers-apiserver")
	args := []string{"build", "-o", bin}
	if o.Race {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "./cmd/apiserver")...)
	build.Dir = Root()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()

	b := &Binary{
		URL:        "https://127.0.0.1:" + strconv.Itoa(port),
		Kubeconfig: filepath.Join(dir, "kubeconfig"),
		Log:        filepath.Join(dir, "server.log"),
		exited:     make(chan struct{}),
	}
	logFile, err := os.Create(b.Log)
	if err != nil {
		t.Fatal(err)
	}
	flags := append([]string{"--standalone", "--secure-port", strconv.Itoa(port),
		"--cert-dir", filepath.Join(dir, "certs"), "--token-file", filepath.Join(dir, "token"),
		"--write-kubeconfig", b.Kubeconfig, "--docker-host", dockerHost}, extra...)
	b.cmd = exec.Command(bin, flags...)
	b.cmd.Stdout, b.cmd.Stderr = logFile, logFile
	// Killed with the test binary, even when that dies without cleanups.
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		b.err = b.cmd.Wait()
		_ = logFile.Close()
		close(b.exited)
	}()
	t.Cleanup(func() {
		_ = b.Signal(syscall.SIGTERM)
		if _, err := b.Wait(time.Minute); err != nil {
			_ = b.cmd.Process.Kill()
			<-b.exited
		}
		if t.Failed() {
			t.Logf("server log (%s), last 3000 bytes:\n%s", b.Log, tail(b.Output(), 3000))
		}
	})

	// Server's readiness wait, told of the process's exit. The forwarding
	// goroutine ends with the process, which the cleanup above makes sure of.
	probe := &Server{URL: b.URL, Kubeconfig: b.Kubeconfig, done: make(chan error, 1)}
	go func() {
		<-b.exited
		probe.done <- b.err
	}()
	if err := probe.waitReady(time.Minute); err != nil {
		t.Fatalf("the server binary: %v\n%s", err, tail(b.Output(), 3000))
	}
	token, err := os.ReadFile(filepath.Join(dir, "token"))
	if err != nil {
		t.Fatal(err)
	}
	b.Token = string(bytesTrimSpace(token))
	return b
}

// PID is the server process's ID.
func (b *Binary) PID() int { return b.cmd.Process.Pid }

// Signal sends sig to the server process; nil if it has exited already.
func (b *Binary) Signal(sig os.Signal) error {
	select {
	case <-b.exited:
		return nil
	default:
	}
	return b.cmd.Process.Signal(sig)
}

// Wait waits up to timeout for the process to exit and returns its exit code
// (-1 when a signal ended it); the error says when it did not exit in time.
func (b *Binary) Wait(timeout time.Duration) (int, error) {
	select {
	case <-b.exited:
	case <-time.After(timeout):
		return 0, fmt.Errorf("the server did not exit within %s", timeout)
	}
	var exitErr *exec.ExitError
	if b.err != nil && !errors.As(b.err, &exitErr) {
		return 0, b.err
	}
	return b.cmd.ProcessState.ExitCode(), nil
}

// Output is what the process has written to stdout and stderr so far.
func (b *Binary) Output() string {
	out, _ := os.ReadFile(b.Log)
	return string(out)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
