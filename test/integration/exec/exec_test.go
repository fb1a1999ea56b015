//go:build integration

// Package exec tests the containers/exec subresource against a real dockerd,
// through the server's API: client-go's WebSocket executor, each subprotocol
// by hand, the refusals before the upgrade, and the lifecycle of sessions
// whose client leaves or whose container stops.
package exec

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

const deadline = 60 * time.Second

// env is one server on the shared engine with one running container.
type env struct {
	t    *testing.T
	host string
	s    *testenv.Server
	id   string
}

func newEnv(t *testing.T) *env {
	host := testenv.DockerHost(t)
	e := &env{t: t, host: host, s: testenv.StartServer(t, host, testenv.ServerOptions{})}
	e.id = e.run()
	return e
}

// run starts a container that sleeps, and waits until it is mirrored.
func (e *env) run() string {
	e.t.Helper()
	id := testenv.MustDocker(e.t, e.host, "run", "-d", "--name", testenv.UniqueName(e.t, "exec"), testenv.BusyboxImage, "sleep", "3600")
	e.t.Cleanup(func() { _, _ = testenv.Docker(context.Background(), e.host, "rm", "-f", id) })
	testenv.Eventually(e.t, deadline, "the container's mirror", func() error {
		_, err := e.s.Client.ContainersV1alpha1().Containers(e.s.Namespace).Get(context.Background(), id, metav1.GetOptions{})
		return err
	})
	return id
}

// exec runs r in the env's container (unless r names another).
func (e *env) exec(r testenv.ExecRequest) (code int, stdout, stderr string, err error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	var out, errOut bytes.Buffer
	r.Namespace = e.s.Namespace
	if r.Container == "" {
		r.Container = e.id
	}
	if r.Stdout == nil {
		r.Stdout = &out
	}
	if r.Stderr == nil && !r.TTY {
		r.Stderr = &errOut
	}
	code, err = testenv.Exec(ctx, e.s.Config, r)
	return code, out.String(), errOut.String(), err
}

func TestExecStreamsAndExitCodes(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		cmd                  []string
		code                 int
		stdout, stderrSubstr string
	}{
		{[]string{"sh", "-c", "echo out; echo err >&2; exit 3"}, 3, "out\n", "err"},
		{[]string{"echo", "hello", ""}, 0, "hello \n", ""},
		{[]string{"sh", "-c", "no-such-command"}, 127, "", "not found"},
		{[]string{"sh", "-c", `echo "$A-$B" $(pwd) $(id -u)`}, 0, "1-two=2 /tmp 0\n", ""},
	} {
		r := testenv.ExecRequest{Command: tc.cmd}
		if strings.Contains(tc.cmd[len(tc.cmd)-1], "$A") {
			r.Env, r.WorkingDir, r.User = []string{"A=1", "B=two=2"}, "/tmp", "0"
		}
		code, out, errOut, err := e.exec(r)
		if err != nil || code != tc.code || out != tc.stdout || !strings.Contains(errOut, tc.stderrSubstr) ||
			(tc.stderrSubstr == "" && errOut != "") {
			t.Errorf("%q: exit %d stdout %q stderr %q err %v; want exit %d stdout %q stderr with %q",
				tc.cmd, code, out, errOut, err, tc.code, tc.stdout, tc.stderrSubstr)
		}
	}
}

func TestExecCatOneMiB(t *testing.T) {
	e := newEnv(t)
	in := make([]byte, 1<<20)
	_, _ = rand.Read(in)
	code, out, _, err := e.exec(testenv.ExecRequest{Command: []string{"cat"}, Stdin: bytes.NewReader(in)})
	if err != nil || code != 0 || !bytes.Equal([]byte(out), in) {
		t.Fatalf("cat: exit %d, %d bytes back of %d, equal %v, err %v", code, len(out), len(in), bytes.Equal([]byte(out), in), err)
	}
}

// notifyBuffer is a concurrent buffer that can be waited on for a string.
type notifyBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed and replaced at each write
}

func newNotifyBuffer() *notifyBuffer { return &notifyBuffer{changed: make(chan struct{})} }

