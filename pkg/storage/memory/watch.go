package memory

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/features"
	"k8s.io/apiserver/pkg/storage"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	utilflowcontrol "k8s.io/apiserver/pkg/util/flowcontrol"
	"k8s.io/klog/v2"
)

// watchBatch bounds how many history events a watcher copies per lock hold.
const watchBatch = 256

// watcher implements watch.Interface. Each watcher has exactly one goroutine
// (run), started by Store.Watch; it is the only sender on result and closes
// it when it ends: on Stop, on ctx.Done, on Store.Close, after an error event,
// or when its consumer is too slow.
type watcher struct {
	// Immutable after Store.Watch.
	s           *Store
	ctx         context.Context
	key         string // prepared key; ends with "/" when recursive
	recursive   bool
	pred        storage.SelectionPredicate
	predEmpty   bool
	bookmarks   bool // periodic and requested bookmarks allowed
	endBookmark bool // send the initial-events-end bookmark
	result      chan watch.Event
	stopCh      chan struct{} // closed by Stop
	stopOnce    sync.Once
	progress    chan struct{} // capacity 1; RequestWatchProgress pokes it

	// Start plan, written by Store.Watch before the goroutine starts and owned
	// by the goroutine afterwards.
	startErr      error         // send it and end
	waitFor       uint64        // wait until the store reaches it first
	snapshotLater bool          // take the initial snapshot after waitFor
	initial       []keyedObject // initial ADDED events
	cursor        uint64        // everything <= cursor has been handled
}

var _ watch.Interface = (*watcher)(nil)

// Stop implements watch.Interface. Idempotent and safe for concurrent use;
// the result channel is closed shortly after by the watcher goroutine.
func (w *watcher) Stop() { w.stopOnce.Do(func() { close(w.stopCh) }) }

// ResultChan implements watch.Interface.
func (w *watcher) ResultChan() <-chan watch.Event { return w.result }

// Watch implements storage.Interface.
//
// resourceVersion semantics (as etcd3 and the watch cache):
//   - SendInitialEvents unset and RV "" or "0": ADDED for every current
//     matching object, then changes.
//   - SendInitialEvents=true (WatchList): ADDED for the state at a
//     resourceVersion >= RV, then, if Predicate.AllowWatchBookmarks, a BOOKMARK
//     annotated with metav1.InitialEventsAnnotationKey, then changes. A future
//     RV is waited for (FutureResourceVersionWait), then fails with "too large".
//   - SendInitialEvents=false and RV "" or "0": changes from now on.
//   - RV N > 0 otherwise: every change after N. N older than the history gets
//     one ERROR event with 410 Gone ("too old resource version"); N in the
//     future is waited for, then fails with "too large".
//
// Watchers with Predicate.AllowWatchBookmarks or ProgressNotify get a BOOKMARK
// every BookmarkInterval and on RequestWatchProgress. A change that makes an
// object leave the selection is sent as DELETED carrying the last matching
// state stamped with the change's resourceVersion; one that makes it enter is
// sent as ADDED. opts.RecordTimestamps (only set by the watch cache, which is
// not used on top of this store) is ignored.
func (s *Store) Watch(ctx context.Context, key string, opts storage.ListOptions) (watch.Interface, error) {
	preparedKey, err := s.prepareKey(key, opts.Recursive)
	if err != nil {
		return nil, err
	}
	rv, err := s.versioner.ParseResourceVersion(opts.ResourceVersion)
	if err != nil {
		// As Get and GetList: the client's mistake, not the server's.
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid resource version: %v", err))
	}
	w := &watcher{
		s:           s,
		ctx:         ctx,
		key:         preparedKey,
		recursive:   opts.Recursive,
		pred:        opts.Predicate,
		predEmpty:   opts.Predicate.Empty(),
		bookmarks:   opts.Predicate.AllowWatchBookmarks || opts.ProgressNotify,
		endBookmark: initialEventsEndBookmarkRequired(opts),
		result:      make(chan watch.Event, s.opts.WatchBufferSize),
		stopCh:      make(chan struct{}),
		progress:    make(chan struct{}, 1),
	}
	initialEvents := initialEventsRequired(rv, opts)

	// Deciding the start point and taking the snapshot under the same read
	// lock makes them atomic with respect to writers: every change after the
	// snapshot is in the history with a larger resourceVersion.
	s.mu.RLock()
	cur := s.rv
	switch {
	case initialEvents && rv > cur:
		w.waitFor, w.snapshotLater = rv, true
	case initialEvents:
		w.cursor = cur
		w.initial = s.snapshotLocked(preparedKey, opts.Recursive, preparedKey, cur)
	case rv == 0:
		w.cursor = cur
	case rv < s.oldestRV:
		w.startErr = tooOldError(rv, s.oldestRV)
	case rv > cur:
		w.waitFor, w.cursor = rv, rv
	default:
		w.cursor = rv
	}
	s.mu.RUnlock()

	s.wmu.Lock()
	s.watchers[w] = struct{}{}
	s.wmu.Unlock()
	go w.run()

	utilflowcontrol.WatchInitialized(ctx)
	return w, nil
}

