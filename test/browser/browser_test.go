//go:build integration

package browser

import (
	"context"
	"encoding/base64"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

const bearerPrefix = "base64url.bearer.authorization.k8s.io."

// fakeLogServer is a TLS WebSocket server speaking the channel protocols; it
// answers 401 unless the bearer subprotocol carries token. Each connection
// gets lines on stdout and one line on stderr, then a normal close.
func fakeLogServer(t *testing.T, token string, lines []string) *httptest.Server {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var offered []string
		authed := false
		for _, p := range websocket.Subprotocols(r) {
			if strings.HasPrefix(p, bearerPrefix) {
				got, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(p, bearerPrefix))
				authed = err == nil && string(got) == token
				continue
			}
			offered = append(offered, p)
		}
		if !authed {
			t.Logf("fake server: 401 for protocols %q", r.Header.Values("Sec-WebSocket-Protocol"))
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		up := websocket.Upgrader{
			Subprotocols: []string{"v5.channel.k8s.io", "base64.binary.k8s.io"},
			CheckOrigin:  func(*http.Request) bool { return true }, // the page is on another origin
		}
		// Offer only what the client asked for without the bearer entry.
		r.Header.Set("Sec-WebSocket-Protocol", strings.Join(offered, ", "))
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			t.Logf("fake server: upgrade: %v", err)
			return
		}
		defer c.Close()
		send := func(ch byte, s string) {
			switch c.Subprotocol() {
			case "v5.channel.k8s.io":
				_ = c.WriteMessage(websocket.BinaryMessage, append([]byte{ch}, s...))
			case "base64.binary.k8s.io":
				_ = c.WriteMessage(websocket.TextMessage, []byte(base64.StdEncoding.EncodeToString([]byte(s))))
			default:
				_ = c.WriteMessage(websocket.BinaryMessage, []byte(s))
			}
		}
		for _, l := range lines {
			send(1, l+"\n")
		}
		send(2, "to stderr\n")
		_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(5*time.Second))
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func wsURL(srv *httptest.Server) string { return "wss" + strings.TrimPrefix(srv.URL, "https") + "/log" }

func TestReadLogInBrowser(t *testing.T) {
	lines := []string{"one", "two", "three: ünïcödé"}
	srv := fakeLogServer(t, "s3cret/+token=", lines)
	for _, proto := range []string{"v5.channel.k8s.io", "base64.binary.k8s.io"} {
		t.Run(proto, func(t *testing.T) {
			// Generous: Chromium's first start on a fresh machine (a new
			// profile) under go test's parallel packages took over 30 s.
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			r, err := ReadLogInBrowser(ctx, t, Options{URL: wsURL(srv), Token: "s3cret/+token=", Protocol: proto, InsecureSkipTLSVerify: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%v", r)
			if !r.Opened || r.Protocol != proto || r.Done != "closed" || r.CloseCode != 1000 {
				t.Fatalf("unexpected result: %v", r)
			}
			want := strings.Join(lines, "\n") + "\n"
			if proto == "v5.channel.k8s.io" {
				if r.Stdout != want || r.Stderr != "to stderr\n" {
					t.Fatalf("stdout %q stderr %q", r.Stdout, r.Stderr)
				}
			} else if r.Stdout != want+"to stderr\n" {
				t.Fatalf("stdout %q", r.Stdout)
			}
		})
	}
}

func TestReadLogInBrowserLimit(t *testing.T) {
	srv := fakeLogServer(t, "tok", []string{"a", "b", "c", "d"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := ReadLogInBrowser(ctx, t, Options{URL: wsURL(srv), Token: "tok", MaxLines: 2, InsecureSkipTLSVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Done != "limit" && r.Done != "closed" || r.Lines < 2 || !strings.HasPrefix(r.Stdout, "a\nb\n") {
		t.Fatalf("unexpected result: %v", r)
	}
}

func TestReadLogInBrowserRefused(t *testing.T) {
	srv := fakeLogServer(t, "right", []string{"secret"})
	for name, opts := range map[string]Options{
		"wrong token": {Token: "wrong"},
		"no token":    {},
		"empty token": {SendEmptyToken: true},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			opts.URL, opts.InsecureSkipTLSVerify = wsURL(srv), true
			r, err := ReadLogInBrowser(ctx, t, opts)
			if err != nil {
				t.Fatal(err)
			}
			if r.Opened || !r.ErrorEvent || r.CloseCode != 1006 || r.Bytes != 0 || r.Stdout != "" {
				t.Fatalf("not refused: %v", r)
			}
		})
	}
}

// Without InsecureSkipTLSVerify the test server's certificate is not trusted.
func TestReadLogInBrowserVerifiesTLS(t *testing.T) {
	srv := fakeLogServer(t, "tok", []string{"a"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := ReadLogInBrowser(ctx, t, Options{URL: wsURL(srv), Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Opened || r.Stdout != "" {
		t.Fatalf("untrusted certificate accepted: %v", r)
	}
}

// The browser reaches loopback and the target only: a server on another
// address of this machine and any host name are out of reach, and Chromium's
// attempts end at the refusing proxy.
func TestBrowserHasNoNetwork(t *testing.T) {
	srv := fakeLogServer(t, "tok", []string{"a"})
	var probes []string
	if ip := nonLoopbackIP(t); ip != "" {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Fatal(err)
		}
		other := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}), ReadHeaderTimeout: 5 * time.Second}
		done := make(chan struct{})
		go func() { defer close(done); _ = other.Serve(ln) }()
		t.Cleanup(func() { _ = other.Close(); <-done })
		probes = append(probes, "http://"+ln.Addr().String()+"/")
	} else {
		t.Log("no non-loopback IPv4 address here: probing host names only")
	}
	probes = append(probes, "https://example.com/", "http://deb.debian.org/")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := ReadLogInBrowser(ctx, t, Options{URL: wsURL(srv), Token: "tok", InsecureSkipTLSVerify: true, Probes: probes})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Opened || r.Stdout != "a\n" {
		t.Fatalf("loopback target not reached: %v", r)
	}
	for _, p := range probes {
		if got := r.Probes[p]; !strings.HasPrefix(got, "failed") {
			t.Errorf("probe %s: %q, want failed", p, got)
		}
	}
	t.Logf("probes %v; blocked at the proxy: %q", r.Probes, r.Blocked)
	for _, p := range probes {
		u, err := url.Parse(p)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(r.Blocked, func(b string) bool { return strings.Contains(b, u.Host) }) {
			t.Errorf("probe %s did not end at the refusing proxy: %q", p, r.Blocked)
		}
	}
}

// Close leaves no process of Chromium's group behind.
func TestSessionCloseKillsGroup(t *testing.T) {
	srv := fakeLogServer(t, "tok", []string{"a"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, t, Options{URL: wsURL(srv), Token: "tok", InsecureSkipTLSVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WaitFor(ctx, s.Opened(), "open"); err != nil {
		t.Fatal(err)
	}
	pgid := s.cmd.Process.Pid
	if n := groupMembers(pgid); n < 2 {
		t.Fatalf("expected Chromium's helpers in group %d, found %d processes", pgid, n)
	}
	s.Close()
	// The group was SIGKILLed; its members are gone once init reaped them.
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for groupMembers(pgid) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d processes of group %d still alive", groupMembers(pgid), pgid)
		}
		<-tick.C
	}
}

// groupMembers counts live (non-zombie) processes in process group pgid.
func groupMembers(pgid int) int {
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if g, err := syscall.Getpgid(pid); err != nil || g != pgid {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
			continue
		}
		n++
	}
	return n
}

func nonLoopbackIP(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	return ""
}
