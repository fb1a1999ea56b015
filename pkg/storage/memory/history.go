package memory

import (
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// event is one committed change. Immutable once added to the history.
type event struct {
	typ  watch.EventType // Added, Modified or Deleted
	key  string
	rv   uint64
	obj  runtime.Object // state after the change (nil for Deleted)
	prev runtime.Object // state before the change (nil for Added)
	at   time.Time      // commit time, for retention
}

// history is the ring of recent events in increasing rv order. It has no
// lock of its own: Store.mu guards it.
type history struct {
	events []*event // live events are events[start:]
	start  int
}

func (h *history) len() int { return len(h.events) - h.start }

func (h *history) first() *event { return h.events[h.start] }

func (h *history) add(e *event) { h.events = append(h.events, e) }

func (h *history) dropFirst() {
	h.events[h.start] = nil // let the objects go
	h.start++
	h.compact()
}

// dropThrough removes every event with rv <= rv.
func (h *history) dropThrough(rv uint64) {
	for h.len() > 0 && h.first().rv <= rv {
		h.events[h.start] = nil
		h.start++
	}
	h.compact()
}

// compact reclaims the dropped prefix once it is the larger half.
func (h *history) compact() {
	if h.start >= 1024 && h.start >= len(h.events)/2 {
		n := copy(h.events, h.events[h.start:])
		clear(h.events[n:])
		h.events = h.events[:n]
		h.start = 0
	}
}

// live returns the retained events (callers must not keep it past the lock).
func (h *history) live() []*event { return h.events[h.start:] }

// after returns up to limit events with rv > rv, copied so that it can be
// used after the lock is released.
func (h *history) after(rv uint64, limit int) []*event {
	live := h.live()
	i := sort.Search(len(live), func(i int) bool { return live[i].rv > rv })
	n := min(len(live)-i, limit)
	if n <= 0 {
		return nil
	}
	out := make([]*event, n)
	copy(out, live[i:i+n])
	return out
}

// keyedObject is one item of a snapshot.
type keyedObject struct {
	key string
	obj runtime.Object // immutable stored object; deep copy before handing out
}

// snapshotLocked returns, sorted by key, the objects visible at rv under
// prefix (recursive: keys with that prefix and >= from; otherwise exactly the
// key prefix). rv must be in [s.oldestRV, s.rv]. Caller holds s.mu (read).
func (s *Store) snapshotLocked(prefix string, recursive bool, from string, rv uint64) []keyedObject {
	var out []keyedObject
	if !recursive {
		if e := s.items[prefix]; e != nil {
			out = append(out, keyedObject{key: prefix, obj: e.obj})
		}
	} else {
		if from < prefix {
			from = prefix
		}
		for i := sort.SearchStrings(s.keys, from); i < len(s.keys) && strings.HasPrefix(s.keys[i], prefix); i++ {
			k := s.keys[i]
			out = append(out, keyedObject{key: k, obj: s.items[k].obj})
		}
	}
	if rv >= s.rv {
		return out
	}

	// Rebuild the past: undo, newest first, every event after rv.
	inRange := func(k string) bool {
		if !recursive {
			return k == prefix
		}
		return k >= from && strings.HasPrefix(k, prefix)
	}
	state := make(map[string]runtime.Object, len(out))
	for _, item := range out {
		state[item.key] = item.obj
	}
	live := s.hist.live()
	for i := len(live) - 1; i >= 0 && live[i].rv > rv; i-- {
		e := live[i]
		if !inRange(e.key) {
			continue
		}
		if e.typ == watch.Added {
			delete(state, e.key)
		} else {
			state[e.key] = e.prev
		}
	}
	out = out[:0]
	for k, obj := range state {
		out = append(out, keyedObject{key: k, obj: obj})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}
