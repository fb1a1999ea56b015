//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// streamFor is how long the long-stream tests read: well past kube-apiserver's
// --request-timeout (15 s in the e2e control plane).
func (e *Env) streamFor() time.Duration { return e.RequestTimeout + 10*time.Second }

// TestKubectlRawFollow: kubectl get --raw on log?follow=true streams lines
// written after it started.
func TestKubectlRawFollow(t *testing.T) {
	e := Get(t)
	id := e.Container(t, "raw", TriggeredScript)
	e.WaitMirrored(t, id)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := e.KubectlCmd(ctx, Admin, "get", "--raw", e.ContainerPath(id, "log")+"?follow=true")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	lines, _ := Lines(stdout)
	ExpectLine(t, lines, 30*time.Second, "ready")
	e.Trigger(t, id)
	ExpectLine(t, lines, 30*time.Second, "marker")
	ExpectLine(t, lines, 30*time.Second, "tick-2")
}

// transportFor is a fresh transport for user speaking proto: "HTTP/2" or "HTTP/1.1".
func (e *Env) transportFor(t *testing.T, user, proto string) *http.Transport {
	tr := e.Transport(t, user)
	if proto == "HTTP/1.1" {
		tr.ForceAttemptHTTP2 = false
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return tr
}

// openFollow opens a follow stream over plain (chunked) HTTP through
// kube-apiserver as user and returns its lines.
func (e *Env) openFollow(t *testing.T, ctx context.Context, tr http.RoundTripper, user, id, sub string) (<-chan string, <-chan error) {
	t.Helper()
	req := e.Request(ctx, user, http.MethodGet, e.ContainerPath(id, sub)+"?follow=true", nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", sub, err)
	}
	if resp.StatusCode != http.StatusOK {
		body := make([]byte, 2048)
		n, _ := resp.Body.Read(body)
		resp.Body.Close()
		t.Fatalf("GET %s: %d %s", sub, resp.StatusCode, body[:n])
	}
	t.Cleanup(func() { resp.Body.Close() })
	return Lines(resp.Body)
}

// readTicks reads tick lines until the stream ends or d passes; it returns
// when the last line arrived (since start) and the stream's end error, if it
// ended.
func readTicks(lines <-chan string, errc <-chan error, start time.Time, d time.Duration) (n int, lastAt time.Duration, ended bool, endErr error) {
	timer := time.NewTimer(time.Until(start.Add(d)))
	defer timer.Stop()
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return n, lastAt, true, <-errc
			}
			if strings.HasPrefix(l, "tick-") {
				n++
				lastAt = time.Since(start)
			}
		case <-timer.C:
			return n, lastAt, false, nil
		}
	}
}

// TestFollowOutlivesRequestTimeout: a chunked HTTP follow of containers/log
// through kube-apiserver keeps flowing past kube-apiserver's --request-timeout:
// kube-apiserver treats the log subresource as long-running.
func TestFollowOutlivesRequestTimeout(t *testing.T) {
	e := Get(t)
	id := e.Container(t, "long", TickScript)
	e.WaitMirrored(t, id)
	for _, proto := range []string{"HTTP/2", "HTTP/1.1"} {
		t.Run(strings.ReplaceAll(proto, "/", ""), func(t *testing.T) {
			tr := e.transportFor(t, LogReader, proto)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			start := time.Now()
			lines, errc := e.openFollow(t, ctx, tr, LogReader, id, "log")
			n, lastAt, ended, err := readTicks(lines, errc, start, e.streamFor())
			if ended {
				t.Fatalf("%s stream ended after %s (%d ticks): %v", proto, time.Since(start).Round(time.Millisecond), n, err)
			}
			if lastAt < e.RequestTimeout+5*time.Second {
				t.Fatalf("%s: last tick at %s, want lines beyond --request-timeout %s + 5s (%d ticks)", proto, lastAt, e.RequestTimeout, n)
			}
			t.Logf("%s follow of containers/log: %d lines in %s, last at %s, still open", proto, n, e.streamFor(), lastAt.Round(time.Millisecond))
		})
	}
}

