package hostenv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Dockerd is a private dockerd: a state dir (see the package doc), a bridge
// of its own and a containerd namespace of its own, so that it shares nothing
// with any other daemon on the host. Ensure starts it (or finds it running),
// Stop stops it and clears what an unclean death left behind.
type Dockerd struct {
	// Name is a test daemon's name (hack/start-test-dockerd.sh NAME); "" for
	// the project's main daemon.
	Name      string
	Dir       string
	Bridge    string
	Namespace string // containerd namespace; plugins get Namespace-plugins
	// StateBase is the parent of every state dir, $CA_STATE_DIR or
	// /tmp/containers-apiserver; it must belong to the caller.
	StateBase    string
	ExtraArgs    []string      // $CA_DOCKERD_EXTRA_ARGS, used only when a daemon is started
	StartTimeout time.Duration // $CA_DOCKERD_START_TIMEOUT seconds, 60 by default
	StopTimeout  time.Duration // $CA_DOCKERD_STOP_TIMEOUT seconds, 45 by default
	// Logf hears the diagnostics (a reused subnet that overlaps, a SIGKILL,
	// an orphan stopped); nil discards them.
	Logf func(format string, args ...any)
}

// DefaultStateBase is where daemon state lives without $CA_STATE_DIR.
const DefaultStateBase = "/tmp/containers-apiserver"

// StateBase is $CA_STATE_DIR, or DefaultStateBase.
func StateBase() string {
	if s := os.Getenv("CA_STATE_DIR"); s != "" {
		return s
	}
	return DefaultStateBase
}

