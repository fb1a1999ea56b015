//go:build e2e

// Package e2e tests containers-apiserver behind a real kube-apiserver: the
// aggregation layer, delegated authentication and authorization with real
// users, long log streams, many concurrent streams and readiness.
//
// The control plane (etcd, kube-apiserver, this server registered through an
// APIService) is brought up by hack/e2e-up.sh, which writes an env file;
// hack/e2e.sh (`make e2e`) runs it, points CA_E2E_ENV at the file, runs
// `go test -race -tags e2e ./test/e2e/...` and tears everything down. The
// package has the build tag e2e so `go test ./...` does not pick it up.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// Env describes the running control plane (from hack/e2e-up.sh's env file).
type Env struct {
	// Dir is the control plane's state dir (logs, kubeconfigs, pki).
	Dir string
	// KubeURL is kube-apiserver's URL; KubeCA its serving CA (PEM file).
	KubeURL, KubeCA string
	// AdminKubeconfig authenticates with a client certificate in system:masters.
	AdminKubeconfig     string
	AdminCert, AdminKey string
	// Tokens and Kubeconfigs of the test users, by name: viewer, logreader, operator.
	Tokens      map[string]string
	Kubeconfigs map[string]string
	// Namespace holds every mirror (rancher-desktop).
	Namespace string
	// RequestTimeout is kube-apiserver's --request-timeout.
	RequestTimeout time.Duration
	// ServerURL is this server's own address (not through kube-apiserver);
	// ServerPort its port, the APIService's service port.
	ServerURL, ServerPort string
	// ServerBin is the built server (-race); ServerKubeconfig its identity,
	// the ServiceAccount rancher-desktop/containers-apiserver.
	ServerBin, ServerKubeconfig string
	// APIService is the name of the APIService registering the server.
	APIService string
	// DockerHost is the engine the server mirrors.
	DockerHost string

	cacheDir string

	mu      sync.Mutex
	clients map[string]*http.Client
}

// client is a shared client per user for short requests.
func (e *Env) client(t testing.TB, user string) *http.Client {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.clients == nil {
		e.clients = map[string]*http.Client{}
	}
	if c := e.clients[user]; c != nil {
		return c
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: e.TLSConfig(t, user), ForceAttemptHTTP2: true}}
	e.clients[user] = c
	return c
}

// Users with a token; "admin" (a client certificate) is the fourth.
const (
	Admin     = "admin"
	Viewer    = "viewer"
	LogReader = "logreader"
	Operator  = "operator"
	Anonymous = "" // no credentials at all
)

// Resource is the containers resource, fully qualified for kubectl.
const Resource = "containers.containers.rancherdesktop.io"

// Group and version paths.
const GroupVersionPath = "/apis/containers.rancherdesktop.io/v1alpha1"

var (
	envOnce sync.Once
	env     *Env
	envErr  error
)

// Get returns the control plane's description, failing the test when the
// suite was not started by hack/e2e.sh.
func Get(t testing.TB) *Env {
	t.Helper()
	envOnce.Do(func() { env, envErr = load(os.Getenv("CA_E2E_ENV")) })
	if envErr != nil {
		t.Fatalf("no e2e control plane (run `make e2e` or hack/e2e.sh): %v", envErr)
	}
	return env
}