// initialEventsRequired mirrors etcd3's areInitialEventsRequired.
func initialEventsRequired(rv uint64, opts storage.ListOptions) bool {
	if opts.SendInitialEvents == nil && rv == 0 {
		return true // legacy RV=0 / unset
	}
	if !utilfeature.DefaultFeatureGate.Enabled(features.WatchList) {
		return false
	}
	return opts.SendInitialEvents != nil && *opts.SendInitialEvents
}

// initialEventsEndBookmarkRequired mirrors etcd3's
// isInitialEventsEndBookmarkRequired.
func initialEventsEndBookmarkRequired(opts storage.ListOptions) bool {
	if !utilfeature.DefaultFeatureGate.Enabled(features.WatchList) {
		return false
	}
	return opts.SendInitialEvents != nil && *opts.SendInitialEvents && opts.Predicate.AllowWatchBookmarks
}

func tooOldError(rv, oldest uint64) error {
	return apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", rv, oldest))
}

func (w *watcher) run() {
	defer w.finish()

	if w.startErr != nil {
		w.sendError(w.startErr)
		return
	}
	if w.waitFor > 0 && !w.waitUntil(w.waitFor) {
		return
	}
	if w.snapshotLater {
		w.s.mu.RLock()
		w.cursor = w.s.rv
		w.initial = w.s.snapshotLocked(w.key, w.recursive, w.key, w.cursor)
		w.s.mu.RUnlock()
	}

	// Initial events: the consumer asked for the whole state, so these are
	// sent blocking (until Stop/ctx/Close), not subject to the slow timeout.
	for i, item := range w.initial {
		w.initial[i] = keyedObject{}
		if !w.matches(item.obj) {
			continue
		}
		if !w.sendBlocking(watch.Event{Type: watch.Added, Object: item.obj.DeepCopyObject()}) {
			return
		}
	}
	w.initial = nil
	if w.endBookmark {
		if ev, ok := w.bookmark(true); ok && !w.sendBlocking(ev) {
			return
		}
	}

	var tick <-chan time.Time
	if w.bookmarks {
		ticker := time.NewTicker(w.s.opts.BookmarkInterval)
		defer ticker.Stop()
		tick = ticker.C
	}
	for {
		select {
		case <-w.stopCh:
			return
		case <-w.ctx.Done():
			return
		case <-w.s.done:
			return
		default:
		}
		batch, notify, err := w.next()
		if err != nil {
			w.sendError(err)
			return
		}
		for _, e := range batch {
			w.cursor = e.rv
			if ev, ok := w.transform(e); ok && !w.sendLive(ev) {
				return
			}
		}
		if len(batch) > 0 {
			// Busy: only a non-blocking look at the bookmark sources.
			select {
			case <-tick:
				w.sendBookmark()
			case <-w.progress:
				w.sendBookmark()
			default:
			}
			continue
		}
		select {
		case <-notify:
		case <-tick:
			w.sendBookmark()
		case <-w.progress:
			w.sendBookmark()
		case <-w.stopCh:
			return
		case <-w.ctx.Done():
			return
		case <-w.s.done:
			return
		}
	}
}

func (w *watcher) finish() {
	w.s.wmu.Lock()
	delete(w.s.watchers, w)
	w.s.wmu.Unlock()
	close(w.result)
}

// waitUntil waits for the store to reach rv. On timeout it sends a "too
// large resource version" error event. Returns false if the watcher must end.
func (w *watcher) waitUntil(rv uint64) bool {
	timer := time.NewTimer(w.s.opts.FutureResourceVersionWait)
	defer timer.Stop()
	for {
		w.s.mu.RLock()
		cur, ch := w.s.rv, w.s.notify
		w.s.mu.RUnlock()
		if cur >= rv {
			return true
		}
		select {
		case <-ch:
		case <-timer.C:
			w.sendError(storage.NewTooLargeResourceVersionError(rv, cur, retryAfterSeconds))
			return false
		case <-w.stopCh:
			return false
		case <-w.ctx.Done():
			return false
		case <-w.s.done:
			return false
		}
	}
}

// next returns the events after the cursor, the channel that is closed on the
// next change, or 410 if the history no longer reaches back to the cursor.
func (w *watcher) next() ([]*event, <-chan struct{}, error) {
	w.s.mu.RLock()
	defer w.s.mu.RUnlock()
	if w.cursor < w.s.oldestRV {
		return nil, nil, tooOldError(w.cursor, w.s.oldestRV)
	}
	batch := w.s.hist.after(w.cursor, watchBatch)
	if len(batch) == 0 {
		// Nothing happened in (cursor, rv]: the cursor can move up, so that
		// bookmarks carry the latest resourceVersion.
		w.cursor = w.s.rv
	}
	return batch, w.s.notify, nil
}

func (w *watcher) matches(obj runtime.Object) bool {
	if w.predEmpty {
		return true
	}
	ok, err := w.pred.Matches(obj)
	return err == nil && ok
}

