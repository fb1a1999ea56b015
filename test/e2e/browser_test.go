//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	neturl "net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rancher-sandbox/containers-apiserver/test/browser"
)

// TestBrowserThroughKubeAPIServer: a page in headless Chromium (no network
// beyond loopback) follows a container's log over a WebSocket through
// kube-apiserver, authenticated the only way a browser can: the bearer token
// as a WebSocket subprotocol. A wrong token, or a user without the log
// permission, is refused.
//
// kube-apiserver asks every client for a certificate (it has client CAs), and
// headless Chromium aborts such a handshake when it has none to offer
// (ERR_SSL_CLIENT_AUTH_CERT_NEEDED; a GUI in Electron answers the request in
// its select-client-certificate handler). So the page reaches kube-apiserver
// through a TLS-terminating reverse proxy, as through a load balancer: the
// upgrade, the subprotocols and the token pass through it unchanged, and
// kube-apiserver does the authentication.
func TestBrowserThroughKubeAPIServer(t *testing.T) {
	e := Get(t)
	// The first call may apt-install Chromium: before any deadline starts.
	if _, err := browser.Chromium(); err != nil {
		t.Fatal(err)
	}
	id := e.Container(t, "browser", TriggeredScript)
	e.WaitMirrored(t, id)
	target, err := neturl.Parse(e.KubeURL)
	if err != nil {
		t.Fatal(err)
	}
	lb := httptest.NewTLSServer(&httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport: &http.Transport{TLSClientConfig: e.TLSConfig(t, Anonymous)},
	})
	t.Cleanup(lb.Close)
	url := strings.Replace(lb.URL, "https://", "wss://", 1) + e.ContainerPath(id, "log") + "?follow=true"

	t.Run("log reader follows", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		s, err := browser.Start(ctx, t, browser.Options{
			URL: url, Token: e.Tokens[LogReader], MaxLines: 3, InsecureSkipTLSVerify: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.WaitFor(ctx, s.FirstData(), "the first log line"); err != nil {
			t.Fatal(err)
		}
		// Written after the page connected: only a live stream can carry it.
		e.Trigger(t, id)
		r, err := s.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Opened || r.Protocol != browser.DefaultProtocol || r.ErrorChannel != "" {
			t.Fatalf("page result: %s", r)
		}
		if got, want := r.StdoutLines(), []string{"ready", "marker", "tick-0"}; !slices.Equal(got, want) {
			t.Errorf("lines %q, want %q (result %s)", got, want, r)
		}
	})

	for name, tc := range map[string]struct {
		token string
		code  int
	}{
		"wrong token":                {"not-a-token", http.StatusUnauthorized},
		"viewer (no log permission)": {e.Tokens[Viewer], http.StatusForbidden},
	} {
		token := tc.token
		t.Run(name, func(t *testing.T) {
			// What the browser cannot show: the status of the refused upgrade.
			d := websocket.Dialer{TLSClientConfig: lb.Client().Transport.(*http.Transport).TLSClientConfig,
				Subprotocols: []string{browser.DefaultProtocol, "base64url.bearer.authorization.k8s.io." + base64.RawURLEncoding.EncodeToString([]byte(token))}}
			if c, resp, err := d.Dial(url, nil); err == nil {
				c.Close()
				t.Fatalf("the upgrade was accepted")
			} else if resp == nil || resp.StatusCode != tc.code {
				t.Fatalf("upgrade: %v (%v), want %d", err, resp, tc.code)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			r, err := browser.ReadLogInBrowser(ctx, t, browser.Options{
				URL: url, Token: token, MaxLines: 1, Timeout: 20 * time.Second, InsecureSkipTLSVerify: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			if r.Opened || r.Bytes != 0 || (!r.ErrorEvent && !r.Closed) {
				t.Errorf("the page got a stream with a refused token: %s", r)
			}
		})
	}
}
