package stream

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// Channel bytes of the channel protocols (as remotecommand's).
const (
	channelStdin  byte = 0
	channelStdout byte = 1
	channelStderr byte = 2
	channelError  byte = 3
	channelResize byte = 4
	// channelEvent carries a log's events (followRestarts) as JSON, one
	// object per message, on the channel protocols (see EventWriter).
	channelEvent byte = 5
	// channelClose starts v5's CLOSE signal: [255, channel] half-closes that
	// channel (for us: stdin).
	channelClose byte = 255
)

// protocol is a WebSocket subprotocol we speak.
type protocol struct {
	name     string // "" when the client asked for none
	channels bool   // each message starts with a channel byte (an ASCII digit with base64)
	base64   bool   // text messages carrying the standard, padded base64 of the bytes
	close    bool   // the client may half-close a channel (v5's CLOSE signal)
}

// protocols are the subprotocols we speak, in our order of preference.
var protocols = []protocol{
	{name: "v5.channel.k8s.io", channels: true, close: true},
	{name: "v4.channel.k8s.io", channels: true},
	{name: "base64.binary.k8s.io", base64: true},
	{name: "binary.k8s.io"},
}

// bearerProtocolPrefix marks the subprotocol entry browsers use to carry a
// bearer token; the apiserver's authenticator removes it before we see the
// request, and we ignore it if it is still there.
const bearerProtocolPrefix = "base64url.bearer.authorization.k8s.io." //nolint:gosec // G101: the name of a subprotocol prefix, not a credential

// requestedProtocols are the subprotocols the client asked for, without the
// bearer token entry.
func requestedProtocols(req *http.Request) []string {
	var requested []string
	for _, v := range req.Header.Values("Sec-Websocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" && !strings.HasPrefix(p, bearerProtocolPrefix) {
				requested = append(requested, p)
			}
		}
	}
	return requested
}

// negotiate picks the most preferred of supported among the subprotocols the
// client asked for; no subprotocol at all when it asked for none.
func negotiate(req *http.Request, supported []protocol) (protocol, error) {
	requested := requestedProtocols(req)
	if len(requested) == 0 {
		return protocol{}, nil
	}
	for _, p := range supported {
		for _, r := range requested {
			if r == p.name {
				return p, nil
			}
		}
	}
	msg := fmt.Sprintf("none of the requested WebSocket subprotocols %q is supported; use one of %s",
		requested, protocolNames(supported))
	if supported[len(supported)-1].name == "binary.k8s.io" {
		msg += ", or none for raw binary messages"
	}
	return protocol{}, errors.New(msg)
}

// protocolNames lists the protocols' names for messages.
func protocolNames(list []protocol) string {
	names := make([]string, len(list))
	for i, p := range list {
		names[i] = p.name
	}
	return strings.Join(names, ", ")
}

// serveWebSocket upgrades the connection and streams over it.
func serveWebSocket(w http.ResponseWriter, req *http.Request, opts Options, copier Copier) {
	proto, err := negotiate(req, protocols)
	if err != nil {
		writeStatus(w, newStatus(http.StatusBadRequest, err.Error()))
		return
	}
	upgradeAndRun(w, req, opts, proto, nil, copier)
}

