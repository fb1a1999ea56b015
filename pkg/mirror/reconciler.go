// Package mirror keeps the registry equal to a container engine: one
// Reconciler per resource (containers, images, volumes) reads an
// engine.Source and writes the internal API objects straight into the
// resource's storage.Interface, in one Kubernetes namespace. It is the only
// writer of mirrors, and it knows nothing of any particular engine.
//
// How a Reconciler stays equal to the engine:
//
//  1. Connect: Checkpoint, the engine's own clock minus a second of margin
//     (no host/VM clock skew).
//  2. Watch the changes since the checkpoint. The engine replays what
//     happened after it, so nothing between the checkpoint and the end of the
//     sync is lost. One reader goroutine only queues what changed and never
//     blocks, so the engine never drops events for a slow subscriber.
//  3. Full sync: the engine's listing and the stored mirrors; for each key,
//     the desired object is computed and the mirror created, updated (only
//     when the result differs) or deleted.
//  4. Ready. Then changes are applied as they come, and every ResyncInterval
//     the engine is pinged and a full sync runs again.
//  5. On a lost stream or a failed sync: not ready (with the reason), and
//     reconnect after a capped, jittered, exponential backoff; while the
//     engine does not answer at all, it is pinged every probeInterval during
//     the backoff and reconnected to as soon as it answers.
//
// Two modes, for two kinds of sources:
//
//   - Keyed (containers): a change names one key; workers (Parallelism of
//     them) get its desired object (an inspect) and write it, a key at a time,
//     in order per key, retrying a failed key with a per-key backoff. One
//     object that cannot be mirrored never fails a sync nor makes the
//     Reconciler unready. A periodic resync that had to repair a mirror that
//     no received or pending change explains marks the stream suspect: the
//     session subscribes again at once, staying ready.
//   - Listed (images, volumes): listings are small and events do not name
//     objects reliably, so any change marks the listing dirty and the session
//     goroutine reconciles the whole listing, under syncMu.
//
// Every read of an object's desired state and the store write that follows
// happen under that key's lock (Keyed) or under syncMu (Listed), and so does
// a removal through the API (Remove): the later read is always the later
// write, and a mirror is deleted exactly once (one DELETED).
package mirror

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/klog/v2"

	"github.com/rancher-sandbox/containers-apiserver/pkg/engine"
)

// Defaults of the zero fields of Options.
const (
	DefaultResyncInterval = 5 * time.Minute
	DefaultBackoffCap     = 30 * time.Second
	DefaultParallelism    = 8
)

const (
	initialBackoff = 500 * time.Millisecond
	callTimeout    = 30 * time.Second // Checkpoint, Ping, one Get
	listTimeout    = time.Minute      // List
	// removeTimeout bounds the engine call of one API delete, so a delete
	// never hangs (removing a large image can take a while).
	removeTimeout = 2 * time.Minute
	// checkpointMargin is subtracted from the engine's clock: replaying an
	// event twice costs one read, missing one costs a stale mirror.
	checkpointMargin = time.Second
	// defaultRepairGrace is how long a resync that repaired mirrors waits for
	// the events of those changes that were still on their way.
	defaultRepairGrace = time.Second
	// probeInterval is how often a Reconciler that could not reach the engine
	// asks it whether it is back while it waits out its backoff; probeTimeout
	// bounds one such Ping.
	probeInterval = 250 * time.Millisecond
	probeTimeout  = time.Second
)

// errStreamSuspect ends a session whose periodic resync repaired mirrors that
// no event explained: the event stream may be silently dead.
var errStreamSuspect = errors.New("the periodic resync repaired mirrors that no engine event explained")

// Object is an internal API object a Reconciler stores.
type Object interface {
	runtime.Object
	metav1.Object
}

// Store is where a Reconciler writes one resource's mirrors.
type Store struct {
	// Storage holds the internal objects.
	Storage storage.Interface
	// Namespace is the Kubernetes namespace of every mirror.
	Namespace string
	// KeyFunc gives the storage key of the mirror called name.
	KeyFunc func(name string) string
	// ListKey is the prefix under which every mirror of Namespace is listed.
	ListKey string
}

// Mode says how a source's changes are applied (see the package doc).
type Mode int