// transform turns a history event into what this watcher must see, if
// anything. Objects are deep-copied per watcher: consumers (the API server's
// encoders) may touch them.
func (w *watcher) transform(e *event) (watch.Event, bool) {
	if w.recursive {
		if !strings.HasPrefix(e.key, w.key) {
			return watch.Event{}, false
		}
	} else if e.key != w.key {
		return watch.Event{}, false
	}
	switch e.typ {
	case watch.Added:
		if w.matches(e.obj) {
			return watch.Event{Type: watch.Added, Object: e.obj.DeepCopyObject()}, true
		}
	case watch.Modified:
		if w.predEmpty {
			return watch.Event{Type: watch.Modified, Object: e.obj.DeepCopyObject()}, true
		}
		cur, old := w.matches(e.obj), w.matches(e.prev)
		switch {
		case cur && old:
			return watch.Event{Type: watch.Modified, Object: e.obj.DeepCopyObject()}, true
		case cur:
			return watch.Event{Type: watch.Added, Object: e.obj.DeepCopyObject()}, true
		case old:
			// Left the selection: DELETED with the last matching state,
			// stamped with the resourceVersion of the change.
			return watch.Event{Type: watch.Deleted, Object: w.stamped(e.prev, e.rv)}, true
		}
	case watch.Deleted:
		if w.matches(e.prev) {
			return watch.Event{Type: watch.Deleted, Object: w.stamped(e.prev, e.rv)}, true
		}
	}
	return watch.Event{}, false
}

func (w *watcher) stamped(obj runtime.Object, rv uint64) runtime.Object {
	cp := obj.DeepCopyObject()
	if err := w.s.versioner.UpdateObject(cp, rv); err != nil {
		klog.ErrorS(err, "memory storage: cannot set resourceVersion", "resource", w.s.groupResource)
	}
	return cp
}

// bookmark builds a BOOKMARK at the cursor: an empty object carrying only the
// resourceVersion (and the initial-events-end annotation if asked).
func (w *watcher) bookmark(initialEventsEnd bool) (watch.Event, bool) {
	obj := w.s.newFunc()
	if err := w.s.versioner.UpdateObject(obj, w.cursor); err != nil {
		klog.ErrorS(err, "memory storage: cannot build bookmark", "resource", w.s.groupResource)
		return watch.Event{}, false
	}
	if initialEventsEnd {
		if err := storage.AnnotateInitialEventsEndBookmark(obj); err != nil {
			klog.ErrorS(err, "memory storage: cannot annotate bookmark", "resource", w.s.groupResource)
			return watch.Event{}, false
		}
	}
	return watch.Event{Type: watch.Bookmark, Object: obj}, true
}

// sendBookmark delivers a periodic or requested bookmark if there is room;
// bookmarks are advisory, so a full channel just skips this one.
func (w *watcher) sendBookmark() {
	ev, ok := w.bookmark(false)
	if !ok {
		return
	}
	select {
	case w.result <- ev:
		w.s.eventsDelivered.Add(1)
	default:
	}
}

// stopped reports whether the watcher has been asked to end.
func (w *watcher) stopped() bool {
	select {
	case <-w.stopCh:
		return true
	case <-w.ctx.Done():
		return true
	case <-w.s.done:
		return true
	default:
		return false
	}
}

// sendLive delivers a change: immediately if the buffer has room, otherwise
// it waits at most SlowWatcherTimeout and then gives up on this consumer
// (returns false; run closes the result channel so that the client
// re-watches from the last resourceVersion it received). Writers are never
// part of this wait: they only append to the history.
func (w *watcher) sendLive(ev watch.Event) bool {
	if w.stopped() {
		return false
	}
	select {
	case w.result <- ev:
		w.s.eventsDelivered.Add(1)
		return true
	default:
	}
	timer := time.NewTimer(w.s.opts.SlowWatcherTimeout)
	defer timer.Stop()
	delivered, timedOut := w.deliver(ev, timer.C)
	if timedOut {
		w.s.slowTerminated.Add(1)
		klog.V(2).InfoS("memory storage: terminating unresponsive watcher",
			"resource", w.s.groupResource, "key", w.key, "resourceVersion", w.cursor)
	}
	return delivered
}

// sendBlocking delivers ev unless the watcher is stopped first.
func (w *watcher) sendBlocking(ev watch.Event) bool {
	if w.stopped() {
		return false
	}
	delivered, _ := w.deliver(ev, nil)
	return delivered
}

// deliver waits until ev is on the result channel, the watcher is stopped,
// or timeout fires (a nil timeout never does).
func (w *watcher) deliver(ev watch.Event, timeout <-chan time.Time) (delivered, timedOut bool) {
	select {
	case w.result <- ev:
		w.s.eventsDelivered.Add(1)
		return true, false
	case <-timeout:
		return false, true
	case <-w.stopCh:
	case <-w.ctx.Done():
	case <-w.s.done:
	}
	return false, false
}

// sendError delivers one ERROR event; run then ends the watch.
func (w *watcher) sendError(err error) {
	status, ok := err.(apierrors.APIStatus)
	if !ok {
		status = apierrors.NewInternalError(err)
	}
	st := status.Status()
	w.sendBlocking(watch.Event{Type: watch.Error, Object: &st})
}
