package testenv

import (
	"crypto/tls"
	"net/http"
	"testing"
	"time"
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
