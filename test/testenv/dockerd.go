package testenv

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv/hostenv"
)

// Dockerd is a test-owned private dockerd (the one hack/start-test-dockerd.sh
// NAME starts): tests may kill and restart it, never the shared engine.
type Dockerd struct {
	Name    string
	Host    string // unix:///.../docker.sock; the same across restarts
	PIDFile string

	d *hostenv.Dockerd
}

// StartDockerd starts a fresh test-owned dockerd NAME (leftovers of an
// earlier run are purged first) with the busybox test image. It is stopped
// and purged when the test ends.
func StartDockerd(t testing.TB, name string) *Dockerd {
	t.Helper()
	hd, err := hostenv.TestDockerd(name)
	if err != nil {
		t.Fatal(err)
	}
	// Diagnostics (a SIGKILL, an orphan containerd) go to the test log while
	// the test runs; Start may run in a goroutine the test waits for.
	var mu sync.Mutex
	done := false
	hd.Logf = func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			t.Logf("dockerd %s: "+format, append([]any{name}, args...)...)
		}
	}
	d := &Dockerd{Name: name, Host: hd.Host(), PIDFile: hd.Pidfile(), d: hd}
	if err := hd.Stop(context.Background(), true); err != nil {
		t.Fatalf("purging dockerd %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := hd.Stop(context.Background(), true); err != nil {
			t.Errorf("purging dockerd %s: %v", name, err)
		}
		mu.Lock()
		done = true
		mu.Unlock()
	})
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := Script("build-busybox-image.sh", "-H", d.Host); err != nil {
		t.Fatal(err)
	}
	return d
}

// Start starts the daemon (again, after Kill) on the same data root and
// returns once it answers. The address does not change.
func (d *Dockerd) Start() error {
	if !hostenv.DockerBinariesPresent() {
		// Installing them is apt's work, which stays in bash: the script
		// installs what is missing and starts the daemon, which Ensure then
		// finds running. Its output is not needed: the paths are fixed.
		if _, err := Script("start-test-dockerd.sh", d.Name); err != nil {
			return err
		}
	}
	host, err := d.d.Ensure(context.Background())
	if err != nil {
		return fmt.Errorf("dockerd %s: %w", d.Name, err)
	}
	if host != d.Host {
		return fmt.Errorf("dockerd %s moved from %s to %s", d.Name, d.Host, host)
	}
	return nil
}

// PID is the running daemon's process ID.
func (d *Dockerd) PID() (int, error) {
	return hostenv.ReadPidfile(d.PIDFile)
}

// Kill kills the daemon with SIGKILL, as a crash would; its containers'
// processes are left to the next Start (which stops them: no live-restore).
func (d *Dockerd) Kill() error {
	pid, err := d.PID()
	if err != nil {
		return err
	}
	return syscall.Kill(pid, syscall.SIGKILL)
}