const (
	// Keyed: changes name keys; each is read and written on its own.
	Keyed Mode = iota
	// Listed: any change reconciles the whole listing.
	Listed
)

// Options configure a Reconciler. Source, Store, NewObject and NewList are
// required.
type Options[O Object] struct {
	Source    engine.Source[O]
	Store     Store
	NewObject func() O
	NewList   func() runtime.Object
	Mode      Mode
	// EngineName names the engine in messages ("docker engine at ...").
	EngineName string
	// ResyncInterval is the period of the full sync while connected.
	ResyncInterval time.Duration
	// BackoffCap bounds the delay between reconnect attempts and between the
	// retries of one key.
	BackoffCap time.Duration
	// Parallelism bounds the concurrent reads of a full sync and is the
	// number of change workers (Keyed).
	Parallelism int
	// OnSynced, if set, runs in the session goroutine after each connect's
	// first full sync; it must not block for long.
	OnSynced func(ctx context.Context)
}

// Reconciler keeps one resource's mirrors equal to an engine source. Create
// it with New and start it with Run.
type Reconciler[O Object] struct {
	// Set by New (repairGrace may be changed by this package's tests before
	// Run), read-only afterwards: safe from any goroutine.
	src         engine.Source[O]
	store       Store
	newObject   func() O
	newList     func() runtime.Object
	mode        Mode
	resource    string
	engineName  string
	resync      time.Duration
	backoffCap  time.Duration
	parallelism int
	onSynced    func(ctx context.Context)
	repairGrace time.Duration

	// locks serialises the read and write of one key (Keyed); it has its own lock.
	locks keyLocks
	// syncMu serialises every full sync and every removal (Listed).
	syncMu sync.Mutex

	// started makes a second Run a no-op.
	started atomic.Bool
	// progress is when the Run loop last moved on (a sync, a change applied,
	// a tick, a connection attempt), in Unix nanoseconds; see Alive.
	progress atomic.Int64

	// mu guards readyErr and every session's lost. Run's goroutines write
	// them; Ready reads readyErr from any goroutine (/readyz).
	mu       sync.Mutex
	readyErr error

	// countMu guards mirrored: the keys whose mirror this Reconciler has
	// created or found in the store, and not deleted or found missing since.
	// It changes right after the store write (under the key's lock), and the
	// objects gauge is set from its size under countMu, so the gauge never
	// drifts.
	countMu  sync.Mutex
	mirrored map[string]struct{}
}

// New checks opts, fills in the defaults and returns a Reconciler that is not
// ready until Run has completed its first full sync.
func New[O Object](opts Options[O]) (*Reconciler[O], error) {
	switch {
	case opts.Source == nil:
		return nil, errors.New("mirror: Options.Source is required")
	case opts.Store.Storage == nil || opts.Store.KeyFunc == nil || opts.Store.ListKey == "":
		return nil, errors.New("mirror: Options.Store needs Storage, KeyFunc and ListKey")
	case opts.NewObject == nil || opts.NewList == nil:
		return nil, errors.New("mirror: Options.NewObject and NewList are required")
	}
	if opts.ResyncInterval <= 0 {
		opts.ResyncInterval = DefaultResyncInterval
	}
	if opts.BackoffCap <= 0 {
		opts.BackoffCap = DefaultBackoffCap
	}
	if opts.Parallelism <= 0 {
		opts.Parallelism = DefaultParallelism
	}
	if opts.EngineName == "" {
		opts.EngineName = "the container engine"
	}
	registerMetrics()
	r := &Reconciler[O]{
		src: opts.Source, store: opts.Store, newObject: opts.NewObject, newList: opts.NewList,
		mode: opts.Mode, resource: opts.Source.Resource(), engineName: opts.EngineName,
		resync: opts.ResyncInterval, backoffCap: opts.BackoffCap, parallelism: opts.Parallelism,
		onSynced: opts.OnSynced, repairGrace: defaultRepairGrace,
		readyErr: fmt.Errorf("initial sync of %s with %s not finished", opts.Source.Resource(), opts.EngineName),
		mirrored: map[string]struct{}{},
	}
	r.progress.Store(time.Now().UnixNano())
	return r, nil
}

