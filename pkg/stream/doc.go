// Package stream serves a one-way byte stream, such as a container's log, to
// an HTTP client: as a chunked HTTP response, or over a WebSocket when the
// request asks for an upgrade (Serve); and exec sessions, whose WebSocket
// carries the client's stdin and terminal sizes too (ServeExec, see
// "Exec sessions" below and exec.go).
//
// # The bytes
//
// The bytes are the container's raw output, passed on unchanged. They are
// NOT guaranteed to be UTF-8 text: a program may write any bytes, and a
// multi-byte character may be split between two writes. Nothing here decodes,
// re-encodes or splits on characters or lines, so clients must treat the
// stream as opaque bytes and decode it themselves (per stream, since stdout
// and stderr interleave). Chunks and WebSocket messages are transport pieces:
// they are neither lines nor whole characters.
//
// # Plain HTTP
//
// Status 200 with Content-Type "text/plain" (no charset, for the reason above)
// and "X-Content-Type-Options: nosniff", stdout and stderr merged, each Write
// flushed at once: nothing is buffered beyond the copier's own read. The
// response headers are sent with the first byte, or after a short delay
// (headerDelay) when the source is quiet, so that a follow of an idle
// container still gets its headers. If the copier fails before that, the
// client gets a metav1.Status with the error's code instead (500 unless the
// error is an API status error).
//
// A response that began always ends cleanly: the terminating chunk over
// HTTP/1.1, END_STREAM over HTTP/2, so a client never hangs on nor reports a
// broken transfer. The headers declare the trailer X-Stream-Error
// (TrailerStreamError): it stays empty when the log ended, and carries the
// failure as a metav1.Status (one line of JSON, as on the WebSocket error
// channel) when the copier failed after the response began (the engine's
// stream broke), or when the server began to shut down (503). A client that
// must tell a complete log from a cut one reads the trailer after the body.
// (An aborted response, the alternative, is what a network failure looks
// like too: the client could not tell it was told anything.)
//
// # WebSocket
//
// Over HTTP/1.1 only (that is what an upgrade is). Subprotocols, in the
// server's order of preference, whatever order the client lists them in:
//
//   - v5.channel.k8s.io, v4.channel.k8s.io: binary messages, each starting
//     with a channel byte: 1 stdout, 2 stderr, 3 error. The error channel
//     carries one metav1.Status as JSON, sent only when the copier fails
//     (whether or not bytes were sent before). Channel 5 carries events
//     that a copier sends with EventWriter (a log's changes between runs),
//     one JSON object per message. Client messages, including the v5 CLOSE
//     signal, are ignored: the stream is one-way.
//   - base64.binary.k8s.io: text messages, each the standard, padded base64
//     of one piece of output (stdout and stderr merged). Every message decodes
//     on its own, as with k8s.io/streaming's wsstream.Reader.
//   - binary.k8s.io, and no subprotocol at all (the predecessor's GUI):
//     binary messages carrying the bytes as they come, stdout and stderr merged.
//
// The base64url.bearer.authorization.k8s.io.* entry used by browsers to pass a
// token is normally removed by the apiserver's authenticator; it is ignored if
// present. A client that asks only for subprotocols we don't speak gets a 400
// Status listing the ones we do, and no upgrade. A client that asks for none
// gets raw binary messages.
//
// Unlike wsstream.Reader, no empty message is sent before the data: the
// handshake response is flushed at once, and keep-alive uses real pings.
//
// One Write of N bytes becomes one message, or ceil(N/MaxMessageSize) messages
// when it is larger than MaxMessageSize (32 KiB). Empty writes send nothing.
//
// Ends: the copier returning nil closes with 1000 (normal closure). The
// copier failing closes with 1011 (internal error) and a reason of at most
// 123 bytes (the Status message, cut on a character boundary), after the
// Status on channel 3 for the channel protocols. When the request's own
// context ends, or the server begins to shut down, the copier is cancelled
// and the close is 1001 (going away), with a 503 Status on channel 3. A client close is
// echoed with the client's code. After sending a close frame the
// server waits up to WriteTimeout for the client's close reply before closing
// the connection, so data the client has yet to read is not lost to a reset.
//
// # Exec sessions
//
// ServeExec speaks only the channel protocols v5.channel.k8s.io,
// v4.channel.k8s.io and base64.channel.k8s.io (whose text messages start
// with the channel as an ASCII digit); anything else is a 400 before the
// upgrade (CheckExecRequest). Client messages are read, not discarded: stdin
// (0) is streamed into a pipe that the command reads, in 32 KiB pieces, so a
// command that does not read holds the client back (the keep-alive deadline
// is lifted while it does); resize (4) offers the latest size; v5's [255, 0]
// closes stdin. With a TTY the command starts once the first size arrived,
// the first input arrived or InitialSizeWait passed. An empty stdout message
// opens the session; the command's exit sends a Status on channel 3 and
// closes with 1000. Engine failures, the client leaving and the server's
// shutdown end it as a log stream ends (1011, echo, 1001). An undecodable
// client message closes with 1007.
//
// # Keep-alive and limits
//
// The server pings every PingInterval. Any frame from the client (a pong, a
// ping, a message) proves it alive; when nothing arrives for PongTimeout, the
// connection is closed with 1011 "keep-alive timeout" and the copier's context
// is cancelled. 1011 rather than 1001: 1001 is kept for the server leaving,
// while a silent client is one more failure of this connection, and every
// failure ends with 1011 and a reason (the client, if still there, should
// reconnect either way). Note that a ping queues behind the data already sent, so a client
// that is far behind (megabytes of socket buffers at a slow rate) must still
// catch up and answer within PongTimeout.
//
// Client messages are read and discarded. One larger than ReadLimit closes the
// connection with 1009 (message too big) and cancels the copier. A client
// close, or any read error, cancels the copier's context at once.
//
// Writes are synchronous: the copier's Write returns once its message is
// handed to the kernel, so a slow reader slows the copier down (backpressure)
// and memory per stream is bounded by one message. Each message must be
// written within WriteTimeout; a client that stops reading altogether (socket
// buffers full and not one message drained in WriteTimeout) breaks the
// connection: it is closed and the copier's context cancelled. A slow reader
// that keeps draining is never an error.
//
// # Server shutdown
//
// http.Server.Shutdown neither cancels active requests nor knows hijacked
// connections, and a follow never ends on its own. Serve registers with the
// serving http.Server (RegisterOnShutdown, once per server) and ends every
// stream when Shutdown starts: cleanly, as above, with a 503 Status. Shutdown
// then finds the plain HTTP streams ended instead of waiting its whole
// timeout for them.
//
// # Goroutines
//
// For a WebSocket, Serve starts two goroutines: the copier's and a reader.
// The copier's Writes send data messages on the connection themselves, one at
// a time; the goroutine running Serve sends the control frames (pings, pongs,
// the close) through gorilla's WriteControl, which is documented as safe
// concurrently with data writes, as is the close frame gorilla itself may add
// from the reader on an oversized message or a protocol error. Both
// goroutines end before Serve returns. For plain HTTP the
// copier runs in Serve's goroutine, and a header timer (joined before Serve
// returns) is the only other one. Serve does not close the source: the
// caller does that after Serve returns.
package stream
