package faults

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rancher-sandbox/containers-apiserver/pkg/stream"
)

// FollowKind is one way to follow a log: chunked HTTP of a version, or a
// WebSocket with a subprotocol.
type FollowKind struct {
	HTTP  int    // 1 or 2: chunked HTTP/1.1 or HTTP/2; 0: WebSocket
	Proto string // the WebSocket subprotocol; "" for none
}

func (k FollowKind) String() string {
	switch {
	case k.HTTP > 0:
		return fmt.Sprintf("HTTP/%d", k.HTTP)
	case k.Proto == "":
		return "WebSocket (no subprotocol)"
	}
	return "WebSocket " + k.Proto
}

// channels tells whether the kind's messages carry a channel byte.
func (k FollowKind) channels() bool {
	return k.Proto == "v5.channel.k8s.io" || k.Proto == "v4.channel.k8s.io"
}

// FollowKinds are every way to follow a log; follow i uses FollowKinds[i%len].
var FollowKinds = []FollowKind{
	{HTTP: 1}, {HTTP: 2},
	{Proto: "v5.channel.k8s.io"}, {Proto: "v4.channel.k8s.io"},
	{Proto: "base64.binary.k8s.io"}, {Proto: "binary.k8s.io"}, {Proto: ""},
}

// FollowEnd is how a follow ended.
type FollowEnd struct {
	At    time.Time
	Bytes int   // of log received (WebSocket: message payloads)
	Err   error // nil: a clean end (the chunked body's end, a close frame)
	// Close and Reason are the WebSocket close frame's.
	Close  int
	Reason string
	// Status is the failure the server reported: the X-Stream-Error trailer,
	// or the message on channel 3; StatusLast says the latter was the last
	// message before the close.
	Status     *metav1.Status
	StatusLast bool
	Cancelled  bool // the client ended it (Follow.Cancel)
}

func (e FollowEnd) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d bytes, ", e.Bytes)
	switch {
	case e.Err != nil:
		fmt.Fprintf(&b, "error %v", e.Err)
	case e.Close != 0:
		fmt.Fprintf(&b, "close %d %q", e.Close, e.Reason)
	default:
		b.WriteString("clean end of the body")
	}
	if e.Status != nil {
		fmt.Fprintf(&b, ", Status %d %q (last message: %v)", e.Status.Code, e.Status.Message, e.StatusLast)
	}
	return b.String()
}

// Follow is one log follow, read by its own goroutine until the stream ends
// or Cancel.
type Follow struct {
	Kind   FollowKind
	ID     string
	first  chan struct{} // closed at the first byte of log
	done   chan struct{} // closed when the reader has ended; End is set before
	End    FollowEnd
	cancel context.CancelCauseFunc
}

// Followers opens follows against a server; it owns the transports.
type Followers struct {
	ep     Endpoint
	h1, h2 *http.Transport
	dialer websocket.Dialer
}

// NewFollowers returns clients of ep's log endpoint.
func NewFollowers(ep Endpoint) *Followers {
	tlsConfig := func() *tls.Config { return &tls.Config{InsecureSkipVerify: true} } //nolint:gosec // the test's own server
	return &Followers{
		ep: ep,
		// An empty TLSNextProto map keeps HTTP/1.1 even where h2 is offered.
		h1:     &http.Transport{TLSClientConfig: tlsConfig(), TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}},
		h2:     &http.Transport{TLSClientConfig: tlsConfig(), ForceAttemptHTTP2: true},
		dialer: websocket.Dialer{TLSClientConfig: tlsConfig(), HandshakeTimeout: callTimeout},
	}
}

// CloseIdle closes the transports' idle connections.
func (f *Followers) CloseIdle() {
	f.h1.CloseIdleConnections()
	f.h2.CloseIdleConnections()
}

func (f *Followers) url(id string) string {
	return fmt.Sprintf("%s/apis/containers.rancherdesktop.io/v1alpha1/namespaces/%s/containers/%s/log?follow=true&tailLines=1",
		f.ep.URL, f.ep.Namespace, id)
}

// Open starts following container id's log; it returns at once.
func (f *Followers) Open(kind FollowKind, id string) *Follow {
	ctx, cancel := context.WithCancelCause(context.Background())
	fl := &Follow{Kind: kind, ID: id, first: make(chan struct{}), done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(fl.done)
		defer cancel(nil)
		if kind.HTTP > 0 {
			fl.End = f.readHTTP(ctx, fl)
		} else {
			fl.End = f.readWebSocket(ctx, fl)
		}
		fl.End.At = time.Now()
		fl.End.Cancelled = errors.Is(context.Cause(ctx), errCancelled)
	}()
	return fl
}

var errCancelled = errors.New("the test ended the follow")

// Cancel ends the follow from the client's side and waits for its reader.
func (fl *Follow) Cancel() {
	fl.cancel(errCancelled)
	<-fl.done
}

// WaitFirst waits until the follow received its first byte of log.
func (fl *Follow) WaitFirst(timeout time.Duration) error {
	select {
	case <-fl.first:
		return nil
	case <-fl.done:
		return fmt.Errorf("%s follow of %s ended before its first byte: %s", fl.Kind, fl.ID[:12], fl.End)
	case <-time.After(timeout):
		return fmt.Errorf("%s follow of %s: no byte within %s", fl.Kind, fl.ID[:12], timeout)
	}
}

