//go:build integration

// Package logs tests the containers/log subresource against a real dockerd.
package logs

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

const deadline = 60 * time.Second

// env is one server on the shared engine, with helpers to reach its log endpoint.
type env struct {
	t    *testing.T
	host string
	s    *testenv.Server
	hc   *http.Client
}

func newEnv(t *testing.T, so testenv.ServerOptions) *env {
	host := testenv.DockerHost(t)
	return &env{t: t, host: host, s: testenv.StartServer(t, host, so), hc: httpClient(t)}
}

func httpClient(t *testing.T) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // test server
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// run starts a container with args (after the image) and waits until it is mirrored.
func (e *env) run(dockerArgs []string, cmd ...string) string {
	e.t.Helper()
	args := append([]string{"run", "-d", "--name", testenv.UniqueName(e.t, "log")}, dockerArgs...)
	args = append(append(args, testenv.BusyboxImage), cmd...)
	id := testenv.MustDocker(e.t, e.host, args...)
	e.t.Cleanup(func() { _, _ = testenv.Docker(context.Background(), e.host, "rm", "-f", id) })
	e.waitMirrored(id)
	return id
}

func (e *env) waitMirrored(id string) {
	e.t.Helper()
	until := time.Now().Add(deadline)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		_, err := e.s.Client.ContainersV1alpha1().Containers(e.s.Namespace).Get(context.Background(), id, metav1.GetOptions{})
		if err == nil {
			return
		}
		if time.Now().After(until) {
			e.t.Fatalf("container %s not mirrored: %v", id, err)
		}
		<-tick.C
	}
}

// waitExited waits until Docker reports the container stopped.
func (e *env) waitExited(id string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if _, err := testenv.Docker(ctx, e.host, "wait", id); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) logURL(id, sub string, q url.Values) string {
	u := e.s.URL + "/apis/containers.rancherdesktop.io/v1alpha1/namespaces/" + e.s.Namespace + "/containers/" + id + "/" + sub
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// get sends an authenticated GET and returns the response (body open).
func (e *env) get(ctx context.Context, u string) *http.Response {
	e.t.Helper()
	return testenv.Get(ctx, e.t, e.hc, u, e.s.Token)
}

// logs fetches a whole log over HTTP and fails unless the status is 200.
func (e *env) logs(id string, q url.Values) string {
	e.t.Helper()
	return e.logsVia(id, "log", q)
}

// dial opens a WebSocket to the log endpoint with the given subprotocols.
func (e *env) dial(id string, q url.Values, protocols ...string) (*websocket.Conn, string) {
	e.t.Helper()
	return e.dialURL(e.logURL(id, "log", q), protocols...)
}

// dialURL opens a WebSocket to an https URL with the given subprotocols.
func (e *env) dialURL(u string, protocols ...string) (*websocket.Conn, string) {
	e.t.Helper()
	conn := testenv.DialWebSocket(e.t, u, e.s.Token, protocols...)
	return conn, conn.Subprotocol()
}

// readAll reads a WebSocket until it closes; it returns the frames' payloads
// per channel (channel protocols) or under key 0, and the close error.
func readAll(t *testing.T, conn *websocket.Conn, channels bool) (map[byte][]byte, error) {
	t.Helper()
	out := map[byte][]byte{}
	_ = conn.SetReadDeadline(time.Now().Add(deadline))
	for {
		typ, data, err := conn.ReadMessage()
		if err != nil {
			return out, err
		}
		if typ != websocket.BinaryMessage && typ != websocket.TextMessage {
			continue
		}
		if channels {
			if len(data) == 0 {
				continue
			}
			out[data[0]] = append(out[data[0]], data[1:]...)
		} else {
			out[0] = append(out[0], data...)
		}
	}
}

// logsVia fetches a whole log through the named subresource (log or logs).
func (e *env) logsVia(id, sub string, q url.Values) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	resp := e.get(ctx, e.logURL(id, sub, q))
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", sub, resp.StatusCode, body)
	}
	return string(body)
}

// waitLogged waits until the last line of the container's log, read
// straight from Docker (a tail, which Docker reads from the end), is marker.
func (e *env) waitLogged(id, marker string) {
	e.t.Helper()
	dc := testenv.DockerClient(e.t, e.host)
	until := time.Now().Add(3 * deadline)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		o := dockerLogsOptions(true, true)
		o.Tail = "1"
		rc, err := dc.ContainerLogs(context.Background(), id, o)
		if err != nil {
			e.t.Fatal(err)
		}
		var last strings.Builder
		_, _ = stdcopyStd(&last, &last, rc)
		rc.Close()
		if strings.TrimSpace(last.String()) == marker {
			return
		}
		if time.Now().After(until) {
			e.t.Fatalf("container never logged %q; last line %q", marker, last.String())
		}
		<-tick.C
	}
}
