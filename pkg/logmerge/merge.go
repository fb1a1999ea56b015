package logmerge

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"io"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rancher-sandbox/containers-apiserver/pkg/apis/containers"
	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

// Memory.
//
// Each container's log is copied by its own goroutine (a source), which
// hands the engine's writes (at most maxChunk bytes each: the Docker engine
// batches up to 32 KiB) to the merge in chunks, over a channel of
// sourceQueue chunks; a source whose chunks are not taken waits, and so does
// its engine stream. A merge therefore holds at most about
// (sourceQueue+2) × maxChunk per container, plus one output batch
// (maxOutput), whatever the logs' sizes; and it merges at most MaxContainers
// containers at once.
const (
	// MaxContainers bounds the containers of one merged log.
	MaxContainers = 256
	// sourceQueue is the chunks a source may have waiting.
	sourceQueue = 2
	// maxChunk is the largest chunk kept whole; a longer write (not made by
	// our engines) is split.
	maxChunk = 64 << 10
	// maxOutput is what is batched before it is written to the client.
	maxOutput = 32 << 10
)

// Container is one container of a merged log.
type Container struct {
	ID   string
	Name string // its Docker name, the line prefix
}

// Merge writes the merged logs of containers. Options are the request's:
// each container's log is opened with them (tailLines per container), with
// timestamps always asked of the engine (they order the lines, and are cut
// off again unless the client asked for them).
type Merge struct {
	Logs    engine.Logs
	Options *containers.ContainerNamespaceLogOptions
	// Width pads names to one width (compose style); 0 pads nothing.
	Width int

	out     *output
	sources sync.WaitGroup // every source goroutine; Ordered and Follow wait for them
	started time.Time      // when Follow began: sinceSeconds counts from it
}

// chunk is one engine write of a source (or, with ev set, a change between
// two runs).
type chunk struct {
	src    *source
	stderr bool
	data   []byte
	ev     *engine.RunChange
	// end: the source's last chunk (follow), with err its failure.
	end bool
	err error
}

// source is one container's log being copied.
type source struct {
	c      Container
	prefix []byte
	ch     chan chunk // ordered merge: this source's own queue; closed at its end
	err    error      // set before ch is closed (ordered merge)
	cancel context.CancelFunc
}

func (m *Merge) prefix(name string) []byte {
	p := []byte(name)
	for len(p) < m.Width {
		p = append(p, ' ')
	}
	return append(p, " | "...)
}

// logOptions are a container's log options: the request's, with
// timestamps. A container that joins a follow later gets its whole log
// (within since), not a tail: all of it is new; one that comes back gets
// what follows its last line written (resume).
func (m *Merge) logOptions(late bool, resume time.Time) *containers.ContainerLogOptions {
	o := m.Options.LogOptions()
	o.Timestamps = true
	o.LimitBytes = nil // counted over the whole merge
	if late {
		o.TailLines = nil
		if o.SinceSeconds != nil {
			// Seconds before the request, not before the join; in whole
			// seconds, so that a huge sinceSeconds cannot overflow (before
			// 1970 is the whole log, as for one container).
			secs := m.started.Unix() - *o.SinceSeconds
			o.SinceSeconds = nil
			if secs > 0 {
				t := metav1.NewTime(time.Unix(secs, int64(m.started.Nanosecond())))
				o.SinceTime = &t
			}
		}
	}
	if !resume.IsZero() {
		t := metav1.NewTime(resume.Add(time.Nanosecond))
		o.SinceTime, o.SinceSeconds, o.TailLines = &t, nil, nil
	}
	return o
}

