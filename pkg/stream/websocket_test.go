package stream

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	v5     = "v5.channel.k8s.io"
	v4     = "v4.channel.k8s.io"
	b64    = "base64.binary.k8s.io"
	binary = "binary.k8s.io"
	bearer = "base64url.bearer.authorization.k8s.io.dG9rZW4"
)

var allProtocols = []string{v5, v4, b64, binary, ""}

func isChannel(proto string) bool { return proto == v5 || proto == v4 }

func protoName(proto string) string {
	if proto == "" {
		return "none"
	}
	return proto
}

func protoRequest(proto string) []string {
	if proto == "" {
		return nil
	}
	return []string{proto}
}

// expectedMessages is what pieces must become on the wire under proto.
func expectedMessages(proto string, pieces []piece) []message {
	var msgs []message
	for _, p := range pieces {
		for data := p.data; len(data) > 0; {
			chunk := data[:min(len(data), MaxMessageSize)]
			data = data[len(chunk):]
			switch {
			case isChannel(proto):
				ch := channelStdout
				if p.stderr {
					ch = channelStderr
				}
				msgs = append(msgs, message{websocket.BinaryMessage, append([]byte{ch}, chunk...)})
			case proto == b64:
				msgs = append(msgs, message{websocket.TextMessage, []byte(base64.StdEncoding.EncodeToString(chunk))})
			default:
				msgs = append(msgs, message{websocket.BinaryMessage, chunk})
			}
		}
	}
	return msgs
}

func compareMessages(t *testing.T, got, want []message) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d messages, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i].kind != want[i].kind || !bytes.Equal(got[i].data, want[i].data) {
			t.Errorf("message %d: got kind %d, %d bytes %q; want kind %d, %d bytes %q", i,
				got[i].kind, len(got[i].data), abbrev(got[i].data), want[i].kind, len(want[i].data), abbrev(want[i].data))
		}
	}
}

func abbrev(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}

// streams decodes messages back to stdout and stderr (merged streams go to stdout).
func streams(t *testing.T, proto string, msgs []message) (stdout, stderr []byte) {
	t.Helper()
	for i, m := range msgs {
		switch {
		case isChannel(proto):
			if m.kind != websocket.BinaryMessage || len(m.data) < 2 {
				t.Fatalf("message %d: kind %d, %d bytes: not a channel message", i, m.kind, len(m.data))
			}
			switch m.data[0] {
			case channelStdout:
				stdout = append(stdout, m.data[1:]...)
			case channelStderr:
				stderr = append(stderr, m.data[1:]...)
			default:
				t.Fatalf("message %d on channel %d", i, m.data[0])
			}
		case proto == b64:
			if m.kind != websocket.TextMessage {
				t.Fatalf("message %d: kind %d, want text", i, m.kind)
			}
			b, err := base64.StdEncoding.DecodeString(string(m.data))
			if err != nil {
				t.Fatalf("message %d does not decode on its own: %v", i, err)
			}
			stdout = append(stdout, b...)
		default:
			if m.kind != websocket.BinaryMessage {
				t.Fatalf("message %d: kind %d, want binary", i, m.kind)
			}
			stdout = append(stdout, m.data...)
		}
	}
	return stdout, stderr
}

func joinPieces(pieces []piece, merged bool) (stdout, stderr []byte) {
	for _, p := range pieces {
		if p.stderr && !merged {
			stderr = append(stderr, p.data...)
		} else {
			stdout = append(stdout, p.data...)
		}
	}
	return stdout, stderr
}

