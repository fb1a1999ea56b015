package bench

// Endpoints of the log benchmark: the server itself, and kube-apiserver's
// aggregation layer in front of a second copy of it (the e2e control plane,
// hack/e2e-up.sh, started by hack/bench.sh with CA_E2E_RACE=0).

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// endpoint is one way to reach the log subresource.
type endpoint struct {
	name   string // "server" or "kube-apiserver"
	base   string // URL without the path
	ns     string
	h1, h2 *http.Client
	tls    *tls.Config // for WebSocket handshakes
	header http.Header // authentication, added to every request
	// pid is the server process behind the endpoint, for its resource
	// figures; 0 when it is this process.
	pid int
}

func (e *endpoint) logURL(id string, q url.Values) string {
	u := e.base + "/apis/containers.rancherdesktop.io/v1alpha1/namespaces/" + e.ns + "/containers/" + id + "/log"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// request builds an authenticated GET.
func (e *endpoint) request(ctx context.Context, u string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range e.header {
		req.Header[k] = v
	}
	return req, nil
}

// directEndpoint is the in-process server: HTTP/1.1 as a plain client (curl,
// fetch) speaks it, HTTP/2 through client-go's transport, as kubectl does.
func directEndpoint(t *testing.T, s *testenv.Server) *endpoint {
	t.Helper()
	insecure := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the test server's own certificate
	tr := &http.Transport{TLSClientConfig: insecure}
	t.Cleanup(tr.CloseIdleConnections)
	h2, err := rest.HTTPClientFor(rest.CopyConfig(s.Config))
	if err != nil {
		t.Fatalf("client-go HTTP client: %v", err)
	}
	t.Cleanup(h2.CloseIdleConnections)
	return &endpoint{name: "server", base: s.URL, ns: s.Namespace, h1: &http.Client{Transport: tr}, h2: h2,
		tls: insecure, header: http.Header{"Authorization": {"Bearer " + s.Token}}}
}

// controlPlane is what the benchmark needs of hack/e2e-up.sh's env file.
type controlPlane struct {
	kubeURL, ns       string
	serverURL         string
	tls               *tls.Config // kube-apiserver's CA and the admin client certificate
	serverPID, kasPID int
}

// loadControlPlane reads $CA_BENCH_E2E_ENV; nil when it is not set (the
// aggregated paths are then left out, and the report says so).
func loadControlPlane(t *testing.T) *controlPlane {
	t.Helper()
	file := os.Getenv("CA_BENCH_E2E_ENV")
	if file == "" {
		return nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("CA_BENCH_E2E_ENV: %v", err)
	}
	kv := map[string]string{}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			kv[k] = v
		}
	}
	need := func(k string) string {
		if kv[k] == "" {
			t.Fatalf("%s: no %s", file, k)
		}
		return kv[k]
	}
	ca, err := os.ReadFile(need("E2E_KUBE_CA"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("no certificate in %s", kv["E2E_KUBE_CA"])
	}
	cert, err := tls.LoadX509KeyPair(need("E2E_ADMIN_CERT"), need("E2E_ADMIN_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	cp := &controlPlane{kubeURL: need("E2E_KUBE_URL"), ns: need("E2E_NAMESPACE"), serverURL: need("E2E_SERVER_URL"),
		tls: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	cp.serverPID = pidFromFile(t, need("E2E_SERVER_PIDFILE"))
	cp.kasPID = pidFromFile(t, strings.TrimSuffix(kv["E2E_SERVER_PIDFILE"], "containers-apiserver.pid")+"kube-apiserver.pid")
	return cp
}

func pidFromFile(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return pid
}

// aggregatedEndpoint reaches the second server through kube-apiserver as the
// admin user (a client certificate), over HTTP/1.1 or HTTP/2 as asked:
// kube-apiserver itself always proxies to the server over HTTP/2.
func (cp *controlPlane) aggregatedEndpoint(t *testing.T) *endpoint {
	t.Helper()
	return cp.endpoint(t, "kube-apiserver", cp.kubeURL)
}

// serverEndpoint reaches the control plane's server straight at its port, as
// the admin user (its certificate is valid there too: delegated
// authentication trusts kube-apiserver's client CA).
func (cp *controlPlane) serverEndpoint(t *testing.T) *endpoint {
	t.Helper()
	return cp.endpoint(t, "control plane's server", cp.serverURL)
}

func (cp *controlPlane) endpoint(t *testing.T, name, base string) *endpoint {
	cfg := cp.tls.Clone()
	if base == cp.serverURL {
		cfg.InsecureSkipVerify = true // the server's self-signed certificate
	}
	h1 := &http.Transport{TLSClientConfig: cfg.Clone(), TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
		MaxIdleConnsPerHost: 100}
	h2 := &http.Transport{TLSClientConfig: cfg.Clone(), ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 100}
	t.Cleanup(h1.CloseIdleConnections)
	t.Cleanup(h2.CloseIdleConnections)
	return &endpoint{name: name, base: base, ns: cp.ns, h1: &http.Client{Transport: h1}, h2: &http.Client{Transport: h2},
		tls: cfg, header: http.Header{}, pid: cp.serverPID}
}

// get GETs path on the endpoint over HTTP/2 and returns the status and body.
func (e *endpoint) get(ctx context.Context, path string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	req, err := e.request(ctx, e.base+path)
	if err != nil {
		return 0, nil, err
	}
	resp, err := e.h2.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// waitContainer waits until the endpoint serves the container (its mirror).
func (e *endpoint) waitContainer(ctx context.Context, t *testing.T, id string) {
	t.Helper()
	path := "/apis/containers.rancherdesktop.io/v1alpha1/namespaces/" + e.ns + "/containers/" + id
	deadline := time.Now().Add(mirrorDeadline)
	for {
		code, body, err := e.get(ctx, path)
		if err == nil && code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: container %.12s not served after %s: %d %s %v", e.name, id, mirrorDeadline, code, body, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// goroutines reads go_goroutines from the endpoint's /metrics.
func (e *endpoint) goroutines(ctx context.Context) (int, error) {
	code, body, err := e.get(ctx, "/metrics")
	if err != nil {
		return 0, err
	}
	if code != http.StatusOK {
		return 0, fmt.Errorf("/metrics: %d %s", code, body)
	}
	for _, l := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(l, "go_goroutines "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int(f), err
		}
	}
	return 0, fmt.Errorf("/metrics has no go_goroutines")
}