// WaitEnd waits until the follow has ended.
func (fl *Follow) WaitEnd(timeout time.Duration) error {
	select {
	case <-fl.done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("%s follow of %s still open after %s", fl.Kind, fl.ID[:12], timeout)
	}
}

func (fl *Follow) gotBytes(n int, end *FollowEnd) {
	if n > 0 && end.Bytes == 0 {
		close(fl.first)
	}
	end.Bytes += n
}

func (f *Followers) readHTTP(ctx context.Context, fl *Follow) FollowEnd {
	var end FollowEnd
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url(fl.ID), nil)
	if err != nil {
		end.Err = err
		return end
	}
	req.Header.Set("Authorization", "Bearer "+f.ep.Token)
	tr := f.h1
	if fl.Kind.HTTP == 2 {
		tr = f.h2
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		end.Err = err
		return end
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != fl.Kind.HTTP {
		end.Err = fmt.Errorf("the response is %s, want HTTP/%d", resp.Proto, fl.Kind.HTTP)
		return end
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		end.Err = fmt.Errorf("status %d: %s", resp.StatusCode, body)
		return end
	}
	if _, declared := resp.Trailer[stream.TrailerStreamError]; !declared {
		end.Err = fmt.Errorf("trailer %s not declared (Trailer: %v)", stream.TrailerStreamError, resp.Header.Values("Trailer"))
		return end
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		fl.gotBytes(n, &end)
		if err == io.EOF {
			break
		}
		if err != nil {
			end.Err = err
			return end
		}
	}
	if v := resp.Trailer.Get(stream.TrailerStreamError); v != "" {
		end.Status = &metav1.Status{}
		if err := json.Unmarshal([]byte(v), end.Status); err != nil {
			end.Err = fmt.Errorf("trailer %s = %q: %w", stream.TrailerStreamError, v, err)
		}
	}
	return end
}

func (f *Followers) readWebSocket(ctx context.Context, fl *Follow) FollowEnd {
	var end FollowEnd
	d := f.dialer
	if fl.Kind.Proto != "" {
		d.Subprotocols = []string{fl.Kind.Proto}
	}
	u := "wss" + strings.TrimPrefix(f.url(fl.ID), "https")
	conn, resp, err := d.DialContext(ctx, u, http.Header{"Authorization": {"Bearer " + f.ep.Token}})
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			err = fmt.Errorf("%w: %d %s", err, resp.StatusCode, body)
		}
		end.Err = err
		return end
	}
	defer conn.Close()
	if got := conn.Subprotocol(); got != fl.Kind.Proto {
		end.Err = fmt.Errorf("negotiated subprotocol %q", got)
		return end
	}
	// Cancel closes the connection, which ends the read below.
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				end.Close, end.Reason = ce.Code, ce.Text
			} else {
				end.Err = err
			}
			return end
		}
		end.StatusLast = false
		if fl.Kind.channels() && len(data) > 0 {
			if data[0] == 3 {
				end.Status, end.StatusLast = &metav1.Status{}, true
				if err := json.Unmarshal(data[1:], end.Status); err != nil {
					end.Err = fmt.Errorf("channel 3: %q: %w", data[1:], err)
					return end
				}
				continue
			}
			data = data[1:]
		}
		fl.gotBytes(len(data), &end)
	}
}

// CheckFailed checks that the follow ended the way a stream the server had to
// end does: cleanly, with the reason. Over HTTP a clean end of the body and a
// failure Status in the trailer; over a WebSocket a close with code wsCode and
// a reason, preceded by the Status on channel 3 with the channel protocols.
// statusOK judges the Status's code.
func (fl *Follow) CheckFailed(wsCode int, statusOK func(code int32) bool) error {
	e := fl.End
	bad := func(why string) error {
		return fmt.Errorf("%s follow of %s: %s; it ended with %s", fl.Kind, fl.ID[:12], why, e)
	}
	switch {
	case e.Err != nil:
		return bad("not a clean end")
	case e.Bytes == 0:
		return bad("no log received before the end")
	case fl.Kind.HTTP > 0 && e.Status == nil:
		return bad("no Status in the trailer")
	case fl.Kind.HTTP == 0 && e.Close != wsCode:
		return bad(fmt.Sprintf("close code is not %d", wsCode))
	case fl.Kind.HTTP == 0 && e.Reason == "":
		return bad("the close has no reason")
	case fl.Kind.channels() && (e.Status == nil || !e.StatusLast):
		return bad("no Status on channel 3 just before the close")
	case e.Status != nil && (e.Status.Status != metav1.StatusFailure || !statusOK(e.Status.Code)):
		return bad("not the expected failure Status")
	}
	return nil
}

// FollowSet is a group of follows opened together.
type FollowSet struct {
	mu      sync.Mutex
	follows []*Follow
}

// Add records fl in the set.
func (s *FollowSet) Add(fl *Follow) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.follows = append(s.follows, fl)
}

// Take returns the follows and empties the set.
func (s *FollowSet) Take() []*Follow {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.follows
	s.follows = nil
	return out
}

// CancelAll ends every follow from the client's side and waits for them.
func (s *FollowSet) CancelAll() {
	for _, fl := range s.Take() {
		fl.Cancel()
	}
}