func (n *notifyBuffer) Write(p []byte) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	close(n.changed)
	n.changed = make(chan struct{})
	return n.b.Write(p)
}

func (n *notifyBuffer) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.b.String()
}

// waitFor waits until the buffer holds s.
func (n *notifyBuffer) waitFor(t *testing.T, s string) {
	t.Helper()
	n.waitUntil(t, "output with "+s, func(out string) bool { return strings.Contains(out, s) })
}

// waitUntil waits until ok holds for the output.
func (n *notifyBuffer) waitUntil(t *testing.T, what string, ok func(string) bool) {
	t.Helper()
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	for {
		n.mu.Lock()
		done, changed := ok(n.b.String()), n.changed
		n.mu.Unlock()
		if done {
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("%s never came; output %q", what, n.String())
		}
	}
}

// TestExecTTYSizes: the first `stty size` sees the client's size, a later
// resize is seen too, and the TTY gate leaves nothing in the output.
func TestExecTTYSizes(t *testing.T) {
	e := newEnv(t)
	sizes := make(testenv.SizeQueue, 1)
	sizes <- remotecommand.TerminalSize{Width: 77, Height: 33}
	stdinR, stdinW := io.Pipe()
	out := newNotifyBuffer()
	done := make(chan error, 1)
	var code int
	go func() {
		var err error
		code, _, _, err = e.exec(testenv.ExecRequest{
			Command: []string{"sh", "-c", `stty size; while read x; do [ "$x" = q ] && exit 4; stty size; done`},
			TTY:     true, Stdin: stdinR, Stdout: out, Sizes: sizes,
		})
		done <- err
	}()
	out.waitFor(t, "33 77")
	if got := out.String(); !strings.HasPrefix(got, "33 77\r\n") {
		t.Errorf("first output %q, want it to start with the size", got)
	}
	sizes <- remotecommand.TerminalSize{Width: 120, Height: 45}
	// The resize travels beside the input, not in order with it: ask for
	// the size until the terminal has the new one.
	for attempt := 0; !strings.Contains(out.String(), "45 120"); attempt++ {
		if attempt == 100 {
			t.Fatalf("the resize never arrived: %q", out.String())
		}
		lines := strings.Count(out.String(), "\n")
		_, _ = io.WriteString(stdinW, "\n")
		// The echo of the newline and the size: two more lines.
		out.waitUntil(t, "the size", func(s string) bool { return strings.Count(s, "\n") >= lines+2 })
	}
	_, _ = io.WriteString(stdinW, "q\n")
	close(sizes)
	if err := <-done; err != nil || code != 4 {
		t.Fatalf("exit %d, err %v, output %q", code, err, out.String())
	}
}