// Resource is the resource the Reconciler fills.
func (r *Reconciler[O]) Resource() string { return r.resource }

// Ready returns nil when the mirrors equal the engine as of the last full
// sync and the change stream is connected; otherwise an error saying why.
// Objects that could not be mirrored (object_errors_total) do not make it
// unready. It is safe for concurrent use.
func (r *Reconciler[O]) Ready() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.readyErr
}

// Alive returns an error when Run has not moved on for longer than stale: a
// wedged loop (an engine or store call that never returns). Run moves on at
// least every ResyncInterval while connected and at every reconnect attempt
// (at most BackoffCap apart) while not. Before Run it is nil.
func (r *Reconciler[O]) Alive(stale time.Duration) error {
	if !r.started.Load() {
		return nil
	}
	if since := time.Since(time.Unix(0, r.progress.Load())); since > stale {
		return fmt.Errorf("the %s mirror loop has not moved on for %s", r.resource, since.Round(time.Second))
	}
	return nil
}

// ResyncInterval is the period of the full sync while connected.
func (r *Reconciler[O]) ResyncInterval() time.Duration { return r.resync }

func (r *Reconciler[O]) moved() { r.progress.Store(time.Now().UnixNano()) }

func (r *Reconciler[O]) setReady(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.readyErr = err
}

// session is one connection to the engine: its change queue (Keyed) and
// what its change reader has seen.
type session struct {
	q *keyQueue // Keyed; has its own lock
	// dirty has one slot: a listing to reconcile (Listed, or a Change with All).
	dirty chan struct{}
	// lost is guarded by Reconciler.mu, so "the sync is done" and "the stream
	// is lost" cannot overwrite each other.
	lost bool

	// seenMu guards seen: the keys the reader received a change for since the
	// current periodic resync began (reset by it). A repair of one of them is
	// explained by the stream.
	seenMu sync.Mutex
	seen   map[string]struct{}
}

func (s *session) markSeen(key string) {
	s.seenMu.Lock()
	defer s.seenMu.Unlock()
	s.seen[key] = struct{}{}
}

func (s *session) resetSeen() {
	s.seenMu.Lock()
	defer s.seenMu.Unlock()
	s.seen = map[string]struct{}{}
}

func (s *session) wasSeen(key string) bool {
	s.seenMu.Lock()
	defer s.seenMu.Unlock()
	_, ok := s.seen[key]
	return ok
}

// markSynced makes the Reconciler ready after a successful full sync, unless
// the session's stream is already lost (then it returns false).
func (r *Reconciler[O]) markSynced(s *session) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.lost {
		return false
	}
	r.readyErr = nil
	return true
}

// markLost records that the session's stream failed: not ready at once.
func (r *Reconciler[O]) markLost(s *session, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s.lost = true
	r.readyErr = err
}

// Run mirrors the engine until ctx is done and returns once every goroutine
// it started has ended (change reader, workers, sync goroutines, retry
// timers, and the source's stream goroutine), so a caller that waits for Run
// knows the Reconciler no longer writes to the store. Call it once; a second
// call returns at once.
//
// While the engine is unreachable the mirrors are KEPT as they were last seen
// (stale, not deleted): clients tell "engine unreachable" from "no objects"
// by Ready (/readyz). The next successful connect resyncs them; an unchanged
// object sees no write at all.
func (r *Reconciler[O]) Run(ctx context.Context) {
	logger := klog.FromContext(ctx).WithName("mirror").WithValues("resource", r.resource)
	if !r.started.CompareAndSwap(false, true) {
		logger.Error(nil, "Run called twice; ignoring the second call")
		return
	}
	r.moved()
	ctx = klog.NewContext(ctx, logger)
	defer r.setReady(fmt.Errorf("the %s mirror stopped", r.resource))

	attempt := 0
	for {
		synced, err := r.session(ctx)
		r.moved()
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errStreamSuspect) {
			// The resync has just made the mirrors equal to the engine, so the
			// Reconciler stays ready while it subscribes again.
			logger.Info("Engine event stream suspect; subscribing again", "reason", err)
			attempt = 0
			reconnectsTotal.WithLabelValues(r.resource).Inc()
			continue
		}
		r.setReady(err)
		if synced {
			attempt = 0 // the connection worked for a while: start the backoff over
		}
		delay := backoffDelay(attempt, r.backoffCap)
		attempt++
		logger.Error(err, "Engine connection failed; mirrors kept as they are until the next sync", "retryIn", delay)
		var ping func(context.Context) error
		if engine.IsUnavailable(err) {
			ping = r.src.Ping
		}
		if !waitReconnect(ctx, delay, ping) {
			return
		}
		reconnectsTotal.WithLabelValues(r.resource).Inc()
	}
}

