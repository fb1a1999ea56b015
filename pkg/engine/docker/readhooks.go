package docker

import (
	"context"
	"sync"
)

// ReadHooks let the reader of a Docker stream act before a read of the
// connection would block: BeforeBlock runs in the reading goroutine, once
// Armed, whenever no data is waiting (after readGap on a busy stream). A
// log copier flushes its batched output there, so that a burst goes out in
// large writes and a quiet line at once. Attached reports whether the
// connection that serves the request honours them (a unix socket); without
// them a reader must flush before every read itself.
type ReadHooks struct {
	// BeforeBlock is set before Arm and not changed afterwards.
	BeforeBlock func() error

	mu       sync.Mutex // guards armed and attached
	armed    bool
	attached bool
}

// Arm makes the connection call BeforeBlock; call it once the response body
// is in the reader's hands (before, net/http's own goroutine reads headers).
func (h *ReadHooks) Arm() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.armed = true
}

// Disarm stops the calls, e.g. before the reader's output goes away.
func (h *ReadHooks) Disarm() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.armed = false
}

// Attached reports whether a connection honours these hooks.
func (h *ReadHooks) Attached() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.attached
}

func (h *ReadHooks) beforeBlock() error {
	h.mu.Lock()
	armed := h.armed
	h.mu.Unlock()
	if !armed || h.BeforeBlock == nil {
		return nil
	}
	if err := h.BeforeBlock(); err != nil {
		return &hookError{err}
	}
	return nil
}

// hookError is a BeforeBlock failure (a write to the client), returned by the
// connection's Read: not a failure of the engine's stream.
type hookError struct{ err error }

func (e *hookError) Error() string { return e.err.Error() }
func (e *hookError) Unwrap() error { return e.err }

type readHooksKey struct{}

// WithReadHooks returns a context whose Docker requests, when they dial a
// new connection, attach h to it.
func WithReadHooks(ctx context.Context, h *ReadHooks) context.Context {
	return context.WithValue(ctx, readHooksKey{}, h)
}
