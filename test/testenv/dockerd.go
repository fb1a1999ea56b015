package testenv

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Dockerd is a test-owned private dockerd (hack/start-test-dockerd.sh NAME):
// tests may kill and restart it, never the shared engine.
type Dockerd struct {
	Name    string
	Host    string // unix:///.../docker.sock; the same across restarts
	PIDFile string
}

// StartDockerd starts a fresh test-owned dockerd NAME (leftovers of an
// earlier run are purged first) with the busybox test image. It is stopped
// and purged when the test ends.
func StartDockerd(t testing.TB, name string) *Dockerd {
	t.Helper()
	if _, err := Script("stop-test-dockerd.sh", name, "--purge"); err != nil {
		t.Fatal(err)
	}
	d := &Dockerd{Name: name}
	t.Cleanup(func() {
		if _, err := Script("stop-test-dockerd.sh", name, "--purge"); err != nil {
			t.Errorf("purging dockerd %s: %v", name, err)
		}
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
	out, err := Script("start-test-dockerd.sh", d.Name)
	if err != nil {
		return err
	}
	host, pidfile := "", ""
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if v, ok := strings.CutPrefix(l, "PIDFILE="); ok {
			pidfile = v
		} else {
			host = l
		}
	}
	if !strings.HasPrefix(host, "unix://") || pidfile == "" {
		return fmt.Errorf("start-test-dockerd.sh %s: no socket and pidfile in %q", d.Name, out)
	}
	if d.Host != "" && host != d.Host {
		return fmt.Errorf("dockerd %s moved from %s to %s", d.Name, d.Host, host)
	}
	d.Host, d.PIDFile = host, pidfile
	return nil
}

// PID is the running daemon's process ID.
func (d *Dockerd) PID() (int, error) {
	b, err := os.ReadFile(d.PIDFile)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
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
