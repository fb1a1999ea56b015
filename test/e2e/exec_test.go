//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	neturl "net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/rancher-sandbox/containers-apiserver/test/browser"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// SleepScript keeps a container running until it is stopped.
const SleepScript = `trap 'exit 0' TERM; while :; do sleep 1; done`

// ExecRole is artifacts/rbac/exec.yaml's ClusterRole: get and create on
// containers/exec.
const ExecRole = "containers-rancherdesktop-io:exec"

// RESTConfig is a client-go config for user through kube-apiserver.
func (e *Env) RESTConfig(user string) *rest.Config {
	cfg := &rest.Config{Host: e.KubeURL, TLSClientConfig: rest.TLSClientConfig{CAFile: e.KubeCA}}
	if user == Admin {
		cfg.CertFile, cfg.KeyFile = e.AdminCert, e.AdminKey
	} else {
		cfg.BearerToken = e.Tokens[user]
	}
	return cfg
}

// ApplyYAML applies manifests as admin and deletes them when the test ends.
func (e *Env) ApplyYAML(t testing.TB, yaml string) {
	t.Helper()
	kubectlStdin(t, e, yaml, "apply", "-f", "-")
	t.Cleanup(func() { kubectlStdin(t, e, yaml, "delete", "--ignore-not-found", "--wait=false", "-f", "-") })
}

