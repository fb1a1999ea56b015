//go:build integration

package logs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rancher-sandbox/containers-apiserver/pkg/cmd/server"
	"github.com/rancher-sandbox/containers-apiserver/test/testenv"
)

// TestLogWebSocketProtocols reads the same log over every subprotocol.
func TestLogWebSocketProtocols(t *testing.T) {
	e := newEnv(t, testenv.ServerOptions{})
	id := e.run(nil, lines...)
	e.waitExited(id)
	all := e.logs(id, nil)
	stdout := e.logs(id, url.Values{"stream": {"Stdout"}})
	stderr := e.logs(id, url.Values{"stream": {"Stderr"}})

	for _, proto := range []string{"v5.channel.k8s.io", "v4.channel.k8s.io"} {
		t.Run(proto, func(t *testing.T) {
			conn, got := e.dial(id, nil, proto)
			if got != proto {
				t.Fatalf("negotiated %q", got)
			}
			frames, err := readAll(t, conn, true)
			expectClose(t, err, websocket.CloseNormalClosure)
			if string(frames[1]) != stdout || string(frames[2]) != stderr {
				t.Fatalf("channels: 1=%q 2=%q", frames[1], frames[2])
			}
			if len(frames[3]) != 0 {
				t.Fatalf("error channel on success: %q", frames[3])
			}
		})
	}
	for _, tc := range []struct {
		proto  string
		decode func([]byte) []byte
	}{
		{"binary.k8s.io", nil},
		{"base64.binary.k8s.io", func(b []byte) []byte {
			out, err := base64.StdEncoding.DecodeString(string(b))
			if err != nil {
				t.Fatalf("base64: %v", err)
			}
			return out
		}},
		{"", nil},
	} {
		t.Run("protocol="+tc.proto, func(t *testing.T) {
			var conn *websocket.Conn
			var got string
			if tc.proto == "" {
				conn, got = e.dial(id, nil)
			} else {
				conn, got = e.dial(id, nil, tc.proto)
			}
			if got != tc.proto {
				t.Fatalf("negotiated %q", got)
			}
			var body []byte
			_ = conn.SetReadDeadline(time.Now().Add(deadline))
			var err error
			for {
				var data []byte
				_, data, err = conn.ReadMessage()
				if err != nil {
					break
				}
				if tc.decode != nil {
					data = tc.decode(data)
				}
				body = append(body, data...)
			}
			expectClose(t, err, websocket.CloseNormalClosure)
			if !sameLines(string(body), all) {
				t.Fatalf("got %q, want the lines of %q", body, all)
			}
		})
	}
}

// sameLines compares two logs of interleaved streams line by line: the
// order between stdout and stderr is Docker's, but each line is whole.
func sameLines(a, b string) bool {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	if len(x) != len(y) {
		return false
	}
	count := map[string]int{}
	for i := range x {
		count[x[i]]++
		count[y[i]]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return true
}

func expectClose(t *testing.T, err error, code int) {
	t.Helper()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != code {
		t.Fatalf("want close %d, got %v", code, err)
	}
}

// TestLogWebSocketErrorAfterStart: when the engine stream fails after bytes
// were sent, a channel client gets a Status on channel 3 and close 1011.
func TestLogWebSocketErrorAfterStart(t *testing.T) {
	e := newEnv(t, testenv.ServerOptions{})
	id := e.run(nil, waiter...)
	conn, _ := e.dial(id, url.Values{"follow": {"true"}}, "v5.channel.k8s.io")
	_ = conn.SetReadDeadline(time.Now().Add(deadline))
	_, first, err := conn.ReadMessage()
	if err != nil || string(first) != "\x01start\n" {
		t.Fatalf("first frame %q %v", first, err)
	}
	// Removing the container under a follow breaks Docker's stream mid-way.
	testenv.MustDocker(t, e.host, "rm", "-f", id)
	frames, err := readAll(t, conn, true)
	ce := expectCloseOneOf(t, err, websocket.CloseNormalClosure, websocket.CloseInternalServerErr)
	if ce.Code == websocket.CloseInternalServerErr {
		var st metav1.Status
		if jerr := json.Unmarshal(frames[3], &st); jerr != nil || st.Status != metav1.StatusFailure {
			t.Fatalf("close 1011 without a Status on channel 3: %q", frames[3])
		}
		if ce.Text == "" {
			t.Fatal("close 1011 without a reason")
		}
	}
}

func expectCloseOneOf(t *testing.T, err error, codes ...int) *websocket.CloseError {
	t.Helper()
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		for _, c := range codes {
			if ce.Code == c {
				return ce
			}
		}
	}
	t.Fatalf("want close %v, got %v", codes, err)
	return nil
}

// TestLogWebSocketPing: a client that answers pings stays; one that stops
// answering is disconnected within the pong timeout.
func TestLogWebSocketPing(t *testing.T) {
	e := newEnv(t, testenv.ServerOptions{Mutate: func(o *server.Options) {
		o.Stream.PingInterval = 200 * time.Millisecond
		o.Stream.PongTimeout = time.Second
	}})
	id := e.run(nil, waiter...)

	// Answers pings (gorilla's default ping handler) while reading: stays open for 3 timeouts.
	alive, _ := e.dial(id, url.Values{"follow": {"true"}}, "v4.channel.k8s.io")
	pings := 0
	alive.SetPingHandler(func(data string) error {
		pings++
		return alive.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	_ = alive.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		_, _, err := alive.ReadMessage()
		if err == nil {
			continue
		}
		var ne interface{ Timeout() bool }
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("answering client lost its connection: %v", err)
		}
		break
	}
	if pings < 5 {
		t.Fatalf("only %d pings in 3s with a 200ms interval", pings)
	}

	// Ignores pings: the server closes it within the pong timeout (+ slack).
	silent, _ := e.dial(id, url.Values{"follow": {"true"}}, "v4.channel.k8s.io")
	silent.SetPingHandler(func(string) error { return nil })
	start := time.Now()
	_ = silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	var err error
	for err == nil {
		_, _, err = silent.ReadMessage()
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("silent client closed after %s: %v", took, err)
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("silent client was never disconnected: %v", err)
	}
}