func TestWebSocketProtocols(t *testing.T) {
	pieces := testPieces()
	for _, tc := range []struct {
		name      string
		requested []string
		want      string
	}{
		{"v5", []string{v5}, v5},
		{"v4", []string{v4}, v4},
		{"base64", []string{b64}, b64},
		{"binary", []string{binary}, binary},
		{"none", nil, ""},
		{"server preference", []string{binary, b64, "channel.k8s.io", v4}, v4},
		{"bearer ignored", []string{bearer, b64}, b64},
		{"bearer only", []string{bearer}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			s := newServer(t, Options{}, scripted(pieces, nil))
			c := s.mustDial(t, tc.requested...)
			if got := c.Subprotocol(); got != tc.want {
				t.Fatalf("negotiated %q, want %q", got, tc.want)
			}
			msgs, err := readAll(t, c)
			if code, _ := closeCode(err); code != websocket.CloseNormalClosure {
				t.Errorf("stream ended with %v, want close 1000", err)
			}
			compareMessages(t, msgs, expectedMessages(tc.want, pieces))
			gotOut, gotErr := streams(t, tc.want, msgs)
			wantOut, wantErr := joinPieces(pieces, !isChannel(tc.want))
			if !bytes.Equal(gotOut, wantOut) || !bytes.Equal(gotErr, wantErr) {
				t.Errorf("bytes differ: stdout %d/%d, stderr %d/%d", len(gotOut), len(wantOut), len(gotErr), len(wantErr))
			}
			if p := s.waitServed(t); p != nil {
				t.Errorf("Serve panicked: %v", p)
			}
		})
	}
}

func TestWebSocketUnsupportedProtocol(t *testing.T) {
	checkGoroutines(t)
	var called atomic.Bool
	s := newServer(t, Options{}, func(context.Context, io.Writer, io.Writer) error {
		called.Store(true)
		return nil
	})
	_, resp, err := s.dial(t, 0, "foo.example.com", "channel.k8s.io", bearer)
	if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil {
		t.Fatalf("dial: %v, want a refused handshake", err)
	}
	defer resp.Body.Close()
	var st metav1.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("decoding the Status: %v", err)
	}
	if resp.StatusCode != http.StatusBadRequest || st.Code != http.StatusBadRequest ||
		st.Reason != metav1.StatusReasonBadRequest || st.Kind != "Status" {
		t.Errorf("got %d %+v, want a 400 BadRequest Status", resp.StatusCode, st)
	}
	for _, p := range []string{v5, v4, b64, binary, "foo.example.com"} {
		if !strings.Contains(st.Message, p) {
			t.Errorf("message %q does not mention %s", st.Message, p)
		}
	}
	if strings.Contains(st.Message, "bearer") {
		t.Errorf("message %q mentions the token entry", st.Message)
	}
	s.waitServed(t)
	if called.Load() {
		t.Error("the copier ran for a refused handshake")
	}
}

func TestWebSocketCopierError(t *testing.T) {
	data := []piece{{data: []byte("partial \xe2\x82")}, {stderr: true, data: []byte("oops")}}
	for _, proto := range allProtocols {
		for _, tc := range []struct {
			name   string
			pieces []piece
			err    error
			code   int32
			reason metav1.StatusReason
		}{
			{"after bytes", data, errors.New("engine stream broke"), 500, metav1.StatusReasonInternalError},
			{"before bytes", nil, errors.New("engine stream broke"), 500, metav1.StatusReasonInternalError},
			{"api status", data, apierrors.NewServiceUnavailable("the Docker engine is not connected"), 503, metav1.StatusReasonServiceUnavailable},
		} {
			t.Run(protoName(proto)+"/"+tc.name, func(t *testing.T) {
				checkGoroutines(t)
				s := newServer(t, Options{}, scripted(tc.pieces, tc.err))
				c := s.mustDial(t, protoRequest(proto)...)
				msgs, err := readAll(t, c)
				want := expectedMessages(proto, tc.pieces)
				var st metav1.Status
				if isChannel(proto) {
					if len(msgs) == 0 || len(msgs[len(msgs)-1].data) == 0 || msgs[len(msgs)-1].data[0] != channelError {
						t.Fatalf("no Status on the error channel in %d messages", len(msgs))
					}
					last := msgs[len(msgs)-1]
					msgs = msgs[:len(msgs)-1]
					if err := json.Unmarshal(last.data[1:], &st); err != nil {
						t.Fatalf("error channel: %v: %q", err, last.data)
					}
					if st.Kind != "Status" || st.Status != metav1.StatusFailure || st.Code != tc.code || st.Reason != tc.reason ||
						!strings.Contains(st.Message, tc.err.Error()) {
						t.Errorf("Status %+v, want code %d reason %s", st, tc.code, tc.reason)
					}
				} else {
					st = statusFor(tc.err)
				}
				compareMessages(t, msgs, want)
				code, reason := closeCode(err)
				if code != websocket.CloseInternalServerErr || reason != closeReason(st.Message) || reason == "" {
					t.Errorf("ended with %v, want close 1011 %q", err, closeReason(st.Message))
				}
				s.waitServed(t)
			})
		}
	}
}

