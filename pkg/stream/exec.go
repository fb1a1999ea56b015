package stream

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/streaming/pkg/httpstream/wsstream"

	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

// execProtocols are the subprotocols of an exec session, in our order of
// preference: client-go's WebSocket executor and kubectl 1.31+ (v5, v4) and
// browsers (base64.channel.k8s.io, whose messages are text).
var execProtocols = []protocol{
	{name: "v5.channel.k8s.io", channels: true, close: true},
	{name: "v4.channel.k8s.io", channels: true},
	{name: "base64.channel.k8s.io", channels: true, base64: true},
}

// ExecReadLimit is the default ReadLimit of an exec session: the largest
// stdin message a client may send. Input is streamed to the command as it is
// read, so this bounds a message, not memory (a paste into a browser
// terminal is one message).
const ExecReadLimit = 16 << 20

// maxResizeMessage bounds a resize message, which is read whole to decode it.
const maxResizeMessage = 4 << 10

// stdinBufferSize is the piece in which stdin moves from the client's
// messages to the command: the only stdin buffer of a session.
const stdinBufferSize = 32 << 10

// InitialSizeWait is how long a TTY session waits for the client's first
// resize message before it starts the command without a size. client-go
// sends its size at once; the wait also ends at the first input.
var InitialSizeWait = time.Second

// ExecSession is what ServeExec runs: the streams the client asked for and
// the command.
type ExecSession struct {
	Stdin, Stdout, Stderr, TTY bool
	// Run runs the command over streams until it exits. A non-zero exit code
	// is sent as a NonZeroExitCode Status; an error must be an API status
	// error (or becomes a 500). When ctx ends the client is gone: Run must
	// return promptly.
	Run func(ctx context.Context, streams engine.ExecStreams) (exitCode int, err error)
}

// CheckExecRequest tells whether req can become an exec session: a WebSocket
// upgrade that offers one of our exec subprotocols. Otherwise it returns a
// 400 StatusError that says what to use, for a plain request and for a SPDY
// upgrade (older clients' fallback) alike.
func CheckExecRequest(req *http.Request) error {
	names := protocolNames(execProtocols)
	if !wsstream.IsWebSocketRequest(req) {
		what := "a request without a WebSocket upgrade"
		if upgrade := req.Header.Get("Upgrade"); strings.Contains(strings.ToLower(upgrade), "spdy") {
			what = fmt.Sprintf("an %q upgrade; SPDY is not supported", upgrade)
		}
		return apierrors.NewBadRequest(fmt.Sprintf(
			"exec is served over WebSocket only, with one of the subprotocols %s (this was %s)", names, what))
	}
	if len(requestedProtocols(req)) == 0 {
		return apierrors.NewBadRequest(fmt.Sprintf(
			"exec needs a channel subprotocol: ask for one of %s in Sec-WebSocket-Protocol", names))
	}
	if _, err := negotiate(req, execProtocols); err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	return nil
}

// ServeExec runs an exec session over a WebSocket: client messages on the
// stdin and resize channels go to the command, its output comes back on
// stdout and stderr, and its exit status on the status channel, after which
// the server closes with 1000. A request that CheckExecRequest refuses gets
// its 400 Status and Run is not called. See the package doc for the protocol.
func ServeExec(w http.ResponseWriter, req *http.Request, opts Options, sess ExecSession) {
	if opts.ReadLimit <= 0 {
		opts.ReadLimit = ExecReadLimit
	}
	opts = opts.withDefaults()
	if err := CheckExecRequest(req); err != nil {
		writeStatus(w, statusFor(err))
		return
	}
	proto, _ := negotiate(req, execProtocols) // cannot fail after the check
	x := &execIO{
		tty:    sess.TTY,
		resize: make(chan engine.TerminalSize, 1),
		input:  make(chan struct{}),
	}
	if sess.Stdin {
		x.stdinR, x.stdinW = io.Pipe()
		x.stdinOpen = true
	}
	upgradeAndRun(w, req, opts, proto, x, x.copier(sess))
}