// TestWebSocketOutlivesRequestTimeout: the same over WebSocket
// (v5.channel.k8s.io), upgraded through kube-apiserver's aggregator proxy.
func TestWebSocketOutlivesRequestTimeout(t *testing.T) {
	e := Get(t)
	id := e.Container(t, "ws", TickScript)
	e.WaitMirrored(t, id)
	n, lastAt, err := e.wsTicks(t, id, "log")
	if err != nil {
		t.Fatalf("WebSocket ended after %s (%d ticks): %v", lastAt.Round(time.Millisecond), n, err)
	}
	if lastAt < e.RequestTimeout+5*time.Second {
		t.Fatalf("last tick at %s, want lines beyond --request-timeout %s + 5s (%d ticks)", lastAt, e.RequestTimeout, n)
	}
	t.Logf("WebSocket follow of containers/log: %d lines in %s, last at %s, still open", n, e.streamFor(), lastAt.Round(time.Millisecond))
}

// wsTicks follows the container's sub ("log" or "logs") over a v5.channel.k8s.io
// WebSocket through kube-apiserver for streamFor, counting tick lines; err is
// how the connection ended if it ended before.
func (e *Env) wsTicks(t *testing.T, id, sub string) (n int, lastAt time.Duration, err error) {
	t.Helper()
	u, _ := url.Parse(e.KubeURL + e.ContainerPath(id, sub))
	u.Scheme = "wss"
	u.RawQuery = "follow=true"
	d := websocket.Dialer{TLSClientConfig: e.TLSConfig(t, LogReader), Subprotocols: []string{"v5.channel.k8s.io"},
		HandshakeTimeout: 30 * time.Second}
	conn, resp, err := d.Dial(u.String(), http.Header{"Authorization": {"Bearer " + e.Tokens[LogReader]}})
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", u, err, code)
	}
	defer conn.Close()
	if conn.Subprotocol() != "v5.channel.k8s.io" {
		t.Fatalf("subprotocol %q", conn.Subprotocol())
	}
	start := time.Now()
	var buf strings.Builder
	_ = conn.SetReadDeadline(start.Add(e.streamFor()))
	for {
		typ, msg, err := conn.ReadMessage()
		if err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				return n, lastAt, nil
			}
			return n, time.Since(start), err
		}
		if typ != websocket.BinaryMessage || len(msg) == 0 {
			t.Fatalf("message type %d len %d", typ, len(msg))
		}
		if msg[0] != 1 {
			continue // not stdout
		}
		buf.Write(msg[1:])
		for {
			s := buf.String()
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				break
			}
			if strings.HasPrefix(s[:i], "tick-") {
				n++
				lastAt = time.Since(start)
			}
			buf.Reset()
			buf.WriteString(s[i+1:])
		}
	}
}

// TestLogsNameCutAtRequestTimeout records what kube-apiserver does to a follow
// of the other name, containers/logs, over plain HTTP: it is not a long-running
// request for kube-apiserver (only log, exec, attach, portforward and proxy are),
// so kube-apiserver ends it at --request-timeout.
func TestLogsNameCutAtRequestTimeout(t *testing.T) {
	e := Get(t)
	id := e.Container(t, "logs", TickScript)
	e.WaitMirrored(t, id)
	for _, proto := range []string{"HTTP/2", "HTTP/1.1"} {
		t.Run(strings.ReplaceAll(proto, "/", ""), func(t *testing.T) {
			tr := e.transportFor(t, LogReader, proto)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			start := time.Now()
			lines, errc := e.openFollow(t, ctx, tr, LogReader, id, "logs")
			n, lastAt, ended, err := readTicks(lines, errc, start, e.streamFor())
			elapsed := time.Since(start)
			if !ended {
				t.Fatalf("%s follow of containers/logs still open after %s (%d ticks): kube-apiserver no longer cuts it; update the README", proto, elapsed, n)
			}
			t.Logf("%s follow of containers/logs through kube-apiserver: ended after %s, %d lines, last at %s, client error: %v",
				proto, elapsed.Round(time.Millisecond), n, lastAt.Round(time.Millisecond), err)
			if elapsed < e.RequestTimeout-time.Second || elapsed > e.RequestTimeout+5*time.Second {
				t.Errorf("ended after %s, want about --request-timeout %s", elapsed, e.RequestTimeout)
			}
			if n == 0 {
				t.Errorf("no lines before the cut")
			}
			if err == nil {
				t.Errorf("the cut looked like a clean end of stream (no error); want an incomplete transfer")
			}
		})
	} // Over WebSocket kube-apiserver hijacks the connection; its timeout
	// filter gives up on the request at --request-timeout but does not close
	// a hijacked connection, so the upgraded stream goes on.
	t.Run("WebSocket", func(t *testing.T) {
		n, lastAt, err := e.wsTicks(t, id, "logs")
		t.Logf("WebSocket follow of containers/logs through kube-apiserver: %d lines, last at %s, ended: %v",
			n, lastAt.Round(time.Millisecond), err)
		if err != nil || lastAt < e.RequestTimeout+5*time.Second {
			t.Errorf("WebSocket follow of logs ended at %s: %v", lastAt, err)
		}
	})
}