// TestLogBinaryByteExact: several MB of random binary output arrive exactly
// as Docker's own logs API serves them, over HTTP and WebSocket.
func TestLogBinaryByteExact(t *testing.T) {
	e := newEnv(t, testenv.ServerOptions{})
	id := e.run([]string{"--log-driver", "local"}, "sh", "-c", "head -c 3000000 /dev/urandom; head -c 1000000 /dev/urandom >&2")
	e.waitExited(id)

	dc := testenv.DockerClient(t, e.host)
	direct := func(stdout, stderr bool) []byte {
		rc, err := dc.ContainerLogs(context.Background(), id, dockerLogsOptions(stdout, stderr))
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		var o, eb bytes.Buffer
		if _, err := stdcopyStd(&o, &eb, rc); err != nil {
			t.Fatal(err)
		}
		if stdout {
			return o.Bytes()
		}
		return eb.Bytes()
	}
	wantOut, wantErr := direct(true, false), direct(false, true)
	if len(wantOut) < 2_000_000 {
		t.Fatalf("docker served only %d bytes of stdout", len(wantOut))
	}
	if got := e.logs(id, url.Values{"stream": {"Stdout"}}); sha256.Sum256([]byte(got)) != sha256.Sum256(wantOut) {
		t.Fatalf("HTTP stdout differs from Docker's: %d vs %d bytes", len(got), len(wantOut))
	}
	conn, _ := e.dial(id, nil, "v5.channel.k8s.io")
	frames, err := readAll(t, conn, true)
	expectClose(t, err, websocket.CloseNormalClosure)
	if !bytes.Equal(frames[1], wantOut) || !bytes.Equal(frames[2], wantErr) {
		t.Fatalf("WebSocket channels differ from Docker's: %d/%d vs %d/%d bytes",
			len(frames[1]), len(frames[2]), len(wantOut), len(wantErr))
	}
}

// TestLogWebSocketBearerSubprotocol: a browser sends the token as a
// subprotocol next to a real one; the log streams. A wrong token is refused.
func TestLogWebSocketBearerSubprotocol(t *testing.T) {
	e := newEnv(t, testenv.ServerOptions{})
	id := e.run(nil, lines...)
	e.waitExited(id)
	u := strings.Replace(e.logURL(id, "log", url.Values{"stream": {"Stdout"}}), "https://", "wss://", 1)
	dial := func(token string) (*websocket.Conn, *http.Response, error) {
		d := websocket.Dialer{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // test server
			Subprotocols: []string{
				"base64url.bearer.authorization.k8s.io." + base64.RawURLEncoding.EncodeToString([]byte(token)),
				"binary.k8s.io",
			},
		}
		return d.Dial(u, nil)
	}
	if conn, resp, err := dial("wrong"); err == nil {
		conn.Close()
		t.Fatal("wrong token accepted")
	} else if resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: want 401, got %v %v", resp, err)
	}
	conn, _, err := dial(e.s.Token)
	if err != nil {
		t.Fatalf("token as subprotocol: %v", err)
	}
	defer conn.Close()
	if conn.Subprotocol() != "binary.k8s.io" {
		t.Fatalf("negotiated %q", conn.Subprotocol())
	}
	frames, err := readAll(t, conn, false)
	expectClose(t, err, websocket.CloseNormalClosure)
	if string(frames[0]) != "out 1\nout 2\nout 3\nout 4\nout 5\n" {
		t.Fatalf("got %q", frames[0])
	}
}

// TestLogSlowReaderBoundedMemory: a client that stops reading holds back the
// Docker read instead of making the server buffer the log.
func TestLogSlowReaderBoundedMemory(t *testing.T) {
	e := newEnv(t, testenv.ServerOptions{})
	id := e.run(nil, "sh", "-c",
		"yes 0123456789012345678901234567890123456789012345678901234567890123456789 | head -c 40000000; echo; echo written; sleep 3600")
	// The log is written in full first: Docker itself may slow a container
	// whose follower does not read, which is not what this test is about.
	e.waitLogged(id, "written")

	// Reading 40 MB under the race detector takes a while.
	ctx, cancel := context.WithTimeout(context.Background(), 3*deadline)
	defer cancel()
	resp := e.get(ctx, e.logURL(id, "log", url.Values{"stream": {"Stdout"}}))
	defer resp.Body.Close()
	// Read a little, then stop reading with 39 MB still to come.
	if _, err := io.ReadFull(resp.Body, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	// Give a buffering server every chance to read ahead: wait until the
	// process's allocation stops growing, or a few seconds pass.
	settle := time.NewTicker(500 * time.Millisecond)
	for range 6 {
		<-settle.C
	}
	settle.Stop()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if after.HeapInuse > before.HeapInuse+16<<20 {
		t.Fatalf("heap grew from %d to %d MB while the client did not read: the server buffers",
			before.HeapInuse>>20, after.HeapInuse>>20)
	}
	// Reading resumes where it stopped: nothing was dropped.
	n, err := io.Copy(io.Discard, resp.Body)
	if want := int64(40_000_000 + len("\nwritten\n") - 1<<20); err != nil || n != want {
		t.Fatalf("resumed read: %d bytes, %v", n, err)
	}
}