func TestCloseReason(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes
	for _, in := range []string{"", "short", long, "bad \xff utf-8", strings.Repeat("x", 122) + "€"} {
		got := closeReason(in)
		if len(got) > 123 || !utf8.ValidString(got) {
			t.Errorf("closeReason(%q) = %q: %d bytes, valid %v", in, got, len(got), utf8.ValidString(got))
		}
		if utf8.ValidString(in) && !strings.HasPrefix(in, got) {
			t.Errorf("closeReason(%q) = %q, not a prefix", in, got)
		}
	}
	if got := closeReason(long); len(got) != 122 {
		t.Errorf("cut a 2-byte character string to %d bytes, want 122", len(got))
	}

	// And on the wire: a long error message is cut, the Status keeps it whole.
	checkGoroutines(t)
	msg := strings.Repeat("é", 300)
	s := newServer(t, Options{}, scripted(nil, errors.New(msg)))
	c := s.mustDial(t, v5)
	msgs, err := readAll(t, c)
	code, reason := closeCode(err)
	if code != websocket.CloseInternalServerErr || len(reason) > 123 || !utf8.ValidString(reason) || !strings.Contains(msg, reason[len("Internal error occurred: "):]) {
		t.Errorf("closed with %d %q", code, reason)
	}
	if len(msgs) != 1 || !bytes.Contains(msgs[0].data, []byte(msg)) {
		t.Errorf("the Status does not carry the whole message")
	}
	s.waitServed(t)
}

// waiter is a copier that writes first, then waits for release (returns
// nil) or for its context to be done (reports when, returns the error).
type waiter struct {
	first     []byte
	release   chan struct{}
	cancelled chan time.Time
}

func newWaiter(first string) *waiter {
	return &waiter{first: []byte(first), release: make(chan struct{}), cancelled: make(chan time.Time, 1)}
}

func (w *waiter) copy(ctx context.Context, stdout, _ io.Writer) error {
	if len(w.first) > 0 {
		if _, err := stdout.Write(w.first); err != nil {
			return err
		}
	}
	select {
	case <-w.release:
		return nil
	case <-ctx.Done():
		w.cancelled <- time.Now()
		return ctx.Err()
	}
}

func (w *waiter) waitCancelled(t *testing.T) time.Time {
	t.Helper()
	select {
	case at := <-w.cancelled:
		return at
	case <-time.After(wait):
		t.Fatal("the copier's context was not cancelled")
		return time.Time{}
	}
}

func (w *waiter) notCancelled(t *testing.T) {
	t.Helper()
	select {
	case <-w.cancelled:
		t.Fatal("the copier's context was cancelled")
	default:
	}
}

// readInBackground reads until the connection ends; the result comes on the channel.
func readInBackground(t *testing.T, c *websocket.Conn) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := readAll(t, c)
		done <- err
	}()
	return done
}

func waitErr(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(wait):
		t.Fatal("the client's connection did not end")
		return nil
	}
}

func TestWebSocketKeepAlive(t *testing.T) {
	checkGoroutines(t)
	opts := Options{PingInterval: 30 * time.Millisecond, PongTimeout: 150 * time.Millisecond}
	w := newWaiter("")
	s := newServer(t, opts, w.copy)
	c := s.mustDial(t, v5)
	const wantPings = 20 // 600 ms: four times PongTimeout
	var pings atomic.Int32
	enough := make(chan struct{})
	c.SetPingHandler(func(data string) error {
		if pings.Add(1) == wantPings {
			close(enough)
		}
		return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(wait))
	})
	done := readInBackground(t, c)
	select {
	case <-enough:
	case err := <-done:
		t.Fatalf("connection ended after %d pings: %v", pings.Load(), err)
	case <-time.After(wait):
		t.Fatalf("only %d pings", pings.Load())
	}
	w.notCancelled(t)
	close(w.release)
	if code, _ := closeCode(waitErr(t, done)); code != websocket.CloseNormalClosure {
		t.Errorf("ended with code %d, want 1000", code)
	}
	s.waitServed(t)
}