// waitReconnect waits delay before the next connection attempt, or less when
// ping is set (the last attempt could not reach the engine): it then pings
// the engine every probeInterval and returns as soon as it answers. It
// reports whether ctx is still live.
//
// Why: the backoff grows while the engine is away, up to BackoffCap (30 s).
// Without the probe, an engine back after an outage of a few seconds (a
// dockerd restart) waited up to the current delay for its mirrors: 8-16 s
// after five failed attempts. A Ping of an engine that is not there fails at
// once, so probing costs next to nothing. The backoff still spaces the
// attempts against an engine that answers but fails otherwise.
func waitReconnect(ctx context.Context, delay time.Duration, ping func(context.Context) error) bool {
	if ping == nil || delay <= probeInterval {
		return sleepCtx(ctx, delay)
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	tick := time.NewTicker(probeInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			return true
		case <-tick.C:
			pctx, cancel := context.WithTimeout(ctx, probeTimeout)
			err := ping(pctx)
			cancel()
			if err == nil {
				return ctx.Err() == nil
			}
		}
	}
}

// sleepCtx waits d, or less when ctx ends first; it reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// backoffDelay is the wait before reconnect attempt n (0-based): exponential
// from initialBackoff, capped, with "equal jitter" (half fixed, half random)
// so several servers do not hammer a restarting engine in step.
func backoffDelay(n int, limit time.Duration) time.Duration {
	d := limit
	if n < 30 {
		if e := initialBackoff << n; e > 0 && e < limit {
			d = e
		}
	}
	return d/2 + rand.N(d/2+1) //nolint:gosec // G404: jitter spreads reconnects; it needs no secrecy
}

// session is one connection: checkpoint, watch, full sync, then changes and
// periodic resyncs until an error or ctx. synced tells whether the initial
// full sync succeeded. Every goroutine it starts has ended when it returns.
func (r *Reconciler[O]) session(ctx context.Context) (synced bool, err error) {
	logger := klog.FromContext(ctx)
	ctx, cancel := context.WithCancel(ctx)
	s := &session{
		q:     newKeyQueue(func(n int) time.Duration { return backoffDelay(n, r.backoffCap) }),
		dirty: make(chan struct{}, 1),
		seen:  map[string]struct{}{},
	}
	var (
		wg   sync.WaitGroup // the change reader and the workers
		errs <-chan error   // the stream's; closed when the source's stream goroutine ends
	)
	defer func() {
		cancel()
		s.q.ShutDown() // wakes the workers; stops and waits for the retry timers
		wg.Wait()
		if errs != nil {
			for range errs { // wait for the source's stream goroutine to end
			}
		}
	}()

	cctx, ccancel := context.WithTimeout(ctx, callTimeout)
	since, err := r.src.Checkpoint(cctx)
	ccancel()
	if err != nil {
		return false, fmt.Errorf("%s unreachable: %w", r.engineName, err)
	}
	since = since.Add(-checkpointMargin)

	// Watch first, then list: the changes after the checkpoint are replayed.
	var changes <-chan engine.Change
	changes, errs = r.src.Watch(ctx, since)
	// lost receives the stream's error once; buffered so the reader never blocks.
	lost := make(chan error, 1)
	wg.Go(func() { r.readChanges(ctx, s, changes, errs, lost) })

	if _, err := r.fullSync(ctx, s, "connect"); err != nil {
		return false, fmt.Errorf("sync of %s with %s failed: %w", r.resource, r.engineName, err)
	}
	if !r.markSynced(s) {
		return false, fmt.Errorf("%s event stream lost: %w", r.engineName, <-lost)
	}
	r.moved()
	logger.Info("Mirrors synced; following the engine's events", "since", since)
	if r.onSynced != nil {
		r.onSynced(ctx)
	}

	if r.mode == Keyed {
		for range r.parallelism {
			wg.Go(func() { r.work(ctx, s) })
		}
	}

	ticker := time.NewTicker(r.resync)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case err := <-lost:
			return true, fmt.Errorf("%s event stream lost: %w", r.engineName, err)
		case <-s.dirty:
			if _, err := r.fullSync(ctx, s, "event"); err != nil {
				return true, fmt.Errorf("sync of %s with %s failed: %w", r.resource, r.engineName, err)
			}
			r.moved()
		case <-ticker.C:
			r.moved()
			// A Ping notices an engine that stopped answering even when idle.
			pctx, pcancel := context.WithTimeout(ctx, callTimeout)
			err := r.src.Ping(pctx)
			pcancel()
			if err != nil {
				return true, fmt.Errorf("%s unreachable: %w", r.engineName, err)
			}
			repairs, err := r.fullSync(ctx, s, "resync")
			if err != nil {
				return true, fmt.Errorf("periodic sync of %s with %s failed: %w", r.resource, r.engineName, err)
			}
			r.moved()
			if repairs > 0 {
				return true, fmt.Errorf("%w (%d %s)", errStreamSuspect, repairs, r.resource)
			}
		}
	}
}

