package stream

import (
	"context"
	"errors"
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
