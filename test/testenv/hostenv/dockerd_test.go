package hostenv

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTestBridgeName(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"faults", "cat-faults"},
		{"apirestart", "cat-apirestart"},
		{"abcdefghijk", "cat-abcdefghijk"},  // 11 characters: 15 in all
		{"abcdefghijkl", "cat-abcdd682ed4"}, // 12: hashed
		{"faultsburst", "cat-faultsburst"},
		{"a.b", "cat-a-b2e7336d"}, // a dot is no interface name character
		{"faults.1", "cat-faulb9d1819"},
		{strings.Repeat("x", 40), "cat-xxxxbd913ff"},
		{"x", "cat-x"},
	} {
		got := TestBridgeName(tc.name)
		if got != tc.want {
			t.Errorf("TestBridgeName(%q) = %q, want %q", tc.name, got, tc.want)
		}
		if len(got) > 15 || got == "cadocker0" {
			t.Errorf("TestBridgeName(%q) = %q: not a usable interface name", tc.name, got)
		}
	}
}

func TestTestDockerd(t *testing.T) {
	base := t.TempDir()
	t.Setenv("CA_STATE_DIR", base)
	t.Setenv("CA_DOCKERD_START_TIMEOUT", "")
	t.Setenv("CA_DOCKERD_STOP_TIMEOUT", "7")
	t.Setenv("CA_DOCKERD_EXTRA_ARGS", " --live-restore   --debug ")
	d, err := TestDockerd("faults")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "test-dockerd-faults")
	if d.Dir != dir || d.Bridge != "cat-faults" || d.Namespace != "ca-test-faults" || d.StateBase != base {
		t.Errorf("TestDockerd(faults) = %+v", d)
	}
	if d.StartTimeout != 60*time.Second || d.StopTimeout != 7*time.Second {
		t.Errorf("timeouts %s, %s; want 60s, 7s", d.StartTimeout, d.StopTimeout)
	}
	if d.Host() != "unix://"+dir+"/docker.sock" || d.Pidfile() != dir+"/docker.pid" || d.LogFile() != dir+"/dockerd.log" {
		t.Errorf("paths: %s %s %s", d.Host(), d.Pidfile(), d.LogFile())
	}
	want := []string{
		"--host", "unix://" + dir + "/docker.sock",
		"--config-file", dir + "/daemon.json",
		"--data-root", dir + "/data",
		"--exec-root", dir + "/exec",
		"--pidfile", dir + "/docker.pid",
		"--bridge", "cat-faults",
		"--iptables=false",
		"--containerd-namespace", "ca-test-faults",
		"--containerd-plugins-namespace", "ca-test-faults-plugins",
		"--live-restore", "--debug",
	}
	if got := d.Args(); !slices.Equal(got, want) {
		t.Errorf("Args:\n got %q\nwant %q", got, want)
	}

	m, err := MainDockerd()
	if err != nil {
		t.Fatal(err)
	}
	if m.Dir != filepath.Join(base, "dockerd") || m.Bridge != "cadocker0" || m.Namespace != "ca-main" || m.Name != "" {
		t.Errorf("MainDockerd = %+v", m)
	}
}

func TestTestDockerdRefuses(t *testing.T) {
	t.Setenv("CA_STATE_DIR", t.TempDir())
	for _, name := range []string{"", "-x", ".x", "a/b", "a b", "ä", strings.Repeat("x", 41)} {
		if _, err := TestDockerd(name); err == nil {
			t.Errorf("TestDockerd(%q): no error", name)
		}
	}
	for _, v := range []string{"0", "-1", "1.5", "ten"} {
		t.Setenv("CA_DOCKERD_START_TIMEOUT", v)
		if _, err := TestDockerd("x"); err == nil {
			t.Errorf("CA_DOCKERD_START_TIMEOUT=%s: no error", v)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := Dockerd{Dir: "/tmp/x/test-dockerd-a", Bridge: "cat-a", Namespace: "ca-test-a", StateBase: "/tmp/x",
		StartTimeout: time.Second, StopTimeout: time.Second}
	if err := ok.validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Dockerd)
		want   string
	}{
		{"no bridge", func(d *Dockerd) { d.Bridge = "" }, "bridge"},
		// The rule: never --bridge=none.
		{"bridge none", func(d *Dockerd) { d.Bridge = "none" }, "--bridge=none"},
		{"no dir", func(d *Dockerd) { d.Dir = "" }, "state dir"},
		{"no timeout", func(d *Dockerd) { d.StopTimeout = 0 }, "timeouts"},
		{"long dir", func(d *Dockerd) { d.Dir = "/tmp/" + strings.Repeat("d", 70) }, "too long"},
	} {
		d := ok
		tc.change(&d)
		err := d.validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: validate = %v, want an error about %q", tc.name, err, tc.want)
		}
		// Ensure and Stop refuse before they touch anything.
		if _, err := d.Ensure(context.Background()); err == nil {
			t.Errorf("%s: Ensure did not refuse", tc.name)
		}
		if err := d.Stop(context.Background(), true); err == nil {
			t.Errorf("%s: Stop did not refuse", tc.name)
		}
	}
}

func TestPrepareStateBase(t *testing.T) {
	tmp := t.TempDir()
	base := filepath.Join(tmp, "a", "b")
	if err := PrepareStateBase(base); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(base); err != nil || !fi.IsDir() {
		t.Fatalf("not created: %v", err)
	}
	if err := PrepareStateBase(base); err != nil {
		t.Fatalf("again: %v", err)
	}
	link := filepath.Join(tmp, "link")
	if err := os.Symlink(base, link); err != nil {
		t.Fatal(err)
	}
	if err := PrepareStateBase(link); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("a symlink: %v", err)
	}
}

func TestLogTail(t *testing.T) {
	d := Dockerd{Dir: t.TempDir()}
	if got := d.logTail(); got != "" {
		t.Errorf("no log: %q", got)
	}
	var lines []string
	for i := range 50 {
		lines = append(lines, "line "+string(rune('a'+i%26)))
	}
	if err := os.WriteFile(d.LogFile(), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := d.logTail()
	if !strings.HasPrefix(got, "\nlast lines of "+d.LogFile()+":\n") || strings.Count(got, "line ") != 40 ||
		!strings.HasSuffix(got, lines[49]) {
		t.Errorf("logTail = %q", got)
	}
}

// fakeEngine serves GET /version on a unix socket, as dockerd does.
func fakeEngine(t *testing.T, status int) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/version" {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(status)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return "unix://" + sock
}

func TestAnswers(t *testing.T) {
	ctx := context.Background()
	if host := fakeEngine(t, http.StatusOK); !Answers(ctx, host) {
		t.Errorf("%s answers 200 but Answers is false", host)
	}
	if host := fakeEngine(t, http.StatusInternalServerError); Answers(ctx, host) {
		t.Errorf("%s answers 500 but Answers is true", host)
	}
	if Answers(ctx, "unix://"+filepath.Join(t.TempDir(), "none.sock")) {
		t.Error("a missing socket answers")
	}
}

func TestFindDockerPrefersDockerHost(t *testing.T) {
	t.Setenv("CA_STATE_DIR", t.TempDir())
	host := fakeEngine(t, http.StatusOK)
	t.Setenv("DOCKER_HOST", host)
	if got, ok := FindDocker(context.Background(), t.Logf); !ok || got != host {
		t.Errorf("FindDocker = %q, %v; want %q", got, ok, host)
	}
}
