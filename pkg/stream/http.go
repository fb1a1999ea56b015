package stream

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// headerDelay is how long a plain HTTP response waits for the first byte
// before sending its headers anyway. Until the headers are sent, a failing
// copier can still answer with a proper Status and code; after it, a quiet
// stream (a follow of an idle container) still looks alive to the client and
// to proxies waiting for response headers. A variable for tests.
var headerDelay = 500 * time.Millisecond

// serveHTTP streams to a plain (chunked) HTTP response. The copier runs in
// the caller's goroutine with a context that net/http cancels when the client
// goes away (HTTP/1.1 and HTTP/2), and that also ends when the server begins
// to shut down (serverStopping).
//
// Every end of a response that began is a clean end of the body (the
// terminating chunk over HTTP/1.1, END_STREAM over HTTP/2), so that a client
// never waits on, or reports, a broken transfer. What tells a failure from
// the end of the log is the trailer TrailerStreamError, declared with the
// headers: empty at the end of the log, a metav1.Status when the copier
// failed or the server shut down.
func serveHTTP(w http.ResponseWriter, req *http.Request, contentType string, copier Copier) {
	ctx, stop := withServerStop(req.Context(), req)
	defer stop()
	logger := klog.FromContext(ctx)
	hw := &httpWriter{w: w, rc: http.NewResponseController(w), logger: logger, contentType: contentType}

	// The header timer's callback is the only other goroutine touching w; it
	// does so under hw.mu and only while hw.done is false. The deferred wait
	// makes sure it has finished before Serve returns, even on a panic.
	fired := make(chan struct{})
	timer := time.AfterFunc(headerDelay, func() {
		defer close(fired)
		hw.commitIdle()
	})
	defer func() {
		// In case the copier panicked: mark hw done so that the timer
		// stops writing; the outcome is only read on the normal path below.
		_, _ = hw.finish()
		if !timer.Stop() {
			<-fired
		}
	}()

	err := copier(ctx, hw, hw)
	committed, writeErr := hw.finish()
	// From here on this goroutine alone touches w.
	clientGone := writeErr != nil || req.Context().Err() != nil
	if shuttingDown(ctx) && !clientGone && (err == nil || errors.Is(err, context.Canceled)) {
		// The copier was cancelled (a log copier returns nil then): this is
		// not the end of the log, and the client must be able to tell.
		err = apierrors.NewServiceUnavailable("the server ended the stream: " + errServerShutdown.Error())
	}

	switch {
	case err == nil:
		if !committed {
			hw.commit() // an empty log: 200 with no body
		}
	case !committed:
		st := statusFor(err)
		logger.V(2).Info("Log stream failed before its first byte", "code", st.Code, "err", err)
		writeStatus(w, st)
	case clientGone:
		// There is nobody to tell.
		logger.V(4).Info("Log stream ended: client gone", "err", err)
	default:
		st := statusFor(err)
		if shuttingDown(ctx) {
			logger.V(2).Info("Log stream ended by the server's shutdown")
		} else {
			logger.Error(err, "Log stream failed after the response began; ending it with the error in its trailer")
		}
		// Set after the body: net/http sends declared trailers from the
		// header map once the handler returns, after the last chunk.
		w.Header().Set(TrailerStreamError, trailerValue(st))
	}
}

// TrailerStreamError is the HTTP trailer, declared by every streamed (200)
// response, that carries a metav1.Status (one line of JSON) when the stream
// ended because of an error (the engine's stream broke, the server shut
// down) rather than at the end of the log. It is empty or absent otherwise.
const TrailerStreamError = "X-Stream-Error"

// trailerValue is st as one line of JSON that is a valid header value:
// json.Marshal escapes every control character but DEL, which only a
// string can hold, so it is escaped too.
func trailerValue(st metav1.Status) string {
	body, err := json.Marshal(st)
	if err != nil { // cannot happen for a Status
		return `{"kind":"Status","apiVersion":"v1","status":"Failure","code":500}`
	}
	return strings.ReplaceAll(string(body), "\x7f", `\u007f`)
}

// httpWriter writes to the response, flushing every write. It serves as both
// stdout and stderr.
type httpWriter struct {
	rc          *http.ResponseController
	logger      klog.Logger
	contentType string // of the response; set before the copier runs

	mu        sync.Mutex // guards the fields below and writes to w
	w         http.ResponseWriter
	committed bool  // the status line and headers have been written
	done      bool  // the copier has returned: w belongs to serveHTTP again
	err       error // the first write or flush error; writes fail after it
	noFlush   bool  // the ResponseWriter cannot flush (logged once)
}

func (h *httpWriter) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return 0, errClosed
	}
	if h.err != nil {
		return 0, h.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !h.committed {
		h.commitLocked()
	}
	n, err := h.w.Write(p)
	if err == nil {
		err = h.flushLocked()
	}
	if err != nil {
		h.err = err
	}
	return n, err
}

// finish hands w back to serveHTTP: no more writes, no more commits.
func (h *httpWriter) finish() (committed bool, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.done = true
	return h.committed, h.err
}

// commitIdle sends the headers of a stream that has not produced anything yet.
func (h *httpWriter) commitIdle() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done || h.committed || h.err != nil {
		return
	}
	h.commitLocked()
	if err := h.flushLocked(); err != nil {
		h.err = err
	}
}

func (h *httpWriter) commit() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.commitLocked()
}

func (h *httpWriter) commitLocked() {
	h.committed = true
	hdr := h.w.Header()
	// Raw bytes, not necessarily UTF-8: no charset, and no sniffing.
	hdr.Set("Content-Type", h.contentType)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Del("Content-Length") // chunked
	hdr.Set("Trailer", TrailerStreamError)
	h.w.WriteHeader(http.StatusOK)
}

func (h *httpWriter) flushLocked() error {
	if h.noFlush {
		return nil
	}
	err := h.rc.Flush()
	if errors.Is(err, http.ErrNotSupported) {
		h.noFlush = true
		h.logger.Info("Warning: the response writer cannot flush; the log stream will be buffered")
		return nil
	}
	return err
}