// execIO carries a client's input to the command. The session's reader
// goroutine alone calls handle and closeStdin, and alone touches stdinOpen,
// sawInput and buf; the copier goroutine reads stdinR and resize.
type execIO struct {
	tty bool

	stdinR    *io.PipeReader // the command's stdin; nil without stdin
	stdinW    *io.PipeWriter // the reader's end
	stdinOpen bool           // until the client closes stdin or the command stops reading
	buf       []byte         // stdin piece, allocated at the first input

	// resize holds the latest size not yet taken (latest wins: the reader
	// replaces an untaken one).
	resize chan engine.TerminalSize
	// input is closed at the first stdin message: a TTY command then
	// starts without waiting longer for a size.
	input    chan struct{}
	sawInput bool
}

// errBadMessage is a client message we cannot decode: the session is closed
// with 1007 (invalid payload).
type errBadMessage struct{ msg string }

func (e errBadMessage) Error() string { return e.msg }

// handle reads one client message. A returned error ends the session.
func (x *execIO) handle(s *session, r io.Reader) error {
	var head [1]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty message: nothing to do
		}
		return err
	}
	channel := head[0]
	transport := &transportReader{r: r}
	var payload io.Reader = transport
	if s.proto.base64 {
		if channel < '0' || channel > '9' {
			return errBadMessage{fmt.Sprintf("a %s message must start with a channel digit, not %q", s.proto.name, channel)}
		}
		channel -= '0'
		payload = base64.NewDecoder(base64.StdEncoding, transport)
	}
	switch {
	case channel == channelStdin:
		return decodeError(x.stdin(s, payload), transport, "stdin")
	case channel == channelResize:
		return decodeError(x.resized(payload), transport, "resize")
	case channel == channelClose && s.proto.close:
		var ch [1]byte
		if _, err := io.ReadFull(payload, ch[:]); err == nil && ch[0] == channelStdin {
			x.closeStdin()
		}
		return nil
	}
	// Other channels carry nothing from a client: ignored.
	return nil
}

