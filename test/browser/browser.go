// Package browser reads a containers/log WebSocket the way a browser does:
// headless Chromium opens a small test page that connects with the
// base64url.bearer.authorization.k8s.io.<token> subprotocol, decodes the
// channel frames and reports what it received.
//
// Chromium runs with a fresh profile and no network beyond loopback and the
// WebSocket's host: every other request goes to a proxy owned by the
// package that refuses it (and records what was attempted), and host names
// other than localhost and the target's resolve to nothing.
package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// DefaultProtocol is the subprotocol used when Options.Protocol is empty.
const DefaultProtocol = "v5.channel.k8s.io"

// NoProtocol as Options.Protocol offers no channel subprotocol at all (only
// the bearer one, if there is a token).
const NoProtocol = "-"

// Options say what the page connects to and when it stops.
type Options struct {
	// URL is the full wss:// (or ws://) URL of the log endpoint, query included,
	// e.g. wss://127.0.0.1:6443/apis/containers.rancherdesktop.io/v1alpha1/namespaces/NS/containers/ID/log?follow=true
	URL string
	// Token is sent as base64url.bearer.authorization.k8s.io.<base64url(Token)>.
	// Empty sends no bearer subprotocol (an anonymous request), unless SendEmptyToken.
	Token string
	// SendEmptyToken sends the bearer subprotocol even when Token is empty.
	SendEmptyToken bool
	// Protocol is the channel subprotocol offered beside the bearer one:
	// v5.channel.k8s.io (default), v4.channel.k8s.io, base64.binary.k8s.io,
	// binary.k8s.io, or NoProtocol.
	Protocol string
	// MaxLines and MaxBytes: the page closes the socket (code 1000) and reports
	// once stdout+stderr hold this many newlines / bytes. Zero: no limit, the
	// page reports when the server closes the socket.
	MaxLines, MaxBytes int
	// Timeout: the page reports whatever it has after this long (Result.Done
	// "timeout"). Zero: only the ctx deadline bounds the wait, and reaching it is
	// an error.
	Timeout time.Duration
	// InsecureSkipTLSVerify starts Chromium with --ignore-certificate-errors,
	// so any server certificate is accepted (self-signed test servers).
	InsecureSkipTLSVerify bool
	// Probes are URLs the page fetches (no-cors) after the WebSocket part, to
	// show what the browser can reach; results in Result.Probes.
	Probes []string
	// Chromium is the browser binary; empty runs hack/ensure-chromium.sh
	// (which apt-installs Debian's chromium when missing) once per process.
	Chromium string
}

// Result is what the page saw.
type Result struct {
	URL string `json:"url"`
	// RequestedProtocols are the subprotocols offered (the token masked).
	RequestedProtocols []string `json:"requestedProtocols"`
	// Protocol is the negotiated subprotocol (WebSocket.protocol).
	Protocol string `json:"protocol"`
	// Opened: onopen fired (the upgrade succeeded).
	Opened bool `json:"opened"`
	// ErrorEvent: onerror fired (a refused upgrade, a network error, or an
	// abnormal close).
	ErrorEvent bool `json:"errorEvent"`
	Closed     bool `json:"closed"`
	// CloseCode is the CloseEvent's code: 1000 normal, 1011 server error, 1006
	// abnormal (also a refused handshake: browsers never expose its HTTP status).
	CloseCode   int    `json:"closeCode"`
	CloseReason string `json:"closeReason"`
	WasClean    bool   `json:"wasClean"`
	// Stdout and Stderr are channels 1 and 2 (UTF-8 decoded, invalid bytes
	// replaced); ErrorChannel is channel 3 (a metav1.Status in JSON). With
	// protocols that have no channels, everything is in Stdout. Other holds
	// frames on unknown channels.
	Stdout       string `json:"stdout"`
	Stderr       string `json:"stderr"`
	ErrorChannel string `json:"errorChannel"`
	Other        string `json:"other"`
	// Frames counts messages; Bytes and Lines count stdout+stderr payload bytes
	// and newlines.
	Frames int `json:"frames"`
	Bytes  int `json:"bytes"`
	Lines  int `json:"lines"`
	// Done says why the page reported: "closed" (the socket closed), "limit"
	// (MaxLines/MaxBytes reached), "timeout" (Options.Timeout) or "exception"
	// (see Exception).
	Done      string `json:"done"`
	Exception string `json:"exception"`
	// Events is the page's timeline, for failure messages.
	Events []string `json:"events"`
	// Probes maps each Options.Probes URL to "reachable" or "failed: ...".
	Probes map[string]string `json:"probes"`
	// Blocked lists what Chromium tried to reach through the refusing proxy
	// (request lines such as "CONNECT example.com:443 HTTP/1.1").
	Blocked []string `json:"-"`
}