// dial opens an exec WebSocket by hand with protocol and a bearer token.
func (e *env) dial(query, protocol string) *websocket.Conn {
	e.t.Helper()
	d := websocket.Dialer{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // test server
		Subprotocols:    []string{protocol}, HandshakeTimeout: deadline,
	}
	u := strings.Replace(e.s.URL, "https://", "wss://", 1) + "/apis/containers.rancherdesktop.io/v1alpha1/namespaces/" +
		e.s.Namespace + "/containers/" + e.id + "/exec?" + query
	c, resp, err := d.Dial(u, http.Header{"Authorization": {"Bearer " + e.s.Token}})
	if err != nil {
		body := ""
		if resp != nil {
			b, _ := io.ReadAll(resp.Body)
			body = string(b)
		}
		e.t.Fatalf("dial %s: %v %s", protocol, err, body)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// TestExecSubprotocols: each subprotocol by hand, stdin to stdout, the
// status channel and the 1000 close.
func TestExecSubprotocols(t *testing.T) {
	e := newEnv(t)
	for _, proto := range []string{"v5.channel.k8s.io", "v4.channel.k8s.io", "base64.channel.k8s.io"} {
		t.Run(proto, func(t *testing.T) {
			q := url.Values{"command": {"sh", "-c", "read x; echo got $x; echo e >&2; exit 6"}}
			q.Set("stdin", "true")
			q.Set("stdout", "true")
			q.Set("stderr", "true")
			c := e.dial(q.Encode(), proto)
			b64 := proto == "base64.channel.k8s.io"
			send := func(ch byte, p []byte) {
				kind, msg := websocket.BinaryMessage, append([]byte{ch}, p...)
				if b64 {
					kind, msg = websocket.TextMessage, []byte(string(rune('0'+ch))+base64.StdEncoding.EncodeToString(p))
				}
				if err := c.WriteMessage(kind, msg); err != nil {
					t.Fatal(err)
				}
			}
			send(0, []byte("abc\n"))
			var stdout, stderr bytes.Buffer
			var st metav1.Status
			_ = c.SetReadDeadline(time.Now().Add(deadline))
			for {
				_, msg, err := c.ReadMessage()
				if err != nil {
					var ce *websocket.CloseError
					if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
						t.Errorf("end: %v", err)
					}
					break
				}
				if b64 {
					dec, derr := base64.StdEncoding.DecodeString(string(msg[1:]))
					if derr != nil {
						t.Fatal(derr)
					}
					msg = append([]byte{msg[0] - '0'}, dec...)
				}
				switch msg[0] {
				case 1:
					stdout.Write(msg[1:])
				case 2:
					stderr.Write(msg[1:])
				case 3:
					if err := json.Unmarshal(msg[1:], &st); err != nil {
						t.Fatal(err)
					}
				}
			}
			if stdout.String() != "got abc\n" || stderr.String() != "e\n" || st.Reason != "NonZeroExitCode" ||
				st.Details == nil || len(st.Details.Causes) != 1 || st.Details.Causes[0].Message != "6" {
				t.Errorf("stdout %q stderr %q status %+v", stdout.String(), stderr.String(), st)
			}
		})
	}
}

// TestExecRefusals: each refusal is a Status with its code, before any
// upgrade.
func TestExecRefusals(t *testing.T) {
	e := newEnv(t)
	stopped := e.run()
	testenv.MustDocker(t, e.host, "stop", "-t", "0", stopped)
	paused := e.run()
	testenv.MustDocker(t, e.host, "pause", paused)
	t.Cleanup(func() { _, _ = testenv.Docker(context.Background(), e.host, "unpause", paused) })
	// The mirror must show the stop before the check below means anything
	// to a reader; the engine is asked either way.
	for _, tc := range []struct {
		name, container, want string
		r                     testenv.ExecRequest
	}{
		{name: "no command", want: "command is required"},
		{name: "unknown", container: fmt.Sprintf("%064x", 12345), want: "not found", r: testenv.ExecRequest{Command: []string{"true"}}},
		{name: "stopped", container: stopped, want: "not running", r: testenv.ExecRequest{Command: []string{"true"}}},
		{name: "paused", container: paused, want: "paused", r: testenv.ExecRequest{Command: []string{"true"}}},
		{name: "bad env", want: "NAME=value", r: testenv.ExecRequest{Command: []string{"true"}, Env: []string{"=x"}}},
	} {
		tc.r.Container = tc.container
		_, _, _, err := e.exec(tc.r)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	hc := testenv.HTTPClient(t)
	base := e.s.URL + "/apis/containers.rancherdesktop.io/v1alpha1/namespaces/" + e.s.Namespace + "/containers/" + e.id + "/exec?command=true&stdout=true"
	for name, req := range map[string]func() *http.Request{
		"plain GET": func() *http.Request { r, _ := http.NewRequest(http.MethodGet, base, nil); return r },
		"SPDY POST": func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, base, nil)
			r.Header.Set("Connection", "Upgrade")
			r.Header.Set("Upgrade", "SPDY/3.1")
			r.Header.Set("X-Stream-Protocol-Version", "v4.channel.k8s.io")
			return r
		},
	} {
		r := req()
		r.Header.Set("Authorization", "Bearer "+e.s.Token)
		resp, err := hc.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var st metav1.Status
		if json.Unmarshal(body, &st) != nil || resp.StatusCode != http.StatusBadRequest || st.Code != http.StatusBadRequest || !strings.Contains(st.Message, "v5.channel.k8s.io") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
}

// TestExecContainerStops: a container killed under a session ends it with
// 137, promptly.
func TestExecContainerStops(t *testing.T) {
	e := newEnv(t)
	out := newNotifyBuffer()
	done := make(chan struct{})
	var code int
	var err error
	go func() {
		defer close(done)
		code, _, _, err = e.exec(testenv.ExecRequest{Command: []string{"sh", "-c", "echo started; sleep 600"}, Stdout: out})
	}()
	out.waitFor(t, "started")
	testenv.MustDocker(t, e.host, "kill", e.id)
	select {
	case <-done:
	case <-time.After(deadline):
		t.Fatal("the session did not end when its container was killed")
	}
	if err != nil || code != 137 {
		t.Fatalf("exit %d, err %v; want 137", code, err)
	}
}

// TestExecDroppedSessions: 30 TTY sessions whose clients vanish mid-command
// leave no goroutine behind in the server, and their commands get a hangup.
func TestExecDroppedSessions(t *testing.T) {
	e := newEnv(t)
	// Warm up: the first session starts the client's and server's pools.
	if code, _, _, err := e.exec(testenv.ExecRequest{Command: []string{"true"}}); err != nil || code != 0 {
		t.Fatalf("warm-up: %d %v", code, err)
	}
	base := runtime.NumGoroutine()
	const n = 30
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithCancel(context.Background())
			out := newNotifyBuffer()
			stdinR, stdinW := io.Pipe()
			defer func() { _ = stdinW.Close() }()
			ended := make(chan struct{})
			go func() {
				defer close(ended)
				_, _ = testenv.Exec(ctx, e.s.Config, testenv.ExecRequest{
					Namespace: e.s.Namespace, Container: e.id, TTY: true, Stdin: stdinR, Stdout: out,
					Command: []string{"sh", "-c", fmt.Sprintf("echo started; sleep %d", 900+i)},
				})
			}()
			out.waitFor(t, "started")
			cancel() // the client vanishes
			<-ended
		}()
	}
	wg.Wait()
	testenv.Eventually(t, deadline, "goroutines back to the baseline", func() error {
		if n := runtime.NumGoroutine(); n > base+5 {
			return fmt.Errorf("%d goroutines, %d before", n, base)
		}
		return nil
	})
	testenv.Eventually(t, deadline, "the dropped commands ended", func() error {
		ps, err := testenv.Docker(context.Background(), e.host, "exec", e.id, "ps")
		if err != nil {
			return err
		}
		if c := strings.Count(ps, "sleep 9"); c > 0 {
			return fmt.Errorf("%d commands still running:\n%s", c, ps)
		}
		return nil
	})
}

