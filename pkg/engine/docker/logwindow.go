package docker

import (
	"bytes"
	"context"
	"errors"
	"hash/fnv"
	"io"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

// timeWindow is a log request's time range in the terms Docker understands.
// Docker's Go client cannot send a time before 1970 (it reads a leading "-"
// as a date), and a client's sinceSeconds may be any int64, so the window is
// normalised here: a since before 1970 is no since at all (the whole log, as
// kubelet does for pods), an until before 1970 leaves nothing.
type timeWindow struct {
	since, until time.Time // zero: unbounded
	// empty is set when no log line can be in the window.
	empty bool
}

func windowOf(o *containers.ContainerLogOptions, now time.Time) timeWindow {
	var w timeWindow
	switch {
	case o.SinceTime != nil:
		w.since = o.SinceTime.Time
	case o.SinceSeconds != nil:
		// Whole seconds in int64: a huge sinceSeconds cannot overflow a
		// time.Duration and land in the future.
		if secs := now.Unix() - *o.SinceSeconds; secs > 0 {
			w.since = time.Unix(secs, int64(now.Nanosecond()))
		}
	}
	if !w.since.IsZero() && !w.since.After(time.Unix(0, 0)) {
		w.since = time.Time{}
	}
	if o.UntilTime != nil {
		w.until = o.UntilTime.Time
		if !w.until.After(time.Unix(0, 0)) {
			w.empty = true
		}
	}
	if !w.since.IsZero() && !w.until.IsZero() && w.since.After(w.until) {
		w.empty = true
	}
	return w
}

func unixOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return unixString(t)
}

// Windowed tails.
//
// Docker's tail counts the last N messages of the log file before any other
// filter: over both streams (stream=Stdout with tailLines=10 gives the
// stdout lines among the last 10 of either stream), and before untilTime
// (tailLines with untilTime gives the last N lines of the log, then drops
// those after untilTime, usually all of them). The last N lines that match
// all filters need a tail of our own, and its memory must not depend on N or
// on the log's size, so no line is kept:
//
//  1. Count: read Docker's last k messages of both streams (k = 2N at first,
//     doubled until it holds N matching messages or the whole log) and count
//     the matching ones, c. Remember the first message of that window (its
//     stream, timestamp and a hash of its bytes) and the newest timestamp.
//  2. Serve: read the window again and write its matching messages after
//     skipping the first c-N. The second read starts at the remembered first
//     message, found by its fingerprint, so lines appended between the two
//     reads do not shift it (a tail=k window would); it asks Docker for a
//     tail large enough to hold that message again, doubling if the log grew
//     past it meanwhile, and a since a second before it, so Docker skips the
//     rest of the file. Only the matching messages counted in step 1 are
//     written; anything appended later is left to the follow.
//  3. Follow (with follow=true): from just after the last message written.
//
// Each step holds one Docker message (at most 16 KiB, Docker's split size)
// and the batch of one read (maxBatch). The price is reading the window twice,
// and more reads when matching lines are rare: k grows geometrically, so the
// reads add up to at most about four times the window finally needed.

// windowStart fingerprints the first message of a counted window.
type windowStart struct {
	stderr bool
	ts     time.Time
	sum    uint64
}

// windowCount is what step 1 found.
type windowCount struct {
	k       int64 // Docker tail that holds the window; 0 for the whole log
	start   windowStart
	matches int64 // matching messages in the window
	total   int64 // messages in the window
}

// maxWindowRetries bounds how often a window is counted again when the log
// changed so much between the two reads (rotation) that the window's first
// message is gone.
const maxWindowRetries = 3

// wholeLogTail is the window size from which Docker is asked for the whole
// log ("all") instead: no log holds this many messages.
const wholeLogTail = 1 << 40

// errWindowServed stops the second read once the counted messages are out.
var errWindowServed = errors.New("window served")

// errWindowMoved reports that the window's first message was not found.
var errWindowMoved = errors.New("the log changed while it was read")

// useWindowedTail reports whether the options need a windowed tail: a
// positive tail that Docker would count before another filter. A TTY log has
// no message boundaries that survive Docker's timestamps, so it keeps
// Docker's own tail (and a stream filter is refused for it before this).
func useWindowedTail(tty bool, stream string, opts *containers.ContainerLogOptions) bool {
	return !tty && opts.TailLines != nil && *opts.TailLines > 0 &&
		(stream != containers.LogStreamAll || opts.UntilTime != nil)
}

// copyWindowedTail writes the last N matching messages, then follows when asked.
func (s *LogStream) copyWindowedTail(ctx context.Context) error {
	ctx = WithReadHooks(ctx, s.hooks)
	want := *s.opts.TailLines
	var last time.Time
	for attempt := 1; ; attempt++ {
		wc, err := s.countWindow(ctx, want)
		if err != nil {
			return err
		}
		if wc.matches == 0 {
			break
		}
		last, err = s.serveWindow(ctx, wc, want)
		if errors.Is(err, errWindowMoved) && attempt < maxWindowRetries {
			continue
		}
		if errors.Is(err, errWindowMoved) {
			return engine.Errorf(engine.Unavailable, "the log of container %s changed while it was read "+
				"(rotated?); try again", s.id)
		}
		if err != nil {
			return err
		}
		break
	}
	if !s.follow {
		return nil
	}
	since := s.window.since
	if !last.IsZero() {
		since = last.Add(time.Nanosecond)
	}
	o := s.dockerOptions(true, "all", unixOrEmpty(since), s.opts.Timestamps)
	body, err := s.l.d.cli.ContainerLogs(ctx, s.id, o)
	if err != nil {
		return s.l.logError(s.id, err)
	}
	if !s.setBody(body) {
		return nil
	}
	return s.copyBody()
}