func TestWebSocketKeepAliveTimeout(t *testing.T) {
	for _, proto := range []string{v5, ""} {
		t.Run(protoName(proto), func(t *testing.T) {
			checkGoroutines(t)
			opts := Options{PingInterval: 30 * time.Millisecond, PongTimeout: 150 * time.Millisecond}
			w := newWaiter("hello")
			s := newServer(t, opts, w.copy)
			start := time.Now()
			c := s.mustDial(t, protoRequest(proto)...)
			var pings atomic.Int32
			c.SetPingHandler(func(string) error { pings.Add(1); return nil }) // no pong
			done := readInBackground(t, c)
			elapsed := w.waitCancelled(t).Sub(start)
			if elapsed < opts.PongTimeout || elapsed > opts.PongTimeout+2*time.Second {
				t.Errorf("cancelled after %v, want about %v", elapsed, opts.PongTimeout)
			}
			code, reason := closeCode(waitErr(t, done))
			if code != websocket.CloseInternalServerErr || !strings.HasPrefix(reason, "keep-alive timeout") {
				t.Errorf("closed with %d %q, want 1011 keep-alive timeout", code, reason)
			}
			if pings.Load() == 0 {
				t.Error("the server never pinged")
			}
			s.waitServed(t)
		})
	}
}

func TestWebSocketClientCloseCancels(t *testing.T) {
	for _, code := range []int{websocket.CloseNormalClosure, websocket.CloseGoingAway} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			checkGoroutines(t)
			w := newWaiter("hello")
			s := newServer(t, Options{}, w.copy)
			c := s.mustDial(t, v5)
			if _, data, err := c.ReadMessage(); err != nil || string(data) != "\x01hello" {
				t.Fatalf("read %q, %v", data, err)
			}
			start := time.Now()
			if err := c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, "bye"), time.Now().Add(wait)); err != nil {
				t.Fatal(err)
			}
			if d := w.waitCancelled(t).Sub(start); d > time.Second {
				t.Errorf("cancelled %v after the client's close", d)
			}
			_, err := readAll(t, c)
			if got, _ := closeCode(err); got != code {
				t.Errorf("echo: %v, want code %d", err, code)
			}
			s.waitServed(t)
		})
	}
}

func TestWebSocketClientDisconnectCancels(t *testing.T) {
	checkGoroutines(t)
	w := newWaiter("hello")
	s := newServer(t, Options{}, w.copy)
	c := s.mustDial(t)
	if _, data, err := c.ReadMessage(); err != nil || string(data) != "hello" {
		t.Fatalf("read %q, %v", data, err)
	}
	start := time.Now()
	c.NetConn().Close() // no close frame
	if d := w.waitCancelled(t).Sub(start); d > time.Second {
		t.Errorf("cancelled %v after the client left", d)
	}
	s.waitServed(t)
}