// StdoutLines splits Stdout into lines (without the final empty one).
func (r Result) StdoutLines() []string {
	s := strings.TrimSuffix(r.Stdout, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// String summarises the result for test failure messages.
func (r Result) String() string {
	return fmt.Sprintf("done=%s opened=%v protocol=%q error=%v close=%d %q clean=%v frames=%d lines=%d bytes=%d stdout=%q stderr=%q errorChannel=%q exception=%q events=%v blocked=%v",
		r.Done, r.Opened, r.Protocol, r.ErrorEvent, r.CloseCode, r.CloseReason, r.WasClean, r.Frames, r.Lines, r.Bytes,
		clip(r.Stdout), clip(r.Stderr), r.ErrorChannel, r.Exception, r.Events, r.Blocked)
}

func clip(s string) string {
	if len(s) > 400 {
		return s[:200] + "..." + s[len(s)-200:]
	}
	return s
}

// ReadLogInBrowser opens the page, waits for its report (bounded by ctx) and
// stops Chromium. The error is non-nil only when no report arrived (Chromium
// failed, or ctx ended first); a refused connection is a Result with
// Opened=false.
func ReadLogInBrowser(ctx context.Context, t testing.TB, opts Options) (Result, error) {
	t.Helper()
	s, err := Start(ctx, t, opts)
	if err != nil {
		return Result{}, err
	}
	defer s.Close()
	return s.Wait(ctx)
}

// Session is one Chromium showing the test page. Close (also registered with
// t.Cleanup) kills Chromium with its whole process group and stops the page
// server and the refusing proxy.
type Session struct {
	t       testing.TB
	cmd     *exec.Cmd
	exited  chan struct{} // closed once cmd.Wait returned
	waitErr error
	logPath string
	page    *httptest.Server
	proxy   *refusingProxy

	opened, data chan struct{}
	result       chan Result
	closeOnce    sync.Once

	mu     sync.Mutex
	reaped bool // the main process is being reaped: its pid may be reused
}

// Opened is closed when the page reports the WebSocket open.
func (s *Session) Opened() <-chan struct{} { return s.opened }

// FirstData is closed when the page has received its first stdout/stderr byte.
func (s *Session) FirstData() <-chan struct{} { return s.data }

// Exited is closed if Chromium exits (normally it runs until Close).
func (s *Session) Exited() <-chan struct{} { return s.exited }

// WaitFor waits for ch (Opened or FirstData) until ctx ends or Chromium exits.
func (s *Session) WaitFor(ctx context.Context, ch <-chan struct{}, what string) error {
	select {
	case <-ch:
		return nil
	case <-s.exited:
		return fmt.Errorf("chromium exited (%v) before %s\n%s", s.waitErr, what, s.logTail())
	case <-ctx.Done():
		return fmt.Errorf("no %s from the page: %w\n%s", what, ctx.Err(), s.logTail())
	}
}

var (
	chromiumOnce sync.Once
	chromiumPath string
	chromiumErr  error
)

// Chromium returns the browser binary from hack/ensure-chromium.sh (run
// once per process; it installs Debian's chromium when missing).
func Chromium() (string, error) {
	chromiumOnce.Do(func() {
		out, err := testenv.Script("ensure-chromium.sh")
		if err != nil {
			chromiumErr = err
			return
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		chromiumPath = lines[len(lines)-1]
	})
	return chromiumPath, chromiumErr
}

// Start serves the page, starts the refusing proxy and launches Chromium.
func Start(ctx context.Context, t testing.TB, opts Options) (*Session, error) {
	t.Helper()
	return start(ctx, t, opts, pageHTML, nil)
}

// start serves html (a page that takes its parameters from the URL fragment)
// with opts' parameters and extra ones, and launches Chromium on it.
func start(ctx context.Context, t testing.TB, opts Options, html string, extra url.Values) (*Session, error) {
	t.Helper()
	target, err := url.Parse(opts.URL)
	if err != nil || (target.Scheme != "wss" && target.Scheme != "ws") || target.Hostname() == "" {
		return nil, fmt.Errorf("browser: Options.URL must be a ws:// or wss:// URL, got %q", opts.URL)
	}
	bin := opts.Chromium
	if bin == "" {
		if bin, err = Chromium(); err != nil {
			return nil, fmt.Errorf("browser: no chromium: %w", err)
		}
	}
	dir := t.TempDir() // removed after Close, which t.Cleanup runs first

	s := &Session{
		t:       t,
		exited:  make(chan struct{}),
		logPath: filepath.Join(dir, "chromium.log"),
		opened:  make(chan struct{}),
		data:    make(chan struct{}),
		result:  make(chan Result, 1),
	}
	var openedOnce, dataOnce, resultOnce sync.Once
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = io.WriteString(w, html)
	})
	mux.HandleFunc("POST /event", func(w http.ResponseWriter, r *http.Request) {
		var e struct{ Type string }
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&e); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		switch e.Type {
		case "open":
			openedOnce.Do(func() { close(s.opened) })
		case "data":
			dataOnce.Do(func() { close(s.data) })
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /result", func(w http.ResponseWriter, r *http.Request) {
		var res Result
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<20)).Decode(&res); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		resultOnce.Do(func() { s.result <- res })
		w.WriteHeader(http.StatusNoContent)
	})
	s.page = httptest.NewServer(mux) // 127.0.0.1, plain HTTP

	s.proxy, err = newRefusingProxy()
	if err != nil {
		s.page.Close()
		return nil, err
	}
	t.Cleanup(s.Close)

	frag := url.Values{"url": {opts.URL}}
	switch opts.Protocol {
	case "":
		frag.Set("proto", DefaultProtocol)
	case NoProtocol:
	default:
		frag.Set("proto", opts.Protocol)
	}
	if opts.Token != "" || opts.SendEmptyToken {
		frag.Set("token", opts.Token)
	}
	if opts.MaxLines > 0 {
		frag.Set("lines", strconv.Itoa(opts.MaxLines))
	}
	if opts.MaxBytes > 0 {
		frag.Set("bytes", strconv.Itoa(opts.MaxBytes))
	}
	if opts.Timeout > 0 {
		frag.Set("timeoutMs", strconv.FormatInt(opts.Timeout.Milliseconds(), 10))
	}
	for _, p := range opts.Probes {
		frag.Add("probe", p)
	}
	for k, vs := range extra {
		for _, v := range vs {
			frag.Add(k, v)
		}
	}
	pageURL := s.page.URL + "/#" + frag.Encode()

	args := chromiumArgs(filepath.Join(dir, "profile"), s.proxy.addr, target.Hostname(), opts.InsecureSkipTLSVerify)
	args = append(args, pageURL)
	logf, err := os.Create(s.logPath)
	if err != nil {
		s.Close()
		return nil, err
	}
	defer func() { _ = logf.Close() }() // the child has its own copy; ours was never written
	// Not CommandContext: the whole group is killed by Close, not just the leader.
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf // a file, so no copying goroutine outlives Chromium
	s.cmd.Env = append(os.Environ(), "HOME="+dir)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,            // own process group: Close kills renderers and helpers too
		Pdeathsig: syscall.SIGKILL, // and the leader dies with the test binary's thread
	}
	if err := s.cmd.Start(); err != nil {
		close(s.exited)
		s.Close()
		return nil, fmt.Errorf("browser: start %s: %w", bin, err)
	}
	go s.reap()
	return s, nil
}

