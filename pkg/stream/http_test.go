package stream

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func get(t *testing.T, ctx context.Context, s *testServer) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/apis/x/v1/namespaces/default/containers/abc/log", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func checkStreamHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain" {
		t.Errorf("Content-Type %q, want text/plain", ct)
	}
	if v := resp.Header.Get("X-Content-Type-Options"); v != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", v)
	}
	if resp.ContentLength != -1 {
		t.Errorf("Content-Length %d, want none", resp.ContentLength)
	}
	if resp.ProtoMajor == 1 && (len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked") {
		t.Errorf("Transfer-Encoding %v, want chunked", resp.TransferEncoding)
	}
}

func TestHTTPStream(t *testing.T) {
	checkGoroutines(t)
	pieces := testPieces()
	s := newServer(t, Options{}, scripted(pieces, nil))
	resp := get(t, context.Background(), s)
	checkStreamHeaders(t, resp)
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := joinPieces(pieces, true)
	if string(body) != string(want) {
		t.Errorf("body: %d bytes differ from the %d written", len(body), len(want))
	}
	if p := s.waitServed(t); p != nil {
		t.Errorf("Serve panicked: %v", p)
	}
}

func TestHTTPEmpty(t *testing.T) {
	checkGoroutines(t)
	s := newServer(t, Options{}, scripted(nil, nil))
	resp := get(t, context.Background(), s)
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || len(body) != 0 || err != nil {
		t.Errorf("got %d %q %v", resp.StatusCode, body, err)
	}
	s.waitServed(t)
}

// Every write reaches the client before the copier produces the next one.
func TestHTTPFlushesEachWrite(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "http1", true: "http2"}[h2], func(t *testing.T) {
			checkGoroutines(t)
			chunks := []string{"first \xe2", "\x82\xac second\n", "third"}
			read := make(chan struct{}) // the client has read the latest chunk
			s := newServer(t, Options{}, func(ctx context.Context, stdout, stderr io.Writer) error {
				for i, c := range chunks {
					w := stdout
					if i%2 == 1 {
						w = stderr
					}
					if _, err := w.Write([]byte(c)); err != nil {
						return err
					}
					select {
					case <-read:
					case <-ctx.Done():
						return ctx.Err()
					}
				}
				return nil
			}, serverConfig{http2: h2})
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			resp := get(t, ctx, s)
			checkStreamHeaders(t, resp)
			if h2 && resp.ProtoMajor != 2 {
				t.Fatalf("protocol %s", resp.Proto)
			}
			for _, c := range chunks {
				buf := make([]byte, len(c))
				if _, err := io.ReadFull(resp.Body, buf); err != nil {
					t.Fatalf("reading %q: %v", c, err)
				}
				if string(buf) != c {
					t.Fatalf("read %q, want %q", buf, c)
				}
				read <- struct{}{}
			}
			if rest, err := io.ReadAll(resp.Body); err != nil || len(rest) != 0 {
				t.Errorf("end: %q, %v", rest, err)
			}
			s.waitServed(t)
		})
	}
}

func TestHTTPClientDisconnectCancels(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "http1", true: "http2"}[h2], func(t *testing.T) {
			checkGoroutines(t)
			w := newWaiter("hello")
			s := newServer(t, Options{}, w.copy, serverConfig{http2: h2})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			resp := get(t, ctx, s)
			buf := make([]byte, 5)
			if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "hello" {
				t.Fatalf("read %q, %v", buf, err)
			}
			start := time.Now()
			cancel()
			if d := w.waitCancelled(t).Sub(start); d > time.Second {
				t.Errorf("cancelled %v after the client left", d)
			}
			if p := s.waitServed(t); p != nil {
				t.Errorf("Serve panicked with %v for a client that left", p)
			}
		})
	}
}

func TestHTTPErrorBeforeFirstByte(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		code   int
		reason metav1.StatusReason
	}{
		{"plain error", errors.New("engine stream broke"), 500, metav1.StatusReasonInternalError},
		{"not found", apierrors.NewNotFound(schema.GroupResource{Resource: "containers"}, "abc"), 404, metav1.StatusReasonNotFound},
		{"unavailable", apierrors.NewServiceUnavailable("the Docker engine is not connected"), 503, metav1.StatusReasonServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			s := newServer(t, Options{}, scripted([]piece{{data: nil}}, tc.err))
			resp := get(t, context.Background(), s)
			var st metav1.Status
			if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.code || st.Code != int32(tc.code) || st.Reason != tc.reason || st.Kind != "Status" ||
				resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("got %d %s %+v", resp.StatusCode, resp.Header.Get("Content-Type"), st)
			}
			s.waitServed(t)
		})
	}
}