func TestWebSocketReadLimit(t *testing.T) {
	checkGoroutines(t)
	w := newWaiter("hello")
	s := newServer(t, Options{ReadLimit: 64}, w.copy)
	c := s.mustDial(t, b64)
	if _, _, err := c.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	ponged := make(chan struct{})
	c.SetPongHandler(func(string) error { close(ponged); return nil })
	done := readInBackground(t, c)

	// Messages within the limit are ignored, and the server answers pings.
	for _, m := range [][]byte{[]byte("ignored"), bytes.Repeat([]byte{0}, 64)} {
		if err := c.WriteMessage(websocket.BinaryMessage, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WriteControl(websocket.PingMessage, []byte("barrier"), time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ponged: // the server read the messages before the ping, and lives
	case err := <-done:
		t.Fatalf("connection ended: %v", err)
	case <-time.After(wait):
		t.Fatal("no pong")
	}
	w.notCancelled(t)

	if err := c.WriteMessage(websocket.TextMessage, bytes.Repeat([]byte("x"), 65)); err != nil {
		t.Fatal(err)
	}
	w.waitCancelled(t)
	if code, _ := closeCode(waitErr(t, done)); code != websocket.CloseMessageTooBig {
		t.Errorf("closed with %d, want 1009", code)
	}
	s.waitServed(t)
}

// A client that reads slowly holds the copier back; nothing queues up.
func TestWebSocketBackpressure(t *testing.T) {
	checkGoroutines(t)
	const total, piece = 16 << 20, 64 << 10
	var written atomic.Int64
	progress := make(chan struct{}, 1)
	s := newServer(t, Options{}, func(_ context.Context, stdout, _ io.Writer) error {
		buf := make([]byte, piece)
		for off := 0; off < total; off += piece {
			for i := range buf {
				buf[i] = byte((off + i) % 251)
			}
			if _, err := stdout.Write(buf); err != nil {
				return err
			}
			written.Add(piece)
			select {
			case progress <- struct{}{}:
			default:
			}
		}
		return nil
	})
	c, _, err := s.dial(t, 64<<10, binary)
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the copier stops making progress: it is blocked in Write.
	for stalled := false; !stalled; {
		select {
		case <-progress:
		case <-time.After(300 * time.Millisecond):
			stalled = true
		}
	}
	blocked := written.Load()
	t.Logf("the copier blocked after %d bytes", blocked)
	if blocked >= total {
		t.Fatalf("all %d bytes were written to a client that reads nothing", blocked)
	}
	msgs, err := readAll(t, c)
	if code, _ := closeCode(err); code != websocket.CloseNormalClosure {
		t.Errorf("ended with %v", err)
	}
	n := 0
	for _, m := range msgs {
		for i, b := range m.data {
			if b != byte((n+i)%251) {
				t.Fatalf("byte %d differs", n+i)
			}
		}
		n += len(m.data)
	}
	if n != total {
		t.Errorf("read %d bytes, want %d", n, total)
	}
	s.waitServed(t)
}

// A client that reads nothing at all is dropped after WriteTimeout.
func TestWebSocketStalledClient(t *testing.T) {
	checkGoroutines(t)
	var written atomic.Int64
	copyErr := make(chan error, 1)
	ctxErr := make(chan error, 1)
	s := newServer(t, Options{WriteTimeout: 300 * time.Millisecond}, func(ctx context.Context, stdout, _ io.Writer) error {
		buf := make([]byte, 64<<10)
		for {
			if _, err := stdout.Write(buf); err != nil {
				copyErr <- err
				<-ctx.Done()
				ctxErr <- ctx.Err()
				return err
			}
			written.Add(int64(len(buf)))
		}
	})
	if _, _, err := s.dial(t, 64<<10, binary); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-copyErr:
		t.Logf("Write failed after %d bytes: %v", written.Load(), err)
	case <-time.After(wait):
		t.Fatalf("Write still succeeds after %d bytes", written.Load())
	}
	if err := <-ctxErr; err == nil {
		t.Error("context not cancelled")
	}
	s.waitServed(t)
}

func TestWebSocketConcurrentWriters(t *testing.T) {
	checkGoroutines(t)
	const n = 200
	line := func(stream string, i int) []byte {
		return fmt.Appendf(nil, "%s line %d %s\n", stream, i, strings.Repeat("z", i))
	}
	s := newServer(t, Options{}, func(_ context.Context, stdout, stderr io.Writer) error {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for k, w := range []io.Writer{stdout, stderr} {
			wg.Go(func() {
				for i := range n {
					if _, err := w.Write(line(fmt.Sprint(k), i)); err != nil {
						errs[k] = err
						return
					}
				}
			})
		}
		wg.Wait()
		return errors.Join(errs...)
	})
	c := s.mustDial(t, v4)
	msgs, err := readAll(t, c)
	if code, _ := closeCode(err); code != websocket.CloseNormalClosure {
		t.Errorf("ended with %v", err)
	}
	stdout, stderr := streams(t, v4, msgs)
	var wantOut, wantErr []byte
	for i := range n {
		wantOut = append(wantOut, line("0", i)...)
		wantErr = append(wantErr, line("1", i)...)
	}
	if !bytes.Equal(stdout, wantOut) || !bytes.Equal(stderr, wantErr) {
		t.Errorf("streams differ")
	}
	s.waitServed(t)
}

// When the request's own context ends (server shutdown), the client is told
// with 1001 and the copier is cancelled.
func TestWebSocketServerShutdown(t *testing.T) {
	checkGoroutines(t)
	parent, shutdown := context.WithCancel(context.Background())
	defer shutdown()
	w := newWaiter("hello")
	s := newServer(t, Options{}, w.copy, serverConfig{wrap: func(r *http.Request) *http.Request { return r.WithContext(parent) }})
	c := s.mustDial(t, v5)
	if _, _, err := c.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	shutdown()
	w.waitCancelled(t)
	expectGoingAway(t, c)
	s.waitServed(t)
}

func TestWebSocketCopierPanic(t *testing.T) {
	checkGoroutines(t)
	s := newServer(t, Options{}, func(_ context.Context, stdout, _ io.Writer) error {
		_, _ = stdout.Write([]byte("x"))
		panic("boom")
	})
	c := s.mustDial(t, v5)
	msgs, err := readAll(t, c)
	if code, _ := closeCode(err); code != websocket.CloseInternalServerErr {
		t.Errorf("ended with %v, want 1011", err)
	}
	if len(msgs) != 2 || string(msgs[0].data) != "\x01x" || msgs[1].data[0] != channelError || !bytes.Contains(msgs[1].data, []byte("boom")) {
		t.Errorf("got %v", msgs)
	}
	if p := s.waitServed(t); p != nil {
		t.Errorf("Serve panicked: %v", p)
	}
}

func TestOptionsDefaults(t *testing.T) {
	got := Options{}.withDefaults()
	want := Options{PingInterval: 30 * time.Second, PongTimeout: time.Minute, ReadLimit: 4096, WriteTimeout: 30 * time.Second, ContentType: "text/plain"}
	if got != want {
		t.Errorf("defaults %+v, want %+v", got, want)
	}
	got = Options{PingInterval: 10 * time.Second, PongTimeout: 5 * time.Second}.withDefaults()
	if got.PongTimeout != 20*time.Second {
		t.Errorf("PongTimeout below PingInterval became %v, want 20s", got.PongTimeout)
	}
	got = Options{PingInterval: 10 * time.Second, PongTimeout: 15 * time.Second}.withDefaults()
	if got.PongTimeout != 15*time.Second {
		t.Errorf("PongTimeout 15s became %v", got.PongTimeout)
	}
}

// net/http cancels req.Context() on read errors of a hijacked connection read
// through its own buffer; the client leaving must not look like the server
// ending the request (1001), so Serve must not read that way.
func TestWebSocketClientLeavingKeepsRequestContext(t *testing.T) {
	checkGoroutines(t)
	var reqCtx atomic.Pointer[context.Context]
	parentErr := make(chan error, 1)
	s := newServer(t, Options{}, func(ctx context.Context, stdout, _ io.Writer) error {
		if _, err := stdout.Write([]byte("hello")); err != nil {
			return err
		}
		<-ctx.Done()
		parentErr <- (*reqCtx.Load()).Err()
		return ctx.Err()
	}, serverConfig{wrap: func(r *http.Request) *http.Request {
		ctx := r.Context()
		reqCtx.Store(&ctx)
		return r
	}})
	c := s.mustDial(t)
	if _, _, err := c.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	c.NetConn().Close()
	select {
	case err := <-parentErr:
		if err != nil {
			t.Errorf("the request's context ended with the client: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("the copier's context was not cancelled")
	}
	s.waitServed(t)
}
