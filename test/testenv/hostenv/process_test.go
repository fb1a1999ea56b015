package hostenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// child starts a process that the test reaps when it ends; ignoreTERM makes
// it ignore SIGTERM, as a wedged daemon would.
func child(t *testing.T, ignoreTERM bool) *exec.Cmd {
	t.Helper()
	script := "exec sleep 300"
	if ignoreTERM {
		script = `trap "" TERM; exec sleep 300`
	}
	cmd := exec.Command("sh", "-c", script)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	// Once sh has exec'd sleep, its signal dispositions are final.
	if !waitFor(func() bool { return HostProc.Comm(cmd.Process.Pid) == "sleep" }) {
		t.Fatal("the child never became sleep")
	}
	return cmd
}

// waitFor polls cond for up to 10 s: nothing signals that a child has
// exec'd.
func waitFor(cond func() bool) bool {
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

func TestWaitGone(t *testing.T) {
	cmd := child(t, false)
	pid := cmd.Process.Pid
	start := time.Now()
	if WaitGone(pid, 100*time.Millisecond) {
		t.Fatal("WaitGone: a running process is gone")
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 5*time.Second {
		t.Errorf("WaitGone took %s for a 100ms timeout", d)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// Unreaped, the child is a zombie: gone all the same.
	if !WaitGone(pid, 10*time.Second) {
		t.Fatal("WaitGone: a killed process (a zombie) is not gone")
	}
	_ = cmd.Wait()
	if !WaitGone(pid, time.Second) {
		t.Fatal("WaitGone: a reaped process is not gone")
	}
}

func TestTerminate(t *testing.T) {
	for _, tc := range []struct {
		name       string
		ignoreTERM bool
		killed     bool // needed SIGKILL
	}{
		{"obeys SIGTERM", false, false},
		{"ignores SIGTERM", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := child(t, tc.ignoreTERM)
			var logged []string
			logf := func(format string, args ...any) { logged = append(logged, format) }
			if err := Terminate(cmd.Process.Pid, "sleep", 200*time.Millisecond, logf); err != nil {
				t.Fatal(err)
			}
			if HostProc.Alive(cmd.Process.Pid) {
				t.Fatal("still alive after Terminate")
			}
			if got := len(logged) == 1; got != tc.killed {
				t.Errorf("SIGKILL logged %v, want %v (%q)", got, tc.killed, logged)
			}
		})
	}
	// A pid that is gone: nothing to do.
	cmd := child(t, false)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if err := Terminate(cmd.Process.Pid, "gone", time.Second, nil); err != nil {
		t.Errorf("Terminate of a gone pid: %v", err)
	}
}

func TestStopPidfile(t *testing.T) {
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "x.pid")
	cmd := child(t, false)
	pid := cmd.Process.Pid
	write := func() {
		if err := os.WriteFile(pidfile, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// A pid whose command line does not match (reused) is left alone.
	write()
	if err := StopPidfile(pidfile, "x", time.Second, func(p int) bool { return HostProc.HasArg(p, "nope") }, nil); err != nil {
		t.Fatal(err)
	}
	if !HostProc.Alive(pid) {
		t.Fatal("StopPidfile stopped a process that did not match")
	}
	if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
		t.Error("StopPidfile kept the pidfile")
	}

	write()
	if err := StopPidfile(pidfile, "x", time.Second, func(p int) bool { return HostProc.Mentions(p, "300") }, nil); err != nil {
		t.Fatal(err)
	}
	if HostProc.Alive(pid) {
		t.Fatal("StopPidfile did not stop a matching process")
	}
	// Nothing there any more: no error.
	if err := StopPidfile(pidfile, "x", time.Second, func(int) bool { return true }, nil); err != nil {
		t.Fatal(err)
	}
}

func TestLockFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".lock")
	unlock, err := lockFile(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// flock(2) locks belong to open file descriptions: a second open, in
	// this process as in another, waits.
	if _, err := lockFile(path, 200*time.Millisecond); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("second lock while held: %v, want a timeout", err)
	}
	unlock()
	unlock2, err := lockFile(path, time.Second)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock2()
}

func TestSearchPath(t *testing.T) {
	t.Setenv("PATH", "/usr/bin:/usr/sbin")
	if got, want := searchPath(), "/usr/bin:/usr/sbin:/usr/local/sbin:/sbin"; got != want {
		t.Errorf("searchPath = %q, want %q", got, want)
	}
	t.Setenv("PATH", "")
	if got, want := searchPath(), "/usr/local/sbin:/usr/sbin:/sbin"; got != want {
		t.Errorf("searchPath with no PATH = %q, want %q", got, want)
	}
	t.Setenv("PATH", "/usr/bin:/bin")
	if _, err := LookPath("sh"); err != nil {
		t.Error(err)
	}
	if _, err := LookPath("no-such-program-here"); err == nil {
		t.Error("LookPath found a program that does not exist")
	}
	if !slices.Contains(filepath.SplitList(searchPath()), "/sbin") {
		t.Error("no /sbin in the search path")
	}
}