// upgradeAndRun upgrades the connection to a WebSocket speaking proto and
// runs a session over it: a one-way stream, or an exec session when exec is
// set.
func upgradeAndRun(w http.ResponseWriter, req *http.Request, opts Options, proto protocol, exec *execIO, copier Copier) {
	logger := klog.FromContext(req.Context())
	header := http.Header{}
	if proto.name != "" {
		header.Set("Sec-Websocket-Protocol", proto.name)
	}
	upgrader := websocket.Upgrader{
		HandshakeTimeout: opts.WriteTimeout,
		// A buffer of our own: with none, gorilla reads through net/http's
		// hijacked bufio.Reader, whose read errors (our keep-alive deadline,
		// the client leaving) cancel req.Context(). That context must only end
		// for the server's reasons (shutdown), or a client timeout would be
		// mistaken for one. Client messages are small: 1 KiB is plenty.
		ReadBufferSize: 1 << 10,
		// A whole message, framed, in one buffer: gorilla writes its buffer
		// and the rest of a larger message separately, and each write to a
		// TLS connection is its own record and system call. Pooled, so a
		// session holds the buffer only while it writes a message.
		WriteBufferSize: writeBufferSize,
		WriteBufferPool: &writeBufferPool,
		// Any origin: the apiserver has authenticated and authorized the
		// request before it gets here, and browsers (our GUI among them)
		// always send an Origin that differs from the API server's host.
		CheckOrigin: func(*http.Request) bool { return true },
		Error: func(w http.ResponseWriter, _ *http.Request, code int, reason error) {
			writeStatus(w, newStatus(code, reason.Error()))
		},
	}
	conn, err := upgrader.Upgrade(w, req, header)
	if err != nil {
		// Upgrade has answered the client (or the connection is broken).
		logger.V(2).Info("WebSocket handshake failed", "err", err)
		return
	}
	// Counted until the connection is closed, so a shutdown can wait for it.
	defer opts.Sessions.begin()()
	// The server's shutdown ends the stream as the request's own end does:
	// net/http does not wait for, nor tell, a hijacked connection.
	parent, stop := withServerStop(req.Context(), req)
	defer stop()
	ctx, cancel := context.WithCancel(parent)
	s := &session{
		conn:       conn,
		proto:      proto,
		opts:       opts,
		logger:     logger,
		parent:     parent,
		ctx:        ctx,
		cancel:     cancel,
		pings:      make(chan string, 1),
		readerDone: make(chan struct{}),
		copierDone: make(chan struct{}),
		exec:       exec,
	}
	s.run(copier)
}

// writeBufferSize holds the largest data message: MaxMessageSize bytes of
// output and the channel byte, base64-encoded (the larger framing).
var writeBufferSize = base64.StdEncoding.EncodedLen(1 + MaxMessageSize)

// writeBufferPool lends every session its write buffer, message by message.
var writeBufferPool sync.Pool

// session is one WebSocket stream. Three goroutines take part:
//
//   - the controller: the goroutine that called Serve. It sends pings and
//     answers the client's, notices the end of the other two, sends the final
//     status and close frame, and alone closes conn. It ends last, after
//     joining the other two.
//   - the reader: reads and discards client frames, keeps the keep-alive
//     deadline, and on any error (client close, timeout, oversized message,
//     broken connection) records it and cancels the copier.
//   - the copier: runs the Copier; its Writes send data messages on conn
//     themselves, one at a time (wmu), so a message costs no hand-off
//     between goroutines and a slow client holds the copier back.
//
// Control frames (pings, pongs, close) go through WriteControl, which
// gorilla documents as safe to call concurrently with the other methods; it
// serializes them with data messages itself, and refuses data messages once
// a close frame is out. Gorilla may also write a close frame from the reader
// (on an oversized message or a protocol error).
type session struct {
	conn   *websocket.Conn
	proto  protocol
	opts   Options
	logger klog.Logger
	parent context.Context    // the request's context, also ended by the server's shutdown
	ctx    context.Context    // the copier's; cancelled when the client is gone
	cancel context.CancelFunc // cancels ctx; safe from any goroutine

	stopped atomic.Bool // set by the controller: data writes fail from then on
	pings   chan string // reader → controller: payload of a client ping to answer (latest only)

	wmu      sync.Mutex // serializes data messages; guards buf and writeErr
	buf      []byte     // scratch for framing; at most one message
	writeErr error      // the first failed data write; later ones fail with it

	readerDone chan struct{} // closed by the reader when it ends
	readErr    error         // written by the reader before readerDone is closed

	copierDone chan struct{} // closed by the copier goroutine when the copier returned
	copyErr    error         // written by the copier goroutine before copierDone is closed

	// exec, for an exec session, carries client input to the command; the
	// reader alone writes to it (see execIO).
	exec *execIO
}

