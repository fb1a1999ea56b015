package stream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

// execServer serves ServeExec with sess.
func execServer(t *testing.T, sess ExecSession) *testServer {
	t.Helper()
	return newServer(t, Options{}, nil, serverConfig{exec: &sess})
}

// execClient speaks one exec subprotocol to the server.
type execClient struct {
	t     *testing.T
	c     *websocket.Conn
	proto string
}

func dialExec(t *testing.T, s *testServer, proto string) *execClient {
	t.Helper()
	return &execClient{t: t, c: s.mustDial(t, proto, "base64url.bearer.authorization.k8s.io.dG9rZW4"), proto: proto}
}

func (e *execClient) send(channel byte, data []byte) {
	e.t.Helper()
	kind, msg := websocket.BinaryMessage, append([]byte{channel}, data...)
	if e.proto == "base64.channel.k8s.io" {
		kind, msg = websocket.TextMessage, []byte(string(rune('0'+channel))+base64.StdEncoding.EncodeToString(data))
	}
	_ = e.c.SetWriteDeadline(time.Now().Add(wait))
	if err := e.c.WriteMessage(kind, msg); err != nil {
		e.t.Fatalf("send on channel %d: %v", channel, err)
	}
}

func (e *execClient) resize(w, h uint16) {
	e.t.Helper()
	body, _ := json.Marshal(map[string]uint16{"Width": w, "Height": h})
	e.send(channelResize, body)
}

// execResult is what a client read until the server closed.
type execResult struct {
	first          bool // the first message was an empty one on stdout
	stdout, stderr bytes.Buffer
	status         *metav1.Status
	closeCode      int
}

// readToEnd reads until the connection ends, decoding each message.
func (e *execClient) readToEnd() execResult {
	e.t.Helper()
	msgs, err := readAll(e.t, e.c)
	var r execResult
	r.closeCode, _ = closeCode(err)
	for i, m := range msgs {
		data := m.data
		if e.proto == "base64.channel.k8s.io" {
			if m.kind != websocket.TextMessage || len(data) == 0 {
				e.t.Fatalf("message %d: kind %d, %q: want a text message with a channel digit", i, m.kind, data)
			}
			dec, derr := base64.StdEncoding.DecodeString(string(data[1:]))
			if derr != nil {
				e.t.Fatalf("message %d: %v", i, derr)
			}
			data = append([]byte{data[0] - '0'}, dec...)
		} else if m.kind != websocket.BinaryMessage {
			e.t.Fatalf("message %d is of kind %d, want binary", i, m.kind)
		}
		if len(data) == 0 {
			e.t.Fatalf("message %d has no channel byte", i)
		}
		switch data[0] {
		case channelStdout:
			if i == 0 && len(data) == 1 {
				r.first = true
			}
			r.stdout.Write(data[1:])
		case channelStderr:
			r.stderr.Write(data[1:])
		case channelError:
			r.status = &metav1.Status{}
			if err := json.Unmarshal(data[1:], r.status); err != nil {
				e.t.Fatalf("status %q: %v", data[1:], err)
			}
		default:
			e.t.Fatalf("message %d on channel %d", i, data[0])
		}
	}
	return r
}

// exitCodeOf reads the exit code out of a status as client-go does: 0 for
// Success, the ExitCode cause for NonZeroExitCode, -1 otherwise.
func exitCodeOf(st *metav1.Status) string {
	if st == nil {
		return "no status"
	}
	if st.Status == metav1.StatusSuccess {
		return "0"
	}
	if st.Reason == "NonZeroExitCode" && st.Details != nil {
		for _, c := range st.Details.Causes {
			if c.Type == "ExitCode" {
				return c.Message
			}
		}
	}
	return fmt.Sprintf("status %s %s %q", st.Status, st.Reason, st.Message)
}

