//go:build integration

// Package browser reads container logs from headless Chromium over WebSocket,
// authenticated with the base64url.bearer.authorization.k8s.io subprotocol,
// against a standalone server.
package browser

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rancher-sandbox/containers-apiserver/test/browser"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

const deadline = 60 * time.Second

type env struct {
	t    *testing.T
	host string
	s    *testenv.Server
}

func newEnv(t *testing.T) *env {
	host := testenv.DockerHost(t)
	// Install (if needed) Chromium up front, so its first-time apt install is
	// not charged to a test's deadline.
	if _, err := browser.Chromium(); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, host: host, s: testenv.StartServer(t, host, testenv.ServerOptions{})}
}

// run starts a busybox container running sh -c script and waits until it is mirrored.
func (e *env) run(script string) string {
	e.t.Helper()
	id := testenv.MustDocker(e.t, e.host, "run", "-d", "--name", testenv.UniqueName(e.t, "browser"), testenv.BusyboxImage, "sh", "-c", script)
	e.t.Cleanup(func() { _, _ = testenv.Docker(context.Background(), e.host, "rm", "-f", id) })
	until := time.Now().Add(deadline)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		_, err := e.s.Client.ContainersV1alpha1().Containers(e.s.Namespace).Get(context.Background(), id, metav1.GetOptions{})
		if err == nil {
			return id
		}
		if time.Now().After(until) {
			e.t.Fatalf("container %s not mirrored: %v", id, err)
		}
		<-tick.C
	}
}

func (e *env) wsURL(id, query string) string {
	u := strings.Replace(e.s.URL, "https://", "wss://", 1) +
		"/apis/containers.rancherdesktop.io/v1alpha1/namespaces/" + e.s.Namespace + "/containers/" + id + "/log"
	if query != "" {
		u += "?" + query
	}
	return u
}

