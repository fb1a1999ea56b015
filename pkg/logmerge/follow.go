package logmerge

import (
	"context"
	"io"
	"time"

	"k8s.io/klog/v2"
)

// Change is news of a matched container during a follow.
type Change struct {
	Container Container
	Running   bool // it runs (it may have just started)
	Gone      bool // it was removed, or no longer matches
}

// followQueue is the chunks all sources of a follow may have waiting
// together.
const followQueue = 16

// Follow writes the logs of cs as they come (each container's lines in
// order, the containers interleaved), and follows changes: a running
// container not yet followed joins (a new one with its whole log, one that
// comes back from just after its last line), a removed one leaves. It ends
// when ctx ends, when changes is closed (nothing more can join) and the last
// source has ended, or at limitBytes.
func (m *Merge) Follow(ctx context.Context, cs []Container, changes <-chan Change, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer m.sources.Wait()
	defer cancel()
	m.out = newOutput(m.Options, stdout, stderr)
	m.started = time.Now()
	shared := make(chan chunk, followQueue)
	active := map[string]*source{}
	last := map[string]time.Time{} // the last line's timestamp per container written
	send := func(c chunk) error {
		select {
		case shared <- c:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	start := func(c Container, late bool) {
		if len(active) >= MaxContainers {
			klog.FromContext(ctx).Info("Merged log: not following a container, too many", "container", c.ID, "max", MaxContainers)
			return
		}
		sctx, scancel := context.WithCancel(ctx)
		s := &source{c: c, prefix: m.prefix(c.Name), cancel: scancel}
		active[c.ID] = s
		opts := m.logOptions(late, last[c.ID])
		m.sources.Add(1)
		go func() { // ends when its log ends, at its cancel, or with ctx
			defer m.sources.Done()
			defer scancel()
			err := m.copySource(sctx, s, opts, send)
			_ = send(chunk{src: s, end: true, err: err})
		}()
	}
	for _, c := range cs {
		start(c, false)
	}
	for {
		if changes == nil && len(active) == 0 {
			return m.out.flush()
		}
		select {
		case <-ctx.Done():
			return nil
		case ch, ok := <-changes:
			if !ok {
				changes = nil
				continue
			}
			id := ch.Container.ID
			switch s := active[id]; {
			case ch.Gone:
				if s != nil {
					s.cancel()
				}
			case ch.Running && s == nil:
				start(ch.Container, true)
			}
		case c := <-shared:
			if err := m.write(c, active, last); err != nil {
				return err
			}
			if len(shared) == 0 {
				// Nothing else is waiting: pass the batch on now.
				if err := m.out.flush(); err != nil {
					return err
				}
			}
		}
	}
}

// write passes one chunk of a follow on.
func (m *Merge) write(c chunk, active map[string]*source, last map[string]time.Time) error {
	s := c.src
	switch {
	case c.end:
		// Its chunks were all ahead of this one: the source is done.
		if active[s.c.ID] == s {
			delete(active, s.c.ID)
		}
		return c.err
	case c.ev != nil:
		if err := m.out.flush(); err != nil {
			return err
		}
		return writeRunChange(m.out.stdout, s.prefix, *c.ev, s.c.ID, s.c.Name, m.Options.Timestamps)
	}
	rest := c.data
	var ln line
	for len(rest) > 0 {
		ln, rest = nextLine(rest, c.stderr, ln.ts)
		if err := m.out.line(s.prefix, ln); err != nil {
			return err
		}
		if !ln.ts.IsZero() {
			last[s.c.ID] = ln.ts
		}
	}
	return nil
}