// TestExecSession: stdin in, stdout and stderr apart, the exit code on the
// status channel and a 1000 close, with each subprotocol.
func TestExecSession(t *testing.T) {
	for _, proto := range []string{"v5.channel.k8s.io", "v4.channel.k8s.io", "base64.channel.k8s.io"} {
		t.Run(proto, func(t *testing.T) {
			checkGoroutines(t)
			s := execServer(t, ExecSession{Stdin: true, Stdout: true, Stderr: true,
				Run: func(_ context.Context, st engine.ExecStreams) (int, error) {
					if st.InitialSize != nil || st.Resize != nil {
						t.Errorf("a session without TTY got a size or resizes")
					}
					line, err := bufio.NewReader(st.Stdin).ReadString('\n')
					if err != nil {
						return 0, err
					}
					_, _ = io.WriteString(st.Stdout, "out: "+line)
					_, _ = io.WriteString(st.Stderr, "err: "+line)
					return 3, nil
				}})
			c := dialExec(t, s, proto)
			if got := c.c.Subprotocol(); got != proto {
				t.Fatalf("negotiated %q, want %q", got, proto)
			}
			c.send(channelStdin, []byte("hel"))
			c.send(channelStdin, []byte("lo\n"))
			r := c.readToEnd()
			if !r.first || r.stdout.String() != "out: hello\n" || r.stderr.String() != "err: hello\n" {
				t.Errorf("first empty message %v, stdout %q, stderr %q", r.first, r.stdout.String(), r.stderr.String())
			}
			if got := exitCodeOf(r.status); got != "3" {
				t.Errorf("exit code %s, want 3", got)
			}
			if r.closeCode != websocket.CloseNormalClosure {
				t.Errorf("close code %d, want 1000", r.closeCode)
			}
			s.waitServed(t)
		})
	}
}

// TestExecSuccessAndV5Close: v5's [255, 0] is the command's end of input;
// exit 0 is a Success status.
func TestExecSuccessAndV5Close(t *testing.T) {
	checkGoroutines(t)
	s := execServer(t, ExecSession{Stdin: true, Stdout: true,
		Run: func(_ context.Context, st engine.ExecStreams) (int, error) {
			if st.Stderr != nil {
				t.Errorf("stderr given though not asked for")
			}
			_, err := io.Copy(st.Stdout, st.Stdin)
			return 0, err
		}})
	c := dialExec(t, s, "v5.channel.k8s.io")
	big := bytes.Repeat([]byte("0123456789abcdef"), 16<<10) // 256 KiB in one message
	c.send(channelStdin, big)
	c.send(channelClose, []byte{channelStdin})
	r := c.readToEnd()
	if !bytes.Equal(r.stdout.Bytes(), big) {
		t.Errorf("stdout: %d bytes, want the %d sent", r.stdout.Len(), len(big))
	}
	if got := exitCodeOf(r.status); got != "0" || r.status.Status != metav1.StatusSuccess {
		t.Errorf("status %+v, want Success", r.status)
	}
	if r.closeCode != websocket.CloseNormalClosure {
		t.Errorf("close code %d, want 1000", r.closeCode)
	}
	s.waitServed(t)
}

// TestExecTTYSizes: the first resize is the initial size, later ones come
// through Resize; no stderr with a TTY.
func TestExecTTYSizes(t *testing.T) {
	checkGoroutines(t)
	s := execServer(t, ExecSession{Stdin: true, Stdout: true, Stderr: true, TTY: true,
		Run: func(ctx context.Context, st engine.ExecStreams) (int, error) {
			if st.Stderr != nil {
				t.Errorf("a TTY session got a stderr")
			}
			if st.InitialSize == nil {
				_, _ = io.WriteString(st.Stdout, "no initial size\n")
			} else {
				_, _ = fmt.Fprintf(st.Stdout, "initial %dx%d\n", st.InitialSize.Width, st.InitialSize.Height)
			}
			select {
			case size := <-st.Resize:
				_, _ = fmt.Fprintf(st.Stdout, "resized %dx%d\n", size.Width, size.Height)
			case <-ctx.Done():
				return 0, ctx.Err()
			}
			return 0, nil
		}})
	c := dialExec(t, s, "v4.channel.k8s.io")
	c.resize(80, 24)
	c.resize(0, 0) // ignored
	// Wait for the command to start before resizing again, so that the
	// second size is a resize, not a newer initial size.
	_ = c.c.SetReadDeadline(time.Now().Add(wait))
	var got bytes.Buffer
	for !strings.Contains(got.String(), "\n") {
		_, data, err := c.c.ReadMessage()
		if err != nil {
			t.Fatalf("reading the initial size: %v", err)
		}
		got.Write(data[1:])
	}
	c.resize(132, 50)
	r := c.readToEnd()
	got.Write(r.stdout.Bytes())
	if want := "initial 80x24\nresized 132x50\n"; got.String() != want {
		t.Errorf("stdout %q, want %q", got.String(), want)
	}
	if exitCodeOf(r.status) != "0" {
		t.Errorf("status %+v", r.status)
	}
	s.waitServed(t)
}