func load(file string) (*Env, error) {
	if file == "" {
		return nil, fmt.Errorf("CA_E2E_ENV is not set")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	kv := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			kv[k] = v
		}
	}
	need := func(k string) string {
		if kv[k] == "" && err == nil {
			err = fmt.Errorf("%s: %s is missing", file, k)
		}
		return kv[k]
	}
	e := &Env{
		Dir:              need("E2E_DIR"),
		KubeURL:          need("E2E_KUBE_URL"),
		KubeCA:           need("E2E_KUBE_CA"),
		AdminKubeconfig:  need("E2E_ADMIN_KUBECONFIG"),
		AdminCert:        need("E2E_ADMIN_CERT"),
		AdminKey:         need("E2E_ADMIN_KEY"),
		Namespace:        need("E2E_NAMESPACE"),
		ServerURL:        need("E2E_SERVER_URL"),
		ServerPort:       need("E2E_SERVER_PORT"),
		ServerBin:        need("E2E_SERVER_BIN"),
		ServerKubeconfig: need("E2E_SERVER_KUBECONFIG"),
		APIService:       need("E2E_APISERVICE"),
		DockerHost:       need("DOCKER_HOST"),
		Tokens: map[string]string{
			Viewer:    need("E2E_TOKEN_VIEWER"),
			LogReader: need("E2E_TOKEN_LOGREADER"),
			Operator:  need("E2E_TOKEN_OPERATOR"),
		},
		Kubeconfigs: map[string]string{
			Admin:     need("E2E_ADMIN_KUBECONFIG"),
			Viewer:    need("E2E_KUBECONFIG_VIEWER"),
			LogReader: need("E2E_KUBECONFIG_LOGREADER"),
			Operator:  need("E2E_KUBECONFIG_OPERATOR"),
		},
	}
	rt := need("E2E_REQUEST_TIMEOUT")
	if err != nil {
		return nil, err
	}
	if e.RequestTimeout, err = time.ParseDuration(rt); err != nil {
		return nil, fmt.Errorf("E2E_REQUEST_TIMEOUT: %w", err)
	}
	// kubectl's discovery cache, private to this run.
	if e.cacheDir, err = os.MkdirTemp("", "e2e-kubectl-cache-"); err != nil {
		return nil, err
	}
	return e, nil
}

// TLSConfig trusts kube-apiserver's CA and, for Admin, presents the admin
// client certificate.
func (e *Env) TLSConfig(t testing.TB, user string) *tls.Config {
	t.Helper()
	ca, err := os.ReadFile(e.KubeCA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("no certificate in %s", e.KubeCA)
	}
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if user == Admin {
		cert, err := tls.LoadX509KeyPair(e.AdminCert, e.AdminKey)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg
}

// Transport returns a fresh HTTP/2-capable transport to kube-apiserver for
// user (its own connections), closed when the test ends.
func (e *Env) Transport(t testing.TB, user string) *http.Transport {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: e.TLSConfig(t, user), ForceAttemptHTTP2: true,
		MaxIdleConnsPerHost: 100, ResponseHeaderTimeout: 30 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// Request builds a request to kube-apiserver's path as user.
func (e *Env) Request(ctx context.Context, user, method, path string, body []byte) *http.Request {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.KubeURL+path, r)
	if err != nil {
		panic(err)
	}
	if tok := e.Tokens[user]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/merge-patch+json")
	}
	return req
}

// Do sends one request as user and returns the status code and body.
func (e *Env) Do(t testing.TB, user, method, path string, body []byte) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := e.client(t, user).Do(e.Request(ctx, user, method, path, body))
	if err != nil {
		t.Fatalf("%s %s as %q: %v", method, path, user, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// ContainerPath is the API path of a container (and sub, e.g. "log").
func (e *Env) ContainerPath(id, sub string) string {
	p := GroupVersionPath + "/namespaces/" + e.Namespace + "/containers/" + id
	if sub != "" {
		p += "/" + sub
	}
	return p
}

// Kubectl runs kubectl as user and returns its combined output.
func (e *Env) Kubectl(ctx context.Context, user string, args ...string) (string, error) {
	cmd := e.KubectlCmd(ctx, user, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s (as %s): %w: %s", strings.Join(args, " "), user, err, out)
	}
	return string(out), nil
}

// KubectlCmd prepares a kubectl command as user.
func (e *Env) KubectlCmd(ctx context.Context, user string, args ...string) *exec.Cmd {
	kc := e.Kubeconfigs[user]
	base := []string{"--kubeconfig", kc, "--cache-dir", filepath.Join(e.cacheDir, user)}
	return exec.CommandContext(ctx, "kubectl", append(base, args...)...)
}

// MustKubectl is Kubectl failing the test on error, with a 60 s deadline.
func (e *Env) MustKubectl(t testing.TB, user string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := e.Kubectl(ctx, user, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Container runs a busybox container with script as its shell command and
// returns its ID; it is removed when the test ends.
func (e *Env) Container(t testing.TB, prefix, script string) string {
	t.Helper()
	name := testenv.UniqueName(t, prefix)
	id := testenv.MustDocker(t, e.DockerHost, "run", "-d", "--name", name, testenv.BusyboxImage, "sh", "-c", script)
	t.Cleanup(func() { _, _ = testenv.Docker(context.Background(), e.DockerHost, "rm", "-f", id) })
	return id
}

// TriggeredScript prints "ready", waits for /tmp/go, prints "marker", then
// "tick-N" every tickEvery until stopped.
const TriggeredScript = `trap 'exit 0' TERM; echo ready; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo marker; ` +
	`i=0; while :; do echo tick-$i; i=$((i+1)); sleep 1; done`

// TickScript prints "tick-N" every second from the start.
const TickScript = `trap 'exit 0' TERM; i=0; while :; do echo tick-$i; i=$((i+1)); sleep 1; done`

// Trigger makes a TriggeredScript container print its marker.
func (e *Env) Trigger(t testing.TB, id string) {
	t.Helper()
	testenv.MustDocker(t, e.DockerHost, "exec", id, "touch", "/tmp/go")
}

// WaitMirrored waits until the container is visible through kube-apiserver.
func (e *Env) WaitMirrored(t testing.TB, id string) {
	t.Helper()
	Eventually(t, 60*time.Second, func() (bool, string) {
		code, body := e.Do(t, Admin, http.MethodGet, e.ContainerPath(id, ""), nil)
		return code == http.StatusOK, fmt.Sprintf("GET container %s: %d %s", id, code, trim(body))
	})
}

// Eventually polls cond every 100 ms until it is true or the deadline passes.
func Eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, msg)
		}
		<-tick.C
	}
}