func kubectlStdin(t testing.TB, e *Env, stdin string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := e.KubectlCmd(ctx, Admin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// execResult is one command's outcome through testenv.Exec.
type execResult struct {
	code           int
	err            error
	stdout, stderr string
}

func (r execResult) String() string {
	return fmt.Sprintf("exit %d, err %v, stdout %q, stderr %q", r.code, r.err, trim(r.stdout), trim(r.stderr))
}

// execAs runs req in container id as user through kube-apiserver (stdout
// and stderr are collected unless req sets them), within a minute.
func (e *Env) execAs(user, id string, req testenv.ExecRequest) execResult {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	req.Namespace, req.Container = e.Namespace, id
	if req.Stdout == nil {
		req.Stdout = &stdout
	}
	if req.Stderr == nil && !req.TTY {
		req.Stderr = &stderr
	}
	code, err := testenv.Exec(ctx, e.RESTConfig(user), req)
	return execResult{code: code, err: err, stdout: stdout.String(), stderr: stderr.String()}
}

// dialExec opens the exec WebSocket straight (gorilla, bearer header or
// client certificate) as user with query, and returns the upgrade's status
// and, when it was refused, the body.
func (e *Env) dialExec(t testing.TB, user, id, query string) (int, string) {
	t.Helper()
	d := websocket.Dialer{TLSClientConfig: e.TLSConfig(t, user), Subprotocols: []string{"v5.channel.k8s.io"},
		HandshakeTimeout: 30 * time.Second}
	h := http.Header{}
	if tok := e.Tokens[user]; tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	url := strings.Replace(e.KubeURL, "https://", "wss://", 1) + e.ContainerPath(id, "exec") + "?" + query
	c, resp, err := d.Dial(url, h)
	if err == nil {
		c.Close()
		return resp.StatusCode, ""
	}
	if resp == nil {
		t.Fatalf("exec upgrade as %q: %v", user, err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// syncBuffer is a bytes.Buffer for a writer and a poller.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ttyLines splits terminal output into lines without their \r.
func ttyLines(s string) []string {
	return strings.Split(strings.ReplaceAll(s, "\r", ""), "\n")
}

// TestExecThroughKubeAPIServer: commands in a real container through
// kube-apiserver's aggregation layer with client-go's WebSocket executor
// (what kubectl exec uses): separate stdout and stderr, exit codes, stdin
// byte for byte, the command's options, a terminal with its initial size and
// a resize, and the refusals that come before the upgrade.
func TestExecThroughKubeAPIServer(t *testing.T) {
	e := Get(t)
	id := e.Container(t, "exec", SleepScript)
	e.WaitMirrored(t, id)

	t.Run("stdout, stderr and exit code", func(t *testing.T) {
		r := e.execAs(Admin, id, testenv.ExecRequest{Command: []string{"sh", "-c", "echo out; echo err >&2; exit 3"}})
		if r.err != nil || r.code != 3 || r.stdout != "out\n" || r.stderr != "err\n" {
			t.Fatalf("%s; want exit 3, stdout \"out\\n\", stderr \"err\\n\"", r)
		}
	})
	t.Run("exit 0", func(t *testing.T) {
		r := e.execAs(Admin, id, testenv.ExecRequest{Command: []string{"echo", "hello", "world"}})
		if r.err != nil || r.code != 0 || r.stdout != "hello world\n" || r.stderr != "" {
			t.Fatalf("%s; want exit 0 and \"hello world\\n\"", r)
		}
	})
	t.Run("missing command is 127", func(t *testing.T) {
		r := e.execAs(Admin, id, testenv.ExecRequest{Command: []string{"/no/such/command"}})
		// Docker's reason (an OCI runtime error) comes on the output.
		if r.err != nil || r.code != 127 || !strings.Contains(r.stdout+r.stderr, "/no/such/command") {
			t.Fatalf("%s; want exit 127 and the command named", r)
		}
		t.Logf("missing command: %s", r)
	})
	t.Run("stdin through cat, byte for byte", func(t *testing.T) {
		in := make([]byte, 256<<10)
		if _, err := rand.Read(in); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		r := e.execAs(Admin, id, testenv.ExecRequest{Command: []string{"cat"}, Stdin: bytes.NewReader(in)})
		if r.err != nil || r.code != 0 {
			t.Fatalf("cat: exit %d, err %v, stderr %q", r.code, r.err, r.stderr)
		}
		if !bytes.Equal([]byte(r.stdout), in) {
			t.Fatalf("cat returned %d bytes, not the %d sent (first difference at %d)", len(r.stdout), len(in), firstDiff([]byte(r.stdout), in))
		}
		t.Logf("256 KiB through cat and back in %s", time.Since(start).Round(time.Millisecond))
	})
	t.Run("env, user and working directory", func(t *testing.T) {
		r := e.execAs(Admin, id, testenv.ExecRequest{
			Command: []string{"sh", "-c", `echo "$GREETING"; pwd; id -u`},
			Env:     []string{"GREETING=hello exec"}, User: "nobody", WorkingDir: "/tmp",
		})
		if r.err != nil || r.code != 0 || r.stdout != "hello exec\n/tmp\n65534\n" {
			t.Fatalf("%s; want \"hello exec\\n/tmp\\n65534\\n\"", r)
		}
	})
	t.Run("tty with an initial size", func(t *testing.T) {
		sizes := make(testenv.SizeQueue, 1)
		sizes <- remotecommand.TerminalSize{Width: 123, Height: 45}
		defer close(sizes)
		r := e.execAs(Admin, id, testenv.ExecRequest{Command: []string{"stty", "size"}, TTY: true, Sizes: sizes})
		if r.err != nil || r.code != 0 || ttyLines(r.stdout)[0] != "45 123" {
			t.Fatalf("%s; want exit 0 and \"45 123\" first", r)
		}
	})
	t.Run("tty resized", func(t *testing.T) {
		sizes := make(testenv.SizeQueue, 1)
		sizes <- remotecommand.TerminalSize{Width: 100, Height: 30}
		defer close(sizes)
		stdinR, stdinW := io.Pipe()
		defer func() { _ = stdinW.Close() }()
		var out syncBuffer
		done := make(chan execResult, 1)
		go func() {
			done <- e.execAs(Admin, id, testenv.ExecRequest{
				// Prints the size at the start and for every line read; q exits 7.
				Command: []string{"sh", "-c", `stty size; while read -r x; do [ "$x" = q ] && exit 7; stty size; done`},
				TTY:     true, Sizes: sizes, Stdin: stdinR, Stdout: &out,
			})
		}()
		has := func(want string) func() (bool, string) {
			return func() (bool, string) {
				select {
				case r := <-done:
					t.Fatalf("ended early: %s (output %q)", r, out.String())
				default:
				}
				return slices.Contains(ttyLines(out.String()), want), fmt.Sprintf("no line %q in %q", want, out.String())
			}
		}
		Eventually(t, 30*time.Second, has("30 100"))
		sizes <- remotecommand.TerminalSize{Width: 120, Height: 40}
		// The resize and the input take different paths to the terminal: ask
		// again until the new size shows.
		Eventually(t, 30*time.Second, func() (bool, string) {
			if _, err := io.WriteString(stdinW, "\n"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
			return has("40 120")()
		})
		if _, err := io.WriteString(stdinW, "q\n"); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-done:
			if r.err != nil || r.code != 7 {
				t.Fatalf("%s; want exit 7 (output %q)", r, out.String())
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("no end after q; output %q", out.String())
		}
	})
	t.Run("refused before the upgrade", func(t *testing.T) {
		stopped := e.Container(t, "exec-stopped", "exit 0")
		e.WaitMirrored(t, stopped)
		Eventually(t, 60*time.Second, func() (bool, string) {
			out := testenv.MustDocker(t, e.DockerHost, "inspect", "-f", "{{.State.Running}}", stopped)
			return strings.TrimSpace(out) == "false", "still running: " + out
		})
		unknown := strings.Repeat("ab", 32)
		for _, c := range []struct {
			name, id, query string
			code            int
			want            string
		}{
			{"no command", id, "stdout=true", http.StatusBadRequest, "command is required"},
			{"unknown container", unknown, "command=true&stdout=true", http.StatusNotFound, unknown},
			{"stopped container", stopped, "command=true&stdout=true", http.StatusConflict, "not running"},
		} {
			code, body := e.dialExec(t, Admin, c.id, c.query)
			if code != c.code || !strings.Contains(body, c.want) {
				t.Errorf("%s: %d %s, want %d with %q", c.name, code, trim(body), c.code, c.want)
			}
		}
	})
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestExecRBAC: exec needs get and create on containers/exec. Reading logs
// or viewing (and the operator role) gives no exec, a role with get alone is
// refused by this server's create check, and artifacts/rbac/exec.yaml's role
// opens a shell; removing its binding takes it away again.
func TestExecRBAC(t *testing.T) {
	e := Get(t)
	id := e.Container(t, "exec-rbac", SleepScript)
	e.WaitMirrored(t, id)
	query := "command=echo&command=ok&stdout=true"

	t.Run("no exec role", func(t *testing.T) {
		for _, user := range []string{LogReader, Viewer, Operator} {
			code, body := e.dialExec(t, user, id, query)
			if code != http.StatusForbidden || !strings.Contains(body, fmt.Sprintf(`User \"%s\" cannot get resource \"containers/exec\"`, user)) {
				t.Errorf("%s: %d %s, want 403 for get on containers/exec", user, code, trim(body))
			}
			// And the way kubectl does it.
			if r := e.execAs(user, id, testenv.ExecRequest{Command: []string{"echo", "ok"}}); r.err == nil || r.stdout != "" {
				t.Errorf("%s: exec ran: %s", user, r)
			}
		}
	})

	t.Run("get without create", func(t *testing.T) {
		e.ApplyYAML(t, fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: e2e-exec-get-only-%d, namespace: %s}
rules:
- apiGroups: [containers.rancherdesktop.io]
  resources: [containers/exec]
  verbs: [get]
`, os.Getpid(), e.Namespace))
		bindUntil(t, e, "Role", fmt.Sprintf("e2e-exec-get-only-%d", os.Getpid()), Viewer)
		// kube-apiserver lets the get through once RBAC has the binding; the
		// server then asks for create, and is refused.
		var body string
		Eventually(t, 30*time.Second, func() (bool, string) {
			var code int
			code, body = e.dialExec(t, Viewer, id, query)
			return code == http.StatusForbidden && strings.Contains(body, "create"), fmt.Sprintf("%d %s", code, trim(body))
		})
		if !strings.Contains(body, "containers/exec") || !strings.Contains(body, `"reason":"Forbidden"`) {
			t.Errorf("403 without the subresource or reason: %s", trim(body))
		}
		t.Logf("get-only: %s", trim(body))
		if r := e.execAs(Viewer, id, testenv.ExecRequest{Command: []string{"echo", "ok"}}); r.err == nil || r.stdout != "" {
			t.Errorf("viewer with get only: exec ran: %s", r)
		}
	})

	t.Run("exec role", func(t *testing.T) {
		unbind := bindUntil(t, e, "ClusterRole", ExecRole, Operator)
		var r execResult
		Eventually(t, 30*time.Second, func() (bool, string) {
			r = e.execAs(Operator, id, testenv.ExecRequest{Command: []string{"sh", "-c", "echo ok; id -un"}})
			return r.err == nil && r.code == 0 && r.stdout == "ok\nroot\n", r.String()
		})
		unbind()
		// Revoked: kube-apiserver refuses the get again.
		Eventually(t, 30*time.Second, func() (bool, string) {
			code, body := e.dialExec(t, Operator, id, query)
			return code == http.StatusForbidden, fmt.Sprintf("after the binding was removed: %d %s", code, trim(body))
		})
	})
}

// bindUntil binds the ClusterRole or Role (kind) name to user in the
// namespace; the returned func (also run when the test ends) removes the
// binding.
func bindUntil(t *testing.T, e *Env, kind, name, user string) func() {
	t.Helper()
	yaml := fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: e2e-exec-%s-%s-%d, namespace: %s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: %s, name: %q}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: %s}]
`, user, strings.ToLower(kind), os.Getpid(), e.Namespace, kind, name, user)
	kubectlStdin(t, e, yaml, "apply", "-f", "-")
	var once sync.Once
	unbind := func() { once.Do(func() { kubectlStdin(t, e, yaml, "delete", "--ignore-not-found", "-f", "-") }) }
	t.Cleanup(unbind)
	return unbind
}

// TestExecBrowser: a page in headless Chromium opens a shell in a container
// through kube-apiserver the way a browser terminal does: the
// base64.channel.k8s.io subprotocol (text messages) and the bearer token as a
// subprotocol; it sets the terminal's size, types a command line, and reads
// the output and the exit status. As in TestBrowserThroughKubeAPIServer the
// page reaches kube-apiserver through a TLS-terminating reverse proxy.
func TestExecBrowser(t *testing.T) {
	e := Get(t)
	// The first call may apt-install Chromium: before any deadline starts.
	if _, err := browser.Chromium(); err != nil {
		t.Fatal(err)
	}
	id := e.Container(t, "exec-browser", SleepScript)
	e.WaitMirrored(t, id)
	bindUntil(t, e, "ClusterRole", ExecRole, Operator)
	Eventually(t, 30*time.Second, func() (bool, string) {
		code, body := e.dialExec(t, Operator, id, "command=true&stdout=true")
		return code == http.StatusSwitchingProtocols, fmt.Sprintf("operator with the exec role: %d %s", code, trim(body))
	})
	target, err := neturl.Parse(e.KubeURL)
	if err != nil {
		t.Fatal(err)
	}
	lb := httptest.NewTLSServer(&httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport: &http.Transport{TLSClientConfig: e.TLSConfig(t, Anonymous)},
	})
	t.Cleanup(lb.Close)
	url := strings.Replace(lb.URL, "https://", "wss://", 1) + e.ContainerPath(id, "exec") +
		"?tty=true&stdin=true&stdout=true&command=sh"

	t.Run("shell", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		r, err := browser.ExecInBrowser(ctx, t,
			browser.Options{URL: url, Token: e.Tokens[Operator], InsecureSkipTLSVerify: true, Timeout: 60 * time.Second},
			browser.ExecInput{Width: 97, Height: 31, Input: "stty size; echo hello-$((6*7)); exit 5\r"})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Opened || r.Protocol != browser.ExecProtocol || r.Done != "closed" || r.CloseCode != 1000 || r.Other != "" {
			t.Fatalf("page result: %s", r)
		}
		lines := ttyLines(r.Stdout)
		if !slices.Contains(lines, "31 97") || !slices.Contains(lines, "hello-42") {
			t.Errorf("output lacks the size line \"31 97\" or \"hello-42\": %q (result %s)", r.Stdout, r)
		}
		if code, err := r.ExitCode(); err != nil || code != 5 {
			t.Errorf("exit status %d (%v), want 5; result %s", code, err, r)
		}
		t.Logf("browser shell: %q, status %s, events %v", r.Stdout, r.ErrorChannel, r.Events)
	})

	t.Run("logreader refused", func(t *testing.T) {
		// What the browser cannot show: the status of the refused upgrade.
		d := websocket.Dialer{TLSClientConfig: lb.Client().Transport.(*http.Transport).TLSClientConfig,
			Subprotocols: []string{browser.ExecProtocol, "base64url.bearer.authorization.k8s.io." +
				base64.RawURLEncoding.EncodeToString([]byte(e.Tokens[LogReader]))}}
		if c, resp, err := d.Dial(url, nil); err == nil {
			c.Close()
			t.Fatalf("the upgrade was accepted")
		} else if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("upgrade: %v (%v), want 403", err, resp)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		r, err := browser.ExecInBrowser(ctx, t,
			browser.Options{URL: url, Token: e.Tokens[LogReader], InsecureSkipTLSVerify: true, Timeout: 20 * time.Second},
			browser.ExecInput{Width: 80, Height: 24, Input: "echo should-not-run\r"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Opened || r.Stdout != "" || r.ErrorChannel != "" {
			t.Errorf("the page got a shell without the exec role: %s", r)
		}
	})
}