// TestExecInputFirst: a TTY client that types before sending any size
// starts the command at once, without a size.
func TestExecInputFirst(t *testing.T) {
	checkGoroutines(t)
	old := InitialSizeWait
	InitialSizeWait = time.Hour // only the input may end the wait
	t.Cleanup(func() { InitialSizeWait = old })
	s := execServer(t, ExecSession{Stdin: true, Stdout: true, TTY: true,
		Run: func(_ context.Context, st engine.ExecStreams) (int, error) {
			if st.InitialSize != nil {
				t.Errorf("initial size %+v, want none", *st.InitialSize)
			}
			b := make([]byte, 1)
			_, err := io.ReadFull(st.Stdin, b)
			_, _ = st.Stdout.Write(b)
			return 0, err
		}})
	c := dialExec(t, s, "v5.channel.k8s.io")
	c.send(channelStdin, []byte("x"))
	r := c.readToEnd()
	if r.stdout.String() != "x" || exitCodeOf(r.status) != "0" {
		t.Errorf("stdout %q, status %+v", r.stdout.String(), r.status)
	}
	s.waitServed(t)
}

// TestExecClientGone: a client that drops the connection cancels the
// command, and the session ends with nothing left running.
func TestExecClientGone(t *testing.T) {
	checkGoroutines(t)
	cancelled := make(chan struct{})
	s := execServer(t, ExecSession{Stdin: true, Stdout: true,
		Run: func(ctx context.Context, st engine.ExecStreams) (int, error) {
			_, _ = io.WriteString(st.Stdout, "ready")
			<-ctx.Done()
			close(cancelled)
			return 0, ctx.Err()
		}})
	c := dialExec(t, s, "v5.channel.k8s.io")
	_ = c.c.SetReadDeadline(time.Now().Add(wait))
	for {
		_, data, err := c.c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if string(data[1:]) == "ready" {
			break
		}
	}
	c.c.Close()
	select {
	case <-cancelled:
	case <-time.After(wait):
		t.Fatal("the command was not cancelled when the client left")
	}
	s.waitServed(t)
}