// readChanges turns the change stream into dirty keys (Keyed) or a dirty
// listing, until the stream fails (its error goes to lost) or ctx ends. It
// never blocks on the queue.
func (r *Reconciler[O]) readChanges(ctx context.Context, s *session, changes <-chan engine.Change, errs <-chan error,
	lost chan<- error) {
	logger := klog.FromContext(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-changes:
			action, _, _ := strings.Cut(c.Action, ":")
			eventsTotal.WithLabelValues(r.resource, action).Inc()
			logger.V(4).Info("Engine change", "action", c.Action, "key", c.Key, "all", c.All)
			if r.mode == Listed || c.All || c.Key == "" {
				select {
				case s.dirty <- struct{}{}:
				default: // a full sync is already pending; it will see this change too
				}
				continue
			}
			received := c.Received
			if received.IsZero() {
				received = time.Now()
			}
			s.markSeen(c.Key)
			s.q.Add(c.Key, received)
		case err, ok := <-errs:
			if ctx.Err() != nil {
				return // our own cancellation, not a lost stream
			}
			if !ok || err == nil {
				err = errors.New("event stream closed")
			}
			// Not ready at once, not only when the session notices.
			r.markLost(s, fmt.Errorf("%s event stream lost: %w", r.engineName, err))
			lost <- err
			return
		}
	}
}

// work applies dirty keys until the queue is shut down (Keyed). A key that
// fails is retried with backoff.
func (r *Reconciler[O]) work(ctx context.Context, s *session) {
	for {
		key, received, ok := s.q.Get()
		if !ok {
			return
		}
		_, err := r.reconcileKey(ctx, key, r.src.Get)
		switch {
		case err == nil:
			s.q.Forget(key)
			if !received.IsZero() {
				eventLatency.WithLabelValues(r.resource).Observe(time.Since(received).Seconds())
			}
		case ctx.Err() == nil:
			r.keyFailed(ctx, s, key, err)
		}
		s.q.Done(key)
		r.moved()
	}
}

// keyFailed handles a failure to mirror one object: counted, logged, and
// retried later by the workers; its mirror stays as it was.
func (r *Reconciler[O]) keyFailed(ctx context.Context, s *session, key string, err error) {
	objectErrorsTotal.WithLabelValues(r.resource).Inc()
	delay, failures := s.q.Retry(key)
	klog.FromContext(ctx).Error(err, "Mirroring an object failed; its mirror is kept as it was and retried",
		"key", key, "failures", failures, "retryIn", delay)
}