// Lines reads r line by line into a channel, closed (after sending the read
// error to errc) at EOF or error.
func Lines(r io.Reader) (<-chan string, <-chan error) {
	lines := make(chan string, 1024)
	errc := make(chan error, 1)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
		errc <- sc.Err()
	}()
	return lines, errc
}

// ExpectLine waits for a line containing want (all of them).
func ExpectLine(t testing.TB, lines <-chan string, timeout time.Duration, want ...string) string {
	t.Helper()
	deadline := time.After(timeout)
	var seen []string
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("stream ended before a line with %q; saw %q", want, last(seen, 10))
			}
			seen = append(seen, l)
			if containsAll(l, want) {
				return l
			}
		case <-deadline:
			t.Fatalf("no line with %q within %s; saw %q", want, timeout, last(seen, 10))
		}
	}
}

func containsAll(s string, want []string) bool {
	for _, w := range want {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

func last(s []string, n int) []string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func trim(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 400 {
		return s[:400] + "..."
	}
	return s
}

// APIServiceCondition is the Available condition of the server's APIService.
type APIServiceCondition struct {
	Status, Reason, Message string
}

// Available reads the APIService's Available condition.
func (e *Env) Available(t testing.TB) APIServiceCondition {
	t.Helper()
	code, body := e.Do(t, Admin, http.MethodGet, "/apis/apiregistration.k8s.io/v1/apiservices/"+e.APIService, nil)
	if code != http.StatusOK {
		t.Fatalf("GET apiservice: %d %s", code, trim(body))
	}
	var as struct {
		Status struct {
			Conditions []struct{ Type, Status, Reason, Message string }
		}
	}
	if err := json.Unmarshal([]byte(body), &as); err != nil {
		t.Fatal(err)
	}
	for _, c := range as.Status.Conditions {
		if c.Type == "Available" {
			return APIServiceCondition{c.Status, c.Reason, c.Message}
		}
	}
	return APIServiceCondition{Status: "Unknown"}
}

// SetAPIServicePort points the APIService at another port on localhost.
func (e *Env) SetAPIServicePort(t testing.TB, port string) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"service":{"port":%s}}}`, port)
	code, body := e.Do(t, Admin, http.MethodPatch, "/apis/apiregistration.k8s.io/v1/apiservices/"+e.APIService, []byte(patch))
	if code != http.StatusOK {
		t.Fatalf("PATCH apiservice port %s: %d %s", port, code, trim(body))
	}
}

// WaitAvailable waits for the APIService's Available condition to be status.
func (e *Env) WaitAvailable(t testing.TB, status string, timeout time.Duration) APIServiceCondition {
	t.Helper()
	var c APIServiceCondition
	Eventually(t, timeout, func() (bool, string) {
		c = e.Available(t)
		return c.Status == status, fmt.Sprintf("APIService Available=%s (%s: %s), want %s", c.Status, c.Reason, c.Message, status)
	})
	return c
}