// copySource opens and copies one container's log into send. A container
// gone meanwhile, or whose log cannot be read with these options (a TTY
// container asked for one stream), gives no lines and no error.
func (m *Merge) copySource(ctx context.Context, s *source, opts *containers.ContainerLogOptions, send func(chunk) error) error {
	logs, err := m.Logs.OpenLogs(ctx, s.c.ID, opts)
	switch engine.KindOf(err) {
	case engine.NotFound, engine.InvalidArgument, engine.NotImplemented:
		return nil
	}
	if err != nil {
		return err
	}
	defer func() { _ = logs.Close() }()
	stop := context.AfterFunc(ctx, func() { _ = logs.Close() })
	defer stop()
	if rn, ok := logs.(engine.RunNotifier); ok && opts.FollowRestarts {
		rn.OnRunChange(func(c engine.RunChange) error { return send(chunk{src: s, ev: &c}) })
	}
	err = logs.Copy(ctx, chunkWriter{s, false, send}, chunkWriter{s, true, send})
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// chunkWriter hands each write of the engine to the merge, copied.
type chunkWriter struct {
	s      *source
	stderr bool
	send   func(chunk) error
}

func (w chunkWriter) Write(p []byte) (int, error) {
	for off := 0; off < len(p); off += maxChunk {
		part := p[off:min(off+maxChunk, len(p))]
		if err := w.send(chunk{src: w.s, stderr: w.stderr, data: bytes.Clone(part)}); err != nil {
			return off, err
		}
	}
	return len(p), nil
}

// Ordered: the lines of all containers in timestamp order.

// Ordered writes the logs of cs, which must end (no follow), in timestamp
// order: a k-way merge that holds one chunk per container.
func (m *Merge) Ordered(ctx context.Context, cs []Container, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer m.sources.Wait()
	defer cancel()
	m.out = newOutput(m.Options, stdout, stderr)
	h := &lineHeap{}
	for _, c := range cs {
		s := &source{c: c, prefix: m.prefix(c.Name), ch: make(chan chunk, sourceQueue)}
		m.sources.Add(1)
		go func() { // ends when its log ends or ctx does
			defer m.sources.Done()
			defer close(s.ch)
			s.err = m.copySource(ctx, s, m.logOptions(false, time.Time{}), func(c chunk) error {
				select {
				case s.ch <- c:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
		}()
		h.sources = append(h.sources, &cursor{src: s})
	}
	// Every source's first line, then always the oldest.
	live := h.sources
	h.sources = nil
	for _, cur := range live {
		ok, err := cur.advance()
		if err != nil {
			return err
		}
		if ok {
			heap.Push(h, cur)
		}
	}
	for h.Len() > 0 {
		cur := h.sources[0]
		if err := m.out.line(cur.src.prefix, cur.ln); err != nil {
			return err
		}
		ok, err := cur.advance()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	return m.out.flush()
}

// cursor walks one source's lines.
type cursor struct {
	src   *source
	ln    line
	chunk chunk
	rest  []byte // the chunk's lines not taken yet
	seq   int    // position among the sources, to order equal timestamps
}

// advance moves to the next line; false at the source's end.
func (c *cursor) advance() (bool, error) {
	for len(c.rest) == 0 {
		ch, ok := <-c.src.ch
		if !ok {
			return false, c.src.err
		}
		c.chunk, c.rest = ch, ch.data
	}
	c.ln, c.rest = nextLine(c.rest, c.chunk.stderr, c.ln.ts)
	return true, nil
}

// lineHeap orders cursors by their line's timestamp.
type lineHeap struct{ sources []*cursor }

func (h *lineHeap) Len() int { return len(h.sources) }
func (h *lineHeap) Less(i, j int) bool {
	a, b := h.sources[i], h.sources[j]
	if !a.ln.ts.Equal(b.ln.ts) {
		return a.ln.ts.Before(b.ln.ts)
	}
	return a.seq < b.seq
}
func (h *lineHeap) Swap(i, j int) { h.sources[i], h.sources[j] = h.sources[j], h.sources[i] }
func (h *lineHeap) Push(x any) {
	c := x.(*cursor)
	c.seq = len(h.sources)
	h.sources = append(h.sources, c)
}
func (h *lineHeap) Pop() any {
	n := len(h.sources)
	c := h.sources[n-1]
	h.sources = h.sources[:n-1]
	return c
}

// line is one log line with its timestamp.
type line struct {
	ts     time.Time
	stderr bool
	stamp  []byte // the timestamp as the engine wrote it, with its space; nil when none
	text   []byte // the rest, ending in a newline
}

// nextLine cuts the first line off p. A line that does not start with a
// timestamp (the rest of a TTY message that held several lines) takes the
// previous line's. A piece without a newline (a TTY message, or a line that
// Docker split at 16 KiB) is ended with one: in a merged log another
// container's line may come next.
func nextLine(p []byte, stderr bool, prev time.Time) (line, []byte) {
	l := line{ts: prev, stderr: stderr}
	end := bytes.IndexByte(p, '\n')
	var rest []byte
	if end < 0 {
		end, rest = len(p), nil
	} else {
		end, rest = end+1, p[end+1:]
	}
	text := p[:end]
	if stamp, after, ok := bytes.Cut(text, []byte(" ")); ok && len(stamp) >= 20 && len(stamp) <= 35 {
		if ts, err := time.Parse(time.RFC3339Nano, string(stamp)); err == nil {
			l.ts, l.stamp, text = ts, text[:len(stamp)+1], after
		}
	}
	if len(text) == 0 || text[len(text)-1] != '\n' {
		text = append(text[:len(text):len(text)], '\n')
	}
	l.text = text
	return l, rest
}

// output batches prefixed lines for the client: per stream, in order, and
// limited to limitBytes in all.
type output struct {
	stdout, stderr io.Writer
	timestamps     bool
	limit          int64 // bytes still allowed; -1 for no limit
	buf            []byte
	bufStderr      bool
}

var errLimit = errors.New("limitBytes reached")

func newOutput(o *containers.ContainerNamespaceLogOptions, stdout, stderr io.Writer) *output {
	out := &output{stdout: stdout, stderr: stderr, timestamps: o.Timestamps, limit: -1}
	if o.LimitBytes != nil {
		out.limit = *o.LimitBytes
	}
	return out
}

// line adds one line after prefix.
func (o *output) line(prefix []byte, l line) error {
	if len(o.buf) > 0 && l.stderr != o.bufStderr {
		if err := o.flush(); err != nil {
			return err
		}
	}
	o.bufStderr = l.stderr
	o.buf = append(o.buf, prefix...)
	if o.timestamps && l.stamp != nil {
		o.buf = append(o.buf, l.stamp...)
	}
	o.buf = append(o.buf, l.text...)
	if len(o.buf) >= maxOutput {
		return o.flush()
	}
	return nil
}

// flush writes the batch, cut at limitBytes.
func (o *output) flush() error {
	if len(o.buf) == 0 {
		return nil
	}
	p := o.buf
	o.buf = o.buf[:0]
	limited := false
	if o.limit >= 0 && int64(len(p)) >= o.limit {
		p, limited = p[:o.limit], true
	}
	w := o.stdout
	if o.bufStderr {
		w = o.stderr
	}
	if len(p) > 0 {
		if _, err := w.Write(p); err != nil {
			return err
		}
	}
	if o.limit >= 0 {
		o.limit -= int64(len(p))
	}
	if limited {
		return errLimit
	}
	return nil
}

// IsLimit reports whether err is the end of a merge at limitBytes, which is
// no failure.
func IsLimit(err error) bool { return errors.Is(err, errLimit) }
