package hostenv

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Proc reads a proc(5) tree: "/proc" on the host, a fake one in tests.
type Proc struct {
	Root string
}

// HostProc is the host's /proc.
var HostProc = Proc{Root: "/proc"}

func (p Proc) path(pid int, name string) string {
	return filepath.Join(p.Root, strconv.Itoa(pid), name)
}

// Pids lists the processes, in ascending order.
func (p Proc) Pids() ([]int, error) {
	ents, err := os.ReadDir(p.Root)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid > 0 && e.Name() == strconv.Itoa(pid) {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids, nil
}

// Cmdline returns a process's arguments; a process that is gone (or a
// zombie, or a kernel thread) has none.
func (p Proc) Cmdline(pid int) []string {
	b, err := os.ReadFile(p.path(pid, "cmdline"))
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

// Comm returns a process's command name ("" if it is gone).
func (p Proc) Comm(pid int) string {
	b, err := os.ReadFile(p.path(pid, "comm"))
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

// Alive reports whether pid is a process that has not exited. A zombie (it
// exited, its parent has not reaped it yet) counts as gone: it holds nothing
// and will never run again.
func (p Proc) Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(p.path(pid, "stat"))
	if err != nil {
		return false
	}
	// "pid (comm) S ...": comm may hold spaces and parentheses, so the state
	// is the first field after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return false
	}
	f := strings.Fields(string(b[i+1:]))
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// HasArg reports whether one of pid's arguments is exactly arg: the check
// that a pid read from a pidfile still is the process that wrote it (pids
// get reused).
func (p Proc) HasArg(pid int, arg string) bool {
	return slices.Contains(p.Cmdline(pid), arg)
}

// Mentions reports whether pid's command line contains s anywhere.
func (p Proc) Mentions(pid int, s string) bool {
	b, err := os.ReadFile(p.path(pid, "cmdline"))
	return err == nil && bytes.Contains(b, []byte(s))
}

// PidsMentioning lists the live processes whose command line contains s,
// except the ones in except (the caller, whose own arguments may name s).
func (p Proc) PidsMentioning(s string, except ...int) ([]int, error) {
	pids, err := p.Pids()
	if err != nil {
		return nil, err
	}
	var out []int
	for _, pid := range pids {
		if !slices.Contains(except, pid) && p.Mentions(pid, s) && p.Alive(pid) {
			out = append(out, pid)
		}
	}
	return out, nil
}

// ReadPidfile returns the pid a pidfile holds.
func ReadPidfile(pidfile string) (int, error) {
	b, err := os.ReadFile(pidfile)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 || s != strconv.Itoa(pid) {
		return 0, fmt.Errorf("%s holds %q, not a pid", pidfile, s)
	}
	return pid, nil
}

// PidfileProcess returns the pid in pidfile if that process is alive and
// match accepts it; match guards against a reused pid.
func (p Proc) PidfileProcess(pidfile string, match func(pid int) bool) (int, bool) {
	pid, err := ReadPidfile(pidfile)
	if err != nil || !p.Alive(pid) || !match(pid) {
		return 0, false
	}
	return pid, true
}

// DockerdFlags returns the --bridge (-b) and --pidfile (-p) values of a
// dockerd command line, in any of the spellings dockerd accepts.
func DockerdFlags(args []string) (bridge, pidfile string) {
	for i, a := range args {
		next := ""
		if i+1 < len(args) {
			next = args[i+1]
		}
		switch {
		case a == "--bridge" || a == "-b":
			bridge = next
		case strings.HasPrefix(a, "--bridge="):
			bridge = strings.TrimPrefix(a, "--bridge=")
		case a == "--pidfile" || a == "-p":
			pidfile = next
		case strings.HasPrefix(a, "--pidfile="):
			pidfile = strings.TrimPrefix(a, "--pidfile=")
		}
	}
	return bridge, pidfile
}

// BridgeUser is a running dockerd attached to a bridge.
type BridgeUser struct {
	Pid     int
	Pidfile string // "" when it runs with the default pidfile
}

// DockerdsOnBridge lists the running dockerds whose --bridge is bridge.
func (p Proc) DockerdsOnBridge(bridge string) ([]BridgeUser, error) {
	pids, err := p.Pids()
	if err != nil {
		return nil, err
	}
	var users []BridgeUser
	for _, pid := range pids {
		if p.Comm(pid) != "dockerd" || !p.Alive(pid) {
			continue
		}
		if b, pf := DockerdFlags(p.Cmdline(pid)); b == bridge {
			users = append(users, BridgeUser{Pid: pid, Pidfile: pf})
		}
	}
	return users, nil
}

// MountsUnder returns the mount points in a mountinfo file (proc(5),
// /proc/self/mountinfo) that lie below dir, deepest first, so that each can
// be unmounted before the one it sits on.
func MountsUnder(mountinfo, dir string) []string {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	var mnts []string
	for _, line := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		if m := unescapeMountinfo(f[4]); strings.HasPrefix(m, prefix) {
			mnts = append(mnts, m)
		}
	}
	// Reverse lexical order puts every path after the paths below it.
	slices.Sort(mnts)
	slices.Reverse(mnts)
	return slices.Compact(mnts)
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for a space,
// \011, \012, \134) in a mountinfo path.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