// fullSync makes the mirrors equal to the engine's listing: every listed key
// and every stored mirror is reconciled. Only the listings and ctx can make
// it fail; in Keyed mode one object that cannot be mirrored is handed to
// keyFailed, in Listed mode the sync fails after writing the others.
//
// For a periodic resync (Keyed) it returns how many mirrors it had to change
// although no change received or pending for the key explains it.
func (r *Reconciler[O]) fullSync(ctx context.Context, s *session, trigger string) (repairs int, err error) {
	logger := klog.FromContext(ctx)
	start := time.Now()
	defer func() {
		result := "success"
		if err != nil {
			result = "error"
		}
		fullSyncsTotal.WithLabelValues(r.resource, trigger, result).Inc()
		logger.V(2).Info("Full sync done", "trigger", trigger, "duration", time.Since(start), "repairs", repairs, "err", err)
	}()
	if r.mode == Listed {
		r.syncMu.Lock()
		defer r.syncMu.Unlock()
		return 0, r.syncListedLocked(ctx)
	}
	resync := trigger == "resync"
	if resync {
		s.resetSeen()
	}
	keys, listing, err := r.allKeys(ctx)
	if err != nil {
		return 0, err
	}

	// Bounded parallelism: r.parallelism goroutines take keys from a channel;
	// they end before fullSync returns.
	var (
		wg       sync.WaitGroup
		work     = make(chan string)
		repairMu sync.Mutex // guards changed
		changed  []string   // mirrors changed with no change pending for them
	)
	for range min(r.parallelism, len(keys)) {
		wg.Go(func() {
			for key := range work {
				// Checked before the read: a change received later is in
				// s.seen, one received earlier is still pending here.
				pending := resync && s.q.Pending(key)
				res, err := r.reconcileKey(ctx, key, listing.Get)
				switch {
				case err != nil:
					if ctx.Err() == nil {
						r.keyFailed(ctx, s, key, err)
					}
				case resync && res != noChange && !pending:
					repairMu.Lock()
					changed = append(changed, key)
					repairMu.Unlock()
				}
			}
		})
	}
	for _, key := range keys {
		work <- key
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if len(changed) == 0 {
		return 0, nil
	}

	// Give the events of changes made just before their read time to arrive,
	// then keep the changes no event explains.
	t := time.NewTimer(r.repairGrace)
	select {
	case <-ctx.Done():
		t.Stop()
		return 0, ctx.Err()
	case <-t.C:
	}
	var unexplained []string
	for _, key := range changed {
		if !s.wasSeen(key) {
			unexplained = append(unexplained, key)
		}
	}
	if len(unexplained) > 0 {
		resyncRepairsTotal.WithLabelValues(r.resource).Add(float64(len(unexplained)))
		slices.Sort(unexplained)
		logger.Info("Periodic resync repaired mirrors that no engine event explained",
			"count", len(unexplained), "keys", unexplained[:min(len(unexplained), 5)])
	}
	return len(unexplained), nil
}

// allKeys lists the engine and the store: the sorted union of their keys,
// and the engine's listing.
func (r *Reconciler[O]) allKeys(ctx context.Context) ([]string, engine.Listing[O], error) {
	lctx, cancel := context.WithTimeout(ctx, listTimeout)
	listing, err := r.src.List(lctx)
	cancel()
	if err != nil {
		return nil, listing, fmt.Errorf("listing the engine's %s: %w", r.resource, err)
	}
	if listing.Get == nil {
		listing.Get = r.src.Get
	}
	stored := r.newList()
	if err := r.store.Storage.GetList(ctx, r.store.ListKey,
		storage.ListOptions{Recursive: true, Predicate: storage.Everything}, stored); err != nil {
		return nil, listing, fmt.Errorf("listing the stored %s: %w", r.resource, err)
	}
	items, err := meta.ExtractList(stored)
	if err != nil {
		return nil, listing, err
	}
	seen := make(map[string]struct{}, len(listing.Keys)+len(items))
	for _, k := range listing.Keys {
		seen[k] = struct{}{}
	}
	for _, it := range items {
		if m, err := meta.Accessor(it); err == nil && m.GetNamespace() == r.store.Namespace {
			seen[m.GetName()] = struct{}{}
		}
	}
	return slices.Sorted(maps.Keys(seen)), listing, nil
}

// syncListedLocked reconciles every key of a listed source; the caller holds
// syncMu. A failure to write one mirror fails it after the others are written.
func (r *Reconciler[O]) syncListedLocked(ctx context.Context) error {
	keys, listing, err := r.allKeys(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, key := range keys {
		if _, err := r.reconcileKeyLocked(ctx, key, listing.Get); err != nil {
			objectErrorsTotal.WithLabelValues(r.resource).Inc()
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// outcome is what a reconcile did to a mirror.
type outcome int

const (
	noChange outcome = iota // includes "no mirror and no object"
	created
	updated
	deleted
)

// reconcileKey makes key's mirror match the engine, under the key's lock.
func (r *Reconciler[O]) reconcileKey(ctx context.Context, key string,
	get func(context.Context, string) (engine.Desired[O], bool, error)) (outcome, error) {
	unlock := r.locks.lock(key)
	defer unlock()
	return r.reconcileKeyLocked(ctx, key, get)
}

// reconcileKeyLocked reads key's desired object and makes its mirror match:
// upserted when the engine has it, deleted when not. On an error the mirror
// is left as it was. The caller holds the key's lock or syncMu.
func (r *Reconciler[O]) reconcileKeyLocked(ctx context.Context, key string,
	get func(context.Context, string) (engine.Desired[O], bool, error)) (outcome, error) {
	gctx, cancel := context.WithTimeout(ctx, callTimeout)
	desired, found, err := get(gctx, key)
	cancel()
	switch {
	case err != nil:
		// The mirror stays as it is; record whether there is one, for the gauge.
		if gerr := r.store.Storage.Get(ctx, r.store.KeyFunc(key), storage.GetOptions{}, r.newObject()); gerr == nil {
			r.setMirrored(key, true)
		} else if storage.IsNotFound(gerr) {
			r.setMirrored(key, false)
		}
		return noChange, fmt.Errorf("reading %s %s from the engine: %w", r.resource, key, err)
	case !found:
		return r.deleteMirror(ctx, key)
	}
	return r.upsert(ctx, key, desired)
}

// setMirrored records whether key has a mirror in the store and sets the
// gauge. The caller holds key's lock or syncMu.
func (r *Reconciler[O]) setMirrored(key string, present bool) {
	r.countMu.Lock()
	defer r.countMu.Unlock()
	if present {
		r.mirrored[key] = struct{}{}
	} else {
		delete(r.mirrored, key)
	}
	objectsGauge.WithLabelValues(r.resource).Set(float64(len(r.mirrored)))
}

// build computes the object to store from the desired state and the stored
// object (nil when none): it lives in the Reconciler's namespace, under key,
// and keeps the store's resourceVersion.
func (r *Reconciler[O]) build(key string, desired engine.Desired[O], prev O, hasPrev bool, now time.Time) O {
	out := desired(prev, now)
	out.SetName(key)
	out.SetNamespace(r.store.Namespace)
	if hasPrev {
		out.SetResourceVersion(prev.GetResourceVersion())
	}
	return out
}

// upsert creates the mirror, or updates it when the computed object differs
// from the stored one. Semantic equality compares times by instant and treats
// nil and empty slices and maps alike.
func (r *Reconciler[O]) upsert(ctx context.Context, key string, desired engine.Desired[O]) (outcome, error) {
	skey := r.store.KeyFunc(key)
	var none O
	for range 2 { // a create may race a delete through the API, and vice versa
		now := time.Now()
		stored := r.newObject()
		err := r.store.Storage.Get(ctx, skey, storage.GetOptions{}, stored)
		switch {
		case storage.IsNotFound(err):
			err := r.store.Storage.Create(ctx, skey, r.build(key, desired, none, false, now), r.newObject(), 0)
			if storage.IsExist(err) {
				continue
			}
			if err != nil {
				return noChange, fmt.Errorf("creating the mirror of %s %s: %w", r.resource, key, err)
			}
			r.setMirrored(key, true)
			return created, nil
		case err != nil:
			return noChange, fmt.Errorf("reading the mirror of %s %s: %w", r.resource, key, err)
		}
		r.setMirrored(key, true)
		if equality.Semantic.DeepEqual(r.build(key, desired, stored, true, now), stored) {
			return noChange, nil
		}
		wrote := false
		err = r.store.Storage.GuaranteedUpdate(ctx, skey, r.newObject(), false, nil,
			func(input runtime.Object, _ storage.ResponseMeta) (runtime.Object, *uint64, error) {
				cur, ok := input.(O)
				if !ok {
					return nil, nil, fmt.Errorf("stored object %s is a %T", skey, input)
				}
				// Computed again from the current object, so concurrent
				// changes of what users own are kept.
				out := r.build(key, desired, cur, true, now)
				wrote = !equality.Semantic.DeepEqual(out, cur)
				if !wrote {
					return cur, nil, nil
				}
				return out, nil, nil
			}, stored)
		if storage.IsNotFound(err) {
			r.setMirrored(key, false)
			continue
		}
		if err != nil || !wrote {
			if err != nil {
				err = fmt.Errorf("updating the mirror of %s %s: %w", r.resource, key, err)
			}
			return noChange, err
		}
		return updated, nil
	}
	return noChange, fmt.Errorf("the mirror of %s %s kept changing under the reconciler", r.resource, key)
}

// deleteMirror deletes key's mirror; a missing mirror is no error.
func (r *Reconciler[O]) deleteMirror(ctx context.Context, key string) (outcome, error) {
	err := r.store.Storage.Delete(ctx, r.store.KeyFunc(key), r.newObject(), nil,
		storage.ValidateAllObjectFunc, nil, storage.DeleteOptions{})
	switch {
	case err == nil:
		r.setMirrored(key, false)
		klog.FromContext(ctx).V(4).Info("Mirror deleted", "resource", r.resource, "key", key)
		return deleted, nil
	case storage.IsNotFound(err):
		r.setMirrored(key, false)
		return noChange, nil
	default:
		return noChange, fmt.Errorf("deleting the mirror of %s %s: %w", r.resource, key, err)
	}
}

// Remove carries out an API delete of the mirror key: call (the engine's
// removal), then the mirror is brought to the engine's new state (key's, or
// the whole listing's in Listed mode, where one removal can change other
// mirrors), all under key's lock or syncMu, so the delete returns once the
// store shows the engine's state and the mirror is deleted exactly once.
//
// Errors are engine errors: Unavailable while the engine is not connected
// (nothing is called), the call's own (a Conflict when the engine refuses).
// A NotFound from the call means the object is already gone: its mirror is
// removed.
func (r *Reconciler[O]) Remove(ctx context.Context, key string, call func(ctx context.Context) error) error {
	if err := r.Ready(); err != nil {
		return engine.Errorf(engine.Unavailable, "%s is not connected: %v", r.engineName, err)
	}
	if r.mode == Listed {
		r.syncMu.Lock()
		defer r.syncMu.Unlock()
	} else {
		unlock := r.locks.lock(key)
		defer unlock()
	}
	cctx, cancel := context.WithTimeout(ctx, removeTimeout)
	err := call(cctx)
	cancel()
	if err != nil && !engine.IsNotFound(err) {
		return err
	}
	if r.mode == Listed {
		err := r.syncListedLocked(ctx)
		if err == nil {
			return nil
		}
		// The engine removed the object but cannot be listed now: drop this
		// mirror at least; the next session's sync fixes the rest.
		klog.FromContext(ctx).Error(err, "Sync after a delete failed; deleting the mirror alone", "resource", r.resource, "key", key)
		_, err = r.deleteMirror(ctx, key)
		return err
	}
	if _, err := r.reconcileKeyLocked(ctx, key, r.src.Get); err != nil {
		// Removed, but not readable now: the mirror goes; events and the
		// next sync repair anything else.
		_, err := r.deleteMirror(ctx, key)
		return err
	}
	return nil
}

// Each calls fn with every stored mirror (e.g. to resume pending work after
// a reconnect).
func (r *Reconciler[O]) Each(ctx context.Context, fn func(O)) error {
	list := r.newList()
	if err := r.store.Storage.GetList(ctx, r.store.ListKey,
		storage.ListOptions{Recursive: true, Predicate: storage.Everything}, list); err != nil {
		return err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return err
	}
	for _, it := range items {
		if o, ok := it.(O); ok {
			fn(o)
		}
	}
	return nil
}
