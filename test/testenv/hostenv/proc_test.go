package hostenv

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fakeProc is a process in a fake /proc tree.
type fakeProc struct {
	pid   int
	comm  string
	state string // stat's state field: R, S, Z...
	args  []string
}

// writeProc builds a fake proc(5) tree in a temp dir; stat's comm has a
// space and a ')' in it, as a real one may.
func writeProc(t *testing.T, procs ...fakeProc) Proc {
	t.Helper()
	root := t.TempDir()
	for _, p := range procs {
		dir := filepath.Join(root, strconv.Itoa(p.pid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		cmdline := ""
		if p.state != "Z" { // a zombie's cmdline is empty
			for _, a := range p.args {
				cmdline += a + "\x00"
			}
		}
		files := map[string]string{
			"comm":    p.comm + "\n",
			"cmdline": cmdline,
			"stat":    strconv.Itoa(p.pid) + " (" + p.comm + " x) " + p.state + " 1 1 1 0 -1",
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Not processes: the tree has these too.
	for _, name := range []string{"self", "net", "0123"} {
		if err := os.MkdirAll(filepath.Join(root, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return Proc{Root: root}
}

const (
	stateDir = "/tmp/containers-apiserver/test-dockerd-faults"
	pidfile  = stateDir + "/docker.pid"
)

var fakeHost = []fakeProc{
	{1, "init", "S", []string{"/sbin/init"}},
	{100, "dockerd", "S", []string{"dockerd", "--host", "unix://" + stateDir + "/docker.sock", "--pidfile", pidfile, "--bridge", "cat-faults", "--iptables=false"}},
	{101, "containerd", "S", []string{"containerd", "--config", stateDir + "/exec/containerd/containerd.toml"}},
	{102, "containerd-shim", "S", []string{"/usr/bin/containerd-shim-runc-v2", "-namespace", "ca-test-faults", "-address", stateDir + "/exec/containerd/containerd.sock"}},
	{103, "sleep", "Z", []string{"sleep", "1000", stateDir + "/exec/x"}},
	{200, "dockerd", "S", []string{"dockerd", "-b", "cadocker0", "-p", "/tmp/other/docker.pid"}},
	{201, "dockerd", "S", []string{"dockerd", "--bridge=cat-faults", "--pidfile=/tmp/elsewhere/docker.pid"}},
	{202, "dockerd", "S", []string{"dockerd", "--bridge", "cat-faults"}},
	{203, "bash", "S", []string{"bash", "-c", "dockerd --bridge cat-faults"}},
	{300, "catool", "S", []string{"catool", "dockerd", "stop", stateDir + "/exec/"}},
}

func TestProcRead(t *testing.T) {
	p := writeProc(t, fakeHost...)
	pids, err := p.Pids()
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 100, 101, 102, 103, 200, 201, 202, 203, 300}; !slices.Equal(pids, want) {
		t.Errorf("Pids = %v, want %v", pids, want)
	}
	if got := p.Comm(100); got != "dockerd" {
		t.Errorf("Comm(100) = %q", got)
	}
	if got := p.Cmdline(101); !slices.Equal(got, fakeHost[2].args) {
		t.Errorf("Cmdline(101) = %q", got)
	}
	for _, tc := range []struct {
		pid   int
		alive bool
	}{{100, true}, {103, false}, {999, false}, {0, false}, {-1, false}} {
		if got := p.Alive(tc.pid); got != tc.alive {
			t.Errorf("Alive(%d) = %v, want %v", tc.pid, got, tc.alive)
		}
	}
	if !p.HasArg(100, pidfile) || p.HasArg(100, stateDir) || p.HasArg(999, pidfile) {
		t.Error("HasArg matches more or less than whole arguments")
	}
}

func TestPidsMentioning(t *testing.T) {
	p := writeProc(t, fakeHost...)
	for _, tc := range []struct {
		s      string
		except []int
		want   []int
	}{
		// The zombie (103) is gone; the caller (300) is left out.
		{stateDir + "/exec/", []int{300}, []int{101, 102}},
		{stateDir + "/exec/", nil, []int{101, 102, 300}},
		{stateDir, []int{300}, []int{100, 101, 102}},
		{"/nowhere/", nil, nil},
	} {
		got, err := p.PidsMentioning(tc.s, tc.except...)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("PidsMentioning(%q, except %v) = %v, want %v", tc.s, tc.except, got, tc.want)
		}
	}
}

func TestPidfileProcess(t *testing.T) {
	p := writeProc(t, fakeHost...)
	dir := t.TempDir()
	write := func(name, content string) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	ourDockerd := func(pid int) bool { return p.HasArg(pid, pidfile) }
	for _, tc := range []struct {
		name    string
		content string
		pid     int // 0: none
	}{
		{"ours", "100\n", 100},
		{"reused", "1\n", 0}, // the pid now belongs to init
		{"zombie", "103", 0},
		{"gone", "4242\n", 0},
		{"empty", "", 0},
		{"garbage", "10O\n", 0},
		{"negative", "-100", 0},
		{"sign", "+100", 0},
	} {
		pid, ok := p.PidfileProcess(write(tc.name, tc.content), ourDockerd)
		if ok != (tc.pid != 0) || pid != tc.pid {
			t.Errorf("%s: PidfileProcess = %d, %v; want %d", tc.name, pid, ok, tc.pid)
		}
	}
	if _, ok := p.PidfileProcess(filepath.Join(dir, "missing"), ourDockerd); ok {
		t.Error("a missing pidfile names a process")
	}
}

func TestDockerdFlags(t *testing.T) {
	for _, tc := range []struct {
		args            []string
		bridge, pidfile string
	}{
		{[]string{"dockerd", "--bridge", "b0", "--pidfile", "/p"}, "b0", "/p"},
		{[]string{"dockerd", "-b", "b0", "-p", "/p"}, "b0", "/p"},
		{[]string{"dockerd", "--bridge=b0", "--pidfile=/p"}, "b0", "/p"},
		{[]string{"dockerd", "--bridge=none"}, "none", ""},
		{[]string{"dockerd"}, "", ""},
		{[]string{"dockerd", "--bridge"}, "", ""}, // a flag without its value
	} {
		b, pf := DockerdFlags(tc.args)
		if b != tc.bridge || pf != tc.pidfile {
			t.Errorf("DockerdFlags(%q) = %q, %q; want %q, %q", tc.args, b, pf, tc.bridge, tc.pidfile)
		}
	}
}

func TestDockerdsOnBridge(t *testing.T) {
	p := writeProc(t, fakeHost...)
	got, err := p.DockerdsOnBridge("cat-faults")
	if err != nil {
		t.Fatal(err)
	}
	// 203 is a bash whose command line names the bridge: not a dockerd.
	want := []BridgeUser{{100, pidfile}, {201, "/tmp/elsewhere/docker.pid"}, {202, ""}}
	if !slices.Equal(got, want) {
		t.Errorf("DockerdsOnBridge = %v, want %v", got, want)
	}
	if got, _ := p.DockerdsOnBridge("cat-nobody"); len(got) != 0 {
		t.Errorf("DockerdsOnBridge(cat-nobody) = %v", got)
	}
}

func TestMountsUnder(t *testing.T) {
	d := stateDir
	mountinfo := strings.Join([]string{
		"22 1 0:21 / / rw,relatime - ext4 /dev/sda1 rw",
		"30 22 0:30 / " + d + " rw - tmpfs tmpfs rw",
		"31 22 0:31 / " + d + "/data/overlay2/abc/merged rw - overlay overlay rw",
		"32 22 0:4 net:[4026532] " + d + "/exec/netns/1a2b rw - nsfs nsfs rw",
		"33 31 0:32 / " + d + "/data/containers/abc/mounts/shm rw - tmpfs shm rw",
		"34 22 0:33 / " + d + "-other/data rw - tmpfs tmpfs rw", // a sibling dir, not below
		"35 22 0:34 / " + d + "/data/with\\040space rw - tmpfs tmpfs rw",
		"36 22 0:34 / " + d + "/data/with\\040space rw - tmpfs tmpfs rw", // mounted twice
		"",
	}, "\n")
	got := MountsUnder(mountinfo, d+"/")
	want := []string{
		d + "/exec/netns/1a2b",
		d + "/data/with space",
		d + "/data/overlay2/abc/merged",
		d + "/data/containers/abc/mounts/shm",
	}
	if !slices.Equal(got, want) {
		t.Errorf("MountsUnder:\n got %q\nwant %q", got, want)
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{
		`/a\040b`:    "/a b",
		`/tab\011`:   "/tab\t",
		`/back\134s`: `/back\s`,
		`/short\04`:  `/short\04`,
		`/not\08a`:   `/not\08a`,
		`/plain`:     "/plain",
	} {
		if got := unescapeMountinfo(in); got != want {
			t.Errorf("unescapeMountinfo(%q) = %q, want %q", in, got, want)
		}
	}
}
