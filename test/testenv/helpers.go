package testenv

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// HTTPClient returns an HTTP/1.1 client for the test server (whose
// certificate is self-signed): HTTP/1.1 so that WebSocket handshakes can be
// sent as plain requests. Its idle connections are closed when the test ends.
func HTTPClient(t testing.TB) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // the test server
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// Eventually polls check every 50 ms until it returns nil, and fails the test
// with check's last error once timeout has passed.
func Eventually(t testing.TB, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, timeout, err)
		}
		<-tick.C
	}
}

// Get sends GET u with the bearer token and returns the response, its body
// open for the caller to close.
func Get(ctx context.Context, t testing.TB, hc *http.Client, u, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// DialWebSocket opens a WebSocket to an https URL of the test server with
// the bearer token and the given subprotocols, and fails the test with the
// server's answer when the handshake is refused. The connection is closed
// when the test ends.
func DialWebSocket(t testing.TB, u, token string, protocols ...string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{
		TLSClientConfig:  &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the test server
		Subprotocols:     protocols,
		HandshakeTimeout: time.Minute,
	}
	conn, resp, err := d.Dial(strings.Replace(u, "https://", "wss://", 1), http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		body := ""
		if resp != nil {
			b, _ := io.ReadAll(resp.Body)
			body = fmt.Sprintf("%d %s", resp.StatusCode, b)
		}
		t.Fatalf("WebSocket dial %v: %v %s", protocols, err, body)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}