// TestExecEngineDown: with the engine unreachable, exec is a 503 that says
// why, before any upgrade.
func TestExecEngineDown(t *testing.T) {
	dockerd := testenv.StartDockerd(t, "execdown")
	e := &env{t: t, host: dockerd.Host, s: testenv.StartServer(t, dockerd.Host, testenv.ServerOptions{})}
	e.id = e.run()
	if code, _, _, err := e.exec(testenv.ExecRequest{Command: []string{"true"}}); err != nil || code != 0 {
		t.Fatalf("before the engine stops: %d %v", code, err)
	}
	if err := dockerd.Kill(); err != nil {
		t.Fatal(err)
	}
	d := websocket.Dialer{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // test server
		Subprotocols:    []string{"v5.channel.k8s.io"}, HandshakeTimeout: deadline,
	}
	u := strings.Replace(e.s.URL, "https://", "wss://", 1) + "/apis/containers.rancherdesktop.io/v1alpha1/namespaces/" +
		e.s.Namespace + "/containers/" + e.id + "/exec?command=true&stdout=true"
	testenv.Eventually(t, deadline, "a 503 naming the engine", func() error {
		c, resp, err := d.Dial(u, http.Header{"Authorization": {"Bearer " + e.s.Token}})
		if c != nil {
			c.Close()
			return fmt.Errorf("the upgrade succeeded")
		}
		if resp == nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var st metav1.Status
		if resp.StatusCode != http.StatusServiceUnavailable || json.Unmarshal(body, &st) != nil || st.Code != 503 ||
			!strings.Contains(st.Message, "docker engine") {
			return fmt.Errorf("%d %s", resp.StatusCode, body)
		}
		return nil
	})
}
