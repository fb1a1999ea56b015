package stream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"weak"
)

// errServerShutdown is the cause of a stream's context when the HTTP server
// serving it began to shut down.
var errServerShutdown = errors.New("the server is shutting down")

// stopping maps each http.Server that has served a stream (a weak pointer, so
// the map never keeps a server alive) to a context that ends when the server
// begins to shut down.
var stopping sync.Map // weak.Pointer[http.Server] -> context.Context

// serverStopping returns a context that is done, with cause
// errServerShutdown, once the http.Server serving req has begun to shut down
// (http.Server.Shutdown). Without one (a request served some other way) it
// never ends.
//
// Why: http.Server.Shutdown waits for active requests to end and never
// cancels them, and it does not know hijacked connections at all. A log
// follow never ends on its own, so without this signal a shutdown waited for
// its whole timeout and then the process exited under every open stream: an
// HTTP client saw an incomplete transfer, a WebSocket client no close frame.
// RegisterOnShutdown is net/http's hook for exactly this ("gracefully
// shutdown connections that have ... been hijacked"); it runs when Shutdown
// starts, before Shutdown waits for the active requests, which then end
// cleanly (see serveHTTP and session.finish).
func serverStopping(req *http.Request) context.Context {
	srv, ok := req.Context().Value(http.ServerContextKey).(*http.Server)
	if !ok || srv == nil {
		return context.Background()
	}
	key := weak.Make(srv)
	if ctx, ok := stopping.Load(key); ok {
		return ctx.(context.Context)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	if actual, loaded := stopping.LoadOrStore(key, ctx); loaded {
		cancel(nil)
		return actual.(context.Context)
	}
	// Registered once per server, by LoadOrStore's winner. (A server whose
	// Shutdown began before its first stream never runs this hook; such a
	// stream ends at the shutdown timeout, as every stream did before.)
	srv.RegisterOnShutdown(func() { cancel(errServerShutdown) })
	// The entry goes with the server; the cleanup holds only the weak key.
	runtime.AddCleanup(srv, func(k weak.Pointer[http.Server]) { stopping.Delete(k) }, key)
	return ctx
}

// withServerStop returns a context derived from parent that also ends, with
// cause errServerShutdown, when the server serving req begins to shut down.
// Call stop once the stream is over.
func withServerStop(parent context.Context, req *http.Request) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	unhook := context.AfterFunc(serverStopping(req), func() { cancel(errServerShutdown) })
	return ctx, func() {
		unhook()
		cancel(context.Canceled)
	}
}

// shuttingDown reports whether ctx (from withServerStop) ended because the
// server is shutting down.
func shuttingDown(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errServerShutdown)
}

// Sessions counts a server's WebSocket streams in progress, so that its
// shutdown can wait for their close frames: http.Server.Shutdown waits for
// active requests but not for hijacked connections, so without this the
// process could exit while a session was still writing its 1001 close. The
// zero value is ready; a nil *Sessions counts nothing.
type Sessions struct {
	// mu guards n and idle; sessions begin and end in their own goroutines.
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0; made by a waiting Wait
}

// begin counts a session; the returned func, called once, ends it.
func (s *Sessions) begin() (end func()) {
	if s == nil {
		return func() {}
	}
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.n--
			if s.n == 0 && s.idle != nil {
				close(s.idle)
				s.idle = nil
			}
		})
	}
}

// Wait returns once no session is in progress, or with an error when ctx
// ends first.
func (s *Sessions) Wait(ctx context.Context) error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	if s.n == 0 {
		s.mu.Unlock()
		return nil
	}
	if s.idle == nil {
		s.idle = make(chan struct{})
	}
	idle, n := s.idle, s.n
	s.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%d WebSocket streams still open: %w", n, ctx.Err())
	}
}
