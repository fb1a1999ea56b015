package stream

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// Defaults for the zero values of Options.
const (
	DefaultPingInterval = 30 * time.Second
	// DefaultPongTimeout is twice the ping interval: a client may miss one ping.
	DefaultPongTimeout  = 2 * DefaultPingInterval
	DefaultReadLimit    = 4 << 10
	DefaultWriteTimeout = 30 * time.Second
)

// MaxMessageSize is the most bytes of output one WebSocket message carries
// (before base64 and without the channel byte). Larger writes are split.
const MaxMessageSize = 32 << 10

// Options tune a stream; zero (or negative) values mean the defaults.
type Options struct {
	// PingInterval is how often the server pings a WebSocket client.
	PingInterval time.Duration
	// PongTimeout is how long a WebSocket client may stay silent (no pong, no
	// frame at all) before it is considered gone: the connection is closed
	// with 1011 and the copier's context cancelled. It must be longer than
	// PingInterval; when it is not, it becomes 2*PingInterval. Zero means
	// 2*PingInterval.
	PongTimeout time.Duration
	// ReadLimit is the largest message a WebSocket client may send (they are
	// all ignored); a larger one closes the connection with 1009.
	ReadLimit int64
	// WriteTimeout bounds the write of each WebSocket message, control frames
	// and the handshake included, and the wait for the client's reply to our
	// close frame. (A close frame to a client that stopped answering pings
	// gets 1 s.) It is not a deadline for the stream: a slow reader only slows
	// the copier down. Only a client that drains nothing for this long is
	// dropped.
	WriteTimeout time.Duration
	// Sessions, if set, counts the WebSocket streams in progress, for the
	// server's shutdown to wait on (see Sessions).
	Sessions *Sessions
	// ContentType is the plain HTTP response's Content-Type; default
	// "text/plain" (raw bytes, no charset). A stream of JSON lines says
	// "application/x-ndjson".
	ContentType string
}

func (o Options) withDefaults() Options {
	if o.PingInterval <= 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.PongTimeout <= o.PingInterval {
		o.PongTimeout = 2 * o.PingInterval
	}
	if o.ReadLimit <= 0 {
		o.ReadLimit = DefaultReadLimit
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.ContentType == "" {
		o.ContentType = "text/plain"
	}
	return o
}

// Copier writes the source to stdout and stderr (which may be the same
// writer) and returns when the source ends (nil) or fails. It must stop
// promptly when ctx is done. A Write error means the client is gone or too
// slow; the copier should then return (any error will do).
//
// The writers are safe for concurrent use, and do not retain the slice passed
// to Write after it returns.
type Copier func(ctx context.Context, stdout, stderr io.Writer) error

// Serve streams the copier's output to the client of req: over a WebSocket
// when req asks for an upgrade (wsstream.IsWebSocketRequest), otherwise as a
// chunked response (text/plain unless opts.ContentType says otherwise). It returns after the copier has returned and,
// for a WebSocket, after the connection has been closed. The copier is not
// called when the WebSocket handshake is refused.
//
// A stream that began always ends cleanly, also when the copier fails or the
// server shuts down: over plain HTTP with the error in the trailer
// TrailerStreamError, over a WebSocket with a close code and reason (see the
// package doc).
func Serve(w http.ResponseWriter, req *http.Request, opts Options, copier Copier) {
	opts = opts.withDefaults()
	if wsstream.IsWebSocketRequest(req) {
		serveWebSocket(w, req, opts, copier)
		return
	}
	serveHTTP(w, req, opts.ContentType, copier)
}

// errClosed is what writes return once the stream has ended on the client's side.
var errClosed = errors.New("stream: the connection to the client is closed")

// statusFor turns err into the Status sent to the client: an API status
// error keeps its code and reason; anything else is a 500 InternalError.
func statusFor(err error) metav1.Status {
	var st metav1.Status
	var apiStatus apierrors.APIStatus
	if errors.As(err, &apiStatus) {
		st = apiStatus.Status()
	} else {
		st = apierrors.NewInternalError(err).Status()
	}
	st.Kind, st.APIVersion = "Status", "v1"
	if st.Status == "" {
		st.Status = metav1.StatusFailure
	}
	if st.Code == 0 {
		st.Code = http.StatusInternalServerError
	}
	if st.Message == "" {
		st.Message = err.Error()
	}
	return st
}

// newStatus is a failure Status for an HTTP code of our own.
func newStatus(code int, message string) metav1.Status {
	reason := metav1.StatusReasonUnknown
	switch code {
	case http.StatusBadRequest:
		reason = metav1.StatusReasonBadRequest
	case http.StatusForbidden:
		reason = metav1.StatusReasonForbidden
	case http.StatusMethodNotAllowed:
		reason = metav1.StatusReasonMethodNotAllowed
	case http.StatusInternalServerError:
		reason = metav1.StatusReasonInternalError
	}
	return metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Code:     int32(code),
		Reason:   reason,
		Message:  message,
	}
}

// writeStatus answers with st as JSON; nothing must have been written yet.
func writeStatus(w http.ResponseWriter, st metav1.Status) {
	body, err := json.Marshal(st)
	if err != nil { // cannot happen for a Status
		body = []byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","code":500}`)
		st.Code = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(int(st.Code))
	_, _ = w.Write(append(body, '\n'))
}

// maxCloseReason is the most bytes a close frame's reason may hold (125 - 2
// for the code).
const maxCloseReason = 123

// closeReason makes msg a valid close reason: UTF-8, at most 123 bytes, cut
// on a character boundary.
func closeReason(msg string) string {
	msg = strings.ToValidUTF8(msg, "\uFFFD")
	if len(msg) <= maxCloseReason {
		return msg
	}
	cut := maxCloseReason
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut]
}