func (s *session) run(copier Copier) {
	if s.exec != nil {
		// As the reference server does: an empty message on stdout tells
		// the client that the session is up.
		if err := s.writeFramed(channelStdout, nil); err != nil {
			s.logger.V(2).Info("Writing to the WebSocket client failed", "err", err)
			_ = s.conn.Close()
			return
		}
	}
	go s.read()
	go s.runCopier(copier)
	s.control()
}

// control is the controller goroutine; it returns once all is over.
func (s *session) control() {
	ticker := time.NewTicker(s.opts.PingInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			if err := s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.opts.WriteTimeout)); err != nil {
				s.broken("Pinging the WebSocket client failed", err)
				return
			}
		case data := <-s.pings:
			if err := s.conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(s.opts.WriteTimeout)); err != nil {
				s.broken("Answering a ping of the WebSocket client failed", err)
				return
			}
		case <-s.readerDone:
			s.clientGone()
			return
		case <-s.copierDone:
			// The reader closes readerDone before it cancels the copier, so
			// a copier that returned because the client left is seen here.
			select {
			case <-s.readerDone:
				s.clientGone()
				return
			default:
			}
			// copierDone orders the copier's writes before this read.
			if s.writeErr != nil {
				s.broken("Writing to the WebSocket client failed", s.writeErr)
			} else {
				s.finish()
			}
			return
		}
	}
}

// stop makes the copier's future writes fail and cancels it. A write in
// progress ends with conn's close, or fails once a close frame is out.
// Controller only.
func (s *session) stop() {
	s.stopped.Store(true)
	s.cancel()
}

// broken ends a session whose connection can no longer be written to.
func (s *session) broken(msg string, err error) {
	s.logger.V(2).Info(msg, "err", err)
	s.stop()
	_ = s.conn.Close()
	<-s.readerDone
	<-s.copierDone
}

// clientGone ends a session whose reader has ended: the client closed, went
// silent, sent too much or broke the connection. The copier is cancelled.
func (s *session) clientGone() {
	s.stop()
	err := s.readErr
	var closeErr *websocket.CloseError
	var netErr net.Error
	switch {
	case errors.As(err, &closeErr):
		s.logger.V(4).Info("WebSocket client closed the stream", "code", closeErr.Code)
		// Echo the client's code, as RFC 6455 suggests.
		_ = s.writeClose(closeErr.Code, "", s.opts.WriteTimeout)
	case errors.As(err, new(errBadMessage)):
		s.logger.V(2).Info("WebSocket client sent a message we cannot decode", "err", err)
		_ = s.writeClose(websocket.CloseInvalidFramePayloadData, closeReason(err.Error()), s.opts.WriteTimeout)
	case errors.Is(err, websocket.ErrReadLimit):
		s.logger.V(2).Info("WebSocket client sent a message over the limit", "limit", s.opts.ReadLimit)
		// Gorilla has tried already; this one mostly fails with ErrCloseSent.
		_ = s.writeClose(websocket.CloseMessageTooBig,
			fmt.Sprintf("client messages are limited to %d bytes", s.opts.ReadLimit), s.opts.WriteTimeout)
	case errors.As(err, &netErr) && netErr.Timeout():
		s.logger.V(2).Info("WebSocket client stopped answering pings", "pongTimeout", s.opts.PongTimeout)
		// The client is most likely gone: don't wait long on it.
		_ = s.writeClose(websocket.CloseInternalServerErr,
			fmt.Sprintf("keep-alive timeout: nothing from the client within %s", s.opts.PongTimeout), time.Second)
	default:
		// A broken connection or a protocol error (gorilla has sent 1002).
		s.logger.V(2).Info("Reading from the WebSocket client failed", "err", err)
	}
	_ = s.conn.Close()
	<-s.copierDone
	if s.copyErr != nil && !errors.Is(s.copyErr, errClosed) && !errors.Is(s.copyErr, context.Canceled) {
		s.logger.V(4).Info("Copier ended after the client left", "err", s.copyErr)
	}
}