// stdin moves one stdin message to the command, in pieces, as the command
// reads them: a command that does not read holds the client back.
func (x *execIO) stdin(s *session, payload io.Reader) error {
	if !x.sawInput {
		x.sawInput = true
		close(x.input)
	}
	if x.buf == nil {
		x.buf = make([]byte, stdinBufferSize)
	}
	for {
		// Whole pieces: a message's bytes arrive in several reads (the
		// frame header's read takes part of it), and one write each to
		// Docker's connection costs a wakeup of dockerd and the command.
		n, err := readPiece(payload, x.buf)
		if n > 0 && x.stdinOpen {
			// While the command holds the client back, the client's silence
			// is ours: no keep-alive deadline until it has read.
			_ = s.conn.SetReadDeadline(time.Time{})
			if _, werr := x.stdinW.Write(x.buf[:n]); werr != nil {
				x.stdinOpen = false // the command is done with stdin; drop the rest
			}
			if derr := s.conn.SetReadDeadline(time.Now().Add(s.opts.PongTimeout)); derr != nil {
				return derr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// readPiece fills p from r, stopping early only at an error (io.EOF: the
// message ended). Unlike io.ReadFull it passes r's own errors on unchanged:
// a base64 decoder's io.ErrUnexpectedEOF is bad input, not a short piece.
func readPiece(r io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// transportReader remembers the connection's read error, to tell a broken
// connection from a message that does not decode.
type transportReader struct {
	r   io.Reader
	err error
}

func (t *transportReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		t.err = err
	}
	return n, err
}

// decodeError is err, or errBadMessage when it is the payload's decoding
// (base64) that failed rather than the connection.
func decodeError(err error, transport *transportReader, what string) error {
	if err == nil || transport.err != nil {
		return err
	}
	var bad errBadMessage
	if errors.As(err, &bad) {
		return err
	}
	return errBadMessage{fmt.Sprintf("a %s message does not decode: %v", what, err)}
}

// resized decodes a resize message ({"Width":W,"Height":H}, as client-go
// sends) and offers it to the command, replacing an untaken one.
func (x *execIO) resized(payload io.Reader) error {
	body, err := io.ReadAll(io.LimitReader(payload, maxResizeMessage+1))
	if err != nil {
		return err
	}
	if len(body) > maxResizeMessage {
		return errBadMessage{fmt.Sprintf("a resize message is over %d bytes", maxResizeMessage)}
	}
	var size struct{ Width, Height uint16 }
	if err := json.Unmarshal(body, &size); err != nil {
		return errBadMessage{`a resize message must be JSON {"Width":W,"Height":H}: ` + err.Error()}
	}
	if !x.tty || size.Width == 0 || size.Height == 0 {
		return nil // nothing to resize
	}
	select {
	case <-x.resize:
	default:
	}
	x.resize <- engine.TerminalSize{Width: size.Width, Height: size.Height}
	return nil
}

// closeStdin gives the command EOF on stdin (once).
func (x *execIO) closeStdin() {
	if x.stdinW != nil {
		_ = x.stdinW.Close()
	}
	x.stdinOpen = false
}

// copier runs the command as the session's copier.
func (x *execIO) copier(sess ExecSession) Copier {
	return func(ctx context.Context, stdout, stderr io.Writer) error {
		var streams engine.ExecStreams
		if x.stdinR != nil {
			streams.Stdin = x.stdinR
			// In case Run returns without closing it: the reader must never
			// block on a pipe nobody reads.
			defer func() { _ = x.stdinR.Close() }()
		}
		if sess.Stdout {
			streams.Stdout = stdout
		}
		if sess.Stderr && !sess.TTY {
			streams.Stderr = stderr
		}
		if sess.TTY {
			streams.InitialSize = x.initialSize(ctx)
			streams.Resize = x.resize
		}
		code, err := sess.Run(ctx, streams)
		switch {
		case err != nil:
			return err
		case code != 0:
			return exitError(code)
		}
		return nil
	}
}

// initialSize waits for the client's first size, for its first input, or
// for InitialSizeWait, whichever comes first.
func (x *execIO) initialSize(ctx context.Context) *engine.TerminalSize {
	timer := time.NewTimer(InitialSizeWait)
	defer timer.Stop()
	select {
	case size := <-x.resize:
		return &size
	case <-x.input:
	case <-timer.C:
	case <-ctx.Done():
	}
	// The reader offers a size before it handles later input, so a size
	// sent before the first input is there now.
	select {
	case size := <-x.resize:
		return &size
	default:
		return nil
	}
}

// exitError is a command's non-zero exit code.
type exitError int

func (e exitError) Error() string {
	return fmt.Sprintf("command terminated with non-zero exit code: %d", int(e))
}

// exitStatus is the status channel's Status for a command's end, as
// kubelet sends it: Success, or NonZeroExitCode with an ExitCode cause.
func exitStatus(code int) metav1.Status {
	st := metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess}
	if code != 0 {
		st.Status = metav1.StatusFailure
		st.Reason = "NonZeroExitCode"
		st.Message = exitError(code).Error()
		st.Details = &metav1.StatusDetails{Causes: []metav1.StatusCause{
			{Type: "ExitCode", Message: strconv.Itoa(code)},
		}}
	}
	return st
}

// finishExec ends an exec session whose command has exited while the client
// is still there: its status, then a normal close. Failures (the engine
// broke, the server is stopping) take the stream's usual path; finishExec
// then returns false.
func (s *session) finishExec(err error) bool {
	if context.Cause(s.parent) != nil {
		return false
	}
	var code exitError
	switch {
	case err == nil:
	case errors.As(err, &code):
	default:
		return false
	}
	if werr := s.writeStatus(exitStatus(int(code))); werr != nil {
		s.logger.V(2).Info("Sending the exit status to the WebSocket client failed", "err", werr)
	}
	s.closeAndWait(1000, "")
	return true
}
