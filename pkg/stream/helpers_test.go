package stream

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// wait bounds every wait in these tests; nothing should come close to it.
const wait = 10 * time.Second

// checkGoroutines fails the test if goroutines started during it are still
// running shortly after it (and its other cleanups) ended. Call it first, so
// that its cleanup runs last.
func checkGoroutines(t *testing.T) {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= base {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("%d goroutines running, %d before the test:\n%s", n, base, buf)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// testServer serves Serve(opts, copier) and reports each return of Serve.
type testServer struct {
	*httptest.Server
	// served receives what Serve panicked with (nil when it returned).
	served chan any
}

type serverConfig struct {
	http2 bool
	// wrap, if set, derives the request given to Serve.
	wrap func(*http.Request) *http.Request
	// exec, if set, makes the server serve ServeExec(opts, *exec) instead.
	exec *ExecSession
}

func newServer(t *testing.T, opts Options, copier Copier, cfgs ...serverConfig) *testServer {
	t.Helper()
	var cfg serverConfig
	if len(cfgs) > 0 {
		cfg = cfgs[0]
	}
	s := &testServer{served: make(chan any, 16)}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			p := recover()
			s.served <- p
			if p != nil {
				panic(p) // let net/http abort the response
			}
		}()
		if cfg.wrap != nil {
			r = cfg.wrap(r)
		}
		if cfg.exec != nil {
			ServeExec(w, r, opts, *cfg.exec)
			return
		}
		Serve(w, r, opts, copier)
	}))
	if cfg.http2 {
		s.EnableHTTP2 = true
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

// waitServed waits for Serve to return and gives what it panicked with.
func (s *testServer) waitServed(t *testing.T) any {
	t.Helper()
	select {
	case p := <-s.served:
		return p
	case <-time.After(wait):
		t.Fatal("Serve did not return")
		return nil
	}
}

func (s *testServer) wsURL() string {
	return "ws" + strings.TrimPrefix(s.URL, "http") + "/apis/x/v1/namespaces/default/containers/abc/log"
}

// dial opens a WebSocket asking for protocols; readBuffer > 0 shrinks the
// client's socket receive buffer (so that backpressure shows sooner).
func (s *testServer) dial(t *testing.T, readBuffer int, protocols ...string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{
		Subprotocols:     protocols,
		HandshakeTimeout: wait,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil && readBuffer > 0 {
				_ = c.(*net.TCPConn).SetReadBuffer(readBuffer)
			}
			return c, err
		},
	}
	c, resp, err := d.Dial(s.wsURL(), nil)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, resp, err
}

func (s *testServer) mustDial(t *testing.T, protocols ...string) *websocket.Conn {
	t.Helper()
	c, _, err := s.dial(t, 0, protocols...)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return c
}

type message struct {
	kind int
	data []byte
}

// readAll reads messages until the connection ends and returns them with
// the error that ended it (a *websocket.CloseError on a clean close).
func readAll(t *testing.T, c *websocket.Conn) ([]message, error) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(wait))
	var msgs []message
	for {
		kind, data, err := c.ReadMessage()
		if err != nil {
			return msgs, err
		}
		msgs = append(msgs, message{kind, data})
	}
}

// closeCode is the close code and reason of err, or -1 when it is no close.
func closeCode(err error) (int, string) {
	if ce := (*websocket.CloseError)(nil); errors.As(err, &ce) {
		return ce.Code, ce.Text
	}
	return -1, ""
}

// piece is one Write of a scripted copier.
type piece struct {
	stderr bool
	data   []byte
}

// scripted writes pieces in order, then returns end.
func scripted(pieces []piece, end error) Copier {
	return func(_ context.Context, stdout, stderr io.Writer) error {
		for _, p := range pieces {
			w := stdout
			if p.stderr {
				w = stderr
			}
			if n, err := w.Write(p.data); err != nil || n != len(p.data) {
				return err
			}
		}
		return end
	}
}

// testPieces: random binary, UTF-8 characters split across writes (and
// across stdout and stderr), an empty write, one write over MaxMessageSize.
func testPieces() []piece {
	r := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	// "é€😀" cut inside each character.
	return []piece{
		{data: []byte("h\xc3")},
		{data: []byte("\xa9llo \xe2\x82")},
		{stderr: true, data: []byte("err \xf0\x9f")},
		{data: []byte("\xac ")},
		{stderr: true, data: []byte("\x98\x80\n")},
		{data: random(1000)},
		{data: nil},
		{stderr: true, data: random(3)},
		{data: []byte{0, 0xff, 0xfe, '\r', '\n', 0x1b, '[', '3', '1', 'm'}},
		{data: random(2*MaxMessageSize + 100)},
		{stderr: true, data: random(MaxMessageSize)},
	}
}