// chromiumArgs are the flags; see the package comment for the network rules.
func chromiumArgs(profile, proxy, targetHost string, insecure bool) []string {
	hosts := []string{"127.0.0.1", "localhost"}
	if targetHost != "127.0.0.1" && targetHost != "localhost" {
		hosts = append(hosts, targetHost)
	}
	bypass := make([]string, 0, len(hosts))
	resolver := "MAP * ~NOTFOUND" // also matches IP literals: exclude what is allowed
	for _, h := range hosts {
		if strings.Contains(h, ":") { // IPv6 literal
			h = "[" + h + "]"
		}
		bypass = append(bypass, h)
		resolver += ", EXCLUDE " + h
	}
	args := []string{
		"--headless",
		"--no-sandbox", // root, and no user namespaces needed
		"--disable-gpu",
		"--disable-dev-shm-usage", // small /dev/shm in containers
		"--disable-background-networking",
		"--disable-component-update",
		"--disable-sync",
		"--disable-extensions",
		"--disable-default-apps",
		"--disable-breakpad",
		"--no-first-run",
		"--no-default-browser-check",
		"--no-pings",
		"--mute-audio",
		"--user-data-dir=" + profile,
		// No network beyond loopback and the target: everything else goes to a
		// proxy that refuses it, and names resolve to nothing.
		"--proxy-server=http://" + proxy,
		"--proxy-bypass-list=" + strings.Join(bypass, ";"),
		"--host-resolver-rules=" + resolver,
		"--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
	}
	if insecure {
		args = append(args, "--ignore-certificate-errors")
	}
	return args
}