// finish ends a session whose copier has returned while the client is still
// there: it sends the outcome and closes the connection cleanly.
func (s *session) finish() {
	s.stop()
	code, reason := websocket.CloseNormalClosure, ""
	err := s.copyErr
	if s.exec != nil && s.finishExec(err) {
		return
	}
	if cause := context.Cause(s.parent); cause != nil {
		// The request ended on our side (server shutting down, a request
		// deadline): the copier was cancelled, so this is not the end of the
		// stream, nor the client's fault. (A copier that returned nil at that
		// very moment cannot be told apart; telling its client to come back
		// is the safer mistake.)
		code = websocket.CloseGoingAway
		if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			err = apierrors.NewServiceUnavailable("the server ended the request: " + cause.Error())
		}
		s.logger.V(2).Info("Stream ended by the server", "cause", cause, "err", s.copyErr)
	}
	if err != nil {
		st := statusFor(err)
		if code == websocket.CloseNormalClosure {
			code = websocket.CloseInternalServerErr
			s.logger.Error(err, "Stream failed", "code", st.Code)
		}
		reason = closeReason(st.Message)
		if s.proto.channels {
			if werr := s.writeStatus(st); werr != nil {
				s.logger.V(2).Info("Sending the error to the WebSocket client failed", "err", werr)
			}
		}
	}
	s.closeAndWait(code, reason)
}

// closeAndWait sends a close frame and waits for the client's reply, then
// closes the connection. Controller only.
func (s *session) closeAndWait(code int, reason string) {
	if err := s.writeClose(code, reason, s.opts.WriteTimeout); err == nil {
		// Wait for the client's close reply (the reader ends on it), reading
		// all the while, so that closing the socket does not reset it while
		// the client still has data to read.
		timer := time.NewTimer(s.opts.WriteTimeout)
		select {
		case <-s.readerDone:
		case <-timer.C:
		}
		timer.Stop()
	}
	_ = s.conn.Close()
	<-s.readerDone
}

// writeData sends p on a channel, in messages of at most MaxMessageSize bytes
// of output. Callers hold wmu.
func (s *session) writeData(channel byte, p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), MaxMessageSize)]
		if err := s.writeFramed(channel, chunk); err != nil {
			return n, err
		}
		n += len(chunk)
		p = p[len(chunk):]
	}
	return n, nil
}

// writeFramed sends p (at most MaxMessageSize bytes, or a Status) as one
// message in the session's framing. Callers hold wmu, or are the controller
// once the copier has returned.
func (s *session) writeFramed(channel byte, p []byte) error {
	kind, msg := websocket.BinaryMessage, p
	switch {
	case s.proto.base64:
		kind = websocket.TextMessage
		n := base64.StdEncoding.EncodedLen(len(p))
		head := 0
		if s.proto.channels {
			head = 1 // the channel as an ASCII digit
		}
		msg = s.buffer(head + base64.StdEncoding.EncodedLen(max(len(p), MaxMessageSize)))[:head+n]
		if s.proto.channels {
			msg[0] = '0' + channel
		}
		base64.StdEncoding.Encode(msg[head:], p)
	case s.proto.channels:
		msg = append(append(s.buffer(1+max(len(p), MaxMessageSize)), channel), p...)
	}
	return s.writeMessage(kind, msg)
}

// buffer returns the scratch buffer emptied, allocating it on first use.
func (s *session) buffer(size int) []byte {
	if cap(s.buf) < size {
		s.buf = make([]byte, 0, size)
	}
	return s.buf[:0]
}

// writeStatus sends st on the error channel. Controller only, once the
// copier has returned.
func (s *session) writeStatus(st metav1.Status) error {
	body, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return s.writeFramed(channelError, body)
}

