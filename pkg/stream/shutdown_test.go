package stream

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// shutdown runs the server's http.Server.Shutdown in the background and
// returns what it returned; it must not take anywhere near wait.
func shutdown(s *testServer) <-chan error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		done <- s.Config.Shutdown(ctx)
	}()
	return done
}

func waitShutdown(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Shutdown: %v (it waited for the stream)", err)
		}
	case <-time.After(2 * wait):
		t.Fatal("Shutdown did not return")
	}
}

// http.Server.Shutdown ends a plain HTTP follow at once: a clean end of the
// body with a 503 Status in the trailer, and Shutdown does not wait for it.
func TestHTTPServerShutdown(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "http1", true: "http2"}[h2], func(t *testing.T) {
			checkGoroutines(t)
			w := newWaiter("hello")
			s := newServer(t, Options{}, w.copy, serverConfig{http2: h2})
			resp := get(t, context.Background(), s)
			buf := make([]byte, 5)
			if _, err := io.ReadFull(resp.Body, buf); err != nil {
				t.Fatal(err)
			}
			done := shutdown(s)
			w.waitCancelled(t)
			if rest, err := io.ReadAll(resp.Body); len(rest) != 0 || err != nil {
				t.Errorf("after the shutdown read %q, %v; want a clean end", rest, err)
			}
			if st := trailerStatus(t, resp); st.Code != http.StatusServiceUnavailable {
				t.Errorf("trailer Status %+v, want 503", st)
			}
			if p := s.waitServed(t); p != nil {
				t.Errorf("Serve panicked with %v", p)
			}
			waitShutdown(t, done)
		})
	}
}

// A WebSocket (hijacked, so unknown to Shutdown) is told too: 1001 after a
// 503 Status on the error channel.
func TestWebSocketServerShutdownSignal(t *testing.T) {
	checkGoroutines(t)
	w := newWaiter("hello")
	s := newServer(t, Options{}, w.copy)
	c := s.mustDial(t, v5)
	if _, _, err := c.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	done := shutdown(s)
	w.waitCancelled(t)
	expectGoingAway(t, c)
	s.waitServed(t)
	waitShutdown(t, done)
}

// expectGoingAway reads a channel-protocol WebSocket to its end, which must be
// a 503 Status on the error channel and a close 1001 with a reason: the
// server ended the stream.
func expectGoingAway(t *testing.T, c *websocket.Conn) {
	t.Helper()
	msgs, err := readAll(t, c)
	if code, reason := closeCode(err); code != websocket.CloseGoingAway || reason == "" {
		t.Errorf("ended with %v, want 1001 with a reason", err)
	}
	var st metav1.Status
	if len(msgs) != 1 || msgs[0].data[0] != channelError || json.Unmarshal(msgs[0].data[1:], &st) != nil ||
		st.Code != http.StatusServiceUnavailable {
		t.Errorf("want one 503 Status on the error channel, got %v", msgs)
	}
}

// One hook per server, however many streams it served, and streams of a
// server that goes on are not ended by another's shutdown.
func TestServerStoppingPerServer(t *testing.T) {
	checkGoroutines(t)
	var stopped [2][]context.Context
	servers := make([]*testServer, 2)
	for i := range servers {
		servers[i] = newServer(t, Options{}, func(context.Context, io.Writer, io.Writer) error { return nil },
			serverConfig{wrap: func(r *http.Request) *http.Request {
				stopped[i] = append(stopped[i], serverStopping(r))
				return r
			}})
	}
	for range 3 {
		for _, s := range servers {
			resp := get(t, context.Background(), s)
			_, _ = io.Copy(io.Discard, resp.Body)
			s.waitServed(t)
		}
	}
	for i := range servers {
		for _, ctx := range stopped[i][1:] {
			if ctx != stopped[i][0] {
				t.Fatalf("server %d: a new stopping context for a later stream", i)
			}
		}
	}
	waitShutdown(t, shutdown(servers[0]))
	select {
	case <-stopped[0][0].Done():
		if !shuttingDown(stopped[0][0]) {
			t.Errorf("cause %v", context.Cause(stopped[0][0]))
		}
	case <-time.After(wait):
		t.Fatal("the stopping context did not end with Shutdown")
	}
	if err := stopped[1][0].Err(); err != nil {
		t.Errorf("the other server's streams were stopped: %v", err)
	}
}

// TestSessionsWait: Wait returns once every counted session has ended, fails
// when its context ends first, and a nil Sessions counts nothing.
func TestSessionsWait(t *testing.T) {
	var nilSessions *Sessions
	nilSessions.begin()()
	if err := nilSessions.Wait(context.Background()); err != nil {
		t.Fatalf("nil Sessions: %v", err)
	}

	s := &Sessions{}
	if err := s.Wait(context.Background()); err != nil {
		t.Fatalf("no sessions: %v", err)
	}
	end1, end2 := s.begin(), s.begin()
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.Wait(short); err == nil || !strings.Contains(err.Error(), "2 WebSocket streams") {
		t.Fatalf("Wait with 2 open sessions: %v", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- s.Wait(context.Background()) }()
	end1()
	end1() // a second call changes nothing
	select {
	case err := <-waited:
		t.Fatalf("Wait returned with a session open: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	end2()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return once the sessions ended")
	}
	// Counting starts over.
	end3 := s.begin()
	end3()
	if err := s.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}