// testNameRE keeps a test daemon's name usable in paths, containerd
// namespaces and (hashed when long) interface names.
var testNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$`)

// TestDockerd is test daemon name (hack/start-test-dockerd.sh NAME): state in
// $CA_STATE_DIR/test-dockerd-NAME, bridge TestBridgeName(name), containerd
// namespace ca-test-NAME; the rest from the environment.
func TestDockerd(name string) (*Dockerd, error) {
	if !testNameRE.MatchString(name) {
		return nil, fmt.Errorf("NAME must match %s, got '%s'", testNameRE, name)
	}
	base := StateBase()
	return fromEnv(&Dockerd{
		Name:      name,
		Dir:       filepath.Join(base, "test-dockerd-"+name),
		Bridge:    TestBridgeName(name),
		Namespace: "ca-test-" + name,
		StateBase: base,
	})
}

// MainDockerd is the project's own daemon (hack/ensure-docker.sh): state in
// $CA_STATE_DIR/dockerd, bridge cadocker0, containerd namespace ca-main.
func MainDockerd() (*Dockerd, error) {
	base := StateBase()
	return fromEnv(&Dockerd{
		Dir:       filepath.Join(base, "dockerd"),
		Bridge:    "cadocker0",
		Namespace: "ca-main",
		StateBase: base,
	})
}

func fromEnv(d *Dockerd) (*Dockerd, error) {
	var err error
	if d.StartTimeout, err = envSeconds("CA_DOCKERD_START_TIMEOUT", 60); err != nil {
		return nil, err
	}
	if d.StopTimeout, err = envSeconds("CA_DOCKERD_STOP_TIMEOUT", 45); err != nil {
		return nil, err
	}
	d.ExtraArgs = strings.Fields(os.Getenv("CA_DOCKERD_EXTRA_ARGS"))
	return d, nil
}

func envSeconds(name string, def int) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return time.Duration(def) * time.Second, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s must be a number of seconds, got '%s'", name, v)
	}
	return time.Duration(n) * time.Second, nil
}

// Socket is the API socket's path.
func (d *Dockerd) Socket() string { return filepath.Join(d.Dir, "docker.sock") }

// Host is the daemon's DOCKER_HOST; it stays the same across restarts.
func (d *Dockerd) Host() string { return "unix://" + d.Socket() }

// Pidfile is dockerd's --pidfile.
func (d *Dockerd) Pidfile() string { return filepath.Join(d.Dir, "docker.pid") }

// LogFile holds dockerd's output, one banner per start.
func (d *Dockerd) LogFile() string { return filepath.Join(d.Dir, "dockerd.log") }

func (d *Dockerd) logf(format string, args ...any) {
	if d.Logf != nil {
		d.Logf(format, args...)
	}
}

// PID is the pid of the daemon if it runs: the process in the pidfile, if it
// is a dockerd started with this very pidfile (pids get reused).
func (d *Dockerd) PID() (int, bool) {
	pidfile := d.Pidfile()
	return HostProc.PidfileProcess(pidfile, func(pid int) bool { return HostProc.HasArg(pid, pidfile) })
}

// Args are the dockerd flags: everything that makes the daemon private. The
// bridge is always its own (never --bridge=none: containers would have no
// network), iptables stays untouched (tests share the host's rules).
func (d *Dockerd) Args() []string {
	return append([]string{
		"--host", d.Host(),
		"--config-file", filepath.Join(d.Dir, "daemon.json"),
		"--data-root", filepath.Join(d.Dir, "data"),
		"--exec-root", filepath.Join(d.Dir, "exec"),
		"--pidfile", d.Pidfile(),
		"--bridge", d.Bridge,
		"--iptables=false",
		"--containerd-namespace", d.Namespace,
		"--containerd-plugins-namespace", d.Namespace + "-plugins",
	}, d.ExtraArgs...)
}

// maxSocketPath is the room in sockaddr_un.sun_path, with its NUL.
const maxSocketPath = 108

func (d *Dockerd) validate() error {
	switch {
	case d.Dir == "" || d.StateBase == "" || d.Namespace == "":
		return errors.New("a private dockerd needs a state dir, a state base and a containerd namespace")
	case d.Bridge == "" || d.Bridge == "none":
		return fmt.Errorf("a private dockerd gets a bridge of its own, not %q: with --bridge=none its containers have no network", d.Bridge)
	case d.StartTimeout <= 0 || d.StopTimeout <= 0:
		return errors.New("a private dockerd needs positive start and stop timeouts")
	}
	// containerd's ttrpc socket is the longest path below the state dir.
	if longest := filepath.Join(d.Dir, "exec", "containerd", "containerd.sock.ttrpc"); len(longest) >= maxSocketPath {
		return fmt.Errorf("state dir %s is too long for unix socket paths; use a shorter CA_STATE_DIR or name", d.Dir)
	}
	return nil
}

// Ensure starts the daemon, or reuses it when it already runs, and returns
// its DOCKER_HOST once it answers. After a crash (kill -9) it starts a new
// dockerd on the same data root, so containers and images are still there.
// Concurrent callers, in any process, are serialised on DIR/.lock.
//
// The daemon runs in a session of its own, with its output in LogFile: it
// outlives the caller. A caller in the same process as later Kill calls
// keeps one goroutine per daemon it started, which reaps the daemon when it
// exits.
func (d *Dockerd) Ensure(ctx context.Context) (string, error) {
	if err := d.validate(); err != nil {
		return "", err
	}
	if err := RequireRoot("running a private dockerd"); err != nil {
		return "", err
	}
	if err := PrepareStateBase(d.StateBase); err != nil {
		return "", err
	}
	if err := os.MkdirAll(d.Dir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(filepath.Join(d.Dir, ".lock"), d.StartTimeout+60*time.Second)
	if err != nil {
		return "", err
	}
	defer unlock()

	if pid, ok := d.PID(); ok {
		// Already running, maybe still starting up: reuse it.
		if d.waitAnswers(ctx, nil) {
			return d.Host(), d.writeBridgeName()
		}
		return "", fmt.Errorf("dockerd (pid %d, %s) is running but does not answer on %s after %s%s",
			pid, d.Dir, d.Socket(), d.StartTimeout, d.logTail())
	}

	if err := os.Remove(d.Pidfile()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := d.stopOrphanContainerd(); err != nil {
		return "", err
	}
	if err := d.checkBridgeOwner(); err != nil {
		return "", err
	}
	config := filepath.Join(d.Dir, "daemon.json")
	if fi, err := os.Stat(config); err != nil || fi.Size() == 0 {
		if err := os.WriteFile(config, []byte("{}\n"), 0o644); err != nil {
			return "", err
		}
	}
	cidr, err := EnsureBridge(ctx, d.Bridge, filepath.Join(d.Dir, "bridge.cidr"), d.StateBase, d.logf)
	if err != nil {
		return "", err
	}
	for _, sub := range []string{"data", "exec"} {
		if err := os.MkdirAll(filepath.Join(d.Dir, sub), 0o755); err != nil {
			return "", err
		}
	}
	exited, pid, err := d.launch(cidr)
	if err != nil {
		return "", err
	}
	if !d.waitAnswers(ctx, exited) {
		select {
		case <-exited:
			return "", fmt.Errorf("dockerd for %s exited during startup%s", d.Dir, d.logTail())
		default:
		}
		if err := ctx.Err(); err != nil {
			return "", err
		}
		return "", fmt.Errorf("dockerd for %s did not answer on %s within %s (pid %d still running)%s",
			d.Dir, d.Socket(), d.StartTimeout, pid, d.logTail())
	}
	return d.Host(), d.writeBridgeName()
}

// launch starts dockerd and returns a channel closed when it exits.
func (d *Dockerd) launch(cidr string) (<-chan struct{}, int, error) {
	log, err := os.OpenFile(d.LogFile(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, 0, err
	}
	defer func() { _ = log.Close() }() // the child has its own copy
	if _, err := fmt.Fprintf(log, "=== %s starting dockerd (bridge %s %s) %s\n",
		time.Now().Format("2006-01-02T15:04:05-07:00"), d.Bridge, cidr, strings.Join(d.ExtraArgs, " ")); err != nil {
		return nil, 0, err
	}
	// Not ctx: the daemon outlives this call. Setsid: its own session, so it
	// survives the caller's process group being killed. Stdin is /dev/null
	// and every other descriptor is close-on-exec, so a caller reading our
	// output (a script's $(...)) sees EOF and no lock is inherited.
	cmd, err := command(context.Background(), "dockerd", d.Args()...)
	if err != nil {
		return nil, 0, err
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, 0, fmt.Errorf("starting dockerd: %w", err)
	}
	exited := make(chan struct{})
	// Ends when the daemon exits (Stop, Kill or a crash); it reaps it, so a
	// daemon killed in a long test leaves no zombie behind.
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	return exited, cmd.Process.Pid, nil
}

// waitAnswers polls the daemon until it answers (true), exited is closed,
// ctx ends or StartTimeout passes. There is no event for "the API serves":
// dockerd creates its socket before it is ready.
func (d *Dockerd) waitAnswers(ctx context.Context, exited <-chan struct{}) bool {
	ctx, cancel := context.WithTimeout(ctx, d.StartTimeout)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		if Answers(ctx, d.Host()) {
			return true
		}
		select {
		case <-exited:
			return false
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

func (d *Dockerd) writeBridgeName() error {
	if d.Name == "" {
		return nil
	}
	return os.WriteFile(filepath.Join(d.Dir, "bridge"), []byte(d.Bridge+"\n"), 0o644)
}

// logTail is the end of the daemon's log, for an error message.
func (d *Dockerd) logTail() string {
	b, err := os.ReadFile(d.LogFile())
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	lines = lines[max(0, len(lines)-40):]
	return fmt.Sprintf("\nlast lines of %s:\n%s", d.LogFile(), strings.Join(lines, "\n"))
}

// stopOrphanContainerd stops the containerd a dockerd killed with SIGKILL
// left running, half shut down, and removes its pidfile: a new dockerd finds
// "containerd is still running" whenever the pid in that file exists (a
// zombie not yet reaped, or a reused pid, will do), fails to reach its socket
// and does not start. The containers' shims are separate processes and
// survive. No dockerd runs for the state dir when this is called.
func (d *Dockerd) stopOrphanContainerd() error {
	pidfile := filepath.Join(d.Dir, "exec", "containerd", "containerd.pid")
	execDir := filepath.Join(d.Dir, "exec") + "/"
	// Only our containerd: its command line names its config under
	// DIR/exec/ (pids get reused).
	if pid, ok := HostProc.PidfileProcess(pidfile, func(pid int) bool { return HostProc.Mentions(pid, execDir) }); ok {
		d.logf("stopping containerd %d left by a previous dockerd for %s", pid, d.Dir)
		if err := Terminate(pid, "containerd", 10*time.Second, d.logf); err != nil {
			return fmt.Errorf("containerd %d for %s does not exit: %w", pid, d.Dir, err)
		}
	}
	if err := os.Remove(pidfile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// checkBridgeOwner fails if another running dockerd (one with a different
// pidfile, e.g. from another CA_STATE_DIR) uses the bridge: two daemons on
// one bridge hand out the same addresses.
func (d *Dockerd) checkBridgeOwner() error {
	users, err := HostProc.DockerdsOnBridge(d.Bridge)
	if err != nil {
		return err
	}
	for _, u := range users {
		if u.Pidfile != d.Pidfile() {
			pf := u.Pidfile
			if pf == "" {
				pf = "default"
			}
			return fmt.Errorf("bridge %s is already used by dockerd pid %d (pidfile %s); stop it or use the same CA_STATE_DIR", d.Bridge, u.Pid, pf)
		}
	}
	return nil
}

// Stop stops the daemon: SIGTERM, StopTimeout, SIGKILL. Then it kills what an
// unclean death left behind (the managed containerd, shims, container
// processes), unmounts the daemon's leftover mounts, deletes its bridge and,
// with purge, the whole state dir. A daemon that does not run is no error.
func (d *Dockerd) Stop(ctx context.Context, purge bool) error {
	if err := d.validate(); err != nil {
		return err
	}
	if err := RequireRoot("stopping a private dockerd"); err != nil {
		return err
	}
	if fi, err := os.Stat(d.Dir); err == nil && fi.IsDir() {
		if err := d.stopLocked(ctx); err != nil {
			return err
		}
	}
	if err := RemoveBridge(ctx, d.Bridge); err != nil {
		return err
	}
	if purge {
		if err := os.RemoveAll(d.Dir); err != nil {
			return fmt.Errorf("cannot remove %s: %w", d.Dir, err)
		}
	}
	return nil
}

func (d *Dockerd) stopLocked(ctx context.Context) error {
	unlock, err := lockFile(filepath.Join(d.Dir, ".lock"), 120*time.Second)
	if err != nil {
		return err
	}
	defer unlock()
	if pid, ok := d.PID(); ok {
		if err := Terminate(pid, "dockerd", d.StopTimeout, d.logf); err != nil {
			return err
		}
	}
	d.killLeftovers(ctx)
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		// Mounts (netns, overlay, shm) left behind by an unclean exit; one
		// still busy is detached, and goes when its last user does.
		for _, m := range MountsUnder(string(b), d.Dir) {
			_ = syscall.Unmount(m, syscall.MNT_DETACH)
		}
	}
	for _, f := range []string{d.Pidfile(), d.Socket()} {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// killLeftovers kills the containers (through runc's state), the shims and
// the containerd of a daemon that died uncleanly: they all name DIR/exec/ on
// their command line or in their state. Best effort: what cannot be killed
// shows up at the next start.
func (d *Dockerd) killLeftovers(ctx context.Context) {
	roots, _ := filepath.Glob(filepath.Join(d.Dir, "exec", "runtime-*", "*"))
	for _, root := range roots {
		if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
			continue
		}
		list, err := command(ctx, "runc", "--root", root, "list", "-q")
		if err != nil {
			break // no runc: nothing it could have started
		}
		out, err := list.Output()
		if err != nil {
			continue
		}
		for _, id := range strings.Fields(string(out)) {
			if kill, err := command(ctx, "runc", "--root", root, "kill", id, "KILL"); err == nil {
				_ = kill.Run()
			}
		}
	}
	left, _ := HostProc.PidsMentioning(filepath.Join(d.Dir, "exec")+"/", os.Getpid())
	for _, pid := range left {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, pid := range left {
		WaitGone(pid, 10*time.Second)
	}
}

// PrepareStateBase creates the state base, refusing a symlink or a dir that
// belongs to another user: root keeps daemons' state there, in /tmp.
func PrepareStateBase(base string) error {
	if fi, err := os.Lstat(base); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symlink; refusing to use it", base)
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return err
	}
	fi, err := os.Stat(base)
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s is not owned by uid %d", base, os.Geteuid())
	}
	return nil
}

// Answers reports whether a Docker engine answers at host. A unix socket is
// asked directly (GET /version, as `docker version` does); any other
// address (tcp with TLS, ssh) goes through the docker CLI, which knows them
// all.
func Answers(ctx context.Context, host string) bool {
	if sock, ok := strings.CutPrefix(host, "unix://"); ok {
		return answersUnix(ctx, sock)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	cmd, err := command(ctx, "docker", "-H", host, "version", "--format", "{{.Server.Version}}")
	if err != nil {
		return false
	}
	// -H and a DOCKER_CONTEXT conflict.
	env := cmd.Env[:0]
	for _, e := range cmd.Env {
		if !strings.HasPrefix(e, "DOCKER_CONTEXT=") {
			env = append(env, e)
		}
	}
	cmd.Env = env
	return cmd.Run() == nil
}

// answerTimeout bounds one question to a daemon: long enough for a loaded
// one, short enough to notice a dead one soon.
const answerTimeout = 5 * time.Second

func answersUnix(ctx context.Context, sock string) bool {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", sock)
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, answerTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/version", nil)
	if err != nil {
		return false
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// DefaultHost is the engine a Docker install listens on.
const DefaultHost = "unix:///var/run/docker.sock"

// FindDocker returns the first engine that answers, in the order
// hack/ensure-docker.sh prefers them: $DOCKER_HOST; the default socket; the
// project's main private dockerd if it runs. It starts nothing.
func FindDocker(ctx context.Context, logf func(string, ...any)) (string, bool) {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		if Answers(ctx, h) {
			return h, true
		}
		if logf != nil {
			logf("DOCKER_HOST=%s does not answer; falling back", h)
		}
	}
	if fi, err := os.Stat(strings.TrimPrefix(DefaultHost, "unix://")); err == nil && fi.Mode()&fs.ModeSocket != 0 && Answers(ctx, DefaultHost) {
		return DefaultHost, true
	}
	if d, err := MainDockerd(); err == nil {
		if _, ok := d.PID(); ok && Answers(ctx, d.Host()) {
			return d.Host(), true
		}
	}
	return "", false
}

// DockerBinariesPresent reports whether everything a private dockerd needs
// is installed: dockerd, containerd, runc, the docker CLI, ip, and
// apparmor_parser where AppArmor is on (dockerd loads a profile with it).
// hack/lib.sh's ca_ensure_docker_binaries installs what is missing.
func DockerBinariesPresent() bool {
	need := []string{"dockerd", "containerd", "runc", "docker", "ip"}
	if b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled"); err == nil && strings.TrimSpace(string(b)) == "Y" {
		need = append(need, "apparmor_parser")
	}
	for _, n := range need {
		if _, err := LookPath(n); err != nil {
			return false
		}
	}
	return true
}