func (s *session) writeMessage(kind int, msg []byte) error {
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
	return s.conn.WriteMessage(kind, msg)
}

// writeClose sends a close frame. Controller only.
func (s *session) writeClose(code int, reason string, timeout time.Duration) error {
	return s.conn.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(code, reason), time.Now().Add(timeout))
}

// read is the reader goroutine.
func (s *session) read() {
	var err error
	defer func() {
		s.readErr = err
		close(s.readerDone)
		s.cancel() // after readerDone: see writeLoop
		if s.exec != nil {
			// Only now: a command that ends at its EOF must not look like
			// one that ended on its own while the client was still there.
			s.exec.closeStdin()
		}
	}()
	alive := func() error { return s.conn.SetReadDeadline(time.Now().Add(s.opts.PongTimeout)) }
	if err = alive(); err != nil {
		return
	}
	s.conn.SetReadLimit(s.opts.ReadLimit)
	s.conn.SetPongHandler(func(string) error { return alive() })
	s.conn.SetPingHandler(func(data string) error {
		// Only the latest ping needs an answer (RFC 6455 5.5.3); the controller
		// sends it with the other control frames. Both sides are non-blocking.
		select {
		case <-s.pings:
		default:
		}
		select {
		case s.pings <- data:
		default:
		}
		return alive()
	})
	// The writer echoes the close (or has sent its own already).
	s.conn.SetCloseHandler(func(int, string) error { return nil })
	for {
		var r io.Reader
		if _, r, err = s.conn.NextReader(); err != nil {
			return
		}
		if err = alive(); err != nil {
			return
		}
		if s.exec != nil {
			if err = s.exec.handle(s, r); err != nil {
				return
			}
			continue
		}
		// One-way stream: client messages are read (to find control frames
		// and enforce the limit) and dropped.
		if _, err = io.Copy(io.Discard, r); err != nil {
			return
		}
	}
}

// runCopier is the copier goroutine.
func (s *session) runCopier(copier Copier) {
	defer close(s.copierDone)
	defer func() {
		// A panic here would kill the whole server: nothing up the handler
		// chain recovers goroutines. Report it as an internal error instead.
		if p := recover(); p != nil {
			s.logger.Error(fmt.Errorf("panic: %v", p), "Copier panicked", "stack", string(debug.Stack()))
			s.copyErr = fmt.Errorf("the stream's copier panicked: %v", p)
		}
	}()
	var stdout, stderr io.Writer
	if s.proto.channels {
		stdout, stderr = eventWriter{s.newWriter(channelStdout)}, s.newWriter(channelStderr)
	} else {
		stdout = s.newWriter(0)
		stderr = stdout
	}
	s.copyErr = copier(s.ctx, stdout, stderr)
}

func (s *session) newWriter(channel byte) *wsWriter {
	return &wsWriter{s: s, channel: channel}
}

// EventWriter is implemented by a copier's stdout when the transport carries
// events apart from the output: the WebSocket channel protocols, on channel
// 5. WriteEvent sends v as one JSON message there.
type EventWriter interface {
	io.Writer
	WriteEvent(v any) error
}

// eventWriter is stdout on a channel protocol.
type eventWriter struct{ *wsWriter }

func (w eventWriter) WriteEvent(v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = (&wsWriter{s: w.s, channel: channelEvent}).Write(body)
	return err
}

// wsWriter is the copier's stdout or stderr on a WebSocket.
type wsWriter struct {
	s       *session
	channel byte
}

// Write sends p as one message (or a few, see writeData) and returns once it
// is written to the connection: a slow client holds the caller back.
func (w *wsWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s := w.s
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.stopped.Load() {
		return 0, errClosed
	}
	if s.writeErr != nil {
		return 0, s.writeErr
	}
	n, err := s.writeData(w.channel, p)
	if err != nil {
		s.writeErr = err
	}
	return n, err
}