// windowOptions asks Docker for the last k messages of both streams with
// timestamps, from the request's since; until is applied by the caller, as
// Docker would apply it after the tail.
func (s *LogStream) windowOptions(k int64, since time.Time) container.LogsOptions {
	tail := "all"
	if k > 0 {
		tail = strconv.FormatInt(k, 10)
	}
	return container.LogsOptions{
		ShowStdout: true, ShowStderr: true,
		Tail: tail, Since: unixOrEmpty(since), Timestamps: true,
	}
}

// countWindow is step 1: the smallest doubling window holding want matching
// messages, or the whole log.
func (s *LogStream) countWindow(ctx context.Context, want int64) (windowCount, error) {
	k := int64(256)
	if want <= wholeLogTail/2 {
		k = max(k, 2*want)
	}
	for {
		if k >= wholeLogTail {
			k = 0
		}
		wc := windowCount{k: k}
		body, err := s.l.d.cli.ContainerLogs(ctx, s.id, s.windowOptions(k, s.window.since))
		if err != nil {
			return wc, s.l.logError(s.id, err)
		}
		if !s.setBody(body) {
			return wc, ctx.Err()
		}
		m := &messageReader{
			window: s.window,
			stream: s.stream,
			each: func(msg message) error {
				if wc.total == 0 {
					wc.start = msg.fingerprint()
				}
				wc.total++
				if msg.matches {
					wc.matches++
				}
				return nil
			},
		}
		if err := m.read(engineReader{body}); err != nil {
			return wc, err
		}
		if k == 0 || wc.matches >= want || wc.total < k {
			return wc, nil
		}
		k *= 2
	}
}

// serveWindow is step 2. It returns the timestamp of the last message written.
func (s *LogStream) serveWindow(ctx context.Context, wc windowCount, want int64) (time.Time, error) {
	since := wc.start.ts.Add(-time.Second)
	if since.Before(s.window.since) {
		since = s.window.since
	}
	skip := max(wc.matches-want, 0)
	for k := wc.k; ; k *= 2 {
		if k >= wholeLogTail {
			k = 0
		}
		body, err := s.l.d.cli.ContainerLogs(ctx, s.id, s.windowOptions(k, since))
		if err != nil {
			return time.Time{}, s.l.logError(s.id, err)
		}
		if !s.setBody(body) {
			return time.Time{}, ctx.Err()
		}
		b := s.batch
		var (
			found bool
			seen  int64 // matching messages since the window's start
			last  time.Time
		)
		m := &messageReader{
			window:    s.window,
			stream:    s.stream,
			keepStamp: s.opts.Timestamps,
			each: func(msg message) error {
				if !found {
					if msg.fingerprint() != wc.start {
						return nil
					}
					found = true
				}
				if !msg.matches {
					return nil
				}
				seen++
				if seen <= skip {
					return nil
				}
				if _, err := b.writer(msg.stderr).Write(msg.line); err != nil {
					return err
				}
				last = msg.ts
				if seen == wc.matches {
					return errWindowServed
				}
				return nil
			},
		}
		var src io.Reader = engineReader{body}
		if !s.hooks.Attached() {
			// Pass each read's messages on before the next read, which may block.
			src = flushingReader{src, b}
		}
		err = m.read(src)
		if err == nil || errors.Is(err, errWindowServed) {
			err = b.flush()
		}
		switch {
		case err != nil:
			return last, err
		case found:
			return last, nil
		case k == 0:
			return last, errWindowMoved
		}
	}
}

// message is one Docker log message read with timestamps.
type message struct {
	stderr bool
	ts     time.Time
	raw    []byte // timestamp, space, content
	line   []byte // what a client sees: raw, or the content alone
	// matches: from the wanted stream, and not after until.
	matches bool
}

func (m message) fingerprint() windowStart {
	h := fnv.New64a()
	_, _ = h.Write(m.raw)
	return windowStart{stderr: m.stderr, ts: m.ts, sum: h.Sum64()}
}

// messageReader demultiplexes a log read with timestamps into messages.
// stdcopy passes each Docker frame, one message, in one Write.
type messageReader struct {
	window    timeWindow
	stream    string
	keepStamp bool
	each      func(message) error
}

func (r *messageReader) read(body io.Reader) error {
	_, err := stdcopy.StdCopy(messageWriter{r, false}, messageWriter{r, true}, body)
	return err
}

type messageWriter struct {
	r      *messageReader
	stderr bool
}

func (w messageWriter) Write(p []byte) (int, error) {
	r := w.r
	msg := message{stderr: w.stderr, raw: p, line: p}
	stamp, rest, ok := bytes.Cut(p, []byte(" "))
	if ok {
		if t, err := time.Parse(time.RFC3339Nano, string(stamp)); err == nil {
			msg.ts = t
			if !r.keepStamp {
				msg.line = rest
			}
		}
	}
	msg.matches = (r.stream == containers.LogStreamAll ||
		(r.stream == containers.LogStreamStderr) == w.stderr) &&
		(r.window.until.IsZero() || !msg.ts.After(r.window.until))
	if err := r.each(msg); err != nil {
		return 0, err
	}
	return len(p), nil
}