// TestExecStdinNotRead: a command that never reads stdin holds the client's
// input back, and still ends the session when it exits.
func TestExecStdinNotRead(t *testing.T) {
	checkGoroutines(t)
	exit := make(chan struct{})
	s := execServer(t, ExecSession{Stdin: true, Stdout: true,
		Run: func(ctx context.Context, _ engine.ExecStreams) (int, error) {
			select {
			case <-exit:
				return 7, nil
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}})
	c := dialExec(t, s, "v5.channel.k8s.io")
	c.send(channelStdin, bytes.Repeat([]byte("y"), 1<<20))
	close(exit)
	r := c.readToEnd()
	if exitCodeOf(r.status) != "7" || r.closeCode != websocket.CloseNormalClosure {
		t.Errorf("status %+v, close %d", r.status, r.closeCode)
	}
	s.waitServed(t)
}

// TestExecBadMessages: undecodable input closes with 1007 and a reason.
func TestExecBadMessages(t *testing.T) {
	for name, tc := range map[string]struct {
		proto string
		kind  int
		msg   []byte
	}{
		"bad base64":      {"base64.channel.k8s.io", websocket.TextMessage, []byte("0!!!")},
		"no channel":      {"base64.channel.k8s.io", websocket.TextMessage, []byte("x")},
		"bad resize JSON": {"v5.channel.k8s.io", websocket.BinaryMessage, []byte("\x04{nope")},
		"huge resize":     {"v5.channel.k8s.io", websocket.BinaryMessage, append([]byte{4}, bytes.Repeat([]byte(" "), maxResizeMessage+1)...)},
	} {
		t.Run(name, func(t *testing.T) {
			checkGoroutines(t)
			s := execServer(t, ExecSession{Stdin: true, Stdout: true, TTY: true,
				Run: func(ctx context.Context, st engine.ExecStreams) (int, error) {
					_, _ = io.Copy(io.Discard, st.Stdin)
					<-ctx.Done()
					return 0, ctx.Err()
				}})
			c := dialExec(t, s, tc.proto)
			if err := c.c.WriteMessage(tc.kind, tc.msg); err != nil {
				t.Fatal(err)
			}
			_, err := readAll(t, c.c)
			if code, reason := closeCode(err); code != websocket.CloseInvalidFramePayloadData || reason == "" {
				t.Errorf("close %d %q (%v), want 1007 with a reason", code, reason, err)
			}
			s.waitServed(t)
		})
	}
}

// TestExecRequestChecks: requests that cannot become a session get a 400
// Status that names the subprotocols, and the command never runs.
func TestExecRequestChecks(t *testing.T) {
	checkGoroutines(t)
	s := execServer(t, ExecSession{Stdout: true, Run: func(context.Context, engine.ExecStreams) (int, error) {
		t.Error("the command ran")
		return 0, nil
	}})
	url := s.URL + "/exec"
	plain, _ := http.NewRequest(http.MethodGet, url, nil)
	spdy, _ := http.NewRequest(http.MethodPost, url, nil)
	spdy.Header.Set("Connection", "Upgrade")
	spdy.Header.Set("Upgrade", "SPDY/3.1")
	for name, req := range map[string]*http.Request{"plain": plain, "SPDY": spdy} {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var st metav1.Status
		if err := json.Unmarshal(body, &st); err != nil || resp.StatusCode != http.StatusBadRequest || st.Code != http.StatusBadRequest ||
			!strings.Contains(st.Message, "v5.channel.k8s.io") {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
		if name == "SPDY" && !strings.Contains(st.Message, "SPDY is not supported") {
			t.Errorf("SPDY: message %q does not say SPDY is not supported", st.Message)
		}
		s.waitServed(t)
	}
	for _, protos := range [][]string{nil, {"binary.k8s.io"}, {"channel.k8s.io", "v3.channel.k8s.io"}} {
		_, resp, err := s.dial(t, 0, protos...)
		if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%v: dial error %v, response %v", protos, err, resp)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), "base64.channel.k8s.io") {
			t.Errorf("%v: body %s does not list the subprotocols", protos, body)
		}
		s.waitServed(t)
	}
}

// TestExecInitialSizeTakenOnce: a size sent together with the first input
// is the initial size, not a later resize.
func TestExecInitialSizeTakenOnce(t *testing.T) {
	checkGoroutines(t)
	s := execServer(t, ExecSession{Stdin: true, Stdout: true, TTY: true,
		Run: func(_ context.Context, st engine.ExecStreams) (int, error) {
			if st.InitialSize == nil || *st.InitialSize != (engine.TerminalSize{Width: 90, Height: 30}) {
				t.Errorf("initial size %v, want 90x30", st.InitialSize)
			}
			select {
			case size := <-st.Resize:
				t.Errorf("the initial size came again as a resize: %+v", size)
			default:
			}
			return 0, nil
		}})
	c := dialExec(t, s, "v5.channel.k8s.io")
	c.resize(90, 30)
	c.send(channelStdin, []byte("z"))
	r := c.readToEnd()
	if exitCodeOf(r.status) != "0" {
		t.Errorf("status %+v", r.status)
	}
	s.waitServed(t)
}