// reap ends when Chromium's main process exits, at the latest when Close
// kills it. While that process is an unreaped zombie its pid still names our
// process group, so the group (renderers, zygotes, utilities) is killed then,
// whatever made the main process exit, and only then is it reaped.
func (s *Session) reap() {
	pid := s.cmd.Process.Pid
	if err := waitExitNoReap(pid); err != nil {
		s.t.Logf("browser: waitid(%d): %v", pid, err)
	}
	s.mu.Lock()
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	s.reaped = true
	s.mu.Unlock()
	s.waitErr = s.cmd.Wait()
	close(s.exited)
}

// Wait waits for the page's report, bounded by ctx, then stops Chromium.
func (s *Session) Wait(ctx context.Context) (Result, error) {
	defer s.Close()
	select {
	case r := <-s.result:
		s.Close()
		r.Blocked = s.proxy.attempts()
		return r, nil
	case <-s.exited:
		return Result{}, fmt.Errorf("browser: chromium exited (%v) before the page reported\n%s", s.waitErr, s.logTail())
	case <-ctx.Done():
		s.Close()
		return Result{}, fmt.Errorf("browser: no report from the page: %w\nblocked: %v\n%s", ctx.Err(), s.proxy.attempts(), s.logTail())
	}
}

// Close kills Chromium's process group, waits for the leader, and stops the
// page server and the proxy. Safe to call more than once.
func (s *Session) Close() {
	s.closeOnce.Do(func() {
		if s.cmd != nil && s.cmd.Process != nil {
			s.mu.Lock()
			if !s.reaped { // else reap has killed the group already
				_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			}
			s.mu.Unlock()
			select {
			case <-s.exited:
			case <-time.After(30 * time.Second):
				s.t.Errorf("browser: chromium (pid %d) did not exit after SIGKILL", s.cmd.Process.Pid)
			}
		}
		if s.page != nil {
			s.page.CloseClientConnections()
			s.page.Close()
		}
		if s.proxy != nil {
			s.proxy.close()
		}
	})
}

func (s *Session) logTail() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return "(no chromium log: " + err.Error() + ")"
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return "chromium log (tail):\n" + string(b)
}

// refusingProxy is Chromium's --proxy-server: it records the request line of
// every connection and closes it unanswered, so nothing leaves the machine.
type refusingProxy struct {
	ln   net.Listener
	addr string
	wg   sync.WaitGroup
	mu   sync.Mutex
	seen []string
}

func newRefusingProxy() (*refusingProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &refusingProxy{ln: ln, addr: ln.Addr().String()}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

func (p *refusingProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 4096)
			n, _ := c.Read(buf)
			line, _, _ := bytes.Cut(buf[:n], []byte("\r\n"))
			p.mu.Lock()
			p.seen = append(p.seen, string(line))
			p.mu.Unlock()
			// Closed without an answer: to the page a network error, not a
			// response (a no-cors fetch would take a 403 for success).
		}()
	}
}

func (p *refusingProxy) attempts() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

func (p *refusingProxy) close() {
	_ = p.ln.Close()
	p.wg.Wait()
}

// waitExitNoReap blocks until process pid has exited, leaving it a zombie
// (waitid with WNOWAIT), so its pid, and the process group id it leads,
// cannot be reused until it is reaped.
func waitExitNoReap(pid int) error {
	const (
		pPID    = 1         // P_PID
		wExited = 0x4       // WEXITED
		wNoWait = 0x1000000 // WNOWAIT
	)
	var info [128]byte // siginfo_t
	for {
		// The syscall package has no waitid(2); the kernel fills info through its address.
		_, _, e := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid), uintptr(unsafe.Pointer(&info[0])), wExited|wNoWait, 0, 0) //nolint:gosec // G103: see above
		switch e {
		case 0:
			return nil
		case syscall.EINTR:
			continue
		default:
			return e
		}
	}
}
