package stream

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"k8s.io/klog/v2"
)

// headerDelay is how long a plain HTTP response waits for the first byte
// before sending its headers anyway. Until the headers are sent, a failing
// copier can still answer with a proper Status and code; after it, a quiet
// stream (a follow of an idle container) still looks alive to the client and
// to proxies waiting for response headers. A variable for tests.
var headerDelay = 500 * time.Millisecond

// serveHTTP streams to a plain (chunked) HTTP response. The copier runs in
// the caller's goroutine with req.Context(), which net/http cancels when the
// client goes away (HTTP/1.1 and HTTP/2).
func serveHTTP(w http.ResponseWriter, req *http.Request, copier Copier) {
	ctx := req.Context()
	logger := klog.FromContext(ctx)
	hw := &httpWriter{w: w, rc: http.NewResponseController(w), logger: logger}

	// The header timer's callback is the only other goroutine touching w; it
	// does so under hw.mu and only while hw.done is false. The deferred wait
	// makes sure it has finished before Serve returns, even on a panic.
	fired := make(chan struct{})
	timer := time.AfterFunc(headerDelay, func() {
		defer close(fired)
		hw.commitIdle()
	})
	defer func() {
		hw.finish() // in case the copier panicked
		if !timer.Stop() {
			<-fired
		}
	}()

	err := copier(ctx, hw, hw)
	committed, writeErr := hw.finish()
	// From here on this goroutine alone touches w.

	switch {
	case err == nil:
		if !committed {
			hw.commit() // an empty log: 200 with no body
		}
	case !committed:
		st := statusFor(err)
		logger.V(2).Info("Log stream failed before its first byte", "code", st.Code, "err", err)
		writeStatus(w, st)
	case writeErr != nil || ctx.Err() != nil:
		// The client went away; there is nobody to tell.
		logger.V(4).Info("Log stream ended: client gone", "err", err)
	default:
		logger.Error(err, "Log stream failed after the response began; aborting the response")
		// The status line is out: only an incomplete transfer can tell the
		// client that this is not the end of the log.
		panic(http.ErrAbortHandler)
	}
}

// httpWriter writes to the response, flushing every write. It serves as both
// stdout and stderr.
type httpWriter struct {
	rc     *http.ResponseController
	logger klog.Logger

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
	hdr.Set("Content-Type", "text/plain")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Del("Content-Length") // chunked
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