// An error after the first byte ends the body cleanly, with the error as a
// Status in the trailer: the client can tell it from the end of the log.
func TestHTTPErrorAfterFirstByte(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "http1", true: "http2"}[h2], func(t *testing.T) {
			checkGoroutines(t)
			s := newServer(t, Options{}, scripted([]piece{{data: []byte("partial")}}, errors.New("engine stream broke")),
				serverConfig{http2: h2})
			resp := get(t, context.Background(), s)
			checkStreamHeaders(t, resp)
			body, err := io.ReadAll(resp.Body)
			if string(body) != "partial" || err != nil {
				t.Errorf("read %q, %v; want the partial body and a clean end", body, err)
			}
			st := trailerStatus(t, resp)
			if st.Code != http.StatusInternalServerError || !strings.Contains(st.Message, "engine stream broke") {
				t.Errorf("trailer Status %+v, want a 500 with the copier's error", st)
			}
			if p := s.waitServed(t); p != nil {
				t.Errorf("Serve panicked with %v", p)
			}
		})
	}
}

// trailerStatus decodes the X-Stream-Error trailer of a response whose body
// has been read to its end; the test fails without one.
func trailerStatus(t *testing.T, resp *http.Response) metav1.Status {
	t.Helper()
	var st metav1.Status
	v := resp.Trailer.Get(TrailerStreamError)
	if err := json.Unmarshal([]byte(v), &st); err != nil || st.Kind != "Status" || st.Status != metav1.StatusFailure {
		t.Fatalf("trailer %s = %q (%v), want a failure Status", TrailerStreamError, v, err)
	}
	return st
}

// A clean end of the log leaves the declared trailer empty.
func TestHTTPTrailerEmptyAtTheEnd(t *testing.T) {
	checkGoroutines(t)
	s := newServer(t, Options{}, scripted([]piece{{data: []byte("all")}}, nil))
	resp := get(t, context.Background(), s)
	if _, ok := resp.Trailer[TrailerStreamError]; !ok {
		t.Errorf("trailer %s not declared: %v", TrailerStreamError, resp.Header)
	}
	if body, err := io.ReadAll(resp.Body); string(body) != "all" || err != nil {
		t.Errorf("read %q, %v", body, err)
	}
	if v := resp.Trailer.Get(TrailerStreamError); v != "" {
		t.Errorf("trailer %s = %q after a complete log", TrailerStreamError, v)
	}
	s.waitServed(t)
}

// A message with characters a header value cannot hold still makes a valid
// trailer, one that decodes to the same message.
func TestTrailerValue(t *testing.T) {
	msg := "line1\nline2\r\t\x00\x7f del, \xff bad UTF-8, é€"
	v := trailerValue(newStatus(http.StatusInternalServerError, msg))
	for i := range len(v) {
		if c := v[i]; c < ' ' || c == 0x7f {
			t.Fatalf("trailer value holds byte %#x: %q", c, v)
		}
	}
	var st metav1.Status
	if err := json.Unmarshal([]byte(v), &st); err != nil {
		t.Fatal(err)
	}
	if want := strings.ToValidUTF8(msg, "\uFFFD"); st.Message != want {
		t.Errorf("message %q, want %q", st.Message, want)
	}
}

// A quiet stream sends its headers after headerDelay, before any byte.
func TestHTTPQuietStream(t *testing.T) {
	saved := headerDelay
	headerDelay = 20 * time.Millisecond
	t.Cleanup(func() { headerDelay = saved })

	t.Run("ends", func(t *testing.T) {
		checkGoroutines(t)
		w := newWaiter("")
		s := newServer(t, Options{}, w.copy)
		resp := get(t, context.Background(), s) // returns with the headers
		checkStreamHeaders(t, resp)
		close(w.release)
		if body, err := io.ReadAll(resp.Body); len(body) != 0 || err != nil {
			t.Errorf("read %q, %v", body, err)
		}
		s.waitServed(t)
	})
	t.Run("fails", func(t *testing.T) {
		checkGoroutines(t)
		fail := make(chan struct{})
		s := newServer(t, Options{}, func(context.Context, io.Writer, io.Writer) error {
			<-fail
			return errors.New("engine stream broke")
		})
		resp := get(t, context.Background(), s)
		checkStreamHeaders(t, resp)
		close(fail)
		if body, err := io.ReadAll(resp.Body); len(body) != 0 || err != nil {
			t.Errorf("read %q, %v; want a clean end", body, err)
		}
		trailerStatus(t, resp)
		if p := s.waitServed(t); p != nil {
			t.Errorf("Serve panicked with %v", p)
		}
	})
}

// A stream of JSON lines (the stats history) says so in its Content-Type.
func TestHTTPContentType(t *testing.T) {
	s := newServer(t, Options{ContentType: "application/x-ndjson"}, scripted([]piece{{data: []byte("{}\n")}}, nil))
	resp := get(t, context.Background(), s)
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("Content-Type %q, want application/x-ndjson", ct)
	}
	if body, err := io.ReadAll(resp.Body); err != nil || string(body) != "{}\n" {
		t.Errorf("body %q, %v", body, err)
	}
}
