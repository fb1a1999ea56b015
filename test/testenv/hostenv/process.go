package hostenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// sbinDirs hold ip, dockerd, containerd, runc and docker-proxy, but are often
// missing from a non-login PATH (`go test`, sudo without -i).
var sbinDirs = []string{"/usr/local/sbin", "/usr/sbin", "/sbin"}

// searchPath is $PATH with the sbin dirs it lacks appended.
func searchPath() string {
	path := os.Getenv("PATH")
	have := filepath.SplitList(path)
	for _, d := range sbinDirs {
		if !slices.Contains(have, d) {
			path += string(filepath.ListSeparator) + d
		}
	}
	return strings.TrimPrefix(path, string(filepath.ListSeparator))
}

// LookPath finds a program on searchPath.
func LookPath(name string) (string, error) {
	for _, dir := range filepath.SplitList(searchPath()) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH or %s", name, strings.Join(sbinDirs, ":"))
}

// command is exec.CommandContext on searchPath, with that PATH in the
// child's environment too: dockerd starts containerd, runc and docker-proxy
// by name.
func command(ctx context.Context, name string, args ...string) (*exec.Cmd, error) {
	p, err := LookPath(name)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, p, args...) //nolint:gosec // the programs (ip, dockerd, runc, docker) and their arguments are this package's own
	cmd.Env = append(os.Environ(), "PATH="+searchPath())
	return cmd, nil
}

// WaitGone waits until pid has exited (a zombie counts), at most timeout,
// and reports whether it did. It waits on a pidfd, which becomes readable
// when the process exits; where pidfd_open is missing (Linux < 5.3) it
// polls /proc.
func WaitGone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	fd, err := unix.PidfdOpen(pid, 0)
	switch {
	case errors.Is(err, unix.ESRCH):
		return true
	case err == nil:
		defer func() { _ = unix.Close(fd) }()
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			left := time.Until(deadline)
			if left <= 0 {
				return !HostProc.Alive(pid)
			}
			n, err := unix.Poll(fds, int(left.Milliseconds())+1)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				break // fall back to polling
			}
			if n > 0 {
				return true
			}
		}
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for HostProc.Alive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// Terminate sends SIGTERM to pid and waits up to grace for it to exit, then
// sends SIGKILL and waits up to 10 s more. logf (may be nil) hears about the
// SIGKILL. A pid that is already gone is no error.
func Terminate(pid int, what string, grace time.Duration, logf func(string, ...any)) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); errors.Is(err, syscall.ESRCH) {
		return nil
	}
	if WaitGone(pid, grace) {
		return nil
	}
	if logf != nil {
		logf("%s (%d) ignored SIGTERM for %s, sending SIGKILL", what, pid, grace)
	}
	return Kill(pid, what)
}

// Kill sends SIGKILL to pid and waits up to 10 s for it to exit.
func Kill(pid int, what string) error {
	if err := syscall.Kill(pid, syscall.SIGKILL); errors.Is(err, syscall.ESRCH) {
		return nil
	}
	if !WaitGone(pid, 10*time.Second) {
		return fmt.Errorf("%s (%d) survived SIGKILL", what, pid)
	}
	return nil
}

// StopPidfile stops the process a pidfile names (SIGTERM, then SIGKILL
// after grace) if match accepts its pid, and removes the pidfile. A missing
// pidfile, a dead process or a pid now used by another program is no error.
func StopPidfile(pidfile, what string, grace time.Duration, match func(pid int) bool, logf func(string, ...any)) error {
	pid, ok := HostProc.PidfileProcess(pidfile, match)
	_ = os.Remove(pidfile)
	if !ok {
		return nil
	}
	return Terminate(pid, what, grace, logf)
}

// lockFile takes an exclusive flock(2) on path (created if need be), the
// same lock as flock(1) in the scripts, waiting at most timeout. The
// returned func releases it. The descriptor is close-on-exec, so a daemon
// started while it is held does not keep it.
func lockFile(path string, timeout time.Duration) (func(), error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	// flock(2) has no timeout: try, and poll until the deadline (another
	// start or stop holds it for seconds, not milliseconds).
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			_ = f.Close()
			return nil, fmt.Errorf("timed out after %s waiting for %s", timeout, path)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// RequireRoot fails unless the process runs as root.
func RequireRoot(what string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s needs root (run as root or via sudo)", what)
	}
	return nil
}