// TestStreamTrailerThroughAggregator: the X-Stream-Error trailer that every
// streamed log response declares (empty at the end of the log) reaches a
// client through kube-apiserver's aggregator, over HTTP/2 and HTTP/1.1.
func TestStreamTrailerThroughAggregator(t *testing.T) {
	e := Get(t)
	id := e.Container(t, "trailer", TriggeredScript)
	e.WaitMirrored(t, id)
	for _, proto := range []string{"HTTP/2", "HTTP/1.1"} {
		t.Run(strings.ReplaceAll(proto, "/", ""), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			req := e.Request(ctx, LogReader, http.MethodGet, e.ContainerPath(id, "log"), nil)
			resp, err := (&http.Client{Transport: e.transportFor(t, LogReader, proto)}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "ready") {
				t.Fatalf("GET log: %d %v %q", resp.StatusCode, err, body)
			}
			v, declared := resp.Trailer[http.CanonicalHeaderKey("X-Stream-Error")]
			if !declared {
				t.Fatalf("%s: the X-Stream-Error trailer did not come through (trailers %v, Trailer header %q)",
					resp.Proto, resp.Trailer, resp.Header.Values("Trailer"))
			}
			if len(v) > 0 && v[0] != "" {
				t.Fatalf("a log that ended has X-Stream-Error %q", v)
			}
		})
	}
}

// TestMergedFollowOutlivesRequestTimeout: a merged follow
// (containernamespaces/moby/log) through kube-apiserver keeps flowing past
// its --request-timeout, as the log-reader role: the subresource is named
// log, which kube-apiserver treats as long-running.
func TestMergedFollowOutlivesRequestTimeout(t *testing.T) {
	e := Get(t)
	id := e.Container(t, "merged", TickScript)
	e.WaitMirrored(t, id)
	q := url.Values{"fieldSelector": {"metadata.name=" + id}, "follow": {"true"}}
	path := GroupVersionPath + "/namespaces/" + e.Namespace + "/containernamespaces/moby/log?" + q.Encode()
	for _, proto := range []string{"HTTP/2", "HTTP/1.1"} {
		t.Run(strings.ReplaceAll(proto, "/", ""), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			start := time.Now()
			resp, err := (&http.Client{Transport: e.transportFor(t, LogReader, proto)}).Do(e.Request(ctx, LogReader, http.MethodGet, path, nil))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
				t.Fatalf("GET merged log: %d %s", resp.StatusCode, body)
			}
			prefixed, errc := Lines(resp.Body)
			lines := make(chan string)
			go func() { // ends with prefixed, which ends with the body
				defer close(lines)
				for l := range prefixed {
					_, rest, ok := strings.Cut(l, " | ")
					if !ok {
						rest = "no prefix: " + l
					}
					select {
					case lines <- rest:
					case <-ctx.Done():
						return
					}
				}
			}()
			n, lastAt, ended, err := readTicks(lines, errc, start, e.streamFor())
			if ended {
				t.Fatalf("%s merged stream ended after %s (%d ticks): %v", proto, time.Since(start).Round(time.Millisecond), n, err)
			}
			if lastAt < e.RequestTimeout+5*time.Second {
				t.Fatalf("%s: last tick at %s, want lines beyond --request-timeout %s + 5s (%d ticks)", proto, lastAt, e.RequestTimeout, n)
			}
			t.Logf("%s merged follow: %d lines in %s, last at %s, still open", proto, n, e.streamFor(), lastAt.Round(time.Millisecond))
		})
	}
}