func (e *env) waitExited(id string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if _, err := testenv.Docker(ctx, e.host, "wait", id); err != nil {
		e.t.Fatal(err)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	t.Cleanup(cancel)
	return ctx
}

// TestBrowserReadsLog: with the right token the page receives the whole log,
// stdout and stderr on their channels, and a normal close.
func TestBrowserReadsLog(t *testing.T) {
	e := newEnv(t)
	id := e.run(`for i in 1 2 3 4 5; do echo "line $i"; done; echo "to stderr" >&2`)
	e.waitExited(id)
	wantOut := "line 1\nline 2\nline 3\nline 4\nline 5\n"

	for _, proto := range []string{"v5.channel.k8s.io", "v4.channel.k8s.io"} {
		t.Run(proto, func(t *testing.T) {
			r, err := browser.ReadLogInBrowser(ctxT(t), t, browser.Options{
				URL: e.wsURL(id, ""), Token: e.s.Token, Protocol: proto, InsecureSkipTLSVerify: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			if !r.Opened || r.Protocol != proto || r.ErrorEvent || r.Done != "closed" || r.CloseCode != 1000 {
				t.Fatalf("unexpected result: %v", r)
			}
			if r.Stdout != wantOut || r.Stderr != "to stderr\n" || r.ErrorChannel != "" {
				t.Fatalf("got stdout %q stderr %q error channel %q", r.Stdout, r.Stderr, r.ErrorChannel)
			}
		})
	}
	t.Run("base64.binary.k8s.io", func(t *testing.T) {
		r, err := browser.ReadLogInBrowser(ctxT(t), t, browser.Options{
			URL: e.wsURL(id, "stream=Stdout"), Token: e.s.Token, Protocol: "base64.binary.k8s.io", InsecureSkipTLSVerify: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Opened || r.Protocol != "base64.binary.k8s.io" || r.CloseCode != 1000 || r.Stdout != wantOut {
			t.Fatalf("unexpected result: %v", r)
		}
	})
	t.Run("bad option refused", func(t *testing.T) {
		// A bad option is refused before the upgrade: no data, no open.
		r, err := browser.ReadLogInBrowser(ctxT(t), t, browser.Options{
			URL: e.wsURL(id, "tailLines=-1"), Token: e.s.Token, InsecureSkipTLSVerify: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		if r.Opened || r.Bytes != 0 {
			t.Fatalf("bad option accepted: %v", r)
		}
	})
}

// TestBrowserFollowsLog: lines written after the page connected arrive.
func TestBrowserFollowsLog(t *testing.T) {
	e := newEnv(t)
	id := e.run(`echo before; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo after 1; echo after 2; sleep 3600`)
	ctx := ctxT(t)
	s, err := browser.Start(ctx, t, browser.Options{
		URL: e.wsURL(id, "follow=true"), Token: e.s.Token, MaxLines: 3, InsecureSkipTLSVerify: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The page holds "before": the stream is live. Only now write more.
	if err := s.WaitFor(ctx, s.FirstData(), "first line"); err != nil {
		t.Fatal(err)
	}
	testenv.MustDocker(t, e.host, "exec", id, "touch", "/tmp/go")
	r, err := s.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Done != "limit" || r.Stdout != "before\nafter 1\nafter 2\n" {
		t.Fatalf("unexpected result: %v", r)
	}
}

// TestBrowserRefused: a wrong, empty or missing token gets no data; the page
// sees an error and an abnormal close (browsers hide the HTTP status), and
// the same upgrade request, sent from Go, is answered 401.
func TestBrowserRefused(t *testing.T) {
	e := newEnv(t)
	id := e.run(`echo secret line`)
	e.waitExited(id)
	for _, tc := range []struct {
		name  string
		token string
		opts  browser.Options
	}{
		{name: "wrong token", token: "not-the-token"},
		{name: "token with a suffix", token: e.s.Token + "x"},
		{name: "empty token", opts: browser.Options{SendEmptyToken: true}},
		{name: "no token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.URL, opts.Token, opts.InsecureSkipTLSVerify = e.wsURL(id, ""), tc.token, true
			r, err := browser.ReadLogInBrowser(ctxT(t), t, opts)
			if err != nil {
				t.Fatal(err)
			}
			if r.Opened || !r.ErrorEvent || r.CloseCode != 1006 || r.Bytes != 0 || r.Stdout != "" || r.Frames != 0 {
				t.Fatalf("not refused: %v", r)
			}
			var protos []string
			if tc.token != "" || opts.SendEmptyToken {
				protos = append(protos, "base64url.bearer.authorization.k8s.io."+base64.RawURLEncoding.EncodeToString([]byte(tc.token)))
			}
			if got := upgradeStatus(t, e.s.URL+strings.TrimPrefix(opts.URL, strings.Replace(e.s.URL, "https://", "wss://", 1)), protos); got != http.StatusUnauthorized {
				t.Fatalf("upgrade answered %d, want 401", got)
			}
		})
	}
	// The control: the same request with the right token is upgraded.
	if got := upgradeStatus(t, e.s.URL+strings.TrimPrefix(e.wsURL(id, ""), strings.Replace(e.s.URL, "https://", "wss://", 1)),
		[]string{"base64url.bearer.authorization.k8s.io." + base64.RawURLEncoding.EncodeToString([]byte(e.s.Token))}); got != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade with the right token answered %d, want 101", got)
	}
}

// upgradeStatus sends the browser's upgrade request (v5 plus protos, an
// Origin) over HTTP/1.1 and returns the status.
func upgradeStatus(t *testing.T, httpsURL string, protos []string) int {
	t.Helper()
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // test server
		ForceAttemptHTTP2: false,
		TLSNextProto:      map[string]func(string, *tls.Conn) http.RoundTripper{}, // HTTP/1.1 only
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, httpsURL, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", base64.StdEncoding.EncodeToString([]byte("0123456789abcdef")))
	req.Header.Set("Sec-WebSocket-Protocol", strings.Join(append([]string{"v5.channel.k8s.io"}, protos...), ", "))
	req.Header.Set("Origin", "http://127.0.0.1:1")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}
