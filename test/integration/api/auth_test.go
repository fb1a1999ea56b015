//go:build integration

package api

import (
	"crypto/tls"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// TestAuthentication: no token or a wrong token gets 401, the token works,
// health endpoints answer without one.
func TestAuthentication(t *testing.T) {
	host := testenv.DockerHost(t)
	s := testenv.StartServer(t, host, testenv.ServerOptions{})
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the test server's self-signed certificate
	defer hc.CloseIdleConnections()
	list := s.URL + "/apis/containers.rancherdesktop.io/v1alpha1/namespaces/" + s.Namespace + "/containers"

	for _, tc := range []struct {
		name, url, auth string
		want            int
		body            string // a string the response must contain
	}{
		{"anonymous list", list, "", http.StatusUnauthorized, ""},
		{"wrong token", list, "Bearer not-the-token", http.StatusUnauthorized, ""},
		{"token", list, "Bearer " + s.Token, http.StatusOK, ""},
		{"anonymous discovery", s.URL + "/apis", "", http.StatusUnauthorized, ""},
		{"anonymous readyz", s.URL + "/readyz", "", http.StatusOK, ""},
		{"anonymous livez", s.URL + "/livez", "", http.StatusOK, ""},
		{"wrong token readyz", s.URL + "/readyz", "Bearer nope", http.StatusUnauthorized, ""},
		{"anonymous metrics", s.URL + "/metrics", "", http.StatusUnauthorized, ""},
		{"token metrics", s.URL + "/metrics", "Bearer " + s.Token, http.StatusOK, "containers_apiserver_mirror_objects"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.want {
				t.Fatalf("%s: got %d, want %d", tc.url, resp.StatusCode, tc.want)
			}
			if !strings.Contains(string(body), tc.body) {
				t.Fatalf("%s: body lacks %q", tc.url, tc.body)
			}
		})
	}
}

// TestWebSocketBearerSubprotocol: a browser cannot set Authorization on a
// WebSocket, so the token travels as a subprotocol. A watch over WebSocket
// with it streams events; without it the handshake is refused with 401.
func TestWebSocketBearerSubprotocol(t *testing.T) {
	host := testenv.DockerHost(t)
	s := testenv.StartServer(t, host, testenv.ServerOptions{})
	url := strings.Replace(s.URL, "https://", "wss://", 1) +
		"/apis/containers.rancherdesktop.io/v1alpha1/namespaces/" + s.Namespace + "/containernamespaces?watch=1"

	dial := func(protocols ...string) (*websocket.Conn, error) {
		cfg, err := websocket.NewConfig(url, s.URL)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Protocol = protocols
		cfg.TlsConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // test server
		return websocket.DialConfig(cfg)
	}

	// Without a token the upgrade is refused with 401.
	req, _ := http.NewRequest(http.MethodGet, strings.Replace(url, "wss://", "https://", 1), nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.Header.Set("Sec-WebSocket-Protocol", "binary.k8s.io")
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the test server's self-signed certificate
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("WebSocket upgrade without a token: got %d, want 401", resp.StatusCode)
	}
	if conn, err := dial("base64url.bearer.authorization.k8s.io."+base64.RawURLEncoding.EncodeToString([]byte("wrong")), "binary.k8s.io"); err == nil {
		conn.Close()
		t.Fatal("WebSocket with a wrong token was accepted")
	}

	conn, err := dial("base64url.bearer.authorization.k8s.io."+base64.RawURLEncoding.EncodeToString([]byte(s.Token)), "binary.k8s.io")
	if err != nil {
		t.Fatalf("WebSocket with the token: %v", err)
	}
	defer conn.Close()
	if err := conn.SetReadDeadline(time.Now().Add(eventDeadline)); err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Type   string `json:"type"`
		Object struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		} `json:"object"`
	}
	if err := websocket.JSON.Receive(conn, &ev); err != nil {
		t.Fatalf("reading the first watch event: %v", err)
	}
	if ev.Type != "ADDED" || ev.Object.Metadata.Name != "moby" {
		t.Fatalf("first event: %+v", ev)
	}
}
