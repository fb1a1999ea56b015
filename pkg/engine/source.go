package engine

import (
	"context"
	"slices"
	"time"
)

// Change is one item of a source's change stream.
type Change struct {
	// Key names the one mirror that may have changed; empty when All is set.
	Key string
	// All: anything may have changed (the engine's event does not name the
	// object reliably); the whole listing must be reconciled.
	All bool
	// Action is the engine's word for what happened (for metrics and logs).
	Action string
	// Received is when the change was read from the engine.
	Received time.Time
}

// Desired computes the object a mirror should hold from the engine's state,
// given the mirror stored now (the zero value, e.g. nil, when there is none):
// what users own (annotations, an action's outcome) and when conditions last
// changed come from prev. It must be pure: the same state and prev give
// semantically equal objects, so an unchanged engine writes nothing.
type Desired[O any] func(prev O, now time.Time) O

// Listing is a source's complete view at one moment: the keys of every object
// the engine has, and how to get each one's desired object.
type Listing[O any] struct {
	Keys []string
	// Get returns key's desired object, found false when the engine no longer
	// has it. A source whose listing carries the objects answers from it; one
	// whose listing carries only keys asks the engine (an inspect), so Get may
	// be slow and may fail for one key without failing the listing.
	Get func(ctx context.Context, key string) (d Desired[O], found bool, err error)
}

// Source is what the mirror reconciler (pkg/mirror) reads of one kind of
// engine object. Its methods are safe for concurrent use.
type Source[O any] interface {
	// Resource is the API resource the source fills ("containers").
	Resource() string
	// Checkpoint asks the engine for its clock, from which Watch replays
	// changes. An engine that does not answer gives an Unavailable error.
	Checkpoint(ctx context.Context) (time.Time, error)
	// Watch streams the changes since the checkpoint until ctx ends or the
	// stream fails. The error channel receives the failure (or nothing and is
	// closed when ctx ends); it is closed once the source's goroutine ended.
	Watch(ctx context.Context, since time.Time) (<-chan Change, <-chan error)
	// List returns the complete listing.
	List(ctx context.Context) (Listing[O], error)
	// Get returns one key's desired object (see Listing.Get), for a Change
	// that names a key.
	Get(ctx context.Context, key string) (d Desired[O], found bool, err error)
	// Ping tells whether the engine answers.
	Ping(ctx context.Context) error
}

// ListingOf is a listing that carries its objects: each Get answers from objs
// with a copy (made by deepCopy), whatever the stored mirror holds.
func ListingOf[O any](objs map[string]O, deepCopy func(O) O) Listing[O] {
	keys := make([]string, 0, len(objs))
	for k := range objs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return Listing[O]{
		Keys: keys,
		Get: func(_ context.Context, key string) (Desired[O], bool, error) {
			o, ok := objs[key]
			if !ok {
				return nil, false, nil
			}
			return func(O, time.Time) O { return deepCopy(o) }, true, nil
		},
	}
}
